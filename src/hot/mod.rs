//! Hot reload of a `lunatic run` app (README "Hot reload"): the reload
//! loop, its triggers (`--watch`, SIGHUP, `lunatic reload` over a Unix
//! socket) and the drain of old versions.
//!
//! A reload compiles the new bytes on an engine of their own
//! (`Runtime::load_version`), starts the new version's `_start` as the root
//! of a new environment with the same arguments, environment and preopens,
//! makes it current, and drains the old version: its processes finish on
//! the old code and are stopped once only acceptors of listeners handed over
//! to a newer version are left, or after the drain timeout. Nothing is
//! stopped before the new version started, so a bad file changes nothing.

#[cfg(unix)]
pub(crate) mod control;
#[cfg(not(any(target_os = "ios", target_os = "android")))]
mod watch;

use crate::protocol::version::Version;
use crate::protocol::{Environment, Exit, ProcessConfig, Runtime, SpawnOptions};
use crate::scheduler::Scheduler;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The default `--drain-timeout`.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// A request to load a new version.
pub(crate) struct Request {
    /// The file to load (`None`: the one the app was started with).
    pub(crate) path: Option<PathBuf>,
    /// Where to say how it went (the line printed, or why not).
    pub(crate) reply: Option<async_channel::Sender<Result<String, String>>>,
}

/// How a hot-reloadable run behaves.
#[derive(Debug, Clone)]
pub(crate) struct HotOptions {
    /// How long an old version may keep running after a reload.
    pub(crate) drain_timeout: Duration,
}

/// The reload triggers of a run, stopped (and the control socket removed)
/// when dropped.
pub(crate) struct Triggers {
    _watch: Option<Box<dyn std::any::Any>>,
    #[cfg(unix)]
    _control: Option<control::Server>,
}

/// Starts the triggers that send to `requests`: SIGHUP and the control
/// socket always (a failure is a warning), the file watch with `watch`.
pub(crate) fn triggers(
    path: &Path,
    watch: bool,
    requests: async_channel::Sender<Request>,
) -> anyhow::Result<Triggers> {
    #[cfg(all(unix, not(any(target_os = "ios", target_os = "android"))))]
    signal(requests.clone());
    #[cfg(unix)]
    let control = match control::Server::start(requests.clone()) {
        Ok(server) => Some(server),
        Err(e) => {
            log::debug!(target: "lunatic::hot", "no `lunatic reload` socket: {e:#}");
            None
        }
    };
    #[cfg(not(any(target_os = "ios", target_os = "android")))]
    let watched: Option<Box<dyn std::any::Any>> = match watch {
        true => Some(watch::start(path, requests)?),
        false => None,
    };
    #[cfg(any(target_os = "ios", target_os = "android"))]
    let watched: Option<Box<dyn std::any::Any>> = {
        let _ = (path, watch, requests);
        None
    };
    Ok(Triggers {
        _watch: watched,
        #[cfg(unix)]
        _control: control,
    })
}

/// SIGHUP asks for a reload of the app's file (a thread waits for it).
/// SIGTERM and SIGINT end the run as before (status 128 + the signal's
/// number), but remove the control socket first.
#[cfg(all(unix, not(any(target_os = "ios", target_os = "android"))))]
fn signal(requests: async_channel::Sender<Request>) {
    use async_signal::Signal;
    use futures_lite::StreamExt;
    let mut signals = match async_signal::Signals::new([Signal::Hup, Signal::Term, Signal::Int]) {
        Ok(signals) => signals,
        Err(e) => {
            log::debug!(target: "lunatic::hot", "cannot catch SIGHUP: {e}");
            return;
        }
    };
    let spawned = std::thread::Builder::new().name("lunatic-sighup".into()).spawn(move || {
        while let Some(Ok(signal)) = futures_lite::future::block_on(signals.next()) {
            let number = match signal {
                Signal::Term => 15,
                Signal::Int => 2,
                _ => {
                    if requests.send_blocking(Request { path: None, reply: None }).is_err() {
                        break;
                    }
                    continue;
                }
            };
            #[cfg(unix)]
            control::remove_socket();
            std::process::exit(128 + number);
        }
    });
    if let Err(e) = spawned {
        log::debug!(target: "lunatic::hot", "cannot catch SIGHUP: {e}");
    }
}

