//! `poll_oneoff`: waiting for clocks and descriptors.
//!
//! Clock subscriptions sleep on the scheduler (so Rust's
//! `std::thread::sleep` suspends only the calling process, in virtual time
//! under a deterministic scheduler). Files and the output streams are always
//! ready; stdin is watched from the blocking pool.

use super::clock::clock_now;
use super::errno::from_io;
use super::table::Kind;
use super::types::*;
use super::{check_out, memory_and_state, ret, Fail, WasiResult, M};
use crate::protocol::guest;
use crate::engine::HostFunctions;
use crate::protocol::{completion, suspend, Pending, ProcessState};
use futures_lite::future;
use std::io::BufRead;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use wasmi::{Caller, Val};

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func(
        M,
        "poll_oneoff",
        |mut c: Caller<'_, ProcessState>, input: i32, output: i32, n: i32, out: i32| {
            ret(poll_oneoff(&mut c, input as u32, output as u32, n as u32, out))
        },
    );
}

/// A subscription, sorted by how it completes.
enum Sub {
    /// Completes when the scheduler's monotonic clock reaches the deadline.
    Clock { userdata: u64, deadline: Duration },
    /// Completes when stdin has data or is at its end.
    StdinRead { userdata: u64 },
    /// Already complete (ready descriptor, or an error).
    Now(Event),
}

fn event(userdata: u64, kind: u8, error: Errno) -> Event {
    Event { userdata, error, kind, nbytes: 0, flags: 0 }
}

fn poll_oneoff(
    c: &mut Caller<'_, ProcessState>,
    input: u32,
    output: u32,
    n: u32,
    nevents: i32,
) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    let in_size = n
        .checked_mul(SUBSCRIPTION_SIZE)
        .ok_or_else(|| crate::errors::trap(format_args!("{n} subscriptions are out of bounds")))?;
    guest::range(memory, input, in_size)?;
    guest::range(memory, output, n * EVENT_SIZE)?;
    check_out(memory, nevents, 4)?;
    if n == 0 {
        return Err(Errno::INVAL.into());
    }
    let scheduler = state.runtime.scheduler_arc();
    let now = scheduler.now();
    let mut subs = Vec::with_capacity(n as usize);
    for i in 0..n {
        let at = input + i * SUBSCRIPTION_SIZE;
        let userdata = guest::read_u64(memory, at)?;
        let tag = memory[at as usize + 8];
        let sub = match tag {
            EVENTTYPE_CLOCK => {
                let id = guest::read_u32(memory, at + 16)?;
                let timeout = guest::read_u64(memory, at + 24)?;
                let flags =
                    u16::from_le_bytes([memory[at as usize + 40], memory[at as usize + 41]]);
                let absolute = flags & SUBCLOCKFLAGS_ABSTIME != 0;
                match clock_now(&*scheduler, id) {
                    None => Sub::Now(event(userdata, tag, Errno::INVAL)),
                    Some(clock) => {
                        let timeout = Duration::from_nanos(timeout);
                        // A deadline on the scheduler's monotonic clock.
                        let deadline = if !absolute {
                            now.saturating_add(timeout)
                        } else if id == CLOCK_REALTIME {
                            now.saturating_add(timeout.saturating_sub(clock))
                        } else {
                            timeout
                        };
                        Sub::Clock { userdata, deadline }
                    }
                }
            }
            EVENTTYPE_FD_READ | EVENTTYPE_FD_WRITE => {
                let fd = guest::read_u32(memory, at + 16)?;
                let read = tag == EVENTTYPE_FD_READ;
                match state.contexts.wasi().fds.get(fd) {
                    Err(_) => Sub::Now(event(userdata, tag, Errno::BADF)),
                    Ok(entry) => match (&entry.kind, read) {
                        (Kind::Stdin, true) => Sub::StdinRead { userdata },
                        (Kind::Stdout | Kind::Stderr, false) => {
                            Sub::Now(event(userdata, tag, Errno::SUCCESS))
                        }
                        // Regular files never block.
                        (Kind::File(_), _)
                            if entry.can(if read { RIGHT_FD_READ } else { RIGHT_FD_WRITE }) =>
                        {
                            Sub::Now(event(userdata, tag, Errno::SUCCESS))
                        }
                        _ => Sub::Now(event(userdata, tag, Errno::BADF)),
                    },
                }
            }
            _ => Sub::Now(event(userdata, tag, Errno::INVAL)),
        };
        subs.push(sub);
    }

    let expired = |subs: &[Sub], now: Duration| -> Vec<Event> {
        subs.iter()
            .filter_map(|s| match *s {
                Sub::Now(e) => Some(e),
                Sub::Clock { userdata, deadline } if deadline <= now => {
                    Some(event(userdata, EVENTTYPE_CLOCK, Errno::SUCCESS))
                }
                _ => None,
            })
            .collect()
    };
    let ready = expired(&subs, now);
    if !ready.is_empty() {
        return write_events(memory, output, nevents, &ready);
    }

    // Nothing is ready: wait for the first clock or stdin.
    if !state.initialized {
        // A start section cannot suspend, and must not block the spawner.
        return Err(Errno::NOTSUP.into());
    }
    let earliest = subs
        .iter()
        .filter_map(|s| if let Sub::Clock { deadline, .. } = s { Some(*deadline) } else { None })
        .min();
    let stdin: Vec<u64> = subs
        .iter()
        .filter_map(|s| if let Sub::StdinRead { userdata } = s { Some(*userdata) } else { None })
        .collect();
    let watch_stdin = !stdin.is_empty();
    let finish = move |woke: Option<std::io::Result<usize>>, mut now: Duration| {
        if woke.is_none() {
            now = now.max(earliest.unwrap_or(now));
        }
        let mut events = expired(&subs, now);
        if let Some(result) = woke {
            for &userdata in &stdin {
                events.push(match &result {
                    Ok(available) => Event {
                        userdata,
                        error: Errno::SUCCESS,
                        kind: EVENTTYPE_FD_READ,
                        nbytes: *available as u64,
                        flags: if *available == 0 { EVENTRWFLAGS_HANGUP } else { 0 },
                    },
                    Err(e) => event(userdata, EVENTTYPE_FD_READ, from_io(e)),
                });
            }
        }
        completion(move |ctx| {
            let (memory, _) = guest::memory_and_state(ctx)?;
            Ok(vec![Val::I32(ret(write_events(memory, output, nevents, &events))?)])
        })
    };
    if watch_stdin {
        if let Some(world) = state.runtime.world().cloned() {
            // Whether stdin had input before the deadline is an answer of
            // the outside world: recorded, or replayed.
            let timer = earliest.map(|deadline| scheduler.sleep_until(deadline));
            let call = crate::replay::Call::new("poll_oneoff_stdin")
                .arg(earliest.map(|deadline| deadline.saturating_sub(now)));
            let op = stdin_watch();
            let clock = scheduler.clone();
            let wait = crate::protocol::world::external(&world, state, call, timer, op, move |woke| finish(woke, clock.now()));
            return Err(Fail::Trap(wait));
        }
    }
    let pending = Pending::Async(Box::pin(async move {
        let timer = async {
            match earliest {
                Some(deadline) => scheduler.sleep_until(deadline).await,
                None => future::pending().await,
            }
            None
        };
        let input = async {
            if !watch_stdin {
                return future::pending().await;
            }
            if scheduler.inline_blocking() {
                Some(stdin_ready())
            } else {
                Some(stdin_watch().await)
            }
        };
        let woke = future::or(timer, input).await;
        finish(woke, scheduler.now())
    }));
    Err(Fail::Trap(suspend(state, pending)))
}

