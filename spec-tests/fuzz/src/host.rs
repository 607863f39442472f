//! The table of host functions under test. Names come from the ABI list in
//! `names.rs` plus every name the runtime's sources register (`host.func(M, "name", …)`
//! and `for name in [...]` loops under `src/api` and `src/wasi`); whether each exists,
//! and its exact Wasm signature, is asked of the `lunatic` binary itself: a probe
//! module importing the name with the wrong type makes the runtime name the right one.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use wasm_encoder::ValType;

/// One host function the runtime provides.
#[derive(Clone, Debug)]
pub struct HostFn {
    pub module: String,
    pub name: String,
    pub params: Vec<ValType>,
    pub results: Vec<ValType>,
}

/// Every host function the runtime provides, with lookups by name.
#[derive(Clone, Debug, Default)]
pub struct HostTable {
    pub fns: Vec<HostFn>,
    /// Candidate names the runtime does not provide (e.g. `lunatic::sqlite::*`).
    pub missing: Vec<String>,
    /// Names found only in the runtime's sources, not in the ABI list.
    pub from_source: Vec<String>,
}

impl HostTable {
    /// Index of `module::name`, if the runtime provides it.
    pub fn find(&self, module: &str, name: &str) -> Option<usize> {
        self.fns.iter().position(|f| f.module == module && f.name == name)
    }

    /// Index of `module::name` if it exists with exactly these parameter types.
    pub fn find_sig(&self, module: &str, name: &str, params: &[ValType]) -> Option<usize> {
        self.find(module, name).filter(|&i| self.fns[i].params == params)
    }
}

fn probe_module(module: &str, name: &str) -> Vec<u8> {
    use wasm_encoder::*;
    let mut m = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([], []);
    m.section(&types);
    let mut imports = ImportSection::new();
    imports.import(module, name, EntityType::Function(0));
    m.section(&imports);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    m.section(&funcs);
    let mut mems = MemorySection::new();
    mems.memory(MemoryType { minimum: 1, maximum: None, memory64: false, shared: false, page_size_log2: None });
    m.section(&mems);
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export("_start", ExportKind::Func, 1);
    m.section(&exports);
    let mut code = CodeSection::new();
    let mut f = Function::new([]);
    f.instructions().end();
    code.function(&f);
    m.section(&code);
    m.finish()
}

fn parse_types(s: &str) -> Option<Vec<ValType>> {
    let s = s.trim();
    if s.is_empty() {
        return Some(vec![]);
    }
    s.split(',')
        .map(|t| match t.trim() {
            "I32" => Some(ValType::I32),
            "I64" => Some(ValType::I64),
            "F32" => Some(ValType::F32),
            "F64" => Some(ValType::F64),
            "V128" => Some(ValType::V128),
            _ => None,
        })
        .collect()
}

/// Asks the runtime for `module::name`: `Ok(None)` if it has no such function,
/// `Ok(Some((params, results)))` otherwise.
fn probe(lunatic: &Path, dir: &Path, module: &str, name: &str) -> Result<Option<(Vec<ValType>, Vec<ValType>)>, String> {
    let file = dir.join(format!("probe-{}-{}.wasm", module.replace(':', "_"), name));
    std::fs::write(&file, probe_module(module, name)).map_err(|e| e.to_string())?;
    let out = Command::new(lunatic)
        .arg("run")
        .arg(&file)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env("RUST_LOG", "error")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", lunatic.display()))?;
    let _ = std::fs::remove_file(&file);
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        return Ok(Some((vec![], vec![])));
    }
    if err.contains("unknown import") {
        return Ok(None);
    }
    let key = "the runtime's function has type";
    let Some(at) = err.find(key) else {
        return Err(format!("probe of {module}::{name}: unexpected answer: {err}"));
    };
    let rest = &err[at + key.len()..];
    let field = |label: &str| -> Option<Vec<ValType>> {
        let a = rest.find(label)? + label.len();
        let b = rest[a..].find(']')? + a;
        parse_types(&rest[a..b])
    };
    match (field("params: ["), field("results: [")) {
        (Some(p), Some(r)) => Ok(Some((p, r))),
        _ => Err(format!("probe of {module}::{name}: cannot parse: {err}")),
    }
}

/// Names registered in the runtime's sources (best effort; the probe decides).
fn source_names(src: &Path) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut stack = vec![src.join("api"), src.join("wasi")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let Ok(text) = std::fs::read_to_string(&p) else { continue };
                scan(&text, &mut names);
            }
        }
    }
    names
}

fn scan(text: &str, names: &mut BTreeSet<String>) {
    let ident = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    // host.func(<module expr>, "name"
    let mut rest = text;
    while let Some(at) = rest.find("host.func(") {
        rest = &rest[at + 10..];
        let Some(comma) = rest.find(',') else { break };
        let after = rest[comma + 1..].trim_start();
        if let Some(q) = after.strip_prefix('"') {
            if let Some(end) = q.find('"') {
                if ident(&q[..end]) {
                    names.insert(q[..end].to_string());
                }
            }
        }
    }
    // for name in ["a", "b"]
    let mut rest = text;
    while let Some(at) = rest.find("for name in [") {
        rest = &rest[at + 13..];
        let Some(end) = rest.find(']') else { break };
        for part in rest[..end].split(',') {
            let s = part.trim().trim_matches('"');
            if ident(s) {
                names.insert(s.to_string());
            }
        }
    }
}

/// Builds the table by probing the runtime (in parallel).
pub fn discover(lunatic: &Path, dir: &Path, src: Option<&Path>) -> Result<HostTable, String> {
    let mut cands: Vec<(String, String)> =
        crate::names::CANDIDATES.iter().map(|(m, n)| (m.to_string(), n.to_string())).collect();
    let known: BTreeSet<String> = cands.iter().map(|(_, n)| n.clone()).collect();
    let modules: BTreeSet<String> = cands.iter().map(|(m, _)| m.clone()).collect();
    let mut extra = Vec::new();
    if let Some(src) = src {
        for n in source_names(src) {
            if !known.contains(&n) {
                extra.push(n.clone());
                for m in &modules {
                    cands.push((m.clone(), n.clone()));
                }
            }
        }
    }
    let cands = std::sync::Arc::new(cands);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let results = std::sync::Arc::new(std::sync::Mutex::new(vec![None; cands.len()]));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (cands, next, results) = (cands.clone(), next.clone(), results.clone());
            let (lunatic, dir) = (lunatic.to_path_buf(), dir.to_path_buf());
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= cands.len() {
                    break;
                }
                let r = probe(&lunatic, &dir, &cands[i].0, &cands[i].1);
                results.lock().unwrap()[i] = Some(r);
            })
        })
        .collect();
    for t in threads {
        t.join().map_err(|_| "probe thread panicked".to_string())?;
    }
    let results = std::mem::take(&mut *results.lock().unwrap());
    let mut table = HostTable::default();
    for ((m, n), r) in cands.iter().zip(results) {
        match r.expect("every candidate probed")? {
            Some((params, results)) => {
                if extra.contains(n) {
                    table.from_source.push(format!("{m}::{n}"));
                }
                table.fns.push(HostFn { module: m.clone(), name: n.clone(), params, results })
            }
            None if extra.contains(n) => {}
            None => table.missing.push(format!("{m}::{n}")),
        }
    }
    if table.fns.is_empty() {
        return Err("the runtime provides none of the candidate host functions".into());
    }
    Ok(table)
}