/// Answers every request with `why` (a run that cannot reload, e.g. a
/// deterministic one), printing the line as a reload would.
pub(crate) fn refuse_all(requests: async_channel::Receiver<Request>, why: &'static str) {
    let _ = std::thread::Builder::new().name("lunatic-reload".into()).spawn(move || {
        while let Ok(request) = requests.recv_blocking() {
            let line = format!("lunatic: reload refused: {why}");
            eprintln!("{line}");
            if let Some(reply) = request.reply {
                let _ = reply.send_blocking(Err(line));
            }
        }
    });
}

/// A version ID as printed: 16 lower-case hex digits.
pub(crate) fn hex(id: u64) -> String {
    format!("{id:016x}")
}

/// The app being run: what each new version's root starts with.
struct App {
    runtime: Runtime,
    scheduler: Arc<dyn Scheduler>,
    path: PathBuf,
    config: Arc<ProcessConfig>,
    options: HotOptions,
    /// Generation of the current root.
    generation: u64,
    /// The one environment of every version: new code must reach (by PID and
    /// registry name) the processes that handed themselves over to it.
    env: Arc<Environment>,
    exits: async_channel::Sender<(u64, Exit)>,
}

/// Runs the app in `bytes` (from `path`) until the root process of its
/// current version ends, loading new versions on `requests`; returns that
/// root's exit status.
#[allow(clippy::too_many_arguments)] // one caller, the runner; each is a separate input
pub(crate) fn run(
    runtime: Runtime,
    scheduler: Arc<dyn Scheduler>,
    path: PathBuf,
    bytes: Vec<u8>,
    config: Arc<ProcessConfig>,
    options: HotOptions,
    requests: async_channel::Receiver<Request>,
    env_watch: &dyn Fn(&Arc<Environment>),
) -> anyhow::Result<i32> {
    let version = runtime.load_version(&bytes)?;
    if !has_start(&version) {
        anyhow::bail!("'{}' has no `_start` function to run", path.display());
    }
    let (exits, exited) = async_channel::unbounded();
    let env = Arc::new(Environment::new(1));
    let mut app = App { runtime, scheduler: scheduler.clone(), path, config, options, generation: 1, env, exits };
    let env = app.start_root(&version).map_err(|e| anyhow::anyhow!("cannot start '{}': {e}", app.path.display()))?;
    env_watch(&env);
    app.runtime.make_current(&version);
    drop(version);
    Ok(scheduler.block_on(Box::pin(async move {
        loop {
            let event = futures_lite::future::or(
                async { exited.recv().await.map(Ok) },
                async { requests.recv().await.map(Err) },
            )
            .await;
            match event {
                Ok(Ok((generation, exit))) if generation == app.generation => return exit.status(),
                Ok(Ok(_)) => {}
                Ok(Err(request)) => {
                    let outcome = app.reload(request.path).await;
                    match &outcome {
                        Ok(line) | Err(line) => eprintln!("{line}"),
                    }
                    if let Some(reply) = request.reply {
                        let _ = reply.send(outcome).await;
                    }
                }
                Err(_) => return 101,
            }
        }
    })))
}

/// Whether the version's module exports a `_start` function.
fn has_start(version: &Version) -> bool {
    version
        .module()
        .wasmi()
        .exports()
        .any(|e| e.name() == "_start" && matches!(e.ty(), wasmi::ExternType::Func(_)))
}

