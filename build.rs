//! Link settings for the `sparkling` binary.
//!
//! The binary is position-independent, so the dynamic loader fixes up every absolute
//! address in its data at start. Stored as ordinary relocations, that table is about
//! 7 MB; the loader reads all of it, and its pages stay resident in every `sparkling`
//! process. Packed relative relocations (`DT_RELR`, glibc 2.36 and later) store the same
//! fix-ups in a few kilobytes.

fn main() {
    // Without this, Cargo reruns the script (and relinks the binary) whenever any file
    // of the root package changes, docs included.
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
