//! The registry directory: documents, history, lock; every write atomic
//! across all documents.
//!
//! A write (claim, fold, rollback) happens under the exclusive lock and in
//! this order: the new bytes of every changed document go to the blob store
//! (content-addressed, so writing them changes nothing visible); one line is
//! appended to the log and flushed (the commit point); then the documents
//! are replaced one by one with atomic renames (a claim made the
//! [`fast`](super::fast) way appends to the records documents in place);
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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use std::sync::Arc;

use super::backend::{self, Backend, Hold};
use super::check::{CheckReport, check};
use super::fold::{
    BeforeAfter, ClaimRequest, FoldPlan, FoldResult, NextFree, PatchRef, RangeIds, patch_file_name,
    plan_claim, plan_fold, result_file_name,
};
use super::history::{
    self, BLOBS_DIR, Entry, HISTORY_DIR, LOG_FILE, Log, Op, READ_LIMIT, append, encode, get_blob,
    put_blob, put_blob_from, read_log_repairing,
};
use super::model::{
    DOCUMENTS, Document, NewRecord, RecordLoad, Registry, claim_doc, objects_json_bytes,
    parse_import, parse_objects_bytes, parse_registry_json, registry_json_bytes,
    to_canonical_bytes,
};
use super::patch::{Rehearsal, apply_patch, rehearse_rollback_known, reverse_patch};
use super::render;
use crate::authz::FoldRange;
use crate::canonical;
use crate::digest::sha256_hex;
use crate::error::{Error, IoContext, Result};
use crate::fsio;

/// Where the registry lives when `--registry` is not given (relative to the workspace).
pub const DEFAULT_DIR: &str = ".holdfast/registry";

/// Largest fold result `rollback` reads.
const RESULT_LIMIT: u64 = 64 << 20;

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

/// What `check` saw in a registry directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Inspection {
    /// The JSON documents parse as strict JSON (syntax, no duplicate keys).
    pub json_valid: bool,
    /// They also hold what the format requires: known keys and types, ids
    /// with the right prefix and width, valid records and claims, and
    /// `registry.json` pinning the `objects.json` that is there.
    pub format_valid: bool,
    /// The first reason one of the two is false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Documents whose bytes are no revision recorded in the history.
    pub drift: Vec<String>,
    /// Documents holding the bytes of an older recorded state than the
    /// current one (an old revision presented as current; no interrupted
    /// write leaves that).
    pub stale: Vec<String>,
    /// The invariant check (absent when the JSON is not valid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<CheckReport>,
    /// sha256 of every document as read.
    pub pins: BTreeMap<String, String>,
    /// The state number of the history's head.
    pub state: u64,
}

impl Inspection {
    /// Whether everything holds: valid JSON and format, no drift, no stale
    /// document, all counts zero.
    pub fn passes(&self) -> bool {
        self.json_valid
            && self.format_valid
            && self.drift.is_empty()
            && self.stale.is_empty()
            && self.report.as_ref().is_some_and(CheckReport::passes)
    }
}

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

/// The live documents after completing any interrupted write.
struct Recovered {
    log: Log,
    head: Entry,
    docs: Vec<Vec<u8>>,
    /// sha256 of each document in `docs`.
    shas: Vec<String>,
    drift: Vec<(Document, String)>,
    /// Documents holding an older recorded revision than any interrupted
    /// write can leave: (document, sha256, the latest state that had those
    /// bytes). An old revision presented as current; never overwritten.
    stale: Vec<(Document, String, u64)>,
    /// The model parsed while the documents were being hashed, kept only
    /// when every document turned out to be the head's.
    model: Option<Result<(Registry, String)>>,
}

