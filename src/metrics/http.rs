//! The Prometheus endpoint: a small HTTP/1.1 server on async-io, on a
//! thread of its own so scrapes never take an executor thread from the
//! processes (rendering walks every metric).
//!
//! It answers `GET /metrics` and `GET /` with the text format, anything
//! else with 404 (or 400/405), and closes the connection after each
//! answer. A request head is limited to [`MAX_HEAD`] bytes and must arrive
//! within [`READ_DEADLINE`]; at most [`MAX_CONNECTIONS`] are served at once
//! (more are closed at once), so a bad client costs a bounded amount.

use async_io::{Async, Timer};
use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

/// Largest request head read (request line and headers).
pub const MAX_HEAD: usize = 8 * 1024;
/// Time a client has to send its request head (and to take the answer).
pub const READ_DEADLINE: Duration = Duration::from_secs(5);
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 64;
/// How often histogram samples are folded into their summaries.
const UPKEEP: Duration = Duration::from_secs(5);

/// A running exporter; dropping it stops the server.
pub struct Exporter {
    stop: Option<async_channel::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Exporter {
    /// Installs the recorder (labelled `node_id`) and serves it on `addr`.
    pub fn start(addr: SocketAddr, node_id: u64) -> std::io::Result<Self> {
        let listener = Async::<TcpListener>::bind(addr)?;
        let addr = listener.get_ref().local_addr()?;
        super::install(node_id);
        let (stop, stopped) = async_channel::bounded::<()>(1);
        log::info!("serving Prometheus metrics on http://{addr}/metrics");
        let thread = std::thread::Builder::new()
            .name("lunatic-prometheus".into())
            .spawn(move || serve(listener, stopped))?;
        Ok(Self { stop: Some(stop), thread: Some(thread) })
    }

}

impl Drop for Exporter {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(listener: Async<TcpListener>, stopped: async_channel::Receiver<()>) {
    let executor = Rc::new(async_executor::LocalExecutor::new());
    let active = Rc::new(AtomicUsize::new(0));
    let accept = {
        let executor = executor.clone();
        async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of descriptors and the like: wait, do not spin.
                        log::warn!("prometheus endpoint: accept failed: {e}");
                        Timer::after(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if active.load(Relaxed) >= MAX_CONNECTIONS {
                    continue; // dropped: closed
                }
                active.fetch_add(1, Relaxed);
                let active = active.clone();
                executor
                    .spawn(async move {
                        let _ = future::or(answer(stream), async {
                            Timer::after(READ_DEADLINE).await;
                            Ok(())
                        })
                        .await;
                        active.fetch_sub(1, Relaxed);
                    })
                    .detach();
            }
        }
    };
    let upkeep = async {
        loop {
            Timer::after(UPKEEP).await;
            super::upkeep();
        }
    };
    let stop = async {
        let _ = stopped.recv().await;
    };
    async_io::block_on(executor.run(future::or(stop, future::or(accept, upkeep))));
}

/// Reads one request head and answers it.
async fn answer(mut stream: Async<TcpStream>) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(()); // closed before a full request
        }
        head.extend_from_slice(&buf[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
        if head.len() > MAX_HEAD {
            return respond(&mut stream, "431 Request Header Fields Too Large", "text/plain", b"").await;
        }
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (method, target, version) = (parts.next(), parts.next(), parts.next());
    match (method, target, version) {
        (Some(b"GET"), Some(b"/metrics" | b"/"), Some(v)) if v.starts_with(b"HTTP/1.") => {
            // Rendering is CPU work, but on this thread only.
            let body = super::render();
            respond(&mut stream, "200 OK", "text/plain; version=0.0.4", body.as_bytes()).await
        }
        (Some(_), Some(_), Some(v)) if v.starts_with(b"HTTP/1.") => {
            respond(&mut stream, "404 Not Found", "text/plain", b"not found\n").await
        }
        _ => respond(&mut stream, "400 Bad Request", "text/plain", b"").await,
    }
}

async fn respond(stream: &mut Async<TcpStream>, status: &str, kind: &str, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await
}
