//! `holdfast verdict EVIDENCE`

use std::path::PathBuf;

use holdfast::Error;
use holdfast::cli_output::VerdictOutput;
use holdfast::error::exit;
use holdfast::gate::verdict::{self, Evidence, Scoping};

use crate::output::Output;

/// What must hold for exit 0.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Require {
    /// The production decision is the pass token.
    Production,
    /// The scoping status is READY (the decision may be HOLD_PRODUCTION).
    Scoping,
}

/// Arguments of `holdfast verdict`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The evidence JSON file (see schemas/evidence.schema.json).
    pub evidence: PathBuf,
    /// What exit 0 requires.
    #[arg(long, value_enum, default_value = "production")]
    pub require: Require,
}

pub fn run(out: &Output, args: Args) -> Result<i32, Error> {
    let e = Evidence::load(&args.evidence)?;
    let v = verdict::verdict(&e);
    let ok = match args.require {
        Require::Production => v.pass,
        Require::Scoping => v.scoping == Scoping::Ready,
    };
    let code = if ok { exit::OK } else { exit::FAILED };
    if out.json {
        out.print_json(&VerdictOutput {
            exit_code: code,
            verdict: v.clone(),
        })?;
    } else {
        say!("status: {}", v.status);
        say!("decision: {}", v.decision);
        say!("selected: {}", v.selected);
        say!("admissible now: {}", v.admissible_now.join(", "));
        if v.declared_not_contacted > 0 {
            say!(
                "declared not contacted (weaker than a digest): {} surface check(s)",
                v.declared_not_contacted
            );
        }
        for f in &v.failures {
            say!("failed: {f}");
        }
        for m in &v.missing {
            say!("missing: {m}");
        }
        for h in &v.hold_reasons {
            say!("hold: {h}");
        }
    }
    if !ok {
        let what = match args.require {
            Require::Production => format!("decision is {}", v.decision),
            Require::Scoping => format!("status is {}", v.status),
        };
        eprintln!("holdfast: verdict does not meet --require: {what}");
    }
    Ok(code)
}
