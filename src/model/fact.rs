//! The derived fact: what the evidence says still blocks production, the
//! one type the surface module lists, the probe harness and a governed
//! change report, and the gate module turns into blockers. Its kind
//! ([`FactKind`]), its id scheme (the builders below and
//! [`is_derived_id`]), its evidence ([`FactEvidence`]) and what each kind
//! records ([`FactDetail`]) live here and nowhere else.
//!
//! Ids are `<kind>:<key>`, the same id in an inventory, the proof and the
//! blocker map (and in a decision option's `requires_closed`):
//!
//! | kind | id |
//! |---|---|
//! | unknown surface | `unknown-surface:<surface>` |
//! | stale citation | `stale-citation:<owner>:<path>[:<lines>]` |
//! | changed forbidden surface | `changed-forbidden-surface:<boundary>:<surface>` |
//! | declared-only critical surface | `declared-only-critical-surface:<boundary>:<surface>` |
//! | fail-open probe (from the probe report) | `fail-open-probe:<class>/<name>` |
//! | impossible rehearsal (from the change record) | `impossible-rehearsal:<change>` |
//!
//! The `<owner>` of a stale citation is the surface citing it, or
//! [`PACKET_OWNER`] when the inventory itself is missing or malformed (its
//! `<path>` is then the inventory's file name). The functions below are the
//! only place these ids are spelled.
//!
//! A fact is generic over the shape of its source citations: the surface
//! module's facts cite the inventory's pinned citations
//! (`surface::citation::Citation`), the gate module's cite the shape
//! gates.toml writes (`gate::citation::Citation`).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize, Serializer};

use super::level::Level;
use super::outcome::Outcome;
use super::proof::ProofStatus;

/// The kinds of derived facts, each the kind of the blocker derived from it.
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
    /// A bad-input probe that did not fail closed.
    FailOpenProbe,
    /// A governed change whose rehearsal on a copy could not be made.
    ImpossibleRehearsal,
}

impl FactKind {
    /// Every kind, in the order above.
    pub const ALL: [FactKind; 6] = [
        FactKind::UnknownSurface,
        FactKind::StaleCitation,
        FactKind::ChangedForbiddenSurface,
        FactKind::DeclaredOnlyCriticalSurface,
        FactKind::FailOpenProbe,
        FactKind::ImpossibleRehearsal,
    ];

    /// The spelling used in JSON and as the first part of the fact's id.
    pub fn as_str(self) -> &'static str {
        match self {
            FactKind::UnknownSurface => "unknown-surface",
            FactKind::StaleCitation => "stale-citation",
            FactKind::ChangedForbiddenSurface => "changed-forbidden-surface",
            FactKind::DeclaredOnlyCriticalSurface => "declared-only-critical-surface",
            FactKind::FailOpenProbe => "fail-open-probe",
            FactKind::ImpossibleRehearsal => "impossible-rehearsal",
        }
    }

    /// The kind spelled `s` ([`FactKind::as_str`]), if any.
    pub fn parse(s: &str) -> Option<FactKind> {
        FactKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the surface module derives facts of this kind (the kinds the
    /// surface files may name; the others come from the probe report and
    /// the change record).
    pub fn derived_by_surface(self) -> bool {
        matches!(
            self,
            FactKind::UnknownSurface
                | FactKind::StaleCitation
                | FactKind::ChangedForbiddenSurface
                | FactKind::DeclaredOnlyCriticalSurface
        )
    }

    /// The severity of the blocker derived from a fact of this kind.
    pub fn severity(self) -> Level {
        match self {
            FactKind::UnknownSurface
            | FactKind::StaleCitation
            | FactKind::DeclaredOnlyCriticalSurface => Level::High,
            FactKind::ChangedForbiddenSurface
            | FactKind::FailOpenProbe
            | FactKind::ImpossibleRehearsal => Level::Critical,
        }
    }

    /// What makes a fact of this kind go away (and so closes its blocker).
    pub fn closes_when(self) -> &'static str {
        match self {
            FactKind::UnknownSurface => {
                "the surface is inventoried with evidence: status known, risk and required gate cited"
            }
            FactKind::StaleCitation => {
                "the citation is re-made against the current source and its sha256 matches"
            }
            FactKind::ChangedForbiddenSurface => {
                "the change is explained and rolled back, and a new proof shows the surface untouched"
            }
            FactKind::DeclaredOnlyCriticalSurface => {
                "the surface gets a read-only snapshot method and the proof shows it UNTOUCHED"
            }
            FactKind::FailOpenProbe => {
                "the gate is fixed and the probe harness shows the probe FAIL-CLOSED"
            }
            FactKind::ImpossibleRehearsal => {
                "every surface the change may change can be copied, and a rehearsal on the copies passes"
            }
        }
    }
}

