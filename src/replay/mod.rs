//! Record and replay: the seam between host functions and the outside world.
//!
//! In deterministic mode a run is a function of the seed and of what the
//! outside world answers (clock readings, random bytes, stdin, DNS, socket
//! reads, accepted connections...) and of *when* those answers become
//! visible to the schedule. A [`World`] sits between the host functions
//! that ask the outside world something and the world itself:
//!
//! * **No world** (the normal and plain deterministic runs): host functions
//!   do their work as before; the only cost is one `Option` check.
//! * **Recording**: every answer is written to the recording, in the order
//!   the single scheduler thread sees them. Calls that wait (socket reads,
//!   accepts, stdin) run on a thread of their own, outside the schedule;
//!   their answers are delivered to the waiting process only at the start
//!   of a scheduler step, and that step number is recorded too, as is any
//!   real time the scheduler waited for them. So the schedule follows from
//!   the seed plus the recording.
//! * **Replaying**: nothing reaches the outside world. Answers come from
//!   the recording at the same points, sockets are stand-ins, and every
//!   call is checked against the recording: the first call that differs in
//!   kind or arguments (or an answer the replay is not waiting for) stops
//!   the run with a message naming the process, its call number and what
//!   was expected.
//!
//! TLS is recorded at the level of the plaintext, as TCP is (handshakes use
//! fresh randomness, so their ciphertext could not be replayed): a replay's
//! TLS streams are stand-ins without socket or rustls state.
//!
//! The seam is keyed by (process ID, call number) and values: it never sees
//! a process. Host functions reach it through the process protocol's
//! helpers (`protocol::world`: `sync` for calls answered at once, `external`
//! for calls that wait); the deterministic scheduler consults it through
//! [`Hook`]: it asks the seam, the seam does not ask it.
//! [`log`] is the file format, [`value`] the encoding of answers and
//! [`trace`] the `--trace` output.

pub(crate) mod log;
pub(crate) mod trace;
pub(crate) mod value;

pub(crate) use log::Call;
pub(crate) use trace::Trace;
pub(crate) use value::Value;

/// A boxed future (the scheduler's timers are passed in as these).
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

use log::{Entry, Header, Recording};
use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Exit status of a run stopped by a divergence (or a broken recording).
pub const DIVERGED: i32 = 3;

/// A call waiting on the outside world: (process, call number).
pub(crate) type Key = (u64, u64);

/// Records or replays what the outside world tells a run.
pub(crate) struct World {
    mode: Mode,
    /// Calls waiting for their answer.
    pending: Mutex<HashMap<Key, Arc<Slot>>>,
    /// The first divergence or recording error; the run stops.
    failure: Mutex<Option<String>>,
    stopped: AtomicBool,
    /// Wakes the scheduler's thread (an answer arrived, or the run stops).
    unparker: OnceLock<parking::Unparker>,
    trace: Option<Arc<Trace>>,
    /// The step that started last (for the trace).
    step: std::sync::atomic::AtomicU64,
}

enum Mode {
    Record(Recorder),
    Replay(Replayer),
}

struct Recorder {
    log: Mutex<log::Writer>,
    /// Calls whose answer arrived, in arrival order, not yet delivered.
    arrivals: Arc<Mutex<Vec<Key>>>,
    /// Runs the waiting calls, outside the schedule.
    executor: Arc<async_executor::Executor<'static>>,
    stop_thread: Arc<event_listener::Event>,
}

struct Replayer {
    entries: Mutex<VecDeque<(usize, Entry)>>,
    /// Line number of the last entry taken (for messages).
    last_line: Mutex<usize>,
}

/// Where a waiting call's answer lands.
struct Slot {
    name: String,
    state: Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    answer: Option<Answer>,
    /// Delivered at a step: the waiting process may take it.
    delivered: bool,
    waker: Option<Waker>,
}

enum Answer {
    /// Recording: the value itself and its tokens.
    Live(Box<dyn Any + Send>, Vec<String>),
    /// Replaying: the tokens from the recording.
    Recorded(Vec<String>),
}

