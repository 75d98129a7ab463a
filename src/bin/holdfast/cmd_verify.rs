//! `holdfast verify DIR`

use std::path::PathBuf;

use holdfast::Error;
use holdfast::seal;
use holdfast::surface::CitationReport;
use holdfast::surface::citation::worst_exit;
use serde::Serialize;

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
}

#[derive(Serialize)]
struct JsonReport<'a> {
    status: &'static str,
    exit_code: i32,
    #[serde(flatten)]
    report: &'a seal::VerifyReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    citations: Option<&'a CitationReport>,
}

pub fn run(out: &Output, args: Args) -> Result<i32, Error> {
    let report = seal::verify(&args.dir, &Bar::new())?;
    let citations = match &args.source {
        Some(src) => Some(holdfast::surface::verify_citations(&args.dir, src)?),
        None => None,
    };
    let cit_code = citations.as_ref().map_or(0, CitationReport::exit_code);
    let code = worst_exit(report.exit_code(), cit_code);
    let status = if !report.is_verified() && report.exit_code() == code {
        report.status()
    } else if let Some(c) = citations.as_ref().filter(|c| !c.is_fresh()) {
        c.status()
    } else {
        report.status()
    };
    if out.json {
        out.print_json(&JsonReport {
            status,
            exit_code: code,
            report: &report,
            citations: citations.as_ref(),
        })?;
    }
    if code == 0 {
        if !out.json {
            let cited = citations
                .as_ref()
                .map(|c| format!("; {} citation(s) fresh", c.citations_fresh))
                .unwrap_or_default();
            println!(
                "verified {}: {} files, {} bytes, tree sha256 {}{cited}",
                args.dir.display(),
                report.files_checked,
                report.bytes_checked,
                report.tree_sha256.as_deref().unwrap_or("-")
            );
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
        eprintln!(
            "holdfast: {status}: {} problem(s) in {}",
            report.problems.len() + cited,
            args.dir.display()
        );
    }
    Ok(code)
}
