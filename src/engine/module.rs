//! Compiled modules and the module cache.
//!
//! A module is compiled once however many processes run it. Handles are
//! reference-counted so a module sent in a message, or kept by a running
//! process after the guest dropped its ID, stays alive. Each compiled module
//! gets a runtime-unique ID and keeps its source hash, so a later hot reload
//! can tell versions apart.

use std::any::Any;
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
    /// The linker of the engine that compiled it (a `wasmi::Linker<T>` of
    /// the store data `T`, typed away so handles stay non-generic).
    linker: Arc<dyn Any + Send + Sync>,
    /// The module version whose engine compiled it (0: the shared engine).
    version: u64,
    bytes: Arc<[u8]>,
    /// Whether instantiating it runs a start function.
    has_start: bool,
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

    /// The linker to instantiate it with: the one of the engine that
    /// compiled it (`None` if `T` is not that engine's store data).
    pub(crate) fn linker<T: 'static>(&self) -> Option<&wasmi::Linker<T>> {
        self.0.linker.downcast_ref::<wasmi::Linker<T>>()
    }

    /// The ID of the module version whose engine compiled it (0: the
    /// runtime's shared engine).
    pub(crate) fn version(&self) -> u64 {
        self.0.version
    }

    /// The bytes it was compiled from.
    pub fn bytes(&self) -> &[u8] {
        &self.0.bytes
    }

    /// Whether instantiating it runs guest code (a start function), which
    /// may take long; true as well for a module given as text.
    pub fn has_start(&self) -> bool {
        self.0.has_start
    }
}

/// Wasm bytes one runtime may compile in all. wasmi never frees compiled
/// code while its engine lives, so evicting a module nobody holds would not
/// give its code back (and compiling it again would add a copy): instead
/// the cache keeps every module and the total is bounded. Beyond it,
/// `compile_module` fails with an error (the guest sees error status 1).
pub const MAX_COMPILED_BYTES: usize = 512 << 20;

/// Remembers compiled modules by content so identical bytes compile once.
pub(crate) struct ModuleCache {
    next_id: AtomicU64,
    by_hash: Mutex<HashMap<u64, Vec<ModuleHandle>>>,
    /// Bytes handed to the compiler so far (failed compilations included:
    /// they may leave code behind in the engine too).
    compiled_bytes: std::sync::atomic::AtomicUsize,
    /// [`MAX_COMPILED_BYTES`], or less in tests.
    limit: usize,
}

impl Default for ModuleCache {
    fn default() -> Self {
        Self {
            next_id: AtomicU64::new(0),
            by_hash: Mutex::default(),
            compiled_bytes: Default::default(),
            limit: MAX_COMPILED_BYTES,
        }
    }
}

/// Whether a Wasm binary has a start section (id 8), read from its section
/// headers (wasmi does not say). Anything that is not a well-formed binary
/// (a module given as text) counts as having one.
fn has_start_section(bytes: &[u8]) -> bool {
    const START: u8 = 8;
    let Some(mut rest) = bytes.strip_prefix(b"\0asm").and_then(|b| b.get(4..)) else {
        return true;
    };
    while let Some((&id, after)) = rest.split_first() {
        if id == START {
            return true;
        }
        // The section's size: unsigned LEB128, at most 5 bytes for a u32.
        let mut size: u64 = 0;
        let mut read = 0;
        loop {
            let Some(&byte) = after.get(read) else { return true };
            size |= u64::from(byte & 0x7f) << (7 * read);
            read += 1;
            if byte & 0x80 == 0 {
                break;
            }
            if read == 5 {
                return true;
            }
        }
        let Some(next) = usize::try_from(size).ok().and_then(|size| after.get(read.checked_add(size)?..)) else {
            return true;
        };
        rest = next;
    }
    false
}

