//! Compacting the linear memory of a process while it waits.
//!
//! After a request, a process-per-connection guest waiting on its socket
//! has a few dozen resident pages, and most of them hold almost nothing:
//! the top of the shadow stack (a few frames of a mostly zero buffer), heap
//! pages with one short string, and the data segment, whose pages are
//! still what the module's data segments put there. Keeping such a page
//! costs 4 KiB; what distinguishes it from what the page held at
//! instantiation (zeros, or the data segment's bytes) is often a few dozen.
//!
//! So [`compact`] gives back every resident page that equals its *image*
//! (zeros overlaid with the module's active data segments), and stashes
//! every page that differs from its image by little (at most
//! [`STASH_LIMIT`] of a page) as the list of differing 8-byte words before
//! giving it back too. [`restore`] rebuilds the stashed pages from image
//! and differences; it must run before anything reads or writes the memory
//! again (the driver does it the moment the wait ends), since a given-back
//! page reads as zeros. Pages that differ a lot stay resident as they are.
//! The image is only the base of the differences: restoring gives back the
//! exact bytes whatever the image says.
//!
//! Only resident pages are looked at (a given-back page is not read again:
//! reading would map it), so compacting a memory that is already compact
//! costs little.

use std::ops::Range;

/// A page is stashed only if its differences take at most this part of it
/// (in bytes: page size / 4): a stashed page must save memory, and each
/// costs a page fault when restored.
const STASH_DIVISOR: usize = 4;

/// Most pages whose residency is asked for at once.
const CHUNK: usize = 512;

/// The initial contents of memory 0 of a module: zeros, with its active
/// data segments (those at constant offsets) copied in, in order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Image {
    /// (offset in the memory, range of the segment's bytes in the module).
    segments: Vec<(u64, Range<usize>)>,
}

impl Image {
    /// Reads the data section of a module (which wasmi validated). Segments
    /// it cannot place (passive, other memories, offsets that are not
    /// constants) are left out: the image is a base for differences, so a
    /// missing segment only makes them larger.
    pub(crate) fn of_module(module: &[u8]) -> Self {
        let mut image = Self::default();
        // Sections follow the magic number and version.
        let mut r = Reader { bytes: module, at: 8 };
        while let (Some(id), Some(size)) = (r.byte(), r.u32()) {
            let start = r.at;
            let Some(end) = start.checked_add(size as usize) else { break };
            if id == 11 {
                let Some(section) = module.get(start..end) else { break };
                image.read_data_section(section, start);
                break;
            }
            r.at = end;
        }
        image
    }

    fn read_data_section(&mut self, section: &[u8], base: usize) {
        let mut r = Reader::new(section);
        let Some(count) = r.u32() else { return };
        for _ in 0..count {
            let Some(flags) = r.u32() else { return };
            let memory = match flags {
                0 => 0,
                1 => u32::MAX, // passive
                2 => match r.u32() {
                    Some(index) => index,
                    None => return,
                },
                _ => return,
            };
            let offset = if flags == 1 {
                None
            } else {
                match r.const_offset() {
                    Some(offset) => Some(offset),
                    None => return, // an expression we do not read: stop here
                }
            };
            let Some(len) = r.u32() else { return };
            let start = r.at;
            let Some(end) = start.checked_add(len as usize).filter(|&e| e <= section.len()) else {
                return;
            };
            r.at = end;
            if let (0, Some(offset)) = (memory, offset) {
                self.segments.push((offset, base + start..base + end));
            }
        }
    }

    /// Writes the image of the page at `offset` into `out` (zeros where no
    /// segment lies); false when no segment touches it (all zeros).
    fn page(&self, module: &[u8], offset: u64, out: &mut [u8]) -> bool {
        let mut any = false;
        for (at, range) in &self.segments {
            let Some(bytes) = module.get(range.clone()) else { continue };
            let (seg_start, seg_end) = (*at, at.saturating_add(bytes.len() as u64));
            let (page_start, page_end) = (offset, offset.saturating_add(out.len() as u64));
            let (from, to) = (seg_start.max(page_start), seg_end.min(page_end));
            if from >= to {
                continue;
            }
            if !any {
                out.fill(0);
                any = true;
            }
            let (src, dst) = ((from - seg_start) as usize, (from - page_start) as usize);
            let n = (to - from) as usize;
            out[dst..dst + n].copy_from_slice(&bytes[src..src + n]);
        }
        any
    }
}

