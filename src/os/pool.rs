//! A global allocator that keeps big blocks (Wasm linear memories) out of the
//! C heap.
//!
//! wasmi allocates each linear memory as a `Vec<u8>`: at least 1.06 MiB for a
//! Rust guest. In glibc's heap, hundreds of thousands of freed blocks of that
//! size make its sorted large-bin list long, and every small allocation that
//! misses the fast paths walks it: with 300 000 processes exiting, a run spent
//! nearly all its time in `_int_malloc`. Here every block of 256 KiB or more
//! is a whole number of 64 KiB units taken from one reserved region of address
//! space (one kernel mapping, however many blocks), with a free list per size:
//! O(1) to take and to give back, never mixed with small allocations. A freed
//! block stays resident while the warm reserve has room (so the next spawn
//! reuses faulted-in pages instead of paying a page fault per 4 KiB) and is
//! otherwise handed back to the OS at once.
//!
//! Only on Linux and Android, where `MADV_DONTNEED` makes private anonymous
//! memory read back as zeros; elsewhere, and whenever the region cannot be
//! reserved or is full, everything goes to the system allocator.
// Elsewhere the size classes exist only for the unit tests.
#![cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]

use std::alloc::{GlobalAlloc, Layout, System};

/// Size unit of pooled blocks: one Wasm page.
const UNIT: usize = 64 * 1024;
/// Smaller requests go to the system allocator.
const MIN_POOLED: usize = 256 * 1024;
/// Size classes are 1..=CLASSES units (up to 64 MiB); bigger blocks are rare
/// and the system allocator maps them on their own anyway.
const CLASSES: usize = 1024;
/// Freed bytes kept resident for quick reuse, by default.
const DEFAULT_WARM: usize = 128 << 20;

/// A global allocator for programs that run many processes: big blocks (Wasm
/// linear memories) come from a pool of reserved address space, everything
/// else from [`System`].
///
/// The `lunatic` binary installs it; an embedding program can do the same:
///
/// ```
/// #[global_allocator]
/// static ALLOCATOR: lunatic_wasmi::PoolAllocator = lunatic_wasmi::PoolAllocator::new();
///
/// let memory = vec![0u8; 17 * 65536]; // served by the pool
/// assert_eq!(memory[12345], 0);
/// ```
pub struct PoolAllocator {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pool: imp::Pool,
}

impl PoolAllocator {
    /// A pool that keeps up to 128 MiB of freed blocks resident for reuse.
    pub const fn new() -> Self {
        Self::with_warm_limit(DEFAULT_WARM)
    }

    /// A pool that keeps up to `bytes` of freed blocks resident for reuse;
    /// blocks freed beyond that go back to the OS immediately.
    pub const fn with_warm_limit(bytes: usize) -> Self {
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = bytes;
        Self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            pool: imp::Pool::new(bytes),
        }
    }

    /// Changes how many bytes of freed blocks stay resident; lowering it
    /// hands the excess back to the OS now. The `lunatic` binary sets it
    /// from `LUNATIC_WARM_MIB`.
    ///
    /// ```
    /// static POOL: lunatic_wasmi::PoolAllocator = lunatic_wasmi::PoolAllocator::new();
    /// POOL.set_warm_limit(0); // every freed block goes back at once
    /// assert_eq!(POOL.warm_bytes(), 0);
    /// ```
    pub fn set_warm_limit(&self, bytes: usize) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        self.pool.set_warm_limit(bytes);
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = bytes;
    }

    /// Hands back to the OS the warm blocks that no allocation took since
    /// the last call (the reserve's low point since then), keeping at least
    /// `keep` bytes warm; returns the bytes released. [`Self::start_decay`]
    /// calls it on a timer.
    pub fn release_unused(&self, keep: usize) -> usize {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        return self.pool.release_unused(keep);
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let _ = keep;
            0
        }
    }

    /// Starts a thread that gives the warm reserve back as it goes unused:
    /// every `period` while more than `keep` bytes are warm, it releases
    /// what no spawn took during that period ([`Self::release_unused`]).
    /// With `keep` bytes or less warm it sleeps until a freed block raises
    /// the reserve above that, so an idle program is not woken (after a
    /// burst: at most two wake-ups). Once per allocator; later calls do
    /// nothing.
    pub fn start_decay(&'static self, period: std::time::Duration, keep: usize) -> std::io::Result<()> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        return self.pool.start_decay(period, keep);
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let _ = (period, keep);
            Ok(())
        }
    }

    /// Bytes of freed blocks kept resident right now (0 where there is no
    /// pool): memory the process holds that no Wasm instance uses.
    pub fn warm_bytes(&self) -> usize {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        return self.pool.warm();
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        0
    }
}

