//! `lunatic::process`: modules, configs, spawning, links, monitors, kill.

use super::fail_with;
use crate::engine::HostFunctions;
use crate::protocol::environment::{RegistryError, Reserve};
use crate::protocol::guest;
use crate::errors::{bail_trap, trap};
use crate::protocol::{
    self, suspend, Link, Pending, ProcessConfig, ProcessState, Signal, SpawnOptions,
};
use crate::scheduler::BoxFuture;
use std::sync::Arc;
use std::time::Duration;
use wasmi::{Caller, Error, Val};

const M: &str = "lunatic::process";

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func(M, "compile_module", compile_module);
    host.func(M, "drop_module", |mut c: Caller<'_, ProcessState>, id: i64| {
        c.data_mut().contexts.resources().modules.remove(id as u64).map(drop)
    });
    host.func(M, "create_config", create_config);
    host.func(M, "drop_config", |mut c: Caller<'_, ProcessState>, id: i64| {
        c.data_mut().contexts.resources().configs.remove(id as u64).map(drop)?;
        crate::metrics::count(crate::metrics::Counter::ConfigsDropped, 1);
        Ok(())
    });
    host.func(M, "config_set_max_memory", |mut c: Caller<'_, ProcessState>, id: i64, v: i64| {
        config_mut(&mut c, id).map(|cfg| cfg.max_memory = v as u64)
    });
    host.func(M, "config_get_max_memory", |mut c: Caller<'_, ProcessState>, id: i64| {
        config(&mut c, id).map(|cfg| cfg.max_memory as i64)
    });
    host.func(M, "config_set_max_fuel", |mut c: Caller<'_, ProcessState>, id: i64, v: i64| {
        config_mut(&mut c, id).map(|cfg| cfg.max_fuel = (v != 0).then_some(v as u64))
    });
    host.func(M, "config_get_max_fuel", |mut c: Caller<'_, ProcessState>, id: i64| {
        config(&mut c, id).map(|cfg| cfg.max_fuel.unwrap_or(0) as i64)
    });
    // Message limits (process::mailbox), never above the caller's own.
    host.func(M, "config_set_max_message_size", |mut c: Caller<'_, ProcessState>, id: i64, v: i64| {
        let own = c.data().config.max_message_size;
        config_mut(&mut c, id).map(|cfg| cfg.max_message_size = (v as u64).min(own))
    });
    host.func(M, "config_get_max_message_size", |mut c: Caller<'_, ProcessState>, id: i64| {
        config(&mut c, id).map(|cfg| cfg.max_message_size as i64)
    });
    host.func(M, "config_set_max_mailbox_size", |mut c: Caller<'_, ProcessState>, id: i64, v: i64| {
        let own = c.data().config.max_mailbox_size;
        config_mut(&mut c, id).map(|cfg| cfg.max_mailbox_size = (v as u64).min(own))
    });
    host.func(M, "config_get_max_mailbox_size", |mut c: Caller<'_, ProcessState>, id: i64| {
        config(&mut c, id).map(|cfg| cfg.max_mailbox_size as i64)
    });
    host.func(M, "config_can_compile_modules", |mut c: Caller<'_, ProcessState>, id: i64| {
        config(&mut c, id).map(|cfg| cfg.can_compile_modules as i32)
    });
    host.func(M, "config_set_can_compile_modules", |mut c: Caller<'_, ProcessState>, id: i64, v: i32| {
        config_mut(&mut c, id).map(|cfg| cfg.can_compile_modules = v != 0)
    });
    host.func(M, "config_can_create_configs", |mut c: Caller<'_, ProcessState>, id: i64| {
        config(&mut c, id).map(|cfg| cfg.can_create_configs as i32)
    });
    host.func(M, "config_set_can_create_configs", |mut c: Caller<'_, ProcessState>, id: i64, v: i32| {
        config_mut(&mut c, id).map(|cfg| cfg.can_create_configs = v != 0)
    });
    host.func(M, "config_can_spawn_processes", |mut c: Caller<'_, ProcessState>, id: i64| {
        config(&mut c, id).map(|cfg| cfg.can_spawn_processes as i32)
    });
    host.func(M, "config_set_can_spawn_processes", |mut c: Caller<'_, ProcessState>, id: i64, v: i32| {
        config_mut(&mut c, id).map(|cfg| cfg.can_spawn_processes = v != 0)
    });
    host.func(M, "spawn", spawn);
    host.func(M, "get_or_spawn", get_or_spawn);
    host.func(M, "sleep_ms", sleep_ms);
    host.func(M, "die_when_link_dies", |mut c: Caller<'_, ProcessState>, trap: i32| {
        c.data_mut().die_when_link_dies = trap != 0;
    });
    host.func(M, "process_id", |c: Caller<'_, ProcessState>| c.data().id() as i64);
    host.func(M, "environment_id", |c: Caller<'_, ProcessState>| c.data().env.id() as i64);
    host.func(M, "link", link);
    host.func(M, "unlink", unlink);
    host.func(M, "monitor", |mut c: Caller<'_, ProcessState>, pid: i64| {
        let state = c.data_mut();
        if let Some(target) = state.env.get(pid as u64) {
            // Remembered so the monitor is withdrawn when this process ends
            // (a target that already ended sends nothing and keeps nothing).
            if target.signal(Signal::Monitor { from: state.handle.clone() }) {
                state.monitoring.insert(target.id(), target);
            }
        }
    });
    host.func(M, "stop_monitoring", |mut c: Caller<'_, ProcessState>, pid: i64| {
        let state = c.data_mut();
        let target = state.monitoring.remove(&(pid as u64)).or_else(|| state.env.get(pid as u64));
        if let Some(target) = target {
            target.signal(Signal::StopMonitoring { from: state.id() });
        }
    });
    host.func(M, "kill", |c: Caller<'_, ProcessState>, pid: i64| {
        if let Some(target) = c.data().env.get(pid as u64) {
            target.kill();
        }
    });
    host.func(M, "exists", |c: Caller<'_, ProcessState>, pid: i64| {
        c.data().env.get(pid as u64).is_some() as i32
    });
}

