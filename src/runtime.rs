//! Layer 6, the runtime facade: assembles a [`Runtime`] from the layers
//! below. It registers every host module with the engine, tells the process
//! protocol how to make each module's per-process context, and installs the
//! process driver as the way processes start.

use crate::engine::HostFunctions;
use crate::protocol::{ContextFactory, ProcessState, Registrar, Runtime, RuntimeOptions};
use crate::scheduler::Scheduler;
use std::sync::Arc;

/// The per-process contexts every process gets, one per host module.
const CONTEXTS: &[ContextFactory] = &[crate::api::new_context, crate::wasi::new_context];

impl Runtime {
    /// Creates a runtime whose processes run on `scheduler`.
    pub fn new(scheduler: Arc<dyn Scheduler>, options: RuntimeOptions) -> Self {
        Self::with_world(scheduler, options, None, None)
    }

    /// A runtime whose outside world is recorded or replayed by `world`,
    /// and whose schedule is traced to `trace` (deterministic mode).
    pub(crate) fn with_world(
        scheduler: Arc<dyn Scheduler>,
        options: RuntimeOptions,
        world: Option<Arc<crate::replay::World>>,
        trace: Option<Arc<crate::replay::Trace>>,
    ) -> Self {
        Self::assemble(scheduler, options, world, trace, Arc::new(|_| Ok(())))
            .expect("the built-in host functions are defined once each")
    }

    /// Assembles a runtime whose engines also have the functions `extend`
    /// registers (an embedding app's, see `embed::Builder::host_function`).
    pub(crate) fn assemble(
        scheduler: Arc<dyn Scheduler>,
        options: RuntimeOptions,
        world: Option<Arc<crate::replay::World>>,
        trace: Option<Arc<crate::replay::Trace>>,
        extend: Registrar,
    ) -> Result<Self, String> {
        // Kept by the runtime and run again for each module version's engine.
        let registrar: Registrar = Arc::new(move |host: &mut HostFunctions<ProcessState>| {
            crate::api::add_to_linker(host);
            crate::wasi::add_to_linker(host);
            #[cfg(test)]
            crate::tests::host_panic::add_to_linker(host);
            extend(host)
        });
        Runtime::from_parts(
            registrar,
            CONTEXTS.to_vec(),
            crate::process::prepare,
            scheduler,
            options,
            world,
            trace,
        )
    }
}
