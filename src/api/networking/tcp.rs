//! TCP listeners and streams (18 functions).

use super::{
    addr, check_out, gather, guest, read_buffer, report, report_addr, report_read, suspend_on,
    timed, timer, Outcome, TcpStream, Timeout, M, MAX_WRITE,
};
use crate::engine::HostFunctions;
use crate::process::{completion, ProcessState};
use async_io::Async;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use wasmi::{Caller, Error, Val};

/// One TCP connection and the timeouts all its handles share.
pub(crate) struct Shared {
    pub(crate) stream: Async<std::net::TcpStream>,
    read_timeout: Timeout,
    write_timeout: Timeout,
    peek_timeout: Timeout,
}

impl TcpStream {
    pub(super) fn new(stream: Async<std::net::TcpStream>) -> Self {
        Self(Arc::new(Shared {
            stream,
            read_timeout: Timeout::default(),
            write_timeout: Timeout::default(),
            peek_timeout: Timeout::default(),
        }))
    }
}

pub(super) fn register(host: &mut HostFunctions<'_>) {
    host.func(M, "tcp_bind", tcp_bind);
    host.func(M, "drop_tcp_listener", |mut c: Caller<'_, ProcessState>, id: i64| {
        c.data_mut().resources.net.tcp_listeners.remove(id as u64).map(drop)
    });
    host.func(M, "tcp_local_addr", |mut c: Caller<'_, ProcessState>, id: i64, id_ptr: i32| {
        let (memory, state) = guest::memory_and_state(&mut c)?;
        let addr = state.resources.net.tcp_listeners.get(id as u64)?.get_ref().local_addr();
        report_addr(memory, state, id_ptr as u32, addr)
    });
    host.func(M, "tcp_accept", tcp_accept);
    host.func(M, "tcp_connect", tcp_connect);
    host.func(M, "tcp_peer_addr", |mut c: Caller<'_, ProcessState>, id: i64, id_ptr: i32| {
        let (memory, state) = guest::memory_and_state(&mut c)?;
        let addr = stream(state, id)?.stream.get_ref().peer_addr();
        report_addr(memory, state, id_ptr as u32, addr)
    });
    host.func(M, "drop_tcp_stream", |mut c: Caller<'_, ProcessState>, id: i64| {
        c.data_mut().resources.net.tcp_streams.remove(id as u64).map(drop)
    });
    host.func(
        M,
        "clone_tcp_stream",
        |mut c: Caller<'_, ProcessState>, id: i64| -> Result<i64, Error> {
            let streams = &mut c.data_mut().resources.net.tcp_streams;
            let clone = streams.get(id as u64)?.clone();
            Ok(streams.add(clone) as i64)
        },
    );
    host.func(M, "tcp_write_vectored", tcp_write_vectored);
    host.func(
        M,
        "tcp_read",
        |c: Caller<'_, ProcessState>, id: i64, ptr: i32, len: i32, out: i32| {
            tcp_read(c, id, ptr, len, out, false)
        },
    );
    host.func(
        M,
        "tcp_peek",
        |c: Caller<'_, ProcessState>, id: i64, ptr: i32, len: i32, out: i32| {
            tcp_read(c, id, ptr, len, out, true)
        },
    );
    host.func(M, "set_read_timeout", |mut c: Caller<'_, ProcessState>, id: i64, ms: i64| {
        stream(c.data_mut(), id).map(|s| s.read_timeout.set(ms as u64))
    });
    host.func(M, "get_read_timeout", |mut c: Caller<'_, ProcessState>, id: i64| {
        stream(c.data_mut(), id).map(|s| s.read_timeout.get() as i64)
    });
    host.func(M, "set_write_timeout", |mut c: Caller<'_, ProcessState>, id: i64, ms: i64| {
        stream(c.data_mut(), id).map(|s| s.write_timeout.set(ms as u64))
    });
    host.func(M, "get_write_timeout", |mut c: Caller<'_, ProcessState>, id: i64| {
        stream(c.data_mut(), id).map(|s| s.write_timeout.get() as i64)
    });
    host.func(M, "set_peek_timeout", |mut c: Caller<'_, ProcessState>, id: i64, ms: i64| {
        stream(c.data_mut(), id).map(|s| s.peek_timeout.set(ms as u64))
    });
    host.func(M, "get_peek_timeout", |mut c: Caller<'_, ProcessState>, id: i64| {
        stream(c.data_mut(), id).map(|s| s.peek_timeout.get() as i64)
    });
    // The host keeps no write buffer: every write went to the socket already.
    host.func(M, "tcp_flush", |mut c: Caller<'_, ProcessState>, id: i64, error_ptr: i32| {
        let (memory, state) = guest::memory_and_state(&mut c)?;
        stream(state, id)?;
        guest::write_u64(memory, error_ptr as u32, 0)?;
        Ok(0)
    });
}

/// The shared connection behind a stream ID (unknown IDs trap).
fn stream(state: &mut ProcessState, id: i64) -> Result<Arc<Shared>, Error> {
    Ok(state.resources.net.tcp_streams.get(id as u64)?.0.clone())
}

