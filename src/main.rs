//! The `lunatic` binary: everything lives in the library.

/// Linear memories come from a pool, not the C heap (see `PoolAllocator`).
#[global_allocator]
static ALLOCATOR: lunatic_wasmi::PoolAllocator = lunatic_wasmi::PoolAllocator::new();

/// What stays warm for good: enough for a few spawns at a time without page
/// faults. Above it, warm memory that no spawn used for a period goes back.
const WARM_KEPT: usize = 16 << 20;
/// How long warm memory may go unused before it goes back (as jemalloc's
/// default decay).
const WARM_DECAY: std::time::Duration = std::time::Duration::from_secs(10);

fn main() {
    let limit = warm_limit();
    if let Some(limit) = limit {
        ALLOCATOR.set_warm_limit(limit);
    }
    if limit.is_none_or(|limit| limit > WARM_KEPT) {
        // Without it a burst's worth of ended processes' memory (up to the
        // limit) would stay resident for good.
        if let Err(e) = ALLOCATOR.start_decay(WARM_DECAY, WARM_KEPT) {
            eprintln!("lunatic: warm memory will not decay: {e}");
        }
    }
    let status = lunatic_wasmi::main();
    // Other processes may still be running: the program ends with its first.
    std::process::exit(status);
}

/// `LUNATIC_WARM_MIB`: how much memory of ended processes stays resident
/// for the next spawns (default 128 MiB; 0 gives it all back at once); what
/// of it goes unused for 10 s goes back, down to 16 MiB.
fn warm_limit() -> Option<usize> {
    let value = std::env::var("LUNATIC_WARM_MIB").ok()?;
    let limit = value.trim().parse::<usize>().ok().and_then(|mib| mib.checked_mul(1 << 20));
    if limit.is_none() {
        eprintln!("lunatic: ignoring LUNATIC_WARM_MIB={value:?}: not a whole number of MiB");
    }
    limit
}
