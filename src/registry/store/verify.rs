//! `verify-history`: the proof that the history is intact. Every line is
//! chained to the one before, every blob is present and hashes to its
//! name, and every recorded state is replayed from the one before it:
//! each must be exactly what its operation produces, so a log line forged
//! with a rebuilt chain is still found.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::bind::check_bind;
use super::recover::{recover, stale_message};
use super::{render_all, require_registry};
use crate::authz::FoldRange;
use crate::canonical;
use crate::digest::sha256_hex;
use crate::error::{Error, Result};
use crate::registry::backend::{self, Backend};
use crate::registry::check::check;
use crate::registry::fold::{ClaimRequest, FoldResult, plan_claim, plan_fold};
use crate::registry::history::{self, Entry, Log, Op, get_blob};
use crate::registry::model::{
    DOCUMENTS, Document, NewRecord, RecordLoad, Registry, parse_import, parse_objects_bytes,
    parse_registry_json,
};

/// What `verify-history` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct HistoryReport {
    /// Number of states in the log.
    pub states: u64,
    /// sha256 of the log's last line.
    pub head: Option<String>,
    /// Distinct blobs read and checked.
    pub blobs_checked: u64,
    /// Every problem found (empty: the history is intact).
    pub problems: Vec<String>,
}

/// Proves the history intact: every line chained to the one before, every
/// blob present and hashing to its name, every state's `registry.json`
/// agreeing with the revisions and the `objects.json` pin its line records,
/// the revision rule kept, and the live documents equal to the last state.
pub fn verify_history(dir: &Path) -> Result<HistoryReport> {
    verify_history_at(&*backend::open(dir)?)
}

/// [`verify_history`] on an open backend.
pub fn verify_history_at(b: &dyn Backend) -> Result<HistoryReport> {
    require_registry(b)?;
    let _lock = b.lock()?;
    let mut report = HistoryReport {
        states: 0,
        head: None,
        blobs_checked: 0,
        problems: Vec::new(),
    };
    let rec = match recover(b, None) {
        Ok(r) => r,
        Err(e) => {
            report.problems.push(e.to_string());
            return Ok(report);
        }
    };
    let log = &rec.log;
    report.states = log.entries.len() as u64;
    report.head = log.head_hash().map(str::to_string);
    let mut checked: BTreeMap<String, bool> = BTreeMap::new();
    let mut blob_ok = |sha: &str, what: String, problems: &mut Vec<String>| -> Option<Vec<u8>> {
        match get_blob(b, sha) {
            Ok(b) => {
                checked.insert(sha.to_string(), true);
                Some(b)
            }
            Err(e) => {
                if checked.insert(sha.to_string(), false).is_none() {
                    problems.push(format!("{what}: {e}"));
                }
                None
            }
        }
    };
    for e in &log.entries {
        for d in DOCUMENTS {
            let what = format!("state {} {}", e.seq, d.name());
            let Some(bytes) = blob_ok(e.pin(d), what, &mut report.problems) else {
                continue;
            };
            if d == Document::RegistryJson {
                match parse_registry_json(&bytes, &history::blob_path(b.root(), e.pin(d))) {
                    Ok(h) => {
                        if h.revisions != e.revisions() {
                            report.problems.push(format!(
                                "state {}: registry.json revisions differ from the log line",
                                e.seq
                            ));
                        }
                        if h.objects_file.sha256 != e.pin(Document::ObjectsJson) {
                            report.problems.push(format!("state {}: registry.json pins another objects.json than the log line", e.seq));
                        }
                    }
                    Err(err) => report.problems.push(format!("state {}: {err}", e.seq)),
                }
            }
        }
        for a in e.op.artifacts() {
            blob_ok(a, format!("state {} artifact", e.seq), &mut report.problems);
        }
    }
    report.blobs_checked = checked.len() as u64;
    report.problems.extend(replay_history(b, log));
    if let Some(p) = history::check_revision_rule(log) {
        report.problems.push(p);
    }
    for (d, sha) in &rec.drift {
        report.problems.push(format!(
            "{}: live bytes (sha256 {sha}) are no revision recorded in the history",
            d.name()
        ));
    }
    for (d, sha, seq) in &rec.stale {
        report
            .problems
            .push(stale_message(*d, sha, *seq, rec.head.seq));
    }
    Ok(report)
}

