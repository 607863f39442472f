//! TLS listeners and streams (14 functions).
//!
//! Deviations from the original, on purpose: server-side handshakes run
//! host-side, concurrently and with a deadline, as soon as the listener is
//! bound, and `tls_accept` hands out only completed sessions: a client that
//! fails its handshake or never finishes it is logged and dropped, the
//! accept goes on waiting (see [`super::tls_accept`]); it returns status 1
//! only for errors of the listening socket itself. A failed `tls_connect`
//! handshake and an invalid server name are errors (status 1 + error ID),
//! not traps; the `tls_connect` timeout covers the
//! name lookup, the TCP connect and the handshake; custom CA records are
//! read in host order `{ptr, len}` but the swapped order the 0.14.1 guest
//! writes is recognised too (abi.md §7.3 Q2).
//!
//! Record and replay (see [`crate::replay`]) work at the level of the
//! plaintext, like TCP: handshakes use fresh randomness and time, so the
//! ciphertext could not be replayed. A recording holds each call's outcome
//! as the guest sees it: the new stream of `tls_connect` / `tls_accept`
//! (with the peer's address) or the error's text, the bytes each
//! `tls_read` returned, how many bytes each write took, flush results,
//! timeouts, listener addresses. A replay's listeners and streams are
//! stand-ins that reach neither the network nor rustls.

use super::tls_accept::Acceptor;
use super::tls_config::{self, add_ca_pem};
use super::tls_session::TlsSession;
use super::{
    addr, check_out, dns, gather, no_answer, guest, read_buffer, report, report_accepted, report_addr, report_read,
    suspend_on, timer, wait_on, Outcome, TlsStream, M, MAX_WRITE,
};
use crate::engine::HostFunctions;
use crate::errors::trap;
use crate::protocol::{completion, ProcessState};
use crate::replay::{self, Call};
use crate::scheduler::BoxFuture;
use async_io::Async;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;
use wasmi::{Caller, Error, Val};

/// A TCP listener whose connections get server-side TLS from its host-side
/// [`Acceptor`] (a stand-in socket without acceptor while a recording is
/// replayed).
pub(crate) struct TlsListener {
    tcp: super::TcpListener,
    acceptor: Option<Acceptor>,
}

/// Streams in a recording: only that one was made; a replay gets a
/// stand-in session.
impl replay::Value for TlsStream {
    fn put(&self, out: &mut Vec<String>) {
        out.push("tls-stream".into());
    }
    fn take(input: &mut replay::value::Tokens<'_>) -> Result<Self, String> {
        match input.next("tls-stream")? {
            "tls-stream" => Ok(TlsStream(Arc::new(TlsSession::stand_in()))),
            other => Err(format!("expected tls-stream, found `{other}`")),
        }
    }
}

/// An error as the guest will see it (only its text reaches the guest), in
/// a form a recording holds.
fn io_error(error: anyhow::Error) -> io::Error {
    match error.downcast::<io::Error>() {
        Ok(error) => error,
        Err(error) => io::Error::other(error.to_string()),
    }
}

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func(M, "tls_bind", tls_bind);
    host.func(M, "drop_tls_listener", |mut c: Caller<'_, ProcessState>, id: i64| {
        c.data_mut().contexts.resources().net.tls_listeners.remove(id as u64).map(drop)
    });
    host.func(M, "tls_local_addr", |mut c: Caller<'_, ProcessState>, id: i64, id_ptr: i32| {
        let (memory, state) = guest::memory_and_state(&mut c)?;
        let listener = state.contexts.resources().net.tls_listeners.get(id as u64)?.clone();
        let addr = crate::protocol::world::sync(
            state,
            || Call::new("tls_local_addr").arg(id),
            || listener.tcp.get()?.get_ref().local_addr(),
        )?;
        report_addr(memory, state, id_ptr as u32, addr)
    });
    host.func(M, "tls_accept", tls_accept);
    host.func(M, "tls_connect", tls_connect);
    host.func(M, "drop_tls_stream", |mut c: Caller<'_, ProcessState>, id: i64| {
        c.data_mut().contexts.resources().net.tls_streams.remove(id as u64).map(drop)
    });
    host.func(
        M,
        "clone_tls_stream",
        |mut c: Caller<'_, ProcessState>, id: i64| -> Result<i64, Error> {
            let streams = &mut c.data_mut().contexts.resources().net.tls_streams;
            let clone = streams.get(id as u64)?.clone();
            Ok(streams.try_add(clone)? as i64)
        },
    );
    host.func(M, "tls_write_vectored", tls_write_vectored);
    host.func(M, "tls_read", tls_read);
    host.func(M, "set_tls_read_timeout", |mut c: Caller<'_, ProcessState>, id: i64, ms: i64| {
        session(c.data_mut(), id).map(|s| s.read_timeout.set(ms as u64))
    });
    host.func(M, "get_tls_read_timeout", |mut c: Caller<'_, ProcessState>, id: i64| {
        session(c.data_mut(), id).map(|s| s.read_timeout.get() as i64)
    });
    host.func(M, "set_tls_write_timeout", |mut c: Caller<'_, ProcessState>, id: i64, ms: i64| {
        session(c.data_mut(), id).map(|s| s.write_timeout.set(ms as u64))
    });
    host.func(M, "get_tls_write_timeout", |mut c: Caller<'_, ProcessState>, id: i64| {
        session(c.data_mut(), id).map(|s| s.write_timeout.get() as i64)
    });
    host.func(M, "tls_flush", tls_flush);
}

