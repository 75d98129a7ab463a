//! `holdfast init DIR`

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
}

pub fn run(out: &Output, args: Args) -> Result<i32, Error> {
    let written = holdfast::packet::init::init(&args.dir)?;
    if out.json {
        out.print_json(&holdfast::cli_output::InitOutput {
            files: written.iter().map(|p| p.display().to_string()).collect(),
        })?;
    } else {
        for p in &written {
            println!("wrote {}", p.display());
        }
        println!(
            "next: fill in every TODO of {}/packet.toml and surfaces.toml, put the files you protect under {}/source, complete the rollback plan, then `holdfast run {} --out PACKET`",
            args.dir.display(),
            args.dir.display(),
            args.dir.display()
        );
    }
    Ok(exit::OK)
}