/// The model of recorded state `e`, read from its blobs.
fn model_at(b: &dyn Backend, e: &Entry) -> Result<Registry> {
    let (rj_sha, oj_sha) = (e.pin(Document::RegistryJson), e.pin(Document::ObjectsJson));
    let rj = get_blob(b, rj_sha)?;
    let oj = get_blob(b, oj_sha)?;
    let header = parse_registry_json(&rj, &history::blob_path(b.root(), rj_sha))?;
    let objects = parse_objects_bytes(
        &oj,
        &history::blob_path(b.root(), oj_sha),
        &header.format,
        header.objects_file.count,
        RecordLoad::Full,
    )?;
    Ok(Registry {
        format: header.format,
        canonical_max: header.canonical_max,
        claims: header.claims,
        objects,
        revisions: header.revisions,
    })
}

/// What a replayed operation produced.
enum Replayed {
    /// A model; its rendered documents are the state.
    Model(Registry),
    /// An earlier recorded state, again (rollback, undo): its index.
    Earlier(usize),
}

/// Re-applies the operation of `log.entries[i]` to `prev` (the model of the
/// state before it, `None` for the first), as the command that wrote it
/// would have. `high` is the highest revision of every document before it.
/// An error is why the operation cannot be re-applied.
fn replay_op(
    b: &dyn Backend,
    log: &Log,
    i: usize,
    prev: Option<Registry>,
    high: &super::model::Revisions,
) -> Result<Replayed> {
    let e = &log.entries[i];
    let bad = |what: String| Error::failed(what);
    let first_only = |kind: &str| bad(format!("{kind} can only make the first state"));
    let mut reg = match (&e.op, prev) {
        (
            Op::Init {
                id_prefix,
                id_width,
            },
            None,
        ) => {
            let fmt = super::id::IdFormat::new(id_prefix, *id_width).map_err(bad)?;
            return Ok(Replayed::Model(Registry::empty(fmt)));
        }
        (Op::Import { source_sha256 }, None) => {
            let bytes = get_blob(b, source_sha256)?;
            let reg = parse_import(&bytes, &history::blob_path(b.root(), source_sha256))?;
            let report = check(&reg);
            if !report.passes() {
                return Err(bad(format!(
                    "the imported file fails check ({})",
                    report.counts.summary()
                )));
            }
            return Ok(Replayed::Model(reg));
        }
        (_, None) => return Err(bad("the first state must be made by init or import".into())),
        (Op::Init { .. }, Some(_)) => return Err(first_only("init")),
        (Op::Import { .. }, Some(_)) => return Err(first_only("import")),
        (_, Some(reg)) => reg,
    };
    let next_rev = high.bumped();
    match &e.op {
        Op::Claim {
            packet,
            first,
            last,
            count,
            records_sha256,
        } => {
            let request = match records_sha256 {
                Some(sha) => {
                    let bytes = get_blob(b, sha)?;
                    let records: Vec<NewRecord> =
                        canonical::from_slice_strict(&bytes, &history::blob_path(b.root(), sha))?;
                    if records.len() as u64 != *count {
                        return Err(bad(format!(
                            "the claim records {count} ids but its records blob holds {}",
                            records.len()
                        )));
                    }
                    ClaimRequest::Records(records)
                }
                None => ClaimRequest::Count(*count),
            };
            let plan = plan_claim(&reg, packet, request)?;
            let (f, l) = (
                reg.format.format(plan.claim.first),
                reg.format.format(plan.claim.last),
            );
            if (&f, &l) != (first, last) {
                return Err(bad(format!(
                    "the claim records {first}..{last}, re-applied it takes {f}..{l}"
                )));
            }
            plan.apply(&mut reg, &next_rev);
            let report = check(&reg);
            if !report.passes() {
                return Err(bad(format!(
                    "the registry after the claim fails check ({})",
                    report.counts.summary()
                )));
            }
            Ok(Replayed::Model(reg))
        }
        Op::Fold {
            first,
            last,
            result_sha256,
            reverse_patch_sha256,
        } => {
            let range = FoldRange {
                first: reg.format.parse(first).map_err(bad)?,
                last: reg.format.parse(last).map_err(bad)?,
            };
            let plan = plan_fold(&reg, range)?;
            plan.apply(&mut reg, &next_rev);
            let bytes = get_blob(b, result_sha256)?;
            let result: FoldResult =
                canonical::from_slice_strict(&bytes, &history::blob_path(b.root(), result_sha256))?;
            if result.pins.after != e.pins()
                || result.pins.before != log.entries[i - 1].pins()
                || &result.reverse_patch.sha256 != reverse_patch_sha256
                || (result.range.first, result.range.last) != (range.first, range.last)
                || !result.applied
            {
                return Err(bad(
                    "its fold result does not describe this fold (range, pins or reverse patch differ)"
                        .into(),
                ));
            }
            Ok(Replayed::Model(reg))
        }
        Op::Rollback {
            fold_result_sha256, ..
        } => {
            let fold_at = log.entries[..i].iter().position(|f| {
                matches!(&f.op, Op::Fold { result_sha256, .. } if result_sha256 == fold_result_sha256)
            });
            let Some(j) = fold_at.filter(|&j| j >= 1) else {
                return Err(bad(format!(
                    "it rolls back a fold result (sha256 {fold_result_sha256}) no earlier state recorded"
                )));
            };
            if log.entries[i - 1].pins() != log.entries[j].pins() {
                return Err(bad(format!(
                    "the state before it is not the after state of the fold it rolls back (state {})",
                    log.entries[j].seq
                )));
            }
            Ok(Replayed::Earlier(j - 1))
        }
        Op::Bind { .. } => {
            check_bind(&reg, &log.entries[..i], &e.op).map_err(bad)?;
            Ok(Replayed::Earlier(i - 1))
        }
        Op::Undo { .. } => {
            if i < 2 || !matches!(log.entries[i - 1].op, Op::Fold { .. }) {
                return Err(bad("an undo must directly follow a fold".into()));
            }
            Ok(Replayed::Earlier(i - 2))
        }
        Op::Init { .. } | Op::Import { .. } => Err(bad("unreachable".into())),
    }
}

