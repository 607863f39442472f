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

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Shortest sleep of the watcher between two rounds (compaction happens up
/// to this much late).
const PERIOD: Duration = Duration::from_millis(100);

/// Processes waiting to be compacted, and the watcher thread that wakes them.
///
/// Parked processes are kept in one shard per thread that parks them, so
/// that a worker parking and unparking a process per request (a busy
/// connection) takes only its own, uncontended lock and writes no memory
/// the other workers use; only the watcher, a few times a second, visits
/// every shard.
pub(crate) struct IdleWatch {
    shared: Arc<Shared>,
}

struct Shared {
    /// Tells a thread's cached shard from one of an earlier watch.
    id: u64,
    delay: Duration,
    shards: Mutex<Vec<Arc<Shard>>>,
    bell: Arc<Bell>,
    /// Rounds the watcher made (tests check that an idle watch makes none).
    rounds: AtomicU64,
}

/// How parking threads wake the watcher when it sleeps for good.
struct Bell {
    /// The watcher found nothing parked and sleeps until rung.
    asleep: AtomicBool,
    /// `true` once the watch is gone: the thread ends.
    closed: Mutex<bool>,
    wake: Condvar,
}

/// The processes one thread parked: slots, reused through a free list, so
/// that parking and unparking are O(1) without hashing.
struct Shard {
    slots: Mutex<Slots>,
    bell: Arc<Bell>,
}

#[derive(Default)]
struct Slots {
    waits: Vec<Option<(Instant, Waker)>>,
    free: Vec<usize>,
    /// Slots in use.
    used: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

thread_local! {
    /// This thread's shard of the watch it last parked a process in (watch id).
    static SHARD: RefCell<Option<(u64, Arc<Shard>)>> = const { RefCell::new(None) };
}

impl IdleWatch {
    /// A watch that wakes processes parked for `delay`, with its thread.
    pub(crate) fn start(delay: Duration) -> std::io::Result<Arc<Self>> {
        static IDS: AtomicU64 = AtomicU64::new(0);
        let shared = Arc::new(Shared {
            id: IDS.fetch_add(1, Ordering::Relaxed),
            delay,
            shards: Mutex::new(Vec::new()),
            bell: Arc::new(Bell { asleep: AtomicBool::new(false), closed: Mutex::new(false), wake: Condvar::new() }),
            rounds: AtomicU64::new(0),
        });
        let thread = shared.clone();
        std::thread::Builder::new().name("lunatic-idle".into()).spawn(move || watcher(&thread))?;
        Ok(Arc::new(Self { shared }))
    }

    /// The calling thread's shard, made on its first park.
    fn shard(&self) -> Arc<Shard> {
        SHARD.with_borrow_mut(|cached| match cached {
            Some((id, shard)) if *id == self.shared.id => shard.clone(),
            _ => {
                let shard = Arc::new(Shard { slots: Mutex::default(), bell: self.shared.bell.clone() });
                lock(&self.shared.shards).push(shard.clone());
                *cached = Some((self.shared.id, shard.clone()));
                shard
            }
        })
    }
}

impl Drop for IdleWatch {
    fn drop(&mut self) {
        *lock(&self.shared.bell.closed) = true;
        self.shared.bell.wake.notify_all();
    }
}

/// Wakes the processes due in every shard; the earliest moment one of the
/// others is due, and whether any process is parked at all.
fn round(shared: &Shared) -> (Option<Instant>, bool) {
    let now = Instant::now();
    let mut due = Vec::new();
    let mut next: Option<Instant> = None;
    let mut any = false;
    let shards = lock(&shared.shards).clone();
    for shard in &shards {
        let slots = lock(&shard.slots);
        any |= slots.used > 0;
        for (since, waker) in slots.waits.iter().flatten() {
            let at = *since + shared.delay;
            if at <= now {
                due.push(waker.clone());
            } else {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
    }
    // Woken processes take themselves off their shard when they run.
    due.into_iter().for_each(Waker::wake);
    (next, any)
}

fn watcher(shared: &Shared) {
    let bell = &shared.bell;
    let mut closed = lock(&bell.closed);
    loop {
        if *closed {
            return;
        }
        drop(closed);
        let (mut next, mut any) = (None, false);
        if lock(&shared.shards).iter().any(|s| lock(&s.slots).used > 0) {
            shared.rounds.fetch_add(1, Ordering::Relaxed);
            (next, any) = round(shared);
        }
        closed = lock(&bell.closed);
        if !any {
            // Announce the sleep, then look once more: a process parked in
            // between either is seen here or sees `asleep` and rings.
            bell.asleep.store(true, Ordering::SeqCst);
            if !lock(&shared.shards).iter().any(|s| lock(&s.slots).used > 0) && !*closed {
                closed = bell.wake.wait(closed).unwrap_or_else(|e| e.into_inner());
            }
            bell.asleep.store(false, Ordering::SeqCst);
            continue;
        }
        let sleep = next.map_or(PERIOD, |at| at.saturating_duration_since(Instant::now())).max(PERIOD);
        if !*closed {
            closed = bell.wake.wait_timeout(closed, sleep).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

/// One process's wait, from parking until it is dropped (woken for good).
pub(crate) struct IdleWait {
    shard: Arc<Shard>,
    delay: Duration,
    since: Instant,
    /// Its slot in `shard` while registered.
    slot: Option<usize>,
}

impl IdleWait {
    pub(crate) fn new(watch: &IdleWatch, _pid: u64) -> Self {
        Self { shard: watch.shard(), delay: watch.shared.delay, since: Instant::now(), slot: None }
    }

    /// Ready once the process has been parked for the watch's delay.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.since.elapsed() >= self.delay {
            self.unregister();
            return Poll::Ready(());
        }
        let first = {
            let mut slots = lock(&self.shard.slots);
            match self.slot {
                Some(slot) => {
                    if let Some(Some((_, waker))) = slots.waits.get_mut(slot) {
                        if !waker.will_wake(cx.waker()) {
                            *waker = cx.waker().clone();
                        }
                    }
                    false
                }
                None => {
                    let entry = Some((self.since, cx.waker().clone()));
                    let slot = match slots.free.pop() {
                        Some(slot) => {
                            slots.waits[slot] = entry;
                            slot
                        }
                        None => {
                            slots.waits.push(entry);
                            slots.waits.len() - 1
                        }
                    };
                    slots.used += 1;
                    self.slot = Some(slot);
                    true
                }
            }
        };
        if first {
            // Only the first process to park after a quiet spell costs a
            // wake-up (see `watcher` for the other half of this handshake).
            std::sync::atomic::fence(Ordering::SeqCst);
            let bell = &self.shard.bell;
            if bell.asleep.load(Ordering::SeqCst) {
                let _closed = lock(&bell.closed);
                bell.wake.notify_one();
            }
        }
        Poll::Pending
    }

    fn unregister(&mut self) {
        if let Some(slot) = self.slot.take() {
            let mut slots = lock(&self.shard.slots);
            if let Some(entry) = slots.waits.get_mut(slot) {
                *entry = None;
                slots.free.push(slot);
                slots.used -= 1;
            }
        }
    }
}

impl Drop for IdleWait {
    fn drop(&mut self) {
        self.unregister();
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

    fn parked(watch: &IdleWatch) -> usize {
        lock(&watch.shared.shards).iter().map(|s| lock(&s.slots).used).sum()
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
        let mut wait = IdleWait::new(&watch, 7);
        assert!(wait.poll(&mut cx).is_pending());
        let start = Instant::now();
        wait_for(|| count.0.load(Ordering::SeqCst) > 0);
        assert!(count.0.load(Ordering::SeqCst) >= 1, "never woken");
        assert!(start.elapsed() >= Duration::from_millis(100), "woken too early");
        assert!(wait.poll(&mut cx).is_ready());
        // A finished or dropped wait leaves nothing behind.
        drop(wait);
        let short = IdleWait::new(&watch, 8);
        drop(short);
        assert_eq!(parked(&watch), 0);
    }

    #[test]
    fn an_idle_watch_does_not_tick() {
        let watch = IdleWatch::start(Duration::from_millis(50)).unwrap();
        // Nothing parked: the watcher goes to sleep without a round.
        wait_for(|| watch.shared.bell.asleep.load(Ordering::SeqCst));
        assert!(watch.shared.bell.asleep.load(Ordering::SeqCst));
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(watch.shared.rounds.load(Ordering::Relaxed), 0);
        // One process parks and is woken; then the watcher sleeps again.
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut wait = IdleWait::new(&watch, 1);
        assert!(wait.poll(&mut cx).is_pending());
        wait_for(|| count.0.load(Ordering::SeqCst) > 0);
        assert!(wait.poll(&mut cx).is_ready());
        drop(wait);
        wait_for(|| watch.shared.bell.asleep.load(Ordering::SeqCst));
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
