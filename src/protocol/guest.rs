//! Bounds-checked access to a process's linear memory, and resource tables.
//!
//! Every host function goes through these helpers, so a bad pointer, length
//! or ID from a guest becomes a trap of that process and nothing else.

use crate::errors::{bail_trap, trap};
use crate::protocol::ProcessState;
use wasmi::{Caller, Error, Extern, StoreContextMut};

/// Something that can lend a process's linear memory and state together:
/// `&mut Caller` in host functions, `&mut StoreContextMut` in completions.
pub(crate) trait MemoryAccess<'a> {
    /// Both borrows at once; traps if the module exports no `memory`.
    fn memory_and_state(self) -> Result<(&'a mut [u8], &'a mut ProcessState), Error>;
}

impl<'a> MemoryAccess<'a> for &'a mut Caller<'_, ProcessState> {
    fn memory_and_state(self) -> Result<(&'a mut [u8], &'a mut ProcessState), Error> {
        if self.data().memory.is_none() {
            // During the start section the instance is not yet recorded in
            // the state, but its exports are already reachable.
            if let Some(Extern::Memory(memory)) = self.get_export("memory") {
                self.data_mut().memory = Some(memory);
            }
        }
        StoreContextMut::from(self).memory_and_state()
    }
}

impl<'a> MemoryAccess<'a> for &'a mut StoreContextMut<'_, ProcessState> {
    fn memory_and_state(self) -> Result<(&'a mut [u8], &'a mut ProcessState), Error> {
        StoreContextMut::from(self).memory_and_state()
    }
}

impl<'a> MemoryAccess<'a> for StoreContextMut<'a, ProcessState> {
    fn memory_and_state(self) -> Result<(&'a mut [u8], &'a mut ProcessState), Error> {
        let Some(memory) = self.data().memory else {
            bail_trap!("the module exports no memory named `memory`");
        };
        Ok(memory.data_and_store_mut(self))
    }
}

/// The calling process's memory and state, borrowed together.
pub(crate) fn memory_and_state<'a>(
    ctx: impl MemoryAccess<'a>,
) -> Result<(&'a mut [u8], &'a mut ProcessState), Error> {
    ctx.memory_and_state()
}

/// Checks that `ptr..ptr+len` lies inside memory, in 32-bit arithmetic.
pub(crate) fn range(memory: &[u8], ptr: u32, len: u32) -> Result<std::ops::Range<usize>, Error> {
    let start = ptr as usize;
    let end = ptr
        .checked_add(len)
        .map(|end| end as usize)
        .filter(|&end| end <= memory.len())
        .ok_or_else(|| trap(format_args!("memory access out of bounds: {len} bytes at {ptr:#x}")))?;
    // Host calls pay fuel for the memory they move (see `engine::charge`).
    crate::engine::note_moved(u64::from(len));
    Ok(start..end)
}

/// Borrows `len` bytes at `ptr`.
pub(crate) fn bytes(memory: &[u8], ptr: u32, len: u32) -> Result<&[u8], Error> {
    Ok(&memory[range(memory, ptr, len)?])
}

/// Borrows `len` bytes at `ptr` mutably.
pub(crate) fn bytes_mut(memory: &mut [u8], ptr: u32, len: u32) -> Result<&mut [u8], Error> {
    let r = range(memory, ptr, len)?;
    Ok(&mut memory[r])
}

/// Reads a UTF-8 string; invalid UTF-8 traps.
pub(crate) fn str(memory: &[u8], ptr: u32, len: u32) -> Result<&str, Error> {
    std::str::from_utf8(bytes(memory, ptr, len)?)
        .map_err(|_| trap(format_args!("invalid UTF-8 string at {ptr:#x}")))
}

/// Writes bytes at `ptr`.
pub(crate) fn write(memory: &mut [u8], ptr: u32, data: &[u8]) -> Result<(), Error> {
    bytes_mut(memory, ptr, data.len() as u32)?.copy_from_slice(data);
    Ok(())
}

/// Writes a little-endian u64 at `ptr`.
pub(crate) fn write_u64(memory: &mut [u8], ptr: u32, value: u64) -> Result<(), Error> {
    write(memory, ptr, &value.to_le_bytes())
}

/// Writes a little-endian u32 at `ptr`.
pub(crate) fn write_u32(memory: &mut [u8], ptr: u32, value: u32) -> Result<(), Error> {
    write(memory, ptr, &value.to_le_bytes())
}

