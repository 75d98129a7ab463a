//! The append-only history: content-addressed blobs and a hash-chained log.
//!
//! `history/blobs/<sha256>` holds the bytes of every revision of every
//! document (and every fold result and reverse patch), named by their
//! sha256. `history/log.jsonl` has one line per committed state: compact
//! canonical JSON with the state's sequence number, the operation, every
//! document's revision and sha256, and `prev`, the sha256 of the previous
//! line. Rewriting any line breaks the chain at the next one; rewriting a
//! blob breaks its name. Appending a line is the commit point of a write.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::backend::Backend;
use super::id::is_sha256_hex;
use super::model::{DOCUMENTS, Document, Revisions};
use crate::canonical;
use crate::digest::sha256_hex;
use crate::error::{Error, Result};

/// Directory (inside the registry directory) of everything that is not a document.
pub const HISTORY_DIR: &str = "history";
/// The log, relative to the registry directory.
pub const LOG_FILE: &str = "history/log.jsonl";
/// The blob store, relative to the registry directory.
pub const BLOBS_DIR: &str = "history/blobs";
/// The lock file every command holds while it reads or writes.
pub const LOCK_FILE: &str = "history/lock";
/// The completion marker: the sha256 of the log line whose write has all
/// its documents in place. A head line the marker does not name is a write
/// that was interrupted after its commit point (and only then does the next
/// command finish it); documents that differ from a completed head were put
/// there by someone else.
pub const COMPLETE_FILE: &str = "history/complete";
/// Largest document or blob read (a registry of ten million records fits).
pub const READ_LIMIT: u64 = 16 << 30;

/// A document's revision and sha256 in one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocPin {
    /// The revision number.
    pub revision: u64,
    /// sha256 of the bytes.
    pub sha256: String,
}

/// What made a state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Op {
    /// `registry init`.
    Init {
        /// Id prefix.
        id_prefix: String,
        /// Id width.
        id_width: u32,
    },
    /// `registry import FILE`.
    Import {
        /// sha256 of the imported file's bytes (they are a blob, so the
        /// first state can be re-derived from them).
        source_sha256: String,
    },
    /// `registry claim`.
    Claim {
        /// The claiming packet.
        packet: String,
        /// First id taken.
        first: String,
        /// Last id taken.
        last: String,
        /// Number of ids.
        count: u64,
        /// sha256 of the records given (`--ids FILE`), as a canonical JSON
        /// array of [`NewRecord`](super::model::NewRecord) stored as a blob;
        /// absent for a claim of a count (every record `reserved`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        records_sha256: Option<String>,
    },
    /// `registry fold A..B`.
    Fold {
        /// First id folded.
        first: String,
        /// Last id folded.
        last: String,
        /// sha256 of the fold result (its bytes are a blob).
        result_sha256: String,
        /// sha256 of the reverse patch (its bytes are a blob).
        reverse_patch_sha256: String,
    },
    /// `registry rollback FOLD_RESULT`: the before state of that fold, again.
    Rollback {
        /// First id of the fold rolled back.
        first: String,
        /// Last id of the fold rolled back.
        last: String,
        /// sha256 of the fold result it rolled back.
        fold_result_sha256: String,
    },
    /// A sealed packet's tree hash bound to what the packet did to the
    /// registry: its claim of ids and, when it folded, its fold result. It
    /// changes no document (the state's documents are those of the state
    /// before it); it is the registry's own record that this packet, and no
    /// other, made that claim and that fold (`holdfast verify --registry`).
    Bind {
        /// The packet (its macro name, as its claim names it).
        packet: String,
        /// sha256 of the packet's `HASH_MANIFEST.txt`: its tree hash.
        tree_sha256: String,
        /// First id of the bound claim (absent when the packet claimed none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first: Option<String>,
        /// Last id of the bound claim (absent when the packet claimed none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last: Option<String>,
        /// sha256 of the packet's fold result, which an earlier fold of
        /// this history recorded (absent when the packet did not fold).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fold_result_sha256: Option<String>,
    },
    /// A write undone because its bytes did not read back as planned.
    Undo {
        /// Why.
        reason: String,
    },
}

impl Op {
    /// A short description for `registry log`.
    pub fn describe(&self) -> String {
        match self {
            Op::Init {
                id_prefix,
                id_width,
            } => format!("init {id_prefix} width {id_width}"),
            Op::Import { source_sha256 } => format!(
                "import (source sha256 {})",
                source_sha256.chars().take(12).collect::<String>()
            ),
            Op::Claim {
                packet,
                first,
                last,
                count,
                ..
            } => format!("claim {first}..{last} ({count} ids) by {packet}"),
            Op::Fold { first, last, .. } => format!("fold {first}..{last}"),
            Op::Rollback { first, last, .. } => format!("rollback of fold {first}..{last}"),
            Op::Bind {
                packet,
                tree_sha256,
                first,
                last,
                fold_result_sha256,
            } => {
                let mut what = Vec::new();
                if let (Some(f), Some(l)) = (first, last) {
                    what.push(format!("claim {f}..{l}"));
                }
                if fold_result_sha256.is_some() {
                    what.push("fold".to_string());
                }
                format!(
                    "bind {} of {packet} to tree {}",
                    what.join(" and "),
                    tree_sha256.chars().take(12).collect::<String>()
                )
            }
            Op::Undo { reason } => format!("undo: {reason}"),
        }
    }

    /// The blobs (besides documents) the entry refers to.
    pub fn artifacts(&self) -> Vec<&str> {
        match self {
            Op::Fold {
                result_sha256,
                reverse_patch_sha256,
                ..
            } => vec![result_sha256, reverse_patch_sha256],
            Op::Import { source_sha256 } => vec![source_sha256],
            Op::Claim {
                records_sha256: Some(r),
                ..
            } => vec![r],
            Op::Bind {
                fold_result_sha256: Some(r),
                ..
            } => vec![r],
            _ => Vec::new(),
        }
    }
}

/// One line of the log: one committed state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Every document's revision and sha256 in this state.
    pub documents: BTreeMap<String, DocPin>,
    /// What made this state.
    pub op: Op,
    /// sha256 of the previous line (absent on the first).
    pub prev: Option<String>,
    /// 1 for the first state, then one more per line.
    pub seq: u64,
}

