//! TCP listeners and streams (18 functions).

use super::{
    addr, check_out, direct_io, edge, for_world, gather, guest, no_answer, report, report_accepted, report_addr,
    report_read, timer, wait_on, would_wait, Outcome, Sock, TcpStream, Timeout, M, MAX_READ, MAX_WRITE,
};
use crate::engine::HostFunctions;
use crate::protocol::{completion, ProcessState};
use crate::replay::Call;
use async_io::Async;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use wasmi::{Caller, Error, Val};

/// One TCP connection and the timeouts all its handles share.
pub(crate) struct Shared {
    pub(crate) stream: Sock<Async<std::net::TcpStream>>,
    read_timeout: Timeout,
    write_timeout: Timeout,
    peek_timeout: Timeout,
    /// The last read returned less than asked: the socket was empty then.
    drained: AtomicBool,
    /// The stream's registration for edge-triggered reads, made at the
    /// first read that can use it (`None` inside: it cannot).
    edge: OnceLock<Option<Arc<edge::Source>>>,
}

impl Shared {
    pub(super) fn new(stream: Sock<Async<std::net::TcpStream>>) -> Self {
        Self {
            stream,
            read_timeout: Timeout::default(),
            write_timeout: Timeout::default(),
            peek_timeout: Timeout::default(),
            drained: AtomicBool::new(false),
            edge: OnceLock::new(),
        }
    }
}

impl TcpStream {
    pub(super) fn new(stream: Async<std::net::TcpStream>) -> Self {
        Self(Arc::new(Shared::new(Sock::new(stream))))
    }
}

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func(M, "tcp_bind", tcp_bind);
    host.func(M, "drop_tcp_listener", |mut c: Caller<'_, ProcessState>, id: i64| {
        c.data_mut().contexts.resources().net.tcp_listeners.remove(id as u64).map(drop)
    });
    host.func(M, "tcp_local_addr", |mut c: Caller<'_, ProcessState>, id: i64, id_ptr: i32| {
        let (memory, state) = guest::memory_and_state(&mut c)?;
        let listener = state.contexts.resources().net.tcp_listeners.get(id as u64)?.clone();
        let addr = crate::protocol::world::sync(
            state,
            || Call::new("tcp_local_addr").arg(id),
            || listener.get()?.get_ref().local_addr(),
        )?;
        report_addr(memory, state, id_ptr as u32, addr)
    });
    host.func(M, "tcp_accept", tcp_accept);
    host.func(M, "tcp_connect", tcp_connect);
    host.func(M, "tcp_peer_addr", |mut c: Caller<'_, ProcessState>, id: i64, id_ptr: i32| {
        let (memory, state) = guest::memory_and_state(&mut c)?;
        let shared = stream(state, id)?;
        let addr = crate::protocol::world::sync(
            state,
            || Call::new("tcp_peer_addr").arg(id),
            || shared.stream.get()?.get_ref().peer_addr(),
        )?;
        report_addr(memory, state, id_ptr as u32, addr)
    });
    host.func(M, "drop_tcp_stream", |mut c: Caller<'_, ProcessState>, id: i64| {
        c.data_mut().contexts.resources().net.tcp_streams.remove(id as u64).map(drop)
    });
    host.func(
        M,
        "clone_tcp_stream",
        |mut c: Caller<'_, ProcessState>, id: i64| -> Result<i64, Error> {
            let streams = &mut c.data_mut().contexts.resources().net.tcp_streams;
            let clone = streams.get(id as u64)?.clone();
            Ok(streams.try_add(clone)? as i64)
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
    Ok(state.contexts.resources().net.tcp_streams.get(id as u64)?.0.clone())
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
    let hot = super::handover::of(state);
    let bound = crate::protocol::world::sync(
        state,
        || Call::new("tcp_bind").arg(addr),
        || super::handover::bind(hot, addr),
    )?;
    let outcome = Outcome::from_io(Some(bound), |l| state.contexts.resources().net.tcp_listeners.add(l));
    outcome.write(memory, state, id_ptr as u32)
}