impl App {
    /// Starts `version`'s `_start` as a new root in the app's environment.
    fn start_root(&self, version: &Arc<Version>) -> anyhow::Result<Arc<Environment>> {
        let env = self.env.clone();
        let (exits, generation) = (self.exits.clone(), self.generation);
        crate::process::spawn(
            &self.runtime,
            &env,
            SpawnOptions::root(version.module().clone(), self.config.clone(), move |exit| {
                    let _ = exits.try_send((generation, exit.clone()));
                }),
        )?;
        Ok(env)
    }

    /// Loads the file at `path` (default: the app's) as the new current
    /// version; the line to print, as `Err` when the app stays as it was.
    async fn reload(&mut self, path: Option<PathBuf>) -> Result<String, String> {
        let path = path.unwrap_or_else(|| self.path.clone());
        let current = self.runtime.current_version();
        let current_id = current.as_ref().map_or(0, |v| v.id());
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let refused = |why: String| Err(format!("lunatic: reload refused ({name}): {why}; staying on {}", hex(current_id)));
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) => return refused(format!("cannot read it: {e}")),
        };
        let text = path.extension().is_some_and(|e| e == "wat");
        if !text && !bytes.starts_with(b"\0asm") {
            return refused("not a Wasm module".into());
        }
        let id = crate::engine::version_id(&bytes);
        if id == current_id {
            return Ok(format!("lunatic: reload {} -> {}: unchanged, nothing to do", hex(id), hex(id)));
        }
        let runtime = self.runtime.clone();
        let loaded = crate::scheduler::unblock(&*self.scheduler, move || runtime.load_version(&bytes)).await;
        let version = match loaded {
            Ok(version) => version,
            Err(e) => return refused(crate::errors::one_line(&e.to_string())),
        };
        if !has_start(&version) {
            return refused("it has no `_start` function".into());
        }
        // Listeners go to the newer of two versions (see
        // `api::networking::handover`): this one, from now on.
        self.runtime.promote(&version);
        self.generation += 1;
        if let Err(e) = self.start_root(&version) {
            self.generation -= 1;
            if let Some(current) = &current {
                self.runtime.promote(current);
            }
            return refused(format!("cannot start it: {}", crate::errors::one_line(&format!("{e:#}"))));
        }
        let old = self.runtime.make_current(&version);
        let Some(old) = old else {
            return Ok(format!("lunatic: reload -> {}: started", hex(id)));
        };
        let left = old.live();
        let line = format!(
            "lunatic: reload {}(old) -> {}(new): started, {left} processes left on the old version",
            hex(old.id()),
            hex(id)
        );
        let term = old.term();
        self.scheduler.spawn(Box::pin(drain(self.runtime.clone(), old, term, self.options.drain_timeout)));
        Ok(line)
    }
}

/// Stops the processes of `old` that joined in `term` or before, once only
/// its acceptors of handed-over listeners are left of them (they would never
/// get another connection), or at `timeout`. If `old` becomes current again
/// (an app reloaded back to code it ran before), those processes run current
/// code and are left alone, but for the acceptors: they still go once they
/// are all that is left of those terms.
async fn drain(runtime: Runtime, old: Arc<Version>, term: u64, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let changed = old.changed();
        let (live, parked) = old.count_through(term);
        if live == 0 {
            return;
        }
        let current = runtime.current_version().is_some_and(|v| Arc::ptr_eq(&v, &old));
        let timed_out = !current && Instant::now() >= deadline;
        if live <= parked || timed_out {
            log::info!(
                target: "lunatic::hot",
                "version {} drained: stopping its {live} processes{}",
                hex(old.id()),
                if timed_out { " (drain timeout)" } else { "" }
            );
            old.kill_through(term);
            return;
        }
        // Woken by a process leaving or parking, or the current version
        // changing; no polling.
        if current {
            changed.await;
        } else {
            futures_lite::future::or(changed, async {
                async_io::Timer::at(deadline).await;
            })
            .await;
        }
    }
}
