//! A counter server that keeps its count across hot reloads.
//!
//! `hot-counter [ADDRESS]` (default 127.0.0.1:3001) serves a line protocol over TCP; one
//! command per line, one answer line each:
//!
//! | command | answer |
//! |---|---|
//! | `inc` / `get` | the counter's answer, e.g. `v1 count=41 pid=7` (v2: `v2 count=42 pid=7 upgrades=1`) |
//! | `lookup` | `pid=P`: the registry's `hot-counter` entry |
//! | `watch` | `links_fired=0 monitors_fired=0`: what the watcher process, linked to the counter and monitoring it, saw |
//! | `stream N` | starts a process that sends the counter sequence numbers 1..=N, one per millisecond |
//! | `seqstat` | `seq count=C last=L errors=E`: what the counter received of them (E: out of order) |
//! | `version` | the version of the code that accepted this connection |
//!
//! v1 also reads v2's state (dropping the new field), so the app can be rolled back.
//!
//! The counter and the watcher are [`lunatic_hot::HotServer`]s: when a newer version of the
//! module becomes current they move to it between two messages with the same PID, links,
//! monitors, registry name and mailbox. The new version's `_start` finds the counter in the
//! registry instead of starting another one, and its listener takes over the address.

use lunatic::net::{TcpListener, TcpStream};
use lunatic::{Mailbox, Process};
use lunatic_hot::{serve, Control, HotServer, HotState, Signal};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

/// The code's version as it shows in answers.
const VERSION: &str = if cfg!(feature = "v2") { "v2" } else { "v1" };
const COUNTER_NAME: &str = "hot-counter";
const WATCHER_NAME: &str = "hot-counter-watcher";

/// Messages to the counter; the same in every version (old and new processes talk to each
/// other during an upgrade).
#[derive(Serialize, Deserialize)]
enum Msg {
    Inc(Process<String>),
    Get(Process<String>),
    Seq(u64),
    SeqStat(Process<String>),
}

/// The fields of schema 1.
#[derive(Serialize, Deserialize, Default)]
struct Core {
    count: u64,
    seq_count: u64,
    seq_last: u64,
    seq_errors: u64,
}

/// Version 1's state: schema 1.
#[cfg(not(feature = "v2"))]
#[derive(Serialize, Deserialize, Default)]
struct Counter {
    core: Core,
}

/// Version 2's state: schema 2 adds the number of upgrades this counter went through.
#[cfg(feature = "v2")]
#[derive(Serialize, Deserialize, Default)]
struct Counter {
    core: Core,
    upgrades: u32,
}

impl HotState for Counter {
    const NAME: &'static str = "hot-counter";
    const SCHEMA: u32 = if cfg!(feature = "v2") { 2 } else { 1 };

    /// Version 1 takes a schema-2 state too (a downgrade: the upgrade count is dropped), so
    /// the app can be rolled back.
    #[cfg(not(feature = "v2"))]
    fn code_change(old_schema: u32, payload: &[u8]) -> Result<Self, lunatic_hot::StateError> {
        match old_schema {
            2 => {
                let (core, _upgrades): (Core, u32) = lunatic_hot::decode_payload(payload)?;
                Ok(Counter { core })
            }
            other => Err(lunatic_hot::StateError::Conversion(format!("unknown schema {other}"))),
        }
    }

    #[cfg(feature = "v2")]
    fn code_change(old_schema: u32, payload: &[u8]) -> Result<Self, lunatic_hot::StateError> {
        if cfg!(feature = "trap-restore") {
            panic!("hot-counter built with trap-restore: refusing the state");
        }
        match old_schema {
            1 => Ok(Counter { core: lunatic_hot::decode_payload(payload)?, upgrades: 0 }),
            other => Err(lunatic_hot::StateError::Conversion(format!("unknown schema {other}"))),
        }
    }
}

impl Counter {
    fn answer(&self) -> String {
        let pid = lunatic::host::process_id();
        #[cfg(feature = "v2")]
        return format!("{VERSION} count={} pid={pid} upgrades={}", self.core.count, self.upgrades);
        #[cfg(not(feature = "v2"))]
        return format!("{VERSION} count={} pid={pid}", self.core.count);
    }
}

impl HotServer for Counter {
    type Message = Msg;

    fn handle(&mut self, msg: Msg) -> Control {
        match msg {
            Msg::Inc(reply) => {
                self.core.count += 1;
                reply.send(self.answer());
            }
            Msg::Get(reply) => reply.send(self.answer()),
            Msg::Seq(n) => {
                let c = &mut self.core;
                if n == 1 {
                    *c = Core { count: c.count, ..Core::default() };
                }
                if n != c.seq_last + 1 {
                    c.seq_errors += 1;
                }
                c.seq_last = n;
                c.seq_count += 1;
            }
            Msg::SeqStat(reply) => {
                let c = &self.core;
                reply.send(format!("seq count={} last={} errors={}", c.seq_count, c.seq_last, c.seq_errors));
            }
        }
        Control::Continue
    }

    #[cfg(feature = "v2")]
    fn upgraded(&mut self, _from_version: u64, _from_schema: u32) {
        self.upgrades += 1;
    }
}