fn id(kind: FactKind, key: &str) -> String {
    format!("{}:{key}", kind.as_str())
}

/// The id of the unknown-surface fact (and blocker) of `surface`.
pub fn unknown_surface_id(surface: &str) -> String {
    id(FactKind::UnknownSurface, surface)
}

/// The id of the stale-citation fact (and blocker) of `owner`'s citation of
/// `path` (and `lines`, when it cites a range).
pub fn stale_citation_id(owner: &str, path: &str, lines: Option<&str>) -> String {
    match lines {
        Some(l) => id(FactKind::StaleCitation, &format!("{owner}:{path}:{l}")),
        None => id(FactKind::StaleCitation, &format!("{owner}:{path}")),
    }
}

/// The id of the fact (and blocker) that `surface`, forbidden by `boundary`,
/// changed.
pub fn changed_forbidden_surface_id(boundary: &str, surface: &str) -> String {
    id(
        FactKind::ChangedForbiddenSurface,
        &format!("{boundary}:{surface}"),
    )
}

/// The id of the fact (and blocker) that `surface`, forbidden by `boundary`,
/// is only declared not contacted while the policy requires a digest.
pub fn declared_only_critical_surface_id(boundary: &str, surface: &str) -> String {
    id(
        FactKind::DeclaredOnlyCriticalSurface,
        &format!("{boundary}:{surface}"),
    )
}

/// The id of the fact (and blocker) that `probe` (`<class>/<name>`) did not
/// fail closed.
pub fn fail_open_probe_id(probe: &str) -> String {
    id(FactKind::FailOpenProbe, probe)
}

/// The id of the fact (and blocker) that `change` could not be rehearsed.
pub fn impossible_rehearsal_id(change: &str) -> String {
    id(FactKind::ImpossibleRehearsal, change)
}

/// Whether `id` has the shape of a derived id, so a spec may require its
/// blocker closed before the facts exist: a known kind and the key parts
/// that kind has (see the module documentation), none of them empty. An id
/// of a shape no fact can have (an old `changed-surface:x`, a boundary left
/// out) would make an option wait on nothing that can ever close, so it is
/// refused.
pub fn is_derived_id(id: &str) -> bool {
    let Some((kind, key)) = id.split_once(':') else {
        return false;
    };
    let parts: Vec<&str> = key.split(':').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return false;
    }
    match FactKind::parse(kind) {
        Some(FactKind::UnknownSurface | FactKind::ImpossibleRehearsal) => parts.len() == 1,
        Some(FactKind::ChangedForbiddenSurface | FactKind::DeclaredOnlyCriticalSurface) => {
            parts.len() == 2
        }
        // A path may itself hold ':'.
        Some(FactKind::StaleCitation) => parts.len() >= 2,
        Some(FactKind::FailOpenProbe) => {
            parts.len() == 1
                && key
                    .split_once('/')
                    .is_some_and(|(c, n)| !c.is_empty() && !n.is_empty())
        }
        None => false,
    }
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
//
// (The doc comments here are the schemas' descriptions.) The blocker
// derived from a fact cites the same evidence, and a declared blocker cites
// its gates.toml `evidence` as source bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[schemars(rename = "FactEvidence")]
pub enum FactEvidence<C> {
    /// Bytes of the source tree: path, lines and their sha256.
    Source(C),
    /// A value in a packet or spec file, pinned by the file's sha256.
    Artifact(ArtifactCitation),
}

impl<C> FactEvidence<C> {
    /// The same evidence with its source citation converted by `f` (from
    /// the inventory's shape to the blocker map's, say).
    pub fn map_source<D>(self, f: impl FnOnce(C) -> D) -> FactEvidence<D> {
        match self {
            FactEvidence::Source(c) => FactEvidence::Source(f(c)),
            FactEvidence::Artifact(a) => FactEvidence::Artifact(a),
        }
    }
}

