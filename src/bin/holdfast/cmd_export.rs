//! `holdfast export PACKET (--bagit OUT | --oscal OUT)`

use std::path::PathBuf;

use holdfast::Error;
use holdfast::export::{self, Format};

use crate::output::Output;

/// Arguments of `holdfast export`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("format").required(true).args(["bagit", "oscal"])))]
pub struct Args {
    /// The sealed packet to export (its seal must verify).
    pub packet: PathBuf,
    /// Write a BagIt 1.0 bag (RFC 8493) of the packet to this new directory.
    #[arg(long, value_name = "OUT")]
    pub bagit: Option<PathBuf>,
    /// Write OSCAL assessment results and a POA&M to this new directory.
    #[arg(long, value_name = "OUT")]
    pub oscal: Option<PathBuf>,
}

pub fn run(out: &Output, args: Args) -> Result<i32, Error> {
    let (format, dest) = match (args.bagit, args.oscal) {
        (Some(d), None) => (Format::Bagit, d),
        (None, Some(d)) => (Format::Oscal, d),
        _ => {
            return Err(Error::Usage(
                "give exactly one of --bagit OUT, --oscal OUT".into(),
            ));
        }
    };
    let summary = export::export(&args.packet, &dest, format)?;
    if out.json {
        out.print_json(&summary)?;
    } else {
        say!(
            "exported {} as {} to {}: {} files, packet tree sha256 {}",
            args.packet.display(),
            summary.format,
            summary.out,
            summary.files.len(),
            summary.tree_sha256
        );
    }
    Ok(holdfast::error::exit::OK)
}