/// Messages to the watcher.
#[derive(Serialize, Deserialize)]
enum WatchMsg {
    Query(Process<String>),
}

/// A third process, linked to the counter and monitoring it: it counts the signals it gets,
/// which must stay 0 across upgrades.
#[derive(Serialize, Deserialize)]
struct Watcher {
    links_fired: u32,
    monitors_fired: u32,
}

impl HotState for Watcher {
    const NAME: &'static str = "hot-counter-watcher";
    const SCHEMA: u32 = 1;
}

impl HotServer for Watcher {
    type Message = WatchMsg;

    fn handle(&mut self, msg: WatchMsg) -> Control {
        let WatchMsg::Query(reply) = msg;
        reply.send(format!("links_fired={} monitors_fired={}", self.links_fired, self.monitors_fired));
        Control::Continue
    }

    fn signal(&mut self, signal: Signal) -> Control {
        match signal {
            Signal::LinkDied(_) => self.links_fired += 1,
            Signal::ProcessDied(_) => self.monitors_fired += 1,
        }
        Control::Continue
    }
}

#[cfg(not(feature = "no-entry"))]
lunatic_hot::upgrade_entry!(Counter, Watcher);

#[cfg(feature = "bad-import")]
#[link(wasm_import_module = "lunatic::no_such_module")]
extern "C" {
    fn no_such_function() -> i32;
}

fn main() {
    #[cfg(feature = "bad-import")]
    if std::env::args().count() > 1000 {
        unsafe { no_such_function() };
    }
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3001".to_string());
    // A counter started by an earlier version is still there (and moves itself to this code).
    let counter = match Process::<Msg>::lookup(COUNTER_NAME) {
        Some(counter) => counter,
        None => {
            let counter = Process::spawn((), |(), _: Mailbox<Msg>| {
                serve(Counter::default());
            });
            counter.register(&COUNTER_NAME);
            let watcher = Process::spawn(counter, |counter: Process<Msg>, _: Mailbox<WatchMsg>| {
                unsafe { lunatic::host::api::process::die_when_link_dies(0) };
                counter.link();
                unsafe { lunatic::host::api::process::monitor(counter.id()) };
                serve(Watcher { links_fired: 0, monitors_fired: 0 });
            });
            watcher.register(&WATCHER_NAME);
            counter
        }
    };
    let listener = match TcpListener::bind(addr.as_str()) {
        Ok(l) => l,
        Err(e) => {
            lunatic_hot::say(&format!("hot-counter {VERSION}: cannot listen on {addr}: {e}"));
            std::process::exit(1);
        }
    };
    lunatic_hot::say(&format!("hot-counter {VERSION}: listening on {addr}, counter is process {}", counter.id()));
    while let Ok((stream, _)) = listener.accept() {
        Process::spawn((stream, counter), connection);
    }
}

/// Serves one client connection, one command per line.
fn connection((stream, counter): (TcpStream, Process<Msg>), mailbox: Mailbox<String>) {
    let mut out = stream.clone();
    let reader = BufReader::new(stream);
    let me = mailbox.this();
    for line in reader.lines() {
        let Ok(line) = line else { return };
        let mut words = line.split_whitespace();
        let answer = match (words.next(), words.next()) {
            (Some("inc"), None) => request(&mailbox, counter, Msg::Inc(me)),
            (Some("get"), None) => request(&mailbox, counter, Msg::Get(me)),
            (Some("seqstat"), None) => request(&mailbox, counter, Msg::SeqStat(me)),
            (Some("lookup"), None) => match Process::<Msg>::lookup(COUNTER_NAME) {
                Some(p) => format!("pid={}", p.id()),
                None => "error: hot-counter is not registered".into(),
            },
            (Some("watch"), None) => match Process::<WatchMsg>::lookup(WATCHER_NAME) {
                Some(w) => {
                    w.send(WatchMsg::Query(me));
                    receive(&mailbox)
                }
                None => "error: hot-counter-watcher is not registered".into(),
            },
            (Some("stream"), Some(n)) => match n.parse::<u64>() {
                Ok(n) => {
                    Process::spawn((counter, n), |(counter, n): (Process<Msg>, u64), _: Mailbox<()>| {
                        for i in 1..=n {
                            counter.send(Msg::Seq(i));
                            lunatic::sleep(Duration::from_millis(1));
                        }
                    });
                    format!("streaming {n}")
                }
                Err(_) => "error: stream needs a count".into(),
            },
            (Some("version"), None) => VERSION.to_string(),
            (Some("quit"), None) => return,
            _ => format!("error: unknown command {line:?}"),
        };
        if writeln!(out, "{answer}").is_err() {
            return;
        }
    }
}

/// Sends `msg` to the counter and waits for its answer.
fn request(mailbox: &Mailbox<String>, counter: Process<Msg>, msg: Msg) -> String {
    counter.send(msg);
    receive(mailbox)
}

fn receive(mailbox: &Mailbox<String>) -> String {
    mailbox
        .receive_timeout(Duration::from_secs(5))
        .unwrap_or_else(|_| "error: no answer within 5 s".into())
}
