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
//! which rule and why), with its unit tests in `proof_tests.rs`
//! (`mod rules`); [`prove_with`] applies the rules in one fixed order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::facts::{
    ArtifactCitation, DerivedFact, FactEvidence, FactKind, changed_forbidden_surface_id,
    declared_only_critical_surface_id, pointer_token,
};
use super::snapshot::{self, Method, Snapshot, SurfaceSnapshot};
use super::spec::{Table, resolve_members};
use crate::authz::{Authorization, AuthorizedMutation, ChangeSpec, FoldRange};
use crate::canonical;
use crate::digest;
use crate::error::{Error, IoContext, Result};
use crate::fsio;
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
/// The rules are the methods of [`Prover`], applied in a fixed order (the
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
#[path = "proof_tests.rs"]
mod tests;
