//! `lunatic::registry`: a name → (node, process) map shared by an environment.

use super::guest;
use crate::engine::HostFunctions;
use crate::process::ProcessState;
use wasmi::{Caller, Error};

pub(super) fn register(host: &mut HostFunctions<'_>) {
    host.func("lunatic::registry", "put", put);
    host.func("lunatic::registry", "get", get);
    host.func("lunatic::registry", "remove", remove);
}

fn put(
    mut caller: Caller<'_, ProcessState>,
    name_ptr: i32,
    name_len: i32,
    node_id: i64,
    process_id: i64,
) -> Result<(), Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let name = guest::str(memory, name_ptr as u32, name_len as u32)?;
    state.env.registry().insert(name.to_string(), (node_id as u64, process_id as u64));
    Ok(())
}

fn get(
    mut caller: Caller<'_, ProcessState>,
    name_ptr: i32,
    name_len: i32,
    node_id_ptr: i32,
    process_id_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let name = guest::str(memory, name_ptr as u32, name_len as u32)?;
    let Some((node, process)) = state.env.registry().get(name).copied() else {
        return Ok(1);
    };
    guest::write_u64(memory, node_id_ptr as u32, node)?;
    guest::write_u64(memory, process_id_ptr as u32, process)?;
    Ok(0)
}

fn remove(mut caller: Caller<'_, ProcessState>, name_ptr: i32, name_len: i32) -> Result<(), Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let name = guest::str(memory, name_ptr as u32, name_len as u32)?;
    state.env.registry().remove(name);
    Ok(())
}
