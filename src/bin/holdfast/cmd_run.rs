//! `holdfast run SPEC --out PACKET`

use std::io::IsTerminal;
use std::path::PathBuf;

use holdfast::Error;
use holdfast::packet::run::{self, RunOptions, StepReporter};

use crate::output::Output;
use crate::progress_bar::Bar;

/// Arguments of `holdfast run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run spec: a directory holding packet.toml and the files it names.
    pub spec: PathBuf,
    /// The packet directory to create.
    #[arg(long, value_name = "PACKET")]
    pub out: PathBuf,
    /// Replace PACKET if it already exists (the new packet is built aside
    /// and swapped in only once sealed and verified).
    #[arg(long)]
    pub force: bool,
    /// An agent's command, after `--`: run only if it is exactly the argv
    /// of the change `[run] change` names (otherwise exit 5, nothing run).
    #[arg(last = true, value_name = "CMD")]
    pub agent: Vec<String>,
}

/// Step lines on stderr, only when it is a terminal.
struct Steps {
    tty: bool,
}

impl StepReporter for Steps {
    fn step(&self, n: usize, total: usize, what: &str) {
        if self.tty {
            eprintln!("[{n:>2}/{total}] {what}");
        }
    }
}

pub fn run(out: &Output, args: Args) -> Result<i32, Error> {
    let exe = std::env::current_exe().map_err(|e| Error::io("holdfast (current executable)", e))?;
    let summary = run::run(
        &args.spec,
        &args.out,
        &RunOptions {
            exe,
            force: args.force,
            agent_argv: (!args.agent.is_empty()).then(|| args.agent.clone()),
        },
        &Steps {
            tty: std::io::stderr().is_terminal(),
        },
        &Bar::new(),
    )?;
    if out.json {
        out.print_json(&summary)?;
    } else {
        let ids = summary
            .object_ids
            .as_ref()
            .map(|i| format!(", ids {}..{}", i.first, i.last))
            .unwrap_or_default();
        let line = format!(
            "{}: {} · decision {} · {} files, tree sha256 {}{ids}",
            args.out.display(),
            summary.status,
            summary.decision,
            summary.files,
            summary.tree_sha256
        );
        if summary.ready {
            println!("packet written {line}");
        } else {
            eprintln!("holdfast: packet is not READY: {line}");
            for why in summary.failures.iter().chain(&summary.missing) {
                eprintln!("  - {why}");
            }
            if let Some(why) = &summary.mutation.skipped_reason {
                eprintln!("  - mutation skipped: {why}");
            }
        }
    }
    Ok(summary.exit_code())
}
