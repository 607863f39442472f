//! Running a program the way `lunatic run` does: compile, spawn `_start` as
//! process 1 of environment 1, wait for it, report its exit status.

use crate::protocol::{Runtime, RuntimeOptions};
use crate::protocol::Environment;
use crate::process;
use crate::protocol::{Preopen, ProcessConfig, SpawnOptions};
use crate::replay::{log as recording, Trace, World};
use crate::scheduler::{Deterministic, Scheduler, SchedulerKind};
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What to run and how.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The `.wasm` (or `.wat`) file.
    pub path: PathBuf,
    /// Arguments after the program name.
    pub args: Vec<String>,
    /// Directories to preopen: `DIR` or `HOST::GUEST` (see `--dir`).
    pub dirs: Vec<PathBuf>,
    /// Do not preopen the working directory as `.` (it is by default,
    /// unless a `dirs` entry maps the guest's `.` or `/`).
    pub no_cwd: bool,
    /// The scheduler to run on.
    pub scheduler: SchedulerKind,
    /// Runtime tunables.
    pub runtime: RuntimeOptions,
    /// Record every answer of the outside world to this file (deterministic
    /// mode; seed 0 unless the scheduler says otherwise).
    pub record: Option<PathBuf>,
    /// Replay this recording instead of asking the outside world.
    pub replay: Option<PathBuf>,
    /// Trace the schedule to this file (`-`: stderr); deterministic mode.
    pub trace: Option<PathBuf>,
    /// Serve Prometheus metrics on this address while the program runs.
    pub prometheus: Option<std::net::SocketAddr>,
    /// Load a new version whenever the file changes (hot reload).
    pub watch: bool,
    /// How long an old version may run after a reload before it is stopped.
    pub drain_timeout: std::time::Duration,
}

impl RunOptions {
    /// Options to run `path` with no arguments.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            args: Vec::new(),
            dirs: Vec::new(),
            no_cwd: false,
            scheduler: SchedulerKind::default(),
            runtime: RuntimeOptions::default(),
            record: None,
            replay: None,
            trace: None,
            prometheus: None,
            watch: false,
            drain_timeout: crate::hot::DEFAULT_DRAIN_TIMEOUT,
        }
    }
}

/// Reads a module file, with the error message users expect.
pub(crate) fn read_module(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!("Module '{}' not found", path.display()),
        _ => anyhow::anyhow!("cannot read module '{}': {e}", path.display()),
    })
}

/// The preopens of a root process: each `--dir`, and the working directory
/// as `.` (first, so it stays descriptor 3) unless `no_cwd` is set or a
/// `--dir` already names the guest's `.` or `/`.
///
/// A `--dir` is `DIR` (seen by the guest under the same name) or
/// `HOST::GUEST` (wasmtime's spelling: the host directory `HOST` seen as
/// `GUEST`). wasi-libc resolves relative paths against a preopen named `.`
/// or `/` alike, so with `--dir fixture::/` an added `.` would make the
/// guest's relative paths land in the host's working directory or in the
/// fixture depending on descriptor order; an explicit `.` or `/` mapping
/// therefore replaces it, and the guest sees only what was mapped.
pub(crate) fn root_preopens(dirs: &[PathBuf], no_cwd: bool) -> anyhow::Result<Vec<Preopen>> {
    let mut preopens = Vec::with_capacity(dirs.len() + 1);
    for dir in dirs {
        let preopen = match dir.to_str() {
            Some(spec) => {
                let (host, guest) = crate::wasi::split_mapping(spec);
                crate::wasi::check_guest_name(guest)
                    .and_then(|()| {
                        if host.is_empty() {
                            Err("the host path is empty".into())
                        } else {
                            Ok(())
                        }
                    })
                    .map_err(|why| anyhow::anyhow!("invalid --dir '{spec}': {why}"))?;
                Preopen::new(host, guest)
            }
            None => Preopen::new(dir.clone(), dir.to_string_lossy().into_owned()),
        };
        preopens.push(preopen);
    }
    let names_cwd = |p: &Preopen| {
        let mut parts =
            Path::new(&p.guest).components().filter(|c| *c != std::path::Component::CurDir);
        match parts.next() {
            None => true,
            Some(std::path::Component::RootDir) => parts.next().is_none(),
            Some(_) => false,
        }
    };
    if !no_cwd && !preopens.iter().any(names_cwd) {
        preopens.insert(0, Preopen::new(".", "."));
    }
    Ok(preopens)
}

