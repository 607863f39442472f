//! The libtest-style arguments cargo passes after the test binary, and which
//! tests they select.
//!
//! Parsing never fails: libtest flags this runtime does not implement
//! (`--test-threads=N`, `--color X`, `-Z x`, `--format json`, ...) are
//! accepted and ignored, so that `cargo test -q -- --test-threads=1` works.

use super::discovery::TestCase;
use std::path::PathBuf;

/// Whether to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Color {
    Always,
    Never,
    /// Only when stdout is a terminal.
    Auto,
}

/// What the arguments ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TestArgs {
    /// Run only tests whose name contains this (or, with `exact`, equals it).
    pub(crate) filter: Option<String>,
    /// `--skip`: leave out tests whose name contains (with `exact`: equals) one of these.
    pub(crate) skip: Vec<String>,
    pub(crate) exact: bool,
    /// Run only the ignored tests.
    pub(crate) ignored: bool,
    /// Run the ignored tests too.
    pub(crate) include_ignored: bool,
    pub(crate) list: bool,
    /// `--format terse` (with `--list`: bare `<name>: test` lines; otherwise like `-q`).
    pub(crate) terse: bool,
    pub(crate) quiet: bool,
    pub(crate) nocapture: bool,
    pub(crate) show_output: bool,
    pub(crate) color: Color,
    pub(crate) help: bool,
    /// `--dir` given among the test arguments (`DIR` or `HOST::GUEST`).
    pub(crate) dirs: Vec<PathBuf>,
    /// `--no-cwd` given among the test arguments.
    pub(crate) no_cwd: bool,
    /// Positional arguments after the filter, and everything after `--`:
    /// the test processes' argv.
    pub(crate) guest_args: Vec<String>,
}

impl Default for TestArgs {
    fn default() -> Self {
        Self {
            filter: None,
            skip: Vec::new(),
            exact: false,
            ignored: false,
            include_ignored: false,
            list: false,
            terse: false,
            quiet: false,
            nocapture: false,
            show_output: false,
            color: Color::Always,
            help: false,
            dirs: Vec::new(),
            no_cwd: false,
            guest_args: Vec::new(),
        }
    }
}

/// libtest options that take a value (`--opt value` or `--opt=value`); the
/// ones not handled here are ignored together with their value.
const OPTIONS_WITH_VALUE: &[&str] = &[
    "--skip",
    "--format",
    "--color",
    "--dir",
    "--test-threads",
    "--logfile",
    "--shuffle-seed",
    "-Z",
];

impl TestArgs {
    /// Reads libtest arguments.
    pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Self {
        let mut parsed = TestArgs::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "--" {
                parsed.guest_args.extend(args.by_ref());
                break;
            }
            if !arg.starts_with('-') || arg == "-" {
                match parsed.filter {
                    None => parsed.filter = Some(arg),
                    Some(_) => parsed.guest_args.push(arg),
                }
                continue;
            }
            let (name, inline_value) = match arg.split_once('=') {
                Some((name, value)) if name.starts_with("--") => {
                    (name.to_string(), Some(value.to_string()))
                }
                _ if arg.starts_with("-Z") && arg.len() > 2 => {
                    ("-Z".to_string(), Some(arg[2..].to_string()))
                }
                _ => (arg.clone(), None),
            };
            if OPTIONS_WITH_VALUE.contains(&name.as_str()) {
                let value = inline_value.or_else(|| args.next()).unwrap_or_default();
                parsed.option(&name, value);
            } else {
                parsed.flag(&name);
            }
        }
        parsed
    }

    fn option(&mut self, name: &str, value: String) {
        match name {
            "--skip" => self.skip.push(value),
            "--format" => self.terse = value == "terse",
            "--color" => {
                self.color = match value.as_str() {
                    "never" => Color::Never,
                    "auto" => Color::Auto,
                    _ => Color::Always,
                }
            }
            "--dir" => self.dirs.push(PathBuf::from(value)),
            _ => log::debug!(target: "lunatic::test", "ignoring test option {name} {value}"),
        }
    }

    fn flag(&mut self, name: &str) {
        match name {
            "--exact" => self.exact = true,
            "--ignored" => self.ignored = true,
            "--include-ignored" => self.include_ignored = true,
            "--list" => self.list = true,
            "--nocapture" | "--no-capture" => self.nocapture = true,
            "--show-output" => self.show_output = true,
            "-q" | "--quiet" => self.quiet = true,
            "-h" | "--help" => self.help = true,
            "--no-cwd" => self.no_cwd = true,
            _ => log::debug!(target: "lunatic::test", "ignoring test flag {name}"),
        }
    }

    /// The one-character-per-test output (`-q`, or `--format terse` when running).
    pub(crate) fn terse_output(&self) -> bool {
        self.quiet || self.terse
    }

    fn matches(&self, pattern: &str, name: &str) -> bool {
        if self.exact {
            // Names include the crate (`krate::tests::t`); libtest's do not,
            // so `--exact tests::t` is accepted too.
            name == pattern || name.split_once("::").is_some_and(|(_, rest)| rest == pattern)
        } else {
            name.contains(pattern)
        }
    }

    /// What to do with a test.
    pub(crate) fn select(&self, test: &TestCase) -> Selection {
        let wanted = self.filter.as_deref().is_none_or(|f| self.matches(f, &test.name));
        let skipped = self.skip.iter().any(|s| self.matches(s, &test.name));
        if !wanted || skipped || (self.ignored && !self.include_ignored && !test.ignore) {
            Selection::FilteredOut
        } else if test.ignore && !self.ignored && !self.include_ignored {
            Selection::Ignored
        } else {
            Selection::Run
        }
    }
}

