//! A rustls session over a non-blocking TCP socket, usable from several
//! processes at once.
//!
//! The session state sits behind a plain mutex that is only held while
//! bytes are shuffled between rustls and the socket, never across a wait,
//! so one process blocked reading does not block another one writing
//! through a clone. Waiting uses async-io's readiness futures, which serve
//! any number of waiters. A reader that takes bytes off the socket may leave
//! decrypted data for others; it then wakes other waiting readers, which
//! would otherwise wait for the socket in vain.
//!
//! While a recording is replayed, sessions are stand-ins without socket or
//! rustls state: every answer comes from the recording (see
//! [`crate::replay`]), so no operation ever reaches them.

use super::Timeout;
use crate::scheduler::BoxFuture;
use async_io::Async;
use event_listener::Event;
use futures_lite::future;
use rustls::Connection;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// One TLS connection (client or server side), or a replay's stand-in.
pub(crate) struct TlsSession {
    /// The connection; `None` for a replay's stand-in.
    link: Option<Link>,
    pub(crate) read_timeout: Timeout,
    pub(crate) write_timeout: Timeout,
}

/// The socket and the rustls state of a real session.
struct Link {
    tcp: Async<TcpStream>,
    state: Mutex<State>,
    /// Notified whenever a reader finished, so other readers look again.
    read_done: Event,
}

struct State {
    conn: Connection,
    /// The peer closed the TCP connection.
    eof: bool,
}

impl TlsSession {
    pub(crate) fn new(tcp: Async<TcpStream>, conn: impl Into<Connection>) -> Self {
        Self::with(Some(Link {
            tcp,
            state: Mutex::new(State { conn: conn.into(), eof: false }),
            read_done: Event::new(),
        }))
    }

    /// A replay's stand-in: it has timeouts but no connection.
    pub(crate) fn stand_in() -> Self {
        Self::with(None)
    }

    fn with(link: Option<Link>) -> Self {
        Self { link, read_timeout: Timeout::default(), write_timeout: Timeout::default() }
    }

    /// The connection; an error for a stand-in (never reached: a replay
    /// does not run the operations that would use it).
    fn link(&self) -> io::Result<&Link> {
        self.link.as_ref().ok_or_else(|| {
            io::Error::new(ErrorKind::Unsupported, "a replayed TLS stream has no connection")
        })
    }

    pub(crate) fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.link()?.tcp.get_ref().peer_addr()
    }

    /// Runs the handshake to its end (and sends its last flight).
    pub(crate) async fn handshake(&self) -> io::Result<()> {
        self.link()?.handshake().await
    }

    /// Reads decrypted bytes: 0 at a clean end of the stream (or for an
    /// empty buffer). Output left behind by a write that timed out is pushed
    /// along meanwhile, as the peer may be waiting for it before it answers.
    pub(crate) async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.link()?.read(buf).await
    }

    /// Encrypts (part of) `data` and hands it to the socket; returns how many
    /// plaintext bytes were taken. `None`: `timer` fired before any byte was
    /// taken. If it fires later, the taken bytes count as written and what
    /// is still encrypted-but-unsent goes out with the next write, read or
    /// flush (so a guest never writes the same bytes twice).
    pub(crate) async fn write(
        &self,
        data: &[u8],
        timer: Option<BoxFuture<()>>,
    ) -> Option<io::Result<usize>> {
        match self.link() {
            Ok(link) => link.write(data, timer).await,
            Err(e) => Some(Err(e)),
        }
    }

    /// Waits until every encrypted byte is handed to the socket.
    pub(crate) async fn flush(&self) -> io::Result<()> {
        self.link()?.flush().await
    }
}

impl Link {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn handshake(&self) -> io::Result<()> {
        loop {
            let (wait_read, wait_write) = {
                let mut state = self.lock();
                let sent = send_pending(self.tcp.get_ref(), &mut state.conn)?;
                if !state.conn.is_handshaking() {
                    if sent {
                        return Ok(());
                    }
                    (false, true)
                } else if state.conn.wants_read() {
                    let mut socket = self.tcp.get_ref();
                    match state.conn.read_tls(&mut socket) {
                        Ok(0) => {
                            return Err(io::Error::new(
                                ErrorKind::UnexpectedEof,
                                "the peer closed the connection during the TLS handshake",
                            ))
                        }
                        Ok(_) => {
                            process(self.tcp.get_ref(), &mut state.conn)?;
                            continue;
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => (true, !sent),
                        Err(e) => return Err(e),
                    }
                } else {
                    (!sent, !sent)
                }
            };
            match (wait_read, wait_write) {
                (true, true) => future::or(self.tcp.readable(), self.tcp.writable()).await?,
                (false, true) => self.tcp.writable().await?,
                _ => self.tcp.readable().await?,
            }
        }
    }

