//! Metrics: the guest's `lunatic::metrics` values and the runtime's own
//! figures, exported in the Prometheus text format (`--prometheus`).
//!
//! Nothing is recorded unless an exporter was started: every hook first
//! reads one process-wide flag, so a run without `--prometheus` pays one
//! relaxed load per event and never touches a shared counter.
//!
//! Runtime counters are plain atomics here, copied into the recorder when
//! the endpoint is scraped; gauges that follow existing state (live
//! processes, registered names, queued tasks) are read at scrape time only.
//! Guest metrics go straight to the recorder, under the guest's names, with
//! a cap on distinct names and on name length (see [`guest`]).

pub mod http;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use wasmi_core::LimiterError;

/// Whether a recorder is installed (set once, never cleared). Alone in its
/// cache line: every hook reads it, so a neighbour written by other threads
/// would turn each read into a cache miss.
static ENABLED: Flag = Flag(AtomicBool::new(false));

#[repr(align(128))]
struct Flag(AtomicBool);

/// True once `--prometheus` installed the recorder.
#[inline]
pub fn enabled() -> bool {
    ENABLED.0.load(Relaxed)
}

/// Monotonic runtime counters, exported under the original's names (plus a
/// few of ours, marked in [`Counter::name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Counter {
    ProcessesSpawned,
    ProcessesFinished,
    MessagesSent,
    RegistryWrites,
    RegistryReads,
    RegistryDeletions,
    TimersStarted,
    TimersCompleted,
    TimersCanceled,
    ModulesCompiled,
    ConfigsCreated,
    ConfigsDropped,
    FuelUsed,
    CompactedBytes,
    GuestMetricsRefused,
}

const COUNTERS: [Counter; 15] = [
    Counter::ProcessesSpawned,
    Counter::ProcessesFinished,
    Counter::MessagesSent,
    Counter::RegistryWrites,
    Counter::RegistryReads,
    Counter::RegistryDeletions,
    Counter::TimersStarted,
    Counter::TimersCompleted,
    Counter::TimersCanceled,
    Counter::ModulesCompiled,
    Counter::ConfigsCreated,
    Counter::ConfigsDropped,
    Counter::FuelUsed,
    Counter::CompactedBytes,
    Counter::GuestMetricsRefused,
];

impl Counter {
    /// The exported name.
    pub fn name(self) -> &'static str {
        match self {
            // Ours: the original only exports the live count.
            Counter::ProcessesSpawned => "lunatic.process.spawned",
            Counter::ProcessesFinished => "lunatic.process.finished",
            Counter::MessagesSent => "lunatic.process.messages.send",
            Counter::RegistryWrites => "lunatic.registry.write",
            Counter::RegistryReads => "lunatic.registry.read",
            Counter::RegistryDeletions => "lunatic.registry.deletion",
            Counter::TimersStarted => "lunatic.timers.started",
            Counter::TimersCompleted => "lunatic.timers.completed",
            Counter::TimersCanceled => "lunatic.timers.canceled",
            Counter::ModulesCompiled => "lunatic.process.modules.compiled",
            Counter::ConfigsCreated => "lunatic.process.configs.created",
            Counter::ConfigsDropped => "lunatic.process.configs.dropped",
            // Ours.
            Counter::FuelUsed => "lunatic.process.fuel.used",
            // Fed by idle compaction (`count(CompactedBytes, bytes)` where
            // pages are given back).
            Counter::CompactedBytes => "lunatic.process.memory.compacted.bytes",
            Counter::GuestMetricsRefused => "lunatic.metrics.guest.refused",
        }
    }
}

static COUNTS: [AtomicU64; COUNTERS.len()] = [const { AtomicU64::new(0) }; COUNTERS.len()];

/// Gauges kept up to date by events (the rest are computed at scrape time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Gauge {
    LinearMemoryBytes,
    ProcessesWaiting,
}

const GAUGES: [Gauge; 2] = [Gauge::LinearMemoryBytes, Gauge::ProcessesWaiting];

