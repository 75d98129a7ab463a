//! The production blocker map: blockers declared in gates.toml plus blockers
//! derived from facts (unknown surfaces, stale citations, changed forbidden
//! surfaces, declared-only critical surfaces, fail-open probes, governed
//! changes whose rehearsal on a copy was impossible).
//!
//! Whether a blocker counts as open is never read from a stored `status`:
//! it is recomputed from the entry's own facts by [`closed_by_evidence`]. A
//! blocker counts as closed only when it is declared, declared closed, and
//! cites closing evidence in which every citation is pinned by a sha256 and
//! was checked fresh against the source tree; anything else, including
//! evidence that was not checked, counts as open, and the map says why.
//! Derived blockers are always open: they go away when the fact behind them
//! does. Their ids are `<kind>:<key>` (a declared id can never contain `:`),
//! built by [`crate::model::fact`], so the same facts always give the same
//! ids.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::gate::citation::{BlockerEvidence, Citation, CitationState, GateFact};
use crate::gate::facts::BlockerFact;
use crate::model::fact::{FactDetail, FactKind};
use crate::model::level::Level;

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

impl Status {
    /// The spelling used in JSON and TOML.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Closed => "closed",
        }
    }
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
    pub severity: Level,
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

/// Where a blocker comes from: declared in gates.toml, or derived from a
/// fact of one kind ([`FactKind`], which spells the derived kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Declared in gates.toml.
    Declared,
    /// Derived from a fact of this kind.
    Derived(FactKind),
}

impl Kind {
    /// The spelling used in JSON and in derived ids (`declared`,
    /// `unknown-surface`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Declared => "declared",
            Kind::Derived(k) => k.as_str(),
        }
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == Kind::Declared.as_str() {
            return Ok(Kind::Declared);
        }
        FactKind::deserialize(serde::de::value::StrDeserializer::<D::Error>::new(&s))
            .map(Kind::Derived)
    }
}

impl JsonSchema for Kind {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Kind".into()
    }

    /// `declared`, or one of [`FactKind`]'s spellings (with its
    /// descriptions).
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut derived = FactKind::json_schema(generator);
        let mut one_of = vec![serde_json::json!({
            "const": Kind::Declared.as_str(),
            "description": "Declared in gates.toml.",
            "type": "string",
        })];
        if let Some(serde_json::Value::Array(kinds)) =
            derived.as_object_mut().and_then(|o| o.remove("oneOf"))
        {
            one_of.extend(kinds);
        }
        schemars::json_schema!({
            "description": "Where a blocker comes from.",
            "oneOf": one_of,
        })
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
    pub severity: Level,
    /// The status as declared (derived blockers: open).
    pub declared_status: Status,
    /// The status its facts give, as computed when the map was built.
    /// Readers never trust it: they recompute it from the entry's kind, id,
    /// declared status and closing evidence (open unless every closing
    /// citation is pinned and checked fresh).
    pub status: Status,
    /// Why the counting status differs from the declared one, or caveats.
    pub note: Option<String>,
    /// What it rests on: for a declared blocker its gates.toml `evidence`,
    /// for a derived one the bytes of the fact behind it.
    pub evidence: Vec<BlockerEvidence>,
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

/// Why a blocker with these facts counts as open (`Err`), or `Ok` when its
/// facts establish that it is closed: it is declared (kind and id), declared
/// closed, and has closing evidence in which every citation carries a
/// well-formed sha256 and was checked fresh. The one place that decides;
/// [`build`] and [`BlockerMap::facts`] both ask it, so a stored `status`
/// (in a hand-edited `production-blocker-map.json`, say) is never trusted.
pub fn closed_by_evidence(
    kind: Kind,
    id: &str,
    declared_status: Status,
    closing: &[CheckedCitation],
) -> std::result::Result<(), String> {
    if kind != Kind::Declared {
        return Err("derived from a fact: open until the fact is gone".into());
    }
    if check_declared_id(id).is_err() {
        return Err(format!(
            "{id:?} is not a declared blocker id: counts as open"
        ));
    }
    if declared_status == Status::Open {
        return Err("declared open".into());
    }
    if closing.is_empty() {
        return Err("marked closed without closing evidence: counts as open".into());
    }
    for c in closing {
        let at = c.citation.location();
        match (&c.citation.sha256, &c.check) {
            (None, _) => {
                return Err(format!(
                    "marked closed, but closing evidence {at} has no sha256: counts as open"
                ));
            }
            (Some(h), _) if !crate::seal::is_sha256_hex(h) => {
                return Err(format!(
                    "marked closed, but closing evidence {at} has a malformed sha256: counts as open"
                ));
            }
            (Some(_), CitationState::Stale { found }) => {
                return Err(format!(
                    "marked closed, but closing evidence {at} is stale ({found}): counts as open"
                ));
            }
            (Some(_), CitationState::NotChecked) => {
                return Err(format!(
                    "marked closed, but closing evidence {at} was not checked against a source tree: counts as open"
                ));
            }
            (Some(_), CitationState::Fresh) => {}
        }
    }
    Ok(())
}

