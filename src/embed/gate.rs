//! `pause()`/`resume()`: a scheduler that wraps another and holds every
//! process task at its next suspension point while paused.
//!
//! It sits at the task boundary, so no layer below knows about pausing: a
//! paused task that is polled (woken by a message, a timer, or its own
//! yield at the end of a fuel slice) parks on the gate instead of running,
//! and `resume` wakes each parked task once. Nothing ticks while paused.

use crate::scheduler::{BoxFuture, Scheduler};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

/// Whether tasks may run, and who waits for the answer to change.
#[derive(Default)]
pub(super) struct Gate {
    paused: AtomicBool,
    next_task: AtomicU64,
    /// Tasks held while paused, by task number (one waker each).
    parked: Mutex<HashMap<u64, Waker>>,
}

impl Gate {
    pub(super) fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
    }

    pub(super) fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
        let parked = std::mem::take(&mut *self.parked.lock().unwrap_or_else(|e| e.into_inner()));
        parked.into_values().for_each(Waker::wake);
    }

    pub(super) fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// `task`, held at the gate whenever it is polled while paused.
    fn wrap(self: &Arc<Self>, mut task: BoxFuture<()>) -> BoxFuture<()> {
        let gate = self.clone();
        let number = gate.next_task.fetch_add(1, Ordering::Relaxed);
        Box::pin(std::future::poll_fn(move |cx| {
            if gate.is_paused() {
                let mut parked = gate.parked.lock().unwrap_or_else(|e| e.into_inner());
                // Checked again under the lock: `resume` empties the map
                // after clearing the flag, so no wake-up is lost.
                if gate.is_paused() {
                    parked.insert(number, cx.waker().clone());
                    return Poll::Pending;
                }
            }
            task.as_mut().poll(cx)
        }))
    }
}

/// A scheduler whose tasks pass through a [`Gate`].
pub(super) struct Gated {
    pub(super) inner: Arc<dyn Scheduler>,
    pub(super) gate: Arc<Gate>,
}

impl Scheduler for Gated {
    fn spawn(&self, task: BoxFuture<()>) {
        self.inner.spawn(self.gate.wrap(task));
    }
    fn now(&self) -> Duration {
        self.inner.now()
    }
    fn sleep_until(&self, deadline: Duration) -> BoxFuture<()> {
        self.inner.sleep_until(deadline)
    }
    fn wall_clock(&self) -> Duration {
        self.inner.wall_clock()
    }
    fn fill_random(&self, buf: &mut [u8]) -> std::io::Result<()> {
        self.inner.fill_random(buf)
    }
    fn next_slice(&self, base: u64) -> u64 {
        self.inner.next_slice(base)
    }
    /// A running process yields at the end of its slice when paused, so
    /// that it parks at the gate.
    fn should_yield(&self) -> bool {
        self.gate.is_paused() || self.inner.should_yield()
    }
    fn external_waits(&self) -> Option<Arc<std::sync::atomic::AtomicUsize>> {
        self.inner.external_waits()
    }
    fn fuel_consumed(&self, fuel: u64) {
        self.inner.fuel_consumed(fuel)
    }
    fn queued(&self) -> usize {
        self.inner.queued()
    }
    fn inline_blocking(&self) -> bool {
        self.inner.inline_blocking()
    }
    fn steps(&self) -> u64 {
        self.inner.steps()
    }
    fn block_on(&self, main: BoxFuture<i32>) -> i32 {
        self.inner.block_on(main)
    }
}