/// Makes the scheduler for a run.
pub(crate) fn scheduler(kind: SchedulerKind) -> anyhow::Result<Arc<dyn Scheduler>> {
    kind.build().context("cannot start worker threads")
}

/// Runs a program to the end of its first process and returns the exit
/// status: the `proc_exit` code, 0 on a normal return, 101 on a failure;
/// 3 (after an `Error: replay diverged ...` line on stderr) when a replay
/// diverges from its recording or a recording cannot be written.
pub fn run(options: RunOptions) -> anyhow::Result<i32> {
    let bytes = read_module(&options.path)?;
    // Started first so that compiling the program is counted; stopped on return.
    let _exporter = match options.prometheus {
        Some(addr) => Some(crate::metrics::http::Exporter::start(addr, 0).with_context(|| {
            format!("cannot serve Prometheus metrics on {addr}")
        })?),
        None => None,
    };
    let program = options
        .path
        .file_name()
        .map_or_else(|| options.path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let args: Vec<String> = std::iter::once(program).chain(options.args.iter().cloned()).collect();
    let mut config = ProcessConfig::root(args, root_preopens(&options.dirs, options.no_cwd)?);
    let mut kind = options.scheduler;
    let mut runtime_options = options.runtime.clone();
    let outside = options.record.is_some() || options.replay.is_some() || options.trace.is_some();
    if let (true, SchedulerKind::Threaded { .. }) = (outside, kind) {
        kind = SchedulerKind::Deterministic { seed: 0 };
    }
    let trace = match &options.trace {
        Some(path) => Some(Arc::new(
            Trace::open(path)
                .with_context(|| format!("cannot open the trace file '{}'", path.display()))?,
        )),
        None => None,
    };
    let world = if let Some(path) = &options.replay {
        let recording = read_recording(path)?;
        let header = &recording.header;
        if let Err(mismatch) = check_header(header, &bytes, &options) {
            eprintln!("Error: {mismatch}");
            return Ok(crate::replay::DIVERGED);
        }
        config.args = header.args.clone();
        config.envs = header.env.clone();
        config.preopens =
            header.dirs.iter().map(|(guest, host)| Preopen::new(host, guest.clone())).collect();
        kind = SchedulerKind::Deterministic { seed: header.seed };
        runtime_options.fuel_slice = header.fuel_slice;
        Some(World::replay(recording, trace.clone()))
    } else if let Some(path) = &options.record {
        let SchedulerKind::Deterministic { seed } = kind else { unreachable!("set above") };
        let header = recording::Header {
            runtime: env!("CARGO_PKG_VERSION").to_string(),
            module_hash: recording::module_hash(&bytes),
            module_len: bytes.len() as u64,
            seed,
            fuel_slice: runtime_options.fuel_slice,
            args: config.args.clone(),
            env: config.envs.clone(),
            dirs: config
                .preopens
                .iter()
                .map(|p| (p.guest.clone(), p.host.to_string_lossy().into_owned()))
                .collect(),
        };
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create the recording '{}'", path.display()))?;
        let out = Box::new(std::io::BufWriter::with_capacity(64 << 10, file));
        Some(
            World::record(out, &header, trace.clone())
                .with_context(|| format!("cannot write the recording '{}'", path.display()))?,
        )
    } else {
        None
    };
    let scheduler: Arc<dyn Scheduler> = match (&world, kind) {
        (Some(world), SchedulerKind::Deterministic { seed }) => {
            Arc::new(Deterministic::with_hook(seed, world.clone()))
        }
        _ => scheduler(kind)?,
    };
    let runtime = Runtime::with_world(scheduler.clone(), runtime_options, world.clone(), trace.clone());
    // Reload triggers: a deterministic run (recorded, replayed, traced or
    // seeded) has one world and one module, so it refuses them.
    let deterministic = world.is_some() || matches!(kind, SchedulerKind::Deterministic { .. });
    if deterministic && options.watch {
        bail!("--watch cannot be used in a deterministic run (--record, --replay, --trace, --deterministic)");
    }
    let (reload, requests) = async_channel::unbounded();
    let _triggers = crate::hot::triggers(&options.path, options.watch, reload)?;
    if !deterministic {
        let hot = crate::hot::HotOptions { drain_timeout: options.drain_timeout };
        let first_env = std::sync::Mutex::new(None);
        let leak_baseline = std::env::var_os(leaks::ENV_VAR).map(|_| leaks::open_fds());
        let status = crate::hot::run(
            runtime,
            scheduler.clone(),
            options.path.clone(),
            bytes,
            Arc::new(config),
            hot,
            requests,
            &|env| {
                *first_env.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some((env.clone(), watch_metrics(env, &scheduler)));
            },
        )?;
        let first = first_env.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let (Some(baseline), Some((env, _))) = (leak_baseline, first) {
            leaks::report(&env, &baseline);
        }
        return Ok(status);
    }
    crate::hot::refuse_all(
        requests,
        "a deterministic run (--record, --replay, --trace, --deterministic) cannot load new versions",
    );
    let module = runtime.compile(&bytes)?;
    let has_start = module
        .wasmi()
        .exports()
        .any(|e| e.name() == "_start" && matches!(e.ty(), wasmi::ExternType::Func(_)));
    if !has_start {
        bail!("'{}' has no `_start` function to run", options.path.display());
    }
    let env = Arc::new(Environment::new(1));
    let _watched = watch_metrics(&env, &scheduler);
    let leak_baseline = std::env::var_os(leaks::ENV_VAR).map(|_| leaks::open_fds());
    let (done, exited) = async_channel::bounded(1);
    process::spawn(
        &runtime,
        &env,
        SpawnOptions::root(module, Arc::new(config), move |exit| {
                let _ = done.try_send(exit.clone());
            }),
    )
    .map_err(|e| anyhow::anyhow!("cannot start '{}': {e}", options.path.display()))?;
    let status = scheduler.block_on(Box::pin(async move {
        match exited.recv().await {
            Ok(exit) => exit.status(),
            Err(_) => 101,
        }
    }));
    if let Some(baseline) = leak_baseline {
        leaks::report(&env, &baseline);
    }
    if let Some(trace) = &trace {
        trace.flush();
    }
    if let Some(world) = &world {
        if let Some(failure) = world.finish(status) {
            eprintln!("Error: {failure}");
            return Ok(crate::replay::DIVERGED);
        }
    }
    Ok(status)
}

/// The leak report of `LUNATIC_DEBUG_RESOURCES=1`, for tests: when the first
/// process ends, what the runtime still holds that it did not hold before
/// the program started (sockets and files open, processes, registry names),
/// printed to stderr as `debug-resources: ...` lines.
mod leaks {
    use crate::protocol::Environment;
    use std::time::{Duration, Instant};

    /// The variable that turns the report on (any value).
    pub(super) const ENV_VAR: &str = "LUNATIC_DEBUG_RESOURCES";

    /// The runtime's open sockets and files: (descriptor, what it points
    /// at). Anonymous inodes (epoll, eventfd: the runtime's own reactor,
    /// made on first use) and pipes are left out.
    pub(super) fn open_fds() -> Vec<(String, String)> {
        let Ok(dir) = std::fs::read_dir("/proc/self/fd") else { return Vec::new() };
        let mut fds: Vec<(String, String)> = dir
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let target = std::fs::read_link(entry.path()).ok()?.to_string_lossy().into_owned();
                let kept = target.starts_with("socket:") || target.starts_with('/');
                // The directory being listed is open while it is listed.
                (kept && !target.starts_with("/proc/")).then(|| (entry.file_name().to_string_lossy().into_owned(), target))
            })
            .collect();
        fds.sort();
        fds
    }

    /// Prints the report; waits up to two seconds for processes that are
    /// still finishing (their resources go with them).
    pub(super) fn report(env: &Environment, baseline: &[(String, String)]) {
        let deadline = Instant::now() + Duration::from_secs(2);
        let leaked = loop {
            let leaked: Vec<(String, String)> =
                open_fds().into_iter().filter(|fd| !baseline.contains(fd)).collect();
            if (leaked.is_empty() && env.is_empty()) || Instant::now() >= deadline {
                break leaked;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        eprintln!("debug-resources: live processes: {}", env.len());
        eprintln!("debug-resources: registered names: {}", env.registered_names());
        eprintln!("debug-resources: sockets and files opened since the start and still open: {}", leaked.len());
        for (fd, target) in leaked {
            eprintln!("debug-resources: open: fd {fd} -> {target}");
        }
    }
}

fn read_recording(path: &Path) -> anyhow::Result<recording::Recording> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open the recording '{}'", path.display()))?;
    recording::read(std::io::BufReader::new(file))
        .map_err(|e| anyhow::anyhow!("cannot read the recording '{}': {e}", path.display()))
}

