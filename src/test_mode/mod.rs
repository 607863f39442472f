//! Test mode: running the `#[lunatic::test]` functions of a test binary the
//! way `cargo test` expects (abi.md §5).
//!
//! Every selected test runs as its own root process in a fresh environment
//! (so a fresh registry and process IDs from 1), all of them at once on one
//! scheduler. Their output is captured per test; results are printed as the
//! processes end, in libtest's format, and the exit status is 1 if any test
//! failed.

mod args;
mod capture;
mod discovery;
mod outcome;
mod report;

use crate::protocol::{Runtime, RuntimeOptions};
use crate::protocol::Environment;
use crate::process;
use crate::protocol::{Exit, ProcessConfig, SpawnOptions};
use crate::runner::{read_module, root_preopens, scheduler};
use args::{Color, Selection, TestArgs};
use capture::Capture;
use discovery::TestCase;
use outcome::Verdict;
use report::{Finished, Reporter, Status, Summary};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// What to test and how.
#[derive(Debug, Clone)]
pub(crate) struct TestOptions {
    /// The test binary.
    pub(crate) path: PathBuf,
    /// `--dir`s given before the path.
    pub(crate) dirs: Vec<PathBuf>,
    /// `--no-cwd`: do not preopen the working directory.
    pub(crate) no_cwd: bool,
    /// The scheduler the tests run on.
    pub(crate) scheduler: crate::scheduler::SchedulerKind,
    /// Runtime tunables.
    pub(crate) runtime: RuntimeOptions,
    /// Everything after the path: libtest arguments.
    pub(crate) args: Vec<String>,
}

/// Whether `lunatic run <path> <args>` is cargo running a test binary.
///
/// That needs `CARGO_MANIFEST_DIR` (cargo sets it for runners), no `--bench`,
/// and either `#lunatic_test_*` exports, or a path like
/// `.../wasm32-*/<profile>/deps/<name>.wasm` and no `_start`. A test binary in
/// such a path that has no `#[lunatic::test]` functions but a `_start` (plain
/// `#[test]`s, or `harness = false`) runs its `_start` normally, so libtest
/// inside the module handles its own arguments.
pub(crate) fn detect(path: &Path, args: &[String], bench: bool) -> bool {
    if bench
        || args.iter().any(|a| a == "--bench")
        || std::env::var_os("CARGO_MANIFEST_DIR").is_none()
    {
        return false;
    }
    let Ok(bytes) = std::fs::read(path) else { return false };
    let exports = discovery::function_exports(&bytes);
    if exports.iter().any(|e| e.starts_with(discovery::TEST_PREFIX)) {
        return true;
    }
    discovery::looks_like_test_path(path) && !exports.iter().any(|e| e == "_start")
}

