//! The node's one seam to the local runtime: everything the network side
//! does to processes on this node (spawn one from module bytes and a config,
//! deliver a message to a local process, find which node a process runs
//! on) goes through [`Local`] and the functions here, so that a change in
//! the runtime's internals is adapted in this file alone.

use super::wire::RemoteConfig;
use super::Node;
use crate::protocol::Runtime;
use crate::protocol::Environment;
use crate::protocol::{DataMessage, Message};
use crate::engine::ModuleHandle;
use crate::protocol::{InheritStdio, Preopen, ProcessConfig, ProcessHandle, Signal, SpawnOptions};
use std::sync::{Arc, RwLock, Weak};

/// The local runtime a node serves: its runtime and the environment its
/// processes (the `--wasm` root and every remotely spawned one) live in.
#[derive(Clone)]
pub(crate) struct Local {
    runtime: Runtime,
    env: Arc<Environment>,
}

impl Local {
    /// Serves `env` of `runtime`.
    pub(crate) fn new(runtime: Runtime, env: Arc<Environment>) -> Self {
        Self { runtime, env }
    }

    /// The scheduler its processes run on (the node's tasks run there too).
    pub(crate) fn scheduler(&self) -> Arc<dyn crate::scheduler::Scheduler> {
        self.runtime.scheduler_arc()
    }

    /// Compiles (or finds in the runtime's cache) a module.
    pub(crate) fn compile(&self, bytes: &[u8]) -> anyhow::Result<ModuleHandle> {
        Ok(self.runtime.compile(bytes)?)
    }

    /// Makes process `entry` of `module` with spawn parameters `params`
    /// (17-byte records) and `config`: it is registered when this returns
    /// (messages for it wait in its mailbox), and is instantiated and run
    /// once its task is started ([`Local::start`]); an instantiation that
    /// fails then ends it at once.
    pub(crate) fn spawn(
        &self,
        module: ModuleHandle,
        entry: String,
        params: &[u8],
        config: ProcessConfig,
    ) -> anyhow::Result<(u64, crate::scheduler::BoxFuture<()>)> {
        let params = decode_params(params)?;
        let (handle, task) = self.runtime.prepare_in_task(
            &self.env,
            SpawnOptions {
                module,
                config: Arc::new(config),
                entry,
                params,
                link: None,
                stdio: Arc::new(InheritStdio),
                on_exit: None,
            },
        )?;
        Ok((handle.id(), task))
    }

    /// Starts running a process made by [`Local::spawn`].
    pub(crate) fn start(&self, task: crate::scheduler::BoxFuture<()>) {
        self.runtime.scheduler().spawn(task);
    }

    /// Spawns the root process (`_start` with the root config) and returns
    /// a channel that gets its exit status.
    pub(crate) fn spawn_root(
        &self,
        module: ModuleHandle,
        config: ProcessConfig,
    ) -> anyhow::Result<async_channel::Receiver<i32>> {
        let (done, exited) = async_channel::bounded(1);
        self.runtime.spawn(
            &self.env,
            SpawnOptions::root(module, Arc::new(config), move |exit| {
                    let _ = done.try_send(exit.status());
                }),
        )?;
        Ok(exited)
    }

    /// Delivers a data message to local process `pid` exactly as a local
    /// send does (its mailbox limit applies); false if there is no such
    /// process (the message is dropped, as a local send to it would be).
    pub(crate) fn deliver(&self, pid: u64, tag: i64, payload: Vec<u8>) -> bool {
        match self.env.get(pid) {
            Some(target) => {
                let mut data = DataMessage::new(tag, 0);
                data.buffer = payload;
                target.send(Message::Data(data));
                crate::metrics::count(crate::metrics::Counter::MessagesSent, 1);
                true
            }
            None => false,
        }
    }

    /// Watches local process `pid` for a remote monitor: a future that
    /// ends when the process ends, or `None` if there is no such process.
    /// The watch is a stand-in process handle that never runs: the process
    /// tells it of its death as it tells any monitor.
    pub(crate) fn watch(&self, pid: u64) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
        let target = self.env.get(pid)?;
        let proxy = proxy();
        if !target.signal(Signal::Monitor { from: proxy.clone() }) {
            return None;
        }
        Some(async move {
            loop {
                let signals = std::future::poll_fn(|cx| proxy.poll_signals(cx)).await;
                if signals.iter().any(|s| matches!(s, Signal::Message(Message::ProcessDied { .. }))) {
                    return;
                }
            }
        })
    }

    /// Tells local process `watcher` that process `pid` (on another node)
    /// ended, as a monitor is told.
    pub(crate) fn tell_died(watcher: &ProcessHandle, pid: u64) {
        watcher.send(Message::ProcessDied { process_id: pid });
    }

    /// The environment served.
    pub(crate) fn env(&self) -> &Arc<Environment> {
        &self.env
    }
}