impl Gauge {
    /// The exported name.
    pub fn name(self) -> &'static str {
        match self {
            // Ours.
            Gauge::LinearMemoryBytes => "lunatic.process.memory.bytes",
            // Ours: processes suspended in a wait (receive, sockets, sleeps,
            // files, joins), the ones idle compaction applies to.
            Gauge::ProcessesWaiting => "lunatic.process.waiting",
        }
    }
}

static LEVELS: [AtomicI64; GAUGES.len()] = [const { AtomicI64::new(0) }; GAUGES.len()];

/// Counts a process in [`Gauge::ProcessesWaiting`] while it lives (a guard,
/// so every way out of a wait, signals and traps included, takes it back).
pub(crate) struct Waiting(bool);

impl Waiting {
    /// Marks one more process as waiting.
    #[inline]
    pub(crate) fn start() -> Self {
        let on = enabled();
        if on {
            LEVELS[Gauge::ProcessesWaiting as usize].fetch_add(1, Relaxed);
        }
        Waiting(on)
    }
}

impl Drop for Waiting {
    #[inline]
    fn drop(&mut self) {
        if self.0 {
            LEVELS[Gauge::ProcessesWaiting as usize].fetch_sub(1, Relaxed);
        }
    }
}

/// Counts `n` events of `counter` (nothing without an exporter).
#[inline]
pub fn count(counter: Counter, n: u64) {
    if enabled() {
        COUNTS[counter as usize].fetch_add(n, Relaxed);
    }
}

/// Moves `gauge` by `delta` (nothing without an exporter).
#[inline]
pub fn adjust(gauge: Gauge, delta: i64) {
    if enabled() {
        LEVELS[gauge as usize].fetch_add(delta, Relaxed);
    }
}

/// Records how long a module took to compile.
pub fn compiled(duration: std::time::Duration) {
    if enabled() {
        count(Counter::ModulesCompiled, 1);
        ::metrics::histogram!("lunatic.process.modules.compiled.duration").record(duration.as_secs_f64());
    }
}

/// A source of gauges read at scrape time (an environment, a scheduler).
pub trait Source: Send + Sync {
    /// Sets this source's gauges on the installed recorder.
    fn collect(&self, out: &mut Collected);
}

/// Scrape-time totals over every watched source.
#[derive(Default, Debug)]
pub struct Collected {
    /// Live environments.
    pub environments: u64,
    /// Live processes.
    pub processes: u64,
    /// Names in the registries.
    pub registered: u64,
    /// Tasks waiting for an executor thread.
    pub queued: u64,
}

static SOURCES: Mutex<Vec<Weak<dyn Source>>> = Mutex::new(Vec::new());

/// Watches `source` until it is dropped (only with an exporter).
pub fn watch(source: &Arc<dyn Source>) {
    if enabled() {
        let mut sources = SOURCES.lock().unwrap_or_else(|e| e.into_inner());
        sources.retain(|s| s.strong_count() > 0);
        sources.push(Arc::downgrade(source));
    }
}

/// The one recorder of this process, installed on first use.
fn recorder(node_id: u64) -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .add_global_label("node_id", node_id.to_string())
            .build_recorder();
        let handle = recorder.handle();
        // Only this function installs a recorder, once.
        let _ = ::metrics::set_global_recorder(recorder);
        describe();
        ENABLED.0.store(true, Relaxed);
        handle
    })
}

fn describe() {
    ::metrics::describe_gauge!("lunatic.process.environment.process.count", "Processes alive");
    ::metrics::describe_gauge!("lunatic.process.environment.count", "Environments alive");
    ::metrics::describe_gauge!("lunatic.registry.registered", "Names in the process registry");
    ::metrics::describe_gauge!("lunatic.scheduler.queue.length", "Tasks waiting for an executor thread");
    ::metrics::describe_gauge!(Gauge::LinearMemoryBytes.name(), "Bytes of linear memory of live processes");
    ::metrics::describe_gauge!(Gauge::ProcessesWaiting.name(), "Processes suspended in a wait (receive, sockets, sleeps, files, joins)");
    ::metrics::describe_counter!(
        Counter::CompactedBytes.name(),
        "Bytes of linear memory given back to the system by idle compaction, in total"
    );
    ::metrics::describe_counter!(Counter::FuelUsed.name(), "Fuel (Wasm instructions) of finished slices");
    ::metrics::describe_counter!(
        Counter::GuestMetricsRefused.name(),
        "Guest metric calls ignored (name too long or too many distinct names)"
    );
}

