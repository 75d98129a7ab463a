//! Claims whose cost does not grow with the registry.
//!
//! A claim adds a staged claim and its records. Of the five documents, the
//! two records documents (`objects.json`, `objects.md`) are nearly all of a
//! large registry's bytes, and a claim only appends to them: new records go
//! after every existing one. So a claim here
//!
//! - reads only the log's last lines: the head state, back to the last
//!   claim, whose revisions (one above every earlier one) with those after
//!   it give the history's highest revisions (see `head_and_high_water`);
//! - reads, hashes and parses only the three small documents (the header:
//!   claims, canonical max, revisions), and refuses to go on unless each is
//!   exactly the head state's and the head is marked complete;
//! - knows the records documents are still the head state's without reading
//!   them, from the [cache](CACHE_FILE) the last write left beside the
//!   history: their sha256, their [fingerprint](Backend::fingerprint) (on a
//!   directory: inode, size, modification and status-change times, which
//!   any write changes; on PostgreSQL: the transaction ids that wrote its
//!   rows, see [`postgres`](super::backend::postgres)), the SHA-256 state after their bytes up to where the
//!   next records go (so the new sha256 is the old hash extended by the
//!   appended bytes) and the id numbers of the records (as runs);
//! - checks the four invariants over the header and those id numbers (the
//!   invariants depend on nothing else of a record), before and after, as
//!   runs of numbers ([`check_runs`]) when they are in order;
//! - requires the three small documents to be exactly what the header
//!   renders (with the record count of the cached runs and the per-packet
//!   record counts `index.md` gives), as the full way would write them, so
//!   that a document forged together with its pin is not carried on;
//! - changes them by splicing instead of rendering them again:
//!   `registry.json` gets the claim appended to its claims and its
//!   revisions and records pin after them, `registry.md` its summary and
//!   one row, `index.md` its revisions and the packet's row (a property
//!   test holds every splice to the full render);
//! - leaves a registry that fails check, before or after the claim, to the
//!   full way, which reads every record and words the refusal;
//! - commits as every write does (blobs, then the log line, then the
//!   documents, then the completion marker): the records documents' blobs
//!   are skip-delta splices of an earlier revision (the `n`-th after a
//!   whole one spliced onto revision `n & (n - 1)`; stored whole, from the document
//!   read and hashed, only when the parent's chain is at its limit), and the documents are appended to
//!   in place ([`Backend::append_at`]) instead of being rewritten. A kill in
//!   the middle of an append leaves a prefix of the committed bytes, which
//!   the next command completes (see [`store`](super::store));
//! - says ahead which reads it makes ([`Backend::read_ahead`]): its inputs
//!   at once, then every blob it looks at or stores and the bases a splice
//!   will walk (which the cache remembers as each blob's lineage), so on
//!   PostgreSQL a claim is a handful of round trips inside the writers'
//!   lock, and commits and lets the lock go in one ([`Backend::finish`]).
//!
//! The cache is only a shortcut: the record count of its runs is proven by
//! `registry.json` and the summary of `registry.md`. Whenever anything
//! does not match (no cache, a fingerprint
//! that changed, a document that is not the head's, an interrupted write, a
//! registry without records, a PostgreSQL registry made before its parts
//! table existed) the claim is made the full way: every
//! document read, hashed against the history and parsed, exactly as
//! before. `registry check`, `verify-history`, `fold`, `show` and every other
//! command always read and hash every byte, so bytes changed in a way that
//! kept the fingerprint (which takes changing the clock) are still reported
//! by the first of them, and so are lines of the history before those
//! read rewritten in place (the claim chains its line to the head's hash,
//! so the rewrite stays in the chain they check).

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::digest::common::hazmat::{SerializableState, SerializedState};
use sha2::{Digest, Sha256};