impl Entry {
    /// The sha256 each document has in this state.
    pub fn pins(&self) -> BTreeMap<String, String> {
        self.documents
            .iter()
            .map(|(k, v)| (k.clone(), v.sha256.clone()))
            .collect()
    }

    /// The revision each document has in this state.
    pub fn revisions(&self) -> Revisions {
        let mut r = Revisions::all(0);
        for d in DOCUMENTS {
            r.set(d, self.documents.get(d.name()).map_or(0, |p| p.revision));
        }
        r
    }

    /// The pin of `doc`.
    pub fn pin(&self, doc: Document) -> &str {
        self.documents
            .get(doc.name())
            .map_or("", |p| p.sha256.as_str())
    }
}

/// Compact JSON with sorted keys: one line, the same bytes for the same value.
fn compact(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let _ = serde_json::to_writer(&mut *out, k);
                out.push(b':');
                compact(&map[k.as_str()], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                compact(v, out);
            }
            out.push(b']');
        }
        scalar => {
            let _ = serde_json::to_writer(&mut *out, scalar);
        }
    }
}

/// The bytes of `entry`'s line (without the newline).
pub fn encode(entry: &Entry) -> Result<Vec<u8>> {
    let value = serde_json::to_value(entry)
        .map_err(|e| Error::failed(format!("internal: log entry is not JSON: {e}")))?;
    let mut out = Vec::with_capacity(512);
    compact(&value, &mut out);
    Ok(out)
}

/// The log, parsed and chain-checked.
#[derive(Debug, Clone)]
pub struct Log {
    /// Every entry, oldest first.
    pub entries: Vec<Entry>,
    /// sha256 of each entry's line.
    pub hashes: Vec<String>,
}

impl Log {
    /// The newest entry.
    pub fn head(&self) -> Option<&Entry> {
        self.entries.last()
    }

    /// The newest entry's line hash.
    pub fn head_hash(&self) -> Option<&str> {
        self.hashes.last().map(String::as_str)
    }

    /// Whether `sha` was `doc`'s bytes in some recorded state.
    pub fn knows(&self, doc: Document, sha: &str) -> bool {
        self.entries.iter().any(|e| e.pin(doc) == sha)
    }

    /// The highest revision each document ever had: a new content of a
    /// document takes the next number, so a number never names two contents.
    pub fn high_water(&self) -> Revisions {
        let mut r = Revisions::all(0);
        for e in &self.entries {
            let er = e.revisions();
            for d in DOCUMENTS {
                r.set(d, r.get(d).max(er.get(d)));
            }
        }
        r
    }
}

/// Parses the log bytes: every line strict and canonical, sequence numbers
/// 1, 2, …, each `prev` the hash of the line before. `path` names the file.
/// A final line without its newline is a write that never committed and is
/// ignored (the store truncates it under its lock).
pub fn parse_log(bytes: &[u8], path: &Path) -> Result<Log> {
    let mut log = Log {
        entries: Vec::new(),
        hashes: Vec::new(),
    };
    let Some(last_newline) = bytes.iter().rposition(|&b| b == b'\n') else {
        return Ok(log);
    };
    for (i, line) in bytes[..last_newline].split(|&b| b == b'\n').enumerate() {
        let at = |what: String| Error::malformed(path, format!("line {}: {what}", i + 1));
        let entry = parse_line(line, path).map_err(at)?;
        if entry.seq != i as u64 + 1 {
            return Err(at(format!(
                "sequence number {}, expected {}",
                entry.seq,
                i + 1
            )));
        }
        if entry.prev.as_deref() != log.hashes.last().map(String::as_str) {
            return Err(at(format!(
                "prev {} does not match the sha256 of line {} ({}): the history was rewritten",
                entry.prev.as_deref().unwrap_or("(none)"),
                i,
                log.hashes.last().map_or("(none)", String::as_str)
            )));
        }
        log.hashes.push(sha256_hex(line));
        log.entries.push(entry);
    }
    Ok(log)
}

/// One log line of the log at `path` (without its newline), strict and canonical, with the five
/// documents pinned and every hash well formed; what is wrong otherwise.
/// Its place in the chain (`seq`, `prev`) is the caller's to check.
pub fn parse_line(line: &[u8], path: &Path) -> std::result::Result<Entry, String> {
    let value = canonical::parse_strict(line, path).map_err(|e| e.to_string())?;
    let entry: Entry = serde_json::from_value(value).map_err(|e| e.to_string())?;
    if encode(&entry).map_err(|e| e.to_string())? != line {
        return Err("not in canonical form (edited by hand?)".into());
    }
    let names: Vec<&str> = entry.documents.keys().map(String::as_str).collect();
    let expected: Vec<&str> = DOCUMENTS.iter().map(|d| d.name()).collect();
    if names != expected {
        return Err(format!("documents {names:?}, expected {expected:?}"));
    }
    for (name, pin) in &entry.documents {
        if !is_sha256_hex(&pin.sha256) || pin.revision == 0 {
            return Err(format!(
                "{name}: revision must be >= 1 and sha256 64 lowercase hex"
            ));
        }
    }
    if entry.op.artifacts().iter().any(|a| !is_sha256_hex(a)) {
        return Err("artifact sha256 is not 64 lowercase hex".into());
    }
    if let Op::Bind { tree_sha256, .. } = &entry.op
        && !is_sha256_hex(tree_sha256)
    {
        return Err("bind: tree_sha256 is not 64 lowercase hex".into());
    }
    Ok(entry)
}

/// Path of blob `sha` under registry directory `dir`.
pub fn blob_path(dir: &Path, sha: &str) -> PathBuf {
    dir.join(BLOBS_DIR).join(sha)
}

/// Path of the delta form of blob `sha` (see [`put_blob_from`]).
pub fn delta_path(dir: &Path, sha: &str) -> PathBuf {
    dir.join(BLOBS_DIR).join(format!("{sha}.delta"))
}

/// Longest chain of deltas before a blob is stored whole again, so reading
/// any revision back applies at most this many splices.
pub const MAX_DELTA_DEPTH: u32 = 16;

