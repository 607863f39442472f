//! Conformance suite for the `lunatic` binary (`cargo test --test spec`).
//!
//! Every file in `spec-tests/cases/<area>/` is one case: a WebAssembly text
//! module (`*.wat`) or a description of a run (`*.case`, e.g. of a Rust
//! guest from `spec-tests/rust/`), with its expectations written in the file.
//! Each case runs the real runtime binary as a child process, in a fresh
//! temporary working directory, under a timeout, and its exit status, stdout,
//! stderr (and optionally files it leaves behind) are checked. One `#[test]`
//! per area runs all cases of that area and reports every failing case.
//!
//! The case format is documented in `spec-tests/README.md`.
//!
//! Environment knobs:
//! * `SPEC_FILTER=a,b`   only run cases whose name (`area/stem`) contains one of the substrings
//! * `SPEC_LUNATIC=path` run this binary instead of the one cargo built
//! * `SPEC_KEEP_TMP=1`   keep every case's temporary directory (failures always keep theirs)
//! * `SPEC_VERBOSE=1`    print each case's command line and output

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The subdirectories of `cases/`; each has its own `#[test]` below.
const AREAS: &[&str] = &["cli", "abi", "wasi", "process"];

const GUEST_TARGET: &str = "wasm32-wasip1";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Wall-clock budget for one area: once spent, the remaining cases fail
/// without running, so a runtime that hangs on every case still finishes.
const AREA_BUDGET: Duration = Duration::from_secs(600);
/// Output beyond this is cut in failure reports.
const REPORT_LIMIT: usize = 4000;

#[test]
fn cli() {
    run_area("cli");
}

#[test]
fn abi() {
    run_area("abi");
}

#[test]
fn wasi() {
    run_area("wasi");
}

#[test]
fn process() {
    run_area("process");
}

/// Every file under `cases/` belongs to a known area and parses; this catches
/// typos in keys without running anything.
#[test]
fn case_files_are_valid() {
    let mut problems = Vec::new();
    for entry in fs::read_dir(cases_dir()).expect("spec-tests/cases exists") {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.file_type().unwrap().is_dir() {
            if name != ".gitkeep" {
                problems.push(format!("cases/{name}: files belong in an area directory"));
            }
            continue;
        }
        if !AREAS.contains(&name.as_str()) {
            problems.push(format!(
                "cases/{name}/: unknown area (add it to AREAS and give it a #[test] in spec.rs)"
            ));
        }
    }
    let mut count = 0;
    for area in AREAS {
        match load_area(area) {
            Ok(cases) => count += cases.len(),
            Err(errors) => problems.extend(errors),
        }
    }
    assert!(
        problems.is_empty(),
        "invalid case files:\n{}",
        problems.join("\n")
    );
    assert!(count > 0, "no cases found");
}

// ---------------------------------------------------------------------------
// Case files

#[derive(Debug, Clone)]
enum Module {
    /// The `.wat` case file itself.
    Wat(PathBuf),
    /// `rust: <bin>`: a binary of the `spec-tests/rust` crate.
    Rust(String),
    /// `wasm: <path>`: a path relative to the working directory (may not exist).
    Path(String),
}

#[derive(Debug, Clone)]
enum Setup {
    Mkdir(String),
    /// Path, content, whether `$VARS` in the content are expanded (`file:` yes, `file-hex:` no).
    File(String, Vec<u8>, bool),
    Symlink(String, String),
}

#[derive(Debug, Clone, Default)]
struct Expect {
    exact: Option<String>,
    contains: Vec<String>,
    not_contains: Vec<String>,
    lines: Option<usize>,
    starts_with: Option<String>,
}

