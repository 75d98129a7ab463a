//! A rollback: the fold a fold result describes undone by its reverse
//! patch, as a new state (the history keeps the fold). Only a fold this
//! registry recorded, only while every live document is still that fold's
//! after bytes, and only when every patched document comes out as the
//! fold's before pin; otherwise nothing is written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Store, doc_path};
use crate::canonical;
use crate::digest::sha256_hex;
use crate::error::{Error, Result};
use crate::fsio;
use crate::registry::check::check;
use crate::registry::fold::{FoldResult, RangeIds};
use crate::registry::history::{Entry, Op};
use crate::registry::model::{
    DOCUMENTS, Document, Registry, parse_objects_bytes, parse_registry_json,
};
use crate::registry::patch::apply_patch;

/// Largest fold result `rollback` reads.
const RESULT_LIMIT: u64 = 64 << 20;

/// What `rollback` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RollbackOutcome {
    /// The range of the fold rolled back.
    pub range: RangeIds,
    /// sha256 of every document after the rollback (the fold's before pins).
    pub pins: BTreeMap<String, String>,
    /// The registry's state number after the rollback.
    pub state: u64,
}

impl Store {
    /// Rolls back the fold described by the fold result at `result_path`:
    /// only if every live document equals that fold's after pin, by applying
    /// its reverse patch and checking every result against the before pins.
    /// The rollback is a new state; the history keeps the fold.
    pub fn rollback(&mut self, result_path: &Path) -> Result<RollbackOutcome> {
        let result_bytes = fsio::read_regular(result_path, RESULT_LIMIT)?;
        let result: FoldResult = canonical::from_slice_strict(&result_bytes, result_path)?;
        if !result.applied {
            return Err(Error::refused(format!(
                "rollback: {} records a dry run (applied: false); there is nothing to roll back",
                result_path.display()
            )));
        }
        let name = &result.reverse_patch.file;
        if name.is_empty()
            || name.contains('/')
            || name == "."
            || name == ".."
            || name.contains('\0')
        {
            return Err(Error::malformed(
                result_path,
                format!("reverse_patch.file: {name:?} must be a file name next to the fold result"),
            ));
        }
        let patch_path = result_path
            .parent()
            .map_or_else(|| PathBuf::from(name), |p| p.join(name));
        let patch = fsio::read_regular(&patch_path, RESULT_LIMIT)?;
        let patch_sha = sha256_hex(&patch);
        if patch_sha != result.reverse_patch.sha256 {
            return Err(Error::refused(format!(
                "rollback: {} hashes to {patch_sha}, but the fold result pins {}; refusing an altered patch",
                patch_path.display(),
                result.reverse_patch.sha256
            )));
        }
        // Only a fold this registry recorded can be rolled back, and only to
        // the state the history records just before it: a result edited or
        // made elsewhere could otherwise write any bytes it likes.
        let result_sha = sha256_hex(&result_bytes);
        let recorded = self.log.entries.iter().enumerate().find(|(_, e)| {
            matches!(&e.op, Op::Fold { result_sha256, .. } if *result_sha256 == result_sha)
        });
        let Some((at, fold_entry)) = recorded else {
            return Err(Error::refused(format!(
                "rollback: {} is not the result of a fold recorded in this registry's history (sha256 {result_sha}); nothing written",
                result_path.display()
            )));
        };
        let before_entry = at.checked_sub(1).and_then(|i| self.log.entries.get(i));
        if fold_entry.pins() != result.pins.after
            || before_entry.map(Entry::pins).as_ref() != Some(&result.pins.before)
        {
            return Err(Error::refused(format!(
                "rollback: the pins of {} differ from the states the history records around state {}; nothing written",
                result_path.display(),
                fold_entry.seq
            )));
        }
        let live = self.pins();
        let expected_names: Vec<&String> = live.keys().collect();
        for (which, pins) in [
            ("after", &result.pins.after),
            ("before", &result.pins.before),
        ] {
            if pins.keys().collect::<Vec<_>>() != expected_names {
                return Err(Error::malformed(
                    result_path,
                    format!(
                        "pins.{which}: documents {:?}, this registry has {:?}",
                        pins.keys().collect::<Vec<_>>(),
                        expected_names
                    ),
                ));
            }
        }
        for (doc, sha) in &live {
            let after = &result.pins.after[doc];
            if sha != after {
                return Err(Error::refused(format!(
                    "rollback: {doc} changed since the fold (live sha256 {sha}, the fold's after pin {after}); nothing written"
                )));
            }
        }
        let live_docs: BTreeMap<String, &[u8]> = DOCUMENTS
            .iter()
            .map(|d| (d.name().to_string(), self.docs[d.index()].as_slice()))
            .collect();
        let patched = apply_patch(&patch, &live_docs)
            .map_err(|e| Error::refused(format!("rollback: {e}; nothing written")))?;
        // Documents the patch does not touch come back as they are: their
        // restored pin is their live pin.
        for d in DOCUMENTS {
            let got = match patched.get(d.name()) {
                Some(bytes) => sha256_hex(bytes),
                None => self.pins[d.index()].clone(),
            };
            let want = &result.pins.before[d.name()];
            if &got != want {
                return Err(Error::refused(format!(
                    "rollback: {} would become {got}, not the fold's before pin {want}; nothing written",
                    d.name()
                )));
            }
        }
        let restored = |d: Document| -> &[u8] {
            patched
                .get(d.name())
                .map_or(self.docs[d.index()].as_slice(), Vec::as_slice)
        };
        let header = parse_registry_json(
            restored(Document::RegistryJson),
            &doc_path(&*self.b, Document::RegistryJson),
        )?;
        if header.objects_file.sha256 != result.pins.before["objects.json"] {
            return Err(Error::refused(format!(
                "rollback: the restored registry.json pins objects.json {}, the fold's before pin is {}; nothing written",
                header.objects_file.sha256, result.pins.before["objects.json"]
            )));
        }
        let objects = match patched.get(Document::ObjectsJson.name()) {
            Some(bytes) => parse_objects_bytes(
                bytes,
                &doc_path(&*self.b, Document::ObjectsJson),
                &header.format,
                header.objects_file.count,
                self.load,
            )?,
            // A fold never changes the records: they are the ones in memory
            // (an error from here on leaves this store stale, as documented).
            None => std::mem::take(&mut self.registry.objects),
        };
        let back = Registry {
            format: header.format,
            canonical_max: header.canonical_max,
            claims: header.claims,
            objects,
            revisions: header.revisions,
        };
        let report = check(&back);
        if !report.passes() {
            return Err(Error::refused(format!(
                "rollback: the restored registry would fail check ({}); nothing written",
                report.counts.summary()
            )));
        }
        let changes: Vec<(Document, Vec<u8>)> = patched
            .into_iter()
            .filter_map(|(name, bytes)| {
                let d = Document::from_name(&name)?;
                (bytes != self.docs[d.index()]).then_some((d, bytes))
            })
            .collect();
        let f = back.format.clone();
        let op = Op::Rollback {
            first: f.format(result.range.first),
            last: f.format(result.range.last),
            fold_result_sha256: sha256_hex(&result_bytes),
        };
        let written: Vec<Document> = changes.iter().map(|(d, _)| *d).collect();
        self.commit(back, changes, op, &[])?;
        let want: Vec<String> = DOCUMENTS
            .iter()
            .map(|d| result.pins.before[d.name()].clone())
            .collect();
        if let Some(why) = self.read_back(&want, &written)? {
            return Err(Error::failed(format!(
                "rollback committed but {why}; run `holdfast registry verify-history`"
            )));
        }
        Ok(RollbackOutcome {
            range: result.range,
            pins: self.pins(),
            state: self.state(),
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::error::exit;
    use crate::registry::fold::ClaimRequest;
    use crate::registry::store::Store;
    use crate::registry::test_support::{
        build, everything, invalid_folds, new_store, opts, range, shape, snapshot, staged_end,
    };

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
}
