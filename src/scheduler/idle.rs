//! Noticing that a process has waited long enough for its memory to be
//! compacted, without a timer per wait and without waking an idle runtime.
//!
//! Most waits end within microseconds (a reply, the next request), so
//! arming and cancelling a reactor timer on each of them (which also writes
//! to the reactor's wake-up descriptor: a system call) cost more than the
//! message itself. Instead a waiting process notes when it parked, and one
//! watcher thread per runtime wakes those parked for longer than the delay.
//! The watcher sleeps until the earliest such moment (at least [`PERIOD`]
//! apart, so that processes parked close together are handled in one round),
//! and when nothing is parked it sleeps until something is: an idle runtime
//! gets no wake-ups from it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Shortest sleep of the watcher between two rounds (compaction happens up
/// to this much late).
const PERIOD: Duration = Duration::from_millis(100);

/// Processes waiting to be compacted, and the watcher thread that wakes them.
pub(crate) struct IdleWatch {
    shared: Arc<Shared>,
}

struct Shared {
    delay: Duration,
    parked: Mutex<Parked>,
    /// Signalled when the first process parks while the watcher sleeps for
    /// good, and when the watch is dropped.
    wake: Condvar,
    /// Rounds the watcher made (tests check that an idle watch makes none).
    rounds: AtomicU64,
}

#[derive(Default)]
struct Parked {
    waits: HashMap<u64, (Instant, Waker)>,
    /// The watcher sleeps until notified (nothing was parked).
    asleep: bool,
    /// The watch is gone: the thread ends.
    closed: bool,
}

impl IdleWatch {
    /// A watch that wakes processes parked for `delay`, with its thread.
    pub(crate) fn start(delay: Duration) -> std::io::Result<Arc<Self>> {
        let shared = Arc::new(Shared {
            delay,
            parked: Mutex::new(Parked::default()),
            wake: Condvar::new(),
            rounds: AtomicU64::new(0),
        });
        let thread = shared.clone();
        std::thread::Builder::new().name("lunatic-idle".into()).spawn(move || watcher(&thread))?;
        Ok(Arc::new(Self { shared }))
    }
}

impl Drop for IdleWatch {
    fn drop(&mut self) {
        self.shared.parked().closed = true;
        self.shared.wake.notify_all();
    }
}

impl Shared {
    fn parked(&self) -> MutexGuard<'_, Parked> {
        self.parked.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn watcher(shared: &Shared) {
    let mut parked = shared.parked();
    loop {
        if parked.closed {
            return;
        }
        if parked.waits.is_empty() {
            parked.asleep = true;
            parked = shared.wake.wait(parked).unwrap_or_else(|e| e.into_inner());
            parked.asleep = false;
            continue;
        }
        shared.rounds.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let mut due = Vec::new();
        let mut next: Option<Instant> = None;
        for (since, waker) in parked.waits.values() {
            let at = *since + shared.delay;
            if at <= now {
                due.push(waker.clone());
            } else {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        drop(parked);
        due.into_iter().for_each(Waker::wake);
        // Woken processes take themselves off the list when they run.
        let sleep = next.map_or(PERIOD, |at| at.saturating_duration_since(now)).max(PERIOD);
        parked = shared.parked();
        if !parked.closed {
            parked = shared.wake.wait_timeout(parked, sleep).unwrap_or_else(|e| e.into_inner()).0;
        }
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
        let shared = &self.watch.shared;
        if self.since.elapsed() >= shared.delay {
            shared.parked().waits.remove(&self.pid);
            return Poll::Ready(());
        }
        let mut parked = shared.parked();
        match parked.waits.get_mut(&self.pid) {
            Some((_, waker)) if waker.will_wake(cx.waker()) => {}
            Some((_, waker)) => *waker = cx.waker().clone(),
            None => {
                parked.waits.insert(self.pid, (self.since, cx.waker().clone()));
                if parked.asleep {
                    // Only the first process to park after a quiet spell
                    // costs a wake-up.
                    parked.asleep = false;
                    shared.wake.notify_one();
                }
            }
        }
        Poll::Pending
    }
}

impl Drop for IdleWait {
    fn drop(&mut self) {
        self.watch.shared.parked().waits.remove(&self.pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn wait_for(what: impl Fn() -> bool) {
        let start = Instant::now();
        while !what() && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
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
        wait_for(|| count.0.load(Ordering::SeqCst) > 0);
        assert!(count.0.load(Ordering::SeqCst) >= 1, "never woken");
        assert!(start.elapsed() >= Duration::from_millis(100), "woken too early");
        assert!(wait.poll(&mut cx).is_ready());
        // A finished or dropped wait leaves nothing behind.
        drop(wait);
        let short = IdleWait::new(watch.clone(), 8);
        drop(short);
        assert!(watch.shared.parked().waits.is_empty());
    }

    #[test]
    fn an_idle_watch_does_not_tick() {
        let watch = IdleWatch::start(Duration::from_millis(50)).unwrap();
        // Nothing parked: the watcher goes to sleep without a round.
        wait_for(|| watch.shared.parked().asleep);
        assert!(watch.shared.parked().asleep);
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(watch.shared.rounds.load(Ordering::Relaxed), 0);
        // One process parks and is woken; then the watcher sleeps again.
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut wait = IdleWait::new(watch.clone(), 1);
        assert!(wait.poll(&mut cx).is_pending());
        wait_for(|| count.0.load(Ordering::SeqCst) > 0);
        assert!(wait.poll(&mut cx).is_ready());
        drop(wait);
        wait_for(|| watch.shared.parked().asleep);
        let rounds = watch.shared.rounds.load(Ordering::Relaxed);
        assert!(rounds >= 1);
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(watch.shared.rounds.load(Ordering::Relaxed), rounds, "ticked while idle");
        // Dropping the watch ends its thread (no leak per runtime).
        let shared = watch.shared.clone();
        drop(watch);
        wait_for(|| Arc::strong_count(&shared) == 1);
        assert_eq!(Arc::strong_count(&shared), 1, "watcher thread still running");
    }
}
