//! Server-side TLS handshakes, run by the host apart from the guest.
//!
//! A TLS listener gets an accept task when it is bound. The task accepts
//! TCP connections and runs their handshakes concurrently, each with a
//! deadline ([`handshake_timeout`]); only completed sessions reach the
//! queue `tls_accept` takes from. A client that connects and never speaks,
//! or that sends garbage, costs one handshake slot until its deadline or
//! its failure, and is then logged (at debug level: port scans and stray
//! clients are normal on a network) and dropped, so it can neither hold up
//! nor fail the guest's accept.
//!
//! Host memory and descriptors stay bounded: the task accepts only while
//! fewer than [`MAX_HANDSHAKES`] handshakes run and fewer than
//! [`MAX_READY`] sessions wait for the guest, so a listener holds fewer than
//! `MAX_HANDSHAKES + MAX_READY` connections. Meanwhile further connections
//! wait in the kernel's listen backlog (which refuses or ignores new ones
//! once it is full) until a slot frees up; nothing that already connected is
//! dropped for lack of room.
//!
//! The tasks run on a small executor of their own ("lunatic-tls" threads),
//! so handshake cryptography never occupies the process executor and the
//! deterministic scheduler's schedule does not see them. Dropping the
//! listener (or the end of its process) cancels its task, which closes the
//! listening socket and every connection still in its handshake or queue.
//!
//! Order: with the threaded scheduler, sessions are handed out as their
//! handshakes complete. With the deterministic scheduler they are handed
//! out in the order their TCP connections were accepted (failed ones
//! skipped), so the guest's view does not depend on thread timing; a
//! silent client there delays later clients until its deadline, but still
//! cannot stop the server.

use super::tls_session::TlsSession;
use super::{Sock, TlsStream};
use async_executor::{Executor, Task};
use async_io::{Async, Timer};
use event_listener::Event;
use futures_lite::future;
use rustls::ServerConfig;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

/// Most handshakes one listener runs at once.
pub(crate) const MAX_HANDSHAKES: usize = 64;

/// Most completed sessions (or accept errors) one listener keeps for the guest.
pub(crate) const MAX_READY: usize = 64;

/// Environment variable overriding the handshake deadline, in milliseconds.
pub(crate) const HANDSHAKE_TIMEOUT_ENV: &str = "LUNATIC_TLS_HANDSHAKE_TIMEOUT_MS";

/// The default handshake deadline.
const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the task pauses after an accept error that is not about one
/// connection (e.g. out of file descriptors), so it does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// What `tls_accept` receives: a session and its peer, or an accept error.
pub(crate) type Accepted = io::Result<(TlsStream, SocketAddr)>;

/// The deadline of each server-side handshake: [`HANDSHAKE_TIMEOUT_ENV`]
/// if it is set to a whole number of milliseconds (at least 1), else 10 s.
pub(crate) fn handshake_timeout() -> Duration {
    static TIMEOUT: OnceLock<Duration> = OnceLock::new();
    *TIMEOUT.get_or_init(|| match std::env::var(HANDSHAKE_TIMEOUT_ENV) {
        Err(_) => DEFAULT_HANDSHAKE_TIMEOUT,
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(ms) if ms > 0 => Duration::from_millis(ms),
            _ => {
                log::warn!(
                    target: "lunatic::networking",
                    "ignoring {HANDSHAKE_TIMEOUT_ENV}={text:?}: not a positive number of milliseconds"
                );
                DEFAULT_HANDSHAKE_TIMEOUT
            }
        },
    })
}

/// The executor the accept tasks run on, with its threads (started once).
fn executor() -> io::Result<&'static Arc<Executor<'static>>> {
    static EXECUTOR: OnceLock<Arc<Executor<'static>>> = OnceLock::new();
    static STARTED: Mutex<()> = Mutex::new(());
    if let Some(executor) = EXECUTOR.get() {
        return Ok(executor);
    }
    let _once = STARTED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(executor) = EXECUTOR.get() {
        return Ok(executor);
    }
    let executor = Arc::new(Executor::new());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
    for i in 0..threads {
        let executor = executor.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("lunatic-tls-{i}"))
            .spawn(move || async_io::block_on(executor.run(future::pending::<()>())));
        // One thread is enough to make progress; more only spread listeners.
        if let Err(e) = spawned {
            if i == 0 {
                return Err(e);
            }
            break;
        }
    }
    Ok(EXECUTOR.get_or_init(|| executor))
}

