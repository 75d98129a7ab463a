//! `holdfast init DIR`: the starting gate files of a spec, with the rollback
//! plan template pre-filled from what the spec already says (its surfaces and
//! boundaries in `surfaces.toml`, its authorized mutations in `packet.toml`).

use std::path::{Path, PathBuf};

use super::spec::{LoadedSpec, SPEC_FILE};
use crate::authz::AuthorizedMutation;
use crate::error::{IoContext, Result};
use crate::gate::plan::{PlanBoundary, PlanInputs, PlanMutation, PlanSurface};

/// What the plan template is filled from: `DIR/packet.toml` and the
/// surfaces spec it names (default `DIR/surfaces.toml`) when they exist (each must then be valid: a template
/// built from a spec that does not load would be a guess).
pub fn plan_inputs(dir: &Path) -> Result<PlanInputs> {
    let mut inputs = PlanInputs::default();
    let packet = dir.join(SPEC_FILE);
    let mut surfaces = dir.join(super::spec::SpecFiles::default().surfaces);
    // A scaffold's packet.toml (TODO markers left) names nothing yet.
    let scaffold = std::fs::read_to_string(&packet)
        .map(|t| first_todo(&t).is_some())
        .unwrap_or(false);
    if packet.is_file() && !scaffold {
        let spec = LoadedSpec::load(dir)?;
        surfaces = spec.surfaces.clone();
        inputs.title = spec.spec.packet.title.clone();
        inputs.mutations = spec
            .spec
            .authorization
            .mutations
            .iter()
            .map(|m| match m {
                AuthorizedMutation::RegistryFold { surface, range, .. } => PlanMutation {
                    description: format!("registry fold {range} (if safe)"),
                    surface: surface.clone(),
                    rollback: Some(format!(
                        "holdfast registry rollback governance-fold-{}-{}-result.json",
                        range.first, range.last
                    )),
                },
                AuthorizedMutation::Change(c) => PlanMutation {
                    description: format!(
                        "change {} (`{}`), rehearsed with its rollback on a copy first",
                        c.id,
                        c.argv.join(" ")
                    ),
                    surface: c.may_change.keys().cloned().collect::<Vec<_>>().join(", "),
                    rollback: Some(format!("`{}`", c.rollback.join(" "))),
                },
            })
            .collect();
    }
    if surfaces.is_file() {
        let s = crate::surface::LoadedSpec::load(&surfaces)?;
        inputs.surfaces = s
            .spec
            .surfaces
            .iter()
            .zip(&s.snapshots)
            .map(|(sur, snap)| PlanSurface {
                id: sur.id.clone(),
                name: sur.name.clone(),
                snapshot: match snap.method() {
                    crate::surface::Method::None => None,
                    m => Some(m.as_str().to_string()),
                },
            })
            .collect();
        let members: std::collections::BTreeMap<String, Vec<String>> =
            s.boundary_members().into_iter().collect();
        inputs.boundaries = s
            .spec
            .boundaries
            .iter()
            .map(|b| PlanBoundary {
                id: b.id.clone(),
                description: b.title.clone(),
                surfaces: members.get(&b.id).cloned().unwrap_or_default(),
            })
            .collect();
    }
    Ok(inputs)
}

/// Scaffolds a complete spec in `dir` (created if missing): `packet.toml`,
/// `surfaces.toml`, an empty registry to import and a source folder, each
/// only when missing, then `gates.toml` and the plan template (refusing to
/// overwrite either). Every value a person must decide is a `TODO` marker,
/// and `holdfast run` refuses a spec that still holds one outside a comment.
pub fn init(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).at(dir)?;
    // Refuse before writing anything when the gate files exist.
    for name in [crate::gate::SPEC_FILE, crate::gate::PLAN_FILE] {
        let p = dir.join(name);
        if p.symlink_metadata().is_ok() {
            return Err(crate::Error::refused(format!(
                "{} already exists; init never overwrites",
                p.display()
            )));
        }
    }
    // A directory that already has a spec keeps its own surfaces and registry.
    let fresh = dir.join(SPEC_FILE).symlink_metadata().is_err();
    let mut written = Vec::new();
    for (rel, text) in [
        (SPEC_FILE, PACKET_SCAFFOLD),
        ("surfaces.toml", SURFACES_SCAFFOLD),
        ("registry/registry-import.json", REGISTRY_SCAFFOLD),
        ("source/README.md", SOURCE_SCAFFOLD),
    ] {
        let p = dir.join(rel);
        if !fresh || p.symlink_metadata().is_ok() {
            continue;
        }
        let parent = crate::fsio::parent_dir(&p);
        std::fs::create_dir_all(&parent).at(&parent)?;
        crate::fsio::write_atomic(&p, text.as_bytes())?;
        written.push(p);
    }
    let inputs = plan_inputs(dir)?;
    written.extend(crate::probe::spec::init(dir, &inputs)?);
    Ok(written)
}

