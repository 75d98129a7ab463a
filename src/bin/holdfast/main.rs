//! The `holdfast` command line: argument parsing and output only. Every
//! decision is made by the library.

/// `println!` for what a command prints on stdout: when the reader went away
/// (`holdfast … | head -1`), the process ends quietly with
/// [`output::BROKEN_PIPE`] instead of a panic, and any other write error is
/// one line on stderr and exit 4 (see [`output::write_stdout`]).
macro_rules! say {
    () => {
        $crate::output::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod cmd_authorize;
mod cmd_export;
mod cmd_gates;
mod cmd_init;
mod cmd_key;
mod cmd_plan;
mod cmd_probe;
mod cmd_prove;
mod cmd_registry;
mod cmd_run;
mod cmd_seal;
mod cmd_sign;
mod cmd_snapshot;
mod cmd_surfaces;
mod cmd_verdict;
mod cmd_verify;
mod output;
mod progress_bar;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit codes:
  0  success: everything checked out
  1  failed: the evidence does not support a pass (tampered, check failed, gate open)
  2  usage: the command line is wrong
  3  malformed: an input file is not what it must be
  4  I/O: a file could not be read or written
  5  refused: a safety condition stopped the operation; nothing was written";

/// Sealed, re-verifiable evidence packets for production-affecting runs.
#[derive(Debug, Parser)]
#[command(name = "holdfast", version, after_help = EXIT_CODES)]
struct Cli {
    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a spec end to end into a sealed, verified evidence packet.
    Run(cmd_run::Args),
    /// Write HASH_MANIFEST.txt and packet_tree.sha256 for a packet directory.
    Seal(cmd_seal::Args),
    /// Recompute a sealed packet's hashes and report every problem.
    Verify(cmd_verify::Args),
    /// The governance registry: init, import, show, log, claim, check, fold, rollback, verify-history.
    Registry(cmd_registry::Args),
    /// Check every evidence citation of surfaces.toml and write the inventories (Tables B and C).
    Surfaces(cmd_surfaces::Args),
    /// Read every surface of surfaces.toml read-only and write a snapshot.
    Snapshot(cmd_snapshot::Args),
    /// Compare BEFORE and AFTER snapshots and write forbidden-surface-proof.json.
    Prove(cmd_prove::Args),
    /// Run the bad-input probe harness; exit 0 only if every probe failed closed.
    Probe(cmd_probe::Args),
    /// Write the blocker map and the next production decision packet.
    Gates(cmd_gates::Args),
    /// Compute the scoping status and production decision from an evidence file.
    Verdict(cmd_verdict::Args),
    /// Check the rollback / rehearsal plan.
    Plan(cmd_plan::Args),
    /// Write a starting spec to fill in (or gates.toml and the rollback plan next to an existing one).
    Init(cmd_init::Args),
    /// Export a verified packet as a BagIt bag or as OSCAL assessment results.
    Export(cmd_export::Args),
    /// Key pairs for signing: `key generate NAME`.
    Key(cmd_key::Args),
    /// Sign a sealed packet (appends a DSSE envelope to packet.intoto.jsonl).
    Sign(cmd_sign::Args),
    /// Sign a spec's authorization for an approver (authorization.intoto.jsonl).
    Authorize(cmd_authorize::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let out = output::Output { json: cli.json };
    let code = match cli.command {
        Command::Run(args) => cmd_run::run(&out, args),
        Command::Seal(args) => cmd_seal::run(&out, args),
        Command::Verify(args) => cmd_verify::run(&out, args),
        Command::Registry(args) => cmd_registry::run(&out, args),
        Command::Surfaces(args) => cmd_surfaces::run(&out, args),
        Command::Snapshot(args) => cmd_snapshot::run(&out, args),
        Command::Prove(args) => cmd_prove::run(&out, args),
        Command::Probe(args) => cmd_probe::run(&out, args),
        Command::Gates(args) => cmd_gates::run(&out, args),
        Command::Verdict(args) => cmd_verdict::run(&out, args),
        Command::Plan(args) => cmd_plan::run(&out, args),
        Command::Init(args) => cmd_init::run(&out, args),
        Command::Export(args) => cmd_export::run(&out, args),
        Command::Key(args) => cmd_key::run(&out, args),
        Command::Sign(args) => cmd_sign::run(&out, args),
        Command::Authorize(args) => cmd_authorize::run(&out, args),
    }
    .unwrap_or_else(|e| out.error(&e));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// A command line clap refuses: its message on stderr (help and version go
/// to stdout as usual), and with `--json` anywhere on the line also the
/// JSON error object on stdout (`schemas/cli-error.schema.json`, exit 2),
/// so a script gets JSON for every failure.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        e.exit();
    }
    let _ = e.print();
    // `--json` anywhere before `--` (after it, words are an agent's argv).
    if std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
    {
        let text = if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            "a subcommand is required (run the command with --help to list them)".to_string()
        } else {
            let text = e.render().to_string();
            output::one_line(text.strip_prefix("error: ").unwrap_or(&text))
        };
        output::print_error_json(text, holdfast::error::exit::USAGE);
    }
    ExitCode::from(u8::try_from(holdfast::error::exit::USAGE).unwrap_or(2))
}