#[derive(Debug, Clone)]
struct Case {
    /// `area/stem`
    name: String,
    file: PathBuf,
    module: Module,
    exit: i32,
    stdout: Expect,
    stderr: Expect,
    args: Vec<String>,
    flags: Vec<String>,
    dirs: Vec<String>,
    env: Vec<(String, String)>,
    env_remove: Vec<String>,
    stdin: Option<String>,
    setup: Vec<Setup>,
    expect_files: Vec<(String, Option<String>)>,
    timeout: Duration,
    skip: Option<String>,
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn cases_dir() -> PathBuf {
    manifest_dir().join("spec-tests").join("cases")
}

/// Loads every case of an area, sorted by name; all parse errors at once.
fn load_area(area: &str) -> Result<Vec<Case>, Vec<String>> {
    let dir = cases_dir().join(area);
    let mut files: Vec<PathBuf> = match fs::read_dir(&dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => return Ok(Vec::new()),
    };
    files.sort();
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext != "wat" && ext != "case" {
            errors.push(format!(
                "{}: unexpected file (cases are *.wat or *.case)",
                file.display()
            ));
            continue;
        }
        match parse_case(area, &file) {
            Ok(case) => cases.push(case),
            Err(err) => errors.push(format!("{}: {err}", file.display())),
        }
    }
    let mut seen = BTreeSet::new();
    for case in &cases {
        if !seen.insert(case.name.clone()) {
            errors.push(format!("{}: two cases named {}", area, case.name));
        }
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors)
    }
}

