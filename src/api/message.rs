//! `lunatic::message`: the scratch slot, sending and (selective) receiving.

use crate::protocol::guest;
use crate::engine::HostFunctions;
use crate::errors::{bail_trap, trap};
use super::networking::{TcpStream, TlsStream, UdpSocket};
use crate::protocol::{DataMessage, HostResource, Message, Resource};
use crate::protocol::{suspend, Pending, ProcessState};
use wasmi::{Caller, Error};

const M: &str = "lunatic::message";

/// Largest capacity hint honoured up front; bigger messages still grow.
const MAX_PREALLOCATION: usize = 1 << 20;

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func(M, "create_data", |mut c: Caller<'_, ProcessState>, tag: i64, capacity: i64| {
        let limit = c.data().config.max_message_size;
        let capacity = (capacity as u64).min(MAX_PREALLOCATION as u64).min(limit) as usize;
        c.data_mut().scratch = Some(Message::Data(DataMessage::new(tag, capacity)));
    });
    host.func(M, "write_data", write_data);
    host.func(M, "read_data", read_data);
    host.func(M, "seek_data", |mut c: Caller<'_, ProcessState>, offset: i64| {
        data_mut(c.data_mut()).map(|d| d.cursor = offset as u64 as usize)
    });
    host.func(M, "get_tag", |c: Caller<'_, ProcessState>| scratch(c.data()).map(Message::tag));
    host.func(M, "get_process_id", |c: Caller<'_, ProcessState>| {
        scratch(c.data()).map(|m| match m {
            Message::ProcessDied { process_id } => *process_id as i64,
            _ => 0,
        })
    });
    host.func(M, "data_size", |mut c: Caller<'_, ProcessState>| {
        data_mut(c.data_mut()).map(|d| d.buffer.len() as i64)
    });
    host.func(M, "push_module", |mut c: Caller<'_, ProcessState>, id: i64| {
        let state = c.data_mut();
        let module = state.contexts.resources().modules.get(id as u64)?.clone();
        Ok(room_for(state, RESOURCE)?.push_resource(Resource::Module(module)) as i64)
    });
    host.func(M, "take_module", |mut c: Caller<'_, ProcessState>, index: i64| {
        let state = c.data_mut();
        match take_resource(state, index)? {
            Resource::Module(module) => Ok(state.contexts.resources().modules.try_add(module)? as i64),
            other => Err(wrong_kind("module", &other)),
        }
    });
    // Sockets and streams move: out of the sender's table into the message,
    // out of the message into the receiver's table (abi.md §3.3).
    host.func(M, "push_tcp_stream", |mut c: Caller<'_, ProcessState>, id: i64| -> Result<i64, Error> {
        let state = c.data_mut();
        room_for(state, RESOURCE)?;
        let stream = state.contexts.resources().net.tcp_streams.remove(id as u64)?;
        Ok(data_mut(state)?.push_resource(Resource::Host(HostResource::new("TCP stream", stream))) as i64)
    });
    host.func(M, "take_tcp_stream", |mut c: Caller<'_, ProcessState>, index: i64| -> Result<i64, Error> {
        let state = c.data_mut();
        let stream = take_host::<TcpStream>(state, index, "TCP stream")?;
        Ok(state.contexts.resources().net.tcp_streams.try_add(stream)? as i64)
    });
    host.func(M, "push_tls_stream", |mut c: Caller<'_, ProcessState>, id: i64| -> Result<i64, Error> {
        let state = c.data_mut();
        room_for(state, RESOURCE)?;
        let stream = state.contexts.resources().net.tls_streams.remove(id as u64)?;
        Ok(data_mut(state)?.push_resource(Resource::Host(HostResource::new("TLS stream", stream))) as i64)
    });
    host.func(M, "take_tls_stream", |mut c: Caller<'_, ProcessState>, index: i64| -> Result<i64, Error> {
        let state = c.data_mut();
        let stream = take_host::<TlsStream>(state, index, "TLS stream")?;
        Ok(state.contexts.resources().net.tls_streams.try_add(stream)? as i64)
    });
    host.func(M, "push_udp_socket", |mut c: Caller<'_, ProcessState>, id: i64| -> Result<i64, Error> {
        let state = c.data_mut();
        room_for(state, RESOURCE)?;
        let socket = state.contexts.resources().net.udp_sockets.remove(id as u64)?;
        Ok(data_mut(state)?.push_resource(Resource::Host(HostResource::new("UDP socket", socket))) as i64)
    });
    host.func(M, "take_udp_socket", |mut c: Caller<'_, ProcessState>, index: i64| -> Result<i64, Error> {
        let state = c.data_mut();
        let socket = take_host::<UdpSocket>(state, index, "UDP socket")?;
        Ok(state.contexts.resources().net.udp_sockets.try_add(socket)? as i64)
    });
    host.func(M, "send", |mut c: Caller<'_, ProcessState>, pid: i64| -> Result<i32, Error> {
        send(c.data_mut(), pid)?;
        Ok(0)
    });
    host.func(M, "send_receive_skip_search", send_receive_skip_search);
    host.func(M, "receive", receive);
}

