//! Layer 4, host modules: WASI preview1 (`wasi_snapshot_preview1`) for
//! every process.
//!
//! All 46 functions are linked with their standard signatures by
//! [`add_to_linker`]. Each process has its own [`WasiCtx`] (made by
//! [`new_context`], kept in the process's contexts): arguments, environment
//! and a descriptor table (0–2 standard streams, then the config's
//! preopened directories from 3).
//!
//! * Paths are resolved with cap-std inside the directory descriptor they are
//!   relative to: `..` past it, absolute paths and symlinks leading out fail
//!   with `ENOTCAPABLE`.
//! * File work that can block (open, read, write, stat, list, ...) runs on
//!   the blocking pool while the process is suspended, so executor threads
//!   never wait on the disk; so does reading stdin. Writes to stdout and
//!   stderr go through the process's [`Stdio`](crate::protocol::Stdio).
//! * Clocks, sleeps (`poll_oneoff`) and randomness come from the scheduler,
//!   so a deterministic scheduler controls them.
//! * A bad pointer or length traps the process; a bad descriptor returns
//!   `EBADF`.
//!
//! Files: [`types`] (ABI constants and layouts), [`errno`] (host errors),
//! [`table`] (descriptors), [`fs`] (sandboxed file operations on the host),
//! and one file per group of functions: [`args_env`], [`clock`], [`fd`],
//! [`path`], [`poll`], [`sock`].

mod args_env;
mod clock;
mod errno;
mod fd;
mod fs;
mod grant;
mod path;
mod poll;
mod sock;
mod table;
mod types;

pub(crate) use args_env::Strings;
pub(crate) use grant::{check_guest_name, open_grant, split_mapping, MAX_CONFIG_PREOPENS};

use crate::protocol::guest;
use crate::engine::HostFunctions;
use crate::protocol::{completion, Contexts, ProcessConfig, ProcessState};
use std::sync::Arc;
use table::{Entry, FdTable, Kind};
use types::Errno;
use wasmi::{Caller, Val};

/// The import module name.
const M: &str = "wasi_snapshot_preview1";

/// Most bytes one read or write moves; larger requests are short, as POSIX
/// allows, so a guest cannot make the host allocate its whole memory twice.
const MAX_IO: usize = 16 << 20;

/// Per-process WASI state, built from the process's config.
pub(crate) struct WasiCtx {
    /// Arguments and environment, shared with every process of the same config.
    strings: Arc<(Strings, Strings)>,
    fds: FdTable,
}

impl WasiCtx {
    /// Builds the context of a new process. Fails if a preopened directory
    /// cannot be opened (the spawn fails then).
    pub(crate) fn new(config: &ProcessConfig) -> anyhow::Result<Self> {
        let mut fds = FdTable::default();
        fds.insert(Entry::stdio(Kind::Stdin)).expect("empty table");
        fds.insert(Entry::stdio(Kind::Stdout)).expect("empty table");
        fds.insert(Entry::stdio(Kind::Stderr)).expect("empty table");
        for preopen in &config.preopens {
            // A directory a guest granted is already open (and checked, see
            // `grant`); one from the command line is opened by its path.
            let (dir, base, inheriting) = match &preopen.granted {
                Some(g) => (g.dir.clone(), g.rights_base, g.rights_inheriting),
                None => {
                    let dir = table::open_preopen(&preopen.host).map_err(|e| {
                        anyhow::anyhow!(
                            "cannot open preopened directory '{}': {e}",
                            preopen.host.display()
                        )
                    })?;
                    (dir, types::RIGHTS_DIR, types::RIGHTS_ALL)
                }
            };
            let entry =
                Entry::preopen(dir, preopen.guest.clone(), preopen.host.clone(), base, inheriting);
            fds.insert(entry).map_err(|_| anyhow::anyhow!("too many preopened directories"))?;
        }
        Ok(Self {
            strings: config.derived(|config| {
                (
                    Strings::new(config.args.iter()),
                    Strings::new(config.envs.iter().map(|(k, v)| format!("{k}={v}"))),
                )
            }),
            fds,
        })
    }
}

impl Default for WasiCtx {
    /// Nothing granted: the standard streams only, no arguments, no
    /// environment, no preopened directory.
    fn default() -> Self {
        Self::new(&ProcessConfig::default()).unwrap_or_else(|_| Self {
            strings: Arc::new((Strings::new(None::<&str>), Strings::new(None::<&str>))),
            fds: FdTable::default(),
        })
    }
}

impl Contexts {
    /// The process's WASI context.
    pub(crate) fn wasi(&mut self) -> &mut WasiCtx {
        self.get::<WasiCtx>()
    }
}

/// Gives a new process its WASI context. Fails if a preopened directory
/// cannot be opened (the spawn fails then).
pub(crate) fn new_context(config: &ProcessConfig, contexts: &mut Contexts) -> anyhow::Result<()> {
    contexts.insert(WasiCtx::new(config)?);
    Ok(())
}

/// Links every preview1 function.
pub(crate) fn add_to_linker(host: &mut HostFunctions<ProcessState>) {
    args_env::register(host);
    clock::register(host);
    fd::register(host);
    path::register(host);
    poll::register(host);
    sock::register(host);
}

/// How a WASI call fails: with an errno the guest sees, or with a trap (or
/// suspension) of the process.
#[derive(Debug)]
pub(crate) enum Fail {
    Errno(Errno),
    Trap(wasmi::Error),
}

impl From<Errno> for Fail {
    fn from(errno: Errno) -> Self {
        Fail::Errno(errno)
    }
}

impl From<wasmi::Error> for Fail {
    fn from(error: wasmi::Error) -> Self {
        Fail::Trap(error)
    }
}

