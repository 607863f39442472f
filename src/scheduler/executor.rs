//! The work-stealing executor behind [`Threaded`](super::Threaded).
//!
//! Why not `async-executor`: it puts every woken task in one global queue
//! and wakes a sleeping worker thread each time a task starts, so two
//! processes passing a message back and forth hop between threads on every
//! send (a futex wake and two context switches each time: a round trip
//! cost 2.4-2.9 µs on two threads against 1.6 µs on one). Here a task woken
//! on a worker thread joins that worker's own queue, and a sleeping worker
//! is woken only when there is more work than the current one is about to
//! take: a sender and its receiver stay on one thread while the other cores
//! take whatever piles up.
//!
//! Each worker runs inside `async_io::block_on`, so an idle worker drives
//! the I/O reactor and timers while it waits for tasks.

use async_task::Runnable;
use std::cell::Cell;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

/// Tasks a worker runs before it lets `block_on` poll the reactor.
const BUDGET: u32 = 64;
/// Every this many tasks, a worker looks at the global queue first (fairness).
const GLOBAL_EVERY: u32 = 61;

/// How long a worker that ran out of work keeps polling the reactor and
/// the queues before it sleeps (`LUNATIC_SPIN_US` overrides; 0 turns it
/// off; off by default on iOS and Android).
///
/// Why: a sleeping thread takes ~20 µs to wake on a virtual machine (a UDP
/// ping-pong between two processes on loopback: 47 µs round trip with
/// blocking reads, 7 µs with polling ones), so a request answered within
/// this window is picked up without that cost. An idle runtime is not
/// affected: it polls only for this long after its last task.
const SPIN: std::time::Duration = std::time::Duration::from_micros(100);

/// The spin a worker starts with: [`SPIN`], or none on phones, where a
/// spinning core costs battery for no one waiting on a network round trip.
fn default_spin() -> std::time::Duration {
    match cfg!(any(target_os = "ios", target_os = "android")) {
        true => std::time::Duration::ZERO,
        false => SPIN,
    }
}

/// The spin `LUNATIC_SPIN_US` asks for, if set: it overrides every default.
fn spin_override() -> Option<std::time::Duration> {
    std::env::var("LUNATIC_SPIN_US").ok().and_then(|v| v.parse().ok()).map(std::time::Duration::from_micros)
}

/// A handle to the executor; dropping it stops the workers.
pub(super) struct Executor {
    shared: Arc<Shared>,
}

struct Shared {
    /// Tasks woken outside the workers (reactor thread, blocking pool, main).
    global: Mutex<VecDeque<Runnable>>,
    workers: Vec<Worker>,
    /// Runnable tasks queued anywhere.
    queued: AtomicUsize,
    stop: AtomicBool,
    /// How long a worker that ran out of work polls before it sleeps.
    spin: std::time::Duration,
    /// The longer spin of [`Executor::prefer_spin`], in microseconds (0:
    /// none): used while work keeps coming back within it.
    long_spin_us: AtomicU64,
    /// Whether the last idle spell to end (any worker's) ended with work
    /// within the long spin: then every worker spins long.
    dense: AtomicBool,
}

struct Worker {
    queue: Mutex<VecDeque<Runnable>>,
    /// Set (with `waker`) while the worker waits for work.
    sleeping: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

thread_local! {
    /// (executor, worker index) of the current thread, if it is a worker.
    static CURRENT: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Tasks run outside every lock, so a poisoned lock holds consistent data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Executor {
    /// Starts `threads` worker threads (at least one).
    pub(super) fn new(threads: usize) -> std::io::Result<Self> {
        let workers = (0..threads.max(1))
            .map(|_| Worker {
                queue: Mutex::new(VecDeque::new()),
                sleeping: AtomicBool::new(false),
                waker: Mutex::new(None),
            })
            .collect();
        let shared = Arc::new(Shared {
            global: Mutex::new(VecDeque::new()),
            workers,
            queued: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            spin: spin_override().unwrap_or_else(default_spin),
            long_spin_us: AtomicU64::new(0),
            dense: AtomicBool::new(false),
        });
        for index in 0..shared.workers.len() {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("lunatic-worker-{index}"))
                .spawn(move || shared.work(index))?;
        }
        Ok(Self { shared })
    }

    /// Starts a task.
    pub(super) fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        let shared = self.shared.clone();
        let (runnable, task) = async_task::spawn(future, move |runnable| shared.schedule(runnable));
        task.detach();
        runnable.schedule();
    }

