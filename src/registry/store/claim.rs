//! A claim: the next free ids taken by one packet as one staged claim,
//! with their records, written as one state by the full way (every document
//! rendered and replaced); and the claim cache that lets the next claim take
//! the [`fast`](crate::registry::fast) way instead.

use serde::Serialize;

use super::recover::{load_model, recover};
use super::{Store, doc_path, render_all};
use crate::digest::sha256_hex;
use crate::error::{Error, Result};
use crate::registry::backend::Backend;
use crate::registry::check::check;
use crate::registry::fold::{ClaimRequest, plan_claim};
use crate::registry::history::Op;
use crate::registry::model::{
    DOCUMENTS, Document, RecordLoad, Registry, parse_objects_bytes, to_canonical_bytes,
};

/// What `claim` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ClaimOutcome {
    /// The claiming packet.
    pub packet: String,
    /// First id taken.
    pub first_id: String,
    /// Last id taken.
    pub last_id: String,
    /// Number of ids taken.
    pub count: u64,
    /// The registry's state number after the claim.
    pub state: u64,
}

impl Store {
    /// Claims the next free ids for `packet` as one staged claim with their records.
    pub fn claim(&mut self, packet: &str, request: ClaimRequest) -> Result<ClaimOutcome> {
        if self.load != RecordLoad::Full {
            // The records documents are rewritten: every field is needed.
            self.registry.objects = parse_objects_bytes(
                &self.docs[Document::ObjectsJson.index()],
                &doc_path(&*self.b, Document::ObjectsJson),
                &self.registry.format,
                self.registry.objects.len() as u64,
                RecordLoad::Full,
            )?;
            self.load = RecordLoad::Full;
        }
        let records_blob = match &request {
            ClaimRequest::Records(r) => Some(to_canonical_bytes(r)?),
            ClaimRequest::Count(_) => None,
        };
        let plan = plan_claim(&self.registry, packet, request)?;
        let next_rev = self.log.high_water().bumped();
        let mut next = self.registry.clone_header();
        next.objects = std::mem::take(&mut self.registry.objects);
        let claim = plan.claim.clone();
        let old_len = next.objects.len();
        plan.apply(&mut next, &next_rev);
        let give_back = |store: &mut Store, mut next: Registry| {
            next.objects.truncate(old_len);
            store.registry.objects = next.objects;
        };
        let after = check(&next);
        if !after.passes() {
            give_back(self, next);
            return Err(Error::refused(format!(
                "claim: the registry would fail check after it ({}); nothing written",
                after.counts.summary()
            )));
        }
        let docs = match render_all(&next) {
            Ok(d) => d,
            Err(e) => {
                give_back(self, next);
                return Err(e);
            }
        };
        let f = &next.format;
        let op = Op::Claim {
            packet: packet.to_string(),
            first: f.format(claim.first),
            last: f.format(claim.last),
            count: claim.last - claim.first + 1,
            records_sha256: records_blob.as_deref().map(sha256_hex),
        };
        let outcome = ClaimOutcome {
            packet: packet.to_string(),
            first_id: f.format(claim.first),
            last_id: f.format(claim.last),
            count: claim.last - claim.first + 1,
            state: self.state() + 1,
        };
        let changes = DOCUMENTS.iter().copied().zip(docs).collect();
        let artifacts: Vec<&[u8]> = records_blob.as_deref().into_iter().collect();
        self.commit(next, changes, op, &artifacts)?;
        // So that the next claim need not read the records documents.
        super::fast::save_cache(&*self.b, &self.registry, &self.docs);
        Ok(outcome)
    }
}

