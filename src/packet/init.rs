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
# empty working copy on every run (nothing persists). For a team registry:
# `holdfast registry init /srv/holdfast-registry`, then dir = "/srv/holdfast-registry".
import = "registry/registry-import.json"

[source]
# Where the evidence citations of surfaces.toml point (inside this directory).
root = "source"
"#;

const SURFACES_SCAFFOLD: &str = r#"# surfaces.toml: what production depends on, and what the run may not touch.
# Written by `holdfast init`; fill in every TODO. Reference: schemas/surfaces.schema.json.
# One [[surface]] per system. table: "production" or "ci-deploy".
# A surface you cannot describe yet: status = "unknown" (it becomes a blocker, never a guess).

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
