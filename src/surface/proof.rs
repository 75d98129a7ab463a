//! The forbidden-surface proof: BEFORE and AFTER snapshots compared surface
//! by surface, for every boundary, with the one authorized mutation (a
//! registry fold) matched to the fold result's pins.
//!
//! Statuses: `UNTOUCHED` (digests equal), `CHANGED` (fails),
//! `DECLARED_NOT_CONTACTED` (no snapshot method: accepted, but weaker, and
//! said so), `AUTHORIZED_MUTATION_MATCHED` (the authorized surface changed
//! exactly from the fold's before pins to its after pins, nothing else), and
//! `AUTHORIZED_MUTATION_MISMATCH` (anything else; fails).
//!
//! The proof as a whole is `PROVEN` only when no surface changed, every
//! authorized mutation matched its fold result, every surface is in both
//! snapshots and every boundary covers at least one surface. [`prove`] is a
//! pure function; [`prove_paths`] and [`write`](fn@write) are its I/O edges.
//!
//! Each rule is one method of the private `Prover` (its doc comment says
//! which rule and why), with its unit tests beside it (`tests::rules`);
//! [`prove_with`] applies the rules in one fixed order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::facts::{DerivedFact, FactEvidence, pointer_token};
use super::snapshot::{self, Method, Snapshot, SurfaceSnapshot};
use super::spec::{Table, resolve_members};
use crate::authz::{Authorization, AuthorizedMutation, ChangeSpec, FoldRange};
use crate::canonical;
use crate::digest;
use crate::error::{Error, IoContext, Result};
use crate::fsio;
use crate::model::fact::{
    ArtifactCitation, FactDetail, changed_forbidden_surface_id, declared_only_critical_surface_id,
};
use crate::model::level::Level;
use crate::model::proof::{ProofResult, ProofStatus};
use crate::registry::FoldResult;

/// File name of the proof in a packet.
pub const PROOF_FILE: &str = "forbidden-surface-proof.json";
/// The `format` value of a proof.
pub const PROOF_FORMAT: &str = "holdfast-forbidden-surface-proof/1";
/// Largest fold result `prove` reads.
pub const FOLD_RESULT_LIMIT: u64 = 64 * 1024 * 1024;

/// Why the proof is not proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FailureClass {
    /// A surface's digest changed.
    Changed,
    /// The authorized surface did not change exactly to its pins.
    AuthorizedMismatch,
    /// An authorized mutation with no `--fold-result` to match it against.
    AuthorizedWithoutFoldResult,
    /// A fold result for a range the authorization does not name.
    UnauthorizedFold,
    /// A surface present in one snapshot and not the other.
    SurfaceMissing,
    /// The same surface was read by different methods.
    MethodDiffers,
    /// A boundary whose surface list matches no surface.
    BoundaryMatchesNothing,
    /// The spec declares no boundary: there is nothing to prove.
    NoBoundaries,
    /// The performed change changed a part outside its declared set.
    ChangeOutsideScope,
}

/// A reference to an input file (name only, and its sha256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileRef {
    /// The file's name (no directory).
    pub file: String,
    /// sha256 of its bytes.
    pub sha256: String,
}

/// One surface compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SurfaceVerdict {
    /// Surface id.
    pub surface: String,
    /// Its table.
    pub table: Table,
    /// Its mutation risk (absent when unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Level>,
    /// How it was read.
    pub method: Method,
    /// The verdict.
    pub status: ProofStatus,
    /// Digest in BEFORE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// Digest in AFTER.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Parts whose digest differs (added, removed or changed), sorted.
    pub changed_parts: Vec<String>,
    /// How it was checked and what was found, in one line.
    pub detail: String,
}

/// One boundary and the surfaces it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BoundaryVerdict {
    /// Boundary id.
    pub id: String,
    /// What is forbidden.
    pub title: String,
    /// Each covered surface and its status.
    pub surfaces: Vec<BoundarySurface>,
    /// True when it covers at least one surface and every status holds.
    pub holds: bool,
}

/// A covered surface's status inside a boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BoundarySurface {
    /// Surface id.
    pub surface: String,
    /// Its status.
    pub status: ProofStatus,
}

/// One pinned registry document, compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PinCheck {
    /// Registry-relative path.
    pub path: String,
    /// The fold result's before pin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_before: Option<String>,
    /// The BEFORE snapshot's digest of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_before: Option<String>,
    /// The fold result's after pin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_after: Option<String>,
    /// The AFTER snapshot's digest of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_after: Option<String>,
    /// Both pins equal what was found.
    pub matches: bool,
}

/// An authorized mutation, matched against its fold result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MutationVerdict {
    /// `registry-fold`.
    pub kind: String,
    /// The surface the authorization names.
    pub surface: String,
    /// The authorized range.
    pub range: String,
    /// The verdict for the surface.
    pub status: ProofStatus,
    /// The fold result it was matched against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fold_result: Option<FileRef>,
    /// Per pinned document: pins against snapshot digests.
    pub pins: Vec<PinCheck>,
    /// Files of the surface that changed without a pin.
    pub unpinned_changes: Vec<String>,
    /// What was found, in one line.
    pub detail: String,
}

/// One reason the proof is not proven.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofFailure {
    /// The class of failure.
    pub class: FailureClass,
    /// The surface it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surface: Option<String>,
    /// The boundary it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundary: Option<String>,
    /// What was found, in one line.
    pub detail: String,
}

/// How many surfaces got each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofCounts {
    /// `UNTOUCHED`.
    pub untouched: usize,
    /// `CHANGED`.
    pub changed: usize,
    /// `DECLARED_NOT_CONTACTED`.
    pub declared_not_contacted: usize,
    /// `AUTHORIZED_MUTATION_MATCHED`.
    pub authorized_mutation_matched: usize,
    /// `AUTHORIZED_MUTATION_MISMATCH`.
    pub authorized_mutation_mismatch: usize,
    /// `AUTHORIZED_CHANGE_MATCHED` (absent when zero).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub authorized_change_matched: usize,
    /// `AUTHORIZED_CHANGE_OUTSIDE_SCOPE` (absent when zero).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub authorized_change_outside_scope: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// `forbidden-surface-proof.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// Always `holdfast-forbidden-surface-proof/1`.
    pub format: String,
    /// `PROVEN` or `NOT_PROVEN`.
    pub result: ProofResult,
    /// sha256 of the surfaces spec both snapshots were taken from.
    pub spec_sha256: String,
    /// The BEFORE snapshot.
    pub before: FileRef,
    /// The AFTER snapshot.
    pub after: FileRef,
    /// The authorization the run was under.
    pub authorization: Authorization,
    /// The fold results given.
    pub fold_results: Vec<FileRef>,
    /// Every surface, sorted by id.
    pub surfaces: Vec<SurfaceVerdict>,
    /// Every boundary, in spec order.
    pub boundaries: Vec<BoundaryVerdict>,
    /// Every authorized mutation, in authorization order.
    pub authorized_mutations: Vec<MutationVerdict>,
    /// Status counts over `surfaces`.
    pub counts: ProofCounts,
    /// Why the result is `NOT_PROVEN` (empty when proven).
    pub failures: Vec<ProofFailure>,
    /// Weaker evidence, said plainly (declared-only surfaces).
    pub notes: Vec<String>,
    /// Forbidden surfaces proven by declaration only although the policy
    /// requires a digest for their risk: blockers, not proof failures.
    pub blocker_facts: Vec<DerivedFact>,
}

/// A snapshot with the name and hash of the file it came from.
#[derive(Debug, Clone)]
pub struct SnapshotInput {
    /// File name (no directory).
    pub file: String,
    /// sha256 of the file's bytes.
    pub sha256: String,
    /// The snapshot.
    pub snapshot: Snapshot,
}

/// The fields of a fold result the proof needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldView {
    /// The folded range.
    pub range: FoldRange,
    /// Whether the fold was performed.
    pub applied: bool,
    /// Registry-relative path -> sha256 before the fold.
    pub pins_before: BTreeMap<String, String>,
    /// Registry-relative path -> sha256 after the fold.
    pub pins_after: BTreeMap<String, String>,
}

/// A fold result with the name and hash of its file.
#[derive(Debug, Clone)]
pub struct FoldInput {
    /// File name (no directory).
    pub file: String,
    /// sha256 of the file's bytes.
    pub sha256: String,
    /// Its fields.
    pub fold: FoldView,
}

