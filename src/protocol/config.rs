//! Per-process permissions and limits (`lunatic::process::config_*`).

use std::sync::{Arc, OnceLock};

/// A directory a process may see through WASI.
#[derive(Debug, Clone)]
pub struct Preopen {
    /// The name the guest sees (what `fd_prestat_dir_name` returns).
    pub guest: String,
    /// Where it is on the host (for a directory granted by a guest, where it
    /// was when granted; only informative then).
    pub host: std::path::PathBuf,
    /// Set for directories a guest granted to a config
    /// (`lunatic::wasi::config_preopen_dir`): the directory, already opened
    /// inside the granting process's own preopen, and the rights it passes
    /// on. Processes spawned with the config get this handle, so the grant
    /// cannot be redirected by renaming or symlinking on the host later.
    pub(crate) granted: Option<Granted>,
}

/// A directory handle a guest granted, with its rights.
#[derive(Debug, Clone)]
pub(crate) struct Granted {
    pub(crate) dir: Arc<cap_std::fs::Dir>,
    pub(crate) rights_base: u64,
    pub(crate) rights_inheriting: u64,
}

impl Preopen {
    /// The host directory `host`, shown to the guest as `guest`.
    pub fn new(host: impl Into<std::path::PathBuf>, guest: impl Into<String>) -> Self {
        Self { guest: guest.into(), host: host.into(), granted: None }
    }

    /// A directory a guest granted: `dir` is already open, `host` only
    /// says where it was.
    pub(crate) fn granted(
        host: std::path::PathBuf,
        guest: String,
        dir: Arc<cap_std::fs::Dir>,
        rights_base: u64,
        rights_inheriting: u64,
    ) -> Self {
        Self { guest, host, granted: Some(Granted { dir, rights_base, rights_inheriting }) }
    }
}

impl PartialEq for Preopen {
    fn eq(&self, other: &Self) -> bool {
        let same_grant = match (&self.granted, &other.granted) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                Arc::ptr_eq(&a.dir, &b.dir)
                    && (a.rights_base, a.rights_inheriting) == (b.rights_base, b.rights_inheriting)
            }
            _ => false,
        };
        self.guest == other.guest && self.host == other.host && same_grant
    }
}

impl Eq for Preopen {}

/// Permissions, limits and the WASI view a process is spawned with.
///
/// A config is copied into a process when it is spawned, so later edits by the
/// guest never affect running processes.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    /// Upper bound for linear memory, in bytes.
    pub max_memory: u64,
    /// Fuel budget in units of 100 000; `None` means unlimited.
    pub max_fuel: Option<u64>,
    /// Largest data message the process may build, in bytes (its buffer plus
    /// resource slots); `write_data` or a push beyond it traps.
    pub max_message_size: u64,
    /// Bytes that messages waiting for the process may take on the host; a
    /// send beyond it kills the process (see `process::mailbox`).
    pub max_mailbox_size: u64,
    /// May call `compile_module`.
    pub can_compile_modules: bool,
    /// May call `create_config`.
    pub can_create_configs: bool,
    /// May spawn processes.
    pub can_spawn_processes: bool,
    /// WASI command-line arguments.
    pub args: Vec<String>,
    /// WASI environment, in order.
    pub envs: Vec<(String, String)>,
    /// Preopened directories.
    pub preopens: Vec<Preopen>,
    /// A view of this config that a host module derives once and shares
    /// among every process spawned with it (WASI's `args` and `envs` laid out
    /// as guests read them; a config given to a process is never edited
    /// again). Not copied by `clone`.
    derived: DerivedCache,
}

#[derive(Default)]
struct DerivedCache(OnceLock<Arc<dyn std::any::Any + Send + Sync>>);

impl Clone for DerivedCache {
    fn clone(&self) -> Self {
        // A clone may be edited: it builds its own.
        Self::default()
    }
}

impl std::fmt::Debug for DerivedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("..")
    }
}

/// Default `max_message_size`: 64 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 64 << 20;

/// Default `max_mailbox_size`: 256 MiB, room for four messages of the
/// largest size or about 1.4 million small ones.
pub const DEFAULT_MAX_MAILBOX_SIZE: u64 = 256 << 20;

/// Units in which `max_fuel` is expressed.
pub const FUEL_UNIT: u64 = 100_000;

impl Default for ProcessConfig {
    /// What `create_config` returns: everything denied.
    fn default() -> Self {
        Self {
            max_memory: u32::MAX as u64,
            max_fuel: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_mailbox_size: DEFAULT_MAX_MAILBOX_SIZE,
            can_compile_modules: false,
            can_create_configs: false,
            can_spawn_processes: false,
            args: Vec::new(),
            envs: Vec::new(),
            preopens: Vec::new(),
            derived: DerivedCache::default(),
        }
    }
}

