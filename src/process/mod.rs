//! Layer 5, the process driver: instantiates a process, runs its Wasm in
//! fuel slices, services its suspensions, and compacts its memory while it
//! waits.

mod driver;

use crate::protocol::{Environment, Exit, Instantiate, Link, ProcessHandle, ProcessState, Runtime, SpawnOptions};
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

/// An instantiation that failed: the state back, and why.
pub(crate) type Failed = Box<(ProcessState, String)>;

/// Makes an instance of `module` in a new store holding `state`, running
/// its start section (with [`START_FUEL`]). A module is instantiated on the
/// engine that compiled it (its version's, in a hot-reloadable app), with
/// that engine's linker. On failure the state comes back with the reason
/// (boxed: a state is large, and failing is rare).
pub(crate) fn instantiate(
    module: &crate::engine::ModuleHandle,
    state: ProcessState,
) -> Result<(wasmi::Store<ProcessState>, wasmi::Instance), Failed> {
    let Some(linker) = module.linker::<ProcessState>() else {
        return Err(Box::new((state, "the module was compiled for another kind of store".into())));
    };
    let mut store = wasmi::Store::new(module.wasmi().engine(), state);
    store.limiter(|state| &mut state.limits);
    store.set_fuel(START_FUEL).expect("fuel metering is always on");
    match linker.instantiate_and_start(&mut store, module.wasmi()) {
        Ok(instance) => Ok((store, instance)),
        Err(error) => Err(Box::new((store.into_data(), crate::errors::one_line(&error)))),
    }
}

/// Instantiates and registers a process and returns the task that runs it,
/// for the caller to start when it sees fit. With [`Instantiate::InTask`],
/// registers it now and instantiates it when the task first runs.
pub(crate) fn prepare(
    runtime: &Runtime,
    env: &Arc<Environment>,
    options: SpawnOptions,
    when: Instantiate,
) -> anyhow::Result<(ProcessHandle, BoxFuture<()>)> {
    let id = env.next_process_id();
    let handle = ProcessHandle::new(id);
    let SpawnOptions { module, config, entry, params, link, stdio, on_exit } = options;
    let state = ProcessState::new(runtime, env, handle.clone(), module.clone(), config, stdio)?;
    let made = match when {
        Instantiate::Now => match instantiate(&module, state) {
            Ok((mut store, instance)) => {
                ready(&mut store, instance, link);
                Made::Ready(store, instance)
            }
            Err(failed) => {
                let (state, error) = *failed;
                state.abandon(env, &Exit::Trapped(error.clone()));
                anyhow::bail!(error);
            }
        },
        Instantiate::InTask => {
            // Checked now, as instantiation would: the one failure a caller
            // could have avoided should stay the spawn's error.
            check_initial_memory(&module, &state)?;
            Made::Later(state, link)
        }
    };
    env.insert(handle.clone());
    crate::metrics::count(crate::metrics::Counter::ProcessesSpawned, 1);
    let task_env = env.clone();
    let task_handle = handle.clone();
    let task = Box::pin(async move {
        let (exit, state) = match made {
            Made::Ready(store, instance) => driver::run(store, instance, entry, params).await,
            Made::Later(state, link) => match instantiate(&module, state) {
                Ok((mut store, instance)) => {
                    ready(&mut store, instance, link);
                    driver::run(store, instance, entry, params).await
                }
                // Registered already (others may hold its ID): it ends as a
                // process that failed at once, its parent told.
                Err(failed) => {
                    let (mut state, error) = *failed;
                    add_link(&mut state, link);
                    (Exit::Trapped(error), state)
                }
            },
        };
        state.finish(&task_env, &task_handle, &exit);
        crate::metrics::count(crate::metrics::Counter::ProcessesFinished, 1);
        if let Some(on_exit) = on_exit {
            on_exit(&exit);
        }
    });
    Ok((handle, task))
}

/// A prepared process: instantiated, or to be instantiated by its task.
// One per task future, moved once: boxing the store would cost an
// allocation per spawn for nothing.
#[allow(clippy::large_enum_variant)]
enum Made {
    Ready(wasmi::Store<ProcessState>, wasmi::Instance),
    Later(ProcessState, Option<(ProcessHandle, i64)>),
}

/// Completes a freshly instantiated process's state.
fn ready(store: &mut wasmi::Store<ProcessState>, instance: wasmi::Instance, link: Option<(ProcessHandle, i64)>) {
    let memory = instance.get_memory(&*store, "memory");
    let state = store.data_mut();
    state.instance = Some(instance);
    state.memory = memory;
    state.initialized = true;
    add_link(state, link);
}

/// Links the process to its parent, if it was spawned linked.
fn add_link(state: &mut ProcessState, link: Option<(ProcessHandle, i64)>) {
    if let Some((parent, tag)) = link {
        state.links.insert(parent.id(), Link { tag, handle: parent });
    }
}

/// Fails if `module` defines a memory whose initial size is above the
/// process's memory limit (instantiation would fail on it).
fn check_initial_memory(module: &crate::engine::ModuleHandle, state: &ProcessState) -> anyhow::Result<()> {
    let limit = state.config.max_memory;
    for export in module.wasmi().exports() {
        if let wasmi::ExternType::Memory(memory) = export.ty() {
            let bytes = memory.minimum().saturating_mul(65_536);
            if bytes > limit {
                anyhow::bail!("the module's initial memory ({bytes} bytes) is above the process's limit ({limit} bytes)");
            }
        }
    }
    Ok(())
}