/// Longest certificate or key PEM `tls_bind` parses.
const MAX_PEM: usize = 1024 * 1024;

/// Most CA records `tls_connect` reads.
const MAX_CA_RECORDS: u32 = 256;

/// Most PEM bytes one `tls_connect` parses looking for CA certificates (a
/// whole public root bundle is about 250 KiB).
const MAX_CA_PEM_BYTES: usize = 8 * 1024 * 1024;

/// The session behind a stream ID (unknown IDs trap).
fn session(state: &mut ProcessState, id: i64) -> Result<Arc<TlsSession>, Error> {
    Ok(state.contexts.resources().net.tls_streams.get(id as u64)?.0.clone())
}

#[allow(clippy::too_many_arguments)]
fn tls_bind(
    mut caller: Caller<'_, ProcessState>,
    addr_type: i32,
    addr_ptr: i32,
    port: i32,
    flow_info: i32,
    scope_id: i32,
    id_ptr: i32,
    cert_ptr: i32,
    cert_len: i32,
    key_ptr: i32,
    key_len: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let addr = addr::read(memory, addr_type, addr_ptr, port, flow_info, scope_id)?;
    check_out(memory, id_ptr as u32, 8)?;
    let cert = guest::bytes(memory, cert_ptr as u32, cert_len as u32)?;
    let key = guest::bytes(memory, key_ptr as u32, key_len as u32)?;
    // One certificate and one key are a few KiB: do not parse megabytes.
    if cert.len() > MAX_PEM || key.len() > MAX_PEM {
        return Err(trap(format_args!(
            "TLS certificate or key PEM too long ({} and {} bytes, at most {MAX_PEM} each)",
            cert.len(),
            key.len()
        )));
    }
    let config = tls_config::server_config(cert, key).map_err(trap)?;
    // Binding never waits, so it needs no suspension.
    let hot = super::handover::of(state);
    let bound = crate::protocol::world::sync(
        state,
        || Call::new("tls_bind").arg(addr).arg(replay::digest(&[cert, key])),
        || super::handover::bind(hot, addr),
    )?;
    // A real socket gets its accept task now, so handshakes run whether or
    // not the guest is in `tls_accept` (a replay's stand-in gets none).
    // The deterministic scheduler hands sessions out in accept order.
    let ordered = state.runtime.scheduler().inline_blocking();
    let hot_table = super::handover::of(state).map(|(table, _, _)| table);
    let bound = bound.and_then(|tcp| {
        let acceptor = match tcp.get() {
            Ok(_) => Some(Acceptor::start(tcp.clone(), config, ordered, hot_table)?),
            Err(_) => None,
        };
        Ok(TlsListener { tcp, acceptor })
    });
    let outcome = Outcome::from_io(Some(bound), |listener| {
        state.contexts.resources().net.tls_listeners.add(Arc::new(listener))
    });
    outcome.write(memory, state, id_ptr as u32)
}