impl Default for PoolAllocator {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for PoolAllocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolAllocator").finish_non_exhaustive()
    }
}

/// The size class of a request, if the pool serves it.
fn class_of(layout: Layout) -> Option<usize> {
    if layout.size() < MIN_POOLED || layout.align() > UNIT {
        return None;
    }
    let class = layout.size().div_ceil(UNIT);
    (class <= CLASSES).then_some(class)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for PoolAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
// SAFETY: pooled blocks are disjoint ranges of one private mapping that is
// never unmapped, each handed out to one owner at a time (the free lists are
// guarded by a mutex); everything else is the system allocator's.
unsafe impl GlobalAlloc for PoolAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match class_of(layout).and_then(|class| self.pool.take(class)) {
            Some((block, _)) => block,
            // SAFETY: the caller's guarantees hold for the system allocator.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match class_of(layout).and_then(|class| self.pool.take(class)) {
            Some((block, dirty)) => {
                // SAFETY: the block is ours and at least `layout.size()` long.
                unsafe { std::ptr::write_bytes(block, 0, dirty.min(layout.size())) };
                block
            }
            // SAFETY: the caller's guarantees hold for the system allocator.
            None => unsafe { System.alloc_zeroed(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if self.pool.contains(ptr) {
            // The layout is the one the block was allocated (or last
            // reallocated) with, so it names the same class.
            let class = layout.size().div_ceil(UNIT);
            // SAFETY: the caller owns the block and gives it up.
            unsafe { self.pool.give_back(ptr, class) }
        } else {
            // SAFETY: not ours, so the system allocator's.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees a valid, non-overflowing layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let pooled = self.pool.contains(ptr);
        let new_class = class_of(new_layout);
        if !pooled && new_class.is_none() {
            // SAFETY: both ends are the system allocator's.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        if pooled && new_class == Some(layout.size().div_ceil(UNIT)) {
            return ptr; // the block already has room
        }
        // SAFETY: `new_layout` is valid and non-zero (new_size > 0 by contract).
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are live, distinct and long enough.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod imp {
    use super::{CLASSES, UNIT};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Mutex, Once, OnceLock};

    /// Address space to reserve, tried from the largest down.
    const RESERVE: [usize; 3] = [1 << 40, 1 << 37, 1 << 34];

    /// Header written at the start of a free block.
    #[repr(C)]
    struct FreeBlock {
        next: usize,
        /// Whether the block kept its pages (else they read as zeros).
        warm: bool,
    }

    pub(super) struct Pool {
        once: Once,
        /// Start and length of the reserved region (0, 0 when there is none).
        base: AtomicUsize,
        len: AtomicUsize,
        warm_limit: AtomicUsize,
        lists: Mutex<Lists>,
        /// The decay thread (see `PoolAllocator::start_decay`), what it
        /// keeps warm, and whether it sleeps until the reserve grows.
        decay: OnceLock<std::thread::Thread>,
        decay_keep: AtomicUsize,
        decay_asleep: AtomicBool,
    }

    struct Lists {
        /// Offset of the first byte never handed out.
        bump: usize,
        /// First free block of each class (0 = none); index 0 unused.
        heads: [usize; CLASSES + 1],
        /// Bytes of free blocks that kept their pages.
        warm: usize,
        /// The lowest `warm` since the last `release_unused`: warm bytes no
        /// allocation needed in that time.
        low: usize,
    }

    impl Pool {
        pub(super) const fn new(warm_limit: usize) -> Self {
            Self {
                once: Once::new(),
                base: AtomicUsize::new(0),
                len: AtomicUsize::new(0),
                warm_limit: AtomicUsize::new(warm_limit),
                lists: Mutex::new(Lists { bump: 0, heads: [0; CLASSES + 1], warm: 0, low: 0 }),
                decay: OnceLock::new(),
                decay_keep: AtomicUsize::new(usize::MAX),
                decay_asleep: AtomicBool::new(false),
            }
        }

        fn region(&self) -> Option<(usize, usize)> {
            self.once.call_once(|| {
                if let Some((base, len)) = reserve() {
                    self.base.store(base, Ordering::Relaxed);
                    self.len.store(len, Ordering::Release);
                }
            });
            let len = self.len.load(Ordering::Acquire);
            (len > 0).then(|| (self.base.load(Ordering::Relaxed), len))
        }

        pub(super) fn contains(&self, ptr: *mut u8) -> bool {
            let len = self.len.load(Ordering::Acquire);
            let base = self.base.load(Ordering::Relaxed);
            let addr = ptr as usize;
            len > 0 && addr >= base && addr < base + len
        }

        fn lists(&self) -> std::sync::MutexGuard<'_, Lists> {
            // Nothing panics while the lock is held, but never propagate poison
            // out of an allocator.
            self.lists.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
        }

        /// A block of `class` units and how many of its leading bytes may be
        /// non-zero, or `None` when the region is missing or full.
        pub(super) fn take(&self, class: usize) -> Option<(*mut u8, usize)> {
            let (base, len) = self.region()?;
            let size = class * UNIT;
            let mut lists = self.lists();
            let head = lists.heads[class];
            if head != 0 {
                let block = head as *mut FreeBlock;
                // SAFETY: `head` is a free block of this class: we wrote its
                // header in `give_back` and nobody else owns it.
                let FreeBlock { next, warm } = unsafe { block.read() };
                lists.heads[class] = next;
                if warm {
                    lists.warm -= size;
                    lists.low = lists.low.min(lists.warm);
                    return Some((block.cast(), size));
                }
                drop(lists);
                populate(block.cast(), size);
                return Some((block.cast(), size_of::<FreeBlock>()));
            }
            if lists.bump + size > len {
                return None;
            }
            let block = (base + lists.bump) as *mut u8;
            lists.bump += size;
            drop(lists);
            populate(block, size);
            // Never written: all zeros.
            Some((block, 0))
        }

        /// Sets the warm reserve and releases warm blocks beyond it.
        pub(super) fn set_warm_limit(&self, limit: usize) {
            self.warm_limit.store(limit, Ordering::Relaxed);
            let mut lists = self.lists();
            release(&mut lists, limit);
        }

        /// Releases the warm bytes unused since the last call, down to `keep`.
        pub(super) fn release_unused(&self, keep: usize) -> usize {
            let mut lists = self.lists();
            let before = lists.warm;
            let unused = lists.low.min(before);
            let releasable = unused.min(before.saturating_sub(keep));
            release(&mut lists, before - releasable);
            lists.low = lists.warm;
            before - lists.warm
        }

        pub(super) fn start_decay(&'static self, period: std::time::Duration, keep: usize) -> std::io::Result<()> {
            if self.decay.get().is_some() {
                return Ok(());
            }
            self.decay_keep.store(keep, Ordering::Relaxed);
            let thread = std::thread::Builder::new().name("lunatic-pool".into()).spawn(move || loop {
                // Announce the sleep, then look: a block freed in between
                // finds `decay_asleep` set and unparks (park keeps the token).
                self.decay_asleep.store(true, Ordering::SeqCst);
                if self.warm() <= keep {
                    std::thread::park();
                    continue;
                }
                self.decay_asleep.store(false, Ordering::SeqCst);
                // Start a period: what stays warm through it goes.
                {
                    let mut lists = self.lists();
                    lists.low = lists.warm;
                }
                std::thread::sleep(period);
                self.release_unused(keep);
            })?;
            let _ = self.decay.set(thread.thread().clone());
            Ok(())
        }

        /// Bytes of free blocks that kept their pages.
        pub(super) fn warm(&self) -> usize {
            self.lists().warm
        }

        /// Puts a block back on its free list, keeping its pages only while
        /// the warm reserve has room.
        ///
        /// # Safety
        /// `ptr` must be a block of `class` units from this pool, owned by the
        /// caller, who gives it up.
        pub(super) unsafe fn give_back(&self, ptr: *mut u8, class: usize) {
            let size = class * UNIT;
            let (warm, surplus) = {
                let mut lists = self.lists();
                let keep = lists.warm + size <= self.warm_limit.load(Ordering::Relaxed);
                if keep {
                    lists.warm += size;
                    // SAFETY: the caller gave the block up; it is ours now.
                    unsafe { push(&mut lists, ptr, class, true) };
                }
                (keep, lists.warm > self.decay_keep.load(Ordering::Relaxed))
            };
            if !warm {
                // Outside the lock: the syscall can take a while.
                // SAFETY: the block is ours and whole pages of a private
                // anonymous mapping; afterwards it reads as zeros.
                unsafe { libc::madvise(ptr.cast(), size, libc::MADV_DONTNEED) };
                let mut lists = self.lists();
                // SAFETY: as above.
                unsafe { push(&mut lists, ptr, class, false) };
            }
            if surplus && self.decay_asleep.swap(false, Ordering::SeqCst) {
                // The reserve grew past what the decay keeps: wake it (a
                // futex wake; it allocates nothing).
                if let Some(decay) = self.decay.get() {
                    decay.unpark();
                }
            }
        }
    }

    /// Hands warm blocks back to the OS until at most `limit` bytes stay
    /// warm. Under the pool's lock: a block marked cold must be released
    /// before anyone can take it as zeroed. A rare call; a few madvises.
    fn release(lists: &mut Lists, limit: usize) {
        for class in 1..=CLASSES {
            if lists.warm <= limit {
                return;
            }
            let mut at = lists.heads[class];
            while at != 0 && lists.warm > limit {
                let block = at as *mut FreeBlock;
                // SAFETY: `at` is a free block of this class (written by
                // `push`), owned by the pool while the lock is held.
                let FreeBlock { next, warm } = unsafe { block.read() };
                if warm {
                    // SAFETY: whole pages of the private anonymous
                    // mapping, owned by the pool; the header is rewritten
                    // right after.
                    unsafe {
                        libc::madvise(block.cast(), class * UNIT, libc::MADV_DONTNEED);
                        block.write(FreeBlock { next, warm: false });
                    }
                    lists.warm -= class * UNIT;
                }
                at = next;
            }
        }
    }

    /// Faults in every page of a block whose pages are not resident, in one
    /// system call. wasmi writes zeros over the whole of a new memory, and
    /// taking those page faults one by one costs several times more
    /// (~2 µs each on a VM). Advisory: older kernels say EINVAL, harmless.
    fn populate(block: *mut u8, size: usize) {
        /// Linux 5.14+, same value on every architecture.
        const MADV_POPULATE_WRITE: libc::c_int = 23;
        // SAFETY: the block is ours; populating changes no contents.
        unsafe { libc::madvise(block.cast(), size, MADV_POPULATE_WRITE) };
    }

    /// # Safety
    /// `ptr` is a free block of `class` units owned by the pool.
    unsafe fn push(lists: &mut Lists, ptr: *mut u8, class: usize, warm: bool) {
        let block = ptr.cast::<FreeBlock>();
        // SAFETY: the block is at least one unit long and 64 KiB aligned.
        unsafe { block.write(FreeBlock { next: lists.heads[class], warm }) };
        lists.heads[class] = ptr as usize;
    }

    /// Reserves address space (not memory) for the pool: one mapping that
    /// the kernel backs page by page as blocks are touched.
    fn reserve() -> Option<(usize, usize)> {
        for len in RESERVE {
            // SAFETY: a fresh anonymous mapping at an address of the kernel's
            // choosing affects no existing memory.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len + UNIT,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if ptr == libc::MAP_FAILED {
                continue;
            }
            // Huge pages would make every touched 4 KiB of a mostly idle
            // memory cost 2 MiB; advisory, so failure is harmless.
            // SAFETY: the range is the mapping just made.
            unsafe { libc::madvise(ptr, len + UNIT, libc::MADV_NOHUGEPAGE) };
            // Blocks start on a unit boundary (the mapping is only page aligned).
            let base = (ptr as usize).next_multiple_of(UNIT);
            return Some((base, len));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 8).unwrap()
    }

    #[test]
    fn small_requests_go_to_the_system() {
        let pool = PoolAllocator::new();
        unsafe {
            let p = pool.alloc(layout(1000));
            assert!(!p.is_null());
            #[cfg(any(target_os = "linux", target_os = "android"))]
            assert!(!pool.pool.contains(p));
            pool.dealloc(p, layout(1000));
        }
    }

    #[test]
    fn blocks_are_reused_and_zeroed_on_request() {
        // A warm reserve of one 17-unit block: the first freed block stays
        // resident, the second goes back to the OS.
        let pool = PoolAllocator::with_warm_limit(17 * UNIT);
        let size = 17 * UNIT;
        unsafe {
            let a = pool.alloc_zeroed(layout(size));
            let b = pool.alloc_zeroed(layout(size));
            assert!(!a.is_null() && !b.is_null() && a != b);
            assert_eq!(a as usize % UNIT, 0);
            let a_slice = std::slice::from_raw_parts_mut(a, size);
            let b_slice = std::slice::from_raw_parts_mut(b, size);
            assert!(a_slice.iter().all(|&x| x == 0));
            a_slice.fill(0xAB);
            b_slice.fill(0xCD);
            pool.dealloc(a, layout(size)); // warm
            pool.dealloc(b, layout(size)); // cold: released
            // Last freed first: b (cold), then a (warm); both read as zeros.
            for expected in [b, a] {
                let c = pool.alloc_zeroed(layout(size - 5));
                assert_eq!(c, expected);
                let slice = std::slice::from_raw_parts(c, size - 5);
                assert!(slice.iter().all(|&x| x == 0));
            }
            pool.dealloc(a, layout(size - 5));
            // Plain alloc of a warm block keeps its contents (no cost).
            let d = pool.alloc(layout(size));
            assert_eq!(d, a);
            pool.dealloc(d, layout(size));
        }
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn lowering_the_warm_limit_releases_freed_blocks() {
        let pool = PoolAllocator::with_warm_limit(64 * UNIT);
        let size = 5 * UNIT;
        unsafe {
            let blocks: Vec<*mut u8> = (0..3).map(|_| pool.alloc_zeroed(layout(size))).collect();
            for &b in &blocks {
                std::slice::from_raw_parts_mut(b, size).fill(0x5A);
                pool.dealloc(b, layout(size));
            }
            assert_eq!(pool.warm_bytes(), 3 * size);
            pool.set_warm_limit(size);
            assert_eq!(pool.warm_bytes(), size);
            // Further frees go back at once; every block reads as zeros again.
            let again: Vec<*mut u8> = (0..3).map(|_| pool.alloc_zeroed(layout(size))).collect();
            assert_eq!(pool.warm_bytes(), 0);
            for &b in &again {
                assert!(std::slice::from_raw_parts(b, size).iter().all(|&x| x == 0));
            }
            for &b in &again {
                pool.dealloc(b, layout(size));
            }
            assert_eq!(pool.warm_bytes(), size);
            pool.set_warm_limit(0);
            assert_eq!(pool.warm_bytes(), 0);
        }
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn unused_warm_blocks_decay_and_used_ones_stay() {
        let size = 5 * UNIT; // pooled: at least MIN_POOLED
        // By hand: only what no allocation took since the last call goes.
        let pool = PoolAllocator::with_warm_limit(64 * UNIT);
        unsafe {
            let blocks: Vec<*mut u8> = (0..4).map(|_| pool.alloc_zeroed(layout(size))).collect();
            for &b in &blocks {
                pool.dealloc(b, layout(size));
            }
            assert_eq!(pool.release_unused(0), 0, "no period has passed yet");
            let b = pool.alloc(layout(size));
            pool.dealloc(b, layout(size));
            assert_eq!(pool.release_unused(0), 3 * size, "one block was taken in between");
            assert_eq!(pool.warm_bytes(), size);
            assert_eq!(pool.release_unused(size), 0, "`keep` stays warm");
            assert_eq!(pool.release_unused(0), size);
        }
        // The thread: a surplus over `keep` goes after a period unused.
        static DECAYING: PoolAllocator = PoolAllocator::with_warm_limit(64 * UNIT);
        DECAYING.start_decay(std::time::Duration::from_millis(20), size).unwrap();
        unsafe {
            let blocks: Vec<*mut u8> = (0..4).map(|_| DECAYING.alloc_zeroed(layout(size))).collect();
            for &b in &blocks {
                std::slice::from_raw_parts_mut(b, size).fill(0x77);
                DECAYING.dealloc(b, layout(size));
            }
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while DECAYING.warm_bytes() > size && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            assert_eq!(DECAYING.warm_bytes(), size);
            // Released blocks read as zeros when taken again.
            for _ in 0..4 {
                let b = DECAYING.alloc_zeroed(layout(size));
                assert!(std::slice::from_raw_parts(b, size).iter().all(|&x| x == 0));
            }
        }
    }

    #[test]
    fn realloc_keeps_contents_across_pool_and_system() {
        let pool = PoolAllocator::new();
        unsafe {
            let mut size = 1000;
            let mut p = pool.alloc(layout(size));
            for i in 0..size {
                *p.add(i) = (i % 251) as u8;
            }
            // System -> pool -> same class -> bigger class -> system.
            for new_size in [300 * 1024, 300 * 1024 + 10, 5 * 1024 * 1024, 2000] {
                let q = pool.realloc(p, layout(size), new_size);
                assert!(!q.is_null());
                for i in 0..size.min(new_size).min(1000) {
                    assert_eq!(*q.add(i), (i % 251) as u8, "byte {i} after growing to {new_size}");
                }
                if new_size == 300 * 1024 + 10 {
                    assert_eq!(q, p, "same class reallocates in place");
                }
                p = q;
                size = new_size;
            }
            pool.dealloc(p, layout(size));
        }
    }

    #[test]
    fn vec_growth_through_the_pool() {
        // The way wasmi grows a linear memory: try_reserve + resize.
        let pool = PoolAllocator::new();
        unsafe {
            let mut size = 17 * UNIT;
            let p = pool.alloc_zeroed(layout(size));
            *p.add(size - 1) = 7;
            let q = pool.realloc(p, layout(size), 40 * UNIT);
            assert_eq!(*q.add(size - 1), 7);
            size = 40 * UNIT;
            pool.dealloc(q, layout(size));
        }
    }
}
