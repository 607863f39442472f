//! The `lunatic` command line: parses arguments and calls the library.

use crate::engine::DEFAULT_FUEL_SLICE;
use crate::protocol::RuntimeOptions;
use crate::runner::{run, RunOptions};
use crate::scheduler::SchedulerKind;
use crate::sweep::{self, SeedRange};
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
    /// Start a cluster's control server: makes (first time) or loads the
    /// cluster CA, prints the join token, and admits nodes that present it.
    #[cfg(not(any(target_os = "ios", target_os = "android")))]
    Control(ControlArgs),
    /// Start a node that joins a cluster, runs --wasm (if given) and serves
    /// remote spawns and messages until killed.
    #[cfg(not(any(target_os = "ios", target_os = "android")))]
    Node(NodeArgs),
    /// Ask a running `lunatic run` of this user to load a new version of its
    /// program (hot reload): FILE, or the file it was started with.
    #[cfg(unix)]
    Reload(ReloadArgs),
}

#[cfg(unix)]
#[derive(Args)]
struct ReloadArgs {
    /// The OS process ID of the `lunatic run` (needed when several run).
    #[arg(long, value_name = "OSPID", conflicts_with = "socket")]
    pid: Option<u32>,
    /// Its control socket (instead of finding it by process ID).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// The module to load (default: the one the app was started with).
    file: Option<PathBuf>,
}

#[cfg(not(any(target_os = "ios", target_os = "android")))]
#[derive(Args)]
struct ControlArgs {
    /// UDP address to serve on (QUIC).
    #[arg(long, value_name = "ADDR", default_value = crate::cluster::DEFAULT_CONTROL)]
    bind_socket: std::net::SocketAddr,
    /// Where the cluster CA and join token are kept (default:
    /// $LUNATIC_CLUSTER_DIR, else ~/.local/share/lunatic/cluster).
    #[arg(long, value_name = "DIR")]
    cluster_dir: Option<PathBuf>,
}

#[cfg(not(any(target_os = "ios", target_os = "android")))]
#[derive(Args)]
struct NodeArgs {
    /// The control server to join (`http://127.0.0.1:3030/` or `HOST:PORT`).
    #[arg(value_name = "CONTROL_URL")]
    control: Option<String>,
    /// Join through this member (any node) instead of a control server.
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["control", "seed"])]
    join: Option<String>,
    /// Start a new cluster without a control server: this node keeps the CA
    /// (in the cluster directory) and admits nodes that join it.
    #[arg(long, conflicts_with = "control")]
    seed: bool,
    /// UDP address to serve on and to be dialed at (default 127.0.0.1, any port).
    #[arg(long, value_name = "ADDR")]
    bind_socket: Option<std::net::SocketAddr>,
    /// Run this module's `_start` once joined; the node keeps serving after.
    #[arg(long, value_name = "PATH")]
    wasm: Option<PathBuf>,
    /// A tag `key=value` for `lookup_nodes` (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    tags: Vec<(String, String)>,
    /// The join token `lunatic control` printed (else $LUNATIC_JOIN_TOKEN,
    /// else the token file control left in the cluster directory).
    #[arg(long, value_name = "TOKEN", env = "LUNATIC_JOIN_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Where to look for the token file (or keep the CA, with --seed).
    #[arg(long, value_name = "DIR")]
    cluster_dir: Option<PathBuf>,
    /// How long a remote spawn (or joining) may take before it fails with
    /// 9027, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    timeout_ms: u64,
    /// Give processes that remote callers spawn here the callers'
    /// environment variables and preopened directories (off: they get none).
    #[arg(long)]
    allow_remote_env: bool,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
    /// Arguments for the --wasm program.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, last = true)]
    args: Vec<String>,
}

#[cfg(not(any(target_os = "ios", target_os = "android")))]
fn parse_tag(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("'{text}' is not KEY=VALUE")),
    }
}