fn tls_accept(
    mut caller: Caller<'_, ProcessState>,
    id: i64,
    id_ptr: i32,
    peer_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let listener = state.contexts.resources().net.tls_listeners.get(id as u64)?.clone();
    let (id_ptr, peer_ptr) = (id_ptr as u32, peer_ptr as u32);
    check_out(memory, id_ptr, 8)?;
    check_out(memory, peer_ptr, 8)?;
    let hot = super::handover::of(state);
    let accept = async move {
        let Some(acceptor) = &listener.acceptor else {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "a replayed listener accepts nothing"));
        };
        // Once handed over, sessions the old listener accepted before are
        // still handed out; the process is parked while there are none.
        let queue = acceptor.clone_queue();
        let idle = super::handover::After::Drain(Box::new(move || queue.is_idle()));
        super::handover::unless_handed_over(hot, listener.tcp.clone(), idle, acceptor.next()).await
    };
    let call = || Call::new("tls_accept").arg(id);
    Err(wait_on(state, call, None, accept, move |accepted: Option<io::Result<_>>| {
        // No timer: an accept waits for its answer (`None` cannot come).
        let accepted = accepted.unwrap_or_else(|| Err(no_answer()));
        report_accepted(id_ptr, peer_ptr, accepted, |state, s| state.contexts.resources().net.tls_streams.add(s))
    }))
}

#[allow(clippy::too_many_arguments)]
fn tls_connect(
    mut caller: Caller<'_, ProcessState>,
    host_ptr: i32,
    host_len: i32,
    port: i32,
    timeout_ms: i64,
    id_ptr: i32,
    ca_ptr: i32,
    ca_count: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let host = super::host_name(memory, host_ptr as u32, host_len as u32)?;
    let port = port as u16;
    let id_ptr = id_ptr as u32;
    check_out(memory, id_ptr, 8)?;
    let host = match host {
        Ok(host) => host,
        Err(e) => return Outcome::Failed(e.into()).write(memory, state, id_ptr),
    };
    let (config, roots) = match ca_count as u32 {
        0 => (tls_config::default_client_config().map_err(anyhow::Error::from), None),
        count => {
            let (config, digest) = custom_roots(memory, ca_ptr as u32, count)?;
            (config, Some(digest))
        }
    };
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(&host);
    let name = ServerName::try_from(bare.to_string())
        .map_err(|e| anyhow::anyhow!("invalid TLS server name `{host}`: {e}"));
    let (config, name) = match config.and_then(|config| Ok((config, name?))) {
        Ok(ready) => ready,
        Err(error) => return Outcome::Failed(error).write(memory, state, id_ptr),
    };
    let overrides = dns::overrides(state);
    let scheduler = state.runtime.scheduler_arc();
    let timer = timer(&*scheduler, timeout_ms as u64);
    let call = {
        let host = host.clone();
        // The trusted CA certificates, as a digest ("default": the built-in roots).
        let roots = roots.unwrap_or_else(|| "default".into());
        move || Call::new("tls_connect").arg(host).arg(i64::from(port)).arg(timeout_ms).arg(roots)
    };
    let connect = async move {
        let connect = async {
            let addrs = dns::lookup_host(scheduler, &overrides, &host, port).await?;
            let tcp = connect_any(addrs).await?;
            let session = TlsSession::new(tcp, rustls::ClientConnection::new(config, name)?);
            session
                .handshake()
                .await
                .map_err(|e| anyhow::anyhow!("TLS handshake with {host}:{port} failed: {e}"))?;
            anyhow::Ok(TlsStream(Arc::new(session)))
        };
        connect.await.map_err(io_error)
    };
    Err(wait_on(state, call, timer, connect, move |connected| {
        completion(move |ctx| {
            let (memory, state) = guest::memory_and_state(ctx)?;
            let outcome = match connected {
                None => Outcome::TimedOut,
                Some(Ok(stream)) => Outcome::Done(state.contexts.resources().net.tls_streams.add(stream)),
                Some(Err(error)) => Outcome::Failed(error.into()),
            };
            Ok(vec![Val::I32(outcome.write(memory, state, id_ptr)?)])
        })
    }))
}