/// What `holdfast init DIR --from SRC` copied, and what the copy still
/// lacks before `holdfast run` can use it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FromReport {
    /// `spec` (SRC was a spec directory) or `packet` (SRC was a sealed
    /// packet, whose `spec/` folder was copied).
    pub kind: &'static str,
    /// The files written, under DIR.
    pub files: Vec<PathBuf>,
    /// Paths the copied spec names that DIR lacks (a packet carries only its
    /// spec files, not the registry import or the source tree it cited),
    /// relative to DIR.
    pub missing: Vec<String>,
}

/// `holdfast init DIR --from SRC`: copies the spec of SRC (a spec
/// directory, or a sealed packet's `spec/` folder once the packet's seal
/// verifies) into DIR, which must be absent or empty. The copy is built
/// aside and renamed into place, so DIR is never half-written; links and
/// special files are refused (a link could make the new spec read outside
/// its directory).
pub fn init_from(dir: &Path, from: &Path) -> Result<FromReport> {
    let (kind, src) = if from.join(SPEC_FILE).is_file() {
        ("spec", from.to_path_buf())
    } else if from.join(super::inputs::SPEC_DIR).join(SPEC_FILE).is_file()
        && from.join(super::manifest::MANIFEST_FILE).is_file()
    {
        let report = crate::seal::verify(from, &crate::progress::NoProgress)?;
        if let Some(p) = report.problems.first() {
            return Err(crate::Error::failed(format!(
                "{}: the packet does not verify ({}: {}); init --from copies only a packet whose seal holds",
                from.display(),
                p.path,
                p.detail
            )));
        }
        ("packet", from.join(super::inputs::SPEC_DIR))
    } else {
        return Err(crate::Error::malformed(
            from,
            format!(
                "neither a spec directory (no {SPEC_FILE}) nor a packet (no spec/{SPEC_FILE} beside manifest.json); give one of the two, e.g. `holdfast init DIR --from examples/fix7`"
            ),
        ));
    };
    if let Ok(mut entries) = std::fs::read_dir(dir) {
        if entries.next().is_some() {
            return Err(crate::Error::refused(format!(
                "{} is not empty; init --from copies into a new or empty directory and never overwrites",
                dir.display()
            )));
        }
    } else if dir.symlink_metadata().is_ok() {
        return Err(crate::Error::refused(format!(
            "{} exists and is not a directory; init --from copies into a new or empty directory",
            dir.display()
        )));
    }
    let parent = crate::fsio::parent_dir(dir);
    std::fs::create_dir_all(&parent).at(&parent)?;
    let staging = tempfile::Builder::new()
        .prefix(".holdfast-init-")
        .tempdir_in(&parent)
        .at(&parent)?;
    let copy = staging.path().join("spec");
    crate::change::copy_tree(&src, &copy)
        .map_err(|why| crate::Error::malformed(&src, format!("cannot copy the spec: {why}")))?;
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(&copy).sort_by_file_name() {
        let entry = entry.map_err(|e| crate::Error::io(&copy, std::io::Error::other(e)))?;
        if entry.file_type().is_file()
            && let Ok(rel) = entry.path().strip_prefix(&copy)
        {
            // A packet's files are read-only; the copy is a spec to edit.
            use std::os::unix::fs::PermissionsExt;
            let mode = entry
                .metadata()
                .map(|m| m.permissions().mode())
                .unwrap_or(0o644);
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode | 0o200))
                .at(entry.path())?;
            files.push(dir.join(rel));
        }
    }
    if dir.symlink_metadata().is_ok() {
        std::fs::remove_dir(dir).at(dir)?;
    }
    std::fs::rename(&copy, dir).at(dir)?;
    let missing = missing_paths(dir);
    Ok(FromReport {
        kind,
        files,
        missing,
    })
}

