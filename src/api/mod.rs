//! Layer 4, host modules: the `lunatic::*` host functions, one file per
//! guest import namespace.
//!
//! [`add_to_linker`] registers them all; their per-process context is
//! [`Resources`] (the resource tables of abi.md §1.2), kept in the process's
//! [`Contexts`] and made by [`new_context`]. Memory access and tables come
//! from the process protocol ([`crate::protocol::guest`]).

mod distributed;
mod error;
pub(crate) mod hot;
mod message;
mod metrics;
pub(crate) mod networking;
mod process;
mod registry;
mod sqlite;
mod timer;
mod trap;
mod version;
mod wasi_config;

use crate::engine::{HostFunctions, ModuleHandle};
use crate::protocol::{guest, Contexts, ProcessConfig, ProcessState, Table};

/// The per-process resource tables (abi.md §1.2).
pub(crate) struct Resources {
    pub(crate) configs: Table<ProcessConfig>,
    pub(crate) modules: Table<ModuleHandle>,
    pub(crate) timers: timer::Timers,
    pub(crate) errors: Table<anyhow::Error>,
    /// DNS iterators, sockets, listeners and streams.
    pub(crate) net: networking::NetResources,
    /// SQLite connections and statements.
    pub(crate) sqlite: sqlite::SqliteResources,
}

impl Default for Resources {
    fn default() -> Self {
        Self {
            configs: Table::new("config"),
            modules: Table::new("module"),
            timers: timer::Timers::default(),
            errors: Table::new("error"),
            net: networking::NetResources::default(),
            sqlite: sqlite::SqliteResources::default(),
        }
    }
}

impl Contexts {
    /// The process's resource tables.
    pub(crate) fn resources(&mut self) -> &mut Resources {
        self.get::<Resources>()
    }
}

/// Gives a new process its (empty) resource tables.
pub(crate) fn new_context(_: &ProcessConfig, contexts: &mut Contexts) -> anyhow::Result<()> {
    contexts.insert(Resources::default());
    Ok(())
}

/// Registers every `lunatic::*` host function.
pub(crate) fn add_to_linker(host: &mut HostFunctions<ProcessState>) {
    process::register(host);
    message::register(host);
    timer::register(host);
    registry::register(host);
    error::register(host);
    version::register(host);
    trap::register(host);
    wasi_config::register(host);
    distributed::register(host);
    metrics::register(host);
    networking::register(host);
    sqlite::register(host);
    hot::register(host);
}

/// Stores `error` in the caller's error table and writes its ID at `ptr`;
/// returns status 1, the ABI's "failed, see error ID".
pub(crate) fn fail_with(
    memory: &mut [u8],
    state: &mut ProcessState,
    ptr: u32,
    error: anyhow::Error,
) -> Result<i32, wasmi::Error> {
    let id = state.contexts.resources().errors.try_add(error)?;
    guest::write_u64(memory, ptr, id)?;
    Ok(1)
}
