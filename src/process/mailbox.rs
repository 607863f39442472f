//! The local mailbox with selective receive.

use crate::message::Message;
use std::collections::VecDeque;

/// Messages delivered to a process, in arrival order.
#[derive(Debug, Default)]
pub(crate) struct Mailbox {
    queue: VecDeque<Message>,
}

impl Mailbox {
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
        self.queue.remove(index)
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::DataMessage;

    fn data(tag: i64) -> Message {
        Message::Data(DataMessage::new(tag, 0))
    }

    #[test]
    fn selective_receive_keeps_order() {
        let mut mb = Mailbox::default();
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
        let mut mb = Mailbox::default();
        mb.push(data(5));
        mb.push(data(6));
        mb.push(data(5));
        assert!(mb.take_matching_from(&[5], 3).is_none());
        assert_eq!(mb.take_matching_from(&[5], 1).unwrap().tag(), 5);
        assert_eq!(mb.len(), 2);
        assert_eq!(mb.take_matching_from(&[], 1).unwrap().tag(), 6);
    }
}
