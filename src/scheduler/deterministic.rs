//! The deterministic scheduler: one thread, a seeded choice of which ready
//! task runs next, seeded slice lengths and virtual time.
//!
//! Every decision depends only on the seed and on what the tasks do (fuel is
//! exact), never on wall-clock time or thread timing. When no task is ready,
//! virtual time jumps to the earliest timer deadline.

use super::{BoxFuture, Scheduler};
use async_task::Runnable;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// Wall-clock time at virtual time zero: 2024-01-01T00:00:00Z.
const EPOCH: Duration = Duration::from_secs(1_704_067_200);

/// Virtual nanoseconds per unit of fuel (about what plain integer code costs
/// on the interpreter).
const NANOS_PER_FUEL: u64 = 1;

/// A single-threaded scheduler whose every choice follows from a seed.
pub struct Deterministic {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    /// Record/replay: consulted at every step (see [`super::Hook`]).
    hook: Option<Arc<dyn super::Hook>>,
    /// Waits on sockets in progress (see `Scheduler::external_waits`).
    external: Arc<AtomicUsize>,
    /// Wakes the driving thread when a task is woken from another thread
    /// (blocking-pool work, sockets).
    unparker: parking::Unparker,
    parker: Mutex<Option<parking::Parker>>,
}

struct State {
    ready: Vec<Runnable>,
    scheduling: fastrand::Rng,
    random: fastrand::Rng,
    now: Duration,
    timers: BTreeMap<(Duration, u64), Waker>,
    next_timer: u64,
    /// Steps that made progress so far (tasks run, timers fired, time jumps).
    steps: u64,
}

impl Deterministic {
    /// A scheduler whose choices all derive from `seed`.
    pub fn new(seed: u64) -> Self {
        Self::build(seed, None)
    }

    /// A scheduler that also consults `hook` at every step (record/replay).
    pub(crate) fn with_hook(seed: u64, hook: Arc<dyn super::Hook>) -> Self {
        Self::build(seed, Some(hook))
    }

    fn build(seed: u64, hook: Option<Arc<dyn super::Hook>>) -> Self {
        let (parker, unparker) = parking::pair();
        if let Some(hook) = &hook {
            hook.attach(unparker.clone());
        }
        Self {
            inner: Arc::new(Inner {
                hook,
                state: Mutex::new(State {
                    ready: Vec::new(),
                    scheduling: fastrand::Rng::with_seed(seed),
                    // A separate stream, so guest randomness does not shift
                    // scheduling decisions.
                    random: fastrand::Rng::with_seed(seed ^ 0x9E37_79B9_7F4A_7C15),
                    now: Duration::ZERO,
                    timers: BTreeMap::new(),
                    next_timer: 0,
                    steps: 0,
                }),
                external: Arc::new(AtomicUsize::new(0)),
                unparker,
                parker: Mutex::new(Some(parker)),
            }),
        }
    }
}

impl Inner {
    fn schedule(&self, runnable: Runnable) {
        self.state.lock().unwrap().ready.push(runnable);
        self.unparker.unpark();
    }

    /// Wakes every timer whose deadline has passed.
    fn wake_due(&self, state: &mut std::sync::MutexGuard<'_, State>) -> Vec<Waker> {
        let now = state.now;
        let later = state.timers.split_off(&(now, u64::MAX));
        std::mem::replace(&mut state.timers, later).into_values().collect()
    }

    /// Runs the next ready task (chosen by the seed), or advances virtual
    /// time to the next deadline.
    fn step(&self) -> Step {
        if let Some(hook) = &self.hook {
            // Answers from the outside world enter the schedule only here.
            let step = self.state.lock().unwrap().steps;
            let waited = hook.step_start(step);
            if !waited.is_zero() {
                let mut state = self.state.lock().unwrap();
                state.now = state.now.saturating_add(waited);
            }
        }
        let mut state = self.state.lock().unwrap();
        let due = self.wake_due(&mut state);
        if !due.is_empty() {
            state.steps += 1;
            drop(state);
            due.into_iter().for_each(Waker::wake);
            return Step::Progress;
        }
        if !state.ready.is_empty() {
            let len = state.ready.len();
            let index = state.scheduling.usize(..len);
            let runnable = state.ready.swap_remove(index);
            state.steps += 1;
            drop(state);
            runnable.run();
            return Step::Progress;
        }
        let next = state.timers.first_key_value().map(|(&(deadline, _), _)| deadline);
        match next {
            // While a socket may still answer, time passes as it really does.
            Some(deadline) if self.external.load(Ordering::Acquire) > 0 => {
                Step::Wait(Some(deadline.saturating_sub(state.now)))
            }
            Some(deadline) => {
                state.now = state.now.max(deadline);
                state.steps += 1;
                Step::Progress
            }
            None => Step::Wait(None),
        }
    }
}

/// What the driving loop should do next.
enum Step {
    Progress,
    /// Nothing to run: wait for an outside event, at most this long (real time).
    Wait(Option<Duration>),
}

struct MainWaker {
    woken: AtomicBool,
    unparker: parking::Unparker,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.unparker.unpark();
    }
}

impl Scheduler for Deterministic {
    fn spawn(&self, task: BoxFuture<()>) {
        let inner = self.inner.clone();
        let (runnable, task) = async_task::spawn(task, move |r| inner.schedule(r));
        runnable.schedule();
        task.detach();
    }

    fn now(&self) -> Duration {
        self.inner.state.lock().unwrap().now
    }

    fn sleep_until(&self, deadline: Duration) -> BoxFuture<()> {
        Box::pin(VirtualSleep { inner: self.inner.clone(), deadline, key: None })
    }

