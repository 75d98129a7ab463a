//! `holdfast init DIR`

use std::path::PathBuf;

use holdfast::Error;
use holdfast::error::exit;

use crate::output::Output;

/// Arguments of `holdfast init`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The spec directory to create or fill. When it already holds
    /// surfaces.toml and packet.toml, the plan template lists their surfaces,
    /// boundaries and authorized mutations.
    pub dir: PathBuf,
}

pub fn run(out: &Output, args: Args) -> Result<i32, Error> {
    let written = holdfast::packet::init::init(&args.dir)?;
    if out.json {
        out.print_json(&serde_json::json!({
            "files": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>()
        }))?;
    } else {
        for p in &written {
            println!("wrote {}", p.display());
        }
        println!("next: fill in every TODO of the plan, then `holdfast plan check`");
    }
    Ok(exit::OK)
}
