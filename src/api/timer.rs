//! `lunatic::timer`: delayed delivery of the scratch message.
//!
//! A timer belongs to the process that set it: it is cancelled when that
//! process ends (its table entry is dropped), so no timer task outlives its
//! owner, and a process may hold at most [`MAX_TIMERS`] timers at once.

use crate::protocol::guest::Table;
use super::message::take_scratch;
use crate::engine::HostFunctions;
use crate::errors::bail_trap;
use crate::metrics::Counter;
use crate::protocol::ProcessState;
use futures_lite::future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wasmi::{Caller, Error};

/// Most timers one process may have pending at once (each holds a task and
/// its message until it fires); `send_after` beyond it traps. The same as
/// every other resource table's bound.
pub(crate) const MAX_TIMERS: usize = crate::protocol::guest::MAX_TABLE_ENTRIES;

/// A timer in the caller's table; dropping it cancels the timer.
pub(crate) struct TimerEntry {
    cancel: async_channel::Sender<()>,
    fired: Arc<AtomicBool>,
}

/// A process's timers. Fired timers are forgotten lazily, when the table
/// has doubled since the last sweep (amortised constant time per timer).
pub(crate) struct Timers {
    table: Table<TimerEntry>,
    sweep_at: usize,
}

impl Default for Timers {
    fn default() -> Self {
        Self { table: Table::new("timer"), sweep_at: 64 }
    }
}

impl Timers {
    /// Makes room for one more timer, or says there is none.
    fn reserve(&mut self) -> Result<(), Error> {
        if self.table.len() >= self.sweep_at {
            self.table.retain(|_, timer| !timer.fired.load(Ordering::Acquire));
            self.sweep_at = (self.table.len() * 2).clamp(64, MAX_TIMERS);
        }
        if self.table.len() >= MAX_TIMERS {
            bail_trap!("send_after: this process already has {MAX_TIMERS} pending timers");
        }
        Ok(())
    }
}

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func("lunatic::timer", "send_after", send_after);
    host.func("lunatic::timer", "cancel_timer", cancel_timer);
}

fn send_after(mut caller: Caller<'_, ProcessState>, pid: i64, delay_ms: i64) -> Result<i64, Error> {
    let state = caller.data_mut();
    state.contexts.resources().timers.reserve()?;
    let message = take_scratch(state)?;
    // The target is resolved now; if it is gone the message is dropped later.
    let target = state.env.get(pid as u64);
    let scheduler = state.runtime.scheduler_arc();
    // A negative delay is a huge unsigned one (as in the original): the
    // timer never fires, but it still counts until cancelled.
    let sleep = crate::scheduler::sleep(&*scheduler, Duration::from_millis(delay_ms as u64));
    let (cancel, cancelled) = async_channel::bounded(1);
    let fired = Arc::new(AtomicBool::new(false));
    let task_fired = fired.clone();
    scheduler.spawn(Box::pin(async move {
        // Cancelled explicitly, or the entry was dropped with its process.
        let expired = future::or(async { sleep.await; true }, async {
            let _ = cancelled.recv().await;
            false
        })
        .await;
        task_fired.store(true, Ordering::Release);
        crate::metrics::count(if expired { Counter::TimersCompleted } else { Counter::TimersCanceled }, 1);
        if expired {
            if let Some(target) = target {
                target.send(message);
            }
        }
    }));
    crate::metrics::count(Counter::TimersStarted, 1);
    Ok(state.contexts.resources().timers.table.try_add(TimerEntry { cancel, fired })? as i64)
}

fn cancel_timer(mut caller: Caller<'_, ProcessState>, id: i64) -> i32 {
    match caller.data_mut().contexts.resources().timers.table.take(id as u64) {
        Some(timer) => {
            let _ = timer.cancel.try_send(());
            1
        }
        None => 0,
    }
}
