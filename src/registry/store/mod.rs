//! The registry directory: documents, history, lock; every write atomic
//! across all documents.
//!
//! A write (claim, fold, rollback) happens under the exclusive lock and in
//! this order: the new bytes of every changed document go to the blob store
//! (content-addressed, so writing them changes nothing visible); one line is
//! appended to the log and flushed (the commit point); then the documents
//! are replaced one by one with atomic renames (a claim made the
//! [`fast`] way appends to the records documents in place);
//! last, `history/complete`
//! is set to the new line's sha256 (the write is marked complete). A crash
//! before the log line leaves the old state (the new blobs are
//! unreferenced); a crash after it and before the marker leaves a state the
//! next open completes: every document whose bytes are those of the state
//! before the head (or missing, or an append cut short: a prefix of the
//! head's bytes at least as long as what the two share) is rewritten from the blob the log's last
//! line names. Once the head is marked complete nothing is rolled forward:
//! documents that differ from it (a fold's before bytes restored by hand,
//! any old revision, bytes no state ever had) were put there by someone,
//! are reported, and every command refuses until that is resolved.
//!
//! This file holds the [`Store`] (open, the accessors) and that commit
//! protocol (`commit`, `read_back`); each operation is a file of its own:
//!
//! - `recover.rs`: completing an interrupted write on open, and telling it
//!   from a hand edit (drift) or an old revision presented as current (stale);
//! - `claim.rs`: taking the next free ids, and the claim cache;
//! - `bind.rs`: binding a sealed packet's tree hash to its claim and fold;
//! - `fold.rs`: folding a range, rehearsed before and read back after
//!   (undone when it does not read back);
//! - `rollback.rs`: rolling a recorded fold back with its reverse patch;
//! - `create.rs`: a registry's first state (`init`, `import`);
//! - `inspect.rs`: what `check` and `log` read, reporting every problem
//!   instead of refusing at the first;
//! - `verify.rs`: `verify-history`, the history replayed from its first state.
//!
//! Each is a private module; what they make public is re-exported here.

mod bind;
mod claim;
mod create;
mod fold;
mod inspect;
mod recover;
mod rollback;
mod verify;

pub use bind::check_bind;
pub use claim::ClaimOutcome;
pub(crate) use claim::refresh_claim_cache;
pub(crate) use create::create;
#[cfg(test)]
pub(crate) use create::create_with;
pub use create::{import, init};
pub use fold::{FoldOptions, FoldOutcome};
pub use inspect::{Inspection, inspect, inspect_at, inspect_file, read_log};
pub use rollback::RollbackOutcome;
pub use verify::{HistoryReport, verify_history, verify_history_at};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use self::recover::{drift_error, load_model, recover, stale_error};
use super::backend::{self, Backend, Hold};
use super::history::{
    self, Entry, LOG_FILE, Log, Op, READ_LIMIT, append, encode, put_blob, put_blob_from,
};
use super::model::{
    DOCUMENTS, Document, RecordLoad, Registry, objects_json_bytes, registry_json_bytes,
};
use super::render;
// The files of this module name `super::fast`, `super::id` and
// `super::model` through this, as when they were one file.
use super::{fast, id, model};
use crate::digest::sha256_hex;
use crate::error::{Error, Result};

/// Where the registry lives when `--registry` is not given (relative to the workspace).
pub const DEFAULT_DIR: &str = ".holdfast/registry";

/// An open registry: the lock is held until the store is dropped.
///
/// After a method returns an error the in-memory state may be behind the
/// directory; drop the store and open it again.
#[derive(Debug)]
pub struct Store {
    b: Arc<dyn Backend>,
    _lock: Box<dyn Hold>,
    log: Log,
    registry: Registry,
    docs: Vec<Vec<u8>>,
    pins: Vec<String>,
    load: RecordLoad,
}

fn doc_path(b: &dyn Backend, d: Document) -> PathBuf {
    b.path(d.name())
}

