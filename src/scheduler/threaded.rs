//! The normal scheduler: an `async-executor` driven by one thread per core.

use super::{BoxFuture, Scheduler};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A multi-threaded work-stealing executor with real time.
pub struct Threaded {
    executor: Arc<async_executor::Executor<'static>>,
    start: Instant,
    stop: Arc<event_listener::Event>,
}

impl Threaded {
    /// Starts `threads` worker threads (at least one).
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let executor = Arc::new(async_executor::Executor::new());
        let stop = Arc::new(event_listener::Event::new());
        for index in 0..threads.max(1) {
            let executor = executor.clone();
            let listener = stop.listen();
            std::thread::Builder::new()
                .name(format!("lunatic-worker-{index}"))
                .spawn(move || async_io::block_on(executor.run(listener)))?;
        }
        Ok(Self { executor, start: Instant::now(), stop })
    }
}

impl Drop for Threaded {
    fn drop(&mut self) {
        self.stop.notify(usize::MAX);
    }
}

impl Scheduler for Threaded {
    fn spawn(&self, task: BoxFuture<()>) {
        self.executor.spawn(task).detach();
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn sleep_until(&self, deadline: Duration) -> BoxFuture<()> {
        let at = self.start + deadline;
        Box::pin(async move {
            async_io::Timer::at(at).await;
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
