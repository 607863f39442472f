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

mod api;
mod cli;
mod engine;
mod environment;
mod errors;
mod message;
mod metrics;
mod module;
#[cfg(not(any(target_os = "ios", target_os = "android")))]
mod node;
#[cfg(any(target_os = "ios", target_os = "android"))]
#[path = "node/stub.rs"]
mod node;
mod os;
mod process;
mod replay;
mod runner;
mod scheduler;
mod sweep;
mod test_mode;
mod wasi;

pub use cli::main;
pub use engine::{engine_config, Runtime, RuntimeOptions, DEFAULT_FUEL_SLICE};
pub use environment::Environment;
pub use errors::LoadError;
pub use message::{DataMessage, Message, Resource};
pub use module::ModuleHandle;
pub use os::PoolAllocator;
pub use process::{
    spawn, Exit, InheritStdio, OnExit, Preopen, ProcessConfig, ProcessHandle, SpawnOptions, Stdio,
    FUEL_UNIT,
};
pub use runner::{run, RunOptions};
pub use scheduler::{BoxFuture, Deterministic, Scheduler, SchedulerKind, Threaded};