impl From<std::io::Error> for Fail {
    fn from(error: std::io::Error) -> Self {
        Fail::Errno(errno::from_io(&error))
    }
}

pub(crate) type WasiResult<T = ()> = Result<T, Fail>;

/// The host function's return value: the errno, or the trap.
fn ret(result: WasiResult) -> Result<i32, wasmi::Error> {
    match result {
        Ok(()) => Ok(0),
        Err(Fail::Errno(errno)) => Ok(i32::from(errno.0)),
        Err(Fail::Trap(trap)) => Err(trap),
    }
}

impl crate::protocol::HostResults for WasiResult {
    fn into_results(self) -> Result<Vec<Val>, wasmi::Error> {
        Ok(vec![Val::I32(ret(self)?)])
    }
}

/// Runs `work` on the blocking pool while the process is suspended (see
/// [`crate::protocol::offload`]); `finish` makes the errno.
fn offload<T, W, F>(memory: &mut [u8], state: &mut ProcessState, work: W, finish: F) -> WasiResult
where
    T: Send + 'static,
    W: FnOnce() -> T + Send + 'static,
    F: FnOnce(&mut [u8], &mut ProcessState, T) -> WasiResult + Send + 'static,
{
    crate::protocol::offload(memory, state, work, finish)?
}

/// Like [`offload`], for work that asks the outside world (stdin): while a
/// run is recorded or replayed its output goes through the
/// [`World`](crate::replay::World) (and the work runs off the schedule, or
/// not at all when replaying).
fn offload_outside<T, W, F>(
    memory: &mut [u8],
    state: &mut ProcessState,
    call: impl FnOnce() -> crate::replay::Call,
    work: W,
    finish: F,
) -> WasiResult
where
    T: crate::replay::Value,
    W: FnOnce() -> T + Send + 'static,
    F: FnOnce(&mut [u8], &mut ProcessState, T) -> WasiResult + Send + 'static,
{
    let Some(world) = state.runtime.world().cloned() else {
        return offload(memory, state, work, finish);
    };
    if !state.initialized {
        let output = crate::protocol::world::sync(state, call, work)?;
        return finish(memory, state, output);
    }
    let op = blocking::unblock(work);
    let wait = crate::protocol::world::external(&world, state, call(), None, op, move |output| {
        completion(move |ctx| {
            let (memory, state) = guest::memory_and_state(ctx)?;
            let output = output.expect("no timer: the answer always comes");
            Ok(vec![Val::I32(ret(finish(memory, state, output))?)])
        })
    });
    Err(Fail::Trap(wait))
}

/// The caller's memory and state. Unlike [`guest::memory_and_state`] this
/// also works in a module's start section, before the spawn has recorded
/// the instance's memory.
fn memory_and_state<'a>(
    caller: &'a mut Caller<'_, ProcessState>,
) -> Result<(&'a mut [u8], &'a mut ProcessState), wasmi::Error> {
    if caller.data().memory.is_none() {
        if let Some(wasmi::Extern::Memory(memory)) = caller.get_export("memory") {
            caller.data_mut().memory = Some(memory);
        }
    }
    guest::memory_and_state(caller)
}

/// Reads and bounds-checks an iovec array: `(pointer, length)` pairs whose
/// buffers all lie inside memory.
fn iovecs(memory: &[u8], ptr: u32, count: u32) -> Result<Vec<(u32, u32)>, wasmi::Error> {
    let size = count.checked_mul(types::IOVEC_SIZE).ok_or_else(|| {
        crate::errors::trap(format_args!("iovec array of {count} entries is out of bounds"))
    })?;
    guest::range(memory, ptr, size)?;
    (0..count)
        .map(|i| {
            let at = ptr + i * types::IOVEC_SIZE;
            let buf = guest::read_u32(memory, at)?;
            let len = guest::read_u32(memory, at + 4)?;
            guest::range(memory, buf, len)?;
            Ok((buf, len))
        })
        .collect()
}

/// Total length of iovecs, capped at [`MAX_IO`].
fn iovecs_len(iovs: &[(u32, u32)]) -> usize {
    iovs.iter().map(|&(_, len)| len as usize).sum::<usize>().min(MAX_IO)
}

/// Concatenates the iovec buffers (up to [`MAX_IO`] bytes).
fn gather(memory: &[u8], iovs: &[(u32, u32)]) -> Result<Vec<u8>, wasmi::Error> {
    let mut data = Vec::with_capacity(iovecs_len(iovs));
    for &(ptr, len) in iovs {
        let room = MAX_IO - data.len();
        data.extend_from_slice(guest::bytes(memory, ptr, len.min(room as u32))?);
        if data.len() == MAX_IO {
            break;
        }
    }
    Ok(data)
}

/// Spreads `data` over the iovec buffers.
fn scatter(memory: &mut [u8], iovs: &[(u32, u32)], mut data: &[u8]) -> Result<(), wasmi::Error> {
    for &(ptr, len) in iovs {
        if data.is_empty() {
            break;
        }
        let n = (len as usize).min(data.len());
        guest::write(memory, ptr, &data[..n])?;
        data = &data[n..];
    }
    Ok(())
}

/// Reads a path argument: out of bounds traps, invalid UTF-8 is `EILSEQ`.
fn read_path(memory: &[u8], ptr: i32, len: i32) -> WasiResult<String> {
    let bytes = guest::bytes(memory, ptr as u32, len as u32)?;
    let path = std::str::from_utf8(bytes).map_err(|_| Errno::ILSEQ)?;
    Ok(path.to_string())
}

/// Checks that `len` bytes at `ptr` are writable before starting work whose
/// results go there.
fn check_out(memory: &[u8], ptr: i32, len: u32) -> WasiResult {
    guest::range(memory, ptr as u32, len)?;
    Ok(())
}
