//! Environments: the namespace process IDs and registry names live in.

use crate::process::ProcessHandle;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

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
    registry: Mutex<HashMap<String, (u64, u64)>>,
}

impl Environment {
    /// A new, empty environment whose first process will get ID 1.
    pub fn new(id: u64) -> Self {
        Self {
            id,
            next_pid: AtomicU64::new(1),
            shards: std::array::from_fn(|_| RwLock::new(HashMap::new())),
            registry: Mutex::new(HashMap::new()),
        }
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

    /// Number of live processes.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().unwrap().len()).sum()
    }

    /// True when no process is alive.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The registry (name → node ID, process ID). Names are opaque strings.
    pub(crate) fn registry(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, u64)>> {
        self.registry.lock().unwrap()
    }
}
