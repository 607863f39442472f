//! The shared, addressable side of a process: its signal queue.

use super::Exit;
use crate::protocol::Message;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// A signal to a process. Signals are queued in order and handled at the
/// process's next suspension point (host call or fuel slice boundary).
#[derive(Debug)]
pub(crate) enum Signal {
    /// Deliver a message to the mailbox.
    Message(Message),
    /// Stop the process as failed.
    Kill,
    /// Another process linked to this one with `tag`.
    Link { from: ProcessHandle, tag: i64 },
    /// Remove the link to `from`.
    Unlink { from: u64 },
    /// A linked process ended.
    LinkDied { from: u64, tag: i64, failed: bool },
    /// `from` wants a `ProcessDied` message when this process ends.
    Monitor { from: ProcessHandle },
    /// `from` no longer monitors this process.
    StopMonitoring { from: u64 },
    /// A send found the mailbox over its limit: stop the process as failed.
    MailboxOverflow(super::mailbox::Overflow),
}

/// A cheap, cloneable reference to a process, used to send it signals.
#[derive(Clone)]
pub struct ProcessHandle(Arc<Inner>);

struct Inner {
    id: u64,
    queue: Mutex<Queue>,
    mailbox: super::mailbox::MailboxBudget,
}

#[derive(Default)]
struct Queue {
    signals: VecDeque<Signal>,
    waker: Option<Waker>,
    /// Set once the process ended; signals are then answered or dropped.
    exit: Option<Exit>,
}

impl std::fmt::Debug for ProcessHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Process({})", self.0.id)
    }
}

impl ProcessHandle {
    pub(crate) fn new(id: u64) -> Self {
        Self(Arc::new(Inner {
            id,
            queue: Mutex::new(Queue::default()),
            mailbox: Default::default(),
        }))
    }

    /// The process ID (unique within its environment).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// Delivers a message; dropped silently if the process has ended. A
    /// message over the mailbox limit is dropped and the process killed
    /// (see `process::mailbox`).
    pub fn send(&self, message: Message) {
        use super::mailbox::Admission;
        self.signal(match self.0.mailbox.admit(message) {
            Admission::Deliver(message) => Signal::Message(message),
            Admission::Overflow(overflow) => Signal::MailboxOverflow(overflow),
            Admission::Drop => return,
        });
    }

    /// The budget that limits this process's mailbox.
    pub(crate) fn mailbox_budget(&self) -> &super::mailbox::MailboxBudget {
        &self.0.mailbox
    }

    /// Asks the process to stop (as failed) at its next suspension point.
    pub fn kill(&self) {
        self.signal(Signal::Kill);
    }

    /// Queues a signal and wakes the process. Signals to an ended process
    /// that expect an answer (link, monitor) are answered right away.
    /// Returns whether the process was still running to take the signal.
    pub(crate) fn signal(&self, signal: Signal) -> bool {
        let mut queue = self.queue();
        if let Some(exit) = &queue.exit {
            let failed = exit.is_failure();
            drop(queue);
            answer_after_death(self.id(), signal, failed, false);
            return false;
        }
        queue.signals.push_back(signal);
        let waker = queue.waker.take();
        drop(queue);
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    /// The signal queue. Every update of it is a single step, so one that a
    /// panic interrupted elsewhere left nothing half-done.
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.0.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes all queued signals, or registers `cx` to be woken by the next one.
    pub(crate) fn poll_signals(&self, cx: &mut Context<'_>) -> Poll<VecDeque<Signal>> {
        let mut queue = self.queue();
        if queue.signals.is_empty() {
            match &queue.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => queue.waker = Some(cx.waker().clone()),
            }
            Poll::Pending
        } else {
            Poll::Ready(std::mem::take(&mut queue.signals))
        }
    }

    /// Takes all queued signals without waiting.
    pub(crate) fn take_signals(&self) -> VecDeque<Signal> {
        std::mem::take(&mut self.queue().signals)
    }

    /// Marks the process as ended and answers the signals it never handled.
    pub(crate) fn close(&self, exit: &Exit) {
        let pending = {
            let mut queue = self.queue();
            queue.exit = Some(exit.clone());
            queue.waker = None;
            std::mem::take(&mut queue.signals)
        };
        for signal in pending {
            answer_after_death(self.id(), signal, exit.is_failure(), true);
        }
    }
}

/// What a dead process owes the sender of a late signal: a link gets a link
/// death (Erlang's `noproc`), a monitor registered while the process was still
/// alive gets its `ProcessDied`. Everything else is dropped.
fn answer_after_death(id: u64, signal: Signal, failed: bool, was_queued: bool) {
    match signal {
        Signal::Link { from, tag } => {
            // Linking to a process that is gone counts as a failure of the link.
            let failed = failed || !was_queued;
            from.signal(Signal::LinkDied { from: id, tag, failed });
        }
        Signal::Monitor { from } if was_queued => {
            from.send(Message::ProcessDied { process_id: id });
        }
        _ => {}
    }
}
