//! Plain facts the verdict, the blocker map and the decision packet are
//! computed from. They hold ids, outcomes and flags only, never a judgement,
//! so that whoever gathers them (the probe harness, the surface proof, the
//! packet run) cannot influence the verdict except through the facts.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::model::outcome::Outcome;
use crate::model::proof::ProofStatus;

/// The outcome of one bad-input probe, as the verdict sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeFact {
    /// Probe id, `<class>/<name>`.
    pub id: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The pass token appeared in its stdout or stderr.
    pub token_leaked: bool,
    /// The probe's author declared that a timeout counts as failing closed.
    pub timeout_counts_as_fail_closed: bool,
}

impl ProbeFact {
    /// Whether this probe failed closed: refused with the expected code and
    /// leaked nothing, or timed out where its author said a timeout is a refusal.
    pub fn fail_closed(&self) -> bool {
        !self.token_leaked
            && match self.outcome {
                Outcome::FailClosed => true,
                Outcome::Timeout => self.timeout_counts_as_fail_closed,
                _ => false,
            }
    }
}

/// One line of the forbidden-surface proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofFact {
    /// Boundary (forbidden action class) id.
    pub boundary: String,
    /// Surface id covered by that boundary.
    pub surface: String,
    /// What the proof found, as `gate-facts.json` spells it
    /// ([`ProofStatus::for_gate_facts`]: a governed change's statuses as the
    /// fold's).
    pub result: ProofStatus,
}

/// The forbidden-surface proof, reduced to what the verdict needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofFacts {
    /// One entry per (boundary, covered surface).
    pub entries: Vec<ProofFact>,
    /// Boundary errors (a boundary whose surface list matches no surface, ...).
    pub boundary_errors: Vec<String>,
}

/// A blocker as the verdict sees it: its id and whether it counts as open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockerFact {
    /// Blocker id.
    pub id: String,
    /// Counts as open (a closed blocker without closing evidence is open).
    pub open: bool,
}

/// A gate an option can require (besides its blockers being closed).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum GateName {
    /// Every bad-input probe ran and failed closed; nothing leaked.
    Probes,
    /// The forbidden-surface proof has no CHANGED, mismatch or boundary error.
    ForbiddenSurfaceProof,
    /// The rollback plan has its six sections, each filled in.
    RollbackPlan,
}

impl GateName {
    /// Every gate, in report order.
    pub const ALL: [GateName; 3] = [
        GateName::Probes,
        GateName::ForbiddenSurfaceProof,
        GateName::RollbackPlan,
    ];

    /// The name used in gates.toml and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            GateName::Probes => "probes",
            GateName::ForbiddenSurfaceProof => "forbidden-surface-proof",
            GateName::RollbackPlan => "rollback-plan",
        }
    }
}

/// A decision option as the verdict sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionFact {
    /// Option id (upper case, e.g. `PROCEED_TO_REHEARSAL`).
    pub id: String,
    /// Blocker ids that must be closed before it is admissible.
    pub requires_closed: Vec<String>,
    /// Gates that must be met before it is admissible.
    pub requires_gates: Vec<GateName>,
}

/// Whether a gate is met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum GateState {
    /// The evidence shows it is met.
    Met,
    /// The evidence shows it is not met.
    Unmet,
    /// No evidence either way: treated as not met.
    Unknown,
}

/// One gate's state and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateCheck {
    /// Met, unmet or unknown.
    pub state: GateState,
    /// One line: what the state rests on.
    pub detail: String,
}

/// The state of every gate an option can require.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateStatus {
    /// The bad-input probes.
    pub probes: GateCheck,
    /// The forbidden-surface proof.
    pub forbidden_surface_proof: GateCheck,
    /// The rollback plan.
    pub rollback_plan: GateCheck,
}

impl GateStatus {
    /// The check of gate `g`.
    pub fn get(&self, g: GateName) -> &GateCheck {
        match g {
            GateName::Probes => &self.probes,
            GateName::ForbiddenSurfaceProof => &self.forbidden_surface_proof,
            GateName::RollbackPlan => &self.rollback_plan,
        }
    }

    /// Computes every gate from what is known. `None` means "no evidence":
    /// the gate is unknown, which never counts as met.
    pub fn from_facts(
        probes: Option<&[ProbeFact]>,
        proof: Option<&ProofFacts>,
        plan_problems: Option<&[String]>,
    ) -> GateStatus {
        GateStatus {
            probes: probes_check(probes),
            forbidden_surface_proof: proof_check(proof),
            rollback_plan: plan_check(plan_problems),
        }
    }
}

