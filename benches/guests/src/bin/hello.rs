//! Cold start: the smallest useful program.
fn main() {
    println!("Hello, world!");
}
