//! `holdfast key generate NAME`

use std::path::PathBuf;

use holdfast::Error;
use holdfast::attest::keys;

use crate::output::Output;

/// Arguments of `holdfast key`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: KeyCommand,
}

/// `holdfast key` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum KeyCommand {
    /// Write an ed25519 key pair: NAME.key (PKCS#8 PEM, mode 0600) and
    /// NAME.pub (SubjectPublicKeyInfo PEM); print its key id (sha256 of the
    /// public key's DER). Never overwrites a file.
    Generate {
        /// Path and base name of the two files.
        name: PathBuf,
    },
}

pub fn run(out: &Output, args: Args) -> Result<i32, Error> {
    match args.command {
        KeyCommand::Generate { name } => {
            let g = keys::generate(&name)?;
            if out.json {
                out.print_json(&g)?;
            } else {
                say!(
                    "key {} written: private {} (mode 0600), public {}",
                    g.key_id,
                    g.private_key.display(),
                    g.public_key.display()
                );
            }
        }
    }
    Ok(holdfast::error::exit::OK)
}
