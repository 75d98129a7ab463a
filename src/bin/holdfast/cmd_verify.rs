//! `holdfast verify DIR`

use std::path::PathBuf;

use holdfast::Error;
use holdfast::attest::{self, packet::AttestReport, trust::Trust};
use holdfast::cli_output::VerifyOutput;
use holdfast::error::exit;
use holdfast::error::exit::worst as worst_exit;
use holdfast::packet::{self, anchor, rerun::RerunOptions};
use holdfast::seal;
use holdfast::surface::CitationReport;

use crate::output::{Output, one_line};
use crate::progress_bar::Bar;

/// Arguments of `holdfast verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The sealed packet directory to check.
    pub dir: PathBuf,
    /// Also re-check every evidence citation recorded in the packet's surface
    /// inventories against this source tree (a stale citation fails with exit 1).
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,
    /// Also re-derive what a run's packet claims, offline: every derived file
    /// again from the inputs the packet carries in spec/ and its primary
    /// evidence, byte for byte; the verdict, the fold and its rollback
    /// rehearsal; and the bad-input probes (every probe must fail closed again).
    #[arg(long)]
    pub rerun: bool,
    /// With --rerun: the run's spec directory (every carried input is compared
    /// with it byte for byte), or its gates.toml; needed when the packet's
    /// probes include user probes or a custom pass token.
    #[arg(long, value_name = "GATES", requires = "rerun")]
    pub spec: Option<PathBuf>,
    /// Also check every signature in packet.intoto.jsonl against this trust
    /// file (TOML, schemas/trust.schema.json): trusted only when a runner
    /// signed the packet and an approver signed its authorization.
    #[arg(long, value_name = "TRUST")]
    pub trust: Option<PathBuf>,
    /// Also check the packet against this registry directory: the registry
    /// must pass its own check, bind this packet's tree hash to its claim and
    /// fold in its history, and hold a record of every claimed id with the
    /// packet's path and sha256 (docs/SIGNING.md, "The registry as an anchor").
    #[arg(long, value_name = "DIR")]
    pub registry: Option<PathBuf>,
}