fn config<'a>(caller: &'a mut Caller<'_, ProcessState>, id: i64) -> Result<&'a ProcessConfig, Error> {
    caller.data_mut().contexts.resources().configs.get(id as u64)
}

fn config_mut<'a>(
    caller: &'a mut Caller<'_, ProcessState>,
    id: i64,
) -> Result<&'a mut ProcessConfig, Error> {
    caller.data_mut().contexts.resources().configs.get_mut(id as u64)
}

fn compile_module(
    mut caller: Caller<'_, ProcessState>,
    data_ptr: i32,
    data_len: i32,
    id_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    if !state.config.can_compile_modules {
        return Ok(-1);
    }
    let bytes = guest::bytes(memory, data_ptr as u32, data_len as u32)?.to_vec();
    guest::range(memory, id_ptr as u32, 8)?;
    // Compiling takes milliseconds per hundred kilobytes: off the executor
    // threads, while this process waits (inline on a deterministic scheduler).
    let runtime = state.runtime.clone();
    // A process of a module version compiles on that version's engine, so
    // the code goes when the version does.
    let version = state.version.as_ref().map(|member| member.version().clone());
    Err(suspend(
        state,
        Pending::Async(Box::pin(async move {
            let scheduler = runtime.scheduler_arc();
            let compiled = crate::scheduler::unblock(&*scheduler, move || match version {
                Some(version) => version.engine().compile(&bytes),
                None => runtime.compile(&bytes),
            })
            .await;
            protocol::completion(move |ctx| {
                let (memory, state) = guest::memory_and_state(ctx)?;
                let status = match compiled {
                    Ok(module) => {
                        let id = state.contexts.resources().modules.try_add(module)?;
                        guest::write_u64(memory, id_ptr as u32, id)?;
                        0
                    }
                    Err(error) => fail_with(memory, state, id_ptr as u32, error.into())?,
                };
                Ok(vec![Val::I32(status)])
            })
        })),
    ))
}

