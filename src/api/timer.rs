//! `lunatic::timer`: delayed delivery of the scratch message.

use super::message::take_scratch;
use crate::engine::HostFunctions;
use crate::process::ProcessState;
use futures_lite::future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wasmi::{Caller, Error};

/// A timer in the caller's table. The delivery task runs on its own, so a
/// timer outlives the process that set it.
pub(crate) struct TimerEntry {
    cancel: async_channel::Sender<()>,
    fired: Arc<AtomicBool>,
}

pub(super) fn register(host: &mut HostFunctions<'_>) {
    host.func("lunatic::timer", "send_after", send_after);
    host.func("lunatic::timer", "cancel_timer", cancel_timer);
}

fn send_after(mut caller: Caller<'_, ProcessState>, pid: i64, delay_ms: i64) -> Result<i64, Error> {
    let state = caller.data_mut();
    let message = take_scratch(state)?;
    // The target is resolved now; if it is gone the message is dropped later.
    let target = state.env.get(pid as u64);
    let scheduler = state.runtime.scheduler_arc();
    let sleep = crate::scheduler::sleep(&*scheduler, Duration::from_millis(delay_ms as u64));
    let (cancel, cancelled) = async_channel::bounded(1);
    let fired = Arc::new(AtomicBool::new(false));
    let task_fired = fired.clone();
    scheduler.spawn(Box::pin(async move {
        let expired = future::or(async { sleep.await; true }, async {
            match cancelled.recv().await {
                Ok(()) => false,
                // The table entry was dropped with its process: keep running.
                Err(_) => future::pending().await,
            }
        })
        .await;
        if expired {
            task_fired.store(true, Ordering::Release);
            if let Some(target) = target {
                target.send(message);
            }
        }
    }));
    // Expired timers are forgotten lazily, here.
    state.resources.timers.retain(|_, timer| !timer.fired.load(Ordering::Acquire));
    Ok(state.resources.timers.add(TimerEntry { cancel, fired }) as i64)
}

fn cancel_timer(mut caller: Caller<'_, ProcessState>, id: i64) -> i32 {
    match caller.data_mut().resources.timers.take(id as u64) {
        Some(timer) => {
            let _ = timer.cancel.try_send(());
            1
        }
        None => 0,
    }
}
