//! Shared helpers for the criterion benchmarks in this crate.
#![forbid(unsafe_code)]

/// The directory holding the reference workloads (`../shared/bench`), relative to the
/// workspace root; overridable with `SX_BENCH_DIR`.
pub fn shared_bench_dir() -> std::path::PathBuf {
    if let Ok(dir) = std::env::var("SX_BENCH_DIR") {
        return dir.into();
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench")
}
