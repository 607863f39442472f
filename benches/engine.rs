//! Engine costs for a Rust guest: module compile time (eager, fuel on) and
//! the time to compile from the cache. Run with `cargo bench --bench engine`
//! after building the benchmark guests (`benches/run` does both).

use std::time::Instant;

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/target/guests/wasm32-wasip1/release");
    for guest in ["hello", "spawn_join"] {
        let path = format!("{dir}/{guest}.wasm");
        let Ok(bytes) = std::fs::read(&path) else {
            eprintln!("{path} missing: build benches/guests first");
            std::process::exit(1);
        };
        let scheduler = lunatic_wasmi::SchedulerKind::Threaded { threads: 1 }.build().unwrap();
        let mut fresh = Vec::new();
        for _ in 0..10 {
            // A new runtime has an empty cache, so this compiles for real.
            let runtime = lunatic_wasmi::Runtime::new(scheduler.clone(), Default::default());
            let start = Instant::now();
            runtime.compile(&bytes).expect("valid guest");
            fresh.push(start.elapsed().as_secs_f64());
        }
        fresh.sort_by(f64::total_cmp);
        let runtime = lunatic_wasmi::Runtime::new(scheduler.clone(), Default::default());
        runtime.compile(&bytes).unwrap();
        let start = Instant::now();
        for _ in 0..100 {
            runtime.compile(&bytes).unwrap();
        }
        let cached = start.elapsed().as_secs_f64() / 100.0;
        println!("compile_{guest}_ms {:.3}", fresh[fresh.len() / 2] * 1e3);
        println!("compile_cached_{guest}_us {:.1}", cached * 1e6);
        println!("module_{guest}_kib {:.1}", bytes.len() as f64 / 1024.0);
    }
}