impl BlockerEntry {
    /// Whether this blocker counts as open, recomputed from its facts (see
    /// [`closed_by_evidence`]); a stored `status` of open is kept, a stored
    /// closed is believed only when the facts establish it.
    pub fn counts_open(&self) -> bool {
        self.status == Status::Open
            || closed_by_evidence(
                self.kind,
                &self.id,
                self.declared_status,
                &self.closing_evidence,
            )
            .is_err()
    }
}

impl BlockerMap {
    /// The blockers as the verdict sees them, each open unless its own facts
    /// establish that it is closed ([`BlockerEntry::counts_open`]).
    pub fn facts(&self) -> Vec<BlockerFact> {
        self.blockers
            .iter()
            .map(|b| BlockerFact {
                id: b.id.clone(),
                open: b.counts_open(),
            })
            .collect()
    }

    /// The totals recomputed from the entries' facts (never from their
    /// stored `status` or the stored `counts`).
    pub fn recount(&self) -> Counts {
        let mut counts = Counts {
            total: self.blockers.len(),
            ..Counts::default()
        };
        for b in &self.blockers {
            let open = b.counts_open();
            if open {
                counts.open += 1;
            } else {
                counts.closed += 1;
            }
            if b.kind == Kind::Declared {
                counts.declared += 1;
            } else {
                counts.derived += 1;
            }
            if b.declared_status == Status::Closed && open {
                counts.closed_without_evidence += 1;
            }
        }
        counts
    }

    /// Where the map's stored statuses or counts disagree with what its
    /// facts give (empty for a map [`build`] made). A map that disagrees was
    /// edited by hand; readers use [`BlockerMap::facts`] and
    /// [`BlockerMap::recount`] either way.
    pub fn inconsistencies(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, b) in self.blockers.iter().enumerate() {
            let open = b.counts_open();
            if (b.status == Status::Open) != open {
                out.push(format!(
                    "blockers[{i}] ({}): status is {}, its facts give {}",
                    b.id,
                    b.status.as_str(),
                    if open { "open" } else { "closed" }
                ));
            }
        }
        if self.counts != self.recount() {
            out.push("counts: differ from the counts of the entries' facts".into());
        }
        out
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
    let (status, note) = match closed_by_evidence(Kind::Declared, &b.id, b.status, &closing) {
        Ok(()) => (Status::Closed, None),
        Err(_) if b.status == Status::Open => (Status::Open, None),
        Err(why) => (Status::Open, Some(why)),
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
        evidence: b
            .evidence
            .iter()
            .cloned()
            .map(BlockerEvidence::Source)
            .collect(),
        closes_when: b.closes_when.clone(),
        closing_evidence: closing,
    }
}

/// The derived blockers of `facts`, deduplicated (the first fact of an id
/// wins) and sorted by id. Ids are the facts' own (built by
/// [`crate::model::fact`]), so the id of a fact in an inventory or the
/// proof is the id of its blocker here; the title, severity and closing
/// condition are its kind's. A stale citation cites itself first, with the
/// hash it recorded. Each is always open, and says so when its fact cites
/// nothing.
pub fn derive(facts: &[GateFact]) -> Vec<BlockerEntry> {
    let mut out: BTreeMap<String, BlockerEntry> = BTreeMap::new();
    for f in facts {
        if out.contains_key(&f.id) {
            continue;
        }
        let kind = f.kind();
        let mut evidence = Vec::new();
        if let FactDetail::StaleCitation {
            path,
            lines,
            sha256,
            ..
        } = &f.detail
        {
            evidence.push(BlockerEvidence::Source(Citation {
                path: path.clone(),
                lines: lines.clone(),
                sha256: sha256.clone(),
            }));
        }
        evidence.extend(f.evidence.iter().cloned());
        let entry = BlockerEntry {
            id: f.id.clone(),
            kind: Kind::Derived(kind),
            title: f.blocker_title(),
            surface: f.blocker_surface().to_string(),
            severity: kind.severity(),
            declared_status: Status::Open,
            status: Status::Open,
            note: evidence
                .is_empty()
                .then(|| "no evidence was given for the fact behind it".to_string()),
            evidence,
            closes_when: kind.closes_when().to_string(),
            closing_evidence: vec![],
        };
        out.insert(f.id.clone(), entry);
    }
    out.into_values().collect()
}