/// A client configuration trusting the CA certificates of `count` records
/// at `ptr`, each pointing to PEM text. The record array must lie in memory
/// (else trap); records that lead to no usable certificate are skipped.
/// More than [`MAX_CA_RECORDS`] records are an error, and PEM texts are
/// parsed only up to [`MAX_CA_PEM_BYTES`] in all (readings past that are
/// skipped), so one call cannot spend unbounded time parsing.
///
/// Host order is `{ptr: u32, len: u32}`; the 0.14.1 guest writes
/// `{len, ptr}` (abi.md §7.3 Q2). A certificate is much shorter than its
/// address in a Rust guest (data lives above the 1 MiB stack), so the
/// reading with the larger number as the pointer is tried first, the other
/// one if the first gives no certificate.
///
/// Also returns a digest of the PEM texts used, for a recording's check
/// that a replay trusts the same certificates.
fn custom_roots(
    memory: &[u8],
    ptr: u32,
    count: u32,
) -> Result<(anyhow::Result<Arc<ClientConfig>>, String), Error> {
    let records = count.checked_mul(8).ok_or_else(|| trap("CA certificate array too long"))?;
    let records = guest::bytes(memory, ptr, records)?;
    if count > MAX_CA_RECORDS {
        let error = anyhow::anyhow!("{count} CA certificates given, at most {MAX_CA_RECORDS}");
        return Ok((Err(error), replay::digest(&[])));
    }
    let mut roots = RootCertStore::empty();
    let mut used = Vec::new();
    let mut budget = MAX_CA_PEM_BYTES;
    for record in records.chunks_exact(8) {
        let a = u32::from_le_bytes(record[..4].try_into().expect("4 bytes"));
        let b = u32::from_le_bytes(record[4..].try_into().expect("4 bytes"));
        let readings = if a >= b { [(a, b), (b, a)] } else { [(b, a), (a, b)] };
        for (pem_ptr, pem_len) in readings {
            let pem = match guest::bytes(memory, pem_ptr, pem_len) {
                Ok(pem) if pem.len() <= budget => pem,
                _ => continue,
            };
            budget -= pem.len();
            if add_ca_pem(&mut roots, pem) > 0 {
                used.push(pem);
                break;
            }
        }
    }
    let digest = replay::digest(&used);
    if roots.is_empty() {
        let error = anyhow::anyhow!(
            "none of the {count} CA certificates given holds a usable PEM certificate"
        );
        return Ok((Err(error), digest));
    }
    Ok((tls_config::client_config(roots).map_err(anyhow::Error::from), digest))
}

/// Connects to the first address that accepts.
async fn connect_any(addrs: Vec<SocketAddr>) -> io::Result<Async<TcpStream>> {
    let mut last = None;
    for addr in addrs {
        match Async::<TcpStream>::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, "the host name resolved to no address")
    }))
}

fn tls_write_vectored(
    mut caller: Caller<'_, ProcessState>,
    id: i64,
    iovec_ptr: i32,
    iovec_count: i32,
    out_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let session = session(state, id)?;
    let data = gather(memory, iovec_ptr as u32, iovec_count as u32, MAX_WRITE)?;
    let out_ptr = out_ptr as u32;
    check_out(memory, out_ptr, 8)?;
    let Some(world) = state.runtime.world().cloned() else {
        let timer = timer(state.runtime.scheduler(), session.write_timeout.get());
        return Err(suspend_on(state, async move {
            let written = session.write(&data, timer).await;
            report(out_ptr, Outcome::from_io(written, |n| n as u64))
        }));
    };
    // Recorded or replayed. A write that times out after taking bytes
    // still counts them as written, so the timeout is part of the write
    // (not raced against it from outside, which could lose the count):
    // a real-time timer, as virtual time follows real time while a
    // process waits on the outside world. The outcome, timeout or not, is
    // the recorded answer.
    let timeout_ms = session.write_timeout.get();
    let recorded = data.clone();
    let write = async move {
        let timer = (timeout_ms != u64::MAX).then(|| -> BoxFuture<()> {
            let timer = async_io::Timer::after(Duration::from_millis(timeout_ms));
            Box::pin(async move {
                timer.await;
            })
        });
        session.write(&data, timer).await
    };
    let timeout = (timeout_ms != u64::MAX).then_some(timeout_ms);
    let call = Call::new("tls_write").arg(id).arg(recorded).arg(timeout);
    let finish = move |written: Option<Option<io::Result<usize>>>| {
        // No outside timer: a write waits for its answer (`None` cannot come).
        let written = written.unwrap_or_else(|| Some(Err(no_answer())));
        report(out_ptr, Outcome::from_io(written, |n| n as u64))
    };
    Err(crate::protocol::world::external(&world, state, call, None, write, finish))
}

