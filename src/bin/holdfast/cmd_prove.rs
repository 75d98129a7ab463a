//! `holdfast prove BEFORE AFTER --authorization FILE [--fold-result FILE]... --out DIR`

use std::path::PathBuf;

use holdfast::Error;
use holdfast::error::exit;
use holdfast::model::proof::ProofResult;
use holdfast::surface;

use crate::output::{Output, one_line};

/// Arguments of `holdfast prove`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Snapshot taken before the run (`holdfast snapshot`).
    pub before: PathBuf,
    /// Snapshot taken after the run, with the same spec.
    pub after: PathBuf,
    /// The run's authorization (TOML: text, scope, mutations).
    #[arg(long, value_name = "FILE")]
    pub authorization: PathBuf,
    /// A fold result (governance-fold-A-B-result.json) for an authorized fold; repeatable.
    #[arg(long = "fold-result", value_name = "FILE")]
    pub fold_results: Vec<PathBuf>,
    /// Directory to write forbidden-surface-proof.json into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(out: &Output, args: Args) -> Result<i32, Error> {
    let proof = surface::proof::prove_paths(
        &args.before,
        &args.after,
        &args.authorization,
        &args.fold_results,
    )?;
    let path = surface::proof::write(&args.out, &proof)?;
    let code = match proof.result {
        ProofResult::Proven => exit::OK,
        ProofResult::NotProven => exit::FAILED,
    };
    if out.json {
        out.print_json(&proof)?;
    } else {
        for b in &proof.boundaries {
            let list: Vec<String> = b
                .surfaces
                .iter()
                .map(|s| format!("{} {}", s.surface, s.status.as_str()))
                .collect();
            say!("boundary {}: {}", b.id, list.join(", "));
        }
        for m in &proof.authorized_mutations {
            say!(
                "authorized {} {} on {}: {}",
                m.kind,
                m.range,
                m.surface,
                m.status.as_str()
            );
        }
        for n in &proof.notes {
            say!("note: {}", one_line(n));
        }
        for f in &proof.blocker_facts {
            say!("blocker fact {}: {}", f.id, one_line(&f.title));
        }
    }
    let c = proof.counts;
    let tally = format!(
        "{} untouched, {} changed, {} declared not contacted, {} authorized matched, {} authorized mismatch",
        c.untouched,
        c.changed,
        c.declared_not_contacted,
        c.authorized_mutation_matched,
        c.authorized_mutation_mismatch
    );
    match proof.result {
        ProofResult::Proven => {
            if !out.json {
                say!("PROVEN ({tally}); written to {}", path.display());
            }
        }
        ProofResult::NotProven => {
            for f in &proof.failures {
                eprintln!("failure: {}", one_line(&f.detail));
            }
            eprintln!(
                "holdfast: NOT_PROVEN: {} failure(s) ({tally}); the proof is recorded in {}",
                proof.failures.len(),
                path.display()
            );
        }
    }
    Ok(code)
}
