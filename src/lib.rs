//! An interpreter-first, Lunatic-compatible WebAssembly runtime, to embed
//! in an app or to run from the command line.
//!
//! Guests built with the `lunatic` crate run unchanged: each process is a
//! sandboxed wasmi instance with its own memory, processes talk only through
//! messages, and fuel metering preempts even an infinite loop. No code is
//! generated at run time, so it runs where JIT compilers are banned (iOS,
//! consoles, locked-down devices).
//!
//! # Embedding
//!
//! [`Lunatic`] is a runtime inside your program: build it with a
//! [`Builder`] (threads, fuel slice, a deterministic seed, your own host
//! functions), [`load`](Lunatic::load) modules from bytes,
//! [`spawn`](Lunatic::spawn) processes with a [`ProcessConfig`] (memory,
//! fuel, permissions, directories, arguments, environment), talk to them
//! through a native [`Mailbox`] (a process ID your program owns), kill,
//! link to or monitor them and learn how they [`Exit`]ed,
//! [`pause`](Lunatic::pause) when the app goes to the background, and
//! [`shutdown`](Lunatic::shutdown) with a timeout.
//!
//! ```
//! use lunatic_wasmi::{Exit, Lunatic, Message, ProcessConfig, ValType, Value};
//! use std::time::Duration;
//!
//! // A guest that calls the app's `app::twice` and sends the result, as a
//! // message tag, to the process whose ID it was given.
//! let guest = r#"(module
//!   (import "app" "twice" (func $twice (param i64) (result i64)))
//!   (import "lunatic::message" "create_data" (func $create (param i64 i64)))
//!   (import "lunatic::message" "send" (func $send (param i64) (result i32)))
//!   (memory (export "memory") 1)
//!   (func (export "main") (param $app i64)
//!     (call $create (call $twice (i64.const 21)) (i64.const 0))
//!     (drop (call $send (local.get $app)))))"#;
//!
//! let lunatic = Lunatic::builder()
//!     .threads(1)
//!     .host_function("app", "twice", &[ValType::I64], &[ValType::I64], |_call, args| match args {
//!         [Value::I64(x)] => Ok(vec![Value::I64(x.wrapping_mul(2))]),
//!         _ => unreachable!("wasmi checks the signature"),
//!     })
//!     .build()?;
//! let module = lunatic.load(guest.as_bytes())?;
//! let mailbox = lunatic.mailbox()?;
//! let app = Value::I64(mailbox.id() as i64);
//! let process = lunatic.spawn_with(&module, "main", &[app], ProcessConfig::default())?;
//! let Message::Data(reply) = mailbox.receive_blocking(Some(Duration::from_secs(10)))? else {
//!     panic!("a data message");
//! };
//! assert_eq!(reply.tag, 42);
//! assert_eq!(process.wait_blocking(None)?, Exit::Returned);
//! lunatic.shutdown_blocking(Duration::from_secs(5))?;
//! # Ok::<(), lunatic_wasmi::EmbedError>(())
//! ```
//!
//! Every wait has an `async` form that blocks no thread
//! ([`Mailbox::receive`], [`Process::exit`], [`Lunatic::shutdown`]) and a
//! `_blocking` convenience. Nothing is global: no global allocator is
//! required ([`PoolAllocator`] is an opt-in the `lunatic` binary installs),
//! the only threads are the ones listed at [`Builder::threads`], two
//! runtimes in one program are independent, and an idle runtime does not
//! wake up. C, Swift and Kotlin apps link the static library and use
//! `src/embed/lunatic.h` (see `examples/embed-c`).
//!
//! # Running a program
//!
//! [`run`] does what `lunatic run` does:
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
//! 6. **Facade** (`embed`, `cli`, `runner`, `runtime`, `test_mode`, `sweep`):
//!    `embed` is the embedding API above (and its C API); the
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
// Distributed nodes: transport, membership, remote operations (desktop and
// server only; a stub elsewhere).
#[cfg(not(any(target_os = "ios", target_os = "android")))]
mod node;
#[cfg(any(target_os = "ios", target_os = "android"))]
#[path = "node/stub.rs"]
mod node;
// 4. Host modules: WASI, then the `lunatic::*` namespaces.
mod wasi;
mod api;
// 5. Process driver.
mod process;
// 6. Runtime facade, runner, test mode, CLI.
mod runtime;
mod runner;
#[cfg(not(any(target_os = "ios", target_os = "android")))]
mod cluster;
mod sweep;
// Hot reload of `lunatic run`: triggers, new versions, drains.
mod hot;
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
