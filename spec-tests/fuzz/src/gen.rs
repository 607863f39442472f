//! Generation of hostile guest modules ("children") and of the batch root that
//! compiles and spawns them one after another.
//!
//! A child is a list of operations (host calls with hostile arguments, aimed
//! sequences such as compile + spawn with a hostile config, memory growth) for
//! its exported `run(depth: i32, parent: i64)`, an optional start section, a
//! function reachable through `lunatic::trap::catch`, and a nested module in its
//! data that it may compile and spawn. Spawn chains are bounded by `depth`:
//! every spawn sits under "if depth > 0" and passes `depth - 1` (or a
//! parameter list that is invalid or says 0), and `run` clamps `depth` to 3.

use crate::host::HostTable;
use std::collections::HashMap;
use wasm_encoder::*;

/// 32 out-slots of 8 bytes: IDs the host writes, read back as later arguments.
pub const OUT: u32 = 16;
pub const NSLOTS: u32 = 32;
/// Spawn parameters `[i32 depth - 1, i64 self]`, written at run time.
pub const PARAMREC: u32 = 288;
/// Where reads land (read_data, error texts, addresses).
pub const SCRATCH: u32 = 512;
/// The canary file the harness puts next to the work dirs (outside every
/// sandbox a guest may have): a guest that can print it escaped.
pub const CANARY: &str = "fz-canary";
/// `peek`'s fixed data: I/O vector, out-values, the two names it tries, and
/// the export name "peek" itself.
const PEEK_IOV: u32 = 336;
const PEEK_OUT: u32 = 344;
const PEEK_NAME1: u32 = 352;
const PEEK_NAME2: u32 = 368;
const PEEK_FN: u32 = 384;
/// Start of the data items (strings, paths, blobs, nested modules).
pub const DATA: u32 = 1024;

/// What the generator may aim at (all on by default; `--skip` turns some off,
/// e.g. to look past a known bug in a long run).
#[derive(Clone, Debug)]
pub struct Aims {
    /// Unbounded `trap::catch` recursion.
    pub catch_recursion: bool,
    /// Registry calls in start sections of modules spawned by `get_or_spawn`.
    pub start_registry: bool,
    /// Sleeps and timeouts near `u64::MAX` (the virtual clock's overflow).
    pub huge_sleep: bool,
    /// Hostile preopen paths in configs (`/`, `..`, …).
    pub preopen: bool,
    /// Configs whose memory limit exceeds their creator's (and fresh
    /// configs, whose default is 4 GiB).
    pub config_memory: bool,
}

impl Default for Aims {
    fn default() -> Self {
        Self { catch_recursion: true, start_registry: true, huge_sleep: true, preopen: true, config_memory: true }
    }
}

impl Aims {
    /// Turns off the aims named in a comma-separated list.
    pub fn skip(&mut self, list: &str) -> Result<(), String> {
        for s in list.split(',').filter(|s| !s.is_empty()) {
            match s {
                "catch-recursion" => self.catch_recursion = false,
                "start-registry" => self.start_registry = false,
                "huge-sleep" => self.huge_sleep = false,
                "preopen" => self.preopen = false,
                "config-memory" => self.config_memory = false,
                _ => return Err(format!("unknown aim `{s}` (catch-recursion, start-registry, huge-sleep, preopen, config-memory)")),
            }
        }
        Ok(())
    }
}

/// A value passed to a host function.
#[derive(Clone, Debug)]
pub enum Arg {
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    /// `memory.size * 65536 + k`: at or past the end of memory.
    MemEnd(i32),
    /// The u64 in out-slot n (an ID the host issued earlier, or garbage).
    LoadOut(u32),
    /// Its low 32 bits.
    LoadOut32(u32),
    /// A u16 at an address (a port the host wrote).
    LoadU16(u32),
    SelfPid,
    ParentPid,
}

/// One step of a generated function.
#[derive(Clone, Debug)]
pub enum Op {
    /// Calls host function `f`; stores an integer result into out-slot `store`.
    Call { f: usize, args: Vec<Arg>, store: Option<u32> },
    /// `memory.grow` by this many pages (result dropped).
    Grow(i32),
    /// An i64 store at an address (scribbles over data the host reads).
    Poke { addr: Arg, val: i64 },
    /// Runs the inner ops only when depth > 0.
    IfDepth(Vec<Op>),
    /// Writes `[i32 depth - 1, i64 self]` at PARAMREC.
    WriteParams,
    /// `unreachable`.
    Trap,
    /// Runs the inner ops in a function of their own called through
    /// `lunatic::trap::catch`, so that a trap ends only this part.
    Guarded(Vec<Op>),
    /// Calls `peek`: tries to print the canary through every preopen.
    Peek,
}

/// A generated guest.
#[derive(Clone, Debug)]
pub struct Child {
    pub mem_min: u32,
    pub mem_max: Option<u32>,
    pub export_memory: bool,
    pub data: Vec<u8>,
    pub run_ops: Vec<Op>,
    pub start_ops: Option<Vec<Op>>,
    pub block_ops: Vec<Op>,
    pub alloc_ret: i32,
    pub catch_export: bool,
    pub recurse_unbounded: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Name,
    BadUtf8,
    Path,
    SafePath,
    Params,
    BadParams,
    Iovec,
    Tags,
    Addr4,
    Addr6,
    Module,
    Blob,
    Long,
}

#[derive(Default)]
struct Data {
    bytes: Vec<u8>,
    items: Vec<(Kind, u32, u32)>,
}

impl Data {
    fn add(&mut self, kind: Kind, b: &[u8]) -> (u32, u32) {
        let off = DATA + self.bytes.len() as u32;
        self.bytes.extend_from_slice(b);
        self.items.push((kind, off, b.len() as u32));
        (off, b.len() as u32)
    }
}

/// Generates children from a seeded RNG.
pub struct Gen<'a> {
    pub host: &'a HostTable,
    pub rng: fastrand::Rng,
    pub aims: &'a Aims,
    data: Data,
    level: u32,
    /// Nested modules generated so far (modules in children's data).
    pub nested: u64,
    /// Generating the block without recursion: no catch, no guarded parts.
    in_block: bool,
    /// Generating a start section.
    in_start: bool,
}

fn p_id(kind: u8, v: u128) -> [u8; 17] {
    let mut r = [0u8; 17];
    r[0] = kind;
    r[1..].copy_from_slice(&v.to_le_bytes());
    r
}