/// A stand-in process handle that never runs, for the local end of a
/// remote monitor or link: local processes signal it as they signal any
/// process. IDs from the top of the range: never a real process's.
pub(crate) fn proxy() -> ProcessHandle {
    static NEXT_PROXY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    ProcessHandle::new(u64::MAX - NEXT_PROXY.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// How the local process at one end of a remote link let go of it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LinkEnd {
    /// It ended (`failed`: as a failure).
    Died { failed: bool },
    /// Its link was withdrawn (a start section's link undone).
    Unlinked,
}

/// Waits until the local process linked to `proxy` ends or unlinks.
pub(crate) async fn link_end(proxy: &ProcessHandle) -> LinkEnd {
    loop {
        let signals = std::future::poll_fn(|cx| proxy.poll_signals(cx)).await;
        for signal in signals {
            match signal {
                Signal::LinkDied { failed, .. } => return LinkEnd::Died { failed },
                Signal::Unlink { .. } => return LinkEnd::Unlinked,
                _ => {}
            }
        }
    }
}

/// Decodes spawn parameters: 17-byte records of a type byte and a LE u128
/// (as `lunatic::process::spawn` takes them; abi.md §4.2). A trailing
/// partial record is ignored, as the original does for remote spawns.
fn decode_params(bytes: &[u8]) -> anyhow::Result<Vec<wasmi::Val>> {
    if bytes.len() / 17 > 1_000 {
        anyhow::bail!("{} spawn parameters, more than any function takes", bytes.len() / 17);
    }
    bytes
        .chunks_exact(17)
        .map(|record| {
            let (kind, value) = record.split_first().ok_or_else(|| anyhow::anyhow!("empty record"))?;
            let value = u128::from_le_bytes(value.try_into()?);
            match kind {
                0x7F => Ok(wasmi::Val::I32(value as u32 as i32)),
                0x7E => Ok(wasmi::Val::I64(value as u64 as i64)),
                0x7B => Ok(wasmi::Val::V128(wasmi::V128::from(value))),
                other => anyhow::bail!("unsupported spawn parameter type {other:#04x}"),
            }
        })
        .collect()
}

/// The config a remote caller asks for, as this node grants it: limits and
/// permissions as asked (they bound the new process only), arguments as
/// given, but the caller's environment variables and preopened directories
/// only if this node was started to allow them (`--allow-remote-env`):
/// paths and variables of another machine mean nothing good here.
pub(crate) fn granted_config(asked: &RemoteConfig, allow_env: bool) -> ProcessConfig {
    let mut config = ProcessConfig::default();
    config.max_memory = asked.max_memory;
    config.max_fuel = asked.max_fuel;
    config.max_message_size = asked.max_message_size;
    config.max_mailbox_size = asked.max_mailbox_size;
    config.can_compile_modules = asked.can_compile_modules;
    config.can_create_configs = asked.can_create_configs;
    config.can_spawn_processes = asked.can_spawn_processes;
    config.args = asked.args.clone();
    // Never above this node's defaults for host-side buffers.
    let defaults = ProcessConfig::default();
    config.max_message_size = config.max_message_size.min(defaults.max_message_size);
    config.max_mailbox_size = config.max_mailbox_size.min(defaults.max_mailbox_size);
    if allow_env {
        config.envs = asked.envs.clone();
        config.preopens = asked.preopens.iter().map(|(host, guest)| Preopen::new(host, guest.clone())).collect();
    }
    config
}

/// What a caller's config asks of a remote node.
pub(crate) fn remote_config(config: &ProcessConfig) -> RemoteConfig {
    RemoteConfig {
        max_memory: config.max_memory,
        max_fuel: config.max_fuel,
        max_message_size: config.max_message_size,
        max_mailbox_size: config.max_mailbox_size,
        can_compile_modules: config.can_compile_modules,
        can_create_configs: config.can_create_configs,
        can_spawn_processes: config.can_spawn_processes,
        args: config.args.clone(),
        envs: config.envs.clone(),
        preopens: config
            .preopens
            .iter()
            .map(|p| (p.host.to_string_lossy().into_owned(), p.guest.clone()))
            .collect(),
    }
}

/// Which node serves which environment (several nodes may run in one OS
/// process, in tests). Host functions find their node through the
/// environment of the calling process.
static NODES: RwLock<Vec<(usize, Weak<Node>)>> = RwLock::new(Vec::new());

fn key(env: &Arc<Environment>) -> usize {
    Arc::as_ptr(env) as usize
}

/// Makes `node` the node of processes in `env`.
pub(crate) fn attach(env: &Arc<Environment>, node: &Arc<Node>) {
    let mut nodes = NODES.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    nodes.retain(|(_, n)| n.strong_count() > 0);
    nodes.push((key(env), Arc::downgrade(node)));
}

/// The node processes in `env` belong to, if it is part of a cluster.
pub(crate) fn node_of(env: &Arc<Environment>) -> Option<Arc<Node>> {
    let nodes = NODES.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    let key = key(env);
    nodes.iter().rev().find(|(k, _)| *k == key).and_then(|(_, n)| n.upgrade())
}
