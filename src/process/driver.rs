//! The driver loop: runs a process's Wasm in fuel slices and services its
//! suspensions.
//!
//! Every host error surfaces as a resumable host trap, so the driver sorts
//! them: a [`Suspend`] marker means "await the [`Pending`] operation the host
//! function parked in the store, then resume with its results"; a WASI exit
//! ends the process with a code; anything else is a trap. Out-of-fuel is
//! resumable too: refuel, let other tasks run, handle signals, resume.
//! Nested guest calls (`lunatic::trap::catch`) are frames on an explicit stack
//! so they can suspend like the outer call.

use crate::protocol::{is_suspend, Exit, Pending, ProcessState, TIMEOUT};
use crate::scheduler::{self, BoxFuture};
use futures_lite::future;
use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;
use wasmi::{
    Func, Instance, ResumableCall, ResumableCallHostTrap, ResumableCallOutOfFuel, Store,
    Val,
};

enum Call {
    Start(Func, Vec<Val>),
    Resume(ResumableCallHostTrap, Vec<Val>),
    Refueled(ResumableCallOutOfFuel),
    /// Waiting for the nested frame above it to finish.
    Waiting(ResumableCallHostTrap),
}

struct Frame {
    call: Option<Call>,
    outputs: Vec<Val>,
    /// Results for the parent if this (nested) frame traps.
    on_trap: Vec<Val>,
}

/// Runs `entry` of `instance` to the end and reports how the process ended.
pub(crate) async fn run(
    mut store: Store<ProcessState>,
    instance: Instance,
    entry: String,
    params: Vec<Val>,
) -> (Exit, ProcessState) {
    let exit = drive(&mut store, instance, &entry, params).await;
    let mut state = store.into_data();
    state.start_spawned();
    (exit, state)
}

