//! The native mailbox: a process ID owned by the app.
//!
//! It is a real entry in the process table (guests send to it, find it in
//! the registry, link to it and monitor it like any process), but no Wasm
//! runs behind it: its signals are taken by whoever awaits
//! [`Mailbox::receive`], or by the task a [`Mailbox::on_message`] callback
//! runs in. Like a guest that called `die_when_link_dies(0)`, it is never
//! killed by a link: a linked process that fails arrives as
//! [`Message::LinkDied`].

use super::{EmbedError, ErrorKind};
use crate::protocol::{DataMessage, Environment, Exit, Message, ProcessHandle, Signal};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

/// A mailbox the app owns: a process ID that can send tagged data to any
/// process and receive their messages.
///
/// ```
/// use lunatic_wasmi::{Lunatic, Message};
///
/// let lunatic = Lunatic::builder().threads(1).build()?;
/// let a = lunatic.mailbox()?;
/// let b = lunatic.mailbox()?;
/// a.send(b.id(), 7, b"hello");
/// match b.receive_blocking(None)? {
///     Message::Data(data) => assert_eq!((data.tag, &data.buffer[..]), (7, &b"hello"[..])),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), lunatic_wasmi::EmbedError>(())
/// ```
///
/// Dropping it (every clone) ends the process: links and monitors are
/// told, as when a process returns normally, and its registry names go.
#[derive(Clone)]
pub struct Mailbox(pub(super) Arc<Inner>);

pub(super) struct Inner {
    pub(super) handle: ProcessHandle,
    env: Arc<Environment>,
    scheduler: Arc<dyn crate::scheduler::Scheduler>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Message>,
    /// Processes linked to this one, with the tag on this side.
    links: HashMap<u64, (i64, ProcessHandle)>,
    /// Processes to tell when this mailbox is dropped.
    monitors: HashMap<u64, ProcessHandle>,
    /// Processes this mailbox monitors.
    monitoring: HashMap<u64, ProcessHandle>,
    /// Set when the mailbox's process ended (runtime shut down).
    closed: bool,
    /// The pending receive, woken when the mailbox closes.
    receiver: Option<std::task::Waker>,
}

impl State {
    fn apply(&mut self, handle: &ProcessHandle, signals: impl IntoIterator<Item = Signal>) {
        for signal in signals {
            match signal {
                Signal::Message(message) => {
                    if let Message::ProcessDied { process_id } = &message {
                        self.monitoring.remove(process_id);
                    }
                    self.queue.push_back(message);
                }
                // The app owns this process; guests cannot end it.
                Signal::Kill => {}
                // A message did not fit (it was dropped and counted): the
                // mailbox takes messages again as soon as there is room.
                Signal::MailboxOverflow(_) => handle.mailbox_budget().reopen(),
                Signal::Link { from, tag } => {
                    self.links.insert(from.id(), (tag, from));
                }
                Signal::Unlink { from } => {
                    self.links.remove(&from);
                }
                Signal::LinkDied { from, tag, failed } => {
                    self.links.remove(&from);
                    if failed {
                        self.queue.push_back(Message::LinkDied { tag });
                    }
                }
                Signal::Monitor { from } => {
                    self.monitors.insert(from.id(), from);
                }
                Signal::StopMonitoring { from } => {
                    self.monitors.remove(&from);
                }
            }
        }
    }
}

impl Inner {
    pub(super) fn new(
        env: &Arc<Environment>,
        scheduler: Arc<dyn crate::scheduler::Scheduler>,
        max_size: u64,
    ) -> Arc<Self> {
        let handle = ProcessHandle::new(env.next_process_id());
        handle.mailbox_budget().set_limit(max_size);
        env.insert(handle.clone());
        Arc::new(Self { handle, env: env.clone(), scheduler, state: Mutex::default() })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn poll_receive(&self, cx: &mut Context<'_>) -> Poll<Result<Message, EmbedError>> {
        let mut state = self.state();
        loop {
            if let Some(message) = state.queue.pop_front() {
                // Charged by its sender, from its send until now.
                self.handle.mailbox_budget().give_back(message.cost());
                return Poll::Ready(Ok(message));
            }
            if state.closed {
                return Poll::Ready(Err(EmbedError::new(ErrorKind::ShutDown, "the mailbox is closed")));
            }
            match self.handle.poll_signals(cx) {
                Poll::Ready(signals) => state.apply(&self.handle, signals),
                Poll::Pending => {
                    state.receiver = Some(cx.waker().clone());
                    return Poll::Pending;
                }
            }
        }
    }

    /// Ends the mailbox's process (idempotent): what a process's end does.
    pub(super) fn close(&self) {
        self.env.remove(self.handle.id());
        // Answers link and monitor requests still queued, and drops the
        // waker of a pending receive (which frees a callback's task).
        self.handle.close(&Exit::Returned);
        let (links, monitors, monitoring, receiver) = {
            let mut state = self.state();
            state.queue.clear();
            state.closed = true;
            (
                std::mem::take(&mut state.links),
                std::mem::take(&mut state.monitors),
                std::mem::take(&mut state.monitoring),
                state.receiver.take(),
            )
        };
        if let Some(receiver) = receiver {
            receiver.wake();
        }
        let id = self.handle.id();
        for (_, (tag, handle)) in links {
            handle.signal(Signal::LinkDied { from: id, tag, failed: false });
        }
        for (_, handle) in monitors {
            handle.send(Message::ProcessDied { process_id: id });
        }
        for (_, handle) in monitoring {
            handle.signal(Signal::StopMonitoring { from: id });
        }
        self.env.forget_process(id);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.close();
    }
}

impl std::fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mailbox({})", self.id())
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Subscription({})", self.mailbox.id())
    }
}

