//! Finding the tests of a test binary: `#lunatic_test_*` function exports,
//! their names and attributes, and whether a module is a test binary at all.

use std::path::Path;

/// Every export the `#[lunatic::test]` macro produces starts with this.
pub(crate) const TEST_PREFIX: &str = "#lunatic_test_";
const IGNORE_MARK: &str = "#ignore_";
const PANIC_MARK: &str = "#panic_";

/// One `#[lunatic::test]` function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TestCase {
    /// The full path, `crate::engine::module::function`: what is printed and filtered on.
    pub(crate) name: String,
    /// The export to call.
    pub(crate) export: String,
    /// `#[ignore]`.
    pub(crate) ignore: bool,
    /// `#[should_panic]`, with the `expected` substring (empty if none).
    pub(crate) should_panic: Option<String>,
}

/// Parses an export name of the form
/// `#lunatic_test_[#ignore_][#panic_<expected>#]<path>`; `None` for other exports.
///
/// In `<expected>`, a `#` is written `\#`; it ends at the first `#` that is
/// not escaped.
pub(crate) fn parse_export(export: &str) -> Option<TestCase> {
    let mut rest = export.strip_prefix(TEST_PREFIX)?;
    let ignore = match rest.strip_prefix(IGNORE_MARK) {
        Some(after) => {
            rest = after;
            true
        }
        None => false,
    };
    let should_panic = match rest.strip_prefix(PANIC_MARK) {
        Some(after) => {
            let (expected, path) = split_expected(after)?;
            rest = path;
            Some(expected)
        }
        None => None,
    };
    if rest.is_empty() {
        return None;
    }
    Some(TestCase { name: rest.to_string(), export: export.to_string(), ignore, should_panic })
}

/// Splits `<expected>#<path>` at the first unescaped `#`, unescaping `\#`.
fn split_expected(text: &str) -> Option<(String, &str)> {
    let mut expected = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '#' => return Some((expected, &text[at + 1..])),
            '\\' if matches!(chars.peek(), Some((_, '#'))) => {
                chars.next();
                expected.push('#');
            }
            c => expected.push(c),
        }
    }
    None
}

/// The tests among a compiled module's function exports, sorted by name.
pub(crate) fn discover(module: &wasmi::Module) -> Vec<TestCase> {
    let mut tests: Vec<TestCase> = module
        .exports()
        .filter(|e| matches!(e.ty(), wasmi::ExternType::Func(_)))
        .filter_map(|e| parse_export(e.name()))
        .collect();
    tests.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.export.cmp(&b.export)));
    tests
}

/// Whether `path` is where cargo puts test binaries for a wasm target:
/// `.../wasm32-<anything>/<profile>/deps/<name>.wasm`.
pub(crate) fn looks_like_test_path(path: &Path) -> bool {
    let is_wasm = path.extension().is_some_and(|e| e == "wasm");
    let mut dirs = path.parent().into_iter().flat_map(Path::components).rev();
    let deps = dirs.next().is_some_and(|c| c.as_os_str() == "deps");
    let _profile = dirs.next();
    let target = dirs
        .next()
        .and_then(|c| c.as_os_str().to_str().map(|s| s.starts_with("wasm32-")))
        .unwrap_or(false);
    is_wasm && deps && target
}

/// Names of the function exports of a Wasm binary, read straight from its
/// export section without compiling it. Returns what could be read (nothing
/// for text modules or garbage); compiling reports real errors later.
pub(crate) fn function_exports(bytes: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let _ = read_function_exports(bytes, &mut names);
    names
}

fn read_function_exports(bytes: &[u8], names: &mut Vec<String>) -> Option<()> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(4)? != b"\0asm" || r.take(4)? != [1, 0, 0, 0] {
        return None;
    }
    while r.at < bytes.len() {
        let id = r.byte()?;
        let size = r.leb()? as usize;
        let body = r.take(size)?;
        if id != 7 {
            continue;
        }
        let mut s = Reader { bytes: body, at: 0 };
        for _ in 0..s.leb()? {
            let len = s.leb()? as usize;
            let name = s.take(len)?;
            let kind = s.byte()?;
            s.leb()?;
            if kind == 0 {
                names.push(String::from_utf8_lossy(name).into_owned());
            }
        }
        return Some(());
    }
    Some(())
}

