//! `lunatic::trap::catch`: run a guest function and survive its trap.

use crate::engine::HostFunctions;
use crate::errors::trap;
use crate::process::{suspend, Pending, ProcessState};
use wasmi::{Caller, Error, Val};

/// How deeply `lunatic::trap::catch` calls may nest in one process. Each
/// nested call runs on a wasmi stack of its own (up to 1 MB of values and
/// 1 000 frames), so this bounds a process's host memory for them at some
/// 64 MB; a `catch` beyond it traps (caught by the enclosing `catch`, like a
/// trap of wasmi's own call-depth limit). Real programs nest a handful.
pub(crate) const MAX_CATCH_DEPTH: usize = 64;

/// The trap of a `catch` nested deeper than [`MAX_CATCH_DEPTH`].
pub(crate) fn catch_too_deep() -> String {
    format!("lunatic::trap::catch nested deeper than {MAX_CATCH_DEPTH} calls")
}

pub(super) fn register(host: &mut HostFunctions<'_>) {
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
