//! Tests of the registry as a whole: the store on real directories
//! (commit, recovery, refusals, undo) and property tests of folds and
//! rollbacks, both pure and on disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::fold::{ClaimRequest, RefusalReason, plan_fold};
use super::history::{self, LOG_FILE, Op};
use super::id::IdFormat;
use super::model::{
    Claim, ClaimState, DOCUMENTS, Document, Object, RecordLoad, Registry, Revisions,
};
use super::patch::{apply_patch, rehearse_rollback, reverse_patch};
use super::store::{self, FoldHooks, FoldOptions, Store};
use crate::authz::FoldRange;
use crate::digest::sha256_hex;
use crate::error::exit;

fn obj(n: u64, packet: &str, title: &str) -> Object {
    Object {
        number: n,
        kind: "evidence".into(),
        title: title.into(),
        packet: packet.into(),
        path: format!("e/{n}.json"),
        sha256: sha256_hex(&n.to_be_bytes()),
    }
}

/// Canonical body 1..=cmax (one folded claim when not empty), then one
/// staged claim per length in `staged`, every id recorded.
fn build(cmax: u64, staged: &[u64], titles: &[String]) -> Registry {
    let fmt = IdFormat::new("TKT-OBJ", 3).unwrap();
    let title = |n: u64| {
        titles
            .get(n as usize % titles.len().max(1))
            .cloned()
            .unwrap_or_default()
    };
    let mut claims = Vec::new();
    let mut objects: Vec<Object> = (1..=cmax).map(|n| obj(n, "BODY", &title(n))).collect();
    if cmax > 0 {
        claims.push(Claim {
            packet: "BODY".into(),
            first: 1,
            last: cmax,
            state: ClaimState::Folded,
        });
    }
    let mut next = cmax + 1;
    for (i, len) in staged.iter().enumerate() {
        let packet = format!("P{i}");
        claims.push(Claim {
            packet: packet.clone(),
            first: next,
            last: next + len - 1,
            state: ClaimState::Staged,
        });
        objects.extend((next..next + len).map(|n| obj(n, &packet, &title(n))));
        next += len;
    }
    Registry {
        format: fmt,
        canonical_max: cmax,
        claims,
        objects,
        revisions: Revisions {
            index_md: 115,
            objects_json: 23,
            objects_md: 23,
            registry_json: 23,
            registry_md: 23,
        },
    }
}

fn staged_end(reg: &Registry, j: usize) -> u64 {
    reg.claims
        .iter()
        .filter(|c| c.state == ClaimState::Staged)
        .nth(j)
        .map_or(0, |c| c.last)
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    DOCUMENTS
        .iter()
        .map(|d| {
            (
                d.name().to_string(),
                std::fs::read(dir.join(d.name())).unwrap(),
            )
        })
        .collect()
}

fn everything(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).unwrap()))
        .collect()
}

fn new_store(reg: &Registry) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("reg");
    // Made as `registry import` makes it, so the history replays.
    let source = super::model::registry_file_bytes(reg).unwrap();
    store::create_with(
        &crate::registry::backend::dir::DirBackend::new(&dir),
        reg,
        Op::Import {
            source_sha256: sha256_hex(&source),
        },
        &[&source],
    )
    .unwrap();
    (tmp, dir)
}

fn opts(out: &Path) -> FoldOptions {
    FoldOptions {
        out_dir: out.to_path_buf(),
        dry_run: false,
    }
}

fn range(first: u64, last: u64) -> FoldRange {
    FoldRange { first, last }
}

fn seed_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/registry-seed.json")
}

#[test]
fn seed_figures_fold_and_roll_back_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("reg");
    let mut store = store::import(&dir, &seed_fixture()).unwrap();
    let before = snapshot(&dir);
    let out = store.fold(range(442, 461), &opts(tmp.path())).unwrap();
    let r = &out.result;
    assert!(r.applied);
    assert_eq!((r.canonical_max.before, r.canonical_max.after), (441, 461));
    assert_eq!(
        (r.next_free.number, r.next_free.id.as_str()),
        (462, "TKT-OBJ-462")
    );
    assert!(r.invariants.before.all_zero() && r.invariants.after.all_zero());
    assert!(r.json_valid && r.objects_unchanged && r.rollback_rehearsal.byte_exact);
    assert_eq!(r.objects_sha256.before, r.objects_sha256.after);
    let rev = r.revisions_after;
    assert_eq!(
        (rev.registry_json, rev.registry_md, rev.index_md),
        (24, 24, 116)
    );
    for (name, bytes) in &before {
        assert_eq!(&r.pins.before[name], &sha256_hex(bytes), "{name}");
    }
    for (name, bytes) in snapshot(&dir) {
        assert_eq!(r.pins.after[&name], sha256_hex(&bytes), "{name}");
    }
    let result_path = out.result_path.clone().unwrap();
    let written = std::fs::read(&result_path).unwrap();
    assert_eq!(written, crate::canonical::to_bytes(r).unwrap());
    drop(store);

    let mut store = Store::open(&dir).unwrap();
    store.rollback(&result_path).unwrap();
    assert_eq!(snapshot(&dir), before);
    assert_eq!(store.state(), 3);
    drop(store);
    let report = store::verify_history(&dir).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    // The rolled-back revision numbers are never reused for other bytes.
    let mut store = Store::open(&dir).unwrap();
    store.claim("FIX7", ClaimRequest::Count(23)).unwrap();
    assert_eq!(store.registry().revisions.registry_json, 25);
    assert_eq!(store.registry().revisions.index_md, 117);
    drop(store);
    assert!(store::verify_history(&dir).unwrap().problems.is_empty());
}

