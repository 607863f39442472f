//! `lunatic-fuzz`: runs batches of generated hostile guests against the real
//! `lunatic` binary under both schedulers and fails on a runtime panic, abort,
//! death by signal, hang, or host memory beyond a bound. See README.md.

mod gen;
mod host;
mod names;
mod run;

use gen::{Aims, Entry, Gen};
use run::{Finding, Outcome, Runner};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: lunatic-fuzz [options]
  --lunatic PATH     runtime binary (default: $LUNATIC, else target/release/lunatic of this repo)
  --seed N           master seed (default: from the clock; printed)
  --duration SECS    stop starting batches after this long (default 60)
  --batches N        stop after N batches instead
  --batch N          children per runtime invocation (default 200)
  --jobs N           runtime invocations at once (default 2)
  --mode M           both | normal | det (default both: even batches threaded, odd deterministic)
  --mem-limit MIB    fail when the runtime's RSS passes this (default 2048)
  --hang SECS        fail when a batch makes no progress this long (default 10)
  --skip LIST        aims to leave out: catch-recursion,start-registry,huge-sleep,preopen,config-memory
  --corpus DIR       where crashing inputs go (default: a new temp dir)
  --min-runs N       runs allowed to shrink one finding to fewer host calls (default 16)
  --replay B[:I[-J]] run only batch B (or only its child I, or children I to J) of --seed, report, exit
  --list-host        print the host functions found and exit
  --show B:I         write child I of batch B to child.wasm (and its operations to child-ops.txt) and exit
  --src DIR          runtime sources to scan for host function names (default: this repo's src/)
";

struct Opts {
    lunatic: PathBuf,
    seed: u64,
    duration: Duration,
    batches: Option<u64>,
    batch: usize,
    jobs: usize,
    mode: String,
    mem_limit_mib: u64,
    hang: Duration,
    aims: Aims,
    skip: String,
    corpus: Option<PathBuf>,
    min_runs: usize,
    replay: Option<(u64, Option<(usize, usize)>)>,
    list_host: bool,
    show: Option<(u64, usize)>,
    src: Option<PathBuf>,
}

fn parse() -> Result<Opts, String> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut o = Opts {
        lunatic: std::env::var_os("LUNATIC").map(PathBuf::from).unwrap_or_else(|| repo.join("target/release/lunatic")),
        seed: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64 % 1_000_000_000).unwrap_or(1),
        duration: Duration::from_secs(60),
        batches: None,
        batch: 200,
        jobs: 2,
        mode: "both".into(),
        mem_limit_mib: 2048,
        hang: Duration::from_secs(10),
        aims: Aims::default(),
        skip: String::new(),
        corpus: None,
        min_runs: 16,
        replay: None,
        list_host: false,
        show: None,
        src: Some(repo.join("src")).filter(|p| p.is_dir()),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value"));
        let num = |s: String| s.parse::<u64>().map_err(|e| format!("{s}: {e}"));
        match a.as_str() {
            "--lunatic" => o.lunatic = val()?.into(),
            "--seed" => o.seed = num(val()?)?,
            "--duration" => o.duration = Duration::from_secs(num(val()?)?),
            "--batches" => o.batches = Some(num(val()?)?),
            "--batch" => o.batch = num(val()?)?.max(1) as usize,
            "--jobs" => o.jobs = num(val()?)?.max(1) as usize,
            "--mode" => {
                o.mode = val()?;
                if !["both", "normal", "det"].contains(&o.mode.as_str()) {
                    return Err(format!("--mode {}: want both, normal or det", o.mode));
                }
            }
            "--mem-limit" => o.mem_limit_mib = num(val()?)?,
            "--hang" => o.hang = Duration::from_secs(num(val()?)?),
            "--skip" => {
                o.skip = val()?;
                o.aims.skip(&o.skip)?;
            }
            "--corpus" => o.corpus = Some(val()?.into()),
            "--min-runs" => o.min_runs = num(val()?)? as usize,
            "--replay" => {
                let v = val()?;
                let (b, i) = match v.split_once(':') {
                    Some((b, i)) => {
                        let (x, y) = i.split_once('-').unwrap_or((i, i));
                        (num(b.into())?, Some((num(x.into())? as usize, num(y.into())? as usize)))
                    }
                    None => (num(v)?, None),
                };
                o.replay = Some((b, i));
            }
            "--list-host" => o.list_host = true,
            "--show" => {
                let v = val()?;
                let (b, i) = v.split_once(':').ok_or("--show B:I")?;
                o.show = Some((num(b.into())?, num(i.into())? as usize));
            }
            "--src" => o.src = Some(val()?.into()),
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {a}\n{USAGE}")),
        }
    }
    Ok(o)
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Everything needed to regenerate batch `b` or one child of it.
#[derive(Clone)]
struct Plan {
    seed: u64,
    batch: usize,
    mode: String,
}