/// Runs the tests of a test binary; returns the exit status (1 if a test failed).
pub(crate) fn run_tests(options: TestOptions) -> anyhow::Result<i32> {
    let mut args = TestArgs::parse(options.args);
    if args.help {
        print!("{}", args::HELP);
        return Ok(0);
    }
    if std::env::var_os("RUST_TEST_NOCAPTURE").is_some_and(|v| v != "0") {
        args.nocapture = true;
    }
    let bytes = read_module(&options.path)?;
    let scheduler = scheduler(options.scheduler)?;
    let runtime = Runtime::new(scheduler.clone(), options.runtime);
    let module = runtime.compile(&bytes)?;

    let tests = discovery::discover(module.wasmi());
    let mut to_run = Vec::new();
    let mut ignored = Vec::new();
    for test in &tests {
        match args.select(test) {
            Selection::Run => to_run.push(test.clone()),
            Selection::Ignored => ignored.push(test),
            Selection::FilteredOut => {}
        }
    }
    let filtered_out = tests.len() - to_run.len() - ignored.len();
    if args.list {
        let listed: Vec<&TestCase> =
            tests.iter().filter(|t| args.select(t) != Selection::FilteredOut).collect();
        print!("{}", report::list(&listed, args.terse));
        return Ok(0);
    }

    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal(),
    };
    let mut dirs = options.dirs;
    dirs.extend(args.dirs.iter().cloned());
    let preopens = root_preopens(&dirs, options.no_cwd || args.no_cwd)?;
    let config = Arc::new(ProcessConfig::root(args.guest_args.clone(), preopens));

    let start = Instant::now();
    let mut reporter = Reporter::new(args.terse_output(), color);
    reporter.start(to_run.len() + ignored.len());
    for test in &ignored {
        reporter.result(test, Status::Ignored);
    }

    // Start every test at once; each reports its end through the channel.
    let (done, results) = async_channel::unbounded::<(usize, Result<Exit, String>)>();
    let mut running = Vec::with_capacity(to_run.len());
    for (index, test) in to_run.into_iter().enumerate() {
        let capture = Capture::new(args.nocapture);
        let env = Arc::new(Environment::new(0));
        let tell = done.clone();
        let spawned = process::spawn(
            &runtime,
            &env,
            SpawnOptions {
                module: module.clone(),
                config: config.clone(),
                entry: test.export.clone(),
                params: Vec::new(),
                link: None,
                stdio: capture.stream(),
                on_exit: Some(Box::new(move |exit| {
                    let _ = tell.try_send((index, Ok(exit.clone())));
                })),
            },
        );
        if let Err(e) = spawned {
            let _ = done.try_send((index, Err(format!("{e:#}"))));
        }
        running.push((test, capture));
    }
    drop(done);

    let nocapture = args.nocapture;
    let show_output = args.show_output;
    let ignored = ignored.len();
    let status = scheduler.block_on(Box::pin(async move {
        let mut verdicts: Vec<Option<Verdict>> = vec![None; running.len()];
        let mut order = Vec::with_capacity(running.len());
        while let Ok((index, exit)) = results.recv().await {
            let (test, capture) = &running[index];
            let verdict = match exit {
                Ok(exit) => {
                    log::debug!(target: "lunatic::test", "{} ended: {exit:?}", test.name);
                    outcome::classify(
                        test.should_panic.as_deref(),
                        exit.is_failure(),
                        &capture.own_output(),
                        nocapture,
                    )
                }
                Err(e) => {
                    Verdict::Failed(Some(format!("note: the test process could not start: {e}")))
                }
            };
            let status = if verdict == Verdict::Passed { Status::Ok } else { Status::Failed };
            reporter.result(test, status);
            verdicts[index] = Some(verdict);
            order.push(index);
        }
        // Only if a process task was dropped without ending (the scheduler stopped).
        for (index, verdict) in verdicts.iter_mut().enumerate() {
            if verdict.is_none() {
                *verdict = Some(Verdict::Failed(Some("note: the test process vanished".into())));
                reporter.result(&running[index].0, Status::Failed);
                order.push(index);
            }
        }

        // Output is gathered only now, so that processes a test spawned have
        // had until the end of the run to write.
        let mut successes = Vec::new();
        let mut failures = Vec::new();
        for index in order {
            let (test, capture) = &running[index];
            let captured = if nocapture { String::new() } else { capture.render() };
            match verdicts[index].take().expect("every test has a verdict") {
                Verdict::Passed => {
                    successes.push(Finished { name: test.name.clone(), output: captured })
                }
                Verdict::Failed(note) => {
                    let mut output = captured;
                    if let Some(note) = note {
                        if !output.is_empty() && !output.ends_with('\n') {
                            output.push('\n');
                        }
                        output.push_str(&note);
                        output.push('\n');
                    }
                    failures.push(Finished { name: test.name.clone(), output });
                }
            }
        }
        let summary = Summary {
            passed: successes.len(),
            failed: failures.len(),
            ignored,
            filtered_out,
            elapsed: start.elapsed(),
        };
        reporter.finish(show_output.then_some(successes.as_slice()), &failures, &summary);
        if summary.failed > 0 {
            1
        } else {
            0
        }
    }));
    Ok(status)
}
