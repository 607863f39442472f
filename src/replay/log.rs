//! The recording format: a line-based text file.
//!
//! ```text
//! lunatic-replay 1                      format and version
//! runtime 0.1.0                         the runtime that recorded it
//! module fnv1a64:9c1e0b2d8f3a7e11 94213 hash and length of the module bytes
//! seed 0                                the deterministic scheduler's seed
//! fuel-slice 30000                      the configured fuel slice
//! arg race.wasm                         the root's arguments, one per line
//! env HOME=/root                        the root's environment, in order
//! dir . .                               preopened directories: guest name, host path
//! start
//! S 1 1 clock_time_get 1 = some 120345  a call answered at once: process, call number, call, result
//! A 2 1 tcp_read 0 1024                 a call that waits on the outside world begins
//! D 57 2 1 = ok hello%0A                ... and its answer is delivered at scheduler step 57
//! X 2 3 = ok abc                        ... or is taken when its timeout fires
//! T 2 4                                 ... or the timeout fired first
//! W 58 1500000                          virtual time followed 1.5 ms of real waiting at step 58
//! E 0                                   the root process ended with this exit status
//! ```
//!
//! Fields are separated by one space. Each field is a token: `~` is the
//! empty string, `#` starts hex bytes, anything else is text in which `%`,
//! `=`, `~`, `#`, spaces and bytes outside printable ASCII are written as
//! `%XX`. A lone `=` separates a call from its result.

use std::fmt::{self, Write as _};
use std::io::{self, BufRead, Write};

/// The first line of every recording.
pub(crate) const MAGIC: &str = "lunatic-replay";
/// The format version this runtime writes and reads.
pub(crate) const VERSION: u32 = 1;

/// Encodes bytes as one token.
pub(crate) fn token(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "~".into();
    }
    let escaped = bytes.iter().filter(|&&b| needs_escape(b)).count();
    let mut out = String::with_capacity(bytes.len() + 2 * escaped + 1);
    if 2 * escaped > bytes.len() + 1 {
        // Mostly binary: hex (2 characters a byte) is shorter than escapes.
        out.push('#');
        for b in bytes {
            let _ = write!(out, "{b:02x}");
        }
        return out;
    }
    for &b in bytes {
        if needs_escape(b) {
            let _ = write!(out, "%{b:02X}");
        } else {
            out.push(b as char);
        }
    }
    out
}

fn needs_escape(b: u8) -> bool {
    !(0x21..=0x7e).contains(&b) || matches!(b, b'%' | b'=' | b'~' | b'#')
}

/// Decodes a token made by [`token`].
pub(crate) fn untoken(token: &str) -> Result<Vec<u8>, String> {
    if token == "~" {
        return Ok(Vec::new());
    }
    let bad = || format!("malformed token `{}`", preview(token, 40));
    let hex = |pair: &[u8]| -> Option<u8> {
        u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()
    };
    if let Some(digits) = token.strip_prefix('#') {
        if digits.len() % 2 != 0 {
            return Err(bad());
        }
        return digits.as_bytes().chunks(2).map(|p| hex(p).ok_or_else(bad)).collect();
    }
    let bytes = token.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let pair = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
                out.push(hex(pair).ok_or_else(bad)?);
                i += 3;
            }
            b if needs_escape(b) => return Err(bad()),
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// At most `max` characters of `text`, with an ellipsis if cut.
pub(crate) fn preview(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Everything a replay needs before the first instruction runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) runtime: String,
    /// `fnv1a64:<hex>` of the module bytes.
    pub(crate) module_hash: String,
    pub(crate) module_len: u64,
    pub(crate) seed: u64,
    pub(crate) fuel_slice: u64,
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    /// Preopened directories: (guest name, host path).
    pub(crate) dirs: Vec<(String, String)>,
}

/// The hash recorded for a module: 64-bit FNV-1a (a mismatch check, not a
/// security measure).
pub(crate) fn module_hash(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("fnv1a64:{hash:016x}")
}

/// A host call as recorded: its name and arguments (tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Call {
    pub(crate) name: String,
    pub(crate) args: Vec<String>,
}

impl Call {
    /// A call of `name` with no arguments yet.
    pub(crate) fn new(name: &str) -> Self {
        Self { name: name.to_string(), args: Vec::new() }
    }

    /// Adds an argument.
    pub(crate) fn arg(mut self, value: impl super::Value) -> Self {
        value.put(&mut self.args);
        self
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.name)?;
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(&preview(arg, 48))?;
        }
        f.write_str(")")
    }
}

