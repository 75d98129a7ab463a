//! `holdfast verify DIR`

use std::path::PathBuf;

use holdfast::Error;
use holdfast::seal;
use serde::Serialize;

use crate::output::{Output, one_line};
use crate::progress_bar::Bar;

/// Arguments of `holdfast verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The sealed packet directory to check.
    pub dir: PathBuf,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    status: &'static str,
    exit_code: i32,
    #[serde(flatten)]
    report: &'a seal::VerifyReport,
}

pub fn run(out: &Output, args: Args) -> Result<i32, Error> {
    let report = seal::verify(&args.dir, &Bar::new())?;
    let code = report.exit_code();
    if out.json {
        out.print_json(&JsonReport {
            status: report.status(),
            exit_code: code,
            report: &report,
        })?;
    }
    if report.is_verified() {
        if !out.json {
            println!(
                "verified {}: {} files, {} bytes, tree sha256 {}",
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
        eprintln!(
            "holdfast: {}: {} problem(s) in {}",
            report.status(),
            report.problems.len(),
            args.dir.display()
        );
    }
    Ok(code)
}
