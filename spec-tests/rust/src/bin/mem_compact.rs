//! Memory survives idle compaction: a process whose linear memory holds a
//! modified data segment, sparse and dense heap pages and a stack buffer
//! waits longer than the runtime's idle delay (500 ms) in each kind of wait
//! (sleep, receive timing out, receive of a late message, TCP accept, TCP
//! read), changing a few bytes in between, and checks after each wait that
//! every byte is what it wrote. Loopback only; prints a fixed report.

use std::io::{Read, Write};
use std::time::Duration;

use lunatic::net::{TcpListener, TcpStream};
use lunatic::{Mailbox, Process};

/// Longer than the idle delay plus the watcher's lateness.
const WAIT: Duration = Duration::from_millis(900);

/// In the data segment, not zero: its pages start as the module's image.
static mut TABLE: [u32; 3000] = [0x5eed_5eed; 3000];

fn table() -> &'static mut [u32; 3000] {
    // SAFETY: one thread per process, and only `main` uses it.
    unsafe { &mut *std::ptr::addr_of_mut!(TABLE) }
}

struct State {
    /// Mostly zeros: a few bytes per page.
    sparse: Vec<u8>,
    /// Every byte set: stays resident.
    dense: Vec<u8>,
    expected: u64,
    seed: u64,
}

fn fnv(hash: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *hash = (*hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
}

impl State {
    fn checksum(&self, stack: &[u8]) -> u64 {
        let mut hash = 0xcbf2_9ce4_8422_2325;
        for word in table().iter() {
            fnv(&mut hash, &word.to_le_bytes());
        }
        fnv(&mut hash, &self.sparse);
        fnv(&mut hash, &self.dense);
        fnv(&mut hash, stack);
        hash
    }

    fn next(&mut self) -> u64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.seed
    }

    /// Changes a few bytes everywhere, then remembers the checksum.
    fn scribble(&mut self, stack: &mut [u8]) {
        for _ in 0..5 {
            let r = self.next();
            table()[(r % 3000) as usize] = r as u32;
            let r = self.next();
            let at = (r % self.sparse.len() as u64) as usize;
            self.sparse[at] = (r >> 32) as u8 | 1;
            let r = self.next();
            let at = (r % stack.len() as u64) as usize;
            stack[at] = (r >> 32) as u8 | 1;
        }
        self.expected = self.checksum(stack);
    }

    fn intact(&self, stack: &[u8]) -> bool {
        self.checksum(stack) == self.expected
    }
}

fn late_sender(parent: Process<u64>, _: Mailbox<()>) {
    lunatic::sleep(WAIT);
    parent.send(42);
}

fn late_client(port: u16, _: Mailbox<()>) {
    lunatic::sleep(WAIT);
    let mut stream = TcpStream::connect((std::net::Ipv4Addr::LOCALHOST, port)).expect("connect");
    lunatic::sleep(WAIT);
    stream.write_all(b"late hello").expect("write");
    let mut reply = [0u8; 2];
    stream.read_exact(&mut reply).expect("read reply");
}

#[lunatic::main]
fn main(mailbox: Mailbox<u64>) {
    let mut state = State {
        sparse: vec![0; 256 * 1024],
        dense: (0..64 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect(),
        expected: 0,
        seed: 0x1234_5678_9abc_def1,
    };
    let mut stack = [0u8; 12 * 1024];
    std::hint::black_box(&mut stack);

    state.scribble(&mut stack);
    lunatic::sleep(WAIT);
    println!("after sleep: intact {}", state.intact(&stack));

    state.scribble(&mut stack);
    let timed_out = matches!(mailbox.receive_timeout(WAIT), Err(lunatic::MailboxError::TimedOut));
    println!("after receive timeout: timed out {timed_out}, intact {}", state.intact(&stack));

    state.scribble(&mut stack);
    Process::spawn(mailbox.this(), late_sender);
    let got = mailbox.receive();
    println!("after late message: got {got}, intact {}", state.intact(&stack));

    state.scribble(&mut stack);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    Process::spawn(port, late_client);
    let (mut stream, _) = listener.accept().expect("accept");
    println!("after accept: intact {}", state.intact(&stack));

    state.scribble(&mut stack);
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).expect("read");
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    println!("after read: got {text:?}, intact {}", state.intact(&stack));
    stream.write_all(b"ok").expect("reply");

    // Twice in a row on pages already compacted once.
    state.scribble(&mut stack);
    lunatic::sleep(WAIT);
    lunatic::sleep(WAIT);
    println!("after two sleeps: intact {}", state.intact(&stack));
}