/// A minimal reader of the Wasm binary encoding.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    /// An unsigned LEB128 of at most 32 bits.
    fn u32(&mut self) -> Option<u32> {
        let mut value: u64 = 0;
        for shift in (0..35).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return u32::try_from(value).ok();
            }
        }
        None
    }

    /// A signed LEB128 of at most 64 bits.
    fn s64(&mut self) -> Option<i64> {
        let mut value: i64 = 0;
        let mut shift = 0;
        loop {
            let b = self.byte()?;
            if shift >= 64 {
                return None;
            }
            value |= i64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                if shift < 64 && b & 0x40 != 0 {
                    value |= -1i64 << shift;
                }
                return Some(value);
            }
        }
    }

    /// `i32.const N end` or `i64.const N end`, as an offset.
    fn const_offset(&mut self) -> Option<u64> {
        let offset = match self.byte()? {
            0x41 => self.s64()? as i32 as u32 as u64,
            0x42 => self.s64()? as u64,
            _ => return None,
        };
        (self.byte()? == 0x0b).then_some(offset)
    }
}

/// The pages of a waiting process's memory kept as differences from the
/// image (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct Stash {
    /// Per page: index (u32), number of runs (u16), then per run: first
    /// word (u16), words (u16) and their bytes. Little endian.
    encoded: Vec<u8>,
    pages: usize,
}

impl Stash {
    /// Whether pages wait to be restored.
    pub(crate) fn is_empty(&self) -> bool {
        self.pages == 0
    }

    /// Host memory the stash holds.
    pub(crate) fn bytes(&self) -> usize {
        self.encoded.capacity()
    }
}

/// What [`compact`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Compacted {
    /// Bytes of resident pages given back (all-zero or equal to the image).
    pub(crate) released: usize,
    /// Bytes of resident pages given back after stashing their differences.
    pub(crate) stashed: usize,
    /// Bytes of pages that stay resident (they differ too much).
    pub(crate) resident: usize,
}

/// Gives back every resident page of `memory` that equals the image, and
/// stashes then gives back those that differ from it by little. `module`
/// is the module's bytes (where `image` points). With a non-empty `stash`
/// (not restored since the last compaction) this only looks for zero pages.
pub(crate) fn compact(memory: &mut [u8], module: &[u8], image: &Image, stash: &mut Stash) -> Compacted {
    let mut done = Compacted::default();
    if !cfg!(target_os = "linux") {
        done.resident = memory.len();
        return done;
    }
    let page = super::page_size();
    let skip = (memory.as_ptr() as usize).next_multiple_of(page) - memory.as_ptr() as usize;
    let Some(aligned) = memory.get_mut(skip..) else { return done };
    let pages = aligned.len() / page;
    let aligned = &mut aligned[..pages * page];
    let may_stash = stash.is_empty();
    let limit = page / STASH_DIVISOR;
    let mut reference = vec![0u8; page];
    // The current run of pages to give back: (first page, stash length at
    // its start, resident bytes in it, of which stashed).
    let mut run: Option<(usize, usize, usize, usize)> = None;
    let mut resident = [false; CHUNK];
    for chunk_start in (0..pages).step_by(CHUNK) {
        let count = (pages - chunk_start).min(CHUNK);
        let flags = &mut resident[..count];
        let range = chunk_start * page..(chunk_start + count) * page;
        if !super::residency(&aligned[range], flags) {
            flags.fill(true);
        }
        for (i, &is_resident) in flags.iter().enumerate() {
            let index = chunk_start + i;
            let start = index * page;
            let entry = stash.encoded.len();
            let bytes = &aligned[start..start + page];
            // A page that is not resident reads as zeros and costs nothing.
            let give_back = if !is_resident {
                Some(false)
            } else {
                let offset = (skip + start) as u64;
                let image = image.page(module, offset, &mut reference).then_some(&reference[..]);
                let same = match image {
                    Some(image) => bytes == image,
                    None => is_zero(bytes),
                };
                if same && image.is_none() {
                    Some(false)
                } else if same && may_stash {
                    // Equal to a non-zero image: restored from the image alone.
                    encode(bytes, image, index, usize::MAX, &mut stash.encoded).then_some(true)
                } else if may_stash {
                    encode(bytes, image, index, limit, &mut stash.encoded).then_some(true)
                } else {
                    None
                }
            };
            match give_back {
                Some(stashed) => {
                    let (_, _, run_resident, run_stashed) = run.get_or_insert((index, entry, 0, 0));
                    if is_resident {
                        *run_resident += page;
                    }
                    if stashed {
                        *run_stashed += page;
                        stash.pages += 1;
                    }
                }
                None => {
                    stash.encoded.truncate(entry);
                    done.resident += page;
                    if let Some(run) = run.take() {
                        give_back_run(aligned, run, index, page, stash, &mut done);
                    }
                }
            }
        }
    }
    if let Some(run) = run.take() {
        give_back_run(aligned, run, pages, page, stash, &mut done);
    }
    if stash.is_empty() {
        stash.encoded = Vec::new();
    } else {
        stash.encoded.shrink_to_fit();
    }
    done
}