fn create_config(mut caller: Caller<'_, ProcessState>) -> Result<i64, Error> {
    let state = caller.data_mut();
    if !state.config.can_create_configs {
        return Ok(-1);
    }
    let id = state.contexts.resources().configs.try_add(ProcessConfig::default())?;
    crate::metrics::count(crate::metrics::Counter::ConfigsCreated, 1);
    Ok(id as i64)
}

/// Most parameters a Wasm function can have.
const MAX_SPAWN_PARAMS: usize = 1_000;

/// Decodes spawn parameters: 17-byte records of a type byte and a LE u128.
pub(crate) fn decode_params(bytes: &[u8]) -> Result<Vec<Val>, Error> {
    if !bytes.len().is_multiple_of(17) {
        bail_trap!("spawn parameters are {} bytes, not a multiple of 17", bytes.len());
    }
    // No Wasm function takes more (wasmparser's limit): refuse before
    // decoding gigabytes of them.
    if bytes.len() / 17 > MAX_SPAWN_PARAMS {
        bail_trap!("{} spawn parameters, more than any function takes", bytes.len() / 17);
    }
    bytes
        .chunks_exact(17)
        .map(|record| {
            let value = u128::from_le_bytes(record[1..].try_into().expect("16 bytes"));
            match record[0] {
                0x7F => Ok(Val::I32(value as u32 as i32)),
                0x7E => Ok(Val::I64(value as u64 as i64)),
                0x7B => Ok(Val::V128(wasmi::V128::from(value))),
                other => Err(trap(format_args!("unsupported spawn parameter type {other:#04x}"))),
            }
        })
        .collect()
}

/// The permission checks and the child's config every spawn starts with
/// (here or on another node, `lunatic::distributed::spawn`).
pub(super) fn spawn_config(state: &mut ProcessState, config_id: i64) -> Result<Arc<ProcessConfig>, Error> {
    if !state.config.can_spawn_processes {
        bail_trap!("this process is not allowed to spawn processes");
    }
    if !state.initialized {
        bail_trap!("cannot spawn while the module is being initialized");
    }
    Ok(match config_id {
        -1 => state.config.clone(),
        // A config never grants more than the spawning process holds.
        id => Arc::new(state.contexts.resources().configs.get(id as u64)?.clone().capped_by(&state.config)),
    })
}

/// What `spawn` and `get_or_spawn` share: the child's options from the
/// guest's arguments, with the permission and config checks.
#[allow(clippy::too_many_arguments)]
fn spawn_options(
    memory: &mut [u8],
    state: &mut ProcessState,
    link: i64,
    config_id: i64,
    module_id: i64,
    func_ptr: i32,
    func_len: i32,
    params_ptr: i32,
    params_len: i32,
) -> Result<SpawnOptions, Error> {
    let config = spawn_config(state, config_id)?;
    let module = match module_id {
        -1 => state.module.clone(),
        id => state.contexts.resources().modules.get(id as u64)?.clone(),
    };
    let entry = guest::str(memory, func_ptr as u32, func_len as u32)?.to_string();
    let params = decode_params(guest::bytes(memory, params_ptr as u32, params_len as u32)?)?;
    Ok(SpawnOptions {
        module,
        config,
        entry,
        params,
        link: (link != 0).then(|| (state.handle.clone(), link)),
        stdio: state.stdio.clone().for_child(),
        on_exit: None,
    })
}

/// An instantiated child and the task that runs it, or why it failed.
type Prepared = anyhow::Result<(protocol::ProcessHandle, BoxFuture<()>)>;