/// The paths a copied spec names that `dir` lacks: the registry import, the
/// source root and every files snapshot root (relative to `dir`).
fn missing_paths(dir: &Path) -> Vec<String> {
    let Ok(spec) = LoadedSpec::load(dir) else {
        return Vec::new();
    };
    let mut want: Vec<PathBuf> = Vec::new();
    if let Ok(Some(import)) = spec.registry_import() {
        want.push(import);
    }
    want.push(spec.source_root.clone());
    if let Ok(s) = crate::surface::LoadedSpec::load(&spec.surfaces) {
        let base = s.base_dir();
        for snap in &s.snapshots {
            if let crate::surface::spec::SnapshotSpec::Files { root, .. } = snap
                && !root.starts_with('@')
            {
                want.push(base.join(root));
            }
        }
    }
    let mut missing: Vec<String> = want
        .iter()
        .filter(|p| p.symlink_metadata().is_err())
        .map(|p| {
            p.strip_prefix(dir)
                .unwrap_or(p)
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    missing.sort();
    missing.dedup();
    missing
}

/// Where a spec file still holds a `TODO` marker outside a comment: the
/// 1-based line and the line's text. `holdfast run` refuses such a spec.
pub fn first_todo(text: &str) -> Option<(usize, String)> {
    text.lines().enumerate().find_map(|(i, line)| {
        let at = line.find("TODO")?;
        let commented = line[..at].contains('#');
        (!commented).then(|| (i + 1, line.trim().to_string()))
    })
}

const PACKET_SCAFFOLD: &str = r#"# packet.toml: the run spec, written by `holdfast init`.
# Fill in every TODO (run refuses a spec that still holds one), then:
#   holdfast run <this directory> --out <a new packet directory>
# Reference: schemas/packet.schema.json. Unknown keys are errors.

[packet]
# A name for this run: upper-case letters, digits and underscores, e.g. PAYMENTS_CONFIG_REVIEW_2026_12.
macro = "TODO"
# Statuses are <status_prefix>_READY, _INCOMPLETE or _FAILED, e.g. PAYMENTS_CONFIG_REVIEW.
status_prefix = "TODO"
# The packet README's heading, in words.
title = "TODO"
# The run's date, YYYY-MM-DD: an input (never the clock), so the packet is reproducible.
date = "TODO"
# Optional: your own words for the packet's fields (see docs/reference/spec-authoring.md), e.g.:
# [packet.labels]
# name = "Change ticket"
# mutation = "production write"

[authorization]
# Who authorized the run, and to do what, in words; the packet quotes it.
text = "TODO"
# scoping: the run only reads; it never selects a production option.
scope = "scoping"

[flags]
# What the run states it did; the packet repeats these and the run checks them.
production_mutation = false
real_run_cutover = false
# "none", or "read-only" when a surface is read by a command or from PostgreSQL.
live_system_contact = "none"

[registry]
# The registry of object ids a READY packet claims. This imports a fresh,
# empty working copy on every run (nothing persists). For a team registry, create
# it once (`holdfast registry --registry DIR|URL init --prefix PREFIX --width N`)
# and name it here instead of import: dir = "DIR", or
# url = "postgresql://USER@HOST/DB" (its password from a pgpass file, never here).
import = "registry/registry-import.json"

[source]
# Where the evidence citations of surfaces.toml point (inside this directory).
root = "source"
"#;

const SURFACES_SCAFFOLD: &str = r#"# surfaces.toml: what production depends on, and what the run may not touch.
# Written by `holdfast init`; fill in every TODO. Reference: schemas/surfaces.schema.json.
# One [[surface]] per system. table: "production" or "ci-deploy".
# A surface you cannot describe yet: status = "unknown" (it becomes a blocker, never a guess).
# Optional: your names for the two tables (default: "Production surfaces", "CI and deploy surfaces").
# [labels]
# production = "Systems of record"
# ci_deploy = "Delivery pipeline"

[[surface]]
id = "service-config"
table = "production"
# The system's name, e.g. "Payments service configuration".
name = "TODO"
kind = "config"
status = "known"
risk = "high"            # low, medium, high or critical
# What must approve a change to it, e.g. "a reviewed merge request".
gate = "TODO"
[[surface.evidence]]     # bytes that show it: a path under [source] root, optional lines = "1-5"
path = "README.md"
[surface.snapshot]       # read before and after the run; the proof compares the digests
method = "files"
root = "source"          # a directory, relative to this spec; put the files you protect there

[[boundary]]
id = "no-production-change"
title = "NO production change"
surfaces = ["service-config"]
"#;

const REGISTRY_SCAFFOLD: &str = r#"{
  "canonical_max": 0,
  "claims": [],
  "document_revisions": {
    "index.md": 1,
    "registry.json": 1,
    "registry.md": 1
  },
  "id_prefix": "OBJ",
  "id_width": 6,
  "objects": []
}
"#;

const SOURCE_SCAFFOLD: &str = "# Evidence

The files the surfaces cite and the snapshots read. Replace this file with
the files you protect (a service's configuration, for example).
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_lists_the_spec_surfaces_boundaries_and_mutation() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fix7");
        let inputs = plan_inputs(&example).unwrap();
        assert_eq!(inputs.surfaces.len(), 15);
        assert_eq!(inputs.boundaries.len(), 6);
        assert_eq!(inputs.mutations.len(), 1);
        let text = crate::gate::plan::template(&inputs);
        for needle in [
            "governance-registry",
            "no-real-run-cutover",
            "registry fold 442..461",
        ] {
            assert!(text.contains(needle), "template lacks {needle}:\n{text}");
        }
        // An unfilled template never passes the plan check.
        assert!(!crate::gate::plan::check(&text).complete);
    }
}