/// Gives back the pages `first..end`; if the OS refuses, they stay as they
/// are and their stash entries are dropped.
fn give_back_run(
    memory: &mut [u8],
    (first, entry, resident, stashed): (usize, usize, usize, usize),
    end: usize,
    page: usize,
    stash: &mut Stash,
    done: &mut Compacted,
) {
    if resident == 0 {
        return; // nothing there to give back
    }
    if super::discard(&mut memory[first * page..end * page]) {
        done.released += resident - stashed;
        done.stashed += stashed;
    } else {
        stash.pages -= stashed / page;
        stash.encoded.truncate(entry);
        done.resident += resident;
    }
}

/// Appends the differences between `bytes` and `image` (zeros if `None`) as
/// page `index`'s entry, unless they take more than `limit` bytes (then
/// nothing is appended). Pages above 4 GiB are never stashed.
fn encode(bytes: &[u8], image: Option<&[u8]>, index: usize, limit: usize, out: &mut Vec<u8>) -> bool {
    let Ok(index) = u32::try_from(index) else { return false };
    let entry = out.len();
    out.extend_from_slice(&index.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    let mut runs: u16 = 0;
    let words = bytes.len() / 8;
    let word = |buf: &[u8], w: usize| u64::from_ne_bytes(buf[w * 8..w * 8 + 8].try_into().unwrap_or_default());
    let differs = |w: usize| word(bytes, w) != image.map_or(0, |image| word(image, w));
    let mut w = 0;
    while w < words {
        if !differs(w) {
            w += 1;
            continue;
        }
        let first = w;
        while w < words && differs(w) {
            w += 1;
        }
        let (Ok(at), Ok(len), Some(r)) = (u16::try_from(first), u16::try_from(w - first), runs.checked_add(1)) else {
            out.truncate(entry);
            return false;
        };
        runs = r;
        out.extend_from_slice(&at.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&bytes[first * 8..w * 8]);
        if out.len() - entry > limit {
            out.truncate(entry);
            return false;
        }
    }
    out[entry + 4..entry + 6].copy_from_slice(&runs.to_le_bytes());
    true
}

/// Rebuilds every stashed page of `memory` (image, then differences) and
/// empties the stash; returns how many pages it rebuilt. `memory`, `module`
/// and `image` must be those of the [`compact`] that filled the stash.
pub(crate) fn restore(memory: &mut [u8], module: &[u8], image: &Image, stash: &mut Stash) -> usize {
    if stash.is_empty() {
        return 0;
    }
    let page = super::page_size();
    let skip = (memory.as_ptr() as usize).next_multiple_of(page) - memory.as_ptr() as usize;
    let encoded = std::mem::take(&mut stash.encoded);
    stash.pages = 0;
    let mut r = 0;
    let mut rebuilt = 0;
    let take = |r: &mut usize, n: usize| -> Option<&[u8]> {
        let bytes = encoded.get(*r..r.checked_add(n)?)?;
        *r += n;
        Some(bytes)
    };
    let u16_at = |b: &[u8]| u16::from_le_bytes([b[0], b[1]]) as usize;
    while r < encoded.len() {
        let (Some(index), Some(runs)) = (take(&mut r, 4), take(&mut r, 2)) else { break };
        let index = u32::from_le_bytes([index[0], index[1], index[2], index[3]]) as usize;
        let runs = u16_at(runs);
        let start = index.checked_mul(page).and_then(|s| s.checked_add(skip));
        let Some(target) = start.and_then(|s| memory.get_mut(s..s.checked_add(page)?)) else { break };
        if !image.page(module, (skip + index * page) as u64, target) {
            target.fill(0);
        }
        for _ in 0..runs {
            let (Some(at), Some(len)) = (take(&mut r, 2), take(&mut r, 2)) else { break };
            let (at, len) = (u16_at(at) * 8, u16_at(len) * 8);
            let (Some(bytes), Some(dst)) = (take(&mut r, len), target.get_mut(at..at + len)) else { break };
            dst.copy_from_slice(bytes);
        }
        rebuilt += 1;
    }
    rebuilt
}

fn is_zero(page: &[u8]) -> bool {
    let words = page.chunks_exact(8);
    let tail = words.remainder();
    words.map(|w| u64::from_ne_bytes(w.try_into().unwrap_or_default())).all(|w| w == 0)
        && tail.iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module with one memory and two active data segments (the second
    /// overlapping the first), then a passive one.
    fn module() -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        // memory section: one memory of 2 pages
        m.extend_from_slice(&[5, 3, 1, 0, 2]);
        let mut data = vec![3u8];
        data.extend_from_slice(&[0, 0x41, 0x80, 0x20, 0x0b, 6]); // at 4096
        data.extend_from_slice(b"abcdef");
        data.extend_from_slice(&[0, 0x41, 0x82, 0x20, 0x0b, 2]); // at 4098
        data.extend_from_slice(b"XY");
        data.extend_from_slice(&[1, 3]);
        data.extend_from_slice(b"zzz");
        m.push(11);
        m.push(data.len() as u8);
        m.extend_from_slice(&data);
        m
    }

    #[test]
    fn image_follows_the_data_segments() {
        let module = module();
        let image = Image::of_module(&module);
        assert_eq!(image.segments.len(), 2);
        let mut page = vec![1u8; 4096];
        assert!(!image.page(&module, 0, &mut page));
        assert!(image.page(&module, 4096, &mut page));
        assert_eq!(&page[..7], b"abXYef\0");
        assert!(page[7..].iter().all(|&b| b == 0));
        // Garbage never panics and gives an empty image.
        for len in 0..module.len() {
            let _ = Image::of_module(&module[..len]);
        }
        assert!(Image::of_module(b"\0asm\x01\0\0\0\x0b\xff\xff\xff\xff\x0f").segments.is_empty());
    }

    #[test]
    fn compact_and_restore_give_back_the_same_bytes() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let page = super::super::page_size();
        let module = module();
        let image = Image::of_module(&module);
        // A 64-page memory, page aligned like the pool's.
        let mut storage = vec![0u8; 65 * page];
        let skip = (storage.as_ptr() as usize).next_multiple_of(page) - storage.as_ptr() as usize;
        let memory = &mut storage[skip..skip + 64 * page];
        // Every page resident, as wasmi leaves a new memory.
        memory.fill(1);
        std::hint::black_box(&mut *memory);
        memory.fill(0);
        memory[page..page + 6].copy_from_slice(b"abXYef"); // page 1: its image
        memory[3 * page + 100] = 9; // page 3: one byte
        memory[5 * page..6 * page].fill(0xee); // page 5: dense
        memory[7 * page + 8..7 * page + 24].copy_from_slice(&[3; 16]); // page 7: two words
        memory[page + 2000] = 1; // page 1 differs from its image by one word
        let before = memory.to_vec();
        let mut stash = Stash::default();
        let done = compact(memory, &module, &image, &mut stash);
        assert_eq!(done.resident, page, "{done:?}"); // page 5
        assert_eq!(done.stashed, 3 * page, "{done:?}"); // pages 1, 3, 7
        assert_eq!(done.released, 60 * page, "{done:?}");
        let mut resident = vec![false; 64];
        assert!(super::super::residency(memory, &mut resident));
        assert_eq!(resident.iter().filter(|&&r| r).count(), 1);
        assert!(resident[5]);
        // Compacting again while stashed: nothing more, nothing read.
        let again = compact(memory, &module, &image, &mut stash);
        assert_eq!(again, Compacted { released: 0, stashed: 0, resident: page });
        assert_eq!(restore(memory, &module, &image, &mut stash), 3);
        assert!(stash.is_empty());
        assert_eq!(memory, &before[..]);
        // The restored pages can be compacted again; a page equal to its
        // image is stashed with no differences at all.
        memory[3 * page + 100] = 0;
        memory[page + 2000] = 0;
        let third = compact(memory, &module, &image, &mut stash);
        assert_eq!(third.stashed, 2 * page, "{third:?}"); // pages 1 and 7
        // Page 3 is zero again; the comparison above read the given-back
        // pages, which maps them (as zero pages) and counts them again.
        assert!(third.released >= page, "{third:?}");
        assert_eq!(third.resident, page, "{third:?}");
        assert_eq!(restore(memory, &module, &image, &mut stash), 2);
        let mut expected = before.clone();
        expected[3 * page + 100] = 0;
        expected[page + 2000] = 0;
        assert_eq!(memory, &expected[..]);
    }
}