async fn drive(
    store: &mut Store<ProcessState>,
    instance: Instance,
    entry: &str,
    params: Vec<Val>,
) -> Exit {
    let Some(func) = instance.get_func(&*store, entry) else {
        return Exit::Trapped(format!("Function '{entry}' not found"));
    };
    let results = func.ty(&*store).results().len();
    // Signals that arrived before the first run (a kill right after spawn)
    // take effect before any guest code runs.
    if let Err(exit) = store.data_mut().handle_queued_signals() {
        return exit;
    }
    if let Err(exit) = refuel(store, 0) {
        return exit;
    }
    let mut frames = vec![Frame {
        call: Some(Call::Start(func, params)),
        outputs: vec![Val::I32(0); results],
        on_trap: Vec::new(),
    }];
    let tracing = store.data().runtime.trace().is_some();
    // Fuel in the store when this run of the process began (for the trace).
    let mut started = if tracing { store.get_fuel().unwrap_or(0) } else { 0 };
    let mut idle_memory = IdleMemory::default();
    // The old instance while a new one runs a hand-over entry uncommitted.
    let mut trial: Option<Trial> = None;
    let exit = 'process: loop {
    let exit = loop {
        if trial.is_some() && !store.data().uncommitted {
            // Committed: the old instance goes, and its memory with it.
            trial = None;
        }
        let frame = frames.last_mut().expect("the root frame is popped only on return");
        // Bytes host calls move are counted per thread: start from zero,
        // and what this run's calls did not settle themselves is owed.
        crate::engine::take_moved_fuel();
        let step = match frame.call.take().expect("a runnable frame") {
            Call::Start(func, params) => func.call_resumable(&mut *store, &params, &mut frame.outputs),
            Call::Resume(invocation, inputs) => {
                invocation.resume(&mut *store, &inputs, &mut frame.outputs)
            }
            Call::Refueled(invocation) => invocation.resume(&mut *store, &mut frame.outputs),
            Call::Waiting(_) => unreachable!("a waiting frame is never on top"),
        };
        owe(store.data_mut(), crate::engine::take_moved_fuel());
        let trap = match step {
            Ok(ResumableCall::Finished) => {
                let done = frames.pop().expect("the frame just run");
                let Some(parent) = frames.last_mut() else {
                    break Exit::Returned;
                };
                resume_parent(parent, done.outputs);
                continue;
            }
            Ok(ResumableCall::OutOfFuel(invocation)) => {
                if tracing {
                    trace_stop(store, started, "preempted");
                }
                let state = store.data();
                state.runtime.scheduler().fuel_consumed(state.last_slice);
                if let Err(exit) = refuel(store, invocation.required_fuel()) {
                    break exit;
                }
                store.data_mut().start_spawned();
                if store.data().runtime.scheduler().should_yield() {
                    future::yield_now().await;
                }
                if tracing {
                    started = store.get_fuel().unwrap_or(0);
                }
                if let Err(exit) = store.data_mut().handle_queued_signals() {
                    break exit;
                }
                frames.last_mut().unwrap().call = Some(Call::Refueled(invocation));
                continue;
            }
            Ok(ResumableCall::HostTrap(invocation)) => {
                let error = invocation.host_error();
                if is_suspend(error) {
                    let pending = store.data_mut().pending.take().expect("a suspend parks work");
                    match pending {
                        Pending::Call { .. } if frames.len() > crate::protocol::MAX_CATCH_DEPTH => {
                            // Each nested call holds a wasmi stack of its own:
                            // bound them. The catching call traps (so an
                            // enclosing catch sees a trap, as for wasmi's own
                            // call-depth limit).
                            let trap = crate::protocol::catch_too_deep();
                            if let Err(exit) = unwind_or(&mut frames, trap) {
                                break exit;
                            }
                        }
                        Pending::Call { func, params, results, on_trap } => {
                            owe(store.data_mut(), NESTED_CALL_FUEL);
                            frames.last_mut().unwrap().call = Some(Call::Waiting(invocation));
                            frames.push(Frame {
                                call: Some(Call::Start(func, params)),
                                outputs: vec![Val::I32(0); results],
                                on_trap,
                            });
                        }
                        Pending::Handover { state, entry, version } => {
                            let code = if frames.len() > 1 || trial.is_some() {
                                // Inside a nested call, or in a hand-over
                                // entry: the instance cannot go now.
                                Err(crate::api::hot::CANNOT_INSTANTIATE)
                            } else {
                                begin_handover(store, state, &entry, &version)
                            };
                            match code {
                                Ok((old, func)) => {
                                    let mut frame = frames.pop().expect("the root frame");
                                    frame.call = Some(Call::Waiting(invocation));
                                    trial = Some(Trial { store: old, frame });
                                    frames.push(Frame {
                                        call: Some(Call::Start(func, Vec::new())),
                                        outputs: Vec::new(),
                                        on_trap: Vec::new(),
                                    });
                                    idle_memory = IdleMemory::default();
                                    if let Err(exit) = refuel(store, 0) {
                                        break exit;
                                    }
                                }
                                Err(code) => {
                                    frames.last_mut().unwrap().call =
                                        Some(Call::Resume(invocation, vec![Val::I32(code)]));
                                }
                            }
                        }
                        other => match if tracing {
                            commit(store, &mut trial);
                            traced_wait(store, other, &mut started, &mut idle_memory).await
                        } else {
                            commit(store, &mut trial);
                            wait(store, other, &mut idle_memory).await
                        } {
                            Ok(Ok(inputs)) => {
                                frames.last_mut().unwrap().call =
                                    Some(Call::Resume(invocation, inputs));
                            }
                            Ok(Err(trap)) => {
                                if let Err(exit) =
                                    unwind_or(&mut frames, crate::errors::one_line(&trap))
                                {
                                    break exit;
                                }
                            }
                            Err(exit) => break exit,
                        },
                    }
                    continue;
                }
                if let Some(code) = error.i32_exit_status() {
                    break if code == 0 { Exit::Returned } else { Exit::Exited(code) };
                }
                crate::errors::one_line(error)
            }
            Err(error) => {
                if let Some(code) = error.i32_exit_status() {
                    break if code == 0 { Exit::Returned } else { Exit::Exited(code) };
                }
                crate::errors::one_line(&error)
            }
        };
        if let Err(exit) = unwind_or(&mut frames, trap) {
            break exit;
        }
    };
    // A hand-over entry that trapped or returned before it committed:
    // back to the old instance, whose `handover` call returns 4.
    match trial.take() {
        Some(old) if store.data().uncommitted && matches!(exit, Exit::Returned | Exit::Trapped(_)) => {
            if let Exit::Trapped(why) = &exit {
                log::debug!(target: "lunatic::hot", "hand-over entry trapped, rolled back: {why}");
            }
            let mut frame = old.frame;
            let new = std::mem::replace(store, old.store);
            put_back(store, new.into_data());
            match frame.call.take() {
                Some(Call::Waiting(invocation)) => {
                    frame.call = Some(Call::Resume(invocation, vec![Val::I32(ENTRY_FAILED)]));
                }
                _ => unreachable!("the old root frame waits in `handover`"),
            }
            frames = vec![frame];
            idle_memory = IdleMemory::default();
            if let Err(exit) = refuel(store, 0) {
                break 'process exit;
            }
            continue 'process;
        }
        _ => break 'process exit,
    }
    };
    if tracing {
        let then = match &exit {
            Exit::Returned => "exit: returned".to_string(),
            Exit::Exited(code) => format!("exit: code {code}"),
            Exit::Trapped(_) => "exit: trapped".to_string(),
            Exit::Killed => "exit: killed".to_string(),
            Exit::LinkFailed => "exit: link died".to_string(),
            Exit::OutOfFuel => "exit: no fuel".to_string(),
        };
        trace_stop(store, started, &then);
    }
    exit
}

