//! `holdfast surfaces SPEC [--source DIR] [--out DIR]`

use std::path::PathBuf;

use holdfast::Error;
use holdfast::surface;

use crate::output::Output;

/// Arguments of `holdfast surfaces`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The surfaces spec (surfaces.toml).
    pub spec: PathBuf,
    /// Source root the evidence citations are relative to (default: the spec's directory).
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,
    /// Write production-surface-inventory.json, ci-deploy-surface-inventory.json
    /// and their Markdown tables into DIR (created if missing). Without it, only validate.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn run(out: &Output, args: Args) -> Result<i32, Error> {
    let source = match &args.source {
        Some(s) => s.clone(),
        None => holdfast::fsio::parent_dir(&args.spec),
    };
    let summary = surface::render_surfaces(&args.spec, &source, args.out.as_deref())?;
    if out.json {
        out.print_json(&holdfast::cli_output::SurfacesOutput::of(
            &summary,
            args.out.is_some(),
        ))?;
    } else {
        for inv in &summary.inventories {
            say!(
                "{}: {} surface(s), {} known, {} UNKNOWN",
                inv.title,
                inv.counts.surfaces,
                inv.counts.known,
                inv.counts.unknown
            );
        }
        for f in &summary.unknown_surfaces {
            say!("blocker fact {}: {}", f.id, f.title);
        }
        let cited: usize = summary
            .inventories
            .iter()
            .flat_map(|i| &i.surfaces)
            .map(|s| s.evidence.len())
            .sum();
        match &args.out {
            Some(dir) => say!(
                "wrote {} file(s) to {} ({cited} citation(s) hashed)",
                summary.files.len(),
                dir.display()
            ),
            None => say!("checked {cited} citation(s); nothing written (no --out)"),
        }
    }
    Ok(holdfast::error::exit::OK)
}
