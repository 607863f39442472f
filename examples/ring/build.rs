// Thousands of ring members are alive at the same time, and every one of them
// owns a full copy of this module's linear memory. Rust reserves a 1 MiB
// shadow stack at the start of that memory by default; these processes need
// a few KiB. A 64 KiB stack shrinks each instance from ~1.1 MiB to ~130 KiB.
fn main() {
    println!("cargo:rustc-link-arg-bins=-zstack-size=65536");
}