    /// Whether any task is waiting to run.
    pub(super) fn has_queued(&self) -> bool {
        self.shared.queued.load(SeqCst) > 0
    }

    /// Tasks waiting to run.
    pub(super) fn queued(&self) -> usize {
        self.shared.queued.load(SeqCst)
    }

    /// Lets workers that ran out of work keep polling for up to `spin`
    /// before they sleep, as long as the last idle spell to end found new
    /// work within that time (answers coming back at a steady pace); once
    /// one waited longer, they spin the usual time again, so sparse work (a
    /// heartbeat now and then) costs little more CPU than before.
    /// `LUNATIC_SPIN_US`, if set, fixes every spin instead. Ignored on
    /// phones, where workers do not spin by default (see [`default_spin`]).
    pub(super) fn prefer_spin(&self, spin: std::time::Duration) {
        if spin_override().is_none() && !default_spin().is_zero() {
            self.shared.long_spin_us.store(duration_us(spin), Relaxed);
        }
    }
}

/// Whole microseconds of `d`, saturated.
fn duration_us(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.shared.stop.store(true, SeqCst);
        for worker in &self.shared.workers {
            if let Some(waker) = lock(&worker.waker).take() {
                waker.wake();
            }
        }
        // Queued tasks hold the executor through their schedule function:
        // drop them (cancelling them) so that it can be freed.
        let mut dropped = std::mem::take(&mut *lock(&self.shared.global));
        for worker in &self.shared.workers {
            dropped.extend(std::mem::take(&mut *lock(&worker.queue)));
        }
        drop(dropped);
    }
}

impl Shared {
    fn id(&self) -> usize {
        self as *const Shared as usize
    }

    fn schedule(&self, runnable: Runnable) {
        self.queued.fetch_add(1, SeqCst);
        match CURRENT.with(Cell::get) {
            Some((id, index)) if id == self.id() => {
                let backlog = {
                    let mut queue = lock(&self.workers[index].queue);
                    queue.push_back(runnable);
                    queue.len()
                };
                // Woken by the reactor while this worker waited in `block_on`.
                self.wake_worker(index);
                // This worker takes the task once its current one yields;
                // another worker is only worth waking for a second one.
                if backlog > 1 {
                    self.wake_one_sleeper();
                }
            }
            _ => {
                lock(&self.global).push_back(runnable);
                self.wake_one_sleeper();
            }
        }
    }

    /// Wakes worker `index` if it is sleeping; true if it was.
    fn wake_worker(&self, index: usize) -> bool {
        let worker = &self.workers[index];
        if worker.sleeping.swap(false, SeqCst) {
            if let Some(waker) = lock(&worker.waker).take() {
                waker.wake();
            }
            return true;
        }
        false
    }

    fn wake_one_sleeper(&self) {
        for index in 0..self.workers.len() {
            if self.wake_worker(index) {
                return;
            }
        }
    }

