//! Resource release: processes holding every kind of resource end in each of
//! the three ways (killed, trapped, returned without dropping anything) and
//! nothing of theirs may be left. The guest checks what it can see (names,
//! ports, timer messages); the runtime's own leak report
//! (`LUNATIC_DEBUG_RESOURCES=1`: open sockets and files, live processes,
//! registered names) checks the rest. See
//! `spec-tests/cases/process/resources_released.case`.
//!
//! Each holder has: a TCP listener, a connected stream and the accepted
//! end, a second stream parked in a one-hour timer to itself (only
//! releasing the timer closes it), a UDP socket, a TLS stream to its linked
//! peer (which holds the TLS listener and the accepted TLS stream), a
//! registered name, a 300 ms timer to the root (must never fire), a WASI
//! file, a config, a compiled module, a link to the root and a monitor on it.

use std::time::Duration;

use lunatic::net::{TcpListener, TcpStream, TlsListener, TlsStream, UdpSocket};
use lunatic::{Mailbox, MailboxError, MessageSignal, Process, Signal};
use serde::{Deserialize, Serialize};

#[path = "../test_cert.rs"]
mod test_cert;
use test_cert::{CERT, KEY};

/// Whether connecting to `port` is refused within a second. A TLS listener's
/// socket is closed by its accept task (on the runtime's TLS threads), which
/// its end cancels asynchronously: shortly after the process ends, not at once.
fn closes_soon(port: u16) -> bool {
    for _ in 0..100 {
        if TcpStream::connect(format!("127.0.0.1:{port}")).is_err() {
            return true;
        }
        lunatic::sleep(Duration::from_millis(10));
    }
    false
}

/// The smallest valid module.
const EMPTY_MODULE: &[u8] = b"\0asm\x01\0\0\0";

#[derive(Serialize, Deserialize)]
enum Report {
    /// A holder has everything.
    Ready { peer: u64, tcp_port: u16, tls_port: u16 },
    /// A timer set by a holder fired (it must not: the holder is gone).
    Timer,
}

#[derive(Serialize, Deserialize)]
enum Cmd {
    /// From the root: return normally, keeping every resource.
    Stop,
    /// From the root: panic (a trap).
    Trap,
    /// From the peer: its TLS listener's port.
    TlsPort(u16),
    /// The message of the one-hour timer, carrying a stream.
    Parked(TcpStream),
}

fn main_loop(m: &Mailbox<Report, lunatic::serializer::Bincode, Signal>) {
    for fate in ["killed", "trapped", "returned"] {
        let holder = Process::spawn((m.this(), fate.to_string()), holder);
        // SAFETY: a plain host call with a process ID.
        unsafe { lunatic::host::api::process::monitor(holder.id()) };
        let (peer, tcp_port, tls_port) = loop {
            match m.receive_timeout(Duration::from_secs(10)) {
                Ok(MessageSignal::Message(Report::Ready { peer, tcp_port, tls_port })) => {
                    break (peer, tcp_port, tls_port)
                }
                Ok(_) => continue,
                Err(_) => panic!("{fate}: the holder never got ready"),
            }
        };
        // SAFETY: a plain host call with a process ID.
        unsafe { lunatic::host::api::process::monitor(peer) };
        match fate {
            "killed" => holder.kill(),
            "trapped" => holder.send(Cmd::Trap),
            _ => holder.send(Cmd::Stop),
        }
        let mut ended = Vec::new();
        let mut link_deaths = 0;
        while ended.len() < 2 {
            match m.receive_timeout(Duration::from_secs(10)) {
                Ok(MessageSignal::Signal(Signal::ProcessDied(id))) => ended.push(id),
                Ok(MessageSignal::Signal(Signal::LinkDied(_))) => link_deaths += 1,
                Ok(MessageSignal::Message(Report::Timer)) => println!("{fate}: early timer?"),
                Ok(MessageSignal::Message(Report::Ready { .. })) => println!("{fate}: ready twice?"),
                Err(MailboxError::TimedOut) | Err(_) => panic!("{fate}: holder or peer never ended"),
            }
        }
        ended.sort();
        let mut expected = vec![holder.id(), peer];
        expected.sort();
        println!("{fate}: holder and peer ended: {}", ended == expected);
        // A failure is seen through the link too; a normal end is not.
        if link_deaths == 0 {
            if let Ok(MessageSignal::Signal(Signal::LinkDied(_))) = m.receive_timeout(Duration::from_millis(50)) {
                link_deaths += 1;
            }
        }
        println!("{fate}: link deaths seen: {link_deaths}");
        let name = format!("resources-{fate}");
        println!("{fate}: name still registered: {}", Process::<Cmd>::lookup(&name.as_str()).is_some());
        println!("{fate}: TCP listener closed: {}", TcpStream::connect(format!("127.0.0.1:{tcp_port}")).is_err());
        println!("{fate}: TLS listener closed: {}", closes_soon(tls_port));
    }
    // The holders' 300 ms timers to the root: none may fire.
    let mut fired = 0;
    while let Ok(message) = m.receive_timeout(Duration::from_millis(600)) {
        if let MessageSignal::Message(Report::Timer) = message {
            fired += 1;
        }
    }
    println!("timer messages from ended processes: {fired}");
}

