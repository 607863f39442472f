//! Deciding whether a finished test passed: how its process ended, whether
//! it should have panicked, and the panic message it printed.

/// The verdict on one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Passed,
    /// Failed; the note (if any) is printed after the test's output.
    Failed(Option<String>),
}

pub(crate) const NOTE_DID_NOT_PANIC: &str = "note: test did not panic as expected";
pub(crate) const NOTE_TRAPPED: &str = "note: Process trapped or received kill signal";

/// Classifies a test whose process ended; `failed` tells whether it ended
/// in failure (trap, kill, non-zero exit), `own_output` is what the test
/// process itself wrote, `should_panic` the expected substring of a
/// `#[should_panic]` test.
pub(crate) fn classify(
    should_panic: Option<&str>,
    failed: bool,
    own_output: &str,
    nocapture: bool,
) -> Verdict {
    if !failed {
        return match should_panic {
            None => Verdict::Passed,
            Some(_) => Verdict::Failed(Some(NOTE_DID_NOT_PANIC.to_string())),
        };
    }
    match (should_panic, panic_message(own_output)) {
        (None, Some(_)) => Verdict::Failed(None),
        (None, None) => Verdict::Failed((!nocapture).then(|| NOTE_TRAPPED.to_string())),
        (Some(expected), Some(message)) if message.contains(expected) => Verdict::Passed,
        (Some(expected), Some(message)) => Verdict::Failed(Some(format!(
            "note: panic did not contain expected string\n      panic message: {message:?}\n expected substring: {expected:?}"
        ))),
        (Some(""), None) => Verdict::Passed,
        (Some(expected), None) => Verdict::Failed(Some(format!(
            "note: Process received kill signal, but expected a panic that contains `{expected}`"
        ))),
    }
}

/// Finds the first panic message Rust's default panic hook printed in
/// `text`, in either format:
///
/// * before Rust 1.73: `thread 'main' panicked at '<message>', src/lib.rs:3:5`
/// * since Rust 1.73: `thread 'main' panicked at src/lib.rs:3:5:` followed by
///   the message on the next lines, up to a `note: run with `RUST_BACKTRACE`
///   line, a `stack backtrace:` line or the end of the text.
///
/// Newer versions also print a thread ID (`thread '<unnamed>' (1) panicked`).
pub(crate) fn panic_message(text: &str) -> Option<String> {
    let mut line_start = 0;
    while line_start < text.len() {
        let line_end = text[line_start..].find('\n').map_or(text.len(), |i| line_start + i);
        let line = &text[line_start..line_end];
        if line.starts_with("thread '") {
            if let Some(at) = line.find(" panicked at ") {
                let after = &text[line_start + at + " panicked at ".len()..];
                let message = after
                    .strip_prefix('\'')
                    .and_then(message_before_location)
                    .or_else(|| message_after_location(after));
                if message.is_some() {
                    return message;
                }
            }
        }
        line_start = line_end + 1;
    }
    None
}

/// Old format: `<message>', <location>` where the location ends its line
/// (the message may span lines; the location never contains `', `).
fn message_before_location(text: &str) -> Option<String> {
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        if let Some(i) = content.rfind("', ") {
            if is_location(&content[i + 3..]) {
                return Some(text[..line_start + i].to_string());
            }
        }
        line_start += line.len();
    }
    None
}

/// New format: `<location>:` ending the line, the message on the next lines.
fn message_after_location(text: &str) -> Option<String> {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let location = first.trim_end_matches('\r').strip_suffix(':')?;
    if !is_location(location) {
        return None;
    }
    let mut message = String::new();
    for line in rest.split_inclusive('\n') {
        if line.starts_with("note: run with `RUST_BACKTRACE")
            || line.starts_with("stack backtrace:")
        {
            break;
        }
        message.push_str(line);
    }
    let message = message.strip_suffix('\n').unwrap_or(&message);
    Some(message.strip_suffix('\r').unwrap_or(message).to_string())
}

