//! Unit and property tests of the pure proof.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::authz::Scope;
use crate::model::level::Level;
use crate::surface::snapshot::{BoundaryRecord, SNAPSHOT_FORMAT, boundaries_digest, parts_digest};
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

fn fold(range: &str, applied: bool, before: &[(&str, &str)], after: &[(&str, &str)]) -> FoldInput {
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
        (f.boundary.as_deref(), f.status),
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
    assert_eq!(f.boundary.as_deref(), Some("secrets-change"));
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
            let surfaces: Vec<SurfaceVerdict> = IDS.iter().filter_map(|id| p.surface(id)).collect();
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
