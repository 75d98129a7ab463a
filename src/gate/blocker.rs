//! The production blocker map: blockers declared in gates.toml plus blockers
//! derived from facts (unknown surfaces, stale citations, changed forbidden
//! surfaces, declared-only critical surfaces, fail-open probes).
//!
//! A declared blocker can be closed only by citing closing evidence; one
//! marked closed without it (or whose closing evidence no longer matches its
//! source) counts as open, and the map says why. Derived blockers are always
//! open: they go away when the fact behind them does. Their ids are
//! `<kind>:<key>` (a declared id can never contain `:`), so the same facts
//! always give the same ids.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::gate::citation::{Citation, CitationState};
use crate::gate::facts::{BlockerFact, Outcome, ProofResult};

/// How bad a blocker is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

/// Open or closed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Still blocks production.
    Open,
    /// Closed by cited closing evidence.
    Closed,
}

/// A declared blocker (`[[blocker]]` in gates.toml).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockerSpec {
    /// Id: letters, digits, `.`, `_`, `-` (e.g. `BLK-CI-SEAL`).
    pub id: String,
    /// One-line title.
    pub title: String,
    /// The surface it concerns (a surface id of the inventory).
    pub surface: String,
    /// low, medium, high or critical.
    pub severity: Severity,
    /// `open` or `closed` (closed counts only with closing evidence).
    pub status: Status,
    /// Citations showing why it blocks.
    #[serde(default)]
    pub evidence: Vec<Citation>,
    /// What closes it, in words.
    pub closes_when: String,
    /// Citations (with sha256) of the evidence that closed it.
    #[serde(default)]
    pub closing_evidence: Vec<Citation>,
}

/// Checks a declared blocker id.
pub fn check_declared_id(id: &str) -> std::result::Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.as_bytes()[0].is_ascii_alphanumeric()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(
            "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
                .into(),
        )
    }
}

/// Whether `id` has the shape of a derived blocker id (`<kind>:<key>` with a
/// known kind), so a spec may require it closed before the facts exist.
pub fn is_derived_id(id: &str) -> bool {
    id.split_once(':').is_some_and(|(kind, key)| {
        !key.is_empty()
            && [
                Kind::UnknownSurface,
                Kind::StaleCitation,
                Kind::ChangedForbiddenSurface,
                Kind::DeclaredOnlyCriticalSurface,
                Kind::FailOpenProbe,
            ]
            .iter()
            .any(|k| k.as_str() == kind)
    })
}

/// A surface whose status is `unknown` in the inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnknownSurface {
    /// Surface id.
    pub surface: String,
    /// Surface name.
    pub name: String,
}

/// A citation whose bytes no longer match its recorded sha256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StaleCitation {
    /// Who cites it (a surface or blocker id).
    pub owner: String,
    /// Cited path, relative to the source root.
    pub path: String,
    /// Cited line range, if any.
    pub lines: Option<String>,
    /// What was found instead (a hash, `missing`, ...).
    pub found: String,
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
    pub result: ProofResult,
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
}

/// Every fact blockers are derived from. All lists are required in JSON, so
/// a fact source cannot be skipped by leaving its key out.
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
}

/// Where a blocker comes from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Declared in gates.toml.
    Declared,
    /// Derived from an unknown surface.
    UnknownSurface,
    /// Derived from a stale citation.
    StaleCitation,
    /// Derived from a changed forbidden surface.
    ChangedForbiddenSurface,
    /// Derived from a critical surface only declared not contacted.
    DeclaredOnlyCriticalSurface,
    /// Derived from a probe that did not fail closed.
    FailOpenProbe,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Declared => "declared",
            Kind::UnknownSurface => "unknown-surface",
            Kind::StaleCitation => "stale-citation",
            Kind::ChangedForbiddenSurface => "changed-forbidden-surface",
            Kind::DeclaredOnlyCriticalSurface => "declared-only-critical-surface",
            Kind::FailOpenProbe => "fail-open-probe",
        }
    }
}

/// A closing citation and what checking it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckedCitation {
    /// The citation as declared.
    pub citation: Citation,
    /// What checking it against the source tree found.
    pub check: CitationState,
}

/// One blocker of the map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockerEntry {
    /// Id (`<kind>:<key>` for derived blockers).
    pub id: String,
    /// Declared, or which fact it was derived from.
    pub kind: Kind,
    /// One-line title.
    pub title: String,
    /// The surface it concerns.
    pub surface: String,
    /// Severity.
    pub severity: Severity,
    /// The status as declared (derived blockers: open).
    pub declared_status: Status,
    /// The status that counts.
    pub status: Status,
    /// Why the counting status differs from the declared one, or caveats.
    pub note: Option<String>,
    /// Citations showing why it blocks.
    pub evidence: Vec<Citation>,
    /// What closes it.
    pub closes_when: String,
    /// Closing citations and their checks.
    pub closing_evidence: Vec<CheckedCitation>,
}