/// Instantiates the child described by `options` and makes the host call's
/// status with `finish`. A module with a start section may run guest code
/// for a long time (up to the start section's fuel): it is instantiated on
/// the blocking pool ([`protocol::offload`]) while the spawner waits, unless
/// the caller cannot suspend (`may_wait` false: in a completion).
fn instantiate<F>(
    memory: &mut [u8],
    state: &mut ProcessState,
    options: SpawnOptions,
    may_wait: bool,
    finish: F,
) -> Result<i32, Error>
where
    F: FnOnce(&mut [u8], &mut ProcessState, Prepared) -> Result<i32, Error> + Send + 'static,
{
    let runtime = state.runtime.clone();
    let env = state.env.clone();
    // (A deterministic scheduler would run it inline anyway: no suspension.)
    if may_wait && options.module.has_start() && !runtime.scheduler().inline_blocking() {
        return protocol::offload(memory, state, move || runtime.prepare(&env, options), finish)?;
    }
    let prepared = runtime.prepare(&env, options);
    finish(memory, state, prepared)
}

/// Takes an instantiated child into the spawning process: it starts when
/// the spawner next suspends (see `ProcessState::spawned`), and a spawn link
/// gets the spawner's side.
fn adopt(state: &mut ProcessState, prepared: Prepared, link: i64) -> anyhow::Result<protocol::ProcessHandle> {
    prepared.map(|(child, task)| {
        state.spawned.push(task);
        if link != 0 {
            // The parent's side of a spawn link carries no tag.
            state.links.insert(child.id(), Link { tag: 0, handle: child.clone() });
        }
        child
    })
}

#[allow(clippy::too_many_arguments)]
fn spawn(
    mut caller: Caller<'_, ProcessState>,
    link: i64,
    config_id: i64,
    module_id: i64,
    func_ptr: i32,
    func_len: i32,
    params_ptr: i32,
    params_len: i32,
    id_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let options = spawn_options(
        memory, state, link, config_id, module_id, func_ptr, func_len, params_ptr, params_len,
    )?;
    guest::range(memory, id_ptr as u32, 8)?;
    let finish = move |memory: &mut [u8], state: &mut ProcessState, prepared: Prepared| {
        match adopt(state, prepared, link) {
            Ok(child) => {
                guest::write_u64(memory, id_ptr as u32, child.id())?;
                Ok(0)
            }
            Err(error) => fail_with(memory, state, id_ptr as u32, error),
        }
    };
    instantiate(memory, state, options, true, finish)
}

/// The arguments of `get_or_spawn` besides the name, kept for a retry when
/// the call has to wait for another `get_or_spawn` of the same name.
#[derive(Clone, Copy)]
struct NamedSpawn {
    link: i64,
    config_id: i64,
    module_id: i64,
    func_ptr: i32,
    func_len: i32,
    params_ptr: i32,
    params_len: i32,
    node_id_ptr: i32,
    id_ptr: i32,
}

#[allow(clippy::too_many_arguments)]
fn get_or_spawn(
    mut caller: Caller<'_, ProcessState>,
    name_ptr: i32,
    name_len: i32,
    link: i64,
    config_id: i64,
    module_id: i64,
    func_ptr: i32,
    func_len: i32,
    params_ptr: i32,
    params_len: i32,
    node_id_ptr: i32,
    id_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let name = guest::str(memory, name_ptr as u32, name_len as u32)?.to_string();
    let args = NamedSpawn {
        link, config_id, module_id, func_ptr, func_len, params_ptr, params_len, node_id_ptr, id_ptr,
    };
    let env = state.env.clone();
    let mut released = match named_spawn(memory, state, args, env.reserve_name(&name), true)? {
        Ok(status) => return Ok(status),
        Err(released) => released,
    };
    // Another process is spawning under this name: wait for it to finish
    // (the registry is not locked meanwhile), then look again.
    Err(suspend(
        state,
        Pending::Async(Box::pin(async move {
            let reserve = loop {
                let _ = released.recv().await;
                match env.reserve_name(&name) {
                    Ok(Reserve::Busy(next)) => released = next,
                    other => break other,
                }
            };
            protocol::completion(move |ctx| {
                let (memory, state) = guest::memory_and_state(ctx)?;
                match named_spawn(memory, state, args, reserve, false)? {
                    Ok(status) => Ok(vec![Val::I32(status)]),
                    Err(_) => Err(trap("get_or_spawn: the name is still being spawned")),
                }
            })
        })),
    ))
}