pub(crate) fn require_registry(b: &dyn Backend) -> Result<()> {
    if !b.is_registry()? {
        return Err(Error::io(
            b.path(LOG_FILE),
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no registry here (create one with `holdfast registry init` or `holdfast registry import FILE`)",
            ),
        ));
    }
    Ok(())
}

/// Renders every document of `reg` (indexed by [`Document::index`]): the
/// bytes a registry directory holding `reg` has, and what a replay of the
/// history compares each recorded state with.
pub fn render_all(reg: &Registry) -> Result<Vec<Vec<u8>>> {
    let objects_json = objects_json_bytes(reg)?;
    let objects_sha = sha256_hex(&objects_json);
    let mut out = vec![Vec::new(); DOCUMENTS.len()];
    out[Document::IndexMd.index()] = render::index_md(reg);
    out[Document::ObjectsMd.index()] = render::objects_md(reg);
    out[Document::RegistryJson.index()] = registry_json_bytes(reg, &objects_sha)?;
    out[Document::RegistryMd.index()] = render::registry_md(reg, &objects_sha);
    out[Document::ObjectsJson.index()] = objects_json;
    Ok(out)
}

fn pins_map(pins: &[String]) -> BTreeMap<String, String> {
    DOCUMENTS
        .iter()
        .map(|d| (d.name().to_string(), pins[d.index()].clone()))
        .collect()
}

impl Store {
    /// Opens the registry in `dir`: takes the lock, completes an interrupted
    /// write if there is one, checks every document against the history and
    /// loads the model with every field of every record. Refuses (exit 5) if
    /// a document was edited by hand.
    pub fn open(dir: &Path) -> Result<Store> {
        Store::open_with(dir, RecordLoad::Full)
    }

    /// [`Store::open`], loading records as `load` says. With
    /// [`RecordLoad::IdsAndPackets`] the store can check, fold, roll back and
    /// show at a fraction of the cost; a claim loads the rest of each record
    /// itself before it rewrites the records documents.
    pub fn open_with(dir: &Path, load: RecordLoad) -> Result<Store> {
        Store::open_backend(backend::open(dir)?, load)
    }

    /// [`Store::open_with`] on a backend already opened.
    pub fn open_backend(b: Arc<dyn Backend>, load: RecordLoad) -> Result<Store> {
        require_registry(&*b)?;
        let lock = b.lock()?;
        let mut rec = recover(&*b, Some(load))?;
        if !rec.drift.is_empty() {
            return Err(drift_error(&*b, &rec.drift));
        }
        if !rec.stale.is_empty() {
            return Err(stale_error(&*b, &rec.stale, rec.head.seq));
        }
        let registry = load_model(&*b, &mut rec, load)?;
        Ok(Store {
            b,
            _lock: lock,
            log: rec.log,
            registry,
            docs: rec.docs,
            pins: rec.shas,
            load,
        })
    }

    /// How much of each record [`Store::registry`] holds.
    pub fn record_load(&self) -> RecordLoad {
        self.load
    }

    /// The registry's location (a directory or a database URL).
    pub fn dir(&self) -> &Path {
        self.b.root()
    }

