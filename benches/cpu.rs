//! CPU-bound guest code: the runtime versus bare wasmi with the same engine
//! settings (eager compilation, fuel on, the same slice). Run with
//! `cargo bench --bench cpu`; prints seconds for each and their ratio.

use std::time::{Duration, Instant};
use wasmi::{Engine, Linker, Module, ResumableCall, Store};

const MODULE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/cpu.wat");
const ROUNDS: usize = 5;

fn bare_wasmi(wasm: &[u8]) -> Duration {
    // Exactly the runtime's engine settings (fuel, eager compilation, features).
    let engine = Engine::new(&lunatic_wasmi::engine_config());
    let module = Module::new(&engine, wasm).expect("valid module");
    let start = Instant::now();
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate_and_start(&mut store, &module).unwrap();
    let func = instance.get_func(&store, "_start").unwrap();
    let slice = lunatic_wasmi::DEFAULT_FUEL_SLICE;
    store.set_fuel(slice).unwrap();
    let mut call = func.call_resumable(&mut store, &[], &mut []).unwrap();
    loop {
        match call {
            ResumableCall::Finished => break,
            ResumableCall::OutOfFuel(invocation) => {
                store.set_fuel(slice.max(invocation.required_fuel())).unwrap();
                call = invocation.resume(&mut store, &mut []).unwrap();
            }
            ResumableCall::HostTrap(_) => unreachable!("the module makes no host calls"),
        }
    }
    start.elapsed()
}

fn runtime(path: &str) -> Duration {
    let start = Instant::now();
    let status = lunatic_wasmi::run(lunatic_wasmi::RunOptions::new(path)).expect("runs");
    assert_eq!(status, 0);
    start.elapsed()
}

fn main() {
    let wasm = wat_bytes();
    // Alternate the two so that machine noise hits both alike; keep the best.
    let (mut bare, mut ours) = (Duration::MAX, Duration::MAX);
    for _ in 0..ROUNDS {
        bare = bare.min(bare_wasmi(&wasm));
        ours = ours.min(runtime(MODULE));
    }
    println!("cpu_bare_wasmi_s {:.4}", bare.as_secs_f64());
    println!("cpu_runtime_s {:.4}", ours.as_secs_f64());
    println!("cpu_runtime_over_bare {:.4}", ours.as_secs_f64() / bare.as_secs_f64());
}

fn wat_bytes() -> Vec<u8> {
    std::fs::read(MODULE).expect("benches/cpu.wat")
}
