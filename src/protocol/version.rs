//! Module versions of a hot-reloadable app (see README "Hot reload").
//!
//! A version is one module's bytes compiled on an engine of its own (wasmi
//! never frees compiled code while its engine lives, so sharing one engine
//! would keep every old version's code forever). Each process of the version
//! holds a [`Member`]; the runtime keeps only weak references to versions
//! other than the current one, so a version (engine, linker, compiled code)
//! is freed when its last process ends.

use super::{DataMessage, Message, ProcessHandle, ProcessState};
use crate::engine::{Engine, ModuleHandle};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// One module version: its engine and the app module compiled on it.
pub(crate) struct Version {
    id: u64,
    engine: Engine<ProcessState>,
    module: ModuleHandle,
    /// Its live processes by (environment, process ID): handle and the tag
    /// of their `lunatic::hot::subscribe` (if any).
    members: Mutex<HashMap<(u64, u64), (ProcessHandle, Option<i64>)>>,
    /// Order of promotion: of two versions, the one promoted last is the
    /// newer (listeners go to it).
    seq: std::sync::atomic::AtomicU64,
    /// Of those, how many wait in an accept on a listener handed over to a
    /// newer version (they will never get a connection again).
    parked: AtomicUsize,
}

impl Version {
    pub(super) fn new(engine: Engine<ProcessState>, module: ModuleHandle) -> Self {
        Self {
            id: engine.version(),
            engine,
            module,
            members: Mutex::default(),
            seq: Default::default(),
            parked: AtomicUsize::new(0),
        }
    }

    /// The version ID (see `engine::version_id`).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Its promotion order (see [`Version::is_newer_than`]).
    pub(crate) fn seq(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }

    pub(super) fn set_seq(&self, seq: u64) {
        self.seq.store(seq, Ordering::Relaxed);
    }

    /// Whether this version was promoted after `other`.
    pub(crate) fn is_newer_than(&self, other: &Version) -> bool {
        self.seq() > other.seq()
    }

    /// The app's module compiled on this version's engine.
    pub(crate) fn module(&self) -> &ModuleHandle {
        &self.module
    }

    /// The engine modules compiled by this version's processes go to.
    pub(crate) fn engine(&self) -> &Engine<ProcessState> {
        &self.engine
    }

    fn members(&self) -> MutexGuard<'_, HashMap<(u64, u64), (ProcessHandle, Option<i64>)>> {
        self.members.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many processes run this version.
    pub(crate) fn live(&self) -> usize {
        self.members().len()
    }

    /// How many of them wait on handed-over listeners only.
    pub(crate) fn parked(&self) -> usize {
        self.parked.load(Ordering::Relaxed)
    }

    /// Kills every process of this version (the end of a drain).
    pub(crate) fn kill_all(&self) {
        let handles: Vec<ProcessHandle> = self.members().values().map(|(h, _)| h.clone()).collect();
        for handle in handles {
            handle.kill();
        }
    }

    /// Tells this version's subscribed processes that `newer` is current.
    pub(crate) fn notify(&self, newer: u64) {
        if newer == self.id {
            return;
        }
        let subscribed: Vec<(ProcessHandle, i64)> =
            self.members().values().filter_map(|(h, tag)| Some((h.clone(), (*tag)?))).collect();
        for (handle, tag) in subscribed {
            handle.send(notice(tag, newer));
        }
    }

    /// Marks one process of this version as waiting on a handed-over
    /// listener until the returned guard drops.
    pub(crate) fn park(self: &Arc<Self>) -> Parked {
        self.parked.fetch_add(1, Ordering::Relaxed);
        Parked(self.clone())
    }
}

/// The message a subscribed process gets when `newer` becomes current.
pub(crate) fn notice(tag: i64, newer: u64) -> Message {
    Message::Data(DataMessage { tag, buffer: newer.to_le_bytes().to_vec(), ..DataMessage::default() })
}

/// A process counted in [`Version::parked`] (see [`Version::park`]).
pub(crate) struct Parked(Arc<Version>);

impl Drop for Parked {
    fn drop(&mut self) {
        self.0.parked.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A process's membership in its version; leaving (drop) forgets it.
pub(crate) struct Member {
    version: Arc<Version>,
    key: (u64, u64),
}

impl Member {
    /// Enrols `handle` (process `key.1` of environment `key.0`).
    pub(crate) fn join(version: Arc<Version>, key: (u64, u64), handle: ProcessHandle) -> Self {
        version.members().insert(key, (handle, None));
        Self { version, key }
    }

    /// The version.
    pub(crate) fn version(&self) -> &Arc<Version> {
        &self.version
    }

    /// The subscription tag (`None`: not subscribed).
    pub(crate) fn tag(&self) -> Option<i64> {
        self.version.members().get(&self.key).and_then(|(_, tag)| *tag)
    }

    /// Sets or clears the subscription tag.
    pub(crate) fn set_tag(&self, tag: Option<i64>) {
        if let Some(entry) = self.version.members().get_mut(&self.key) {
            entry.1 = tag;
        }
    }

    /// The same process enrolled in `version` instead (a hand-over), with
    /// its subscription.
    pub(crate) fn move_to(&self, version: Arc<Version>) -> Member {
        let handle = self.version.members().get(&self.key).map(|(h, _)| h.clone());
        let tag = self.tag();
        let moved = match handle {
            Some(handle) => Member::join(version, self.key, handle),
            None => Member { version, key: self.key },
        };
        moved.set_tag(tag);
        moved
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.version.members().remove(&self.key);
    }
}

/// The versions a runtime knows: the current one, and weak references to
/// all (so they go when their last process does).
#[derive(Default)]
pub(crate) struct Versions {
    /// The last promotion number given.
    pub(super) promoted: u64,
    pub(super) current: Option<Arc<Version>>,
    pub(super) all: HashMap<u64, std::sync::Weak<Version>>,
}

impl Versions {
    /// A live version by ID.
    pub(super) fn get(&mut self, id: u64) -> Option<Arc<Version>> {
        self.all.retain(|_, weak| weak.strong_count() > 0);
        self.all.get(&id).and_then(std::sync::Weak::upgrade)
    }

    /// Every live version.
    pub(super) fn live(&mut self) -> Vec<Arc<Version>> {
        self.all.retain(|_, weak| weak.strong_count() > 0);
        self.all.values().filter_map(std::sync::Weak::upgrade).collect()
    }
}