fn tcp_bind(
    mut caller: Caller<'_, ProcessState>,
    addr_type: i32,
    addr_ptr: i32,
    port: i32,
    flow_info: i32,
    scope_id: i32,
    id_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let addr = addr::read(memory, addr_type, addr_ptr, port, flow_info, scope_id)?;
    check_out(memory, id_ptr as u32, 8)?;
    // Binding never waits, so it needs no suspension.
    let outcome = match Async::<TcpListener>::bind(addr) {
        Ok(listener) => Outcome::Done(state.resources.net.tcp_listeners.add(Arc::new(listener))),
        Err(e) => Outcome::Failed(e.into()),
    };
    outcome.write(memory, state, id_ptr as u32)
}

fn tcp_accept(
    mut caller: Caller<'_, ProcessState>,
    id: i64,
    id_ptr: i32,
    peer_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let listener = state.resources.net.tcp_listeners.get(id as u64)?.clone();
    let (id_ptr, peer_ptr) = (id_ptr as u32, peer_ptr as u32);
    check_out(memory, id_ptr, 8)?;
    check_out(memory, peer_ptr, 8)?;
    Err(suspend_on(state, async move {
        let accepted = listener.accept().await;
        completion(move |ctx| {
            let (memory, state) = guest::memory_and_state(ctx)?;
            let status = match accepted {
                Ok((stream, peer)) => {
                    let stream_id = state.resources.net.tcp_streams.add(TcpStream::new(stream));
                    let peer_id = super::add_addrs(state, [peer]);
                    guest::write_u64(memory, id_ptr, stream_id)?;
                    guest::write_u64(memory, peer_ptr, peer_id)?;
                    0
                }
                Err(e) => {
                    guest::write_u64(memory, peer_ptr, 0)?;
                    Outcome::Failed(e.into()).write(memory, state, id_ptr)?
                }
            };
            Ok(vec![Val::I32(status)])
        })
    }))
}

#[allow(clippy::too_many_arguments)]
fn tcp_connect(
    mut caller: Caller<'_, ProcessState>,
    addr_type: i32,
    addr_ptr: i32,
    port: i32,
    flow_info: i32,
    scope_id: i32,
    timeout_ms: i64,
    id_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let addr = addr::read(memory, addr_type, addr_ptr, port, flow_info, scope_id)?;
    let id_ptr = id_ptr as u32;
    check_out(memory, id_ptr, 8)?;
    let timer = timer(state.runtime.scheduler(), timeout_ms as u64);
    Err(suspend_on(state, async move {
        let connected = timed(timer, Async::<std::net::TcpStream>::connect(addr)).await;
        completion(move |ctx| {
            let (memory, state) = guest::memory_and_state(ctx)?;
            let outcome = match connected {
                None => Outcome::TimedOut,
                Some(Ok(stream)) => {
                    Outcome::Done(state.resources.net.tcp_streams.add(TcpStream::new(stream)))
                }
                Some(Err(e)) => Outcome::Failed(e.into()),
            };
            Ok(vec![Val::I32(outcome.write(memory, state, id_ptr)?)])
        })
    }))
}

fn tcp_write_vectored(
    mut caller: Caller<'_, ProcessState>,
    id: i64,
    iovec_ptr: i32,
    iovec_count: i32,
    out_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let shared = stream(state, id)?;
    let data = gather(memory, iovec_ptr as u32, iovec_count as u32, MAX_WRITE)?;
    let out_ptr = out_ptr as u32;
    check_out(memory, out_ptr, 8)?;
    let timer = timer(state.runtime.scheduler(), shared.write_timeout.get());
    Err(suspend_on(state, async move {
        let write = shared.stream.write_with(|mut socket| socket.write(&data));
        let written = timed(timer, write).await;
        report(out_ptr, Outcome::from_io(written, |n| n as u64))
    }))
}

/// `tcp_read` and `tcp_peek` (a real peek: the data stays in the socket).
fn tcp_read(
    mut caller: Caller<'_, ProcessState>,
    id: i64,
    buf_ptr: i32,
    buf_len: i32,
    out_ptr: i32,
    peek: bool,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let shared = stream(state, id)?;
    let (buf_ptr, out_ptr) = (buf_ptr as u32, out_ptr as u32);
    let mut buf = read_buffer(memory, buf_ptr, buf_len as u32)?;
    check_out(memory, out_ptr, 8)?;
    let timeout = if peek { &shared.peek_timeout } else { &shared.read_timeout };
    let timer = timer(state.runtime.scheduler(), timeout.get());
    Err(suspend_on(state, async move {
        let read = async {
            let n = if peek {
                shared.stream.peek(&mut buf).await?
            } else {
                shared.stream.read_with(|mut socket| socket.read(&mut buf)).await?
            };
            buf.truncate(n);
            Ok(buf)
        };
        report_read(buf_ptr, out_ptr, timed(timer, read).await)
    }))
}