impl FoldInput {
    /// Reads `governance-fold-A-B-result.json` strictly as a
    /// [`crate::registry::FoldResult`] (duplicate and unknown keys refused,
    /// every field of the contract required).
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = fsio::read_regular(path, FOLD_RESULT_LIMIT)?;
        let f: FoldResult = canonical::from_slice_strict(&bytes, path)?;
        super::snapshot::refuse_pass_token(&f, path)?;
        if f.range.first == 0 || f.range.first > f.range.last {
            return Err(Error::malformed(
                path,
                format!(
                    "range: first {} and last {} do not make a range (1 <= first <= last)",
                    f.range.first, f.range.last
                ),
            ));
        }
        for (side, pins) in [("before", &f.pins.before), ("after", &f.pins.after)] {
            for (k, v) in pins {
                if !crate::seal::is_sha256_hex(v) {
                    return Err(Error::malformed(
                        path,
                        format!("pins.{side}.{k}: expected 64 lowercase hex digits"),
                    ));
                }
            }
        }
        Ok(FoldInput {
            file: file_name(path),
            sha256: digest::sha256_hex(&bytes),
            fold: FoldView {
                range: FoldRange {
                    first: f.range.first,
                    last: f.range.last,
                },
                applied: f.applied,
                pins_before: f.pins.before,
                pins_after: f.pins.after,
            },
        })
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Parts whose digest differs between two maps (added, removed, changed).
fn changed_parts(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

fn short_list(items: &[String]) -> String {
    const SHOW: usize = 5;
    let mut s = items
        .iter()
        .take(SHOW)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOW {
        s.push_str(&format!(" and {} more", items.len() - SHOW));
    }
    s
}

/// Matches an applied fold against the authorized surface's snapshots.
fn match_fold(
    b: &SurfaceSnapshot,
    a: &SurfaceSnapshot,
    fold: &FoldView,
) -> (bool, Vec<PinCheck>, Vec<String>, String) {
    if b.method != Method::Files {
        return (
            false,
            Vec::new(),
            Vec::new(),
            format!(
                "the surface is read by method {}, which has no per-file digests to compare with the fold's pins",
                b.method.as_str()
            ),
        );
    }
    if fold.pins_before.is_empty() && fold.pins_after.is_empty() {
        return (
            false,
            Vec::new(),
            Vec::new(),
            "the fold result pins no document".into(),
        );
    }
    let pinned: BTreeSet<&String> = fold
        .pins_before
        .keys()
        .chain(fold.pins_after.keys())
        .collect();
    let pins: Vec<PinCheck> = pinned
        .iter()
        .map(|p| {
            let (pb, fb) = (fold.pins_before.get(*p).cloned(), b.parts.get(*p).cloned());
            let (pa, fa) = (fold.pins_after.get(*p).cloned(), a.parts.get(*p).cloned());
            PinCheck {
                path: (*p).clone(),
                matches: pb == fb && pa == fa,
                pin_before: pb,
                found_before: fb,
                pin_after: pa,
                found_after: fa,
            }
        })
        .collect();
    let unpinned: Vec<String> = changed_parts(&b.parts, &a.parts)
        .into_iter()
        .filter(|p| !pinned.contains(p))
        .collect();
    let bad: Vec<String> = pins
        .iter()
        .filter(|p| !p.matches)
        .map(|p| p.path.clone())
        .collect();
    let ok = bad.is_empty() && unpinned.is_empty();
    let detail = if ok {
        format!(
            "{} pinned document(s) changed exactly from their before pins to their after pins; nothing else changed",
            pins.len()
        )
    } else {
        let mut why = Vec::new();
        if !bad.is_empty() {
            why.push(format!(
                "pinned document(s) not matching their pins: {}",
                short_list(&bad)
            ));
        }
        if !unpinned.is_empty() {
            why.push(format!(
                "file(s) changed without a pin: {}",
                short_list(&unpinned)
            ));
        }
        why.join("; ")
    };
    (ok, pins, unpinned, detail)
}

/// Compares BEFORE and AFTER under `auth` and the fold results. `Err` (a
/// refusal) when the snapshots were taken from different specs; every other
/// defect is a failure inside the proof.
pub fn prove(
    before: &SnapshotInput,
    after: &SnapshotInput,
    auth: &Authorization,
    folds: &[FoldInput],
) -> Result<Proof> {
    prove_with(before, after, auth, folds, None)
}

/// [`prove`], with the id of the governed change that was performed between
/// the snapshots: each surface it may change is `UNTOUCHED`,
/// `AUTHORIZED_CHANGE_MATCHED` (every changed part inside its declared set)
/// or `AUTHORIZED_CHANGE_OUTSIDE_SCOPE`; every other surface is proven as
/// usual. A change id the authorization does not name is a refusal.
///
/// The rules are the methods of the private `Prover`, applied in a fixed order (the
/// refusals first, then the folds, each surface by id, the boundaries and
/// the policy), so the proof and the order of its failures are a pure
/// function of the inputs.
pub fn prove_with(
    before: &SnapshotInput,
    after: &SnapshotInput,
    auth: &Authorization,
    folds: &[FoldInput],
    change: Option<&str>,
) -> Result<Proof> {
    let change = Prover::authorized_change(auth, change)?;
    Prover::same_spec(before, after)?;
    let by_range = Prover::one_result_per_range(folds)?;
    let mut p = Prover::new(before, after, auth, change, &by_range);
    p.unauthorized_folds(folds);
    let (b, a) = (&before.snapshot, &after.snapshot);
    let ids: BTreeSet<&String> = b.surfaces.keys().chain(a.surfaces.keys()).collect();
    let surfaces: Vec<SurfaceVerdict> = ids.into_iter().filter_map(|id| p.surface(id)).collect();
    p.mutations_on_absent_surfaces();
    let boundaries = p.boundaries(&surfaces);
    let notes = declared_only_notes(&surfaces);
    let blocker_facts = p.declared_only_blocker_facts(&surfaces, &boundaries);
    Ok(p.finish(folds, surfaces, boundaries, notes, blocker_facts))
}

/// An authorized fold on one surface, with its fold result if one was given.
type AuthorizedFold<'a> = (FoldRange, Option<&'a FoldInput>);

/// One proof in the making: the inputs, the failures found so far and the
/// verdicts of the authorized folds. Each method applies one rule of the
/// proof and records what it finds; [`prove_with`] runs them in order.
struct Prover<'a> {
    before: &'a SnapshotInput,
    after: &'a SnapshotInput,
    auth: &'a Authorization,
    /// The governed change performed between the snapshots, if any.
    change: Option<&'a ChangeSpec>,
    /// The authorized folds, grouped by the surface they may change.
    authorized: BTreeMap<String, Vec<AuthorizedFold<'a>>>,
    failures: Vec<ProofFailure>,
    mutations: BTreeMap<(String, FoldRange), MutationVerdict>,
}

