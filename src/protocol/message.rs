//! Messages: the only thing processes share.
//!
//! A message owns its bytes and any host resources attached to it, so it can
//! move to another process (and one day to another node) without references
//! back into the sender.

use crate::engine::ModuleHandle;

/// A message as seen by `lunatic::message::receive`.
#[derive(Debug)]
pub enum Message {
    /// Kind 0: bytes (plus resources) from a process or a timer.
    Data(DataMessage),
    /// Kind 1: a linked process failed; carries the link's tag (0 = none).
    LinkDied {
        /// The tag stored with the link.
        tag: i64,
    },
    /// Kind 2: a monitored process ended.
    ProcessDied {
        /// The ID of the process that ended.
        process_id: u64,
    },
}

impl Message {
    /// The kind number `receive` returns for this message.
    pub fn kind(&self) -> i32 {
        match self {
            Message::Data(_) => 0,
            Message::LinkDied { .. } => 1,
            Message::ProcessDied { .. } => 2,
        }
    }

    /// The tag used by selective receive; 0 means untagged.
    pub fn tag(&self) -> i64 {
        match self {
            Message::Data(data) => data.tag,
            Message::LinkDied { tag } => *tag,
            Message::ProcessDied { .. } => 0,
        }
    }

    /// What this message is charged against the receiver's mailbox limit
    /// while it waits (see `process::mailbox`): the bytes it holds on the
    /// heap plus a fixed overhead. Link and monitor notices cost nothing.
    /// Stable while the message is queued (nothing edits it there).
    pub(crate) fn cost(&self) -> u64 {
        match self {
            Message::Data(data) => {
                let slots = data.resources.capacity().saturating_mul(RESOURCE_SLOT_SIZE);
                (data.buffer.capacity() as u64)
                    .saturating_add(slots as u64)
                    .saturating_add(MESSAGE_OVERHEAD)
            }
            Message::LinkDied { .. } | Message::ProcessDied { .. } => 0,
        }
    }
}

/// Charged per waiting data message on top of its bytes: the queue slots and
/// allocation it occupies in the receiver's signal queue and mailbox (a
/// million empty messages waiting take about 185 MB).
pub(crate) const MESSAGE_OVERHEAD: u64 = 192;

/// Host memory one resource slot of a message takes.
pub(crate) const RESOURCE_SLOT_SIZE: usize = std::mem::size_of::<Option<Resource>>();

/// A data message: a tag, a byte buffer with a read cursor and resource slots.
#[derive(Debug, Default)]
pub struct DataMessage {
    /// 0 means untagged.
    pub tag: i64,
    /// The payload, opaque to the runtime.
    pub buffer: Vec<u8>,
    /// Read position for `read_data`.
    pub cursor: usize,
    /// Attached resources; a taken slot becomes `None` so indexes stay valid.
    pub resources: Vec<Option<Resource>>,
}

impl DataMessage {
    /// An empty message with a tag and a capacity hint.
    pub fn new(tag: i64, capacity: usize) -> Self {
        Self { tag, buffer: Vec::with_capacity(capacity), cursor: 0, resources: Vec::new() }
    }

    /// The message's size as `max_message_size` counts it: its bytes and
    /// the host memory of its resource slots.
    pub fn size(&self) -> u64 {
        (self.buffer.len() as u64)
            .saturating_add((self.resources.len() as u64).saturating_mul(RESOURCE_SLOT_SIZE as u64))
    }

    /// Appends a resource and returns its index inside the message.
    pub fn push_resource(&mut self, resource: Resource) -> u64 {
        self.resources.push(Some(resource));
        (self.resources.len() - 1) as u64
    }

    /// Takes the resource at `index`, leaving the slot empty.
    pub fn take_resource(&mut self, index: u64) -> Option<Resource> {
        self.resources.get_mut(usize::try_from(index).ok()?)?.take()
    }
}

/// A host object that can travel inside a message.
#[derive(Debug)]
pub enum Resource {
    /// A compiled module (shared, not moved).
    Module(ModuleHandle),
    /// An object of a host module (a TCP or TLS stream, a UDP socket),
    /// moved out of the sender's table; only that host module knows its type.
    Host(HostResource),
}

impl Resource {
    /// The resource's kind, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Resource::Module(_) => "module",
            Resource::Host(host) => host.kind,
        }
    }
}

/// A host module's object inside a message, with its kind's name.
pub struct HostResource {
    kind: &'static str,
    value: Box<dyn std::any::Any + Send>,
}

impl HostResource {
    /// Wraps `value`, whose kind is called `kind` in error messages.
    pub(crate) fn new<T: std::any::Any + Send>(kind: &'static str, value: T) -> Self {
        Self { kind, value: Box::new(value) }
    }

    /// The object, if it is a `T`; else the resource back.
    pub(crate) fn downcast<T: std::any::Any>(self) -> Result<T, Self> {
        match self.value.downcast::<T>() {
            Ok(value) => Ok(*value),
            Err(value) => Err(Self { kind: self.kind, value }),
        }
    }
}

impl std::fmt::Debug for HostResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind)
    }
}
