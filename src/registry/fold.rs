//! Folds and claims as pure plans over the model, and the fold result.
//!
//! [`plan_fold`] is the "would this fold be safe?" question: it returns the
//! first reason a fold is refused, or the plan of the state after it, without
//! touching anything. A run records the refusal when it skips a fold; the
//! store applies the plan when it folds.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::check::{CheckReport, Counts, check_parts};
use super::id::runs;
use super::model::{
    Claim, ClaimDoc, ClaimState, MAX_CLAIM, NewRecord, Object, Registry, Revisions,
    check_new_record, check_packet_name,
};
use super::patch::Rehearsal;
use crate::authz::FoldRange;
use crate::error::{Error, Result};

/// Why a fold is refused: the safety condition that does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalReason {
    /// The range reaches beyond the highest id the width can spell.
    OutOfWidth,
    /// The range reaches into the canonical body (A <= canonical_max).
    Overlap,
    /// The range does not start right after the canonical body (A != canonical_max + 1).
    WrongStart,
    /// Some id of the range belongs to no staged claim.
    Gap,
    /// A staged claim lies only partly inside the range.
    PartialClaim,
    /// Some id of the range has no record.
    MissingRecord,
    /// Some id of the range has several records.
    DuplicateRecord,
    /// The registry fails `check` before the fold.
    CheckBefore,
    /// The registry would fail `check` after the fold.
    CheckAfter,
}

/// A refused fold: the first condition that does not hold, in one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FoldRefusal {
    /// The condition, as a stable code (`wrong-start`, `partial-claim`, …).
    pub reason: RefusalReason,
    /// What is wrong, naming the ids.
    pub message: String,
}

impl From<FoldRefusal> for Error {
    fn from(r: FoldRefusal) -> Self {
        Error::refused(format!("fold: {}", r.message))
    }
}

/// The state a safe fold leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldPlan {
    /// The range folded.
    pub range: FoldRange,
    /// The canonical max after the fold (the range's last id).
    pub canonical_max_after: u64,
    /// Every claim after the fold (the folded ones change state).
    pub claims_after: Vec<Claim>,
    /// Indices (into the claims) of the claims the fold makes canonical.
    pub folded: Vec<usize>,
    /// `check` before the fold (passes).
    pub check_before: CheckReport,
    /// `check` of the planned state (passes).
    pub check_after: CheckReport,
}

impl FoldPlan {
    /// Moves `reg` to the planned state; the three documents a fold changes
    /// take their revisions from `next` (the records documents keep theirs).
    pub fn apply(&self, reg: &mut Registry, next: &Revisions) {
        reg.canonical_max = self.canonical_max_after;
        reg.claims = self.claims_after.clone();
        reg.revisions.registry_json = next.registry_json;
        reg.revisions.registry_md = next.registry_md;
        reg.revisions.index_md = next.index_md;
    }
}

fn refuse(reason: RefusalReason, message: String) -> FoldRefusal {
    FoldRefusal { reason, message }
}