fn tcp_accept(
    mut caller: Caller<'_, ProcessState>,
    id: i64,
    id_ptr: i32,
    peer_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let listener = state.contexts.resources().net.tcp_listeners.get(id as u64)?.clone();
    let (id_ptr, peer_ptr) = (id_ptr as u32, peer_ptr as u32);
    check_out(memory, id_ptr, 8)?;
    check_out(memory, peer_ptr, 8)?;
    let hot = super::handover::of(state);
    let accept = async move {
        let socket = listener.clone();
        let accept = async move { socket.get()?.accept().await };
        let (stream, peer) =
            super::handover::unless_handed_over(hot, listener, super::handover::After::Stop, accept).await?;
        Ok((TcpStream::new(stream), peer))
    };
    let call = || Call::new("tcp_accept").arg(id);
    Err(wait_on(state, call, None, accept, move |accepted: Option<std::io::Result<_>>| {
        // No timer: an accept waits for its answer (`None` cannot come).
        let accepted = accepted.unwrap_or_else(|| Err(no_answer()));
        report_accepted(id_ptr, peer_ptr, accepted, |state, s| state.contexts.resources().net.tcp_streams.add(s))
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
    let connect = async move { Async::<std::net::TcpStream>::connect(addr).await.map(TcpStream::new) };
    let call = || Call::new("tcp_connect").arg(addr).arg(timeout_ms);
    Err(wait_on(state, call, timer, connect, move |connected| {
        completion(move |ctx| {
            let (memory, state) = guest::memory_and_state(ctx)?;
            let outcome = Outcome::from_io(connected, |s| state.contexts.resources().net.tcp_streams.add(s));
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
    if direct_io(state) {
        match shared.stream.get().and_then(|socket| socket.get_ref().write(&data)) {
            Err(e) if would_wait(&e) => {}
            written => return Outcome::from_io(Some(written), |n| n as u64).write(memory, state, out_ptr),
        }
    }
    let recorded = for_world(state, &data);
    let write =
        async move { shared.stream.get()?.write_with(|mut socket| socket.write(&data)).await };
    let call = move || Call::new("tcp_write").arg(id).arg(recorded);
    Err(wait_on(state, call, timer, write, move |written| {
        report(out_ptr, Outcome::from_io(written, |n| n as u64))
    }))
}

thread_local! {
    /// Where an edge-triggered read lands before it is copied out (each
    /// worker thread has one, so a waiting connection holds no buffer).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; MAX_READ]);
}

/// Reads `socket` into the front of `buf` (at most `MAX_READ` bytes), or
/// `None` if it is empty; keeps `edge`'s readiness up to date: "may have
/// data" goes when the socket was found empty since `seen` (would block, or
/// a short read; not at the end of the stream, which stays readable).
fn read_edge(
    socket: &std::net::TcpStream,
    edge: &edge::Source,
    seen: edge::Snapshot,
    buf: &mut [u8],
) -> Option<std::io::Result<usize>> {
    match (&*socket).read(buf) {
        Err(e) if would_wait(&e) => {
            edge.clear(seen);
            None
        }
        Ok(n) => {
            if n > 0 && n < buf.len() {
                edge.clear(seen);
            }
            Some(Ok(n))
        }
        Err(e) => Some(Err(e)),
    }
}

/// `tcp_read` through the runtime's edge-triggered reactor (see
/// [`edge`]): no system call when the socket is known to be empty, none to
/// re-arm a wait; data that is there goes straight into guest memory.
#[allow(clippy::too_many_arguments)]
fn edge_read(
    state: &mut ProcessState,
    memory: &mut [u8],
    shared: Arc<Shared>,
    edge: Arc<edge::Source>,
    id: i64,
    buf_ptr: u32,
    buf_len: i32,
    out_ptr: u32,
    timeout: u64,
) -> Result<i32, Error> {
    let len = (buf_len as u32 as usize).min(MAX_READ);
    let seen = edge.snapshot();
    // With a timeout the call tries once whatever the readiness says (a
    // zero timeout must still find data that just came in).
    if seen.ready() || timeout != u64::MAX {
        let target = guest::bytes_mut(memory, buf_ptr, len as u32)?;
        let read = match shared.stream.get() {
            Ok(socket) => read_edge(socket.get_ref(), &edge, seen, target),
            Err(e) => Some(Err(e)),
        };
        if let Some(read) = read {
            return Outcome::from_io(Some(read), |n| n as u64).write(memory, state, out_ptr);
        }
    }
    let timer = timer(state.runtime.scheduler(), timeout);
    let read = async move {
        let socket = shared.stream.get()?;
        loop {
            std::future::poll_fn(|cx| edge.poll_ready(cx)).await;
            let seen = edge.snapshot();
            let read = SCRATCH.with_borrow_mut(|scratch| {
                read_edge(socket.get_ref(), &edge, seen, &mut scratch[..len])
                    .map(|read| read.map(|n| scratch[..n].to_vec()))
            });
            if let Some(read) = read {
                return read;
            }
        }
    };
    let call = || Call::new("tcp_read").arg(id).arg(len);
    Err(wait_on(state, call, timer, read, move |read| report_read(buf_ptr, out_ptr, read)))
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
    guest::range(memory, buf_ptr, buf_len as u32)?;
    check_out(memory, out_ptr, 8)?;
    let timeout = if peek { &shared.peek_timeout } else { &shared.read_timeout };
    let timeout = timeout.get();
    if !peek && direct_io(state) {
        let edge = shared.edge.get_or_init(|| {
            let reactor = super::edge_reactor(&state.runtime)?;
            reactor.register(shared.stream.get().ok()?)
        });
        if let Some(edge) = edge.clone() {
            return edge_read(state, memory, shared, edge, id, buf_ptr, buf_len, out_ptr, timeout);
        }
    }

    // Whether the socket is known to be empty, so the wait should start
    // with waiting: trying first would be one failed system call more.
    let mut wait_first = false;
    if direct_io(state) {
        // The last read took less than it could: the socket was drained then,
        // and most likely still is (a client waiting for our answer). Without
        // a timeout, skip the attempt; with one, the call must try once.
        let drained = !peek && timeout == u64::MAX && shared.drained.load(Ordering::Relaxed);
        if drained {
            wait_first = true;
        } else {
            // Straight into guest memory when data is already there.
            let len = (buf_len as u32).min(MAX_READ as u32);
            let target = guest::bytes_mut(memory, buf_ptr, len)?;
            let read = shared.stream.get().and_then(|socket| match peek {
                true => socket.get_ref().peek(target),
                false => socket.get_ref().read(target),
            });
            match read {
                Err(e) if would_wait(&e) => wait_first = true,
                read => {
                    if let (false, Ok(n)) = (peek, &read) {
                        shared.drained.store(*n < len as usize, Ordering::Relaxed);
                    }
                    return Outcome::from_io(Some(read), |n| n as u64).write(memory, state, out_ptr);
                }
            }
        }
    }
    // The guest buffer was checked above.
    let len = (buf_len as u32 as usize).min(MAX_READ);
    let timer = timer(state.runtime.scheduler(), timeout);
    let read = async move {
        let socket = shared.stream.get()?;
        if wait_first {
            socket.readable().await?;
        }
        // Only now: a connection waiting for its next request holds no buffer.
        let mut buf = vec![0; len];
        let n = if peek {
            socket.peek(&mut buf).await?
        } else {
            let n = socket.read_with(|mut socket| socket.read(&mut buf)).await?;
            shared.drained.store(n < len, Ordering::Relaxed);
            n
        };
        buf.truncate(n);
        Ok(buf)
    };
    let call = || Call::new(if peek { "tcp_peek" } else { "tcp_read" }).arg(id).arg(len);
    Err(wait_on(state, call, timer, read, move |read| report_read(buf_ptr, out_ptr, read)))
}
