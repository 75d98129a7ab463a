//! A fold: a range of staged claims made canonical, and only when it is
//! safe. The plan is checked ([`plan_fold`]), the rollback rehearsed
//! before anything is written, the documents read back after the commit
//! (the fold is undone, as a state of its own, when they differ from the
//! plan), and only then are the fold result and the reverse patch written
//! outside the registry, as the evidence a rollback needs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Store, doc_path, pins_map};
use crate::authz::FoldRange;
use crate::canonical;
use crate::digest::sha256_hex;
use crate::error::{Error, IoContext, Result};
use crate::fsio;
use crate::registry::fold::{
    BeforeAfter, FoldPlan, FoldResult, NextFree, PatchRef, RangeIds, patch_file_name, plan_fold,
    result_file_name,
};
use crate::registry::history::{BLOBS_DIR, Op};
use crate::registry::model::{
    DOCUMENTS, Document, Registry, claim_doc, parse_registry_json, registry_json_bytes,
};
use crate::registry::patch::{Rehearsal, rehearse_rollback_known, reverse_patch};
use crate::registry::render;

/// Options of a fold.
#[derive(Debug, Clone)]
pub struct FoldOptions {
    /// Where the fold result and the reverse patch are written.
    pub out_dir: PathBuf,
    /// Plan and rehearse only; write nothing anywhere.
    pub dry_run: bool,
}

/// What `fold` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct FoldOutcome {
    /// The fold result (also written to `result_path` unless a dry run).
    pub result: FoldResult,
    /// Where the fold result was written.
    pub result_path: Option<PathBuf>,
    /// Where the reverse patch was written.
    pub patch_path: Option<PathBuf>,
    /// The registry's state number after the fold.
    pub state: Option<u64>,
}

/// Whether `path` (which may not exist yet) is `dir` or lies inside it,
/// symbolic links resolved; `None` when `path` cannot be resolved.
fn inside(path: &Path, dir: &Path) -> Option<bool> {
    let dir = dir.canonicalize().ok()?;
    // Resolve the longest existing ancestor; the rest does not exist yet and
    // so cannot be a link (but must not be `..` either).
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() {
        let name = existing.file_name()?.to_os_string();
        let parent = existing.parent()?;
        rest.push(name);
        existing = if parent.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            parent.to_path_buf()
        };
    }
    let mut full = existing.canonicalize().ok()?;
    for name in rest.into_iter().rev() {
        full.push(name);
    }
    Some(full.starts_with(&dir))
}

/// A planned fold, ready to commit.
struct Prepared {
    after_docs: Vec<Option<Vec<u8>>>,
    after_pins: Vec<String>,
    patch: Vec<u8>,
    result: FoldResult,
    result_bytes: Vec<u8>,
}

/// A rehearsal function: reverse patch, after bytes, before pins, known after pins.
pub(crate) type RehearseFn<'a> = &'a dyn Fn(
    &[u8],
    &BTreeMap<String, &[u8]>,
    &BTreeMap<String, String>,
    &BTreeMap<String, String>,
) -> Rehearsal;

/// Fault injection for tests of the fold's failure paths.
pub(crate) struct FoldHooks<'a> {
    /// Replaces the rehearsal.
    pub rehearse: RehearseFn<'a>,
    /// Runs right after the commit, before the read-back.
    pub after_commit: &'a dyn Fn(&Path),
}

impl Store {
    /// Folds `range` if every safety condition holds (see [`plan_fold`]):
    /// rehearses the rollback before writing, commits, reads the documents
    /// back (undoing the fold if they differ from the plan), then writes the
    /// fold result and the reverse patch into `opts.out_dir`.
    pub fn fold(&mut self, range: FoldRange, opts: &FoldOptions) -> Result<FoldOutcome> {
        let hooks = FoldHooks {
            rehearse: &|p, a, b, k| rehearse_rollback_known(p, a, b, k),
            after_commit: &|_| {},
        };
        self.fold_with(range, opts, &hooks)
    }

