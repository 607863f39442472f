//! The local mailbox with selective receive, and the limit on its size.
//!
//! # Mailbox limit
//!
//! Messages wait in the receiver's signal queue and then its mailbox until it
//! receives them, in host memory outside its `max_memory`. A receiver that
//! falls behind for good would otherwise let its senders grow the runtime
//! without bound. Each process therefore has a mailbox budget
//! (`max_mailbox_size` in its config, in bytes): every data message waiting
//! for it is charged its buffer and resource slots plus a fixed overhead (`message::MESSAGE_OVERHEAD`),
//! from the moment it is sent until it is received.
//!
//! A send that would take the receiver over its budget does not block and
//! does not fail: the message is dropped and the receiver is killed, once,
//! with the reason "mailbox overflow" (its links and monitors are told, a
//! supervisor can restart it). Every later message to it is dropped. This is
//! Erlang's `max_heap_size` with `kill => true`, applied to the queue:
//! senders keep Erlang's semantics (a send never waits and never fails), and
//! nothing can deadlock. Suspending the sender instead (back-pressure) would
//! deadlock two processes that fill each other's mailbox, or a process that
//! sends to itself, and would let one slow receiver stall every sender of
//! the system. Flooding a process to kill it grants nothing new: any process
//! that knows a PID may already `kill` it.
//!
//! The budget bounds the receiver's queues to about `max_mailbox_size` of
//! host memory, plus what senders on other threads charge at the same moment.
//!
//! Signal messages (link and monitor notices) are not charged: there is at
//! most one per link or monitor the process holds.

use super::ProcessHandle;
use crate::protocol::Message;
#[cfg(test)]
use super::message::MESSAGE_OVERHEAD;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// The bytes charged to a receiver's mailbox budget, shared by all senders.
#[derive(Debug)]
pub(crate) struct MailboxBudget {
    /// Charged for messages sent to the process and not yet received.
    used: AtomicU64,
    /// The process's `max_mailbox_size`; unlimited until it is spawned.
    limit: AtomicU64,
    /// Set by the first send over the limit: the process is being killed
    /// and later messages are dropped.
    overflowed: AtomicBool,
    /// Messages dropped because they did not fit (read by native mailboxes).
    dropped: AtomicU64,
}

impl Default for MailboxBudget {
    fn default() -> Self {
        Self {
            used: AtomicU64::new(0),
            limit: AtomicU64::new(u64::MAX),
            overflowed: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        }
    }
}

/// What becomes of a message sent to a process.
pub(crate) enum Admission {
    /// Within the budget (charged): queue it.
    Deliver(Message),
    /// Over the budget for the first time: drop it and kill the receiver.
    Overflow(Overflow),
    /// The receiver already overflowed: drop it.
    Drop,
}

/// A mailbox over its limit: what the receiver is killed with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Overflow {
    /// What the waiting messages would have taken with the dropped one.
    pub(crate) wanted: u64,
    /// The receiver's `max_mailbox_size`.
    pub(crate) limit: u64,
}

impl std::fmt::Display for Overflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "mailbox overflow: undelivered messages would take {} bytes, over its max_mailbox_size of {} bytes",
            self.wanted, self.limit
        )
    }
}

impl MailboxBudget {
    /// Charges `message` to the budget, or says why it cannot be queued.
    pub(crate) fn admit(&self, message: Message) -> Admission {
        let cost = message.cost();
        if cost == 0 {
            return Admission::Deliver(message);
        }
        if self.overflowed.load(Relaxed) {
            self.dropped.fetch_add(1, Relaxed);
            return Admission::Drop;
        }
        // Senders race only with each other's charges, which each undo if
        // they do not fit: the total never stays above the limit.
        let wanted = self.used.fetch_add(cost, Relaxed).saturating_add(cost);
        let limit = self.limit.load(Relaxed);
        if wanted <= limit {
            return Admission::Deliver(message);
        }
        self.used.fetch_sub(cost, Relaxed);
        self.dropped.fetch_add(1, Relaxed);
        if self.overflowed.swap(true, Relaxed) {
            Admission::Drop
        } else {
            Admission::Overflow(Overflow { wanted, limit })
        }
    }

    fn release(&self, cost: u64) {
        if cost != 0 {
            self.used.fetch_sub(cost, Relaxed);
        }
    }

    /// Bytes charged right now.
    #[cfg(test)]
    pub(crate) fn used(&self) -> u64 {
        self.used.load(Relaxed)
    }

    /// For a native mailbox of the embedding API, which no Wasm drains and
    /// which is never killed: sets its limit, gives back the charge of a
    /// message it took, and accepts messages again after an overflow.
    pub(crate) fn set_limit(&self, limit: u64) {
        self.limit.store(limit, Relaxed);
    }

    /// See [`MailboxBudget::set_limit`].
    pub(crate) fn give_back(&self, cost: u64) {
        self.release(cost);
    }