impl<'a> Gen<'a> {
    pub fn new(host: &'a HostTable, seed: u64, aims: &'a Aims) -> Self {
        Self { host, rng: fastrand::Rng::with_seed(seed), aims, data: Data::default(), level: 2, nested: 0, in_block: false, in_start: false }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.f64() < p
    }

    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.rng.usize(..xs.len())].clone()
    }

    fn item(&mut self, kind: Kind) -> Option<(u32, u32)> {
        let xs: Vec<_> = self.data.items.iter().filter(|i| i.0 == kind).map(|i| (i.1, i.2)).collect();
        // The nested generated module (first) is the one worth compiling most.
        if kind == Kind::Module && self.level > 0 && !xs.is_empty() && self.chance(0.5) {
            return Some(xs[0]);
        }
        if xs.is_empty() {
            None
        } else {
            Some(self.pick(&xs))
        }
    }

    /// Generates a child module (level 2: it may hold a level-1 module, and so on).
    pub fn child(&mut self) -> Child {
        self.child_at(2)
    }

    fn child_at(&mut self, level: u32) -> Child {
        let saved = (std::mem::take(&mut self.data), self.level);
        self.level = level;
        let inner = if level > 0 && self.chance(0.8) {
            let c = self.child_at(level - 1);
            self.nested += 1;
            Some(encode_child(self.host, &c))
        } else {
            None
        };
        self.fill_data(inner);
        let n = match level {
            2 => self.rng.usize(12..40),
            1 => self.rng.usize(4..14),
            _ => self.rng.usize(1..6),
        };
        let run_ops = self.ops(n, false);
        let start_p = match level {
            2 => 0.15,
            _ => 0.6,
        };
        let start_ops = if self.chance(start_p) {
            let n = self.rng.usize(1..6);
            Some(self.ops(n, true))
        } else {
            None
        };
        let nb = self.rng.usize(0..6);
        // The block is what table function 3 runs inside a catch: when
        // recursion is not aimed at, it must not catch again (that recursion
        // would have no end).
        self.in_block = !self.aims.catch_recursion;
        let block_ops = self.ops(nb, false);
        self.in_block = false;
        let needed = (DATA as usize + self.data.bytes.len()).div_ceil(65536) as u32;
        let mem_min = if self.chance(0.05) { needed + self.rng.u32(0..4) } else { needed };
        let mem_max = if self.chance(0.1) { Some(mem_min + self.rng.u32(0..3)) } else { None };
        let alloc_ret = if self.chance(0.5) {
            (SCRATCH + 64) as i32
        } else {
            self.pick(&[0, -1, -8, 0x7fff_ffff, 65535, 65536, (SCRATCH + 64) as i32])
        };
        let c = Child {
            mem_min,
            mem_max,
            export_memory: !self.chance(0.03),
            data: std::mem::take(&mut self.data.bytes),
            run_ops,
            start_ops,
            block_ops,
            alloc_ret,
            catch_export: !self.chance(0.05),
            recurse_unbounded: self.aims.catch_recursion && self.chance(0.05),
        };
        (self.data, self.level) = saved;
        c
    }

    fn fill_data(&mut self, inner: Option<Vec<u8>>) {
        let d = &mut self.data;
        for s in [
            "run", "_start", "block", "lunatic_alloc", "_lunatic_catch_trap", "nonexistent", "", "a/b/c/name",
            "fz-name-0", "fz-name-1", "memory", "localhost:0", "127.0.0.1:1", "KEY", "VALUE=x", "PATH",
        ] {
            d.add(Kind::Name, s.as_bytes());
        }
        for b in [&b"\xff\xfe\x80"[..], b"\xc3", b"ab\xed\xa0\x80", b"\xc0\xaf", b"run\xff"] {
            d.add(Kind::BadUtf8, b);
        }
        for s in [
            "/", "..", "../..", ".", "", "/etc", "/etc/passwd", "/proc/self/root", "~", "./../x", "/nonexistent",
            "fz-sandbox/../../..", "a\0b", "fz-sandbox", "fz-sandbox/l/..", "../../etc/passwd", "fz-sandbox/../..",
        ] {
            d.add(Kind::Path, s.as_bytes());
        }
        d.add(Kind::Long, "x/".repeat(600).as_bytes());
        d.add(Kind::Long, &vec![b'a'; 1500]);
        for s in ["fz-sandbox/a", "fz-sandbox/b", "fz-sandbox/sub", "fz-sandbox/l"] {
            d.add(Kind::SafePath, s.as_bytes());
        }
        let mut two = p_id(0x7F, 0).to_vec();
        two.extend_from_slice(&p_id(0x7E, 0));
        d.add(Kind::Params, &two);
        d.add(Kind::Params, &p_id(0x7F, 0));
        d.add(Kind::BadParams, &two[..16]);
        d.add(Kind::BadParams, &p_id(0x7D, 0));
        d.add(Kind::BadParams, &p_id(0x00, 0));
        d.add(Kind::BadParams, &p_id(0x7B, u128::MAX));
        let mut many = Vec::new();
        for i in 0..40 {
            many.extend_from_slice(&p_id(0x7E, i));
        }
        d.add(Kind::BadParams, &many);
        // I/O vectors over the names above, and broken ones.
        let names: Vec<(u32, u32)> = d.items.iter().filter(|i| i.0 == Kind::Name).map(|i| (i.1, i.2)).collect();
        let mut iov = Vec::new();
        for (p, l) in names.iter().take(4) {
            iov.extend_from_slice(&p.to_le_bytes());
            iov.extend_from_slice(&l.to_le_bytes());
        }
        d.add(Kind::Iovec, &iov);
        let mut bad = Vec::new();
        for (p, l) in [(DATA, u32::MAX), (u32::MAX - 4, 8), (0x7fff_0000, 16), (DATA, 0)] {
            bad.extend_from_slice(&p.to_le_bytes());
            bad.extend_from_slice(&l.to_le_bytes());
        }
        d.add(Kind::Iovec, &bad);
        let mut tags = Vec::new();
        for t in [1i64, 2, 0, -1, 100] {
            tags.extend_from_slice(&t.to_le_bytes());
        }
        d.add(Kind::Tags, &tags);
        d.add(Kind::Addr4, &[127, 0, 0, 1]);
        d.add(Kind::Addr4, &[0, 0, 0, 0]);
        d.add(Kind::Addr4, &[255, 255, 255, 255]);
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        d.add(Kind::Addr6, &v6);
        d.add(Kind::Addr6, &[0xff; 16]);
        if let Some(m) = inner {
            d.add(Kind::Module, &m);
        }
        d.add(Kind::Module, b"\0asm\x01\0\0\0");
        d.add(Kind::Module, b"(module (func (export \"run\") (param i32 i64)))");
        d.add(Kind::Module, b"(module (import \"lunatic::nope\" \"nope\" (func)))");
        d.add(Kind::Module, b"(module (memory 65536) (func (export \"run\") (param i32 i64)))");
        d.add(Kind::Module, b"(module (func $s unreachable) (start $s) (func (export \"run\") (param i32 i64)))");
        d.add(Kind::Module, b"\0asm\x01\0\0\0\x01\xff\xff\xff\xff\x0f");
        d.add(Kind::Module, b"\xff\xfe junk");
        let n = self.rng.usize(16..256);
        let blob: Vec<u8> = (0..n).map(|_| self.rng.u8(..)).collect();
        self.data.add(Kind::Blob, &blob);
    }

    // ---- argument choices ----

    fn ptr(&mut self) -> Arg {
        match self.rng.u32(0..20) {
            0..=7 => {
                let kinds = [Kind::Name, Kind::Path, Kind::Blob, Kind::Iovec, Kind::Tags, Kind::BadUtf8];
                let k = self.pick(&kinds);
                Arg::I32(self.item(k).map_or(DATA as i32, |i| i.0 as i32))
            }
            8..=9 => Arg::I32((OUT + 8 * self.rng.u32(0..NSLOTS)) as i32),
            10 => Arg::I32(SCRATCH as i32),
            11 => Arg::I32(0),
            12..=14 => {
                let k = self.pick(&[-1, -4, -8, -16, 0, 1, 4096]);
                Arg::MemEnd(k)
            }
            15..=16 => {
                let v = self.pick(&[0x7fff_ffff, -1, -16, 0x10000, 0xffff, i32::MIN]);
                Arg::I32(v)
            }
            17 => Arg::I32(self.rng.i32(..)),
            _ => Arg::I32(self.rng.i32(0..65536)),
        }
    }

    fn len(&mut self) -> Arg {
        Arg::I32(self.pick(&[0, 1, 2, 4, 8, 16, 17, 34, 255, 4096, 65536, -1, 0x7fff_ffff, i32::MIN, 3, 5]))
    }

    fn small(&mut self) -> Arg {
        if self.chance(0.7) {
            Arg::I32(self.rng.i32(-1..10))
        } else {
            self.pick(&[Arg::I32(i32::MAX), Arg::I32(i32::MIN), Arg::I32(0xffff), Arg::I32(4), Arg::I32(6)])
        }
    }

    fn slot(&mut self) -> u32 {
        self.rng.u32(0..NSLOTS)
    }

    fn out(&mut self) -> Arg {
        if self.chance(0.9) {
            Arg::I32((OUT + 8 * self.slot()) as i32)
        } else {
            self.ptr()
        }
    }

    fn id(&mut self) -> Arg {
        match self.rng.u32(0..20) {
            0..=6 => Arg::LoadOut(self.slot()),
            7..=10 => Arg::I64(self.rng.i64(0..5)),
            11 => Arg::I64(-1),
            12 => Arg::I64(i64::MIN),
            13 => Arg::I64(i64::MAX),
            14 => Arg::I64(u32::MAX as i64),
            15 => Arg::SelfPid,
            16 => Arg::ParentPid,
            _ => Arg::I64(self.rng.i64(..)),
        }
    }

    fn pid(&mut self) -> Arg {
        match self.rng.u32(0..40) {
            0..=13 => Arg::SelfPid,
            14..=23 => Arg::ParentPid,
            24..=31 => Arg::LoadOut(self.slot()),
            32 => Arg::I64(1),
            33 => Arg::I64(0),
            34 => Arg::I64(-1),
            _ => Arg::I64(self.rng.i64(0..64)),
        }
    }

    fn timeout(&mut self) -> Arg {
        match self.rng.u32(0..20) {
            0..=11 => Arg::I64(self.rng.i64(0..4)),
            12..=15 => Arg::I64(self.rng.i64(0..30)),
            16 => Arg::I64(-1),
            17 if self.aims.huge_sleep => Arg::I64(i64::MAX),
            18 if self.aims.huge_sleep => Arg::I64(-2),
            _ => Arg::I64(1),
        }
    }

    fn tag(&mut self) -> Arg {
        Arg::I64(self.pick(&[0, 1, 2, 100, -1, i64::MIN, 7]))
    }

    fn data_ref(&mut self, kind: Kind) -> (Arg, Arg) {
        match self.item(kind) {
            Some((p, l)) if self.chance(0.85) => (Arg::I32(p as i32), Arg::I32(l as i32)),
            Some((p, _)) => {
                let l = self.len();
                (Arg::I32(p as i32), l)
            }
            None => (self.ptr(), self.len()),
        }
    }

    fn name(&mut self) -> (Arg, Arg) {
        let k = if self.chance(0.1) { Kind::BadUtf8 } else { Kind::Name };
        self.data_ref(k)
    }

    fn generic_args(&mut self, f: usize) -> Vec<Arg> {
        let params = self.host.fns[f].params.clone();
        let mut args = Vec::new();
        let mut i = 0;
        while i < params.len() {
            match params[i] {
                ValType::I32 if i + 1 < params.len() && params[i + 1] == ValType::I32 && self.chance(0.5) => {
                    let k = self.pick(&[Kind::Name, Kind::Blob, Kind::Iovec, Kind::Tags, Kind::Path, Kind::Addr4]);
                    let (p, l) = self.data_ref(k);
                    args.push(p);
                    args.push(l);
                    i += 2;
                    continue;
                }
                ValType::I32 => {
                    let a = match self.rng.u32(0..3) {
                        0 => self.small(),
                        1 => self.ptr(),
                        _ => self.out(),
                    };
                    args.push(a)
                }
                ValType::I64 => {
                    let a = if self.chance(0.8) { self.id() } else { self.timeout() };
                    args.push(a)
                }
                ValType::F32 => args.push(Arg::F32(self.pick(&[0.0, f32::NAN, f32::INFINITY, -0.0, 1.5]))),
                ValType::F64 => {
                    args.push(Arg::F64(self.pick(&[0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 1e308, 1.5])))
                }
                _ => args.push(Arg::I64(0)),
            }
            i += 1;
        }
        args
    }

    /// A call of `module::name`; falls back to generic arguments if the
    /// runtime's signature differs from what the recipe assumed.
    fn call(&mut self, module: &str, name: &str, args: Vec<Arg>, store: Option<u32>) -> Option<Op> {
        let f = self.host.find(module, name)?;
        let fits = args.len() == self.host.fns[f].params.len()
            && args.iter().zip(&self.host.fns[f].params).all(|(a, t)| arg_type(a) == *t);
        let args = if fits { args } else { self.generic_args(f) };
        let store = store.filter(|_| self.host.fns[f].results.iter().all(|t| matches!(t, ValType::I32 | ValType::I64)));
        let store = store.filter(|_| self.host.fns[f].results.len() == 1);
        Some(Op::Call { f, args, store })
    }

    fn ops(&mut self, n: usize, in_start: bool) -> Vec<Op> {
        let mut ops = Vec::new();
        self.in_start = in_start;
        for k in 0..n {
            // Guarded parts first, so that a trap ends the process only near its end.
            let p_guard = if k * 5 < n * 4 { 0.98 } else { 0.5 };
            if !in_start && !self.in_block && self.chance(p_guard) {
                let mut inner = Vec::new();
                self.recipe(&mut inner, false);
                ops.push(Op::Guarded(inner));
            } else {
                self.recipe(&mut ops, in_start);
            }
        }
        if !in_start && self.chance(0.03) {
            ops.push(Op::Trap);
        }
        self.in_start = false;
        ops
    }

    fn recipe(&mut self, ops: &mut Vec<Op>, in_start: bool) {
        let m = |s: &str| format!("lunatic::{s}");
        let roll = self.rng.u32(0..100);
        if in_start {
            // Start sections: registry calls (the get_or_spawn lock), a few others.
            match roll {
                0..=59 if self.aims.start_registry => self.registry(ops, false),
                60..=64 => {
                    // Spawning from a start section must trap, not recurse.
                    let (n, l) = self.data_ref(Kind::Name);
                    let (pp, pl) = self.data_ref(Kind::Params);
                    let out = self.out();
                    ops.extend(self.call(&m("process"), "spawn", vec![Arg::I64(0), Arg::I64(-1), Arg::I64(-1), n, l, pp, pl, out], None));
                }
                _ => self.generic(ops),
            }
            return;
        }
        match roll {
            0..=9 => self.compile_spawn(ops),
            10..=17 => self.config(ops),
            18..=29 => self.message(ops),
            30..=37 => self.registry(ops, true),
            38..=43 => self.catch(ops),
            44..=47 => self.timer(ops),
            50 if self.aims.preopen => self.escape(ops),
            48..=50 => {
                let t = self.timeout();
                ops.extend(self.call(&m("process"), "sleep_ms", vec![t], None));
            }
            51..=57 => self.process_misc(ops),
            58..=61 => self.error(ops),
            62..=67 => self.net(ops),
            68..=77 => self.wasi(ops),
            78..=80 => {
                let pages = self.pick(&[0, 1, 2, 16, 256, 65535, -1, 1024]);
                ops.push(Op::Grow(pages));
                let k = self.pick(&[-8, -1, -4096, 0]);
                ops.push(Op::Poke { addr: Arg::MemEnd(k), val: -1 });
            }
            81 => ops.push(Op::Peek),
            82 => {
                let addr = self.ptr();
                ops.push(Op::Poke { addr, val: self.rng.i64(..) });
            }
            _ => self.generic(ops),
        }
    }

    fn generic(&mut self, ops: &mut Vec<Op>) {
        let f = self.rng.usize(..self.host.fns.len());
        let (module, name) = (self.host.fns[f].module.clone(), self.host.fns[f].name.clone());
        // Calls that can spawn, recurse, exit or change files are generated by
        // their recipes (bounded chains, files only in the sandbox directory).
        match (module.as_str(), name.as_str()) {
            ("lunatic::process", "spawn" | "get_or_spawn") | ("lunatic::distributed", "spawn") => self.compile_spawn(ops),
            ("lunatic::trap", "catch") => self.catch(ops),
            ("lunatic::process", "sleep_ms") => {
                let t = self.timeout();
                ops.extend(self.call(&module, &name, vec![t], None));
            }
            ("wasi_snapshot_preview1", n) if n.starts_with("path_") || n == "proc_exit" || n == "poll_oneoff" => self.wasi(ops),
            ("lunatic::wasi", "config_preopen_dir") | ("lunatic::process", "create_config") => self.config(ops),
            ("lunatic::process", "config_set_max_memory") if !self.aims.config_memory => self.config(ops),
            ("lunatic::registry", _) if self.in_start && !self.aims.start_registry => {}
            _ => {
                let args = self.generic_args(f);
                let store = Some(self.slot()).filter(|_| self.chance(0.5));
                let store = store.filter(|_| self.host.fns[f].results.len() == 1);
                ops.push(Op::Call { f, args, store });
            }
        }
    }

    fn spawn_args(&mut self, cfg: Arg, module: Arg) -> Vec<Op> {
        let mut ops = vec![Op::WriteParams];
        let link = if self.chance(0.5) { Arg::I64(0) } else { self.tag() };
        let (fnp, fnl) = match self.rng.u32(0..10) {
            0..=5 => (Arg::I32(DATA as i32), Arg::I32(3)),
            6 | 7 => (Arg::I32(PEEK_FN as i32), Arg::I32(4)),
            _ => self.name(),
        };
        let (pp, pl) = match self.rng.u32(0..10) {
            0..=6 => (Arg::I32(PARAMREC as i32), Arg::I32(34)),
            7 => self.data_ref(Kind::Params),
            8 => self.data_ref(Kind::BadParams),
            _ => (Arg::I32(0), Arg::I32(0)),
        };
        let out = Arg::I32((OUT + 8 * self.slot()) as i32);
        let p = "lunatic::process";
        match self.rng.u32(0..10) {
            0..=5 => ops.extend(self.call(p, "spawn", vec![link, cfg, module, fnp, fnl, pp, pl, out], None)),
            6..=8 => {
                let (np, nl) = self.name();
                let out2 = Arg::I32((OUT + 8 * self.slot()) as i32);
                ops.extend(self.call(p, "get_or_spawn", vec![np, nl, link, cfg, module, fnp, fnl, pp, pl, out2, out], None));
            }
            _ => {
                let node = self.id();
                ops.extend(self.call("lunatic::distributed", "spawn", vec![node, cfg, module, fnp, fnl, pp, pl, out], None));
            }
        }
        ops
    }

    fn compile_spawn(&mut self, ops: &mut Vec<Op>) {
        let (mp, ml) = self.data_ref(Kind::Module);
        let s = self.slot();
        ops.extend(self.call("lunatic::process", "compile_module", vec![mp, ml, Arg::I32((OUT + 8 * s) as i32)], None));
        let cfg = match self.rng.u32(0..4) {
            0 | 1 => Arg::I64(-1),
            2 => Arg::LoadOut(self.slot()),
            _ => self.id(),
        };
        let module = if self.chance(0.75) { Arg::LoadOut(s) } else { self.pick(&[Arg::I64(-1), Arg::I64(0), Arg::I64(99)]) };
        let sp = self.spawn_args(cfg, module);
        ops.push(Op::IfDepth(sp));
        if self.chance(0.5) {
            ops.extend(self.call("lunatic::process", "drop_module", vec![Arg::LoadOut(s)], None));
        }
    }

    fn config(&mut self, ops: &mut Vec<Op>) {
        let p = "lunatic::process";
        let s = self.slot();
        ops.extend(self.call(p, "create_config", vec![], Some(s)));
        let c = Arg::LoadOut(s);
        if !self.aims.config_memory {
            // Not more than the batch root grants its children (32 MiB).
            let v = self.pick(&[0i64, 1, 65536, 1 << 20, 32 << 20]);
            ops.extend(self.call(p, "config_set_max_memory", vec![c.clone(), Arg::I64(v)], None));
        }
        for _ in 0..self.rng.usize(1..6) {
            match self.rng.u32(0..10) {
                0 => {
                    let v = if self.aims.config_memory {
                        self.pick(&[0i64, 1, 65536, 1 << 20, -1, i64::MAX, 1 << 40])
                    } else {
                        self.pick(&[0i64, 1, 65536, 1 << 20, 32 << 20])
                    };
                    ops.extend(self.call(p, "config_set_max_memory", vec![c.clone(), Arg::I64(v)], None));
                }
                1 => {
                    let v = self.pick(&[0i64, 1, 2, -1, i64::MAX, 1000]);
                    ops.extend(self.call(p, "config_set_max_fuel", vec![c.clone(), Arg::I64(v)], None));
                }
                2 => {
                    let n = self.pick(&["config_set_can_compile_modules", "config_set_can_create_configs", "config_set_can_spawn_processes"]);
                    let v = self.pick(&[0, 1, -1, 2]);
                    ops.extend(self.call(p, n, vec![c.clone(), Arg::I32(v)], None));
                }
                3 => {
                    let n = self.pick(&[
                        "config_get_max_memory",
                        "config_get_max_fuel",
                        "config_can_compile_modules",
                        "config_can_create_configs",
                        "config_can_spawn_processes",
                    ]);
                    let s2 = self.slot();
                    ops.extend(self.call(p, n, vec![c.clone()], Some(s2)));
                }
                4..=5 if self.aims.preopen => {
                    let k = self.pick(&[Kind::Path, Kind::Path, Kind::BadUtf8, Kind::Long, Kind::SafePath]);
                    let (dp, dl) = self.data_ref(k);
                    ops.extend(self.call("lunatic::wasi", "config_preopen_dir", vec![c.clone(), dp, dl], None));
                }
                6 => {
                    let (kp, kl) = self.name();
                    let k = self.pick(&[Kind::Name, Kind::Long, Kind::BadUtf8]);
                    let (vp, vl) = self.data_ref(k);
                    ops.extend(self.call("lunatic::wasi", "config_add_environment_variable", vec![c.clone(), kp, kl, vp, vl], None));
                }
                7 => {
                    let k = self.pick(&[Kind::Name, Kind::Long, Kind::BadUtf8, Kind::Blob]);
                    let (ap, al) = self.data_ref(k);
                    ops.extend(self.call("lunatic::wasi", "config_add_command_line_argument", vec![c.clone(), ap, al], None));
                }
                _ => {
                    let module = if self.chance(0.5) { Arg::I64(-1) } else { Arg::LoadOut(self.slot()) };
                    let sp = self.spawn_args(c.clone(), module);
                    ops.push(Op::IfDepth(sp));
                }
            }
        }
        if self.chance(0.5) {
            ops.extend(self.call(p, "drop_config", vec![c.clone()], None));
            if self.chance(0.2) {
                ops.extend(self.call(p, "drop_config", vec![c], None));
            }
        }
    }

    /// A config preopening a directory its creator cannot reach, and a child
    /// spawned with it that tries to print the canary file.
    fn escape(&mut self, ops: &mut Vec<Op>) {
        let p = "lunatic::process";
        let s = self.slot();
        ops.extend(self.call(p, "create_config", vec![], Some(s)));
        let dir = self.pick(&["..", "..", "/", "../..", "/proc/self/root", "fz-sandbox/l/..", "~", "fz-sandbox/../.."]);
        let found = self.data.items.iter().find(|i| i.0 == Kind::Path && &self.data.bytes[(i.1 - DATA) as usize..(i.1 - DATA + i.2) as usize] == dir.as_bytes());
        let (dp, dl) = found.map(|i| (i.1, i.2)).unwrap_or((0, 0));
        ops.extend(self.call("lunatic::wasi", "config_preopen_dir", vec![Arg::LoadOut(s), Arg::I32(dp as i32), Arg::I32(dl as i32)], None));
        if !self.aims.config_memory {
            ops.extend(self.call(p, "config_set_max_memory", vec![Arg::LoadOut(s), Arg::I64(32 << 20)], None));
        }
        let mut sp = vec![Op::WriteParams];
        let out = Arg::I32((OUT + 8 * self.slot()) as i32);
        sp.extend(self.call(
            p,
            "spawn",
            vec![Arg::I64(0), Arg::LoadOut(s), Arg::I64(-1), Arg::I32(PEEK_FN as i32), Arg::I32(4), Arg::I32(PARAMREC as i32), Arg::I32(34), out],
            None,
        ));
        ops.push(Op::IfDepth(sp));
    }

    fn message(&mut self, ops: &mut Vec<Op>) {
        let m = "lunatic::message";
        if self.chance(0.9) {
            let tag = self.tag();
            let cap = Arg::I64(self.pick(&[0i64, 16, 1 << 40, -1, 4096]));
            ops.extend(self.call(m, "create_data", vec![tag, cap], None));
        }
        for _ in 0..self.rng.usize(0..4) {
            match self.rng.u32(0..6) {
                0 | 1 => {
                    let (p, l) = if self.chance(0.7) { self.data_ref(Kind::Blob) } else { (self.ptr(), self.len()) };
                    ops.extend(self.call(m, "write_data", vec![p, l], None));
                }
                _ => {
                    let n = self.pick(&["push_module", "push_tcp_stream", "push_tls_stream", "push_udp_socket"]);
                    let id = self.id();
                    let s = self.slot();
                    ops.extend(self.call(m, n, vec![id], Some(s)));
                }
            }
        }
        let to = self.pid();
        match self.rng.u32(0..6) {
            0..=2 => ops.extend(self.call(m, "send", vec![to], None)),
            3 => {
                let d = self.timeout();
                let s = self.slot();
                ops.extend(self.call("lunatic::timer", "send_after", vec![to, d], Some(s)));
            }
            4 => {
                let (tag, t) = (self.tag(), self.timeout());
                ops.extend(self.call(m, "send_receive_skip_search", vec![to, tag, t], None));
            }
            _ => {}
        }
        if self.chance(0.7) {
            let (tp, tl) = match self.rng.u32(0..4) {
                0 | 1 => (Arg::I32(0), Arg::I32(0)),
                2 => self.data_ref(Kind::Tags),
                _ => (self.ptr(), self.len()),
            };
            let t = self.timeout();
            ops.extend(self.call(m, "receive", vec![tp, tl, t], None));
        }
        for _ in 0..self.rng.usize(0..4) {
            match self.rng.u32(0..8) {
                0 => {
                    let (p, l) = (self.ptr(), self.len());
                    ops.extend(self.call(m, "read_data", vec![p, l], None));
                }
                1 => ops.extend(self.call(m, "read_data", vec![Arg::I32(SCRATCH as i32), Arg::I32(256)], None)),
                2 => {
                    let o = Arg::I64(self.pick(&[0i64, 1, -1, i64::MAX, 1 << 33]));
                    ops.extend(self.call(m, "seek_data", vec![o], None));
                }
                3 => {
                    let n = self.pick(&["data_size", "get_tag", "get_process_id"]);
                    let s = self.slot();
                    ops.extend(self.call(m, n, vec![], Some(s)));
                }
                _ => {
                    let n = self.pick(&["take_module", "take_tcp_stream", "take_tls_stream", "take_udp_socket"]);
                    let i = Arg::I64(self.pick(&[0i64, 0, 1, 2, -1, i64::MAX]));
                    let s = self.slot();
                    ops.extend(self.call(m, n, vec![i], Some(s)));
                }
            }
        }
    }

    fn registry(&mut self, ops: &mut Vec<Op>, may_spawn: bool) {
        let r = "lunatic::registry";
        for _ in 0..self.rng.usize(1..4) {
            let (np, nl) = self.name();
            match self.rng.u32(0..4) {
                0 => {
                    let (node, pid) = (self.pick(&[Arg::I64(0), Arg::I64(1), Arg::I64(-1)]), self.pid());
                    ops.extend(self.call(r, "put", vec![np, nl, node, pid], None));
                }
                1 | 2 => {
                    let (a, b) = (self.out(), self.out());
                    ops.extend(self.call(r, "get", vec![np, nl, a, b], None));
                }
                _ => ops.extend(self.call(r, "remove", vec![np, nl], None)),
            }
        }
        if may_spawn && self.chance(0.5) {
            // get_or_spawn of a nested module whose start section may use the registry.
            let (mp, ml) = self.data_ref(Kind::Module);
            let s = self.slot();
            ops.extend(self.call("lunatic::process", "compile_module", vec![mp, ml, Arg::I32((OUT + 8 * s) as i32)], None));
            let mut sp = vec![Op::WriteParams];
            let (np, nl) = self.name();
            let link = if self.chance(0.5) { Arg::I64(0) } else { self.tag() };
            let (a, b) = (Arg::I32((OUT + 8 * self.slot()) as i32), Arg::I32((OUT + 8 * self.slot()) as i32));
            sp.extend(self.call(
                "lunatic::process",
                "get_or_spawn",
                vec![np, nl, link, Arg::I64(-1), Arg::LoadOut(s), Arg::I32(DATA as i32), Arg::I32(3), Arg::I32(PARAMREC as i32), Arg::I32(34), a, b],
                None,
            ));
            ops.push(Op::IfDepth(sp));
        }
    }

    fn catch(&mut self, ops: &mut Vec<Op>) {
        if self.in_block {
            return;
        }
        // 5 is the first guarded part: a part that catches itself recurses without end.
        let f = if self.aims.catch_recursion { self.pick(&[0, 1, 2, 3, 4, 4, 3, 5, -1, 1000]) } else { self.pick(&[0, 1, 2, 3, 4, 4, 3, -1, 1000]) };
        let p = if f == 2 {
            // Table function 2 recurses p times (or without end in recursion children).
            Arg::I32(self.rng.i32(0..48))
        } else {
            self.small()
        };
        ops.extend(self.call("lunatic::trap", "catch", vec![Arg::I32(f), p], None));
    }

    fn timer(&mut self, ops: &mut Vec<Op>) {
        let t = "lunatic::timer";
        if self.chance(0.7) {
            let tag = self.tag();
            ops.extend(self.call("lunatic::message", "create_data", vec![tag, Arg::I64(0)], None));
            let (to, d) = (self.pid(), self.timeout());
            let s = self.slot();
            ops.extend(self.call(t, "send_after", vec![to, d], Some(s)));
            if self.chance(0.6) {
                ops.extend(self.call(t, "cancel_timer", vec![Arg::LoadOut(s)], None));
            }
        }
        if self.chance(0.5) {
            let id = self.id();
            ops.extend(self.call(t, "cancel_timer", vec![id], None));
        }
    }

    fn process_misc(&mut self, ops: &mut Vec<Op>) {
        let p = "lunatic::process";
        let pid = self.pid();
        match self.rng.u32(0..9) {
            0 => {
                let tag = self.tag();
                ops.extend(self.call(p, "link", vec![tag, pid], None))
            }
            1 => ops.extend(self.call(p, "unlink", vec![pid], None)),
            2 => ops.extend(self.call(p, "monitor", vec![pid], None)),
            3 => ops.extend(self.call(p, "stop_monitoring", vec![pid], None)),
            4 => {
                // Killing the batch root (1, the parent of the first level)
                // ends the batch early: rarely.
                let pid = match pid {
                    Arg::I64(1) | Arg::ParentPid if self.chance(0.9) => Arg::SelfPid,
                    p => p,
                };
                ops.extend(self.call(p, "kill", vec![pid], None))
            }
            5 => {
                let s = self.slot();
                ops.extend(self.call(p, "exists", vec![pid], Some(s)))
            }
            6 => {
                let v = self.pick(&[0, 1, -1]);
                ops.extend(self.call(p, "die_when_link_dies", vec![Arg::I32(v)], None))
            }
            7 => {
                let s = self.slot();
                ops.extend(self.call(p, "process_id", vec![], Some(s)))
            }
            _ => {
                let s = self.slot();
                ops.extend(self.call(p, "environment_id", vec![], Some(s)))
            }
        }
    }

    fn error(&mut self, ops: &mut Vec<Op>) {
        let e = "lunatic::error";
        let id = self.id();
        match self.rng.u32(0..4) {
            0 => {
                let s = self.slot();
                ops.extend(self.call(e, "string_size", vec![id], Some(s)))
            }
            1 => {
                let p = if self.chance(0.6) { Arg::I32(SCRATCH as i32) } else { self.ptr() };
                ops.extend(self.call(e, "to_string", vec![id, p], None))
            }
            _ => {
                ops.extend(self.call(e, "drop", vec![id.clone()], None));
                if self.chance(0.2) {
                    ops.extend(self.call(e, "drop", vec![id], None));
                }
            }
        }
    }

    fn net(&mut self, ops: &mut Vec<Op>) {
        let n = "lunatic::networking";
        let (ap, _) = self.data_ref(Kind::Addr4);
        let s = self.slot();
        let out = Arg::I32((OUT + 8 * s) as i32);
        match self.rng.u32(0..4) {
            0 => {
                let at = self.pick(&[Arg::I32(4), Arg::I32(4), Arg::I32(6), Arg::I32(5)]);
                let port = self.pick(&[Arg::I32(0), Arg::I32(0), Arg::I32(80), Arg::I32(-1)]);
                ops.extend(self.call(n, "tcp_bind", vec![at, ap, port, Arg::I32(0), Arg::I32(0), out], None));
                let s2 = self.slot();
                ops.extend(self.call(n, "tcp_local_addr", vec![Arg::LoadOut(s), Arg::I32((OUT + 8 * s2) as i32)], None));
                let sc = SCRATCH as i32;
                ops.extend(self.call(
                    n,
                    "resolve_next",
                    vec![Arg::LoadOut(s2), Arg::I32(sc), Arg::I32(sc + 4), Arg::I32(sc + 20), Arg::I32(sc + 24), Arg::I32(sc + 28)],
                    None,
                ));
                let t = self.timeout();
                let s3 = self.slot();
                ops.extend(self.call(
                    n,
                    "tcp_connect",
                    vec![Arg::I32(4), Arg::I32(sc + 4), Arg::LoadU16(SCRATCH + 20), Arg::I32(0), Arg::I32(0), t, Arg::I32((OUT + 8 * s3) as i32)],
                    None,
                ));
            }
            1 => {
                let port = self.pick(&[Arg::I32(0), Arg::I32(0), Arg::I32(53)]);
                ops.extend(self.call(n, "udp_bind", vec![Arg::I32(4), ap, port, Arg::I32(0), Arg::I32(0), out], None));
            }
            2 => {
                let (np, nl) = self.name();
                let t = self.timeout();
                ops.extend(self.call(n, "resolve", vec![np, nl, t, out], None));
            }
            _ => {}
        }
        for _ in 0..self.rng.usize(1..4) {
            let nets: Vec<usize> = (0..self.host.fns.len()).filter(|&i| self.host.fns[i].module == n).collect();
            if nets.is_empty() {
                return;
            }
            let f = self.pick(&nets);
            let args = self.generic_args(f);
            let store = Some(self.slot()).filter(|_| self.host.fns[f].results.len() == 1);
            ops.push(Op::Call { f, args, store });
        }
    }

    fn wasi(&mut self, ops: &mut Vec<Op>) {
        let w = "wasi_snapshot_preview1";
        // fd numbers: stdio, the preopen, ones path_open wrote to an out-slot, junk.
        let fd = |g: &mut Self| if g.chance(0.25) { Arg::LoadOut32(g.slot()) } else { Arg::I32(g.pick(&[0, 1, 2, 3, 3, 4, 5, 6, 99, -1])) };
        match self.rng.u32(0..14) {
            0..=1 => {
                let (ip, _) = self.data_ref(Kind::Iovec);
                let n = self.pick(&[1, 2, 4, 0, -1, 0x1000_0000]);
                let f = Arg::I32(self.pick(&[1, 2, 2, 3, 4, 7]));
                let o = self.out();
                ops.extend(self.call(w, "fd_write", vec![f, ip, Arg::I32(n), o], None));
            }
            2..=4 => {
                // Opens: anything read-only; create/truncate only inside fz-sandbox/.
                let safe = self.chance(0.4);
                let k = if safe { Kind::SafePath } else { self.pick(&[Kind::Path, Kind::BadUtf8, Kind::Long]) };
                let (pp, pl) = self.data_ref(k);
                let oflags = if safe { self.pick(&[0, 1, 1, 5, 8, 9, 2]) } else { self.pick(&[0, 2]) };
                let rights = Arg::I64(self.pick(&[-1i64, 0, 2, 0x40, 0x1fff_ffff]));
                let dirflags = Arg::I32(self.pick(&[0, 1]));
                let fdflags = Arg::I32(self.pick(&[0, 1, 4, 0x10]));
                let d = fd(self);
                let o = self.out();
                ops.extend(self.call(w, "path_open", vec![d, dirflags, pp, pl, Arg::I32(oflags), rights.clone(), rights, fdflags, o], None));
            }
            5 => {
                let d = fd(self);
                let (pp, pl) = self.data_ref(Kind::SafePath);
                let n = self.pick(&["path_create_directory", "path_unlink_file", "path_remove_directory"]);
                ops.extend(self.call(w, n, vec![d, pp, pl], None));
            }
            6 => {
                let d = fd(self);
                let (a, al) = self.data_ref(Kind::SafePath);
                let (b, bl) = self.data_ref(Kind::SafePath);
                match self.rng.u32(0..3) {
                    0 => ops.extend(self.call(w, "path_rename", vec![d.clone(), a, al, d, b, bl], None)),
                    1 => ops.extend(self.call(w, "path_link", vec![d.clone(), Arg::I32(0), a, al, d, b, bl], None)),
                    _ => {
                        // Symlink targets that lead out of the sandbox but name no file.
                        let t = self.pick(&["..", "../..", "/", "/nonexistent/x", "fz-sandbox", "."]);
                        let (tp, tl) = self.data.items.iter().find(|i| i.0 == Kind::Path && &self.data.bytes[(i.1 - DATA) as usize..(i.1 - DATA + i.2) as usize] == t.as_bytes()).map(|i| (i.1, i.2)).unwrap_or((0, 0));
                        ops.extend(self.call(w, "path_symlink", vec![Arg::I32(tp as i32), Arg::I32(tl as i32), d, b, bl], None));
                    }
                }
            }
            7 => {
                let d = fd(self);
                let k = self.pick(&[Kind::Path, Kind::SafePath, Kind::BadUtf8]);
                let (pp, pl) = self.data_ref(k);
                let (o, o2) = (self.ptr(), self.len());
                match self.rng.u32(0..2) {
                    _ if self.chance(0.2) => {
                        // Times on a sandbox path (or a hostile one: it may only fail).
                        let fl = Arg::I32(self.pick(&[0, 1]));
                        let (t1, t2, fst) = (self.id(), self.id(), Arg::I32(self.pick(&[0, 1, 2, 4, 8, 15])));
                        let k = self.pick(&[Kind::SafePath, Kind::Path]);
                        let (pp, pl) = self.data_ref(k);
                        ops.extend(self.call(w, "path_filestat_set_times", vec![d, fl, pp, pl, t1, t2, fst], None))
                    }
                    0 => {
                        let fl = Arg::I32(self.pick(&[0, 1]));
                        ops.extend(self.call(w, "path_filestat_get", vec![d, fl, pp, pl, o], None))
                    }
                    _ => {
                        let o3 = self.out();
                        ops.extend(self.call(w, "path_readlink", vec![d, pp, pl, o, o2, o3], None))
                    }
                }
            }
            8 => {
                // poll_oneoff: a clock subscription with a hostile timeout, or garbage.
                let (ip, n) = (self.ptr(), self.pick(&[0, 1, 2, -1, 1000]));
                let (o, o2) = (self.ptr(), self.out());
                ops.extend(self.call(w, "poll_oneoff", vec![ip, o, Arg::I32(n), o2], None));
            }
            9 if self.chance(0.2) => {
                let c = self.pick(&[0, 1, 3, 101, -1]);
                ops.extend(self.call(w, "proc_exit", vec![Arg::I32(c)], None));
            }
            _ => {
                // Any fd_*/other WASI call with generic arguments (fd numbers small).
                let ws: Vec<usize> = (0..self.host.fns.len())
                    .filter(|&i| self.host.fns[i].module == w && !self.host.fns[i].name.starts_with("path_"))
                    .filter(|&i| !matches!(self.host.fns[i].name.as_str(), "proc_exit" | "poll_oneoff"))
                    .collect();
                if ws.is_empty() {
                    return;
                }
                let f = self.pick(&ws);
                let mut args = self.generic_args(f);
                if let Some(a) = args.first_mut() {
                    if matches!(a, Arg::I32(_)) && self.chance(0.7) {
                        *a = fd(self);
                    }
                }
                ops.push(Op::Call { f, args, store: None });
            }
        }
    }
}