/// Replays the whole history from its first state: every recorded state
/// must be exactly what its operation produces from the state before it.
/// Returns one problem per state that is not, naming it.
fn replay_history(b: &dyn Backend, log: &Log) -> Vec<String> {
    let mut problems = Vec::new();
    let mut high = super::model::Revisions::all(0);
    let mut prev: Option<Registry> = None;
    for (i, e) in log.entries.iter().enumerate() {
        let name = format!("state {} ({})", e.seq, e.op.describe());
        let outcome = if i > 0 && prev.is_none() {
            Err(Error::failed(
                "the state before it could not be read, so it cannot be replayed",
            ))
        } else {
            replay_op(b, log, i, prev.take(), &high)
        };
        let verdict = outcome.and_then(|r| match r {
            Replayed::Model(reg) => {
                let docs = render_all(&reg)?;
                let mismatch = DOCUMENTS.iter().find_map(|d| {
                    let rec = &e.documents[d.name()];
                    let sha = sha256_hex(&docs[d.index()]);
                    let rev = reg.revisions.get(*d);
                    (rec.sha256 != sha || rec.revision != rev).then(|| {
                        format!(
                            "{} is recorded as revision {} sha256 {}, the operation produces revision {rev} sha256 {sha}",
                            d.name(),
                            rec.revision,
                            rec.sha256
                        )
                    })
                });
                Ok(match mismatch {
                    None => (None, Some(reg)),
                    Some(m) => (Some(m), None),
                })
            }
            Replayed::Earlier(k) => {
                let want = &log.entries[k];
                Ok(if want.documents == e.documents {
                    (None, None)
                } else {
                    (
                        Some(format!(
                            "its documents are not those of state {}, which it restores",
                            want.seq
                        )),
                        None,
                    )
                })
            }
        });
        match verdict {
            Ok((None, model)) => prev = model,
            Ok((Some(m), _)) => problems.push(format!(
                "{name}: forged or altered: not what its operation produces: {m}"
            )),
            Err(err) => problems.push(format!(
                "{name}: forged or altered: its operation does not re-apply: {err}"
            )),
        }
        if prev.is_none() {
            // Go on from the state as recorded, so every later state is
            // checked against what is actually there.
            prev = model_at(b, e).ok();
        }
        let er = e.revisions();
        for d in DOCUMENTS {
            high.set(d, high.get(d).max(er.get(d)));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use crate::digest::sha256_hex;
    use crate::registry::history::{self, LOG_FILE, Op};
    use crate::registry::model::Document;
    use crate::registry::store::{self, Store};
    use crate::registry::test_support::{build, new_store, opts, range, seed_fixture};

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
}