fn tls_read(
    mut caller: Caller<'_, ProcessState>,
    id: i64,
    buf_ptr: i32,
    buf_len: i32,
    out_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let session = session(state, id)?;
    let (buf_ptr, out_ptr) = (buf_ptr as u32, out_ptr as u32);
    let mut buf = read_buffer(memory, buf_ptr, buf_len as u32)?;
    check_out(memory, out_ptr, 8)?;
    let timer = timer(state.runtime.scheduler(), session.read_timeout.get());
    let len = buf.len();
    let read = async move {
        let n = session.read(&mut buf).await?;
        buf.truncate(n);
        Ok(buf)
    };
    let call = || Call::new("tls_read").arg(id).arg(len);
    Err(wait_on(state, call, timer, read, move |read| report_read(buf_ptr, out_ptr, read)))
}

/// Waits (up to the write timeout) until all encrypted bytes reached the
/// socket. Status 0 (0 written) or 1 (error ID, also for a timeout: the
/// guest treats any non-zero status as an error ID).
fn tls_flush(mut caller: Caller<'_, ProcessState>, id: i64, error_ptr: i32) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let session = session(state, id)?;
    let error_ptr = error_ptr as u32;
    check_out(memory, error_ptr, 8)?;
    let timer = timer(state.runtime.scheduler(), session.write_timeout.get());
    let flush = async move { session.flush().await };
    let call = || Call::new("tls_flush").arg(id);
    Err(wait_on(state, call, timer, flush, move |flushed| {
        let outcome = match flushed {
            Some(Ok(())) => Outcome::Done(0),
            Some(Err(e)) => Outcome::Failed(e.into()),
            None => Outcome::Failed(anyhow::anyhow!("TLS flush timed out")),
        };
        report(error_ptr, outcome)
    }))
}

#[cfg(test)]
mod tests {
    use super::super::tls_config::tests::self_signed;
    use super::*;

    /// Memory with a PEM at `pem_at` and one CA record at 0 holding `record`.
    fn memory_with(pem: &str, pem_at: usize, record: [u32; 2]) -> Vec<u8> {
        let mut memory = vec![0u8; pem_at + pem.len() + 64];
        memory[pem_at..pem_at + pem.len()].copy_from_slice(pem.as_bytes());
        memory[0..4].copy_from_slice(&record[0].to_le_bytes());
        memory[4..8].copy_from_slice(&record[1].to_le_bytes());
        memory
    }

