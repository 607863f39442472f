//! `lunatic::hot` (8 functions): a process of a hot-reloaded app learns
//! that a newer version is current and moves to it, keeping itself (PID,
//! mailbox, links, monitors, names, resources, config, limits) and carrying
//! its state as bytes. The instance swap itself is the process driver's
//! (see `process::driver`); these functions ask for it and serve the new
//! instance. Contract: HOT-ABI.md ("Guest ABI").
//!
//! A process outside a hot-reloadable app (an embedding, a deterministic
//! run) runs the only version there is: `version` and `current_version`
//! agree and `handover` returns 1.

use crate::engine::HostFunctions;
use crate::errors::trap;
use crate::protocol::guest;
use crate::protocol::version::notice;
use crate::protocol::{suspend, Pending, ProcessState};
use wasmi::{Caller, Error};

const M: &str = "lunatic::hot";

/// `handover` failure codes (HOT-ABI.md).
pub(crate) const NO_NEWER_VERSION: i32 = 1;
/// The new version cannot be instantiated for this process.
pub(crate) const CANNOT_INSTANTIATE: i32 = 2;
/// The new version's export is missing or not `[] -> []`.
pub(crate) const NO_ENTRY: i32 = 3;
/// The state is larger than the process's `max_message_size`.
pub(crate) const STATE_TOO_LARGE: i32 = 5;

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func(M, "subscribe", subscribe);
    host.func(M, "unsubscribe", |c: Caller<'_, ProcessState>| {
        if let Some(member) = &c.data().version {
            member.set_tag(None);
        }
    });
    host.func(M, "version", |c: Caller<'_, ProcessState>| own_version(c.data()) as i64);
    host.func(M, "current_version", |c: Caller<'_, ProcessState>| {
        let state = c.data();
        state.runtime.current_version().map_or_else(|| own_version(state), |v| v.id()) as i64
    });
    host.func(M, "handover", handover);
    host.func(M, "state_size", |c: Caller<'_, ProcessState>| {
        // At most the guest's memory (it came from there): fits a u32.
        c.data().handed_state.as_ref().map_or(0, |s| s.len() as u32 as i32)
    });
    host.func(M, "read_state", read_state);
    host.func(M, "commit", |mut c: Caller<'_, ProcessState>| {
        let state = c.data_mut();
        state.uncommitted = false;
        state.handed_state = None;
    });
}

/// The ID of the version `state`'s process runs.
fn own_version(state: &ProcessState) -> u64 {
    match &state.version {
        Some(member) => member.version().id(),
        None => crate::engine::version_id(state.module.bytes()),
    }
}

fn subscribe(mut caller: Caller<'_, ProcessState>, tag: i64) {
    let state = caller.data_mut();
    let Some(member) = &state.version else { return };
    member.set_tag(Some(tag));
    // A newer version may be current already.
    let mine = member.version().id();
    if let Some(current) = state.runtime.current_version().filter(|c| c.id() != mine) {
        state.handle.send(notice(tag, current.id()));
    }
}

fn handover(
    mut caller: Caller<'_, ProcessState>,
    state_ptr: i32,
    state_len: i32,
    entry_ptr: i32,
    entry_len: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let bytes = guest::bytes(memory, state_ptr as u32, state_len as u32)?;
    let entry = guest::bytes(memory, entry_ptr as u32, entry_len as u32)?;
    let entry = std::str::from_utf8(entry).map_err(|_| trap("lunatic::hot::handover: the entry name is not UTF-8"))?;
    let Some(member) = &state.version else { return Ok(NO_NEWER_VERSION) };
    if !state.initialized {
        // A start section cannot suspend, so it cannot be swapped out.
        return Ok(CANNOT_INSTANTIATE);
    }
    let Some(current) = state.runtime.current_version().filter(|c| c.id() != member.version().id()) else {
        return Ok(NO_NEWER_VERSION);
    };
    if bytes.len() as u64 > state.config.max_message_size {
        return Ok(STATE_TOO_LARGE);
    }
    let is_entry = current.module().wasmi().get_export(entry).is_some_and(|export| match export {
        wasmi::ExternType::Func(ty) => ty.params().is_empty() && ty.results().is_empty(),
        _ => false,
    });
    if !is_entry {
        return Ok(NO_ENTRY);
    }
    let pending = Pending::Handover { state: bytes.to_vec(), entry: entry.to_string(), version: current };
    Err(suspend(state, pending))
}

fn read_state(mut caller: Caller<'_, ProcessState>, ptr: i32, len: i32) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let Some(handed) = &state.handed_state else { return Ok(0) };
    let n = handed.len().min(len as u32 as usize);
    let Some(part) = handed.get(..n) else { return Ok(0) };
    guest::write(memory, ptr as u32, part)?;
    Ok(n as u32 as i32)
}