/// `handover`'s code when the new instance trapped or its entry returned
/// before it committed.
const ENTRY_FAILED: i32 = 4;

/// The old instance of a process trying a new one (`lunatic::hot`): its
/// store (holding a placeholder state and the old instance's memory
/// charge) and its root frame, waiting in `handover`.
struct Trial {
    store: Store<ProcessState>,
    frame: Frame,
}

/// The new instance commits as it first waits (HOT-ABI.md). Called at
/// every wait: the old store is dropped in place, never moved (`take()`
/// copied the whole `Trial`, a store, on each wait: 0.8% of a server's CPU
/// under `wrk -c2000`).
#[inline]
fn commit(store: &mut Store<ProcessState>, trial: &mut Option<Trial>) {
    if trial.is_some() {
        *trial = None;
        let state = store.data_mut();
        state.uncommitted = false;
        state.handed_state = None;
    }
}

/// Moves the process's state out of `store` into a new instance of
/// `version` and puts that instance's store in `store`; returns the old
/// store and the entry function. On failure everything is as before and
/// the error is `handover`'s code.
fn begin_handover(
    store: &mut Store<ProcessState>,
    bytes: Vec<u8>,
    entry: &str,
    version: &std::sync::Arc<crate::protocol::version::Version>,
) -> Result<(Store<ProcessState>, wasmi::Func), i32> {
    let shell = store.data().placeholder();
    let mut moved = std::mem::replace(store.data_mut(), shell);
    // The old store keeps the old instance's memory charge (given back when
    // it goes); the new instance is charged afresh against the same limits.
    std::mem::swap(&mut moved.limits, &mut store.data_mut().limits);
    let member = moved.version.as_ref().map(|m| m.move_to(version.clone()));
    store.data_mut().version = std::mem::replace(&mut moved.version, member);
    moved.module = version.module().clone();
    moved.handed_state = Some(bytes);
    moved.uncommitted = true;
    moved.initialized = false;
    let (mut new, instance) = match super::instantiate(version.module(), moved) {
        Ok(made) => made,
        Err(failed) => {
            let (moved, why) = *failed;
            log::debug!(target: "lunatic::hot", "hand-over: cannot instantiate the new version: {why}");
            put_back(store, moved);
            return Err(crate::api::hot::CANNOT_INSTANTIATE);
        }
    };
    let func = instance
        .get_func(&new, entry)
        .filter(|f| f.ty(&new).params().is_empty() && f.ty(&new).results().is_empty());
    let Some(func) = func else {
        put_back(store, new.into_data());
        return Err(crate::api::hot::NO_ENTRY);
    };
    let memory = instance.get_memory(&new, "memory");
    let state = new.data_mut();
    state.instance = Some(instance);
    state.memory = memory;
    state.initialized = true;
    Ok((std::mem::replace(store, new), func))
}

