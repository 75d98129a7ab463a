//! The four invariants of a registry, as counts, with every problem listed.
//!
//! A count is the number of distinct ids involved in problems of its class:
//!
//! - **collision**: an id with more than one record, or an id inside two claims;
//! - **orphan**: a record that neither the canonical body nor any claim
//!   covers, or an id a claim covers above the canonical body that has no record;
//! - **gap**: an id of the canonical body (`1..=canonical_max`) without a
//!   record, or an id between the canonical body and the highest claimed id
//!   that no claim covers;
//! - **overlap**: a staged claim reaching into the canonical body, or a folded
//!   claim reaching past it (a claim's state disagrees with the boundary).
//!
//! An id missing its record is counted once: as a gap inside the canonical
//! body, as an orphan above it. Pure: no I/O.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::id::IdFormat;
use super::id::runs;
use super::model::{Claim, ClaimState, Object, Registry};

/// The four invariant counts. All zero: the registry is consistent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Ids issued twice, or inside two claims.
    pub collision: u64,
    /// Ids in 1..=canonical_max without a record, or unclaimed ids between the canonical body and the highest claim.
    pub gap: u64,
    /// Records nothing covers, or claimed ids above the canonical body without a record.
    pub orphan: u64,
    /// Ids where a claim's state disagrees with the canonical boundary.
    pub overlap: u64,
}

impl Counts {
    /// Whether every count is zero.
    pub fn all_zero(&self) -> bool {
        *self == Counts::default()
    }

    /// `1 collision, 0 orphan, 0 gap, 0 overlap`.
    pub fn summary(&self) -> String {
        format!(
            "{} collision, {} orphan, {} gap, {} overlap",
            self.collision, self.orphan, self.gap, self.overlap
        )
    }
}

/// The invariant a problem breaks.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// See [`Counts::collision`].
    Collision,
    /// See [`Counts::orphan`].
    Orphan,
    /// See [`Counts::gap`].
    Gap,
    /// See [`Counts::overlap`].
    Overlap,
}

impl Class {
    /// The lowercase word.
    pub fn word(self) -> &'static str {
        match self {
            Class::Collision => "collision",
            Class::Orphan => "orphan",
            Class::Gap => "gap",
            Class::Overlap => "overlap",
        }
    }
}

/// One problem: its class, the ids involved (single ids or `FIRST..LAST`
/// ranges) and a sentence saying what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Problem {
    /// The invariant broken.
    pub class: Class,
    /// The ids involved, as ids or inclusive ranges of ids.
    pub ids: Vec<String>,
    /// What is wrong, in one line.
    pub message: String,
}

/// The result of [`check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckReport {
    /// The four counts.
    pub counts: Counts,
    /// Every problem, by class then by first id.
    pub problems: Vec<Problem>,
}

impl CheckReport {
    /// Whether the registry passes: every count is zero.
    pub fn passes(&self) -> bool {
        self.counts.all_zero()
    }

    /// The first problem as one line (for refusal messages).
    pub fn first_problem(&self) -> Option<String> {
        self.problems
            .first()
            .map(|p| format!("{}: {}", p.class.word(), p.message))
    }
}

