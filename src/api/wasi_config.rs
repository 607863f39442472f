//! `lunatic::wasi`: filling a config's WASI view (args, env, preopens).
//!
//! Arguments and environment are the creator's to choose; a preopened
//! directory must be one the creator can reach itself.

use crate::protocol::guest;
use crate::engine::HostFunctions;
use crate::errors::{bail_trap, trap};
use crate::protocol::{completion, suspend, Pending, Preopen, ProcessState};
use crate::wasi::{check_guest_name, open_grant, split_mapping, MAX_CONFIG_PREOPENS};
use wasmi::{Caller, Error};

const M: &str = "lunatic::wasi";

/// Bytes of arguments and environment one config may carry (each string
/// counted with a terminating NUL, as WASI hands them to the child): the
/// strings live on the host until the config is dropped, outside the
/// creator's `max_memory`. Linux's own limit for a program's arguments and
/// environment is of the same order (2 MiB).
const MAX_CONFIG_ARGS_ENV_BYTES: usize = 1 << 20;

/// Arguments plus environment variables one config may carry (which also
/// keeps the byte count below cheap to take).
const MAX_CONFIG_STRINGS: usize = 16_384;

/// Traps unless `config` has room for one more string of `extra` bytes.
fn room_for_strings(config: &crate::protocol::ProcessConfig, extra: usize) -> Result<(), Error> {
    if config.args.len() + config.envs.len() >= MAX_CONFIG_STRINGS {
        bail_trap!("a config carries at most {MAX_CONFIG_STRINGS} arguments and environment variables");
    }
    let held: usize = config.args.iter().map(|a| a.len() + 1).sum::<usize>()
        + config.envs.iter().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>();
    if held.saturating_add(extra) > MAX_CONFIG_ARGS_ENV_BYTES {
        bail_trap!("a config carries at most {MAX_CONFIG_ARGS_ENV_BYTES} bytes of arguments and environment");
    }
    Ok(())
}

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
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
    let config = state.contexts.resources().configs.get_mut(config_id as u64)?;
    room_for_strings(config, key.len() + value.len() + 2)?;
    config.envs.push((key, value));
    Ok(())
}

fn add_arg(
    mut caller: Caller<'_, ProcessState>,
    config_id: i64,
    ptr: i32,
    len: i32,
) -> Result<(), Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let arg = guest::str(memory, ptr as u32, len as u32)?.to_string();
    let config = state.contexts.resources().configs.get_mut(config_id as u64)?;
    room_for_strings(config, arg.len() + 1)?;
    config.args.push(arg);
    Ok(())
}

/// Grants a directory to a config: `DIR`, or `SOURCE::GUEST` to show it to
/// the child under another name.
///
/// The directory must be one the calling process can reach itself (see
/// `crate::wasi::grant`): `SOURCE` is read in the caller's WASI view and must
/// lie inside one of its preopened descriptors, without `..` or symlinks
/// leading out, and the grant carries no more rights than that descriptor.
///
/// A refused grant **traps** the caller, with a message naming the path.
/// The function returns nothing, so there is no error code to give, and
/// the original runtime also fails at this point for a directory it cannot
/// open (its spawn traps); trapping at the grant names the offending call
/// instead of a later spawn. The same holds for more than
/// [`MAX_CONFIG_PREOPENS`] preopens in one config. The directory is opened
/// on the blocking pool while the process is suspended.
fn preopen_dir(
    mut caller: Caller<'_, ProcessState>,
    config_id: i64,
    ptr: i32,
    len: i32,
) -> Result<(), Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let spec = guest::str(memory, ptr as u32, len as u32)?.to_string();
    let held = state.contexts.resources().configs.get(config_id as u64)?.preopens.len();
    if held >= MAX_CONFIG_PREOPENS {
        bail_trap!("config_preopen_dir: a config holds at most {MAX_CONFIG_PREOPENS} preopened directories");
    }
    let (source, guest_name) = split_mapping(&spec);
    check_guest_name(guest_name).map_err(|why| refused(&spec, &why))?;
    let candidates = state.contexts.wasi().grant_candidates(source);
    if source.is_empty() || candidates.is_empty() {
        return Err(refused(&spec, "it is outside every directory this process can reach"));
    }
    let guest_name = guest_name.to_string();
    let work = move || open_grant(candidates, guest_name);
    let finish =
        move |state: &mut ProcessState, granted: Result<Preopen, String>| -> Result<(), Error> {
            let preopen = granted.map_err(|why| refused(&spec, &why))?;
            state.contexts.resources().configs.get_mut(config_id as u64)?.preopens.push(preopen);
            Ok(())
        };
    // A start section cannot suspend: open inline there.
    if !state.initialized {
        return finish(state, work());
    }
    let scheduler = state.runtime.scheduler_arc();
    let pending = Pending::Async(Box::pin(async move {
        let granted = crate::scheduler::unblock(&*scheduler, work).await;
        completion(move |ctx| {
            finish(ctx.data_mut(), granted)?;
            Ok(Vec::new())
        })
    }));
    Err(suspend(state, pending))
}

/// The trap of a refused grant.
fn refused(spec: &str, why: &str) -> Error {
    trap(format_args!("config_preopen_dir: cannot grant '{spec}': {why}"))
}
