//! The normal scheduler: an `async-executor` driven by one thread per core.

use super::{BoxFuture, Scheduler};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A multi-threaded work-stealing executor with real time.
pub struct Threaded {
    executor: Arc<async_executor::Executor<'static>>,
    start: Instant,
    stop: Arc<event_listener::Event>,
    /// Tasks woken and not yet polled again.
    ready: Arc<AtomicUsize>,
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
        Ok(Self { executor, start: Instant::now(), stop, ready: Arc::new(AtomicUsize::new(0)) })
    }
}

impl Drop for Threaded {
    fn drop(&mut self) {
        self.stop.notify(usize::MAX);
    }
}

impl Scheduler for Threaded {
    fn spawn(&self, task: BoxFuture<()>) {
        self.executor.spawn(Counted::new(task, self.ready.clone())).detach();
    }

    fn should_yield(&self) -> bool {
        self.ready.load(Ordering::Acquire) > 0
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

/// A task that counts itself in `ready` from the moment it is woken until
/// it is polled. A process whose slice ran out yields only when some other
/// task is ready: yielding otherwise would make the executor wake a sleeping
/// worker thread for nothing (two context switches per slice, +15% on
/// CPU-bound code).
struct Counted {
    task: BoxFuture<()>,
    wake: Arc<CountingWaker>,
    waker: Waker,
}

struct CountingWaker {
    queued: AtomicBool,
    ready: Arc<AtomicUsize>,
    /// The executor's waker for the task, as of its last poll.
    inner: Mutex<Option<Waker>>,
}

impl Counted {
    fn new(task: BoxFuture<()>, ready: Arc<AtomicUsize>) -> Self {
        // A new task is scheduled at once.
        ready.fetch_add(1, Ordering::AcqRel);
        let wake = Arc::new(CountingWaker { queued: AtomicBool::new(true), ready, inner: Mutex::new(None) });
        let waker = Waker::from(wake.clone());
        Self { task, wake, waker }
    }
}

impl Future for Counted {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.wake.queued.swap(false, Ordering::AcqRel) {
            this.wake.ready.fetch_sub(1, Ordering::AcqRel);
        }
        {
            let mut inner = this.wake.inner.lock().unwrap_or_else(|e| e.into_inner());
            match &mut *inner {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            }
        }
        this.task.as_mut().poll(&mut Context::from_waker(&this.waker))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        // Dropped while queued (the executor stopped): no longer ready.
        if self.wake.queued.swap(false, Ordering::AcqRel) {
            self.wake.ready.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.ready.fetch_add(1, Ordering::AcqRel);
        }
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(waker) = &*inner {
            waker.wake_by_ref();
        }
    }
}