/// Waits until stdin has input, through one watcher thread shared by every
/// poll of the runtime. A poll whose timer wins cannot stop a thread blocked
/// in `read` on stdin; with a thread per poll, a guest polling stdin with a
/// short timeout in a loop would leave one blocked thread (holding the stdin
/// lock) behind per call. Shared, there is at most one, and a later poll
/// joins it instead of starting another.
fn stdin_watch() -> impl std::future::Future<Output = std::io::Result<usize>> + Send + 'static {
    static WATCH: OnceLock<StdinWatch> = OnceLock::new();
    let watch = WATCH.get_or_init(StdinWatch::default);
    let (listener, seen) = {
        let mut state = watch.state.lock().unwrap_or_else(|e| e.into_inner());
        // Listen before starting the thread, so its notification is not missed.
        let listener = watch.done.listen();
        if !state.running {
            state.running = true;
            blocking::unblock(move || {
                let result = stdin_ready().map_err(|e| (e.kind(), e.to_string()));
                let mut state = watch.state.lock().unwrap_or_else(|e| e.into_inner());
                state.running = false;
                state.generation = state.generation.wrapping_add(1);
                state.last = Some(result);
                drop(state);
                watch.done.notify(usize::MAX);
            })
            .detach();
        }
        (listener, state.generation)
    };
    async move {
        let mut listener = Some(listener);
        loop {
            if let Some(listener) = listener.take() {
                listener.await;
            }
            let state = watch.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.generation != seen {
                if let Some(last) = &state.last {
                    return last.clone().map_err(|(kind, text)| std::io::Error::new(kind, text));
                }
            }
            listener = Some(watch.done.listen());
        }
    }
}

/// The shared stdin watcher: whether its thread runs, and what the last run
/// found (counted by `generation`, so a waiter takes only a result that
/// arrived after it started waiting).
#[derive(Default)]
struct StdinWatch {
    state: Mutex<StdinWatchState>,
    done: event_listener::Event,
}

#[derive(Default)]
struct StdinWatchState {
    running: bool,
    generation: u64,
    last: Option<Result<usize, (std::io::ErrorKind, String)>>,
}

/// Waits until stdin has buffered input (or is at its end) without
/// consuming it; returns how many bytes are buffered (0 at the end).
fn stdin_ready() -> std::io::Result<usize> {
    let stdin = std::io::stdin();
    let mut lock = stdin.lock();
    loop {
        match lock.fill_buf() {
            Ok(buf) => return Ok(buf.len()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn write_events(memory: &mut [u8], output: u32, nevents: i32, events: &[Event]) -> WasiResult {
    for (i, e) in events.iter().enumerate() {
        guest::write(memory, output + i as u32 * EVENT_SIZE, &e.encode())?;
    }
    guest::write_u32(memory, nevents as u32, events.len() as u32)?;
    Ok(())
}