/// The body of `get_or_spawn` once the name was looked up: returns the
/// status, or, if another `get_or_spawn` holds the name, what to wait on.
/// The registry is never locked while the child is instantiated: its start
/// section may use the registry.
fn named_spawn(
    memory: &mut [u8],
    state: &mut ProcessState,
    args: NamedSpawn,
    reserve: Result<Reserve, RegistryError>,
    may_wait: bool,
) -> Result<Result<i32, async_channel::Receiver<()>>, Error> {
    let reservation = match reserve {
        Ok(Reserve::Found(node, process)) => {
            guest::write_u64(memory, args.node_id_ptr as u32, node)?;
            guest::write_u64(memory, args.id_ptr as u32, process)?;
            return Ok(Ok(2));
        }
        Ok(Reserve::Busy(released)) => {
            if !state.initialized {
                // A start section cannot wait.
                bail_trap!("cannot spawn while the module is being initialized");
            }
            return Ok(Err(released));
        }
        Ok(Reserve::Reserved(reservation)) => reservation,
        Err(error) => {
            guest::write_u64(memory, args.node_id_ptr as u32, 0)?;
            return fail_with(memory, state, args.id_ptr as u32, error.into()).map(Ok);
        }
    };
    let options = spawn_options(
        memory,
        state,
        args.link,
        args.config_id,
        args.module_id,
        args.func_ptr,
        args.func_len,
        args.params_ptr,
        args.params_len,
    )?;
    guest::range(memory, args.node_id_ptr as u32, 8)?;
    guest::range(memory, args.id_ptr as u32, 8)?;
    // The reservation is held until the child is registered or failed.
    let finish = move |memory: &mut [u8], state: &mut ProcessState, prepared: Prepared| {
        guest::write_u64(memory, args.node_id_ptr as u32, 0)?;
        match adopt(state, prepared, args.link) {
            Ok(child) => {
                reservation.fulfil(child.id());
                guest::write_u64(memory, args.id_ptr as u32, child.id())?;
                Ok(0)
            }
            Err(error) => {
                drop(reservation);
                fail_with(memory, state, args.id_ptr as u32, error)
            }
        }
    };
    instantiate(memory, state, options, may_wait, finish).map(Ok)
}

fn sleep_ms(mut caller: Caller<'_, ProcessState>, millis: i64) -> Result<(), Error> {
    let state = caller.data_mut();
    let sleep = crate::scheduler::sleep(state.runtime.scheduler(), Duration::from_millis(millis as u64));
    Err(suspend(
        state,
        Pending::Async(Box::pin(async move {
            sleep.await;
            protocol::done(Vec::new())
        })),
    ))
}

fn link(mut caller: Caller<'_, ProcessState>, tag: i64, pid: i64) {
    link_local(caller.data_mut(), tag, pid as u64);
}

/// Links the process to local process `pid` (also `lunatic::distributed_ext::link`).
pub(super) fn link_local(state: &mut ProcessState, tag: i64, pid: u64) {
    match state.env.get(pid) {
        Some(target) => {
            target.signal(Signal::Link { from: state.handle.clone(), tag });
            state.links.insert(pid, Link { tag, handle: target });
        }
        // Linking to a process that does not exist is an immediate link failure.
        None => {
            state.handle.signal(Signal::LinkDied { from: pid, tag, failed: true });
        }
    }
}

fn unlink(mut caller: Caller<'_, ProcessState>, pid: i64) {
    unlink_local(caller.data_mut(), pid as u64);
}

/// Withdraws the link to local process `pid` (also `lunatic::distributed_ext::unlink`).
pub(super) fn unlink_local(state: &mut ProcessState, pid: u64) {
    if let Some(link) = state.links.remove(&pid) {
        link.handle.signal(Signal::Unlink { from: state.id() });
    }
}
