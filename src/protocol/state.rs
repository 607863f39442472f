//! The data inside a process's store.

use super::mailbox::Mailbox;
use super::{Environment, Exit, Message, ProcessConfig, ProcessHandle, Runtime, Signal, Stdio};
use crate::engine::ModuleHandle;
use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

/// The per-process contexts of the host modules, one per type: each host
/// module keeps its own (resource tables, WASI descriptors) here and finds
/// it by type, so this layer never names it. A handful of entries, looked
/// up by a linear scan of type IDs (cheaper than hashing at this size).
#[derive(Default)]
pub(crate) struct Contexts(Vec<Box<dyn Any + Send>>);

impl Contexts {
    /// Adds `context`, replacing one of the same type.
    pub(crate) fn insert<C: Any + Send>(&mut self, context: C) {
        match self.0.iter().position(|c| c.is::<C>()) {
            Some(i) => self.0[i] = Box::new(context),
            None => self.0.push(Box::new(context)),
        }
    }

    /// The context of type `C`, made with `Default` if this process has none
    /// yet (a host module's context is made when its process is; this only
    /// covers one made outside a runtime).
    pub(crate) fn get<C: Any + Send + Default>(&mut self) -> &mut C {
        let i = match self.0.iter().position(|c| c.is::<C>()) {
            Some(i) => i,
            None => {
                self.0.push(Box::new(C::default()));
                self.0.len() - 1
            }
        };
        self.0[i].downcast_mut::<C>().expect("the slot just found holds a C")
    }
}

/// One end of a link: the other process and the tag stored on this side.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub(crate) tag: i64,
    pub(crate) handle: ProcessHandle,
}

/// Everything a process owns besides its Wasm instance.
pub(crate) struct ProcessState {
    pub(crate) runtime: Runtime,
    pub(crate) env: Arc<Environment>,
    pub(crate) handle: ProcessHandle,
    pub(crate) module: ModuleHandle,
    pub(crate) config: Arc<ProcessConfig>,
    pub(crate) limits: super::ProcessLimits,
    /// The host modules' per-process contexts.
    pub(crate) contexts: Contexts,
    pub(crate) instance: Option<wasmi::Instance>,
    pub(crate) memory: Option<wasmi::Memory>,
    /// False while the start section runs: spawning is refused then.
    pub(crate) initialized: bool,
    /// Fuel left under `max_fuel`, if limited.
    pub(crate) fuel_left: Option<u64>,
    /// Fuel given for the current slice.
    pub(crate) last_slice: u64,
    /// Fuel host calls used beyond what the slice had left, taken from the
    /// next slices.
    pub(crate) fuel_debt: u64,
    /// The one message being built or inspected.
    pub(crate) scratch: Option<Message>,
    pub(crate) mailbox: Mailbox,
    pub(crate) links: HashMap<u64, Link>,
    /// Processes to tell when this one ends.
    pub(crate) monitors: HashMap<u64, ProcessHandle>,
    /// Processes this one monitors, told to forget it when it ends.
    pub(crate) monitoring: HashMap<u64, ProcessHandle>,
    pub(crate) die_when_link_dies: bool,
    /// Children spawned since the last suspension; they start running when
    /// this process next waits, yields or ends (as in the original, where a
    /// child runs after its parent yields), so a kill or message sent right
    /// after `spawn` is seen before the child's first instruction.
    pub(crate) spawned: Vec<crate::scheduler::BoxFuture<()>>,
    /// Set by a host function that suspends; taken by the driver.
    pub(crate) pending: Option<super::Pending>,
    pub(crate) stdio: Arc<dyn Stdio>,
    /// Calls this process made to the outside world (record/replay numbers them).
    pub(crate) world_calls: u64,
    /// Host functions called since the last trace line (only when tracing).
    pub(crate) traced_calls: Vec<&'static str>,
    /// The module version it runs, in a hot-reloadable app.
    pub(crate) version: Option<super::version::Member>,
    /// The state bytes handed over to this instance (`lunatic::hot`), kept
    /// until it commits.
    pub(crate) handed_state: Option<Vec<u8>>,
    /// Set while a new instance runs its hand-over entry and has not
    /// committed: a trap then rolls back to the old instance.
    pub(crate) uncommitted: bool,
}