use super::backend::{self, Backend, ReadAhead};
use super::check::{check_numbers, check_runs};
use super::fold::{ClaimRequest, plan_claim_with};
use super::history::{
    self, COMPLETE_FILE, DocPin, Entry, LOG_FILE, Log, MAX_DELTA_DEPTH, Op, READ_LIMIT, append,
    blob_depth, blob_names, encode, put_blob, put_blob_hashed, put_splice,
};
use super::model::{
    Document, OBJECTS_JSON_CLOSING, Object, RecordLoad, Registry, Revisions, objects_json_appended,
    parse_registry_json, registry_json_bytes_counted, registry_json_claimed, to_canonical_bytes,
};
use super::render;
use super::store::{ClaimOutcome, Store, require_registry};
use crate::digest::sha256_hex;
use crate::error::{Error, Result};

/// A small document is appended to in place when a claim keeps at least
/// this many of its bytes (and half of them): below, writing it whole costs
/// less than cutting and appending (on PostgreSQL, five statements instead
/// of two).
const IN_PLACE_BYTES: usize = 64 << 10;

/// Where the claim cache lives (relative to the registry). Not a document
/// and not history: nothing is pinned to it, export leaves it out, and a
/// missing or wrong one only makes the next claim take the full way.
pub const CACHE_FILE: &str = "history/claim-cache.json";

/// What the cache knows of one records document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tail {
    /// [`Backend::fingerprint`] right after the write that left it.
    fingerprint: String,
    /// Its sha256 (the head state's pin).
    sha256: String,
    /// Its length.
    len: u64,
    /// Where the next records go: the bytes before are kept.
    cut: u64,
    /// The SHA-256 state after the first `cut` bytes, hex.
    midstate: String,
    /// Its blob's skip-delta lineage: the blob and the bases reading it
    /// visits, with their steps, nearest first (empty: not known). The next
    /// claim reads ahead the ones its splice will look at. Only a hint: a
    /// wrong one costs a read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    lineage: Vec<(String, u64)>,
}

impl Tail {
    /// The blobs a splice onto this document's blob will look at, by
    /// [`Tail::lineage`]: those of a step above the step it is spliced onto
    /// and that one (see [`history::put_splice`]); names only, at most a
    /// chain's length.
    fn lineage_hint(&self) -> Vec<&str> {
        let mut out = Vec::new();
        let Some(((own, step), bases)) = self.lineage.split_first() else {
            return out;
        };
        let Some(n) = step.checked_add(1).filter(|_| *own == self.sha256) else {
            return out;
        };
        let target = n & (n - 1);
        out.push(own.as_str());
        // As the splice walks: on to the next base while the step it is at
        // is above the target.
        let mut at = *step;
        for (sha, step) in bases.iter().take(MAX_DELTA_DEPTH as usize + 1) {
            if at <= target || !super::id::is_sha256_hex(sha) {
                break;
            }
            out.push(sha.as_str());
            at = *step;
        }
        out
    }

    /// The lineage of blob `sha`, spliced onto this document's blob as
    /// `spliced` says: it, then its base and the bases after, from what
    /// the splice looked at or this lineage, whichever reaches further.
    fn lineage_after(&self, sha: &str, spliced: Option<history::Spliced>) -> Vec<(String, u64)> {
        let Some(spliced) = spliced else {
            return Vec::new();
        };
        let Some((base, _)) = spliced.visited.last() else {
            return Vec::new();
        };
        let known = if self.lineage.len() > spliced.visited.len()
            && self.lineage.first() == spliced.visited.first()
        {
            &self.lineage
        } else {
            &spliced.visited
        };
        let mut out = vec![(sha.to_string(), spliced.step)];
        if let Some(at) = known.iter().position(|(s, _)| s == base) {
            out.extend(
                known[at..]
                    .iter()
                    .take(MAX_DELTA_DEPTH as usize + 1)
                    .cloned(),
            );
        }
        out
    }
}

/// The claim cache (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cache {
    objects_json: Tail,
    objects_md: Tail,
    /// Maximal runs of consecutive record id numbers, in document order.
    runs: Vec<(u64, u64)>,
}

fn midstate_hex(h: &Sha256) -> String {
    hex::encode(h.serialize().as_slice())
}

fn resume(hex_state: &str) -> Option<Sha256> {
    let raw = hex::decode(hex_state).ok()?;
    let state = SerializedState::<Sha256>::try_from(raw.as_slice()).ok()?;
    Sha256::deserialize(&state).ok()
}

