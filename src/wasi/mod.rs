//! WASI preview1 (`wasi_snapshot_preview1`) for every process.
//!
//! PLACEHOLDER: minimal subset while the full implementation is written.

use crate::api::guest;
use crate::engine::HostFunctions;
use crate::process::{ProcessConfig, ProcessState};
use wasmi::{Caller, Error};

const M: &str = "wasi_snapshot_preview1";

/// Per-process WASI state, built from the process's config.
pub(crate) struct WasiCtx {
    args: Vec<String>,
    envs: Vec<String>,
}

impl WasiCtx {
    pub(crate) fn new(config: &ProcessConfig) -> anyhow::Result<Self> {
        Ok(Self {
            args: config.args.clone(),
            envs: config.envs.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        })
    }
}

fn strings_sizes(caller: &mut Caller<'_, ProcessState>, which: fn(&WasiCtx) -> &[String], count_ptr: i32, size_ptr: i32) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(caller)?;
    let list = which(&state.wasi);
    guest::write_u32(memory, count_ptr as u32, list.len() as u32)?;
    guest::write_u32(memory, size_ptr as u32, list.iter().map(|s| s.len() as u32 + 1).sum())?;
    Ok(0)
}

fn strings_get(caller: &mut Caller<'_, ProcessState>, which: fn(&WasiCtx) -> &[String], ptrs: i32, buf: i32) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(caller)?;
    let mut at = buf as u32;
    for (i, s) in which(&state.wasi).iter().enumerate() {
        guest::write_u32(memory, ptrs as u32 + 4 * i as u32, at)?;
        guest::write(memory, at, s.as_bytes())?;
        guest::write(memory, at + s.len() as u32, &[0])?;
        at += s.len() as u32 + 1;
    }
    Ok(0)
}

pub(crate) fn register(host: &mut HostFunctions<'_>) {
    host.func(M, "args_sizes_get", |mut c: Caller<'_, ProcessState>, a: i32, b: i32| strings_sizes(&mut c, |w| &w.args, a, b));
    host.func(M, "args_get", |mut c: Caller<'_, ProcessState>, a: i32, b: i32| strings_get(&mut c, |w| &w.args, a, b));
    host.func(M, "environ_sizes_get", |mut c: Caller<'_, ProcessState>, a: i32, b: i32| strings_sizes(&mut c, |w| &w.envs, a, b));
    host.func(M, "environ_get", |mut c: Caller<'_, ProcessState>, a: i32, b: i32| strings_get(&mut c, |w| &w.envs, a, b));
    host.func(M, "proc_exit", |code: i32| -> Result<(), Error> { Err(Error::i32_exit(code)) });
    host.func(M, "fd_write", |mut c: Caller<'_, ProcessState>, fd: i32, iovs: i32, n: i32, out: i32| -> Result<i32, Error> {
        let (memory, state) = guest::memory_and_state(&mut c)?;
        let mut buf = Vec::new();
        for i in 0..n as u32 {
            let p = guest::read_u32(memory, iovs as u32 + 8 * i)?;
            let l = guest::read_u32(memory, iovs as u32 + 8 * i + 4)?;
            buf.extend_from_slice(guest::bytes(memory, p, l)?);
        }
        let r = match fd { 1 => state.stdio.stdout(&buf), 2 => state.stdio.stderr(&buf), _ => return Ok(8) };
        if r.is_err() { return Ok(29); }
        guest::write_u32(memory, out as u32, buf.len() as u32)?;
        Ok(0)
    });
}