/// The first line of a delta blob: the new bytes are the base's first
/// `prefix` bytes, then the `middle` bytes that follow this line (with the
/// [`Kept`] run of the base inside them, if any), then the base's last
/// `suffix` bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeltaHeader {
    base: String,
    depth: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kept: Option<Kept>,
    middle: u64,
    prefix: u64,
    /// Place in a skip-delta lineage (see [`put_splice`]): this revision is
    /// the `step`-th splice since the lineage's whole blob. Absent: a
    /// revision spliced onto its parent alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    step: Option<u64>,
    suffix: u64,
}

/// A run of the base's bytes kept inside a delta's middle: `len` bytes from
/// offset `from` of the base, placed after the middle's first `at` bytes.
/// So a revision changed in two places (a header edited at the top and a
/// row added further down, as a claim changes `registry.md` and `index.md`)
/// is stored as its two changes, not whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Kept {
    at: u64,
    from: u64,
    len: u64,
}

/// The bytes a base shares with a new revision between their common prefix
/// and suffix (`new_mid` and `base_mid`, which start at the same offset
/// `offset` of both): the longest equal run through a 64-byte window from
/// the middle of `new_mid` found in `base_mid`, when it is at least half of
/// `new_mid`. Found with `memmem`, so linear in the documents' size; a
/// window that occurs in several places only costs the shortcut.
fn kept_run(new_mid: &[u8], base_mid: &[u8], offset: usize) -> Option<Kept> {
    const WINDOW: usize = 64;
    if new_mid.len() < 4 * WINDOW || base_mid.len() < WINDOW {
        return None;
    }
    let q = new_mid.len() / 2;
    let f = memchr::memmem::find(base_mid, &new_mid[q..q + WINDOW])?;
    let back = common_suffix(&new_mid[..q], &base_mid[..f], usize::MAX);
    let fwd = common_prefix(&new_mid[q..], &base_mid[f..]);
    let len = back + fwd;
    (len >= new_mid.len() / 2).then(|| Kept {
        at: (q - back) as u64,
        from: (offset + f - back) as u64,
        len: len as u64,
    })
}

/// Bytes compared at once by [`common_prefix`] and [`common_suffix`]: a
/// slice comparison is a vectorized `memcmp`, many times faster than a loop
/// over bytes (which was a claim's largest cost after hashing, over the
/// megabytes of the small documents of a large registry).
const COMPARED_AT_ONCE: usize = 256;

/// How many leading bytes `a` and `b` share.
pub(crate) fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + COMPARED_AT_ONCE <= n && a[i..i + COMPARED_AT_ONCE] == b[i..i + COMPARED_AT_ONCE] {
        i += COMPARED_AT_ONCE;
    }
    i + a[i..n]
        .iter()
        .zip(&b[i..n])
        .take_while(|(x, y)| x == y)
        .count()
}

/// How many trailing bytes `a` and `b` share, at most `limit`.
pub(crate) fn common_suffix(a: &[u8], b: &[u8], limit: usize) -> usize {
    let n = a.len().min(b.len()).min(limit);
    let (a, b) = (&a[a.len() - n..], &b[b.len() - n..]);
    let mut k = 0;
    while k + COMPARED_AT_ONCE <= n
        && a[n - k - COMPARED_AT_ONCE..n - k] == b[n - k - COMPARED_AT_ONCE..n - k]
    {
        k += COMPARED_AT_ONCE;
    }
    k + a[..n - k]
        .iter()
        .rev()
        .zip(b[..n - k].iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
}

fn blob_rel(sha: &str) -> String {
    format!("{BLOBS_DIR}/{sha}")
}

fn delta_rel(sha: &str) -> String {
    format!("{BLOBS_DIR}/{sha}.delta")
}

/// The two names blob `sha` may be stored under: whole (whose existence
/// is asked before it is stored or looked at; it may be the size of the
/// registry) and as a splice (which is read): what a caller reads ahead.
pub(crate) fn blob_names(sha: &str) -> (String, String) {
    (blob_rel(sha), delta_rel(sha))
}

fn blob_exists(b: &dyn Backend, sha: &str) -> Result<bool> {
    Ok(b.exists(&blob_rel(sha))? || b.exists(&delta_rel(sha))?)
}

/// Stores `bytes` whole as a blob (read-only, named by its sha256) unless
/// that blob is already there. Returns the sha256.
pub fn put_blob(b: &dyn Backend, bytes: &[u8]) -> Result<String> {
    put_blob_from(b, bytes, None)
}

/// Stores `bytes` as a blob, as a splice of `base` (its sha256 and bytes)
/// when that is much smaller: a claim appends records at the end of a
/// document of possibly hundreds of megabytes, and a fold edits the head of
/// small ones, so a single splice (common prefix, new middle, common suffix)
/// captures either. The blob is still named by the sha256 of the whole new
/// bytes, and reading it back checks that sha256.
pub fn put_blob_from(b: &dyn Backend, bytes: &[u8], base: Option<(&str, &[u8])>) -> Result<String> {
    let sha = sha256_hex(bytes);
    put_blob_hashed(b, bytes, sha, base)
}

/// [`put_blob_from`] for a caller that already hashed `bytes` (`sha`, their
/// sha256: the blob's name).
pub(crate) fn put_blob_hashed(
    b: &dyn Backend,
    bytes: &[u8],
    sha: String,
    base: Option<(&str, &[u8])>,
) -> Result<String> {
    if blob_exists(b, &sha)? {
        return Ok(sha);
    }
    if let Some((base_sha, base_bytes)) = base
        && let Some(depth) = blob_depth(b, base_sha)
        && depth < MAX_DELTA_DEPTH
    {
        let prefix = common_prefix(bytes, base_bytes);
        let room = bytes.len().min(base_bytes.len()) - prefix;
        let suffix = common_suffix(bytes, base_bytes, room);
        let middle = &bytes[prefix..bytes.len() - suffix];
        let kept = kept_run(
            middle,
            &base_bytes[prefix..base_bytes.len() - suffix],
            prefix,
        );
        // The middle's own bytes: without the kept run.
        let own: Vec<u8> = match kept {
            Some(k) => {
                let (at, end) = (k.at as usize, (k.at + k.len) as usize);
                [&middle[..at], &middle[end..]].concat()
            }
            None => middle.to_vec(),
        };
        if own.len() < bytes.len() / 2 {
            let header = DeltaHeader {
                base: base_sha.to_string(),
                depth: depth + 1,
                kept,
                middle: own.len() as u64,
                prefix: prefix as u64,
                step: None,
                suffix: suffix as u64,
            };
            write_delta(b, &sha, &header, &own)?;
            return Ok(sha);
        }
    }
    b.write(&blob_rel(&sha), bytes, true)?;
    Ok(sha)
}

/// Stores blob `sha` as the splice of blob `base` (at delta depth `depth`)
/// whose first `prefix` bytes are followed by `middle` and then its last
/// `suffix` bytes: what [`put_blob_from`] writes, for a caller that knows
/// the splice without holding either document's bytes (a fast claim). The
/// caller computed `sha` from the same bytes; reading the blob back checks it.
///
/// Skip-deltas: a claim appends to a records document of possibly hundreds
/// of megabytes, and a chain of splices each onto its parent must be cut by
/// a whole copy every [`MAX_DELTA_DEPTH`] revisions, a write proportional to
/// the registry. So the `n`-th revision after a whole blob is spliced onto
/// revision `n & (n - 1)` of its lineage instead (as Subversion stores
/// revisions): its middle is the parent's splice composed with the
/// splices between (read from their delta blobs, never from the document),
/// the chain to read it back is `n`'s number of one bits long, and each
/// appended record is stored about `log2(n) / 2` times on average. Whenever
/// a splice on the way cannot be composed (it keeps a run of its base, or
/// it is not in a lineage), the revision is spliced onto `base` alone.
/// Returns where the new blob stands in its lineage, when it is in one,
/// so a caller can tell the next splice which blobs it will visit.
pub(crate) fn put_splice(
    b: &dyn Backend,
    sha: &str,
    base: &str,
    depth: u32,
    prefix: u64,
    middle: &[u8],
    suffix: u64,
) -> Result<Option<Spliced>> {
    if blob_exists(b, sha)? {
        return Ok(None);
    }
    let header = match skip_splice(b, base, prefix, middle, suffix)? {
        Some((header, composed, visited)) => {
            write_delta(b, sha, &header, &composed)?;
            return Ok(header.step.map(|step| Spliced { step, visited }));
        }
        None => DeltaHeader {
            base: base.to_string(),
            depth: depth + 1,
            kept: None,
            middle: middle.len() as u64,
            prefix,
            step: None,
            suffix,
        },
    };
    write_delta(b, sha, &header, middle)?;
    Ok(None)
}

/// Blobs of a lineage with their steps (see [`Spliced::visited`]).
pub(crate) type Visited = Vec<(String, u64)>;

/// A blob [`put_splice`] stored in a skip-delta lineage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spliced {
    /// Its step in the lineage.
    pub step: u64,
    /// The blobs the splice looked at with their steps, from the parent
    /// down to the base it was spliced onto (the last).
    pub visited: Visited,
}

