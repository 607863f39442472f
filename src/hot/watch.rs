//! `lunatic run --watch`: reload when the app's file changes.
//!
//! The file's directory is watched, not the file: cargo replaces a build
//! artifact with a new inode (unlink, then link or copy), and editors
//! rename over it, either of which would end a watch on the file itself.
//! Events for other names are ignored; a burst of events (a copy in
//! several writes) is one reload once the directory has been quiet for
//! [`DEBOUNCE`]. A file caught half-written fails to compile and is
//! refused; its last write brings another event and a reload.
//!
//! Where the kernel's file events cannot be had (inotify's per-user
//! instance limit reached, which happens in shared containers; network
//! file systems, which send none), or with `LUNATIC_WATCH=poll`, the
//! file is polled every [`POLL_INTERVAL`] instead, with a warning.

use super::Request;
use anyhow::Context;
use notify::{EventKind, RecursiveMode, Watcher};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Quiet time after the last event before the file is reloaded.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// How often the directory is read when it is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Watches `path`'s directory until the returned watcher is dropped.
pub(super) fn start(path: &Path, requests: async_channel::Sender<Request>) -> anyhow::Result<Box<dyn std::any::Any>> {
    let name = path.file_name().context("--watch needs a file name")?.to_os_string();
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let (events, received) = mpsc::channel::<()>();
    let sender = events.clone();
    let handler = move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        // Reads (ours included) change nothing.
        let changes = match event.kind {
            EventKind::Access(notify::event::AccessKind::Close(notify::event::AccessMode::Write)) => true,
            EventKind::Access(_) => false,
            _ => true,
        };
        if changes && event.paths.iter().any(|p| p.file_name() == Some(&name)) {
            let _ = sender.send(());
        }
    };
    let polled = std::env::var_os("LUNATIC_WATCH").is_some_and(|v| v == "poll");
    let watcher = match polled {
        true => poll(path, events)?,
        false => match events_watcher(&dir, handler) {
            Ok(watcher) => watcher,
            Err(e) => {
                eprintln!("lunatic: no file events for --watch ({e:#}); polling {} instead", path.display());
                poll(path, events)?
            }
        },
    };
    std::thread::Builder::new().name("lunatic-watch".into()).spawn(move || {
        // Ends when the watcher (and with it the sender) is dropped.
        while received.recv().is_ok() {
            loop {
                match received.recv_timeout(DEBOUNCE) {
                    Ok(()) => continue,
                    Err(mpsc::RecvTimeoutError::Timeout) => break,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
            if requests.send_blocking(Request { path: None, reply: None }).is_err() {
                return;
            }
        }
    })?;
    Ok(watcher)
}

/// The kernel's file events (inotify, kqueue, FSEvents, ...) on `dir`.
fn events_watcher<F: notify::EventHandler>(dir: &Path, handler: F) -> anyhow::Result<Box<dyn std::any::Any>> {
    let mut watcher = notify::recommended_watcher(handler).context("cannot watch files")?;
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .with_context(|| format!("cannot watch {}", dir.display()))?;
    Ok(Box::new(watcher))
}

/// Stops the polling thread when dropped.
struct Poller(Arc<AtomicBool>);

impl Drop for Poller {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// `path` looked at every [`POLL_INTERVAL`]: a new inode, size, or
/// modification or change time is an event.
///
/// Written here rather than notify's `PollWatcher`: that one compares
/// modification times in whole seconds and sizes, so a cargo-style replace
/// by a file of the same size within the same second went unseen
/// (`spec-tests/hot/triggers`, polled unlink + hard link). One `stat` of
/// one file per interval is all this needs.
fn poll(path: &Path, events: mpsc::Sender<()>) -> anyhow::Result<Box<dyn std::any::Any>> {
    let path = path.to_path_buf();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let mut last = stamp(&path);
    std::thread::Builder::new().name("lunatic-poll".into()).spawn(move || {
        while !stopped.load(Ordering::Relaxed) {
            std::thread::sleep(POLL_INTERVAL);
            let now = stamp(&path);
            if now != last {
                last = now;
                if events.send(()).is_err() {
                    return;
                }
            }
        }
    })?;
    Ok(Box::new(Poller(stop)))
}

/// What tells one version of a file from the next; `None` while it is
/// missing.
fn stamp(path: &Path) -> Option<(u64, u64, Option<std::time::SystemTime>, i64, i64)> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let (ino, ctime, ctime_ns) = {
        use std::os::unix::fs::MetadataExt;
        (meta.ino(), meta.ctime(), meta.ctime_nsec())
    };
    #[cfg(not(unix))]
    let (ino, ctime, ctime_ns) = (0, 0, 0);
    Some((ino, meta.len(), meta.modified().ok(), ctime, ctime_ns))
}