/// Puts the process's real state back in its old store (which holds the
/// placeholder [`begin_handover`] left there) as it was before the try.
fn put_back(store: &mut Store<ProcessState>, moved: ProcessState) {
    let mut shell = std::mem::replace(store.data_mut(), moved);
    let state = store.data_mut();
    // The new instance's charge goes with the placeholder.
    std::mem::swap(&mut state.limits, &mut shell.limits);
    state.version = shell.version.take();
    state.module = shell.module.clone();
    state.instance = shell.instance;
    state.memory = shell.memory;
    state.handed_state = None;
    state.uncommitted = false;
    state.initialized = true;
}

/// [`wait`], writing the trace line of the run that ends here, but only if
/// the process really waits (a receive whose message is already there does
/// not end the run).
async fn traced_wait(
    store: &mut Store<ProcessState>,
    pending: Pending,
    started: &mut u64,
    idle_memory: &mut IdleMemory,
) -> Result<Result<Vec<Val>, wasmi::Error>, Exit> {
    let then = match &pending {
        Pending::Receive { .. } => "waits: receive",
        Pending::Yield { .. } => "yields",
        _ => "waits",
    };
    let mut line = Some(trace_line(store, *started, then));
    let woke = {
        let mut woke = pin!(wait(store, pending, idle_memory));
        future::poll_fn(|cx| {
            let poll = woke.as_mut().poll(cx);
            if poll.is_pending() {
                if let Some(line) = line.take().flatten() {
                    line.write();
                }
            }
            poll
        })
        .await
    };
    if line.is_none() {
        store.data_mut().traced_calls.clear();
        *started = store.get_fuel().unwrap_or(0);
    }
    woke
}

/// Writes the trace line of the run of a process that just ended (the
/// caller checked that tracing is on).
fn trace_stop(store: &mut Store<ProcessState>, started: u64, then: &str) {
    if let Some(line) = trace_line(store, started, then) {
        line.write();
    }
    store.data_mut().traced_calls.clear();
}

/// The trace line for the current run of a process, to write now or later.
fn trace_line(store: &Store<ProcessState>, started: u64, then: &str) -> Option<TraceLine> {
    let fuel = started.saturating_sub(store.get_fuel().unwrap_or(0));
    let state = store.data();
    let trace = state.runtime.trace()?.clone();
    let scheduler = state.runtime.scheduler();
    Some(TraceLine {
        trace,
        step: scheduler.steps(),
        time: scheduler.now(),
        pid: state.id(),
        fuel,
        then: then.to_string(),
        calls: state.traced_calls.clone(),
    })
}

struct TraceLine {
    trace: std::sync::Arc<crate::replay::Trace>,
    step: u64,
    time: Duration,
    pid: u64,
    fuel: u64,
    then: String,
    calls: Vec<&'static str>,
}

impl TraceLine {
    fn write(self) {
        self.trace.slice(self.step, self.time, self.pid, self.fuel, &self.then, &self.calls);
    }
}


/// A trap inside a nested (catching) frame resumes its parent with the frame's
/// `on_trap` values; at the root it ends the process.
fn unwind_or(frames: &mut Vec<Frame>, trap: String) -> Result<(), Exit> {
    if frames.len() == 1 {
        return Err(Exit::Trapped(trap));
    }
    let caught = frames.pop().expect("nested frame");
    log::debug!(target: "lunatic::process", "trap caught: {trap}");
    resume_parent(frames.last_mut().expect("parent frame"), caught.on_trap);
    Ok(())
}

