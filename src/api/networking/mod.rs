//! `lunatic::networking`: DNS, TCP, UDP and TLS (abi.md §2.9).
//!
//! Sockets are non-blocking `async_io::Async` values. A host function that
//! has to wait copies its inputs out of guest memory (so a bad pointer traps
//! before any I/O happens), then suspends the process on a future that owns
//! everything it needs; the future's completion writes the results back.
//! Waits go through async-io's readiness futures (`read_with`, `readable`),
//! which keep one waker per waiting task, so clones of one stream used by
//! several processes at once never take each other's wake-ups. Timeouts are
//! timers of the scheduler, raced against the operation.

mod addr;
mod dns;
mod edge;
pub(crate) mod handover;
mod tcp;
mod tls;
mod tls_accept;
mod tls_config;
mod tls_session;
mod udp;

// For the command line's host-override flag (same format as LUNATIC_RESOLVE).
#[allow(unused_imports)]
pub(crate) use dns::{parse_resolve_list, RESOLVE_ENV};
pub(crate) use edge::Reactor as EdgeReactor;

/// The runtime's epoll instance TCP reads wait in (threaded scheduler on
/// Linux/Android only), made at the first read.
fn edge_reactor(runtime: &crate::protocol::Runtime) -> Option<Arc<EdgeReactor>> {
    struct Edge(Option<Arc<EdgeReactor>>);
    runtime.shared(|runtime| Edge(EdgeReactor::start(runtime.scheduler()))).0.clone()
}

use super::fail_with;
use crate::protocol::{guest, Table};
use crate::engine::HostFunctions;
use crate::protocol::{completion, Completion, Pending, ProcessState, TIMEOUT};
use crate::replay;
use crate::scheduler::{BoxFuture, Scheduler};
use async_io::Async;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wasmi::{Error, Val};

/// The import module name.
const M: &str = "lunatic::networking";

/// Largest host buffer for one read; a read may always return less.
const MAX_READ: usize = 64 * 1024;

/// Most bytes one stream write takes from the guest; a write may always be
/// partial, and guests write the rest in the next call.
const MAX_WRITE: usize = 1024 * 1024;

/// Most I/O vectors one write looks at (Linux's `IOV_MAX`): the rest of a
/// longer array is left for the next call, so a guest cannot make one call
/// walk millions of records.
const MAX_IOVECS: usize = 1024;

/// Longest host name (or `host:port` text) a lookup or connect takes; DNS
/// names have at most 253 characters.
const MAX_HOST_NAME: u32 = 1024;

/// Largest UDP payload (IPv6 jumbograms aside): a longer buffer is copied
/// only this far plus one byte, enough for the send to fail as the system
/// makes it fail, without copying all of it.
const MAX_DATAGRAM: u32 = 65_535;

/// Registers all 49 `lunatic::networking` functions.
pub(crate) fn register(host: &mut HostFunctions<ProcessState>) {
    dns::register(host);
    tcp::register(host);
    tls::register(host);
    udp::register(host);
}

/// The networking resource tables of one process (abi.md §1.2).
pub(crate) struct NetResources {
    pub(crate) dns: Table<dns::DnsIterator>,
    pub(crate) tcp_listeners: Table<TcpListener>,
    pub(crate) tcp_streams: Table<TcpStream>,
    pub(crate) tls_listeners: Table<Arc<tls::TlsListener>>,
    pub(crate) tls_streams: Table<TlsStream>,
    pub(crate) udp_sockets: Table<UdpSocket>,
}

impl Default for NetResources {
    fn default() -> Self {
        Self {
            dns: Table::new("DNS iterator"),
            tcp_listeners: Table::new("TCP listener"),
            tcp_streams: Table::new("TCP stream"),
            tls_listeners: Table::new("TLS listener"),
            tls_streams: Table::new("TLS stream"),
            udp_sockets: Table::new("UDP socket"),
        }
    }
}

