//! Running a program the way `lunatic run` does: compile, spawn `_start` as
//! process 1 of environment 1, wait for it, report its exit status.

use crate::engine::{Runtime, RuntimeOptions};
use crate::environment::Environment;
use crate::process::{self, InheritStdio, Preopen, ProcessConfig, SpawnOptions};
use crate::scheduler::{Scheduler, SchedulerKind};
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
    /// Host directories to preopen in addition to `.`.
    pub dirs: Vec<PathBuf>,
    /// The scheduler to run on.
    pub scheduler: SchedulerKind,
    /// Runtime tunables.
    pub runtime: RuntimeOptions,
}

impl RunOptions {
    /// Options to run `path` with no arguments.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            args: Vec::new(),
            dirs: Vec::new(),
            scheduler: SchedulerKind::default(),
            runtime: RuntimeOptions::default(),
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

/// The preopens of a root process: `.` plus each `--dir`.
pub(crate) fn root_preopens(dirs: &[PathBuf]) -> Vec<Preopen> {
    std::iter::once(PathBuf::from("."))
        .chain(dirs.iter().cloned())
        .map(|dir| Preopen { guest: dir.to_string_lossy().into_owned(), host: dir })
        .collect()
}

/// Makes the scheduler for a run.
pub(crate) fn scheduler(kind: SchedulerKind) -> anyhow::Result<Arc<dyn Scheduler>> {
    kind.build().context("cannot start worker threads")
}

/// Runs a program to the end of its first process and returns the exit
/// status: the `proc_exit` code, 0 on a normal return, 101 on a failure.
pub fn run(options: RunOptions) -> anyhow::Result<i32> {
    let bytes = read_module(&options.path)?;
    let scheduler = scheduler(options.scheduler)?;
    let runtime = Runtime::new(scheduler.clone(), options.runtime.clone());
    let module = runtime.compile(&bytes)?;
    let has_start = module
        .wasmi()
        .exports()
        .any(|e| e.name() == "_start" && matches!(e.ty(), wasmi::ExternType::Func(_)));
    if !has_start {
        bail!("'{}' has no `_start` function to run", options.path.display());
    }
    let program = options
        .path
        .file_name()
        .map_or_else(|| options.path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let args = std::iter::once(program).chain(options.args.iter().cloned()).collect();
    let config = ProcessConfig::root(args, root_preopens(&options.dirs));
    let env = Arc::new(Environment::new(1));
    let (done, exited) = async_channel::bounded(1);
    process::spawn(
        &runtime,
        &env,
        SpawnOptions {
            module,
            config: Arc::new(config),
            entry: "_start".into(),
            params: Vec::new(),
            link: None,
            stdio: Arc::new(InheritStdio),
            on_exit: Some(Box::new(move |exit| {
                let _ = done.try_send(exit.clone());
            })),
        },
    )
    .map_err(|e| anyhow::anyhow!("cannot start '{}': {e}", options.path.display()))?;
    let status = scheduler.block_on(Box::pin(async move {
        match exited.recv().await {
            Ok(exit) => exit.status(),
            Err(_) => 101,
        }
    }));
    Ok(status)
}