impl ProcessConfig {
    /// The view `make` derives from this config, built once per config and
    /// shared (one host module, WASI, uses this; a second type would be
    /// built anew each time rather than cached).
    pub(crate) fn derived<V: std::any::Any + Send + Sync>(&self, make: impl FnOnce(&Self) -> V) -> Arc<V> {
        if let Some(view) = self.derived.0.get().and_then(|view| view.clone().downcast::<V>().ok()) {
            return view;
        }
        let view = Arc::new(make(self));
        // Two processes spawned at once may both build it; either copy does.
        let _ = self.derived.0.set(view.clone());
        view
    }

    /// The config of a root process: everything allowed, host environment
    /// passed through.
    pub fn root(args: Vec<String>, preopens: Vec<Preopen>) -> Self {
        Self {
            can_compile_modules: true,
            can_create_configs: true,
            can_spawn_processes: true,
            args,
            envs: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            preopens,
            ..Self::default()
        }
    }

    /// The config a process spawned by `creator` with this config really
    /// gets: no limit above the creator's own and no permission the creator
    /// lacks (a process can never get more than its creator holds).
    ///
    /// Limits and permissions are capped silently rather than refused: the
    /// guest API has no error path for them (`config_set_*` return nothing),
    /// and a capped child sees the ordinary refusals (`compile_module`
    /// returns -1, memory growth fails, fuel runs out). Preopens were checked
    /// when they were granted (`config_preopen_dir`). Arguments and
    /// environment are the creator's to choose.
    pub fn capped_by(mut self, creator: &ProcessConfig) -> ProcessConfig {
        self.max_memory = self.max_memory.min(creator.max_memory);
        self.max_fuel = match (self.max_fuel, creator.max_fuel) {
            (Some(asked), Some(held)) => Some(asked.min(held)),
            (None, held) => held,
            (asked, None) => asked,
        };
        self.can_compile_modules &= creator.can_compile_modules;
        self.can_create_configs &= creator.can_create_configs;
        self.can_spawn_processes &= creator.can_spawn_processes;
        self.max_message_size = self.max_message_size.min(creator.max_message_size);
        self.max_mailbox_size = self.max_mailbox_size.min(creator.max_mailbox_size);
        self
    }

    /// Total fuel budget, if limited.
    pub(crate) fn fuel_budget(&self) -> Option<u64> {
        self.max_fuel.map(|units| units.saturating_mul(FUEL_UNIT))
    }
}

/// Tables may not grow to this many elements.
const MAX_TABLE_ELEMENTS: usize = 99_999;

/// Store limits for a process: one instance, memory and table, and `max_memory`.
pub(crate) fn store_limits(max_memory: u64) -> wasmi::StoreLimits {
    wasmi::StoreLimitsBuilder::new()
        .memory_size(usize::try_from(max_memory).unwrap_or(usize::MAX))
        .table_elements(MAX_TABLE_ELEMENTS)
        .instances(1)
        .memories(1)
        .tables(1)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_capped_by_their_creator() {
        let creator = ProcessConfig {
            max_memory: 8 << 20,
            max_fuel: Some(100),
            can_create_configs: true,
            can_spawn_processes: true,
            max_message_size: 1 << 10,
            max_mailbox_size: 1 << 16,
            ..ProcessConfig::default()
        };
        let mut asked = ProcessConfig {
            can_compile_modules: true,
            can_spawn_processes: true,
            args: vec!["free".into()],
            ..ProcessConfig::default()
        };
        let got = asked.clone().capped_by(&creator);
        assert_eq!(got.max_memory, 8 << 20);
        assert_eq!(got.max_fuel, Some(100));
        assert!(!got.can_compile_modules && !got.can_create_configs && got.can_spawn_processes);
        assert_eq!(got.args, ["free"]);
        assert_eq!((got.max_message_size, got.max_mailbox_size), (1 << 10, 1 << 16));
        // Asking for less is kept.
        asked.max_memory = 1 << 20;
        asked.max_fuel = Some(5);
        let got = asked.capped_by(&creator);
        assert_eq!((got.max_memory, got.max_fuel), (1 << 20, Some(5)));
        // An unlimited creator passes any limit on.
        let root = ProcessConfig::root(Vec::new(), Vec::new());
        let asked =
            ProcessConfig { max_fuel: Some(7), can_compile_modules: true, ..ProcessConfig::default() };
        let got = asked.capped_by(&root);
        assert_eq!(got.max_fuel, Some(7));
        assert!(got.can_compile_modules);
    }
}
