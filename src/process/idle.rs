//! Noticing that a process has sat in `receive` long enough for its memory
//! to be compacted, without a timer per wait.
//!
//! Most receives end within microseconds (a reply, the next request), so
//! arming and cancelling a reactor timer on each of them (which also writes
//! to the reactor's wake-up descriptor: a system call) cost more than the
//! message itself. Instead a parked process notes when it parked, and one
//! watcher thread per runtime wakes, a few times a second, those parked for
//! longer than the delay.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// How often the watcher looks (compaction happens up to this much late).
const PERIOD: Duration = Duration::from_millis(100);

/// Processes parked in `receive` that have not been compacted yet.
pub(crate) struct IdleWatch {
    delay: Duration,
    parked: Mutex<HashMap<u64, (Instant, Waker)>>,
}

impl IdleWatch {
    /// A watch that wakes processes parked for `delay`, with its thread.
    pub(crate) fn start(delay: Duration) -> std::io::Result<Arc<Self>> {
        let watch = Arc::new(Self { delay, parked: Mutex::new(HashMap::new()) });
        let weak = Arc::downgrade(&watch);
        std::thread::Builder::new().name("lunatic-idle".into()).spawn(move || watcher(weak))?;
        Ok(watch)
    }

    fn parked(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (Instant, Waker)>> {
        self.parked.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn watcher(watch: Weak<IdleWatch>) {
    loop {
        std::thread::sleep(PERIOD);
        let Some(watch) = watch.upgrade() else { return };
        let now = Instant::now();
        let due: Vec<Waker> = watch
            .parked()
            .values()
            .filter(|(since, _)| now.duration_since(*since) >= watch.delay)
            .map(|(_, waker)| waker.clone())
            .collect();
        due.into_iter().for_each(Waker::wake);
    }
}

/// One process's wait, from parking until it is dropped (woken for good).
pub(crate) struct IdleWait {
    watch: Arc<IdleWatch>,
    pid: u64,
    since: Instant,
}

impl IdleWait {
    pub(crate) fn new(watch: Arc<IdleWatch>, pid: u64) -> Self {
        Self { watch, pid, since: Instant::now() }
    }

    /// Ready once the process has been parked for the watch's delay.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.since.elapsed() >= self.watch.delay {
            self.watch.parked().remove(&self.pid);
            return Poll::Ready(());
        }
        let mut parked = self.watch.parked();
        match parked.get_mut(&self.pid) {
            Some((_, waker)) if waker.will_wake(cx.waker()) => {}
            Some((_, waker)) => *waker = cx.waker().clone(),
            None => {
                parked.insert(self.pid, (self.since, cx.waker().clone()));
            }
        }
        Poll::Pending
    }
}

impl Drop for IdleWait {
    fn drop(&mut self) {
        self.watch.parked().remove(&self.pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn wakes_a_parked_process_after_the_delay() {
        let watch = IdleWatch::start(Duration::from_millis(150)).unwrap();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut wait = IdleWait::new(watch.clone(), 7);
        assert!(wait.poll(&mut cx).is_pending());
        let start = Instant::now();
        while count.0.load(Ordering::SeqCst) == 0 && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(count.0.load(Ordering::SeqCst) >= 1, "never woken");
        assert!(start.elapsed() >= Duration::from_millis(100), "woken too early");
        assert!(wait.poll(&mut cx).is_ready());
        // A finished or dropped wait leaves nothing behind.
        drop(wait);
        let short = IdleWait::new(watch.clone(), 8);
        drop(short);
        assert!(watch.parked().is_empty());
    }
}
