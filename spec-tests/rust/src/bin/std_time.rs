//! Clocks and randomness from a plain Rust `std` guest.
//!
//! Usage: `std_time.wasm time|random`; see `spec-tests/cases/wasi/`.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    /// WASI `random_get(buf, len) -> errno`.
    #[link_name = "random_get"]
    fn wasi_random_get(buf: *mut u8, len: usize) -> u16;
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str).unwrap_or("") {
        "time" => {
            let since_epoch = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("SystemTime::now() is before 1970");
            // 2020-01-01T00:00:00Z and 2200-01-01T00:00:00Z.
            let secs = since_epoch.as_secs();
            println!("now is after 2020: {}", secs > 1_577_836_800);
            println!("now is before 2200: {}", secs < 7_258_118_400);
            let start = Instant::now();
            let mut x = 0u64;
            for i in 0..10_000u64 {
                x = x.wrapping_mul(31).wrapping_add(std::hint::black_box(i));
            }
            std::hint::black_box(x);
            let later = Instant::now();
            println!("monotonic clock does not go back: {}", later >= start);
        }
        "random" => {
            let mut a = [0u8; 32];
            let mut b = [0u8; 32];
            let ea = unsafe { wasi_random_get(a.as_mut_ptr(), a.len()) };
            let eb = unsafe { wasi_random_get(b.as_mut_ptr(), b.len()) };
            println!("random_get errno: {ea} {eb}");
            println!(
                "random bytes are not all zero: {}",
                a.iter().any(|&x| x != 0)
            );
            println!("two draws differ: {}", a != b);
            // std's HashMap seeds its RandomState from random_get too.
            let mut map = std::collections::HashMap::new();
            for i in 0..100 {
                map.insert(i, i * i);
            }
            println!("hashmap works: {}", map.len() == 100 && map[&7] == 49);
        }
        other => {
            eprintln!("std_time: unknown scenario {other:?}");
            std::process::exit(64);
        }
    }
}
