//! The one place with `unsafe` code: giving memory back to the OS.
//!
//! Two tools live here: [`release_zero_pages`] for idle processes, and the
//! [`PoolAllocator`] that keeps linear memories out of the C heap.
//!
//! wasmi allocates a module's linear memory as a zero-filled `Vec<u8>`, which
//! commits every initial page (over 1 MiB for a Rust guest). Most of those
//! pages stay zero in an idle process, so once a process parks we tell the
//! kernel it may drop the all-zero pages; private anonymous memory reads back
//! as zeros afterwards, so the guest sees exactly the same bytes.
#![allow(unsafe_code)]

mod pool;
pub(crate) mod sqlite;

pub use pool::PoolAllocator;

/// Releases the physical memory behind every all-zero, page-aligned page of
/// `buf` and returns how many bytes were released. Contents are unchanged.
pub(crate) fn release_zero_pages(buf: &mut [u8]) -> usize {
    imp::release_zero_pages(buf)
}

#[cfg(target_os = "linux")]
mod imp {
    use std::sync::OnceLock;

    fn page_size() -> usize {
        static PAGE: OnceLock<usize> = OnceLock::new();
        *PAGE.get_or_init(|| {
            // SAFETY: sysconf has no preconditions.
            let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            usize::try_from(size).ok().filter(|s| s.is_power_of_two()).unwrap_or(4096)
        })
    }

    pub(super) fn release_zero_pages(buf: &mut [u8]) -> usize {
        let page = page_size();
        let base = buf.as_ptr() as usize;
        // Only whole pages inside `buf` may be released.
        let first = base.next_multiple_of(page) - base;
        if first >= buf.len() {
            return 0;
        }
        let mut released = 0;
        let mut run_start: Option<usize> = None;
        let mut offset = first;
        let mut flush = |start: usize, end: usize, buf: &mut [u8]| {
            let region = &mut buf[start..end];
            // SAFETY: `region` is a whole number of pages inside a buffer we
            // borrow mutably, and every byte in it is zero. MADV_DONTNEED on
            // private anonymous memory makes later reads return zeros, so the
            // observable contents do not change and no other reference exists.
            let rc = unsafe {
                libc::madvise(region.as_mut_ptr().cast(), region.len(), libc::MADV_DONTNEED)
            };
            if rc == 0 {
                released += region.len();
            }
        };
        while offset + page <= buf.len() {
            let zero = is_zero(&buf[offset..offset + page]);
            match (zero, run_start) {
                (true, None) => run_start = Some(offset),
                (false, Some(start)) => {
                    flush(start, offset, buf);
                    run_start = None;
                }
                _ => {}
            }
            offset += page;
        }
        if let Some(start) = run_start {
            flush(start, offset, buf);
        }
        released
    }

    fn is_zero(page: &[u8]) -> bool {
        let (head, words, tail) = {
            // SAFETY: reinterpreting initialised bytes as u64 is always valid;
            // align_to handles the unaligned ends.
            unsafe { page.align_to::<u64>() }
        };
        head.iter().all(|&b| b == 0) && words.iter().all(|&w| w == 0) && tail.iter().all(|&b| b == 0)
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    /// Portable fallback: keep everything (correct, just uses more memory).
    pub(super) fn release_zero_pages(_buf: &mut [u8]) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_survive_release() {
        let mut buf = vec![0u8; 64 * 4096 + 123];
        buf[5 * 4096 + 7] = 42;
        buf[40 * 4096] = 9;
        let last = buf.len() - 1;
        buf[last] = 1;
        let before = buf.clone();
        let released = release_zero_pages(&mut buf);
        assert_eq!(buf, before);
        if cfg!(target_os = "linux") {
            assert!(released >= 50 * 4096, "released only {released} bytes");
        }
        // Released pages are usable again.
        buf[6 * 4096] = 3;
        assert_eq!(buf[6 * 4096], 3);
    }
}