/// Decides whether folding `range` is safe and plans it. Pure.
///
/// Conditions, in the order they are tested (the first that fails is
/// returned): the range fits the width; it does not reach into the canonical
/// body; it starts at `canonical_max + 1`; it is exactly a union of whole
/// staged claims; every id in it has exactly one record; the registry passes
/// `check` before; the planned state passes `check` after.
pub fn plan_fold(reg: &Registry, range: FoldRange) -> Result<FoldPlan, FoldRefusal> {
    let f = &reg.format;
    let cmax = reg.canonical_max;
    let shown = f.format_range(range.first, range.last);
    if range.first == 0 || range.first > range.last {
        return Err(refuse(
            RefusalReason::WrongStart,
            format!("range {range} is empty or starts at 0"),
        ));
    }
    if range.last > f.max_number() {
        return Err(refuse(
            RefusalReason::OutOfWidth,
            format!(
                "range {range} reaches beyond width {} (highest id {})",
                f.width(),
                f.format(f.max_number())
            ),
        ));
    }
    if range.first <= cmax {
        return Err(refuse(
            RefusalReason::Overlap,
            format!(
                "range {shown} reaches into the canonical body {} at {}",
                f.format_range(1, cmax),
                f.format_range(range.first, range.last.min(cmax))
            ),
        ));
    }
    if range.first != cmax + 1 {
        return Err(refuse(
            RefusalReason::WrongStart,
            format!(
                "range {shown} must start at canonical_max + 1 = {} ({}); {} would stay a gap",
                cmax + 1,
                f.format(cmax + 1),
                f.format_range(cmax + 1, range.first - 1)
            ),
        ));
    }

    // Whole staged claims only, covering the range exactly.
    let mut inside: Vec<usize> = Vec::new();
    for (i, c) in reg.claims.iter().enumerate() {
        if c.last < range.first || c.first > range.last {
            continue;
        }
        if c.state != ClaimState::Staged {
            return Err(refuse(
                RefusalReason::Overlap,
                format!(
                    "claim {} of {} inside the range is already folded",
                    f.format_range(c.first, c.last),
                    c.packet
                ),
            ));
        }
        if c.first < range.first || c.last > range.last {
            return Err(refuse(
                RefusalReason::PartialClaim,
                format!(
                    "staged claim {} of {} lies only partly inside {shown}; fold whole claims",
                    f.format_range(c.first, c.last),
                    c.packet
                ),
            ));
        }
        inside.push(i);
    }
    let mut covered: Vec<(u64, u64)> = inside
        .iter()
        .map(|&i| (reg.claims[i].first, reg.claims[i].last))
        .collect();
    covered.sort_unstable();
    let mut next = range.first;
    for &(a, b) in &covered {
        if a > next {
            break;
        }
        next = next.max(b + 1);
    }
    if next <= range.last {
        let hole_end = covered
            .iter()
            .map(|c| c.0)
            .find(|&a| a > next)
            .map_or(range.last, |a| a - 1);
        return Err(refuse(
            RefusalReason::Gap,
            format!(
                "{} inside {shown} belongs to no staged claim",
                f.format_range(next, hole_end.min(range.last))
            ),
        ));
    }

    // Exactly one record per id of the range.
    let mut in_range: Vec<u64> = reg
        .objects
        .iter()
        .map(|o| o.number)
        .filter(|n| range.contains(*n))
        .collect();
    in_range.sort_unstable();
    let mut dups: Vec<u64> = in_range
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect();
    dups.dedup();
    in_range.dedup();
    if (in_range.len() as u64) < range.len() {
        let missing: Vec<u64> = {
            let mut m = Vec::new();
            let mut k = 0;
            for n in range.first..=range.last {
                if k < in_range.len() && in_range[k] == n {
                    k += 1;
                } else {
                    m.push(n);
                    if m.len() > 1000 {
                        break;
                    }
                }
            }
            m
        };
        let shown_missing: Vec<String> = runs(&missing)
            .iter()
            .map(|&(a, b)| f.format_range(a, b))
            .collect();
        return Err(refuse(
            RefusalReason::MissingRecord,
            format!("no record for {} inside {shown}", shown_missing.join(", ")),
        ));
    }
    if !dups.is_empty() {
        let shown_dups: Vec<String> = runs(&dups)
            .iter()
            .map(|&(a, b)| f.format_range(a, b))
            .collect();
        return Err(refuse(
            RefusalReason::DuplicateRecord,
            format!(
                "several records for {} inside {shown}",
                shown_dups.join(", ")
            ),
        ));
    }

    let check_before = check_parts(f, cmax, &reg.claims, &reg.objects);
    if !check_before.passes() {
        return Err(refuse(
            RefusalReason::CheckBefore,
            format!(
                "the registry fails check before the fold ({}); first: {}",
                check_before.counts.summary(),
                check_before.first_problem().unwrap_or_default()
            ),
        ));
    }
    let mut claims_after = reg.claims.clone();
    for &i in &inside {
        claims_after[i].state = ClaimState::Folded;
    }
    let check_after = check_parts(f, range.last, &claims_after, &reg.objects);
    if !check_after.passes() {
        return Err(refuse(
            RefusalReason::CheckAfter,
            format!(
                "the registry would fail check after the fold ({}); first: {}",
                check_after.counts.summary(),
                check_after.first_problem().unwrap_or_default()
            ),
        ));
    }
    Ok(FoldPlan {
        range,
        canonical_max_after: range.last,
        claims_after,
        folded: inside,
        check_before,
        check_after,
    })
}

/// The first reason folding `range` is unsafe, or `None` if it is safe. Pure.
pub fn fold_refusal(reg: &Registry, range: FoldRange) -> Option<FoldRefusal> {
    plan_fold(reg, range).err()
}