/// Leaves the claim cache (see [`fast`](super::fast)) for the registry on
/// `b` as it is, so its first claim need not read the records documents
/// (after `export`, which does not copy the cache). Reads, hashes and
/// parses every document; writes nothing but the cache, and nothing at all
/// when a document is not the head's.
pub(crate) fn refresh_claim_cache(b: &dyn Backend) -> Result<()> {
    let _lock = b.lock()?;
    let mut rec = recover(b, Some(RecordLoad::Full))?;
    if !rec.drift.is_empty() || !rec.stale.is_empty() {
        return Ok(());
    }
    let reg = load_model(b, &mut rec, RecordLoad::Full)?;
    super::fast::save_cache(b, &reg, &rec.docs);
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Fast claims (`fast`): the same bytes as the full way, appends in place.

    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use crate::error::exit;
    use crate::registry::fast;
    use crate::registry::fold::ClaimRequest;
    use crate::registry::history;
    use crate::registry::store::{self, Store};
    use crate::registry::test_support::{build, everything, new_store, opts, range, records};

    /// Everything a registry directory stores but the claim cache, with each
    /// blob as the bytes it stands for (a blob may be kept whole or as a splice
    /// of its base, which reads back the same).
    fn no_cache(files: BTreeMap<PathBuf, Vec<u8>>, dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
        let b = crate::registry::backend::dir::DirBackend::new(dir);
        files
            .into_iter()
            .filter(|(p, _)| p != &dir.join(fast::CACHE_FILE))
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
                let a = fast::claim(&fast, packet, request.clone()).unwrap();
                std::fs::remove_file(full.join(fast::CACHE_FILE)).ok();
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
            fast::claim(&fast, "after", ClaimRequest::Count(2)).unwrap();
            std::fs::remove_file(full.join(fast::CACHE_FILE)).ok();
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
            fast::claim(&fast, &packet, ClaimRequest::Count(1)).unwrap();
            std::fs::remove_file(full.join(fast::CACHE_FILE)).ok();
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
        fast::claim(&dir, "A", ClaimRequest::Count(1)).unwrap();
        let all = everything(&dir);
        for (packet, request) in [("", ClaimRequest::Count(1)), ("A", ClaimRequest::Count(0))] {
            let fast = fast::claim(&dir, packet, request.clone()).unwrap_err();
            let full = Store::open(&dir)
                .unwrap()
                .claim(packet, request)
                .unwrap_err();
            assert_eq!(fast.to_string(), full.to_string());
            assert_eq!(everything(&dir), all);
        }
        // Past the width (3 digits: 999 is the highest id).
        let fast = fast::claim(&dir, "A", ClaimRequest::Count(995)).unwrap_err();
        assert_eq!(fast.exit_code(), exit::REFUSED, "{fast}");
        assert!(fast.to_string().contains("would run past width"), "{fast}");
        assert_eq!(no_cache(everything(&dir), &dir), no_cache(all, &dir));
    }

    #[test]
    fn a_records_document_edited_behind_the_cache_is_refused() {
        let reg = build(5, &[3], &["t".into()]);
        let (_tmp, dir) = new_store(&reg);
        fast::claim(&dir, "A", ClaimRequest::Count(1)).unwrap();
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
            let err = fast::claim(&dir, "B", ClaimRequest::Count(1)).unwrap_err();
            assert_eq!(err.exit_code(), exit::REFUSED, "{err}");
            assert!(
                err.to_string().contains(doc)
                    && err.to_string().contains("edited outside holdfast"),
                "{err}"
            );
            assert_eq!(everything(&dir), all, "nothing written");
            std::fs::write(dir.join(doc), &good).unwrap();
        }
        fast::claim(&dir, "B", ClaimRequest::Count(1)).unwrap();
        assert!(store::inspect(&dir).unwrap().passes());
    }

    /// Replaces `from` by `to` in `doc` and re-pins it in the head line
    /// and the completion marker, as a forger who rewrites every hash would:
    /// the documents are the head's by their pins, but one is no render.
    fn forge_pinned(dir: &Path, doc: &str, from: &str, to: &str) {
        let good = std::fs::read_to_string(dir.join(doc)).unwrap();
        let bad = good.replacen(from, to, 1);
        assert_ne!(bad, good, "{from} in {doc}");
        std::fs::write(dir.join(doc), &bad).unwrap();
        let log = std::fs::read_to_string(dir.join(history::LOG_FILE)).unwrap();
        let (sha_good, sha_bad) = (
            crate::digest::sha256_hex(good.as_bytes()),
            crate::digest::sha256_hex(bad.as_bytes()),
        );
        let mut lines: Vec<String> = log.lines().map(String::from).collect();
        let last = lines.pop().unwrap().replace(&sha_good, &sha_bad);
        let line_sha = crate::digest::sha256_hex(last.as_bytes());
        lines.push(last);
        std::fs::write(dir.join(history::LOG_FILE), lines.join("\n") + "\n").unwrap();
        let b = crate::registry::backend::dir::DirBackend::new(dir);
        history::mark_complete(&b, &line_sha).unwrap();
    }

    #[test]
    fn a_small_document_forged_with_its_pin_is_not_carried_into_a_fast_claim() {
        let forgeries = [
            ("registry.md", "| 1 | BODY |", "| 1 | X |"),
            (
                "index.md",
                "| BODY | TKT-OBJ-001..TKT-OBJ-005 (folded) | 0 | 5 |",
                "| BODY | forged | 0 | 5 |",
            ),
            (
                "registry.json",
                "\"packet\": \"BODY\"",
                "\"packet\": \"\\u0042ODY\"",
            ),
        ];
        for (doc, from, to) in forgeries {
            let reg = build(5, &[3], &["t".into()]);
            let (_fast_tmp, fast) = new_store(&reg);
            let (_full_tmp, full) = new_store(&reg);
            fast::claim(&fast, "A", ClaimRequest::Count(1)).unwrap();
            Store::open(&full)
                .unwrap()
                .claim("A", ClaimRequest::Count(1))
                .unwrap();
            forge_pinned(&fast, doc, from, to);
            forge_pinned(&full, doc, from, to);
            let a = fast::claim(&fast, "B", ClaimRequest::Count(2)).map(|o| o.first_id);
            let b = Store::open(&full)
                .and_then(|mut s| s.claim("B", ClaimRequest::Count(2)))
                .map(|o| o.first_id);
            assert_eq!(
                a.map_err(|e| e.to_string()),
                b.map_err(|e| e.to_string()),
                "{doc}"
            );
            std::fs::remove_file(full.join(fast::CACHE_FILE)).ok();
            assert_same_registry!(&fast, &full, "{doc} forged with its pin");
        }
    }

    #[test]
    fn a_wrong_or_missing_cache_only_costs_the_shortcut() {
        let reg = build(5, &[3, 1], &["t".into()]);
        let (_tmp, dir) = new_store(&reg);
        let (_ref_tmp, reference) = new_store(&reg);
        let cache = dir.join(fast::CACHE_FILE);
        fast::claim(&dir, "A", ClaimRequest::Count(1)).unwrap();
        Store::open(&reference)
            .unwrap()
            .claim("A", ClaimRequest::Count(1))
            .unwrap();
        let good: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
        let mut tampered = Vec::new();
        // Runs of the right total but the wrong numbers (they fail check),
        // reversed, from id 0, past u64, and a field the cache no longer has.
        for runs in [
            serde_json::json!([[1, 4], [6, 11]]),
            serde_json::json!([[10, 1]]),
            serde_json::json!([[0, 9]]),
            serde_json::json!([[1, u64::MAX], [1, 1]]),
        ] {
            let mut v = good.clone();
            v["runs"] = runs;
            tampered.push(v);
        }
        let mut v = good.clone();
        v["records"] = serde_json::json!({"P0": 2});
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
        // Lineage hints that name no blob, are not names, are too many, a
        // step at the top of u64, or name the other document's blob: each
        // only costs a read.
        let (json_sha, md_sha) = (
            good["objects_json"]["sha256"].clone(),
            good["objects_md"]["sha256"].clone(),
        );
        // The records blobs after the first claim are the first splices of
        // their lineage (step 1), so the next splice walks back to the
        // whole blob: through each forged base below.
        let mut v = good.clone();
        v["objects_json"]["lineage"] = serde_json::json!([
            [json_sha.clone(), 1],
            ["0".repeat(64), 5],
            ["../../etc/passwd", 4],
            ["", 0]
        ]);
        let mut many = vec![serde_json::json!([md_sha.clone(), 1])];
        many.extend((0..1000).map(|i| serde_json::json!(["f".repeat(64), 1000 - i])));
        v["objects_md"]["lineage"] = serde_json::json!(many);
        tampered.push(v);
        let mut v = good.clone();
        v["objects_json"]["lineage"] = serde_json::json!([[json_sha.clone(), u64::MAX]]);
        v["objects_md"]["lineage"] = serde_json::json!([[json_sha, 3], [md_sha, 2]]);
        tampered.push(v);
        let mut v = good.clone();
        v["objects_json"]["lineage"] = serde_json::json!(7);
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
            fast::claim(&dir, &packet, ClaimRequest::Count(2)).unwrap();
            Store::open(&reference)
                .unwrap()
                .claim(&packet, ClaimRequest::Count(2))
                .unwrap();
            assert_same_registry!(&dir, &reference, "cache {i}");
        }
        std::fs::remove_file(&cache).unwrap();
        fast::claim(&dir, "last", ClaimRequest::Count(1)).unwrap();
        Store::open(&reference)
            .unwrap()
            .claim("last", ClaimRequest::Count(1))
            .unwrap();
        assert_same_registry!(&dir, &reference, "no cache");
        assert!(store::verify_history(&dir).unwrap().problems.is_empty());
    }

    #[test]
    fn fast_claims_after_a_rollback_take_revisions_above_every_earlier_one() {
        // A rollback brings back older revisions; the next claim must still
        // number its documents above the highest ever, which the fast way
        // finds in the log's last lines (and past them, the full way).
        let reg = build(5, &[3, 2], &["t".into()]);
        let (fast_tmp, fast) = new_store(&reg);
        let (full_tmp, full) = new_store(&reg);
        let both = |dir: &Path, tmp: &Path, step: usize| {
            let mut store = Store::open(dir).unwrap();
            let first = store.registry().canonical_max + 1;
            let out = tmp.join(format!("out{step}"));
            let folded = store.fold(range(first, first + 2), &opts(&out)).unwrap();
            store.rollback(&folded.result_path.unwrap()).unwrap();
        };
        for step in 0..3 {
            both(&fast, fast_tmp.path(), step);
            both(&full, full_tmp.path(), step);
            let packet = format!("R{step}");
            fast::claim(&fast, &packet, ClaimRequest::Count(2)).unwrap();
            std::fs::remove_file(full.join(fast::CACHE_FILE)).ok();
            Store::open(&full)
                .unwrap()
                .claim(&packet, ClaimRequest::Count(2))
                .unwrap();
            assert_same_registry!(&fast, &full, "after rollback {step}");
        }
        // More folds and rollbacks in a row than the fast way looks back:
        // the full way's numbering again.
        for step in 3..12 {
            both(&fast, fast_tmp.path(), step);
            both(&full, full_tmp.path(), step);
        }
        fast::claim(&fast, "far", ClaimRequest::Count(1)).unwrap();
        std::fs::remove_file(full.join(fast::CACHE_FILE)).ok();
        Store::open(&full)
            .unwrap()
            .claim("far", ClaimRequest::Count(1))
            .unwrap();
        assert_same_registry!(&fast, &full, "after many rollbacks");
        let report = store::verify_history(&fast).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert!(store::inspect(&fast).unwrap().passes());
    }
}