    /// The next task for worker `index`: its own queue, then the global
    /// queue, then half of another worker's queue.
    fn find(&self, index: usize, tick: u32) -> Option<Runnable> {
        if tick.is_multiple_of(GLOBAL_EVERY) {
            if let Some(r) = lock(&self.global).pop_front() {
                return Some(r);
            }
        }
        if let Some(r) = lock(&self.workers[index].queue).pop_front() {
            return Some(r);
        }
        {
            let mut global = lock(&self.global);
            if let Some(r) = global.pop_front() {
                // Take a share of the rest along, so others find work too.
                let take = global.len().div_ceil(self.workers.len()).min(32);
                if take > 0 {
                    let batch: Vec<_> = global.drain(..take).collect();
                    drop(global);
                    lock(&self.workers[index].queue).extend(batch);
                }
                return Some(r);
            }
        }
        let n = self.workers.len();
        for offset in 1..n {
            let victim = (index + offset) % n;
            let stolen: Vec<Runnable> = {
                let mut queue = lock(&self.workers[victim].queue);
                let half = queue.len().div_ceil(2);
                queue.drain(..half).collect()
            };
            let mut stolen = stolen.into_iter();
            if let Some(first) = stolen.next() {
                lock(&self.workers[index].queue).extend(stolen);
                return Some(first);
            }
        }
        None
    }

    /// Whether any queue (this worker's among them) holds a task.
    fn has_work(&self) -> bool {
        !lock(&self.global).is_empty() || self.workers.iter().any(|w| !lock(&w.queue).is_empty())
    }

