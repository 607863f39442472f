//! Seed sweeps: run a program once per seed in deterministic mode and report
//! the first seed that fails (or a summary of all outcomes).
//!
//! Each seed runs in a fresh `lunatic` process, so runs share nothing (not
//! even leftover processes of a previous seed) and a crash cannot take the
//! sweep down.

use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::process::{Command, Stdio};
use std::str::FromStr;

/// A range of seeds, `FIRST..END` (END excluded) or `FIRST..=LAST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedRange {
    first: u64,
    last: u64,
}

impl FromStr for SeedRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parse = |n: &str| n.trim().parse::<u64>().map_err(|e| format!("bad seed {n:?}: {e}"));
        let (first, last) = if let Some((a, b)) = text.split_once("..=") {
            (parse(a)?, parse(b)?)
        } else if let Some((a, b)) = text.split_once("..") {
            let end = parse(b)?;
            if end == 0 {
                return Err("empty seed range".into());
            }
            (parse(a)?, end - 1)
        } else {
            return Err("expected FIRST..END or FIRST..=LAST".into());
        };
        if first > last {
            return Err(format!("empty seed range {text}"));
        }
        Ok(SeedRange { first, last })
    }
}

/// The command line of one seed's run: the sweep's own arguments with
/// `--seeds`/`--keep-going` replaced by `--deterministic=SEED`.
fn seed_args(argv: &[OsString], seed: u64) -> Vec<OsString> {
    let mut args: Vec<OsString> = argv.iter().skip(1).cloned().collect();
    if let Some(i) = args.iter().position(|a| a == "--seeds") {
        args.drain(i..(i + 2).min(args.len()));
    } else if let Some(i) = args.iter().position(|a| a.to_string_lossy().starts_with("--seeds=")) {
        args.remove(i);
    }
    if let Some(i) = args.iter().position(|a| a == "--keep-going") {
        args.remove(i);
    }
    // After the subcommand word, before anything that belongs to the guest.
    args.insert(1.min(args.len()), format!("--deterministic={seed}").into());
    args
}

/// Runs every seed of `seeds`; returns 0 when all runs exit 0, otherwise the
/// exit status of the first failing run.
pub(crate) fn sweep(argv: &[OsString], seeds: SeedRange, keep_going: bool) -> anyhow::Result<i32> {
    let exe = std::env::current_exe().context("cannot find the lunatic executable")?;
    let mut outcomes: BTreeMap<i32, (u64, u64)> = BTreeMap::new(); // status → (count, first seed)
    let mut outputs = std::collections::HashSet::new();
    let mut first_failure = None;
    for seed in seeds.first..=seeds.last {
        let args = seed_args(argv, seed);
        let output = Command::new(&exe)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run seed {seed}"))?;
        let Some(status) = output.status.code() else {
            bail!("seed {seed}: the runtime was killed by a signal ({})", output.status);
        };
        outputs.insert((status, output.stdout.clone()));
        let entry = outcomes.entry(status).or_insert((0, seed));
        entry.0 += 1;
        if status != 0 && first_failure.is_none() {
            first_failure = Some((seed, status));
            let reproduce: Vec<String> =
                args.iter().map(|a| shell_word(&a.to_string_lossy())).collect();
            eprintln!("seed {seed} failed with exit status {status}");
            eprintln!("---- its output ----");
            eprint!("{}", String::from_utf8_lossy(&output.stdout));
            eprint!("{}", String::from_utf8_lossy(&output.stderr));
            eprintln!("---- reproduce with ----");
            eprintln!("lunatic {}", reproduce.join(" "));
            if !keep_going {
                return Ok(status);
            }
        }
    }
    let total = seeds.last - seeds.first + 1;
    println!("seeds {}..={}: {total} runs, {} distinct outcomes (exit status + stdout)",
        seeds.first, seeds.last, outputs.len());
    for (status, (count, first)) in &outcomes {
        println!("  exit status {status}: {count} seeds (first: {first})");
    }
    Ok(first_failure.map_or(0, |(_, status)| status))
}

fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!("1..1000".parse(), Ok(SeedRange { first: 1, last: 999 }));
        assert_eq!("5..=5".parse(), Ok(SeedRange { first: 5, last: 5 }));
        assert!("5..5".parse::<SeedRange>().is_err());
        assert!("x".parse::<SeedRange>().is_err());
    }

    #[test]
    fn seed_arguments_replace_the_sweep_flags() {
        let argv: Vec<OsString> =
            ["lunatic", "run", "--seeds", "1..9", "--keep-going", "app.wasm", "--seeds", "x"]
                .iter()
                .map(OsString::from)
                .collect();
        let args: Vec<String> =
            seed_args(&argv, 7).into_iter().map(|a| a.into_string().unwrap()).collect();
        assert_eq!(args, ["run", "--deterministic=7", "app.wasm", "--seeds", "x"]);
    }
}
