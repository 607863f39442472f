//! The smallest useful lunatic program: print, look at the arguments, spawn a
//! child process and wait for its message.

use lunatic::{Mailbox, Process};

#[lunatic::main]
fn main(mailbox: Mailbox<String>) {
    println!("Hello from a lunatic process!");

    let args: Vec<String> = std::env::args().collect();
    println!("My arguments: {args:?}");

    // The child gets a handle to its parent as its captured value and uses it
    // to send a greeting back.
    let child = Process::spawn(mailbox.this(), |parent: Process<String>, _: Mailbox<()>| {
        let me = lunatic::host::process_id();
        parent.send(format!("Hello from the child, process #{me}!"));
    });

    let greeting = mailbox.receive();
    println!(
        "Process #{} received: {greeting}",
        lunatic::host::process_id()
    );
    println!("(the child was process #{})", child.id());
}
