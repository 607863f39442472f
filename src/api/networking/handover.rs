//! Listener hand-over between module versions of a hot-reloaded app.
//!
//! When a process of a newer version binds an address on which a process
//! of an older version of the app listens, it gets that same listening
//! socket (a duplicate of its descriptor) instead of a new one: connections
//! waiting in the accept queue, and every later one, go to the new version,
//! and no connection attempt is refused in between (closing a listener
//! drops its queue; a second `SO_REUSEPORT` socket does not take it over).
//! The old listener is marked handed over: its accepts never complete
//! again, and a process waiting in one counts as parked (see
//! `Version::park`), which lets the old version's drain end early.
//!
//! Only processes of a module version (a `lunatic run` app) take part; no
//! other process sees any difference.

use super::Sock;
use crate::protocol::version::{Parked, Version};
use crate::protocol::ProcessState;
use async_io::Async;
use event_listener::Event;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll};

type Listener = Arc<Sock<Async<TcpListener>>>;

/// The listeners of versioned processes, runtime-wide.
#[derive(Default)]
pub(crate) struct Handovers {
    entries: Mutex<Vec<Entry>>,
    /// Notified when a listener is handed over.
    changed: Event,
}

struct Entry {
    /// The address it was bound with (as the guest asked).
    addr: SocketAddr,
    listener: Weak<Sock<Async<TcpListener>>>,
    version: Weak<Version>,
    handed_over: bool,
}

impl Handovers {
    fn lock(&self) -> MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `listener` was handed over to a newer version.
    pub(crate) fn handed_over(&self, listener: &Listener) -> bool {
        self.lock().iter().any(|e| e.handed_over && std::ptr::eq(e.listener.as_ptr(), Arc::as_ptr(listener)))
    }

    /// Waits until `listener` is handed over.
    pub(crate) async fn wait(&self, listener: &Listener) {
        loop {
            let changed = self.changed.listen();
            if self.handed_over(listener) {
                return;
            }
            changed.await;
        }
    }
}

/// What a process of a module version needs for hand-overs: the
/// runtime's table, its version and its key there.
pub(crate) type Hot = (Arc<Handovers>, Arc<Version>, (u64, u64));

/// The hand-over table of `state`'s runtime, its version and its key
/// there, for a process of a module version (`None`: any other process).
pub(crate) fn of(state: &ProcessState) -> Option<Hot> {
    let member = state.version.as_ref()?;
    Some((state.runtime.shared(|_| Handovers::default()), member.version().clone(), member.key()))
}

/// Binds a TCP listener on `addr` for a process (`hot`: see [`of`]): an
/// older version's listener on the same address if there is one (see the
/// module docs), else a new socket.
pub(crate) fn bind(hot: Option<Hot>, addr: SocketAddr) -> io::Result<Listener> {
    let Some((table, version, _)) = hot else {
        return Async::<TcpListener>::bind(addr).map(|listener| Arc::new(Sock::new(listener)));
    };
    let mut entries = table.lock();
    entries.retain(|e| e.listener.strong_count() > 0);
    // Port 0 asks for a fresh port: nothing to take over.
    let older = entries.iter_mut().find(|e| {
        !e.handed_over
            && addr.port() != 0
            && e.addr == addr
            && e.version.upgrade().is_some_and(|owner| version.is_newer_than(&owner))
    });
    let listener = match older.and_then(|e| Some((e.listener.upgrade()?, e))) {
        Some((old, entry)) => {
            let socket = old.get()?.get_ref().try_clone()?;
            let listener = Arc::new(Sock::new(Async::new(socket)?));
            entry.handed_over = true;
            table.changed.notify(usize::MAX);
            log::debug!(target: "lunatic::hot", "listener {addr} handed over to version {:016x}", version.id());
            listener
        }
        None => Arc::new(Sock::new(Async::<TcpListener>::bind(addr)?)),
    };
    entries.push(Entry {
        addr,
        listener: Arc::downgrade(&listener),
        version: Arc::downgrade(&version),
        handed_over: false,
    });
    Ok(listener)
}

/// What a process's accept does once its listener is handed over.
pub(crate) enum After {
    /// Stop: the work (a TCP accept) is never polled again.
    Stop,
    /// Go on taking what the listener accepted before (a TLS listener's
    /// completed handshakes); the process counts as parked while `idle`
    /// says nothing more can come.
    Drain(Box<dyn Fn() -> bool + Send>),
}

/// Runs `work` (an accept on `listener`) unless the listener is handed
/// over: then it never completes (see [`After`]), and the process counts
/// as parked.
pub(crate) fn unless_handed_over<F: Future>(
    hot: Option<Hot>,
    listener: Listener,
    after: After,
    work: F,
) -> impl Future<Output = F::Output> {
    let stop = hot.map(|(table, version, key)| {
        let watched = listener.clone();
        let wait: Pin<Box<dyn Future<Output = ()> + Send>> =
            Box::pin(async move { table.wait(&watched).await });
        (wait, version, key)
    });
    Guarded { stop, handed_over: false, after, parked: None, work: Box::pin(work) }
}

/// The wait for a hand-over, and the process's version and key there.
type Watch = (Pin<Box<dyn Future<Output = ()> + Send>>, Arc<Version>, (u64, u64));

struct Guarded<F: Future> {
    stop: Option<Watch>,
    handed_over: bool,
    after: After,
    parked: Option<Parked>,
    work: Pin<Box<F>>,
}

impl<F: Future> Future for Guarded<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        if !this.handed_over {
            if let Some((wait, _, _)) = &mut this.stop {
                this.handed_over = wait.as_mut().poll(cx).is_ready();
            }
        }
        if !this.handed_over {
            return this.work.as_mut().poll(cx);
        }
        let Some((_, version, key)) = &this.stop else { return this.work.as_mut().poll(cx) };
        match &this.after {
            After::Stop => {
                if this.parked.is_none() {
                    this.parked = Some(version.park(*key));
                }
                Poll::Pending
            }
            After::Drain(idle) => {
                if let Poll::Ready(done) = this.work.as_mut().poll(cx) {
                    this.parked = None;
                    return Poll::Ready(done);
                }
                if idle() {
                    if this.parked.is_none() {
                        this.parked = Some(version.park(*key));
                    }
                } else {
                    this.parked = None;
                }
                Poll::Pending
            }
        }
    }
}
