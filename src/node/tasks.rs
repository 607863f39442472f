//! Where a node's network work runs. With a local runtime, quinn's
//! drivers and the node's own tasks run on the runtime's scheduler, next to
//! the processes they serve: a message a process sends is written out by
//! the thread that ran the process, and one that arrives is read and
//! delivered by the worker that polled the socket, usually the thread that
//! then runs the receiver, so no message crosses threads on its way. A
//! control server (no processes) uses smol's global executor.
//!
//! This is also quinn's runtime seam: time (`now`, timers), tasks and the
//! UDP socket are all asked of [`Tasks`], so a simulated network needs
//! only another implementation of it.

use crate::scheduler::Scheduler;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

/// Runs a node's tasks (and quinn's).
#[derive(Clone)]
pub(crate) struct Tasks(Option<Arc<dyn Scheduler>>);

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Tasks(scheduler)" } else { "Tasks(smol)" })
    }
}

impl Tasks {
    /// On `scheduler`, or on smol's global executor.
    pub(crate) fn new(scheduler: Option<Arc<dyn Scheduler>>) -> Self {
        Self(scheduler)
    }

    /// Starts a task that runs to its end on its own.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        match &self.0 {
            Some(scheduler) => scheduler.spawn(Box::pin(task)),
            None => smol::spawn(task).detach(),
        }
    }
}

impl quinn::Runtime for Tasks {
    fn new_timer(&self, at: Instant) -> Pin<Box<dyn quinn::AsyncTimer>> {
        Box::pin(async_io::Timer::at(at))
    }

    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) {
        Tasks::spawn(self, future);
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> std::io::Result<Arc<dyn quinn::AsyncUdpSocket>> {
        let inner = quinn::SmolRuntime.wrap_udp_socket(socket)?;
        Ok(Arc::new(EagerSocket { inner, blocked: AtomicBool::new(false) }))
    }
}

/// quinn's smol socket, except that a send does not wait for the reactor.
///
/// Why: quinn asks the socket's poller whether it is writable before every
/// packet, and async-io's answer to a fresh question is always "not yet,
/// I will tell you after the next reactor poll". The reactor is polled
/// when a worker runs out of tasks, so each packet waited behind whatever
/// was queued on its worker: an answer to a remote spawn left after the new
/// process's instantiation (~45 us later), and every packet paid an
/// `epoll_ctl` to re-register. A UDP socket's send buffer is almost never
/// full, so here the poller says "writable" until a send finds it full;
/// only then do sends wait for the reactor, as before. (Trace of 6 000
/// remote spawns, one worker per node: from the answer's write to its
/// `sendmsg`, 63-70 us before, see the README's distributed section.)
#[derive(Debug)]
struct EagerSocket {
    inner: Arc<dyn quinn::AsyncUdpSocket>,
    /// Set when a send found the socket's buffer full, cleared once the
    /// reactor has seen it writable again.
    blocked: AtomicBool,
}

impl quinn::AsyncUdpSocket for EagerSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn quinn::UdpPoller>> {
        let inner = self.inner.clone().create_io_poller();
        Box::pin(EagerPoller { socket: self, inner })
    }

    fn try_send(&self, transmit: &quinn::udp::Transmit) -> std::io::Result<()> {
        let sent = self.inner.try_send(transmit);
        if matches!(&sent, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock) {
            self.blocked.store(true, Ordering::Relaxed);
        }
        sent
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [std::io::IoSliceMut<'_>],
        meta: &mut [quinn::udp::RecvMeta],
    ) -> Poll<std::io::Result<usize>> {
        self.inner.poll_recv(cx, bufs, meta)
    }

    fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.inner.local_addr()
    }

    fn max_transmit_segments(&self) -> usize {
        self.inner.max_transmit_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.inner.max_receive_segments()
    }

    fn may_fragment(&self) -> bool {
        self.inner.may_fragment()
    }
}

/// Writable unless the last send found the buffer full (then async-io's
/// poller decides).
#[derive(Debug)]
struct EagerPoller {
    socket: Arc<EagerSocket>,
    inner: Pin<Box<dyn quinn::UdpPoller>>,
}

impl quinn::UdpPoller for EagerPoller {
    fn poll_writable(self: Pin<&mut Self>, cx: &mut Context) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if !this.socket.blocked.load(Ordering::Relaxed) {
            return Poll::Ready(Ok(()));
        }
        let ready = this.inner.as_mut().poll_writable(cx);
        if ready.is_ready() {
            this.socket.blocked.store(false, Ordering::Relaxed);
        }
        ready
    }
}