/// What a fact of each kind records beyond its id, surface, title and
/// evidence: what its blocker's title says. The variant is the fact's kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactDetail {
    /// A surface whose status is `unknown`.
    UnknownSurface {
        /// The surface's name, when the source of the fact gives it (the
        /// gates facts file does; an inventory's fact does not, and the
        /// packet takes it from surfaces.toml). Without it the blocker names
        /// the surface by its id.
        name: Option<String>,
    },
    /// A citation whose bytes no longer match its recorded sha256.
    StaleCitation {
        /// Who cites it (a surface or blocker id; [`PACKET_OWNER`] for an
        /// inventory file itself).
        owner: String,
        /// Cited path, relative to the source root.
        path: String,
        /// Cited line range, if any, as recorded.
        lines: Option<String>,
        /// What was found instead (a hash, `missing`, ...).
        found: String,
        /// The sha256 the citation recorded, if any.
        sha256: Option<String>,
    },
    /// A forbidden surface the proof found changed (or changed off its pins).
    ChangedForbiddenSurface {
        /// The boundary that forbids it.
        boundary: String,
        /// `CHANGED`, `AUTHORIZED_MUTATION_MISMATCH` or
        /// `AUTHORIZED_CHANGE_OUTSIDE_SCOPE`.
        status: ProofStatus,
    },
    /// A critical surface only declared not contacted.
    DeclaredOnlyCriticalSurface {
        /// The boundary that forbids it.
        boundary: String,
        /// Its status in the proof (`DECLARED_NOT_CONTACTED`).
        status: ProofStatus,
    },
    /// A probe that did not fail closed.
    FailOpenProbe {
        /// Probe id, `<class>/<name>`.
        probe: String,
        /// How it ended.
        outcome: Outcome,
        /// The pass token appeared in its output.
        token_leaked: bool,
    },
    /// A governed change whose rehearsal on a copy could not be made.
    ImpossibleRehearsal {
        /// The change's id.
        change: String,
        /// Why, as the change record says.
        reason: String,
    },
}

impl FactDetail {
    /// The kind of fact this detail belongs to.
    pub fn kind(&self) -> FactKind {
        match self {
            FactDetail::UnknownSurface { .. } => FactKind::UnknownSurface,
            FactDetail::StaleCitation { .. } => FactKind::StaleCitation,
            FactDetail::ChangedForbiddenSurface { .. } => FactKind::ChangedForbiddenSurface,
            FactDetail::DeclaredOnlyCriticalSurface { .. } => FactKind::DeclaredOnlyCriticalSurface,
            FactDetail::FailOpenProbe { .. } => FactKind::FailOpenProbe,
            FactDetail::ImpossibleRehearsal { .. } => FactKind::ImpossibleRehearsal,
        }
    }
}

/// One fact a blocker is derived from. Its kind is its detail's
/// ([`DerivedFact::kind`]); build its id with the builders of this module.
///
/// In JSON (an inventory's `unknown_surfaces`, the proof's
/// `blocker_facts`) a fact is the record `{id, kind, surface, boundary?,
/// status?, title, evidence}`: the kinds the surface module writes. A fact
/// whose detail that record cannot hold (a stale citation, a probe, a
/// change, an unknown surface's name) is refused when written, never
/// written without its detail.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "FactRecord<C>")]
pub struct DerivedFact<C> {
    /// `<kind>:<key>` (see the module documentation).
    pub id: String,
    /// The surface it is about (for a stale citation, the citing surface,
    /// empty when the inventory itself is at fault; for a probe, `gates`;
    /// for a change, the surfaces it may change, joined by `, `).
    pub surface: String,
    /// One line saying what blocks, in the words of whoever found it.
    pub title: String,
    /// The bytes it rests on.
    pub evidence: Vec<FactEvidence<C>>,
    /// What its kind records.
    pub detail: FactDetail,
}

impl<C> DerivedFact<C> {
    /// A fact whose title is its blocker's ([`DerivedFact::blocker_title`]):
    /// for facts no module words on its own (a probe, a change, the gates
    /// facts file).
    pub fn new(
        id: String,
        surface: String,
        evidence: Vec<FactEvidence<C>>,
        detail: FactDetail,
    ) -> Self {
        let mut f = DerivedFact {
            id,
            surface,
            title: String::new(),
            evidence,
            detail,
        };
        f.title = f.blocker_title();
        f
    }

    /// What kind of fact.
    pub fn kind(&self) -> FactKind {
        self.detail.kind()
    }

    /// The boundary that forbids the surface (changed and declared-only
    /// facts).
    pub fn boundary(&self) -> Option<&str> {
        match &self.detail {
            FactDetail::ChangedForbiddenSurface { boundary, .. }
            | FactDetail::DeclaredOnlyCriticalSurface { boundary, .. } => Some(boundary),
            _ => None,
        }
    }

