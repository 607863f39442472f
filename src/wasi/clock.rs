//! Clocks, randomness and the process-level calls: `clock_res_get`,
//! `clock_time_get`, `random_get`, `sched_yield`, `proc_exit`, `proc_raise`.
//!
//! Time and random bytes come only from the scheduler, so a deterministic
//! scheduler fully controls what the guest observes.

use super::types::*;
use super::{memory_and_state, ret, WasiResult, M};
use crate::protocol::guest;
use crate::engine::HostFunctions;
use crate::protocol::{suspend, Pending, ProcessState};
use crate::replay;
use crate::scheduler::Scheduler;
use std::time::Duration;
use wasmi::{Caller, Error, Val};

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func(M, "clock_res_get", |mut c: Caller<'_, ProcessState>, id: i32, out: i32| {
        let (memory, _) = memory_and_state(&mut c)?;
        ret(clock_res_get(memory, id as u32, out))
    });
    host.func(
        M,
        "clock_time_get",
        |mut c: Caller<'_, ProcessState>, id: i32, _precision: i64, out: i32| {
            let (memory, state) = memory_and_state(&mut c)?;
            if state.runtime.world().is_some() {
                let scheduler = state.runtime.scheduler_arc();
                let reading = crate::protocol::world::sync(
                    state,
                    || replay::Call::new("clock_time_get").arg(id),
                    || clock_now(&*scheduler, id as u32),
                )?;
                let now = reading.ok_or(Errno::INVAL);
                return ret(now.map_err(Into::into).and_then(|now| {
                    guest::write_u64(memory, out as u32, nanos(now))?;
                    Ok(())
                }));
            }
            ret(clock_time_get(state.runtime.scheduler(), memory, id as u32, out))
        },
    );
    host.func(M, "random_get", |mut c: Caller<'_, ProcessState>, buf: i32, len: i32| {
        let (memory, state) = memory_and_state(&mut c)?;
        let bytes = guest::bytes_mut(memory, buf as u32, len as u32)?;
        if state.runtime.world().is_some() {
            let scheduler = state.runtime.scheduler_arc();
            let random = crate::protocol::world::sync(
                state,
                || replay::Call::new("random_get").arg(len as u32),
                || {
                    let mut random = vec![0; bytes.len()];
                    scheduler.fill_random(&mut random).map(|()| random)
                },
            )?;
            return Ok(match random {
                Ok(random) if random.len() == bytes.len() => {
                    bytes.copy_from_slice(&random);
                    0
                }
                _ => i32::from(Errno::IO.0),
            });
        }
        Ok(match state.runtime.scheduler().fill_random(bytes) {
            Ok(()) => 0,
            Err(_) => i32::from(Errno::IO.0),
        })
    });
    host.func(M, "sched_yield", |mut c: Caller<'_, ProcessState>| -> Result<i32, Error> {
        let state = c.data_mut();
        if !state.initialized {
            // In a start section, which cannot suspend.
            return Ok(0);
        }
        Err(suspend(state, Pending::Yield { results: vec![Val::I32(0)] }))
    });
    // Ends only the calling process; the driver turns the code into its exit.
    host.func(M, "proc_exit", |_: Caller<'_, ProcessState>, code: i32| -> Result<(), Error> { Err(Error::i32_exit(code)) });
    // Signals were removed from WASI; nothing can raise one.
    host.func(M, "proc_raise", |_: Caller<'_, ProcessState>, _signal: i32| i32::from(Errno::NOSYS.0));
}

/// Which scheduler clock a WASI clock reads, `None` if unknown.
///
/// CPU-time clocks read the monotonic clock: a process has no CPU clock of
/// its own, and a deterministic scheduler must control them too.
pub(super) fn clock_now(scheduler: &dyn Scheduler, id: u32) -> Option<Duration> {
    match id {
        CLOCK_REALTIME => Some(scheduler.wall_clock()),
        CLOCK_MONOTONIC | CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID => {
            Some(scheduler.now())
        }
        _ => None,
    }
}

/// A duration as WASI's u64 nanoseconds (saturating, some 584 years).
pub(super) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn clock_res_get(memory: &mut [u8], id: u32, out: i32) -> WasiResult {
    match id {
        CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID => {
            guest::write_u64(memory, out as u32, 1)?;
            Ok(())
        }
        _ => Err(Errno::INVAL.into()),
    }
}

fn clock_time_get(scheduler: &dyn Scheduler, memory: &mut [u8], id: u32, out: i32) -> WasiResult {
    let now = clock_now(scheduler, id).ok_or(Errno::INVAL)?;
    guest::write_u64(memory, out as u32, nanos(now))?;
    Ok(())
}