#[lunatic::main]
fn main(mailbox: Mailbox<Report>) {
    let m = mailbox.catch_link_failure().monitorable();
    main_loop(&m);
}

fn holder((root, fate): (Process<Report>, String), mailbox: Mailbox<Cmd>) {
    let this = mailbox.this();
    let listener = TcpListener::bind("127.0.0.1:0").expect("tcp bind");
    let tcp_port = listener.local_addr().unwrap().port();
    let client = TcpStream::connect(format!("127.0.0.1:{tcp_port}")).expect("tcp connect");
    let (accepted, _) = listener.accept().expect("tcp accept");
    let parked = TcpStream::connect(format!("127.0.0.1:{tcp_port}")).expect("tcp connect");
    let (parked_end, _) = listener.accept().expect("tcp accept");
    let long_timer = this.send_after(Cmd::Parked(parked), Duration::from_secs(3600));
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp bind");
    let peer = Process::spawn_link(this, peer);
    let tls_port = match mailbox.receive() {
        Cmd::TlsPort(port) => port,
        _ => panic!("expected the peer's port"),
    };
    let tls = TlsStream::connect_timeout("localhost", Duration::from_secs(5), tls_port as u32, vec![CERT
        .as_bytes()
        .to_vec()])
    .expect("tls connect");
    this.register(&format!("resources-{fate}").as_str());
    let short_timer = root.send_after(Report::Timer, Duration::from_millis(300));
    let file = std::fs::File::create(format!("held-{fate}.txt")).expect("create file");
    let config = lunatic::ProcessConfig::new().expect("config");
    let module = lunatic::WasmModule::new(EMPTY_MODULE).expect("module");
    // SAFETY: plain host calls with a process ID.
    unsafe {
        lunatic::host::api::process::link(0, root.id());
        lunatic::host::api::process::monitor(root.id());
    }
    root.send(Report::Ready { peer: peer.id(), tcp_port, tls_port });
    let command = mailbox.receive();
    // Nothing is dropped by the guest: the runtime must release it all.
    std::mem::forget((listener, client, accepted, parked_end, long_timer, udp, tls, short_timer));
    std::mem::forget((file, config, module));
    match command {
        Cmd::Stop => peer.send(()),
        Cmd::Trap => panic!("trapping on purpose"),
        _ => panic!("unexpected command"),
    }
}

/// Binds the TLS listener, accepts the holder's connection, then waits.
fn peer(holder: Process<Cmd>, mailbox: Mailbox<()>) {
    let listener = TlsListener::bind("127.0.0.1:0", CERT.as_bytes().to_vec(), KEY.as_bytes().to_vec())
        .expect("tls bind");
    holder.send(Cmd::TlsPort(listener.local_addr().unwrap().port()));
    let (stream, _) = listener.accept().expect("tls accept");
    mailbox.receive();
    std::mem::forget((listener, stream));
}
