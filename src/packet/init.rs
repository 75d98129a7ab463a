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
    if packet.is_file() {
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

/// Writes `gates.toml` and the plan template into `dir` (created if
/// missing), refusing to overwrite either.
pub fn init(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).at(dir)?;
    let inputs = plan_inputs(dir)?;
    crate::gate::init(dir, &inputs)
}

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