impl Plan {
    fn batch_seed(&self, b: u64) -> u64 {
        mix(self.seed ^ mix(b.wrapping_add(1)))
    }
    /// `None`: threaded scheduler; `Some(seed)`: `--deterministic=seed`.
    fn det(&self, b: u64) -> Option<u64> {
        let det = match self.mode.as_str() {
            "normal" => false,
            "det" => true,
            _ => b % 2 == 1,
        };
        det.then(|| self.batch_seed(b) % 1_000_000)
    }
    fn child(&self, host: &host::HostTable, aims: &Aims, b: u64, i: usize) -> (gen::Child, i32, u64) {
        let s = mix(self.batch_seed(b).wrapping_add(i as u64));
        let mut g = Gen::new(host, s, aims);
        let c = g.child();
        let depth = g.rng.i32(0..4);
        (c, depth, g.nested)
    }
}

#[derive(Default)]
struct Stats {
    batches: AtomicU64,
    children: AtomicU64,
    nested: AtomicU64,
    root_ended_early: AtomicU64,
    peak_rss_kib: AtomicU64,
    calls: Mutex<Vec<u64>>,
    by_mode: [AtomicU64; 2],
}

struct Found {
    finding: Finding,
    batch: u64,
    det: Option<u64>,
    child: Option<usize>,
    dir: PathBuf,
    note: String,
    count: u64,
}

fn main() {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("lunatic-fuzz: {e}");
            std::process::exit(2);
        }
    };
    std::process::exit(match real_main(o) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lunatic-fuzz: {e}");
            2
        }
    });
}