/// What a claim takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimRequest {
    /// This many ids, each recorded as `reserved` (no path, no sha256 yet).
    Count(u64),
    /// One id per record, in order.
    Records(Vec<NewRecord>),
}

/// The ids a claim takes and the records it adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPlan {
    /// The claim, staged.
    pub claim: Claim,
    /// One record per id of the claim.
    pub records: Vec<Object>,
}

impl ClaimPlan {
    /// Adds the claim and its records to `reg`; every document gets its revision from `next`.
    pub fn apply(self, reg: &mut Registry, next: &Revisions) {
        reg.claims.push(self.claim);
        // New numbers are above every issued one, so the records stay sorted.
        reg.objects.extend(self.records);
        reg.revisions = *next;
    }
}

/// The kind recorded for ids taken with a bare count.
pub const RESERVED_KIND: &str = "reserved";

/// Plans a claim of the next free ids by `packet`. Pure.
///
/// Refused (nothing changes) when the registry fails `check` or the ids would
/// run past the width; a bad packet name, count or record is malformed input.
pub fn plan_claim(reg: &Registry, packet: &str, request: ClaimRequest) -> Result<ClaimPlan> {
    plan_claim_with(reg, packet, request, || {
        check_parts(&reg.format, reg.canonical_max, &reg.claims, &reg.objects)
    })
}

/// [`plan_claim`] with the check of the registry before it given by
/// `before` (asked only once the request itself is valid), so a claim that
/// has not loaded the records can pass a check over their id numbers alone
/// (see [`check_numbers`](super::check::check_numbers)). Pure.
pub fn plan_claim_with(
    reg: &Registry,
    packet: &str,
    request: ClaimRequest,
    before: impl FnOnce() -> super::check::CheckReport,
) -> Result<ClaimPlan> {
    check_packet_name("--packet", packet).map_err(Error::Usage)?;
    let n = match &request {
        ClaimRequest::Count(n) => *n,
        ClaimRequest::Records(r) => r.len() as u64,
    };
    if n == 0 {
        return Err(Error::Usage("claim: the count must be at least 1".into()));
    }
    if n > MAX_CLAIM {
        return Err(Error::Usage(format!(
            "claim: {n} ids in one claim is over the limit of {MAX_CLAIM}"
        )));
    }
    let before = before();
    if !before.passes() {
        return Err(Error::refused(format!(
            "claim: the registry fails check ({}); first: {}",
            before.counts.summary(),
            before.first_problem().unwrap_or_default()
        )));
    }
    let f = &reg.format;
    let first = reg.next_free();
    let last = first.saturating_add(n - 1);
    if last > f.max_number() {
        return Err(Error::refused(format!(
            "claim: {n} ids from {} would run past width {} (highest id {})",
            f.format(first.min(f.max_number())),
            f.width(),
            f.format(f.max_number())
        )));
    }
    let records: Vec<Object> = match request {
        ClaimRequest::Count(_) => (first..=last)
            .map(|number| Object {
                number,
                kind: RESERVED_KIND.to_string(),
                title: String::new(),
                packet: packet.to_string(),
                path: String::new(),
                sha256: String::new(),
            })
            .collect(),
        ClaimRequest::Records(records) => records
            .into_iter()
            .zip(first..=last)
            .map(|(r, number)| Object {
                number,
                kind: r.kind,
                title: r.title,
                packet: packet.to_string(),
                path: r.path,
                sha256: r.sha256,
            })
            .collect(),
    };
    Ok(ClaimPlan {
        claim: Claim {
            packet: packet.to_string(),
            first,
            last,
            state: ClaimState::Staged,
        },
        records,
    })
}

/// Validates the records of a `claim --ids` file; `path` names it in errors.
pub fn check_records(records: &[NewRecord], path: &std::path::Path) -> Result<()> {
    for (i, r) in records.iter().enumerate() {
        check_new_record(&format!("[{i}]"), r).map_err(|e| Error::malformed(path, e))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The fold result (contract with `surface`, `gate`, `packet`).
// ---------------------------------------------------------------------------

/// A value before and after the fold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BeforeAfter<T> {
    /// Before the fold.
    pub before: T,
    /// After the fold.
    pub after: T,
}

/// The folded range, as numbers and as ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RangeIds {
    /// First id number.
    pub first: u64,
    /// Last id number (inclusive).
    pub last: u64,
    /// First id.
    pub first_id: String,
    /// Last id.
    pub last_id: String,
}

