//! The process side (wasm32 only): the `lunatic::hot` imports, the message loop that hands a
//! process over between two messages, and what the upgrade entry runs in the new instance.

use crate::{decode, encode, peek, version_hex, HandoverError, HotState, DEFAULT_ENTRY, NOTICE_TAG};
use lunatic::host::api::message;
use lunatic::serializer::{Bincode, CanSerialize};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Display;
use std::io::Write;

/// The raw imports of HOT-ABI.md; use the safe wrappers of this module instead.
mod raw {
    #[link(wasm_import_module = "lunatic::hot")]
    extern "C" {
        pub fn subscribe(tag: i64);
        pub fn unsubscribe();
        pub fn version() -> i64;
        pub fn current_version() -> i64;
        pub fn handover(state_ptr: *const u8, state_len: u32, entry_ptr: *const u8, entry_len: u32) -> i32;
        pub fn state_size() -> i32;
        pub fn read_state(ptr: *mut u8, len: u32) -> i32;
        pub fn commit();
    }
}

/// Asks the runtime to send this process a message tagged `tag` (8-byte body: the new
/// version's ID, u64 little-endian) whenever a newer version becomes current, at once if one
/// already is. Calling it again replaces the tag. [`serve`] calls it with [`NOTICE_TAG`].
pub fn subscribe(tag: i64) {
    unsafe { raw::subscribe(tag) }
}

/// Stops the notices of [`subscribe`].
pub fn unsubscribe() {
    unsafe { raw::unsubscribe() }
}

/// The ID of the version this process runs (see [`version_hex`] to print it).
pub fn version() -> u64 {
    unsafe { raw::version() as u64 }
}

/// The ID of the app's current version; differs from [`version`] when this process is
/// still on an older one.
pub fn current_version() -> u64 {
    unsafe { raw::current_version() as u64 }
}

/// Moves this process to the current version with `state` (written by [`encode`]) and the
/// export `entry`. Never returns on success; the error says why the process is still here,
/// running on as before.
pub fn handover<S: HotState>(state: &S, entry: &str) -> HandoverError {
    match encode(state, version()) {
        Ok(bytes) => handover_bytes(&bytes, entry),
        Err(e) => HandoverError::Encode(e),
    }
}

/// [`handover`] with state bytes of your own format.
pub fn handover_bytes(state: &[u8], entry: &str) -> HandoverError {
    let (Ok(state_len), Ok(entry_len)) = (u32::try_from(state.len()), u32::try_from(entry.len())) else {
        return HandoverError::StateTooLarge(state.len());
    };
    let code = unsafe { raw::handover(state.as_ptr(), state_len, entry.as_ptr(), entry_len) };
    HandoverError::from_code(code, entry, state.len())
}

/// In an instance started by a hand-over: the state bytes it was given (empty in a process
/// that did not come from a hand-over, and after [`commit`]).
pub fn take_state() -> Vec<u8> {
    let size = unsafe { raw::state_size() };
    let size = usize::try_from(size).unwrap_or(0);
    let mut buf = vec![0u8; size];
    let got = unsafe { raw::read_state(buf.as_mut_ptr(), size as u32) };
    buf.truncate(usize::try_from(got).unwrap_or(0));
    buf
}

/// Tells the runtime the new instance has its state: from now on a trap fails the process
/// (links and monitors fire) instead of rolling back to the old instance.
pub fn commit() {
    unsafe { raw::commit() }
}

/// This process's ID.
pub fn pid() -> u64 {
    lunatic::host::process_id()
}

/// What the loop should do after a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Wait for the next message.
    Continue,
    /// Leave the loop; [`serve`] returns the state.
    Stop,
}

/// A signal from a linked or monitored process (only arrives if the process asked for it:
/// `die_when_link_dies(0)`, `monitor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// A linked process died; the link's tag.
    LinkDied(i64),
    /// A monitored process died; its ID.
    ProcessDied(u64),
}

/// A process whose state can move to new code between two messages.
///
/// Its messages are whatever clients send with `lunatic::Process::<Message>::send` (bincode,
/// the `lunatic` crate's default), so a handle of type `Process<Self::Message>` reaches it.
/// Message types must stay readable by both versions while both run.
pub trait HotServer: HotState {
    /// The messages the process handles.
    type Message: Serialize + DeserializeOwned;
    /// The export the new version must have (see [`upgrade_entry!`](crate::upgrade_entry)).
    const ENTRY: &'static str = DEFAULT_ENTRY;