/// Renders the current figures in the Prometheus text format.
pub fn render() -> String {
    let Some(handle) = RECORDER.get() else { return String::new() };
    for counter in COUNTERS {
        ::metrics::counter!(counter.name()).absolute(COUNTS[counter as usize].load(Relaxed));
    }
    for gauge in GAUGES {
        ::metrics::gauge!(gauge.name()).set(LEVELS[gauge as usize].load(Relaxed) as f64);
    }
    let level = |c: Counter| COUNTS[c as usize].load(Relaxed) as f64;
    // Live counts that follow from the counters (modules stay cached for
    // the runtime's life, so every compiled module is active).
    ::metrics::gauge!("lunatic.timers.active").set(
        level(Counter::TimersStarted) - level(Counter::TimersCompleted) - level(Counter::TimersCanceled),
    );
    ::metrics::gauge!("lunatic.process.modules.active").set(level(Counter::ModulesCompiled));
    let mut collected = Collected::default();
    let sources: Vec<Arc<dyn Source>> = {
        let mut sources = SOURCES.lock().unwrap_or_else(|e| e.into_inner());
        sources.retain(|s| s.strong_count() > 0);
        sources.iter().filter_map(Weak::upgrade).collect()
    };
    for source in sources {
        source.collect(&mut collected);
    }
    ::metrics::gauge!("lunatic.process.environment.count").set(collected.environments as f64);
    ::metrics::gauge!("lunatic.process.environment.process.count").set(collected.processes as f64);
    ::metrics::gauge!("lunatic.registry.registered").set(collected.registered as f64);
    ::metrics::gauge!("lunatic.scheduler.queue.length").set(collected.queued as f64);
    handle.render()
}

static RECORDER: OnceLock<&'static PrometheusHandle> = OnceLock::new();

/// Installs the recorder (labelled `node_id`) for the rest of the process.
pub fn install(node_id: u64) {
    let _ = RECORDER.get_or_init(|| recorder(node_id));
}

/// Drains histogram samples into their summaries (bounds their memory
/// between scrapes); called periodically by the exporter.
pub(crate) fn upkeep() {
    if let Some(handle) = RECORDER.get() {
        handle.run_upkeep();
    }
}

pub mod guest;

/// A [`wasmi::ResourceLimiter`] that also keeps [`Gauge::LinearMemoryBytes`]:
/// the process's store limits plus the bytes its memories hold.
#[derive(Debug)]
pub struct MeteredLimits {
    inner: wasmi::StoreLimits,
    /// Bytes counted into the gauge for this process (given back on drop).
    bytes: usize,
    /// The last growth counted, undone if the growth then fails.
    last_growth: usize,
}

impl From<wasmi::StoreLimits> for MeteredLimits {
    fn from(inner: wasmi::StoreLimits) -> Self {
        Self { inner, bytes: 0, last_growth: 0 }
    }
}

impl wasmi::ResourceLimiter for MeteredLimits {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> Result<bool, LimiterError> {
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        self.last_growth = 0;
        if allowed && enabled() {
            self.last_growth = desired.saturating_sub(current);
            self.bytes = self.bytes.saturating_add(self.last_growth);
            adjust(Gauge::LinearMemoryBytes, self.last_growth as i64);
        }
        Ok(allowed)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> Result<bool, LimiterError> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn memory_grow_failed(&mut self, error: &wasmi::errors::MemoryError) -> Result<(), LimiterError> {
        // The growth counted in `memory_growing` did not happen after all.
        self.bytes = self.bytes.saturating_sub(self.last_growth);
        adjust(Gauge::LinearMemoryBytes, -(self.last_growth as i64));
        self.last_growth = 0;
        self.inner.memory_grow_failed(error)
    }

    fn table_grow_failed(&mut self, error: &wasmi::errors::TableError) -> Result<(), LimiterError> {
        self.inner.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

impl Drop for MeteredLimits {
    fn drop(&mut self) {
        if self.bytes > 0 {
            adjust(Gauge::LinearMemoryBytes, -(self.bytes as i64));
        }
    }
}

