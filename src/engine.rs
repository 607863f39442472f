//! The runtime: one wasmi `Engine`, the module cache, one `Linker` with every
//! host function, and the scheduler processes run on.

use crate::errors::LoadError;
use crate::module::{ModuleCache, ModuleHandle};
use crate::process::ProcessState;
use crate::scheduler::Scheduler;
use std::collections::HashMap;
use std::sync::Arc;
use wasmi::{CompilationMode, Config, Engine, FuncType, Linker};

/// Default fuel per slice: ~55 µs of plain integer code between preemption points.
pub const DEFAULT_FUEL_SLICE: u64 = 100_000;

/// Tunables of a [`Runtime`].
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Fuel a process runs before it yields to others.
    pub fuel_slice: u64,
    /// How long a process waits in `receive` before its untouched memory
    /// pages are given back to the OS (`None`: never; zero: at once).
    pub compact_idle_after: Option<std::time::Duration>,
    /// Host names whose DNS lookups (`lunatic::networking::resolve`,
    /// `tls_connect`) answer with these addresses instead of asking the
    /// system resolver, like curl's `--resolve`; a name may appear several
    /// times. Matched case-insensitively; the port comes from the lookup.
    /// Entries from the `LUNATIC_RESOLVE` environment variable
    /// (`host=ip[,host=ip...]`) are consulted after these.
    pub resolve: Vec<(String, std::net::IpAddr)>,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            fuel_slice: DEFAULT_FUEL_SLICE,
            compact_idle_after: Some(std::time::Duration::from_millis(10)),
            resolve: Vec::new(),
        }
    }
}

/// A Lunatic runtime: compiles modules and runs processes. Cheap to clone.
#[derive(Clone)]
pub struct Runtime(Arc<Inner>);

struct Inner {
    engine: Engine,
    linker: Linker<ProcessState>,
    /// Signature of every host function, to check a module's imports when it
    /// is compiled rather than when a process is spawned.
    host_functions: HashMap<(String, String), FuncType>,
    modules: ModuleCache,
    scheduler: Arc<dyn Scheduler>,
    options: RuntimeOptions,
}

/// Registers host functions in the linker and remembers their signatures.
pub(crate) struct HostFunctions<'a> {
    linker: &'a mut Linker<ProcessState>,
    signatures: &'a mut HashMap<(String, String), FuncType>,
}

impl HostFunctions<'_> {
    /// Adds `module::name` implemented by `func`.
    pub(crate) fn func<Params, Results, F>(&mut self, module: &str, name: &str, func: F)
    where
        F: wasmi::IntoFunc<ProcessState, Params, Results>,
    {
        use wasmi::WasmTyList;
        let ty = FuncType::new(
            <F::Params as WasmTyList>::types().as_ref().iter().copied(),
            <F::Results as WasmTyList>::types().as_ref().iter().copied(),
        );
        self.linker
            .func_wrap(module, name, func)
            .unwrap_or_else(|e| panic!("host function {module}::{name} defined twice: {e}"));
        self.signatures.insert((module.to_string(), name.to_string()), ty);
    }
}

/// Builds the wasmi configuration every module is compiled with.
fn engine_config() -> Config {
    let mut config = Config::default();
    config
        .consume_fuel(true)
        // Lazy translation can run out of fuel mid-translation, which is not
        // resumable; eager also makes fuel use independent of call order.
        .compilation_mode(CompilationMode::Eager)
        .wasm_simd(true)
        .wasm_multi_memory(true)
        .wasm_tail_call(true);
    config
}

impl Runtime {
    /// Creates a runtime whose processes run on `scheduler`.
    pub fn new(scheduler: Arc<dyn Scheduler>, options: RuntimeOptions) -> Self {
        let engine = Engine::new(&engine_config());
        let mut linker = Linker::new(&engine);
        let mut signatures = HashMap::new();
        let mut host = HostFunctions { linker: &mut linker, signatures: &mut signatures };
        crate::api::register(&mut host);
        crate::wasi::register(&mut host);
        Self(Arc::new(Inner {
            engine,
            linker,
            host_functions: signatures,
            modules: ModuleCache::default(),
            scheduler,
            options,
        }))
    }

    /// Compiles (or finds in the cache) a module from Wasm binary or text,
    /// checking that every import is a host function of the right type.
    pub fn compile(&self, bytes: &[u8]) -> Result<ModuleHandle, LoadError> {
        self.0
            .modules
            .get_or_compile(bytes, |bytes| {
                let module = wasmi::Module::new(&self.0.engine, bytes)
                    .map_err(|e| anyhow::anyhow!("invalid module: {}", crate::errors::one_line(&e)))?;
                self.check_imports(&module)?;
                Ok(module)
            })
            .map_err(|e| LoadError(format!("{e:#}")))
    }

    fn check_imports(&self, module: &wasmi::Module) -> anyhow::Result<()> {
        for import in module.imports() {
            let (m, n) = (import.module(), import.name());
            let Some(provided) = self.0.host_functions.get(&(m.to_string(), n.to_string())) else {
                anyhow::bail!("unknown import `{m}::{n}`: the runtime provides no such function");
            };
            match import.ty() {
                wasmi::ExternType::Func(wanted) if wanted == provided => {}
                wasmi::ExternType::Func(wanted) => anyhow::bail!(
                    "import `{m}::{n}` has type {wanted:?}, but the runtime's function has type {provided:?}"
                ),
                other => anyhow::bail!(
                    "import `{m}::{n}` is a {other:?}, but the runtime only provides functions"
                ),
            }
        }
        Ok(())
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.0.engine
    }

    pub(crate) fn linker(&self) -> &Linker<ProcessState> {
        &self.0.linker
    }

    /// The scheduler processes run on.
    pub fn scheduler(&self) -> &dyn Scheduler {
        &*self.0.scheduler
    }

    pub(crate) fn scheduler_arc(&self) -> Arc<dyn Scheduler> {
        self.0.scheduler.clone()
    }

    /// Fuel per preemption slice.
    pub fn fuel_slice(&self) -> u64 {
        self.0.options.fuel_slice
    }

    /// See [`RuntimeOptions::compact_idle_after`].
    pub fn compact_idle_after(&self) -> Option<std::time::Duration> {
        self.0.options.compact_idle_after
    }

    /// See [`RuntimeOptions::resolve`].
    pub(crate) fn resolve_overrides(&self) -> &[(String, std::net::IpAddr)] {
        &self.0.options.resolve
    }

    /// Names of all host functions, as `(module, name)`.
    pub fn host_functions(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.host_functions.keys().map(|(m, n)| (m.as_str(), n.as_str()))
    }
}