/// The sha256 of `bytes` and the SHA-256 state after its first `cut` bytes.
fn hash_with_midstate(bytes: &[u8], cut: usize) -> (String, String) {
    let mut h = Sha256::new();
    h.update(&bytes[..cut]);
    let mid = midstate_hex(&h);
    h.update(&bytes[cut..]);
    (hex::encode(h.finalize()), mid)
}

/// Runs of consecutive numbers, in order.
fn runs_of(numbers: impl Iterator<Item = u64>) -> Vec<(u64, u64)> {
    extend_runs(Vec::new(), numbers)
}

/// How many numbers `runs` hold; `None` for a run that is empty or starts
/// at 0 (no id is 0), or a total past `u64` (only a forged cache has one).
fn runs_total(runs: &[(u64, u64)]) -> Option<u64> {
    runs.iter().try_fold(0u64, |total, &(a, z)| {
        if a == 0 || a > z {
            return None;
        }
        total.checked_add(z - a + 1)
    })
}

/// `runs` with `numbers` appended, in order: a number one past the last
/// run's end extends it, any other starts a run.
fn extend_runs(mut runs: Vec<(u64, u64)>, numbers: impl Iterator<Item = u64>) -> Vec<(u64, u64)> {
    for n in numbers {
        match runs.last_mut() {
            Some((_, last)) if last.checked_add(1) == Some(n) => *last = n,
            _ => runs.push((n, n)),
        }
    }
    runs
}

/// Writes the cache for the state whose documents are `docs` (indexed by
/// [`Document::index`]) and whose model is `reg` (every record loaded), just
/// written to `b`. Does nothing where the backend has no fingerprints or the
/// registry no records; a failure only costs the next claim its shortcut.
pub(crate) fn save_cache(b: &dyn Backend, reg: &Registry, docs: &[Vec<u8>]) {
    let _ = try_save_cache(b, reg, docs);
}

fn try_save_cache(b: &dyn Backend, reg: &Registry, docs: &[Vec<u8>]) -> Result<()> {
    if reg.objects.is_empty() {
        return remove_cache(b);
    }
    let oj = &docs[Document::ObjectsJson.index()];
    let om = &docs[Document::ObjectsMd.index()];
    if !oj.ends_with(OBJECTS_JSON_CLOSING) {
        return remove_cache(b);
    }
    let (Some(fj), Some(fm)) = (
        b.fingerprint(Document::ObjectsJson.name())?,
        b.fingerprint(Document::ObjectsMd.name())?,
    ) else {
        return Ok(());
    };
    let jcut = oj.len() - OBJECTS_JSON_CLOSING.len();
    let ((jsha, jmid), (msha, mmid)) = rayon::join(
        || hash_with_midstate(oj, jcut),
        || hash_with_midstate(om, om.len()),
    );
    let cache = Cache {
        objects_json: Tail {
            fingerprint: fj,
            sha256: jsha,
            len: oj.len() as u64,
            cut: jcut as u64,
            midstate: jmid,
            lineage: Vec::new(),
        },
        objects_md: Tail {
            fingerprint: fm,
            sha256: msha,
            len: om.len() as u64,
            cut: om.len() as u64,
            midstate: mmid,
            lineage: Vec::new(),
        },
        runs: runs_of(reg.objects.iter().map(|o| o.number)),
    };
    write_cache(b, &cache)?;
    // On PostgreSQL the write before has been committed: commit this too.
    b.durable()
}

fn write_cache(b: &dyn Backend, cache: &Cache) -> Result<()> {
    let bytes = serde_json::to_vec(cache)
        .map_err(|e| Error::failed(format!("internal: claim cache: {e}")))?;
    b.write(CACHE_FILE, &bytes, false)
}

fn remove_cache(b: &dyn Backend) -> Result<()> {
    if let Some(dir) = b.dir() {
        match std::fs::remove_file(dir.join(CACHE_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::io(dir.join(CACHE_FILE), e));
            }
            _ => {}
        }
    }
    Ok(())
}

