//! Benchmark (not a test): claims per second from clients that each keep
//! one connection (or one open directory) to a registry and claim in a
//! loop, through the library's [`holdfast::registry::fast::claim_on`], the
//! way an agent or a service that makes many claims would.
//!
//! `holdfast registry claim` is a new process and, on PostgreSQL, a new
//! connection per claim; `bench/registry-backends.sh` measures that too,
//! with the server's own ceiling for a connection per transaction beside it.
//!
//! Usage: `cargo bench --bench registry_clients -- LOCATION CLIENTS CLAIMS_PER_CLIENT`
//! (LOCATION: an initialized registry, a directory or a `postgresql://` URL).
//! Prints one line: `N claims in S s = R claims/s`; exit 1 on any failure.

use std::path::PathBuf;
use std::time::Instant;

use holdfast::registry::ClaimRequest;
use holdfast::registry::backend;
use holdfast::registry::fast::claim_on;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let (Some(location), Some(clients), Some(per_client)) = (
        args.first().map(PathBuf::from),
        args.get(1).and_then(|a| a.parse::<usize>().ok()),
        args.get(2).and_then(|a| a.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: registry_clients LOCATION CLIENTS CLAIMS_PER_CLIENT");
        std::process::exit(2);
    };
    // Every client connects before the clock starts.
    let backends: Vec<_> = (0..clients)
        .map(|_| match backend::open(&location) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("registry_clients: {e}");
                std::process::exit(1);
            }
        })
        .collect();
    let start = Instant::now();
    let failures: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = backends
            .into_iter()
            .enumerate()
            .map(|(c, b)| {
                scope.spawn(move || {
                    let packet = format!("L{c}");
                    let mut failed = 0;
                    for _ in 0..per_client {
                        if let Err(e) = claim_on(b.clone(), &packet, ClaimRequest::Count(20)) {
                            eprintln!("registry_clients: client {c}: {e}");
                            failed += 1;
                        }
                    }
                    failed
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(per_client))
            .sum()
    });
    let secs = start.elapsed().as_secs_f64();
    let n = clients * per_client;
    println!(
        "{n} claims in {secs:.2} s = {:.1} claims/s",
        n as f64 / secs
    );
    if failures > 0 {
        eprintln!("registry_clients: {failures} claims failed");
        std::process::exit(1);
    }
}