fn arg_type(a: &Arg) -> ValType {
    match a {
        Arg::I32(_) | Arg::MemEnd(_) | Arg::LoadOut32(_) | Arg::LoadU16(_) => ValType::I32,
        Arg::I64(_) | Arg::LoadOut(_) | Arg::SelfPid | Arg::ParentPid => ValType::I64,
        Arg::F32(_) => ValType::F32,
        Arg::F64(_) => ValType::F64,
    }
}

// ---- encoding ----

/// Types and imports of a module under construction.
struct Enc<'a> {
    host: &'a HostTable,
    types: Vec<(Vec<ValType>, Vec<ValType>)>,
    imports: Vec<usize>,
    import_of: HashMap<usize, u32>,
    /// Index of the `peek` function, when the runtime has what it needs.
    peek: Option<u32>,
}

impl<'a> Enc<'a> {
    fn new(host: &'a HostTable) -> Self {
        Self { host, types: vec![], imports: vec![], import_of: HashMap::new(), peek: None }
    }

    fn ty(&mut self, p: &[ValType], r: &[ValType]) -> u32 {
        let key = (p.to_vec(), r.to_vec());
        if let Some(i) = self.types.iter().position(|t| *t == key) {
            return i as u32;
        }
        self.types.push(key);
        (self.types.len() - 1) as u32
    }