fn parse_case(area: &str, file: &Path) -> Result<Case, String> {
    let text = fs::read_to_string(file).map_err(|e| e.to_string())?;
    let is_wat = file.extension().is_some_and(|e| e == "wat");
    let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
    let mut case = Case {
        name: format!("{area}/{stem}"),
        file: file.to_path_buf(),
        module: Module::Wat(file.to_path_buf()),
        exit: 0,
        stdout: Expect::default(),
        stderr: Expect::default(),
        args: Vec::new(),
        flags: Vec::new(),
        dirs: Vec::new(),
        env: Vec::new(),
        env_remove: Vec::new(),
        stdin: None,
        setup: Vec::new(),
        expect_files: Vec::new(),
        timeout: DEFAULT_TIMEOUT,
        skip: None,
    };
    let mut module_given = false;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = if is_wat {
            match raw.trim_start().strip_prefix(";;!") {
                Some(rest) => rest.strip_prefix(' ').unwrap_or(rest),
                None => continue,
            }
        } else {
            raw
        };
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| format!("line {line_no}: expected `key: value`"))?;
        let key = key.trim();
        // One space after the colon is decoration; everything else is data.
        let value = value.strip_prefix(' ').unwrap_or(value);
        let err = |msg: String| format!("line {line_no}: {key}: {msg}");
        match key {
            "exit" => {
                case.exit = value
                    .trim()
                    .parse()
                    .map_err(|_| err("not an integer".into()))?
            }
            "stdout" | "stderr" => {
                let expect = expect_for(&mut case, key);
                let exact = expect.exact.get_or_insert_with(String::new);
                exact.push_str(value);
                exact.push('\n');
            }
            "stdout-raw" | "stderr-raw" => {
                let text = unescape_str(value).map_err(err)?;
                let expect = expect_for(&mut case, key);
                expect.exact.get_or_insert_with(String::new).push_str(&text);
            }
            "stdout-contains" | "stderr-contains" => {
                let text = unescape_str(value).map_err(err)?;
                expect_for(&mut case, key).contains.push(text)
            }
            "stdout-not-contains" | "stderr-not-contains" => {
                let text = unescape_str(value).map_err(err)?;
                expect_for(&mut case, key).not_contains.push(text)
            }
            "stdout-starts-with" | "stderr-starts-with" => {
                let text = unescape_str(value).map_err(err)?;
                expect_for(&mut case, key).starts_with = Some(text)
            }
            "stdout-lines" | "stderr-lines" => {
                expect_for(&mut case, key).lines = Some(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| err("not a count".into()))?,
                )
            }
            "args" => case.args.extend(split_words(value).map_err(err)?),
            "flags" => case.flags.extend(split_words(value).map_err(err)?),
            "dir" => case.dirs.push(non_empty(value).map_err(err)?),
            "env" => {
                let (k, v) = value
                    .split_once('=')
                    .ok_or_else(|| err("expected NAME=VALUE".into()))?;
                case.env.push((k.trim().to_string(), v.to_string()));
            }
            "env-remove" => case.env_remove.push(non_empty(value).map_err(err)?),
            "stdin" => {
                let stdin = case.stdin.get_or_insert_with(String::new);
                stdin.push_str(value);
                stdin.push('\n');
            }
            "stdin-raw" => {
                let text = unescape_str(value).map_err(err)?;
                case.stdin.get_or_insert_with(String::new).push_str(&text);
            }
            "mkdir" => case
                .setup
                .push(Setup::Mkdir(non_empty(value).map_err(err)?)),
            "file" | "file-hex" => {
                let (path, content) = value
                    .split_once('=')
                    .ok_or_else(|| err("expected PATH = CONTENT".into()))?;
                let content = content.strip_prefix(' ').unwrap_or(content);
                let bytes = if key == "file" {
                    unescape(content).map_err(err)?
                } else {
                    from_hex(content).map_err(err)?
                };
                case.setup.push(Setup::File(
                    non_empty(path.trim()).map_err(err)?,
                    bytes,
                    key == "file",
                ));
            }
            "symlink" => {
                let (path, target) = value
                    .split_once("->")
                    .ok_or_else(|| err("expected PATH -> TARGET".into()))?;
                case.setup.push(Setup::Symlink(
                    non_empty(path.trim()).map_err(err)?,
                    non_empty(target.trim()).map_err(err)?,
                ));
            }
            "expect-file" => {
                let (path, content) = value
                    .split_once('=')
                    .ok_or_else(|| err("expected PATH = CONTENT".into()))?;
                let content = content.strip_prefix(' ').unwrap_or(content);
                let content = unescape_str(content).map_err(err)?;
                case.expect_files
                    .push((non_empty(path.trim()).map_err(err)?, Some(content)));
            }
            "expect-no-file" => case
                .expect_files
                .push((non_empty(value).map_err(err)?, None)),
            "rust" | "wasm" => {
                if is_wat {
                    return Err(err("only allowed in .case files".into()));
                }
                if module_given {
                    return Err(err("a case runs exactly one module".into()));
                }
                module_given = true;
                let value = non_empty(value).map_err(err)?;
                case.module = if key == "rust" {
                    Module::Rust(value)
                } else {
                    Module::Path(value)
                };
            }
            "timeout" => {
                let secs: f64 = value
                    .trim()
                    .parse()
                    .map_err(|_| err("not a number".into()))?;
                case.timeout = Duration::from_secs_f64(secs);
            }
            "skip" => case.skip = Some(value.to_string()),
            _ => return Err(format!("line {line_no}: unknown key `{key}`")),
        }
    }
    if !is_wat && !module_given {
        return Err("a .case file needs `rust: <bin>` or `wasm: <path>`".into());
    }
    Ok(case)
}

fn expect_for<'a>(case: &'a mut Case, key: &str) -> &'a mut Expect {
    if key.starts_with("stdout") {
        &mut case.stdout
    } else {
        &mut case.stderr
    }
}

fn non_empty(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        Err("empty value".into())
    } else {
        Ok(value.to_string())
    }
}

/// `\n \t \r \0 \\ \xNN` escapes.
fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some('n') => out.push(b'\n'),
            Some('t') => out.push(b'\t'),
            Some('r') => out.push(b'\r'),
            Some('0') => out.push(0),
            Some('\\') => out.push(b'\\'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                let byte =
                    u8::from_str_radix(&hex, 16).map_err(|_| format!("bad escape \\x{hex}"))?;
                out.push(byte);
            }
            other => return Err(format!("unknown escape \\{}", other.unwrap_or(' '))),
        }
    }
    Ok(out)
}

