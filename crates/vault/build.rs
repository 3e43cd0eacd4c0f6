//! Declares the `fuzzing` cfg (set by cargo-fuzz) so rustc knows it is expected.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(fuzzing)");
}
