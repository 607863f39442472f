//! `args_*` and `environ_*`: the process's argument and environment strings.

use super::{memory_and_state, ret, WasiResult, M};
use crate::protocol::guest;
use crate::engine::HostFunctions;
use crate::protocol::ProcessState;
use wasmi::Caller;

/// A list of strings laid out as the guest receives them: each one
/// NUL-terminated, back to back.
pub(crate) struct Strings {
    /// All strings with their terminating NULs.
    buf: Vec<u8>,
    /// Where each string starts in `buf`.
    starts: Vec<u32>,
}

impl Strings {
    pub(crate) fn new<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Self {
        let mut buf = Vec::new();
        let mut starts = Vec::new();
        for item in items {
            starts.push(buf.len() as u32);
            buf.extend_from_slice(item.as_ref().as_bytes());
            buf.push(0);
        }
        Self { buf, starts }
    }

    /// `*_sizes_get`: the number of strings and the bytes they need.
    fn sizes(&self, memory: &mut [u8], count_ptr: i32, size_ptr: i32) -> WasiResult {
        guest::write_u32(memory, count_ptr as u32, self.starts.len() as u32)?;
        guest::write_u32(memory, size_ptr as u32, self.buf.len() as u32)?;
        Ok(())
    }

    /// `*_get`: the strings at `buf_ptr` and a pointer to each at `ptrs`.
    fn get(&self, memory: &mut [u8], ptrs: i32, buf_ptr: i32) -> WasiResult {
        let (ptrs, buf_ptr) = (ptrs as u32, buf_ptr as u32);
        guest::range(memory, ptrs, (self.starts.len() as u32).wrapping_mul(4))?;
        guest::write(memory, buf_ptr, &self.buf)?;
        for (i, &start) in self.starts.iter().enumerate() {
            // In bounds: the whole buffer was just written at `buf_ptr`.
            guest::write_u32(memory, ptrs + 4 * i as u32, buf_ptr + start)?;
        }
        Ok(())
    }
}

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func(M, "args_sizes_get", |mut c: Caller<'_, ProcessState>, count: i32, size: i32| {
        let (memory, state) = memory_and_state(&mut c)?;
        ret(state.contexts.wasi().strings.0.sizes(memory, count, size))
    });
    host.func(M, "args_get", |mut c: Caller<'_, ProcessState>, ptrs: i32, buf: i32| {
        let (memory, state) = memory_and_state(&mut c)?;
        ret(state.contexts.wasi().strings.0.get(memory, ptrs, buf))
    });
    host.func(M, "environ_sizes_get", |mut c: Caller<'_, ProcessState>, count: i32, size: i32| {
        let (memory, state) = memory_and_state(&mut c)?;
        ret(state.contexts.wasi().strings.1.sizes(memory, count, size))
    });
    host.func(M, "environ_get", |mut c: Caller<'_, ProcessState>, ptrs: i32, buf: i32| {
        let (memory, state) = memory_and_state(&mut c)?;
        ret(state.contexts.wasi().strings.1.get(memory, ptrs, buf))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_nul_terminated_and_pointed_to() {
        let s = Strings::new(["ab", "", "ü"]);
        let mut memory = vec![0xffu8; 64];
        s.sizes(&mut memory, 0, 4).ok().unwrap();
        assert_eq!(guest::read_u32(&memory, 0).unwrap(), 3);
        assert_eq!(guest::read_u32(&memory, 4).unwrap(), 3 + 1 + 3);
        s.get(&mut memory, 8, 32).ok().unwrap();
        assert_eq!(&memory[32..39], b"ab\0\0\xc3\xbc\0");
        let ptrs: Vec<u32> = (0..3).map(|i| guest::read_u32(&memory, 8 + 4 * i).unwrap()).collect();
        assert_eq!(ptrs, [32, 35, 36]);
        // A buffer running past the end of memory traps.
        assert!(matches!(s.get(&mut memory, 8, 60), Err(super::super::Fail::Trap(_))));
    }
}
