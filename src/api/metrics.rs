//! `lunatic::metrics`: guest counters, gauges and histograms, exported by
//! `--prometheus` under the guest's names (see `crate::metrics::guest` for
//! the bounds). Without an exporter the calls only validate their input.
//! Bad pointers or UTF-8 trap, with or without an exporter.

use crate::protocol::guest;
use crate::engine::HostFunctions;
use crate::metrics::guest::{record, Op};
use crate::protocol::ProcessState;
use wasmi::{Caller, Error};

const M: &str = "lunatic::metrics";

fn apply(caller: &mut Caller<'_, ProcessState>, ptr: i32, len: i32, op: Op) -> Result<(), Error> {
    let (memory, _) = guest::memory_and_state(caller)?;
    let name = guest::str(memory, ptr as u32, len as u32)?;
    record(name, op);
    Ok(())
}

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func(M, "counter", |mut c: Caller<'_, ProcessState>, p: i32, l: i32, v: i64| {
        // The guest's u64 travels as i64.
        apply(&mut c, p, l, Op::Count(v as u64))
    });
    host.func(M, "increment_counter", |mut c: Caller<'_, ProcessState>, p: i32, l: i32| {
        apply(&mut c, p, l, Op::Count(1))
    });
    host.func(M, "gauge", |mut c: Caller<'_, ProcessState>, p: i32, l: i32, v: f64| {
        apply(&mut c, p, l, Op::Set(v))
    });
    host.func(M, "increment_gauge", |mut c: Caller<'_, ProcessState>, p: i32, l: i32, v: f64| {
        apply(&mut c, p, l, Op::Add(v))
    });
    host.func(M, "decrement_gauge", |mut c: Caller<'_, ProcessState>, p: i32, l: i32, v: f64| {
        apply(&mut c, p, l, Op::Sub(v))
    });
    host.func(M, "histogram", |mut c: Caller<'_, ProcessState>, p: i32, l: i32, v: f64| {
        apply(&mut c, p, l, Op::Sample(v))
    });
}
