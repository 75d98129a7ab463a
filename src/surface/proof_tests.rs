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
