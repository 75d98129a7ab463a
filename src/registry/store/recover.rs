//! Recovery, run by every open before anything else: a write killed after
//! its log line (its commit point) is finished from the blobs the head
//! names; a write killed before it left nothing visible. Only the state
//! just before an unmarked head (or a missing document, or an append cut
//! short) is rolled forward; any other bytes were put there by someone and
//! are reported as drift (no recorded revision) or stale (an older recorded
//! revision), never overwritten, so every command refuses until they are
//! resolved. Also parses the recovered documents into the model.

use rayon::prelude::*;

use super::doc_path;
use crate::digest::sha256_hex;
use crate::error::{Error, Result};
use crate::registry::backend::Backend;
use crate::registry::history::{
    self, BLOBS_DIR, Entry, LOG_FILE, Log, READ_LIMIT, get_blob, read_log_repairing,
};
use crate::registry::model::{
    DOCUMENTS, Document, RecordLoad, Registry, parse_objects_bytes, parse_registry_json,
};

/// The live documents after completing any interrupted write.
pub(super) struct Recovered {
    pub(super) log: Log,
    pub(super) head: Entry,
    pub(super) docs: Vec<Vec<u8>>,
    /// sha256 of each document in `docs`.
    pub(super) shas: Vec<String>,
    pub(super) drift: Vec<(Document, String)>,
    /// Documents holding an older recorded revision than any interrupted
    /// write can leave: (document, sha256, the latest state that had those
    /// bytes). An old revision presented as current; never overwritten.
    pub(super) stale: Vec<(Document, String, u64)>,
    /// The model parsed while the documents were being hashed, kept only
    /// when every document turned out to be the head's.
    pub(super) model: Option<Result<(Registry, String)>>,
}