    fn import(&mut self, f: usize) -> u32 {
        if let Some(&i) = self.import_of.get(&f) {
            return i;
        }
        let i = self.imports.len() as u32;
        self.imports.push(f);
        self.import_of.insert(f, i);
        i
    }

    fn collect(&mut self, ops: &[Op]) {
        for op in ops {
            match op {
                Op::Call { f, .. } => {
                    self.import(*f);
                }
                Op::IfDepth(inner) | Op::Guarded(inner) => self.collect(inner),
                _ => {}
            }
        }
    }

    fn sections(&mut self) -> (TypeSection, ImportSection) {
        for &f in &self.imports.clone() {
            let h = &self.host.fns[f];
            let (p, r) = (h.params.clone(), h.results.clone());
            self.ty(&p, &r);
        }
        let mut types = TypeSection::new();
        for (p, r) in &self.types {
            types.ty().function(p.iter().copied(), r.iter().copied());
        }
        let mut imports = ImportSection::new();
        for &f in &self.imports {
            let h = &self.host.fns[f];
            let key = (h.params.clone(), h.results.clone());
            let t = self.types.iter().position(|t| *t == key).unwrap() as u32;
            imports.import(&h.module, &h.name, EntityType::Function(t));
        }
        (types, imports)
    }
}

const G_DEPTH: u32 = 0;
const G_SELF: u32 = 1;
const G_PARENT: u32 = 2;