fn check(state: GateState, detail: impl Into<String>) -> GateCheck {
    GateCheck {
        state,
        detail: detail.into(),
    }
}

fn probes_check(probes: Option<&[ProbeFact]>) -> GateCheck {
    match probes {
        None => check(GateState::Unknown, "the bad-input probes were not run"),
        Some([]) => check(GateState::Unknown, "no bad-input probe ran"),
        Some(list) => {
            let bad = list.iter().filter(|p| !p.fail_closed()).count();
            if bad == 0 {
                check(
                    GateState::Met,
                    format!("{} probe(s), all failed closed", list.len()),
                )
            } else {
                check(
                    GateState::Unmet,
                    format!("{bad} of {} probe(s) did not fail closed", list.len()),
                )
            }
        }
    }
}

fn proof_check(proof: Option<&ProofFacts>) -> GateCheck {
    let Some(proof) = proof else {
        return check(GateState::Unknown, "no forbidden-surface proof");
    };
    if proof.entries.is_empty() {
        return check(
            GateState::Unknown,
            "the forbidden-surface proof covers no surface",
        );
    }
    let bad = proof.entries.iter().filter(|e| !e.result.holds()).count();
    if bad > 0 || !proof.boundary_errors.is_empty() {
        return check(
            GateState::Unmet,
            format!(
                "{bad} surface(s) changed or mismatched, {} boundary error(s)",
                proof.boundary_errors.len()
            ),
        );
    }
    check(
        GateState::Met,
        format!("{} surface check(s), none changed", proof.entries.len()),
    )
}

fn plan_check(problems: Option<&[String]>) -> GateCheck {
    match problems {
        None => check(GateState::Unknown, "no rollback plan"),
        Some([]) => check(GateState::Met, "all six sections present and filled in"),
        Some(p) => check(
            GateState::Unmet,
            format!("{} problem(s) in the rollback plan", p.len()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(outcome: Outcome, leaked: bool, timeout_ok: bool) -> ProbeFact {
        ProbeFact {
            id: "c/p".into(),
            outcome,
            token_leaked: leaked,
            timeout_counts_as_fail_closed: timeout_ok,
        }
    }

    #[test]
    fn only_clean_refusals_and_accepted_timeouts_fail_closed() {
        assert!(probe(Outcome::FailClosed, false, false).fail_closed());
        assert!(!probe(Outcome::FailClosed, true, false).fail_closed());
        assert!(probe(Outcome::Timeout, false, true).fail_closed());
        assert!(!probe(Outcome::Timeout, false, false).fail_closed());
        assert!(!probe(Outcome::Timeout, true, true).fail_closed());
        for o in [
            Outcome::FailOpen,
            Outcome::Crashed,
            Outcome::NotRun,
            Outcome::Unexpected,
        ] {
            assert!(!probe(o, false, true).fail_closed(), "{o:?}");
        }
    }

    #[test]
    fn missing_evidence_is_never_a_met_gate() {
        let g = GateStatus::from_facts(None, None, None);
        for name in GateName::ALL {
            assert_eq!(g.get(name).state, GateState::Unknown, "{name:?}");
        }
        let empty = ProofFacts {
            entries: vec![],
            boundary_errors: vec![],
        };
        let g = GateStatus::from_facts(Some(&[]), Some(&empty), Some(&["x".to_string()]));
        assert_eq!(g.probes.state, GateState::Unknown);
        assert_eq!(g.forbidden_surface_proof.state, GateState::Unknown);
        assert_eq!(g.rollback_plan.state, GateState::Unmet);
    }

    #[test]
    fn a_boundary_error_or_a_change_fails_the_proof_gate() {
        let ok = ProofFact {
            boundary: "b".into(),
            surface: "s".into(),
            result: ProofStatus::DeclaredNotContacted,
        };
        let proof = ProofFacts {
            entries: vec![ok.clone()],
            boundary_errors: vec![],
        };
        assert_eq!(
            GateStatus::from_facts(None, Some(&proof), None)
                .forbidden_surface_proof
                .state,
            GateState::Met
        );
        let mut errs = proof.clone();
        errs.boundary_errors.push("b2 matches nothing".into());
        assert_eq!(proof_check(Some(&errs)).state, GateState::Unmet);
        let mut changed = proof;
        changed.entries.push(ProofFact {
            result: ProofStatus::AuthorizedMutationMismatch,
            ..ok
        });
        assert_eq!(proof_check(Some(&changed)).state, GateState::Unmet);
    }
}
