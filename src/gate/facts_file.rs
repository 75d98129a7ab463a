//! The derived facts of a `holdfast gates --facts` file, in the one JSON
//! shape that file gives them: a list per kind, each entry with that kind's
//! fields ([`DerivedInputs`], `gate-facts.schema.json`). This is the one
//! place that shape lives; [`DerivedInputs::facts`] turns it into the one
//! fact type ([`GateFact`]) the blocker map is derived from.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::gate::citation::{self, BlockerEvidence, Citation, GateFact};
use crate::gate::facts::Outcome;
use crate::model::fact::{self as fact, DerivedFact, FactDetail};
use crate::model::proof::ProofStatus;

/// A surface whose status is `unknown` in the inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnknownSurface {
    /// Surface id.
    pub surface: String,
    /// Surface name.
    pub name: String,
    /// The surface's own citations (path, lines, sha256, as the inventory
    /// records them) and the spec's `status = "unknown"`. Never empty.
    pub evidence: Vec<BlockerEvidence>,
}

/// A citation whose bytes no longer match its recorded sha256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StaleCitation {
    /// Who cites it (a surface or blocker id; `packet` for an inventory
    /// file itself).
    pub owner: String,
    /// Cited path, relative to the source root.
    pub path: String,
    /// Cited line range, if any.
    pub lines: Option<String>,
    /// What was found instead (a hash, `missing`, ...).
    pub found: String,
    /// The sha256 the citation recorded, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Where the citation is recorded (e.g. the inventory, by its sha256).
    /// The citation itself is always cited first.
    pub evidence: Vec<BlockerEvidence>,
}

/// A forbidden surface the proof found changed (or changed off its pins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangedForbiddenSurface {
    /// Boundary id.
    pub boundary: String,
    /// Surface id.
    pub surface: String,
    /// `CHANGED` or `AUTHORIZED_MUTATION_MISMATCH`.
    pub result: ProofStatus,
    /// The proof's entry and the surface's digests in the BEFORE and AFTER
    /// snapshots. Never empty.
    pub evidence: Vec<BlockerEvidence>,
}

/// A critical surface under a boundary that has no snapshot method, so it can
/// only be declared not contacted (when the policy requires a digest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclaredOnlyCriticalSurface {
    /// Boundary id.
    pub boundary: String,
    /// Surface id.
    pub surface: String,
    /// The proof's record of the fact and the snapshots' record that the
    /// surface has no snapshot method. Never empty.
    pub evidence: Vec<BlockerEvidence>,
}

/// A probe that did not fail closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailOpenProbe {
    /// Probe id, `<class>/<name>`.
    pub probe: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The pass token appeared in its output.
    pub token_leaked: bool,
    /// The probe's record in the probe report. Never empty.
    pub evidence: Vec<BlockerEvidence>,
}

/// Every fact blockers are derived from. All lists are required in JSON, so
/// a fact source cannot be skipped by leaving its key out, and every fact
/// cites its evidence ("an uncited claim is not a claim").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DerivedInputs {
    /// Surfaces with status unknown.
    pub unknown_surfaces: Vec<UnknownSurface>,
    /// Stale citations.
    pub stale_citations: Vec<StaleCitation>,
    /// Forbidden surfaces that changed.
    pub changed_forbidden_surfaces: Vec<ChangedForbiddenSurface>,
    /// Critical surfaces only declared not contacted.
    pub declared_only_critical_surfaces: Vec<DeclaredOnlyCriticalSurface>,
    /// Probes that did not fail closed.
    pub fail_open_probes: Vec<FailOpenProbe>,
    /// Governed changes whose rehearsal on a copy could not be made. A
    /// facts file written before this fact existed may leave it out (none).
    #[serde(default)]
    pub impossible_rehearsals: Vec<ImpossibleRehearsal>,
}

