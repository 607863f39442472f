//! Guest metrics: `lunatic::metrics` values under the names guests give.
//!
//! The recorder keeps one entry per distinct name for the life of the
//! runtime, so names are bounded: at most [`MAX_NAMES`] distinct names (all
//! guests together) of at most [`MAX_NAME_LEN`] bytes. A call past either
//! bound is ignored (a metric is not worth killing a process for), counted
//! in `lunatic.metrics.guest.refused` and logged once.

use super::{count, enabled, Counter};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Mutex;

/// Distinct guest metric names a runtime accepts.
pub const MAX_NAMES: usize = 10_000;
/// Longest guest metric name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// What a guest call does to its metric.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// Add to a counter.
    Count(u64),
    /// Set a gauge.
    Set(f64),
    /// Add to a gauge.
    Add(f64),
    /// Subtract from a gauge.
    Sub(f64),
    /// Record a histogram sample.
    Sample(f64),
}

static NAMES: Mutex<Option<HashSet<Box<str>>>> = Mutex::new(None);
static WARNED: AtomicBool = AtomicBool::new(false);

/// Applies `op` to the guest metric `name` (nothing without an exporter).
pub fn record(name: &str, op: Op) {
    if !enabled() {
        return;
    }
    if !admit(name) {
        count(Counter::GuestMetricsRefused, 1);
        if !WARNED.swap(true, Relaxed) {
            log::warn!(
                "guest metric ignored: names are limited to {MAX_NAMES} distinct names of at most \
                 {MAX_NAME_LEN} bytes (further refusals are counted in lunatic.metrics.guest.refused)"
            );
        }
        return;
    }
    let name = name.to_owned();
    match op {
        Op::Count(n) => ::metrics::counter!(name).increment(n),
        Op::Set(v) => ::metrics::gauge!(name).set(v),
        Op::Add(v) => ::metrics::gauge!(name).increment(v),
        Op::Sub(v) => ::metrics::gauge!(name).decrement(v),
        Op::Sample(v) => ::metrics::histogram!(name).record(v),
    }
}

/// Whether `name` is known or may still be added.
fn admit(name: &str) -> bool {
    if name.len() > MAX_NAME_LEN {
        return false;
    }
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    let names = names.get_or_insert_with(HashSet::new);
    if names.contains(name) {
        return true;
    }
    if names.len() >= MAX_NAMES {
        return false;
    }
    names.insert(name.into());
    true
}

/// Distinct guest names accepted so far.
#[cfg(test)]
fn distinct_names() -> usize {
    NAMES.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map_or(0, HashSet::len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_capped_in_number_and_length() {
        super::super::install(0);
        record("unit.capped.first", Op::Count(2));
        let before = distinct_names();
        assert!(before >= 1);
        // Fill up to the cap, then go past it: the set stops growing.
        for i in 0..MAX_NAMES + 50 {
            record(&format!("unit.capped.{i}"), Op::Add(1.0));
        }
        assert_eq!(distinct_names(), MAX_NAMES);
        // A known name still works past the cap; an overlong one never does.
        assert!(admit("unit.capped.first"));
        assert!(!admit(&"x".repeat(MAX_NAME_LEN + 1)));
        assert!(!admit("unit.capped.new-after-cap"));
        let text = super::super::render();
        assert!(text.contains("unit_capped_first{node_id=\"0\"} 2"), "{}", &text[..text.len().min(2000)]);
        assert!(!text.contains("new-after-cap"));
    }
}