    async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let (others_done, unsent) = {
                let mut state = self.lock();
                // Best effort: a send error does not stop what can still be read.
                let sent = send_pending(self.tcp.get_ref(), &mut state.conn).unwrap_or(true);
                match self.try_read(&mut state, buf) {
                    Ok(Some(n)) => {
                        drop(state);
                        self.read_done.notify(usize::MAX);
                        return Ok(n);
                    }
                    Err(e) => {
                        drop(state);
                        self.read_done.notify(usize::MAX);
                        return Err(e);
                    }
                    // Listen while still holding the lock: a reader that
                    // finishes after this point will wake us.
                    Ok(None) => (self.read_done.listen(), !sent),
                }
            };
            let others_done = async {
                others_done.await;
                Ok(())
            };
            if unsent {
                let wake = future::or(self.tcp.writable(), others_done);
                future::or(self.tcp.readable(), wake).await?;
            } else {
                future::or(self.tcp.readable(), others_done).await?;
            }
        }
    }

    /// Reads without waiting; `None` when the socket has nothing yet.
    fn try_read(&self, state: &mut State, buf: &mut [u8]) -> io::Result<Option<usize>> {
        loop {
            match state.conn.reader().read(buf) {
                Ok(n) => return Ok(Some(n)),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if state.eof {
                return Ok(Some(0));
            }
            let mut socket = self.tcp.get_ref();
            match state.conn.read_tls(&mut socket) {
                Ok(0) => state.eof = true,
                Ok(_) => process(self.tcp.get_ref(), &mut state.conn)?,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    async fn write(
        &self,
        data: &[u8],
        mut timer: Option<BoxFuture<()>>,
    ) -> Option<io::Result<usize>> {
        let mut taken = None;
        loop {
            {
                let mut state = self.lock();
                let sent = match send_pending(self.tcp.get_ref(), &mut state.conn) {
                    Ok(sent) => sent,
                    Err(e) => return Some(Err(e)),
                };
                match taken {
                    Some(n) if sent => return Some(Ok(n)),
                    Some(_) => {}
                    None => {
                        let n = match state.conn.writer().write(data) {
                            Ok(n) => n,
                            Err(e) => return Some(Err(e)),
                        };
                        if n > 0 || data.is_empty() {
                            match send_pending(self.tcp.get_ref(), &mut state.conn) {
                                Ok(true) => return Some(Ok(n)),
                                Ok(false) => taken = Some(n),
                                // The bytes were taken; the error shows next time.
                                Err(_) => return Some(Ok(n)),
                            }
                        } else if sent {
                            let e = io::Error::new(
                                ErrorKind::WriteZero,
                                "the TLS session takes no more data",
                            );
                            return Some(Err(e));
                        }
                    }
                }
            }
            let writable = self.tcp.writable();
            let ready = match &mut timer {
                None => Some(writable.await),
                Some(timer) => {
                    future::or(async { Some(writable.await) }, async {
                        timer.as_mut().await;
                        None
                    })
                    .await
                }
            };
            match ready {
                Some(Ok(())) => {}
                Some(Err(e)) => return Some(taken.ok_or(e)),
                None => return taken.map(Ok),
            }
        }
    }

    async fn flush(&self) -> io::Result<()> {
        loop {
            if send_pending(self.tcp.get_ref(), &mut self.lock().conn)? {
                return Ok(());
            }
            self.tcp.writable().await?;
        }
    }
}

impl Drop for Link {
    /// The last handle is gone: say goodbye properly if the socket takes it
    /// right away.
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if !state.conn.is_handshaking() {
            state.conn.send_close_notify();
            let _ = send_pending(self.tcp.get_ref(), &mut state.conn);
        }
    }
}

/// Writes what rustls has queued without waiting; true when nothing is left.
fn send_pending(mut socket: &TcpStream, conn: &mut Connection) -> io::Result<bool> {
    while conn.wants_write() {
        match conn.write_tls(&mut socket) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Processes received records. Whatever they call for (alerts, key
/// updates) is sent if the socket takes it now, otherwise with the next
/// write; a protocol error becomes an I/O error after its alert went out.
fn process(socket: &TcpStream, conn: &mut Connection) -> io::Result<()> {
    let result = conn.process_new_packets();
    let sent = send_pending(socket, conn);
    result.map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
    sent.map(drop)
}

#[cfg(test)]
mod tests {
    use super::super::tls_config::{self, tests::self_signed};
    use super::*;
    use rustls::pki_types::ServerName;
    use rustls::RootCertStore;
    use std::sync::Arc;

    /// A connected client/server session pair over loopback.
    fn pair() -> (Arc<TlsSession>, Arc<TlsSession>) {
        let (cert, key) = self_signed(&["localhost"]);
        let server_config = tls_config::server_config(cert.as_bytes(), key.as_bytes()).unwrap();
        let mut roots = RootCertStore::empty();
        assert_eq!(tls_config::add_ca_pem(&mut roots, cert.as_bytes()), 1);
        let client_config = tls_config::client_config(roots).unwrap();
        future::block_on(async {
            let listener = Async::<std::net::TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
            let addr = listener.get_ref().local_addr().unwrap();
            let (client_tcp, accepted) =
                future::zip(Async::<TcpStream>::connect(addr), listener.accept()).await;
            let name = ServerName::try_from("localhost").unwrap();
            let client_conn = rustls::ClientConnection::new(client_config, name).unwrap();
            let server_conn = rustls::ServerConnection::new(server_config).unwrap();
            let client = Arc::new(TlsSession::new(client_tcp.unwrap(), client_conn));
            let server = Arc::new(TlsSession::new(accepted.unwrap().0, server_conn));
            let (a, b) = future::zip(client.handshake(), server.handshake()).await;
            a.unwrap();
            b.unwrap();
            (client, server)
        })
    }

    #[test]
    fn echo_and_clean_close() {
        let (client, server) = pair();
        future::block_on(async {
            assert_eq!(client.write(b"ping", None).await.unwrap().unwrap(), 4);
            let mut buf = [0u8; 16];
            let n = server.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"ping");
            server.write(b"pong", None).await.unwrap().unwrap();
            let n = client.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"pong");
            assert_eq!(client.read(&mut []).await.unwrap(), 0, "empty buffer");
            // Dropping the last handle sends close_notify: a clean EOF.
            drop(client);
            assert_eq!(server.read(&mut buf).await.unwrap(), 0);
        });
    }

    #[test]
    fn large_writes_are_taken_in_parts_while_the_peer_reads() {
        let (client, server) = pair();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        future::block_on(async {
            let send = async {
                let mut at = 0;
                while at < data.len() {
                    at += client.write(&data[at..], None).await.unwrap().unwrap();
                }
                client.flush().await.unwrap();
            };
            let receive = async {
                let mut got = Vec::new();
                let mut buf = vec![0u8; 50_000];
                while got.len() < data.len() {
                    let n = server.read(&mut buf).await.unwrap();
                    assert!(n > 0);
                    got.extend_from_slice(&buf[..n]);
                }
                got
            };
            let ((), got) = future::zip(send, receive).await;
            assert!(got == data);
        });
    }

    #[test]
    fn timed_out_writes_neither_lose_nor_repeat_bytes() {
        let (client, server) = pair();
        future::block_on(async {
            let chunk = vec![1u8; 256 * 1024];
            let (mut accepted, mut timeouts) = (0, 0);
            // Nobody reads yet: the buffers fill up and writes time out.
            for _ in 0..400 {
                let timer: BoxFuture<()> = Box::pin(async {
                    async_io::Timer::after(std::time::Duration::from_millis(1)).await;
                });
                match client.write(&chunk, Some(timer)).await {
                    Some(Ok(n)) => accepted += n,
                    Some(Err(e)) => panic!("write failed: {e}"),
                    None => timeouts += 1,
                }
                if timeouts == 3 {
                    break;
                }
            }
            assert_eq!(timeouts, 3, "the socket never filled up");
            let receive = async {
                let mut total = 0;
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match server.read(&mut buf).await {
                        Ok(0) => break total,
                        Ok(n) => total += n,
                        Err(e) if e.kind() == ErrorKind::UnexpectedEof => break total,
                        Err(e) => panic!("read failed: {e}"),
                    }
                }
            };
            let finish = async move {
                client.flush().await.unwrap();
                drop(client);
            };
            let ((), received) = future::zip(finish, receive).await;
            assert_eq!(received, accepted);
        });
    }

    #[test]
    fn two_readers_share_a_session() {
        let (client, server) = pair();
        let server2 = server.clone();
        future::block_on(async {
            let reader = |session: Arc<TlsSession>| async move {
                let mut buf = [0u8; 3];
                let n = session.read(&mut buf).await.unwrap();
                buf[..n].to_vec()
            };
            // One record with 6 bytes, read 3 at a time by two readers.
            let write = async {
                async_io::Timer::after(std::time::Duration::from_millis(20)).await;
                client.write(b"abcdef", None).await.unwrap().unwrap();
            };
            let (((), a), b) =
                future::zip(future::zip(write, reader(server)), reader(server2)).await;
            let mut all = [a, b].concat();
            all.sort();
            assert_eq!(all, b"abcdef");
        });
    }

    #[test]
    fn a_wrong_name_fails_the_handshake() {
        let (cert, key) = self_signed(&["localhost"]);
        let server_config = tls_config::server_config(cert.as_bytes(), key.as_bytes()).unwrap();
        let mut roots = RootCertStore::empty();
        tls_config::add_ca_pem(&mut roots, cert.as_bytes());
        let client_config = tls_config::client_config(roots).unwrap();
        future::block_on(async {
            let listener = Async::<std::net::TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
            let addr = listener.get_ref().local_addr().unwrap();
            let (client_tcp, accepted) =
                future::zip(Async::<TcpStream>::connect(addr), listener.accept()).await;
            let name = ServerName::try_from("other.test").unwrap();
            let client = TlsSession::new(
                client_tcp.unwrap(),
                rustls::ClientConnection::new(client_config, name).unwrap(),
            );
            let server = TlsSession::new(
                accepted.unwrap().0,
                rustls::ServerConnection::new(server_config).unwrap(),
            );
            let (a, b) = future::zip(client.handshake(), server.handshake()).await;
            let a = a.unwrap_err().to_string();
            assert!(a.contains("certificate"), "{a}");
            assert!(b.is_err(), "the server sees the client's alert");
        });
    }
}