/// The next free id after the fold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NextFree {
    /// Its number.
    pub number: u64,
    /// Its id.
    pub id: String,
}

/// A file next to the fold result, pinned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchRef {
    /// File name, in the same directory as the fold result.
    pub file: String,
    /// sha256 of its bytes.
    pub sha256: String,
}

/// `governance-fold-A-B-result.json`: everything a fold proves. See
/// docs/reference/contracts.md, "Contract: the fold result".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FoldResult {
    /// The range folded.
    pub range: RangeIds,
    /// True when the fold was written to the live registry (false for a dry run).
    pub applied: bool,
    /// Canonical max before and after.
    pub canonical_max: BeforeAfter<u64>,
    /// The claims the fold made canonical.
    pub claims_folded: Vec<ClaimDoc>,
    /// The next free id after the fold.
    pub next_free: NextFree,
    /// The four invariant counts before and after (all zero, or there is no fold).
    pub invariants: BeforeAfter<Counts>,
    /// Both JSON documents parse strictly before and after.
    pub json_valid: bool,
    /// `objects_sha256.before == objects_sha256.after`.
    pub objects_unchanged: bool,
    /// sha256 of the canonical JSON of `objects[]` (the bytes of `objects.json`) before and after.
    pub objects_sha256: BeforeAfter<String>,
    /// sha256 of every registry document (path relative to the registry directory) before and after.
    pub pins: BeforeAfter<BTreeMap<String, String>>,
    /// Revision of every document before the fold.
    pub revisions_before: Revisions,
    /// Revision of every document after the fold.
    pub revisions_after: Revisions,
    /// The reverse patch (after → before) next to this file.
    pub reverse_patch: PatchRef,
    /// The rollback rehearsal on a staging copy.
    pub rollback_rehearsal: Rehearsal,
}

impl FoldResult {
    /// What this result says is wrong with the fold it records, one line
    /// each: an applied fold must show zero invariant counts before and
    /// after, valid JSON, `objects[]` unchanged and a byte-exact rollback
    /// rehearsal. The verdict fails a packet on any of them.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.applied {
            out.push("the fold result says the fold was not applied".to_string());
        }
        for (when, c) in [
            ("before", &self.invariants.before),
            ("after", &self.invariants.after),
        ] {
            if !c.all_zero() {
                out.push(format!("invariant counts {when} the fold: {}", c.summary()));
            }
        }
        if !self.json_valid {
            out.push("a registry document is not valid JSON".to_string());
        }
        if !self.objects_unchanged || self.objects_sha256.before != self.objects_sha256.after {
            out.push("objects[] changed".to_string());
        }
        if !self.rollback_rehearsal.byte_exact {
            out.push(format!(
                "the rollback rehearsal was not byte-exact ({})",
                self.rollback_rehearsal.failure().unwrap_or_default()
            ));
        }
        out
    }
}

/// `governance-fold-A-B-result.json` for `range`.
pub fn result_file_name(range: FoldRange) -> String {
    format!("governance-fold-{}-{}-result.json", range.first, range.last)
}

