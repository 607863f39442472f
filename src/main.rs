//! The `lunatic` binary: everything lives in the library.

/// Linear memories come from a pool, not the C heap (see `PoolAllocator`).
#[global_allocator]
static ALLOCATOR: lunatic_wasmi::PoolAllocator = lunatic_wasmi::PoolAllocator::new();

fn main() {
    let status = lunatic_wasmi::main();
    // Other processes may still be running: the program ends with its first.
    std::process::exit(status);
}
