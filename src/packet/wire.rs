//! Wiring between modules: the surface module's proof and facts, reduced to
//! the plain inputs the gate module derives blockers and the verdict from.
//!
//! Every conversion fails closed: a proof failure of any class reaches the
//! verdict as an error, so nothing the surface module found can be lost on
//! the way to the gate.

use std::collections::BTreeSet;

use crate::gate::citation::{Citation, GateFact};
use crate::gate::facts::{ProofFact, ProofFacts};
use crate::model::fact::FactDetail;
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

/// The derived facts the inventories and the proof give, as the gate
/// module takes them ([`GateFact`]): the facts `surface` lists (the one
/// implementation of each fact and of its id), each with the evidence it
/// cites, an unknown surface with its name from `surfaces` (the inventory's
/// fact does not record it). Stale citations are none at run time: a run
/// with a stale citation stops before any artifact is written. Fail-open
/// probes are added by the gate module from the probe report.
pub fn derived_facts(
    surfaces: &SurfacesSpec,
    inventories: &[crate::surface::SurfaceInventory],
    proof: Option<&Proof>,
) -> crate::Result<Vec<GateFact>> {
    let gate = |f: crate::surface::DerivedFact| f.map_source(Citation::from);
    let mut out: Vec<GateFact> = crate::surface::inventory::unknown_surfaces(inventories)
        .into_iter()
        .map(|f| {
            let name = surfaces
                .spec
                .surfaces
                .iter()
                .find(|s| s.id == f.surface)
                .map(|s| s.name.clone());
            let mut f = gate(f);
            f.detail = FactDetail::UnknownSurface { name };
            f
        })
        .collect();
    if let Some(proof) = proof {
        for f in crate::surface::proof::changed_forbidden_surfaces(proof)? {
            let mut f = gate(f);
            // A mismatch is reported as one; anything else as a change.
            if let FactDetail::ChangedForbiddenSurface { status, .. } = &mut f.detail {
                *status = match status.for_gate_facts() {
                    ProofStatus::AuthorizedMutationMismatch => {
                        ProofStatus::AuthorizedMutationMismatch
                    }
                    _ => ProofStatus::Changed,
                };
            }
            out.push(f);
        }
        out.extend(
            crate::surface::proof::declared_only_critical_surfaces(proof)?
                .into_iter()
                .map(gate),
        );
    }
    Ok(out)
}