/// Refuses a replay whose recording was made with another module or
/// other arguments than the ones given.
fn check_header(header: &recording::Header, bytes: &[u8], options: &RunOptions) -> Result<(), String> {
    let hash = recording::module_hash(bytes);
    if header.module_hash != hash || header.module_len != bytes.len() as u64 {
        return Err(format!(
            "replay diverged before the start: the recording was made with a different module \
             ({}, {} bytes) than '{}' ({hash}, {} bytes)",
            header.module_hash,
            header.module_len,
            options.path.display(),
            bytes.len()
        ));
    }
    let recorded = header.args.get(1..).unwrap_or_default();
    if !options.args.is_empty() && options.args != recorded {
        return Err(format!(
            "replay diverged before the start: the recording ran with arguments {recorded:?}, not {:?}",
            options.args
        ));
    }
    if header.runtime != env!("CARGO_PKG_VERSION") {
        log::warn!(
            target: "lunatic::replay",
            "the recording was made by runtime version {}, this is {}: schedules may differ",
            header.runtime,
            env!("CARGO_PKG_VERSION")
        );
    }
    Ok(())
}

/// The scrape-time figures of one `lunatic run`: its environment and
/// scheduler.
struct Run {
    env: Arc<crate::protocol::Environment>,
    scheduler: Arc<dyn crate::scheduler::Scheduler>,
}