fn mem(offset: u64, align: u32) -> MemArg {
    MemArg { offset, align, target: MemArgTarget::Memory(0), ordering: None }
}

fn emit_arg(s: &mut InstructionSink<'_>, a: &Arg) {
    match a {
        Arg::I32(v) => {
            s.i32_const(*v);
        }
        Arg::I64(v) => {
            s.i64_const(*v);
        }
        Arg::F32(v) => {
            s.f32_const((*v).into());
        }
        Arg::F64(v) => {
            s.f64_const((*v).into());
        }
        Arg::MemEnd(k) => {
            s.memory_size(0).i32_const(16).i32_shl().i32_const(*k).i32_add();
        }
        Arg::LoadOut(n) => {
            s.i32_const((OUT + 8 * n) as i32).i64_load(mem(0, 0));
        }
        Arg::LoadOut32(n) => {
            s.i32_const((OUT + 8 * n) as i32).i32_load(mem(0, 0));
        }
        Arg::LoadU16(addr) => {
            s.i32_const(*addr as i32).i32_load16_u(mem(0, 0));
        }
        Arg::SelfPid => {
            s.global_get(G_SELF);
        }
        Arg::ParentPid => {
            s.global_get(G_PARENT);
        }
    }
}

fn collect_segs(ops: &[Op], out: &mut Vec<Vec<Op>>) {
    for op in ops {
        match op {
            Op::Guarded(inner) => out.push(inner.clone()),
            Op::IfDepth(inner) => collect_segs(inner, out),
            _ => {}
        }
    }
}