/// The header and the middle's own bytes of delta blob `sha`, checked as
/// every reader needs them (a base named by a sha256, a body as long as the
/// header says); `None` when there is no delta file.
fn read_delta_file(b: &dyn Backend, sha: &str) -> Result<Option<(DeltaHeader, Vec<u8>)>> {
    let dpath = b.path(&delta_rel(sha));
    let bad = |what: &str| Error::malformed(&dpath, what.to_string());
    let Some(mut raw) = b.read(&delta_rel(sha), READ_LIMIT)? else {
        return Ok(None);
    };
    let end = raw
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| bad("no header line"))?;
    let h: DeltaHeader = canonical::from_slice_strict(&raw[..end], &dpath)?;
    let middle = raw.split_off(end + 1);
    if middle.len() as u64 != h.middle || !is_sha256_hex(&h.base) {
        return Err(bad("header does not match its body"));
    }
    Ok(Some((h, middle)))
}

/// Blob `sha`'s place in a skip-delta lineage (0: stored whole; `None`: a
/// delta outside any lineage) and, when it is a delta, its header and
/// middle.
type Lineage = (Option<u64>, Option<(DeltaHeader, Vec<u8>)>);

fn lineage_of(b: &dyn Backend, sha: &str) -> Result<Lineage> {
    if b.exists(&blob_rel(sha))? {
        return Ok((Some(0), None));
    }
    match read_delta_file(b, sha)? {
        Some((h, middle)) => Ok((h.step, Some((h, middle)))),
        None => Err(missing(b.path(&blob_rel(sha)))),
    }
}

/// The splice of a skip-delta lineage for the revision spliced onto
/// `parent` (see [`put_splice`]): its header and middle, or `None` when it
/// is to be spliced onto the parent alone; with the blobs it looked at
/// (see [`Spliced::visited`]).
fn skip_splice(
    b: &dyn Backend,
    parent: &str,
    prefix: u64,
    middle: &[u8],
    suffix: u64,
) -> Result<Option<(DeltaHeader, Vec<u8>, Visited)>> {
    let (Some(parent_step), parent_delta) = lineage_of(b, parent)? else {
        return Ok(None);
    };
    let mut visited = vec![(parent.to_string(), parent_step)];
    let Some(n) = parent_step.checked_add(1) else {
        return Ok(None);
    };
    let target = n & (n - 1);
    let mut splice = (prefix, middle.to_vec(), suffix);
    let (mut at, mut at_step, mut at_delta) = (parent.to_string(), parent_step, parent_delta);
    while at_step > target {
        // A whole blob has step 0, so `at` is a delta here.
        let Some((h, own)) = at_delta.take() else {
            return Ok(None);
        };
        if h.kept.is_some() {
            return Ok(None);
        }
        let Some(composed) = compose((h.prefix, &own, h.suffix), (splice.0, &splice.1, splice.2))
        else {
            return Ok(None);
        };
        splice = composed;
        let (step, delta) = lineage_of(b, &h.base)?;
        // Steps fall toward the whole blob, or this is no lineage.
        match step {
            Some(step) if step < at_step => at_step = step,
            _ => return Ok(None),
        }
        visited.push((h.base.clone(), at_step));
        (at, at_delta) = (h.base, delta);
    }
    if at_step != target {
        return Ok(None);
    }
    let depth = at_delta.as_ref().map_or(0, |(h, _)| h.depth) + 1;
    if depth > MAX_DELTA_DEPTH {
        return Ok(None);
    }
    let (prefix, composed, suffix) = splice;
    Ok(Some((
        DeltaHeader {
            base: at,
            depth,
            kept: None,
            middle: composed.len() as u64,
            prefix,
            step: Some(n),
            suffix,
        },
        composed,
        visited,
    )))
}