impl crate::metrics::Source for Run {
    fn collect(&self, out: &mut crate::metrics::Collected) {
        out.environments += 1;
        out.processes += self.env.len() as u64;
        out.registered += self.env.registered_names() as u64;
        out.queued += self.scheduler.queued() as u64;
    }
}

/// Watches a run's environment and scheduler while the returned guard
/// lives (`None` without an exporter).
fn watch_metrics(
    env: &Arc<crate::protocol::Environment>,
    scheduler: &Arc<dyn crate::scheduler::Scheduler>,
) -> Option<Arc<dyn crate::metrics::Source>> {
    if !crate::metrics::enabled() {
        return None;
    }
    let run: Arc<dyn crate::metrics::Source> = Arc::new(Run { env: env.clone(), scheduler: scheduler.clone() });
    crate::metrics::watch(&run);
    Some(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dirs: &[&str], no_cwd: bool) -> Vec<(String, String)> {
        let dirs: Vec<PathBuf> = dirs.iter().map(PathBuf::from).collect();
        root_preopens(&dirs, no_cwd)
            .unwrap()
            .into_iter()
            .map(|p| (p.host.display().to_string(), p.guest))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(h, g)| (h.to_string(), g.to_string())).collect()
    }

    #[test]
    fn dirs_map_and_the_working_directory_is_added_unless_replaced() {
        assert_eq!(names(&[], false), pairs(&[(".", ".")]));
        assert_eq!(names(&[], true), pairs(&[]));
        assert_eq!(names(&["box"], false), pairs(&[(".", "."), ("box", "box")]));
        assert_eq!(
            names(&["/srv/data::/data"], false),
            pairs(&[(".", "."), ("/srv/data", "/data")])
        );
        // An explicit `/` or `.` replaces the working directory.
        assert_eq!(names(&["fixture::/"], false), pairs(&[("fixture", "/")]));
        assert_eq!(names(&["fixture::."], false), pairs(&[("fixture", ".")]));
        assert_eq!(names(&["fixture::./"], false), pairs(&[("fixture", "./")]));
        assert_eq!(names(&["."], false), pairs(&[(".", ".")]));
        assert_eq!(names(&["box", "fixture::/"], true), pairs(&[("box", "box"), ("fixture", "/")]));
        for bad in ["box::", "::/x"] {
            assert!(root_preopens(&[PathBuf::from(bad)], false).is_err(), "{bad}");
        }
    }
}
