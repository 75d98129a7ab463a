//! `holdfast init DIR` and `holdfast init DIR --from SPEC_OR_PACKET`

use std::path::PathBuf;

use holdfast::Error;
use holdfast::error::exit;

use crate::output::Output;

/// Arguments of `holdfast init`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The spec directory to create or fill. An empty one gets a whole spec
    /// to fill in (packet.toml, surfaces.toml, gates.toml, the rollback plan,
    /// an empty registry to import, a source folder), with TODO markers that
    /// `holdfast run` refuses until they are replaced. When it already holds
    /// packet.toml and surfaces.toml, only gates.toml and the plan template
    /// are written, listing their surfaces, boundaries and authorized mutations.
    pub dir: PathBuf,
    /// Start from an existing spec instead: a spec directory (a shipped
    /// example such as examples/fix7, whole) or a sealed packet (its spec/
    /// folder, once its seal verifies). DIR must be new or empty.
    #[arg(long, value_name = "SPEC_OR_PACKET")]
    pub from: Option<PathBuf>,
}

pub fn run(out: &Output, args: Args) -> Result<i32, Error> {
    if let Some(from) = &args.from {
        return run_from(out, &args, from);
    }
    let written = holdfast::packet::init::init(&args.dir)?;
    if out.json {
        out.print_json(&holdfast::cli_output::InitOutput {
            files: written.iter().map(|p| p.display().to_string()).collect(),
        })?;
    } else {
        for p in &written {
            say!("wrote {}", p.display());
        }
        say!(
            "next: fill in every TODO of {}/packet.toml and surfaces.toml, put the files you protect under {}/source, complete the rollback plan, then `holdfast run {} --out PACKET`",
            args.dir.display(),
            args.dir.display(),
            args.dir.display()
        );
    }
    Ok(exit::OK)
}

fn run_from(out: &Output, args: &Args, from: &std::path::Path) -> Result<i32, Error> {
    let report = holdfast::packet::init::init_from(&args.dir, from)?;
    if out.json {
        out.print_json(&serde_json::json!({
            "from": report.kind,
            "files": report.files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "missing": report.missing,
        }))?;
        return Ok(exit::OK);
    }
    for p in &report.files {
        say!("wrote {}", p.display());
    }
    let dir = args.dir.display();
    if report.missing.is_empty() {
        say!(
            "next: edit {dir}/packet.toml (title, date, authorization) and surfaces.toml for your own run, then `holdfast run {dir} --out PACKET`"
        );
    } else {
        say!(
            "next: the {} does not carry {}; put them under {dir}, edit {dir}/packet.toml (title, date, authorization) for your own run, then `holdfast run {dir} --out PACKET`",
            report.kind,
            report.missing.join(", ")
        );
    }
    Ok(exit::OK)
}
