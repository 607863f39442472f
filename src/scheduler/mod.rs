//! The scheduler seam: where process tasks run and where time comes from.
//!
//! Processes are `Send` futures. A [`Scheduler`] runs them and is the only
//! source of time (and, later, of scheduling decisions) the runtime consults,
//! so the same process code runs on the multi-threaded executor and on a
//! deterministic one with virtual time.

mod deterministic;
mod executor;
mod idle;
mod threaded;

pub use deterministic::Deterministic;
pub use threaded::Threaded;

pub(crate) use idle::{IdleWait, IdleWatch};

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Which scheduler a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedulerKind {
    /// The multi-threaded executor; 0 threads means one per core.
    Threaded {
        /// Worker threads.
        threads: usize,
    },
    /// The deterministic single-threaded scheduler.
    Deterministic {
        /// Every scheduling decision, virtual time and random byte follows from it.
        seed: u64,
    },
}

impl Default for SchedulerKind {
    fn default() -> Self {
        SchedulerKind::Threaded { threads: 0 }
    }
}

impl SchedulerKind {
    /// Creates the scheduler (starting worker threads if threaded).
    pub fn build(self) -> std::io::Result<std::sync::Arc<dyn Scheduler>> {
        Ok(match self {
            SchedulerKind::Threaded { threads } => {
                let threads = match threads {
                    0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
                    n => n,
                };
                std::sync::Arc::new(Threaded::new(threads)?)
            }
            SchedulerKind::Deterministic { seed } => std::sync::Arc::new(Deterministic::new(seed)),
        })
    }
}

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Runs process tasks and tells the time.
pub trait Scheduler: Send + Sync + 'static {
    /// Starts a task; it runs until it completes or the scheduler stops.
    fn spawn(&self, task: BoxFuture<()>);

    /// Monotonic time since the scheduler started.
    fn now(&self) -> Duration;

    /// Completes once [`Scheduler::now`] has reached `deadline`.
    fn sleep_until(&self, deadline: Duration) -> BoxFuture<()>;

    /// Wall-clock time since the Unix epoch (WASI's realtime clock).
    fn wall_clock(&self) -> Duration;

    /// Fills `buf` with random bytes (WASI `random_get`).
    fn fill_random(&self, buf: &mut [u8]) -> std::io::Result<()>;

    /// Fuel for the next preemption slice, given the configured size.
    fn next_slice(&self, base: u64) -> u64 {
        base
    }

    /// Whether a process that used up its slice (or asked to yield) should
    /// let others run now; `false` only when no other task is ready.
    fn should_yield(&self) -> bool {
        true
    }

    /// Counts waits on the outside world (sockets) in progress, if this
    /// scheduler needs to know: virtual time must then follow real time
    /// instead of jumping to the next deadline.
    fn external_waits(&self) -> Option<std::sync::Arc<std::sync::atomic::AtomicUsize>> {
        None
    }

    /// Told how much fuel a process just used up (a whole slice).
    fn fuel_consumed(&self, fuel: u64) {
        crate::metrics::count(crate::metrics::Counter::FuelUsed, fuel);
    }

    /// Asks worker threads that run out of work to keep polling for new work
    /// for up to `spin` before they sleep, as long as new work keeps coming
    /// within that time (the usual, shorter spin again once it does not;
    /// the `LUNATIC_SPIN_US` environment variable, if set, wins): for a
    /// runtime whose answers come back within a network round trip.
    /// Schedulers without spinning workers ignore it, and so do workers on
    /// iOS and Android, which do not spin.
    fn prefer_spin(&self, _spin: Duration) {}

    /// Tasks waiting for a thread (the `lunatic.scheduler.queue.length` metric).
    fn queued(&self) -> usize {
        0
    }

    /// Whether blocking work (file I/O) runs inline instead of on the
    /// blocking pool, so its completion order is part of the schedule.
    fn inline_blocking(&self) -> bool {
        false
    }

    /// Scheduling steps taken so far (deterministic scheduler; 0 otherwise).
    fn steps(&self) -> u64 {
        0
    }

    /// Runs `main` to completion on the calling thread while the scheduler's
    /// tasks run, and returns its output.
    fn block_on(&self, main: BoxFuture<i32>) -> i32;
}

pub(crate) use crate::replay::Hook;

/// Convenience: a sleep of `duration` from now.
pub fn sleep(scheduler: &dyn Scheduler, duration: Duration) -> BoxFuture<()> {
    scheduler.sleep_until(scheduler.now().saturating_add(duration))
}

/// Runs blocking work off the executor threads (inline on a deterministic
/// scheduler, where the completion order must not depend on other threads).
pub async fn unblock<T, F>(scheduler: &dyn Scheduler, work: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if scheduler.inline_blocking() {
        work()
    } else {
        blocking::unblock(work).await
    }
}

/// Marks `work` as a wait on the outside world for as long as it runs (see
/// [`Scheduler::external_waits`]). The mark starts now, not at first poll.
pub fn external<T: Send + 'static>(
    scheduler: &dyn Scheduler,
    work: impl Future<Output = T> + Send + 'static,
) -> BoxFuture<T> {
    struct Mark(std::sync::Arc<std::sync::atomic::AtomicUsize>);
    impl Drop for Mark {
        fn drop(&mut self) {
            self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        }
    }
    let mark = scheduler.external_waits().map(|count| {
        count.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Mark(count)
    });
    Box::pin(async move {
        let _mark = mark;
        work.await
    })
}
