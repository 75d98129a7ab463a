//! `holdfast snapshot SPEC --out FILE`

use std::path::PathBuf;

use holdfast::Error;
use holdfast::surface;

use crate::output::Output;
use crate::progress_bar::Bar;

/// Arguments of `holdfast snapshot`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The surfaces spec (surfaces.toml), or a spec directory holding one (its
    /// packet.toml's files.surfaces, default surfaces.toml); relative snapshot
    /// paths start from the spec file's directory.
    pub spec: PathBuf,
    /// Where to write the snapshot (canonical JSON).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

pub fn run(out: &Output, args: Args) -> Result<i32, Error> {
    let snap = surface::take_snapshot(
        &holdfast::packet::spec::surfaces_file(&args.spec)?,
        &args.out,
        &Bar::new(),
    )?;
    if out.json {
        out.print_json(&snap)?;
    } else {
        for (id, s) in &snap.surfaces {
            say!(
                "{id}: {} {}: {}",
                s.method.as_str(),
                s.digest.as_deref().unwrap_or("-"),
                s.description
            );
        }
        say!(
            "snapshot of {} surface(s) written to {}",
            snap.surfaces.len(),
            args.out.display()
        );
    }
    Ok(holdfast::error::exit::OK)
}
