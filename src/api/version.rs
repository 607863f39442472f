//! `lunatic::version`: the ABI version this runtime implements (0.13.2).

use crate::engine::HostFunctions;

pub(super) fn register(host: &mut HostFunctions<'_>) {
    host.func("lunatic::version", "major", || -> i32 { 0 });
    host.func("lunatic::version", "minor", || -> i32 { 13 });
    host.func("lunatic::version", "patch", || -> i32 { 2 });
}
