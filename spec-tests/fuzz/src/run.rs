//! Running one batch root under the `lunatic` binary and judging the result:
//! a runtime panic message, death by a signal, an unexpected exit status, no
//! progress for too long (hang), or resident memory past the bound.

use crate::gen::{self, Entry};
use crate::host::HostTable;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Something the runtime must never do.
#[derive(Clone, Debug)]
pub enum Finding {
    /// A Rust panic (or other fatal runtime message) in the runtime's output.
    Panic(String),
    /// Killed by a signal we did not send.
    Signal(i32),
    /// An exit status other than 0 (root finished) or 101 (root failed).
    Exit(i32, String),
    /// No progress for the hang limit; where the runtime's threads were
    /// (the innermost host functions on their stacks, when gdb is there).
    Hang(String),
    /// Resident memory past the bound (KiB when killed), and where.
    Memory(u64, String),
    /// A guest printed the canary file, which lies outside every sandbox.
    Escape(String),
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Panic(s) => write!(f, "runtime panic: {s}"),
            Finding::Signal(s) => write!(f, "runtime died by signal {s}{}", if *s == libc::SIGABRT { " (SIGABRT, abort)" } else { "" }),
            Finding::Exit(c, s) => write!(f, "runtime exit status {c}: {s}"),
            Finding::Hang(w) => write!(f, "hang: no progress within the limit; {w}"),
            Finding::Memory(k, w) => write!(f, "host memory: RSS reached {} MiB; {w}", k / 1024),
            Finding::Escape(l) => write!(f, "sandbox escape: a guest printed the canary file outside its preopens ({l})"),
        }
    }
}

impl Finding {
    /// What makes two findings the same bug (for de-duplication).
    pub fn key(&self) -> String {
        match self {
            Finding::Panic(s) => {
                let loc = s.split("panicked at ").nth(1).unwrap_or(s);
                format!("panic {}", loc.split_whitespace().next().unwrap_or(""))
            }
            Finding::Signal(s) => format!("signal {s}"),
            Finding::Exit(c, _) => format!("exit {c}"),
            Finding::Hang(w) => format!("hang {}", stable(w)),
            Finding::Memory(_, w) => format!("memory {}", stable(w)),
            Finding::Escape(_) => "escape".into(),
        }
    }
    pub fn kind(&self) -> &'static str {
        match self {
            Finding::Panic(_) => "panic",
            Finding::Signal(_) => "signal",
            Finding::Exit(..) => "exit",
            Finding::Hang(_) => "hang",
            Finding::Memory(..) => "memory",
            Finding::Escape(_) => "escape",
        }
    }
}

/// A "where" without the sampled innermost frames ("a in b" -> "b"), which
/// vary from one sample of the same bug to the next.
fn stable(w: &str) -> String {
    let mut parts: Vec<&str> = w.split(", ").map(|p| p.rsplit(" in ").next().unwrap_or(p)).collect();
    parts.sort();
    parts.dedup();
    parts.join(", ")
}

/// How one runtime invocation went.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Children the root saw to their end.
    pub markers: usize,
    /// The child that caused the finding, when the output tells.
    pub culprit: Option<usize>,
    /// The root wrote its end marker.
    pub ended: bool,
    pub finding: Option<Finding>,
    pub peak_rss_kib: u64,
    /// The last part of the runtime's output.
    pub tail: String,
}

pub struct Runner {
    /// The canary file's content (see [`crate::gen::CANARY`]).
    pub canary: String,
    pub lunatic: PathBuf,
    pub mem_limit_kib: u64,
    pub hang: Duration,
}

/// The runtime's `--max-total-memory` for an RSS bound of `mem_limit_kib`:
/// three eighths of it (768 MiB of 2 GiB).
pub fn total_memory_mib(mem_limit_kib: u64) -> u64 {
    (mem_limit_kib / 1024 * 3 / 8).max(1)
}

/// A fresh base directory (0755) for work dirs, probes and the corpus.
pub fn make_base() -> Result<PathBuf, String> {
    let base = std::env::temp_dir().join(format!("lunatic-fuzz-{}-{}", std::process::id(), fastrand::u32(..)));
    std::fs::create_dir_all(&base).map_err(|e| format!("{}: {e}", base.display()))?;
    set_mode(&base, 0o755);
    Ok(base)
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
}

/// Writes the canary file next to the work dirs (readable by all, so only
/// the sandbox keeps a guest from it) and returns its content.
pub fn make_canary(base: &Path) -> Result<String, String> {
    let secret = format!("FZCANARY{:016x}", fastrand::u64(..));
    let p = base.join(crate::gen::CANARY);
    std::fs::write(&p, format!("{secret}\n")).map_err(|e| e.to_string())?;
    set_mode(&p, 0o644);
    Ok(secret)
}