fn resume_parent(parent: &mut Frame, inputs: Vec<Val>) {
    match parent.call.take() {
        Some(Call::Waiting(invocation)) => parent.call = Some(Call::Resume(invocation, inputs)),
        _ => unreachable!("only a waiting frame has a nested frame above it"),
    }
}

/// Why a waiting receive woke up.
enum Wake {
    Signals(std::collections::VecDeque<crate::protocol::Signal>),
    Deadline,
}

/// Puts a received message in the scratch slot; the host call returns its kind.
fn deliver(state: &mut ProcessState, message: crate::protocol::Message) -> Vec<Val> {
    let kind = message.kind();
    state.scratch = Some(message);
    vec![Val::I32(kind)]
}

/// Fires when a process has waited long enough to compact its memory: the
/// runtime's idle watch when it has one (no timer per wait), else a
/// scheduler timer (deterministic mode: virtual time).
enum IdleTimer {
    Watch(crate::scheduler::IdleWait),
    Timer(BoxFuture<()>),
}

impl IdleTimer {
    fn new(runtime: &crate::protocol::Runtime, pid: u64, delay: Duration) -> Self {
        match runtime.idle_watch() {
            Some(watch) => IdleTimer::Watch(crate::scheduler::IdleWait::new(watch, pid)),
            None => IdleTimer::Timer(scheduler::sleep(runtime.scheduler(), delay)),
        }
    }

    fn poll(&mut self, cx: &mut std::task::Context<'_>) -> Poll<()> {
        match self {
            IdleTimer::Watch(wait) => wait.poll(cx),
            IdleTimer::Timer(timer) => timer.as_mut().poll(cx),
        }
    }
}

/// A process's linear memory across its waits: what the last compaction
/// left, and the pages it stashed (see [`crate::os::compact`]).
#[derive(Default)]
struct IdleMemory {
    /// Address and size of the memory's buffer at the last compaction, or
    /// `None` before the first one (every page is resident then).
    last: Option<(usize, usize)>,
    /// The module's data segments, read at the first compaction.
    image: Option<crate::os::compact::Image>,
    stash: crate::os::compact::Stash,
}

impl IdleMemory {
    /// Bytes of linear memory to charge against the compaction budget while
    /// this process waits out the delay: all of it before its first
    /// compaction (a new process holds every page of its memory), else
    /// nothing unless the buffer moved since (a grown memory). A compacted
    /// process holds only what it touched since; making it compact at once
    /// whenever the budget is spent would cost each of its short waits a
    /// compaction and a restore (a busy server's connections), to give
    /// back little.
    fn charge(&self, store: &Store<ProcessState>) -> Option<usize> {
        let memory = store.data().memory?;
        let data = memory.data(store);
        match self.last {
            Some((at, size)) if at == data.as_ptr() as usize && data.len() == size => None,
            _ => Some(data.len()),
        }
    }

    /// Gives back the pages of a waiting process's linear memory that hold
    /// nothing but zeros or their initial data, and stashes those that
    /// differ from that by little. [`IdleMemory::restore`] must run before
    /// the memory is used again.
    fn compact(&mut self, store: &mut Store<ProcessState>) {
        let Some(memory) = store.data().memory else { return };
        let module = store.data().module.clone();
        let image = self.image.get_or_insert_with(|| crate::os::compact::Image::of_module(module.bytes()));
        let data = memory.data_mut(&mut *store);
        let done = crate::os::compact::compact(data, module.bytes(), image, &mut self.stash);
        self.last = Some((data.as_ptr() as usize, data.len()));
        crate::metrics::count(crate::metrics::Counter::CompactedBytes, done.released as u64);
        log::trace!(
            target: "lunatic::process",
            "compacted: {} bytes released, {} stashed in {} bytes, {} resident",
            done.released,
            done.stashed,
            self.stash.bytes(),
            done.resident
        );
    }