/// A handle to a TCP connection. Clones (`clone_tcp_stream`) and handles
/// moved through messages share the socket and its timeouts; the socket
/// closes when the last handle is dropped.
#[derive(Clone)]
pub struct TcpStream(pub(crate) Arc<tcp::Shared>);

/// A handle to a TLS session over TCP, shared like [`TcpStream`].
#[derive(Clone)]
pub struct TlsStream(pub(crate) Arc<tls_session::TlsSession>);

/// A handle to a UDP socket, shared like [`TcpStream`].
#[derive(Clone)]
pub struct UdpSocket(pub(crate) Arc<Sock<Async<std::net::UdpSocket>>>);

/// A TCP listener in a process's table.
pub(crate) type TcpListener = Arc<Sock<Async<std::net::TcpListener>>>;

/// A socket, or its stand-in while a recording is replayed: then no I/O
/// reaches it, every answer comes from the recording (see [`crate::replay`]).
pub(crate) struct Sock<S>(Option<S>);

impl<S> Sock<S> {
    pub(crate) fn new(socket: S) -> Self {
        Self(Some(socket))
    }

    /// The socket; an error for a replay's stand-in (never reached: a
    /// replay does not run the operations that would use it).
    pub(crate) fn get(&self) -> std::io::Result<&S> {
        self.0.as_ref().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::Unsupported, "a replayed socket has no connection")
        })
    }
}

/// Sockets in a recording: only that one was made; a replay gets a stand-in.
macro_rules! recorded_socket {
    ($ty:ty, $token:literal, $standin:expr) => {
        impl replay::Value for $ty {
            fn put(&self, out: &mut Vec<String>) {
                out.push($token.into());
            }
            fn take(input: &mut replay::value::Tokens<'_>) -> Result<Self, String> {
                match input.next($token)? {
                    $token => Ok($standin),
                    other => Err(format!("expected {}, found `{other}`", $token)),
                }
            }
        }
    };
}
recorded_socket!(TcpStream, "stream", TcpStream(Arc::new(tcp::Shared::new(Sock(None)))));
recorded_socket!(TcpListener, "listener", Arc::new(Sock(None)));
recorded_socket!(UdpSocket, "socket", UdpSocket(Arc::new(Sock(None))));

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let peer = self.0.stream.get().ok().and_then(|s| s.get_ref().peer_addr().ok());
        write!(f, "TcpStream({peer:?})")
    }
}

impl fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TlsStream({:?})", self.0.peer_addr().ok())
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let local = self.0.get().ok().and_then(|s| s.get_ref().local_addr().ok());
        write!(f, "UdpSocket({local:?})")
    }
}

/// A per-stream timeout in milliseconds as the guest sees it; `u64::MAX`
/// means none (the initial value).
pub(crate) struct Timeout(AtomicU64);

impl Default for Timeout {
    fn default() -> Self {
        Self(AtomicU64::new(u64::MAX))
    }
}

impl Timeout {
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn set(&self, ms: u64) {
        self.0.store(ms, Ordering::Relaxed)
    }
}

/// A timer on the scheduler's clock for a guest timeout in milliseconds
/// (`u64::MAX`: none). It starts now, when the host function is called.
fn timer(scheduler: &dyn Scheduler, timeout_ms: u64) -> Option<BoxFuture<()>> {
    (timeout_ms != u64::MAX)
        .then(|| crate::scheduler::sleep(scheduler, Duration::from_millis(timeout_ms)))
}

/// Runs `op`, giving up when `timer` fires first (`None`). The operation is
/// polled first, so a zero timeout still tries once (abi.md §1.3).
async fn timed<T>(timer: Option<BoxFuture<()>>, op: impl Future<Output = T>) -> Option<T> {
    match timer {
        None => Some(op.await),
        Some(timer) => {
            futures_lite::future::or(async { Some(op.await) }, async {
                timer.await;
                None
            })
            .await
        }
    }
}

/// Suspends the calling process until `work` yields its completion.
fn suspend_on<F>(state: &mut ProcessState, work: F) -> Error
where
    F: Future<Output = Completion> + Send + 'static,
{
    // Sockets answer in real time: a deterministic scheduler must not jump
    // its clock past a timeout while they may still do so.
    let work = crate::scheduler::external(state.runtime.scheduler(), work);
    crate::protocol::suspend(state, Pending::Async(work))
}