    /// The surface's status in the proof (changed and declared-only facts).
    pub fn status(&self) -> Option<ProofStatus> {
        match &self.detail {
            FactDetail::ChangedForbiddenSurface { status, .. }
            | FactDetail::DeclaredOnlyCriticalSurface { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The surface its blocker concerns: the owner of a stale citation, the
    /// fact's surface otherwise.
    pub fn blocker_surface(&self) -> &str {
        match &self.detail {
            FactDetail::StaleCitation { owner, .. } => owner,
            _ => &self.surface,
        }
    }

    /// The one-line title of the blocker derived from it.
    pub fn blocker_title(&self) -> String {
        let surface = &self.surface;
        match &self.detail {
            FactDetail::UnknownSurface { name } => format!(
                "surface {} ({surface}) is UNKNOWN: its risk and gate are not known",
                name.as_deref().unwrap_or(surface)
            ),
            FactDetail::StaleCitation {
                owner, path, found, ..
            } => format!("citation of {path} by {owner} is stale: {found}"),
            FactDetail::ChangedForbiddenSurface { boundary, status } => {
                let what = match status {
                    ProofStatus::AuthorizedMutationMismatch => {
                        "changed, but not to the authorized pins"
                    }
                    _ => "changed",
                };
                format!("forbidden surface {surface} {what} (boundary {boundary})")
            }
            FactDetail::DeclaredOnlyCriticalSurface { boundary, .. } => format!(
                "critical surface {surface} is only declared not contacted (boundary {boundary}): no digest proves it"
            ),
            FactDetail::FailOpenProbe {
                probe,
                outcome,
                token_leaked,
            } => {
                let how = if *token_leaked {
                    format!("{} and leaked the pass token", outcome.label())
                } else {
                    outcome.label().to_string()
                };
                format!("probe {probe} did not fail closed: {how}")
            }
            FactDetail::ImpossibleRehearsal { change, reason } => format!(
                "change {change} could not be rehearsed on a copy, so it was not run: {reason}"
            ),
        }
    }

    /// The same fact with its source citations converted by `f`.
    pub fn map_source<D>(self, mut f: impl FnMut(C) -> D) -> DerivedFact<D> {
        DerivedFact {
            id: self.id,
            surface: self.surface,
            title: self.title,
            evidence: self
                .evidence
                .into_iter()
                .map(|e| e.map_source(&mut f))
                .collect(),
            detail: self.detail,
        }
    }
}

/// One fact a blocker can be derived from.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DerivedFact")]
struct FactRecord<C> {
    /// The blocker id, `<kind>:<key>` (see the module documentation), e.g.
    /// `unknown-surface:ci-seal-scope`.
    id: String,
    /// What kind of fact.
    kind: RecordKind,
    /// The surface it is about (for a stale citation, the citing surface;
    /// empty when the inventory itself is at fault).
    surface: String,
    /// The boundary that forbids the surface (changed and declared-only facts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    boundary: Option<String>,
    /// The surface's status in the proof (changed and declared-only facts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<ProofStatus>,
    /// One line saying what blocks.
    title: String,
    /// The bytes it rests on.
    evidence: Vec<FactEvidence<C>>,
}

/// A kind as the record names it: its schema lists the kinds the surface
/// module derives ([`FactKind::derived_by_surface`]), with [`FactKind`]'s
/// spellings and descriptions.
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
struct RecordKind(FactKind);

impl JsonSchema for RecordKind {
    fn schema_name() -> Cow<'static, str> {
        "FactKind".into()
    }

    fn schema_id() -> Cow<'static, str> {
        concat!(module_path!(), "::RecordKind").into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = FactKind::json_schema(generator);
        let surface_kind = |v: &serde_json::Value| {
            v.get("const")
                .and_then(serde_json::Value::as_str)
                .and_then(FactKind::parse)
                .is_some_and(FactKind::derived_by_surface)
        };
        if let Some(serde_json::Value::Array(kinds)) = schema.get_mut("oneOf") {
            kinds.retain(surface_kind);
        }
        schema.insert(
            "description".into(),
            "The kinds of facts the surface module derives.".into(),
        );
        schema
    }
}

impl<C> TryFrom<FactRecord<C>> for DerivedFact<C> {
    type Error = String;

