//! `lunatic::error`: reading and dropping host error objects.

use crate::protocol::guest;
use crate::engine::HostFunctions;
use crate::protocol::ProcessState;
use wasmi::{Caller, Error};

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func("lunatic::error", "string_size", string_size);
    host.func("lunatic::error", "to_string", to_string);
    host.func("lunatic::error", "drop", drop_error);
}

fn string_size(mut caller: Caller<'_, ProcessState>, id: i64) -> Result<i32, Error> {
    let error = caller.data_mut().contexts.resources().errors.get(id as u64)?;
    Ok(error.to_string().len() as i32)
}

fn to_string(mut caller: Caller<'_, ProcessState>, id: i64, ptr: i32) -> Result<(), Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let text = state.contexts.resources().errors.get(id as u64)?.to_string();
    guest::write(memory, ptr as u32, text.as_bytes())
}

fn drop_error(mut caller: Caller<'_, ProcessState>, id: i64) -> Result<(), Error> {
    caller.data_mut().contexts.resources().errors.remove(id as u64).map(drop)
}
