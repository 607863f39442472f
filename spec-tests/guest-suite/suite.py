#!/usr/bin/env python3
"""Helper for spec-tests/guest-suite/run.

Subcommands:
  artifacts BUILD_JSON OUT_TSV   test binaries from cargo's --message-format=json output
  pkgdir METADATA_JSON NAME VER  manifest directory of a package in `cargo metadata` output
  list ARTIFACTS_TSV             discovered binaries and tests (from the wasm exports)
  run [options]                  run the binaries with the runtime and report

Only the Python standard library is used.
"""

import argparse
import fnmatch
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

# Expected inventory (shared/guest-suite.md): lunatic 0.14.1 integration tests
# plus the lunatic-test 0.13.0 runner tests.
EXPECTED_BINARIES = 23
EXPECTED_TESTS = 133
EXPECTED_IGNORED = 4

TEST_PREFIX = "#lunatic_test_"


# --------------------------------------------------------------------------
# cargo output
# --------------------------------------------------------------------------

def cmd_artifacts(args):
    found = {}
    with open(args.build_json, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("reason") != "compiler-artifact":
                continue
            if not msg.get("profile", {}).get("test"):
                continue
            path = msg.get("executable")
            if not path:
                wasm = [p for p in msg.get("filenames", []) if p.endswith(".wasm")]
                path = wasm[0] if wasm else None
            if not path:
                continue
            found[msg["target"]["name"]] = os.path.abspath(path)
    if not found:
        print("error: no test artifacts in cargo's output", file=sys.stderr)
        return 1
    with open(args.out, "w", encoding="utf-8") as out:
        for name in sorted(found):
            out.write(f"{name}\t{found[name]}\n")
    return 0


def cmd_pkgdir(args):
    with open(args.metadata_json, encoding="utf-8") as f:
        meta = json.load(f)
    for pkg in meta.get("packages", []):
        if pkg.get("name") == args.name and pkg.get("version") == args.version:
            print(os.path.dirname(pkg["manifest_path"]))
            return 0
    return 1


# --------------------------------------------------------------------------
# test discovery from the wasm export section
# --------------------------------------------------------------------------

def _leb(data, pos):
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, pos


def wasm_exports(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\0asm":
        raise ValueError(f"{path}: not a wasm module")
    pos = 8
    exports = []
    while pos < len(data):
        section_id = data[pos]
        pos += 1
        size, pos = _leb(data, pos)
        if section_id == 7:
            p = pos
            count, p = _leb(data, p)
            for _ in range(count):
                length, p = _leb(data, p)
                name = data[p:p + length].decode("utf-8", "replace")
                p += length
                kind = data[p]
                p += 1
                _, p = _leb(data, p)
                exports.append((name, kind))
        pos += size
    return exports


class TestCase:
    def __init__(self, name, ignored, should_panic, expected):
        self.name = name
        self.ignored = ignored
        self.should_panic = should_panic
        self.expected = expected


def parse_test_export(export):
    """`#lunatic_test_[#ignore_][#panic_<expected>#]<module_path>::<fn>`"""
    rest = export[len(TEST_PREFIX):]
    ignored = rest.startswith("#ignore_")
    if ignored:
        rest = rest[len("#ignore_"):]
    should_panic = rest.startswith("#panic_")
    expected = None
    if should_panic:
        rest = rest[len("#panic_"):]
        i = 0
        while i < len(rest):
            if rest[i] == "#" and (i == 0 or rest[i - 1] != "\\"):
                break
            i += 1
        expected = rest[:i].replace("\\#", "#")
        rest = rest[i + 1:]
    return TestCase(rest, ignored, should_panic, expected)


def discover(path):
    tests = [parse_test_export(name) for name, kind in wasm_exports(path)
             if kind == 0 and name.startswith(TEST_PREFIX)]
    tests.sort(key=lambda t: t.name)
    return tests


def read_artifacts(path):
    bins = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                name, wasm = line.split("\t", 1)
                bins.append((name, wasm))
    return bins


def inventory_line(bins):
    n_tests = sum(len(t) for _, _, t in bins)
    n_ign = sum(1 for _, _, tests in bins for t in tests if t.ignored)
    line = f"discovered {len(bins)} test binaries, {n_tests} tests ({n_ign} ignored)"
    if (len(bins), n_tests, n_ign) != (EXPECTED_BINARIES, EXPECTED_TESTS, EXPECTED_IGNORED):
        line += (f"  -- DRIFT: expected {EXPECTED_BINARIES} binaries, "
                 f"{EXPECTED_TESTS} tests ({EXPECTED_IGNORED} ignored)")
    else:
        line += "  (as expected)"
    return line


def cmd_list(args):
    bins = [(n, w, discover(w)) for n, w in read_artifacts(args.artifacts)]
    for name, wasm, tests in bins:
        print(f"{name} ({len(tests)} tests)  {wasm}")
        for t in tests:
            flags = []
            if t.ignored:
                flags.append("ignore")
            if t.should_panic:
                flags.append(f"should_panic(expected = {t.expected!r})" if t.expected
                             else "should_panic")
            print(f"    {t.name}" + (f"  [{', '.join(flags)}]" if flags else ""))
    print(inventory_line(bins))
    return 0


# --------------------------------------------------------------------------
# libtest-style output parsing
# --------------------------------------------------------------------------

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TEST_RE = re.compile(r"^test (\S+)(?: - should panic)? \.\.\. ?(.*)$")
STATUS_RE = re.compile(r"^(ok|FAILED|ignored)\b")
RESULT_RE = re.compile(
    r"^test result: (ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored;"
    r"(?: (\d+) measured;)?(?: (\d+) filtered out)?")
RUNNING_RE = re.compile(r"^running (\d+) tests?$")


class Transcript:
    def __init__(self):
        self.results = {}       # test name -> ok|FAILED|ignored
        self.duplicates = []
        self.summary = None     # (word, passed, failed, ignored, filtered)
        self.running = None
        self.failure_section = []


def parse_transcript(text):
    tr = Transcript()
    pending = []
    in_failures = False
    for raw in text.splitlines():
        line = ANSI_RE.sub("", raw).rstrip("\r")
        stripped = line.strip()
        m = TEST_RE.match(line)
        if m:
            name, rest = m.group(1), m.group(2).strip()
            s = STATUS_RE.match(rest)
            if s:
                _record(tr, name, s.group(1))
            else:
                pending.append(name)  # status printed later (e.g. --nocapture)
            continue
        s = STATUS_RE.match(stripped)
        if s and pending and stripped in ("ok", "FAILED", "ignored"):
            _record(tr, pending.pop(0), s.group(1))
            continue
        m = RESULT_RE.match(stripped)
        if m:
            tr.summary = (m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4)),
                          int(m.group(6) or 0))
            in_failures = False
            continue
        m = RUNNING_RE.match(stripped)
        if m and tr.running is None:
            tr.running = int(m.group(1))
            continue
        if stripped == "failures:":
            in_failures = True
        if in_failures:
            tr.failure_section.append(line)
    return tr


