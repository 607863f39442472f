//! `lunatic::trap::catch`: run a guest function and survive its trap.

use crate::engine::HostFunctions;
use crate::errors::trap;
use crate::protocol::{suspend, Pending, ProcessState};
use wasmi::{Caller, Error, Val};

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func("lunatic::trap", "catch", catch);
}

/// Calls the export `_lunatic_catch_trap(function, pointer)` as a nested call
/// run by the driver (so it may itself suspend); a trap inside yields 0.
fn catch(mut caller: Caller<'_, ProcessState>, function: i32, pointer: i32) -> Result<i32, Error> {
    let func = caller
        .get_export("_lunatic_catch_trap")
        .and_then(|e| e.into_func())
        .ok_or_else(|| trap("the module exports no function `_lunatic_catch_trap`"))?;
    Err(suspend(
        caller.data_mut(),
        Pending::Call {
            func,
            params: vec![Val::I32(function), Val::I32(pointer)],
            results: 1,
            on_trap: vec![Val::I32(0)],
        },
    ))
}
