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
use std::sync::Arc;
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
        quinn::SmolRuntime.wrap_udp_socket(socket)
    }
}