def _record(tr, name, status):
    if name in tr.results:
        tr.duplicates.append(name)
    tr.results[name] = status


# --------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------

class BinaryResult:
    def __init__(self, name):
        self.name = name
        self.passed = []
        self.failed = []      # (test name, reason)
        self.ignored = []
        self.errors = []      # binary-level problems
        self.notes = []
        self.seconds = 0.0
        self.log = None
        self.failure_excerpt = []
        self.head = []

    @property
    def n_failed(self):
        n = len(self.failed)
        if n == 0 and self.errors:
            n = 1  # a broken binary counts as one failure
        return n


def run_binary(name, wasm, tests, opts, log_path):
    res = BinaryResult(name)
    res.log = log_path
    cmd = [opts.lunatic, "run", *opts.flags, wasm, *opts.test_args]
    env = dict(os.environ)
    env["CARGO_MANIFEST_DIR"] = opts.pkg
    env["CARGO_MANIFEST_PATH"] = os.path.join(opts.pkg, "Cargo.toml")
    env["CARGO_PKG_NAME"] = "lunatic"
    env["CARGO_PKG_VERSION"] = "0.14.1"
    start = time.monotonic()
    timed_out = False
    with open(log_path, "wb") as log:
        log.write(("$ " + " ".join(shlex.quote(c) for c in cmd) + "\n").encode())
        log.flush()
        try:
            proc = subprocess.Popen(cmd, cwd=opts.pkg, env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        except OSError as e:
            res.errors.append(f"cannot start runtime: {e}")
            res.failed = [(t.name, "not run") for t in tests]
            return res
        try:
            rc = proc.wait(timeout=opts.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            rc = proc.wait()
    res.seconds = time.monotonic() - start
    with open(log_path, "rb") as f:
        f.readline()  # the command line
        text = f.read().decode("utf-8", "replace")
    tr = parse_transcript(text)

    known = {t.name: t for t in tests}
    for test_name, status in sorted(tr.results.items()):
        if status == "ok":
            res.passed.append(test_name)
        elif status == "ignored":
            res.ignored.append(test_name)
        else:
            res.failed.append((test_name, "FAILED"))
        if test_name not in known:
            res.notes.append(f"reported unknown test `{test_name}`")
        elif not opts.test_args:
            if known[test_name].ignored and status != "ignored":
                res.notes.append(f"#[ignore] test `{test_name}` reported {status}")
            if not known[test_name].ignored and status == "ignored":
                res.notes.append(f"test `{test_name}` reported ignored without #[ignore]")
    if tr.duplicates:
        res.notes.append("reported more than once: " + ", ".join(sorted(set(tr.duplicates))))

    if not opts.test_args:
        # Without extra libtest arguments every discovered test must have a result.
        missing = [t for t in tests if t.name not in tr.results]
        for t in missing:
            reason = "timed out" if timed_out else "no result"
            res.failed.append((t.name, reason))
        if missing:
            res.errors.append(f"{len(missing)} of {len(tests)} tests have no result")
        if tr.running is not None and tr.running != len(tests):
            res.notes.append(f"`running {tr.running} tests` but {len(tests)} discovered")

    if timed_out:
        res.errors.insert(0, f"TIMEOUT after {opts.timeout:g}s (killed)")
    elif rc < 0:
        res.errors.insert(0, f"runtime killed by signal {-rc}")
    else:
        any_failed = any(r == "FAILED" for r in tr.results.values())
        if rc != 0 and not res.failed:
            res.errors.insert(0, f"exit status {rc} but no test failed")
        elif rc == 0 and any_failed:
            res.notes.append("exit status 0 although tests failed")
        elif rc not in (0, 1):
            res.notes.append(f"exit status {rc}")
        if tr.summary is None:
            res.errors.append("no `test result:` line")
        else:
            word, p, f_, i, _ = tr.summary
            counted = (sum(1 for r in tr.results.values() if r == "ok"),
                       sum(1 for r in tr.results.values() if r == "FAILED"),
                       sum(1 for r in tr.results.values() if r == "ignored"))
            if (p, f_, i) != counted:
                res.notes.append(f"summary line says {p} passed, {f_} failed, {i} ignored "
                                 f"but the test lines say {counted[0]}, {counted[1]}, {counted[2]}")
            if (word == "ok") != (f_ == 0):
                res.notes.append(f"summary word `{word}` with {f_} failed")
    res.failure_excerpt = tr.failure_section
    res.head = [ANSI_RE.sub("", l) for l in text.splitlines()[:40]]
    return res


def _kill_group(proc):
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def fmt_counts(p, f, i):
    return f"{p} passed, {f} failed, {i} skipped"


def cmd_run(args):
    opts = args
    opts.flags = shlex.split(args.flags or "")
    opts.test_args = args.test_args or []
    if opts.test_args and opts.test_args[0] == "--":
        opts.test_args = opts.test_args[1:]
    skip = [s for s in (args.skip or "").split(",") if s]
    only = [s for s in (args.only or "").split(",") if s]

    all_bins = [(n, w, discover(w)) for n, w in read_artifacts(args.artifacts)]
    print(inventory_line(all_bins))
    print("  " + ", ".join(f"{n} {len(t)}" for n, _, t in all_bins))

    def matches(name, patterns):
        return any(fnmatch.fnmatchcase(name, p) for p in patterns)

    for pat in skip + only:
        if not any(matches(n, [pat]) for n, _, _ in all_bins):
            print(f"warning: `{pat}` matches no test binary", file=sys.stderr)

    selected, skipped = [], []
    for name, wasm, tests in all_bins:
        if only and not matches(name, only):
            continue
        (skipped if matches(name, skip) else selected).append((name, wasm, tests))

    print("runtime: " + " ".join(shlex.quote(c) for c in [opts.lunatic, "run", *opts.flags])
          + " <test.wasm>" + "".join(" " + shlex.quote(a) for a in opts.test_args))
    print(f"cwd and CARGO_MANIFEST_DIR: {opts.pkg}; timeout per binary: {opts.timeout:g}s")
    if skipped:
        print("skipped: " + ", ".join(f"{n} ({len(t)} tests)" for n, _, t in skipped))
    if not selected:
        print("error: no test binary selected", file=sys.stderr)
        print(fmt_counts(0, 0, 0))
        return 2

    width = max(len(n) for n, _, _ in selected)
    history = {}  # (binary, test) -> list of statuses per round
    totals = [0, 0, 0]
    round_lines = []
    any_error = False
    for rnd in range(1, args.repeat + 1):
        log_dir = os.path.join(args.logs, f"round-{rnd}") if args.repeat > 1 else args.logs
        os.makedirs(log_dir, exist_ok=True)
        if args.repeat > 1:
            print(f"\n== round {rnd}/{args.repeat}")
        else:
            print()
        rt = [0, 0, 0]
        failed_names = []
        round_start = time.monotonic()
        for name, wasm, tests in selected:
            res = run_binary(name, wasm, tests, opts, os.path.join(log_dir, f"{name}.log"))
            counts = (len(res.passed), res.n_failed, len(res.ignored))
            for k in range(3):
                rt[k] += counts[k]
            status = "ok" if counts[1] == 0 else "FAILED"
            print(f"  {name:<{width}}  {status:<6} {fmt_counts(*counts)}  ({res.seconds:.1f}s)",
                  flush=True)
            for e in res.errors:
                print(f"      error: {e}")
                any_error = True
            for n in res.notes:
                print(f"      note: {n}")
            for test_name, reason in res.failed:
                print(f"      FAILED {test_name}" + ("" if reason == "FAILED" else f" ({reason})"))
                failed_names.append(test_name)
            if res.errors and not res.failed:
                failed_names.append(f"{name} (binary)")
            if counts[1] or res.errors or res.notes or args.verbose:
                print(f"      log: {res.log}")
            if counts[1] and not args.quiet and (res.failure_excerpt or res.errors):
                # The failure section, or else the start of the transcript (runtime errors).
                excerpt = res.failure_excerpt or res.head
                while excerpt and not excerpt[-1].strip():
                    excerpt = excerpt[:-1]
                limit = args.excerpt_lines
                for line in excerpt[:limit]:
                    print(f"      | {line}")
                if len(excerpt) > limit:
                    print(f"      | ... ({len(excerpt) - limit} more lines in the log)")
            if args.verbose:
                with open(res.log, encoding="utf-8", errors="replace") as f:
                    for line in f:
                        print("      > " + ANSI_RE.sub("", line.rstrip("\n")))
            for t in res.passed:
                history.setdefault((name, t), []).append("ok")
            for t, _ in res.failed:
                history.setdefault((name, t), []).append("FAILED")
            for t in res.ignored:
                history.setdefault((name, t), []).append("ignored")
        for k in range(3):
            totals[k] += rt[k]
        elapsed = time.monotonic() - round_start
        line = f"round {rnd}: {fmt_counts(*rt)}  ({elapsed:.1f}s)"
        round_lines.append(line)
        if args.repeat > 1:
            print(line)
        if failed_names and args.repeat > 1:
            print(f"round {rnd} failed: " + ", ".join(failed_names))
        last_failed = failed_names

    print()
    if args.repeat > 1:
        print(f"== {args.repeat} rounds")
        for line in round_lines:
            print(line)
        flaky = sorted((b, t, s) for (b, t), s in history.items()
                       if "FAILED" in s and "ok" in s)
        always = sorted((b, t) for (b, t), s in history.items()
                        if s.count("FAILED") == args.repeat)
        for b, t, s in flaky:
            print(f"flaky: {b}: {t} failed in {s.count('FAILED')}/{len(s)} rounds")
        for b, t in always:
            print(f"failed in every round: {b}: {t}")
    elif last_failed:
        print(f"failed ({len(last_failed)}):")
        for n in last_failed:
            print(f"  {n}")
    if skipped:
        print("skipped binaries: " + ", ".join(f"{n} ({len(t)} tests)" for n, _, t in skipped))
    print(f"logs: {args.logs}")
    print(fmt_counts(*totals))
    if totals[1] or any_error:
        return 1
    if totals[0] == 0:
        print("error: no test passed (nothing ran?)", file=sys.stderr)
        return 1
    return 0


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    ap = argparse.ArgumentParser(prog="suite.py")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("artifacts")
    p.add_argument("build_json")
    p.add_argument("out")
    p.set_defaults(func=cmd_artifacts)

    p = sub.add_parser("pkgdir")
    p.add_argument("metadata_json")
    p.add_argument("name")
    p.add_argument("version")
    p.set_defaults(func=cmd_pkgdir)

    p = sub.add_parser("list")
    p.add_argument("artifacts")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run")
    p.add_argument("--artifacts", required=True)
    p.add_argument("--pkg", required=True)
    p.add_argument("--lunatic", required=True)
    p.add_argument("--flags", default="")
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--skip", default="")
    p.add_argument("--only", default="")
    p.add_argument("--logs", required=True)
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--excerpt-lines", type=int, default=40)
    p.add_argument("test_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_run)

    args = ap.parse_args()
    sys.exit(args.func(args))


if __name__ == "__main__":
    main()