fn unescape_str(text: &str) -> Result<String, String> {
    String::from_utf8(unescape(text)?).map_err(|_| "not UTF-8".to_string())
}

fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() % 2 == 1 {
        return Err("odd number of hex digits".into());
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect()
}

/// Splits on whitespace; double quotes group words (`"a b"`), `\"` and `\\`
/// inside quotes are literal, `""` is an empty argument.
fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(words);
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            if c != '"' {
                word.push(c);
                continue;
            }
            loop {
                match chars.next() {
                    None => return Err("unterminated quote".into()),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(e @ ('"' | '\\')) => word.push(e),
                        Some(other) => {
                            word.push('\\');
                            word.push(other);
                        }
                        None => return Err("unterminated quote".into()),
                    },
                    Some(other) => word.push(other),
                }
            }
        }
        words.push(word);
    }
}

// ---------------------------------------------------------------------------
// Running

fn run_area(area: &str) {
    let cases = match load_area(area) {
        Ok(cases) => cases,
        Err(errors) => panic!("invalid case files:\n{}", errors.join("\n")),
    };
    let filters: Vec<String> = std::env::var("SPEC_FILTER")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let mut failures: Vec<(String, String)> = Vec::new();
    let (mut passed, mut skipped, mut filtered) = (0, 0, 0);
    let area_deadline = Instant::now() + AREA_BUDGET;
    for case in &cases {
        if !filters.is_empty() && !filters.iter().any(|f| case.name.contains(f.as_str())) {
            filtered += 1;
            continue;
        }
        if let Some(reason) = &case.skip {
            println!("case {} ... skipped ({reason})", case.name);
            skipped += 1;
            continue;
        }
        let start = Instant::now();
        let remaining = area_deadline.saturating_duration_since(start);
        if remaining.is_zero() {
            println!("case {} ... FAILED (not run)", case.name);
            let report = format!(
                "not run: the area's {}s budget was used up by earlier cases\n",
                AREA_BUDGET.as_secs()
            );
            failures.push((case.name.clone(), report));
            continue;
        }
        let result = run_case(case, remaining);
        let took = start.elapsed();
        match result {
            Ok(()) => {
                println!("case {} ... ok ({:.2}s)", case.name, took.as_secs_f64());
                passed += 1;
            }
            Err(report) => {
                println!("case {} ... FAILED ({:.2}s)", case.name, took.as_secs_f64());
                failures.push((case.name.clone(), report));
            }
        }
    }
    println!(
        "area {area}: {passed} passed, {} failed, {skipped} skipped, {filtered} filtered out",
        failures.len()
    );
    if !failures.is_empty() {
        let mut report = String::new();
        for (name, details) in &failures {
            let _ = writeln!(report, "==== {name} ====\n{details}");
        }
        let names: Vec<&str> = failures.iter().map(|(n, _)| n.as_str()).collect();
        panic!(
            "\n{report}{} of {} `{area}` cases failed: {}\n",
            failures.len(),
            passed + failures.len(),
            names.join(", ")
        );
    }
}

struct Output {
    status: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Paths substituted into case values: `$ROOT` is the case's temporary
/// directory, `$WORK` the working directory inside it (`$ROOT/work`),
/// `$CASES` the directory holding the case file, `$$` a literal `$`.
struct Vars {
    root: String,
    work: String,
    cases: String,
}

impl Vars {
    fn expand(&self, text: &str) -> String {
        text.replace("$$", "\u{0}")
            .replace("$ROOT", &self.root)
            .replace("$WORK", &self.work)
            .replace("$CASES", &self.cases)
            .replace('\u{0}', "$")
    }
}

fn runtime_binary() -> PathBuf {
    match std::env::var_os("SPEC_LUNATIC") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_BIN_EXE_lunatic")),
    }
}