/// Makes the head write of `dir` look interrupted after its commit point:
/// the completion marker names the line before the head, as a kill before
/// the marker is written leaves it.
fn unmark(dir: &Path) {
    let bytes = std::fs::read(dir.join(LOG_FILE)).unwrap();
    let log = history::parse_log(&bytes, Path::new("log")).unwrap();
    let prev = &log.hashes[log.hashes.len() - 2];
    std::fs::write(dir.join(history::COMPLETE_FILE), format!("{prev}\n")).unwrap();
}

#[test]
fn a_committed_write_is_finished_by_the_next_open() {
    let reg = build(5, &[3, 2], &["t".into()]);
    let (tmp, dir) = new_store(&reg);
    let before = snapshot(&dir);
    Store::open(&dir)
        .unwrap()
        .fold(range(6, 8), &opts(tmp.path()))
        .unwrap();
    let after = snapshot(&dir);
    // Simulate a kill after the log line, with one document replaced and
    // the others not yet, then with one missing.
    std::fs::write(dir.join("registry.md"), &before["registry.md"]).unwrap();
    std::fs::write(dir.join("index.md"), &before["index.md"]).unwrap();
    std::fs::remove_file(dir.join("registry.json")).unwrap();
    // Marked complete, the same bytes are a hand edit: refused, untouched.
    let all = everything(&dir);
    let err = Store::open(&dir).unwrap_err();
    assert_eq!(err.exit_code(), exit::REFUSED, "{err}");
    assert!(err.to_string().contains("is marked complete"), "{err}");
    assert_eq!(everything(&dir), all);
    unmark(&dir);
    std::fs::write(dir.join(".holdfast-tmp-leftover"), b"x").unwrap();
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.registry().canonical_max, 8);
    drop(store);
    assert_eq!(snapshot(&dir), after);
    assert!(!dir.join(".holdfast-tmp-leftover").exists());
}

#[test]
fn an_uncommitted_write_leaves_the_old_state() {
    let reg = build(5, &[3], &["t".into()]);
    let (_tmp, dir) = new_store(&reg);
    let before = snapshot(&dir);
    // Blobs written, the log line torn half-way: the write never happened.
    history::put_blob(
        &crate::registry::backend::dir::DirBackend::new(&dir),
        b"new bytes that were never committed",
    )
    .unwrap();
    let log = dir.join(LOG_FILE);
    let mut bytes = std::fs::read(&log).unwrap();
    let committed = bytes.len();
    bytes.extend_from_slice(b"{\"documents\":{\"index.md\":{\"revi");
    std::fs::write(&log, &bytes).unwrap();
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.state(), 1);
    drop(store);
    assert_eq!(snapshot(&dir), before);
    assert_eq!(
        std::fs::read(&log).unwrap().len(),
        committed,
        "torn tail truncated"
    );
}

#[test]
fn a_hand_edited_document_stops_every_write() {
    let reg = build(5, &[3], &["t".into()]);
    let (tmp, dir) = new_store(&reg);
    let mut md = std::fs::read(dir.join("registry.md")).unwrap();
    md.extend_from_slice(b"edited\n");
    std::fs::write(dir.join("registry.md"), &md).unwrap();
    let all = everything(&dir);
    let err = Store::open(&dir).unwrap_err();
    assert_eq!(err.exit_code(), exit::REFUSED);
    assert!(
        err.to_string().contains("registry.md")
            && err.to_string().contains("edited outside holdfast"),
        "{err}"
    );
    let inspection = store::inspect(&dir).unwrap();
    assert!(!inspection.passes());
    assert_eq!(inspection.drift.len(), 1);
    assert!(inspection.json_valid);
    assert_eq!(everything(&dir), all, "nothing written");
    assert!(std::fs::read_dir(tmp.path()).unwrap().count() == 1);

    // A truncated registry.json: invalid JSON, reported as such.
    std::fs::write(dir.join("registry.md"), b"").unwrap();
    let rj = std::fs::read(dir.join("registry.json")).unwrap();
    std::fs::write(dir.join("registry.json"), &rj[..rj.len() / 2]).unwrap();
    let inspection = store::inspect(&dir).unwrap();
    assert!(!inspection.json_valid);
    assert!(inspection.error.unwrap().contains("invalid JSON"));
}

#[test]
fn a_failed_rehearsal_writes_nothing() {
    let reg = build(5, &[3], &["t".into()]);
    let (tmp, dir) = new_store(&reg);
    let all = everything(&dir);
    let out = tmp.path().join("out");
    let hooks = FoldHooks {
        rehearse: &|p, a, b, _| {
            let mut r = rehearse_rollback(p, a, b);
            r.byte_exact = false;
            r.error = Some("injected".into());
            r
        },
        after_commit: &|_| {},
    };
    let err = Store::open(&dir)
        .unwrap()
        .fold_with(range(6, 8), &opts(&out), &hooks)
        .unwrap_err();
    assert_eq!(err.exit_code(), exit::FAILED);
    assert!(
        err.to_string().contains("rehearsal failed") && err.to_string().contains("unchanged"),
        "{err}"
    );
    assert_eq!(everything(&dir), all);
    assert!(!out.exists());
}