/// `governance-fold-A-B.reverse.patch` for `range`.
pub fn patch_file_name(range: FoldRange) -> String {
    format!(
        "governance-fold-{}-{}.reverse.patch",
        range.first, range.last
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::registry::id::IdFormat;
    use crate::registry::test_support::{build, invalid_folds, shape};

    fn obj(n: u64) -> Object {
        Object {
            number: n,
            kind: "k".into(),
            title: String::new(),
            packet: "P".into(),
            path: String::new(),
            sha256: String::new(),
        }
    }

    fn staged(packet: &str, first: u64, last: u64) -> Claim {
        Claim {
            packet: packet.into(),
            first,
            last,
            state: ClaimState::Staged,
        }
    }

    /// Canonical 1..=441; staged 442..=451 (FIX6a) and 452..=461 (FIX6b).
    fn reg() -> Registry {
        Registry {
            format: IdFormat::new("TKT-OBJ", 3).unwrap(),
            canonical_max: 441,
            claims: vec![staged("FIX6a", 442, 451), staged("FIX6b", 452, 461)],
            objects: (1..=461).map(obj).collect(),
            revisions: Revisions::all(5),
        }
    }

    fn r(a: u64, b: u64) -> FoldRange {
        FoldRange { first: a, last: b }
    }

    #[test]
    fn a_union_of_whole_staged_claims_folds() {
        let mut reg = reg();
        let plan = plan_fold(&reg, r(442, 461)).unwrap();
        assert_eq!(plan.folded, vec![0, 1]);
        plan.apply(&mut reg, &Revisions::all(6));
        assert_eq!(reg.canonical_max, 461);
        assert!(reg.claims.iter().all(|c| c.state == ClaimState::Folded));
        assert_eq!(reg.revisions.registry_json, 6);
        assert_eq!(
            reg.revisions.objects_json, 5,
            "a fold never changes the records documents"
        );
        assert_eq!(reg.next_free(), 462);

        let plan = plan_fold(&self::reg(), r(442, 451)).unwrap();
        assert_eq!(plan.folded, vec![0]);
    }

    #[test]
    fn each_unsafe_fold_names_its_reason() {
        let base = reg();
        let reason = |reg: &Registry, range| fold_refusal(reg, range).map(|x| x.reason);
        assert_eq!(reason(&base, r(441, 461)), Some(RefusalReason::Overlap));
        assert_eq!(reason(&base, r(443, 461)), Some(RefusalReason::WrongStart));
        assert_eq!(
            reason(&base, r(442, 455)),
            Some(RefusalReason::PartialClaim)
        );
        assert_eq!(reason(&base, r(442, 462)), Some(RefusalReason::Gap));
        assert_eq!(reason(&base, r(442, 1000)), Some(RefusalReason::OutOfWidth));

        let mut missing = base.clone();
        missing.objects.retain(|o| o.number != 450);
        assert_eq!(
            reason(&missing, r(442, 461)),
            Some(RefusalReason::MissingRecord)
        );

        let mut dup = base.clone();
        dup.objects.push(obj(450));
        assert_eq!(
            reason(&dup, r(442, 461)),
            Some(RefusalReason::DuplicateRecord)
        );

        let mut broken = base.clone();
        broken.objects.retain(|o| o.number != 7);
        let refusal = fold_refusal(&broken, r(442, 461)).unwrap();
        assert_eq!(refusal.reason, RefusalReason::CheckBefore);
        assert!(
            refusal.message.contains("TKT-OBJ-007"),
            "{}",
            refusal.message
        );

        assert!(fold_refusal(&base, r(442, 461)).is_none());
    }

    #[test]
    fn gap_message_names_the_unclaimed_ids() {
        let mut reg = reg();
        reg.claims[1] = staged("FIX6b", 455, 461);
        let m = fold_refusal(&reg, r(442, 461)).unwrap();
        assert_eq!(m.reason, RefusalReason::Gap);
        assert!(
            m.message.contains("TKT-OBJ-452..TKT-OBJ-454"),
            "{}",
            m.message
        );
    }

    #[test]
    fn claims_take_the_next_free_ids() {
        let mut reg = reg();
        let plan = plan_claim(&reg, "FIX7", ClaimRequest::Count(23)).unwrap();
        assert_eq!((plan.claim.first, plan.claim.last), (462, 484));
        assert!(
            plan.records
                .iter()
                .all(|o| o.kind == RESERVED_KIND && o.packet == "FIX7")
        );
        plan.apply(&mut reg, &Revisions::all(6));
        assert_eq!(reg.next_free(), 485);
        assert!(crate::registry::check::check(&reg).passes());

        let e = plan_claim(&reg, "FIX7", ClaimRequest::Count(0)).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit::USAGE);
        let e = plan_claim(&reg, "FIX7", ClaimRequest::Count(600)).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit::REFUSED);
        assert!(e.to_string().contains("width 3"), "{e}");
        let e = plan_claim(&reg, " ", ClaimRequest::Count(1)).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit::USAGE);
    }

    #[test]
    fn file_names_follow_the_seed() {
        assert_eq!(
            result_file_name(r(442, 461)),
            "governance-fold-442-461-result.json"
        );
        assert_eq!(
            patch_file_name(r(442, 461)),
            "governance-fold-442-461.reverse.patch"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Pure: each class of invalid fold is refused for its own reason.
        #[test]
        fn every_invalid_fold_is_refused_for_its_reason((cmax, staged, titles) in shape()) {
            let reg = build(cmax, &staged, &titles);
            for (bad, r, reason) in invalid_folds(&reg) {
                let refusal = plan_fold(&bad, r).unwrap_err();
                prop_assert_eq!(refusal.reason, reason, "{} {}", r, refusal.message);
            }
        }
    }
}
