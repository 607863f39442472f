//! Environments: the namespace process IDs and registry names live in.

use crate::protocol::ProcessHandle;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Number of independently locked shards of the process table; spreads
/// contention when many processes spawn and die at once.
const SHARDS: usize = 16;

/// A set of processes that can address each other by ID, plus their registry.
///
/// `lunatic run` uses environment 1; each test of a test binary gets a fresh
/// environment 0.
pub struct Environment {
    id: u64,
    next_pid: AtomicU64,
    shards: [RwLock<HashMap<u64, ProcessHandle>>; SHARDS],
    registry: Mutex<Registry>,
    /// This node's ID in a cluster (0 outside one): registry entries naming
    /// it name local processes, as entries naming node 0 do.
    node: AtomicU64,
}

impl Environment {
    /// A new, empty environment whose first process will get ID 1.
    pub fn new(id: u64) -> Self {
        Self {
            id,
            next_pid: AtomicU64::new(1),
            shards: std::array::from_fn(|_| RwLock::new(HashMap::new())),
            registry: Mutex::new(Registry::default()),
            node: AtomicU64::new(0),
        }
    }

    /// Makes this environment a cluster node's: a name registered for
    /// (`node`, process) then names a local process, removed when it ends
    /// like any other.
    // Only nodes call it, and there are none on iOS and Android.
    #[cfg_attr(any(target_os = "ios", target_os = "android"), allow(dead_code))]
    pub(crate) fn set_node_id(&self, node: u64) {
        self.node.store(node, Ordering::Relaxed);
    }

    /// The registry's node for `node`: 0 for this node.
    fn stored_node(&self, node: u64) -> u64 {
        let local = self.node.load(Ordering::Relaxed);
        if local != 0 && node == local { 0 } else { node }
    }

    /// The node a guest sees for a stored entry: this node's ID for 0.
    fn shown_node(&self, node: u64) -> u64 {
        if node == 0 { self.node.load(Ordering::Relaxed) } else { node }
    }

    /// This environment's ID.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Reserves the next process ID (never reused).
    pub(crate) fn next_process_id(&self) -> u64 {
        self.next_pid.fetch_add(1, Ordering::Relaxed)
    }

    fn shard(&self, id: u64) -> &RwLock<HashMap<u64, ProcessHandle>> {
        &self.shards[(id as usize) % SHARDS]
    }

    /// Makes a process reachable by ID.
    pub(crate) fn insert(&self, handle: ProcessHandle) {
        self.shard(handle.id()).write().unwrap().insert(handle.id(), handle);
    }

    /// Removes a finished process.
    pub(crate) fn remove(&self, id: u64) {
        self.shard(id).write().unwrap().remove(&id);
    }

    /// Looks up a live process.
    pub fn get(&self, id: u64) -> Option<ProcessHandle> {
        self.shard(id).read().unwrap().get(&id).cloned()
    }

    /// Every live process (a snapshot), e.g. to stop them all.
    pub(crate) fn handles(&self) -> Vec<ProcessHandle> {
        self.shards.iter().flat_map(|s| s.read().unwrap().values().cloned().collect::<Vec<_>>()).collect()
    }

