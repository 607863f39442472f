//! Layer 6, the runtime facade: assembles a [`Runtime`] from the layers
//! below. It registers every host module with the engine, tells the process
//! protocol how to make each module's per-process context, and installs the
//! process driver as the way processes start.

use crate::engine::HostFunctions;
use crate::protocol::{ContextFactory, ProcessState, Runtime, RuntimeOptions};
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
        let mut host = HostFunctions::<ProcessState>::new(trace.is_some());
        crate::api::add_to_linker(&mut host);
        crate::wasi::add_to_linker(&mut host);
        #[cfg(test)]
        crate::tests::host_panic::add_to_linker(&mut host);
        Runtime::from_parts(
            host.finish(),
            CONTEXTS.to_vec(),
            crate::process::prepare,
            scheduler,
            options,
            world,
            trace,
        )
    }
}