impl Mailbox {
    /// Its process ID: guests send to it with `lunatic::message::send`.
    pub fn id(&self) -> u64 {
        self.0.handle.id()
    }

    /// Sends `data` with `tag` (0: untagged) to process `to`; like a guest's
    /// send it never blocks or fails: a message to a process that has
    /// ended is dropped. Returns whether `to` was alive.
    pub fn send(&self, to: u64, tag: i64, data: &[u8]) -> bool {
        let Some(target) = self.0.env.get(to) else { return false };
        let mut message = DataMessage::new(tag, data.len());
        message.buffer.extend_from_slice(data);
        target.send(Message::Data(message));
        true
    }

    /// The next message, whenever it comes; an error only once the runtime
    /// has shut down. Cancel-safe: dropping the future loses nothing. One
    /// receiver at a time per mailbox (a second concurrent receive of the
    /// same mailbox takes over the wake-up). It blocks no thread: any
    /// executor can await it.
    ///
    /// ```
    /// use lunatic_wasmi::{Lunatic, Message};
    ///
    /// let lunatic = Lunatic::builder().threads(1).build()?;
    /// let (a, b) = (lunatic.mailbox()?, lunatic.mailbox()?);
    /// let receiving = b.receive();
    /// a.send(b.id(), 1, b"hi");
    /// let message = futures_lite::future::block_on(receiving)?;
    /// assert!(matches!(message, Message::Data(data) if data.buffer == b"hi"));
    /// # Ok::<(), lunatic_wasmi::EmbedError>(())
    /// ```
    pub fn receive(&self) -> impl Future<Output = Result<Message, EmbedError>> + Send + 'static {
        let inner = self.0.clone();
        std::future::poll_fn(move |cx| inner.poll_receive(cx))
    }

    /// The next message, or an error of kind [`ErrorKind::Timeout`] after
    /// `timeout`.
    pub fn receive_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<Message, EmbedError>> + Send + 'static {
        let receive = self.receive();
        let sleep = crate::scheduler::sleep(&*self.0.scheduler, timeout);
        futures_lite::future::or(receive, async move {
            sleep.await;
            Err(EmbedError::new(ErrorKind::Timeout, format!("no message within {timeout:?}")))
        })
    }

    /// A message already here, without waiting.
    pub fn try_receive(&self) -> Option<Message> {
        let waker = std::task::Waker::noop();
        match self.0.poll_receive(&mut Context::from_waker(waker)) {
            Poll::Ready(message) => message.ok(),
            Poll::Pending => None,
        }
    }

    /// Blocks the calling thread until a message comes (or `timeout`
    /// passes): the convenience for hosts without an async runtime. Not for
    /// an async caller, and not with a `deterministic` runtime (its
    /// processes run only inside [`super::Lunatic::run`]).
    pub fn receive_blocking(&self, timeout: Option<Duration>) -> Result<Message, EmbedError> {
        match timeout {
            Some(timeout) => futures_lite::future::block_on(self.receive_timeout(timeout)),
            None => futures_lite::future::block_on(self.receive()),
        }
    }

    /// Calls `callback` with each message, on the runtime's threads, until
    /// the returned [`Subscription`] or the runtime is dropped. The
    /// callback must not block (hand long work to a thread of the app).
    ///
    /// ```
    /// use lunatic_wasmi::{Lunatic, Message};
    /// use std::time::Duration;
    ///
    /// let lunatic = Lunatic::builder().threads(1).build()?;
    /// let sender = lunatic.mailbox()?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let subscription = lunatic.mailbox()?.on_message(move |message| {
    ///     if let Message::Data(data) = message {
    ///         let _ = tx.send(data.tag);
    ///     }
    /// });
    /// sender.send(subscription.mailbox().id(), 5, b"");
    /// assert_eq!(rx.recv_timeout(Duration::from_secs(10)).ok(), Some(5));
    /// drop(subscription); // stops the callback
    /// # Ok::<(), lunatic_wasmi::EmbedError>(())
    /// ```
    pub fn on_message(self, mut callback: impl FnMut(Message) + Send + 'static) -> Subscription {
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let receiver = self.clone();
        self.0.scheduler.spawn(Box::pin(async move {
            loop {
                let next = futures_lite::future::or(
                    async { receiver.receive().await.ok() },
                    async {
                        let _ = stopped.recv().await;
                        None
                    },
                );
                match next.await {
                    Some(message) => callback(message),
                    None => return,
                }
            }
        }));
        Subscription { _stop: stop, mailbox: self }
    }

    /// Links this mailbox and process `id` with `tag`: if the process
    /// fails, a [`Message::LinkDied`] with `tag` arrives (at once, with a
    /// failure, if it is not alive); if the mailbox is dropped first, the
    /// process is told that its link ended normally.
    pub fn link(&self, id: u64, tag: i64) {
        match self.0.env.get(id) {
            Some(target) => {
                self.0.state().links.insert(id, (tag, target.clone()));
                target.signal(Signal::Link { from: self.0.handle.clone(), tag });
            }
            None => {
                self.0.handle.signal(Signal::LinkDied { from: id, tag, failed: true });
            }
        }
    }

    /// Asks for a [`Message::ProcessDied`] when process `id` ends (at once
    /// if it is not alive). [`super::Process::exit`] says how it ended.
    ///
    /// ```
    /// use lunatic_wasmi::{Lunatic, Message, ProcessConfig};
    /// use std::time::Duration;
    ///
    /// let lunatic = Lunatic::builder().threads(1).build()?;
    /// let plugin = lunatic.load(b"(module (func (export \"main\") (loop (br 0))))")?;
    /// let process = lunatic.spawn(&plugin, "main", ProcessConfig::default())?;
    /// let mailbox = lunatic.mailbox()?;
    /// mailbox.monitor(process.id());
    /// mailbox.link(process.id(), 77);
    /// lunatic.kill(process.id()); // a plugin that stopped responding
    /// let mut got = Vec::new();
    /// for _ in 0..2 {
    ///     got.push(mailbox.receive_blocking(Some(Duration::from_secs(10)))?.kind());
    /// }
    /// got.sort();
    /// assert_eq!(got, [1, 2]); // LinkDied (tag 77) and ProcessDied
    /// # Ok::<(), lunatic_wasmi::EmbedError>(())
    /// ```
    pub fn monitor(&self, id: u64) {
        let died = || self.0.handle.send(Message::ProcessDied { process_id: id });
        match self.0.env.get(id) {
            Some(target) => {
                self.0.state().monitoring.insert(id, target.clone());
                if !target.signal(Signal::Monitor { from: self.0.handle.clone() }) {
                    died();
                }
            }
            None => died(),
        }
    }

    /// Sets the most bytes of messages that may wait here (received by
    /// nobody yet), counted as for a process's `max_mailbox_size`: each
    /// data message's buffer plus a fixed overhead of 192 bytes.
    /// Signals (link and monitor notices) are not counted. A message that
    /// does not fit is dropped and counted ([`Mailbox::dropped`]); the
    /// sender is not told (a send never fails or waits, as between
    /// processes), and the mailbox takes messages again as soon as the app
    /// has received enough to make room. Unlike a process, which is killed
    /// when its mailbox overflows, the app's mailbox stays: the app decides
    /// what a lost message means.
    ///
    /// ```
    /// use lunatic_wasmi::Lunatic;
    ///
    /// let lunatic = Lunatic::builder().threads(1).build()?;
    /// let (app, sender) = (lunatic.mailbox()?, lunatic.mailbox()?);
    /// app.set_max_size(4096);
    /// for _ in 0..3 {
    ///     sender.send(app.id(), 1, &[0; 1500]);
    /// }
    /// assert!(app.try_receive().is_some() && app.try_receive().is_some());
    /// assert!(app.try_receive().is_none(), "the third did not fit");
    /// assert_eq!(app.dropped(), 1);
    /// # Ok::<(), lunatic_wasmi::EmbedError>(())
    /// ```
    pub fn set_max_size(&self, bytes: u64) {
        self.0.handle.mailbox_budget().set_limit(bytes);
    }

    /// Messages dropped so far because they did not fit (see
    /// [`Mailbox::set_max_size`]).
    pub fn dropped(&self) -> u64 {
        self.0.handle.mailbox_budget().dropped()
    }

    /// Makes `name` refer to this mailbox in the registry (where guests
    /// find it with `lunatic::registry::get`). Names longer than 4096
    /// bytes, or past the registry's size limit, are refused.
    pub fn register(&self, name: &str) -> Result<(), EmbedError> {
        let id = self.id();
        self.0
            .env
            .put_name(id, name, 0, id)
            .map_err(|e| EmbedError::new(ErrorKind::InvalidArgument, e.to_string()))
    }
}

/// Keeps a [`Mailbox::on_message`] callback running; dropping it stops the
/// callback (and ends the mailbox unless it was cloned). See
/// [`Mailbox::on_message`] for an example.
pub struct Subscription {
    _stop: async_channel::Sender<()>,
    mailbox: Mailbox,
}

impl Subscription {
    /// The mailbox whose messages go to the callback.
    pub fn mailbox(&self) -> &Mailbox {
        &self.mailbox
    }
}