/// Two splices as one: `inner` (prefix, middle, suffix) makes `P` from a
/// base `B`, `outer` makes `R` from `P`; the result makes `R` from `B`, or
/// `None` when `outer` keeps bytes of `B` from between `inner`'s prefix and
/// suffix (then no single splice of `B` makes `R`). Pure: a property test
/// checks it against applying both.
fn compose(inner: (u64, &[u8], u64), outer: (u64, &[u8], u64)) -> Option<(u64, Vec<u8>, u64)> {
    let (pb, mp, sb) = inner;
    let (p, m, s) = outer;
    let len = mp.len() as u64;
    // `outer` keeps P's first `p` and last `s` bytes: within B's prefix
    // and P's middle, and within P's middle and B's suffix.
    if p > pb.checked_add(len)? || s > sb.checked_add(len)? {
        return None;
    }
    let head = p.saturating_sub(pb);
    let tail = s.saturating_sub(sb);
    if head.checked_add(tail)? > len {
        return None;
    }
    let (head, tail) = (usize::try_from(head).ok()?, usize::try_from(tail).ok()?);
    let mut out = Vec::with_capacity(head + m.len() + tail);
    out.extend_from_slice(&mp[..head]);
    out.extend_from_slice(m);
    out.extend_from_slice(&mp[mp.len() - tail..]);
    Some((p.min(pb), out, s.min(sb)))
}

/// Writes delta blob `sha`: its header line, then its middle's own bytes.
fn write_delta(b: &dyn Backend, sha: &str, header: &DeltaHeader, middle: &[u8]) -> Result<()> {
    let mut out = serde_json::to_vec(header)
        .map_err(|e| Error::failed(format!("internal: delta header: {e}")))?;
    out.push(b'\n');
    out.extend_from_slice(middle);
    b.write(&delta_rel(sha), &out, true)
}

/// How many splices reading blob `sha` takes (0: stored whole), or `None`
/// if it is not there.
pub(crate) fn blob_depth(b: &dyn Backend, sha: &str) -> Option<u32> {
    if b.exists(&blob_rel(sha)).ok()? {
        return Some(0);
    }
    let raw = b.read(&delta_rel(sha), READ_LIMIT).ok()??;
    let end = raw.iter().position(|&b| b == b'\n')?;
    serde_json::from_slice::<DeltaHeader>(&raw[..end])
        .ok()
        .map(|h| h.depth)
}

/// Reads blob `sha` (rebuilding it from its base if it is stored as a
/// delta) and checks its bytes hash to its name.
pub fn get_blob(b: &dyn Backend, sha: &str) -> Result<Vec<u8>> {
    get_blob_at(b, sha, 0)
}

fn missing(path: PathBuf) -> Error {
    Error::io(
        path,
        std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory"),
    )
}

fn get_blob_at(b: &dyn Backend, sha: &str, depth: u32) -> Result<Vec<u8>> {
    let path = b.path(&blob_rel(sha));
    let (bytes, shown) = if let Some(whole) = b.read(&blob_rel(sha), READ_LIMIT)? {
        (whole, path)
    } else {
        let dpath = b.path(&delta_rel(sha));
        let bad = |what: &str| Error::malformed(&dpath, what.to_string());
        if depth > MAX_DELTA_DEPTH {
            return Err(bad("delta chain longer than allowed (a cycle?)"));
        }
        let Some((h, middle)) = read_delta_file(b, sha)? else {
            return Err(missing(path));
        };
        let base = get_blob_at(b, &h.base, depth + 1)?;
        let (p, s) = (h.prefix as usize, h.suffix as usize);
        if p.checked_add(s).is_none_or(|n| n > base.len()) {
            return Err(bad("splice reaches past its base"));
        }
        let mut out = Vec::with_capacity(p + middle.len() + s);
        out.extend_from_slice(&base[..p]);
        match h.kept {
            Some(k) => {
                let at = usize::try_from(k.at).ok().filter(|at| *at <= middle.len());
                let run = usize::try_from(k.from)
                    .ok()
                    .zip(usize::try_from(k.len).ok())
                    .and_then(|(from, len)| base.get(from..from.checked_add(len)?));
                let (Some(at), Some(run)) = (at, run) else {
                    return Err(bad("kept run reaches past its base or its middle"));
                };
                out.extend_from_slice(&middle[..at]);
                out.extend_from_slice(run);
                out.extend_from_slice(&middle[at..]);
            }
            None => out.extend_from_slice(&middle),
        }
        out.extend_from_slice(&base[base.len() - s..]);
        (out, dpath)
    };
    let got = sha256_hex(&bytes);
    if got != sha {
        return Err(Error::malformed(
            &shown,
            format!("content hashes to {got}, not to its name"),
        ));
    }
    Ok(bytes)
}

/// Appends `line` and a newline to the log and makes it durable: the
/// commit point of a write on the directory backend (on PostgreSQL the
/// transaction's commit is).
pub fn append(b: &dyn Backend, line: &[u8]) -> Result<()> {
    let mut record = Vec::with_capacity(line.len() + 1);
    record.extend_from_slice(line);
    record.push(b'\n');
    b.append_log(&record)
}

/// Reads the log, truncating a torn final line (a commit that never
/// happened). The caller holds the lock.
pub fn read_log_repairing(b: &dyn Backend) -> Result<Log> {
    let path = b.path(LOG_FILE);
    let Some(bytes) = b.read(LOG_FILE, READ_LIMIT)? else {
        return Err(missing(path));
    };
    if !bytes.is_empty() && !bytes.ends_with(b"\n") {
        let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        b.truncate_log(keep as u64)?;
    }
    parse_log(&bytes, &path)
}