fn run_case(case: &Case, max_time: Duration) -> Result<(), String> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let root = std::env::temp_dir().join(format!(
        "lunatic-spec-{}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        case.name.replace('/', "-")
    ));
    let work = root.join("work");
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(&work).map_err(|e| format!("creating {}: {e}", work.display()))?;
    let vars = Vars {
        root: root.to_string_lossy().into_owned(),
        work: work.to_string_lossy().into_owned(),
        cases: case.file.parent().unwrap().to_string_lossy().into_owned(),
    };
    let result = run_case_in(case, &work, &vars, case.timeout.min(max_time));
    let keep = std::env::var_os("SPEC_KEEP_TMP").is_some();
    match result {
        Ok(()) if !keep => {
            let _ = fs::remove_dir_all(&root);
            Ok(())
        }
        Ok(()) => Ok(()),
        Err(report) => Err(format!(
            "{report}temporary directory kept: {}\n",
            root.display()
        )),
    }
}

fn run_case_in(case: &Case, work: &Path, vars: &Vars, timeout: Duration) -> Result<(), String> {
    for step in &case.setup {
        setup(step, work, vars)?;
    }
    let module = match &case.module {
        Module::Wat(path) => path.clone(),
        Module::Path(path) => PathBuf::from(vars.expand(path)),
        Module::Rust(bin) => {
            let dir =
                guests_dir().map_err(|e| format!("building the Rust guests failed:\n{e}\n"))?;
            let wasm = dir.join(format!("{bin}.wasm"));
            if !wasm.is_file() {
                return Err(format!(
                    "{} does not exist: is `{bin}` a binary of spec-tests/rust?\n",
                    wasm.display()
                ));
            }
            wasm
        }
    };

    let mut argv: Vec<String> = vec!["run".into()];
    for dir in &case.dirs {
        argv.push("--dir".into());
        argv.push(vars.expand(dir));
    }
    argv.extend(case.flags.iter().map(|f| vars.expand(f)));
    argv.push(module.to_string_lossy().into_owned());
    argv.extend(case.args.iter().map(|a| vars.expand(a)));

    let binary = runtime_binary();
    let mut command = Command::new(&binary);
    command.args(&argv).current_dir(work);
    // A predictable environment: no logging configuration or backtraces from
    // the developer's shell, and nothing that looks like `cargo test` running
    // a Wasm test binary (CARGO_MANIFEST_DIR switches lunatic to test mode).
    for (name, _) in std::env::vars_os() {
        let name_str = name.to_string_lossy();
        if name_str.starts_with("CARGO")
            || name_str.starts_with("RUST_")
            || name_str.starts_with("SPEC_")
        {
            command.env_remove(&name);
        }
    }
    for name in &case.env_remove {
        command.env_remove(name);
    }
    for (name, value) in &case.env {
        command.env(name, vars.expand(value));
    }
    let stdin = case.stdin.as_ref().map(|s| vars.expand(s));
    let output = run_with_timeout(command, stdin, timeout)
        .map_err(|e| format!("could not start {}: {e}\n", binary.display()))?;

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if std::env::var_os("SPEC_VERBOSE").is_some() {
        println!(
            "---- {} ----\n$ lunatic {}\nstatus: {:?}\n-- stdout --\n{stdout}-- stderr --\n{stderr}",
            case.name,
            argv.join(" "),
            output.status
        );
    }

    let mut problems = Vec::new();
    if output.timed_out {
        problems.push(format!(
            "timed out after {:.1}s (killed)",
            timeout.as_secs_f64()
        ));
    } else if let Some(signal) = output.signal {
        problems.push(format!(
            "killed by signal {signal}, expected exit status {}",
            case.exit
        ));
    } else if output.status != Some(case.exit) {
        problems.push(format!(
            "exit status {}, expected {}",
            output.status.map_or("?".into(), |s| s.to_string()),
            case.exit
        ));
    }
    check_stream("stdout", &case.stdout, &stdout, vars, &mut problems);
    check_stream("stderr", &case.stderr, &stderr, vars, &mut problems);
    for (path, expected) in &case.expect_files {
        let full = work.join(vars.expand(path));
        let Some(expected) = expected else {
            // Anything at all (file, directory, dangling symlink) counts.
            if fs::symlink_metadata(&full).is_ok() {
                problems.push(format!("{path}: must not exist, but it does"));
            }
            continue;
        };
        let expected = vars.expand(expected);
        match fs::read(&full) {
            Ok(actual) if actual == expected.as_bytes() => {}
            Ok(actual) => problems.push(format!(
                "file {path}: expected {expected:?}, found {:?}",
                String::from_utf8_lossy(&actual)
            )),
            Err(e) => problems.push(format!("file {path}: expected it to exist ({e})")),
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let mut report = String::new();
    let _ = writeln!(report, "case file: {}", case.file.display());
    let _ = writeln!(
        report,
        "command:   (cd {} && {} {})",
        work.display(),
        binary.display(),
        argv.join(" ")
    );
    for problem in &problems {
        let _ = writeln!(report, "  - {problem}");
    }
    let _ = writeln!(report, "---- stdout ----\n{}", clip(&stdout));
    let _ = writeln!(report, "---- stderr ----\n{}", clip(&stderr));
    Err(report)
}

fn setup(step: &Setup, work: &Path, vars: &Vars) -> Result<(), String> {
    let path = |p: &str| work.join(vars.expand(p));
    let result = match step {
        Setup::Mkdir(p) => fs::create_dir_all(path(p)),
        Setup::File(p, content, expand) => {
            let full = path(p);
            if let Some(parent) = full.parent() {
                let _ = fs::create_dir_all(parent);
            }
            let content = match std::str::from_utf8(content) {
                Ok(text) if *expand => vars.expand(text).into_bytes(),
                _ => content.clone(),
            };
            fs::write(full, content)
        }
        Setup::Symlink(p, target) => symlink(&vars.expand(target), &path(p)),
    };
    result.map_err(|e| format!("setting up {step:?}: {e}\n"))
}

#[cfg(unix)]
fn symlink(target: &str, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(_target: &str, _link: &Path) -> std::io::Result<()> {
    Err(std::io::Error::other("symlinks are only set up on Unix"))
}

fn check_stream(
    name: &str,
    expect: &Expect,
    actual: &str,
    vars: &Vars,
    problems: &mut Vec<String>,
) {
    if let Some(exact) = &expect.exact {
        let exact = vars.expand(exact);
        if actual != exact {
            problems.push(format!("{name} differs:\n{}", diff(&exact, actual)));
        }
    }
    for needle in &expect.contains {
        let needle = vars.expand(needle);
        if !actual.contains(&needle) {
            problems.push(format!("{name} does not contain {needle:?}"));
        }
    }
    for needle in &expect.not_contains {
        let needle = vars.expand(needle);
        if actual.contains(&needle) {
            problems.push(format!("{name} contains {needle:?}, which it must not"));
        }
    }
    if let Some(prefix) = &expect.starts_with {
        let prefix = vars.expand(prefix);
        if !actual.starts_with(&prefix) {
            problems.push(format!("{name} does not start with {prefix:?}"));
        }
    }
    if let Some(lines) = expect.lines {
        let count = actual.lines().count();
        if count != lines {
            problems.push(format!("{name} has {count} lines, expected {lines}"));
        }
    }
}

/// A compact line diff: the first differing line and its neighbourhood.
fn diff(expected: &str, actual: &str) -> String {
    let exp: Vec<&str> = expected.split_inclusive('\n').collect();
    let act: Vec<&str> = actual.split_inclusive('\n').collect();
    let first = exp
        .iter()
        .zip(act.iter())
        .position(|(a, b)| a != b)
        .unwrap_or(exp.len().min(act.len()));
    let from = first.saturating_sub(2);
    let mut out = String::new();
    let _ = writeln!(out, "    first difference at line {}", first + 1);
    for i in from..(first + 3).min(exp.len().max(act.len())) {
        let e = exp.get(i).copied();
        let a = act.get(i).copied();
        if e == a {
            let _ = writeln!(out, "      {:>4}   {:?}", i + 1, e.unwrap_or(""));
        } else {
            if let Some(e) = e {
                let _ = writeln!(out, "    - {:>4}   {e:?}", i + 1);
            }
            if let Some(a) = a {
                let _ = writeln!(out, "    + {:>4}   {a:?}", i + 1);
            }
        }
    }
    let _ = write!(
        out,
        "    (expected {} lines, got {}; - expected, + actual)",
        exp.len(),
        act.len()
    );
    out
}

fn clip(text: &str) -> String {
    if text.len() <= REPORT_LIMIT {
        return text.to_string();
    }
    let mut end = REPORT_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[... {} more bytes]", &text[..end], text.len() - end)
}

fn run_with_timeout(
    mut command: Command,
    stdin: Option<String>,
    timeout: Duration,
) -> std::io::Result<Output> {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn()?;
    let stdin_writer = match (stdin, child.stdin.take()) {
        (Some(data), Some(mut pipe)) => Some(std::thread::spawn(move || {
            // The guest may exit without reading everything: ignore EPIPE.
            let _ = pipe.write_all(data.as_bytes());
        })),
        _ => None,
    };
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().unwrap()));
    let stderr = read_all(Box::new(child.stderr.take().unwrap()));

    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if let Some(writer) = stdin_writer {
        let _ = writer.join();
    }
    Ok(Output {
        status: status.code(),
        signal: signal_of(&status),
        timed_out,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

#[cfg(unix)]
fn signal_of(status: &std::process::ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(status)
}

#[cfg(not(unix))]
fn signal_of(_: &std::process::ExitStatus) -> Option<i32> {
    None
}

// ---------------------------------------------------------------------------
// Rust guests

/// Directory holding the built `spec-tests/rust` binaries (`<bin>.wasm`);
/// built at most once per test run, whichever area asks first.
fn guests_dir() -> Result<&'static Path, String> {
    static GUESTS: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    GUESTS
        .get_or_init(build_guests)
        .as_deref()
        .map_err(Clone::clone)
}

fn build_guests() -> Result<PathBuf, String> {
    let crate_dir = manifest_dir().join("spec-tests").join("rust");
    let target_dir = manifest_dir().join("target").join("guests");
    ensure_wasm_target()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("spec: building the Rust guests in {}", crate_dir.display());
    let start = Instant::now();
    let output = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "--target",
            GUEST_TARGET,
            "--manifest-path",
        ])
        .arg(crate_dir.join("Cargo.toml"))
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", &target_dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run {}: {e}", cargo.to_string_lossy()))?;
    if !output.status.success() {
        return Err(format!(
            "cargo build of spec-tests/rust failed ({}):\n{}",
            output.status,
            clip(&String::from_utf8_lossy(&output.stderr))
        ));
    }
    eprintln!(
        "spec: Rust guests built in {:.1}s",
        start.elapsed().as_secs_f64()
    );
    Ok(target_dir.join(GUEST_TARGET).join("release"))
}

/// Installs the guest target with rustup if this toolchain does not have it.
fn ensure_wasm_target() -> Result<(), String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let libdir = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", GUEST_TARGET])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = libdir
        .and_then(|dir| fs::read_dir(dir).ok())
        .is_some_and(|mut entries| entries.next().is_some());
    if installed {
        return Ok(());
    }
    eprintln!("spec: installing the {GUEST_TARGET} target with rustup");
    let status = Command::new("rustup")
        .args(["target", "add", GUEST_TARGET])
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("`rustup target add {GUEST_TARGET}` could not run: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`rustup target add {GUEST_TARGET}` failed: {status}"
        ))
    }
}