pub fn run(out: &Output, args: Args) -> Result<i32, Error> {
    let trust = args.trust.as_deref().map(Trust::load).transpose()?;
    let report = seal::verify(&args.dir, &Bar::new())?;
    let attestation = match &trust {
        Some(t) => Some(attest::packet::verify(&args.dir, t, &report)?),
        None => None,
    };
    let attest_code = attestation.as_ref().map_or(0, AttestReport::exit_code);
    let citations = match &args.source {
        Some(src) => Some(holdfast::surface::verify_citations(&args.dir, src)?),
        None => None,
    };
    let cit_code = citations.as_ref().map_or(0, CitationReport::exit_code);
    // A packet that does not verify against its seal has nothing left to
    // re-derive: its problems are the answer, and its JSON is not read.
    let rerun = if args.rerun && report.is_verified() {
        let exe =
            std::env::current_exe().map_err(|e| Error::io("holdfast (current executable)", e))?;
        Some(packet::rerun::rerun(
            &args.dir,
            report.is_verified(),
            &RerunOptions {
                exe,
                spec: args.spec.clone(),
            },
            &Bar::new(),
        )?)
    } else {
        None
    };
    let rerun_code = match &rerun {
        Some(r) if !r.ok() => exit::FAILED,
        _ => exit::OK,
    };
    // Only a packet whose seal verifies is compared with the registry.
    let anchor = match &args.registry {
        Some(reg) if report.is_verified() => Some(anchor::check(&args.dir, reg)?),
        _ => None,
    };
    let anchor_code = anchor
        .as_ref()
        .map_or(exit::OK, anchor::AnchorReport::exit_code);
    let code = worst_exit(
        worst_exit(
            worst_exit(worst_exit(report.exit_code(), cit_code), rerun_code),
            attest_code,
        ),
        anchor_code,
    );
    let status = if !report.is_verified() && report.exit_code() == code {
        report.status()
    } else if let Some(c) = citations.as_ref().filter(|c| !c.is_fresh()) {
        c.status()
    } else if rerun_code != exit::OK {
        "RERUN_FAILED"
    } else if attest_code != exit::OK {
        "NOT_TRUSTED"
    } else if anchor_code != exit::OK {
        "NOT_ANCHORED"
    } else {
        report.status()
    };
    if out.json {
        out.print_json(&VerifyOutput {
            status: status.to_string(),
            exit_code: code,
            report: report.clone(),
            citations: citations.clone(),
            rerun: rerun.clone(),
            signatures_checked: attestation.is_some(),
            attestation: attestation.clone(),
            registry_anchor: anchor.clone(),
        })?;
    }
    if !out.json {
        for w in &report.warnings {
            eprintln!("warning: {}: {}", w.path, one_line(&w.detail));
        }
    }
    if code == 0 {
        if !out.json {
            let mut cited = citations
                .as_ref()
                .map(|c| format!("; {} citation(s) fresh", c.citations_fresh))
                .unwrap_or_default();
            if let Some(r) = &rerun {
                cited.push_str(&format!(
                    "; re-derived: {}",
                    r.checks
                        .iter()
                        .map(|c| c.check.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            match &attestation {
                Some(a) => {
                    let by = a
                        .signatures
                        .iter()
                        .map(|s| format!("{} {} ({})", s.statement, s.role.as_str(), s.key))
                        .collect::<Vec<_>>()
                        .join(", ");
                    cited.push_str(&format!("; trusted: signed by {by}"));
                }
                None if args
                    .dir
                    .join(attest::ATTESTATION_FILE)
                    .symlink_metadata()
                    .is_ok() =>
                {
                    cited.push_str("; signatures NOT checked against any trust (pass --trust FILE)")
                }
                None => cited.push_str("; unsigned"),
            }
            if let (Some(a), Some(dir)) = (&anchor, &args.registry) {
                let what = match (&a.claim, a.fold_bound) {
                    (Some(c), true) => format!("claim {c} and fold"),
                    (Some(c), false) => format!("claim {c}"),
                    (None, _) => "fold".to_string(),
                };
                cited.push_str(&format!(
                    "; anchored: registry {} state {} binds this tree hash to its {what}",
                    dir.display(),
                    a.bound_state.unwrap_or(0)
                ));
            }
            say!(
                "verified {}: {} files, {} bytes, tree sha256 {}{cited}",
                args.dir.display(),
                report.files_checked,
                report.bytes_checked,
                report.tree_sha256.as_deref().unwrap_or("-")
            );
            if let Some(r) = &rerun {
                say!("status {} · decision {}", r.status, r.decision);
                for what in &r.as_recorded {
                    say!("  {what}");
                }
            }
        }
    } else {
        for p in &report.problems {
            eprintln!("{}: {}: {}", p.kind.label(), p.path, one_line(&p.detail));
        }
        let cited = citations.as_ref().map_or(0, |c| c.problems.len());
        for p in citations.iter().flat_map(|c| &c.problems) {
            let surface = if p.surface.is_empty() {
                String::new()
            } else {
                format!(" surface {}", p.surface)
            };
            eprintln!(
                "{}: {}{surface}: {}",
                p.kind.label(),
                p.inventory,
                one_line(&p.detail)
            );
        }
        let mut attest_failed = 0;
        for p in attestation.iter().flat_map(|a| &a.problems) {
            attest_failed += 1;
            let at = p.line.map(|l| format!(":{l}")).unwrap_or_default();
            eprintln!(
                "signature: {}{at}: {}",
                attest::ATTESTATION_FILE,
                one_line(&p.detail)
            );
        }
        let mut anchor_failed = 0;
        for p in anchor.iter().flat_map(|a| &a.problems) {
            anchor_failed += 1;
            eprintln!("registry: {}", one_line(p));
        }
        let mut rerun_failed = 0;
        for c in rerun.iter().flat_map(|r| &r.checks).filter(|c| !c.ok) {
            rerun_failed += 1;
            eprintln!("rerun {}: {}", c.check, one_line(&c.detail));
        }
        eprintln!(
            "holdfast: {status}: {} problem(s) in {}",
            report.problems.len() + cited + rerun_failed + attest_failed + anchor_failed,
            args.dir.display()
        );
    }
    Ok(code)
}