/// One line after the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// `S pid seq call.. = result..`: a call answered at once.
    Sync { pid: u64, seq: u64, call: Call, result: Vec<String> },
    /// `A pid seq call..`: a call that waits on the outside world began.
    Async { pid: u64, seq: u64, call: Call },
    /// `D step pid seq = result..`: its answer was delivered at a step.
    Delivered { step: u64, pid: u64, seq: u64, result: Vec<String> },
    /// `X pid seq = result..`: its answer was taken when its timeout fired.
    Late { pid: u64, seq: u64, result: Vec<String> },
    /// `T pid seq`: its timeout fired first.
    TimedOut { pid: u64, seq: u64 },
    /// `W step nanos`: virtual time followed real time while waiting.
    Waited { step: u64, nanos: u64 },
    /// `E status`: the root process ended.
    End { status: i32 },
}

impl Entry {
    /// A short description for divergence messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Entry::Sync { pid, seq, call, .. } => format!("process {pid} call #{seq}: {call}"),
            Entry::Async { pid, seq, call } => format!("process {pid} call #{seq}: {call}"),
            Entry::Delivered { step, pid, seq, .. } => {
                format!("the answer to process {pid} call #{seq} at step {step}")
            }
            Entry::Late { pid, seq, .. } => {
                format!("the answer to process {pid} call #{seq} when its timeout fired")
            }
            Entry::TimedOut { pid, seq } => format!("a timeout of process {pid} call #{seq}"),
            Entry::Waited { step, nanos } => format!("a wait of {nanos} ns at step {step}"),
            Entry::End { status } => format!("the end of the run (exit status {status})"),
        }
    }
}

fn push_tokens(line: &mut String, tokens: &[String]) {
    for t in tokens {
        line.push(' ');
        line.push_str(t);
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = String::new();
        match self {
            Entry::Sync { pid, seq, call, result } => {
                let _ = write!(line, "S {pid} {seq} {}", call.name);
                push_tokens(&mut line, &call.args);
                line.push_str(" =");
                push_tokens(&mut line, result);
            }
            Entry::Async { pid, seq, call } => {
                let _ = write!(line, "A {pid} {seq} {}", call.name);
                push_tokens(&mut line, &call.args);
            }
            Entry::Delivered { step, pid, seq, result } => {
                let _ = write!(line, "D {step} {pid} {seq} =");
                push_tokens(&mut line, result);
            }
            Entry::Late { pid, seq, result } => {
                let _ = write!(line, "X {pid} {seq} =");
                push_tokens(&mut line, result);
            }
            Entry::TimedOut { pid, seq } => {
                let _ = write!(line, "T {pid} {seq}");
            }
            Entry::Waited { step, nanos } => {
                let _ = write!(line, "W {step} {nanos}");
            }
            Entry::End { status } => {
                let _ = write!(line, "E {status}");
            }
        }
        f.write_str(&line)
    }
}

impl std::str::FromStr for Entry {
    type Err = String;

    fn from_str(line: &str) -> Result<Self, String> {
        let mut fields = line.split(' ');
        let tag = fields.next().unwrap_or_default();
        let mut num = |what: &str| -> Result<u64, String> {
            let field = fields.next().ok_or_else(|| format!("missing {what}"))?;
            field.parse().map_err(|_| format!("bad {what} `{field}`"))
        };
        let entry = match tag {
            "S" | "A" => {
                let (pid, seq) = (num("process")?, num("call number")?);
                let name = fields.next().ok_or("missing call name")?.to_string();
                let mut args = Vec::new();
                let mut result = None;
                for field in fields {
                    match (&mut result, field) {
                        (None, "=") if tag == "S" => result = Some(Vec::new()),
                        (Some(result), field) => result.push(field.to_string()),
                        (None, field) => args.push(field.to_string()),
                    }
                }
                let call = Call { name, args };
                match (tag, result) {
                    ("S", Some(result)) => Entry::Sync { pid, seq, call, result },
                    ("S", None) => return Err("missing `=` before the result".into()),
                    _ => Entry::Async { pid, seq, call },
                }
            }
            "D" | "X" => {
                let step = if tag == "D" { num("step")? } else { 0 };
                let (pid, seq) = (num("process")?, num("call number")?);
                if fields.next() != Some("=") {
                    return Err("missing `=` before the result".into());
                }
                let result = fields.map(str::to_string).collect();
                if tag == "D" {
                    Entry::Delivered { step, pid, seq, result }
                } else {
                    Entry::Late { pid, seq, result }
                }
            }
            "T" => Entry::TimedOut { pid: num("process")?, seq: num("call number")? },
            "W" => Entry::Waited { step: num("step")?, nanos: num("nanoseconds")? },
            "E" => {
                let field = fields.next().ok_or("missing exit status")?;
                Entry::End { status: field.parse().map_err(|_| format!("bad status `{field}`"))? }
            }
            other => return Err(format!("unknown entry kind `{}`", preview(other, 10))),
        };
        Ok(entry)
    }
}

