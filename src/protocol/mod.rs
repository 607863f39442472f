//! Layer 3, the process protocol: what every host module and the process
//! driver agree on. A process's store data ([`ProcessState`]: handle,
//! mailbox, links, the host modules' contexts), the [`Runtime`] processes
//! share, suspensions ([`Pending`]), handles and signals, messages, process
//! configurations, the environment (process table and registry), and
//! bounds-checked access to guest memory ([`guest`]).
//!
//! It names no host module: each keeps its own per-process context in
//! [`Contexts`], keyed by type, and the runtime facade installs how contexts
//! are made and how a process is started ([`Runtime::from_parts`]).

mod config;
pub(crate) mod environment;
pub(crate) mod guest;
mod handle;
mod limits;
mod mailbox;
mod message;
mod pending;
mod runtime;
mod state;
pub(crate) mod version;
mod stdio;
pub(crate) mod world;

pub use config::{Preopen, ProcessConfig, FUEL_UNIT};
pub(crate) use config::store_limits;
pub use environment::Environment;
pub use handle::ProcessHandle;
pub use message::{DataMessage, HostResource, Message, Resource};
pub use runtime::{Runtime, RuntimeOptions};
pub(crate) use runtime::Instantiate;
pub use stdio::{InheritStdio, Stdio};

pub(crate) use guest::Table;
pub(crate) use handle::Signal;
pub(crate) use limits::ProcessLimits;
pub(crate) use message::RESOURCE_SLOT_SIZE;
pub(crate) use pending::{
    catch_too_deep, completion, done, is_suspend, offload, suspend, Completion, HostResults,
    Pending, MAX_CATCH_DEPTH, TIMEOUT,
};
pub(crate) use runtime::{CompactCharge, ContextFactory, Registrar};
pub(crate) use state::{Contexts, Link, ProcessState};

use crate::engine::ModuleHandle;
use std::sync::Arc;

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// The entry function returned, or WASI `proc_exit(0)`.
    Returned,
    /// WASI `proc_exit(code)` with a non-zero code.
    Exited(i32),
    /// A trap in guest code or a host call (the text says which).
    Trapped(String),
    /// A kill signal.
    Killed,
    /// A linked process failed and this one did not trap link deaths.
    LinkFailed,
    /// The `max_fuel` budget ran out.
    OutOfFuel,
}

impl Exit {
    /// Whether links see this as a failure.
    pub fn is_failure(&self) -> bool {
        !matches!(self, Exit::Returned)
    }

    /// The exit status the CLI reports when the root process ends this way:
    /// the `proc_exit` code, 0 for a normal return, 101 (Rust's panic status)
    /// for any other failure.
    pub fn status(&self) -> i32 {
        match self {
            Exit::Returned => 0,
            Exit::Exited(code) => *code,
            _ => 101,
        }
    }
}

/// Called once with the exit reason when a process has ended.
pub type OnExit = Box<dyn FnOnce(&Exit) + Send>;

/// Everything needed to start a process.
pub struct SpawnOptions {
    /// The module to instantiate.
    pub module: ModuleHandle,
    /// Its permissions, limits and WASI view.
    pub config: Arc<ProcessConfig>,
    /// Name of the export to call.
    pub entry: String,
    /// Arguments for the entry function.
    pub params: Vec<wasmi::Val>,
    /// Link to a parent: (parent, tag the parent receives if this child dies).
    pub link: Option<(ProcessHandle, i64)>,
    /// Standard streams.
    pub stdio: Arc<dyn Stdio>,
    /// Told how the process ended.
    pub on_exit: Option<OnExit>,
}

impl SpawnOptions {
    /// A root process: `_start` of `module` with no parameters, no parent
    /// and the host's standard streams; `on_exit` is told how it ended.
    pub fn root(module: ModuleHandle, config: Arc<ProcessConfig>, on_exit: impl FnOnce(&Exit) + Send + 'static) -> Self {
        Self {
            module,
            config,
            entry: "_start".into(),
            params: Vec::new(),
            link: None,
            stdio: Arc::new(InheritStdio),
            on_exit: Some(Box::new(on_exit)),
        }
    }
}

