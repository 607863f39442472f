//! The normal scheduler: a work-stealing executor with one thread per core
//! (see [`super::executor`]) and real time.

use super::executor::Executor;
use super::{BoxFuture, Scheduler};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A multi-threaded work-stealing executor with real time.
pub struct Threaded {
    executor: Executor,
    start: Instant,
}

impl Threaded {
    /// Starts `threads` worker threads (at least one).
    pub fn new(threads: usize) -> std::io::Result<Self> {
        Ok(Self { executor: Executor::new(threads)?, start: Instant::now() })
    }
}

impl Scheduler for Threaded {
    fn spawn(&self, task: BoxFuture<()>) {
        self.executor.spawn(task);
    }

    fn queued(&self) -> usize {
        self.executor.queued()
    }

    fn prefer_spin(&self, spin: Duration) {
        self.executor.prefer_spin(spin);
    }

    /// Yield only to a task that is waiting to run.
    fn should_yield(&self) -> bool {
        self.executor.has_queued()
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn sleep_until(&self, deadline: Duration) -> BoxFuture<()> {
        // A deadline past what `Instant` can hold (a guest sleeping for
        // `u64::MAX` ms) never comes: wait for ever instead of overflowing.
        let at = self.start.checked_add(deadline);
        Box::pin(async move {
            match at {
                Some(at) => drop(async_io::Timer::at(at).await),
                None => std::future::pending::<()>().await,
            }
        })
    }

    fn wall_clock(&self) -> Duration {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
    }

    fn fill_random(&self, buf: &mut [u8]) -> std::io::Result<()> {
        getrandom::fill(buf).map_err(|e| std::io::Error::other(e.to_string()))
    }

    fn block_on(&self, main: BoxFuture<i32>) -> i32 {
        async_io::block_on(main)
    }
}
