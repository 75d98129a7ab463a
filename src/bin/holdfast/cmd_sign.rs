//! `holdfast sign PACKET --key KEY`

use std::path::PathBuf;

use holdfast::Error;
use holdfast::attest::{authorization, keys, packet, trust::Role};

use crate::output::Output;
use crate::progress_bar::Bar;

/// Arguments of `holdfast sign`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The sealed packet directory to sign.
    pub dir: PathBuf,
    /// The private key (PKCS#8 PEM, mode 0600).
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// The role signed as: runner (made the packet) or reviewer (co-signs).
    #[arg(long, value_enum, default_value = "runner")]
    pub role: SignRole,
    /// Also carry this spec directory's signed authorization
    /// (authorization.intoto.jsonl) into the packet.
    #[arg(long, value_name = "SPEC")]
    pub spec: Option<PathBuf>,
}

/// The roles a packet is signed as.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SignRole {
    /// The runner that made the packet.
    Runner,
    /// A reviewer co-signing it.
    Reviewer,
}

pub fn run(out: &Output, args: Args) -> Result<i32, Error> {
    let signer = keys::load_signer(&args.key)?;
    let role = match args.role {
        SignRole::Runner => Role::Runner,
        SignRole::Reviewer => Role::Reviewer,
    };
    let s = packet::sign(&args.dir, &signer, role, &Bar::new())?;
    if let Some(spec) = &args.spec {
        authorization::carry(spec, &args.dir, &Bar::new())?;
    }
    if out.json {
        out.print_json(&s)?;
    } else {
        say!(
            "signed {} as {} with key {}: {} subjects, tree sha256 {} ({} line {})",
            args.dir.display(),
            role.as_str(),
            s.key_id,
            s.subjects,
            s.tree_sha256,
            s.file.display(),
            s.line
        );
    }
    Ok(holdfast::error::exit::OK)
}