fn read_cache(b: &dyn Backend) -> Option<Cache> {
    let bytes = b.read(CACHE_FILE, READ_LIMIT).ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// Claims the next free ids for `packet` in the registry at `location`:
/// the fast way when it applies (see the module docs), else by
/// [`Store::open`] and [`Store::claim`]. Either way the same ids, the same
/// documents byte for byte, the same history line and the same refusals.
pub fn claim(location: &Path, packet: &str, request: ClaimRequest) -> Result<ClaimOutcome> {
    claim_on(backend::open(location)?, packet, request)
}

/// [`claim`] on a backend already open: a process that makes many claims
/// (an agent, a service) keeps one connection to a PostgreSQL registry
/// instead of paying for a new one per claim.
pub fn claim_on(
    b: std::sync::Arc<dyn Backend>,
    packet: &str,
    request: ClaimRequest,
) -> Result<ClaimOutcome> {
    require_registry(&*b)?;
    {
        let _lock = b.lock()?;
        if let Some(outcome) = try_claim(&*b, packet, &request)? {
            return Ok(outcome);
        }
    }
    let mut store = Store::open_backend(b, RecordLoad::Full)?;
    store.claim(packet, request)
}

/// How many of the log's last lines a claim reads, at most, to find the
/// history's highest revisions (see [`head_and_high_water`]).
const LOOK_BACK: usize = 16;

/// The head state, its line's sha256 and the highest revision of each
/// document over the whole history, from the log's last lines only; `None`
/// (take the full way) when the last line is torn, a line does not parse or
/// chain, or no claim or first state is among them.
///
/// A claim takes a new revision of every document, one above the highest
/// ever ([`Revisions::bumped`] of the history's high water): so the high
/// water is the highest over the lines from the last claim (or the first
/// state) to the head, whatever folds, binds and rollbacks came after it.
fn head_and_high_water(b: &dyn Backend) -> Result<Option<(Entry, String, Revisions)>> {
    let Some(lines) = b.last_log_lines(LOOK_BACK)? else {
        return Ok(None);
    };
    let path = b.path(LOG_FILE);
    let mut tail = Log {
        entries: Vec::with_capacity(lines.len()),
        hashes: Vec::with_capacity(lines.len()),
    };
    for line in &lines {
        let Ok(entry) = history::parse_line(line, &path) else {
            return Ok(None);
        };
        if let (Some(before), Some(before_hash)) = (tail.head(), tail.head_hash())
            && (entry.seq != before.seq + 1 || entry.prev.as_deref() != Some(before_hash))
        {
            return Ok(None);
        }
        tail.hashes.push(sha256_hex(line));
        tail.entries.push(entry);
    }
    let Some(from) = tail
        .entries
        .iter()
        .rposition(|e| e.seq == 1 || matches!(e.op, Op::Claim { .. }))
    else {
        return Ok(None);
    };
    let since = Log {
        entries: tail.entries.split_off(from),
        hashes: tail.hashes.split_off(from),
    };
    let high = since.high_water();
    let (Some(head), Some(hash)) = (since.entries.last(), since.hashes.last()) else {
        return Ok(None);
    };
    Ok(Some((head.clone(), hash.clone(), high)))
}

/// The small documents, read and hashed in full.
const SMALL: [Document; 3] = [
    Document::RegistryJson,
    Document::RegistryMd,
    Document::IndexMd,
];

/// Whether the three small documents are exactly what `reg` (of `records`
/// records, objects.json sha256 `objects_sha256`) renders, as the full
/// way would write them, with the per-packet record counts `index.md`
/// gives (which only reading the records could prove, as the full way
/// does). Checked before a claim splices them, so every byte it keeps is
/// one the full way writes too, also where a forger changed a document
/// and its pin together.
fn renders_of(
    reg: &Registry,
    records: u64,
    objects_sha256: &str,
    small: &BTreeMap<Document, Vec<u8>>,
) -> Result<bool> {
    let (json, (md, index)) = rayon::join(
        || registry_json_bytes_counted(reg, records, objects_sha256),
        || {
            rayon::join(
                || render::registry_md_counted(reg, records, objects_sha256),
                || {
                    render::index_md_record_counts(&small[&Document::IndexMd]).map(|counts| {
                        render::index_md_counted(reg, counts.iter().map(|(k, v)| (k.as_str(), *v)))
                    })
                },
            )
        },
    );
    Ok(json? == small[&Document::RegistryJson]
        && md == small[&Document::RegistryMd]
        && index.as_ref() == Some(&small[&Document::IndexMd]))
}

/// The fast claim; `Ok(None)` when it does not apply and nothing was
/// written but content-addressed blobs (the caller makes the claim the full
/// way). An error is a refusal the full way gives too, or a failure while
/// committing.
fn try_claim(
    b: &dyn Backend,
    packet: &str,
    request: &ClaimRequest,
) -> Result<Option<ClaimOutcome>> {
    // Everything read below before the claim is planned, in one round trip
    // on PostgreSQL.
    b.read_ahead(&ReadAhead {
        read: &[
            CACHE_FILE,
            COMPLETE_FILE,
            Document::RegistryJson.name(),
            Document::RegistryMd.name(),
            Document::IndexMd.name(),
        ],
        // `registry.json` too: only so that an in-place append knows how
        // many parts it has (see `MERGE_AT_PARTS` of the PostgreSQL backend).
        fingerprints: &[
            Document::ObjectsJson.name(),
            Document::ObjectsMd.name(),
            Document::RegistryJson.name(),
        ],
        log_tail: LOOK_BACK,
        ..ReadAhead::default()
    })?;
    let Some(cache) = read_cache(b) else {
        return Ok(None);
    };
    for (d, t) in [
        (Document::ObjectsJson, &cache.objects_json),
        (Document::ObjectsMd, &cache.objects_md),
    ] {
        if b.fingerprint(d.name())?.as_deref() != Some(t.fingerprint.as_str()) {
            return Ok(None);
        }
    }
    b.remove_leftovers(false)?;
    let Some((head, head_hash, high_water)) = head_and_high_water(b)? else {
        return Ok(None);
    };
    let head_hash = head_hash.as_str();
    // Only a registry whose last write is complete: an interrupted one is
    // finished by the full way.
    if history::read_complete(b).ok().flatten().as_deref() != Some(head_hash) {
        return Ok(None);
    }
    if head.pin(Document::ObjectsJson) != cache.objects_json.sha256
        || head.pin(Document::ObjectsMd) != cache.objects_md.sha256
    {
        return Ok(None);
    }
    let mut small: BTreeMap<Document, Vec<u8>> = BTreeMap::new();
    for d in SMALL {
        let Some(bytes) = b.read(d.name(), READ_LIMIT).ok().flatten() else {
            return Ok(None);
        };
        small.insert(d, bytes);
    }
    // Hashed and parsed at once (a megabyte each on a large registry);
    // nothing parsed is used unless every document is the head's.
    let json_path = b.path(Document::RegistryJson.name());
    let (pinned, header) = rayon::join(
        || {
            SMALL
                .par_iter()
                .all(|d| sha256_hex(&small[d]) == head.pin(*d))
        },
        || parse_registry_json(&small[&Document::RegistryJson], &json_path),
    );
    let (true, Ok(header)) = (pinned, header) else {
        return Ok(None);
    };
    // The cache's runs, bounded by the count the header pins before they
    // are ever expanded.
    let Some(total) = runs_total(&cache.runs) else {
        return Ok(None);
    };
    if header.revisions != head.revisions()
        || header.objects_file.sha256 != cache.objects_json.sha256
        || header.objects_file.count != total
        || total == 0
    {
        return Ok(None);
    }
    let reg = Registry {
        format: header.format,
        canonical_max: header.canonical_max,
        claims: header.claims,
        objects: Vec::new(),
        revisions: header.revisions,
    };
    if !renders_of(&reg, total, &cache.objects_json.sha256, &small)? {
        return Ok(None);
    }
    // The records' numbers as runs, checked without expanding them when
    // they are in order (as claims leave them), else one by one.
    let check_present = |claims: &[super::model::Claim], present: &[(u64, u64)]| {
        check_runs(&reg.format, reg.canonical_max, claims, present).unwrap_or_else(|| {
            let numbers = present.iter().flat_map(|&(a, z)| a..=z).collect();
            check_numbers(&reg.format, reg.canonical_max, claims, numbers)
        })
    };
    // A registry that fails check (or a cache whose runs say so) is left
    // to the full way, which reads every record and words the refusal.
    let before_report = check_present(&reg.claims, &cache.runs);
    if !before_report.passes() {
        return Ok(None);
    }
    let plan = plan_claim_with(&reg, packet, request.clone(), || before_report)?;
    let mut next = Registry {
        format: reg.format.clone(),
        canonical_max: reg.canonical_max,
        claims: reg.claims.clone(),
        objects: Vec::new(),
        revisions: high_water.bumped(),
    };
    next.claims.push(plan.claim.clone());
    let records: Vec<Object> = plan.records;
    let runs = extend_runs(cache.runs.clone(), records.iter().map(|o| o.number));
    if !check_present(&next.claims, &runs).passes() {
        return Ok(None);
    }
    let (Some(json_add), Some(md_add)) = (
        objects_json_appended(&next.format, &records)?,
        render::objects_md_appended(&next.format, &records),
    ) else {
        return Ok(None);
    };
    let (jt, mt) = (&cache.objects_json, &cache.objects_md);
    let (Some(mut jh), Some(mut mh)) = (resume(&jt.midstate), resume(&mt.midstate)) else {
        return Ok(None);
    };
    if jt.cut + OBJECTS_JSON_CLOSING.len() as u64 != jt.len || mt.cut != mt.len {
        return Ok(None);
    }
    let body = &json_add[..json_add.len() - OBJECTS_JSON_CLOSING.len()];
    jh.update(body);
    let jmid = midstate_hex(&jh);
    jh.update(OBJECTS_JSON_CLOSING);
    let json_sha = hex::encode(jh.finalize());
    mh.update(&md_add);
    let mmid = midstate_hex(&mh);
    let md_sha = hex::encode(mh.finalize());

    let n_after = total + records.len() as u64;
    // The small documents are spliced, not rendered again: they are the
    // state before's renders (above), and a splice of a render is the
    // render of the state after (property-tested).
    let before = (&reg, total, cache.objects_json.sha256.as_str());
    let after = (&next, n_after, json_sha.as_str());
    let (Some(json), Some(md), Some(index)) = (
        registry_json_claimed(&small[&Document::RegistryJson], before, after)?,
        render::registry_md_claimed(&small[&Document::RegistryMd], before, after),
        render::index_md_claimed(
            &small[&Document::IndexMd],
            &reg,
            (&next, packet, records.len() as u64),
        ),
    ) else {
        return Ok(None);
    };
    let new_small: BTreeMap<Document, Vec<u8>> = [
        (Document::RegistryJson, json),
        (Document::RegistryMd, md),
        (Document::IndexMd, index),
    ]
    .into();

    let records_blob = match request {
        ClaimRequest::Records(r) => Some(to_canonical_bytes(r)?),
        ClaimRequest::Count(_) => None,
    };
    let new_small_sha: BTreeMap<Document, String> = SMALL
        .par_iter()
        .map(|&d| (d, sha256_hex(&new_small[&d])))
        .collect();
    // Every blob looked at below, and the bases a splice will walk (as the
    // cache remembers them), in one round trip on PostgreSQL: a splice's
    // bytes are read, a whole blob (maybe the registry's size) is only
    // asked whether it is there.
    let records_sha = records_blob.as_deref().map(sha256_hex);
    let (whole, deltas): (Vec<String>, Vec<String>) =
        [jt.sha256.as_str(), mt.sha256.as_str(), &json_sha, &md_sha]
            .into_iter()
            .chain(SMALL.iter().map(|&d| head.pin(d)))
            .chain(new_small_sha.values().map(String::as_str))
            .chain(records_sha.as_deref())
            .chain(jt.lineage_hint())
            .chain(mt.lineage_hint())
            .map(blob_names)
            .unzip();
    let (whole, deltas): (Vec<&str>, Vec<&str>) = (
        whole.iter().map(String::as_str).collect(),
        deltas.iter().map(String::as_str).collect(),
    );
    b.read_ahead(&ReadAhead {
        read: &deltas,
        exists: &whole,
        ..ReadAhead::default()
    })?;

    // Blobs: content-addressed, so writing them changes nothing visible.
    let (Some(jdepth), Some(mdepth)) = (blob_depth(b, &jt.sha256), blob_depth(b, &mt.sha256))
    else {
        return Ok(None);
    };
    // A chain of splices at its limit: this revision is stored whole, from
    // the document as it is (hashed, so it must be the head's).
    let whole = |d: Document, t: &Tail, depth: u32, add: &[u8]| -> Option<Vec<u8>> {
        if depth < MAX_DELTA_DEPTH {
            return None;
        }
        let mut bytes = b.read(d.name(), READ_LIMIT).ok().flatten()?;
        if sha256_hex(&bytes) != t.sha256 || bytes.len() as u64 != t.len {
            return Some(Vec::new());
        }
        bytes.truncate(t.cut as usize);
        bytes.extend_from_slice(add);
        Some(bytes)
    };
    let jwhole = whole(Document::ObjectsJson, jt, jdepth, &json_add);
    let mwhole = whole(Document::ObjectsMd, mt, mdepth, &md_add);
    if jwhole.as_ref().is_some_and(Vec::is_empty) || mwhole.as_ref().is_some_and(Vec::is_empty) {
        // Not the head's bytes after all: the full way reports it.
        return Ok(None);
    }
    if let Some(r) = &records_blob {
        put_blob(b, r)?;
    }
    let stored_whole = |bytes: &[u8], want: &str| -> Result<()> {
        let sha = put_blob(b, bytes)?;
        if sha != want {
            return Err(Error::failed(format!(
                "internal: a records document extended to {sha}, its hash was extended to {want}; nothing committed"
            )));
        }
        Ok(())
    };
    // A records document's new blob (whole, or spliced onto the head's),
    // and its lineage for the next claim to read ahead. `t.cut` is where
    // the new records go in both documents (checked above).
    let store_records = |t: &Tail,
                         whole: &Option<Vec<u8>>,
                         sha: &str,
                         depth: u32,
                         middle: &[u8],
                         suffix: u64|
     -> Result<Vec<(String, u64)>> {
        if let Some(bytes) = whole {
            stored_whole(bytes, sha)?;
            return Ok(vec![(sha.to_string(), 0)]);
        }
        let spliced = put_splice(b, sha, &t.sha256, depth, t.cut, middle, suffix)?;
        Ok(t.lineage_after(sha, spliced))
    };
    let closing = OBJECTS_JSON_CLOSING.len() as u64;
    let jlineage = store_records(jt, &jwhole, &json_sha, jdepth, body, closing)?;
    let mlineage = store_records(mt, &mwhole, &md_sha, mdepth, &md_add, 0)?;
    let mut documents = head.documents.clone();
    for d in SMALL {
        let sha = put_blob_hashed(
            b,
            &new_small[&d],
            new_small_sha[&d].clone(),
            Some((head.pin(d), &small[&d])),
        )?;
        documents.insert(
            d.name().to_string(),
            DocPin {
                revision: next.revisions.get(d),
                sha256: sha,
            },
        );
    }
    for (d, sha) in [
        (Document::ObjectsJson, &json_sha),
        (Document::ObjectsMd, &md_sha),
    ] {
        documents.insert(
            d.name().to_string(),
            DocPin {
                revision: next.revisions.get(d),
                sha256: sha.clone(),
            },
        );
    }
    let f = &next.format;
    let (first, last) = (plan.claim.first, plan.claim.last);
    let entry = Entry {
        documents,
        op: Op::Claim {
            packet: packet.to_string(),
            first: f.format(first),
            last: f.format(last),
            count: last - first + 1,
            records_sha256: records_blob.as_deref().map(sha256_hex),
        },
        prev: Some(head_hash.to_string()),
        seq: head.seq + 1,
    };
    let line = encode(&entry)?;
    // The commit point.
    append(b, &line)?;
    for d in SMALL {
        // A large document whose first half or more is kept
        // (`registry.json`: the claims before this one) is cut and appended
        // to in place, as the records documents are: on PostgreSQL only the
        // bytes after what is kept are sent and stored. A kill in the
        // middle leaves a prefix of the new bytes, which recovery completes.
        let (old, new) = (&small[&d], &new_small[&d]);
        let keep = history::common_prefix(old, new);
        if keep >= IN_PLACE_BYTES && keep >= old.len() / 2 {
            b.append_at(d.name(), keep as u64, &new[keep..])?;
        } else {
            b.write(d.name(), new, false)?;
        }
    }
    b.append_at(Document::ObjectsJson.name(), jt.cut, &json_add)?;
    b.append_at(Document::ObjectsMd.name(), mt.len, &md_add)?;

    // The cache for the next claim, before the write is marked complete
    // (on PostgreSQL inside the same transaction): a kill before the marker
    // leaves an interrupted write, which no fast claim touches.
    let jlen = jt.len + json_add.len() as u64 - OBJECTS_JSON_CLOSING.len() as u64;
    let mlen = mt.len + md_add.len() as u64;
    let prints = b
        .fingerprints(&[Document::ObjectsJson.name(), Document::ObjectsMd.name()])
        .unwrap_or_default();
    if let [Some(fj), Some(fm)] = prints.as_slice() {
        let (fj, fm) = (fj.clone(), fm.clone());
        let next_cache = Cache {
            objects_json: Tail {
                fingerprint: fj,
                sha256: json_sha,
                len: jlen,
                cut: jlen - OBJECTS_JSON_CLOSING.len() as u64,
                midstate: jmid,
                lineage: jlineage,
            },
            objects_md: Tail {
                fingerprint: fm,
                sha256: md_sha,
                len: mlen,
                cut: mlen,
                midstate: mmid,
                lineage: mlineage,
            },
            runs,
        };
        // A claim that could not leave its cache is still made.
        let _ = write_cache(b, &next_cache);
    }
    history::mark_complete(b, &sha256_hex(&line))?;
    b.finish()?;
    Ok(Some(ClaimOutcome {
        packet: packet.to_string(),
        first_id: f.format(first),
        last_id: f.format(last),
        count: last - first + 1,
        state: head.seq + 1,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_hash_equals_the_hash_of_the_whole() {
        let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        for cut in [0, 1, 63, 64, 65, 500, 999, 1000] {
            let (sha, mid) = hash_with_midstate(&bytes, cut);
            assert_eq!(sha, sha256_hex(&bytes));
            let mut h = resume(&mid).unwrap();
            h.update(&bytes[cut..]);
            assert_eq!(hex::encode(h.finalize()), sha, "cut {cut}");
        }
        assert!(resume("00").is_none());
        assert!(resume("zz").is_none());
    }

    #[test]
    fn a_forged_run_has_no_total() {
        assert_eq!(runs_total(&[(1, 3), (5, 5)]), Some(4));
        assert_eq!(runs_total(&[]), Some(0));
        assert_eq!(runs_total(&[(5, 3)]), None, "reversed");
        assert_eq!(runs_total(&[(0, 3)]), None, "id 0");
        assert_eq!(runs_total(&[(1, u64::MAX), (1, 1)]), None, "past u64");
        assert_eq!(runs_total(&[(1, u64::MAX)]), Some(u64::MAX));
    }

    #[test]
    fn runs_merge_consecutive_numbers_only() {
        assert_eq!(
            runs_of([1, 2, 3, 5, 6, 9].into_iter()),
            vec![(1, 3), (5, 6), (9, 9)]
        );
        assert_eq!(runs_of([4, 4].into_iter()), vec![(4, 4), (4, 4)]);
        assert!(runs_of(std::iter::empty()).is_empty());
    }
}