/// Merges inclusive ranges into sorted, disjoint ones.
fn merge(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        match out.last_mut() {
            Some((_, last)) if a <= last.saturating_add(1) => *last = (*last).max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn total(ranges: Vec<(u64, u64)>) -> u64 {
    merge(ranges).iter().map(|(a, b)| b - a + 1).sum()
}

/// Maximal runs of `lo..=hi` that are absent from `present` (sorted,
/// disjoint, non-adjacent runs).
fn holes(present: &[(u64, u64)], lo: u64, hi: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    if lo > hi {
        return out;
    }
    let start = present.partition_point(|&(_, z)| z < lo);
    let mut next = lo;
    for &(a, z) in present[start..].iter().take_while(|&&(a, _)| a <= hi) {
        if a > next {
            out.push((next, a - 1));
        }
        next = z.saturating_add(1);
    }
    if next <= hi {
        out.push((next, hi));
    }
    out
}

/// Whether `runs` are sorted, disjoint and non-adjacent (each starts at
/// least two past the end of the one before): the form [`check_runs`]
/// takes, which maximal runs of sorted distinct numbers always have.
fn is_normal(runs: &[(u64, u64)]) -> bool {
    runs.iter().all(|&(a, z)| a <= z)
        && runs
            .windows(2)
            .all(|w| w[0].1.checked_add(1).is_some_and(|n| w[1].0 > n))
}

/// The parts of `present` (normal runs) above `cmax` that no range of
/// `claimed` (sorted, disjoint) covers, as maximal runs.
fn uncovered(present: &[(u64, u64)], cmax: u64, claimed: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut k = 0;
    for &(a, z) in present {
        if z <= cmax {
            continue;
        }
        let mut next = a.max(cmax.saturating_add(1));
        while k < claimed.len() && claimed[k].1 < next {
            k += 1;
        }
        let mut j = k;
        while next <= z {
            match claimed.get(j) {
                Some(&(ca, cz)) if ca <= z => {
                    if ca > next {
                        out.push((next, ca - 1));
                    }
                    next = cz.saturating_add(1).max(next);
                    if cz == u64::MAX {
                        break;
                    }
                    j += 1;
                }
                _ => {
                    out.push((next, z));
                    break;
                }
            }
        }
    }
    out
}

/// Checks the four invariants of `reg`. Pure; never fails; O(n log n).
pub fn check(reg: &Registry) -> CheckReport {
    check_parts(&reg.format, reg.canonical_max, &reg.claims, &reg.objects)
}

/// [`check`] over the parts of a registry, so a planned state can be checked
/// without copying its records.
pub fn check_parts(fmt: &IdFormat, cmax: u64, claims: &[Claim], objects: &[Object]) -> CheckReport {
    check_numbers(
        fmt,
        cmax,
        claims,
        objects.iter().map(|o| o.number).collect(),
    )
}

/// [`check_parts`] given only the id numbers of the records (in any
/// order): the invariants depend on nothing else of a record, so a claim
/// that does not load the records checks exactly what a full load would.
pub fn check_numbers(
    fmt: &IdFormat,
    cmax: u64,
    claims: &[Claim],
    numbers: Vec<u64>,
) -> CheckReport {
    let mut numbers = numbers;
    numbers.sort_unstable();
    let mut dups: Vec<u64> = Vec::new();
    for w in numbers.windows(2) {
        if w[0] == w[1] && dups.last() != Some(&w[0]) {
            dups.push(w[0]);
        }
    }
    numbers.dedup();
    check_core(fmt, cmax, claims, &runs(&numbers), &runs(&dups))
}

/// [`check_numbers`] given the records' id numbers as runs (inclusive
/// ranges) instead of one by one, so a registry of a million records is
/// checked in the time its claims take; `None` unless the runs are sorted,
/// disjoint and non-adjacent (then no id has two records), which the caller
/// answers by expanding them for [`check_numbers`]. The same report, byte
/// for byte (a property test compares the two).
pub fn check_runs(
    fmt: &IdFormat,
    cmax: u64,
    claims: &[Claim],
    present: &[(u64, u64)],
) -> Option<CheckReport> {
    is_normal(present).then(|| check_core(fmt, cmax, claims, present, &[]))
}

/// The four invariants, given the distinct record numbers as normal runs
/// (`present`) and the numbers with several records as runs (`dups`).
fn check_core(
    fmt: &IdFormat,
    cmax: u64,
    claims: &[Claim],
    present: &[(u64, u64)],
    dups: &[(u64, u64)],
) -> CheckReport {
    let range_ids = |rs: &[(u64, u64)]| -> Vec<String> {
        rs.iter().map(|&(a, b)| fmt.format_range(a, b)).collect()
    };
    let mut problems: Vec<(Class, u64, Problem)> = Vec::new();
    let mut push = |class: Class, rs: Vec<(u64, u64)>, message: String| {
        let first = rs.first().map_or(0, |r| r.0);
        problems.push((
            class,
            first,
            Problem {
                class,
                ids: range_ids(&rs),
                message,
            },
        ));
    };

    // Collision: ids with several records.
    let mut collision: Vec<(u64, u64)> = Vec::new();
    for &(a, b) in dups {
        collision.push((a, b));
        push(
            Class::Collision,
            vec![(a, b)],
            format!(
                "{} issued more than once (several records)",
                fmt.format_range(a, b)
            ),
        );
    }

    // Collision: claims that intersect. Sweep by start, remembering the claim
    // that reaches furthest so far.
    let mut order: Vec<usize> = (0..claims.len()).collect();
    order.sort_by_key(|&i| (claims[i].first, claims[i].last, i));
    let mut reach: Option<usize> = None;
    for &i in &order {
        let c = &claims[i];
        if let Some(r) = reach {
            let rc = &claims[r];
            if c.first <= rc.last {
                let (a, b) = (c.first, c.last.min(rc.last));
                collision.push((a, b));
                push(
                    Class::Collision,
                    vec![(a, b)],
                    format!(
                        "claims of {} ({}) and {} ({}) intersect",
                        rc.packet,
                        fmt.format_range(rc.first, rc.last),
                        c.packet,
                        fmt.format_range(c.first, c.last)
                    ),
                );
            }
            if c.last > rc.last {
                reach = Some(i);
            }
        } else {
            reach = Some(i);
        }
    }

    let claimed = merge(claims.iter().map(|c| (c.first, c.last)).collect());

    // Orphan: records nothing covers.
    let mut orphan: Vec<(u64, u64)> = Vec::new();
    for (a, b) in uncovered(present, cmax, &claimed) {
        orphan.push((a, b));
        push(
            Class::Orphan,
            vec![(a, b)],
            format!(
                "record {} is covered by no claim and lies outside the canonical body",
                fmt.format_range(a, b)
            ),
        );
    }
    // Orphan: claimed ids above the canonical body without a record.
    for c in claims {
        for (a, b) in holes(present, c.first.max(cmax.saturating_add(1)), c.last) {
            orphan.push((a, b));
            push(
                Class::Orphan,
                vec![(a, b)],
                format!(
                    "{} claimed by {} ({}) has no record",
                    fmt.format_range(a, b),
                    c.packet,
                    fmt.format_range(c.first, c.last)
                ),
            );
        }
    }

    // Gap: holes in the canonical body.
    let mut gap: Vec<(u64, u64)> = Vec::new();
    for (a, b) in holes(present, 1, cmax) {
        gap.push((a, b));
        push(
            Class::Gap,
            vec![(a, b)],
            format!(
                "{} inside the canonical body ({}) has no record",
                fmt.format_range(a, b),
                fmt.format_range(1, cmax)
            ),
        );
    }
    // Gap: unclaimed ids between the canonical body and the highest claim.
    let above: Vec<u64> = claimed
        .iter()
        .filter(|r| r.1 > cmax)
        .flat_map(|&(a, b)| [a.max(cmax + 1), b])
        .collect();
    if let Some(&top) = above.last() {
        let mut next = cmax + 1;
        for pair in above.chunks(2) {
            if pair[0] > next {
                gap.push((next, pair[0] - 1));
                push(
                    Class::Gap,
                    vec![(next, pair[0] - 1)],
                    format!(
                        "{} lies between the canonical body and the highest claim ({}) but no claim covers it",
                        fmt.format_range(next, pair[0] - 1),
                        fmt.format(top)
                    ),
                );
            }
            next = pair[1] + 1;
        }
    }

    // Overlap: claim states that disagree with the canonical boundary.
    let mut overlap: Vec<(u64, u64)> = Vec::new();
    for c in claims {
        let (a, b, what) = match c.state {
            ClaimState::Staged => (
                c.first,
                c.last.min(cmax),
                "staged claim reaches into the canonical body",
            ),
            ClaimState::Folded => (
                c.first.max(cmax.saturating_add(1)),
                c.last,
                "folded claim reaches past the canonical body",
            ),
        };
        if a <= b {
            overlap.push((a, b));
            push(
                Class::Overlap,
                vec![(a, b)],
                format!(
                    "{what} (canonical max {}): {} ({}) at {}",
                    cmax,
                    c.packet,
                    fmt.format_range(c.first, c.last),
                    fmt.format_range(a, b)
                ),
            );
        }
    }

    problems.sort_by_key(|x| (x.0, x.1));
    CheckReport {
        counts: Counts {
            collision: total(collision),
            gap: total(gap),
            orphan: total(orphan),
            overlap: total(overlap),
        },
        problems: problems.into_iter().map(|p| p.2).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::model::Revisions;

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

    fn claim(packet: &str, first: u64, last: u64, state: ClaimState) -> Claim {
        Claim {
            packet: packet.into(),
            first,
            last,
            state,
        }
    }

    /// Canonical 1..=441, one staged claim 442..=461, every record present.
    fn seed() -> Registry {
        Registry {
            format: IdFormat::new("TKT-OBJ", 3).unwrap(),
            canonical_max: 441,
            claims: vec![claim("FIX6", 442, 461, ClaimState::Staged)],
            objects: (1..=461).map(obj).collect(),
            revisions: Revisions::all(1),
        }
    }

    fn only(r: &CheckReport, class: Class) -> Vec<&Problem> {
        r.problems.iter().filter(|p| p.class == class).collect()
    }

    #[test]
    fn the_seed_shape_is_clean() {
        let r = check(&seed());
        assert!(r.passes(), "{r:?}");
        assert!(r.problems.is_empty());
    }

    #[test]
    fn duplicate_records_are_collisions() {
        let mut reg = seed();
        reg.objects.push(obj(5));
        reg.objects.push(obj(6));
        reg.objects.push(obj(6));
        let r = check(&reg);
        assert_eq!(r.counts.collision, 2);
        assert_eq!(
            only(&r, Class::Collision)[0].ids,
            vec!["TKT-OBJ-005..TKT-OBJ-006"]
        );
        assert_eq!(r.counts.orphan + r.counts.gap + r.counts.overlap, 0);
    }

    #[test]
    fn intersecting_claims_are_collisions() {
        let mut reg = seed();
        reg.claims.push(claim("FIX7", 455, 470, ClaimState::Staged));
        reg.objects.extend((462..=470).map(obj));
        let r = check(&reg);
        assert_eq!(r.counts.collision, 7, "{r:?}");
        let p = only(&r, Class::Collision);
        assert_eq!(p[0].ids, vec!["TKT-OBJ-455..TKT-OBJ-461"]);
        assert!(p[0].message.contains("FIX6") && p[0].message.contains("FIX7"));
    }

    #[test]
    fn uncovered_records_and_unrecorded_claims_are_orphans() {
        let mut reg = seed();
        reg.objects.push(obj(470));
        reg.objects.retain(|o| o.number != 450);
        let r = check(&reg);
        assert_eq!(r.counts.orphan, 2, "{r:?}");
        let p = only(&r, Class::Orphan);
        assert_eq!(p[0].ids, vec!["TKT-OBJ-450"]);
        assert!(p[0].message.contains("has no record"));
        assert_eq!(p[1].ids, vec!["TKT-OBJ-470"]);
        // 462..469 is also unclaimed below 470, but 470 has no claim: no gap
        // is measured past the highest claim.
        assert_eq!(r.counts.gap, 0);
    }

    #[test]
    fn holes_in_the_body_and_before_a_claim_are_gaps() {
        let mut reg = seed();
        reg.objects.retain(|o| !(10..=12).contains(&o.number));
        reg.claims.push(claim("FIX8", 465, 466, ClaimState::Staged));
        reg.objects.extend([obj(465), obj(466)]);
        let r = check(&reg);
        assert_eq!(r.counts.gap, 3 + 3, "{r:?}");
        let p = only(&r, Class::Gap);
        assert_eq!(p[0].ids, vec!["TKT-OBJ-010..TKT-OBJ-012"]);
        assert_eq!(p[1].ids, vec!["TKT-OBJ-462..TKT-OBJ-464"]);
        assert_eq!(r.counts.orphan, 0);
    }

    #[test]
    fn gap_between_body_and_first_staged_claim() {
        let mut reg = seed();
        reg.canonical_max = 430;
        reg.objects.retain(|o| o.number <= 430 || o.number >= 442);
        let r = check(&reg);
        assert_eq!(r.counts.gap, 11, "{r:?}");
        assert_eq!(
            only(&r, Class::Gap)[0].ids,
            vec!["TKT-OBJ-431..TKT-OBJ-441"]
        );
    }

    #[test]
    fn states_that_disagree_with_the_boundary_are_overlaps() {
        let mut reg = seed();
        reg.claims[0].first = 440; // staged, reaches into 1..=441
        let r = check(&reg);
        assert_eq!(r.counts.overlap, 2, "{r:?}");
        assert_eq!(
            only(&r, Class::Overlap)[0].ids,
            vec!["TKT-OBJ-440..TKT-OBJ-441"]
        );

        let mut reg = seed();
        reg.claims[0].state = ClaimState::Folded; // folded, but past 441
        let r = check(&reg);
        assert_eq!(r.counts.overlap, 20, "{r:?}");
    }

    #[test]
    fn empty_registry_is_clean() {
        let reg = Registry::empty(IdFormat::new("X", 2).unwrap());
        assert!(check(&reg).passes());
    }

    #[test]
    fn holes_helper() {
        assert_eq!(holes(&[(2, 3), (7, 7)], 1, 8), vec![(1, 1), (4, 6), (8, 8)]);
        assert_eq!(holes(&[(1, 2)], 1, 2), vec![]);
        assert_eq!(holes(&[(1, 9)], 4, 5), vec![]);
        assert!(is_normal(&[(1, 2), (4, 4)]));
        assert!(!is_normal(&[(1, 2), (3, 4)]), "adjacent");
        assert!(!is_normal(&[(4, 4), (4, 4)]), "a number twice");
        assert!(!is_normal(&[(5, 6), (1, 2)]), "out of order");
        assert!(!is_normal(&[(3, 2)]), "empty run");
        assert_eq!(holes(&[], 3, 2), vec![]);
        assert_eq!(
            merge(vec![(5, 6), (1, 2), (3, 3), (9, 9), (4, 4)]),
            vec![(1, 6), (9, 9)]
        );
    }

    /// The four counts straight from their definitions (module docs), one
    /// id at a time: the oracle the property test holds the check to.
    fn counts_by_definition(cmax: u64, claims: &[Claim], numbers: &[u64]) -> Counts {
        let top = claims
            .iter()
            .map(|c| c.last)
            .chain(numbers.iter().copied())
            .chain([cmax])
            .max()
            .unwrap_or(0);
        let highest_claimed_above = claims.iter().map(|c| c.last).filter(|&l| l > cmax).max();
        let mut counts = Counts::default();
        for id in 1..=top {
            let records = numbers.iter().filter(|&&n| n == id).count();
            let covering: Vec<&Claim> = claims
                .iter()
                .filter(|c| c.first <= id && id <= c.last)
                .collect();
            if records > 1 || covering.len() > 1 {
                counts.collision += 1;
            }
            let orphan = (records > 0 && id > cmax && covering.is_empty())
                || (records == 0 && id > cmax && !covering.is_empty());
            if orphan {
                counts.orphan += 1;
            }
            let gap = (id <= cmax && records == 0)
                || (id > cmax
                    && covering.is_empty()
                    && highest_claimed_above.is_some_and(|h| id < h));
            if gap {
                counts.gap += 1;
            }
            let overlap = covering.iter().any(|c| match c.state {
                ClaimState::Staged => id <= cmax,
                ClaimState::Folded => id > cmax,
            });
            if overlap {
                counts.overlap += 1;
            }
        }
        counts
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// On arbitrary claims (overlapping, in either state), boundaries
        /// and records (some of them twice), the check counts what the
        /// definitions count, and the runs check gives exactly the report
        /// of the check over the numbers one by one.
        #[test]
        fn the_check_counts_the_definitions_and_runs_check_the_same(
            cmax in 0u64..40,
            raw_claims in proptest::collection::vec((1u64..60, 0u64..12, proptest::bool::ANY), 0..8),
            distinct in proptest::collection::btree_set(1u64..70, 0..50),
            twice in proptest::collection::vec(1u64..70, 0..3),
        ) {
            let fmt = IdFormat::new("T", 3).unwrap();
            let claims: Vec<Claim> = raw_claims
                .iter()
                .enumerate()
                .map(|(i, &(a, len, staged))| {
                    let state = if staged { ClaimState::Staged } else { ClaimState::Folded };
                    claim(&format!("P{i}"), a, a + len, state)
                })
                .collect();
            let sorted: Vec<u64> = distinct.iter().copied().collect();
            let want = check_numbers(&fmt, cmax, &claims, sorted.iter().rev().copied().collect());
            proptest::prop_assert_eq!(want.counts, counts_by_definition(cmax, &claims, &sorted));
            let present = runs(&sorted);
            proptest::prop_assert_eq!(check_runs(&fmt, cmax, &claims, &present), Some(want));
            if present.len() > 1 {
                let reversed: Vec<(u64, u64)> = present.iter().rev().copied().collect();
                proptest::prop_assert_eq!(check_runs(&fmt, cmax, &claims, &reversed), None);
            }
            let mut with_twice = sorted.clone();
            with_twice.extend(twice.iter().filter(|n| distinct.contains(n)));
            let r = check_numbers(&fmt, cmax, &claims, with_twice.clone());
            proptest::prop_assert_eq!(r.counts, counts_by_definition(cmax, &claims, &with_twice));
        }
    }
}
