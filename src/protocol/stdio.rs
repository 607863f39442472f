//! Where a process's standard streams go.

use std::io::{self, Write};
use std::sync::Arc;

/// The standard output and error of a process.
///
/// Normal runs write straight to the host's streams; test mode captures them
/// per test, with one sub-stream per spawned process.
pub trait Stdio: Send + Sync {
    /// Writes to the process's stdout.
    fn stdout(&self, bytes: &[u8]) -> io::Result<()>;
    /// Writes to the process's stderr.
    fn stderr(&self, bytes: &[u8]) -> io::Result<()>;
    /// The streams a child spawned by this process gets.
    fn for_child(self: Arc<Self>) -> Arc<dyn Stdio>;
}

/// The host's own stdout and stderr, shared by every process.
#[derive(Debug, Default)]
pub struct InheritStdio;

impl Stdio for InheritStdio {
    fn stdout(&self, bytes: &[u8]) -> io::Result<()> {
        // Rust's stdout is line-buffered; guests write whole chunks, so flush
        // to keep ordering with stderr and with other processes.
        let mut out = io::stdout().lock();
        out.write_all(bytes)?;
        out.flush()
    }

    fn stderr(&self, bytes: &[u8]) -> io::Result<()> {
        io::stderr().lock().write_all(bytes)
    }

    fn for_child(self: Arc<Self>) -> Arc<dyn Stdio> {
        self
    }
}