    /// Rebuilds the stashed pages, if any: called the moment a wait ends,
    /// before anything reads or writes the memory.
    fn restore(&mut self, store: &mut Store<ProcessState>) {
        if self.stash.is_empty() {
            return;
        }
        let (Some(memory), Some(image)) = (store.data().memory, &self.image) else { return };
        let module = store.data().module.clone();
        let data = memory.data_mut(&mut *store);
        crate::os::compact::restore(data, module.bytes(), image, &mut self.stash);
    }
}

/// The compaction of one wait: armed when the wait parks, done at most
/// once (the guest runs between two waits, so each may find new zero pages).
enum Compaction {
    /// The wait has not parked yet.
    Unarmed,
    /// Parked: compact when the timer fires; the charge (if any) holds
    /// this process's share of the budget until then.
    Armed { timer: IdleTimer, _charge: Option<crate::protocol::CompactCharge> },
    /// Compacted, or compaction is off.
    Done,
}

impl Compaction {
    /// Called each time the wait finds nothing to do yet: arms the timer on
    /// the first call (or compacts at once when the delay is zero or the
    /// budget is spent), compacts when the timer has fired.
    fn poll(
        &mut self,
        cx: &mut std::task::Context<'_>,
        store: &mut Store<ProcessState>,
        idle_memory: &mut IdleMemory,
    ) {
        if let Compaction::Unarmed = self {
            *self = match store.data().runtime.compact_idle_after() {
                None => Compaction::Done,
                Some(Duration::ZERO) => {
                    idle_memory.compact(store);
                    Compaction::Done
                }
                Some(delay) => {
                    let charge = match idle_memory.charge(store) {
                        None => Some(None),
                        Some(bytes) => store.data().runtime.charge_idle_memory(bytes).map(Some),
                    };
                    match charge {
                        Some(charge) => {
                            let state = store.data();
                            let timer = IdleTimer::new(&state.runtime, state.id(), delay);
                            Compaction::Armed { timer, _charge: charge }
                        }
                        None => {
                            idle_memory.compact(store);
                            Compaction::Done
                        }
                    }
                }
            };
        }
        if let Compaction::Armed { timer, .. } = self {
            if timer.poll(cx).is_ready() {
                // The charge goes back first: the process holds no idle memory now.
                *self = Compaction::Done;
                idle_memory.compact(store);
            }
        }
    }
}

/// Gives the store one more slice of fuel (at least `required`), charging
/// it against `max_fuel`. Fuel the process owes for host work is paid from
/// the slice first (it keeps at least `required`); the rest waits for the
/// next slice.
fn refuel(store: &mut Store<ProcessState>, required: u64) -> Result<(), Exit> {
    let runtime = &store.data().runtime;
    let slice = runtime.scheduler().next_slice(runtime.fuel_slice()).max(required);
    let state = store.data_mut();
    let amount = match &mut state.fuel_left {
        None => slice,
        Some(left) => {
            if *left == 0 || *left < required {
                return Err(Exit::OutOfFuel);
            }
            let amount = slice.min(*left);
            *left -= amount;
            amount
        }
    };
    let paid = state.fuel_debt.min(amount - required);
    state.fuel_debt -= paid;
    state.last_slice = amount;
    store.set_fuel(amount - paid).expect("fuel metering is always on");
    Ok(())
}

/// Adds `fuel` to what the process owes (see [`refuel`]).
fn owe(state: &mut ProcessState, fuel: u64) {
    state.fuel_debt = state.fuel_debt.saturating_add(fuel);
}

/// Fuel a nested guest call (`lunatic::trap::catch`) costs on top of its
/// host call: a call of its own on a fresh wasmi stack, about 490 ns of real
/// time (a loop of a million catches of a function returning at once:
/// 0.49 s), at about 1 ns per unit of fuel (see `engine::HOST_CALL_FUEL`).
/// Without it a process looping through `catch` kept the deterministic
/// clock some 50 times slower than real time
/// (`abi/harden_deterministic_host_calls_take_time.wat`: 40 s, now 0.3 s).
const NESTED_CALL_FUEL: u64 = 500;