fn content_hash(bytes: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

impl ModuleCache {
    /// Returns the cached module for `bytes`, or compiles it with `compile`.
    pub(crate) fn get_or_compile<L: Any + Send + Sync>(
        &self,
        bytes: &[u8],
        version: u64,
        linker: &Arc<L>,
        compile: impl FnOnce(&[u8]) -> anyhow::Result<wasmi::Module>,
    ) -> anyhow::Result<ModuleHandle> {
        let hash = content_hash(bytes);
        if let Some(found) = self.lookup(hash, bytes) {
            return Ok(found);
        }
        self.compiled_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |total| {
                total.checked_add(bytes.len()).filter(|&total| total <= self.limit)
            })
            .map_err(|total| {
                anyhow::anyhow!(
                    "cannot compile {} more bytes: this runtime has compiled {total} bytes of \
                     Wasm, the limit is {}",
                    bytes.len(),
                    self.limit
                )
            })?;
        // Compile outside the lock: it can take milliseconds.
        let started = std::time::Instant::now();
        let module = compile(bytes)?;
        crate::metrics::compiled(started.elapsed());
        let mut map = self.map();
        let bucket = map.entry(hash).or_default();
        if let Some(found) = bucket.iter().find(|m| &*m.0.bytes == bytes) {
            return Ok(found.clone());
        }
        let handle = ModuleHandle(Arc::new(ModuleInner {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            module,
            linker: linker.clone(),
            version,
            bytes: bytes.into(),
            has_start: has_start_section(bytes),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Identical bytes compile once and cost nothing more; new bytes count
    /// against the bound, failed compilations too, and beyond it nothing
    /// more is compiled.
    #[test]
    fn the_cache_is_bounded_by_compiled_bytes() {
        let engine = wasmi::Engine::default();
        let cache = ModuleCache { limit: 80, ..ModuleCache::default() };
        let compile = |bytes: &[u8]| wasmi::Module::new(&engine, bytes).map_err(anyhow::Error::from);
        let linker = Arc::new(wasmi::Linker::<()>::new(&engine));
        // Text is compiled too; 28 bytes each.
        let one = b"(module (func (export \"a\")))";
        let two = b"(module (func (export \"b\")))";
        let a = cache.get_or_compile(one, 0, &linker, compile).unwrap();
        assert_eq!(cache.get_or_compile(one, 0, &linker, |_| panic!("compiled twice")).unwrap().id(), a.id());
        assert!(cache.get_or_compile(b"not wasm", 0, &linker, compile).is_err());
        cache.get_or_compile(two, 0, &linker, compile).unwrap();
        // 28 + 8 + 28 compiled so far: 28 more is past 80.
        let three = b"(module (func (export \"c\")))";
        let refused = cache.get_or_compile(three, 0, &linker, |_| panic!("compiled past the bound")).unwrap_err();
        assert!(refused.to_string().contains("the limit is 80"), "{refused}");
        // What is cached is still there.
        assert_eq!(cache.get_or_compile(one, 0, &linker, |_| panic!("compiled twice")).unwrap().id(), a.id());
    }
}

#[cfg(test)]
mod start_tests {
    use super::has_start_section;

    #[test]
    fn start_sections_are_found_from_section_headers() {
        let header = b"\0asm\x01\0\0\0";
        assert!(!has_start_section(header), "an empty module");
        // A type section (id 1, 4 bytes), then a start section (id 8).
        let mut with_start = header.to_vec();
        with_start.extend_from_slice(&[1, 4, 1, 0x60, 0, 0, 8, 1, 0]);
        assert!(has_start_section(&with_start));
        // A custom section whose payload holds the byte 8 is not a start.
        // (The size is written in two LEB128 bytes, as encoders may.)
        let mut custom = header.to_vec();
        custom.extend_from_slice(&[0, 0x83, 0x00, 1, b'x', 8]);
        assert!(!has_start_section(&custom), "{custom:?}");
        // Text, or a section running past the end: assume a start.
        assert!(has_start_section(b"(module)"));
        assert!(has_start_section(&[header.as_slice(), &[1, 200]].concat()));
    }
}