/// Builds the map from declared blockers, derived facts and the results of
/// checking closing citations. Pure: the same inputs give the same map.
pub fn build(declared: &[BlockerSpec], facts: &[GateFact], checks: &ClosingChecks) -> BlockerMap {
    let mut blockers: Vec<BlockerEntry> = declared
        .iter()
        .map(|b| declared_entry(b, checks.get(&b.id)))
        .collect();
    blockers.extend(derive(facts));
    blockers.sort_by(|a, b| a.id.cmp(&b.id));
    let mut map = BlockerMap {
        blockers,
        counts: Counts::default(),
    };
    map.counts = map.recount();
    map
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// `production-blocker-map.md`.
pub fn render_markdown(map: &BlockerMap) -> String {
    let c = &map.recount();
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
    out.push_str("\n| id | kind | severity | status | surface | title | cites | closes when | note |\n|---|---|---|---|---|---|---|---|---|\n");
    for b in &map.blockers {
        let status = match (b.declared_status, b.counts_open()) {
            (Status::Closed, true) => "OPEN (marked closed)",
            (_, true) => "OPEN",
            (_, false) => "closed",
        };
        let cites: Vec<String> = b
            .evidence
            .iter()
            .map(|e| format!("`{}`", cell(&e.location())))
            .collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {status} | {} | {} | {} | {} | {} |\n",
            b.id,
            b.kind.as_str(),
            b.severity.as_str(),
            cell(&b.surface),
            cell(&b.title),
            if cites.is_empty() {
                "-".to_string()
            } else {
                cites.join("<br>")
            },
            cell(&b.closes_when),
            b.note.as_deref().map(cell).unwrap_or_else(|| "-".into()),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::facts_file::tests::{all_inputs, pinned, source};
    use crate::gate::facts_file::{DerivedInputs, UnknownSurface};
    use crate::model::fact::{is_derived_id, stale_citation_id};

    fn spec(id: &str, status: Status, closing: Vec<Citation>) -> BlockerSpec {
        BlockerSpec {
            id: id.into(),
            title: "title".into(),
            surface: "ci".into(),
            severity: Level::Critical,
            status,
            evidence: vec![],
            closes_when: "proof".into(),
            closing_evidence: closing,
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
            &[],
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
        // Closing evidence that was never checked establishes nothing.
        assert_eq!(by_id("B2").status, Status::Open);
        assert!(by_id("B2").note.as_deref().unwrap().contains("not checked"));
        assert_eq!(map.counts.open, 3);
        assert_eq!(map.counts.closed_without_evidence, 2);
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
            &[],
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
    fn derived_blockers_are_deterministic_deduplicated_open_and_cited() {
        let inputs = all_inputs();
        assert_eq!(inputs.check(), Ok(()));
        let a = build(&[], &inputs.facts(), &ClosingChecks::new());
        let b = build(&[], &inputs.facts(), &ClosingChecks::new());
        assert_eq!(a, b);
        let ids: Vec<&str> = a.blockers.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(
            ids,
            vec![
                "changed-forbidden-surface:prod:pg",
                "declared-only-critical-surface:secrets:vault",
                "fail-open-probe:user/deploy",
                "impossible-rehearsal:raise",
                "stale-citation:pg:docs/pg.md:3-4",
                "unknown-surface:ci-seal",
            ]
        );
        assert!(a.blockers.iter().all(|b| b.status == Status::Open));
        assert!(a.blockers.iter().all(|b| b.counts_open()));
        assert_eq!(a.counts.derived, 6);
        assert!(a.blockers[2].title.contains("leaked"));
        assert_eq!(a.blockers[3].severity, Level::Critical);
        assert_eq!(
            a.blockers[3].evidence,
            inputs.impossible_rehearsals[0].evidence
        );
        assert!(a.blockers[3].title.contains("could not be rehearsed"));
        // Every derived blocker cites what its fact rests on.
        for b in &a.blockers {
            assert!(!b.evidence.is_empty(), "{}", b.id);
            assert_eq!(b.note, None, "{}", b.id);
        }
        let md = render_markdown(&a);
        assert!(
            md.contains("| `forbidden-surface-proof.json#/boundaries/0/surfaces/0/status` |")
                && md.contains("| `docs/pg.md:3-4` |")
                && md.contains("| `ci/seal.md` |"),
            "{md}"
        );
        assert_eq!(
            a.blockers[0].evidence,
            inputs.changed_forbidden_surfaces[0].evidence
        );
        assert_eq!(a.blockers[2].evidence, inputs.fail_open_probes[0].evidence);
        assert_eq!(a.blockers[5].evidence, inputs.unknown_surfaces[0].evidence);
        // A stale citation cites itself, with the hash it recorded.
        assert_eq!(
            a.blockers[4].evidence,
            vec![BlockerEvidence::Source(Citation {
                path: "docs/pg.md".into(),
                lines: Some("3-4".into()),
                sha256: Some("c".repeat(64)),
            })]
        );
        // A one-line range has one spelling in the id, whichever was given.
        let mut one = all_inputs();
        one.stale_citations[0].lines = Some("7-7".into());
        let m = build(&[], &one.facts(), &ClosingChecks::new());
        assert!(
            m.blockers
                .iter()
                .any(|b| b.id == "stale-citation:pg:docs/pg.md:7"),
            "{:?}",
            m.blockers.iter().map(|b| &b.id).collect::<Vec<_>>()
        );
        assert_eq!(
            stale_citation_id(
                "pg",
                "docs/pg.md",
                Some(&crate::surface::LineRange { first: 7, last: 7 }.to_string())
            ),
            "stale-citation:pg:docs/pg.md:7"
        );
        // An uncited fact still derives an open blocker, and says so.
        let mut bare = all_inputs();
        bare.unknown_surfaces[0].evidence.clear();
        bare.unknown_surfaces.truncate(1);
        let m = build(&[], &bare.facts(), &ClosingChecks::new());
        let u = m
            .blockers
            .iter()
            .find(|b| b.kind == Kind::Derived(FactKind::UnknownSurface))
            .unwrap();
        assert!(u.counts_open() && u.note.as_deref().is_some_and(|n| n.contains("no evidence")));
    }

    #[test]
    fn gate_and_surface_spell_the_kinds_alike() {
        for f in FactKind::ALL {
            let g = Kind::Derived(f);
            assert_eq!(g.as_str(), f.as_str());
            assert_eq!(
                serde_json::to_value(g).unwrap(),
                serde_json::to_value(f).unwrap()
            );
            assert_eq!(
                serde_json::from_value::<Kind>(f.as_str().into()).unwrap(),
                g
            );
        }
        assert_eq!(serde_json::to_value(Kind::Declared).unwrap(), "declared");
        assert_eq!(
            serde_json::from_value::<Kind>("declared".into()).unwrap(),
            Kind::Declared
        );
        let e = serde_json::from_value::<Kind>("changed-surface".into()).unwrap_err();
        assert!(e.to_string().contains("unknown variant"), "{e}");
    }

    /// A map whose `status` fields (and counts) were edited by hand to
    /// "closed" still counts every blocker its facts do not close as open.
    #[test]
    fn a_hand_edited_map_cannot_close_a_blocker() {
        let mut checks = ClosingChecks::new();
        checks.insert("FRESH".into(), vec![CitationState::Fresh]);
        checks.insert(
            "STALE".into(),
            vec![CitationState::Stale {
                found: "missing".into(),
            }],
        );
        let inputs = DerivedInputs {
            unknown_surfaces: vec![UnknownSurface {
                surface: "ci-seal".into(),
                name: "CI seal".into(),
                evidence: source("ci/seal.md"),
            }],
            ..DerivedInputs::default()
        };
        let built = build(
            &[
                spec("FRESH", Status::Closed, vec![pinned("e.txt")]),
                spec("STALE", Status::Closed, vec![pinned("e.txt")]),
                spec("UNCHECKED", Status::Closed, vec![pinned("e.txt")]),
                spec("NONE", Status::Closed, vec![]),
                spec("OPEN", Status::Open, vec![pinned("e.txt")]),
            ],
            &inputs.facts(),
            &checks,
        );
        assert!(
            built.inconsistencies().is_empty(),
            "{:?}",
            built.inconsistencies()
        );
        let closed_ids = |m: &BlockerMap| -> Vec<String> {
            m.facts()
                .into_iter()
                .filter(|f| !f.open)
                .map(|f| f.id)
                .collect()
        };
        assert_eq!(closed_ids(&built), vec!["FRESH".to_string()]);

        // Every status, declared status and count edited to "closed".
        let mut v = serde_json::to_value(&built).unwrap();
        for b in v["blockers"].as_array_mut().unwrap() {
            b["status"] = "closed".into();
            b["declared_status"] = "closed".into();
            b["note"] = serde_json::Value::Null;
        }
        v["counts"]["open"] = 0.into();
        v["counts"]["closed"] = 6.into();
        let edited: BlockerMap = crate::canonical::from_slice_strict(
            &crate::canonical::value_to_bytes(&v),
            "map".as_ref(),
        )
        .unwrap();
        assert_eq!(closed_ids(&edited), vec!["FRESH".to_string()]);
        let (c, want) = (edited.recount(), built.recount());
        assert_eq!((c.open, c.closed), (want.open, want.closed));
        assert_eq!(c.open, 5);
        assert!(render_markdown(&edited).contains("5 open, 1 closed"));
        let bad = edited.inconsistencies();
        assert_eq!(bad.len(), 6, "five statuses and the counts: {bad:?}");
        assert!(
            bad.iter().any(|b| b.contains("unknown-surface:ci-seal")),
            "{bad:?}"
        );

        // Closing facts forged too: a derived blocker relabelled declared
        // with fresh closing evidence, and a stale check relabelled fresh
        // on a citation without a sha256.
        let forged = CheckedCitation {
            citation: pinned("e.txt"),
            check: CitationState::Fresh,
        };
        let mut e = edited.clone();
        for b in &mut e.blockers {
            b.kind = Kind::Declared;
            b.closing_evidence = vec![forged.clone()];
        }
        let i = e.blockers.iter().position(|b| b.id == "STALE").unwrap();
        e.blockers[i].closing_evidence[0].citation.sha256 = None;
        let j = e.blockers.iter().position(|b| b.id == "NONE").unwrap();
        e.blockers[j].closing_evidence[0].citation.sha256 = Some("x".into());
        let k = e.blockers.iter().position(|b| b.id == "OPEN").unwrap();
        e.blockers[k].status = Status::Open;
        let mut still_closed = closed_ids(&e);
        still_closed.sort();
        // Only entries whose own facts now say declared + closed + pinned +
        // fresh count as closed; the derived id never does, nor does a
        // stored open status.
        assert_eq!(
            still_closed,
            vec!["FRESH".to_string(), "UNCHECKED".to_string()]
        );
        assert!(
            e.facts()
                .iter()
                .any(|f| f.id == "unknown-surface:ci-seal" && f.open)
        );
    }

    #[test]
    fn derived_id_shapes_are_recognized() {
        for good in [
            "unknown-surface:ci",
            "fail-open-probe:user/x",
            "stale-citation:pg:docs/pg.md",
            "stale-citation:pg:docs/pg.md:3-9",
            "changed-forbidden-surface:no-production-mutation:prod-pg",
            "declared-only-critical-surface:no-secrets-change:secrets-vault",
            "impossible-rehearsal:raise-pool",
        ] {
            assert!(is_derived_id(good), "{good}");
        }
        for bad in [
            "unknown-surface:",
            "unknown-surface:a:b",
            "nonsense:x",
            "declared:x",
            "BLK-1",
            "",
            "changed-surface:pg",
            "changed-forbidden-surface:pg",
            "changed-forbidden-surface:b::pg",
            "declared-only-critical:secrets",
            "declared-only-critical-surface:secrets",
            "stale-citation:pg",
            "stale-citation:pg:docs/pg.md:evidence[0]:",
            "fail-open-probe:x",
            "fail-open-probe:/x",
            "impossible-rehearsal:",
            "impossible-rehearsal:a:b",
        ] {
            assert!(!is_derived_id(bad), "{bad}");
        }
        // Every id derive() gives is one a spec may name.
        for b in derive(&all_inputs().facts()) {
            assert!(is_derived_id(&b.id), "{}", b.id);
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
