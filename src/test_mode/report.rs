//! libtest-style output: `running N tests`, one line (or, with `-q`, one
//! character) per result, the output of failed tests, the summary line.

use super::discovery::TestCase;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::Duration;

const GREEN: &str = "\x1b[92m";
const RED: &str = "\x1b[91m";
const YELLOW: &str = "\x1b[93m";
const RESET: &str = "\x1b[0m";

/// libtest starts a new line after this many results in quiet mode.
const TERSE_COLUMNS: usize = 88;

/// How a test turned out, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    Failed,
    Ignored,
}

/// A finished test and the text shown for it in the `successes:` or
/// `failures:` section (its captured output plus notes; may be empty).
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    pub(crate) name: String,
    pub(crate) output: String,
}

/// The totals for the summary line.
#[derive(Debug, Clone, Default)]
pub(crate) struct Summary {
    pub(crate) passed: usize,
    pub(crate) failed: usize,
    pub(crate) ignored: usize,
    pub(crate) filtered_out: usize,
    pub(crate) elapsed: Duration,
}

/// Writes the report to the runtime's stdout as results come in.
pub(crate) struct Reporter {
    terse: bool,
    color: bool,
    total: usize,
    /// Results reported so far.
    done: usize,
    /// Characters on the current line (quiet mode).
    column: usize,
}

impl Reporter {
    pub(crate) fn new(terse: bool, color: bool) -> Self {
        Self { terse, color, total: 0, done: 0, column: 0 }
    }