/// `file:line:column` (or `file:line`, as very old Rust printed).
fn is_location(text: &str) -> bool {
    let numbers = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mut parts = text.rsplitn(3, ':');
    let (Some(last), Some(middle)) = (parts.next(), parts.next()) else { return false };
    match parts.next() {
        Some(file) if numbers(middle) && !file.is_empty() => numbers(last),
        _ => !middle.is_empty() && numbers(last),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: &str = "about to fail\n\nthread '<unnamed>' (1) panicked at src/main.rs:35:45:\nassertion `left == right` failed\n  left: 1\n right: 2\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
    const OLD: &str = "about to fail\nthread '<unnamed>' panicked at 'Word contained is present', src/lib.rs:6:5\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";

    #[test]
    fn new_format() {
        assert_eq!(
            panic_message(NEW).as_deref(),
            Some("assertion `left == right` failed\n  left: 1\n right: 2")
        );
        let t = "thread 'main' panicked at src/main.rs:23:19:\na # b\n";
        assert_eq!(panic_message(t).as_deref(), Some("a # b"));
        // To the end of the text when there is no note line.
        let t = "thread 'x' panicked at /abs/dir/src/x.rs:1:2:\nline1\nline2";
        assert_eq!(panic_message(t).as_deref(), Some("line1\nline2"));
        let t = "thread '<unnamed>' panicked at src/lib.rs:2:3:\nboom\nstack backtrace:\n  0: x\n";
        assert_eq!(panic_message(t).as_deref(), Some("boom"));
        // Empty message.
        let t =
            "thread 'main' panicked at src/lib.rs:2:3:\n\nnote: run with `RUST_BACKTRACE=1` x\n";
        assert_eq!(panic_message(t).as_deref(), Some(""));
        // A message that itself looks like an old-style location is still new-style.
        let t = "thread 'main' panicked at src/lib.rs:2:3:\n'quoted', a:1:2\n";
        assert_eq!(panic_message(t).as_deref(), Some("'quoted', a:1:2"));
    }

    #[test]
    fn old_format() {
        assert_eq!(panic_message(OLD).as_deref(), Some("Word contained is present"));
        let t = "thread 'main' panicked at 'a', 'b', c', src/main.rs:1:1\n";
        assert_eq!(panic_message(t).as_deref(), Some("a', 'b', c"));
        let t = "thread 'main' panicked at 'multi\nline', src/main.rs:10:5\nnote: x\n";
        assert_eq!(panic_message(t).as_deref(), Some("multi\nline"));
        let t = "thread 'main' panicked at 'very old', src/main.rs:10\n";
        assert_eq!(panic_message(t).as_deref(), Some("very old"));
        let t = "thread 'main' panicked at '#', C:\\src\\main.rs:10:5\r\n";
        assert_eq!(panic_message(t).as_deref(), Some("#"));
    }

    #[test]
    fn no_panic() {
        assert_eq!(panic_message(""), None);
        assert_eq!(panic_message("hello\nworld\n"), None);
        assert_eq!(panic_message("my thread 'x' panicked at src/a.rs:1:2:\nno\n"), None);
        assert_eq!(panic_message("thread 'x' panicked at nowhere\n"), None);
        assert_eq!(panic_message("thread 'x' panicked at 'unterminated\n"), None);
    }

    #[test]
    fn first_panic_wins() {
        let t = format!("{NEW}{OLD}");
        assert!(panic_message(&t).unwrap().starts_with("assertion"));
    }

    #[test]
    fn classification() {
        use Verdict::*;
        // Finished normally.
        assert_eq!(classify(None, false, "", false), Passed);
        assert_eq!(classify(Some(""), false, "", false), Failed(Some(NOTE_DID_NOT_PANIC.into())));
        assert_eq!(classify(Some("x"), false, NEW, false), Failed(Some(NOTE_DID_NOT_PANIC.into())));
        // Failed with a panic message.
        assert_eq!(classify(None, true, NEW, false), Failed(None));
        assert_eq!(classify(None, true, OLD, true), Failed(None));
        assert_eq!(classify(Some(""), true, NEW, false), Passed);
        assert_eq!(classify(Some("left == right"), true, NEW, false), Passed);
        assert_eq!(classify(Some("contained"), true, OLD, false), Passed);
        assert_eq!(
            classify(Some("nope"), true, NEW, false),
            Failed(Some(
                "note: panic did not contain expected string\n      panic message: \"assertion `left == right` failed\\n  left: 1\\n right: 2\"\n expected substring: \"nope\"".into()
            ))
        );
        // Failed without a panic message (trap, kill, exit code).
        assert_eq!(classify(None, true, "out\n", false), Failed(Some(NOTE_TRAPPED.into())));
        assert_eq!(classify(None, true, "out\n", true), Failed(None));
        assert_eq!(classify(Some(""), true, "", false), Passed);
        assert_eq!(
            classify(Some("a # b"), true, "", false),
            Failed(Some(
                "note: Process received kill signal, but expected a panic that contains `a # b`"
                    .into()
            ))
        );
    }
}