/// The host side of one TLS listener: its accept task and the queue the
/// task fills. Dropping it cancels the task.
pub(crate) struct Acceptor {
    queue: Arc<Queue>,
    _task: Task<()>,
}

impl Acceptor {
    /// Starts accepting on `tcp`. `ordered`: hand sessions out in accept
    /// order (deterministic scheduler) instead of completion order.
    /// `handovers`: the hot-reload listener table, when the listener's
    /// process runs a module version (accepting stops once the socket is
    /// handed over to a newer version).
    pub(crate) fn start(
        tcp: Arc<Sock<Async<TcpListener>>>,
        config: Arc<ServerConfig>,
        ordered: bool,
        handovers: Option<Arc<super::handover::Handovers>>,
    ) -> io::Result<Self> {
        let queue = Arc::new(Queue::new(ordered));
        let deadline = handshake_timeout();
        let task = executor()?.spawn(run(tcp, config, queue.clone(), deadline, handovers));
        Ok(Self { queue, _task: task })
    }

    /// Its queue, to ask whether it is idle.
    pub(crate) fn clone_queue(&self) -> Arc<Queue> {
        self.queue.clone()
    }

    /// The next completed session (or accept error), waiting for one.
    pub(crate) async fn next(&self) -> Accepted {
        loop {
            let changed = self.queue.changed.listen();
            if let Some(accepted) = self.queue.pop() {
                return accepted;
            }
            changed.await;
        }
    }
}

/// The connections of one listener between TCP accept and `tls_accept`.
pub(crate) struct Queue {
    state: Mutex<QueueState>,
    /// Notified on every change (a handshake ended, the guest took one).
    changed: Event,
    ordered: bool,
}

#[derive(Default)]
struct QueueState {
    /// Number of the next accepted connection.
    next: u64,
    /// Connections in their handshake.
    running: BTreeSet<u64>,
    /// Completed sessions and accept errors, by connection number.
    ready: BTreeMap<u64, Accepted>,
}