fn real_main(o: Opts) -> Result<i32, String> {
    let base = run::make_base()?;
    let lunatic = run::install_binary(&o.lunatic, &base)?;
    let host = host::discover(&lunatic, &base, o.src.as_deref())?;
    let lunatic_count = host.fns.iter().filter(|f| f.module.starts_with("lunatic::")).count();
    println!(
        "lunatic-fuzz: {} host functions ({} lunatic::*, {} wasi_snapshot_preview1) from {}; not provided: {}{}",
        host.fns.len(),
        lunatic_count,
        host.fns.len() - lunatic_count,
        o.lunatic.display(),
        if host.missing.is_empty() { "none".to_string() } else { host.missing.len().to_string() },
        if host.from_source.is_empty() { String::new() } else { format!("; only in the sources: {}", host.from_source.join(", ")) },
    );
    if o.list_host {
        for f in &host.fns {
            println!("{}::{} {:?} -> {:?}", f.module, f.name, f.params, f.results);
        }
        for m in &host.missing {
            println!("not provided: {m}");
        }
        let _ = std::fs::remove_dir_all(&base);
        return Ok(0);
    }
    if let Some((b, i)) = o.show {
        let plan = Plan { seed: o.seed, batch: o.batch, mode: o.mode.clone() };
        let (c, depth, _) = plan.child(&host, &o.aims, b, i);
        std::fs::write("child.wasm", gen::encode_child(&host, &c)).map_err(|e| e.to_string())?;
        std::fs::write("child-ops.txt", format!("depth {depth}\n{:#?}\nstart: {:#?}\nblock: {:#?}\n", c.run_ops, c.start_ops, c.block_ops)).map_err(|e| e.to_string())?;
        let mut names = Vec::new();
        list_calls(&host, &c.run_ops, &mut names);
        println!("depth {depth}: {}", names.join(" "));
        let _ = std::fs::remove_dir_all(&base);
        return Ok(0);
    }
    let corpus = match &o.corpus {
        Some(c) => {
            std::fs::create_dir_all(c).map_err(|e| format!("{}: {e}", c.display()))?;
            c.clone()
        }
        None => base.join("corpus"),
    };
    std::fs::create_dir_all(&corpus).map_err(|e| e.to_string())?;
    let plan = Plan { seed: o.seed, batch: o.batch, mode: o.mode.clone() };
    let skip = if o.skip.is_empty() { String::new() } else { format!(" --skip {}", o.skip) };
    println!(
        "seed {} (rerun: lunatic-fuzz --seed {} --batch {} --mode {}{}), batch {} children, {} jobs, memory bound {} MiB, hang {} s, corpus {}",
        o.seed, o.seed, o.batch, o.mode, skip, o.batch, o.jobs, o.mem_limit_mib, o.hang.as_secs(), corpus.display()
    );
    let runner = Arc::new(Runner {
        canary: run::make_canary(&base)?,
        lunatic: lunatic.clone(),
        mem_limit_kib: o.mem_limit_mib * 1024,
        hang: o.hang,
    });
    let stats = Arc::new(Stats { calls: Mutex::new(vec![0; host.fns.len()]), ..Default::default() });
    let found: Arc<Mutex<Vec<Found>>> = Arc::default();
    let host = Arc::new(host);
    let start = Instant::now();

    if let Some((b, only)) = o.replay {
        let dir = run::workdir(&base, 0)?;
        let children: Vec<usize> = match only {
            Some((x, y)) => (x..=y).collect(),
            None => (0..plan.batch).collect(),
        };
        let det = plan.det(b);
        let entries = entries(&plan, &host, &o.aims, b, &children, None);
        let out = run_entries(&runner, &host, &entries, det, &dir)?;
        println!("replay of batch {b}{}: {}", only.map(|(x, y)| format!(" children {x}-{y}")).unwrap_or_default(), describe(&out, children.len()));
        if out.finding.is_none() {
            let _ = std::fs::remove_dir_all(&base);
        } else {
            println!("the batch root is in {}", dir.join("root.wasm").display());
        }
        return Ok(if out.finding.is_some() { 1 } else { 0 });
    }

    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    for w in 0..o.jobs {
        let (next, stop, stats, found, host, runner, plan) =
            (next.clone(), stop.clone(), stats.clone(), found.clone(), host.clone(), runner.clone(), plan.clone());
        let (aims, corpus, dir) = (o.aims.clone(), corpus.clone(), run::workdir(&base, w)?);
        let (duration, batches, min_runs, seen) = (o.duration, o.batches, o.min_runs, seen.clone());
        threads.push(std::thread::spawn(move || -> Result<(), String> {
            loop {
                if stop.load(Ordering::Relaxed) || (batches.is_none() && start.elapsed() >= duration) {
                    return Ok(());
                }
                let b = next.fetch_add(1, Ordering::Relaxed);
                if batches.is_some_and(|n| b >= n) {
                    return Ok(());
                }
                let det = plan.det(b);
                let mut first = 0;
                while first < plan.batch && (batches.is_some() || start.elapsed() < duration) {
                    let children: Vec<usize> = (first..plan.batch).collect();
                    let entries = entries(&plan, &host, &aims, b, &children, Some(&stats));
                    let out = run_entries(&runner, &host, &entries, det, &dir)?;
                    stats.peak_rss_kib.fetch_max(out.peak_rss_kib, Ordering::Relaxed);
                    let done = out.markers.min(children.len());
                    stats.children.fetch_add(done as u64, Ordering::Relaxed);
                    stats.by_mode[det.is_some() as usize].fetch_add(done as u64, Ordering::Relaxed);
                    {
                        let mut calls = stats.calls.lock().unwrap();
                        for e in &entries[..done] {
                            gen::count_calls(&e.child.run_ops, &mut calls);
                            if let Some(s) = &e.child.start_ops {
                                gen::count_calls(s, &mut calls);
                            }
                            gen::count_calls(&e.child.block_ops, &mut calls);
                        }
                    }
                    if let Some(f) = out.finding.clone() {
                        let culprit = children.get(out.culprit.unwrap_or(out.markers)).copied();
                        // Narrowing costs runs; past the time (plus grace) only record it.
                        let late = batches.is_none() && start.elapsed() > duration + Duration::from_secs(20);
                        let min_runs = if late { usize::MAX } else { min_runs };
                        handle_finding(&runner, &host, &aims, &plan, b, det, f, &out, &children, culprit, &corpus, &dir, min_runs, &found, &seen);
                        first = if out.culprit.is_some() { plan.batch } else { culprit.map_or(plan.batch, |c| c + 1) };
                    } else if !out.ended {
                        // The batch root died early (a child killed it): go on after that child.
                        stats.root_ended_early.fetch_add(1, Ordering::Relaxed);
                        first = children.get(out.markers).map_or(plan.batch, |c| c + 1);
                    } else {
                        first = plan.batch;
                    }
                }
                stats.batches.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut last = Instant::now();
    while threads.iter().any(|t| !t.is_finished()) {
        std::thread::sleep(Duration::from_millis(200));
        if last.elapsed() >= Duration::from_secs(30) {
            last = Instant::now();
            println!(
                "[{:>5}s] {} batches, {} modules, {} findings",
                start.elapsed().as_secs(),
                stats.batches.load(Ordering::Relaxed),
                stats.children.load(Ordering::Relaxed),
                found.lock().unwrap().len()
            );
        }
    }
    for t in threads {
        t.join().map_err(|_| "worker panicked".to_string())??;
    }
    let secs = start.elapsed().as_secs_f64();
    let calls = stats.calls.lock().unwrap();
    let total_calls: u64 = calls.iter().sum();
    let covered = calls.iter().filter(|&&c| c > 0).count();
    let children = stats.children.load(Ordering::Relaxed);
    println!(
        "done in {secs:.0} s: {} batches, {} modules run ({} threaded, {} deterministic; {:.0}/s) plus {} nested modules in their data, {} host call sites ({:.1} per module), {}/{} host functions called; batch root ended early by a child {} times; peak runtime RSS {} MiB",
        stats.batches.load(Ordering::Relaxed),
        children,
        stats.by_mode[0].load(Ordering::Relaxed),
        stats.by_mode[1].load(Ordering::Relaxed),
        children as f64 / secs.max(0.001),
        stats.nested.load(Ordering::Relaxed),
        total_calls,
        total_calls as f64 / children.max(1) as f64,
        covered,
        host.fns.len(),
        stats.root_ended_early.load(Ordering::Relaxed),
        stats.peak_rss_kib.load(Ordering::Relaxed) / 1024,
    );
    let never: Vec<String> = calls.iter().enumerate().filter(|(_, &c)| c == 0).map(|(i, _)| format!("{}::{}", host.fns[i].module, host.fns[i].name)).collect();
    if !never.is_empty() {
        println!("never called: {}", never.join(", "));
    }
    let found = found.lock().unwrap();
    if found.is_empty() {
        println!("no findings");
        if o.corpus.is_none() {
            let _ = std::fs::remove_dir_all(&base);
        }
        return Ok(0);
    }
    for w in 0..o.jobs {
        let _ = std::fs::remove_dir_all(base.join(format!("w{w}")));
    }
    println!("{} distinct findings:", found.len());
    for f in found.iter() {
        let mode = f.det.map_or("threaded".to_string(), |s| format!("--deterministic={s}"));
        println!("- {} ({}x; first in batch {} {mode}{})", f.finding, f.count, f.batch, f.child.map(|c| format!(", child {c}")).unwrap_or_default());
        println!("  {}", f.note.replace('\n', "\n  "));
        println!("  files: {}", f.dir.display());
        println!(
            "  rerun: lunatic-fuzz --seed {} --batch {} --mode {}{} --replay {}{}",
            plan.seed,
            plan.batch,
            plan.mode,
            skip,
            f.batch,
            f.child.map(|c| format!(":{c}")).unwrap_or_default()
        );
    }
    Ok(1)
}

struct Gened {
    child: gen::Child,
    entry: Entry,
}

fn entries(plan: &Plan, host: &host::HostTable, aims: &Aims, b: u64, which: &[usize], stats: Option<&Stats>) -> Vec<Gened> {
    which
        .iter()
        .map(|&i| {
            let (child, depth, nested) = plan.child(host, aims, b, i);
            let bytes = gen::encode_child(host, &child);
            if let Some(s) = stats {
                s.nested.fetch_add(nested, Ordering::Relaxed);
            }
            Gened { child, entry: Entry { bytes, depth } }
        })
        .collect()
}

fn run_entries(runner: &Runner, host: &host::HostTable, entries: &[Gened], det: Option<u64>, dir: &Path) -> Result<Outcome, String> {
    let list: Vec<&Entry> = entries.iter().map(|g| &g.entry).collect();
    runner.run_batch(host, &list, det, dir)
}

fn describe(out: &Outcome, n: usize) -> String {
    match &out.finding {
        Some(f) => format!("FINDING {f} after {} of {n} children", out.markers),
        None => format!("ok, {} of {n} children, root {}", out.markers, if out.ended { "ended normally" } else { "ended early" }),
    }
}

#[allow(clippy::too_many_arguments)]
fn handle_finding(
    runner: &Runner,
    host: &host::HostTable,
    aims: &Aims,
    plan: &Plan,
    b: u64,
    det: Option<u64>,
    f: Finding,
    out: &Outcome,
    children: &[usize],
    culprit: Option<usize>,
    corpus: &Path,
    dir: &Path,
    min_runs: usize,
    found: &Mutex<Vec<Found>>,
    seen: &AtomicUsize,
) {
    let key = f.key();
    let n = seen.fetch_add(1, Ordering::Relaxed);
    let fdir = corpus.join(format!("{n:03}-{}-b{b}", f.kind()));
    let slot = {
        let mut fs = found.lock().unwrap();
        if let Some(x) = fs.iter_mut().find(|x| x.finding.key() == key) {
            x.count += 1;
            println!("finding again: {f} (batch {b})");
            return;
        }
        fs.push(Found { finding: f.clone(), batch: b, det, child: culprit, dir: fdir.clone(), note: "(being narrowed down)".into(), count: 1 });
        fs.len() - 1
    };
    let record = |child: Option<usize>, note: String| {
        let mut fs = found.lock().unwrap();
        fs[slot].child = child;
        fs[slot].note = note;
    };
    println!("FINDING: {f} in batch {b} ({}) after {} children; narrowing it down", det.map_or("threaded".into(), |s| format!("--deterministic={s}")), out.markers);
    let _ = std::fs::create_dir_all(&fdir);
    let _ = std::fs::write(fdir.join("output-tail.txt"), &out.tail);
    let same = |o: &Outcome| o.finding.as_ref().is_some_and(|g| g.key() == key);
    let mut note;
    if min_runs == usize::MAX {
        // Out of time: keep the batch as it was.
        let e = entries(plan, host, aims, b, children, None);
        let list: Vec<Entry> = e.iter().map(|g| Entry { bytes: g.entry.bytes.clone(), depth: g.entry.depth }).collect();
        let _ = std::fs::write(fdir.join("root.wasm"), gen::encode_root(host, &list, "REPRO", 5, 20).unwrap_or_default());
        let detflag = format!(
            " --max-total-memory={}{}",
            run::total_memory_mib(runner.mem_limit_kib),
            det.map_or(String::new(), |s| format!(" --deterministic={s}"))
        );
        note = format!(
            "not narrowed down (out of time); reproduce: mkdir -p /tmp/fzr/w/fz-sandbox && echo {} > /tmp/fzr/{} && cd /tmp/fzr/w && lunatic run{detflag} {}",
            runner.canary,
            gen::CANARY,
            fdir.join("root.wasm").display()
        );
        println!("  {note}");
        record(culprit, note);
        return;
    }
    let mut child_found = None;
    let run_set = |set: &[usize]| -> bool {
        let e = entries(plan, host, aims, b, set, None);
        run_entries(runner, host, &e, det, dir).is_ok_and(|o| same(&o))
    };
    // 1. The child that was running, alone.
    if let Some(c) = culprit {
        if run_set(&[c]) {
            child_found = Some(c);
        }
    }
    // 2. Else halve the children up to it while the failure stays (it may
    //    come from a descendant of an earlier child, or need several).
    let mut cand: Vec<usize> = match culprit {
        Some(c) => children[..children.iter().position(|&x| x == c).map_or(children.len(), |p| p + 1)].to_vec(),
        None => children.to_vec(),
    };
    let mut reproduced = child_found.is_some();
    if child_found.is_none() && run_set(&cand) {
        reproduced = true;
        let mut runs = 0;
        while cand.len() > 1 && runs < 16 {
            let (a, z) = cand.split_at(cand.len() / 2);
            let (a, z) = (a.to_vec(), z.to_vec());
            runs += 1;
            if run_set(&z) {
                cand = z;
                continue;
            }
            runs += 1;
            if run_set(&a) {
                cand = a;
                continue;
            }
            break;
        }
        if cand.len() == 1 {
            child_found = Some(cand[0]);
        }
    }
    if let Some(c) = child_found {
        let e = entries(plan, host, aims, b, &[c], None);
        let (mut child, depth) = (e[0].child.clone(), e[0].entry.depth);
        // 3. Fewer host calls: drop chunks of run_ops while it still fails.
        let mut runs = 0;
        let mut chunk = child.run_ops.len().div_ceil(2).max(1);
        while runs < min_runs {
            let mut i = 0;
            while i < child.run_ops.len() && runs < min_runs {
                let mut t = child.clone();
                t.run_ops.drain(i..(i + chunk).min(t.run_ops.len()));
                runs += 1;
                let g = Gened { entry: Entry { bytes: gen::encode_child(host, &t), depth }, child: t.clone() };
                match run_entries(runner, host, std::slice::from_ref(&g), det, dir) {
                    Ok(o) if same(&o) => child = t,
                    _ => i += chunk,
                }
            }
            if chunk == 1 {
                break;
            }
            chunk /= 2;
        }
        let bytes = gen::encode_child(host, &child);
        let root = gen::encode_root(host, &[Entry { bytes: bytes.clone(), depth }], "REPRO", 5, 20).unwrap_or_default();
        let _ = std::fs::write(fdir.join("child.wasm"), &bytes);
        let _ = std::fs::write(fdir.join("root.wasm"), &root);
        let _ = std::fs::write(fdir.join("child-ops.txt"), format!("{:#?}\nstart: {:#?}\nblock: {:#?}\n", child.run_ops, child.start_ops, child.block_ops));
        let mut names = Vec::new();
        list_calls(host, &child.run_ops, &mut names);
        if let Some(s) = &child.start_ops {
            names.push("start{".into());
            list_calls(host, s, &mut names);
            names.push("}".into());
        }
        if child.recurse_unbounded {
            names.push("(unbounded trap::catch recursion in table function 2)".into());
        }
        note = format!(
            "reproduced by child {c} alone (depth {depth}); after {runs} shrinking runs its run() makes these host calls in order: {}",
            names.join(" ")
        );
    } else {
        let e = entries(plan, host, aims, b, &cand, None);
        let list: Vec<Entry> = e.iter().map(|g| Entry { bytes: g.entry.bytes.clone(), depth: g.entry.depth }).collect();
        let root = gen::encode_root(host, &list, "REPRO", 5, 20).unwrap_or_default();
        let _ = std::fs::write(fdir.join("root.wasm"), &root);
        note = if reproduced {
            format!("reproduced by children {}-{} together, by no single one", cand[0], cand[cand.len() - 1])
        } else {
            "not reproduced by the batch again: flaky (timing) or needs the runtime's state".to_string()
        };
    }
    let detflag = format!(
        " --max-total-memory={}{}",
        run::total_memory_mib(runner.mem_limit_kib),
        det.map_or(String::new(), |s| format!(" --deterministic={s}"))
    );
    note.push_str(&format!(
        "\nreproduce: mkdir -p /tmp/fzr/w/fz-sandbox && echo {} > /tmp/fzr/{} && cd /tmp/fzr/w && lunatic run{detflag} {}",
        runner.canary,
        gen::CANARY,
        fdir.join("root.wasm").display()
    ));
    let _ = std::fs::write(fdir.join("finding.txt"), format!("{f}\n{note}\n"));
    println!("  {}", note.replace('\n', "\n  "));
    record(child_found.or(culprit), note);
}

fn list_calls(host: &host::HostTable, ops: &[gen::Op], out: &mut Vec<String>) {
    for op in ops {
        match op {
            gen::Op::Call { f, .. } => out.push(format!("{}::{}", host.fns[*f].module.trim_start_matches("lunatic::"), host.fns[*f].name)),
            gen::Op::IfDepth(inner) => list_calls(host, inner, out),
            gen::Op::Guarded(inner) => {
                out.push("catch{".into());
                list_calls(host, inner, out);
                out.push("}".into());
            }
            gen::Op::Grow(n) => out.push(format!("memory.grow({n})")),
            gen::Op::Trap => out.push("unreachable".into()),
            gen::Op::Peek => out.push("peek(open+read+print fz-canary via fds 3..6)".into()),
            _ => {}
        }
    }
}