/// A governed change that could not be rehearsed on a copy (a surface it
/// may change cannot be copied, a database has other sessions): the real
/// change was not run, and production stays on hold until it can be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImpossibleRehearsal {
    /// The change's id.
    pub change: String,
    /// The surfaces it may change, comma-separated.
    pub surfaces: String,
    /// Why the rehearsal could not be made, as the change record says.
    pub reason: String,
    /// The change record's `rehearsal.impossible`. Never empty.
    pub evidence: Vec<BlockerEvidence>,
}

impl DerivedInputs {
    /// Checks what serde cannot: every fact (but a stale citation, which is
    /// its own evidence) cites at least one piece of evidence, and every
    /// citation is well formed. The message names the key, e.g.
    /// `derived.unknown_surfaces[0].evidence`.
    pub fn check(&self) -> std::result::Result<(), String> {
        fn each(
            list: &str,
            items: Vec<&[BlockerEvidence]>,
            may_be_empty: bool,
        ) -> std::result::Result<(), String> {
            for (i, ev) in items.into_iter().enumerate() {
                let at = format!("derived.{list}[{i}].evidence");
                if ev.is_empty() && !may_be_empty {
                    return Err(format!(
                        "{at}: empty: a derived fact must cite the bytes it rests on"
                    ));
                }
                for (j, e) in ev.iter().enumerate() {
                    e.check_shape().map_err(|why| format!("{at}[{j}].{why}"))?;
                }
            }
            Ok(())
        }
        each(
            "unknown_surfaces",
            self.unknown_surfaces
                .iter()
                .map(|f| &f.evidence[..])
                .collect(),
            false,
        )?;
        each(
            "stale_citations",
            self.stale_citations
                .iter()
                .map(|f| &f.evidence[..])
                .collect(),
            true,
        )?;
        for (i, c) in self.stale_citations.iter().enumerate() {
            citation::check_shape(&stale_as_citation(c), false)
                .map_err(|why| format!("derived.stale_citations[{i}].{why}"))?;
        }
        each(
            "changed_forbidden_surfaces",
            self.changed_forbidden_surfaces
                .iter()
                .map(|f| &f.evidence[..])
                .collect(),
            false,
        )?;
        each(
            "declared_only_critical_surfaces",
            self.declared_only_critical_surfaces
                .iter()
                .map(|f| &f.evidence[..])
                .collect(),
            false,
        )?;
        each(
            "fail_open_probes",
            self.fail_open_probes
                .iter()
                .map(|f| &f.evidence[..])
                .collect(),
            false,
        )?;
        each(
            "impossible_rehearsals",
            self.impossible_rehearsals
                .iter()
                .map(|f| &f.evidence[..])
                .collect(),
            false,
        )
    }
}

/// The stale citation itself, as a citation.
fn stale_as_citation(s: &StaleCitation) -> Citation {
    Citation {
        path: s.path.clone(),
        lines: s.lines.clone(),
        sha256: s.sha256.clone(),
    }
}

impl DerivedInputs {
    /// The facts of the file, in the order of its lists, each with its id
    /// (built by [`crate::model::fact`]) and its evidence. A stale
    /// citation's line range is spelled in its id as the surface module
    /// spells it (`3-3` and `3` are one range; a malformed range, which
    /// [`DerivedInputs::check`] refuses, is kept as written).
    pub fn facts(&self) -> Vec<GateFact> {
        let mut out = Vec::new();
        for u in &self.unknown_surfaces {
            out.push(DerivedFact::new(
                fact::unknown_surface_id(&u.surface),
                u.surface.clone(),
                u.evidence.clone(),
                FactDetail::UnknownSurface {
                    name: Some(u.name.clone()),
                },
            ));
        }
        for s in &self.stale_citations {
            let lines = s.lines.as_deref().map(|l| {
                l.parse::<crate::surface::LineRange>()
                    .map_or_else(|_| l.to_string(), |r| r.to_string())
            });
            out.push(DerivedFact::new(
                fact::stale_citation_id(&s.owner, &s.path, lines.as_deref()),
                s.owner.clone(),
                s.evidence.clone(),
                FactDetail::StaleCitation {
                    owner: s.owner.clone(),
                    path: s.path.clone(),
                    lines: s.lines.clone(),
                    found: s.found.clone(),
                    sha256: s.sha256.clone(),
                },
            ));
        }
        for c in &self.changed_forbidden_surfaces {
            out.push(DerivedFact::new(
                fact::changed_forbidden_surface_id(&c.boundary, &c.surface),
                c.surface.clone(),
                c.evidence.clone(),
                FactDetail::ChangedForbiddenSurface {
                    boundary: c.boundary.clone(),
                    status: c.result,
                },
            ));
        }
        for d in &self.declared_only_critical_surfaces {
            out.push(DerivedFact::new(
                fact::declared_only_critical_surface_id(&d.boundary, &d.surface),
                d.surface.clone(),
                d.evidence.clone(),
                FactDetail::DeclaredOnlyCriticalSurface {
                    boundary: d.boundary.clone(),
                    status: ProofStatus::DeclaredNotContacted,
                },
            ));
        }
        for p in &self.fail_open_probes {
            out.push(fail_open_probe(
                &p.probe,
                p.outcome,
                p.token_leaked,
                p.evidence.clone(),
            ));
        }
        for r in &self.impossible_rehearsals {
            out.push(impossible_rehearsal(
                &r.change,
                r.surfaces.clone(),
                &r.reason,
                r.evidence.clone(),
            ));
        }
        out
    }
}