pub(super) fn recover(b: &dyn Backend, want_model: Option<RecordLoad>) -> Result<Recovered> {
    b.remove_leftovers(true)?;
    let log = read_log_repairing(b)?;
    let Some(head) = log.head().cloned() else {
        return Err(Error::malformed(
            b.path(LOG_FILE),
            "holds no committed state (an interrupted init or import? remove the directory and run it again)",
        ));
    };
    let live: Vec<Option<Vec<u8>>> = DOCUMENTS
        .par_iter()
        .map(|d| b.read(d.name(), READ_LIMIT))
        .collect::<Result<Vec<_>>>()?;
    // Hashing and parsing are independent; on a large registry each takes
    // about as long as the other, so they run side by side and the parse is
    // thrown away if the hashes show a document that is not the head's.
    let (live_shas, speculative) = rayon::join(
        || {
            live.par_iter()
                .map(|b| b.as_deref().map(sha256_hex))
                .collect::<Vec<_>>()
        },
        || {
            let rj = live[Document::RegistryJson.index()].as_deref()?;
            let oj = live[Document::ObjectsJson.index()].as_deref()?;
            want_model.map(|load| parse_model(b, rj, oj, &head, load))
        },
    );
    // A write replaces documents only after its log line is committed, then
    // marks itself complete; the next command finishes an incomplete one
    // before doing anything else. So only when the head is not marked
    // complete can a document be at the bytes of the state just before the
    // head (or missing), and only then is it rolled forward. Any other
    // recorded bytes were put there by someone (an old revision presented as
    // current, e.g. a fold's before bytes restored by hand with `patch`):
    // they are reported, and nothing is written.
    let marker = history::read_complete(b)?;
    let head_hash = log.head_hash().unwrap_or_default().to_string();
    let prev_hash = log
        .hashes
        .len()
        .checked_sub(2)
        .and_then(|i| log.hashes.get(i));
    let interrupted = match marker.as_deref() {
        Some(m) if m == head_hash => false,
        Some(m) if prev_hash.is_some_and(|p| p == m) => true,
        // No marker: an init or import killed before its documents were in
        // place (one state), else a registry from before markers existed,
        // taken as complete (fail closed: nothing is rolled forward).
        None => log.entries.len() == 1,
        Some(m) => {
            return Err(Error::malformed(
                b.path(history::COMPLETE_FILE),
                format!(
                    "names log line {m}, neither the head nor the line before it; restore it with the sha256 of the head line of {LOG_FILE} once the documents are the head's"
                ),
            ));
        }
    };
    let prev = log
        .entries
        .len()
        .checked_sub(2)
        .and_then(|i| log.entries.get(i))
        .filter(|_| interrupted);
    let mut drift = Vec::new();
    let mut stale = Vec::new();
    let mut finish = Vec::new();
    for (d, live_sha) in DOCUMENTS.iter().zip(&live_shas) {
        let pin = head.pin(*d);
        match live_sha {
            Some(sha) if sha == pin => {}
            Some(sha) if prev.is_some_and(|p| p.pin(*d) == sha) => finish.push(*d),
            // A claim appends to the records documents in place: a kill in
            // the middle leaves the head's bytes cut short.
            Some(_)
                if prev.is_some_and(|p| {
                    torn_append(
                        b,
                        p.pin(*d),
                        pin,
                        live[d.index()].as_deref().unwrap_or_default(),
                    )
                }) =>
            {
                finish.push(*d)
            }
            Some(sha) => match log.entries.iter().rev().find(|e| e.pin(*d) == sha) {
                Some(e) => stale.push((*d, sha.clone(), e.seq)),
                None => drift.push((*d, sha.clone())),
            },
            // Missing: a write committed in the log but not finished on disk.
            None if interrupted => finish.push(*d),
            // Missing while the head is marked complete: deleted by hand.
            None => {
                return Err(Error::refused(format!(
                    "{}: missing, but state {} is marked complete in {}, so no interrupted write left it so (deleted by hand?). Nothing was written; put back its bytes from {}/{}",
                    doc_path(b, *d).display(),
                    head.seq,
                    history::COMPLETE_FILE,
                    BLOBS_DIR,
                    pin
                )));
            }
        }
    }
    let mut docs = Vec::with_capacity(DOCUMENTS.len());
    let mut shas = Vec::with_capacity(DOCUMENTS.len());
    let untouched = drift.is_empty() && stale.is_empty();
    for (d, (live, live_sha)) in DOCUMENTS.iter().zip(live.into_iter().zip(live_shas)) {
        let pin = head.pin(*d);
        let (bytes, sha) = match (live, live_sha) {
            (Some(b), Some(sha)) if !(untouched && finish.contains(d)) => (b, sha),
            _ if untouched => {
                // Finish the interrupted write: the head's bytes from the blob.
                let blob = get_blob(b, pin)?;
                b.write(d.name(), &blob, false)?;
                (blob, pin.to_string())
            }
            // Missing beside a hand-edited or stale document: nothing is
            // written while the directory holds bytes someone put there.
            _ => (Vec::new(), String::new()),
        };
        shas.push(sha);
        docs.push(bytes);
    }
    if untouched && interrupted {
        history::mark_complete(b, &head_hash)?;
    }
    let model = if !finish.is_empty() || !untouched {
        None
    } else {
        speculative
    };
    Ok(Recovered {
        log,
        head,
        docs,
        shas,
        drift,
        stale,
        model,
    })
}

/// Whether `live` is what an append in place ([`Backend::append_at`]) from
/// the bytes of blob `prev` to those of blob `head` can leave when killed:
/// a prefix of `head` at least as long as the bytes the two share at their
/// start. Reads both blobs; only asked of an interrupted write.
fn torn_append(b: &dyn Backend, prev: &str, head: &str, live: &[u8]) -> bool {
    let (Ok(before), Ok(after)) = (get_blob(b, prev), get_blob(b, head)) else {
        return false;
    };
    let shared = before
        .iter()
        .zip(&after)
        .take_while(|(x, y)| x == y)
        .count();
    live.len() >= shared && after.starts_with(live)
}

pub(super) fn stale_message(d: Document, sha: &str, seq: u64, head: u64) -> String {
    format!(
        "{}: its bytes (sha256 {sha}) are the revision of state {seq}, not of the current state {head}; an old revision presented as current (restored by hand? state {head} is marked complete in {}, so no interrupted write left them)",
        d.name(),
        history::COMPLETE_FILE
    )
}

