//! Helpers the registry's unit tests share: registries of a given shape
//! (and proptest strategies for them), stores made from them on real
//! directories, snapshots of what a directory holds, and the options and
//! fixtures the store's tests pass. Only compiled for tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::fold::RefusalReason;
use super::history::{self, LOG_FILE, Op};
use super::id::IdFormat;
use super::model::{Claim, ClaimState, DOCUMENTS, NewRecord, Object, Registry, Revisions};
use super::store::{self, FoldOptions};
use crate::authz::FoldRange;
use crate::digest::sha256_hex;

/// Record `n` of `packet`, with a sha256 of its number.
pub(super) fn obj(n: u64, packet: &str, title: &str) -> Object {
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
pub(super) fn build(cmax: u64, staged: &[u64], titles: &[String]) -> Registry {
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

/// The last id of the `j`-th staged claim of `reg` (0 when there is none).
pub(super) fn staged_end(reg: &Registry, j: usize) -> u64 {
    reg.claims
        .iter()
        .filter(|c| c.state == ClaimState::Staged)
        .nth(j)
        .map_or(0, |c| c.last)
}

/// The bytes of every registry document in `dir`, by name.
pub(super) fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
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

/// Every file under `dir` and its bytes (history, lock and cache included).
pub(super) fn everything(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).unwrap()))
        .collect()
}

/// A registry directory holding `reg` as its first state, in a fresh temporary directory.
pub(super) fn new_store(reg: &Registry) -> (tempfile::TempDir, PathBuf) {
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

/// The options of a fold whose evidence goes to `out`.
pub(super) fn opts(out: &Path) -> FoldOptions {
    FoldOptions {
        out_dir: out.to_path_buf(),
        dry_run: false,
    }
}

/// The fold range `first..=last`.
pub(super) fn range(first: u64, last: u64) -> FoldRange {
    FoldRange { first, last }
}

/// The single-file registry of the seed figures (441 canonical ids, a staged claim 442..461).
pub(super) fn seed_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/registry-seed.json")
}

/// Makes the head write of `dir` look interrupted after its commit point:
/// the completion marker names the line before the head, as a kill before
/// the marker is written leaves it.
pub(super) fn unmark(dir: &Path) {
    let bytes = std::fs::read(dir.join(LOG_FILE)).unwrap();
    let log = history::parse_log(&bytes, Path::new("log")).unwrap();
    let prev = &log.hashes[log.hashes.len() - 2];
    std::fs::write(dir.join(history::COMPLETE_FILE), format!("{prev}\n")).unwrap();
}

/// Record titles, with the characters Markdown and JSON escape.
pub(super) fn titles() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-z |\"\\\\é#*-]{0,10}", 1..4)
}

/// A registry shape for [`build`]: canonical max, staged claim lengths, titles.
pub(super) fn shape() -> impl Strategy<Value = (u64, Vec<u64>, Vec<String>)> {
    (0u64..30, prop::collection::vec(1u64..6, 1..5), titles())
}

/// Every invalid fold a registry of this shape allows, with the reason it must be refused for.
pub(super) fn invalid_folds(reg: &Registry) -> Vec<(Registry, FoldRange, RefusalReason)> {
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

/// New records titled `titles`, for a claim that brings its records.
pub(super) fn records(titles: &[&str]) -> Vec<NewRecord> {
    titles
        .iter()
        .enumerate()
        .map(|(i, t)| NewRecord {
            kind: "evidence".into(),
            title: (*t).into(),
            path: format!("e/{i}.json"),
            sha256: sha256_hex(t.as_bytes()),
        })
        .collect()
}
