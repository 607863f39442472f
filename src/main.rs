//! The `lunatic` binary: everything lives in the library.

fn main() {
    let status = lunatic_wasmi::main();
    // Other processes may still be running: the program ends with its first.
    std::process::exit(status);
}