/// Suspends the calling process until `op` (raced against `timer`) is done
/// and `finish` made its completion. While a run is recorded or replayed
/// this goes through the [`World`](crate::replay::World): `call` describes
/// the call for the recording, and a replay never runs `op`.
fn wait_on<T, Op, Fin>(
    state: &mut ProcessState,
    call: impl FnOnce() -> replay::Call,
    timer: Option<BoxFuture<()>>,
    op: Op,
    finish: Fin,
) -> Error
where
    T: replay::Value,
    Op: Future<Output = T> + Send + 'static,
    Fin: FnOnce(Option<T>) -> Completion + Send + 'static,
{
    match state.runtime.world().cloned() {
        None => suspend_on(state, async move { finish(timed(timer, op).await) }),
        Some(world) => crate::protocol::world::external(&world, state, call(), timer, op, finish),
    }
}

/// Whether a socket call may first try its operation at once, without
/// suspending the process: most reads and writes of a busy connection
/// complete right away. Not while a run is recorded or replayed (every
/// answer goes through the recording) nor in deterministic mode (which
/// counts each wait on the outside world).
fn direct_io(state: &ProcessState) -> bool {
    state.runtime.world().is_none() && !state.runtime.scheduler().inline_blocking()
}

/// The error for an operation that ended without an answer, which only a
/// timer can cause: used where no timer runs, instead of a panic.
fn no_answer() -> std::io::Error {
    std::io::Error::other("the operation ended without an answer")
}

/// Whether a direct attempt must instead wait for the socket.
fn would_wait(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted)
}

/// A copy of `data` for the recording, only when one is made or replayed.
fn for_world(state: &ProcessState, data: &[u8]) -> Vec<u8> {
    if state.runtime.world().is_some() {
        data.to_vec()
    } else {
        Vec::new()
    }
}

/// How an operation reporting "status + u64 at an out pointer" ended.
enum Outcome {
    /// Status 0, the value is written.
    Done(u64),
    /// Status 1, an error ID is written.
    Failed(anyhow::Error),
    /// Status 9027, nothing is written.
    TimedOut,
}

impl Outcome {
    fn from_io<T>(result: Option<std::io::Result<T>>, value: impl FnOnce(T) -> u64) -> Self {
        match result {
            None => Outcome::TimedOut,
            Some(Ok(v)) => Outcome::Done(value(v)),
            Some(Err(e)) => Outcome::Failed(e.into()),
        }
    }

    /// Writes the outcome at `out_ptr` and returns the status.
    fn write(
        self,
        memory: &mut [u8],
        state: &mut ProcessState,
        out_ptr: u32,
    ) -> Result<i32, Error> {
        match self {
            Outcome::Done(value) => {
                guest::write_u64(memory, out_ptr, value)?;
                Ok(0)
            }
            Outcome::Failed(error) => fail_with(memory, state, out_ptr, error),
            Outcome::TimedOut => Ok(TIMEOUT),
        }
    }
}

/// A completion that writes `outcome` at `out_ptr` and returns its status.
fn report(out_ptr: u32, outcome: Outcome) -> Completion {
    completion(move |ctx| {
        let (memory, state) = guest::memory_and_state(ctx)?;
        Ok(vec![Val::I32(outcome.write(memory, state, out_ptr)?)])
    })
}

/// A completion for reads: copies the bytes read to `buf_ptr` and their
/// count to `out_ptr`.
fn report_read(buf_ptr: u32, out_ptr: u32, result: Option<std::io::Result<Vec<u8>>>) -> Completion {
    completion(move |ctx| {
        let (memory, state) = guest::memory_and_state(ctx)?;
        if let Some(Ok(bytes)) = &result {
            guest::write(memory, buf_ptr, bytes)?;
        }
        let outcome = Outcome::from_io(result, |bytes| bytes.len() as u64);
        Ok(vec![Val::I32(outcome.write(memory, state, out_ptr)?)])
    })
}