    pub(crate) fn fold_with(
        &mut self,
        range: FoldRange,
        opts: &FoldOptions,
        hooks: &FoldHooks<'_>,
    ) -> Result<FoldOutcome> {
        let result_path = opts.out_dir.join(result_file_name(range));
        let patch_path = opts.out_dir.join(patch_file_name(range));
        if !opts.dry_run {
            if opts.out_dir.exists() && !opts.out_dir.is_dir() {
                return Err(Error::refused(format!(
                    "fold: --out {} is not a directory",
                    opts.out_dir.display()
                )));
            }
            let inside_registry = match self.b.dir() {
                Some(dir) => inside(&opts.out_dir, dir),
                None => Some(false),
            };
            match inside_registry {
                Some(false) => {}
                Some(true) => {
                    return Err(Error::refused(format!(
                        "fold: --out {} is inside the registry directory {}; the evidence goes elsewhere",
                        opts.out_dir.display(),
                        self.b.root().display()
                    )));
                }
                None => {
                    return Err(Error::refused(format!(
                        "fold: --out {} cannot be resolved (a '..' after a directory that does not exist?)",
                        opts.out_dir.display()
                    )));
                }
            }
            for p in [&result_path, &patch_path] {
                if std::fs::symlink_metadata(p).is_ok() {
                    return Err(Error::refused(format!(
                        "fold: {} already exists; refusing to overwrite the evidence of another fold",
                        p.display()
                    )));
                }
            }
        }
        let plan = plan_fold(&self.registry, range)?;
        let mut next = self.registry.clone_header();
        plan.apply(&mut next, &self.log.high_water().bumped());
        // The records move to the planned state (a fold never changes them)
        // and come back on every path that does not commit.
        next.objects = std::mem::take(&mut self.registry.objects);
        let prepared = match self.prepare_fold(&next, &plan, opts.dry_run, hooks) {
            Ok(p) => p,
            Err(e) => {
                self.registry.objects = next.objects;
                return Err(e);
            }
        };
        if opts.dry_run {
            self.registry.objects = next.objects;
            return Ok(FoldOutcome {
                result: prepared.result,
                result_path: None,
                patch_path: None,
                state: None,
            });
        }
        if let Err(e) = std::fs::create_dir_all(&opts.out_dir).at(&opts.out_dir) {
            self.registry.objects = next.objects;
            return Err(e);
        }
        let Prepared {
            mut after_docs,
            after_pins,
            patch,
            result,
            result_bytes,
        } = prepared;
        let fmt = next.format.clone();
        let changes: Vec<(Document, Vec<u8>)> = DOCUMENTS
            .iter()
            .filter_map(|d| after_docs[d.index()].take().map(|b| (*d, b)))
            .collect();
        let undo_changes: Vec<(Document, Vec<u8>)> = changes
            .iter()
            .map(|(d, _)| (*d, self.docs[d.index()].clone()))
            .collect();
        let before_header = self.registry.clone_header();
        let op = Op::Fold {
            first: fmt.format(range.first),
            last: fmt.format(range.last),
            result_sha256: sha256_hex(&result_bytes),
            reverse_patch_sha256: result.reverse_patch.sha256.clone(),
        };
        // A failure inside commit before its log line leaves the directory in
        // the old state; after it, the next open finishes the write. Either
        // way this store is stale, as its documentation says.
        let written: Vec<Document> = changes.iter().map(|(d, _)| *d).collect();
        self.commit(next, changes, op, &[&result_bytes, &patch])?;
        (hooks.after_commit)(self.b.root());
        if let Some(why) = self.read_back(&after_pins, &written)? {
            let mut undo = before_header;
            undo.objects = std::mem::take(&mut self.registry.objects);
            self.commit(
                undo,
                undo_changes,
                Op::Undo {
                    reason: format!("fold {range}: {why}"),
                },
                &[],
            )?;
            return Err(Error::failed(format!(
                "fold {}: {why}; the fold was undone (state {}) and is not applied",
                fmt.format_range(range.first, range.last),
                self.state()
            )));
        }
        let state = self.state();
        let kept = |e: Error| {
            Error::failed(format!(
                "fold {} is committed (state {state}) but its evidence could not be written ({e}); copies of {} and {} are in {}/<sha256>",
                fmt.format_range(range.first, range.last),
                result_file_name(range),
                patch_file_name(range),
                BLOBS_DIR,
            ))
        };
        fsio::write_atomic(&patch_path, &patch).map_err(kept)?;
        fsio::write_atomic(&result_path, &result_bytes).map_err(kept)?;
        Ok(FoldOutcome {
            result,
            result_path: Some(result_path),
            patch_path: Some(patch_path),
            state: Some(state),
        })
    }

