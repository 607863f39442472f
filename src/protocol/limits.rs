//! What a process's linear memory may grow to: its own `max_memory`, and
//! the runtime's cap on all processes together.

use crate::metrics::MeteredLimits;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use wasmi_core::LimiterError;

/// Linear memory held by all processes of a runtime, within an optional cap.
#[derive(Debug)]
pub(crate) struct MemoryBudget {
    cap: Option<u64>,
    used: AtomicU64,
}

impl MemoryBudget {
    /// A budget of `cap` bytes (`None`: only counted).
    pub(crate) fn new(cap: Option<u64>) -> Self {
        Self { cap, used: AtomicU64::new(0) }
    }

    /// Takes `bytes` if they fit.
    fn take(&self, bytes: u64) -> bool {
        let Some(cap) = self.cap else { return true };
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&total| total <= cap)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: u64) {
        if self.cap.is_some() {
            let _ = self.used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some(used.saturating_sub(bytes))
            });
        }
    }
}

/// A process's store limiter: its own limits (counted into the metrics) and
/// the runtime's budget, whose share it gives back when it ends.
pub(crate) struct ProcessLimits {
    own: MeteredLimits,
    budget: Arc<MemoryBudget>,
    /// Bytes taken from the budget.
    taken: u64,
    /// The last growth taken, given back if the growth then fails.
    last: u64,
}

impl ProcessLimits {
    /// Limits of a process with `max_memory`, within `budget`.
    pub(crate) fn new(max_memory: u64, budget: Arc<MemoryBudget>) -> Self {
        Self { own: super::store_limits(max_memory).into(), budget, taken: 0, last: 0 }
    }
}

impl wasmi::ResourceLimiter for ProcessLimits {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> Result<bool, LimiterError> {
        self.last = 0;
        let growth = desired.saturating_sub(current) as u64;
        if !self.budget.take(growth) {
            return Ok(false);
        }
        if !self.own.memory_growing(current, desired, maximum)? {
            self.budget.give_back(growth);
            return Ok(false);
        }
        self.last = growth;
        self.taken = self.taken.saturating_add(growth);
        Ok(true)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> Result<bool, LimiterError> {
        self.own.table_growing(current, desired, maximum)
    }

    fn memory_grow_failed(&mut self, error: &wasmi::errors::MemoryError) -> Result<(), LimiterError> {
        self.budget.give_back(self.last);
        self.taken = self.taken.saturating_sub(self.last);
        self.last = 0;
        self.own.memory_grow_failed(error)
    }

    fn table_grow_failed(&mut self, error: &wasmi::errors::TableError) -> Result<(), LimiterError> {
        self.own.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.own.instances()
    }

    fn tables(&self) -> usize {
        self.own.tables()
    }

    fn memories(&self) -> usize {
        self.own.memories()
    }
}

impl Drop for ProcessLimits {
    fn drop(&mut self) {
        self.budget.give_back(self.taken);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmi::ResourceLimiter;

    #[test]
    fn the_budget_bounds_all_processes_and_comes_back() {
        let budget = Arc::new(MemoryBudget::new(Some(3 << 16)));
        let mut a = ProcessLimits::new(u64::MAX, budget.clone());
        let mut b = ProcessLimits::new(u64::MAX, budget.clone());
        assert!(a.memory_growing(0, 2 << 16, None).unwrap());
        assert!(!b.memory_growing(0, 2 << 16, None).unwrap(), "over the cap");
        assert!(b.memory_growing(0, 1 << 16, None).unwrap());
        drop(a);
        assert!(b.memory_growing(1 << 16, 3 << 16, None).unwrap(), "a's share came back");
        // A process's own limit still applies, and a refusal takes nothing.
        let mut c = ProcessLimits::new(1 << 16, Arc::new(MemoryBudget::new(Some(10 << 16))));
        assert!(!c.memory_growing(0, 2 << 16, None).unwrap());
        assert!(c.memory_growing(0, 1 << 16, None).unwrap());
    }
}