impl ProcessState {
    pub(crate) fn new(
        runtime: &Runtime,
        env: &Arc<Environment>,
        handle: ProcessHandle,
        module: ModuleHandle,
        config: Arc<ProcessConfig>,
        stdio: Arc<dyn Stdio>,
    ) -> anyhow::Result<Self> {
        let contexts = runtime.new_contexts(&config)?;
        let mailbox = Mailbox::new(&handle, config.max_mailbox_size);
        let version = runtime
            .version_of(&module)
            .map(|v| super::version::Member::join(v, (env.id(), handle.id()), handle.clone()));
        Ok(Self {
            version,
            handed_state: None,
            uncommitted: false,
            runtime: runtime.clone(),
            env: env.clone(),
            handle,
            module,
            limits: super::ProcessLimits::new(config.max_memory, runtime.memory_budget().clone()),
            fuel_left: config.fuel_budget(),
            last_slice: 0,
            fuel_debt: 0,
            config,
            instance: None,
            memory: None,
            initialized: false,
            contexts,
            scratch: None,
            mailbox,
            links: HashMap::new(),
            monitors: HashMap::new(),
            monitoring: HashMap::new(),
            die_when_link_dies: true,
            spawned: Vec::new(),
            pending: None,
            stdio,
            world_calls: 0,
            traced_calls: Vec::new(),
        })
    }

    /// What stays in the old store while the process tries a new instance
    /// (`lunatic::hot::handover`): the old instance's handles and nothing
    /// the process owns, so that a rollback can put the real state back.
    pub(crate) fn placeholder(&self) -> Self {
        Self {
            runtime: self.runtime.clone(),
            env: self.env.clone(),
            handle: self.handle.clone(),
            module: self.module.clone(),
            limits: super::ProcessLimits::new(self.config.max_memory, self.runtime.memory_budget().clone()),
            config: self.config.clone(),
            contexts: Contexts::default(),
            instance: self.instance,
            memory: self.memory,
            initialized: true,
            fuel_left: None,
            last_slice: 0,
            fuel_debt: 0,
            scratch: None,
            mailbox: Mailbox::new(&self.handle, self.config.max_mailbox_size),
            links: HashMap::new(),
            monitors: HashMap::new(),
            monitoring: HashMap::new(),
            die_when_link_dies: self.die_when_link_dies,
            spawned: Vec::new(),
            pending: None,
            stdio: self.stdio.clone(),
            world_calls: 0,
            traced_calls: Vec::new(),
            version: None,
            handed_state: None,
            uncommitted: false,
        }
    }

    /// Starts the children spawned since the last suspension.
    pub(crate) fn start_spawned(&mut self) {
        for task in self.spawned.drain(..) {
            self.runtime.scheduler().spawn(task);
        }
    }

    /// This process's ID.
    pub(crate) fn id(&self) -> u64 {
        self.handle.id()
    }

    /// Applies queued signals in order. Returns the exit reason if one of
    /// them ends the process.
    pub(crate) fn handle_signals(
        &mut self,
        signals: impl IntoIterator<Item = Signal>,
    ) -> Result<(), Exit> {
        for signal in signals {
            match signal {
                Signal::Message(message) => {
                    if let Message::ProcessDied { process_id } = &message {
                        self.monitoring.remove(process_id);
                    }
                    self.mailbox.push(message)
                }
                Signal::Kill => return Err(Exit::Killed),
                Signal::Link { from, tag } => {
                    self.links.insert(from.id(), Link { tag, handle: from });
                }
                Signal::Unlink { from } => {
                    self.links.remove(&from);
                }
                Signal::LinkDied { from, tag, failed } => {
                    self.links.remove(&from);
                    if failed {
                        if self.die_when_link_dies {
                            return Err(Exit::LinkFailed);
                        }
                        self.mailbox.push(Message::LinkDied { tag });
                    }
                }
                Signal::Monitor { from } => {
                    self.monitors.insert(from.id(), from);
                }
                Signal::StopMonitoring { from } => {
                    self.monitors.remove(&from);
                }
                Signal::MailboxOverflow(overflow) => return Err(Exit::Trapped(overflow.to_string())),
            }
        }
        Ok(())
    }