/// Copies the runtime next to the work dirs (the unprivileged user that runs
/// it must reach it; and a rebuild during the run does not change it).
pub fn install_binary(lunatic: &Path, base: &Path) -> Result<PathBuf, String> {
    let to = base.join("lunatic");
    std::fs::copy(lunatic, &to).map_err(|e| format!("cannot copy the runtime {}: {e}", lunatic.display()))?;
    set_mode(&to, 0o755);
    // A temp dir mounted noexec: run it where it is.
    let runs = Command::new(&to).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    Ok(if runs { to } else { lunatic.to_path_buf() })
}

/// Work dir of worker `w`: the runtime's cwd (its preopened `.`).
pub fn workdir(base: &Path, w: usize) -> Result<PathBuf, String> {
    let d = base.join(format!("w{w}"));
    std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
    set_mode(&d, 0o777);
    Ok(d)
}

fn reset(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                let _ = std::fs::remove_dir_all(&p);
            } else {
                let _ = std::fs::remove_file(&p);
            }
        }
    }
    let sb = dir.join("fz-sandbox");
    let _ = std::fs::create_dir_all(&sb);
    set_mode(&sb, 0o777);
}

/// Backtraces of every thread of `pid` (gdb, when installed), and a short
/// "where": the innermost runtime function on each stack that runs a host
/// function or the scheduler, de-duplicated.
fn stacks(pid: i32) -> (String, String) {
    let out = Command::new("timeout")
        .args(["30", "gdb", "-p", &pid.to_string(), "-batch", "-ex", "thread apply all bt 60"])
        .stdin(Stdio::null())
        .output();
    let Ok(out) = out else { return (String::new(), "no backtrace (gdb missing)".into()) };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !text.contains("\nThread ") {
        return (String::from_utf8_lossy(&out.stderr).into_owned(), "no backtrace (gdb missing or failed)".into());
    }
    let mut wheres: Vec<String> = Vec::new();
    let mut deepest = 0;
    for thread in text.split("\nThread ").skip(1) {
        deepest = deepest.max(thread.matches("execute_root_func").count());
        let frame = thread.lines().filter(|l| l.starts_with('#')).find_map(|l| {
            let at = l.find("lunatic_wasmi::")?;
            let name: String = l[at..].split_whitespace().next()?.to_string();
            // Strip the symbol hash.
            let name = match name.rfind("::h") {
                Some(p) if name.len() - p == 19 => name[..p].to_string(),
                _ => name,
            };
            (name.contains("::api::") || name.contains("::wasi::")).then_some(name)
        });
        if let Some(f) = frame {
            if !wheres.contains(&f) {
                wheres.push(f);
            }
        }
    }
    wheres.sort();
    if deepest >= 3 {
        // Host functions that call back into the guest (trap::catch, lunatic_alloc), nested.
        wheres.push(format!("nested host->guest calls ({}{} deep on one stack)", deepest, if deepest >= 20 { "+" } else { "" }));
    }
    if wheres.is_empty() {
        // No thread in a host function: name where each busy thread is, as
        // "<innermost wasmi/runtime frame> in <innermost runtime frame>".
        for thread in text.split("\nThread ").skip(1) {
            let frames: Vec<String> = thread.lines().filter(|l| l.starts_with('#')).filter_map(|l| symbol(l)).collect();
            let first = frames.iter().find(|f| f.starts_with("wasmi::") || f.starts_with("lunatic_wasmi::"));
            let ours = frames.iter().find(|f| f.starts_with("lunatic_wasmi::"));
            if let (Some(a), Some(b)) = (first, ours) {
                if b.contains("scheduler") || b.ends_with("runner::run") || a.contains("reactor") {
                    continue; // an idle worker
                }
                let w = if a == b { a.clone() } else { format!("{a} in {b}") };
                if !wheres.contains(&w) {
                    wheres.push(w);
                }
            }
        }
        wheres.sort();
    }
    let w = if wheres.is_empty() { "no thread inside a host function".to_string() } else { format!("stacks in {}", wheres.join(", ")) };
    (text, w)
}

/// The function name of a gdb frame line, without its hash.
fn symbol(line: &str) -> Option<String> {
    let rest = line.split(" in ").nth(1).unwrap_or(line.split_whitespace().nth(1)?);
    let name = rest.split(" (").next()?.trim().to_string();
    Some(match name.rfind("::h") {
        Some(p) if name.len() - p == 19 => name[..p].to_string(),
        _ => name,
    })
}