    /// Number of live processes.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().unwrap().len()).sum()
    }

    /// True when no process is alive.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        // The registry is consistent after every operation, so a panic
        // elsewhere while it was locked leaves nothing half-done.
        self.registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a local process can still be named: it is alive, or it is
    /// `caller` itself (alive, even while its start section runs and it is
    /// not yet in the table).
    fn can_name(&self, node: u64, id: u64, caller: u64) -> bool {
        node != 0 || id == caller || self.get(id).is_some()
    }

    /// Registers `name` for (`node`, `id`), replacing what it named before
    /// (a name being reserved by `get_or_spawn` included). A name for a
    /// local process that has already ended is not stored: it would have
    /// been removed at that process's death.
    pub(crate) fn put_name(&self, caller: u64, name: &str, node: u64, id: u64) -> Result<(), RegistryError> {
        check_name(name)?;
        let node = self.stored_node(node);
        let mut registry = self.registry();
        if !self.can_name(node, id, caller) {
            registry.remove(name);
            return Ok(());
        }
        registry.insert(name, Entry::Process { node, id })
    }

    /// What `name` refers to, if it names a process (a name being reserved
    /// by a `get_or_spawn` in progress is not yet visible).
    pub(crate) fn get_name(&self, name: &str) -> Option<(u64, u64)> {
        match self.registry().names.get(name)? {
            Entry::Process { node, id } => Some((self.shown_node(*node), *id)),
            Entry::Reserved { .. } => None,
        }
    }

    /// Removes `name` (a reservation included: the `get_or_spawn` holding it
    /// then leaves the name alone).
    pub(crate) fn remove_name(&self, name: &str) {
        self.registry().remove(name);
    }

    /// The names registered for local process `id` (for log lines).
    pub(crate) fn names_of(&self, id: u64) -> Vec<String> {
        let registry = self.registry();
        registry.by_process.get(&id).map_or_else(Vec::new, |names| {
            names.iter().map(|name| name.to_string()).collect()
        })
    }

    /// Removes every name of local process `id`, which has ended (as
    /// Erlang does), so that `get` and `get_or_spawn` never hand out a dead
    /// process.
    pub(crate) fn forget_process(&self, id: u64) {
        let mut registry = self.registry();
        let Some(names) = registry.by_process.remove(&id) else {
            return;
        };
        for name in names {
            if let Some(entry) = registry.names.remove(&name) {
                registry.bytes -= cost(&name);
                debug_assert!(matches!(entry, Entry::Process { node: 0, id: i } if i == id));
            }
        }
    }

    /// The first step of `get_or_spawn`: what `name` names, or a
    /// reservation of it for the caller to spawn the process it will name,
    /// or, while another caller holds a reservation, a way to wait for it.
    pub(crate) fn reserve_name(self: &Arc<Self>, name: &str) -> Result<Reserve, RegistryError> {
        check_name(name)?;
        let mut registry = self.registry();
        match registry.names.get(name) {
            Some(Entry::Process { node, id }) => return Ok(Reserve::Found(self.shown_node(*node), *id)),
            Some(Entry::Reserved { released, .. }) => return Ok(Reserve::Busy(released.clone())),
            None => {}
        }
        registry.next_token += 1;
        let token = registry.next_token;
        let (release, released) = async_channel::bounded(1);
        registry.insert(name, Entry::Reserved { token, released })?;
        Ok(Reserve::Reserved(Reservation {
            env: self.clone(),
            name: name.into(),
            token,
            _release: release,
        }))
    }

    /// Number of names in the registry (reservations included).
    pub fn registered_names(&self) -> usize {
        self.registry().names.len()
    }
}

/// Longest registry name, in bytes. Names made by the `lunatic` crate are a
/// type name plus the user's name: far below this.
pub const MAX_NAME_LEN: usize = 4096;

/// Host memory the registry of one environment may hold, counted as the
/// names' bytes plus [`ENTRY_COST`] each: some 600 000 short names.
pub const MAX_REGISTRY_BYTES: usize = 64 << 20;

/// What one registry entry costs besides its name's bytes (map slots, the
/// reverse index, the allocation).
const ENTRY_COST: usize = 96;

pub(crate) fn cost(name: &str) -> usize {
    name.len() + ENTRY_COST
}

fn check_name(name: &str) -> Result<(), RegistryError> {
    if name.len() > MAX_NAME_LEN {
        return Err(RegistryError::NameTooLong(name.len()));
    }
    Ok(())
}

/// Why a name cannot be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RegistryError {
    /// Longer than [`MAX_NAME_LEN`].
    NameTooLong(usize),
    /// [`MAX_REGISTRY_BYTES`] reached.
    Full,
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryError::NameTooLong(len) => {
                write!(f, "registry name of {len} bytes is longer than the limit of {MAX_NAME_LEN}")
            }
            RegistryError::Full => {
                write!(f, "the registry is full ({MAX_REGISTRY_BYTES} bytes of names)")
            }
        }
    }
}

