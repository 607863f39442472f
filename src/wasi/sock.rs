//! `sock_*`: sockets.
//!
//! Preview1 can only use sockets handed to the process as preopened
//! descriptors, and this runtime hands out none (Lunatic guests use
//! `lunatic::networking`). So no descriptor is ever a socket: the calls
//! return `EBADF` for an unknown descriptor and `ENOTSOCK` for any other.

use super::types::Errno;
use super::{ret, WasiResult, M};
use crate::engine::HostFunctions;
use crate::protocol::ProcessState;
use wasmi::Caller;

type C<'a> = Caller<'a, ProcessState>;

fn not_a_socket(c: &mut C<'_>, fd: i32) -> WasiResult {
    c.data_mut().contexts.wasi().fds.get(fd as u32)?;
    Err(Errno::NOTSOCK.into())
}

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func(M, "sock_accept", |mut c: C<'_>, fd: i32, _flags: i32, _out: i32| {
        ret(not_a_socket(&mut c, fd))
    });
    host.func(
        M,
        "sock_recv",
        |mut c: C<'_>, fd: i32, _iovs: i32, _n: i32, _flags: i32, _out_len: i32, _out_flags: i32| {
            ret(not_a_socket(&mut c, fd))
        },
    );
    host.func(
        M,
        "sock_send",
        |mut c: C<'_>, fd: i32, _iovs: i32, _n: i32, _flags: i32, _out_len: i32| {
            ret(not_a_socket(&mut c, fd))
        },
    );
    host.func(M, "sock_shutdown", |mut c: C<'_>, fd: i32, _how: i32| ret(not_a_socket(&mut c, fd)));
}
