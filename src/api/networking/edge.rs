//! Edge-triggered readiness for TCP stream reads (Linux and Android).
//!
//! Why: async-io registers each socket in one-shot mode, so every wait for
//! data re-arms it with an `epoll_ctl` system call, and every reactor turn
//! costs several more (timer and notifier re-arming). A server holding
//! thousands of keep-alive connections waits once per request, so that
//! bookkeeping was a large share of each request's cost. Here each stream is
//! registered once, edge-triggered, in an epoll instance of the runtime's
//! own; one task (the pump) harvests its events in batches whenever the
//! instance itself becomes readable (which async-io watches: one re-arm per
//! batch, not per request) and wakes the readers.
//!
//! Each stream keeps a readiness word: bit 0 "may have data", bit 1 "peer
//! closed or error" (sticky), and an event count above them. A reader takes
//! a snapshot before it reads and clears bit 0 only if the read found the
//! socket empty and no event arrived since the snapshot; any data that
//! arrives later raises a new edge, so no wake-up is lost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};

#[cfg(any(target_os = "linux", target_os = "android"))]
use rustix::event::epoll;

/// Events harvested per system call.
#[cfg(any(target_os = "linux", target_os = "android"))]
const BATCH: usize = 256;
const READY: u64 = 1;
const CLOSED: u64 = 2;
#[cfg(any(target_os = "linux", target_os = "android"))]
const TICK: u64 = 4;

/// The runtime's epoll instance for stream reads and the streams in it.
pub(crate) struct Reactor {
    /// The epoll instance, watched by async-io for the pump.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    epoll: async_io::Async<std::os::fd::OwnedFd>,
    /// Registered streams by key; weak so that a stream's end needs no
    /// round trip through the pump.
    sources: Mutex<HashMap<u64, Weak<Source>>>,
    #[cfg(any(target_os = "linux", target_os = "android"))]
    next_key: AtomicU64,
}

/// One stream's registration: its readiness and its waiting readers
/// (usually one; a stream shared between processes may have more).
pub(crate) struct Source {
    reactor: Arc<Reactor>,
    key: u64,
    state: AtomicU64,
    wakers: Mutex<Vec<Waker>>,
}

/// A reader's view of a stream's readiness, taken before it reads.
#[derive(Clone, Copy)]
pub(crate) struct Snapshot(u64);

impl Snapshot {
    /// Whether a read may find data (or the end of the stream).
    pub(crate) fn ready(self) -> bool {
        self.0 & (READY | CLOSED) != 0
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Reactor {
    /// Creates the epoll instance and spawns its pump on `scheduler`; `None`
    /// (streams then wait through async-io alone) where that is not possible.
    pub(crate) fn start(scheduler: &dyn crate::scheduler::Scheduler) -> Option<Arc<Self>> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let created = epoll::create(epoll::CreateFlags::CLOEXEC)
                .map_err(std::io::Error::from)
                .and_then(async_io::Async::new);
            let epoll = match created {
                Ok(epoll) => epoll,
                Err(e) => {
                    log::warn!(target: "lunatic::net", "no edge-triggered reads: {e}");
                    return None;
                }
            };
            let reactor =
                Arc::new(Self { epoll, sources: Mutex::new(HashMap::new()), next_key: AtomicU64::new(0) });
            scheduler.spawn(Box::pin(pump(Arc::downgrade(&reactor))));
            Some(reactor)
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let _ = scheduler;
            None
        }
    }

    /// Registers `socket` for reads; `None` if the OS refuses.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub(crate) fn register(self: &Arc<Self>, _: &async_io::Async<std::net::TcpStream>) -> Option<Arc<Source>> {
        None
    }

    /// Registers `socket` for reads; `None` if the OS refuses.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn register(self: &Arc<Self>, socket: &async_io::Async<std::net::TcpStream>) -> Option<Arc<Source>> {
        use std::os::fd::AsFd;
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let source = Arc::new(Source {
            reactor: self.clone(),
            key,
            // Unknown yet: the first read tries.
            state: AtomicU64::new(READY),
            wakers: Mutex::new(Vec::new()),
        });
        lock(&self.sources).insert(key, Arc::downgrade(&source));
        let flags = epoll::EventFlags::IN | epoll::EventFlags::RDHUP | epoll::EventFlags::ET;
        match epoll::add(self.epoll.get_ref(), socket.as_fd(), epoll::EventData::new_u64(key), flags) {
            Ok(()) => Some(source),
            Err(e) => {
                lock(&self.sources).remove(&key);
                log::debug!(target: "lunatic::net", "edge registration failed: {e}");
                None
            }
        }
    }

    /// Takes every pending event (without waiting) and wakes the readers;
    /// returns how many there were.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn harvest(&self) -> usize {
        thread_local! {
            static EVENTS: std::cell::RefCell<Vec<epoll::Event>> =
                std::cell::RefCell::new(Vec::with_capacity(BATCH));
        }
        EVENTS.with_borrow_mut(|events| self.harvest_into(events))
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn harvest_into(&self, events: &mut Vec<epoll::Event>) -> usize {
        events.clear();
        let zero = rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 };
        let got = epoll::wait(self.epoll.get_ref(), rustix::buffer::spare_capacity(events), Some(&zero));
        if got.is_err() || events.is_empty() {
            return 0;
        }
        let mut woken = Vec::with_capacity(events.len());
        {
            let sources = lock(&self.sources);
            for event in events.iter() {
                let (flags, key) = (event.flags, event.data.u64());
                let Some(source) = sources.get(&key).and_then(Weak::upgrade) else { continue };
                let closed = flags.intersects(
                    epoll::EventFlags::RDHUP | epoll::EventFlags::HUP | epoll::EventFlags::ERR,
                );
                let bits = READY | if closed { CLOSED } else { 0 };
                source.state.fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                    Some(s.wrapping_add(TICK) | bits)
                }).ok();
                woken.push(source);
            }
        }
        // Outside the map's lock: a woken task may end and drop its source.
        for source in woken {
            // Waking only queues the task, so holding the lock is fine, and
            // draining keeps the vector's room for the next wait.
            lock(&source.wakers).drain(..).for_each(Waker::wake);
        }
        events.len()
    }
}

