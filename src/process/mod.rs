//! Layer 5, the process driver: instantiates a process, runs its Wasm in
//! fuel slices, services its suspensions, and compacts its memory while it
//! waits.

mod driver;

use crate::protocol::{Environment, Exit, Link, ProcessHandle, ProcessState, Runtime, SpawnOptions};
use crate::scheduler::BoxFuture;
use std::sync::Arc;

/// Fuel a module's start section may use during instantiation (~50 ms); it
/// runs before the process is scheduled, so it cannot be preempted.
const START_FUEL: u64 = 100_000_000;

/// Instantiates a process and starts running it.
///
/// The process is registered in `env` before this returns, so the caller may
/// send to it at once. Instantiation errors (including a trapping start
/// section or memory above `max_memory`) are returned; a missing entry export
/// is not an error here: the process starts and fails immediately.
pub fn spawn(
    runtime: &Runtime,
    env: &Arc<Environment>,
    options: SpawnOptions,
) -> anyhow::Result<ProcessHandle> {
    runtime.spawn(env, options)
}

/// Makes an instance of `module` in a new store holding `state`, running
/// its start section (with [`START_FUEL`]). A module is instantiated on the
/// engine that compiled it (its version's, in a hot-reloadable app), with
/// that engine's linker. On failure the state comes back with the reason.
pub(crate) fn instantiate(
    module: &crate::engine::ModuleHandle,
    state: ProcessState,
) -> Result<(wasmi::Store<ProcessState>, wasmi::Instance), (ProcessState, String)> {
    let Some(linker) = module.linker::<ProcessState>() else {
        return Err((state, "the module was compiled for another kind of store".into()));
    };
    let mut store = wasmi::Store::new(module.wasmi().engine(), state);
    store.limiter(|state| &mut state.limits);
    store.set_fuel(START_FUEL).expect("fuel metering is always on");
    match linker.instantiate_and_start(&mut store, module.wasmi()) {
        Ok(instance) => Ok((store, instance)),
        Err(error) => Err((store.into_data(), crate::errors::one_line(&error))),
    }
}

/// Instantiates and registers a process and returns the task that runs it,
/// for the caller to start when it sees fit.
pub(crate) fn prepare(
    runtime: &Runtime,
    env: &Arc<Environment>,
    options: SpawnOptions,
) -> anyhow::Result<(ProcessHandle, BoxFuture<()>)> {
    let id = env.next_process_id();
    let handle = ProcessHandle::new(id);
    let SpawnOptions { module, config, entry, params, link, stdio, on_exit } = options;
    let state = ProcessState::new(runtime, env, handle.clone(), module.clone(), config, stdio)?;
    let (mut store, instance) = match instantiate(&module, state) {
        Ok(made) => made,
        Err((state, error)) => {
            state.abandon(env, &Exit::Trapped(error.clone()));
            anyhow::bail!(error);
        }
    };
    let memory = instance.get_memory(&store, "memory");
    {
        let state = store.data_mut();
        state.instance = Some(instance);
        state.memory = memory;
        state.initialized = true;
        if let Some((parent, tag)) = link {
            state.links.insert(parent.id(), Link { tag, handle: parent });
        }
    }
    env.insert(handle.clone());
    crate::metrics::count(crate::metrics::Counter::ProcessesSpawned, 1);
    let task_env = env.clone();
    let task_handle = handle.clone();
    let task = Box::pin(async move {
        let (exit, state) = driver::run(store, instance, entry, params).await;
        state.finish(&task_env, &task_handle, &exit);
        crate::metrics::count(crate::metrics::Counter::ProcessesFinished, 1);
        if let Some(on_exit) = on_exit {
            on_exit(&exit);
        }
    });
    Ok((handle, task))
}
