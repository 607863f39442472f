//! `lunatic::version`: the ABI version this runtime implements (0.13.2).

use crate::engine::HostFunctions;
use crate::protocol::ProcessState;
use wasmi::Caller;

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func("lunatic::version", "major", |_: Caller<'_, ProcessState>| -> i32 { 0 });
    host.func("lunatic::version", "minor", |_: Caller<'_, ProcessState>| -> i32 { 13 });
    host.func("lunatic::version", "patch", |_: Caller<'_, ProcessState>| -> i32 { 2 });
}