    /// Renders the after documents of a planned fold, makes the reverse
    /// patch, rehearses it and builds the fold result. Writes nothing.
    fn prepare_fold(
        &self,
        next: &Registry,
        plan: &FoldPlan,
        dry_run: bool,
        hooks: &FoldHooks<'_>,
    ) -> Result<Prepared> {
        let fmt = &next.format;
        let range = plan.range;
        let objects_sha = self.pins[Document::ObjectsJson.index()].clone();
        let mut after_docs: Vec<Option<Vec<u8>>> = vec![None; DOCUMENTS.len()];
        let reg_json = registry_json_bytes(next, &objects_sha)?;
        // The JSON written must parse back strictly: that is what json_valid claims.
        parse_registry_json(&reg_json, &doc_path(&*self.b, Document::RegistryJson)).map_err(
            |e| {
                Error::failed(format!(
                    "internal: the planned registry.json does not parse: {e}"
                ))
            },
        )?;
        after_docs[Document::RegistryJson.index()] = Some(reg_json);
        after_docs[Document::RegistryMd.index()] = Some(render::registry_md(next, &objects_sha));
        after_docs[Document::IndexMd.index()] = Some(render::index_md(next));

        let before: BTreeMap<String, &[u8]> = DOCUMENTS
            .iter()
            .map(|d| (d.name().to_string(), self.docs[d.index()].as_slice()))
            .collect();
        let after: BTreeMap<String, &[u8]> = DOCUMENTS
            .iter()
            .map(|d| {
                (
                    d.name().to_string(),
                    after_docs[d.index()]
                        .as_deref()
                        .unwrap_or(&self.docs[d.index()]),
                )
            })
            .collect();
        let before_pins = pins_map(&self.pins);
        let after_pin_list: Vec<String> = DOCUMENTS
            .iter()
            .map(|d| match &after_docs[d.index()] {
                Some(b) => sha256_hex(b),
                None => self.pins[d.index()].clone(),
            })
            .collect();
        let after_pins = pins_map(&after_pin_list);
        let patch = reverse_patch(&after, &before);
        // Documents the fold does not change were hashed when the store was
        // opened, from these very bytes.
        let known: BTreeMap<String, String> = DOCUMENTS
            .iter()
            .filter(|d| after_docs[d.index()].is_none())
            .map(|d| (d.name().to_string(), self.pins[d.index()].clone()))
            .collect();
        let rehearsal = (hooks.rehearse)(&patch, &after, &before_pins, &known);
        if !rehearsal.byte_exact {
            return Err(Error::failed(format!(
                "fold {}: rollback rehearsal failed ({}); the fold was not applied and the registry is unchanged",
                fmt.format_range(range.first, range.last),
                rehearsal.failure().unwrap_or_default()
            )));
        }
        let next_free = next.next_free();
        let result = FoldResult {
            range: RangeIds {
                first: range.first,
                last: range.last,
                first_id: fmt.format(range.first),
                last_id: fmt.format(range.last),
            },
            applied: !dry_run,
            canonical_max: BeforeAfter {
                before: self.registry.canonical_max,
                after: next.canonical_max,
            },
            claims_folded: plan
                .folded
                .iter()
                .map(|&i| claim_doc(fmt, &next.claims[i]))
                .collect(),
            next_free: NextFree {
                number: next_free,
                id: fmt.format(next_free),
            },
            invariants: BeforeAfter {
                before: plan.check_before.counts,
                after: plan.check_after.counts,
            },
            json_valid: true,
            objects_unchanged: before_pins["objects.json"] == after_pins["objects.json"],
            objects_sha256: BeforeAfter {
                before: before_pins["objects.json"].clone(),
                after: after_pins["objects.json"].clone(),
            },
            pins: BeforeAfter {
                before: before_pins,
                after: after_pins,
            },
            revisions_before: self.registry.revisions,
            revisions_after: next.revisions,
            reverse_patch: PatchRef {
                file: patch_file_name(range),
                sha256: sha256_hex(&patch),
            },
            rollback_rehearsal: rehearsal,
        };
        let result_bytes = canonical::to_bytes(&result)?;
        Ok(Prepared {
            after_docs,
            after_pins: after_pin_list,
            patch,
            result,
            result_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::FoldHooks;
    use crate::digest::sha256_hex;
    use crate::error::exit;
    use crate::registry::fold::ClaimRequest;
    use crate::registry::history::Op;
    use crate::registry::patch::rehearse_rollback;
    use crate::registry::store::{self, Store};
    use crate::registry::test_support::{
        build, everything, new_store, opts, range, seed_fixture, snapshot,
    };

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
            rehearse: &|p, a, b, k| crate::registry::patch::rehearse_rollback_known(p, a, b, k),
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
            !out.join(crate::registry::fold::result_file_name(range(6, 8)))
                .exists()
        );
    }
}
