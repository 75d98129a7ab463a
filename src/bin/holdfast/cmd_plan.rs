//! `holdfast plan check FILE`

use std::path::PathBuf;

use holdfast::Error;
use holdfast::error::exit;
use holdfast::gate::plan::{self, SectionStatus};

use crate::output::Output;

/// Arguments of `holdfast plan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: PlanCommand,
}

/// `holdfast plan` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PlanCommand {
    /// Check that a rollback plan has its six sections, each filled in.
    Check {
        /// The plan (production-rollback-rehearsal-plan.md).
        file: PathBuf,
    },
}

pub fn run(out: &Output, args: Args) -> Result<i32, Error> {
    match args.command {
        PlanCommand::Check { file } => {
            let report = plan::check_file(&file)?;
            let code = if report.complete {
                exit::OK
            } else {
                exit::FAILED
            };
            if out.json {
                out.print_json(&report)?;
            } else {
                for s in &report.sections {
                    let state = match s.status {
                        SectionStatus::Present => "present",
                        SectionStatus::Missing => "MISSING",
                        SectionStatus::Empty => "EMPTY",
                        SectionStatus::Unfinished => "UNFINISHED",
                        SectionStatus::Duplicate => "DUPLICATE",
                    };
                    let at = s.line.map(|l| format!(" (line {l})")).unwrap_or_default();
                    say!("{state:<10} {}{at}", s.name);
                }
            }
            if report.complete {
                if !out.json {
                    say!(
                        "plan: all {} sections present and filled in",
                        plan::SECTIONS.len()
                    );
                }
            } else {
                for p in &report.problems {
                    eprintln!("{}: {p}", file.display());
                }
                eprintln!(
                    "holdfast: plan check failed: {} problem(s) in {}",
                    report.problems.len(),
                    file.display()
                );
            }
            Ok(code)
        }
    }
}