pub(super) fn stale_error(b: &dyn Backend, stale: &[(Document, String, u64)], head: u64) -> Error {
    let (d, sha, seq) = &stale[0];
    Error::refused(format!(
        "{}/{}. Nothing was written; put the current state's bytes back (from {}/<sha256>, or undo the hand edit, e.g. `patch -R -p1` for a reverse patch applied by hand), then roll a fold back with `holdfast registry rollback FOLD_RESULT` (`holdfast registry check` lists every such document)",
        b.root().display(),
        stale_message(*d, sha, *seq, head),
        BLOBS_DIR
    ))
}

pub(super) fn drift_error(b: &dyn Backend, drift: &[(Document, String)]) -> Error {
    let (d, sha) = &drift[0];
    Error::refused(format!(
        "{}: its bytes (sha256 {sha}) are no revision recorded in {}; it was edited outside holdfast. Nothing was written; restore it from {} or inspect with `holdfast registry check`",
        doc_path(b, *d).display(),
        LOG_FILE,
        BLOBS_DIR
    ))
}

/// Parses the two JSON documents into the model; also returns the
/// `objects.json` pin `registry.json` names (the caller compares it with
/// the file's actual sha256).
fn parse_model(
    b: &dyn Backend,
    registry_json: &[u8],
    objects_json: &[u8],
    head: &Entry,
    load: RecordLoad,
) -> Result<(Registry, String)> {
    let header = parse_registry_json(registry_json, &doc_path(b, Document::RegistryJson))?;
    let objects = parse_objects_bytes(
        objects_json,
        &doc_path(b, Document::ObjectsJson),
        &header.format,
        header.objects_file.count,
        load,
    )?;
    if header.revisions != head.revisions() {
        return Err(Error::malformed(
            doc_path(b, Document::RegistryJson),
            "document_revisions differ from the revisions the history records for this state",
        ));
    }
    Ok((
        Registry {
            format: header.format,
            canonical_max: header.canonical_max,
            claims: header.claims,
            objects,
            revisions: header.revisions,
        },
        header.objects_file.sha256,
    ))
}

/// The model of recovered documents, checking `registry.json` pins the
/// `objects.json` that is there.
pub(super) fn load_model(
    b: &dyn Backend,
    rec: &mut Recovered,
    load: RecordLoad,
) -> Result<Registry> {
    let parsed = match rec.model.take() {
        Some(p) => p,
        None => parse_model(
            b,
            &rec.docs[Document::RegistryJson.index()],
            &rec.docs[Document::ObjectsJson.index()],
            &rec.head,
            load,
        ),
    };
    let (reg, objects_pin) = parsed?;
    let actual = &rec.shas[Document::ObjectsJson.index()];
    if &objects_pin != actual {
        return Err(Error::malformed(
            doc_path(b, Document::ObjectsJson),
            format!(
                "sha256 {actual} differs from the pin in registry.json ({objects_pin}); the two files do not belong together"
            ),
        ));
    }
    Ok(reg)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::error::exit;
    use crate::registry::fast;
    use crate::registry::fold::ClaimRequest;
    use crate::registry::history::{self, LOG_FILE};
    use crate::registry::store::{self, Store};
    use crate::registry::test_support::{
        build, everything, new_store, opts, range, records, snapshot, unmark,
    };

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
    fn a_claim_killed_mid_append_is_completed_and_a_foreign_tail_is_refused() {
        let reg = build(5, &[3], &["t".into()]);
        let (_tmp, dir) = new_store(&reg);
        fast::claim(&dir, "A", ClaimRequest::Count(1)).unwrap();
        let before = snapshot(&dir);
        fast::claim(&dir, "B", ClaimRequest::Records(records(&["x", "y"]))).unwrap();
        let after = snapshot(&dir);
        // `registry.json` too: a claim appends a large one (over 64 KiB)
        // in place after the claims it keeps; the cut is the same.
        for doc in ["objects.json", "objects.md", "registry.json"] {
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
}