impl std::error::Error for RegistryError {}

/// The outcome of [`Environment::reserve_name`].
pub(crate) enum Reserve {
    /// The name names (node, process).
    Found(u64, u64),
    /// The name was free and is now reserved by the caller.
    Reserved(Reservation),
    /// Another `get_or_spawn` holds the name; this completes (with an
    /// error, the channel closing) when that one is done.
    Busy(async_channel::Receiver<()>),
}

/// A name held while `get_or_spawn` instantiates the process it will name.
/// The registry is not locked meanwhile (the child's start section may use
/// it); concurrent `get_or_spawn`s of the same name wait for this one.
/// Dropped unfulfilled (the spawn failed), the name is freed.
pub(crate) struct Reservation {
    env: Arc<Environment>,
    name: Arc<str>,
    token: u64,
    /// Dropped with the reservation, which wakes everyone waiting on it.
    _release: async_channel::Sender<()>,
}

impl Reservation {
    /// Makes the name refer to local process `id`, unless a `put` or
    /// `remove` of the name came in between (then that one stands).
    pub(crate) fn fulfil(self, id: u64) {
        let mut registry = self.env.registry();
        if registry.holds(&self.name, self.token) {
            if self.env.get(id).is_some() {
                // Replacing an entry of the same name never costs more.
                let _ = registry.insert(&self.name, Entry::Process { node: 0, id });
            } else {
                registry.remove(&self.name);
            }
        }
        // Only now may `drop` take the lock.
        drop(registry);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut registry = self.env.registry();
        if registry.holds(&self.name, self.token) {
            registry.remove(&self.name);
        }
    }
}

/// What a registry name refers to.
enum Entry {
    /// A process on a node (0: this one).
    Process { node: u64, id: u64 },
    /// A `get_or_spawn` is spawning the process this name will refer to.
    Reserved { token: u64, released: async_channel::Receiver<()> },
}

/// Name → process, with a reverse index of the names of each local process
/// so that they go when it ends.
#[derive(Default)]
pub(crate) struct Registry {
    names: HashMap<Arc<str>, Entry>,
    pub(crate) by_process: HashMap<u64, Vec<Arc<str>>>,
    /// Sum of [`cost`] over all names.
    pub(crate) bytes: usize,
    next_token: u64,
}

impl Registry {
    /// Sets `name` to `entry`, within [`MAX_REGISTRY_BYTES`].
    fn insert(&mut self, name: &str, entry: Entry) -> Result<(), RegistryError> {
        let name: Arc<str> = match self.names.get_key_value(name) {
            Some((existing, _)) => existing.clone(),
            None => {
                let bytes = self.bytes.checked_add(cost(name)).filter(|&b| b <= MAX_REGISTRY_BYTES);
                self.bytes = bytes.ok_or(RegistryError::Full)?;
                name.into()
            }
        };
        if let Entry::Process { node: 0, id } = entry {
            self.by_process.entry(id).or_default().push(name.clone());
        }
        if let Some(Entry::Process { node: 0, id }) = self.names.insert(name.clone(), entry) {
            self.unindex(id, &name);
        }
        Ok(())
    }

    fn remove(&mut self, name: &str) {
        if let Some((name, entry)) = self.names.remove_entry(name) {
            self.bytes -= cost(&name);
            if let Entry::Process { node: 0, id } = entry {
                self.unindex(id, &name);
            }
        }
    }

    /// Drops `name` from the names of process `id`.
    fn unindex(&mut self, id: u64, name: &str) {
        if let Some(names) = self.by_process.get_mut(&id) {
            // The newest entry for the name goes last; drop the oldest.
            if let Some(at) = names.iter().position(|n| &**n == name) {
                names.swap_remove(at);
            }
            if names.is_empty() {
                self.by_process.remove(&id);
            }
        }
    }

    /// Whether `name` is still the reservation `token`.
    fn holds(&self, name: &str, token: u64) -> bool {
        matches!(self.names.get(name), Some(Entry::Reserved { token: t, .. }) if *t == token)
    }
}