/// A cursor over Wasm binary data.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    /// An unsigned LEB128 number of at most 32 bits.
    fn leb(&mut self) -> Option<u32> {
        let mut value: u32 = 0;
        for shift in (0..35).step_by(7) {
            let b = self.byte()?;
            value |= u32::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &str, ignore: bool, should_panic: Option<&str>) -> TestCase {
        TestCase {
            name: name.into(),
            export: String::new(),
            ignore,
            should_panic: should_panic.map(Into::into),
        }
    }

    fn parsed(export: &str) -> Option<TestCase> {
        parse_export(export).map(|t| TestCase { export: String::new(), ..t })
    }

    #[test]
    fn plain_test() {
        assert_eq!(
            parsed("#lunatic_test_krate::tests::ok"),
            Some(case("krate::tests::ok", false, None))
        );
        assert_eq!(parse_export("#lunatic_test_a::b").unwrap().export, "#lunatic_test_a::b");
    }

    #[test]
    fn ignore_and_panic_prefixes() {
        assert_eq!(parsed("#lunatic_test_#ignore_k::t"), Some(case("k::t", true, None)));
        assert_eq!(parsed("#lunatic_test_#panic_#k::t"), Some(case("k::t", false, Some(""))));
        assert_eq!(
            parsed("#lunatic_test_#panic_contained#k::t"),
            Some(case("k::t", false, Some("contained")))
        );
        assert_eq!(
            parsed("#lunatic_test_#ignore_#panic_boom#k::t"),
            Some(case("k::t", true, Some("boom")))
        );
    }

    #[test]
    fn escaped_hash_in_expected() {
        assert_eq!(parsed("#lunatic_test_#panic_\\##k::t"), Some(case("k::t", false, Some("#"))));
        assert_eq!(
            parsed("#lunatic_test_#panic_a \\# b\\#\\#c#k::t"),
            Some(case("k::t", false, Some("a # b##c")))
        );
        // A backslash not before `#` stays.
        assert_eq!(
            parsed("#lunatic_test_#panic_a\\b#k::t"),
            Some(case("k::t", false, Some("a\\b")))
        );
        assert_eq!(parsed("#lunatic_test_#panic_ünï#k::t"), Some(case("k::t", false, Some("ünï"))));
    }

    #[test]
    fn not_tests() {
        assert_eq!(parsed("_start"), None);
        assert_eq!(parsed("lunatic_test_x"), None);
        assert_eq!(parsed("#lunatic_test_"), None);
        assert_eq!(parsed("#lunatic_test_#panic_unterminated"), None);
        assert_eq!(parsed("#lunatic_test_#panic_x\\#"), None);
    }

    #[test]
    fn test_paths() {
        for yes in [
            "/p/target/wasm32-wasip1/debug/deps/app-1234.wasm",
            "/p/target/wasm32-wasi/release/deps/app-1234.wasm",
            "/p/custom-dir/wasm32-unknown-unknown/bench-profile/deps/x.wasm",
            "tgt/wasm32-wasip1/debug/deps/x.wasm",
        ] {
            assert!(looks_like_test_path(Path::new(yes)), "{yes}");
        }
        for no in [
            "/p/target/wasm32-wasip1/debug/app.wasm",
            "/p/target/debug/deps/app.wasm",
            "/p/target/wasm32-wasip1/debug/deps/app.wat",
            "/p/target/wasm32-wasip1/debug/deps/app",
            "deps/app.wasm",
            "app.wasm",
        ] {
            assert!(!looks_like_test_path(Path::new(no)), "{no}");
        }
    }

    #[test]
    fn export_section_reader() {
        // (module (func) (memory 1) (export "#lunatic_test_k::t" (func 0))
        //         (export "memory" (memory 0)) (export "_start" (func 0)))
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]); // type section
        m.extend_from_slice(&[3, 2, 1, 0]); // function section
        m.extend_from_slice(&[5, 3, 1, 0, 1]); // memory section
        let mut exports = vec![3];
        for (name, kind) in [("#lunatic_test_k::t", 0u8), ("memory", 2), ("_start", 0)] {
            exports.push(name.len() as u8);
            exports.extend_from_slice(name.as_bytes());
            exports.extend_from_slice(&[kind, 0]);
        }
        m.push(7);
        m.push(exports.len() as u8);
        m.extend_from_slice(&exports);
        m.extend_from_slice(&[10, 4, 1, 2, 0, 0x0b]); // code section
        assert_eq!(function_exports(&m), ["#lunatic_test_k::t", "_start"]);
        assert!(function_exports(b"(module)").is_empty());
        for end in 0..m.len() {
            let _ = function_exports(&m[..end]); // truncated input never panics
        }
    }
}
