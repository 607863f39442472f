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
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

/// One module version: its engine and the app module compiled on it.
pub(crate) struct Version {
    id: u64,
    engine: Engine<ProcessState>,
    module: ModuleHandle,
    /// Its live processes by (environment, process ID).
    members: Mutex<HashMap<(u64, u64), Entry>>,
    /// Order of promotion: of two versions, the one promoted last is the
    /// newer (listeners go to it).
    seq: std::sync::atomic::AtomicU64,
    /// Bumped when the version is promoted (its new root joins in a term of
    /// its own) and when it becomes current: a process joins in the term
    /// then running, so that the drain of a term can tell its processes from
    /// those of a later term of the same version (an app reloaded back to
    /// code it ran before).
    term: std::sync::atomic::AtomicU64,
    /// Notified when a process leaves or (un)parks, and when the current
    /// version changes: what a drain waits for.
    changed: event_listener::Event,
}

/// One process of a version.
struct Entry {
    handle: ProcessHandle,
    /// The tag of its `lunatic::hot::subscribe`, if any.
    tag: Option<i64>,
    /// The version's term when it joined.
    term: u64,
    /// How many of its accepts wait on listeners handed over to a newer
    /// version (they will never get a connection again).
    parked: usize,
    /// Stopped by a drain (its end is expected, not a failure).
    drained: bool,
}

impl Version {
    pub(super) fn new(engine: Engine<ProcessState>, module: ModuleHandle) -> Self {
        Self {
            id: engine.version(),
            engine,
            module,
            members: Mutex::default(),
            seq: Default::default(),
            term: Default::default(),
            changed: event_listener::Event::new(),
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

    fn members(&self) -> MutexGuard<'_, HashMap<(u64, u64), Entry>> {
        self.members.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many processes run this version.
    pub(crate) fn live(&self) -> usize {
        self.members().len()
    }

    /// The current term (see the field).
    pub(crate) fn term(&self) -> u64 {
        self.term.load(Ordering::Relaxed)
    }

    /// Starts a new term: the version was promoted or became current.
    pub(super) fn begin_term(&self) {
        self.term.fetch_add(1, Ordering::Relaxed);
    }

    /// Of the processes that joined in term `term` or before: how many are
    /// live, and how many of those wait on handed-over listeners only.
    pub(crate) fn count_through(&self, term: u64) -> (usize, usize) {
        let members = self.members();
        let old = members.values().filter(|e| e.term <= term);
        old.fold((0, 0), |(live, parked), e| (live + 1, parked + usize::from(e.parked > 0)))
    }

    /// Kills every process that joined in term `term` or before (the end
    /// of a drain).
    pub(crate) fn kill_through(&self, term: u64) {
        let handles: Vec<ProcessHandle> = self
            .members()
            .values_mut()
            .filter(|e| e.term <= term)
            .map(|e| {
                e.drained = true;
                e.handle.clone()
            })
            .collect();
        for handle in handles {
            handle.kill();
        }
    }

    /// Something a drain looks at changed (see the field).
    pub(crate) fn changed(&self) -> event_listener::EventListener {
        self.changed.listen()
    }

    pub(super) fn notify_changed(&self) {
        self.changed.notify(usize::MAX);
    }

    /// Tells this version's subscribed processes that `newer` is current.
    pub(crate) fn notify(&self, newer: u64) {
        if newer == self.id {
            return;
        }
        let subscribed: Vec<(ProcessHandle, i64)> =
            self.members().values().filter_map(|e| Some((e.handle.clone(), e.tag?))).collect();
        for (handle, tag) in subscribed {
            handle.send(notice(tag, newer));
        }
    }

    /// Marks process `key` of this version as waiting on a handed-over
    /// listener until the returned guard drops.
    pub(crate) fn park(self: &Arc<Self>, key: (u64, u64)) -> Parked {
        if let Some(entry) = self.members().get_mut(&key) {
            entry.parked += 1;
        }
        self.notify_changed();
        Parked(self.clone(), key)
    }
}

/// The message a subscribed process gets when `newer` becomes current.
pub(crate) fn notice(tag: i64, newer: u64) -> Message {
    Message::Data(DataMessage { tag, buffer: newer.to_le_bytes().to_vec(), ..DataMessage::default() })
}

/// A process counted as parked (see [`Version::park`]).
pub(crate) struct Parked(Arc<Version>, (u64, u64));

impl Drop for Parked {
    fn drop(&mut self) {
        if let Some(entry) = self.0.members().get_mut(&self.1) {
            entry.parked = entry.parked.saturating_sub(1);
        }
        self.0.notify_changed();
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
        let term = version.term();
        version.members().insert(key, Entry { handle, tag: None, term, parked: 0, drained: false });
        Self { version, key }
    }

    /// Its (environment, process ID).
    pub(crate) fn key(&self) -> (u64, u64) {
        self.key
    }

    /// Whether a drain stopped it.
    pub(crate) fn drained(&self) -> bool {
        self.version.members().get(&self.key).is_some_and(|e| e.drained)
    }

    /// The version.
    pub(crate) fn version(&self) -> &Arc<Version> {
        &self.version
    }

    /// The subscription tag (`None`: not subscribed).
    pub(crate) fn tag(&self) -> Option<i64> {
        self.version.members().get(&self.key).and_then(|e| e.tag)
    }

    /// Sets or clears the subscription tag.
    pub(crate) fn set_tag(&self, tag: Option<i64>) {
        if let Some(entry) = self.version.members().get_mut(&self.key) {
            entry.tag = tag;
        }
    }

    /// The same process enrolled in `version` instead (a hand-over), with
    /// its subscription.
    pub(crate) fn move_to(&self, version: Arc<Version>) -> Member {
        let handle = self.version.members().get(&self.key).map(|e| e.handle.clone());
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
        self.version.notify_changed();
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
