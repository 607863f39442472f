//! UDP sockets (14 functions).

use super::{
    addr, check_out, for_world, guest, no_answer, read_buffer, report, report_addr, wait_on, Outcome,
    Sock, UdpSocket, M, MAX_DATAGRAM,
};
use crate::engine::HostFunctions;
use crate::errors::trap;
use crate::protocol::{completion, ProcessState};
use crate::replay::Call;
use async_io::Async;
use std::io::ErrorKind;
use std::sync::Arc;
use wasmi::{Caller, Error, Val};

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func(M, "udp_bind", udp_bind);
    host.func(M, "udp_local_addr", |mut c: Caller<'_, ProcessState>, id: i64, id_ptr: i32| {
        let (memory, state) = guest::memory_and_state(&mut c)?;
        let socket = socket(state, id)?;
        let addr = crate::protocol::world::sync(
            state,
            || Call::new("udp_local_addr").arg(id),
            || socket.get()?.get_ref().local_addr(),
        )?;
        report_addr(memory, state, id_ptr as u32, addr)
    });
    host.func(M, "udp_peer_addr", udp_peer_addr);
    host.func(M, "drop_udp_socket", |mut c: Caller<'_, ProcessState>, id: i64| {
        c.data_mut().contexts.resources().net.udp_sockets.remove(id as u64).map(drop)
    });
    host.func(M, "udp_receive", udp_receive);
    host.func(M, "udp_receive_from", udp_receive_from);
    host.func(M, "udp_connect", udp_connect);
    host.func(
        M,
        "clone_udp_socket",
        |mut c: Caller<'_, ProcessState>, id: i64| -> Result<i64, Error> {
            let sockets = &mut c.data_mut().contexts.resources().net.udp_sockets;
            let clone = sockets.get(id as u64)?.clone();
            Ok(sockets.try_add(clone)? as i64)
        },
    );
    // Socket options: an OS error traps (abi.md §2.9).
    host.func(
        M,
        "set_udp_socket_broadcast",
        |mut c: Caller<'_, ProcessState>, id: i64, on: i32| {
            let state = c.data_mut();
            let socket = socket(state, id)?;
            let call = || Call::new("set_udp_socket_broadcast").arg(id).arg(on);
            let set = crate::protocol::world::sync(state, call, || socket.get()?.get_ref().set_broadcast(on > 0))?;
            set.map_err(option_trap)
        },
    );
    host.func(M, "get_udp_socket_broadcast", |mut c: Caller<'_, ProcessState>, id: i64| {
        let state = c.data_mut();
        let socket = socket(state, id)?;
        let call = || Call::new("get_udp_socket_broadcast").arg(id);
        let on = crate::protocol::world::sync(state, call, || socket.get()?.get_ref().broadcast())?;
        Ok(i32::from(on.map_err(option_trap)?))
    });
    host.func(M, "set_udp_socket_ttl", |mut c: Caller<'_, ProcessState>, id: i64, ttl: i32| {
        let state = c.data_mut();
        let socket = socket(state, id)?;
        let call = || Call::new("set_udp_socket_ttl").arg(id).arg(ttl);
        let set = crate::protocol::world::sync(state, call, || socket.get()?.get_ref().set_ttl(ttl as u32))?;
        set.map_err(option_trap)
    });
    host.func(M, "get_udp_socket_ttl", |mut c: Caller<'_, ProcessState>, id: i64| {
        let state = c.data_mut();
        let socket = socket(state, id)?;
        let call = || Call::new("get_udp_socket_ttl").arg(id);
        let ttl = crate::protocol::world::sync(state, call, || socket.get()?.get_ref().ttl())?;
        Ok(ttl.map_err(option_trap)? as i32)
    });
    host.func(M, "udp_send_to", udp_send_to);
    host.func(M, "udp_send", udp_send);
}

/// The bytes of a datagram to send: all of `ptr..ptr+len` is bounds-checked,
/// but at most [`MAX_DATAGRAM`] + 1 bytes are copied (a longer datagram
/// fails to send either way).
fn datagram(memory: &[u8], ptr: u32, len: u32) -> Result<Vec<u8>, Error> {
    let bytes = guest::bytes(memory, ptr, len)?;
    Ok(bytes[..bytes.len().min(MAX_DATAGRAM as usize + 1)].to_vec())
}

fn option_trap(e: std::io::Error) -> Error {
    trap(format_args!("UDP socket option: {e}"))
}

/// The socket behind an ID (unknown IDs trap).
fn socket(
    state: &mut ProcessState,
    id: i64,
) -> Result<Arc<Sock<Async<std::net::UdpSocket>>>, Error> {
    Ok(state.contexts.resources().net.udp_sockets.get(id as u64)?.0.clone())
}

fn udp_bind(
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
    let bound = crate::protocol::world::sync(
        state,
        || Call::new("udp_bind").arg(addr),
        || Async::<std::net::UdpSocket>::bind(addr).map(|s| UdpSocket(Arc::new(Sock::new(s)))),
    )?;
    let outcome = Outcome::from_io(Some(bound), |socket| state.contexts.resources().net.udp_sockets.add(socket));
    outcome.write(memory, state, id_ptr as u32)
}

/// 0 with the peer, 1 "not connected", 2 any other error (both with an
/// error ID).
fn udp_peer_addr(mut caller: Caller<'_, ProcessState>, id: i64, id_ptr: i32) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let socket = socket(state, id)?;
    let peer = crate::protocol::world::sync(
        state,
        || Call::new("udp_peer_addr").arg(id),
        || socket.get()?.get_ref().peer_addr(),
    )?;
    let not_connected = matches!(&peer, Err(e) if e.kind() == ErrorKind::NotConnected);
    match report_addr(memory, state, id_ptr as u32, peer)? {
        1 if !not_connected => Ok(2),
        status => Ok(status),
    }
}