    /// See [`MailboxBudget::set_limit`].
    pub(crate) fn reopen(&self) {
        self.overflowed.store(false, Relaxed);
    }

    /// Messages dropped so far because they did not fit.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Relaxed)
    }
}

/// Messages delivered to a process, in arrival order.
#[derive(Debug)]
pub(crate) struct Mailbox {
    queue: VecDeque<Message>,
    /// Whose budget taken messages are released from.
    owner: ProcessHandle,
}

impl Mailbox {
    /// The mailbox of `owner`, limited to `max_mailbox_size` bytes.
    pub(crate) fn new(owner: &ProcessHandle, max_mailbox_size: u64) -> Self {
        owner.mailbox_budget().limit.store(max_mailbox_size, Relaxed);
        Self { queue: VecDeque::new(), owner: owner.clone() }
    }

    /// Queues a message that was charged when sent (or costs nothing).
    pub(crate) fn push(&mut self, message: Message) {
        self.queue.push_back(message);
    }

    /// Removes the first message from position `skip` on whose tag is in
    /// `tags` (any message when `tags` is empty). Untagged messages never
    /// match a filter. A waiting receive passes the messages it already
    /// rejected as `skip`, which keeps a flooded mailbox linear.
    pub(crate) fn take_matching_from(&mut self, tags: &[i64], skip: usize) -> Option<Message> {
        let index = if tags.is_empty() {
            skip
        } else {
            skip + self.queue.iter().skip(skip).position(|m| {
                let tag = m.tag();
                tag != 0 && tags.contains(&tag)
            })?
        };
        let message = self.queue.remove(index)?;
        self.owner.mailbox_budget().release(message.cost());
        Some(message)
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::DataMessage;

    fn data(tag: i64) -> Message {
        Message::Data(DataMessage::new(tag, 0))
    }

    fn mailbox() -> Mailbox {
        Mailbox::new(&ProcessHandle::new(1), u64::MAX)
    }

    #[test]
    fn selective_receive_keeps_order() {
        let mut mb = mailbox();
        mb.push(data(0));
        mb.push(data(5));
        mb.push(data(7));
        mb.push(data(5));
        assert!(mb.take_matching_from(&[0], 0).is_none(), "tag 0 never matches a filter");
        assert_eq!(mb.take_matching_from(&[7, 5], 0).unwrap().tag(), 5);
        assert_eq!(mb.take_matching_from(&[7], 0).unwrap().tag(), 7);
        assert_eq!(mb.take_matching_from(&[], 0).unwrap().tag(), 0);
        assert_eq!(mb.take_matching_from(&[], 0).unwrap().tag(), 5);
        assert_eq!(mb.len(), 0);
    }

    #[test]
    fn skipped_messages_are_not_examined() {
        let mut mb = mailbox();
        mb.push(data(5));
        mb.push(data(6));
        mb.push(data(5));
        assert!(mb.take_matching_from(&[5], 3).is_none());
        assert_eq!(mb.take_matching_from(&[5], 1).unwrap().tag(), 5);
        assert_eq!(mb.len(), 2);
        assert_eq!(mb.take_matching_from(&[], 1).unwrap().tag(), 6);
    }

    fn sized(bytes: usize) -> Message {
        let mut d = DataMessage::new(0, 0);
        d.buffer = vec![0; bytes];
        Message::Data(d)
    }

    #[test]
    fn budget_charges_until_received_and_overflows_once() {
        let owner = ProcessHandle::new(1);
        let limit = 3 * (100 + MESSAGE_OVERHEAD);
        let mut mb = Mailbox::new(&owner, limit);
        let budget = owner.mailbox_budget();
        for _ in 0..3 {
            match budget.admit(sized(100)) {
                Admission::Deliver(m) => mb.push(m),
                _ => panic!("within the limit"),
            }
        }
        assert_eq!(budget.used(), limit);
        // Receiving gives room back.
        mb.take_matching_from(&[], 0).unwrap();
        assert_eq!(budget.used(), limit - 100 - MESSAGE_OVERHEAD);
        assert!(matches!(budget.admit(sized(100)), Admission::Deliver(_)));
        // (That message was charged but not queued: it stays charged.)
        match budget.admit(sized(1)) {
            Admission::Overflow(o) => {
                assert_eq!(o.limit, limit);
                assert_eq!(o.wanted, limit + 1 + MESSAGE_OVERHEAD);
                assert!(o.to_string().starts_with("mailbox overflow"));
            }
            _ => panic!("over the limit"),
        }
        assert_eq!(budget.used(), limit, "a refused message is not charged");
        // Once overflowed, everything is dropped, even what would fit.
        mb.take_matching_from(&[], 0).unwrap();
        assert!(matches!(budget.admit(sized(1)), Admission::Drop));
        // Signal messages cost nothing and always get through.
        assert!(matches!(budget.admit(Message::ProcessDied { process_id: 2 }), Admission::Deliver(_)));
    }
}