/// Checks the revision rule over the whole log: within a document, one
/// revision number always names the same bytes, and a new content takes a
/// number above every earlier one. Returns the first violation.
pub fn check_revision_rule(log: &Log) -> Option<String> {
    for d in DOCUMENTS {
        let mut by_rev: HashMap<u64, &str> = HashMap::new();
        let mut by_sha: HashMap<&str, u64> = HashMap::new();
        let mut top = 0u64;
        for e in &log.entries {
            let Some(pin) = e.documents.get(d.name()) else {
                continue;
            };
            match (by_rev.get(&pin.revision), by_sha.get(pin.sha256.as_str())) {
                (Some(sha), _) if *sha != pin.sha256 => {
                    return Some(format!(
                        "state {}: {} revision {} names different bytes than before",
                        e.seq,
                        d.name(),
                        pin.revision
                    ));
                }
                (None, Some(rev)) => {
                    return Some(format!(
                        "state {}: {} bytes of revision {rev} come back as revision {}",
                        e.seq,
                        d.name(),
                        pin.revision
                    ));
                }
                (None, None) if pin.revision <= top => {
                    return Some(format!(
                        "state {}: new {} content reuses revision {} (highest so far {top})",
                        e.seq,
                        d.name(),
                        pin.revision
                    ));
                }
                _ => {}
            }
            by_rev.insert(pin.revision, pin.sha256.as_str());
            by_sha.insert(pin.sha256.as_str(), pin.revision);
            top = top.max(pin.revision);
        }
    }
    None
}

/// Marks the write of the log line hashing to `line_sha` complete: all its
/// documents are in place.
pub fn mark_complete(b: &dyn Backend, line_sha: &str) -> Result<()> {
    b.write(COMPLETE_FILE, format!("{line_sha}\n").as_bytes(), false)
}

