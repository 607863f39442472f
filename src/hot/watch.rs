//! `lunatic run --watch`: reload when the app's file changes.
//!
//! The file's directory is watched, not the file: cargo replaces a build
//! artifact with a new inode (unlink, then link or copy), and editors
//! rename over it, either of which would end a watch on the file itself.
//! Events for other names are ignored; a burst of events (a copy in
//! several writes) is one reload once the directory has been quiet for
//! [`DEBOUNCE`]. A file caught half-written fails to compile and is
//! refused; its last write brings another event and a reload.

use super::Request;
use anyhow::Context;
use notify::{EventKind, RecursiveMode, Watcher};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

/// Quiet time after the last event before the file is reloaded.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// Watches `path`'s directory until the returned watcher is dropped.
pub(super) fn start(path: &Path, requests: async_channel::Sender<Request>) -> anyhow::Result<notify::RecommendedWatcher> {
    let name = path.file_name().context("--watch needs a file name")?.to_os_string();
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let (events, received) = mpsc::channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        // Reads (ours included) change nothing.
        let changes = match event.kind {
            EventKind::Access(notify::event::AccessKind::Close(notify::event::AccessMode::Write)) => true,
            EventKind::Access(_) => false,
            _ => true,
        };
        if changes && event.paths.iter().any(|p| p.file_name() == Some(&name)) {
            let _ = events.send(());
        }
    })
    .context("cannot watch files")?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .with_context(|| format!("cannot watch {}", dir.display()))?;
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