#[test]
fn a_fold_that_does_not_read_back_is_undone() {
    let reg = build(5, &[3], &["t".into()]);
    let (tmp, dir) = new_store(&reg);
    let before = snapshot(&dir);
    let out = tmp.path().join("out");
    let hooks = FoldHooks {
        rehearse: &|p, a, b, k| super::patch::rehearse_rollback_known(p, a, b, k),
        after_commit: &|d: &Path| {
            let mut md = std::fs::read(d.join("registry.md")).unwrap();
            md.push(b'!');
            std::fs::write(d.join("registry.md"), md).unwrap();
        },
    };
    let err = Store::open(&dir)
        .unwrap()
        .fold_with(range(6, 8), &opts(&out), &hooks)
        .unwrap_err();
    assert_eq!(err.exit_code(), exit::FAILED);
    assert!(err.to_string().contains("undone"), "{err}");
    assert_eq!(snapshot(&dir), before);
    let log = store::read_log(&dir).unwrap();
    assert_eq!(log.entries.len(), 3);
    assert!(matches!(log.entries[2].op, Op::Undo { .. }));
    assert!(store::verify_history(&dir).unwrap().problems.is_empty());
    assert!(
        !out.join(super::fold::result_file_name(range(6, 8)))
            .exists()
    );
}

#[test]
fn rollback_refuses_a_changed_registry_or_an_altered_patch() {
    let reg = build(5, &[3, 2], &["t".into()]);
    let (tmp, dir) = new_store(&reg);
    let out = Store::open(&dir)
        .unwrap()
        .fold(range(6, 8), &opts(tmp.path()))
        .unwrap();
    let result = out.result_path.unwrap();
    let patch = out.patch_path.unwrap();

    let original = std::fs::read(&patch).unwrap();
    let mut altered = original.clone();
    altered.extend_from_slice(b" \n");
    std::fs::write(&patch, &altered).unwrap();
    let all = everything(&dir);
    let err = Store::open(&dir).unwrap().rollback(&result).unwrap_err();
    assert_eq!(err.exit_code(), exit::REFUSED);
    assert!(err.to_string().contains("altered patch"), "{err}");
    assert_eq!(everything(&dir), all);
    std::fs::write(&patch, &original).unwrap();

    // A result that is not byte for byte the one the history recorded.
    let recorded = std::fs::read(&result).unwrap();
    let text = String::from_utf8(recorded.clone()).unwrap();
    std::fs::write(
        &result,
        text.replacen("\"applied\": true", "\"applied\":  true", 1),
    )
    .unwrap();
    let err = Store::open(&dir).unwrap().rollback(&result).unwrap_err();
    assert_eq!(err.exit_code(), exit::REFUSED);
    assert!(
        err.to_string()
            .contains("not the result of a fold recorded"),
        "{err}"
    );
    assert_eq!(everything(&dir), all);
    std::fs::write(&result, &recorded).unwrap();

    Store::open(&dir)
        .unwrap()
        .claim("LATE", ClaimRequest::Count(1))
        .unwrap();
    let all = everything(&dir);
    let err = Store::open(&dir).unwrap().rollback(&result).unwrap_err();
    assert_eq!(err.exit_code(), exit::REFUSED);
    assert!(err.to_string().contains("changed since the fold"), "{err}");
    assert_eq!(everything(&dir), all);
}

#[test]
fn tampered_history_is_found() {
    let reg = build(5, &[3], &["t".into()]);
    let (tmp, dir) = new_store(&reg);
    Store::open(&dir)
        .unwrap()
        .fold(range(6, 8), &opts(tmp.path()))
        .unwrap();
    assert!(store::verify_history(&dir).unwrap().problems.is_empty());

    // A blob rewritten.
    let log = store::read_log(&dir).unwrap();
    let blob = history::blob_path(&dir, log.entries[0].pin(Document::RegistryMd));
    let saved = std::fs::read(&blob).unwrap();
    std::fs::remove_file(&blob).unwrap();
    std::fs::write(&blob, b"forged").unwrap();
    let report = store::verify_history(&dir).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("not to its name")),
        "{:?}",
        report.problems
    );
    std::fs::remove_file(&blob).unwrap();
    std::fs::write(&blob, saved).unwrap();

    // The first line rewritten (a revision number changed).
    let path = dir.join(LOG_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen("\"revision\":115", "\"revision\":114", 1),
    )
    .unwrap();
    let report = store::verify_history(&dir).unwrap();
    assert!(
        report.problems.iter().any(|p| p.contains("rewritten")),
        "{:?}",
        report.problems
    );
}

#[test]
fn import_and_init_refuse_an_occupied_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("reg");
    store::init(&dir, "TKT-OBJ", 3).unwrap();
    let all = everything(&dir);
    let err = store::import(&dir, &seed_fixture()).unwrap_err();
    assert_eq!(err.exit_code(), exit::REFUSED);
    assert_eq!(everything(&dir), all);
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), b"mine").unwrap();
    let err = store::init(&other, "X", 2).unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    assert!(!other.join("history").exists());
}

