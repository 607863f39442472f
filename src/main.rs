//! The `lunatic` binary: everything lives in the library.

/// Linear memories come from a pool, not the C heap (see `PoolAllocator`).
#[global_allocator]
static ALLOCATOR: lunatic_wasmi::PoolAllocator = lunatic_wasmi::PoolAllocator::new();

fn main() {
    if let Some(limit) = warm_limit() {
        ALLOCATOR.set_warm_limit(limit);
    }
    let status = lunatic_wasmi::main();
    // Other processes may still be running: the program ends with its first.
    std::process::exit(status);
}

/// `LUNATIC_WARM_MIB`: how much memory of ended processes stays resident
/// for the next spawns (default 128 MiB; 0 gives it all back at once).
fn warm_limit() -> Option<usize> {
    let value = std::env::var("LUNATIC_WARM_MIB").ok()?;
    let limit = value.trim().parse::<usize>().ok().and_then(|mib| mib.checked_mul(1 << 20));
    if limit.is_none() {
        eprintln!("lunatic: ignoring LUNATIC_WARM_MIB={value:?}: not a whole number of MiB");
    }
    limit
}
