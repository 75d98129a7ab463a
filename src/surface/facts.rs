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
use super::inventory::{InventoryEntry, SurfaceInventory};
use super::proof::{PROOF_FILE, Proof, ProofStatus};
use super::spec::LoadedSpec;
use crate::error::Result;
use crate::{canonical, digest};

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

/// The unknown-surface fact of the inventory row `entry`, which is
/// `surface[index]` of `spec`: the surface's own citations (path, lines and
/// the sha256 the inventory recorded) and the spec's `status = "unknown"`.
/// `None` for a known surface.
pub fn unknown_surface(
    spec: &LoadedSpec,
    index: usize,
    entry: &InventoryEntry,
) -> Option<DerivedFact> {
    if entry.status != super::spec::Status::Unknown {
        return None;
    }
    let table = spec
        .spec
        .surfaces
        .get(index)
        .map(|s| s.table.to_string())
        .unwrap_or_default();
    let mut evidence = vec![FactEvidence::Artifact(ArtifactCitation {
        file: spec.file_name(),
        sha256: spec.sha256.clone(),
        at: format!("surface[{index}].status"),
        value: Some("unknown".into()),
    })];
    evidence.extend(entry.evidence.iter().cloned().map(FactEvidence::Source));
    Some(DerivedFact {
        id: unknown_surface_id(&entry.id),
        kind: FactKind::UnknownSurface,
        surface: entry.id.clone(),
        boundary: None,
        status: None,
        title: format!(
            "{} ({table}) is UNKNOWN: its mutation risk and required gate are not established{}",
            entry.name,
            entry
                .note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ),
        evidence,
    })
}