fn scratch(state: &ProcessState) -> Result<&Message, Error> {
    state.scratch.as_ref().ok_or_else(|| trap("no message in the scratch slot"))
}

/// The data message in the scratch slot.
pub(crate) fn data_mut(state: &mut ProcessState) -> Result<&mut DataMessage, Error> {
    match &mut state.scratch {
        Some(Message::Data(data)) => Ok(data),
        Some(_) => bail_trap!("the message in the scratch slot is a signal, not data"),
        None => bail_trap!("no message in the scratch slot"),
    }
}

/// Takes the resource at `index` of the scratch message.
pub(crate) fn take_resource(state: &mut ProcessState, index: i64) -> Result<Resource, Error> {
    data_mut(state)?
        .take_resource(index as u64)
        .ok_or_else(|| trap(format_args!("no resource at index {index} of the message")))
}

/// The trap for taking a resource of the wrong kind.
/// Takes resource `index` of the scratch message, which must be a `T`
/// (called `kind` in the trap otherwise).
fn take_host<T: std::any::Any>(state: &mut ProcessState, index: i64, kind: &str) -> Result<T, Error> {
    match take_resource(state, index)? {
        Resource::Host(host) => {
            host.downcast::<T>().map_err(|host| wrong_kind(kind, &Resource::Host(host)))
        }
        other => Err(wrong_kind(kind, &other)),
    }
}

pub(crate) fn wrong_kind(wanted: &str, found: &Resource) -> Error {
    trap(format_args!("message resource is a {}, not a {wanted}", found.kind_name()))
}

/// Gives back a large unused capacity hint before a message is queued, where
/// its capacity counts against the receiver's mailbox limit.
fn trim(message: &mut Message) {
    if let Message::Data(data) = message {
        if data.buffer.capacity() - data.buffer.len() > TRIM_SLACK {
            data.buffer.shrink_to_fit();
        }
    }
}

/// Unused capacity a sent message may keep.
const TRIM_SLACK: usize = 4096;

/// Takes the scratch message out for sending (traps if there is none).
pub(crate) fn take_scratch(state: &mut ProcessState) -> Result<Message, Error> {
    let mut message = state.scratch.take().ok_or_else(|| trap("no message in the scratch slot to send"))?;
    trim(&mut message);
    Ok(message)
}

/// What one more resource slot adds to a message's size.
const RESOURCE: u64 = crate::protocol::RESOURCE_SLOT_SIZE as u64;

/// The scratch data message, if it may grow by `bytes` within the process's
/// `max_message_size`; a trap otherwise. The limit bounds the host memory a
/// message takes outside `max_memory`.
fn room_for(state: &mut ProcessState, bytes: u64) -> Result<&mut DataMessage, Error> {
    let limit = state.config.max_message_size;
    let data = data_mut(state)?;
    let grown = data.size().saturating_add(bytes);
    if grown > limit {
        bail_trap!("message too large: {grown} bytes would exceed its max_message_size of {limit} bytes");
    }
    Ok(data)
}

fn write_data(mut caller: Caller<'_, ProcessState>, ptr: i32, len: i32) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let bytes = guest::bytes(memory, ptr as u32, len as u32)?;
    room_for(state, bytes.len() as u64)?.buffer.extend_from_slice(bytes);
    Ok(len)
}

fn read_data(mut caller: Caller<'_, ProcessState>, ptr: i32, len: i32) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let data = data_mut(state)?;
    let Some(rest) = data.buffer.get(data.cursor..) else {
        bail_trap!("message read position {} is beyond its end", data.cursor);
    };
    let count = rest.len().min(len as u32 as usize);
    guest::write(memory, ptr as u32, &rest[..count])?;
    data.cursor += count;
    Ok(count as i32)
}

fn send(state: &mut ProcessState, pid: i64) -> Result<(), Error> {
    let message = take_scratch(state)?;
    if let Some(target) = state.env.get(pid as u64) {
        target.send(message);
        crate::metrics::count(crate::metrics::Counter::MessagesSent, 1);
    }
    Ok(())
}

fn send_receive_skip_search(
    mut caller: Caller<'_, ProcessState>,
    pid: i64,
    wait_on_tag: i64,
    timeout_ms: i64,
) -> Result<i32, Error> {
    let state = caller.data_mut();
    // Only messages arriving after the request are examined; the reply
    // cannot be among those already in the mailbox.
    let skip = state.mailbox.len();
    send(state, pid)?;
    let deadline = guest::deadline(state, timeout_ms);
    Err(suspend(state, Pending::Receive { tags: vec![wait_on_tag], deadline, skip }))
}

fn receive(
    mut caller: Caller<'_, ProcessState>,
    tags_ptr: i32,
    tags_len: i32,
    timeout_ms: i64,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let tags = if tags_len == 0 {
        Vec::new()
    } else {
        let byte_len = (tags_len as u32)
            .checked_mul(8)
            .ok_or_else(|| trap("tag list too long"))?;
        guest::bytes(memory, tags_ptr as u32, byte_len)?
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect()
    };
    let deadline = guest::deadline(state, timeout_ms);
    Err(suspend(state, Pending::Receive { tags, deadline, skip: 0 }))
}