/// Awaits a pending operation while handling signals, and compacts the
/// process's memory if it waits long enough. The outer `Result` ends the
/// process; the inner one is the host call's result or trap.
async fn wait(
    store: &mut Store<ProcessState>,
    pending: Pending,
    idle_memory: &mut IdleMemory,
) -> Result<Result<Vec<Val>, wasmi::Error>, Exit> {
    store.data_mut().start_spawned();
    let mut compaction = Compaction::Unarmed;
    let _waiting = match &pending {
        Pending::Async(_) | Pending::Receive { .. } => Some(crate::metrics::Waiting::start()),
        _ => None,
    };
    match pending {
        Pending::Async(work) => {
            let mut work = pin!(work);
            let completion = loop {
                let handle = store.data().handle.clone();
                let next = future::poll_fn(|cx| {
                    // Host code too: a panic in it traps this process only.
                    match crate::engine::contain(|| work.as_mut().poll(cx)) {
                        Ok(Poll::Ready(done)) => return Poll::Ready(Ok(Ok(done))),
                        Err(trap) => return Poll::Ready(Ok(Err(trap))),
                        Ok(Poll::Pending) => {}
                    }
                    if let Poll::Ready(signals) = handle.poll_signals(cx) {
                        return Poll::Ready(Err(signals));
                    }
                    compaction.poll(cx, store, idle_memory);
                    Poll::Pending
                })
                .await;
                // Before anything (the completion) touches the memory.
                idle_memory.restore(store);
                match next {
                    Ok(completion) => break completion,
                    Err(signals) => store.data_mut().handle_signals(signals)?,
                }
            };
            drop(compaction);
            store.data_mut().handle_queued_signals()?;
            crate::engine::take_moved_fuel();
            let results = completion.and_then(|completion| {
                crate::engine::contain(|| completion(&mut store.as_context_mut()))?
            });
            owe(store.data_mut(), crate::engine::take_moved_fuel());
            Ok(results)
        }
        Pending::Receive { tags, deadline, mut skip } => {
            let scheduler = store.data().runtime.scheduler_arc();
            let mut timer = deadline.map(|at| scheduler.sleep_until(at));
            store.data_mut().handle_queued_signals()?;
            loop {
                let state = store.data_mut();
                if let Some(message) = state.mailbox.take_matching_from(&tags, skip) {
                    return Ok(Ok(deliver(state, message)));
                }
                skip = state.mailbox.len();
                let handle = state.handle.clone();
                let next = future::poll_fn(|cx| {
                    if let Poll::Ready(signals) = handle.poll_signals(cx) {
                        return Poll::Ready(Wake::Signals(signals));
                    }
                    if let Some(timer) = &mut timer {
                        if timer.as_mut().poll(cx).is_ready() {
                            return Poll::Ready(Wake::Deadline);
                        }
                    }
                    compaction.poll(cx, store, idle_memory);
                    Poll::Pending
                })
                .await;
                idle_memory.restore(store);
                match next {
                    Wake::Signals(signals) => store.data_mut().handle_signals(signals)?,
                    Wake::Deadline => {
                        // One last look at what arrived meanwhile.
                        let state = store.data_mut();
                        state.handle_queued_signals()?;
                        return Ok(Ok(match state.mailbox.take_matching_from(&tags, skip) {
                            Some(message) => deliver(state, message),
                            None => vec![Val::I32(TIMEOUT)],
                        }));
                    }
                }
            }
        }
        Pending::Yield { results } => {
            if store.data().runtime.scheduler().should_yield() {
                future::yield_now().await;
            }
            store.data_mut().handle_queued_signals()?;
            Ok(Ok(results))
        }
        Pending::Call { .. } => unreachable!("nested calls are frames, not waits"),
        Pending::Handover { .. } => unreachable!("a hand-over is not a wait"),
    }
}

use wasmi::AsContextMut as _;