/// Checks that `len` bytes at `ptr` may be written later, so a bad out
/// pointer traps before the operation starts.
fn check_out(memory: &[u8], ptr: u32, len: u32) -> Result<(), Error> {
    guest::range(memory, ptr, len).map(drop)
}

/// A zeroed host buffer for reading into the guest buffer `ptr..ptr+len`
/// (checked here), at most [`MAX_READ`] bytes long.
fn read_buffer(memory: &[u8], ptr: u32, len: u32) -> Result<Vec<u8>, Error> {
    guest::range(memory, ptr, len)?;
    Ok(vec![0; (len as usize).min(MAX_READ)])
}

/// Copies the bytes of `count` I/O vectors (`{ptr: u32, len: u32}` records
/// at `ptr`) into one buffer of at most `limit` bytes. The record array
/// must lie in memory; of its first [`MAX_IOVECS`] records every vector is
/// bounds-checked, also those beyond the limit; later ones are not read (a
/// write may always be partial).
fn gather(memory: &[u8], ptr: u32, count: u32, limit: usize) -> Result<Vec<u8>, Error> {
    let records =
        count.checked_mul(8).ok_or_else(|| crate::errors::trap("I/O vector array too long"))?;
    let records = guest::bytes(memory, ptr, records)?;
    let mut data = Vec::new();
    for record in records.chunks_exact(8).take(MAX_IOVECS) {
        let part_ptr = u32::from_le_bytes(record[..4].try_into().expect("4 bytes"));
        let part_len = u32::from_le_bytes(record[4..].try_into().expect("4 bytes"));
        let part = guest::bytes(memory, part_ptr, part_len)?;
        let room = limit - data.len();
        data.extend_from_slice(&part[..part.len().min(room)]);
    }
    Ok(data)
}

/// A host name (or `host:port` text) from the guest: the bytes must lie in
/// memory and be UTF-8 (else trap); a name longer than [`MAX_HOST_NAME`] is
/// an error for the guest, found without reading it all.
fn host_name(memory: &[u8], ptr: u32, len: u32) -> Result<std::io::Result<String>, Error> {
    guest::range(memory, ptr, len)?;
    if len > MAX_HOST_NAME {
        let e = std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("host name of {len} bytes (at most {MAX_HOST_NAME})"),
        );
        return Ok(Err(e));
    }
    Ok(Ok(guest::str(memory, ptr, len)?.to_string()))
}

/// Stores a DNS iterator holding `addrs` and returns its ID; traps when the
/// process already holds the most a table may (iterators hold no socket, so
/// nothing else bounds them).
fn add_addrs(state: &mut ProcessState, addrs: impl IntoIterator<Item = SocketAddr>) -> Result<u64, Error> {
    state.contexts.resources().net.dns.try_add(dns::DnsIterator::new(addrs))
}

/// Reports a socket's own or peer address as a one-element DNS iterator
/// written at `id_ptr` (status 0), or the OS error (status 1).
fn report_addr(
    memory: &mut [u8],
    state: &mut ProcessState,
    id_ptr: u32,
    addr: std::io::Result<SocketAddr>,
) -> Result<i32, Error> {
    check_out(memory, id_ptr, 8)?;
    let id = match addr {
        Ok(addr) => Ok(add_addrs(state, [addr])?),
        Err(e) => Err(e),
    };
    Outcome::from_io(Some(id), |id| id).write(memory, state, id_ptr)
}