/// Options shared by `run` and `test`.
#[derive(Args)]
struct RuntimeArgs {
    /// Grant the program access to a host directory (repeatable): DIR is
    /// seen under its own name, HOST::GUEST maps HOST to the guest path
    /// GUEST (e.g. `--dir ./fixture::/`).
    #[arg(long = "dir", value_name = "DIR|HOST::GUEST")]
    dirs: Vec<PathBuf>,
    /// Do not grant the working directory as `.` (granted by default, unless
    /// a --dir maps the guest's `.` or `/`).
    #[arg(long)]
    no_cwd: bool,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
    /// Fuel a process may use before it yields to others.
    #[arg(long, value_name = "FUEL", default_value_t = DEFAULT_FUEL_SLICE)]
    fuel_slice: u64,
    /// Cap the linear memory of all processes together at MIB mebibytes:
    /// beyond it `memory.grow` fails and spawns fail with an error (default:
    /// no cap beyond each process's `max_memory`).
    #[arg(long, value_name = "MIB")]
    max_total_memory: Option<u64>,
    /// Run deterministically: one thread, virtual time, and every scheduling
    /// decision and random byte derived from SEED (default 0).
    #[arg(long, value_name = "SEED", num_args = 0..=1, require_equals = true, default_missing_value = "0")]
    deterministic: Option<u64>,
    /// Run once per seed in FIRST..END (deterministic mode) and stop at the
    /// first seed whose run fails, printing how to reproduce it.
    #[arg(long, value_name = "FIRST..END", conflicts_with = "deterministic")]
    seeds: Option<SeedRange>,
    /// With --seeds: run every seed and summarise the outcomes instead of
    /// stopping at the first failure.
    #[arg(long, requires = "seeds")]
    keep_going: bool,
}

impl RuntimeArgs {
    fn scheduler(&self) -> SchedulerKind {
        match self.deterministic {
            Some(seed) => SchedulerKind::Deterministic { seed },
            None => SchedulerKind::Threaded { threads: self.threads },
        }
    }

    fn test_options(&self, path: PathBuf, args: Vec<String>) -> TestOptions {
        TestOptions {
            path,
            dirs: self.dirs.clone(),
            no_cwd: self.no_cwd,
            scheduler: self.scheduler(),
            runtime: self.runtime(),
            args,
        }
    }