/// Connecting a UDP socket only sets its default peer: it never waits, so
/// the timeout has nothing to limit.
#[allow(clippy::too_many_arguments)]
fn udp_connect(
    mut caller: Caller<'_, ProcessState>,
    id: i64,
    addr_type: i32,
    addr_ptr: i32,
    port: i32,
    flow_info: i32,
    scope_id: i32,
    _timeout_ms: i64,
    id_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let socket = socket(state, id)?;
    let addr = addr::read(memory, addr_type, addr_ptr, port, flow_info, scope_id)?;
    check_out(memory, id_ptr as u32, 8)?;
    let connected = crate::protocol::world::sync(
        state,
        || Call::new("udp_connect").arg(id).arg(addr),
        || socket.get()?.get_ref().connect(addr),
    )?;
    let outcome = Outcome::from_io(Some(connected), |()| 0);
    outcome.write(memory, state, id_ptr as u32)
}

fn udp_receive(
    mut caller: Caller<'_, ProcessState>,
    id: i64,
    buf_ptr: i32,
    buf_len: i32,
    out_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let socket = socket(state, id)?;
    let (buf_ptr, out_ptr) = (buf_ptr as u32, out_ptr as u32);
    // 64 KiB hold any datagram (IPv6 jumbograms aside).
    let mut buf = read_buffer(memory, buf_ptr, buf_len as u32)?;
    check_out(memory, out_ptr, 8)?;
    let len = buf.len();
    let receive = async move {
        let n = socket.get()?.recv(&mut buf).await?;
        buf.truncate(n);
        Ok(buf)
    };
    let call = || Call::new("udp_receive").arg(id).arg(len);
    Err(wait_on(state, call, None, receive, move |received| {
        super::report_read(buf_ptr, out_ptr, received)
    }))
}

fn udp_receive_from(
    mut caller: Caller<'_, ProcessState>,
    id: i64,
    buf_ptr: i32,
    buf_len: i32,
    out_ptr: i32,
    peer_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let socket = socket(state, id)?;
    let (buf_ptr, out_ptr, peer_ptr) = (buf_ptr as u32, out_ptr as u32, peer_ptr as u32);
    // 64 KiB hold any datagram (IPv6 jumbograms aside).
    let mut buf = read_buffer(memory, buf_ptr, buf_len as u32)?;
    check_out(memory, out_ptr, 8)?;
    check_out(memory, peer_ptr, 8)?;
    let len = buf.len();
    let receive = async move {
        let (n, peer) = socket.get()?.recv_from(&mut buf).await?;
        buf.truncate(n);
        Ok((buf, peer))
    };
    let call = || Call::new("udp_receive_from").arg(id).arg(len);
    Err(wait_on(state, call, None, receive, move |received: Option<std::io::Result<_>>| {
        // No timer: a receive waits for its answer (`None` cannot come).
        let received = received.unwrap_or_else(|| Err(no_answer()));
        completion(move |ctx| {
            let (memory, state) = guest::memory_and_state(ctx)?;
            let status = match received {
                Ok((buf, peer)) => {
                    let n = buf.len();
                    guest::write(memory, buf_ptr, &buf)?;
                    let peer_id = super::add_addrs(state, [peer])?;
                    guest::write_u64(memory, peer_ptr, peer_id)?;
                    guest::write_u64(memory, out_ptr, n as u64)?;
                    0
                }
                // The peer pointer stays untouched on errors.
                Err(e) => Outcome::Failed(e.into()).write(memory, state, out_ptr)?,
            };
            Ok(vec![Val::I32(status)])
        })
    }))
}

#[allow(clippy::too_many_arguments)]
fn udp_send_to(
    mut caller: Caller<'_, ProcessState>,
    id: i64,
    buf_ptr: i32,
    buf_len: i32,
    addr_type: i32,
    addr_ptr: i32,
    port: i32,
    flow_info: i32,
    scope_id: i32,
    out_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let socket = socket(state, id)?;
    let data = datagram(memory, buf_ptr as u32, buf_len as u32)?;
    let addr = addr::read(memory, addr_type, addr_ptr, port, flow_info, scope_id)?;
    let out_ptr = out_ptr as u32;
    check_out(memory, out_ptr, 8)?;
    let recorded = for_world(state, &data);
    let send = async move { socket.get()?.send_to(&data, addr).await };
    let call = move || Call::new("udp_send_to").arg(id).arg(recorded).arg(addr);
    Err(wait_on(state, call, None, send, move |sent| {
        report(out_ptr, Outcome::from_io(sent, |n| n as u64))
    }))
}

fn udp_send(
    mut caller: Caller<'_, ProcessState>,
    id: i64,
    buf_ptr: i32,
    buf_len: i32,
    out_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let socket = socket(state, id)?;
    let data = datagram(memory, buf_ptr as u32, buf_len as u32)?;
    let out_ptr = out_ptr as u32;
    check_out(memory, out_ptr, 8)?;
    let recorded = for_world(state, &data);
    let send = async move { socket.get()?.send(&data).await };
    let call = move || Call::new("udp_send").arg(id).arg(recorded);
    Err(wait_on(state, call, None, send, move |sent| {
        report(out_ptr, Outcome::from_io(sent, |n| n as u64))
    }))
}