#[test]
fn light_and_full_loads_agree_on_everything_a_fold_uses() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("reg");
    store::import(&dir, &seed_fixture()).unwrap();
    let full = Store::open(&dir).unwrap();
    let full_reg = full.registry().clone();
    drop(full);
    let light = Store::open_with(&dir, RecordLoad::IdsAndPackets).unwrap();
    let l = light.registry();
    assert_eq!(l.claims, full_reg.claims);
    let numbers = |r: &Registry| {
        r.objects
            .iter()
            .map(|o| (o.number, o.packet.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(numbers(l), numbers(&full_reg));
    assert_eq!(
        super::render::index_md(l),
        super::render::index_md(&full_reg)
    );
    assert_eq!(super::check::check(l), super::check::check(&full_reg));
    drop(light);
    // A claim from a light store writes full records.
    let mut light = Store::open_with(&dir, RecordLoad::IdsAndPackets).unwrap();
    light.claim("FIX7", ClaimRequest::Count(2)).unwrap();
    drop(light);
    let back = Store::open(&dir).unwrap();
    assert_eq!(back.registry().objects[..461], full_reg.objects[..]);
}

// ---------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------

fn titles() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-z |\"\\\\é#*-]{0,10}", 1..4)
}

fn shape() -> impl Strategy<Value = (u64, Vec<u64>, Vec<String>)> {
    (0u64..30, prop::collection::vec(1u64..6, 1..5), titles())
}

/// Every invalid fold a registry of this shape allows, with the reason it must be refused for.
fn invalid_folds(reg: &Registry) -> Vec<(Registry, FoldRange, RefusalReason)> {
    let cmax = reg.canonical_max;
    let first = reg
        .claims
        .iter()
        .find(|c| c.state == ClaimState::Staged)
        .unwrap()
        .clone();
    let last_end = reg.claims.iter().map(|c| c.last).max().unwrap();
    let mut out = vec![
        (
            reg.clone(),
            range(cmax + 2, first.last.max(cmax + 2)),
            RefusalReason::WrongStart,
        ),
        (
            reg.clone(),
            range(cmax + 1, last_end + 2),
            RefusalReason::Gap,
        ),
    ];
    if cmax >= 1 {
        out.push((reg.clone(), range(cmax, first.last), RefusalReason::Overlap));
    }
    if first.last > first.first {
        out.push((
            reg.clone(),
            range(cmax + 1, first.last - 1),
            RefusalReason::PartialClaim,
        ));
    }
    let mut dup = reg.clone();
    dup.objects.push(obj(first.first, &first.packet, "twin"));
    dup.objects.sort_by_key(|o| o.number);
    out.push((
        dup,
        range(cmax + 1, first.last),
        RefusalReason::DuplicateRecord,
    ));
    let mut missing = reg.clone();
    missing.objects.retain(|o| o.number != first.last);
    out.push((
        missing,
        range(cmax + 1, first.last),
        RefusalReason::MissingRecord,
    ));
    out
}