    #[test]
    fn recorded_streams_replay_as_stand_ins() {
        use crate::replay::value::{decode, encode};
        let stream = TlsStream(Arc::new(TlsSession::stand_in()));
        assert_eq!(encode(&stream), ["tls-stream"]);
        let accepted: io::Result<(TlsStream, SocketAddr)> =
            Ok((stream, "127.0.0.1:4000".parse().unwrap()));
        let tokens = encode(&accepted);
        assert_eq!(tokens, ["ok", "tls-stream", "127.0.0.1:4000"]);
        let (back, peer) = decode::<io::Result<(TlsStream, SocketAddr)>>(&tokens).unwrap().unwrap();
        assert_eq!(peer.port(), 4000);
        // A stand-in has timeouts but reaches nothing.
        assert_eq!(back.0.read_timeout.get(), u64::MAX);
        back.0.read_timeout.set(5);
        assert_eq!(back.0.read_timeout.get(), 5);
        assert!(back.0.peer_addr().is_err());
        futures_lite::future::block_on(async {
            let e = back.0.read(&mut [0u8; 4]).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::Unsupported);
            assert!(back.0.write(b"x", None).await.unwrap().is_err());
            assert!(back.0.flush().await.is_err());
            assert!(back.0.handshake().await.is_err());
        });
        assert!(decode::<TlsStream>(&["stream".into()]).unwrap_err().contains("tls-stream"));
        assert!(decode::<TlsStream>(&[]).is_err());
    }

    #[test]
    fn errors_keep_the_text_the_guest_sees() {
        let refused = anyhow::Error::from(io::Error::from(io::ErrorKind::ConnectionRefused));
        let text = refused.to_string();
        let e = io_error(refused);
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!(e.to_string(), text);
        let handshake = anyhow::anyhow!("TLS handshake with 127.0.0.1:1 failed: bad certificate");
        let e = io_error(handshake);
        assert_eq!(e.to_string(), "TLS handshake with 127.0.0.1:1 failed: bad certificate");
        // Through a recording and back: the same text.
        let recorded = crate::replay::value::encode(&Err::<TlsStream, _>(e));
        let back = crate::replay::value::decode::<io::Result<TlsStream>>(&recorded).unwrap();
        let back = anyhow::Error::from(back.err().unwrap());
        assert_eq!(back.to_string(), "TLS handshake with 127.0.0.1:1 failed: bad certificate");
    }

    #[test]
    fn ca_records_in_host_order_and_in_the_guest_s_swapped_order() {
        let (pem, _) = self_signed(&["ca.test"]);
        let len = pem.len() as u32;
        // Host order {ptr, len}, with the PEM far above its length...
        let memory = memory_with(&pem, 4096, [4096, len]);
        assert!(custom_roots(&memory, 0, 1).unwrap().0.is_ok());
        // ... and below it (the larger number is tried as the pointer first).
        let memory = memory_with(&pem, 16, [16, len]);
        assert!(custom_roots(&memory, 0, 1).unwrap().0.is_ok());
        // The 0.14.1 guest's {len, ptr}.
        let memory = memory_with(&pem, 4096, [len, 4096]);
        assert!(custom_roots(&memory, 0, 1).unwrap().0.is_ok());
        // The digest names the certificate, whichever order the record has.
        let (_, digest) = custom_roots(&memory, 0, 1).unwrap();
        let memory = memory_with(&pem, 4096, [4096, len]);
        assert_eq!(custom_roots(&memory, 0, 1).unwrap().1, digest);
        let (other, _) = self_signed(&["other.test"]);
        let memory = memory_with(&other, 4096, [4096, other.len() as u32]);
        assert_ne!(custom_roots(&memory, 0, 1).unwrap().1, digest);
        // No certificate either way: an error, not a trap.
        let memory = memory_with("not a certificate", 4096, [4096, 17]);
        let err = custom_roots(&memory, 0, 1).unwrap().0.unwrap_err().to_string();
        assert!(err.contains("none of the 1 CA certificates"), "{err}");
        // A record array out of bounds traps.
        assert!(custom_roots(&memory, memory.len() as u32 - 4, 1).is_err());
        assert!(custom_roots(&memory, 0, u32::MAX).is_err());
    }

    #[test]
    fn ca_records_and_pem_bytes_are_bounded() {
        let (pem, _) = self_signed(&["ca.test"]);
        let len = pem.len() as u32;
        // MAX_CA_RECORDS + 1 good records: an error, not a trap.
        let count = MAX_CA_RECORDS + 1;
        let mut memory = memory_with(&pem, 8 * count as usize, [0, 0]);
        for i in 0..count as usize {
            memory[i * 8..i * 8 + 4].copy_from_slice(&(8 * count).to_le_bytes());
            memory[i * 8 + 4..i * 8 + 8].copy_from_slice(&len.to_le_bytes());
        }
        let err = custom_roots(&memory, 0, count).unwrap().0.unwrap_err().to_string();
        assert!(err.contains("at most 256"), "{err}");
        assert!(custom_roots(&memory, 0, MAX_CA_RECORDS).unwrap().0.is_ok());
        // A record that would parse more than the budget is skipped, one
        // within it after that is still used.
        let big = MAX_CA_PEM_BYTES + 1;
        let mut memory = vec![b'-'; 16 + big + pem.len()];
        let at = 16 + big;
        memory[at..].copy_from_slice(pem.as_bytes());
        memory[0..4].copy_from_slice(&16u32.to_le_bytes());
        memory[4..8].copy_from_slice(&(big as u32).to_le_bytes());
        memory[8..12].copy_from_slice(&(at as u32).to_le_bytes());
        memory[12..16].copy_from_slice(&len.to_le_bytes());
        assert!(custom_roots(&memory, 0, 1).unwrap().0.is_err(), "too big: skipped");
        assert!(custom_roots(&memory, 0, 2).unwrap().0.is_ok());
    }
}