/// Where guarded parts go: table index of the next one, and the catch import.
struct Segs {
    next: u32,
    catch: Option<u32>,
    inline: bool,
}

fn emit_ops(s: &mut InstructionSink<'_>, enc: &Enc<'_>, ops: &[Op], segs: &mut Segs) {
    for op in ops {
        match op {
            Op::Guarded(inner) => match segs.catch {
                Some(cf) if !segs.inline => {
                    s.i32_const(segs.next as i32).i32_const(0).call(cf).drop();
                    segs.next += 1;
                }
                _ => emit_ops(s, enc, inner, segs),
            },
            Op::Call { f, args, store } => {
                let h = &enc.host.fns[*f];
                let stored = store.filter(|_| h.results.len() == 1 && matches!(h.results[0], ValType::I32 | ValType::I64));
                if let Some(n) = stored {
                    s.i32_const((OUT + 8 * n) as i32);
                }
                for a in args {
                    emit_arg(s, a);
                }
                s.call(enc.import_of[f]);
                match stored {
                    Some(_) => {
                        if h.results[0] == ValType::I32 {
                            s.i64_extend_i32_s();
                        }
                        s.i64_store(mem(0, 0));
                    }
                    None => {
                        for _ in &h.results {
                            s.drop();
                        }
                    }
                }
            }
            Op::Grow(n) => {
                s.i32_const(*n).memory_grow(0).drop();
            }
            Op::Poke { addr, val } => {
                emit_arg(s, addr);
                s.i64_const(*val).i64_store(mem(0, 0));
            }
            Op::IfDepth(inner) => {
                s.global_get(G_DEPTH).if_(BlockType::Empty);
                emit_ops(s, enc, inner, segs);
                s.end();
            }
            Op::WriteParams => {
                s.i32_const(PARAMREC as i32).i32_const(0x7F).i32_store8(mem(0, 0));
                s.i32_const(PARAMREC as i32 + 1).global_get(G_DEPTH).i32_const(1).i32_sub().i32_store(mem(0, 0));
                s.i32_const(PARAMREC as i32 + 5).i32_const(0).i32_store(mem(0, 0));
                s.i32_const(PARAMREC as i32 + 17).i32_const(0x7E).i32_store8(mem(0, 0));
                s.i32_const(PARAMREC as i32 + 18).global_get(G_SELF).i64_store(mem(0, 0));
            }
            Op::Trap => {
                s.unreachable();
            }
            Op::Peek => match enc.peek {
                Some(f) => {
                    s.i32_const(0).i64_const(0).call(f);
                }
                None => {}
            },
        }
    }
}

