//! Errors the runtime reports to its embedder and to guests.
//!
//! Host functions fail in one of two ways: a *trap* kills the calling process
//! (bad pointer, unknown resource ID, ...), while a recoverable failure becomes
//! an error ID in the guest's error table (`lunatic::error`). Both are built here
//! so that messages look the same everywhere.

use std::fmt;

/// A problem with the program given to the runtime (file, module, imports),
/// reported before any process runs.
#[derive(Debug)]
pub struct LoadError(pub(crate) String);

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

/// Builds the error a host function returns to kill the calling process.
///
/// The text ends up in the process's failure log line.
pub(crate) fn trap(msg: impl fmt::Display) -> wasmi::Error {
    wasmi::Error::new(format!("{msg}"))
}

/// Shorthand for `Err(trap(..))`.
macro_rules! bail_trap {
    ($($arg:tt)*) => { return Err($crate::errors::trap(format_args!($($arg)*))) };
}
pub(crate) use bail_trap;

/// Renders a wasmi error for a log line or an `Error:` message, on one line.
pub(crate) fn one_line(err: &dyn fmt::Display) -> String {
    let text = err.to_string();
    text.split('\n').map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(": ")
}