/// The fact that `probe` (`<class>/<name>`) did not fail closed: it
/// concerns the surface `gates`.
pub fn fail_open_probe(
    probe: &str,
    outcome: Outcome,
    token_leaked: bool,
    evidence: Vec<BlockerEvidence>,
) -> GateFact {
    DerivedFact::new(
        fact::fail_open_probe_id(probe),
        "gates".into(),
        evidence,
        FactDetail::FailOpenProbe {
            probe: probe.to_string(),
            outcome,
            token_leaked,
        },
    )
}

/// The fact that `change`, which may change `surfaces` (joined by `, `),
/// could not be rehearsed on a copy, for `reason`.
pub fn impossible_rehearsal(
    change: &str,
    surfaces: String,
    reason: &str,
    evidence: Vec<BlockerEvidence>,
) -> GateFact {
    DerivedFact::new(
        fact::impossible_rehearsal_id(change),
        surfaces,
        evidence,
        FactDetail::ImpossibleRehearsal {
            change: change.to_string(),
            reason: reason.to_string(),
        },
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::fact::ArtifactCitation;

    /// A citation pinned by a well-formed sha256.
    pub(crate) fn pinned(path: &str) -> Citation {
        Citation {
            path: path.into(),
            lines: None,
            sha256: Some("a".repeat(64)),
        }
    }

    pub(crate) fn source(path: &str) -> Vec<BlockerEvidence> {
        vec![BlockerEvidence::Source(pinned(path))]
    }

    fn artifact(file: &str, at: &str) -> Vec<BlockerEvidence> {
        vec![BlockerEvidence::Artifact(ArtifactCitation {
            file: file.into(),
            sha256: "b".repeat(64),
            at: at.into(),
            value: Some("CHANGED".into()),
        })]
    }

    pub(crate) fn all_inputs() -> DerivedInputs {
        DerivedInputs {
            unknown_surfaces: vec![
                UnknownSurface {
                    surface: "ci-seal".into(),
                    name: "CI seal".into(),
                    evidence: source("ci/seal.md"),
                },
                UnknownSurface {
                    surface: "ci-seal".into(),
                    name: "CI seal".into(),
                    evidence: source("ci/seal.md"),
                },
            ],
            stale_citations: vec![StaleCitation {
                owner: "pg".into(),
                path: "docs/pg.md".into(),
                lines: Some("3-4".into()),
                found: "missing".into(),
                sha256: Some("c".repeat(64)),
                evidence: vec![],
            }],
            changed_forbidden_surfaces: vec![ChangedForbiddenSurface {
                boundary: "prod".into(),
                surface: "pg".into(),
                result: ProofStatus::Changed,
                evidence: artifact(
                    "forbidden-surface-proof.json",
                    "/boundaries/0/surfaces/0/status",
                ),
            }],
            declared_only_critical_surfaces: vec![DeclaredOnlyCriticalSurface {
                boundary: "secrets".into(),
                surface: "vault".into(),
                evidence: artifact("forbidden-surface-proof.json", "/blocker_facts/0/id"),
            }],
            fail_open_probes: vec![FailOpenProbe {
                probe: "user/deploy".into(),
                outcome: Outcome::FailOpen,
                token_leaked: true,
                evidence: artifact("production-bad-input-design.json", "/probes/3/outcome"),
            }],
            impossible_rehearsals: vec![ImpossibleRehearsal {
                change: "raise".into(),
                surfaces: "version".into(),
                reason: "surface version cannot be copied".into(),
                evidence: artifact("change-record.json", "/rehearsal/impossible"),
            }],
        }
    }

    #[test]
    fn derived_facts_must_cite_well_formed_evidence() {
        let mut i = all_inputs();
        i.unknown_surfaces[1].evidence.clear();
        assert_eq!(
            i.check(),
            Err("derived.unknown_surfaces[1].evidence: empty: a derived fact must cite the bytes it rests on".into())
        );
        let mut i = all_inputs();
        i.fail_open_probes[0].evidence.clear();
        assert!(
            i.check()
                .unwrap_err()
                .starts_with("derived.fail_open_probes[0].evidence")
        );
        let mut i = all_inputs();
        if let BlockerEvidence::Artifact(a) = &mut i.changed_forbidden_surfaces[0].evidence[0] {
            a.sha256 = "nope".into();
        }
        assert_eq!(
            i.check(),
            Err("derived.changed_forbidden_surfaces[0].evidence[0].sha256: expected 64 lower-case hex digits".into())
        );
        let mut i = all_inputs();
        if let BlockerEvidence::Artifact(a) = &mut i.declared_only_critical_surfaces[0].evidence[0]
        {
            a.file = "../proof.json".into();
        }
        assert!(
            i.check()
                .unwrap_err()
                .contains("declared_only_critical_surfaces[0].evidence[0].file")
        );
        let mut i = all_inputs();
        if let BlockerEvidence::Source(c) = &mut i.unknown_surfaces[0].evidence[0] {
            c.lines = Some("0-1".into());
        }
        assert!(
            i.check()
                .unwrap_err()
                .contains("unknown_surfaces[0].evidence[0]")
        );
        let mut i = all_inputs();
        i.stale_citations[0].path = "/etc/passwd".into();
        assert!(
            i.check()
                .unwrap_err()
                .starts_with("derived.stale_citations[0].path")
        );
        let mut i = all_inputs();
        i.impossible_rehearsals[0].evidence.clear();
        assert!(
            i.check()
                .unwrap_err()
                .starts_with("derived.impossible_rehearsals[0].evidence")
        );
    }

    #[test]
    fn each_list_gives_facts_of_its_kind_with_their_ids() {
        let facts = all_inputs().facts();
        let got: Vec<(&str, crate::model::fact::FactKind)> =
            facts.iter().map(|f| (f.id.as_str(), f.kind())).collect();
        use crate::model::fact::FactKind as K;
        assert_eq!(
            got,
            vec![
                ("unknown-surface:ci-seal", K::UnknownSurface),
                ("unknown-surface:ci-seal", K::UnknownSurface),
                ("stale-citation:pg:docs/pg.md:3-4", K::StaleCitation),
                (
                    "changed-forbidden-surface:prod:pg",
                    K::ChangedForbiddenSurface
                ),
                (
                    "declared-only-critical-surface:secrets:vault",
                    K::DeclaredOnlyCriticalSurface
                ),
                ("fail-open-probe:user/deploy", K::FailOpenProbe),
                ("impossible-rehearsal:raise", K::ImpossibleRehearsal),
            ]
        );
        for f in &facts {
            assert!(crate::model::fact::is_derived_id(&f.id), "{}", f.id);
        }
        assert_eq!(facts[3].surface, "pg");
        assert_eq!(facts[5].surface, "gates");
        assert_eq!(facts[6].surface, "version");
    }
}
