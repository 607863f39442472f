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
//!
//! # Reading the code, top down
//!
//! The modules form layers; each uses only the ones below it (checked by
//! `spec-tests/layers/check`).
//!
//! 6. **Facade** (`cli`, `runner`, `runtime`, `test_mode`, `sweep`): the
//!    command line parses flags into [`RunOptions`]; [`run`] builds a
//!    scheduler and a [`Runtime`], compiles the module and spawns the root
//!    process. `runtime` assembles the runtime: it registers every host
//!    module with the engine, says how each module's per-process context is
//!    made, and installs the process driver as the way processes start.
//! 5. **Driver** (`process`): [`spawn`] instantiates a process and runs it as
//!    a future: Wasm in fuel slices (out of fuel: yield, handle signals,
//!    refuel), host calls that suspend (await their work, resume), nested
//!    guest calls for `trap::catch`, memory compaction while it waits.
//! 4. **Host modules** (`api`, `wasi`): the guest ABI. Each module has an
//!    `add_to_linker` and a per-process context (`api::Resources`,
//!    `wasi::WasiCtx`); a function that would wait parks a `Pending` and
//!    returns the suspend marker instead of blocking a thread.
//! 3. **Process protocol** (`protocol`): what host modules and the driver
//!    agree on: the store data (`ProcessState`), the shared [`Runtime`],
//!    suspensions, [`ProcessHandle`]s and signals, [`Message`]s, the
//!    [`Environment`] (process table and registry), [`ProcessConfig`], and
//!    bounds-checked guest memory. It names no host module.
//! 2. **Scheduler and replay** (`scheduler`, `replay`): where tasks run and
//!    time comes from ([`Threaded`], [`Deterministic`]); the record/replay
//!    seam, keyed by (process, call number), which the deterministic
//!    scheduler consults.
//! 1. **Engine** (`engine`): wasmi's engine, the linker of host functions
//!    (each wrapped so a panic traps only its process, and charged fuel for
//!    its work), the module cache; generic over the store data.
//!
//! Below them all: `os` (the only `unsafe` code: memory compaction, the
//! pool allocator, SQLite), `metrics` and `errors`.
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

// The embedding API (facade layer): the crate's public face for apps.
mod embed;
pub use embed::{
    Builder, EmbedError, ErrorKind, HostCall, Lunatic, Mailbox, Module, Process, ShutdownReport,
    Subscription, Trap, ValType, Value,
};