    fn runtime(&self) -> RuntimeOptions {
        RuntimeOptions {
            fuel_slice: self.fuel_slice.max(1),
            max_total_memory: self.max_total_memory.map(|mib| mib.saturating_mul(1 << 20)),
            ..RuntimeOptions::default()
        }
    }
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    runtime: RuntimeArgs,
    /// Mark the run as a benchmark: no test mode; `--bench` is passed to the program.
    #[arg(long)]
    bench: bool,
    /// Record every answer the outside world gives the program (clocks,
    /// random bytes, stdin, DNS, sockets) to FILE, for --replay. Implies
    /// --deterministic (seed 0 unless given).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["replay", "seeds"])]
    record: Option<PathBuf>,
    /// Replay a recording: the same run, without the outside world. Stops
    /// with exit status 3 at the first call that differs from the recording.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["seeds", "deterministic", "dirs", "no_cwd", "fuel_slice"])]
    replay: Option<PathBuf>,
    /// Print the schedule to FILE (`-`: stderr): each run of a process, its
    /// fuel and host calls. Implies --deterministic (seed 0 unless given).
    #[arg(long, value_name = "FILE", conflicts_with = "seeds")]
    trace: Option<PathBuf>,
    /// Export metrics (the program's and the runtime's) in the Prometheus
    /// text format over HTTP, at `/metrics`, while the program runs.
    #[arg(long)]
    prometheus: bool,
    /// Where --prometheus serves (all interfaces by default, as the original).
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:9927", requires = "prometheus")]
    prometheus_http: std::net::SocketAddr,
    /// Hot reload: load a new version of the program whenever its file
    /// changes (README "Hot reload"). SIGHUP and `lunatic reload` work without it.
    /// LUNATIC_WATCH=poll looks at the file every 200 ms instead of asking
    /// the kernel for file events (the fallback when there are none).
    #[arg(long, conflicts_with_all = ["record", "replay", "trace", "seeds"])]
    watch: bool,
    /// After a reload, stop the old version's processes after SECS at the
    /// latest (earlier once only its acceptors on handed-over listeners are left).
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    drain_timeout: u64,
    /// The program.
    path: PathBuf,
    /// Arguments for the program (put `--` before ones that start with `-`).
    /// A test binary run by cargo takes libtest arguments here instead.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

#[derive(Args)]
struct TestArgs {
    #[command(flatten)]
    runtime: RuntimeArgs,
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

/// Entry point of the `lunatic` binary; returns the process exit status.
pub fn main() -> i32 {
    let argv: Vec<OsString> = with_implied_run(std::env::args_os().collect());
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let testing = match &cli.command {
        Command::Run(args) => test_mode::detect(&args.path, &args.args, args.bench),
        Command::Test(_) => true,
        #[cfg(not(any(target_os = "ios", target_os = "android")))]
        Command::Control(_) | Command::Node(_) => false,
        #[cfg(unix)]
        Command::Reload(args) => return crate::hot::control::reload_main(args.pid, args.socket.clone(), args.file.clone()),
    };
    // Failing test processes are expected in test mode: do not log each one.
    let default_level = if testing { "error" } else { "warn" };
    let env = env_logger::Env::default().default_filter_or(default_level);
    let _ = env_logger::Builder::from_env(env).try_init();
    if let Command::Run(args) = &cli.command {
        if testing && (args.record.is_some() || args.replay.is_some() || args.trace.is_some()) {
            eprintln!("Error: --record, --replay and --trace run a program, not tests");
            return 2;
        }
    }
    #[cfg(not(any(target_os = "ios", target_os = "android")))]
    if let Some(status) = distributed(&cli.command) {
        return status;
    }
    let (runtime, result) = match cli.command {
        Command::Run(RunArgs { runtime, path, args, .. }) if testing => {
            let options = runtime.test_options(path, args);
            (runtime, options.into())
        }
        Command::Test(TestArgs { runtime, path, args }) => {
            let options = runtime.test_options(path, args);
            (runtime, options.into())
        }
        Command::Run(RunArgs {
            runtime, bench, path, mut args, record, replay, trace, prometheus, prometheus_http, watch,
            drain_timeout,
        }) => {
            // As with a plain argument parser, the first `--` only separates.
            if let Some(dashes) = args.iter().position(|a| a == "--") {
                args.remove(dashes);
            }
            if bench {
                args.push("--bench".into());
            }
            let options = RunOptions {
                path,
                args,
                dirs: runtime.dirs.clone(),
                no_cwd: runtime.no_cwd,
                scheduler: runtime.scheduler(),
                runtime: runtime.runtime(),
                record,
                replay,
                trace,
                prometheus: prometheus.then_some(prometheus_http),
                watch,
                drain_timeout: std::time::Duration::from_secs(drain_timeout),
            };
            (runtime, options.into())
        }
        #[cfg(not(any(target_os = "ios", target_os = "android")))]
        Command::Control(_) | Command::Node(_) => unreachable!("handled above"),
        #[cfg(unix)]
        Command::Reload(_) => unreachable!("handled above"),
    };
    let outcome = match runtime.seeds {
        Some(seeds) => sweep::sweep(&argv, seeds, runtime.keep_going),
        None => match result {
            Invocation::Run(options) => run(options),
            Invocation::Test(options) => test_mode::run_tests(options),
        },
    };
    match outcome {
        Ok(status) => status,
        Err(e) => {
            eprintln!("Error: {}", crate::errors::one_line(&format!("{e:#}")));
            1
        }
    }
}

/// Runs `lunatic control` / `lunatic node` (None for other commands).
#[cfg(not(any(target_os = "ios", target_os = "android")))]
fn distributed(command: &Command) -> Option<i32> {
    let outcome = match command {
        Command::Control(args) => crate::cluster::control_main(Some(args.bind_socket), args.cluster_dir.clone()),
        Command::Node(args) => crate::cluster::node_main(crate::cluster::NodeArgs {
            control: args.control.clone(),
            join: args.join.clone(),
            seed: args.seed,
            bind: args.bind_socket,
            wasm: args.wasm.clone(),
            tags: args.tags.clone(),
            token: args.token.clone().filter(|t| !t.trim().is_empty()),
            cluster_dir: args.cluster_dir.clone(),
            timeout: std::time::Duration::from_millis(args.timeout_ms.max(1)),
            allow_remote_env: args.allow_remote_env,
            threads: args.threads,
            args: args.args.clone(),
        }),
        _ => return None,
    };
    Some(match outcome {
        Ok(status) => status,
        Err(e) => {
            eprintln!("Error: {}", crate::errors::one_line(&format!("{e:#}")));
            1
        }
    })
}

/// What the command line asked for.
enum Invocation {
    Run(RunOptions),
    Test(TestOptions),
}

impl From<RunOptions> for Invocation {
    fn from(options: RunOptions) -> Self {
        Invocation::Run(options)
    }
}

impl From<TestOptions> for Invocation {
    fn from(options: TestOptions) -> Self {
        Invocation::Test(options)
    }
}