/// Every unknown-surface fact of the inventories (Tables B and C), in
/// table and spec order, as the inventories record them.
pub fn unknown_surfaces(inventories: &[SurfaceInventory]) -> Vec<DerivedFact> {
    inventories
        .iter()
        .flat_map(|i| i.unknown_surfaces.iter().cloned())
        .collect()
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

/// The sha256 of the proof file's bytes (its canonical JSON, which is what
/// [`super::proof::write`] writes).
fn proof_sha256(proof: &Proof) -> Result<String> {
    Ok(digest::sha256_hex(&canonical::to_bytes(proof)?))
}

/// One fact per (boundary, surface) the proof found changed, or, for the
/// authorized surface, not changed exactly to its pins. Each cites the
/// proof's entry and the surface's digests in the BEFORE and AFTER
/// snapshots. A changed surface no boundary covers is not a forbidden one:
/// it fails the proof (and the verdict) instead.
pub fn changed_forbidden_surfaces(proof: &Proof) -> Result<Vec<DerivedFact>> {
    let sha256 = proof_sha256(proof)?;
    let mut out = Vec::new();
    for (j, b) in proof.boundaries.iter().enumerate() {
        for (k, s) in b.surfaces.iter().enumerate() {
            if !matches!(
                s.status,
                ProofStatus::Changed
                    | ProofStatus::AuthorizedMutationMismatch
                    | ProofStatus::AuthorizedChangeOutsideScope
            ) {
                continue;
            }
            let verdict = proof.surfaces.iter().find(|v| v.surface == s.surface);
            let mut evidence = vec![FactEvidence::Artifact(ArtifactCitation {
                file: PROOF_FILE.into(),
                sha256: sha256.clone(),
                at: format!("/boundaries/{j}/surfaces/{k}/status"),
                value: Some(s.status.as_str().into()),
            })];
            let at = format!("/surfaces/{}/digest", pointer_token(&s.surface));
            for (file, digest) in [
                (&proof.before, verdict.and_then(|v| v.before.as_ref())),
                (&proof.after, verdict.and_then(|v| v.after.as_ref())),
            ] {
                if let Some(d) = digest {
                    evidence.push(FactEvidence::Artifact(ArtifactCitation {
                        file: file.file.clone(),
                        sha256: file.sha256.clone(),
                        at: at.clone(),
                        value: Some(d.clone()),
                    }));
                }
            }
            out.push(DerivedFact {
                id: changed_forbidden_surface_id(&b.id, &s.surface),
                kind: FactKind::ChangedForbiddenSurface,
                surface: s.surface.clone(),
                boundary: Some(b.id.clone()),
                status: Some(s.status),
                title: format!(
                    "{} is {} (boundary {}): {}",
                    s.surface,
                    s.status.as_str(),
                    b.id,
                    verdict
                        .map(|v| v.detail.as_str())
                        .unwrap_or("not in the proof's surfaces")
                ),
                evidence,
            });
        }
    }
    Ok(out)
}

/// The declared-only fact of `surface` under `boundary`, citing the
/// snapshots' record that the surface has no snapshot method. [`super::proof::prove`]
/// records these in the proof's `blocker_facts`.
pub(crate) fn declared_only_critical_surface(
    proof_before: &super::proof::FileRef,
    proof_after: &super::proof::FileRef,
    boundary: &str,
    surface: &str,
    title: String,
) -> DerivedFact {
    let at = format!("/surfaces/{}/method", pointer_token(surface));
    DerivedFact {
        id: declared_only_critical_surface_id(boundary, surface),
        kind: FactKind::DeclaredOnlyCriticalSurface,
        surface: surface.to_string(),
        boundary: Some(boundary.to_string()),
        status: Some(ProofStatus::DeclaredNotContacted),
        title,
        evidence: [proof_before, proof_after]
            .into_iter()
            .map(|f| {
                FactEvidence::Artifact(ArtifactCitation {
                    file: f.file.clone(),
                    sha256: f.sha256.clone(),
                    at: at.clone(),
                    value: Some("none".into()),
                })
            })
            .collect(),
    }
}

/// One fact per (boundary, surface) only declared not contacted while the
/// policy requires a digest for its risk level (or its risk is unknown): the
/// proof's `blocker_facts`, each also citing its record in the proof file.
pub fn declared_only_critical_surfaces(proof: &Proof) -> Result<Vec<DerivedFact>> {
    let sha256 = proof_sha256(proof)?;
    Ok(proof
        .blocker_facts
        .iter()
        .enumerate()
        .map(|(n, f)| {
            let mut f = f.clone();
            f.evidence.insert(
                0,
                FactEvidence::Artifact(ArtifactCitation {
                    file: PROOF_FILE.into(),
                    sha256: sha256.clone(),
                    at: format!("/blocker_facts/{n}/id"),
                    value: Some(f.id.clone()),
                }),
            );
            f
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::citation::{CitationProblem, CitationProblemKind, LineRange};
    use std::path::Path;

    #[test]
    fn unknown_surfaces_become_facts_with_their_evidence() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("deploy")).unwrap();
        std::fs::create_dir_all(d.path().join("ci")).unwrap();
        std::fs::write(d.path().join("deploy/db.tf"), "a\nb\nc\n").unwrap();
        std::fs::write(d.path().join("ci/pipeline.yml"), "steps: []\n").unwrap();
        let spec = LoadedSpec::parse(
            crate::surface::spec::tests_support::GOOD.as_bytes(),
            Path::new("s/surfaces.toml"),
        )
        .unwrap();
        let inv = crate::surface::inventory::build(&spec, d.path()).unwrap();
        let facts = unknown_surfaces(&inv);
        assert_eq!(facts.len(), 1);
        let f = &facts[0];
        assert_eq!(f.id, "unknown-surface:ci-seal-scope");
        assert_eq!(f.kind, FactKind::UnknownSurface);
        assert_eq!(
            f.evidence[0],
            FactEvidence::Artifact(ArtifactCitation {
                file: "surfaces.toml".into(),
                sha256: spec.sha256.clone(),
                at: "surface[1].status".into(),
                value: Some("unknown".into()),
            })
        );
        assert_eq!(
            f.evidence[1],
            FactEvidence::Source(Citation {
                path: "ci/pipeline.yml".into(),
                lines: None,
                sha256: digest::sha256_hex(b"steps: []\n"),
                note: None,
            }),
            "{f:?}"
        );
        // The evidence serializes tagged, and reads back strictly.
        let json = canonical::to_bytes(f).unwrap();
        let text = String::from_utf8(json.clone()).unwrap();
        assert!(text.contains("\"kind\":\"source\"") || text.contains("\"kind\": \"source\""));
        let back: DerivedFact = canonical::from_slice_strict(&json, Path::new("f")).unwrap();
        assert_eq!(&back, f);
        let mut v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        v["evidence"][1]["extra"] = true.into();
        assert!(serde_json::from_value::<DerivedFact>(v).is_err());
    }

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
