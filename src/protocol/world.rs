//! How host functions reach the record/replay seam ([`crate::replay`]):
//! they number their process's calls to the outside world and park the
//! process when a replay diverges. The seam itself sees only those numbers.

use super::{suspend, Completion, Pending, ProcessState};
use crate::replay::{Call, Diverged, Key, Value, World};
use crate::scheduler::BoxFuture;
use std::future::Future;
use std::sync::Arc;

/// The calling process's ID and the number of its next outside call.
fn next_call(state: &mut ProcessState) -> Key {
    state.world_calls += 1;
    (state.id(), state.world_calls)
}

/// A divergence: the run is stopping; the process parks for good (the
/// scheduler stops before it matters).
fn park(state: &mut ProcessState) -> wasmi::Error {
    suspend(state, Pending::Async(Box::pin(futures_lite::future::pending())))
}

/// Runs a call answered at once through the world, if one is active:
/// `live` asks the outside world (not called while replaying), `call`
/// describes the call for the recording.
pub(crate) fn sync<T: Value>(
    state: &mut ProcessState,
    call: impl FnOnce() -> Call,
    live: impl FnOnce() -> T,
) -> Result<T, wasmi::Error> {
    match state.runtime.world().cloned() {
        None => Ok(live()),
        Some(world) => {
            let key = next_call(state);
            world.sync_call(key, call(), live).map_err(|Diverged| park(state))
        }
    }
}

/// Suspends the calling process on `op`, a call that waits on the outside
/// world, racing `timer`; `finish` gets the answer (`None` if the timer
/// fired first). See [`World::external`].
pub(crate) fn external<T, Op, Fin>(
    world: &Arc<World>,
    state: &mut ProcessState,
    call: Call,
    timer: Option<BoxFuture<()>>,
    op: Op,
    finish: Fin,
) -> wasmi::Error
where
    T: Value,
    Op: Future<Output = T> + Send + 'static,
    Fin: FnOnce(Option<T>) -> Completion + Send + 'static,
{
    let key = next_call(state);
    match world.external(key, call, timer, op) {
        Ok(gate) => {
            let work =
                crate::scheduler::external(state.runtime.scheduler(), async move { finish(gate.await) });
            suspend(state, Pending::Async(work))
        }
        Err(Diverged) => park(state),
    }
}
