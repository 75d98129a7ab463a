//! Derived-blocker facts: what the surface evidence says still blocks
//! production. The gate module turns each fact into a blocker; this module
//! only lists them, each with the blocker's id, the surface and the
//! evidence, so a blocker can always be traced back to bytes.
//!
//! Ids follow the one scheme the blocker map uses (and decision options
//! reference in `requires_closed`), `<kind>:<key>`:
//!
//! | kind | id |
//! |---|---|
//! | unknown surface | `unknown-surface:<surface>` |
//! | stale citation | `stale-citation:<owner>:<path>[:<lines>]` |
//! | changed forbidden surface | `changed-forbidden-surface:<boundary>:<surface>` |
//! | declared-only critical surface | `declared-only-critical-surface:<boundary>:<surface>` |
//! | fail-open probe (gate module) | `fail-open-probe:<probe>` |
//! | impossible rehearsal (packet module, from the change record) | `impossible-rehearsal:<change>` |
//!
//! The `<owner>` of a stale citation is the surface citing it, or `packet`
//! when the inventory itself is missing or malformed (its `<path>` is then
//! the inventory's file name). The functions below are the only place these
//! ids are spelled; `gate::blocker` uses them too.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::citation::{Citation, CitationReport};
use crate::model::proof::ProofStatus;

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
    DeclaredOnlyCriticalSurface,
}

impl FactKind {
    /// The spelling used in JSON and as the first part of the fact's id.
    pub fn as_str(self) -> &'static str {
        match self {
            FactKind::UnknownSurface => "unknown-surface",
            FactKind::StaleCitation => "stale-citation",
            FactKind::ChangedForbiddenSurface => "changed-forbidden-surface",
            FactKind::DeclaredOnlyCriticalSurface => "declared-only-critical-surface",
        }
    }
}

/// The id of the unknown-surface fact (and blocker) of `surface`.
pub fn unknown_surface_id(surface: &str) -> String {
    format!("{}:{surface}", FactKind::UnknownSurface.as_str())
}

/// The id of the stale-citation fact (and blocker) of `owner`'s citation of
/// `path` (and `lines`, when it cites a range).
pub fn stale_citation_id(owner: &str, path: &str, lines: Option<&str>) -> String {
    let kind = FactKind::StaleCitation.as_str();
    match lines {
        Some(l) => format!("{kind}:{owner}:{path}:{l}"),
        None => format!("{kind}:{owner}:{path}"),
    }
}

/// The id of the fact (and blocker) that `surface`, forbidden by `boundary`,
/// changed.
pub fn changed_forbidden_surface_id(boundary: &str, surface: &str) -> String {
    format!(
        "{}:{boundary}:{surface}",
        FactKind::ChangedForbiddenSurface.as_str()
    )
}

/// The id of the fact (and blocker) that `surface`, forbidden by `boundary`,
/// is only declared not contacted while the policy requires a digest.
pub fn declared_only_critical_surface_id(boundary: &str, surface: &str) -> String {
    format!(
        "{}:{boundary}:{surface}",
        FactKind::DeclaredOnlyCriticalSurface.as_str()
    )
}

/// The owner of a stale-citation fact about an inventory file itself.
pub const PACKET_OWNER: &str = "packet";

/// A cited value inside a JSON or TOML file: the file, the sha256 of its
/// bytes, where in it, and what is found there. Anyone can re-check it: hash
/// the file, look the place up, compare the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArtifactCitation {
    /// File name: a packet file (`forbidden-surface-proof.json`, the
    /// snapshots, the probe report), or the spec file (`surfaces.toml`).
    pub file: String,
    /// sha256 of the file's bytes.
    pub sha256: String,
    /// Where in the file: a JSON Pointer (RFC 6901, e.g.
    /// `/surfaces/prod-pg/digest`) for JSON, the key path (e.g.
    /// `surface[3].status`) for TOML.
    pub at: String,
    /// The value found there, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// One piece of evidence a fact rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FactEvidence {
    /// Bytes of the source tree: path, lines and their sha256.
    Source(Citation),
    /// A value in a packet or spec file, pinned by the file's sha256.
    Artifact(ArtifactCitation),
}

/// One fact a blocker can be derived from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DerivedFact {
    /// The blocker id, `<kind>:<key>` (see the module documentation), e.g.
    /// `unknown-surface:ci-seal-scope`.
    pub id: String,
    /// What kind of fact.
    pub kind: FactKind,
    /// The surface it is about (for a stale citation, the citing surface;
    /// empty when the inventory itself is at fault).
    pub surface: String,
    /// The boundary that forbids the surface (changed and declared-only facts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundary: Option<String>,
    /// The surface's status in the proof (changed and declared-only facts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ProofStatus>,
    /// One line saying what blocks.
    pub title: String,
    /// The bytes it rests on.
    pub evidence: Vec<FactEvidence>,
}

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
                kind: FactKind::StaleCitation,
                surface: p.surface.clone(),
                boundary: None,
                status: None,
                title: format!("{}: {}", p.kind.label(), p.detail),
                evidence,
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
    fn ids_follow_the_one_scheme() {
        assert_eq!(unknown_surface_id("ci"), "unknown-surface:ci");
        assert_eq!(
            stale_citation_id("pg", "docs/pg.md", Some("3-9")),
            "stale-citation:pg:docs/pg.md:3-9"
        );
        assert_eq!(
            stale_citation_id("pg", "docs/pg.md", None),
            "stale-citation:pg:docs/pg.md"
        );
        assert_eq!(
            changed_forbidden_surface_id("prod", "pg"),
            "changed-forbidden-surface:prod:pg"
        );
        assert_eq!(
            declared_only_critical_surface_id("secrets", "vault"),
            "declared-only-critical-surface:secrets:vault"
        );
        assert_eq!(pointer_token("a/b~c"), "a~1b~0c");
    }
}
