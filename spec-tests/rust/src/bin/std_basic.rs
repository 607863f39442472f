//! Plain Rust `std` guest (no lunatic API): stdio, argv, environment, exit
//! codes, panics. (Clocks and randomness are in `std_time`, so these cases do
//! not depend on them.)
//!
//! Usage: `std_basic.wasm <scenario> [args...]`; see the `*.case` files in
//! `spec-tests/cases/wasi/` for the expected output of each scenario.

use std::io::{Read, Write};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let scenario = args.get(1).map(String::as_str).unwrap_or("");
    match scenario {
        "hello" => {
            println!("Hello, world!");
            eprintln!("Hello, stderr!");
        }
        "args" => {
            println!("argc = {}", args.len());
            for (i, arg) in args.iter().enumerate() {
                println!("argv[{i}] = {arg:?}");
            }
        }
        "env" => {
            for name in &args[2..] {
                match std::env::var(name) {
                    Ok(value) => println!("{name} = {value:?}"),
                    Err(_) => println!("{name} is not set"),
                }
            }
        }
        "exit" => {
            let code: i32 = args[2].parse().expect("exit code");
            println!("exiting with {code}");
            std::io::stdout().flush().unwrap();
            std::process::exit(code);
        }
        "panic" => {
            println!("about to panic");
            std::io::stdout().flush().unwrap();
            let n = std::hint::black_box(42);
            panic!("spec-test panic number {n}");
        }
        "stdin" => {
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .expect("reading stdin");
            println!(
                "read {} bytes, {} lines",
                input.len(),
                input.lines().count()
            );
            for line in input.lines() {
                println!("> {}", line.to_uppercase());
            }
        }
        "stdout-bulk" => {
            // 1000 numbered lines through a single locked handle, then stderr.
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            for i in 0..1000 {
                writeln!(out, "line {i}").unwrap();
            }
            out.flush().unwrap();
            eprintln!("done");
        }
        other => {
            eprintln!("std_basic: unknown scenario {other:?}");
            std::process::exit(64);
        }
    }
}
