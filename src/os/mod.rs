//! The one place with `unsafe` code: giving memory back to the OS.
//!
//! Two tools live here: compaction of the linear memory of waiting processes
//! ([`compact`]), and the [`PoolAllocator`] that keeps linear memories out of
//! the C heap.
//!
//! wasmi allocates a module's linear memory as a zero-filled `Vec<u8>`, which
//! commits every initial page (over 1 MiB for a Rust guest). Most of those
//! pages stay zero, so once a process has waited a while we tell the kernel
//! it may drop them; private anonymous memory reads back as zeros
//! afterwards, so the guest sees exactly the same bytes. [`compact`] goes
//! further for pages that hold little: see there.
#![allow(unsafe_code)]

pub(crate) mod compact;
pub(crate) mod ffi;
mod pool;
pub(crate) mod sqlite;

pub use pool::PoolAllocator;

/// Size of the OS's memory pages (4 KiB when it cannot be asked).
pub(crate) fn page_size() -> usize {
    imp::page_size()
}

/// Residency of the pages of `buf` (which must start on a page boundary
/// and be a whole number of pages long): one entry per page in `resident`,
/// true when it has physical memory behind it. `false` when the OS cannot
/// tell (then `resident` is unchanged).
pub(crate) fn residency(buf: &[u8], resident: &mut [bool]) -> bool {
    imp::residency(buf, resident)
}

/// Gives the physical memory behind `region` (whole, aligned pages) back to
/// the OS; afterwards it reads as zeros, and the pages are faulted in again
/// (zero-filled) when written. Returns `false`, leaving `region` as it was,
/// when the region is not whole pages or the OS cannot do it.
pub(crate) fn discard(region: &mut [u8]) -> bool {
    imp::discard(region)
}

#[cfg(target_os = "linux")]
mod imp {
    use std::sync::OnceLock;

    /// Pages whose residency one `mincore` call reports.
    const CHUNK: usize = 512;

    pub(super) fn page_size() -> usize {
        static PAGE: OnceLock<usize> = OnceLock::new();
        *PAGE.get_or_init(|| {
            // SAFETY: sysconf has no preconditions.
            let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            usize::try_from(size).ok().filter(|s| s.is_power_of_two()).unwrap_or(4096)
        })
    }

    fn whole_pages(buf: &[u8]) -> bool {
        let page = page_size();
        (buf.as_ptr() as usize).is_multiple_of(page) && buf.len().is_multiple_of(page)
    }

    pub(super) fn residency(buf: &[u8], resident: &mut [bool]) -> bool {
        let page = page_size();
        if !whole_pages(buf) || resident.len() != buf.len() / page {
            return false;
        }
        let mut states = [0u8; CHUNK];
        for (pages, flags) in buf.chunks(CHUNK * page).zip(resident.chunks_mut(CHUNK)) {
            let states = &mut states[..flags.len()];
            // SAFETY: `pages` is a page-aligned range of whole pages that we
            // borrow, and `states` has one byte per page; mincore only writes
            // that vector.
            let rc = unsafe { libc::mincore(pages.as_ptr().cast_mut().cast(), pages.len(), states.as_mut_ptr()) };
            if rc != 0 {
                return false;
            }
            for (flag, state) in flags.iter_mut().zip(states.iter()) {
                *flag = state & 1 != 0;
            }
        }
        true
    }

    pub(super) fn discard(region: &mut [u8]) -> bool {
        if !whole_pages(region) || region.is_empty() {
            return false;
        }
        // SAFETY: `region` is whole pages we borrow mutably (no other
        // reference exists). MADV_DONTNEED on private anonymous memory makes
        // later reads return zeros, exactly as if we had written zeros.
        // On memory that is not private anonymous it fails or would not
        // read back as zeros: the pool and the system allocator only hand
        // out private anonymous memory.
        unsafe { libc::madvise(region.as_mut_ptr().cast(), region.len(), libc::MADV_DONTNEED) == 0 }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    //! Portable fallback: nothing is given back (correct, uses more memory).

    pub(super) fn page_size() -> usize {
        4096
    }

    pub(super) fn residency(_buf: &[u8], _resident: &mut [bool]) -> bool {
        false
    }

    pub(super) fn discard(_region: &mut [u8]) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discarded_pages_read_as_zeros_and_are_not_resident() {
        let page = page_size();
        let mut buf = vec![0u8; 8 * page + page];
        let start = (buf.as_ptr() as usize).next_multiple_of(page) - buf.as_ptr() as usize;
        let region = &mut buf[start..start + 8 * page];
        region.fill(7);
        let mut resident = [false; 8];
        if cfg!(target_os = "linux") {
            assert!(residency(region, &mut resident));
            assert!(resident.iter().all(|&r| r));
            assert!(discard(&mut region[2 * page..5 * page]));
            assert!(residency(region, &mut resident));
            assert_eq!(resident, [true, true, false, false, false, true, true, true]);
            assert!(region[2 * page..5 * page].iter().all(|&b| b == 0));
            assert!(region[..2 * page].iter().chain(&region[5 * page..]).all(|&b| b == 7));
        }
        // Not whole pages: refused, contents kept.
        assert!(!discard(&mut region[1..page + 1]));
        assert_eq!(region[1], 7);
    }
}