    fn paint(&self, color: &str, text: &str) -> String {
        if self.color {
            format!("{color}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    fn print(&self, text: &str) {
        let mut out = io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// `running N tests`.
    pub(crate) fn start(&mut self, total: usize) {
        self.total = total;
        let plural = if total == 1 { "" } else { "s" };
        self.print(&format!("\nrunning {total} test{plural}\n"));
    }

    /// One result, as it comes in.
    pub(crate) fn result(&mut self, test: &TestCase, status: Status) {
        let text = if self.terse {
            self.terse_result(test, status)
        } else {
            self.pretty_result(test, status)
        };
        self.print(&text);
    }

    fn pretty_result(&mut self, test: &TestCase, status: Status) -> String {
        self.done += 1;
        let suffix = if test.should_panic.is_some() { " - should panic" } else { "" };
        let status = match status {
            Status::Ok => self.paint(GREEN, "ok"),
            Status::Failed => self.paint(RED, "FAILED"),
            Status::Ignored => self.paint(YELLOW, "ignored"),
        };
        format!("test {}{suffix} ... {status}\n", test.name)
    }

    /// libtest's quiet format: `.` or `i` per result, a progress count every
    /// 88 results, and each failure on its own line as `<name> --- FAILED`.
    fn terse_result(&mut self, test: &TestCase, status: Status) -> String {
        let mut text = String::new();
        let mark = match status {
            Status::Ok => self.paint(GREEN, "."),
            Status::Ignored => self.paint(YELLOW, "i"),
            Status::Failed => {
                if self.column > 0 {
                    text.push_str(&self.progress());
                }
                self.done += 1;
                let _ = writeln!(text, "{} --- {}", test.name, self.paint(RED, "FAILED"));
                return text;
            }
        };
        text.push_str(&mark);
        self.done += 1;
        self.column += 1;
        if self.column == TERSE_COLUMNS {
            text.push_str(&self.progress());
        }
        text
    }

    fn progress(&mut self) -> String {
        self.column = 0;
        format!(" {}/{}\n", self.done, self.total)
    }

    /// The `successes:` (with `--show-output`) and `failures:` sections and
    /// the summary line.
    pub(crate) fn finish(
        &mut self,
        successes: Option<&[Finished]>,
        failures: &[Finished],
        summary: &Summary,
    ) {
        let mut text = String::new();
        if let Some(successes) = successes {
            write_section(&mut text, "successes", successes);
        }
        if !failures.is_empty() {
            write_section(&mut text, "failures", failures);
        }
        let result =
            if summary.failed == 0 { self.paint(GREEN, "ok") } else { self.paint(RED, "FAILED") };
        let _ = writeln!(
            text,
            "\ntest result: {result}. {} passed; {} failed; {} ignored; 0 measured; {} filtered out; finished in {:.2}s\n",
            summary.passed,
            summary.failed,
            summary.ignored,
            summary.filtered_out,
            summary.elapsed.as_secs_f64(),
        );
        self.print(&text);
    }
}

/// `\n<title>:`, a `---- <name> stdout ----` block for each test with
/// output, then `\n<title>:` again and the names (sorted, as libtest does).
fn write_section(text: &mut String, title: &str, tests: &[Finished]) {
    let _ = writeln!(text, "\n{title}:");
    for test in tests.iter().filter(|t| !t.output.is_empty()) {
        let _ = writeln!(text, "\n---- {} stdout ----", test.name);
        text.push_str(&test.output);
        if !test.output.ends_with('\n') {
            text.push('\n');
        }
    }
    let _ = writeln!(text, "\n{title}:");
    let mut names: Vec<&str> = tests.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    for name in names {
        let _ = writeln!(text, "    {name}");
    }
}

/// `--list`: `<name>: test` per test; without `--format terse` also libtest's
/// count line.
pub(crate) fn list(tests: &[&TestCase], terse: bool) -> String {
    let mut text = String::new();
    for test in tests {
        let _ = writeln!(text, "{}: test", test.name);
    }
    if !terse {
        let plural = if tests.len() == 1 { "" } else { "s" };
        if !tests.is_empty() {
            text.push('\n');
        }
        let _ = writeln!(text, "{} test{plural}, 0 benchmarks", tests.len());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(name: &str, should_panic: bool) -> TestCase {
        TestCase {
            name: name.into(),
            export: String::new(),
            ignore: false,
            should_panic: should_panic.then(String::new),
        }
    }

    #[test]
    fn pretty_lines() {
        let mut r = Reporter::new(false, true);
        r.total = 3;
        assert_eq!(
            r.pretty_result(&test("k::a", false), Status::Ok),
            "test k::a ... \x1b[92mok\x1b[0m\n"
        );
        assert_eq!(
            r.pretty_result(&test("k::b", true), Status::Failed),
            "test k::b - should panic ... \x1b[91mFAILED\x1b[0m\n"
        );
        let mut r = Reporter::new(false, false);
        assert_eq!(
            r.pretty_result(&test("k::c", false), Status::Ignored),
            "test k::c ... ignored\n"
        );
    }

    #[test]
    fn terse_marks() {
        let mut r = Reporter::new(true, false);
        r.total = 200;
        let t = test("k::t", false);
        assert_eq!(r.terse_result(&t, Status::Ignored), "i");
        assert_eq!(r.terse_result(&t, Status::Failed), " 1/200\nk::t --- FAILED\n");
        assert_eq!(r.terse_result(&t, Status::Failed), "k::t --- FAILED\n");
        let line: String = (0..TERSE_COLUMNS).map(|_| r.terse_result(&t, Status::Ok)).collect();
        assert_eq!(line, format!("{} 91/200\n", ".".repeat(TERSE_COLUMNS)));
    }

    #[test]
    fn sections() {
        let tests = [
            Finished { name: "k::z".into(), output: "out\nnote: x".into() },
            Finished { name: "k::a".into(), output: String::new() },
        ];
        let mut text = String::new();
        write_section(&mut text, "failures", &tests);
        assert_eq!(
            text,
            "\nfailures:\n\n---- k::z stdout ----\nout\nnote: x\n\nfailures:\n    k::a\n    k::z\n"
        );
    }

    #[test]
    fn listing() {
        let (a, b) = (test("k::a", false), test("k::b", true));
        assert_eq!(list(&[&a, &b], true), "k::a: test\nk::b: test\n");
        assert_eq!(list(&[&a], false), "k::a: test\n\n1 test, 0 benchmarks\n");
        assert_eq!(list(&[], false), "0 tests, 0 benchmarks\n");
    }
}