    /// Applies whatever signals are queued right now.
    pub(crate) fn handle_queued_signals(&mut self) -> Result<(), Exit> {
        let signals = self.handle.take_signals();
        self.handle_signals(signals)
    }

    /// Unregisters the process and tells links and monitors how it ended.
    pub(crate) fn finish(mut self, env: &Environment, handle: &ProcessHandle, exit: &Exit) {
        env.remove(handle.id());
        handle.close(exit);
        let failed = exit.is_failure();
        // A process of an old version stopped by its drain (hot reload) is
        // expected to go: no warning for it.
        let drained = matches!(exit, Exit::Killed) && self.version.as_ref().is_some_and(|member| member.drained());
        if failed && !drained {
            log_failure(env, handle.id(), exit, self.links.len());
        }
        for (_, link) in self.links.drain() {
            link.handle.signal(Signal::LinkDied { from: handle.id(), tag: link.tag, failed });
        }
        for (_, monitor) in self.monitors.drain() {
            monitor.send(Message::ProcessDied { process_id: handle.id() });
        }
        for (_, target) in self.monitoring.drain() {
            target.signal(Signal::StopMonitoring { from: handle.id() });
        }
        // Its names go with it (after the log line above used them).
        env.forget_process(handle.id());
        // Resources (sockets, modules, messages, files) are released now.
        self.contexts = Contexts::default();
    }
}

impl crate::engine::StoreData for ProcessState {
    fn note_host_call(&mut self, name: &'static str) {
        self.traced_calls.push(name);
    }

    fn owe_fuel(&mut self, fuel: u64) {
        self.fuel_debt = self.fuel_debt.saturating_add(fuel);
    }
}

impl ProcessState {
    /// Undoes what a start section did before instantiation failed (the
    /// process never ran as far as anyone else knows): links and monitors
    /// it placed are withdrawn and names it registered are removed.
    pub(crate) fn abandon(mut self, env: &Environment, exit: &Exit) {
        let id = self.id();
        self.handle.close(exit);
        for (_, link) in self.links.drain() {
            link.handle.signal(Signal::Unlink { from: id });
        }
        for (_, target) in self.monitoring.drain() {
            target.signal(Signal::StopMonitoring { from: id });
        }
        env.forget_process(id);
    }
}

fn log_failure(env: &Environment, id: u64, exit: &Exit, links: usize) {
    let names: Vec<String> = env
        .names_of(id)
        .iter()
        .map(|name| format!("'{}'", name.rsplit('/').next().unwrap_or(name)))
        .collect();
    let who = if names.is_empty() { id.to_string() } else { names.join(" / ") };
    let (verb, reason) = match exit {
        Exit::Killed => ("was killed", String::new()),
        Exit::LinkFailed => ("was killed", " (a linked process failed)".to_string()),
        // A deliberate `exit(code)` is not a crash; links are still told.
        Exit::Exited(code) => {
            log::debug!(target: "lunatic::process", "Process {who} exited with code {code}");
            return;
        }
        Exit::OutOfFuel => ("failed", " (out of fuel)".to_string()),
        Exit::Trapped(trap) => ("failed", format!(" ({trap})")),
        Exit::Returned => return,
    };
    log::warn!(target: "lunatic::process", "Process {who} {verb}, notifying: {links} links{reason}");
}
