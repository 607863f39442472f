"""Distributed rows of benches/run: `lunatic control` + two `lunatic node`s on
loopback, the benchmark guest (benches/guests/src/bin/distributed.rs) run on
the second node against a process on the first, for this runtime and the
reference; the same work on one node (`lunatic run ... local`) for the ratio.
A run is bounded: rows a runtime did not reach in time show as stalled."""
import os, re, shutil, socket, subprocess, tempfile, time


def _free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _parse(text):
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\w+) ([0-9.]+)$", text, re.M)}


def run_cluster(binary, wasm, limit, ours, threads=None):
    """Figures printed by the guest on the second node (partial if it stalled);
    `threads`: worker threads of each node (ours only)."""
    tmp = tempfile.mkdtemp(prefix="dist-bench-")
    procs = []
    try:
        cport = _free_port()
        extra = ["--cluster-dir", os.path.join(tmp, "cluster")] if ours else []
        workers = ["--threads", str(threads)] if threads else []
        def start(args, name):
            out = open(os.path.join(tmp, name + ".out"), "w")
            err = open(os.path.join(tmp, name + ".err"), "w")
            p = subprocess.Popen([binary] + args, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
            procs.append(p)
            return os.path.join(tmp, name + ".out")
        start(["control", "--bind-socket", f"127.0.0.1:{cport}"] + extra, "control")
        time.sleep(0.7)
        url = f"http://127.0.0.1:{cport}/"
        start(["node", url, "--bind-socket", f"127.0.0.1:{_free_port()}"] + extra + workers, "a")
        time.sleep(0.7)
        out = start(["node", url, "--bind-socket", f"127.0.0.1:{_free_port()}", "--wasm", wasm] + extra + workers, "b")
        deadline = time.time() + limit
        text = ""
        while time.time() < deadline:
            text = open(out).read()
            if "\ndone" in text or text.startswith("done"):
                break
            time.sleep(0.1)
        figures = _parse(text)
        figures["finished"] = 1.0 if "done" in text else 0.0
        return figures
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def run_local(binary, wasm, limit):
    try:
        out = subprocess.run([binary, "run", wasm, "local"], capture_output=True, text=True, timeout=limit).stdout
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
    return _parse(out)


def rows(ours_bin, ref_bin, wasm_dir, quick):
    wasm = os.path.join(wasm_dir, "distributed.wasm")
    ours = run_cluster(ours_bin, wasm, 60, True)
    # Two nodes of one worker each: on a 2-core machine, one core per node,
    # as two machines would have (with a worker per core each, four workers
    # share two cores).
    single = run_cluster(ours_bin, wasm, 60, True, threads=1)
    local = run_local(ours_bin, wasm, 60)
    ref = run_cluster(ref_bin, wasm, 20 if quick else 40, False) if ref_bin else None

    def cell(figs, key, unit, extra=None):
        if figs is None:
            return "n/a"
        if key not in figs:
            return "stalled" if not figs.get("finished") else "n/a"
        text = f"{figs[key]:,.0f} {unit}" if unit == "msg/s" else f"{figs[key]:.0f} {unit}"
        if extra and extra in figs:
            text += f" (p99 {figs[extra]:.0f} µs)"
        return text

    def ratio(key, higher_better=False):
        o, l = ours.get(key), local.get(key)
        parts = []
        if o and l:
            parts.append(f"{l / o:.2f}× one node's rate" if higher_better else f"{o / l:.0f}× one node's time")
        if ref is not None and o:
            f = ref.get(key)
            if f:
                parts.append(f"{o / f:.1f}× the reference" if higher_better else f"{f / o:.1f}× faster than the reference")
            else:
                parts.append("reference stalled")
        return "; ".join(parts) or "n/a"

    in_order = ours.get("oneway_in_order")
    oneway = cell(ours, "oneway_msgs_per_s", "msg/s")
    if in_order is not None:
        oneway += f", {in_order:.0f} in order"
    return [
        ("remote round trip median (p99), 2 nodes", "≤ 50 µs", cell(ours, "roundtrip_median_us", "µs", "roundtrip_p99_us"),
         cell(ref, "roundtrip_median_us", "µs", "roundtrip_p99_us"), ratio("roundtrip_median_us")),
        ("remote spawn + reply median", "≤ 150 µs", cell(ours, "spawn_reply_median_us", "µs"),
         cell(ref, "spawn_reply_median_us", "µs"), ratio("spawn_reply_median_us")),
        ("remote round trip median (p99), nodes of one worker", "≤ 50 µs",
         cell(single, "roundtrip_median_us", "µs", "roundtrip_p99_us"), "n/a", "n/a"),
        ("remote spawn + reply median, nodes of one worker", "≤ 150 µs", cell(single, "spawn_reply_median_us", "µs"),
         "n/a", "n/a"),
        ("100 000 one-way remote messages", "≥ 300 000 msg/s, all in order", oneway,
         cell(ref, "oneway_msgs_per_s", "msg/s"), ratio("oneway_msgs_per_s", True)),
    ]
