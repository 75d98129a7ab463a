//! The surface module's derived facts: what the surface evidence says
//! still blocks production (unknown surfaces, stale citations, changed and
//! declared-only forbidden surfaces). The fact itself, its kinds and its id
//! scheme are [`crate::model::fact`]'s; here a fact cites the inventory's
//! pinned source citations. The gate module turns each fact into a
//! blocker, so a blocker can always be traced back to bytes.

use super::citation::{Citation, CitationReport};
use crate::model::fact::{self, ArtifactCitation, FactDetail, PACKET_OWNER, stale_citation_id};

/// A derived fact of the surface module: [`fact::DerivedFact`] citing the
/// inventory's citations (path, lines, sha256, note).
pub type DerivedFact = fact::DerivedFact<Citation>;

/// One piece of evidence a surface fact rests on.
pub type FactEvidence = fact::FactEvidence<Citation>;

/// Escapes one JSON Pointer reference token (RFC 6901: `~` and `/`).
pub fn pointer_token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// One fact per citation problem of a `verify --source` run, citing the
/// stale citation as recorded (and the inventory it is recorded in).
pub fn stale_citations(report: &CitationReport) -> Vec<DerivedFact> {
    report
        .problems
        .iter()
        .map(|p| {
            let (owner, path, lines) = match &p.recorded {
                Some(c) => (
                    p.surface.as_str(),
                    c.path.as_str(),
                    c.lines.map(|l| l.to_string()),
                ),
                None => (PACKET_OWNER, p.inventory.as_str(), None),
            };
            let mut evidence = Vec::new();
            if let Some(c) = &p.recorded {
                evidence.push(FactEvidence::Source(c.clone()));
            }
            if let Some(sha256) = &p.inventory_sha256 {
                evidence.push(FactEvidence::Artifact(ArtifactCitation {
                    file: p.inventory.clone(),
                    sha256: sha256.clone(),
                    at: p.at.clone().unwrap_or_default(),
                    value: None,
                }));
            }
            DerivedFact {
                id: stale_citation_id(owner, path, lines.as_deref()),
                surface: p.surface.clone(),
                title: format!("{}: {}", p.kind.label(), p.detail),
                evidence,
                detail: FactDetail::StaleCitation {
                    owner: owner.to_string(),
                    path: path.to_string(),
                    lines: lines.clone(),
                    found: p.detail.clone(),
                    sha256: p.recorded.as_ref().map(|c| c.sha256.clone()),
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::citation::{CitationProblem, CitationProblemKind, LineRange};

    #[test]
    fn citation_problems_become_facts_with_the_blocker_id() {
        let recorded = Citation {
            path: "deploy/db.tf".into(),
            lines: Some(LineRange { first: 1, last: 2 }),
            sha256: "a".repeat(64),
            note: None,
        };
        let report = CitationReport {
            inventories: vec![],
            citations_checked: 1,
            citations_fresh: 0,
            problems: vec![
                CitationProblem {
                    kind: CitationProblemKind::Stale,
                    inventory: "production-surface-inventory.json".into(),
                    surface: "prod-pg".into(),
                    evidence_index: Some(0),
                    citation: "deploy/db.tf:1-2".into(),
                    detail: "sha256 recorded a, found b".into(),
                    recorded: Some(recorded.clone()),
                    inventory_sha256: Some("b".repeat(64)),
                    at: Some("/surfaces/0/evidence/0".into()),
                },
                CitationProblem {
                    kind: CitationProblemKind::MissingInventory,
                    inventory: "ci-deploy-surface-inventory.json".into(),
                    surface: String::new(),
                    evidence_index: None,
                    citation: String::new(),
                    detail: "not in the packet".into(),
                    recorded: None,
                    inventory_sha256: None,
                    at: None,
                },
            ],
        };
        let facts = stale_citations(&report);
        assert_eq!(facts.len(), 2);
        assert_eq!(facts[0].id, "stale-citation:prod-pg:deploy/db.tf:1-2");
        assert_eq!(facts[0].evidence[0], FactEvidence::Source(recorded));
        assert!(
            matches!(&facts[0].evidence[1], FactEvidence::Artifact(a) if a.at == "/surfaces/0/evidence/0")
        );
        assert_eq!(
            facts[1].id,
            "stale-citation:packet:ci-deploy-surface-inventory.json"
        );
        assert!(facts[1].evidence.is_empty());
        assert!(stale_citations(&CitationReport::default()).is_empty());
    }

    #[test]
    fn pointer_tokens_are_escaped() {
        assert_eq!(pointer_token("a/b~c"), "a~1b~0c");
    }
}
