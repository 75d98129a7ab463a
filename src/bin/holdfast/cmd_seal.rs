//! `holdfast seal DIR`

use std::path::PathBuf;

use holdfast::Error;
use holdfast::seal::{self, SealOptions};

use crate::output::Output;
use crate::progress_bar::Bar;

/// Arguments of `holdfast seal`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The packet directory to seal.
    pub dir: PathBuf,
    /// Reseal a directory that already has HASH_MANIFEST.txt or packet_tree.sha256.
    #[arg(long)]
    pub force: bool,
}

pub fn run(out: &Output, args: Args) -> Result<i32, Error> {
    let summary = seal::seal(&args.dir, SealOptions { force: args.force }, &Bar::new())?;
    if out.json {
        out.print_json(&summary)?;
    } else {
        say!(
            "sealed {}: {} files, {} bytes, tree sha256 {}",
            args.dir.display(),
            summary.files,
            summary.bytes,
            summary.tree_sha256
        );
    }
    Ok(holdfast::error::exit::OK)
}
