//! Surfaces, evidence citations, read-only snapshots and the
//! forbidden-surface proof (docs/reference/surfaces-toml.md,
//! docs/reference/snapshots.md, docs/reference/proof.md).
//!
//! - [`spec`]: `surfaces.toml` (surfaces, boundaries, policy), strictly loaded.
//! - [`citation`]: path + line range + sha256 of exactly the cited bytes;
//!   re-checked by `holdfast verify --source`.
//! - [`inventory`]: Tables B and C as canonical JSON and Markdown.
//! - [`snapshot`]: `files`, `command` and `postgres` read-only snapshots.
//! - [`proof`]: BEFORE/AFTER comparison per boundary, the authorized fold
//!   matched to its pins.
//! - [`facts`]: the derived-blocker facts the gate module turns into blockers.

pub mod citation;
pub mod facts;
pub mod inventory;
pub mod proof;
pub mod snapshot;
mod spans;
pub mod spec;

use std::path::Path;

pub use citation::{Citation, CitationProblem, CitationProblemKind, CitationReport, LineRange};
pub use facts::{DerivedFact, FactEvidence};
pub use inventory::{SurfaceInventory, verify_citations};
pub use proof::{PROOF_FILE, Proof};
pub use snapshot::{Method, Snapshot, SurfaceSnapshot};
pub use spec::{LoadedSpec, SurfacesSpec};

use crate::error::Result;

/// What `holdfast surfaces` produced.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct SurfacesSummary {
    /// Both inventory tables.
    pub inventories: Vec<SurfaceInventory>,
    /// The files written (or that would be written), in order.
    pub files: Vec<String>,
    /// The derived-blocker facts for unknown surfaces.
    pub unknown_surfaces: Vec<DerivedFact>,
}

/// Loads `spec_path`, hashes every citation under `source_root` and, when
/// `out` is given, writes the two inventories and their Markdown tables
/// there. Nothing is written unless every citation holds.
pub fn render_surfaces(
    spec_path: &Path,
    source_root: &Path,
    out: Option<&Path>,
) -> Result<SurfacesSummary> {
    let spec = LoadedSpec::load(spec_path)?;
    let inventories = inventory::build(&spec, source_root)?;
    let files = inventory::render_files(&inventories)?;
    if let Some(out) = out {
        inventory::write_files(out, &files)?;
    }
    Ok(SurfacesSummary {
        unknown_surfaces: inventory::unknown_surfaces(&inventories),
        files: files.into_iter().map(|(n, _)| n).collect(),
        inventories,
    })
}

/// Loads `spec_path` (a surfaces spec; `packet::spec::surfaces_file`
/// resolves a spec directory to its one), snapshots every surface and writes the snapshot to
/// `out` as canonical JSON. Nothing is written unless every surface was read.
pub fn take_snapshot(
    spec_path: &Path,
    out: &Path,
    progress: &dyn crate::progress::Progress,
) -> Result<Snapshot> {
    let spec = LoadedSpec::load(spec_path)?;
    let snap = snapshot::take(&spec, progress)?;
    snapshot::write(out, &snap)?;
    Ok(snap)
}