    /// Handles one message.
    fn handle(&mut self, message: Self::Message) -> Control;

    /// Handles a link or monitor signal; the default ignores it.
    fn signal(&mut self, signal: Signal) -> Control {
        let _ = signal;
        Control::Continue
    }

    /// Runs in the new instance after the state is restored and committed, before the first
    /// message: `from_version` wrote the state with schema `from_schema`.
    fn upgraded(&mut self, from_version: u64, from_schema: u32) {
        let _ = (from_version, from_schema);
    }
}

/// Runs the message loop of `state` until a handler says [`Control::Stop`], then returns the
/// state. Between two messages, a notice of a newer version makes the process hand itself over
/// (in that case this call never returns here: the loop goes on in the new version). A refused
/// hand-over prints one line starting with `lunatic-hot:` and the loop goes on, on the old code.
pub fn serve<S: HotServer>(mut state: S) -> S {
    subscribe(NOTICE_TAG);
    loop {
        let kind = unsafe { message::receive(std::ptr::null(), 0, u64::MAX) };
        let control = match kind {
            0 => {
                let tag = unsafe { message::get_tag() };
                if tag == NOTICE_TAG && unsafe { message::data_size() } == 8 {
                    let mut id = [0u8; 8];
                    unsafe { message::read_data(id.as_mut_ptr(), 8) };
                    try_upgrade(&state, u64::from_le_bytes(id));
                    Control::Continue
                } else {
                    match <Bincode as CanSerialize<S::Message>>::decode() {
                        Ok(msg) => state.handle(msg),
                        Err(e) => {
                            say(&format!("lunatic-hot: process {} ({}) dropped a message it cannot read: {e}", pid(), S::NAME));
                            Control::Continue
                        }
                    }
                }
            }
            1 => state.signal(Signal::LinkDied(unsafe { message::get_tag() })),
            2 => state.signal(Signal::ProcessDied(unsafe { message::get_process_id() })),
            _ => Control::Continue,
        };
        if control == Control::Stop {
            unsubscribe();
            return state;
        }
    }
}

/// One hand-over attempt; returns only when it failed (after saying so, unless the notice was
/// simply stale).
fn try_upgrade<S: HotServer>(state: &S, notified: u64) {
    let old = version();
    let current = current_version();
    if current == old {
        return;
    }
    let err = handover(state, S::ENTRY);
    if err == HandoverError::NoNewerVersion {
        return;
    }
    let _ = notified;
    say(&format!(
        "lunatic-hot: process {} ({}) stays on version {}: cannot move to {}: {err}",
        pid(),
        S::NAME,
        version_hex(old),
        version_hex(current),
    ));
}

/// Ends a failed restore: one line with the reason, then a trap, so the runtime rolls the
/// process back to its old instance (`handover` returns 4 there).
pub fn restore_failed(why: &dyn Display) -> ! {
    say(&format!(
        "lunatic-hot: process {} cannot restore its state on version {}: {why}",
        pid(),
        version_hex(version())
    ));
    core::arch::wasm32::unreachable()
}

/// The body of the upgrade entry for state type `S` (called by
/// [`upgrade_entry!`](crate::upgrade_entry) once it has picked `S` by name): restores the
/// state (through `code_change` if the schema changed), commits, calls
/// [`HotServer::upgraded`] and re-enters [`serve`].
pub fn resume<S: HotServer>(bytes: Vec<u8>) {
    let (from_version, from_schema) = match peek(&bytes) {
        Ok(env) => (env.from_version, env.schema),
        Err(e) => restore_failed(&e),
    };
    let mut state = match decode::<S>(&bytes) {
        Ok(s) => s,
        Err(e) => restore_failed(&e),
    };
    drop(bytes);
    commit();
    state.upgraded(from_version, from_schema);
    serve(state);
}

/// Prints `line` to stderr in one write, so lines of processes printing at the same time do
/// not interleave (`eprintln!` writes its pieces one by one).
pub fn say(line: &str) {
    let mut buf = String::with_capacity(line.len() + 1);
    buf.push_str(line);
    buf.push('\n');
    let _ = std::io::stderr().write_all(buf.as_bytes());
}
