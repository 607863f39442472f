//! `lunatic::registry`: a name → (node, process) map shared by an environment.
//!
//! A name goes when the local process it names ends (see
//! [`crate::protocol::Environment::forget_process`]); names are at most
//! [`crate::protocol::MAX_NAME_LEN`] bytes, and an environment's registry
//! holds at most [`crate::protocol::MAX_REGISTRY_BYTES`].

use crate::protocol::guest;
use crate::engine::HostFunctions;
use crate::errors::trap;
use crate::protocol::ProcessState;
use wasmi::{Caller, Error};

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func("lunatic::registry", "put", put);
    host.func("lunatic::registry", "get", get);
    host.func("lunatic::registry", "remove", remove);
}

/// Registers the name; a name over the length limit, or a full registry,
/// traps (the call has no way to report an error).
fn put(
    mut caller: Caller<'_, ProcessState>,
    name_ptr: i32,
    name_len: i32,
    node_id: i64,
    process_id: i64,
) -> Result<(), Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let name = guest::str(memory, name_ptr as u32, name_len as u32)?;
    crate::metrics::count(crate::metrics::Counter::RegistryWrites, 1);
    state
        .env
        .put_name(state.id(), name, node_id as u64, process_id as u64)
        .map_err(|e| trap(format_args!("registry::put: {e}")))
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
    crate::metrics::count(crate::metrics::Counter::RegistryReads, 1);
    let Some((node, process)) = state.env.get_name(name) else {
        return Ok(1);
    };
    guest::write_u64(memory, node_id_ptr as u32, node)?;
    guest::write_u64(memory, process_id_ptr as u32, process)?;
    Ok(0)
}

fn remove(mut caller: Caller<'_, ProcessState>, name_ptr: i32, name_len: i32) -> Result<(), Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let name = guest::str(memory, name_ptr as u32, name_len as u32)?;
    state.env.remove_name(name);
    crate::metrics::count(crate::metrics::Counter::RegistryDeletions, 1);
    Ok(())
}
