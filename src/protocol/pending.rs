//! What a suspended host call asks the process driver for, and what it
//! gets back: a host function that would wait parks a [`Pending`] in the
//! process's state and returns the error [`suspend`] makes; the driver
//! awaits it and resumes the Wasm call with the results.

use super::ProcessState;
use crate::scheduler::BoxFuture;
use std::time::Duration;
use wasmi::{Func, StoreContextMut, Val};

/// Finishes an asynchronous host operation with access to the store (to write
/// results into guest memory) and yields the host function's return values.
pub(crate) type Completion =
    Box<dyn FnOnce(&mut StoreContextMut<'_, ProcessState>) -> Result<Vec<Val>, wasmi::Error> + Send>;

/// Boxes a completion; helps closures infer their higher-ranked signature.
pub(crate) fn completion<F>(f: F) -> Completion
where
    F: for<'a, 'b> FnOnce(&'a mut StoreContextMut<'b, ProcessState>) -> Result<Vec<Val>, wasmi::Error>
        + Send
        + 'static,
{
    Box::new(f)
}

/// A completion that just returns `values`.
pub(crate) fn done(values: Vec<Val>) -> Completion {
    completion(move |_| Ok(values))
}

/// An operation a host function handed to the driver instead of blocking.
pub(crate) enum Pending {
    /// Await the future, then apply its completion.
    Async(BoxFuture<Completion>),
    /// Wait for a message whose tag is in `tags` (any if empty) until
    /// `deadline` (scheduler time), ignoring the first `skip` messages of the
    /// mailbox; results: kind, or 9027 on timeout.
    Receive { tags: Vec<i64>, deadline: Option<Duration>, skip: usize },
    /// Let other processes run, then return `results`.
    Yield { results: Vec<Val> },
    /// Call a guest function nested in this host call; its results become the
    /// host call's results, and a trap inside it becomes `on_trap`.
    Call { func: Func, params: Vec<Val>, results: usize, on_trap: Vec<Val> },
    /// `lunatic::hot::handover`: continue this process on a new instance of
    /// `version`, calling `entry` with `state` to read; the host call
    /// returns only on failure, with its code.
    Handover { state: Vec<u8>, entry: String, version: std::sync::Arc<super::version::Version> },
}

/// Marker error: "the host function parked a [`Pending`] in the store".
#[derive(Debug)]
struct Suspend;

impl std::fmt::Display for Suspend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("process suspended")
    }
}

impl wasmi::errors::HostError for Suspend {}

/// Parks `pending` and returns the error that suspends the Wasm call.
pub(crate) fn suspend(state: &mut ProcessState, pending: Pending) -> wasmi::Error {
    state.pending = Some(pending);
    wasmi::Error::host(Suspend)
}

/// Status returned by waits that time out.
pub(crate) const TIMEOUT: i32 = 9027;


/// What a host function returns, as the values a resumed call gets.
pub(crate) trait HostResults {
    /// The call's results, or its trap.
    fn into_results(self) -> Result<Vec<Val>, wasmi::Error>;
}

impl<X: Into<Val>> HostResults for Result<X, wasmi::Error> {
    fn into_results(self) -> Result<Vec<Val>, wasmi::Error> {
        Ok(vec![self?.into()])
    }
}

/// Runs `work` (blocking host work: file or database I/O, large writes) on
/// the blocking pool while the process is suspended; `finish` then makes the
/// host call's result with the guest's memory and state. In a start
/// section, which cannot suspend, `work` runs in place and the result is
/// returned at once (`Ok`); otherwise the call suspends (`Err`).
pub(crate) fn offload<T, R, W, F>(
    memory: &mut [u8],
    state: &mut ProcessState,
    work: W,
    finish: F,
) -> Result<R, wasmi::Error>
where
    T: Send + 'static,
    R: HostResults,
    W: FnOnce() -> T + Send + 'static,
    F: FnOnce(&mut [u8], &mut ProcessState, T) -> R + Send + 'static,
{
    if !state.initialized {
        let output = work();
        return Ok(finish(memory, state, output));
    }
    let scheduler = state.runtime.scheduler_arc();
    let pending = Pending::Async(Box::pin(async move {
        let output = crate::scheduler::unblock(&*scheduler, work).await;
        completion(move |ctx| {
            let (memory, state) = super::guest::memory_and_state(ctx)?;
            finish(memory, state, output).into_results()
        })
    }));
    Err(suspend(state, pending))
}

/// Whether `error` is the marker [`suspend`] returns (the driver then takes
/// the parked [`Pending`]).
pub(crate) fn is_suspend(error: &wasmi::Error) -> bool {
    error.downcast_ref::<Suspend>().is_some()
}

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