impl World {
    /// A world that records to `out`, after writing `header`.
    pub(crate) fn record(
        out: Box<dyn std::io::Write + Send>,
        header: &Header,
        trace: Option<Arc<Trace>>,
    ) -> std::io::Result<Arc<Self>> {
        let writer = log::Writer::new(out, header)?;
        let executor = Arc::new(async_executor::Executor::new());
        let stop_thread = Arc::new(event_listener::Event::new());
        {
            let executor = executor.clone();
            let listener = stop_thread.listen();
            std::thread::Builder::new()
                .name("lunatic-record".into())
                .spawn(move || async_io::block_on(executor.run(listener)))?;
        }
        Ok(Arc::new(Self::new(
            Mode::Record(Recorder {
                log: Mutex::new(writer),
                arrivals: Arc::new(Mutex::new(Vec::new())),
                executor,
                stop_thread,
            }),
            trace,
        )))
    }

    /// A world that replays `recording` (its header was checked by the caller).
    pub(crate) fn replay(recording: Recording, trace: Option<Arc<Trace>>) -> Arc<Self> {
        Arc::new(Self::new(
            Mode::Replay(Replayer {
                entries: Mutex::new(recording.entries.into()),
                last_line: Mutex::new(0),
            }),
            trace,
        ))
    }