    fn try_from(r: FactRecord<C>) -> Result<Self, String> {
        let RecordKind(k) = r.kind;
        let kind = k.as_str();
        let (detail, id) = match (k, r.boundary, r.status) {
            (FactKind::UnknownSurface, None, None) => (
                FactDetail::UnknownSurface { name: None },
                unknown_surface_id(&r.surface),
            ),
            (FactKind::UnknownSurface, ..) => {
                return Err(format!(
                    "{}: a fact of kind {kind} has no boundary or status",
                    r.id
                ));
            }
            (FactKind::ChangedForbiddenSurface, Some(boundary), Some(status)) => (
                FactDetail::ChangedForbiddenSurface {
                    status,
                    boundary: boundary.clone(),
                },
                changed_forbidden_surface_id(&boundary, &r.surface),
            ),
            (FactKind::DeclaredOnlyCriticalSurface, Some(boundary), Some(status)) => (
                FactDetail::DeclaredOnlyCriticalSurface {
                    status,
                    boundary: boundary.clone(),
                },
                declared_only_critical_surface_id(&boundary, &r.surface),
            ),
            (FactKind::ChangedForbiddenSurface | FactKind::DeclaredOnlyCriticalSurface, ..) => {
                return Err(format!(
                    "{}: a fact of kind {kind} needs its boundary and status",
                    r.id
                ));
            }
            (
                FactKind::StaleCitation | FactKind::FailOpenProbe | FactKind::ImpossibleRehearsal,
                ..,
            ) => {
                return Err(format!(
                    "{}: a fact of kind {kind} has no record in this file",
                    r.id
                ));
            }
        };
        // The id is its kind's and key's, so a record cannot name one fact
        // and describe another.
        if r.id != id {
            return Err(format!("{}: not the id of this fact, which is {id}", r.id));
        }
        Ok(DerivedFact {
            id: r.id,
            surface: r.surface,
            title: r.title,
            evidence: r.evidence,
            detail,
        })
    }
}

impl<C: Clone> DerivedFact<C> {
    /// The record of this fact (see [`DerivedFact`]), or why it has none.
    fn record(&self) -> Result<FactRecord<C>, String> {
        match &self.detail {
            FactDetail::UnknownSurface { name: None }
            | FactDetail::ChangedForbiddenSurface { .. }
            | FactDetail::DeclaredOnlyCriticalSurface { .. } => {}
            _ => {
                return Err(format!(
                    "{}: the detail of a fact of kind {} has no place in the record",
                    self.id,
                    self.kind().as_str()
                ));
            }
        }
        Ok(FactRecord {
            id: self.id.clone(),
            kind: RecordKind(self.kind()),
            surface: self.surface.clone(),
            boundary: self.boundary().map(str::to_string),
            status: self.status(),
            title: self.title.clone(),
            evidence: self.evidence.clone(),
        })
    }
}

impl<C: Serialize + Clone> Serialize for DerivedFact<C> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.record()
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }
}

