//! Single-core in-memory SHA-256 speed of the `sha2` crate, the ceiling that
//! `holdfast seal`/`verify` are measured against (`bench/seal-verify.sh`).
//!
//! Prints one line: `sha256_single_core_bytes_per_sec <n>` (the best of five
//! runs over a 256 MiB buffer), so the bench script can parse it.

use std::time::Instant;

use sha2::{Digest, Sha256};

fn main() {
    let size = 256 * 1024 * 1024;
    let buf: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let mut h = Sha256::new();
        for chunk in buf.chunks(256 * 1024) {
            h.update(chunk);
        }
        std::hint::black_box(h.finalize());
        best = best.min(t.elapsed().as_secs_f64());
    }
    let rate = size as f64 / best;
    println!("sha256_single_core_bytes_per_sec {rate:.0}");
    eprintln!("sha2 single core: {:.2} GB/s", rate / 1e9);
}