impl<'a> Prover<'a> {
    /// Rule: a performed change must be one the authorization names;
    /// anything else is refused, since no scope could be checked for it.
    fn authorized_change(
        auth: &'a Authorization,
        change: Option<&str>,
    ) -> Result<Option<&'a ChangeSpec>> {
        let Some(id) = change else {
            return Ok(None);
        };
        auth.authorized_change(id).map(Some).ok_or_else(|| {
            Error::refused(format!(
                "change {id:?} was performed, but the authorization names no such change"
            ))
        })
    }

    /// Rule: a proof compares one world with itself, so the two snapshots
    /// must be of the same spec, boundaries and policy, and each surface
    /// of the same target; anything else is refused, not proven.
    fn same_spec(before: &SnapshotInput, after: &SnapshotInput) -> Result<()> {
        let (b, a) = (&before.snapshot, &after.snapshot);
        if b.spec_sha256 != a.spec_sha256 {
            return Err(Error::refused(format!(
                "{} and {} were taken from different surfaces specs (sha256 {} and {}); snapshot both with the same spec",
                before.file, after.file, b.spec_sha256, a.spec_sha256
            )));
        }
        if b.boundaries_sha256 != a.boundaries_sha256 || b.policy != a.policy {
            return Err(Error::refused(format!(
                "{} and {} record different boundaries or policy; snapshot both with the same spec",
                before.file, after.file
            )));
        }
        for (id, sb) in &b.surfaces {
            if let Some(sa) = a.surfaces.get(id)
                && let Some(why) = super::snapshot::target_mismatch(sb, sa)
            {
                return Err(Error::refused(format!(
                    "{} and {}: surface {id}: the snapshots are of different targets ({why}); a proof compares one database with itself",
                    before.file, after.file
                )));
            }
        }
        Ok(())
    }

    /// Rule: one fold result per range; two would make the match ambiguous
    /// (a usage error).
    fn one_result_per_range(folds: &[FoldInput]) -> Result<BTreeMap<FoldRange, &FoldInput>> {
        let mut by_range = BTreeMap::new();
        for f in folds {
            if by_range.insert(f.fold.range, f).is_some() {
                return Err(Error::Usage(format!(
                    "two fold results given for range {}",
                    f.fold.range
                )));
            }
        }
        Ok(by_range)
    }

    /// A prover of `before` against `after`, with the authorized folds
    /// grouped by surface and matched to their results by range.
    fn new(
        before: &'a SnapshotInput,
        after: &'a SnapshotInput,
        auth: &'a Authorization,
        change: Option<&'a ChangeSpec>,
        by_range: &BTreeMap<FoldRange, &'a FoldInput>,
    ) -> Self {
        let mut authorized: BTreeMap<String, Vec<AuthorizedFold<'a>>> = BTreeMap::new();
        for m in &auth.mutations {
            let AuthorizedMutation::RegistryFold { surface, range, .. } = m else {
                continue;
            };
            authorized
                .entry(surface.clone())
                .or_default()
                .push((*range, by_range.get(range).copied()));
        }
        Prover {
            before,
            after,
            auth,
            change,
            authorized,
            failures: Vec::new(),
            mutations: BTreeMap::new(),
        }
    }

    /// Records one reason the proof is not proven.
    fn fail(
        &mut self,
        class: FailureClass,
        surface: Option<&str>,
        boundary: Option<&str>,
        detail: String,
    ) {
        self.failures.push(ProofFailure {
            class,
            surface: surface.map(str::to_string),
            boundary: boundary.map(str::to_string),
            detail,
        });
    }

    /// Rule: every fold result given must answer a mutation the
    /// authorization names; a fold nobody authorized fails the proof.
    fn unauthorized_folds(&mut self, folds: &[FoldInput]) {
        for f in folds {
            if self.auth.authorized_fold(f.fold.range).is_none() {
                self.fail(
                    FailureClass::UnauthorizedFold,
                    None,
                    None,
                    format!(
                        "{}: fold {} is not a mutation the authorization names",
                        f.file, f.fold.range
                    ),
                );
            }
        }
    }

    /// The verdict of surface `id`, by the first rule that applies to it:
    /// missing from a snapshot, read by different methods, under the
    /// performed change, under authorized folds, declared only, or compared
    /// by digest. `None` when neither snapshot has it.
    fn surface(&mut self, id: &str) -> Option<SurfaceVerdict> {
        let (one_b, one_a) = (
            self.before.snapshot.surfaces.get(id),
            self.after.snapshot.surfaces.get(id),
        );
        let (sb, sa) = match (one_b, one_a) {
            (Some(sb), Some(sa)) => (sb, sa),
            (Some(sb), None) => return Some(self.missing_surface(id, sb, true)),
            (None, Some(sa)) => return Some(self.missing_surface(id, sa, false)),
            (None, None) => return None,
        };
        let mut v = SurfaceVerdict {
            surface: id.to_string(),
            table: sb.table,
            risk: sb.risk,
            method: sb.method,
            status: ProofStatus::Untouched,
            before: sb.digest.clone(),
            after: sa.digest.clone(),
            changed_parts: changed_parts(&sb.parts, &sa.parts),
            detail: String::new(),
        };
        if sb.method != sa.method {
            self.method_differs(&mut v, sb, sa);
        } else if let Some(c) = self.change.filter(|c| c.may_change.contains_key(id)) {
            self.governed_change(&mut v, c, sb, sa);
        } else if let Some(folds) = self.authorized.get(id).cloned() {
            self.authorized_folds(&mut v, &folds, sb, sa);
        } else if sb.method == Method::None {
            declared_only(&mut v);
        } else {
            self.digests(&mut v, sb, sa);
        }
        Some(v)
    }

    /// Rule: both snapshots must cover the same surfaces; a surface in only
    /// one of them is `CHANGED` and fails (nothing shows it untouched).
    /// `s` is the one snapshot's record, in BEFORE when `in_before`.
    fn missing_surface(
        &mut self,
        id: &str,
        s: &SurfaceSnapshot,
        in_before: bool,
    ) -> SurfaceVerdict {
        let only = if in_before { "BEFORE" } else { "AFTER" };
        let detail =
            format!("present in {only} only; the snapshots do not cover the same surfaces");
        self.fail(FailureClass::SurfaceMissing, Some(id), None, detail.clone());
        SurfaceVerdict {
            surface: id.to_string(),
            table: s.table,
            risk: s.risk,
            method: s.method,
            status: ProofStatus::Changed,
            before: s.digest.clone().filter(|_| in_before),
            after: s.digest.clone().filter(|_| !in_before),
            changed_parts: Vec::new(),
            detail,
        }
    }

    /// Rule: a surface read by different methods in BEFORE and AFTER cannot
    /// be compared; it is `CHANGED` and fails.
    fn method_differs(
        &mut self,
        v: &mut SurfaceVerdict,
        sb: &SurfaceSnapshot,
        sa: &SurfaceSnapshot,
    ) {
        v.status = ProofStatus::Changed;
        v.detail = format!(
            "read by {} in BEFORE and by {} in AFTER",
            sb.method.as_str(),
            sa.method.as_str()
        );
        self.fail(
            FailureClass::MethodDiffers,
            Some(&v.surface),
            None,
            v.detail.clone(),
        );
    }

    /// Rule: a surface the performed change may change is `UNTOUCHED` when
    /// nothing changed, `AUTHORIZED_CHANGE_MATCHED` when every changed part
    /// is inside the change's declared set, and otherwise (a part outside
    /// it, or a digest that changed with no part to check)
    /// `AUTHORIZED_CHANGE_OUTSIDE_SCOPE`, which fails.
    fn governed_change(
        &mut self,
        v: &mut SurfaceVerdict,
        c: &ChangeSpec,
        sb: &SurfaceSnapshot,
        sa: &SurfaceSnapshot,
    ) {
        let outside: Vec<String> = v
            .changed_parts
            .iter()
            .filter(|p| !c.may_change(&v.surface, p))
            .cloned()
            .collect();
        if sb.digest == sa.digest && v.changed_parts.is_empty() {
            v.detail = format!(
                "change {} may change this surface; {} digest equal before and after",
                c.id,
                sb.method.as_str()
            );
        } else if outside.is_empty() && !v.changed_parts.is_empty() {
            v.status = ProofStatus::AuthorizedChangeMatched;
            v.detail = format!(
                "change {} changed {} part(s), every one inside its declared set: {}",
                c.id,
                v.changed_parts.len(),
                short_list(&v.changed_parts)
            );
        } else {
            v.status = ProofStatus::AuthorizedChangeOutsideScope;
            v.detail = if outside.is_empty() {
                format!(
                    "change {}: the {} digest changed with no part to match its declared set",
                    c.id,
                    sb.method.as_str()
                )
            } else {
                format!(
                    "change {} changed part(s) outside its declared set: {}",
                    c.id,
                    short_list(&outside)
                )
            };
            self.fail(
                FailureClass::ChangeOutsideScope,
                Some(&v.surface),
                None,
                v.detail.clone(),
            );
        }
    }

    /// Rule: the surface authorized folds may change takes its status from
    /// their verdicts ([`Prover::fold`]): a mismatch anywhere wins, then a
    /// match; `UNTOUCHED` only when every authorized fold left it untouched.
    fn authorized_folds(
        &mut self,
        v: &mut SurfaceVerdict,
        folds: &[AuthorizedFold<'a>],
        sb: &SurfaceSnapshot,
        sa: &SurfaceSnapshot,
    ) {
        let applied = folds
            .iter()
            .filter(|(_, f)| f.is_some_and(|f| f.fold.applied))
            .count();
        for (range, fold) in folds {
            let mv = self.fold(v, *range, *fold, applied, sb, sa);
            self.mutations.insert((v.surface.clone(), *range), mv);
        }
        let verdicts: Vec<&MutationVerdict> = folds
            .iter()
            .filter_map(|(r, _)| self.mutations.get(&(v.surface.clone(), *r)))
            .collect();
        let statuses: Vec<ProofStatus> = verdicts.iter().map(|m| m.status).collect();
        v.status = if statuses.contains(&ProofStatus::AuthorizedMutationMismatch) {
            ProofStatus::AuthorizedMutationMismatch
        } else if statuses.contains(&ProofStatus::AuthorizedMutationMatched) {
            ProofStatus::AuthorizedMutationMatched
        } else {
            ProofStatus::Untouched
        };
        v.detail = verdicts
            .iter()
            .map(|m| m.detail.clone())
            .collect::<Vec<_>>()
            .join("; ");
    }

    /// Rule: one authorized fold of `range`, matched against its result. No
    /// result fails (nothing to match); an unapplied fold requires the
    /// surface unchanged; more than one applied fold on one surface fails
    /// (one proof proves one); an applied fold matches only when the pinned
    /// documents changed exactly from their before to their after pins and
    /// nothing else changed ([`match_fold`]).
    fn fold(
        &mut self,
        v: &SurfaceVerdict,
        range: FoldRange,
        fold: Option<&FoldInput>,
        applied: usize,
        sb: &SurfaceSnapshot,
        sa: &SurfaceSnapshot,
    ) -> MutationVerdict {
        let id = v.surface.as_str();
        let mut mv = mutation_verdict(id, range, fold);
        match fold {
            None => {
                mv.detail = format!(
                    "no fold result given for the authorized fold {range}: the mutation cannot be matched to its pins"
                );
                self.fail(
                    FailureClass::AuthorizedWithoutFoldResult,
                    Some(id),
                    None,
                    mv.detail.clone(),
                );
            }
            Some(f) if !f.fold.applied => {
                if v.changed_parts.is_empty() && sb.digest == sa.digest {
                    mv.status = ProofStatus::Untouched;
                    mv.detail = format!(
                        "fold {range} was not applied (applied: false) and the surface is unchanged"
                    );
                } else {
                    mv.detail = format!(
                        "fold {range} was not applied (applied: false), yet the surface changed: {}",
                        short_list(&v.changed_parts)
                    );
                    self.fail(
                        FailureClass::AuthorizedMismatch,
                        Some(id),
                        None,
                        mv.detail.clone(),
                    );
                }
            }
            Some(f) if applied > 1 => {
                mv.detail = format!(
                    "{applied} applied folds on one surface in one proof ({}); holdfast proves one applied fold per surface",
                    f.file
                );
                self.fail(
                    FailureClass::AuthorizedMismatch,
                    Some(id),
                    None,
                    mv.detail.clone(),
                );
            }
            Some(f) => {
                let (ok, pins, unpinned, detail) = match_fold(sb, sa, &f.fold);
                mv.pins = pins;
                mv.unpinned_changes = unpinned;
                mv.detail = format!("{}: {detail}", f.file);
                if ok {
                    mv.status = ProofStatus::AuthorizedMutationMatched;
                } else {
                    self.fail(
                        FailureClass::AuthorizedMismatch,
                        Some(id),
                        None,
                        mv.detail.clone(),
                    );
                }
            }
        }
        mv
    }

    /// Rule: any other surface is `UNTOUCHED` only when its digest and every
    /// part are equal before and after; otherwise it is `CHANGED` and fails.
    fn digests(&mut self, v: &mut SurfaceVerdict, sb: &SurfaceSnapshot, sa: &SurfaceSnapshot) {
        if sb.digest == sa.digest && v.changed_parts.is_empty() {
            v.detail = format!(
                "{} digest equal before and after ({} part(s))",
                sb.method.as_str(),
                sb.parts.len()
            );
        } else {
            v.status = ProofStatus::Changed;
            v.detail = format!(
                "{} digest changed; changed part(s): {}",
                sb.method.as_str(),
                short_list(&v.changed_parts)
            );
            self.fail(
                FailureClass::Changed,
                Some(&v.surface),
                None,
                v.detail.clone(),
            );
        }
    }

    /// Rule: an authorized fold on a surface neither snapshot has cannot be
    /// matched; it is a mismatch and fails.
    fn mutations_on_absent_surfaces(&mut self) {
        let (b, a) = (&self.before.snapshot, &self.after.snapshot);
        let absent: Vec<(String, Vec<AuthorizedFold<'a>>)> = self
            .authorized
            .iter()
            .filter(|(s, _)| !b.surfaces.contains_key(*s) && !a.surfaces.contains_key(*s))
            .map(|(s, m)| (s.clone(), m.clone()))
            .collect();
        for (surface, folds) in absent {
            for (range, fold) in folds {
                let detail = format!(
                    "the authorization names surface {surface:?}, which neither snapshot has"
                );
                self.fail(
                    FailureClass::AuthorizedMismatch,
                    Some(&surface),
                    None,
                    detail.clone(),
                );
                let mut mv = mutation_verdict(&surface, range, fold);
                mv.detail = detail;
                self.mutations.insert((surface.clone(), range), mv);
            }
        }
    }

    /// Rule: the boundaries are re-resolved against the snapshots, never
    /// trusted as recorded. A spec with no boundary has nothing to prove
    /// and fails; so does a boundary that matches no surface. A boundary
    /// holds when it covers a surface and every covered status holds.
    fn boundaries(&mut self, surfaces: &[SurfaceVerdict]) -> Vec<BoundaryVerdict> {
        let all_ids: Vec<&str> = surfaces.iter().map(|s| s.surface.as_str()).collect();
        let status_of: BTreeMap<&str, ProofStatus> = surfaces
            .iter()
            .map(|s| (s.surface.as_str(), s.status))
            .collect();
        let records = &self.before.snapshot.boundaries;
        if records.is_empty() {
            self.fail(
                FailureClass::NoBoundaries,
                None,
                None,
                "the spec declares no [[boundary]]: there is no forbidden surface to prove untouched"
                    .into(),
            );
        }
        let mut out = Vec::with_capacity(records.len());
        for br in records {
            let members = match resolve_members(&br.surfaces, &all_ids) {
                Ok(m) => m,
                Err(e) => {
                    self.fail(FailureClass::BoundaryMatchesNothing, None, Some(&br.id), e);
                    Vec::new()
                }
            };
            if members.is_empty() {
                self.fail(
                    FailureClass::BoundaryMatchesNothing,
                    None,
                    Some(&br.id),
                    format!(
                        "boundary {:?} ({}) covers {:?}, which matches no surface",
                        br.id, br.title, br.surfaces
                    ),
                );
            }
            let entries: Vec<BoundarySurface> = members
                .into_iter()
                .filter_map(|m| {
                    let status = *status_of.get(m.as_str())?;
                    Some(BoundarySurface { surface: m, status })
                })
                .collect();
            out.push(BoundaryVerdict {
                id: br.id.clone(),
                title: br.title.clone(),
                holds: !entries.is_empty() && entries.iter().all(|e| e.status.holds()),
                surfaces: entries,
            });
        }
        out
    }

    /// Rule (the policy's `require_digest_for`): a surface only declared not
    /// contacted under a boundary, whose risk the policy requires a digest
    /// for, is a blocker fact (one per boundary and surface), not a proof
    /// failure. An unknown risk may be any level, so it counts whenever the
    /// policy names one (fail closed).
    fn declared_only_blocker_facts(
        &self,
        surfaces: &[SurfaceVerdict],
        boundaries: &[BoundaryVerdict],
    ) -> Vec<DerivedFact> {
        let policy = &self.before.snapshot.policy.require_digest_for;
        let required = |v: &SurfaceVerdict| match v.risk {
            Some(r) => policy.contains(&r),
            None => !policy.is_empty(),
        };
        let (before_ref, after_ref) = (self.before.file_ref(), self.after.file_ref());
        let mut facts = Vec::new();
        for br in boundaries {
            for e in br
                .surfaces
                .iter()
                .filter(|e| e.status == ProofStatus::DeclaredNotContacted)
            {
                let Some(v) = surfaces.iter().find(|v| v.surface == e.surface) else {
                    continue;
                };
                if !required(v) {
                    continue;
                }
                let risk = v.risk.map_or("unknown", Level::as_str);
                facts.push(declared_only_critical_surface(
                    &before_ref,
                    &after_ref,
                    &br.id,
                    &v.surface,
                    format!(
                        "{} (risk {risk}) is forbidden by boundary {} but only declared not contacted; the policy requires a digest for {:?}",
                        v.surface,
                        br.id,
                        policy.iter().map(|r| r.as_str()).collect::<Vec<_>>()
                    ),
                ));
            }
        }
        facts
    }

    /// The proof: `PROVEN` exactly when no rule recorded a failure.
    fn finish(
        self,
        folds: &[FoldInput],
        surfaces: Vec<SurfaceVerdict>,
        boundaries: Vec<BoundaryVerdict>,
        notes: Vec<String>,
        blocker_facts: Vec<DerivedFact>,
    ) -> Proof {
        let authorized_mutations: Vec<MutationVerdict> = self
            .auth
            .mutations
            .iter()
            .filter_map(|m| {
                let AuthorizedMutation::RegistryFold { surface, range, .. } = m else {
                    return None;
                };
                self.mutations.get(&(surface.clone(), *range)).cloned()
            })
            .collect();
        Proof {
            format: PROOF_FORMAT.into(),
            result: if self.failures.is_empty() {
                ProofResult::Proven
            } else {
                ProofResult::NotProven
            },
            spec_sha256: self.before.snapshot.spec_sha256.clone(),
            before: self.before.file_ref(),
            after: self.after.file_ref(),
            authorization: self.auth.clone(),
            fold_results: folds
                .iter()
                .map(|f| FileRef {
                    file: f.file.clone(),
                    sha256: f.sha256.clone(),
                })
                .collect(),
            counts: ProofCounts::of(&surfaces),
            surfaces,
            boundaries,
            authorized_mutations,
            failures: self.failures,
            notes,
            blocker_facts,
        }
    }
}

/// Rule: a surface with no snapshot method is `DECLARED_NOT_CONTACTED`:
/// accepted, but weaker than a digest, and said so in the notes.
fn declared_only(v: &mut SurfaceVerdict) {
    v.status = ProofStatus::DeclaredNotContacted;
    v.detail = "no snapshot method: declared not contacted, which is weaker than a digest".into();
}

/// The proof's notes: each declared-only surface, said plainly to be
/// weaker evidence than `UNTOUCHED`.
fn declared_only_notes(surfaces: &[SurfaceVerdict]) -> Vec<String> {
    surfaces
        .iter()
        .filter(|v| v.status == ProofStatus::DeclaredNotContacted)
        .map(|v| {
            format!(
                "{}: DECLARED_NOT_CONTACTED: no digest was taken; the claim rests on declaration, which is weaker than UNTOUCHED",
                v.surface
            )
        })
        .collect()
}

/// The verdict of the authorized fold of `range` on `surface`, before any
/// rule has matched it: a mismatch, citing its fold result if given.
fn mutation_verdict(surface: &str, range: FoldRange, fold: Option<&FoldInput>) -> MutationVerdict {
    MutationVerdict {
        kind: "registry-fold".into(),
        surface: surface.to_string(),
        range: range.to_string(),
        status: ProofStatus::AuthorizedMutationMismatch,
        fold_result: fold.map(|f| FileRef {
            file: f.file.clone(),
            sha256: f.sha256.clone(),
        }),
        pins: Vec::new(),
        unpinned_changes: Vec::new(),
        detail: String::new(),
    }
}

impl SnapshotInput {
    /// The reference to this snapshot's file (its name and sha256).
    fn file_ref(&self) -> FileRef {
        FileRef {
            file: self.file.clone(),
            sha256: self.sha256.clone(),
        }
    }
}

impl ProofCounts {
    /// How many of `surfaces` got each status.
    fn of(surfaces: &[SurfaceVerdict]) -> Self {
        let mut counts = ProofCounts::default();
        for v in surfaces {
            match v.status {
                ProofStatus::Untouched => counts.untouched += 1,
                ProofStatus::Changed => counts.changed += 1,
                ProofStatus::DeclaredNotContacted => counts.declared_not_contacted += 1,
                ProofStatus::AuthorizedMutationMatched => counts.authorized_mutation_matched += 1,
                ProofStatus::AuthorizedMutationMismatch => counts.authorized_mutation_mismatch += 1,
                ProofStatus::AuthorizedChangeMatched => counts.authorized_change_matched += 1,
                ProofStatus::AuthorizedChangeOutsideScope => {
                    counts.authorized_change_outside_scope += 1
                }
            }
        }
        counts
    }
}

/// Reads every input (strictly) and proves.
pub fn prove_paths(
    before: &Path,
    after: &Path,
    authorization: &Path,
    folds: &[PathBuf],
) -> Result<Proof> {
    let read = |p: &Path| -> Result<SnapshotInput> {
        let (snapshot, sha256) = snapshot::read(p)?;
        Ok(SnapshotInput {
            file: file_name(p),
            sha256,
            snapshot,
        })
    };
    let (b, a) = (read(before)?, read(after)?);
    let auth = Authorization::load(authorization)?;
    let folds = folds
        .iter()
        .map(|p| FoldInput::read(p))
        .collect::<Result<Vec<_>>>()?;
    prove(&b, &a, &auth, &folds)
}

/// Writes `forbidden-surface-proof.json` into `out` (created if missing).
pub fn write(out: &Path, proof: &Proof) -> Result<PathBuf> {
    std::fs::create_dir_all(out).at(out)?;
    let path = out.join(PROOF_FILE);
    fsio::write_atomic(&path, &canonical::to_bytes(proof)?)?;
    Ok(path)
}

/// The sha256 of the proof file's bytes (its canonical JSON, which is what
/// [`write`] writes).
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
                surface: s.surface.clone(),
                detail: FactDetail::ChangedForbiddenSurface {
                    boundary: b.id.clone(),
                    status: s.status,
                },
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
        surface: surface.to_string(),
        detail: FactDetail::DeclaredOnlyCriticalSurface {
            boundary: boundary.to_string(),
            status: ProofStatus::DeclaredNotContacted,
        },
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
    //! Unit and property tests of the pure proof.

    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::authz::Scope;
    use crate::model::level::Level;
    use crate::surface::snapshot::{
        BoundaryRecord, SNAPSHOT_FORMAT, boundaries_digest, parts_digest,
    };
    use crate::surface::spec::{Policy, Status};

    fn h(s: &str) -> String {
        digest::sha256_hex(s.as_bytes())
    }

    fn surface(method: Method, risk: Option<Level>, parts: &[(&str, &str)]) -> SurfaceSnapshot {
        let parts: BTreeMap<String, String> =
            parts.iter().map(|(k, v)| (k.to_string(), h(v))).collect();
        SurfaceSnapshot {
            method,
            table: Table::Production,
            status: if risk.is_some() {
                Status::Known
            } else {
                Status::Unknown
            },
            risk,
            digest: if method == Method::None {
                None
            } else {
                Some(parts_digest(&parts).unwrap())
            },
            parts,
            description: String::new(),
            exit_code: None,
            target: None,
        }
    }

    fn boundary(id: &str, entries: &[&str], ids: &[&str]) -> BoundaryRecord {
        let entries: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
        BoundaryRecord {
            id: id.into(),
            title: format!("NO {id}"),
            covers: resolve_members(&entries, ids).unwrap(),
            surfaces: entries,
        }
    }

    fn snap(
        surfaces: Vec<(&str, SurfaceSnapshot)>,
        boundaries: Vec<BoundaryRecord>,
        policy: &[Level],
    ) -> Snapshot {
        Snapshot {
            format: SNAPSHOT_FORMAT.into(),
            spec_sha256: h("spec"),
            boundaries_sha256: boundaries_digest(&boundaries).unwrap(),
            boundaries,
            policy: Policy {
                require_digest_for: policy.to_vec(),
            },
            surfaces: surfaces
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        }
    }

    fn input(name: &str, s: Snapshot) -> SnapshotInput {
        SnapshotInput {
            file: name.into(),
            sha256: h(name),
            snapshot: s,
        }
    }

    fn auth(folds: &[(&str, &str)]) -> Authorization {
        Authorization {
            text: "scoping only (+ fold if safe)".into(),
            scope: Scope::Scoping,
            mutations: folds
                .iter()
                .map(|(surface, range)| AuthorizedMutation::RegistryFold {
                    surface: surface.to_string(),
                    range: range.parse().unwrap(),
                    if_safe: true,
                })
                .collect(),
            select: vec![],
        }
    }

    fn fold(
        range: &str,
        applied: bool,
        before: &[(&str, &str)],
        after: &[(&str, &str)],
    ) -> FoldInput {
        let m = |x: &[(&str, &str)]| x.iter().map(|(k, v)| (k.to_string(), h(v))).collect();
        FoldInput {
            file: format!("governance-fold-{}-result.json", range.replace("..", "-")),
            sha256: h(range),
            fold: FoldView {
                range: range.parse().unwrap(),
                applied,
                pins_before: m(before),
                pins_after: m(after),
            },
        }
    }

    const IDS: [&str; 4] = ["db", "cms", "registry", "secrets"];

    /// A world of four surfaces: a database and CMS with digests, the registry,
    /// and secrets declared only.
    fn world(db: &str, cms: &str, reg: &[(&str, &str)]) -> Snapshot {
        snap(
            vec![
                (
                    "db",
                    surface(
                        Method::Postgres,
                        Some(Level::Critical),
                        &[("schema", "s"), ("table:public.t", db)],
                    ),
                ),
                (
                    "cms",
                    surface(Method::Command, Some(Level::High), &[("stdout", cms)]),
                ),
                ("registry", surface(Method::Files, Some(Level::High), reg)),
                ("secrets", surface(Method::None, Some(Level::Critical), &[])),
            ],
            vec![
                boundary("prod-mutation", &["db", "cms", "registry"], &IDS),
                boundary("secrets-change", &["secrets"], &IDS),
            ],
            &[],
        )
    }

    const REG_BEFORE: [(&str, &str); 3] = [
        ("registry.json", "r1"),
        ("index.md", "i1"),
        ("history/0001", "h"),
    ];
    const REG_AFTER: [(&str, &str); 3] = [
        ("registry.json", "r2"),
        ("index.md", "i2"),
        ("history/0001", "h"),
    ];

    #[test]
    fn untouched_everywhere_is_proven_with_declared_only_noted() {
        let p = prove(
            &input("b.json", world("rows", "out", &REG_BEFORE)),
            &input("a.json", world("rows", "out", &REG_BEFORE)),
            &auth(&[]),
            &[],
        )
        .unwrap();
        assert_eq!(p.result, ProofResult::Proven, "{:?}", p.failures);
        let status: BTreeMap<&str, ProofStatus> = p
            .surfaces
            .iter()
            .map(|s| (s.surface.as_str(), s.status))
            .collect();
        assert_eq!(status["db"], ProofStatus::Untouched);
        assert_eq!(status["secrets"], ProofStatus::DeclaredNotContacted);
        assert_eq!(p.counts.untouched, 3);
        assert_eq!(p.counts.declared_not_contacted, 1);
        assert!(
            p.notes
                .iter()
                .any(|n| n.contains("secrets") && n.contains("weaker")),
            "{:?}",
            p.notes
        );
        assert!(p.blocker_facts.is_empty());
        assert!(p.boundaries.iter().all(|b| b.holds));
        assert_eq!(
            (p.before.file.as_str(), p.after.file.as_str()),
            ("b.json", "a.json")
        );
    }

    #[test]
    fn a_changed_table_fails_and_names_the_part() {
        let p = prove(
            &input("b", world("rows", "out", &REG_BEFORE)),
            &input("a", world("rows2", "out", &REG_BEFORE)),
            &auth(&[]),
            &[],
        )
        .unwrap();
        assert_eq!(p.result, ProofResult::NotProven);
        let db = p.surfaces.iter().find(|s| s.surface == "db").unwrap();
        assert_eq!(db.status, ProofStatus::Changed);
        assert_eq!(db.changed_parts, vec!["table:public.t"]);
        assert_eq!(p.failures.len(), 1);
        assert_eq!(p.failures[0].class, FailureClass::Changed);
        assert!(!p.boundaries[0].holds && p.boundaries[1].holds);
        let facts = super::changed_forbidden_surfaces(&p).unwrap();
        assert_eq!(facts.len(), 1);
        let f = &facts[0];
        assert_eq!(f.id, "changed-forbidden-surface:prod-mutation:db");
        assert_eq!(
            (f.boundary(), f.status()),
            (Some("prod-mutation"), Some(ProofStatus::Changed))
        );
        // It cites the proof's entry (the proof file pinned by the sha256 of
        // the bytes `write` writes) and the digests in both snapshots.
        let proof_sha = digest::sha256_hex(&canonical::to_bytes(&p).unwrap());
        let cites: Vec<(String, String, String, Option<String>)> = f
            .evidence
            .iter()
            .map(|e| match e {
                crate::surface::facts::FactEvidence::Artifact(a) => (
                    a.file.clone(),
                    a.sha256.clone(),
                    a.at.clone(),
                    a.value.clone(),
                ),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            cites,
            vec![
                (
                    PROOF_FILE.to_string(),
                    proof_sha,
                    "/boundaries/0/surfaces/1/status".to_string(),
                    Some("CHANGED".to_string())
                ),
                (
                    "b".into(),
                    h("b"),
                    "/surfaces/db/digest".into(),
                    db.before.clone()
                ),
                (
                    "a".into(),
                    h("a"),
                    "/surfaces/db/digest".into(),
                    db.after.clone()
                ),
            ]
        );
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v.pointer("/boundaries/0/surfaces/1/surface").unwrap(), "db");
        assert_eq!(
            v.pointer("/boundaries/0/surfaces/1/status").unwrap(),
            "CHANGED"
        );
        assert_ne!(db.before, db.after);
    }

    #[test]
    fn a_surface_under_two_boundaries_gives_one_fact_per_boundary() {
        let mut b = world("rows", "out", &REG_BEFORE);
        b.boundaries.push(boundary("db-only", &["db"], &IDS));
        b.boundaries_sha256 = boundaries_digest(&b.boundaries).unwrap();
        let mut a = world("rows2", "out", &REG_BEFORE);
        a.boundaries = b.boundaries.clone();
        a.boundaries_sha256 = b.boundaries_sha256.clone();
        let p = prove(&input("b", b), &input("a", a), &auth(&[]), &[]).unwrap();
        let ids: Vec<String> = super::changed_forbidden_surfaces(&p)
            .unwrap()
            .into_iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(
            ids,
            [
                "changed-forbidden-surface:prod-mutation:db",
                "changed-forbidden-surface:db-only:db"
            ]
        );
    }

    #[test]
    fn the_authorized_fold_matches_its_pins() {
        let pins_b = [("registry.json", "r1"), ("index.md", "i1")];
        let pins_a = [("registry.json", "r2"), ("index.md", "i2")];
        let p = prove(
            &input("b", world("rows", "out", &REG_BEFORE)),
            &input("a", world("rows", "out", &REG_AFTER)),
            &auth(&[("registry", "442..461")]),
            &[fold("442..461", true, &pins_b, &pins_a)],
        )
        .unwrap();
        assert_eq!(p.result, ProofResult::Proven, "{:?}", p.failures);
        let m = &p.authorized_mutations[0];
        assert_eq!(m.status, ProofStatus::AuthorizedMutationMatched);
        assert_eq!(m.pins.len(), 2);
        assert!(m.pins.iter().all(|c| c.matches));
        let reg = p.surfaces.iter().find(|s| s.surface == "registry").unwrap();
        assert_eq!(reg.status, ProofStatus::AuthorizedMutationMatched);
        assert_eq!(p.counts.authorized_mutation_matched, 1);
    }

    #[test]
    fn the_authorized_surface_changing_otherwise_is_a_mismatch() {
        let pins_b = [("registry.json", "r1"), ("index.md", "i1")];
        // After bytes differ from the after pin.
        let p = prove(
            &input("b", world("rows", "out", &REG_BEFORE)),
            &input(
                "a",
                world(
                    "rows",
                    "out",
                    &[
                        ("registry.json", "r2"),
                        ("index.md", "other"),
                        ("history/0001", "h"),
                    ],
                ),
            ),
            &auth(&[("registry", "442..461")]),
            &[fold(
                "442..461",
                true,
                &pins_b,
                &[("registry.json", "r2"), ("index.md", "i2")],
            )],
        )
        .unwrap();
        assert_eq!(p.result, ProofResult::NotProven);
        let m = &p.authorized_mutations[0];
        assert_eq!(m.status, ProofStatus::AuthorizedMutationMismatch);
        assert!(m.detail.contains("index.md"), "{}", m.detail);
        assert_eq!(p.failures[0].class, FailureClass::AuthorizedMismatch);
        // A file without a pin changed (history rewritten).
        let p = prove(
            &input("b", world("rows", "out", &REG_BEFORE)),
            &input(
                "a",
                world(
                    "rows",
                    "out",
                    &[
                        ("registry.json", "r2"),
                        ("index.md", "i2"),
                        ("history/0001", "rewritten"),
                    ],
                ),
            ),
            &auth(&[("registry", "442..461")]),
            &[fold(
                "442..461",
                true,
                &pins_b,
                &[("registry.json", "r2"), ("index.md", "i2")],
            )],
        )
        .unwrap();
        assert_eq!(
            p.authorized_mutations[0].unpinned_changes,
            vec!["history/0001"]
        );
        assert_eq!(p.result, ProofResult::NotProven);
        // Before bytes not the before pins (the fold started from something else).
        let p = prove(
            &input("b", world("rows", "out", &REG_BEFORE)),
            &input("a", world("rows", "out", &REG_AFTER)),
            &auth(&[("registry", "442..461")]),
            &[fold(
                "442..461",
                true,
                &[("registry.json", "r0"), ("index.md", "i1")],
                &[("registry.json", "r2"), ("index.md", "i2")],
            )],
        )
        .unwrap();
        assert_eq!(
            p.surfaces
                .iter()
                .find(|s| s.surface == "registry")
                .unwrap()
                .status,
            ProofStatus::AuthorizedMutationMismatch
        );
    }

    #[test]
    fn an_authorized_fold_without_its_result_fails() {
        let p = prove(
            &input("b", world("rows", "out", &REG_BEFORE)),
            &input("a", world("rows", "out", &REG_AFTER)),
            &auth(&[("registry", "442..461")]),
            &[],
        )
        .unwrap();
        assert_eq!(p.result, ProofResult::NotProven);
        assert_eq!(
            p.failures[0].class,
            FailureClass::AuthorizedWithoutFoldResult
        );
        assert_eq!(
            p.authorized_mutations[0].status,
            ProofStatus::AuthorizedMutationMismatch
        );
    }

    #[test]
    fn an_unapplied_fold_requires_an_unchanged_surface() {
        let ok = prove(
            &input("b", world("rows", "out", &REG_BEFORE)),
            &input("a", world("rows", "out", &REG_BEFORE)),
            &auth(&[("registry", "442..461")]),
            &[fold("442..461", false, &[], &[])],
        )
        .unwrap();
        assert_eq!(ok.result, ProofResult::Proven, "{:?}", ok.failures);
        assert_eq!(ok.authorized_mutations[0].status, ProofStatus::Untouched);
        let bad = prove(
            &input("b", world("rows", "out", &REG_BEFORE)),
            &input("a", world("rows", "out", &REG_AFTER)),
            &auth(&[("registry", "442..461")]),
            &[fold("442..461", false, &[], &[])],
        )
        .unwrap();
        assert_eq!(bad.result, ProofResult::NotProven);
    }

    #[test]
    fn a_fold_the_authorization_does_not_name_fails() {
        let p = prove(
            &input("b", world("rows", "out", &REG_BEFORE)),
            &input("a", world("rows", "out", &REG_BEFORE)),
            &auth(&[]),
            &[fold(
                "1..5",
                true,
                &[("registry.json", "r1")],
                &[("registry.json", "r1")],
            )],
        )
        .unwrap();
        assert_eq!(p.failures[0].class, FailureClass::UnauthorizedFold);
        assert_eq!(p.result, ProofResult::NotProven);
        let e = prove(
            &input("b", world("rows", "out", &REG_BEFORE)),
            &input("a", world("rows", "out", &REG_BEFORE)),
            &auth(&[("registry", "1..5")]),
            &[fold("1..5", false, &[], &[]), fold("1..5", false, &[], &[])],
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn declared_only_critical_becomes_a_blocker_fact_under_the_policy() {
        let mut b = world("rows", "out", &REG_BEFORE);
        b.policy.require_digest_for = vec![Level::Critical];
        let p = prove(&input("b", b.clone()), &input("a", b), &auth(&[]), &[]).unwrap();
        assert_eq!(
            p.result,
            ProofResult::Proven,
            "a blocker, not a proof failure"
        );
        assert_eq!(p.blocker_facts.len(), 1);
        let f = &p.blocker_facts[0];
        assert_eq!(
            f.id,
            "declared-only-critical-surface:secrets-change:secrets"
        );
        assert_eq!(f.boundary(), Some("secrets-change"));
        // Recorded in the proof: it cites the snapshots (no snapshot method).
        let at = |e: &crate::surface::facts::FactEvidence| match e {
            crate::surface::facts::FactEvidence::Artifact(a) => {
                (a.file.clone(), a.at.clone(), a.value.clone())
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            f.evidence.iter().map(at).collect::<Vec<_>>(),
            vec![
                (
                    "b".into(),
                    "/surfaces/secrets/method".into(),
                    Some("none".into())
                ),
                (
                    "a".into(),
                    "/surfaces/secrets/method".into(),
                    Some("none".into())
                ),
            ]
        );
        // Listed: the proof's record comes first, pinned by the proof's sha256.
        let listed = super::declared_only_critical_surfaces(&p).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, f.id);
        assert_eq!(
            at(&listed[0].evidence[0]),
            (
                PROOF_FILE.into(),
                "/blocker_facts/0/id".into(),
                Some(f.id.clone())
            )
        );
        assert_eq!(&listed[0].evidence[1..], &f.evidence[..]);
        // High is not in the policy: no fact.
        let mut b = world("rows", "out", &REG_BEFORE);
        b.policy.require_digest_for = vec![Level::High];
        let p = prove(&input("b", b.clone()), &input("a", b), &auth(&[]), &[]).unwrap();
        assert!(p.blocker_facts.is_empty());
    }

    #[test]
    fn a_boundary_matching_nothing_fails() {
        let mut b = world("rows", "out", &REG_BEFORE);
        b.boundaries.push(BoundaryRecord {
            id: "cutover".into(),
            title: "NO cutover".into(),
            surfaces: vec!["deploy-*".into()],
            covers: vec![],
        });
        b.boundaries_sha256 = boundaries_digest(&b.boundaries).unwrap();
        let p = prove(&input("b", b.clone()), &input("a", b), &auth(&[]), &[]).unwrap();
        assert_eq!(p.result, ProofResult::NotProven);
        assert_eq!(p.failures[0].class, FailureClass::BoundaryMatchesNothing);
        assert_eq!(p.failures[0].boundary.as_deref(), Some("cutover"));
        assert!(!p.boundaries[2].holds);
        let mut b = world("rows", "out", &REG_BEFORE);
        b.boundaries.clear();
        b.boundaries_sha256 = boundaries_digest(&b.boundaries).unwrap();
        let p = prove(&input("b", b.clone()), &input("a", b), &auth(&[]), &[]).unwrap();
        assert_eq!(p.failures[0].class, FailureClass::NoBoundaries);
    }

    #[test]
    fn a_surface_in_one_snapshot_only_fails() {
        let b = world("rows", "out", &REG_BEFORE);
        let mut a = b.clone();
        a.surfaces.remove("cms");
        let p = prove(&input("b", b), &input("a", a), &auth(&[]), &[]).unwrap();
        assert_eq!(p.failures[0].class, FailureClass::SurfaceMissing);
        assert!(p.failures[0].detail.contains("BEFORE only"));
    }

    #[test]
    fn snapshots_of_different_specs_are_refused() {
        let b = world("rows", "out", &REG_BEFORE);
        let mut a = b.clone();
        a.spec_sha256 = h("other spec");
        let e = prove(&input("b", b.clone()), &input("a", a), &auth(&[]), &[]).unwrap_err();
        assert_eq!(e.exit_code(), 5);
        assert!(e.to_string().contains("different surfaces specs"), "{e}");
        let mut a = b.clone();
        a.policy.require_digest_for = vec![Level::Low];
        assert_eq!(
            prove(&input("b", b), &input("a", a), &auth(&[]), &[])
                .unwrap_err()
                .exit_code(),
            5
        );
    }

    fn parts_strategy() -> impl Strategy<Value = BTreeMap<String, String>> {
        proptest::collection::btree_map("[a-c]{1,2}(/[a-c])?", "[a-f0-9]{64}", 1..8)
    }

    fn files_world(parts: BTreeMap<String, String>) -> Snapshot {
        let mut s = surface(Method::Files, Some(Level::High), &[]);
        s.digest = Some(parts_digest(&parts).unwrap());
        s.parts = parts;
        snap(
            vec![("registry", s)],
            vec![boundary("b", &["registry"], &["registry"])],
            &[],
        )
    }

    proptest! {
        /// The same snapshot on both sides is always proven untouched.
        #[test]
        fn identical_snapshots_are_untouched(parts in parts_strategy()) {
            let s = files_world(parts);
            let p = prove(&input("b", s.clone()), &input("a", s), &auth(&[]), &[]).unwrap();
            prop_assert_eq!(p.result, ProofResult::Proven);
            prop_assert_eq!(p.surfaces[0].status, ProofStatus::Untouched);
        }

        /// Changing any one part is caught, and exactly that part is named.
        #[test]
        fn any_single_change_is_caught(parts in parts_strategy(), pick in any::<prop::sample::Index>(), new in "[a-f0-9]{64}") {
            let key = pick.get(&parts.keys().cloned().collect::<Vec<_>>()).clone();
            prop_assume!(parts[&key] != new);
            let mut after = parts.clone();
            after.insert(key.clone(), new);
            let p = prove(&input("b", files_world(parts)), &input("a", files_world(after)), &auth(&[]), &[]).unwrap();
            prop_assert_eq!(p.result, ProofResult::NotProven);
            prop_assert_eq!(p.surfaces[0].status, ProofStatus::Changed);
            prop_assert_eq!(&p.surfaces[0].changed_parts, &vec![key]);
        }

        /// An authorized fold matches exactly when AFTER is BEFORE with the
        /// pinned files replaced by their after pins, and nothing else.
        #[test]
        fn fold_matches_iff_after_is_before_with_pins_applied(
            parts in parts_strategy(),
            pick in any::<prop::sample::Index>(),
            new in "[a-f0-9]{64}",
            tamper in any::<bool>(),
            other in any::<prop::sample::Index>(),
        ) {
            let keys: Vec<String> = parts.keys().cloned().collect();
            let key = pick.get(&keys).clone();
            let mut after = parts.clone();
            after.insert(key.clone(), new.clone());
            let other_key = other.get(&keys).clone();
            let tampered = tamper && other_key != key;
            if tampered {
                after.insert(other_key, "0".repeat(64));
            }
            let f = FoldInput {
                file: "f.json".into(),
                sha256: h("f"),
                fold: FoldView {
                    range: "1..2".parse().unwrap(),
                    applied: true,
                    pins_before: [(key.clone(), parts[&key].clone())].into_iter().collect(),
                    pins_after: [(key.clone(), new)].into_iter().collect(),
                },
            };
            let changed_other = tampered && parts[&other.get(&keys).clone()] != "0".repeat(64);
            let p = prove(&input("b", files_world(parts)), &input("a", files_world(after)), &auth(&[("registry", "1..2")]), &[f]).unwrap();
            let expect = if changed_other { ProofStatus::AuthorizedMutationMismatch } else { ProofStatus::AuthorizedMutationMatched };
            prop_assert_eq!(p.surfaces[0].status, expect);
        }
    }

    #[test]
    fn an_authorization_naming_an_absent_surface_fails() {
        let s = world("rows", "out", &REG_BEFORE);
        let p = prove(
            &input("b", s.clone()),
            &input("a", s),
            &auth(&[("registry-typo", "442..461")]),
            &[fold(
                "442..461",
                true,
                &[("registry.json", "r1")],
                &[("registry.json", "r1")],
            )],
        )
        .unwrap();
        assert_eq!(p.result, ProofResult::NotProven);
        assert_eq!(
            p.authorized_mutations[0].status,
            ProofStatus::AuthorizedMutationMismatch
        );
        assert!(
            p.authorized_mutations[0]
                .detail
                .contains("neither snapshot has"),
            "{}",
            p.authorized_mutations[0].detail
        );
    }

    /// One test (or two) per rule of [`Prover`], each calling the rule itself
    /// and showing it fail on the input it exists to catch.
    mod rules {
        use super::*;

        /// A prover over `b` and `a` with no fold results.
        fn with<'a>(
            b: &'a SnapshotInput,
            a: &'a SnapshotInput,
            auth: &'a Authorization,
            change: Option<&'a ChangeSpec>,
        ) -> Prover<'a> {
            Prover::new(b, a, auth, change, &BTreeMap::new())
        }

        fn classes(p: &Prover<'_>) -> Vec<FailureClass> {
            p.failures.iter().map(|f| f.class).collect()
        }

        fn change_auth(may: &[(&str, &str)]) -> Authorization {
            let mut a = auth(&[]);
            a.mutations.push(AuthorizedMutation::Change(ChangeSpec {
                id: "ch".into(),
                argv: vec!["true".into()],
                rollback: vec!["true".into()],
                timeout_seconds: 60,
                may_change: may
                    .iter()
                    .map(|(s, g)| (s.to_string(), vec![g.to_string()]))
                    .collect(),
            }));
            a
        }

        /// Two snapshots of one `files` surface `reg`, under one boundary.
        fn files_pair(
            before: &[(&str, &str)],
            after: &[(&str, &str)],
        ) -> (SnapshotInput, SnapshotInput) {
            let one = |parts: &[(&str, &str)]| {
                snap(
                    vec![("reg", surface(Method::Files, Some(Level::High), parts))],
                    vec![boundary("no-reg", &["reg"], &["reg"])],
                    &[],
                )
            };
            (input("b", one(before)), input("a", one(after)))
        }

        #[test]
        fn a_change_the_authorization_does_not_name_is_refused() {
            let a = change_auth(&[]);
            assert!(Prover::authorized_change(&a, None).unwrap().is_none());
            assert_eq!(
                Prover::authorized_change(&a, Some("ch"))
                    .unwrap()
                    .unwrap()
                    .id,
                "ch"
            );
            let e = Prover::authorized_change(&a, Some("other")).unwrap_err();
            assert_eq!(e.exit_code(), 5);
            assert!(e.to_string().contains("names no such change"), "{e}");
        }

        #[test]
        fn snapshots_of_different_boundaries_are_refused() {
            let b = input("b", world("rows", "out", &REG_BEFORE));
            Prover::same_spec(&b, &b).unwrap();
            let mut a = b.clone();
            a.snapshot.boundaries_sha256 = h("other boundaries");
            let e = Prover::same_spec(&b, &a).unwrap_err();
            assert_eq!(e.exit_code(), 5);
            assert!(
                e.to_string().contains("different boundaries or policy"),
                "{e}"
            );
        }

        #[test]
        fn two_results_for_one_range_are_a_usage_error() {
            let f = fold("1..2", true, &[], &[]);
            assert_eq!(
                Prover::one_result_per_range(std::slice::from_ref(&f))
                    .unwrap()
                    .len(),
                1
            );
            let e = Prover::one_result_per_range(&[f.clone(), f]).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(
                e.to_string()
                    .contains("two fold results given for range 1..2"),
                "{e}"
            );
        }

        #[test]
        fn a_fold_result_nobody_authorized_fails() {
            let b = input("b", world("rows", "out", &REG_BEFORE));
            let auth = auth(&[("registry", "1..2")]);
            let mut p = with(&b, &b, &auth, None);
            p.unauthorized_folds(&[fold("1..2", true, &[], &[])]);
            assert!(p.failures.is_empty());
            p.unauthorized_folds(&[fold("3..4", true, &[], &[])]);
            assert_eq!(classes(&p), vec![FailureClass::UnauthorizedFold]);
        }

        #[test]
        fn a_surface_in_one_snapshot_is_changed_with_its_one_digest() {
            let b = input("b", world("rows", "out", &REG_BEFORE));
            let mut a = b.clone();
            a.snapshot.surfaces.remove("cms");
            let auth = auth(&[]);
            let mut p = with(&b, &a, &auth, None);
            assert!(p.surface("nowhere").is_none());
            let v = p.surface("cms").unwrap();
            assert_eq!(v.status, ProofStatus::Changed);
            assert!(v.before.is_some() && v.after.is_none());
            assert_eq!(classes(&p), vec![FailureClass::SurfaceMissing]);
            let mut p = with(&a, &b, &auth, None);
            let v = p.surface("cms").unwrap();
            assert!(v.before.is_none() && v.after.is_some());
            assert!(v.detail.contains("AFTER only"), "{}", v.detail);
        }

        #[test]
        fn a_surface_read_by_two_methods_is_changed() {
            let b = input("b", world("rows", "out", &REG_BEFORE));
            let mut a = b.clone();
            if let Some(s) = a.snapshot.surfaces.get_mut("cms") {
                s.method = Method::Files;
            }
            let auth = auth(&[]);
            let mut p = with(&b, &a, &auth, None);
            let v = p.surface("cms").unwrap();
            assert_eq!(v.status, ProofStatus::Changed);
            assert_eq!(classes(&p), vec![FailureClass::MethodDiffers]);
        }

        #[test]
        fn a_governed_change_holds_inside_its_set_and_fails_outside() {
            let (b, a) = files_pair(
                &[("in/x", "1"), ("out/y", "1")],
                &[("in/x", "2"), ("out/y", "1")],
            );
            let auth = change_auth(&[("reg", "in/**")]);
            let c = auth.authorized_change("ch");
            let mut p = with(&b, &a, &auth, c);
            assert_eq!(
                p.surface("reg").unwrap().status,
                ProofStatus::AuthorizedChangeMatched
            );
            assert!(p.failures.is_empty());
            assert_eq!(
                p.surface("reg").map(|v| v.changed_parts),
                Some(vec!["in/x".to_string()])
            );

            let mut p = with(&b, &b, &auth, c);
            assert_eq!(p.surface("reg").unwrap().status, ProofStatus::Untouched);
            assert!(p.failures.is_empty());

            let (b, a) = files_pair(&[("out/y", "1")], &[("out/y", "2")]);
            let mut p = with(&b, &a, &auth, c);
            let v = p.surface("reg").unwrap();
            assert_eq!(v.status, ProofStatus::AuthorizedChangeOutsideScope);
            assert!(
                v.detail.contains("outside its declared set: out/y"),
                "{}",
                v.detail
            );
            assert_eq!(classes(&p), vec![FailureClass::ChangeOutsideScope]);
        }

        #[test]
        fn a_digest_change_with_no_part_is_outside_a_change() {
            let (b, mut a) = files_pair(&[("in/x", "1")], &[("in/x", "1")]);
            if let Some(s) = a.snapshot.surfaces.get_mut("reg") {
                s.digest = Some(h("another digest"));
            }
            let auth = change_auth(&[("reg", "in/**")]);
            let mut p = with(&b, &a, &auth, auth.authorized_change("ch"));
            let v = p.surface("reg").unwrap();
            assert_eq!(v.status, ProofStatus::AuthorizedChangeOutsideScope);
            assert!(v.detail.contains("no part to match"), "{}", v.detail);
        }

        #[test]
        fn two_applied_folds_on_one_surface_fail_each() {
            let b = input("b", world("rows", "out", &REG_BEFORE));
            let a = input("a", world("rows", "out", &REG_AFTER));
            let auth = auth(&[("registry", "1..2"), ("registry", "3..4")]);
            let (f1, f2) = (
                fold("1..2", true, &REG_BEFORE, &REG_AFTER),
                fold("3..4", true, &REG_BEFORE, &REG_AFTER),
            );
            let by_range: BTreeMap<FoldRange, &FoldInput> =
                [(f1.fold.range, &f1), (f2.fold.range, &f2)]
                    .into_iter()
                    .collect();
            let mut p = Prover::new(&b, &a, &auth, None, &by_range);
            let v = p.surface("registry").unwrap();
            assert_eq!(v.status, ProofStatus::AuthorizedMutationMismatch);
            assert_eq!(
                classes(&p),
                vec![
                    FailureClass::AuthorizedMismatch,
                    FailureClass::AuthorizedMismatch
                ]
            );
            assert!(
                v.detail.contains("2 applied folds on one surface"),
                "{}",
                v.detail
            );
        }

        #[test]
        fn a_fold_rule_matches_only_its_pins() {
            let b = input("b", world("rows", "out", &REG_BEFORE));
            let a = input("a", world("rows", "out", &REG_AFTER));
            let auth = auth(&[("registry", "1..2")]);
            let v = with(&b, &a, &auth, None).surface("registry").unwrap();
            assert_eq!(
                v.changed_parts,
                vec!["index.md".to_string(), "registry.json".to_string()]
            );
            let (sb, sa) = (
                &b.snapshot.surfaces["registry"],
                &a.snapshot.surfaces["registry"],
            );
            let range: FoldRange = "1..2".parse().unwrap();
            let good = fold("1..2", true, &REG_BEFORE, &REG_AFTER);
            let mut p = with(&b, &a, &auth, None);
            let mv = p.fold(&v, range, Some(&good), 1, sb, sa);
            assert_eq!(mv.status, ProofStatus::AuthorizedMutationMatched);
            assert!(p.failures.is_empty());
            let wrong = fold("1..2", true, &REG_BEFORE, &REG_BEFORE);
            let mv = p.fold(&v, range, Some(&wrong), 1, sb, sa);
            assert_eq!(mv.status, ProofStatus::AuthorizedMutationMismatch);
            let mv = p.fold(&v, range, None, 0, sb, sa);
            assert_eq!(mv.status, ProofStatus::AuthorizedMutationMismatch);
            let unapplied = fold("1..2", false, &[], &[]);
            let mv = p.fold(&v, range, Some(&unapplied), 0, sb, sa);
            assert_eq!(mv.status, ProofStatus::AuthorizedMutationMismatch);
            assert!(
                mv.detail.contains("yet the surface changed"),
                "{}",
                mv.detail
            );
            assert_eq!(
                classes(&p),
                vec![
                    FailureClass::AuthorizedMismatch,
                    FailureClass::AuthorizedWithoutFoldResult,
                    FailureClass::AuthorizedMismatch
                ]
            );
        }

        #[test]
        fn a_changed_digest_fails_and_an_equal_one_holds() {
            let b = input("b", world("rows", "out", &REG_BEFORE));
            let a = input("a", world("other rows", "out", &REG_BEFORE));
            let auth = auth(&[]);
            let mut p = with(&b, &a, &auth, None);
            assert_eq!(p.surface("cms").unwrap().status, ProofStatus::Untouched);
            assert!(p.failures.is_empty());
            let v = p.surface("db").unwrap();
            assert_eq!(v.status, ProofStatus::Changed);
            assert_eq!(v.changed_parts, vec!["table:public.t".to_string()]);
            assert_eq!(classes(&p), vec![FailureClass::Changed]);
        }

        #[test]
        fn no_snapshot_method_is_declared_only_and_noted() {
            let b = input("b", world("rows", "out", &REG_BEFORE));
            let auth = auth(&[]);
            let mut p = with(&b, &b, &auth, None);
            let v = p.surface("secrets").unwrap();
            assert_eq!(v.status, ProofStatus::DeclaredNotContacted);
            assert!(p.failures.is_empty());
            let notes = declared_only_notes(&[v]);
            assert_eq!(notes.len(), 1);
            assert!(
                notes[0].starts_with("secrets: DECLARED_NOT_CONTACTED"),
                "{}",
                notes[0]
            );
        }

        #[test]
        fn a_fold_on_a_surface_no_snapshot_has_fails() {
            let b = input("b", world("rows", "out", &REG_BEFORE));
            let auth = auth(&[("registry", "1..2"), ("nowhere", "3..4")]);
            let mut p = with(&b, &b, &auth, None);
            p.mutations_on_absent_surfaces();
            assert_eq!(classes(&p), vec![FailureClass::AuthorizedMismatch]);
            assert_eq!(p.failures[0].surface.as_deref(), Some("nowhere"));
            assert_eq!(p.mutations.len(), 1);
        }

        #[test]
        fn no_boundary_and_an_empty_boundary_fail() {
            let mut s = world("rows", "out", &REG_BEFORE);
            let ok = input("b", s.clone());
            let auth = auth(&[]);
            let mut p = with(&ok, &ok, &auth, None);
            let surfaces: Vec<SurfaceVerdict> = IDS.iter().filter_map(|id| p.surface(id)).collect();
            let bs = p.boundaries(&surfaces);
            assert!(p.failures.is_empty());
            assert!(bs.iter().all(|b| b.holds));

            s.boundaries.clear();
            let none = input("b", s.clone());
            let mut p = with(&none, &none, &auth, None);
            assert!(p.boundaries(&surfaces).is_empty());
            assert_eq!(classes(&p), vec![FailureClass::NoBoundaries]);

            s.boundaries = vec![BoundaryRecord {
                id: "ghost".into(),
                title: "NO ghost".into(),
                surfaces: vec!["ghost-*".into()],
                covers: vec![],
            }];
            let ghost = input("b", s);
            let mut p = with(&ghost, &ghost, &auth, None);
            let bs = p.boundaries(&surfaces);
            assert!(!bs[0].holds);
            assert!(
                p.failures
                    .iter()
                    .all(|f| f.class == FailureClass::BoundaryMatchesNothing)
            );
            assert!(!p.failures.is_empty());
        }

        #[test]
        fn a_boundary_over_a_changed_surface_does_not_hold() {
            let b = input("b", world("rows", "out", &REG_BEFORE));
            let a = input("a", world("other rows", "out", &REG_BEFORE));
            let auth = auth(&[]);
            let mut p = with(&b, &a, &auth, None);
            let surfaces: Vec<SurfaceVerdict> = IDS.iter().filter_map(|id| p.surface(id)).collect();
            let bs = p.boundaries(&surfaces);
            let holds: Vec<(&str, bool)> = bs.iter().map(|b| (b.id.as_str(), b.holds)).collect();
            assert_eq!(
                holds,
                vec![("prod-mutation", false), ("secrets-change", true)]
            );
        }

        #[test]
        fn the_policy_makes_declared_only_surfaces_blocker_facts() {
            let auth = auth(&[]);
            let facts_under = |policy: &[Level], risk: Option<Level>| {
                let mut s = world("rows", "out", &REG_BEFORE);
                s.policy.require_digest_for = policy.to_vec();
                if let Some(x) = s.surfaces.get_mut("secrets") {
                    x.risk = risk;
                }
                let i = input("b", s);
                let mut p = with(&i, &i, &auth, None);
                let surfaces: Vec<SurfaceVerdict> =
                    IDS.iter().filter_map(|id| p.surface(id)).collect();
                let bs = p.boundaries(&surfaces);
                p.declared_only_blocker_facts(&surfaces, &bs)
            };
            let f = facts_under(&[Level::Critical], Some(Level::Critical));
            assert_eq!(f.len(), 1);
            assert_eq!(
                f[0].id,
                "declared-only-critical-surface:secrets-change:secrets"
            );
            assert!(facts_under(&[], Some(Level::Critical)).is_empty());
            assert!(facts_under(&[Level::Critical], Some(Level::Low)).is_empty());
            // An unknown risk may be critical: it counts under any policy.
            assert_eq!(facts_under(&[Level::Low], None).len(), 1);
        }

        #[test]
        fn counts_follow_the_statuses() {
            let b = input("b", world("rows", "out", &REG_BEFORE));
            let a = input("a", world("other rows", "out", &REG_BEFORE));
            let auth = auth(&[]);
            let mut p = with(&b, &a, &auth, None);
            let surfaces: Vec<SurfaceVerdict> = IDS.iter().filter_map(|id| p.surface(id)).collect();
            let c = ProofCounts::of(&surfaces);
            assert_eq!(
                (c.untouched, c.changed, c.declared_not_contacted),
                (2, 1, 1)
            );
        }
    }
}
