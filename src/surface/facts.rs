//! Derived-blocker facts: what the surface evidence says still blocks
//! production. The gate module turns each fact into a blocker; this module
//! only lists them, each with an id, the surface and the evidence, so a
//! blocker can always be traced back to bytes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::citation::CitationReport;
use super::proof::{Proof, ProofStatus};
use super::spec::{LoadedSpec, Status};

/// The kinds of facts the surface module derives.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum FactKind {
    /// A surface whose risk and gate are not established.
    UnknownSurface,
    /// A citation whose bytes no longer match (or can no longer be read).
    StaleCitation,
    /// A forbidden surface whose digest changed, or the authorized mutation
    /// that did not match its pins.
    ChangedForbiddenSurface,
    /// A forbidden surface the policy requires a digest for, proven only by
    /// declaration.
    DeclaredOnlyCritical,
}

/// One fact a blocker can be derived from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DerivedFact {
    /// Stable id, `<kind>:<surface>[:<detail>]`, e.g. `unknown-surface:ci-seal-scope`.
    pub id: String,
    /// What kind of fact.
    pub kind: FactKind,
    /// The surface it is about.
    pub surface: String,
    /// One line saying what blocks.
    pub title: String,
    /// Where the bytes are: citations, artifact keys, digests.
    pub evidence: Vec<String>,
}

/// One fact per surface with status `unknown`, in spec order.
pub fn unknown_surfaces(spec: &LoadedSpec) -> Vec<DerivedFact> {
    spec.spec
        .surfaces
        .iter()
        .enumerate()
        .filter(|(_, s)| s.status == Status::Unknown)
        .map(|(i, s)| {
            let mut evidence = vec![format!(
                "{} ({}): surface[{i}] (id {:?}) status = \"unknown\"",
                spec.file_name(),
                spec.sha256,
                s.id
            )];
            evidence.extend(s.evidence.iter().map(|c| match c.lines {
                Some(r) => format!("{}:{r}", c.path),
                None => c.path.clone(),
            }));
            DerivedFact {
                id: format!("unknown-surface:{}", s.id),
                kind: FactKind::UnknownSurface,
                surface: s.id.clone(),
                title: format!(
                    "{} ({}) is UNKNOWN: its mutation risk and required gate are not established{}",
                    s.name,
                    s.table,
                    s.note
                        .as_deref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default()
                ),
                evidence,
            }
        })
        .collect()
}

/// One fact per citation problem of a `verify --source` run.
pub fn stale_citations(report: &CitationReport) -> Vec<DerivedFact> {
    report
        .problems
        .iter()
        .map(|p| {
            let idx = p
                .evidence_index
                .map(|i| format!(":evidence[{i}]"))
                .unwrap_or_default();
            let subject = if p.surface.is_empty() {
                p.inventory.clone()
            } else {
                p.surface.clone()
            };
            DerivedFact {
                id: format!("stale-citation:{subject}{idx}"),
                kind: FactKind::StaleCitation,
                surface: p.surface.clone(),
                title: format!("{}: {}", p.kind.label(), p.detail),
                evidence: vec![
                    format!("{}: surface {:?}{idx}", p.inventory, p.surface),
                    p.citation.clone(),
                ]
                .into_iter()
                .filter(|e| !e.is_empty())
                .collect(),
            }
        })
        .collect()
}

/// One fact per surface the proof found changed (or, for the authorized
/// surface, not changed exactly to its pins).
pub fn changed_forbidden_surfaces(proof: &Proof) -> Vec<DerivedFact> {
    proof
        .surfaces
        .iter()
        .filter(|s| {
            matches!(
                s.status,
                ProofStatus::Changed | ProofStatus::AuthorizedMutationMismatch
            )
        })
        .map(|s| DerivedFact {
            id: format!("changed-surface:{}", s.surface),
            kind: FactKind::ChangedForbiddenSurface,
            surface: s.surface.clone(),
            title: format!("{} is {}: {}", s.surface, s.status.as_str(), s.detail),
            evidence: vec![
                format!("{}: surfaces[{:?}]", super::proof::PROOF_FILE, s.surface),
                format!("digest before {}", s.before.as_deref().unwrap_or("-")),
                format!("digest after {}", s.after.as_deref().unwrap_or("-")),
            ],
        })
        .collect()
}

/// One fact per forbidden surface that is only declared not contacted while
/// the policy requires a digest for its risk level (or its risk is unknown).
pub fn declared_only_critical_surfaces(proof: &Proof) -> Vec<DerivedFact> {
    proof.blocker_facts.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::citation::{CitationProblem, CitationProblemKind};
    use std::path::Path;

    #[test]
    fn unknown_surfaces_become_facts_with_their_evidence() {
        let spec = LoadedSpec::parse(
            crate::surface::spec::tests_support::GOOD.as_bytes(),
            Path::new("s/surfaces.toml"),
        )
        .unwrap();
        let facts = unknown_surfaces(&spec);
        assert_eq!(facts.len(), 1);
        assert_eq!(facts[0].id, "unknown-surface:ci-seal-scope");
        assert_eq!(facts[0].kind, FactKind::UnknownSurface);
        assert!(
            facts[0].evidence.iter().any(|e| e == "ci/pipeline.yml"),
            "{:?}",
            facts[0]
        );
        assert!(
            facts[0].evidence[0].contains("surfaces.toml"),
            "{:?}",
            facts[0]
        );
    }

    #[test]
    fn citation_problems_become_facts() {
        let report = CitationReport {
            inventories: vec![],
            citations_checked: 1,
            citations_fresh: 0,
            problems: vec![CitationProblem {
                kind: CitationProblemKind::Stale,
                inventory: "production-surface-inventory.json".into(),
                surface: "prod-pg".into(),
                evidence_index: Some(0),
                citation: "deploy/db.tf:1-2".into(),
                detail: "sha256 recorded a, found b".into(),
            }],
        };
        let facts = stale_citations(&report);
        assert_eq!(facts.len(), 1);
        assert_eq!(facts[0].id, "stale-citation:prod-pg:evidence[0]");
        assert!(facts[0].evidence.contains(&"deploy/db.tf:1-2".to_string()));
        assert!(stale_citations(&CitationReport::default()).is_empty());
    }
}