fn rendered(reg: &Registry) -> BTreeMap<String, Vec<u8>> {
    let objects = super::model::objects_json_bytes(reg).unwrap();
    let sha = sha256_hex(&objects);
    BTreeMap::from([
        ("index.md".to_string(), super::render::index_md(reg)),
        ("objects.json".to_string(), objects),
        ("objects.md".to_string(), super::render::objects_md(reg)),
        (
            "registry.json".to_string(),
            super::model::registry_json_bytes(reg, &sha).unwrap(),
        ),
        (
            "registry.md".to_string(),
            super::render::registry_md(reg, &sha),
        ),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Pure: the reverse patch of any valid fold turns every after
    /// document back into its before bytes.
    #[test]
    fn reverse_patch_of_any_valid_fold_is_byte_exact((cmax, staged, titles) in shape(), pick in 0usize..4) {
        let reg = build(cmax, &staged, &titles);
        let j = pick % staged.len();
        let plan = plan_fold(&reg, range(cmax + 1, staged_end(&reg, j))).unwrap();
        let before = rendered(&reg);
        let mut after_reg = reg.clone();
        plan.apply(&mut after_reg, &reg.revisions.bumped());
        let after = rendered(&after_reg);
        prop_assert_eq!(&after["objects.json"], &before["objects.json"]);
        let patch = reverse_patch(&after, &before);
        let pins: BTreeMap<String, String> = before.iter().map(|(k, v)| (k.clone(), sha256_hex(v))).collect();
        let r = rehearse_rollback(&patch, &after, &pins);
        prop_assert!(r.byte_exact, "{:?}", r);
        let mut restored = after.clone();
        restored.extend(apply_patch(&patch, &after).unwrap());
        prop_assert_eq!(restored, before);
    }

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

proptest! {
    // Each case writes a real registry with fsyncs: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// On disk: fold then rollback restores every document byte for byte;
    /// every invalid fold is refused (exit 5) and leaves every byte as it was.
    #[test]
    fn fold_then_rollback_on_disk_restores_every_byte((cmax, staged, titles) in shape(), pick in 0usize..4) {
        let reg = build(cmax, &staged, &titles);
        for (bad, r, reason) in invalid_folds(&reg) {
            let (tmp, dir) = new_store(&bad);
            let all = everything(&dir);
            let out = tmp.path().join("out");
            let err = Store::open(&dir).unwrap().fold(r, &opts(&out)).unwrap_err();
            prop_assert_eq!(err.exit_code(), exit::REFUSED, "{:?} {}", reason, err);
            prop_assert_eq!(everything(&dir), all);
            prop_assert!(!out.exists());
        }

        let (tmp, dir) = new_store(&reg);
        let before = snapshot(&dir);
        let j = pick % staged.len();
        let out = Store::open(&dir).unwrap().fold(range(cmax + 1, staged_end(&reg, j)), &opts(tmp.path())).unwrap();
        prop_assert!(out.result.rollback_rehearsal.byte_exact);
        prop_assert_ne!(&snapshot(&dir), &before);
        Store::open(&dir).unwrap().rollback(&out.result_path.unwrap()).unwrap();
        prop_assert_eq!(snapshot(&dir), before);
    }
}

#[test]
fn an_old_revision_presented_as_current_is_refused_and_never_overwritten() {
    let reg = build(5, &[3, 2], &["t".into()]);
    let (tmp, dir) = new_store(&reg);
    let state1 = snapshot(&dir);
    Store::open(&dir)
        .unwrap()
        .fold(range(6, 8), &opts(tmp.path()))
        .unwrap();
    let state2 = snapshot(&dir);
    Store::open(&dir)
        .unwrap()
        .claim("P9", ClaimRequest::Count(2))
        .unwrap();
    let current = snapshot(&dir);

    // The state just before the head is what an interrupted write leaves:
    // when the head is not marked complete, it is finished, not refused.
    std::fs::write(dir.join("registry.json"), &state2["registry.json"]).unwrap();
    assert_eq!(
        Store::open(&dir).unwrap_err().exit_code(),
        exit::REFUSED,
        "marked complete: a hand edit"
    );
    unmark(&dir);
    assert_eq!(Store::open(&dir).unwrap().state(), 3);
    assert_eq!(snapshot(&dir), current);

    // Older bytes no crash can leave: one document, or a whole old state.
    for docs in [
        vec!["registry.json"],
        vec!["registry.md"],
        DOCS_ALL.to_vec(),
    ] {
        for d in &docs {
            std::fs::write(dir.join(d), &state1[*d]).unwrap();
        }
        let all = everything(&dir);
        let err = Store::open(&dir).unwrap_err();
        assert_eq!(err.exit_code(), exit::REFUSED, "{docs:?}: {err}");
        assert!(
            err.to_string()
                .contains("are the revision of state 1, not of the current state 3"),
            "{err}"
        );
        // The head is marked complete: every document not at its bytes is
        // reported, even one whose state-1 bytes are those of state 2.
        let old = docs.len();
        let inspection = store::inspect(&dir).unwrap();
        assert!(!inspection.passes());
        assert_eq!(inspection.stale.len(), old, "{docs:?}");
        assert!(inspection.drift.is_empty());
        let report = store::verify_history(&dir).unwrap();
        assert_eq!(report.problems.len(), old, "{:?}", report.problems);
        assert_eq!(everything(&dir), all, "{docs:?}: nothing written");
        for (name, bytes) in &current {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    assert!(Store::open(&dir).is_ok());
}

const DOCS_ALL: [&str; 5] = [
    "index.md",
    "objects.json",
    "objects.md",
    "registry.json",
    "registry.md",
];

#[test]
fn bind_changes_no_document_binds_once_and_replays() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("reg");
    let mut store = store::import(&dir, &seed_fixture()).unwrap();
    let out = store.fold(range(442, 461), &opts(tmp.path())).unwrap();
    let result_path = out.result_path.clone().unwrap();
    let fold_sha = sha256_hex(&std::fs::read(&result_path).unwrap());
    let claim = store.claim("FIX7", ClaimRequest::Count(3)).unwrap();
    let docs = snapshot(&dir);
    let tree = sha256_hex(b"tree");
    let ids = Some((claim.first_id.as_str(), claim.last_id.as_str()));
    let state = store.bind("FIX7", &tree, ids, Some(&fold_sha)).unwrap();
    assert_eq!(state, 4);
    assert_eq!(snapshot(&dir), docs, "a bind writes no document");
    // Neither the claim nor the fold can be bound a second time, to any tree.
    for (ids, fold) in [(ids, None), (None, Some(fold_sha.as_str()))] {
        let other = sha256_hex(b"other");
        let err = store.bind("FIX7", &other, ids, fold).unwrap_err();
        assert_eq!(err.exit_code(), exit::REFUSED, "{err}");
        assert!(err.to_string().contains("already bound"), "{err}");
    }
    // A claim the registry does not hold, a fold no state recorded, a claim
    // of another packet, nothing at all, a tree hash that is not one.
    type Refusal<'a> = (
        &'a str,
        &'a str,
        Option<(&'a str, &'a str)>,
        Option<&'a str>,
        &'a str,
    );
    let refusals: [Refusal<'_>; 5] = [
        (
            "FIX7",
            &tree,
            Some(("TKT-OBJ-900", "TKT-OBJ-901")),
            None,
            "holds no claim",
        ),
        ("FIX7", &tree, None, Some(&tree), "no fold of this history"),
        ("FIX8", &tree, ids, None, "holds no claim"),
        ("FIX7", &tree, None, None, "nothing to bind"),
        ("FIX7", "abc", ids, None, "not 64 lowercase hex"),
    ];
    for (packet, t, ids, fold, why) in refusals {
        let err = store.bind(packet, t, ids, fold).unwrap_err();
        assert_eq!(err.exit_code(), exit::REFUSED, "{err}");
        assert!(err.to_string().contains(why), "{why}: {err}");
    }
    drop(store);
    let report = store::verify_history(&dir).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.states, 4);
}

#[test]
fn a_bind_after_a_fold_leaves_its_rollback_possible() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("reg");
    let mut store = store::import(&dir, &seed_fixture()).unwrap();
    let before = snapshot(&dir);
    let out = store.fold(range(442, 461), &opts(tmp.path())).unwrap();
    let result_path = out.result_path.clone().unwrap();
    let fold_sha = sha256_hex(&std::fs::read(&result_path).unwrap());
    store
        .bind("FIX7", &sha256_hex(b"tree"), None, Some(&fold_sha))
        .unwrap();
    store.rollback(&result_path).unwrap();
    assert_eq!(snapshot(&dir), before);
    drop(store);
    let report = store::verify_history(&dir).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[test]
fn a_forged_bind_line_with_a_rebuilt_chain_fails_the_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("reg");
    let store = store::import(&dir, &seed_fixture()).unwrap();
    let head = store.log().head().unwrap().clone();
    let prev = store.log().head_hash().unwrap().to_string();
    drop(store);
    // A bind of a claim the registry never held, appended with a correct
    // chain and completion marker, as someone writing the log by hand would.
    let entry = history::Entry {
        documents: head.documents.clone(),
        op: Op::Bind {
            packet: "FORGER".into(),
            tree_sha256: sha256_hex(b"forged"),
            first: Some("TKT-OBJ-442".into()),
            last: Some("TKT-OBJ-461".into()),
            fold_result_sha256: None,
        },
        prev: Some(prev),
        seq: head.seq + 1,
    };
    let line = history::encode(&entry).unwrap();
    let backend = crate::registry::backend::dir::DirBackend::new(&dir);
    history::append(&backend, &line).unwrap();
    history::mark_complete(&backend, &sha256_hex(&line)).unwrap();
    let report = store::verify_history(&dir).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("forged or altered") && p.contains("holds no claim")),
        "{:?}",
        report.problems
    );
}

