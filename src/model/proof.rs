//! The proof's two results, shared by the surface module that proves and
//! the gate module that judges: [`ProofStatus`], what the proof found for
//! one surface under one boundary (in `forbidden-surface-proof.json`, the
//! derived facts and `gate-facts.json`), and [`ProofResult`], the proof's
//! overall result (`PROVEN` or `NOT_PROVEN`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The status of one surface in the proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProofStatus {
    /// Digest before = digest after.
    Untouched,
    /// The digest changed (or the surface is missing from one snapshot).
    Changed,
    /// No snapshot method: only declared not contacted. Weaker than a digest.
    DeclaredNotContacted,
    /// The authorized surface changed exactly to the fold result's pins.
    AuthorizedMutationMatched,
    /// The authorized surface did not match the fold result's pins (or no
    /// fold result was given).
    AuthorizedMutationMismatch,
    /// A surface the performed change may change changed, and every changed
    /// part is inside the change's declared set (listed in `changed_parts`).
    AuthorizedChangeMatched,
    /// A surface the performed change may change changed outside the
    /// change's declared set (fails; the detail names the parts).
    AuthorizedChangeOutsideScope,
}

impl ProofStatus {
    /// The spelling used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Untouched => "UNTOUCHED",
            Self::Changed => "CHANGED",
            Self::DeclaredNotContacted => "DECLARED_NOT_CONTACTED",
            Self::AuthorizedMutationMatched => "AUTHORIZED_MUTATION_MATCHED",
            Self::AuthorizedMutationMismatch => "AUTHORIZED_MUTATION_MISMATCH",
            Self::AuthorizedChangeMatched => "AUTHORIZED_CHANGE_MATCHED",
            Self::AuthorizedChangeOutsideScope => "AUTHORIZED_CHANGE_OUTSIDE_SCOPE",
        }
    }

    /// The status as `gate-facts.json` records it: a governed change's
    /// statuses are written as the fold's (`AUTHORIZED_CHANGE_MATCHED` as
    /// `AUTHORIZED_MUTATION_MATCHED`, `AUTHORIZED_CHANGE_OUTSIDE_SCOPE` as
    /// `AUTHORIZED_MUTATION_MISMATCH`), every other status as itself. The
    /// gate treats a change as it treats a fold, and this spelling keeps the
    /// gate facts of every packet byte for byte what they were before
    /// governed changes had statuses of their own. Holding is preserved:
    /// `s.for_gate_facts().holds() == s.holds()`.
    pub fn for_gate_facts(self) -> ProofStatus {
        match self {
            Self::AuthorizedChangeMatched => Self::AuthorizedMutationMatched,
            Self::AuthorizedChangeOutsideScope => Self::AuthorizedMutationMismatch,
            s => s,
        }
    }

    /// Whether this status is acceptable for the proof.
    pub fn holds(self) -> bool {
        matches!(
            self,
            Self::Untouched
                | Self::DeclaredNotContacted
                | Self::AuthorizedMutationMatched
                | Self::AuthorizedChangeMatched
        )
    }
}

/// The proof's overall result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProofResult {
    /// Every forbidden surface untouched (or declared), the authorized mutation matched.
    Proven,
    /// At least one failure; see `failures`.
    NotProven,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ProofStatus; 7] = [
        ProofStatus::Untouched,
        ProofStatus::Changed,
        ProofStatus::DeclaredNotContacted,
        ProofStatus::AuthorizedMutationMatched,
        ProofStatus::AuthorizedMutationMismatch,
        ProofStatus::AuthorizedChangeMatched,
        ProofStatus::AuthorizedChangeOutsideScope,
    ];

    #[test]
    fn as_str_is_the_serde_spelling() {
        for s in ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
    }

    #[test]
    fn gate_facts_spelling_keeps_holding_and_folds_changes_only() {
        for s in ALL {
            assert_eq!(s.for_gate_facts().holds(), s.holds(), "{s:?}");
            assert!(!matches!(
                s.for_gate_facts(),
                ProofStatus::AuthorizedChangeMatched | ProofStatus::AuthorizedChangeOutsideScope
            ));
        }
        assert_eq!(
            ProofStatus::AuthorizedChangeOutsideScope.for_gate_facts(),
            ProofStatus::AuthorizedMutationMismatch
        );
        assert_eq!(
            ProofStatus::AuthorizedChangeMatched.for_gate_facts(),
            ProofStatus::AuthorizedMutationMatched
        );
        assert_eq!(ProofStatus::Changed.for_gate_facts(), ProofStatus::Changed);
    }

    #[test]
    fn only_the_failing_statuses_do_not_hold() {
        let failing: Vec<ProofStatus> = ALL.into_iter().filter(|s| !s.holds()).collect();
        assert_eq!(
            failing,
            vec![
                ProofStatus::Changed,
                ProofStatus::AuthorizedMutationMismatch,
                ProofStatus::AuthorizedChangeOutsideScope
            ]
        );
    }
}
