//! Host functions, one module per guest import namespace (`lunatic::*`).
//!
//! Each file registers its functions with [`HostFunctions`]; all of them use
//! [`guest`] for memory access and resource tables.

pub(crate) mod guest;

mod distributed;
mod error;
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

pub(crate) use guest::Table;
pub(crate) use trap::{catch_too_deep, MAX_CATCH_DEPTH};

use crate::engine::HostFunctions;
use crate::module::ModuleHandle;
use crate::process::ProcessConfig;

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

/// Registers every `lunatic::*` host function.
pub(crate) fn register(host: &mut HostFunctions<'_>) {
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
}

/// Stores `error` in the caller's error table and writes its ID at `ptr`;
/// returns status 1, the ABI's "failed, see error ID".
pub(crate) fn fail_with(
    memory: &mut [u8],
    state: &mut crate::process::ProcessState,
    ptr: u32,
    error: anyhow::Error,
) -> Result<i32, wasmi::Error> {
    let id = state.resources.errors.try_add(error)?;
    guest::write_u64(memory, ptr, id)?;
    Ok(1)
}