    fn wall_clock(&self) -> Duration {
        // Guests can push virtual time to `Duration::MAX` (sleeping for
        // `u64::MAX` ms, repeatedly): saturate rather than overflow.
        EPOCH.saturating_add(self.now())
    }

    fn fill_random(&self, buf: &mut [u8]) -> std::io::Result<()> {
        self.inner.state.lock().unwrap().random.fill(buf);
        Ok(())
    }

    fn next_slice(&self, base: u64) -> u64 {
        // Vary slice lengths so different seeds preempt at different points.
        let base = base.max(2);
        self.inner.state.lock().unwrap().scheduling.u64(base / 2..=base.saturating_add(base / 2))
    }

    fn inline_blocking(&self) -> bool {
        true
    }

    fn steps(&self) -> u64 {
        self.inner.state.lock().unwrap().steps
    }

    fn external_waits(&self) -> Option<Arc<AtomicUsize>> {
        Some(self.inner.external.clone())
    }

    fn fuel_consumed(&self, fuel: u64) {
        // Time passes with work, so a process that never blocks cannot
        // freeze the clock for everyone else.
        let mut state = self.inner.state.lock().unwrap();
        state.now = state.now.saturating_add(Duration::from_nanos(fuel.saturating_mul(NANOS_PER_FUEL)));
    }

    fn block_on(&self, main: BoxFuture<i32>) -> i32 {
        // Lent for this call and handed back when it returns, so that the
        // scheduler can be driven again later (an embedding app's waits).
        struct Lent<'a>(&'a Mutex<Option<parking::Parker>>, Option<parking::Parker>);
        impl Drop for Lent<'_> {
            fn drop(&mut self) {
                *self.0.lock().unwrap_or_else(|e| e.into_inner()) = self.1.take();
            }
        }
        let lent = Lent(&self.inner.parker, self.inner.parker.lock().unwrap().take());
        let parker = lent.1.as_ref().expect("one block_on at a time");
        let main_waker = Arc::new(MainWaker {
            woken: AtomicBool::new(true),
            unparker: self.inner.unparker.clone(),
        });
        let waker = Waker::from(main_waker.clone());
        let mut main = main;
        let hook = self.inner.hook.clone();
        loop {
            if hook.as_ref().is_some_and(|hook| hook.stopped()) {
                return crate::replay::DIVERGED;
            }
            if main_waker.woken.swap(false, Ordering::AcqRel) {
                if let Poll::Ready(status) = main.as_mut().poll(&mut Context::from_waker(&waker)) {
                    return status;
                }
                continue;
            }
            let step = self.inner.step();
            if let (Step::Wait(_), Some(hook)) = (&step, &hook) {
                if !hook.idle(self.steps()) {
                    continue; // stopped: returns at the top of the loop
                }
            }
            match step {
                Step::Progress => {}
                Step::Wait(None) => parker.park(),
                Step::Wait(Some(limit)) => {
                    let started = std::time::Instant::now();
                    parker.park_timeout(limit);
                    let elapsed = started.elapsed().min(limit);
                    let steps = {
                        let mut state = self.inner.state.lock().unwrap();
                        state.now = state.now.saturating_add(elapsed);
                        state.steps
                    };
                    if let Some(hook) = &hook {
                        hook.waited(steps, elapsed);
                    }
                }
            }
        }
    }
}

/// A sleep on the virtual clock.
struct VirtualSleep {
    inner: Arc<Inner>,
    deadline: Duration,
    key: Option<(Duration, u64)>,
}

impl Future for VirtualSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let inner = self.inner.clone();
        let mut state = inner.state.lock().unwrap();
        if state.now >= self.deadline {
            if let Some(key) = self.key.take() {
                state.timers.remove(&key);
            }
            return Poll::Ready(());
        }
        let key = match self.key {
            Some(key) => key,
            None => {
                state.next_timer += 1;
                let key = (self.deadline, state.next_timer);
                self.key = Some(key);
                key
            }
        };
        state.timers.insert(key, cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for VirtualSleep {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.inner.state.lock().unwrap().timers.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(seed: u64) -> Vec<u32> {
        let scheduler = Deterministic::new(seed);
        let log = Arc::new(Mutex::new(Vec::new()));
        for task in 0..4u32 {
            let log = log.clone();
            let sleep = scheduler.sleep_until(Duration::from_millis(u64::from(task % 2) * 5));
            scheduler.spawn(Box::pin(async move {
                log.lock().unwrap().push(task);
                sleep.await;
                futures_lite::future::yield_now().await;
                log.lock().unwrap().push(task + 10);
            }));
        }
        let sleep = scheduler.sleep_until(Duration::from_secs(1));
        assert_eq!(scheduler.block_on(Box::pin(async move {
            sleep.await;
            7
        })), 7);
        assert_eq!(scheduler.now(), Duration::from_secs(1));
        let log = log.lock().unwrap().clone();
        log
    }

    /// Sleeping `u64::MAX` ms over and over drives virtual time to its
    /// end, where it stays: reading the clocks and charging fuel saturate
    /// instead of panicking.
    #[test]
    fn virtual_time_saturates() {
        let scheduler = Arc::new(Deterministic::new(1));
        let inner = scheduler.clone();
        let status = scheduler.block_on(Box::pin(async move {
            for _ in 0..1_100 {
                super::super::sleep(&*inner, Duration::from_millis(u64::MAX)).await;
            }
            inner.fuel_consumed(u64::MAX);
            (inner.now() == Duration::MAX && inner.wall_clock() == Duration::MAX) as i32
        }));
        assert_eq!(status, 1);
    }

    #[test]
    fn same_seed_same_schedule() {
        assert_eq!(trace(42), trace(42));
        let distinct: std::collections::HashSet<_> = (0..20).map(trace).collect();
        assert!(distinct.len() > 1, "different seeds should give different interleavings");
    }
}