/// Totals of the map.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// All blockers.
    pub total: usize,
    /// Counting as open.
    pub open: usize,
    /// Counting as closed.
    pub closed: usize,
    /// Declared in gates.toml.
    pub declared: usize,
    /// Derived from facts.
    pub derived: usize,
    /// Marked closed but counted open (no, or stale, closing evidence).
    pub closed_without_evidence: usize,
}

/// `production-blocker-map.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockerMap {
    /// Every blocker, sorted by id.
    pub blockers: Vec<BlockerEntry>,
    /// Totals.
    pub counts: Counts,
}

/// Results of checking closing citations: blocker id -> one state per
/// closing citation, in order. A blocker absent here was not checked.
pub type ClosingChecks = BTreeMap<String, Vec<CitationState>>;

impl BlockerMap {
    /// The blockers as the verdict sees them.
    pub fn facts(&self) -> Vec<BlockerFact> {
        self.blockers
            .iter()
            .map(|b| BlockerFact {
                id: b.id.clone(),
                open: b.status == Status::Open,
            })
            .collect()
    }
}

fn declared_entry(b: &BlockerSpec, checks: Option<&Vec<CitationState>>) -> BlockerEntry {
    let closing: Vec<CheckedCitation> = b
        .closing_evidence
        .iter()
        .enumerate()
        .map(|(i, c)| CheckedCitation {
            citation: c.clone(),
            check: checks
                .and_then(|v| v.get(i))
                .cloned()
                .unwrap_or(CitationState::NotChecked),
        })
        .collect();
    let (status, note) = match b.status {
        Status::Open => (Status::Open, None),
        Status::Closed if closing.is_empty() => (
            Status::Open,
            Some("marked closed without closing evidence: counts as open".to_string()),
        ),
        Status::Closed => {
            let unpinned = closing.iter().find(|c| c.citation.sha256.is_none());
            let stale = closing.iter().find_map(|c| match &c.check {
                CitationState::Stale { found } => Some((c, found)),
                _ => None,
            });
            if let Some(c) = unpinned {
                (
                    Status::Open,
                    Some(format!(
                        "marked closed, but closing evidence {} has no sha256: counts as open",
                        c.citation.path
                    )),
                )
            } else if let Some((c, found)) = stale {
                (
                    Status::Open,
                    Some(format!(
                        "marked closed, but closing evidence {} is stale ({found}): counts as open",
                        c.citation.path
                    )),
                )
            } else if closing.iter().any(|c| c.check == CitationState::NotChecked) {
                (
                    Status::Closed,
                    Some("closing evidence not checked against a source tree".to_string()),
                )
            } else {
                (Status::Closed, None)
            }
        }
    };
    BlockerEntry {
        id: b.id.clone(),
        kind: Kind::Declared,
        title: b.title.clone(),
        surface: b.surface.clone(),
        severity: b.severity,
        declared_status: b.status,
        status,
        note,
        evidence: b.evidence.clone(),
        closes_when: b.closes_when.clone(),
        closing_evidence: closing,
    }
}

fn derived(
    kind: Kind,
    key: &str,
    title: String,
    surface: &str,
    severity: Severity,
    closes_when: &str,
) -> BlockerEntry {
    BlockerEntry {
        id: format!("{}:{key}", kind.as_str()),
        kind,
        title,
        surface: surface.to_string(),
        severity,
        declared_status: Status::Open,
        status: Status::Open,
        note: None,
        evidence: vec![],
        closes_when: closes_when.to_string(),
        closing_evidence: vec![],
    }
}