/// The pump: harvests the epoll instance whenever async-io reports it
/// readable; ends with the reactor.
#[cfg(any(target_os = "linux", target_os = "android"))]
async fn pump(reactor: Weak<Reactor>) {
    std::future::poll_fn(|cx| {
        let Some(reactor) = reactor.upgrade() else { return Poll::Ready(()) };
        loop {
            if reactor.harvest() == BATCH {
                // Maybe more: let the woken readers run first, then come back.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            match reactor.epoll.poll_readable(cx) {
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(e)) => {
                    log::error!(target: "lunatic::net", "edge reactor failed: {e}");
                    return Poll::Ready(());
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    })
    .await
}

impl Source {
    /// The readiness now; take it before a read.
    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot(self.state.load(Ordering::Acquire))
    }

    /// The read after `seen` found the socket empty: forget "may have
    /// data", unless an event came in since.
    pub(crate) fn clear(&self, seen: Snapshot) {
        let _ = self.state.compare_exchange(seen.0, seen.0 & !READY, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Ready once a read may find data (at once if it already may).
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.snapshot().ready() {
            return Poll::Ready(());
        }
        {
            let mut wakers = lock(&self.wakers);
            if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                wakers.push(cx.waker().clone());
            }
        }
        // An event between the check above and storing the waker found no
        // waker to wake: look again.
        if self.snapshot().ready() {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        // The socket leaves the epoll instance by itself when it is closed
        // (nothing duplicates stream sockets); late events for this key
        // find nothing in the map.
        lock(&self.reactor.sources).remove(&self.key);
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;
    use std::time::{Duration, Instant};

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn wait_for(what: impl Fn() -> bool) -> bool {
        let start = Instant::now();
        while !what() {
            if start.elapsed() > Duration::from_secs(5) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// Reads what is there the way `tcp_read` does; `None` if it would block.
    fn read(socket: &std::net::TcpStream, source: &Source, buf: &mut [u8]) -> Option<usize> {
        let seen = source.snapshot();
        match (&*socket).read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                source.clear(seen);
                None
            }
            Ok(n) => {
                if n > 0 && n < buf.len() {
                    source.clear(seen);
                }
                Some(n)
            }
            Err(e) => panic!("read failed: {e}"),
        }
    }

    #[test]
    fn wakes_the_reader_on_data_and_keeps_the_end_of_stream_readable() {
        let scheduler = crate::scheduler::SchedulerKind::Threaded { threads: 1 }.build().unwrap();
        let reactor = Reactor::start(&*scheduler).expect("an epoll instance");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let server = async_io::Async::new(listener.accept().unwrap().0).unwrap();
        let source = reactor.register(&server).expect("registered");
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut buf = [0u8; 64];

        // Nothing there yet: the first read finds out, and the wait parks.
        assert!(source.snapshot().ready(), "unknown readiness must let the first read try");
        assert_eq!(read(server.get_ref(), &source, &mut buf), None);
        assert!(source.poll_ready(&mut cx).is_pending());

        // Data wakes it; a short read drains it, and the next wait parks again.
        client.write_all(b"hello").unwrap();
        assert!(wait_for(|| count.0.load(Ordering::SeqCst) > 0), "no wake-up for new data");
        assert!(source.poll_ready(&mut cx).is_ready());
        assert_eq!(read(server.get_ref(), &source, &mut buf), Some(5));
        assert!(!source.snapshot().ready());
        assert!(source.poll_ready(&mut cx).is_pending());

        // Data that comes after the wait parked wakes it too (no lost edge).
        let before = count.0.load(Ordering::SeqCst);
        client.write_all(b"again").unwrap();
        assert!(wait_for(|| count.0.load(Ordering::SeqCst) > before), "no wake-up for more data");
        assert_eq!(read(server.get_ref(), &source, &mut buf), Some(5));

        // The peer's end: woken, and the stream stays readable (reads give 0).
        let before = count.0.load(Ordering::SeqCst);
        assert!(source.poll_ready(&mut cx).is_pending());
        client.shutdown(std::net::Shutdown::Write).unwrap();
        assert!(wait_for(|| count.0.load(Ordering::SeqCst) > before), "no wake-up at the end");
        assert_eq!(read(server.get_ref(), &source, &mut buf), Some(0));
        assert!(source.poll_ready(&mut cx).is_ready(), "end of stream must stay readable");
        assert_eq!(read(server.get_ref(), &source, &mut buf), Some(0));

        // A dropped stream leaves nothing behind in the reactor.
        drop(source);
        assert!(lock(&reactor.sources).is_empty());
    }
}