fn rss_kib(pid: i32) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { return 0 };
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// What a reader thread saw in one output stream.
#[derive(Default)]
struct Seen {
    fatal: Vec<String>,
    escaped: Option<String>,
    /// Children finished when the canary appeared (the one running printed it).
    escaped_at: usize,
    ended: bool,
    tail: Vec<u8>,
}

fn reader(mut r: impl Read, marker: String, canary: String, count: Arc<AtomicUsize>, seen: Arc<Mutex<Seen>>) {
    let end = format!("@@{marker}-END@@");
    let mark = format!("@@{marker}@@");
    let mut line: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 65536];
    let mut take_next = false;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut s = seen.lock().unwrap();
        s.tail.extend_from_slice(&buf[..n]);
        if s.tail.len() > 16384 {
            let cut = s.tail.len() - 8192;
            s.tail.drain(..cut);
        }
        for &b in &buf[..n] {
            if b != b'\n' {
                if line.len() < 4096 {
                    line.push(b);
                }
                continue;
            }
            let l = String::from_utf8_lossy(&line).into_owned();
            if take_next {
                if let Some(last) = s.fatal.last_mut() {
                    last.push_str(" / ");
                    last.push_str(l.trim());
                }
                take_next = false;
            }
            if l.contains(&mark) {
                count.fetch_add(l.matches(&mark).count(), Ordering::Relaxed);
            }
            if l.contains(&end) {
                s.ended = true;
            }
            if l.contains(&canary) && s.escaped.is_none() {
                s.escaped = Some(l.trim().chars().take(200).collect());
                s.escaped_at = count.load(Ordering::Relaxed);
            }
            // Messages of the Rust runtime: a panic, an abort, a stack overflow, a
            // failed allocation; and the executor's note about a panicked task.
            let fatal = ["panicked at", "a task panicked", "fatal runtime error", "has overflowed its stack", "memory allocation of"];
            if fatal.iter().any(|p| l.contains(p)) && s.fatal.len() < 20 {
                s.fatal.push(l.trim().chars().take(400).collect());
                take_next = l.contains("panicked at") && l.trim_end().ends_with(':');
            }
            line.clear();
        }
    }
}