    fn new(mode: Mode, trace: Option<Arc<Trace>>) -> Self {
        Self {
            mode,
            pending: Mutex::new(HashMap::new()),
            failure: Mutex::new(None),
            stopped: AtomicBool::new(false),
            unparker: OnceLock::new(),
            trace,
            step: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Why the run stopped early, if it did.
    pub(crate) fn failure(&self) -> Option<String> {
        self.failure.lock().unwrap().clone()
    }

    /// Stops the run with `message` (only the first one counts).
    fn fail(&self, message: String) {
        {
            let mut failure = self.failure.lock().unwrap();
            if failure.is_none() {
                *failure = Some(message);
            }
        }
        self.stopped.store(true, Ordering::Release);
        if let Some(unparker) = self.unparker.get() {
            unparker.unpark();
        }
    }

    /// A divergence at a call: the run stops; the caller parks its process
    /// for good (the scheduler stops before it matters).
    fn diverge(&self, message: String) -> Diverged {
        self.fail(message);
        Diverged
    }

    fn write(&self, entry: &Entry) {
        if let Mode::Record(recorder) = &self.mode {
            if let Err(e) = recorder.log.lock().unwrap().entry(entry) {
                self.fail(format!("cannot write the recording: {e}"));
            }
        }
    }

    /// Takes the next recorded entry if `accept` likes it; otherwise stops
    /// the run with a message built from what was found.
    fn expect<T>(
        &self,
        accept: impl FnOnce(&Entry) -> Option<Result<T, String>>,
        wanted: impl FnOnce(Option<&Entry>) -> String,
    ) -> Result<T, String> {
        let Mode::Replay(replayer) = &self.mode else { unreachable!("only replays read") };
        let mut entries = replayer.entries.lock().unwrap();
        let line = entries.front().map(|(line, _)| *line);
        let outcome = match entries.front() {
            Some((_, entry)) => accept(entry),
            None => None,
        };
        match outcome {
            Some(result) => {
                entries.pop_front();
                *replayer.last_line.lock().unwrap() = line.unwrap_or(0);
                result.map_err(|e| format!("{} (recording line {})", e, line.unwrap_or(0)))
            }
            None => {
                let found = entries.front().map(|(_, e)| e);
                let at = match line {
                    Some(line) => format!(" (recording line {line})"),
                    None => " (after the last line of the recording)".to_string(),
                };
                Err(format!("{}{at}", wanted(found)))
            }
        }
    }

    /// A call answered at once: call number `key` of its process, asking
    /// `live` (while recording) or the recording (while replaying).
    pub(crate) fn sync_call<T: Value>(
        &self,
        key: Key,
        call: Call,
        live: impl FnOnce() -> T,
    ) -> Result<T, Diverged> {
        let (pid, seq) = key;
        match &self.mode {
            Mode::Record(_) => {
                let value = live();
                self.write(&Entry::Sync { pid, seq, call, result: value::encode(&value) });
                Ok(value)
            }
            Mode::Replay(_) => {
                let result = self.expect(
                    |entry| match entry {
                        Entry::Sync { pid: p, seq: s, call: c, result }
                            if (*p, *s) == (pid, seq) && *c == call =>
                        {
                            Some(value::decode::<T>(result).map_err(|e| {
                                format!(
                                    "process {pid} call #{seq} {call}: bad recorded answer: {e}"
                                )
                            }))
                        }
                        _ => None,
                    },
                    |found| mismatch(pid, seq, &call, found),
                );
                result.map_err(|message| self.diverge(message))
            }
        }
    }

    /// Call number `key` of its process, `op`, waits on the outside world,
    /// racing `timer`: the future returned gives the answer (`None` if the
    /// timer fired first). Recording runs `op` off the schedule and
    /// delivers its answer at a step; replaying never runs `op`.
    pub(crate) fn external<T, Op>(
        self: &Arc<Self>,
        key: Key,
        call: Call,
        timer: Option<BoxFuture<()>>,
        op: Op,
    ) -> Result<impl Future<Output = Option<T>> + Send + 'static, Diverged>
    where
        T: Value,
        Op: Future<Output = T> + Send + 'static,
    {
        let (pid, seq) = key;
        let slot =
            Arc::new(Slot { name: call.name.clone(), state: Mutex::new(SlotState::default()) });
        let task = match &self.mode {
            Mode::Record(recorder) => {
                self.write(&Entry::Async { pid, seq, call });
                self.pending.lock().unwrap().insert(key, slot.clone());
                let arrivals = recorder.arrivals.clone();
                let world = Arc::downgrade(self);
                let landing = slot.clone();
                Some(recorder.executor.spawn(async move {
                    let value = op.await;
                    let tokens = value::encode(&value);
                    landing.state.lock().unwrap().answer =
                        Some(Answer::Live(Box::new(value), tokens));
                    arrivals.lock().unwrap().push(key);
                    if let Some(world) = world.upgrade() {
                        if let Some(unparker) = world.unparker.get() {
                            unparker.unpark();
                        }
                    }
                }))
            }
            Mode::Replay(_) => {
                drop(op);
                let started = self.expect(
                    |entry| match entry {
                        Entry::Async { pid: p, seq: s, call: c }
                            if (*p, *s) == key && *c == call =>
                        {
                            Some(Ok(()))
                        }
                        _ => None,
                    },
                    |found| mismatch(pid, seq, &call, found),
                );
                if let Err(message) = started {
                    return Err(self.diverge(message));
                }
                self.pending.lock().unwrap().insert(key, slot.clone());
                None
            }
        };
        let gate = Gate::<T> {
            world: self.clone(),
            key,
            slot,
            timer,
            task,
            _answer: PhantomData,
        };
        Ok(gate)
    }

    /// The answer a gate was given.
    fn answer<T: Value>(&self, key: Key, answer: Answer) -> Result<T, String> {
        match answer {
            Answer::Live(value, _) => Ok(*value.downcast::<T>().expect("answers keep their type")),
            Answer::Recorded(tokens) => value::decode(&tokens).map_err(|e| {
                format!("process {} call #{}: bad recorded answer: {e}", key.0, key.1)
            }),
        }
    }

    /// A gate's timer fired before its answer was delivered.
    fn timed_out<T: Value>(&self, key: Key, slot: &Slot) -> Result<Option<T>, String> {
        let (pid, seq) = key;
        match &self.mode {
            Mode::Record(_) => {
                let arrived = slot.state.lock().unwrap().answer.take();
                match arrived {
                    // The answer came but was not delivered yet: it wins,
                    // as the operation wins a tie in a live run.
                    Some(Answer::Live(value, tokens)) => {
                        self.write(&Entry::Late { pid, seq, result: tokens });
                        Ok(Some(*value.downcast::<T>().expect("answers keep their type")))
                    }
                    _ => {
                        self.write(&Entry::TimedOut { pid, seq });
                        Ok(None)
                    }
                }
            }
            Mode::Replay(_) => self.expect(
                |entry| match entry {
                    Entry::Late { pid: p, seq: s, result } if (*p, *s) == key => {
                        Some(self.answer(key, Answer::Recorded(result.clone())).map(Some))
                    }
                    Entry::TimedOut { pid: p, seq: s } if (*p, *s) == key => Some(Ok(None)),
                    _ => None,
                },
                |found| {
                    format!(
                        "process {pid} call #{seq} ({}): its timeout fired, but the recording has {}",
                        slot.name,
                        found.map_or("nothing more".to_string(), Entry::describe)
                    )
                },
            ),
        }
    }

    /// Ends the run: records the exit status, or checks it against the
    /// recording. Returns why the run failed, if it did.
    pub(crate) fn finish(&self, status: i32) -> Option<String> {
        if let Some(failure) = self.failure() {
            return Some(failure);
        }
        match &self.mode {
            Mode::Record(recorder) => {
                self.write(&Entry::End { status });
                if let Err(e) = recorder.log.lock().unwrap().flush() {
                    self.fail(format!("cannot write the recording: {e}"));
                }
            }
            Mode::Replay(_) => {
                let checked = self.expect(
                    |entry| match entry {
                        Entry::End { status: recorded } if *recorded == status => Some(Ok(())),
                        _ => None,
                    },
                    |found| match found {
                        Some(Entry::End { status: recorded }) => format!(
                            "the root process ended with exit status {status}; in the recording with {recorded}"
                        ),
                        Some(other) => format!(
                            "the root process ended (exit status {status}) but the recording continues with {}",
                            other.describe()
                        ),
                        None => format!(
                            "the root process ended (exit status {status}) but the recording has no end: the recorded run was interrupted"
                        ),
                    },
                );
                if let Err(message) = checked {
                    self.fail(format!("replay diverged: {message}"));
                }
            }
        }
        self.failure()
    }

    fn trace(&self, line: std::fmt::Arguments<'_>) {
        if let Some(trace) = &self.trace {
            trace.line(line);
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Mode::Record(recorder) = &self.mode {
            let _ = recorder.log.lock().unwrap().flush();
            recorder.stop_thread.notify(usize::MAX);
        }
    }
}

/// The replay diverged at a call: the run is stopping (see
/// [`World::failure`]); the calling process must not go on.
#[derive(Debug)]
pub(crate) struct Diverged;

/// "What the recording has here" versus the call the replay made.
pub(crate) fn mismatch(pid: u64, seq: u64, call: &Call, found: Option<&Entry>) -> String {
    let expected = match found {
        None => {
            return format!(
            "replay diverged: process {pid} call #{seq} is {call}, but the recording ends before it"
        )
        }
        Some(entry) => entry,
    };
    let same_call = matches!(expected,
        Entry::Sync { pid: p, seq: s, .. } | Entry::Async { pid: p, seq: s, .. } if (*p, *s) == (pid, seq));
    let wanted = match expected {
        Entry::Sync { call, .. } | Entry::Async { call, .. } if same_call => call.to_string(),
        other => other.describe(),
    };
    let mut message =
        format!("replay diverged at process {pid} call #{seq}: expected {wanted}, got {call}");
    if let Entry::Sync { pid: p, seq: s, call: recorded, .. }
    | Entry::Async { pid: p, seq: s, call: recorded } = expected
    {
        if (*p, *s) == (pid, seq) && recorded.name == call.name {
            if let Some((i, (a, b))) =
                recorded.args.iter().zip(&call.args).enumerate().find(|(_, (a, b))| a != b)
            {
                let at = a
                    .bytes()
                    .zip(b.bytes())
                    .position(|(x, y)| x != y)
                    .unwrap_or(a.len().min(b.len()));
                message.push_str(&format!(
                    " (argument {} differs from character {at}: expected `{}`, got `{}`)",
                    i + 1,
                    log::preview(&a[at.saturating_sub(8)..], 40),
                    log::preview(&b[at.saturating_sub(8).min(b.len())..], 40),
                ));
            } else if recorded.args.len() != call.args.len() {
                message.push_str(" (a different number of arguments)");
            }
        }
    }
    message
}

/// A digest of the byte strings a call was given (certificates, keys), so
/// a recording can check that a replay passes the same ones without holding
/// them: 64-bit FNV-1a over each part's length and bytes.
pub(crate) fn digest(parts: &[&[u8]]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in (part.len() as u64).to_le_bytes().iter().chain(part.iter()) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("fnv1a64:{hash:016x}")
}

/// A process waiting for the answer to one outside call.
struct Gate<T> {
    world: Arc<World>,
    key: Key,
    slot: Arc<Slot>,
    timer: Option<BoxFuture<()>>,
    /// The recording's operation; dropping it cancels it.
    task: Option<async_executor::Task<()>>,
    _answer: PhantomData<fn() -> T>,
}

impl<T: Value> Future for Gate<T> {
    type Output = Option<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if self.world.stopped.load(Ordering::Acquire) {
            return Poll::Pending;
        }
        {
            let mut slot = self.slot.state.lock().unwrap();
            if slot.delivered {
                let answer = slot.answer.take().expect("a delivered answer");
                drop(slot);
                return match self.world.answer::<T>(self.key, answer) {
                    Ok(value) => Poll::Ready(Some(value)),
                    Err(message) => {
                        self.world.fail(format!("replay diverged: {message}"));
                        Poll::Pending
                    }
                };
            }
            slot.waker = Some(cx.waker().clone());
        }
        let fired = match &mut self.timer {
            Some(timer) => timer.as_mut().poll(cx).is_ready(),
            None => false,
        };
        if !fired {
            return Poll::Pending;
        }
        self.timer = None;
        // No delivery from now on: the timeout decides.
        self.world.pending.lock().unwrap().remove(&self.key);
        if let Some(task) = self.task.take() {
            // Wait (briefly: operations never block their thread) for the
            // operation to stop, here and not as a scheduler wait, which
            // would be a step of its own. Bytes a read took from a socket
            // in the moment the timer fired then reach the recording as a
            // late answer instead of vanishing.
            futures_lite::future::block_on(task.cancel());
        }
        let (world, key, slot) = (self.world.clone(), self.key, self.slot.clone());
        match world.timed_out::<T>(key, &slot) {
            Ok(answer) => {
                // A process runs in the step after the one that started last.
                world.trace(format_args!(
                    "{:>7} p{} call #{} {}: timeout fired{}",
                    world.step.load(Ordering::Relaxed) + 1,
                    key.0,
                    key.1,
                    slot.name,
                    if answer.is_some() { ", answer taken" } else { "" }
                ));
                Poll::Ready(answer)
            }
            Err(message) => {
                world.fail(format!("replay diverged: {message}"));
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Gate<T> {
    fn drop(&mut self) {
        self.world.pending.lock().unwrap().remove(&self.key);
    }
}

/// What the deterministic scheduler consults when a run is recorded or
/// replayed (implemented by [`World`]): answers from the
/// outside world enter the schedule only at the start of a step, and real
/// time the scheduler waits for them is reported.
pub(crate) trait Hook: Send + Sync {
    /// Called once with a way to wake the scheduler's thread.
    fn attach(&self, unparker: parking::Unparker);
    /// At the start of each step (numbered by the steps that made progress
    /// before it): may wake tasks; returns virtual time to add.
    fn step_start(&self, step: u64) -> Duration;
    /// Nothing can run at `step`: the scheduler is about to wait for the
    /// outside world. `false` stops the run instead.
    fn idle(&self, step: u64) -> bool;
    /// The scheduler waited `elapsed` of real time at `step`, and virtual
    /// time advanced by as much.
    fn waited(&self, step: u64, elapsed: Duration);
    /// Whether the run must stop now.
    fn stopped(&self) -> bool;
}

impl Hook for World {
    fn attach(&self, unparker: parking::Unparker) {
        let _ = self.unparker.set(unparker);
    }

    fn step_start(&self, step: u64) -> Duration {
        self.step.store(step, Ordering::Relaxed);
        match &self.mode {
            Mode::Record(recorder) => {
                let arrived = std::mem::take(&mut *recorder.arrivals.lock().unwrap());
                for key in arrived {
                    let Some(slot) = self.pending.lock().unwrap().get(&key).cloned() else {
                        continue; // given up (timeout, or the process ended)
                    };
                    let waker = {
                        let mut state = slot.state.lock().unwrap();
                        let Some(Answer::Live(_, tokens)) = &state.answer else { continue };
                        let result = tokens.clone();
                        state.delivered = true;
                        self.write(&Entry::Delivered { step, pid: key.0, seq: key.1, result });
                        state.waker.take()
                    };
                    self.trace(format_args!(
                        "{step:>7} p{} call #{} {}: answer delivered",
                        key.0, key.1, slot.name
                    ));
                    if let Some(waker) = waker {
                        waker.wake();
                    }
                }
                Duration::ZERO
            }
            Mode::Replay(replayer) => {
                let mut waited = Duration::ZERO;
                loop {
                    let next = {
                        let mut entries = replayer.entries.lock().unwrap();
                        match entries.front() {
                            Some((
                                _,
                                Entry::Waited { step: s, .. } | Entry::Delivered { step: s, .. },
                            )) if *s <= step => entries.pop_front(),
                            _ => None,
                        }
                    };
                    let Some((line, entry)) = next else { break };
                    *replayer.last_line.lock().unwrap() = line;
                    match entry {
                        Entry::Waited { step: s, .. } | Entry::Delivered { step: s, .. }
                            if s < step =>
                        {
                            self.fail(format!(
                                "replay diverged: the recording has {} (recording line {line}), but the replay is already at step {step}",
                                entry.describe()
                            ));
                            break;
                        }
                        Entry::Waited { nanos, .. } => {
                            waited += Duration::from_nanos(nanos);
                            self.trace(format_args!(
                                "{step:>7} time +{:.6}s (recorded wait for the outside world)",
                                Duration::from_nanos(nanos).as_secs_f64()
                            ));
                        }
                        Entry::Delivered { pid, seq, result, .. } => {
                            let Some(slot) = self.pending.lock().unwrap().get(&(pid, seq)).cloned()
                            else {
                                self.fail(format!(
                                    "replay diverged: the recording delivers the answer to process {pid} call #{seq} at step {step} (recording line {line}), but no such call is waiting"
                                ));
                                break;
                            };
                            let waker = {
                                let mut state = slot.state.lock().unwrap();
                                state.answer = Some(Answer::Recorded(result));
                                state.delivered = true;
                                state.waker.take()
                            };
                            self.trace(format_args!(
                                "{step:>7} p{pid} call #{seq} {}: answer delivered",
                                slot.name
                            ));
                            if let Some(waker) = waker {
                                waker.wake();
                            }
                        }
                        _ => unreachable!("only steps' entries are taken here"),
                    }
                }
                waited
            }
        }
    }

    fn idle(&self, step: u64) -> bool {
        match &self.mode {
            Mode::Record(recorder) => {
                // The run may wait here for ever (and be interrupted): make
                // sure everything so far is on disk.
                if let Err(e) = recorder.log.lock().unwrap().flush() {
                    self.fail(format!("cannot write the recording: {e}"));
                }
                true
            }
            Mode::Replay(replayer) => {
                let entries = replayer.entries.lock().unwrap();
                let message = match entries.front() {
                    None => format!(
                        "the replay reached the end of the recording at step {step} while processes wait for the outside world: the recorded run was interrupted here"
                    ),
                    Some((line, entry)) => format!(
                        "replay diverged: at step {step} nothing can run, but the recording continues with {} (recording line {line})",
                        entry.describe()
                    ),
                };
                drop(entries);
                self.fail(message);
                false
            }
        }
    }

    fn waited(&self, step: u64, elapsed: Duration) {
        if elapsed.is_zero() {
            return;
        }
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.write(&Entry::Waited { step, nanos });
        self.trace(format_args!(
            "{step:>7} time +{:.6}s (waited for the outside world)",
            elapsed.as_secs_f64()
        ));
    }

    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }
}