fn recover(b: &dyn Backend, want_model: Option<RecordLoad>) -> Result<Recovered> {
    b.remove_leftovers()?;
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

fn stale_message(d: Document, sha: &str, seq: u64, head: u64) -> String {
    format!(
        "{}: its bytes (sha256 {sha}) are the revision of state {seq}, not of the current state {head}; an old revision presented as current (restored by hand? state {head} is marked complete in {}, so no interrupted write left them)",
        d.name(),
        history::COMPLETE_FILE
    )
}

fn stale_error(b: &dyn Backend, stale: &[(Document, String, u64)], head: u64) -> Error {
    let (d, sha, seq) = &stale[0];
    Error::refused(format!(
        "{}/{}. Nothing was written; put the current state's bytes back (from {}/<sha256>, or undo the hand edit, e.g. `patch -R -p1` for a reverse patch applied by hand), then roll a fold back with `holdfast registry rollback FOLD_RESULT` (`holdfast registry check` lists every such document)",
        b.root().display(),
        stale_message(*d, sha, *seq, head),
        BLOBS_DIR
    ))
}

fn drift_error(b: &dyn Backend, drift: &[(Document, String)]) -> Error {
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
fn load_model(b: &dyn Backend, rec: &mut Recovered, load: RecordLoad) -> Result<Registry> {
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

fn pins_map(pins: &[String]) -> BTreeMap<String, String> {
    DOCUMENTS
        .iter()
        .map(|d| (d.name().to_string(), pins[d.index()].clone()))
        .collect()
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
        let records_changed = [Document::ObjectsJson, Document::ObjectsMd]
            .iter()
            .any(|d| changed[d.index()]);
        super::fast::follow_commit(&*self.b, &self.log, records_changed);
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
        super::fast::save_cache(&*self.b, &self.registry, &self.docs, &self.log);
        Ok(outcome)
    }

    /// Binds a sealed packet's tree hash to its claim (`ids`, first and
    /// last id) and its fold (`fold_result_sha256`, a fold result an earlier
    /// fold recorded), as one state of its own that changes no document. A
    /// claim or a fold is bound at most once, so the registry names exactly
    /// one packet for each (see [`check_bind`]). Returns the new state number.
    pub fn bind(
        &mut self,
        packet: &str,
        tree_sha256: &str,
        ids: Option<(&str, &str)>,
        fold_result_sha256: Option<&str>,
    ) -> Result<u64> {
        let op = Op::Bind {
            packet: packet.to_string(),
            tree_sha256: tree_sha256.to_string(),
            first: ids.map(|(f, _)| f.to_string()),
            last: ids.map(|(_, l)| l.to_string()),
            fold_result_sha256: fold_result_sha256.map(str::to_string),
        };
        check_bind(&self.registry, &self.log.entries, &op)
            .map_err(|why| Error::refused(format!("bind: {why}; nothing written")))?;
        let placeholder = Registry::empty(self.registry.format.clone());
        let next = std::mem::replace(&mut self.registry, placeholder);
        self.commit(next, Vec::new(), op, &[])?;
        Ok(self.state())
    }

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

/// Makes `dir` a registry holding `reg` as its first state. Refuses a
/// directory that already holds anything but an empty history.
pub(crate) fn create(b: &dyn Backend, reg: &Registry, op: Op) -> Result<()> {
    create_with(b, reg, op, &[])
}

/// [`create`], also storing `artifacts` (the import source) as blobs.
pub(crate) fn create_with(
    b: &dyn Backend,
    reg: &Registry,
    op: Op,
    artifacts: &[&[u8]],
) -> Result<()> {
    b.prepare_create()?;
    let _lock = b.lock()?;
    if b.exists(LOG_FILE)? {
        let log = read_log_repairing(b)?;
        if !log.entries.is_empty() {
            return Err(Error::refused(format!(
                "{} already holds a registry ({} states in {LOG_FILE}); nothing written",
                b.root().display(),
                log.entries.len()
            )));
        }
    }
    b.remove_leftovers()?;
    let docs = render_all(reg)?;
    for a in artifacts {
        put_blob(b, a)?;
    }
    let mut documents = BTreeMap::new();
    for d in DOCUMENTS {
        let sha = put_blob(b, &docs[d.index()])?;
        documents.insert(
            d.name().to_string(),
            history::DocPin {
                revision: reg.revisions.get(d),
                sha256: sha,
            },
        );
    }
    let entry = Entry {
        documents,
        op,
        prev: None,
        seq: 1,
    };
    let line = encode(&entry)?;
    append(b, &line)?;
    if let Some(dir) = b.dir() {
        fsio::sync_dir(&dir.join(HISTORY_DIR))?;
    }
    for d in DOCUMENTS {
        b.write(d.name(), &docs[d.index()], false)?;
    }
    history::mark_complete(b, &sha256_hex(&line))?;
    b.durable()?;
    let log = Log {
        hashes: vec![sha256_hex(&line)],
        entries: vec![entry],
    };
    super::fast::save_cache(b, reg, &docs, &log);
    Ok(())
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
    super::fast::save_cache(b, &reg, &rec.docs, &rec.log);
    Ok(())
}

/// Creates an empty registry in `dir` (ids `PREFIX-` + `width` digits).
pub fn init(dir: &Path, prefix: &str, width: u32) -> Result<Store> {
    let fmt = super::id::IdFormat::new(prefix, width).map_err(Error::Usage)?;
    let op = Op::Init {
        id_prefix: fmt.prefix().to_string(),
        id_width: fmt.width(),
    };
    let b = backend::open(dir)?;
    create(&*b, &Registry::empty(fmt), op)?;
    Store::open_backend(b, RecordLoad::Full)
}

/// Creates a registry in `dir` from the single-file registry at `file`,
/// keeping its ids, canonical max and revisions. The file is validated
/// strictly and must pass `check`; otherwise nothing is written.
pub fn import(dir: &Path, file: &Path) -> Result<Store> {
    let bytes = fsio::read_regular(file, READ_LIMIT)?;
    let reg = parse_import(&bytes, file)?;
    let report = check(&reg);
    if !report.passes() {
        return Err(Error::refused(format!(
            "{} fails check ({}); first: {}; nothing imported",
            file.display(),
            report.counts.summary(),
            report.first_problem().unwrap_or_default()
        )));
    }
    let b = backend::open(dir)?;
    create_with(
        &*b,
        &reg,
        Op::Import {
            source_sha256: sha256_hex(&bytes),
        },
        &[&bytes],
    )?;
    Store::open_backend(b, RecordLoad::Full)
}

/// Whether every one of `files` (path, bytes) parses as strict JSON; the
/// first failure is returned. Only asked once the model failed to load, to
/// tell a JSON error from a format error.
fn strict_json(files: &[(PathBuf, &[u8])]) -> Option<String> {
    files.iter().find_map(|(path, bytes)| {
        canonical::parse_strict(bytes, path)
            .err()
            .map(|e| e.to_string())
    })
}

/// Checks a single-file registry (the import format) without importing it.
pub fn inspect_file(file: &Path) -> Result<Inspection> {
    let bytes = fsio::read_regular(file, READ_LIMIT)?;
    let pins = BTreeMap::from([(file.display().to_string(), sha256_hex(&bytes))]);
    let mut out = Inspection {
        json_valid: true,
        format_valid: true,
        error: None,
        drift: Vec::new(),
        stale: Vec::new(),
        report: None,
        pins,
        state: 0,
    };
    match parse_import(&bytes, file) {
        Ok(reg) => out.report = Some(check(&reg)),
        Err(e) => {
            out.json_valid = strict_json(&[(file.to_path_buf(), &bytes)]).is_none();
            out.format_valid = false;
            out.error = Some(e.to_string());
        }
    }
    Ok(out)
}

/// Checks the registry in `dir` as it is on disk: completes an interrupted
/// write, then reports hand-edited documents, JSON validity and the four
/// invariants. Unlike [`Store::open`] it does not stop at the first problem.
pub fn inspect(dir: &Path) -> Result<Inspection> {
    inspect_at(&*backend::open(dir)?)
}

/// [`inspect`] on an open backend.
pub fn inspect_at(b: &dyn Backend) -> Result<Inspection> {
    require_registry(b)?;
    let _lock = b.lock()?;
    let mut rec = recover(b, Some(RecordLoad::Full))?;
    let pins = DOCUMENTS
        .iter()
        .map(|d| (d.name().to_string(), rec.shas[d.index()].clone()))
        .collect();
    let drift = rec
        .drift
        .iter()
        .map(|(d, sha)| {
            format!(
                "{}: bytes (sha256 {sha}) are no revision recorded in the history",
                d.name()
            )
        })
        .collect();
    let state = rec.head.seq;
    let stale = rec
        .stale
        .iter()
        .map(|(d, sha, seq)| stale_message(*d, sha, *seq, state))
        .collect();
    let (json_valid, format_valid, error, report) = match load_model(b, &mut rec, RecordLoad::Full)
    {
        Ok(reg) => (true, true, None, Some(check(&reg))),
        Err(e) => {
            let files = [Document::RegistryJson, Document::ObjectsJson]
                .map(|d| (doc_path(b, d), rec.docs[d.index()].as_slice()));
            // A JSON error is the more basic one: name it first.
            match strict_json(&files) {
                Some(json_error) => (false, false, Some(json_error), None),
                None => (true, false, Some(e.to_string()), None),
            }
        }
    };
    Ok(Inspection {
        json_valid,
        format_valid,
        error,
        drift,
        stale,
        report,
        pins,
        state,
    })
}

/// The history log of the registry in `dir` (after completing an interrupted write).
pub fn read_log(dir: &Path) -> Result<Log> {
    let b = backend::open(dir)?;
    let b = &*b;
    require_registry(b)?;
    let _lock = b.lock()?;
    Ok(recover(b, None)?.log)
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

/// Whether `op`, a [`Op::Bind`], may follow the state `reg` whose history
/// is `earlier`: its tree hash is a sha256; it binds a claim, a fold or
/// both; the claim is one `reg` holds for this packet, exactly; the fold
/// result is one an earlier fold recorded; and neither was bound before.
/// The reason when it may not. Pure; the store's `bind` and the history
/// replay both ask it.
pub fn check_bind(reg: &Registry, earlier: &[Entry], op: &Op) -> std::result::Result<(), String> {
    let Op::Bind {
        packet,
        tree_sha256,
        first,
        last,
        fold_result_sha256,
    } = op
    else {
        return Err("internal: not a bind".into());
    };
    if !super::id::is_sha256_hex(tree_sha256) {
        return Err(format!("tree hash {tree_sha256:?} is not 64 lowercase hex"));
    }
    super::model::check_packet_name("packet", packet)?;
    let claim = match (first, last) {
        (Some(f), Some(l)) => Some((f, l)),
        (None, None) => None,
        _ => return Err("a bound claim needs both its first and its last id".into()),
    };
    if claim.is_none() && fold_result_sha256.is_none() {
        return Err("nothing to bind: no claim and no fold".into());
    }
    if let Some((f, l)) = claim {
        let (fnum, lnum) = (reg.format.parse(f)?, reg.format.parse(l)?);
        if !reg
            .claims
            .iter()
            .any(|c| c.packet == *packet && c.first == fnum && c.last == lnum)
        {
            return Err(format!("the registry holds no claim {f}..{l} by {packet}"));
        }
    }
    if let Some(sha) = fold_result_sha256
        && !earlier
            .iter()
            .any(|e| matches!(&e.op, Op::Fold { result_sha256, .. } if result_sha256 == sha))
    {
        return Err(format!(
            "no fold of this history recorded the fold result {sha}"
        ));
    }
    for e in earlier {
        if let Op::Bind {
            first: bf,
            last: bl,
            fold_result_sha256: bfold,
            ..
        } = &e.op
        {
            if claim.is_some() && (bf, bl) == (first, last) {
                return Err(format!(
                    "the claim {}..{} is already bound (state {})",
                    first.as_deref().unwrap_or(""),
                    last.as_deref().unwrap_or(""),
                    e.seq
                ));
            }
            if fold_result_sha256.is_some() && bfold == fold_result_sha256 {
                return Err(format!("the fold is already bound (state {})", e.seq));
            }
        }
    }
    Ok(())
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
