//! `holdfast run SPEC --out PACKET`

use std::path::PathBuf;

use holdfast::Error;
use holdfast::attest::{authorization, keys, packet, trust::Role, trust::Trust};
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
    /// Refuse to run (exit 5, nothing run or written) unless the spec's
    /// authorization.intoto.jsonl is signed by an approver key of this trust
    /// file over the spec exactly as it is.
    #[arg(long, value_name = "TRUST")]
    pub trust: Option<PathBuf>,
    /// Sign the packet as runner with this private key (PKCS#8 PEM, mode 0600).
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// The team's registry: a directory, or a PostgreSQL database as a
    /// postgres:// or postgresql:// URL (no password in it: PGPASSWORD or a
    /// pgpass file). Takes precedence over registry.dir / registry.url of
    /// packet.toml; refused for a spec with registry.import.
    #[arg(long, value_name = "DIR|URL")]
    pub registry: Option<PathBuf>,
    /// An agent's command, after `--`: run only if it is exactly the argv
    /// of the change `[run] change` names (otherwise exit 5, nothing run).
    #[arg(last = true, value_name = "CMD")]
    pub agent: Vec<String>,
}

/// Step lines on stderr, on a terminal and piped alike (a CI log shows how
/// far a run got), but never with `--json`, whose stderr stays empty.
struct Steps {
    print: bool,
}

impl StepReporter for Steps {
    fn step(&self, n: usize, total: usize, what: &str) {
        if self.print {
            eprintln!("[{n:>2}/{total}] {what}");
        }
    }
}

pub fn run(out: &Output, args: Args) -> Result<i32, Error> {
    // Every refusal comes before anything runs: a readable key, an
    // unapproved or changed spec.
    let signer = args.sign.as_deref().map(keys::load_signer).transpose()?;
    if let Some(path) = &args.trust {
        let trust = Trust::load(path)?;
        authorization::check_spec(&args.spec, &trust, &Bar::new())?;
    }
    let exe = std::env::current_exe().map_err(|e| Error::io("holdfast (current executable)", e))?;
    let summary = run::run(
        &args.spec,
        &args.out,
        &RunOptions {
            exe,
            force: args.force,
            agent_argv: (!args.agent.is_empty()).then(|| args.agent.clone()),
            registry: args.registry.clone(),
        },
        &Steps { print: !out.json },
        &Bar::new(),
    )?;
    // The packet carries the spec's signed authorization, then the runner's
    // signature, in its attestation bundle (outside the seal).
    let carried = authorization::carry(&args.spec, &args.out, &Bar::new())?;
    let signed = match &signer {
        Some(signer) => Some(packet::sign(&args.out, signer, Role::Runner, &Bar::new())?),
        None => None,
    };
    if out.json {
        out.print_json(&summary)?;
    } else {
        if carried.added > 0 {
            say!(
                "carried {} signed authorization(s) into {}",
                carried.added,
                args.out.display()
            );
        }
        if let Some(s) = &signed {
            say!(
                "signed {} as runner with key {}",
                args.out.display(),
                s.key_id
            );
        }
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
            say!("packet written {line}");
        } else {
            eprintln!("holdfast: packet is not READY: {line}");
            for why in summary.failures.iter().chain(&summary.missing) {
                eprintln!("  - {why}");
            }
            if let Some(why) = &summary.mutation.skipped_reason {
                eprintln!("  - mutation skipped: {why}");
            }
            for p in &summary.probes_not_fail_closed {
                eprintln!("  - probe {} {}: {}", p.id, p.outcome, p.reason);
            }
            for c in &summary.controls_failed {
                eprintln!("  - control {} {}: {}", c.id, c.outcome, c.reason);
            }
        }
    }
    Ok(summary.exit_code())
}