/// Writes a recording.
pub(crate) struct Writer {
    out: Box<dyn Write + Send>,
}

impl Writer {
    /// Starts a recording with its header.
    pub(crate) fn new(mut out: Box<dyn Write + Send>, header: &Header) -> io::Result<Self> {
        writeln!(out, "{MAGIC} {VERSION}")?;
        writeln!(out, "runtime {}", token(header.runtime.as_bytes()))?;
        writeln!(out, "module {} {}", header.module_hash, header.module_len)?;
        writeln!(out, "seed {}", header.seed)?;
        writeln!(out, "fuel-slice {}", header.fuel_slice)?;
        for arg in &header.args {
            writeln!(out, "arg {}", token(arg.as_bytes()))?;
        }
        for (key, value) in &header.env {
            writeln!(out, "env {}={}", token(key.as_bytes()), token(value.as_bytes()))?;
        }
        for (guest, host) in &header.dirs {
            writeln!(out, "dir {} {}", token(guest.as_bytes()), token(host.as_bytes()))?;
        }
        writeln!(out, "start")?;
        Ok(Self { out })
    }

    /// Appends one entry.
    pub(crate) fn entry(&mut self, entry: &Entry) -> io::Result<()> {
        writeln!(self.out, "{entry}")
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A recording read back: its header and its entries with line numbers.
#[derive(Debug)]
pub(crate) struct Recording {
    pub(crate) header: Header,
    pub(crate) entries: Vec<(usize, Entry)>,
}

fn text(token: &str) -> Result<String, String> {
    String::from_utf8(untoken(token)?).map_err(|_| "not UTF-8".to_string())
}

/// Reads a whole recording; errors name the line.
pub(crate) fn read(input: impl BufRead) -> Result<Recording, String> {
    let mut lines = input.lines().enumerate().map(|(i, line)| (i + 1, line));
    let mut next = || -> Result<Option<(usize, String)>, String> {
        match lines.next() {
            None => Ok(None),
            Some((n, Ok(line))) => Ok(Some((n, line))),
            Some((n, Err(e))) => Err(format!("line {n}: {e}")),
        }
    };
    let first = next()?.map(|(_, l)| l).unwrap_or_default();
    let version =
        first.strip_prefix(MAGIC).and_then(|v| v.trim().parse::<u32>().ok()).ok_or_else(|| {
            "not a lunatic recording (the first line is not `lunatic-replay N`)".to_string()
        })?;
    if version != VERSION {
        return Err(format!(
            "recording format version {version}; this runtime reads version {VERSION}"
        ));
    }
    let mut header = Header {
        runtime: String::new(),
        module_hash: String::new(),
        module_len: 0,
        seed: 0,
        fuel_slice: crate::engine::DEFAULT_FUEL_SLICE,
        args: Vec::new(),
        env: Vec::new(),
        dirs: Vec::new(),
    };
    let mut started = false;
    while let Some((n, line)) = next()? {
        let at = |e: String| format!("line {n}: {e}");
        let (key, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let number = |s: &str| s.parse::<u64>().map_err(|_| at(format!("bad number `{s}`")));
        match key {
            "runtime" => header.runtime = text(rest).map_err(at)?,
            "module" => {
                let (hash, len) =
                    rest.split_once(' ').ok_or_else(|| at("bad module line".into()))?;
                header.module_hash = hash.to_string();
                header.module_len = number(len)?;
            }
            "seed" => header.seed = number(rest)?,
            "fuel-slice" => header.fuel_slice = number(rest)?,
            "arg" => header.args.push(text(rest).map_err(at)?),
            "env" => {
                let (k, v) = rest.split_once('=').ok_or_else(|| at("bad env line".into()))?;
                header.env.push((text(k).map_err(at)?, text(v).map_err(at)?));
            }
            "dir" => {
                let (g, h) = rest.split_once(' ').ok_or_else(|| at("bad dir line".into()))?;
                header.dirs.push((text(g).map_err(at)?, text(h).map_err(at)?));
            }
            "start" => {
                started = true;
                break;
            }
            other => return Err(at(format!("unknown header field `{}`", preview(other, 20)))),
        }
    }
    if !started {
        return Err("the recording has no `start` line (truncated header)".into());
    }
    let mut entries = Vec::new();
    while let Some((n, line)) = next()? {
        if line.is_empty() {
            continue;
        }
        entries.push((n, line.parse::<Entry>().map_err(|e| format!("line {n}: {e}"))?));
    }
    Ok(Recording { header, entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let cases: [&[u8]; 8] = [
            b"",
            b"hello",
            b"GET / HTTP/1.1\r\n",
            b"a=b ~#%",
            &[0, 1, 2, 255, 254, 7],
            "héllo".as_bytes(),
            b"~",
            b"#41",
        ];
        for bytes in cases {
            let t = token(bytes);
            assert!(!t.is_empty() && !t.contains(' ') && !t.contains('\n') && t != "=", "{t:?}");
            assert_eq!(untoken(&t).unwrap(), bytes, "{t}");
        }
        assert_eq!(token(b"GET / x\n"), "GET%20/%20x%0A");
        assert_eq!(token(&[0, 1, 2, 255]), "#000102ff");
        assert!(untoken("%4").is_err());
        assert!(untoken("#abc").is_err());
        assert!(untoken("a=b").is_err());
    }

    fn header() -> Header {
        Header {
            runtime: "0.1.0".into(),
            module_hash: module_hash(b"\0asm"),
            module_len: 4,
            seed: 42,
            fuel_slice: 1000,
            args: vec!["app.wasm".into(), "two words".into(), String::new()],
            env: vec![("A".into(), "x=y".into()), ("EMPTY".into(), String::new())],
            dirs: vec![(".".into(), ".".into()), ("/data".into(), "/tmp/a b".into())],
        }
    }

    fn entries() -> Vec<Entry> {
        let call = Call::new("tcp_write").arg(3u64).arg(b"hi there\n".to_vec());
        vec![
            Entry::Sync {
                pid: 1,
                seq: 1,
                call: Call::new("clock_time_get").arg(1u32),
                result: vec!["some".into(), "5".into()],
            },
            Entry::Sync { pid: 1, seq: 2, call: Call::new("random_get").arg(0u32), result: vec![] },
            Entry::Async { pid: 2, seq: 7, call },
            Entry::Delivered { step: 99, pid: 2, seq: 7, result: vec!["ok".into(), "9".into()] },
            Entry::Late { pid: 2, seq: 8, result: vec!["ok".into(), "~".into()] },
            Entry::TimedOut { pid: 2, seq: 9 },
            Entry::Waited { step: 100, nanos: 1_500_000 },
            Entry::End { status: -3 },
        ]
    }

    #[test]
    fn recordings_round_trip() {
        struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut w = Writer::new(Box::new(Shared(buf.clone())), &header()).unwrap();
        for e in entries() {
            w.entry(&e).unwrap();
        }
        w.flush().unwrap();
        let bytes = buf.lock().unwrap().clone();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("lunatic-replay 1\n"), "{text}");
        assert!(text.contains("\nS 1 1 clock_time_get 1 = some 5\n"), "{text}");
        assert!(text.contains("\nA 2 7 tcp_write 3 hi%20there%0A\n"), "{text}");
        let recording = read(&bytes[..]).unwrap();
        assert_eq!(recording.header, header());
        let read_back: Vec<Entry> = recording.entries.iter().map(|(_, e)| e.clone()).collect();
        assert_eq!(read_back, entries());
        // Line numbers count the header.
        assert_eq!(recording.entries[0].0, 14);
    }

    #[test]
    fn bad_recordings_are_refused_with_the_line() {
        assert!(read(&b"hello\n"[..]).unwrap_err().contains("not a lunatic recording"));
        assert!(read(&b"lunatic-replay 9\n"[..]).unwrap_err().contains("version 9"));
        assert!(read(&b"lunatic-replay 1\nseed 1\n"[..]).unwrap_err().contains("no `start`"));
        let err = read(&b"lunatic-replay 1\nstart\nS 1 x f =\n"[..]).unwrap_err();
        assert!(err.contains("line 3") && err.contains("call number"), "{err}");
        let err = read(&b"lunatic-replay 1\nstart\nQ 1\n"[..]).unwrap_err();
        assert!(err.contains("unknown entry kind"), "{err}");
        let err = read(&b"lunatic-replay 1\nstart\nS 1 2 f 3\n"[..]).unwrap_err();
        assert!(err.contains("missing `=`"), "{err}");
    }

    #[test]
    fn module_hashes_differ() {
        assert_ne!(module_hash(b"a"), module_hash(b"b"));
        assert_eq!(module_hash(b""), "fnv1a64:cbf29ce484222325");
    }
}
