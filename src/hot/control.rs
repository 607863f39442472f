//! `lunatic reload`: a per-user Unix socket on which a running `lunatic
//! run` takes reload requests.
//!
//! The socket is `run-<ospid>.sock` in `$XDG_RUNTIME_DIR/lunatic/`, else in
//! `/tmp/lunatic-<uid>/`; the directory is the user's own (mode 0700, a
//! directory owned by anyone else is refused) and the socket is mode 0600,
//! so only the same user can ask. The run removes it when it ends.
//!
//! The protocol is one line each way: `reload [PATH]`, then `ok LINE` or
//! `err LINE`, where LINE is the reload's line as printed by the run.

use super::Request;
use anyhow::{bail, Context};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long either side waits for the other's line (a reload compiles
/// and starts the new version first).
const TIMEOUT: Duration = Duration::from_secs(60);

/// The directory of this user's sockets, made (mode 0700) if missing.
pub(crate) fn socket_dir() -> anyhow::Result<PathBuf> {
    let uid = rustix::process::getuid().as_raw();
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(runtime_dir) => PathBuf::from(runtime_dir).join("lunatic"),
        None => std::env::temp_dir().join(format!("lunatic-{uid}")),
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(&dir).with_context(|| format!("cannot inspect {}", dir.display()))?;
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
        bail!("{} is not a directory only this user can use (owner and mode 0700)", dir.display());
    }
    Ok(dir)
}

/// The socket of the run with OS process ID `pid`.
fn socket_of(dir: &Path, pid: u32) -> PathBuf {
    dir.join(format!("run-{pid}.sock"))
}

/// The socket of the running app, for [`remove_socket`].
static SOCKET: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);

/// Removes the run's control socket (before the process ends on a signal).
#[cfg_attr(any(target_os = "ios", target_os = "android"), allow(dead_code))]
pub(crate) fn remove_socket() {
    let path = SOCKET.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    if let Some(path) = path {
        let _ = std::fs::remove_file(path);
    }
}

/// A run's control socket; removed when dropped.
pub(crate) struct Server {
    path: PathBuf,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Listens on this run's socket; each request goes to `requests`.
    pub(crate) fn start(requests: async_channel::Sender<Request>) -> anyhow::Result<Self> {
        let path = socket_of(&socket_dir()?, std::process::id());
        // A socket left by a run that had this OS process ID before.
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).with_context(|| format!("cannot listen on {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        *SOCKET.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(path.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::Builder::new().name("lunatic-control".into()).spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(stream) = stream {
                    if let Err(e) = serve(stream, &requests) {
                        log::debug!(target: "lunatic::hot", "reload request: {e}");
                    }
                }
            }
        })?;
        Ok(Self { path, stop })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the thread's accept so it sees `stop` and ends.
        let _ = UnixStream::connect(&self.path);
        let _ = std::fs::remove_file(&self.path);
        let mut registered = SOCKET.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if registered.as_ref() == Some(&self.path) {
            *registered = None;
        }
    }
}

/// Answers one connection.
fn serve(stream: UnixStream, requests: &async_channel::Sender<Request>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let mut line = String::new();
    // One short line: bounded, whatever the peer sends.
    BufReader::new(std::io::Read::take(&stream, 64 << 10)).read_line(&mut line)?;
    let line = line.trim_end_matches(['\n', '\r']);
    let answer = match line.strip_prefix("reload") {
        Some(rest) if rest.is_empty() || rest.starts_with(' ') => {
            let path = rest.trim_start();
            let path = (!path.is_empty()).then(|| PathBuf::from(path));
            let (reply, replied) = async_channel::bounded(1);
            match requests.send_blocking(Request { path, reply: Some(reply) }) {
                Ok(()) => match replied.recv_blocking() {
                    Ok(Ok(line)) => format!("ok {line}"),
                    Ok(Err(line)) => format!("err {line}"),
                    Err(_) => "err lunatic: reload refused: the app is ending".into(),
                },
                Err(_) => "err lunatic: reload refused: the app is ending".into(),
            }
        }
        _ => "err lunatic: reload refused: unknown request".into(),
    };
    (&stream).write_all(format!("{}\n", answer.replace('\n', " ")).as_bytes())
}

/// `lunatic reload`: asks a running app to load `file` (default: its own
/// file). Returns the exit status: 0 when the new version became current.
pub(crate) fn reload_main(pid: Option<u32>, socket: Option<PathBuf>, file: Option<PathBuf>) -> i32 {
    match ask(pid, socket, file) {
        Ok((true, line)) => {
            eprintln!("{line}");
            0
        }
        Ok((false, line)) => {
            eprintln!("{line}");
            1
        }
        Err(e) => {
            eprintln!("lunatic: reload: {}", crate::errors::one_line(&format!("{e:#}")));
            1
        }
    }
}

fn ask(pid: Option<u32>, socket: Option<PathBuf>, file: Option<PathBuf>) -> anyhow::Result<(bool, String)> {
    let socket = match (socket, pid) {
        (Some(socket), _) => socket,
        (None, Some(pid)) => socket_of(&socket_dir()?, pid),
        (None, None) => only_run()?,
    };
    let stream = UnixStream::connect(&socket).with_context(|| format!("no app answers on {}", socket.display()))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    let mut request = "reload".to_string();
    if let Some(file) = file {
        let file = std::path::absolute(&file).unwrap_or(file);
        let file = file.to_str().context("the file name is not UTF-8")?;
        if file.contains('\n') {
            bail!("the file name contains a line break");
        }
        request = format!("reload {file}");
    }
    (&stream).write_all(format!("{request}\n").as_bytes())?;
    let mut answer = String::new();
    BufReader::new(std::io::Read::take(&stream, 64 << 10)).read_line(&mut answer)?;
    let answer = answer.trim_end();
    match (answer.strip_prefix("ok "), answer.strip_prefix("err ")) {
        (Some(line), _) => Ok((true, line.to_string())),
        (_, Some(line)) => Ok((false, line.to_string())),
        _ => bail!("the app gave no answer"),
    }
}

/// The socket of this user's only running app.
fn only_run() -> anyhow::Result<PathBuf> {
    let dir = socket_dir()?;
    let mut live = Vec::new();
    for entry in std::fs::read_dir(&dir)?.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with("run-") && name.ends_with(".sock")) {
            continue;
        }
        match UnixStream::connect(entry.path()) {
            Ok(_) => live.push(entry.path()),
            // Left by a run that was killed: nobody listens any more.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                let _ = std::fs::remove_file(entry.path());
            }
            Err(_) => {}
        }
    }
    match live.len() {
        0 => bail!("no running `lunatic run` of this user (looked in {})", dir.display()),
        1 => Ok(live.remove(0)),
        n => bail!("{n} apps are running: say which with --pid or --socket"),
    }
}