/// Encodes a child as a Wasm binary.
pub fn encode_child(host: &HostTable, c: &Child) -> Vec<u8> {
    let mut enc = Enc::new(host);
    enc.collect(&c.run_ops);
    if let Some(s) = &c.start_ops {
        enc.collect(s);
    }
    enc.collect(&c.block_ops);
    let catch = host.find_sig("lunatic::trap", "catch", &[ValType::I32, ValType::I32]).map(|f| enc.import(f));
    let pid = host.find_sig("lunatic::process", "process_id", &[]).filter(|&f| host.fns[f].results == [ValType::I64]).map(|f| enc.import(f));
    let t_run = enc.ty(&[ValType::I32, ValType::I64], &[]);
    let t_void = enc.ty(&[], &[]);
    let t_catch = enc.ty(&[ValType::I32, ValType::I32], &[ValType::I32]);
    let t_ii = enc.ty(&[ValType::I32], &[ValType::I32]);
    use ValType::{I32, I64};
    let w = "wasi_snapshot_preview1";
    let peek_imports = match (
        host.find_sig(w, "path_open", &[I32, I32, I32, I32, I32, I64, I64, I32, I32]),
        host.find_sig(w, "fd_read", &[I32, I32, I32, I32]),
        host.find_sig(w, "fd_write", &[I32, I32, I32, I32]),
    ) {
        (Some(a), Some(b), Some(c)) => Some((enc.import(a), enc.import(b), enc.import(c))),
        _ => None,
    };
    let (types, imports) = enc.sections();
    let ni = enc.imports.len() as u32;
    let mut seg_list = Vec::new();
    collect_segs(&c.run_ops, &mut seg_list);
    if let Some(s) = &c.start_ops {
        collect_segs(s, &mut seg_list);
    }
    collect_segs(&c.block_ops, &mut seg_list);
    let nseg = seg_list.len() as u32;
    let mut segs = Segs { next: 5, catch, inline: false };
    let f_peek = ni + 11 + nseg;
    enc.peek = peek_imports.map(|_| f_peek);
    // Defined functions, in order.
    let (f_run, f_startfn, f_catch, f_alloc, f_block, f_t0, f_entry) = (ni, ni + 1, ni + 2, ni + 3, ni + 4, ni + 5, ni + 10);
    let mut m = Module::new();
    m.section(&types);
    m.section(&imports);
    let mut funcs = FunctionSection::new();
    for t in [t_run, t_void, t_catch, t_ii, t_void, t_ii, t_ii, t_ii, t_ii, t_ii, t_void] {
        funcs.function(t);
    }
    for _ in 0..nseg {
        funcs.function(t_ii);
    }
    funcs.function(t_run); // peek
    m.section(&funcs);
    let mut tables = TableSection::new();
    tables.table(TableType { element_type: RefType::FUNCREF, table64: false, minimum: 5 + nseg as u64, maximum: Some(5 + nseg as u64), shared: false });
    m.section(&tables);
    let mut mems = MemorySection::new();
    mems.memory(MemoryType { minimum: c.mem_min as u64, maximum: c.mem_max.map(|x| x as u64), memory64: false, shared: false, page_size_log2: None });
    m.section(&mems);
    let mut globals = GlobalSection::new();
    let g = |t| GlobalType { val_type: t, mutable: true, shared: false };
    globals.global(g(ValType::I32), &ConstExpr::i32_const(0));
    globals.global(g(ValType::I64), &ConstExpr::i64_const(0));
    globals.global(g(ValType::I64), &ConstExpr::i64_const(0));
    m.section(&globals);
    let mut exports = ExportSection::new();
    if c.export_memory {
        exports.export("memory", ExportKind::Memory, 0);
    }
    exports.export("run", ExportKind::Func, f_run);
    exports.export("_start", ExportKind::Func, f_entry);
    if c.catch_export {
        exports.export("_lunatic_catch_trap", ExportKind::Func, f_catch);
    }
    exports.export("lunatic_alloc", ExportKind::Func, f_alloc);
    exports.export("block", ExportKind::Func, f_block);
    exports.export("peek", ExportKind::Func, f_peek);
    m.section(&exports);
    if c.start_ops.is_some() {
        m.section(&StartSection { function_index: f_startfn });
    }
    let mut elems = ElementSection::new();
    let _ = f_peek;
    let tfs: Vec<u32> = (0..5 + nseg).map(|i| if i < 5 { f_t0 + i } else { f_entry + 1 + i - 5 }).collect();
    elems.active(Some(0), &ConstExpr::i32_const(0), Elements::Functions(tfs.into()));
    m.section(&elems);

    let mut code = CodeSection::new();
    let set_self = |s: &mut InstructionSink<'_>| {
        match pid {
            Some(p) => s.call(p),
            None => s.i64_const(0),
        };
        s.global_set(G_SELF);
    };
    // run(depth, parent)
    let mut f = Function::new([]);
    {
        let mut s = f.instructions();
        s.local_get(0).i32_const(3).local_get(0).i32_const(3).i32_lt_u().select().global_set(G_DEPTH);
        s.local_get(1).global_set(G_PARENT);
        set_self(&mut s);
        emit_ops(&mut s, &enc, &c.run_ops, &mut segs);
        s.end();
    }
    code.function(&f);
    // start section function
    let mut f = Function::new([]);
    {
        let mut s = f.instructions();
        set_self(&mut s);
        if let Some(ops) = &c.start_ops {
            emit_ops(&mut s, &enc, ops, &mut segs);
        }
        s.end();
    }
    code.function(&f);
    // _lunatic_catch_trap(f, p) = table[f](p)
    let mut f = Function::new([]);
    f.instructions().local_get(1).local_get(0).call_indirect(0, t_ii).end();
    code.function(&f);
    // lunatic_alloc
    let mut f = Function::new([]);
    f.instructions().i32_const(c.alloc_ret).end();
    code.function(&f);
    // block
    let mut f = Function::new([]);
    {
        let mut s = f.instructions();
        emit_ops(&mut s, &enc, &c.block_ops, &mut segs);
        s.end();
    }
    code.function(&f);
    // t0: identity
    let mut f = Function::new([]);
    f.instructions().local_get(0).end();
    code.function(&f);
    // t1: trap
    let mut f = Function::new([]);
    f.instructions().unreachable().end();
    code.function(&f);
    // t2: nested catch, p levels deep (or without end)
    let mut f = Function::new([]);
    {
        let mut s = f.instructions();
        match catch {
            Some(cf) if c.recurse_unbounded => {
                s.i32_const(2).local_get(0).call(cf);
            }
            Some(cf) => {
                s.local_get(0).i32_eqz().if_(BlockType::Result(ValType::I32)).i32_const(7).else_();
                s.i32_const(2).local_get(0).i32_const(1).i32_sub().call(cf).end();
            }
            None => {
                s.local_get(0);
            }
        }
        s.end();
    }
    code.function(&f);
    // t3: run the block, return p
    let mut f = Function::new([]);
    f.instructions().call(f_block).local_get(0).end();
    code.function(&f);
    // t4: a nested catch, then trap
    let mut f = Function::new([]);
    {
        let mut s = f.instructions();
        if let Some(cf) = catch {
            s.i32_const(1).local_get(0).call(cf).drop();
        }
        s.unreachable().end();
    }
    code.function(&f);
    // _start: run(0, 0)
    let mut f = Function::new([]);
    f.instructions().i32_const(0).i64_const(0).call(f_run).end();
    code.function(&f);
    // guarded parts
    segs.inline = true;
    for ops in &seg_list {
        let mut f = Function::new([]);
        {
            let mut s = f.instructions();
            emit_ops(&mut s, &enc, ops, &mut segs);
            s.local_get(0).end();
        }
        code.function(&f);
    }
    // peek: for each of fds 3..=6 and both names, open it, read 64 bytes, print them.
    let mut f = Function::new([]);
    {
        let mut s = f.instructions();
        if let Some((open, read, write)) = peek_imports {
            for fd in 3..=6 {
                for (p, l) in [(PEEK_NAME1, CANARY.len()), (PEEK_NAME2, CANARY.len() + 3)] {
                    s.i32_const(fd).i32_const(1).i32_const(p as i32).i32_const(l as i32).i32_const(0);
                    // Read rights only: the runtime runs as nobody, who may not open it for writing.
                    s.i64_const(2).i64_const(0).i32_const(0).i32_const(PEEK_OUT as i32).call(open);
                    s.i32_eqz().if_(BlockType::Empty);
                    s.i32_const(PEEK_IOV as i32 + 4).i32_const(64).i32_store(mem(0, 0));
                    s.i32_const(PEEK_OUT as i32).i32_load(mem(0, 0)).i32_const(PEEK_IOV as i32).i32_const(1).i32_const(PEEK_OUT as i32 + 4).call(read).drop();
                    s.i32_const(PEEK_IOV as i32 + 4).i32_const(PEEK_OUT as i32 + 4).i32_load(mem(0, 0)).i32_store(mem(0, 0));
                    s.i32_const(1).i32_const(PEEK_IOV as i32).i32_const(1).i32_const(PEEK_OUT as i32 + 4).call(write).drop();
                    s.end();
                }
            }
        }
        s.end();
    }
    code.function(&f);
    m.section(&code);

    let mut data = DataSection::new();
    let mut rec = vec![0u8; 34];
    rec[0] = 0x7F;
    rec[17] = 0x7E;
    data.active(0, &ConstExpr::i32_const(PARAMREC as i32), rec);
    let mut peek = vec![0u8; (PEEK_FN + 4 - PEEK_IOV) as usize];
    peek[..4].copy_from_slice(&(SCRATCH + 256).to_le_bytes());
    let at = |p: u32| (p - PEEK_IOV) as usize;
    peek[at(PEEK_NAME1)..at(PEEK_NAME1) + CANARY.len()].copy_from_slice(CANARY.as_bytes());
    let up = format!("../{CANARY}");
    peek[at(PEEK_NAME2)..at(PEEK_NAME2) + up.len()].copy_from_slice(up.as_bytes());
    peek[at(PEEK_FN)..at(PEEK_FN) + 4].copy_from_slice(b"peek");
    data.active(0, &ConstExpr::i32_const(PEEK_IOV as i32), peek);
    if !c.data.is_empty() {
        data.active(0, &ConstExpr::i32_const(DATA as i32), c.data.iter().copied());
    }
    m.section(&data);
    m.finish()
}

/// Number of host call sites of each function (for the coverage summary).
pub fn count_calls(ops: &[Op], counts: &mut [u64]) {
    for op in ops {
        match op {
            Op::Call { f, .. } => counts[*f] += 1,
            Op::IfDepth(inner) | Op::Guarded(inner) => count_calls(inner, counts),
            Op::Peek => {}
            _ => {}
        }
    }
}

/// One child of a batch: its encoded bytes and starting depth.
pub struct Entry {
    pub bytes: Vec<u8>,
    pub depth: i32,
}

