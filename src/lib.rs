//! An interpreter-first, Lunatic-compatible WebAssembly runtime.
//!
//! Guests built with the `lunatic` crate run unchanged: each process is a
//! sandboxed wasmi instance with its own memory, processes talk only through
//! messages, and fuel metering preempts even an infinite loop.
//!
//! ```no_run
//! use lunatic_wasmi::{run, RunOptions};
//!
//! let status = run(RunOptions::new("hello.wasm")).expect("hello.wasm runs");
//! std::process::exit(status);
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

// Bottom: platform code and counters every layer may use.
mod errors;
mod metrics;
mod os;
// 1. Engine: wasmi, the linker, the module cache; generic over store data.
mod engine;
// 2. Record/replay seam, then the schedulers that consult it.
mod replay;
mod scheduler;
// 3. Process protocol: store data, suspensions, handles, messages, registry.
mod protocol;
// 4. Host modules: WASI, then the `lunatic::*` namespaces.
mod wasi;
mod api;
// 5. Process driver.
mod process;
// 6. Runtime facade, runner, test mode, CLI.
mod runtime;
mod runner;
mod sweep;
mod test_mode;
mod cli;
#[cfg(test)]
mod tests;

pub use cli::main;
pub use engine::{engine_config, ModuleHandle, DEFAULT_FUEL_SLICE};
pub use errors::LoadError;
pub use os::PoolAllocator;
pub use process::spawn;
pub use protocol::{
    DataMessage, Environment, Exit, InheritStdio, Message, OnExit, Preopen, ProcessConfig,
    ProcessHandle, Resource, Runtime, RuntimeOptions, SpawnOptions, Stdio, FUEL_UNIT,
};
pub use runner::{run, RunOptions};
pub use scheduler::{BoxFuture, Deterministic, Scheduler, SchedulerKind, Threaded};