    /// A worker thread's life.
    fn work(self: Arc<Self>, index: usize) {
        CURRENT.with(|c| c.set(Some((self.id(), index))));
        let mut tick = 0u32;
        // Whether a task ran since the worker last found nothing to do; when
        // the current idle spell began and how long it spins (the clock is
        // read at most twice per idle spell, never per task).
        let mut worked = false;
        let mut idle: Option<(std::time::Instant, std::time::Duration)> = None;
        async_io::block_on(std::future::poll_fn(|cx| {
            let mut budget = BUDGET;
            loop {
                if self.stop.load(SeqCst) {
                    return Poll::Ready(());
                }
                // `queued` counts a task before it is pushed and after it is
                // taken, so 0 means there is none: a spinning worker then
                // leaves the queues' locks to the others.
                let found = match self.queued.load(SeqCst) {
                    0 => None,
                    _ => self.find(index, tick),
                };
                if let Some(runnable) = found {
                    self.queued.fetch_sub(1, SeqCst);
                    tick = tick.wrapping_add(1);
                    // More queued than this worker is taking now: let an
                    // idle one help.
                    if self.queued.load(SeqCst) > 0 {
                        self.wake_one_sleeper();
                    }
                    if let Some((since, _)) = idle.take() {
                        let long = self.long_spin_us.load(Relaxed);
                        if long > 0 {
                            self.dense.store(duration_us(since.elapsed()) < long, Relaxed);
                        }
                    }
                    run(runnable);
                    worked = true;
                    budget -= 1;
                    if budget == 0 {
                        // Let block_on look at the reactor, then come back.
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    continue;
                }
                // Nothing to do right after work: poll the reactor without
                // blocking for a while (`block_on` does so when the future
                // woke itself) before going to sleep, see [`SPIN`].
                if std::mem::take(&mut worked) {
                    let long = self.long_spin_us.load(Relaxed);
                    let spin = match long > 0 && self.dense.load(Relaxed) {
                        true => std::time::Duration::from_micros(long),
                        false => self.spin,
                    };
                    // The spell's start is needed to spin, or to tell how
                    // soon work came (with a long spin preferred); else the
                    // clock is not read at all (no spin on phones).
                    idle = (!spin.is_zero() || long > 0).then(|| (std::time::Instant::now(), spin));
                }
                if let Some((since, spin)) = idle {
                    if since.elapsed() < spin {
                        std::hint::spin_loop();
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
                // Nothing to do: sleep until `schedule` wakes us. Checking
                // again after announcing it closes the race with a task
                // queued in between.
                let worker = &self.workers[index];
                *lock(&worker.waker) = Some(cx.waker().clone());
                worker.sleeping.store(true, SeqCst);
                if self.has_work() || self.stop.load(SeqCst) {
                    worker.sleeping.store(false, SeqCst);
                    continue;
                }
                return Poll::Pending;
            }
        }));
        CURRENT.with(|c| c.set(None));
    }
}

/// Runs a task; a panic in one (a runtime bug) is reported, not fatal to
/// the worker and every other process on it.
fn run(runnable: Runnable) {
    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runnable.run())) {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        log::error!(target: "lunatic::scheduler", "a task panicked: {what}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn runs_tasks_spawned_from_anywhere() {
        let executor = Executor::new(2).unwrap();
        let (tx, rx) = mpsc::channel();
        // From a non-worker thread, and from inside tasks (worker threads).
        for i in 0..100u32 {
            let tx = tx.clone();
            executor.spawn(async move {
                tx.send(i).unwrap();
            });
        }
        let mut got: Vec<u32> = (0..100).map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap()).collect();
        got.sort();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn wakes_from_other_threads_and_timers_are_not_lost() {
        let executor = Executor::new(2).unwrap();
        let (tx, rx) = mpsc::channel();
        for i in 0..200u64 {
            let tx = tx.clone();
            executor.spawn(async move {
                // Woken by the reactor (timer) and by a foreign thread (channel).
                async_io::Timer::after(Duration::from_micros(i % 7 * 100)).await;
                let (s, r) = async_channel_pair();
                std::thread::spawn(move || s.send(()).unwrap());
                r.await;
                tx.send(i).unwrap();
            });
        }
        for _ in 0..200 {
            rx.recv_timeout(Duration::from_secs(10)).expect("a wake-up was lost");
        }
    }

    #[test]
    fn ping_pong_between_tasks_completes_and_others_get_stolen() {
        let executor = Executor::new(2).unwrap();
        let (done_tx, done_rx) = mpsc::channel();
        // A chain of tasks each waking the next: sequential work stays local.
        let (first_s, mut prev_r) = async_channel_pair();
        for _ in 0..1000 {
            let (s, r) = async_channel_pair();
            let wait = std::mem::replace(&mut prev_r, r);
            executor.spawn(async move {
                wait.await;
                s.send(()).unwrap();
            });
        }
        let tx = done_tx.clone();
        executor.spawn(async move {
            prev_r.await;
            tx.send("chain").unwrap();
        });
        first_s.send(()).unwrap();
        // Meanwhile, CPU-bound tasks spread over both workers.
        let threads = Arc::new(Mutex::new(std::collections::HashSet::new()));
        for _ in 0..8 {
            let (tx, threads) = (done_tx.clone(), threads.clone());
            executor.spawn(async move {
                let start = std::time::Instant::now();
                while start.elapsed() < Duration::from_millis(20) {
                    std::hint::spin_loop();
                }
                threads.lock().unwrap().insert(std::thread::current().id());
                tx.send("spin").unwrap();
            });
        }
        let got: Vec<_> = (0..9).map(|_| done_rx.recv_timeout(Duration::from_secs(10)).unwrap()).collect();
        assert!(got.contains(&"chain"));
        assert_eq!(threads.lock().unwrap().len(), 2, "idle worker did not help");
    }

    /// A one-shot channel whose receiver is a future (test helper).
    fn async_channel_pair() -> (OneShotSender, OneShot) {
        let shared = Arc::new(Mutex::new((false, None::<Waker>)));
        (OneShotSender(shared.clone()), OneShot(shared))
    }

    struct OneShotSender(Arc<Mutex<(bool, Option<Waker>)>>);
    impl OneShotSender {
        fn send(self, _: ()) -> Result<(), ()> {
            let waker = {
                let mut s = self.0.lock().unwrap();
                s.0 = true;
                s.1.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
            Ok(())
        }
    }

    struct OneShot(Arc<Mutex<(bool, Option<Waker>)>>);
    impl Future for OneShot {
        type Output = ();
        fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
            let mut s = self.0.lock().unwrap();
            if s.0 {
                Poll::Ready(())
            } else {
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