/// The fate of one test under the given arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Selection {
    Run,
    /// Reported as ignored, not run.
    Ignored,
    /// Not mentioned; counted as filtered out.
    FilteredOut,
}

/// Help for `lunatic test --help`-style requests made through libtest flags.
pub(crate) const HELP: &str = "\
Usage: lunatic test [--dir DIR|HOST::GUEST]... [--no-cwd] <TEST.wasm> [FILTER] [OPTIONS] [-- ARGS...]

Runs the #[lunatic::test] functions of a test binary, each as its own process.

Options:
    --exact             match FILTER (and --skip) exactly instead of as a substring
    --skip PATTERN      leave out tests whose name contains PATTERN (repeatable)
    --ignored           run only the ignored tests
    --include-ignored   run the ignored tests too
    --list              list the selected tests instead of running them
    --format terse      with --list: only `<name>: test` lines; otherwise like -q
    --nocapture         print test output as it is written
    --show-output       print the output of passing tests too
    -q, --quiet         one character per test
    --color auto|always|never
                        colour the results (default: always)
Other libtest options are accepted and ignored. Further positional arguments
and everything after `--` become the test processes' arguments.
";

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> TestArgs {
        TestArgs::parse(args.iter().map(|s| s.to_string()))
    }

    fn test(name: &str, ignore: bool) -> TestCase {
        TestCase { name: name.into(), export: String::new(), ignore, should_panic: None }
    }

    #[test]
    fn flags_and_filter() {
        let a = parse(&["tests::a", "--exact", "--nocapture", "--show-output", "-q"]);
        assert_eq!(a.filter.as_deref(), Some("tests::a"));
        assert!(a.exact && a.nocapture && a.show_output && a.quiet && !a.list);
        let a = parse(&["--list", "--format", "terse", "--ignored"]);
        assert!(a.list && a.terse && a.ignored && a.filter.is_none());
        let a = parse(&["--format=terse", "--include-ignored", "--quiet"]);
        assert!(a.terse && a.include_ignored && a.quiet);
    }

    #[test]
    fn unknown_flags_are_ignored() {
        let a = parse(&[
            "--test-threads=1",
            "--test-threads",
            "4",
            "--color",
            "never",
            "-Z",
            "unstable-options",
            "-Zx",
            "--format",
            "json",
            "--report-time",
            "--shuffle",
            "-x",
            "name",
        ]);
        assert_eq!(a.filter.as_deref(), Some("name"));
        assert_eq!(a.color, Color::Never);
        assert!(!a.terse);
        assert!(a.guest_args.is_empty());
    }

    #[test]
    fn guest_args_and_dirs() {
        let a = parse(&["f", "x", "--dir", "/tmp", "--dir=/var", "--", "--exact", "y"]);
        assert_eq!(a.filter.as_deref(), Some("f"));
        assert_eq!(a.guest_args, ["x", "--exact", "y"]);
        assert_eq!(a.dirs, [PathBuf::from("/tmp"), PathBuf::from("/var")]);
        let a = parse(&["--dir", "fixture::/", "--no-cwd", "--dir=/srv::/data"]);
        assert_eq!(a.dirs, [PathBuf::from("fixture::/"), PathBuf::from("/srv::/data")]);
        assert!(a.no_cwd);
        assert!(!a.exact);
        assert_eq!(parse(&[]), TestArgs::default());
    }

    #[test]
    fn filtering() {
        let plain = test("k::tests::add_two", false);
        let other = test("k::tests::add_three", false);
        let ign = test("k::tests::slow", true);

        let a = parse(&[]);
        assert_eq!(a.select(&plain), Selection::Run);
        assert_eq!(a.select(&ign), Selection::Ignored);

        let a = parse(&["add"]);
        assert_eq!(a.select(&plain), Selection::Run);
        assert_eq!(a.select(&other), Selection::Run);
        assert_eq!(a.select(&ign), Selection::FilteredOut);

        let a = parse(&["two"]);
        assert_eq!(a.select(&other), Selection::FilteredOut);

        let a = parse(&["--exact", "k::tests::add"]);
        assert_eq!(a.select(&plain), Selection::FilteredOut);
        let a = parse(&["--exact", "k::tests::add_two"]);
        assert_eq!(a.select(&plain), Selection::Run);
        assert_eq!(a.select(&other), Selection::FilteredOut);
        let a = parse(&["tests::add_two", "--exact"]);
        assert_eq!(a.select(&plain), Selection::Run);
        let a = parse(&["--exact", "add_two"]);
        assert_eq!(a.select(&plain), Selection::FilteredOut);

        let a = parse(&["--ignored"]);
        assert_eq!(a.select(&plain), Selection::FilteredOut);
        assert_eq!(a.select(&ign), Selection::Run);
        let a = parse(&["--ignored", "nothing"]);
        assert_eq!(a.select(&ign), Selection::FilteredOut);

        let a = parse(&["--include-ignored"]);
        assert_eq!(a.select(&plain), Selection::Run);
        assert_eq!(a.select(&ign), Selection::Run);

        let a = parse(&["--skip", "three", "--skip=slow"]);
        assert_eq!(a.select(&plain), Selection::Run);
        assert_eq!(a.select(&other), Selection::FilteredOut);
        assert_eq!(a.select(&ign), Selection::FilteredOut);
    }
}