impl Runner {
    /// Runs a batch root over `entries` in `dir`, threaded or `--deterministic=seed`.
    pub fn run_batch(&self, host: &HostTable, entries: &[&Entry], det: Option<u64>, dir: &Path) -> Result<Outcome, String> {
        let marker = format!("FZ{:016x}", fastrand::u64(..));
        let owned: Vec<Entry> = entries.iter().map(|e| Entry { bytes: e.bytes.clone(), depth: e.depth }).collect();
        let root = gen::encode_root(host, &owned, &marker, 5, 20)?;
        reset(dir);
        let file = dir.join("root.wasm");
        std::fs::write(&file, &root).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&self.lunatic);
        cmd.arg("run");
        // Each process's linear memory is bounded by its `max_memory`; all
        // of them together by this cap (a fork bomb of processes each within
        // its limit is a program's right up to it). The RSS bound checks
        // the host memory beyond: about 0.7x of the linear memory at most
        // (warm pool blocks, stacks, stores), measured on a fork bomb.
        cmd.arg(format!("--max-total-memory={}", total_memory_mib(self.mem_limit_kib)));
        if let Some(s) = det {
            cmd.arg(format!("--deterministic={s}"));
        }
        cmd.arg("root.wasm")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("RUST_LOG", "error")
            .env_remove("RUST_BACKTRACE");
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::setpgid(0, 0);
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                let core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
                libc::setrlimit(libc::RLIMIT_CORE, &core);
                // As root, run the guest's runtime as nobody: a sandbox escape
                // (a bug to find, not to suffer) then cannot write the system.
                if libc::geteuid() == 0 {
                    if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", self.lunatic.display()))?;
        let pid = child.id() as i32;
        let count = Arc::new(AtomicUsize::new(0));
        let seen_out = Arc::new(Mutex::new(Seen::default()));
        let seen_err = Arc::new(Mutex::new(Seen::default()));
        let r1 = {
            let (o, m, c, s) = (child.stdout.take().unwrap(), marker.clone(), count.clone(), seen_out.clone());
            let k = self.canary.clone();
            std::thread::spawn(move || reader(o, m, k, c, s))
        };
        let r2 = {
            let (o, m, c, s) = (child.stderr.take().unwrap(), marker.clone(), count.clone(), seen_err.clone());
            let k = self.canary.clone();
            std::thread::spawn(move || reader(o, m, k, c, s))
        };
        let mut last_progress = Instant::now();
        let mut last_count = 0;
        let mut peak = 0;
        let mut killed: Option<Finding> = None;
        let mut backtrace = String::new();
        let mut status: libc::c_int = 0;
        // SAFETY: a zeroed rusage is a valid out-parameter.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: waiting for our own child with valid out-pointers.
            let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
            if r == pid {
                break;
            }
            if r < 0 {
                return Err(format!("wait4: {}", std::io::Error::last_os_error()));
            }
            let rss = rss_kib(pid);
            peak = peak.max(rss);
            let c = count.load(Ordering::Relaxed);
            if c != last_count {
                last_count = c;
                last_progress = Instant::now();
            }
            if killed.is_none() {
                if rss > self.mem_limit_kib {
                    let (bt, w) = stacks(pid);
                    backtrace = bt;
                    killed = Some(Finding::Memory(rss, w));
                } else if last_progress.elapsed() > self.hang {
                    let (bt, w) = stacks(pid);
                    backtrace = bt;
                    killed = Some(Finding::Hang(w));
                }
                if killed.is_some() {
                    // SAFETY: signalling our own child's process group.
                    unsafe { libc::kill(-pid, libc::SIGKILL) };
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: the group may hold nothing any more; harmless then.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        drop(child);
        let _ = r1.join();
        let _ = r2.join();
        peak = peak.max(ru.ru_maxrss as u64);
        let (so, se) = (seen_out.lock().unwrap(), seen_err.lock().unwrap());
        let mut tail = String::from_utf8_lossy(&se.tail).into_owned();
        tail.push_str("\n--- stdout ---\n");
        tail.push_str(&String::from_utf8_lossy(&so.tail));
        let fatal: Vec<String> = se.fatal.iter().chain(&so.fatal).cloned().collect();
        let finding = if let Some(k) = killed {
            Some(k)
        } else if let Some(first) = fatal.first() {
            Some(Finding::Panic(first.clone()))
        } else if let Some(l) = se.escaped.clone().or(so.escaped.clone()) {
            Some(Finding::Escape(l))
        } else if libc::WIFSIGNALED(status) {
            Some(Finding::Signal(libc::WTERMSIG(status)))
        } else if libc::WIFEXITED(status) && ![0, 101].contains(&libc::WEXITSTATUS(status)) {
            let last = String::from_utf8_lossy(&se.tail).lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").chars().take(300).collect();
            Some(Finding::Exit(libc::WEXITSTATUS(status), last))
        } else {
            None
        };
        if !backtrace.is_empty() {
            tail.push_str("\n--- backtraces ---\n");
            tail.push_str(&backtrace);
        }
        let culprit = match &finding {
            Some(Finding::Escape(_)) => Some(if se.escaped.is_some() { se.escaped_at } else { so.escaped_at }),
            _ => None,
        };
        Ok(Outcome { markers: count.load(Ordering::Relaxed), culprit, ended: se.ended || so.ended, finding, peak_rss_kib: peak, tail })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_counts_markers_and_catches_panics() {
        let text = b"junk\n@@FZ1@@\nmore@@FZ1@@\n\nthread 'lunatic-worker-0' panicked at src/api/timer.rs:10:5:\nattempt to add with overflow\n@@FZ2@@\n@@FZ1-END@@\n";
        let count = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Seen::default()));
        // Fed in small pieces, as a pipe may deliver it.
        struct Chunks<'a>(&'a [u8]);
        impl Read for Chunks<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(7).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        reader(Chunks(text), "FZ1".into(), "FZCANARY".into(), count.clone(), seen.clone());
        assert_eq!(count.load(Ordering::Relaxed), 2);
        let s = seen.lock().unwrap();
        assert!(s.ended);
        assert_eq!(s.fatal.len(), 1);
        assert!(s.fatal[0].contains("src/api/timer.rs:10:5") && s.fatal[0].contains("overflow"), "{:?}", s.fatal);
        let f = Finding::Panic(s.fatal[0].clone());
        assert_eq!(f.key(), "panic src/api/timer.rs:10:5:");
    }

    #[test]
    fn gdb_frames_name_functions() {
        let l = "#10 0x000055f58883453f in lunatic_wasmi::api::process::spawn_from_guest::h226615d2bc67a33d ()";
        assert_eq!(symbol(l).unwrap(), "lunatic_wasmi::api::process::spawn_from_guest");
    }
}