/// The completion of `tcp_accept` and `tls_accept`: status 0 with the new
/// stream's ID (stored by `add`) at `id_ptr` and a peer-address iterator at
/// `peer_ptr`, or status 1 with an error ID and peer 0.
fn report_accepted<S: Send + 'static>(
    id_ptr: u32,
    peer_ptr: u32,
    accepted: std::io::Result<(S, SocketAddr)>,
    add: fn(&mut ProcessState, S) -> u64,
) -> Completion {
    completion(move |ctx| {
        let (memory, state) = guest::memory_and_state(ctx)?;
        let status = match accepted {
            Ok((stream, peer)) => {
                let stream_id = add(state, stream);
                let peer_id = add_addrs(state, [peer])?;
                guest::write_u64(memory, id_ptr, stream_id)?;
                guest::write_u64(memory, peer_ptr, peer_id)?;
                0
            }
            Err(e) => {
                guest::write_u64(memory, peer_ptr, 0)?;
                Outcome::Failed(e.into()).write(memory, state, id_ptr)?
            }
        };
        Ok(vec![Val::I32(status)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_copies_vectors_up_to_the_limit() {
        let mut memory = vec![0u8; 64];
        memory[32..37].copy_from_slice(b"hello");
        memory[40..46].copy_from_slice(b" world");
        let records: [u32; 4] = [32, 5, 40, 6];
        for (i, v) in records.iter().enumerate() {
            memory[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        assert_eq!(gather(&memory, 0, 2, 100).unwrap(), b"hello world");
        assert_eq!(gather(&memory, 0, 2, 7).unwrap(), b"hello w");
        assert_eq!(gather(&memory, 0, 0, 7).unwrap(), b"");
        // A vector out of bounds traps even when the limit is reached before it.
        memory[12..16].copy_from_slice(&1000u32.to_le_bytes());
        assert!(gather(&memory, 0, 2, 3).is_err());
        // So does the record array itself.
        assert!(gather(&memory, 60, 1, 3).is_err());
        assert!(gather(&memory, 0, u32::MAX, 3).is_err());
    }

    #[test]
    fn gather_reads_at_most_max_iovecs_records() {
        // MAX_IOVECS + 1 records of one byte each; the last one is out of bounds.
        let count = MAX_IOVECS + 1;
        let mut memory = vec![b'x'; count * 8 + 16];
        for i in 0..count {
            let part_ptr = if i == MAX_IOVECS { u32::MAX } else { (count * 8) as u32 };
            memory[i * 8..i * 8 + 4].copy_from_slice(&part_ptr.to_le_bytes());
            memory[i * 8 + 4..i * 8 + 8].copy_from_slice(&1u32.to_le_bytes());
        }
        let data = gather(&memory, 0, count as u32, MAX_WRITE).unwrap();
        assert_eq!(data.len(), MAX_IOVECS, "the record past the cap is not read");
        // The record array itself is still checked as a whole.
        assert!(gather(&memory, 8, count as u32, MAX_WRITE).is_err());
    }

    #[test]
    fn host_names_are_bounded() {
        let mut memory = vec![b'a'; 4096];
        assert_eq!(host_name(&memory, 0, 9).unwrap().unwrap(), "aaaaaaaaa");
        let long = host_name(&memory, 0, MAX_HOST_NAME + 1).unwrap().unwrap_err();
        assert_eq!(long.kind(), std::io::ErrorKind::InvalidInput);
        assert!(host_name(&memory, 4000, 200).is_err(), "out of bounds traps");
        memory[0] = 0xff;
        assert!(host_name(&memory, 0, 4).is_err(), "invalid UTF-8 traps");
        assert!(host_name(&memory, 0, 2000).unwrap().is_err(), "too long: not even read");
    }

    #[test]
    fn timeouts_start_as_none() {
        let t = Timeout::default();
        assert_eq!(t.get(), u64::MAX);
        t.set(5);
        assert_eq!(t.get(), 5);
    }

    #[test]
    fn zero_timeout_still_tries_once() {
        let scheduler = crate::scheduler::Deterministic::new(1);
        let ready = futures_lite::future::block_on(timed(timer(&scheduler, 0), async { 7 }));
        assert_eq!(ready, Some(7));
        let pending = futures_lite::future::block_on(timed(
            timer(&scheduler, 0),
            futures_lite::future::pending::<()>(),
        ));
        assert_eq!(pending, None);
        assert!(timer(&scheduler, u64::MAX).is_none());
    }
}