/// The derived blockers for `inputs`, deduplicated and sorted by id.
pub fn derive(inputs: &DerivedInputs) -> Vec<BlockerEntry> {
    let mut out: BTreeMap<String, BlockerEntry> = BTreeMap::new();
    let mut add = |e: BlockerEntry| {
        out.entry(e.id.clone()).or_insert(e);
    };
    for u in &inputs.unknown_surfaces {
        add(derived(
            Kind::UnknownSurface,
            &u.surface,
            format!(
                "surface {} ({}) is UNKNOWN: its risk and gate are not known",
                u.name, u.surface
            ),
            &u.surface,
            Severity::High,
            "the surface is inventoried with evidence: status known, risk and required gate cited",
        ));
    }
    for s in &inputs.stale_citations {
        let key = match &s.lines {
            Some(l) => format!("{}:{}:{l}", s.owner, s.path),
            None => format!("{}:{}", s.owner, s.path),
        };
        let mut e = derived(
            Kind::StaleCitation,
            &key,
            format!(
                "citation of {} by {} is stale: {}",
                s.path, s.owner, s.found
            ),
            &s.owner,
            Severity::High,
            "the citation is re-made against the current source and its sha256 matches",
        );
        e.evidence.push(Citation {
            path: s.path.clone(),
            lines: s.lines.clone(),
            sha256: None,
        });
        add(e);
    }
    for c in &inputs.changed_forbidden_surfaces {
        let what = match c.result {
            ProofResult::AuthorizedMutationMismatch => "changed, but not to the authorized pins",
            _ => "changed",
        };
        add(derived(
            Kind::ChangedForbiddenSurface,
            &format!("{}:{}", c.boundary, c.surface),
            format!(
                "forbidden surface {} {what} (boundary {})",
                c.surface, c.boundary
            ),
            &c.surface,
            Severity::Critical,
            "the change is explained and rolled back, and a new proof shows the surface untouched",
        ));
    }
    for d in &inputs.declared_only_critical_surfaces {
        add(derived(
            Kind::DeclaredOnlyCriticalSurface,
            &format!("{}:{}", d.boundary, d.surface),
            format!(
                "critical surface {} is only declared not contacted (boundary {}): no digest proves it",
                d.surface, d.boundary
            ),
            &d.surface,
            Severity::High,
            "the surface gets a read-only snapshot method and the proof shows it UNTOUCHED",
        ));
    }
    for p in &inputs.fail_open_probes {
        let how = if p.token_leaked {
            format!("{} and leaked the pass token", p.outcome.label())
        } else {
            p.outcome.label().to_string()
        };
        add(derived(
            Kind::FailOpenProbe,
            &p.probe,
            format!("probe {} did not fail closed: {how}", p.probe),
            "gates",
            Severity::Critical,
            "the gate is fixed and the probe harness shows the probe FAIL-CLOSED",
        ));
    }
    out.into_values().collect()
}