// ---------------------------------------------------------------------------
// Fast claims (super::fast): the same bytes as the full way, appends in place.
// ---------------------------------------------------------------------------

/// Everything a registry directory stores but the claim cache, with each
/// blob as the bytes it stands for (a blob may be kept whole or as a splice
/// of its base, which reads back the same).
fn no_cache(files: BTreeMap<PathBuf, Vec<u8>>, dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let b = crate::registry::backend::dir::DirBackend::new(dir);
    files
        .into_iter()
        .filter(|(p, _)| p != &dir.join(super::fast::CACHE_FILE))
        .map(|(p, bytes)| {
            let rel = p.strip_prefix(dir).unwrap().to_path_buf();
            match rel.strip_prefix(history::BLOBS_DIR) {
                Ok(name) => {
                    let sha = name
                        .to_str()
                        .unwrap()
                        .trim_end_matches(".delta")
                        .to_string();
                    let content = history::get_blob(&b, &sha).unwrap();
                    (Path::new(history::BLOBS_DIR).join(sha), content)
                }
                Err(_) => (rel, bytes),
            }
        })
        .collect()
}

/// The names whose bytes differ between two [`no_cache`] maps.
fn differing(a: &BTreeMap<PathBuf, Vec<u8>>, b: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<PathBuf> {
    a.keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

macro_rules! assert_same_registry {
    ($a:expr, $b:expr, $($ctx:tt)*) => {{
        let (a, b) = (no_cache(everything($a), $a), no_cache(everything($b), $b));
        assert!(a == b, "{}: {:?} differ", format!($($ctx)*), differing(&a, &b));
    }};
}

fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().ino()
}

fn records(titles: &[&str]) -> Vec<super::model::NewRecord> {
    titles
        .iter()
        .enumerate()
        .map(|(i, t)| super::model::NewRecord {
            kind: "evidence".into(),
            title: (*t).into(),
            path: format!("e/{i}.json"),
            sha256: sha256_hex(t.as_bytes()),
        })
        .collect()
}

fn requests() -> Vec<(&'static str, ClaimRequest)> {
    vec![
        ("A", ClaimRequest::Count(3)),
        (
            "P0",
            ClaimRequest::Records(records(&["a | b", "back\\slash", "é \"q\""])),
        ),
        ("A", ClaimRequest::Count(1)),
        ("Z z", ClaimRequest::Records(records(&["z"]))),
    ]
}

#[test]
fn fast_claims_write_exactly_what_full_claims_write() {
    for (cmax, staged) in [(5, vec![3, 2]), (0, vec![1]), (4, vec![])] {
        let reg = build(cmax, &staged, &["t".into(), "a|b".into()]);
        let (_fast_tmp, fast) = new_store(&reg);
        let (_full_tmp, full) = new_store(&reg);
        let ino = inode(&fast.join("objects.json"));
        for (packet, request) in requests() {
            let a = super::fast::claim(&fast, packet, request.clone()).unwrap();
            std::fs::remove_file(full.join(super::fast::CACHE_FILE)).ok();
            let b = Store::open(&full).unwrap().claim(packet, request).unwrap();
            assert_eq!(a, b);
            assert_same_registry!(&fast, &full, "after {packet}");
        }
        // Appended in place: the fast way really was taken.
        assert_eq!(inode(&fast.join("objects.json")), ino);
        assert!(store::verify_history(&fast).unwrap().problems.is_empty());
        assert!(store::inspect(&fast).unwrap().passes());
        // A fold, a rollback and more claims after it: the same again.
        let n = Store::open(&fast).unwrap().registry().next_free();
        let first = Store::open(&fast).unwrap().registry().canonical_max + 1;
        let out_a = _fast_tmp.path().join("out");
        let out_b = _full_tmp.path().join("out");
        Store::open(&fast)
            .unwrap()
            .fold(range(first, n - 1), &opts(&out_a))
            .unwrap();
        Store::open(&full)
            .unwrap()
            .fold(range(first, n - 1), &opts(&out_b))
            .unwrap();
        super::fast::claim(&fast, "after", ClaimRequest::Count(2)).unwrap();
        std::fs::remove_file(full.join(super::fast::CACHE_FILE)).ok();
        Store::open(&full)
            .unwrap()
            .claim("after", ClaimRequest::Count(2))
            .unwrap();
        assert_same_registry!(&fast, &full, "after a fold");
        assert_eq!(
            everything(&out_a).into_values().collect::<Vec<_>>(),
            everything(&out_b).into_values().collect::<Vec<_>>()
        );
        assert_eq!(inode(&fast.join("objects.json")), ino);
    }
}

#[test]
fn fast_claims_past_the_splice_limit_store_a_whole_revision() {
    let reg = build(5, &[3], &["t".into()]);
    let (_fast_tmp, fast) = new_store(&reg);
    let (_full_tmp, full) = new_store(&reg);
    let ino = inode(&fast.join("objects.json"));
    for i in 0..history::MAX_DELTA_DEPTH + 3 {
        let packet = format!("C{i}");
        super::fast::claim(&fast, &packet, ClaimRequest::Count(1)).unwrap();
        std::fs::remove_file(full.join(super::fast::CACHE_FILE)).ok();
        Store::open(&full)
            .unwrap()
            .claim(&packet, ClaimRequest::Count(1))
            .unwrap();
    }
    assert_same_registry!(
        &fast,
        &full,
        "after {} claims",
        history::MAX_DELTA_DEPTH + 3
    );
    assert_eq!(inode(&fast.join("objects.json")), ino);
    assert!(store::verify_history(&fast).unwrap().problems.is_empty());
}

#[test]
fn a_refused_fast_claim_gives_the_full_way_s_refusal_and_writes_nothing() {
    let reg = build(5, &[3], &["t".into()]);
    let (_tmp, dir) = new_store(&reg);
    super::fast::claim(&dir, "A", ClaimRequest::Count(1)).unwrap();
    let all = everything(&dir);
    for (packet, request) in [("", ClaimRequest::Count(1)), ("A", ClaimRequest::Count(0))] {
        let fast = super::fast::claim(&dir, packet, request.clone()).unwrap_err();
        let full = Store::open(&dir)
            .unwrap()
            .claim(packet, request)
            .unwrap_err();
        assert_eq!(fast.to_string(), full.to_string());
        assert_eq!(everything(&dir), all);
    }
    // Past the width (3 digits: 999 is the highest id).
    let fast = super::fast::claim(&dir, "A", ClaimRequest::Count(995)).unwrap_err();
    assert_eq!(fast.exit_code(), exit::REFUSED, "{fast}");
    assert!(fast.to_string().contains("would run past width"), "{fast}");
    assert_eq!(no_cache(everything(&dir), &dir), no_cache(all, &dir));
}

#[test]
fn a_claim_killed_mid_append_is_completed_and_a_foreign_tail_is_refused() {
    let reg = build(5, &[3], &["t".into()]);
    let (_tmp, dir) = new_store(&reg);
    super::fast::claim(&dir, "A", ClaimRequest::Count(1)).unwrap();
    let before = snapshot(&dir);
    super::fast::claim(&dir, "B", ClaimRequest::Records(records(&["x", "y"]))).unwrap();
    let after = snapshot(&dir);
    for doc in ["objects.json", "objects.md"] {
        let (old, new) = (&before[doc], &after[doc]);
        let shared = old
            .iter()
            .zip(new.iter())
            .take_while(|(a, b)| a == b)
            .count();
        for keep in [shared, shared + 1, (shared + new.len()) / 2, new.len() - 1] {
            // Killed after the log line: the small documents replaced, this
            // one cut short, no completion marker yet.
            std::fs::write(dir.join(doc), &new[..keep]).unwrap();
            unmark(&dir);
            let store = Store::open(&dir).unwrap();
            assert_eq!(store.state(), 3);
            drop(store);
            assert_eq!(snapshot(&dir), after, "{doc} cut at {keep}");
        }
        // Cut short while the write is marked complete: no kill leaves that.
        std::fs::write(dir.join(doc), &new[..new.len() - 1]).unwrap();
        let err = Store::open(&dir).unwrap_err();
        assert_eq!(err.exit_code(), exit::REFUSED, "{err}");
        assert!(!store::inspect(&dir).unwrap().passes());
        // Interrupted, but the tail is not the committed one: a hand edit.
        let mut foreign = new[..shared].to_vec();
        foreign.extend_from_slice(b"forged tail\n");
        std::fs::write(dir.join(doc), &foreign).unwrap();
        unmark(&dir);
        let all = everything(&dir);
        let err = Store::open(&dir).unwrap_err();
        assert_eq!(err.exit_code(), exit::REFUSED, "{err}");
        assert!(err.to_string().contains("edited outside holdfast"), "{err}");
        assert_eq!(everything(&dir), all, "nothing written");
        // Cut shorter than what the two revisions share: not a torn append.
        std::fs::write(dir.join(doc), &new[..shared - 1]).unwrap();
        assert!(Store::open(&dir).is_err());
        std::fs::write(dir.join(doc), new).unwrap();
        let log = std::fs::read(dir.join(LOG_FILE)).unwrap();
        let head = history::parse_log(&log, Path::new("log")).unwrap();
        std::fs::write(
            dir.join(history::COMPLETE_FILE),
            format!("{}\n", head.head_hash().unwrap()),
        )
        .unwrap();
        assert!(store::inspect(&dir).unwrap().passes());
    }
}

#[test]
fn a_records_document_edited_behind_the_cache_is_refused() {
    let reg = build(5, &[3], &["t".into()]);
    let (_tmp, dir) = new_store(&reg);
    super::fast::claim(&dir, "A", ClaimRequest::Count(1)).unwrap();
    for doc in ["objects.json", "objects.md"] {
        let good = std::fs::read(dir.join(doc)).unwrap();
        // Same length, one byte changed, written in place (same inode).
        let mut bad = good.clone();
        let at = bad.iter().rposition(|&b| b == b'0').unwrap();
        bad[at] = b'1';
        {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(dir.join(doc))
                .unwrap();
            f.write_all(&bad).unwrap();
        }
        let all = everything(&dir);
        let err = super::fast::claim(&dir, "B", ClaimRequest::Count(1)).unwrap_err();
        assert_eq!(err.exit_code(), exit::REFUSED, "{err}");
        assert!(
            err.to_string().contains(doc) && err.to_string().contains("edited outside holdfast"),
            "{err}"
        );
        assert_eq!(everything(&dir), all, "nothing written");
        std::fs::write(dir.join(doc), &good).unwrap();
    }
    super::fast::claim(&dir, "B", ClaimRequest::Count(1)).unwrap();
    assert!(store::inspect(&dir).unwrap().passes());
}

#[test]
fn a_wrong_or_missing_cache_only_costs_the_shortcut() {
    let reg = build(5, &[3, 1], &["t".into()]);
    let (_tmp, dir) = new_store(&reg);
    let (_ref_tmp, reference) = new_store(&reg);
    let cache = dir.join(super::fast::CACHE_FILE);
    super::fast::claim(&dir, "A", ClaimRequest::Count(1)).unwrap();
    Store::open(&reference)
        .unwrap()
        .claim("A", ClaimRequest::Count(1))
        .unwrap();
    let good: serde_json::Value = serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
    let mut tampered = Vec::new();
    let mut v = good.clone();
    v["records"]["P0"] = 2.into();
    tampered.push(v);
    let mut v = good.clone();
    v["records"]["NEW"] = 1.into();
    tampered.push(v);
    let mut v = good.clone();
    v["runs"] = serde_json::json!([[1, 8]]);
    tampered.push(v);
    let mut v = good.clone();
    v["runs"] = serde_json::json!([[1, 5], [5, 9]]);
    tampered.push(v);
    let mut v = good.clone();
    v["objects_json"]["sha256"] = "0".repeat(64).into();
    tampered.push(v);
    let mut v = good.clone();
    v["objects_md"]["fingerprint"] = "x".into();
    tampered.push(v);
    let mut v = good.clone();
    v["objects_json"]["cut"] = 3.into();
    tampered.push(v);
    let mut raw: Vec<Vec<u8>> = tampered
        .iter()
        .map(|v| serde_json::to_vec(v).unwrap())
        .collect();
    raw.push(b"not json".to_vec());
    raw.push(Vec::new());
    for (i, bytes) in raw.into_iter().enumerate() {
        std::fs::write(&cache, &bytes).unwrap();
        let packet = format!("K{i}");
        super::fast::claim(&dir, &packet, ClaimRequest::Count(2)).unwrap();
        Store::open(&reference)
            .unwrap()
            .claim(&packet, ClaimRequest::Count(2))
            .unwrap();
        assert_same_registry!(&dir, &reference, "cache {i}");
    }
    std::fs::remove_file(&cache).unwrap();
    super::fast::claim(&dir, "last", ClaimRequest::Count(1)).unwrap();
    Store::open(&reference)
        .unwrap()
        .claim("last", ClaimRequest::Count(1))
        .unwrap();
    assert_same_registry!(&dir, &reference, "no cache");
    assert!(store::verify_history(&dir).unwrap().problems.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn appended_records_documents_are_the_full_renders((cmax, staged, titles) in shape(), extra in 1u64..5) {
        prop_assume!(cmax + staged.iter().sum::<u64>() > 0);
        let reg = build(cmax, &staged, &titles);
        let mut longer = reg.clone();
        let first = reg.next_free();
        let new: Vec<Object> = (first..first + extra).map(|n| obj(n, "N|\\", &titles.first().cloned().unwrap_or_default())).collect();
        longer.objects.extend(new.clone());
        let mut json = super::model::objects_json_bytes(&reg).unwrap();
        json.truncate(json.len() - super::model::OBJECTS_JSON_CLOSING.len());
        json.extend(super::model::objects_json_appended(&reg.format, &new).unwrap().unwrap());
        prop_assert_eq!(json, super::model::objects_json_bytes(&longer).unwrap());
        let mut md = super::render::objects_md(&reg);
        md.extend(super::render::objects_md_appended(&reg.format, &new).unwrap());
        prop_assert_eq!(md, super::render::objects_md(&longer));
        let counts = super::render::records_per_packet(&longer);
        prop_assert_eq!(
            super::render::index_md_counted(&longer, counts.iter().map(|(k, v)| (k.as_str(), *v))),
            super::render::index_md(&longer)
        );
    }
}
