//! Wiring between modules: the surface module's proof and facts, reduced to
//! the plain inputs the gate module derives blockers and the verdict from.
//!
//! Every conversion fails closed: a proof failure of any class reaches the
//! verdict as an error, so nothing the surface module found can be lost on
//! the way to the gate.

use std::collections::BTreeSet;

use crate::gate::blocker::{
    ChangedForbiddenSurface, DeclaredOnlyCriticalSurface, DerivedInputs, UnknownSurface,
};
use crate::gate::facts::{ProofFact, ProofFacts};
use crate::model::proof::{ProofResult as Overall, ProofStatus};
use crate::surface::proof::{FailureClass, Proof};
use crate::surface::spec::LoadedSpec as SurfacesSpec;

/// The proof as the verdict sees it: one entry per (boundary, surface), and
/// every failure the proof recorded as an error (not only boundary errors:
/// an unauthorized fold or a surface missing from a snapshot must fail the
/// verdict as surely as a changed surface does).
pub fn proof_facts(proof: &Proof) -> ProofFacts {
    let entries = proof
        .boundaries
        .iter()
        .flat_map(|b| {
            b.surfaces.iter().map(|s| ProofFact {
                boundary: b.id.clone(),
                surface: s.surface.clone(),
                result: s.status.for_gate_facts(),
            })
        })
        .collect();
    let mut errors: Vec<String> = proof
        .failures
        .iter()
        .filter(|f| {
            !matches!(
                f.class,
                FailureClass::Changed | FailureClass::AuthorizedMismatch
            )
        })
        .map(|f| format!("{}: {}", serde_label(&f.class), f.detail))
        .collect();
    // Changed and mismatch failures show as entries; one that no boundary
    // covers would not, so it is kept as an error too.
    let covered: BTreeSet<&str> = proof
        .boundaries
        .iter()
        .flat_map(|b| b.surfaces.iter().map(|s| s.surface.as_str()))
        .collect();
    for f in &proof.failures {
        if matches!(
            f.class,
            FailureClass::Changed | FailureClass::AuthorizedMismatch
        ) && f.surface.as_deref().is_none_or(|s| !covered.contains(s))
        {
            errors.push(format!("{}: {}", serde_label(&f.class), f.detail));
        }
    }
    if proof.result == Overall::NotProven && proof.failures.is_empty() {
        errors.push("the proof is NOT_PROVEN but lists no failure".to_string());
    }
    ProofFacts {
        entries,
        boundary_errors: errors,
    }
}

fn serde_label<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "failure".to_string())
}

/// The derived-blocker inputs the inventories and the proof give, each
/// with the evidence its fact cites, listed by `surface::facts` (the one
/// implementation of each fact and of its id); `surfaces` names the
/// surfaces. Stale citations are empty at run time: a run with a stale
/// citation stops before any artifact is written. Fail-open probes are
/// added by the gate module from the probe report.
pub fn derived_inputs(
    surfaces: &SurfacesSpec,
    inventories: &[crate::surface::SurfaceInventory],
    proof: Option<&Proof>,
) -> crate::Result<DerivedInputs> {
    use crate::gate::blocker::BlockerEvidence;
    use crate::surface::facts;
    let evidence = |f: facts::DerivedFact| -> Vec<BlockerEvidence> {
        f.evidence.into_iter().map(BlockerEvidence::from).collect()
    };
    let unknown_surfaces = crate::surface::inventory::unknown_surfaces(inventories)
        .into_iter()
        .map(|f| UnknownSurface {
            name: surfaces
                .spec
                .surfaces
                .iter()
                .find(|s| s.id == f.surface)
                .map_or_else(|| f.surface.clone(), |s| s.name.clone()),
            surface: f.surface.clone(),
            evidence: evidence(f),
        })
        .collect();
    let mut changed = Vec::new();
    let mut declared_only = Vec::new();
    if let Some(proof) = proof {
        for f in crate::surface::proof::changed_forbidden_surfaces(proof)? {
            changed.push(ChangedForbiddenSurface {
                boundary: f.boundary.clone().unwrap_or_default(),
                surface: f.surface.clone(),
                // A mismatch is reported as one; anything else as a change.
                result: match f.status.map(ProofStatus::for_gate_facts) {
                    Some(ProofStatus::AuthorizedMutationMismatch) => {
                        ProofStatus::AuthorizedMutationMismatch
                    }
                    _ => ProofStatus::Changed,
                },
                evidence: evidence(f),
            });
        }
        for f in crate::surface::proof::declared_only_critical_surfaces(proof)? {
            declared_only.push(DeclaredOnlyCriticalSurface {
                boundary: f.boundary.clone().unwrap_or_default(),
                surface: f.surface.clone(),
                evidence: evidence(f),
            });
        }
    }
    Ok(DerivedInputs {
        unknown_surfaces,
        stale_citations: Vec::new(),
        changed_forbidden_surfaces: changed,
        declared_only_critical_surfaces: declared_only,
        fail_open_probes: Vec::new(),
        impossible_rehearsals: Vec::new(),
    })
}