/// Builds the map from declared blockers, derived facts and the results of
/// checking closing citations. Pure: the same inputs give the same map.
pub fn build(
    declared: &[BlockerSpec],
    inputs: &DerivedInputs,
    checks: &ClosingChecks,
) -> BlockerMap {
    let mut blockers: Vec<BlockerEntry> = declared
        .iter()
        .map(|b| declared_entry(b, checks.get(&b.id)))
        .collect();
    blockers.extend(derive(inputs));
    blockers.sort_by(|a, b| a.id.cmp(&b.id));
    let mut counts = Counts {
        total: blockers.len(),
        ..Counts::default()
    };
    for b in &blockers {
        match b.status {
            Status::Open => counts.open += 1,
            Status::Closed => counts.closed += 1,
        }
        if b.kind == Kind::Declared {
            counts.declared += 1;
        } else {
            counts.derived += 1;
        }
        if b.declared_status == Status::Closed && b.status == Status::Open {
            counts.closed_without_evidence += 1;
        }
    }
    BlockerMap { blockers, counts }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// `production-blocker-map.md`.
pub fn render_markdown(map: &BlockerMap) -> String {
    let c = &map.counts;
    let mut out = String::from("# Production blocker map\n\n");
    out.push_str(&format!(
        "{} blocker(s): {} open, {} closed; {} declared, {} derived.\n",
        c.total, c.open, c.closed, c.declared, c.derived
    ));
    if c.closed_without_evidence > 0 {
        out.push_str(&format!(
            "{} marked closed count as open: their closing evidence is missing or stale.\n",
            c.closed_without_evidence
        ));
    }
    out.push_str("\n| id | kind | severity | status | surface | title | closes when | note |\n|---|---|---|---|---|---|---|---|\n");
    for b in &map.blockers {
        let status = match (b.declared_status, b.status) {
            (Status::Closed, Status::Open) => "OPEN (marked closed)",
            (_, Status::Open) => "OPEN",
            (_, Status::Closed) => "closed",
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {status} | {} | {} | {} | {} |\n",
            b.id,
            b.kind.as_str(),
            match b.severity {
                Severity::Low => "low",
                Severity::Medium => "medium",
                Severity::High => "high",
                Severity::Critical => "critical",
            },
            cell(&b.surface),
            cell(&b.title),
            cell(&b.closes_when),
            b.note.as_deref().map(cell).unwrap_or_else(|| "-".into()),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(id: &str, status: Status, closing: Vec<Citation>) -> BlockerSpec {
        BlockerSpec {
            id: id.into(),
            title: "title".into(),
            surface: "ci".into(),
            severity: Severity::Critical,
            status,
            evidence: vec![],
            closes_when: "proof".into(),
            closing_evidence: closing,
        }
    }

    fn pinned(path: &str) -> Citation {
        Citation {
            path: path.into(),
            lines: None,
            sha256: Some("a".repeat(64)),
        }
    }

    #[test]
    fn closed_without_closing_evidence_counts_as_open_and_says_so() {
        let map = build(
            &[
                spec("B1", Status::Closed, vec![]),
                spec("B2", Status::Closed, vec![pinned("e.txt")]),
                spec("B3", Status::Open, vec![]),
            ],
            &DerivedInputs::default(),
            &ClosingChecks::new(),
        );
        let by_id = |id: &str| map.blockers.iter().find(|b| b.id == id).unwrap();
        assert_eq!(by_id("B1").status, Status::Open);
        assert!(
            by_id("B1")
                .note
                .as_deref()
                .unwrap()
                .contains("without closing evidence")
        );
        assert_eq!(by_id("B2").status, Status::Closed);
        assert!(by_id("B2").note.as_deref().unwrap().contains("not checked"));
        assert_eq!(map.counts.open, 2);
        assert_eq!(map.counts.closed_without_evidence, 1);
        let md = render_markdown(&map);
        assert!(md.contains("OPEN (marked closed)"), "{md}");
    }

    #[test]
    fn stale_or_unpinned_closing_evidence_keeps_a_blocker_open() {
        let mut checks = ClosingChecks::new();
        checks.insert(
            "B1".into(),
            vec![CitationState::Stale {
                found: "missing".into(),
            }],
        );
        checks.insert("B2".into(), vec![CitationState::Fresh]);
        let mut unpinned = pinned("u.txt");
        unpinned.sha256 = None;
        let map = build(
            &[
                spec("B1", Status::Closed, vec![pinned("e.txt")]),
                spec("B2", Status::Closed, vec![pinned("e.txt")]),
                spec("B3", Status::Closed, vec![unpinned]),
            ],
            &DerivedInputs::default(),
            &checks,
        );
        let st: Vec<(String, Status)> = map
            .blockers
            .iter()
            .map(|b| (b.id.clone(), b.status))
            .collect();
        assert_eq!(
            st,
            vec![
                ("B1".into(), Status::Open),
                ("B2".into(), Status::Closed),
                ("B3".into(), Status::Open)
            ]
        );
        assert_eq!(map.blockers[1].note, None);
    }

    #[test]
    fn derived_blockers_are_deterministic_deduplicated_and_open() {
        let inputs = DerivedInputs {
            unknown_surfaces: vec![
                UnknownSurface {
                    surface: "ci-seal".into(),
                    name: "CI seal".into(),
                },
                UnknownSurface {
                    surface: "ci-seal".into(),
                    name: "CI seal".into(),
                },
            ],
            stale_citations: vec![StaleCitation {
                owner: "pg".into(),
                path: "docs/pg.md".into(),
                lines: Some("3-4".into()),
                found: "missing".into(),
            }],
            changed_forbidden_surfaces: vec![ChangedForbiddenSurface {
                boundary: "prod".into(),
                surface: "pg".into(),
                result: ProofResult::Changed,
            }],
            declared_only_critical_surfaces: vec![DeclaredOnlyCriticalSurface {
                boundary: "secrets".into(),
                surface: "vault".into(),
            }],
            fail_open_probes: vec![FailOpenProbe {
                probe: "user/deploy".into(),
                outcome: Outcome::FailOpen,
                token_leaked: true,
            }],
        };
        let a = build(&[], &inputs, &ClosingChecks::new());
        let b = build(&[], &inputs, &ClosingChecks::new());
        assert_eq!(a, b);
        let ids: Vec<&str> = a.blockers.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(
            ids,
            vec![
                "changed-forbidden-surface:prod:pg",
                "declared-only-critical-surface:secrets:vault",
                "fail-open-probe:user/deploy",
                "stale-citation:pg:docs/pg.md:3-4",
                "unknown-surface:ci-seal",
            ]
        );
        assert!(a.blockers.iter().all(|b| b.status == Status::Open));
        assert_eq!(a.counts.derived, 5);
        assert!(a.blockers[2].title.contains("leaked"));
    }

    #[test]
    fn derived_id_shapes_are_recognized() {
        assert!(is_derived_id("unknown-surface:ci"));
        assert!(is_derived_id("fail-open-probe:user/x"));
        for bad in ["unknown-surface:", "nonsense:x", "declared:x", "BLK-1", ""] {
            assert!(!is_derived_id(bad), "{bad}");
        }
    }

    #[test]
    fn declared_ids_cannot_look_derived() {
        assert!(check_declared_id("BLK-1.a_b").is_ok());
        for bad in ["", "unknown-surface:x", "-a", "a b", "a/b"] {
            assert!(check_declared_id(bad).is_err(), "{bad}");
        }
    }
}
