//! Compiled modules and the module cache.
//!
//! A module is compiled once however many processes run it. Handles are
//! reference-counted so a module sent in a message, or kept by a running
//! process after the guest dropped its ID, stays alive. Each compiled module
//! gets a runtime-unique ID and keeps its source hash, so a later hot reload
//! can tell versions apart.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A compiled module that processes can be spawned from. Cheap to clone.
#[derive(Clone)]
pub struct ModuleHandle(Arc<ModuleInner>);

struct ModuleInner {
    id: u64,
    module: wasmi::Module,
    bytes: Arc<[u8]>,
}

impl std::fmt::Debug for ModuleHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleHandle").field("id", &self.0.id).finish()
    }
}

impl ModuleHandle {
    /// Runtime-unique ID of this compiled module.
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The wasmi module.
    pub(crate) fn wasmi(&self) -> &wasmi::Module {
        &self.0.module
    }

    /// The bytes it was compiled from.
    pub fn bytes(&self) -> &[u8] {
        &self.0.bytes
    }
}

/// Wasm bytes one runtime may compile in all. wasmi never frees compiled
/// code while its engine lives, so evicting a module nobody holds would not
/// give its code back (and compiling it again would add a copy): instead
/// the cache keeps every module and the total is bounded. Beyond it,
/// `compile_module` fails with an error (the guest sees error status 1).
pub const MAX_COMPILED_BYTES: usize = 512 << 20;

/// Remembers compiled modules by content so identical bytes compile once.
#[derive(Default)]
pub(crate) struct ModuleCache {
    next_id: AtomicU64,
    by_hash: Mutex<HashMap<u64, Vec<ModuleHandle>>>,
    /// Bytes handed to the compiler so far (failed compilations included:
    /// they may leave code behind in the engine too).
    compiled_bytes: std::sync::atomic::AtomicUsize,
}

fn content_hash(bytes: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

impl ModuleCache {
    /// Returns the cached module for `bytes`, or compiles it with `compile`.
    pub(crate) fn get_or_compile(
        &self,
        bytes: &[u8],
        compile: impl FnOnce(&[u8]) -> anyhow::Result<wasmi::Module>,
    ) -> anyhow::Result<ModuleHandle> {
        let hash = content_hash(bytes);
        if let Some(found) = self.lookup(hash, bytes) {
            return Ok(found);
        }
        self.compiled_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |total| {
                total.checked_add(bytes.len()).filter(|&total| total <= MAX_COMPILED_BYTES)
            })
            .map_err(|total| {
                anyhow::anyhow!(
                    "cannot compile {} more bytes: this runtime has compiled {total} bytes of \
                     Wasm, the limit is {MAX_COMPILED_BYTES}",
                    bytes.len()
                )
            })?;
        // Compile outside the lock: it can take milliseconds.
        let module = compile(bytes)?;
        let mut map = self.map();
        let bucket = map.entry(hash).or_default();
        if let Some(found) = bucket.iter().find(|m| &*m.0.bytes == bytes) {
            return Ok(found.clone());
        }
        let handle = ModuleHandle(Arc::new(ModuleInner {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            module,
            bytes: bytes.into(),
        }));
        bucket.push(handle.clone());
        Ok(handle)
    }

    fn lookup(&self, hash: u64, bytes: &[u8]) -> Option<ModuleHandle> {
        let map = self.map();
        map.get(&hash)?.iter().find(|m| &*m.0.bytes == bytes).cloned()
    }

    /// The cache map; an insertion is one step, so a lock poisoned by a
    /// panic elsewhere guards a consistent map.
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Vec<ModuleHandle>>> {
        self.by_hash.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
