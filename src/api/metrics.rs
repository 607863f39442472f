//! `lunatic::metrics`: accepted and validated; there is no exporter yet, so
//! the values go nowhere (as in the original without its `prometheus` feature).

use super::guest;
use crate::engine::HostFunctions;
use crate::process::ProcessState;
use wasmi::{Caller, Error};

const M: &str = "lunatic::metrics";

fn name_ok(caller: &mut Caller<'_, ProcessState>, ptr: i32, len: i32) -> Result<(), Error> {
    let (memory, _) = guest::memory_and_state(caller)?;
    guest::str(memory, ptr as u32, len as u32).map(drop)
}

pub(super) fn register(host: &mut HostFunctions<'_>) {
    host.func(M, "counter", |mut c: Caller<'_, ProcessState>, p: i32, l: i32, _v: i64| {
        name_ok(&mut c, p, l)
    });
    host.func(M, "increment_counter", |mut c: Caller<'_, ProcessState>, p: i32, l: i32| {
        name_ok(&mut c, p, l)
    });
    for name in ["gauge", "increment_gauge", "decrement_gauge", "histogram"] {
        host.func(M, name, |mut c: Caller<'_, ProcessState>, p: i32, l: i32, _v: f64| {
            name_ok(&mut c, p, l)
        });
    }
}
