//! The `lunatic` command line: parses arguments and calls the library.

use crate::engine::{RuntimeOptions, DEFAULT_FUEL_SLICE};
use crate::runner::{run, RunOptions};
use crate::test_mode::{self, TestOptions};
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "lunatic", version, about = "Run Lunatic WebAssembly programs on an interpreter")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a .wasm or .wat program (its `_start`), or a test binary under cargo.
    Run(RunArgs),
    /// Run the `#[lunatic::test]` tests of a test binary, like `cargo test` does.
    Test(TestArgs),
}

#[derive(Args)]
struct RunArgs {
    /// Grant the program access to a host directory (repeatable).
    #[arg(long = "dir", value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Mark the run as a benchmark: no test mode; `--bench` is passed to the program.
    #[arg(long)]
    bench: bool,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
    /// Fuel a process may use before it yields to others.
    #[arg(long, value_name = "FUEL", default_value_t = DEFAULT_FUEL_SLICE)]
    fuel_slice: u64,
    /// The program.
    path: PathBuf,
    /// Arguments for the program (put `--` before ones that start with `-`).
    /// A test binary run by cargo takes libtest arguments here instead.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

#[derive(Args)]
struct TestArgs {
    /// Grant the tests access to a host directory (repeatable).
    #[arg(long = "dir", value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
    /// Fuel a process may use before it yields to others.
    #[arg(long, value_name = "FUEL", default_value_t = DEFAULT_FUEL_SLICE)]
    fuel_slice: u64,
    /// The test binary.
    path: PathBuf,
    /// libtest arguments: [FILTER] [--exact] [--ignored] [--include-ignored] [--list]
    /// [--format terse] [--nocapture] [--show-output] [-q] [-- ARGS...]
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "TEST_ARGS")]
    args: Vec<String>,
}

/// Inserts `run` for the legacy form `lunatic app.wasm ...`.
fn with_implied_run(mut args: Vec<OsString>) -> Vec<OsString> {
    if let Some(first) = args.get(1).and_then(|a| a.to_str()) {
        let legacy = first.starts_with("--dir")
            || first.starts_with("--bench")
            || first.get(1..).is_some_and(|rest| rest.contains(".wasm") || rest.contains(".wat"));
        if legacy {
            args.insert(1, "run".into());
        }
    }
    args
}

/// Runtime options with the given fuel slice (at least 1).
fn runtime_options(fuel_slice: u64) -> RuntimeOptions {
    RuntimeOptions { fuel_slice: fuel_slice.max(1), ..RuntimeOptions::default() }
}

/// Entry point of the `lunatic` binary; returns the process exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse_from(with_implied_run(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let testing = match &cli.command {
        Command::Run(args) => test_mode::detect(&args.path, &args.args, args.bench),
        Command::Test(_) => true,
    };
    // Failing test processes are expected in test mode: do not log each one.
    let default_level = if testing { "error" } else { "warn" };
    let env = env_logger::Env::default().default_filter_or(default_level);
    let _ = env_logger::Builder::from_env(env).try_init();
    let result = match cli.command {
        Command::Run(args) if testing => test_mode::run_tests(TestOptions {
            path: args.path,
            dirs: args.dirs,
            threads: args.threads,
            runtime: runtime_options(args.fuel_slice),
            args: args.args,
        }),
        Command::Run(args) => {
            let mut program_args = args.args;
            if args.bench {
                program_args.push("--bench".into());
            }
            run(RunOptions {
                path: args.path,
                args: program_args,
                dirs: args.dirs,
                threads: args.threads,
                runtime: RuntimeOptions { fuel_slice: args.fuel_slice.max(1), ..RuntimeOptions::default() },
            })
        }
        Command::Test(args) => test_mode::run_tests(TestOptions {
            path: args.path,
            dirs: args.dirs,
            threads: args.threads,
            runtime: runtime_options(args.fuel_slice),
            args: args.args,
        }),
    };
    match result {
        Ok(status) => status,
        Err(e) => {
            eprintln!("Error: {}", crate::errors::one_line(&format!("{e:#}")));
            1
        }
    }
}