impl Queue {
    fn new(ordered: bool) -> Self {
        Self { state: Mutex::default(), changed: Event::new(), ordered }
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether no handshake runs and no session waits for the guest.
    pub(crate) fn is_idle(&self) -> bool {
        let state = self.lock();
        state.running.is_empty() && state.ready.is_empty()
    }

    /// Whether another connection may be accepted now.
    fn has_room(&self) -> bool {
        let state = self.lock();
        state.running.len() < MAX_HANDSHAKES && state.ready.len() < MAX_READY
    }

    /// Numbers a new connection, in its handshake.
    fn start(&self) -> u64 {
        let mut state = self.lock();
        let n = state.next;
        state.next += 1;
        state.running.insert(n);
        n
    }

    /// Connection `n`'s handshake ended; `Some` is for the guest.
    fn finish(&self, n: u64, outcome: Option<Accepted>) {
        {
            let mut state = self.lock();
            state.running.remove(&n);
            if let Some(accepted) = outcome {
                state.ready.insert(n, accepted);
            }
        }
        self.changed.notify(usize::MAX);
    }

    /// An accept error for the guest, in line with the connections.
    fn push_error(&self, error: io::Error) {
        {
            let mut state = self.lock();
            let n = state.next;
            state.next += 1;
            state.ready.insert(n, Err(error));
        }
        self.changed.notify(usize::MAX);
    }

    /// Takes the next entry for the guest, if one is ready (in accept order
    /// when ordered: not before every earlier handshake ended).
    fn pop(&self) -> Option<Accepted> {
        let taken = {
            let mut state = self.lock();
            let first = *state.ready.keys().next()?;
            if self.ordered && state.running.first().is_some_and(|&r| r < first) {
                return None;
            }
            state.ready.remove(&first)
        };
        // Room for the accept task.
        self.changed.notify(usize::MAX);
        taken
    }
}

/// The accept task: accepts while there is room and starts each
/// connection's handshake on an executor it owns, so dropping the task
/// drops every handshake in progress with it.
async fn run(
    tcp: Arc<Sock<Async<TcpListener>>>,
    config: Arc<ServerConfig>,
    queue: Arc<Queue>,
    deadline: Duration,
    handovers: Option<Arc<super::handover::Handovers>>,
) {
    let handshakes = Executor::new();
    let accepting = accept_loop(&handshakes, tcp.clone(), config, queue, deadline);
    match handovers {
        // Once the socket is handed over, accept no more (the accept loop
        // is dropped); handshakes already running finish.
        Some(table) => {
            let run = async {
                future::or(async { table.wait(&tcp).await }, accepting).await;
                future::pending::<()>().await
            };
            handshakes.run(run).await
        }
        None => handshakes.run(accepting).await,
    }
}

async fn accept_loop(
    handshakes: &Executor<'static>,
    tcp: Arc<Sock<Async<TcpListener>>>,
    config: Arc<ServerConfig>,
    queue: Arc<Queue>,
    deadline: Duration,
) {
    let Ok(listener) = tcp.get() else {
        return; // A replay's stand-in: no connection ever comes.
    };
    loop {
        loop {
            let changed = queue.changed.listen();
            if queue.has_room() {
                break;
            }
            changed.await;
        }
        match listener.accept().await {
            Ok((stream, peer)) => {
                let n = queue.start();
                let (config, queue) = (config.clone(), queue.clone());
                handshakes
                    .spawn(async move {
                        let outcome = match handshake(stream, config, deadline).await {
                            Ok(stream) => Some(Ok((stream, peer))),
                            Err(why) => {
                                log::debug!(
                                    target: "lunatic::networking",
                                    "TLS handshake with {peer} dropped: {why}"
                                );
                                None
                            }
                        };
                        queue.finish(n, outcome);
                    })
                    .detach();
            }
            // About that one connection (it went away before we took it).
            Err(e) if per_connection(&e) => {
                log::debug!(target: "lunatic::networking", "TLS listener: accept: {e}");
            }
            Err(e) => {
                log::warn!(target: "lunatic::networking", "TLS listener: accept failed: {e}");
                queue.push_error(e);
                Timer::after(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
}

/// Accept errors that concern one connection only, not the listener.
fn per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// Runs the server side of one handshake, giving up after `deadline`.
async fn handshake(
    tcp: Async<TcpStream>,
    config: Arc<ServerConfig>,
    deadline: Duration,
) -> Result<TlsStream, String> {
    let conn = rustls::ServerConnection::new(config).map_err(|e| e.to_string())?;
    let session = TlsSession::new(tcp, conn);
    let done = future::or(async { Some(session.handshake().await) }, async {
        Timer::after(deadline).await;
        None
    })
    .await;
    match done {
        Some(Ok(())) => Ok(TlsStream(Arc::new(session))),
        Some(Err(e)) => Err(e.to_string()),
        None => Err(format!("not completed within {deadline:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tls_config::{self, tests::self_signed};
    use super::*;
    use rustls::pki_types::ServerName;
    use rustls::RootCertStore;
    use std::io::{Read, Write};
    use std::time::Instant;

    fn entry(port: u16) -> Accepted {
        Err(io::Error::other(format!("entry {port}")))
    }

    fn label(accepted: Option<Accepted>) -> Option<String> {
        accepted.map(|a| a.err().unwrap().to_string())
    }

    #[test]
    fn the_queue_hands_out_by_completion_or_in_accept_order() {
        for ordered in [false, true] {
            let queue = Queue::new(ordered);
            let (a, b, c) = (queue.start(), queue.start(), queue.start());
            assert!(queue.pop().is_none());
            queue.finish(b, Some(entry(2)));
            // b is done while a still runs: only the unordered queue gives it out.
            assert_eq!(label(queue.pop()).is_some(), !ordered);
            queue.finish(a, None); // a failed: skipped
            if ordered {
                assert_eq!(label(queue.pop()).as_deref(), Some("entry 2"));
            }
            assert!(queue.pop().is_none());
            queue.push_error(io::Error::other("entry 9"));
            // The error came after c: in order, it waits for c.
            assert_eq!(label(queue.pop()).is_some(), !ordered);
            queue.finish(c, Some(entry(3)));
            let rest: Vec<_> = std::iter::from_fn(|| label(queue.pop())).collect();
            let want: &[&str] = if ordered { &["entry 3", "entry 9"] } else { &["entry 3"] };
            assert_eq!(rest, want);
        }
    }

    #[test]
    fn the_queue_has_room_up_to_its_caps() {
        let queue = Queue::new(false);
        let started: Vec<u64> = (0..MAX_HANDSHAKES).map(|_| queue.start()).collect();
        assert!(!queue.has_room());
        queue.finish(started[0], None);
        assert!(queue.has_room());
        for &n in &started[1..] {
            queue.finish(n, Some(entry(1)));
        }
        for _ in MAX_HANDSHAKES - 1..MAX_READY {
            queue.push_error(io::Error::other("x"));
        }
        assert!(!queue.has_room(), "the ready queue is full");
        assert!(queue.pop().is_some());
        assert!(queue.has_room());
    }

    /// A listener on loopback with an acceptor, and a client config for it.
    fn serve() -> (Acceptor, SocketAddr, Arc<rustls::ClientConfig>) {
        let (cert, key) = self_signed(&["localhost"]);
        let config = tls_config::server_config(cert.as_bytes(), key.as_bytes()).unwrap();
        let mut roots = RootCertStore::empty();
        tls_config::add_ca_pem(&mut roots, cert.as_bytes());
        let client = tls_config::client_config(roots).unwrap();
        let tcp = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
        let addr = tcp.get_ref().local_addr().unwrap();
        let acceptor = Acceptor::start(Arc::new(Sock::new(tcp)), config, false, None).unwrap();
        (acceptor, addr, client)
    }

    /// A blocking rustls client that writes `hello` and closes.
    fn client(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            let name = ServerName::try_from("localhost").unwrap();
            let mut conn = rustls::ClientConnection::new(config, name).unwrap();
            let mut tcp = std::net::TcpStream::connect(addr).unwrap();
            let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
            tls.write_all(b"hello").unwrap();
            tls.flush().unwrap();
        })
    }

    #[test]
    fn bad_clients_neither_block_nor_fail_the_accept() {
        let (acceptor, addr, config) = serve();
        // Connect and close (a port scan), garbage, and a silent client that stays.
        drop(std::net::TcpStream::connect(addr).unwrap());
        let mut garbage = std::net::TcpStream::connect(addr).unwrap();
        garbage.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let _silent = std::net::TcpStream::connect(addr).unwrap();
        let good = client(addr, config);
        let started = Instant::now();
        let (stream, peer) = future::block_on(acceptor.next()).unwrap();
        assert!(started.elapsed() < Duration::from_secs(5), "served before the silent client's deadline");
        assert_eq!(peer.ip(), addr.ip());
        let mut buf = [0u8; 5];
        let n = future::block_on(stream.0.read(&mut buf)).unwrap();
        assert_eq!(&buf[..n], b"hello");
        good.join().unwrap();
        // The garbage client got an alert (content type 21) and the end.
        let mut answer = Vec::new();
        garbage.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = garbage.read_to_end(&mut answer);
        assert_eq!(answer.first(), Some(&21));
        // Nothing else reached the queue.
        assert!(acceptor.queue.pop().is_none());
    }

    #[test]
    fn a_silent_client_meets_the_deadline() {
        let (cert, key) = self_signed(&["localhost"]);
        let config = tls_config::server_config(cert.as_bytes(), key.as_bytes()).unwrap();
        let tcp = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
        let addr = tcp.get_ref().local_addr().unwrap();
        let _silent = std::net::TcpStream::connect(addr).unwrap();
        let why = future::block_on(async {
            let (stream, _) = tcp.accept().await.unwrap();
            handshake(stream, config, Duration::from_millis(50)).await.err().unwrap()
        });
        assert!(why.contains("not completed within 50ms"), "{why}");
    }

    #[test]
    fn dropping_the_acceptor_closes_its_connections() {
        let (acceptor, addr, _) = serve();
        let mut silent = std::net::TcpStream::connect(addr).unwrap();
        // Wait until the task took the connection (its handshake runs).
        let started = Instant::now();
        while acceptor.queue.lock().running.is_empty() {
            assert!(started.elapsed() < Duration::from_secs(5), "never accepted");
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(acceptor);
        silent.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 8];
        // The connection ends (EOF or reset), well before the 10 s deadline.
        let ended = match silent.read(&mut buf) {
            Ok(n) => n == 0,
            Err(e) => e.kind() == io::ErrorKind::ConnectionReset,
        };
        assert!(ended && started.elapsed() < Duration::from_secs(5));
        // And the listening socket is closed: new connections are refused.
        let started = Instant::now();
        while std::net::TcpStream::connect(addr).is_ok() {
            assert!(started.elapsed() < Duration::from_secs(5), "still listening");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
