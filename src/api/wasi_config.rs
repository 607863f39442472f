//! `lunatic::wasi`: filling a config's WASI view (args, env, preopens).

use super::guest;
use crate::engine::HostFunctions;
use crate::process::{Preopen, ProcessState};
use wasmi::{Caller, Error};

const M: &str = "lunatic::wasi";

pub(super) fn register(host: &mut HostFunctions<'_>) {
    host.func(M, "config_add_environment_variable", add_env);
    host.func(M, "config_add_command_line_argument", add_arg);
    host.func(M, "config_preopen_dir", preopen_dir);
}

fn add_env(
    mut caller: Caller<'_, ProcessState>,
    config_id: i64,
    key_ptr: i32,
    key_len: i32,
    value_ptr: i32,
    value_len: i32,
) -> Result<(), Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let key = guest::str(memory, key_ptr as u32, key_len as u32)?.to_string();
    let value = guest::str(memory, value_ptr as u32, value_len as u32)?.to_string();
    state.resources.configs.get_mut(config_id as u64)?.envs.push((key, value));
    Ok(())
}

fn add_arg(mut caller: Caller<'_, ProcessState>, config_id: i64, ptr: i32, len: i32) -> Result<(), Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let arg = guest::str(memory, ptr as u32, len as u32)?.to_string();
    state.resources.configs.get_mut(config_id as u64)?.args.push(arg);
    Ok(())
}

fn preopen_dir(mut caller: Caller<'_, ProcessState>, config_id: i64, ptr: i32, len: i32) -> Result<(), Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let dir = guest::str(memory, ptr as u32, len as u32)?.to_string();
    let config = state.resources.configs.get_mut(config_id as u64)?;
    config.preopens.push(Preopen { host: dir.clone().into(), guest: dir });
    Ok(())
}
