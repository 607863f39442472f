//! `--trace`: the schedule of a deterministic run, one line per run of a
//! process (a slice that ended in preemption, a wait or an exit), plus the
//! outside world's answers when recording or replaying.
//!
//! ```text
//!    step  time(s)      process  fuel    then            host calls
//!      12  0.000231467  p2       100000  preempted       spawn, send×2
//!      13  0.000331467  p1       4211    waits: receive  receive
//!      57 p3 call #4 tcp_read: answer delivered
//! ```

use std::fmt;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

/// Where trace lines go.
pub(crate) struct Trace {
    out: Mutex<Box<dyn Write + Send>>,
}

impl Trace {
    /// Traces to `path`, or to stderr for `-`.
    pub(crate) fn open(path: &Path) -> io::Result<Self> {
        let out: Box<dyn Write + Send> = if path.as_os_str() == "-" {
            Box::new(io::stderr())
        } else {
            Box::new(io::BufWriter::new(std::fs::File::create(path)?))
        };
        let trace = Self { out: Mutex::new(out) };
        trace.line(format_args!(
            "{:>7}  {:<12} {:<8} {:<7} {:<15} host calls",
            "step", "time(s)", "process", "fuel", "then"
        ));
        Ok(trace)
    }

    /// Writes one line (errors are ignored: tracing never fails a run).
    pub(crate) fn line(&self, line: fmt::Arguments<'_>) {
        let mut out = self.out.lock().unwrap();
        let _ = writeln!(out, "{line}");
    }

    /// One run of a process.
    pub(crate) fn slice(
        &self,
        step: u64,
        time: std::time::Duration,
        pid: u64,
        fuel: u64,
        then: &str,
        calls: &[&'static str],
    ) {
        self.line(format_args!(
            "{step:>7}  {:<12.9} p{pid:<7} {fuel:<7} {then:<15} {}",
            time.as_secs_f64(),
            Calls(calls)
        ));
    }

    pub(crate) fn flush(&self) {
        let _ = self.out.lock().unwrap().flush();
    }
}

/// Host call names, repeats folded: `send×3, receive`.
struct Calls<'a>(&'a [&'static str]);

impl fmt::Display for Calls<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut i = 0;
        while i < self.0.len() {
            let name = self.0[i];
            let run = self.0[i..].iter().take_while(|&&n| n == name).count();
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            f.write_str(name)?;
            if run > 1 {
                write!(f, "×{run}")?;
            }
            i += run;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_calls_fold() {
        assert_eq!(Calls(&["a", "a", "b", "a"]).to_string(), "a×2, b, a");
        assert_eq!(Calls(&[]).to_string(), "");
    }
}