/// Encodes the batch root: for each child, compile it, spawn `run(depth, 1)`
/// with a bounded config, monitor it, wait for its death (polling, killing
/// it after `max_polls` polls of `poll_ms`), then write the progress marker
/// to stderr. After the last child it writes the end marker.
pub fn encode_root(host: &HostTable, entries: &[Entry], marker: &str, poll_ms: i64, max_polls: i32) -> Result<Vec<u8>, String> {
    let mut enc = Enc::new(host);
    let need = |enc: &mut Enc<'_>, m: &str, n: &str| -> Result<u32, String> {
        host.find(m, n).map(|f| enc.import(f)).ok_or_else(|| format!("the runtime lacks {m}::{n}, which the batch root needs"))
    };
    let p = "lunatic::process";
    let compile = need(&mut enc, p, "compile_module")?;
    let spawn = need(&mut enc, p, "spawn")?;
    let monitor = need(&mut enc, p, "monitor")?;
    let kill = need(&mut enc, p, "kill")?;
    let exists = need(&mut enc, p, "exists")?;
    let dwld = need(&mut enc, p, "die_when_link_dies")?;
    let drop_module = need(&mut enc, p, "drop_module")?;
    let create_config = need(&mut enc, p, "create_config")?;
    let set_mem = need(&mut enc, p, "config_set_max_memory")?;
    let set_fuel = need(&mut enc, p, "config_set_max_fuel")?;
    let set_cc = need(&mut enc, p, "config_set_can_compile_modules")?;
    let set_cf = need(&mut enc, p, "config_set_can_create_configs")?;
    let set_sp = need(&mut enc, p, "config_set_can_spawn_processes")?;
    let preopen = need(&mut enc, "lunatic::wasi", "config_preopen_dir")?;
    let receive = need(&mut enc, "lunatic::message", "receive")?;
    let get_pid = need(&mut enc, "lunatic::message", "get_process_id")?;
    let err_drop = need(&mut enc, "lunatic::error", "drop")?;
    let fd_write = need(&mut enc, "wasi_snapshot_preview1", "fd_write")?;
    let t_start = enc.ty(&[], &[]);
    let (types, imports) = enc.sections();
    let ni = enc.imports.len() as u32;

    // Memory layout of the root.
    const R_OUT: u32 = 16; // module id, pid/error, nwritten
    const R_PARAMS: u32 = 64; // 34 bytes
    const R_IOV: u32 = 128; // marker iovec, end iovec
    const R_STR: u32 = 256; // "run", ".", marker, end marker
    const R_TABLE: u32 = 1024;
    let mut low = vec![0u8; R_TABLE as usize];
    low[R_PARAMS as usize] = 0x7F;
    low[R_PARAMS as usize + 17] = 0x7E;
    low[R_PARAMS as usize + 18] = 1; // parent = the root, process 1
    let mut sp = R_STR as usize;
    let mut put = |low: &mut Vec<u8>, s: &[u8]| {
        let at = sp;
        low[at..at + s.len()].copy_from_slice(s);
        sp += s.len();
        (at as u32, s.len() as u32)
    };
    let run = put(&mut low, b"run");
    let dot = put(&mut low, b".");
    let mark = put(&mut low, format!("\n@@{marker}@@\n").as_bytes());
    let end = put(&mut low, format!("\n@@{marker}-END@@\n").as_bytes());
    assert!(sp < R_TABLE as usize);
    for (i, (p, l)) in [mark, end].iter().enumerate() {
        let at = R_IOV as usize + 8 * i;
        low[at..at + 4].copy_from_slice(&p.to_le_bytes());
        low[at + 4..at + 8].copy_from_slice(&l.to_le_bytes());
    }
    let blobs_at = R_TABLE + 12 * entries.len() as u32;
    let mut table = Vec::new();
    let mut blobs = Vec::new();
    for e in entries {
        table.extend_from_slice(&(blobs_at + blobs.len() as u32).to_le_bytes());
        table.extend_from_slice(&(e.bytes.len() as u32).to_le_bytes());
        table.extend_from_slice(&e.depth.to_le_bytes());
        blobs.extend_from_slice(&e.bytes);
    }
    let total = blobs_at as usize + blobs.len();
    let pages = total.div_ceil(65536) as u64;

    let mut m = Module::new();
    m.section(&types);
    m.section(&imports);
    let mut funcs = FunctionSection::new();
    funcs.function(t_start);
    m.section(&funcs);
    let mut mems = MemorySection::new();
    mems.memory(MemoryType { minimum: pages, maximum: None, memory64: false, shared: false, page_size_log2: None });
    m.section(&mems);
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export("_start", ExportKind::Func, ni);
    m.section(&exports);

    // locals: 0 i, 1 status, 2 tries, 3 kind (i32); 4 cfg, 5 mid, 6 pid (i64)
    let mut f = Function::new([(4, ValType::I32), (3, ValType::I64)]);
    {
        let s = &mut f.instructions();
        s.i32_const(0).call(dwld);
        s.call(create_config).local_set(4);
        s.local_get(4).i64_const(32 << 20).call(set_mem);
        s.local_get(4).i64_const(20_000).call(set_fuel);
        for c in [set_cc, set_cf, set_sp] {
            s.local_get(4).i32_const(1).call(c);
        }
        s.local_get(4).i32_const(dot.0 as i32).i32_const(dot.1 as i32).call(preopen);
        s.block(BlockType::Empty).loop_(BlockType::Empty);
        {
            s.local_get(0).i32_const(entries.len() as i32).i32_ge_u().br_if(1);
            // status = compile_module(off, len, R_OUT)
            let entry = |s: &mut InstructionSink<'_>, field: u64| {
                s.local_get(0).i32_const(12).i32_mul().i32_load(mem(R_TABLE as u64 + field, 0));
            };
            entry(s, 0);
            entry(s, 4);
            s.i32_const(R_OUT as i32).call(compile).local_set(1);
            s.local_get(1).if_(BlockType::Empty);
            {
                s.local_get(1).i32_const(1).i32_eq().if_(BlockType::Empty);
                s.i32_const(R_OUT as i32).i64_load(mem(0, 0)).call(err_drop);
                s.end();
            }
            s.else_();
            {
                s.i32_const(R_OUT as i32).i64_load(mem(0, 0)).local_set(5);
                s.i32_const(R_PARAMS as i32 + 1);
                entry(s, 8);
                s.i32_store(mem(0, 0));
                s.i64_const(0).local_get(4).local_get(5);
                s.i32_const(run.0 as i32).i32_const(run.1 as i32).i32_const(R_PARAMS as i32).i32_const(34);
                s.i32_const(R_OUT as i32 + 8).call(spawn).local_set(1);
                s.local_get(1).if_(BlockType::Empty);
                s.i32_const(R_OUT as i32 + 8).i64_load(mem(0, 0)).call(err_drop);
                s.else_();
                {
                    s.i32_const(R_OUT as i32 + 8).i64_load(mem(0, 0)).local_tee(6).call(monitor);
                    s.i32_const(0).local_set(2);
                    s.block(BlockType::Empty).loop_(BlockType::Empty);
                    {
                        s.i32_const(0).i32_const(0).i64_const(poll_ms).call(receive).local_set(3);
                        // monitored child died?
                        s.local_get(3).i32_const(2).i32_eq().if_(BlockType::Empty);
                        s.call(get_pid).local_get(6).i64_eq().br_if(2);
                        s.end();
                        s.local_get(6).call(exists).i32_eqz().br_if(1);
                        s.local_get(2).i32_const(1).local_get(3).i32_const(9027).i32_eq().i32_const(4).i32_shl().i32_add().i32_add().local_tee(2);
                        s.i32_const(max_polls * 16).i32_ge_u().if_(BlockType::Empty);
                        s.local_get(6).call(kill).br(2);
                        s.end();
                        s.br(0);
                    }
                    s.end().end();
                }
                s.end();
                s.local_get(5).call(drop_module);
            }
            s.end();
            // progress marker on stderr
            s.i32_const(2).i32_const(R_IOV as i32).i32_const(1).i32_const(R_OUT as i32 + 16).call(fd_write).drop();
            s.local_get(0).i32_const(1).i32_add().local_set(0);
            s.br(0);
        }
        s.end().end();
        // A last while for what the children left running (their spawns), so
        // that a child run alone shows what its descendants do.
        s.i32_const(0).local_set(2);
        s.loop_(BlockType::Empty);
        s.i32_const(0).i32_const(0).i64_const(poll_ms).call(receive).drop();
        s.local_get(2).i32_const(1).i32_add().local_tee(2).i32_const(max_polls).i32_lt_u().br_if(0);
        s.end();
        s.i32_const(2).i32_const(R_IOV as i32 + 8).i32_const(1).i32_const(R_OUT as i32 + 16).call(fd_write).drop();
        s.end();
    }
    let mut code = CodeSection::new();
    code.function(&f);
    m.section(&code);
    let mut data = DataSection::new();
    data.active(0, &ConstExpr::i32_const(0), low);
    let mut tail = table;
    tail.extend_from_slice(&blobs);
    data.active(0, &ConstExpr::i32_const(R_TABLE as i32), tail);
    m.section(&data);
    Ok(m.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{HostFn, HostTable};

    /// A table with the real signatures of the functions the generator and
    /// the batch root use most (the real one comes from probing the runtime).
    fn table() -> HostTable {
        use ValType::{I32, I64};
        let f = |m: &str, n: &str, p: &[ValType], r: &[ValType]| HostFn { module: m.into(), name: n.into(), params: p.to_vec(), results: r.to_vec() };
        let p = "lunatic::process";
        HostTable {
            fns: vec![
                f(p, "compile_module", &[I32, I32, I32], &[I32]),
                f(p, "drop_module", &[I64], &[]),
                f(p, "create_config", &[], &[I64]),
                f(p, "drop_config", &[I64], &[]),
                f(p, "config_set_max_memory", &[I64, I64], &[]),
                f(p, "config_set_max_fuel", &[I64, I64], &[]),
                f(p, "config_set_can_compile_modules", &[I64, I32], &[]),
                f(p, "config_set_can_create_configs", &[I64, I32], &[]),
                f(p, "config_set_can_spawn_processes", &[I64, I32], &[]),
                f(p, "spawn", &[I64, I64, I64, I32, I32, I32, I32, I32], &[I32]),
                f(p, "get_or_spawn", &[I32, I32, I64, I64, I64, I32, I32, I32, I32, I32, I32], &[I32]),
                f(p, "sleep_ms", &[I64], &[]),
                f(p, "die_when_link_dies", &[I32], &[]),
                f(p, "process_id", &[], &[I64]),
                f(p, "monitor", &[I64], &[]),
                f(p, "kill", &[I64], &[]),
                f(p, "exists", &[I64], &[I32]),
                f("lunatic::wasi", "config_preopen_dir", &[I64, I32, I32], &[]),
                f("lunatic::message", "receive", &[I32, I32, I64], &[I32]),
                f("lunatic::message", "get_process_id", &[], &[I64]),
                f("lunatic::message", "create_data", &[I64, I64], &[]),
                f("lunatic::message", "send", &[I64], &[I32]),
                f("lunatic::error", "drop", &[I64], &[]),
                f("lunatic::trap", "catch", &[I32, I32], &[I32]),
                f("lunatic::registry", "get", &[I32, I32, I32, I32], &[I32]),
                f("lunatic::metrics", "gauge", &[I32, I32, ValType::F64], &[]),
                f("wasi_snapshot_preview1", "fd_write", &[I32, I32, I32, I32], &[I32]),
                f("wasi_snapshot_preview1", "path_open", &[I32, I32, I32, I32, I32, I64, I64, I32, I32], &[I32]),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn generated_modules_are_valid_wasm() {
        let host = table();
        for aims in [Aims::default(), {
            let mut a = Aims::default();
            a.skip("catch-recursion,start-registry,huge-sleep,preopen,config-memory").unwrap();
            a
        }] {
            let mut entries = Vec::new();
            for seed in 0..300 {
                let mut g = Gen::new(&host, seed, &aims);
                let c = g.child();
                let bytes = encode_child(&host, &c);
                wasmparser::Validator::new().validate_all(&bytes).unwrap_or_else(|e| panic!("child {seed}: {e}"));
                entries.push(Entry { bytes, depth: 1 });
            }
            let root = encode_root(&host, &entries, "FZ", 5, 20).unwrap();
            wasmparser::Validator::new().validate_all(&root).unwrap();
        }
    }

    #[test]
    fn skipped_aims_leave_no_unbounded_recursion() {
        let host = table();
        let mut aims = Aims::default();
        aims.skip("catch-recursion").unwrap();
        for seed in 0..300 {
            let c = Gen::new(&host, seed, &aims).child();
            assert!(!c.recurse_unbounded);
            // The block (run inside catch by table function 3) never catches again.
            fn no_catch(host: &HostTable, ops: &[Op]) -> bool {
                ops.iter().all(|op| match op {
                    Op::Call { f, .. } => host.fns[*f].name != "catch",
                    Op::IfDepth(i) => no_catch(host, i),
                    Op::Guarded(_) => false,
                    _ => true,
                })
            }
            assert!(no_catch(&host, &c.block_ops), "seed {seed}");
        }
    }
}