    /// The storage backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.b
    }

    /// The model of the current state.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The history log.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// sha256 of every document in the current state (name → hex).
    pub fn pins(&self) -> BTreeMap<String, String> {
        pins_map(&self.pins)
    }

    /// The bytes of `doc` in the current state.
    pub fn document(&self, doc: Document) -> &[u8] {
        &self.docs[doc.index()]
    }

    /// The current state number (1 for a fresh registry).
    pub fn state(&self) -> u64 {
        self.log.head().map_or(0, |e| e.seq)
    }

    /// Commits new bytes for `changes` as one state (see the module docs for
    /// why a crash at any point leaves the old or the new state).
    fn commit(
        &mut self,
        next: Registry,
        changes: Vec<(Document, Vec<u8>)>,
        op: Op,
        artifacts: &[&[u8]],
    ) -> Result<()> {
        let head = self
            .log
            .head()
            .ok_or_else(|| Error::failed("internal: commit without a head"))?;
        let mut documents = head.documents.clone();
        let mut changed = vec![false; DOCUMENTS.len()];
        for (d, bytes) in &changes {
            // Stored as a splice of the current revision when that is small.
            let base = (
                self.pins[d.index()].as_str(),
                self.docs[d.index()].as_slice(),
            );
            let sha = put_blob_from(&*self.b, bytes, Some(base))?;
            documents.insert(
                d.name().to_string(),
                history::DocPin {
                    revision: next.revisions.get(*d),
                    sha256: sha,
                },
            );
            changed[d.index()] = true;
        }
        for d in DOCUMENTS {
            if !changed[d.index()] && next.revisions.get(d) != head.revisions().get(d) {
                return Err(Error::failed(format!(
                    "internal: {} revision changed without new bytes",
                    d.name()
                )));
            }
        }
        for a in artifacts {
            put_blob(&*self.b, a)?;
        }
        let entry = Entry {
            documents,
            op,
            prev: self.log.head_hash().map(str::to_string),
            seq: head.seq + 1,
        };
        let line = encode(&entry)?;
        append(&*self.b, &line)?;
        for (d, bytes) in changes {
            self.b.write(d.name(), &bytes, false)?;
            self.pins[d.index()] = sha256_hex(&bytes);
            self.docs[d.index()] = bytes;
        }
        history::mark_complete(&*self.b, &sha256_hex(&line))?;
        self.b.durable()?;
        self.log.hashes.push(sha256_hex(&line));
        self.log.entries.push(entry);
        self.registry = next;
        Ok(())
    }

    /// Reads the documents a write replaced back from disk and compares
    /// them with `expected` (indexed by document). The others were not
    /// written, and the lock keeps every other holdfast writer out.
    fn read_back(&self, expected: &[String], written: &[Document]) -> Result<Option<String>> {
        let got: Vec<Result<String>> = written
            .par_iter()
            .map(|d| match self.b.dir() {
                Some(dir) => crate::digest::hash_file(&dir.join(d.name())).map(|f| f.sha256),
                None => match self.b.read(d.name(), READ_LIMIT)? {
                    Some(bytes) => Ok(sha256_hex(&bytes)),
                    None => Ok("(missing)".to_string()),
                },
            })
            .collect();
        for (d, g) in written.iter().zip(got) {
            let g = g?;
            if g != expected[d.index()] {
                return Ok(Some(format!(
                    "{} reads back as {g}, expected {}",
                    d.name(),
                    expected[d.index()]
                )));
            }
        }
        Ok(None)
    }
}

impl Registry {
    /// Everything but the records (cheap to copy).
    fn clone_header(&self) -> Registry {
        Registry {
            format: self.format.clone(),
            canonical_max: self.canonical_max,
            claims: self.claims.clone(),
            objects: Vec::new(),
            revisions: self.revisions,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::registry::fold::ClaimRequest;
    use crate::registry::model::{RecordLoad, Registry};
    use crate::registry::store::{self, Store};
    use crate::registry::test_support::seed_fixture;

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
            crate::registry::render::index_md(l),
            crate::registry::render::index_md(&full_reg)
        );
        assert_eq!(
            crate::registry::check::check(l),
            crate::registry::check::check(&full_reg)
        );
        drop(light);
        // A claim from a light store writes full records.
        let mut light = Store::open_with(&dir, RecordLoad::IdsAndPackets).unwrap();
        light.claim("FIX7", ClaimRequest::Count(2)).unwrap();
        drop(light);
        let back = Store::open(&dir).unwrap();
        assert_eq!(back.registry().objects[..461], full_reg.objects[..]);
    }
}
