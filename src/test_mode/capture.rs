//! Output capture for test processes.
//!
//! Each test gets a [`Capture`]: one in-memory stream for the test process
//! (its stdout and stderr, interleaved as written) and one more for every
//! process spawned under it, at any depth. With `--nocapture` every write is
//! also echoed at once to the runtime's own stdout or stderr (and only the
//! test process's own output is kept, to look for its panic message).

use crate::protocol::Stdio;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

/// The captured output of one test and the processes it spawned.
#[derive(Debug)]
pub(crate) struct Capture {
    /// Stream 0 is the test process; the others are in spawn order.
    streams: Mutex<Vec<Vec<u8>>>,
    echo: bool,
}

impl Capture {
    /// A capture with no streams yet; `echo` copies writes to the host streams.
    pub(crate) fn new(echo: bool) -> Arc<Self> {
        Arc::new(Self { streams: Mutex::new(Vec::new()), echo })
    }

    /// Adds a stream and returns the [`Stdio`] writing to it.
    pub(crate) fn stream(self: &Arc<Self>) -> Arc<dyn Stdio> {
        let mut streams = self.streams.lock().unwrap();
        streams.push(Vec::new());
        Arc::new(CaptureStdio { capture: self.clone(), stream: streams.len() - 1 })
    }

    /// What the test process itself wrote.
    pub(crate) fn own_output(&self) -> String {
        let streams = self.streams.lock().unwrap();
        streams.first().map(|s| String::from_utf8_lossy(s).into_owned()).unwrap_or_default()
    }

    /// Everything captured so far, as it is shown in a failure report: the
    /// raw text if only the test process wrote something, otherwise one
    /// ` --- process <i> stdout ---` section per stream that is not empty.
    pub(crate) fn render(&self) -> String {
        let streams = self.streams.lock().unwrap();
        render_streams(&streams)
    }

    fn write(&self, stream: usize, bytes: &[u8]) {
        // When echoing, only the test process's own output is still needed
        // (to find its panic message).
        if !self.echo || stream == 0 {
            self.streams.lock().unwrap()[stream].extend_from_slice(bytes);
        }
    }
}

fn render_streams(streams: &[Vec<u8>]) -> String {
    let written: Vec<(usize, &Vec<u8>)> =
        streams.iter().enumerate().filter(|(_, s)| !s.is_empty()).collect();
    match written.as_slice() {
        [] => String::new(),
        [(0, only)] => String::from_utf8_lossy(only).into_owned(),
        sections => {
            let mut text = String::new();
            for (index, bytes) in sections {
                text.push_str(&format!(" --- process {index} stdout ---\n"));
                text.push_str(&String::from_utf8_lossy(bytes));
                if !text.ends_with('\n') {
                    text.push('\n');
                }
            }
            text
        }
    }
}

/// The [`Stdio`] of one process in a capture.
struct CaptureStdio {
    capture: Arc<Capture>,
    stream: usize,
}

impl Stdio for CaptureStdio {
    fn stdout(&self, bytes: &[u8]) -> io::Result<()> {
        self.capture.write(self.stream, bytes);
        if self.capture.echo {
            let mut out = io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()?;
        }
        Ok(())
    }

    fn stderr(&self, bytes: &[u8]) -> io::Result<()> {
        self.capture.write(self.stream, bytes);
        if self.capture.echo {
            io::stderr().lock().write_all(bytes)?;
        }
        Ok(())
    }

    fn for_child(self: Arc<Self>) -> Arc<dyn Stdio> {
        self.capture.stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_stream_per_process() {
        let capture = Capture::new(false);
        let test = capture.stream();
        test.stdout(b"out ").unwrap();
        test.stderr(b"err\n").unwrap();
        assert_eq!(capture.own_output(), "out err\n");
        assert_eq!(capture.render(), "out err\n");

        let child = test.clone().for_child();
        let silent = test.clone().for_child();
        let grandchild = child.clone().for_child();
        child.stdout(b"from child").unwrap();
        grandchild.stderr(b"from grandchild\n").unwrap();
        drop(silent);
        assert_eq!(capture.own_output(), "out err\n");
        assert_eq!(
            capture.render(),
            " --- process 0 stdout ---\nout err\n --- process 1 stdout ---\nfrom child\n --- process 3 stdout ---\nfrom grandchild\n"
        );
    }

    #[test]
    fn child_only_output_is_sectioned() {
        let capture = Capture::new(false);
        let test = capture.stream();
        test.clone().for_child().stdout(b"hi\n").unwrap();
        assert_eq!(capture.own_output(), "");
        assert_eq!(capture.render(), " --- process 1 stdout ---\nhi\n");
        assert_eq!(Capture::new(false).render(), "");
    }
}