/// Reads a little-endian u32 at `ptr`.
pub(crate) fn read_u32(memory: &[u8], ptr: u32) -> Result<u32, Error> {
    Ok(u32::from_le_bytes(bytes(memory, ptr, 4)?.try_into().expect("4 bytes")))
}

/// Reads a little-endian u64 at `ptr`.
pub(crate) fn read_u64(memory: &[u8], ptr: u32) -> Result<u64, Error> {
    Ok(u64::from_le_bytes(bytes(memory, ptr, 8)?.try_into().expect("8 bytes")))
}

/// Most live handles of one kind a process may hold (configs, modules,
/// errors, timers, ...); creating one more traps.
pub(crate) const MAX_TABLE_ENTRIES: usize = 65_536;

/// A per-process table of host objects of one kind.
///
/// IDs start at 0, grow by one per insertion and are never reused; an unknown
/// ID traps (guests rely on the numbering, see abi.md §1.2).
pub(crate) struct Table<T> {
    kind: &'static str,
    next: u64,
    /// Fx hashing: the keys are IDs this table hands out one after another,
    /// so a guest cannot pick colliding ones, and the default SipHash was
    /// 3.7% of the runtime's user time serving `wrk -c2000` (each socket
    /// call looks up its stream).
    items: rustc_hash::FxHashMap<u64, T>,
}

impl<T> Table<T> {
    pub(crate) fn new(kind: &'static str) -> Self {
        Self { kind, next: 0, items: rustc_hash::FxHashMap::default() }
    }

    /// Stores `item` and returns its new ID, unless the table already holds
    /// [`MAX_TABLE_ENTRIES`] items: then the caller traps (a guest that
    /// never drops what it creates cannot grow host memory without end).
    pub(crate) fn try_add(&mut self, item: T) -> Result<u64, Error> {
        if self.items.len() >= MAX_TABLE_ENTRIES {
            let kind = self.kind;
            bail_trap!("this process already holds {MAX_TABLE_ENTRIES} {kind} handles");
        }
        Ok(self.add(item))
    }

    /// Stores `item` and returns its new ID (unbounded: see [`Table::try_add`]).
    pub(crate) fn add(&mut self, item: T) -> u64 {
        let id = self.next;
        self.next += 1;
        self.items.insert(id, item);
        id
    }

    pub(crate) fn get(&self, id: u64) -> Result<&T, Error> {
        self.items.get(&id).ok_or_else(|| self.unknown(id))
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Result<&mut T, Error> {
        let kind = self.kind;
        self.items.get_mut(&id).ok_or_else(|| trap(format_args!("unknown {kind} ID {id}")))
    }

    pub(crate) fn remove(&mut self, id: u64) -> Result<T, Error> {
        self.items.remove(&id).ok_or_else(|| self.unknown(id))
    }

    /// Removes and returns the item if present, without trapping.
    pub(crate) fn take(&mut self, id: u64) -> Option<T> {
        self.items.remove(&id)
    }

    /// Number of items.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Drops every item for which `keep` is false.
    pub(crate) fn retain(&mut self, keep: impl FnMut(&u64, &mut T) -> bool) {
        self.items.retain(keep);
    }

    fn unknown(&self, id: u64) -> Error {
        trap(format_args!("unknown {} ID {id}", self.kind))
    }
}

/// Converts a Wasm `u64::MAX`-means-none timeout into a scheduler deadline.
pub(crate) fn deadline(state: &ProcessState, timeout_ms: i64) -> Option<std::time::Duration> {
    let ms = timeout_ms as u64;
    (ms != u64::MAX).then(|| {
        state.runtime.scheduler().now().saturating_add(std::time::Duration::from_millis(ms))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_checked_in_32_bits() {
        let memory = vec![0u8; 16];
        assert!(range(&memory, 0, 16).is_ok());
        assert!(range(&memory, 8, 9).is_err());
        assert!(range(&memory, u32::MAX, 2).is_err(), "overflowing sum is out of bounds");
        assert!(range(&memory, 16, 0).is_ok());
        assert!(range(&memory, 17, 0).is_err());
    }

    #[test]
    fn table_ids_start_at_zero_and_are_never_reused() {
        let mut t = Table::new("thing");
        assert_eq!(t.add('a'), 0);
        assert_eq!(t.add('b'), 1);
        assert_eq!(t.remove(0).unwrap(), 'a');
        assert!(t.get(0).is_err());
        assert_eq!(t.add('c'), 2);
        assert!(t.get(7).unwrap_err().to_string().contains("unknown thing ID 7"));
    }
}
