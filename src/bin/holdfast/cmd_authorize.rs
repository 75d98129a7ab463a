//! `holdfast authorize SPEC --key KEY`

use std::path::PathBuf;

use holdfast::Error;
use holdfast::attest::{authorization, keys};

use crate::output::Output;
use crate::progress_bar::Bar;

/// Arguments of `holdfast authorize`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The spec directory (packet.toml and the files it names).
    pub spec: PathBuf,
    /// The approver's private key (PKCS#8 PEM, mode 0600).
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
}

pub fn run(out: &Output, args: Args) -> Result<i32, Error> {
    let signer = keys::load_signer(&args.key)?;
    let s = authorization::authorize(&args.spec, &signer, &Bar::new())?;
    if out.json {
        out.print_json(&s)?;
    } else {
        say!(
            "authorization of {} signed with key {}: {} spec files, authorization sha256 {} ({} line {})",
            args.spec.display(),
            s.key_id,
            s.subjects,
            s.authorization_sha256,
            s.file.display(),
            s.line
        );
    }
    Ok(holdfast::error::exit::OK)
}