impl<C: JsonSchema> JsonSchema for DerivedFact<C> {
    fn schema_name() -> Cow<'static, str> {
        FactRecord::<C>::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        FactRecord::<C>::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        FactRecord::<C>::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_spelled_once_alike_in_json() {
        for k in FactKind::ALL {
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::Value::from(k.as_str())
            );
            assert_eq!(FactKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(FactKind::parse("declared"), None);
        assert_eq!(FactKind::parse("Unknown-Surface"), None);
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
        assert_eq!(fail_open_probe_id("user/x"), "fail-open-probe:user/x");
        assert_eq!(
            impossible_rehearsal_id("raise"),
            "impossible-rehearsal:raise"
        );
    }

    /// Every kind's id, as its builder spells it, is one `is_derived_id`
    /// accepts, and has that kind; every id with a key part missing, empty
    /// or extra, or with an unknown kind, is refused.
    #[test]
    fn every_built_id_round_trips_and_malformed_ids_are_refused() {
        let built = [
            (FactKind::UnknownSurface, unknown_surface_id("ci-seal")),
            (
                FactKind::StaleCitation,
                stale_citation_id("pg", "docs/pg.md", Some("3-9")),
            ),
            (
                FactKind::StaleCitation,
                stale_citation_id(PACKET_OWNER, "inventory.json", None),
            ),
            (
                FactKind::ChangedForbiddenSurface,
                changed_forbidden_surface_id("no-mutation", "prod-pg"),
            ),
            (
                FactKind::DeclaredOnlyCriticalSurface,
                declared_only_critical_surface_id("no-secrets", "vault"),
            ),
            (FactKind::FailOpenProbe, fail_open_probe_id("user/deploy")),
            (
                FactKind::ImpossibleRehearsal,
                impossible_rehearsal_id("raise-pool"),
            ),
        ];
        for k in FactKind::ALL {
            assert!(
                built.iter().any(|(b, _)| *b == k),
                "{k:?} has no builder case"
            );
        }
        for (kind, id) in &built {
            assert!(is_derived_id(id), "{id}");
            let (k, _) = id.split_once(':').unwrap();
            assert_eq!(FactKind::parse(k), Some(*kind), "{id}");
        }
        let (empty_surface, empty_boundary, nameless) = (
            unknown_surface_id(""),
            changed_forbidden_surface_id("", "pg"),
            fail_open_probe_id("nameless"),
        );
        for bad in [
            "",
            "BLK-1",
            "declared:x",
            "nonsense:x",
            "changed-surface:pg",
            "unknown-surface:",
            "unknown-surface:a:b",
            "stale-citation:pg",
            "stale-citation:pg:docs/pg.md:evidence[0]:",
            "changed-forbidden-surface:pg",
            "changed-forbidden-surface:b::pg",
            "changed-forbidden-surface:b:pg:x",
            "declared-only-critical-surface:secrets",
            "fail-open-probe:x",
            "fail-open-probe:/x",
            "fail-open-probe:user/",
            "impossible-rehearsal:",
            "impossible-rehearsal:a:b",
            // Builders given an empty or malformed key give a malformed id.
            empty_surface.as_str(),
            empty_boundary.as_str(),
            nameless.as_str(),
        ] {
            assert!(!is_derived_id(bad), "{bad}");
        }
    }

    fn artifact() -> FactEvidence<String> {
        FactEvidence::Artifact(ArtifactCitation {
            file: "forbidden-surface-proof.json".into(),
            sha256: "a".repeat(64),
            at: "/blocker_facts/0/id".into(),
            value: None,
        })
    }

    #[test]
    fn the_record_holds_surface_facts_and_refuses_the_rest() {
        let f = DerivedFact {
            id: declared_only_critical_surface_id("b", "vault"),
            surface: "vault".into(),
            title: "t".into(),
            evidence: vec![artifact()],
            detail: FactDetail::DeclaredOnlyCriticalSurface {
                boundary: "b".into(),
                status: ProofStatus::DeclaredNotContacted,
            },
        };
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["kind"], "declared-only-critical-surface");
        assert_eq!(v["boundary"], "b");
        assert_eq!(v["status"], "DECLARED_NOT_CONTACTED");
        let back: DerivedFact<String> = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back, f);
        // A record whose id is not the one its kind, boundary and surface
        // give is refused.
        let mut other_id = v.clone();
        other_id["id"] = declared_only_critical_surface_id("other", "vault").into();
        let e = serde_json::from_value::<DerivedFact<String>>(other_id).unwrap_err();
        assert!(e.to_string().contains("not the id of this fact"), "{e}");
        // A changed or declared-only record without its boundary says so.
        let mut no_boundary = v.clone();
        no_boundary.as_object_mut().unwrap().remove("boundary");
        let e = serde_json::from_value::<DerivedFact<String>>(no_boundary).unwrap_err();
        assert!(e.to_string().contains("needs its boundary"), "{e}");
        // A kind the record cannot hold is refused both ways.
        let probe = DerivedFact::<String>::new(
            fail_open_probe_id("user/x"),
            "gates".into(),
            vec![],
            FactDetail::FailOpenProbe {
                probe: "user/x".into(),
                outcome: Outcome::FailOpen,
                token_leaked: true,
            },
        );
        assert_eq!(
            probe.title,
            "probe user/x did not fail closed: FAIL-OPEN and leaked the pass token"
        );
        assert!(serde_json::to_value(&probe).is_err());
        let mut v = v;
        v["kind"] = "fail-open-probe".into();
        assert!(serde_json::from_value::<DerivedFact<String>>(v).is_err());
        // An unknown surface's name is not recorded, so it is not dropped.
        let named = DerivedFact::<String>::new(
            unknown_surface_id("ci"),
            "ci".into(),
            vec![],
            FactDetail::UnknownSurface {
                name: Some("CI".into()),
            },
        );
        assert!(serde_json::to_value(&named).is_err());
    }
}