/// The line hash the completion marker names, `None` if there is no marker.
pub fn read_complete(b: &dyn Backend) -> Result<Option<String>> {
    let path = b.path(COMPLETE_FILE);
    let Some(bytes) = b.read(COMPLETE_FILE, 1024)? else {
        return Ok(None);
    };
    let text = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|t| t.strip_suffix('\n'))
        .filter(|t| is_sha256_hex(t))
        .ok_or_else(|| {
            Error::malformed(
                &path,
                "expected the sha256 of a log line (64 lowercase hex) and a newline",
            )
        })?;
    Ok(Some(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The block-wise comparisons agree with a comparison byte by byte,
        /// on inputs that share long runs (so whole blocks are compared).
        #[test]
        fn common_runs_are_what_a_byte_loop_finds(
            shared in proptest::collection::vec(0u8..3, 0..1200),
            a_tail in proptest::collection::vec(0u8..3, 0..600),
            b_tail in proptest::collection::vec(0u8..3, 0..600),
            limit in 0usize..2000,
        ) {
            let a = [shared.as_slice(), &a_tail].concat();
            let b = [shared.as_slice(), &b_tail].concat();
            let naive_prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
            proptest::prop_assert_eq!(common_prefix(&a, &b), naive_prefix);
            let (ra, rb) = ([a_tail.as_slice(), &shared].concat(), [b_tail.as_slice(), &shared].concat());
            let naive_suffix = ra
                .iter()
                .rev()
                .zip(rb.iter().rev())
                .take(limit)
                .take_while(|(x, y)| x == y)
                .count();
            proptest::prop_assert_eq!(common_suffix(&ra, &rb, limit), naive_suffix);
        }
    }

    fn entry(seq: u64, prev: Option<String>, rev: u64, tag: &str) -> Entry {
        Entry {
            documents: DOCUMENTS
                .iter()
                .map(|d| {
                    (
                        d.name().to_string(),
                        DocPin {
                            revision: rev,
                            sha256: sha256_hex(format!("{tag}{}", d.name()).as_bytes()),
                        },
                    )
                })
                .collect(),
            op: Op::Undo { reason: tag.into() },
            prev,
            seq,
        }
    }

    fn log_bytes(entries: &[Entry]) -> Vec<u8> {
        let mut out = Vec::new();
        for e in entries {
            out.extend(encode(e).unwrap());
            out.push(b'\n');
        }
        out
    }

    fn chain(n: u64) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        let mut prev = None;
        for i in 1..=n {
            let e = entry(i, prev.clone(), i, &format!("s{i}"));
            prev = Some(sha256_hex(&encode(&e).unwrap()));
            out.push(e);
        }
        out
    }

    #[test]
    fn lines_are_compact_sorted_and_chained() {
        let bytes = log_bytes(&chain(3));
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(
            text.starts_with("{\"documents\":{\"index.md\":{\"revision\":1,"),
            "{text}"
        );
        let log = parse_log(&bytes, Path::new("log")).unwrap();
        assert_eq!(log.entries.len(), 3);
        assert_eq!(log.high_water(), Revisions::all(3));
        assert!(check_revision_rule(&log).is_none());
    }

    #[test]
    fn a_rewritten_line_breaks_the_chain() {
        let mut entries = chain(3);
        entries[1].op = Op::Undo {
            reason: "forged".into(),
        };
        let err = parse_log(&log_bytes(&entries), Path::new("log"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3") && err.contains("rewritten"), "{err}");
    }

    #[test]
    fn hand_edits_duplicates_and_bad_sequence_are_refused() {
        let good = String::from_utf8(log_bytes(&chain(2))).unwrap();
        let spaced = good.replacen("{\"documents\":", "{ \"documents\":", 1);
        assert!(
            parse_log(spaced.as_bytes(), Path::new("log"))
                .unwrap_err()
                .to_string()
                .contains("canonical")
        );
        let dup = good.replacen("\"seq\":1}", "\"seq\":1,\"seq\":1}", 1);
        assert!(
            parse_log(dup.as_bytes(), Path::new("log"))
                .unwrap_err()
                .to_string()
                .contains("duplicate key")
        );
        let mut entries = chain(2);
        entries[1].seq = 5;
        assert!(
            parse_log(&log_bytes(&entries), Path::new("log"))
                .unwrap_err()
                .to_string()
                .contains("sequence")
        );
    }

    #[test]
    fn a_torn_tail_is_ignored() {
        let mut bytes = log_bytes(&chain(2));
        bytes.extend_from_slice(b"{\"documents\":{\"ind");
        assert_eq!(
            parse_log(&bytes, Path::new("log")).unwrap().entries.len(),
            2
        );
    }

    #[test]
    fn reused_revision_numbers_are_caught() {
        let mut entries = chain(3);
        entries[2] = entry(3, None, 2, "other");
        let log = Log {
            hashes: vec![String::new(); 3],
            entries,
        };
        assert!(
            check_revision_rule(&log)
                .unwrap()
                .contains("revision 2 names different bytes")
        );
    }

    #[test]
    fn deltas_rebuild_the_exact_bytes_and_chains_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(BLOBS_DIR)).unwrap();
        let be = crate::registry::backend::dir::DirBackend::new(dir.path());
        let mut current: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let mut sha = put_blob(&be, &current).unwrap();
        let mut shas = vec![(sha.clone(), current.clone())];
        for round in 0..40u32 {
            let mut next = current.clone();
            // Append at the end (a claim's records) or edit near the head (a
            // fold's header): one splice captures either.
            if round % 2 == 0 {
                next.extend_from_slice(format!("appended {round}\n").as_bytes());
            } else {
                next.splice(10..12, format!("edit {round}").into_bytes());
            }
            sha = put_blob_from(&be, &next, Some((&sha, &current))).unwrap();
            shas.push((sha.clone(), next.clone()));
            current = next;
        }
        for (sha, bytes) in &shas {
            assert_eq!(&get_blob(&be, sha).unwrap(), bytes);
            assert!(blob_depth(&be, sha).unwrap() <= MAX_DELTA_DEPTH);
        }
        // Most were stored as deltas; some whole again when a chain got long.
        let deltas = shas
            .iter()
            .filter(|(s, _)| delta_path(dir.path(), s).is_file())
            .count();
        assert!((30..40).contains(&deltas), "{deltas}");
        // A tampered delta is caught by the hash of what it rebuilds.
        let (s, _) = shas
            .iter()
            .rev()
            .find(|(s, _)| delta_path(dir.path(), s).is_file())
            .unwrap();
        let p = delta_path(dir.path(), s);
        let mut raw = std::fs::read(&p).unwrap();
        let last = raw.len() - 2;
        raw[last] ^= 1;
        std::fs::remove_file(&p).unwrap();
        std::fs::write(&p, &raw).unwrap();
        assert!(
            get_blob(&be, s)
                .unwrap_err()
                .to_string()
                .contains("not to its name")
        );
    }

    #[test]
    fn appended_revisions_are_skip_deltas_never_stored_whole_again() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(BLOBS_DIR)).unwrap();
        let be = crate::registry::backend::dir::DirBackend::new(dir.path());
        const CLOSING: &[u8] = b"]}\n";
        let mut body: Vec<u8> = (0..5_000u32)
            .flat_map(|i| format!("{{\"id\": {i}}},\n").into_bytes())
            .collect();
        let doc = |body: &[u8]| [body, CLOSING].concat();
        let mut sha = put_blob(&be, &doc(&body)).unwrap();
        let mut revisions = vec![(sha.clone(), doc(&body))];
        let mut added = 0usize;
        for round in 0..300u32 {
            // What a fast claim does: the new records before the closing
            // bytes, spliced without the document's bytes.
            let add = format!("{{\"id\": \"new {round}\"}},\n").into_bytes();
            added += add.len();
            let cut = body.len() as u64;
            body.extend_from_slice(&add);
            let next = doc(&body);
            let next_sha = sha256_hex(&next);
            let depth = blob_depth(&be, &sha).unwrap();
            put_splice(&be, &next_sha, &sha, depth, cut, &add, CLOSING.len() as u64).unwrap();
            sha = next_sha;
            revisions.push((sha.clone(), next));
        }
        let mut delta_bytes = 0u64;
        for (i, (sha, bytes)) in revisions.iter().enumerate() {
            assert_eq!(&get_blob(&be, sha).unwrap(), bytes, "revision {i}");
            if i > 0 {
                // Revision i is i splices after the whole one: its chain is
                // its number of one bits long.
                assert_eq!(
                    blob_depth(&be, sha).unwrap(),
                    (i as u64).count_ones(),
                    "{i}"
                );
                assert!(!blob_path(dir.path(), sha).is_file(), "{i} stored whole");
                delta_bytes += std::fs::metadata(delta_path(dir.path(), sha))
                    .unwrap()
                    .len();
            }
        }
        // Each appended record is stored about log2(300) / 2 times, not the
        // document once every 16 revisions (5,000 records each time).
        let middles = delta_bytes as usize - 300 * 120;
        assert!(
            middles < added * 6,
            "{middles} bytes of middles for {added} appended"
        );
        // A lineage delta whose base is not a sha256 (a path outside the
        // blobs) is refused before any other file is read.
        let (head, _) = &revisions[revisions.len() - 1];
        let p = delta_path(dir.path(), head);
        let raw = std::fs::read(&p).unwrap();
        let end = raw.iter().position(|&c| c == b'\n').unwrap();
        let mut h: DeltaHeader = serde_json::from_slice(&raw[..end]).unwrap();
        let real_base = std::mem::replace(&mut h.base, "../../../outside".into());
        let forged = [serde_json::to_vec(&h).unwrap(), raw[end..].to_vec()].concat();
        std::fs::remove_file(&p).unwrap();
        std::fs::write(&p, &forged).unwrap();
        let err = put_splice(&be, &"e".repeat(64), head, 1, 0, b"x", 0).unwrap_err();
        assert!(err.to_string().contains("does not match its body"), "{err}");
        assert!(get_blob(&be, head).is_err());
        h.base = real_base;
        std::fs::remove_file(&p).unwrap();
        std::fs::write(
            &p,
            [serde_json::to_vec(&h).unwrap(), raw[end..].to_vec()].concat(),
        )
        .unwrap();
        // A lineage whose splice keeps a run of its base falls back to a
        // splice onto the parent, still read back exactly.
        let edited = [b"X".as_slice(), &revisions.last().unwrap().1[1..]].concat();
        let edited_sha =
            put_blob_from(&be, &edited, Some((&sha, &revisions.last().unwrap().1))).unwrap();
        assert_eq!(get_blob(&be, &edited_sha).unwrap(), edited);
    }

    #[test]
    fn a_revision_changed_at_its_head_and_further_down_is_stored_as_its_changes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(BLOBS_DIR)).unwrap();
        let be = crate::registry::backend::dir::DirBackend::new(dir.path());
        // As a claim changes registry.md: a header line at the top, a row
        // added at the end; and index.md: a row inserted in the middle.
        let rows: Vec<String> = (0..10_000u32)
            .map(|i| format!("| HF-{i:06} | packet |\n"))
            .collect();
        let base = format!("claims: 10\n{}", rows.concat()).into_bytes();
        let sha = put_blob(&be, &base).unwrap();
        let appended = format!("claims: 11\n{}| HF-010000 | new |\n", rows.concat()).into_bytes();
        let inserted = format!(
            "claims: 11\n{}| X |\n{}",
            rows[..5000].concat(),
            rows[5000..].concat()
        )
        .into_bytes();
        for next in [appended, inserted] {
            let next_sha = put_blob_from(&be, &next, Some((&sha, &base))).unwrap();
            let stored = std::fs::metadata(delta_path(dir.path(), &next_sha))
                .unwrap()
                .len();
            assert!(stored < 300, "stored {stored} bytes of {}", next.len());
            assert_eq!(get_blob(&be, &next_sha).unwrap(), next);
        }
    }

    #[test]
    fn a_kept_run_outside_its_base_or_middle_is_refused_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(BLOBS_DIR)).unwrap();
        let be = crate::registry::backend::dir::DirBackend::new(dir.path());
        let base = put_blob(&be, b"0123456789").unwrap();
        for (i, kept) in [
            r#"{"at":0,"from":8,"len":5}"#,
            r#"{"at":3,"from":0,"len":1}"#,
            r#"{"at":0,"from":18446744073709551615,"len":2}"#,
        ]
        .iter()
        .enumerate()
        {
            let header = format!(
                r#"{{"base":"{base}","depth":1,"kept":{kept},"middle":2,"prefix":1,"suffix":1}}"#
            );
            let name = format!("{:064x}", i + 1);
            let p = delta_path(dir.path(), &name);
            std::fs::write(&p, format!("{header}\nab")).unwrap();
            let e = get_blob(&be, &name).unwrap_err().to_string();
            assert!(e.contains("kept run reaches past"), "{kept}: {e}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_two_edits_of_a_blob_read_back_exactly(
            lines in 1usize..400,
            a in 0usize..400, alen in 0usize..30, ains in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
            b in 0usize..400, blen in 0usize..30, bins in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
        ) {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join(BLOBS_DIR)).unwrap();
            let be = crate::registry::backend::dir::DirBackend::new(dir.path());
            let base: Vec<u8> = (0..lines).flat_map(|i| format!("row {i} of the table\n").into_bytes()).collect();
            let mut next = base.clone();
            let (a, b) = (a * next.len() / 400, b * next.len() / 400);
            let (lo, hi) = (a.min(b), a.max(b));
            let hi_end = (hi + blen).min(next.len());
            next.splice(hi..hi_end, bins);
            let lo_end = (lo + alen).min(hi);
            next.splice(lo..lo_end, ains);
            let sha = put_blob(&be, &base).unwrap();
            let next_sha = put_blob_from(&be, &next, Some((&sha, &base))).unwrap();
            proptest::prop_assert_eq!(get_blob(&be, &next_sha).unwrap(), next);
        }

        #[test]
        fn two_splices_composed_make_what_applying_both_makes(
            base in proptest::collection::vec(proptest::num::u8::ANY, 0..60),
            p1 in 0usize..60, s1 in 0usize..60, m1 in proptest::collection::vec(proptest::num::u8::ANY, 0..30),
            p2 in 0usize..90, s2 in 0usize..90, m2 in proptest::collection::vec(proptest::num::u8::ANY, 0..30),
        ) {
            fn apply(b: &[u8], p: usize, m: &[u8], s: usize) -> Vec<u8> {
                [&b[..p], m, &b[b.len() - s..]].concat()
            }
            let p1 = p1.min(base.len());
            let s1 = s1.min(base.len() - p1);
            let mid = apply(&base, p1, &m1, s1);
            let p2 = p2.min(mid.len());
            let s2 = s2.min(mid.len() - p2);
            let want = apply(&mid, p2, &m2, s2);
            let composed = compose((p1 as u64, &m1, s1 as u64), (p2 as u64, &m2, s2 as u64));
            if let Some((p, m, s)) = composed {
                proptest::prop_assert!(p as usize + s as usize <= base.len());
                proptest::prop_assert_eq!(apply(&base, p as usize, &m, s as usize), want);
            } else {
                // Only when the outer splice keeps base bytes from between
                // the inner one's prefix and suffix.
                proptest::prop_assert!(p2 > p1 + m1.len() || s2 > s1 + m1.len());
            }
        }
    }

    #[test]
    fn blobs_are_named_by_their_hash_and_checked_on_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(BLOBS_DIR)).unwrap();
        let be = crate::registry::backend::dir::DirBackend::new(dir.path());
        let sha = put_blob(&be, b"hello").unwrap();
        assert_eq!(get_blob(&be, &sha).unwrap(), b"hello");
        assert_eq!(put_blob(&be, b"hello").unwrap(), sha);
        let p = blob_path(dir.path(), &sha);
        let mut perm = std::fs::metadata(&p).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o644);
        std::fs::set_permissions(&p, perm).unwrap();
        std::fs::write(&p, b"HELLO").unwrap();
        assert!(
            get_blob(&be, &sha)
                .unwrap_err()
                .to_string()
                .contains("not to its name")
        );
    }
}
