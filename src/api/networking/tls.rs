//! TLS listeners and streams (14 functions).
//!
//! Deviations from the original, on purpose: a failed handshake (in
//! `tls_accept` or `tls_connect`) and an invalid server name are errors
//! (status 1 + error ID), not traps; the `tls_connect` timeout covers the
//! name lookup, the TCP connect and the handshake; custom CA records are
//! read in host order `{ptr, len}` but the swapped order the 0.14.1 guest
//! writes is recognised too (abi.md §7.3 Q2).

use super::tls_config::{self, add_ca_pem};
use super::tls_session::TlsSession;
use super::{
    addr, check_out, dns, gather, guest, read_buffer, report, report_addr, report_read, suspend_on,
    timed, timer, Outcome, TlsStream, M, MAX_WRITE,
};
use crate::engine::HostFunctions;
use crate::errors::trap;
use crate::process::{completion, ProcessState};
use async_io::Async;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use wasmi::{Caller, Error, Val};

/// A TCP listener whose connections get server-side TLS on accept.
pub(crate) struct TlsListener {
    tcp: Async<TcpListener>,
    config: Arc<ServerConfig>,
}

pub(super) fn register(host: &mut HostFunctions<'_>) {
    host.func(M, "tls_bind", tls_bind);
    host.func(M, "drop_tls_listener", |mut c: Caller<'_, ProcessState>, id: i64| {
        c.data_mut().resources.net.tls_listeners.remove(id as u64).map(drop)
    });
    host.func(M, "tls_local_addr", |mut c: Caller<'_, ProcessState>, id: i64, id_ptr: i32| {
        let (memory, state) = guest::memory_and_state(&mut c)?;
        let addr = state.resources.net.tls_listeners.get(id as u64)?.tcp.get_ref().local_addr();
        report_addr(memory, state, id_ptr as u32, addr)
    });
    host.func(M, "tls_accept", tls_accept);
    host.func(M, "tls_connect", tls_connect);
    host.func(M, "drop_tls_stream", |mut c: Caller<'_, ProcessState>, id: i64| {
        c.data_mut().resources.net.tls_streams.remove(id as u64).map(drop)
    });
    host.func(
        M,
        "clone_tls_stream",
        |mut c: Caller<'_, ProcessState>, id: i64| -> Result<i64, Error> {
            let streams = &mut c.data_mut().resources.net.tls_streams;
            let clone = streams.get(id as u64)?.clone();
            Ok(streams.add(clone) as i64)
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

/// TLS sessions are not recorded or replayed (yet): while a run is, making
/// one fails with this error (so no TLS listener or stream ever exists).
fn not_recordable(state: &ProcessState) -> Option<anyhow::Error> {
    state.runtime.world().map(|_| {
        anyhow::anyhow!("TLS is not available while a run is recorded or replayed (--record, --replay)")
    })
}

/// The session behind a stream ID (unknown IDs trap).
fn session(state: &mut ProcessState, id: i64) -> Result<Arc<TlsSession>, Error> {
    Ok(state.resources.net.tls_streams.get(id as u64)?.0.clone())
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
    let config = tls_config::server_config(cert, key).map_err(trap)?;
    if let Some(refused) = not_recordable(state) {
        return Outcome::Failed(refused).write(memory, state, id_ptr as u32);
    }
    let outcome = match Async::<TcpListener>::bind(addr) {
        Ok(tcp) => {
            let listener = Arc::new(TlsListener { tcp, config });
            Outcome::Done(state.resources.net.tls_listeners.add(listener))
        }
        Err(e) => Outcome::Failed(e.into()),
    };
    outcome.write(memory, state, id_ptr as u32)
}

fn tls_accept(
    mut caller: Caller<'_, ProcessState>,
    id: i64,
    id_ptr: i32,
    peer_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let listener = state.resources.net.tls_listeners.get(id as u64)?.clone();
    let (id_ptr, peer_ptr) = (id_ptr as u32, peer_ptr as u32);
    check_out(memory, id_ptr, 8)?;
    check_out(memory, peer_ptr, 8)?;
    Err(suspend_on(state, async move {
        let accepted = accept(&listener).await;
        completion(move |ctx| {
            let (memory, state) = guest::memory_and_state(ctx)?;
            let status = match accepted {
                Ok((session, peer)) => {
                    let stream_id =
                        state.resources.net.tls_streams.add(TlsStream(Arc::new(session)));
                    let peer_id = super::add_addrs(state, [peer]);
                    guest::write_u64(memory, id_ptr, stream_id)?;
                    guest::write_u64(memory, peer_ptr, peer_id)?;
                    0
                }
                Err(error) => {
                    guest::write_u64(memory, peer_ptr, 0)?;
                    Outcome::Failed(error).write(memory, state, id_ptr)?
                }
            };
            Ok(vec![Val::I32(status)])
        })
    }))
}

/// Accepts one connection and completes the server-side handshake.
async fn accept(listener: &TlsListener) -> anyhow::Result<(TlsSession, SocketAddr)> {
    let (tcp, peer) = listener.tcp.accept().await?;
    let conn = rustls::ServerConnection::new(listener.config.clone())?;
    let session = TlsSession::new(tcp, conn);
    session
        .handshake()
        .await
        .map_err(|e| anyhow::anyhow!("TLS handshake with {peer} failed: {e}"))?;
    Ok((session, peer))
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
    let host = guest::str(memory, host_ptr as u32, host_len as u32)?.to_string();
    let port = port as u16;
    let id_ptr = id_ptr as u32;
    check_out(memory, id_ptr, 8)?;
    let config = match ca_count as u32 {
        0 => tls_config::default_client_config().map_err(anyhow::Error::from),
        count => custom_roots(memory, ca_ptr as u32, count)?,
    };
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(&host);
    let name = ServerName::try_from(bare.to_string())
        .map_err(|e| anyhow::anyhow!("invalid TLS server name `{host}`: {e}"));
    let (config, name) = match config.and_then(|config| Ok((config, name?))) {
        Ok(ready) => ready,
        Err(error) => return Outcome::Failed(error).write(memory, state, id_ptr),
    };
    if let Some(refused) = not_recordable(state) {
        return Outcome::Failed(refused).write(memory, state, id_ptr);
    }
    let overrides = dns::overrides(state);
    let scheduler = state.runtime.scheduler_arc();
    let timer = timer(&*scheduler, timeout_ms as u64);
    Err(suspend_on(state, async move {
        let connect = async {
            let addrs = dns::lookup_host(scheduler, &overrides, &host, port).await?;
            let tcp = connect_any(addrs).await?;
            let session = TlsSession::new(tcp, rustls::ClientConnection::new(config, name)?);
            session
                .handshake()
                .await
                .map_err(|e| anyhow::anyhow!("TLS handshake with {host}:{port} failed: {e}"))?;
            anyhow::Ok(session)
        };
        let connected = timed(timer, connect).await;
        completion(move |ctx| {
            let (memory, state) = guest::memory_and_state(ctx)?;
            let outcome = match connected {
                None => Outcome::TimedOut,
                Some(Ok(session)) => {
                    Outcome::Done(state.resources.net.tls_streams.add(TlsStream(Arc::new(session))))
                }
                Some(Err(error)) => Outcome::Failed(error),
            };
            Ok(vec![Val::I32(outcome.write(memory, state, id_ptr)?)])
        })
    }))
}

/// A client configuration trusting the CA certificates of `count` records
/// at `ptr`, each pointing to PEM text. The record array must lie in memory
/// (else trap); records that lead to no usable certificate are skipped.
///
/// Host order is `{ptr: u32, len: u32}`; the 0.14.1 guest writes
/// `{len, ptr}` (abi.md §7.3 Q2). A certificate is much shorter than its
/// address in a Rust guest (data lives above the 1 MiB stack), so the
/// reading with the larger number as the pointer is tried first, the other
/// one if the first gives no certificate.
fn custom_roots(
    memory: &[u8],
    ptr: u32,
    count: u32,
) -> Result<anyhow::Result<Arc<ClientConfig>>, Error> {
    let records = count.checked_mul(8).ok_or_else(|| trap("CA certificate array too long"))?;
    let records = guest::bytes(memory, ptr, records)?;
    let mut roots = RootCertStore::empty();
    for record in records.chunks_exact(8) {
        let a = u32::from_le_bytes(record[..4].try_into().expect("4 bytes"));
        let b = u32::from_le_bytes(record[4..].try_into().expect("4 bytes"));
        let readings = if a >= b { [(a, b), (b, a)] } else { [(b, a), (a, b)] };
        for (pem_ptr, pem_len) in readings {
            match guest::bytes(memory, pem_ptr, pem_len) {
                Ok(pem) if add_ca_pem(&mut roots, pem) > 0 => break,
                _ => {}
            }
        }
    }
    if roots.is_empty() {
        return Ok(Err(anyhow::anyhow!(
            "none of the {count} CA certificates given holds a usable PEM certificate"
        )));
    }
    Ok(tls_config::client_config(roots).map_err(anyhow::Error::from))
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
    let timer = timer(state.runtime.scheduler(), session.write_timeout.get());
    Err(suspend_on(state, async move {
        let written = session.write(&data, timer).await;
        report(out_ptr, Outcome::from_io(written, |n| n as u64))
    }))
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
    Err(suspend_on(state, async move {
        let read = async {
            let n = session.read(&mut buf).await?;
            buf.truncate(n);
            Ok(buf)
        };
        report_read(buf_ptr, out_ptr, timed(timer, read).await)
    }))
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
    Err(suspend_on(state, async move {
        let outcome = match timed(timer, session.flush()).await {
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
    fn ca_records_in_host_order_and_in_the_guest_s_swapped_order() {
        let (pem, _) = self_signed(&["ca.test"]);
        let len = pem.len() as u32;
        // Host order {ptr, len}, with the PEM far above its length...
        let memory = memory_with(&pem, 4096, [4096, len]);
        assert!(custom_roots(&memory, 0, 1).unwrap().is_ok());
        // ... and below it (the larger number is tried as the pointer first).
        let memory = memory_with(&pem, 16, [16, len]);
        assert!(custom_roots(&memory, 0, 1).unwrap().is_ok());
        // The 0.14.1 guest's {len, ptr}.
        let memory = memory_with(&pem, 4096, [len, 4096]);
        assert!(custom_roots(&memory, 0, 1).unwrap().is_ok());
        // No certificate either way: an error, not a trap.
        let memory = memory_with("not a certificate", 4096, [4096, 17]);
        let err = custom_roots(&memory, 0, 1).unwrap().unwrap_err().to_string();
        assert!(err.contains("none of the 1 CA certificates"), "{err}");
        // A record array out of bounds traps.
        assert!(custom_roots(&memory, memory.len() as u32 - 4, 1).is_err());
        assert!(custom_roots(&memory, 0, u32::MAX).is_err());
    }
}
