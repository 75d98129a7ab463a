//! The registry model and its JSON forms.
//!
//! In memory a registry is a [`Registry`]: id format, canonical max, claims,
//! object records and the revision of each document. On disk it is split in
//! two JSON documents so that a fold, which never touches the objects, never
//! rewrites them either: `registry.json` (everything but the records, plus the
//! sha256 and count of `objects.json`) and `objects.json` (the canonical JSON
//! of the `objects[]` array). The import format ([`RegistryFile`]) is the
//! single-file form with `objects[]` inline; `registry show --json --objects`
//! prints the same form, so an export imports again unchanged.

use std::path::Path;

use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::id::{IdFormat, is_sha256_hex};
use crate::canonical;
use crate::digest::sha256_hex;
use crate::error::{Error, Result};

/// The value of the `format` key of `registry.json` and of an export.
pub const FORMAT: &str = "holdfast-registry/1";

/// Largest number of ids one claim may take (keeps one command's memory bounded).
pub const MAX_CLAIM: u64 = 10_000_000;

/// One registry document: a file in the registry directory that a write may
/// change, that is pinned by sha256 and that carries a revision number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Document {
    /// `index.md`: the documents and packets the registry knows.
    IndexMd,
    /// `objects.json`: canonical JSON of the `objects[]` array.
    ObjectsJson,
    /// `objects.md`: the object records as a table.
    ObjectsMd,
    /// `registry.json`: id format, canonical max, claims, revisions.
    RegistryJson,
    /// `registry.md`: the readable summary and the claims table.
    RegistryMd,
}

/// Every document, sorted by file name (the order of pins and patches).
pub const DOCUMENTS: [Document; 5] = [
    Document::IndexMd,
    Document::ObjectsJson,
    Document::ObjectsMd,
    Document::RegistryJson,
    Document::RegistryMd,
];

impl Document {
    /// File name, relative to the registry directory.
    pub fn name(self) -> &'static str {
        match self {
            Document::IndexMd => "index.md",
            Document::ObjectsJson => "objects.json",
            Document::ObjectsMd => "objects.md",
            Document::RegistryJson => "registry.json",
            Document::RegistryMd => "registry.md",
        }
    }

    /// The document called `name`, if any.
    pub fn from_name(name: &str) -> Option<Document> {
        DOCUMENTS.into_iter().find(|d| d.name() == name)
    }

    /// Position in [`DOCUMENTS`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The revision number of each document. A revision number names exactly
/// one content of its document, forever (see the store's revision rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Revisions {
    /// Revision of `index.md`.
    #[serde(rename = "index.md")]
    pub index_md: u64,
    /// Revision of `objects.json`.
    #[serde(rename = "objects.json")]
    pub objects_json: u64,
    /// Revision of `objects.md`.
    #[serde(rename = "objects.md")]
    pub objects_md: u64,
    /// Revision of `registry.json`.
    #[serde(rename = "registry.json")]
    pub registry_json: u64,
    /// Revision of `registry.md`.
    #[serde(rename = "registry.md")]
    pub registry_md: u64,
}

impl Revisions {
    /// The revision of `doc`.
    pub fn get(&self, doc: Document) -> u64 {
        match doc {
            Document::IndexMd => self.index_md,
            Document::ObjectsJson => self.objects_json,
            Document::ObjectsMd => self.objects_md,
            Document::RegistryJson => self.registry_json,
            Document::RegistryMd => self.registry_md,
        }
    }

    /// Sets the revision of `doc`.
    pub fn set(&mut self, doc: Document, rev: u64) {
        match doc {
            Document::IndexMd => self.index_md = rev,
            Document::ObjectsJson => self.objects_json = rev,
            Document::ObjectsMd => self.objects_md = rev,
            Document::RegistryJson => self.registry_json = rev,
            Document::RegistryMd => self.registry_md = rev,
        }
    }

    /// Every document at revision `rev`.
    pub fn all(rev: u64) -> Self {
        Revisions {
            index_md: rev,
            objects_json: rev,
            objects_md: rev,
            registry_json: rev,
            registry_md: rev,
        }
    }

    /// Each revision plus one (what every document gets when all change).
    pub fn bumped(&self) -> Self {
        let mut out = *self;
        for d in DOCUMENTS {
            out.set(d, self.get(d).saturating_add(1));
        }
        out
    }
}

/// The state of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClaimState {
    /// Taken by a packet, not yet canonical.
    Staged,
    /// Made canonical by a fold.
    Folded,
}

impl ClaimState {
    /// The lowercase word used in JSON and tables.
    pub fn word(self) -> &'static str {
        match self {
            ClaimState::Staged => "staged",
            ClaimState::Folded => "folded",
        }
    }
}

/// A packet's contiguous range of ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Claim {
    /// The packet that took the ids.
    pub packet: String,
    /// First id number of the range.
    pub first: u64,
    /// Last id number of the range (inclusive).
    pub last: u64,
    /// Staged or folded.
    pub state: ClaimState,
}

/// One object record: what an issued id stands for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Object {
    /// The id number.
    pub number: u64,
    /// What kind of object (e.g. `evidence`, `script`; `reserved` for a bare `--count` claim).
    pub kind: String,
    /// A human title (may be empty).
    pub title: String,
    /// The packet the id was issued to.
    pub packet: String,
    /// Path of the object inside its packet (may be empty for a reserved id).
    pub path: String,
    /// sha256 of the object's bytes (empty for a reserved id).
    pub sha256: String,
}

/// The whole registry, in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    /// How ids are spelled.
    pub format: IdFormat,
    /// The canonical body is ids `1..=canonical_max` (0: empty).
    pub canonical_max: u64,
    /// Every claim, in the order they were taken.
    pub claims: Vec<Claim>,
    /// Every object record, sorted by id number.
    pub objects: Vec<Object>,
    /// The revision each document has in this state.
    pub revisions: Revisions,
}

impl Registry {
    /// An empty registry: no ids, no claims, every document at revision 1.
    pub fn empty(format: IdFormat) -> Self {
        Registry {
            format,
            canonical_max: 0,
            claims: Vec::new(),
            objects: Vec::new(),
            revisions: Revisions::all(1),
        }
    }

    /// One past the highest id issued, claimed or canonical: the id the next claim starts at.
    pub fn next_free(&self) -> u64 {
        let top_object = self.objects.iter().map(|o| o.number).max().unwrap_or(0);
        let top_claim = self.claims.iter().map(|c| c.last).max().unwrap_or(0);
        self.canonical_max
            .max(top_object)
            .max(top_claim)
            .saturating_add(1)
    }
}

// ---------------------------------------------------------------------------
// JSON forms
// ---------------------------------------------------------------------------

/// A claim as JSON: ids spelled out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimDoc {
    /// First id of the range, e.g. `TKT-OBJ-442`.
    pub first: String,
    /// Last id of the range (inclusive), e.g. `TKT-OBJ-461`.
    pub last: String,
    /// The packet that took the ids.
    pub packet: String,
    /// `staged` or `folded`.
    pub state: ClaimState,
}

/// An object record as JSON. Field order is the sorted key order, so the
/// fast writer ([`to_canonical_bytes`]) produces canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectDoc {
    /// The id, e.g. `TKT-OBJ-007`.
    pub id: String,
    /// What kind of object.
    pub kind: String,
    /// The packet the id was issued to.
    pub packet: String,
    /// Path of the object inside its packet.
    pub path: String,
    /// sha256 of the object's bytes (64 lowercase hex), or empty for a reserved id.
    pub sha256: String,
    /// A human title.
    pub title: String,
}

/// Where `registry.json` says the records are, so the two files cannot be
/// paired wrongly without it showing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectsRef {
    /// Number of records in the file.
    pub count: u64,
    /// The file, relative to the registry directory (always `objects.json`).
    pub file: String,
    /// sha256 of the file's bytes, which is the sha256 of the canonical JSON of `objects[]`.
    pub sha256: String,
}

/// `registry.json`: the registry without its records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryDoc {
    /// The canonical body is ids 1..=canonical_max.
    pub canonical_max: u64,
    /// Every claim.
    pub claims: Vec<ClaimDoc>,
    /// The revision of each document in this state.
    pub document_revisions: Revisions,
    /// Always `holdfast-registry/1`.
    pub format: String,
    /// Id prefix, e.g. `TKT-OBJ`.
    pub id_prefix: String,
    /// Digits per id, e.g. 3.
    pub id_width: u32,
    /// The records file and its pin.
    pub objects_file: ObjectsRef,
}

/// Document revisions as an import file gives them: the three documents a
/// hand-kept registry has are required; the two records documents default to
/// the revisions of the documents they were split from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRevisions {
    /// Revision of `index.md`.
    #[serde(rename = "index.md")]
    pub index_md: u64,
    /// Revision of `objects.json` (default: that of `registry.json`).
    #[serde(
        rename = "objects.json",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub objects_json: Option<u64>,
    /// Revision of `objects.md` (default: that of `registry.md`).
    #[serde(
        rename = "objects.md",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub objects_md: Option<u64>,
    /// Revision of `registry.json`.
    #[serde(rename = "registry.json")]
    pub registry_json: u64,
    /// Revision of `registry.md`.
    #[serde(rename = "registry.md")]
    pub registry_md: u64,
}

impl From<Revisions> for ImportRevisions {
    fn from(r: Revisions) -> Self {
        ImportRevisions {
            index_md: r.index_md,
            objects_json: Some(r.objects_json),
            objects_md: Some(r.objects_md),
            registry_json: r.registry_json,
            registry_md: r.registry_md,
        }
    }
}

/// The single-file registry: what `registry import` reads and what
/// `registry show --json --objects` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryFile {
    /// The canonical body is ids 1..=canonical_max.
    pub canonical_max: u64,
    /// Every claim (a packet's contiguous range, staged or folded).
    pub claims: Vec<ClaimDoc>,
    /// The revision of each document, as the registry being moved had them.
    pub document_revisions: ImportRevisions,
    /// `holdfast-registry/1` when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Id prefix, e.g. `TKT-OBJ`.
    pub id_prefix: String,
    /// Digits per id, e.g. 3.
    pub id_width: u32,
    /// One record per issued id.
    pub objects: Vec<ObjectDoc>,
}

/// A record given to `registry claim --ids FILE` (one per id, in id order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRecord {
    /// What kind of object.
    pub kind: String,
    /// A human title.
    pub title: String,
    /// Path of the object inside its packet.
    pub path: String,
    /// sha256 of the object's bytes (64 lowercase hex).
    pub sha256: String,
}

/// Serializes `value` as canonical JSON without building a `serde_json::Value`
/// first (which for a million records costs more than the records).
///
/// Only valid for types whose struct fields are declared in sorted key order
/// and whose maps iterate sorted (`BTreeMap`); every type passed here is, and
/// a property test compares this writer with [`canonical::to_bytes`].
pub fn to_canonical_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(4096);
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"  ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    value
        .serialize(&mut ser)
        .map_err(|e| Error::failed(format!("internal: value is not representable as JSON: {e}")))?;
    out.push(b'\n');
    Ok(out)
}

// ---------------------------------------------------------------------------
// Validation: every field of every input, named by its key path.
// ---------------------------------------------------------------------------

// Validators return the problem without the key; callers add the key only
// when there is a problem (a million records must not cost a million
// formatted key names).

fn check_text(value: &str, max: usize, allow_empty: bool) -> Result<(), String> {
    if !allow_empty && value.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if value.len() > max {
        return Err(format!("{} bytes, over the limit of {max}", value.len()));
    }
    // The rendered documents show these texts (objects.md, index.md): a
    // line break, a bidirectional control or an invisible character would
    // make them read otherwise than their bytes (see model::text).
    if let Some((c, what)) = crate::model::text::hidden_char(value) {
        return Err(format!("contains {what} {c:?} (U+{:04X})", c as u32));
    }
    Ok(())
}

fn check_path(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    crate::model::path::RelPath::parse(value).map_err(|e| {
        format!(
            "{}: {e} (a relative path with '/' separators)",
            value.escape_debug()
        )
    })?;
    check_text(value, 4096, true)
}

fn check_sha(value: &str, allow_empty: bool) -> Result<(), String> {
    if (allow_empty && value.is_empty()) || is_sha256_hex(value) {
        return Ok(());
    }
    Err(format!(
        "{value:?} is not a sha256 (64 lowercase hex digits){}",
        if allow_empty { " or empty" } else { "" }
    ))
}

/// Checks a packet name (claims and records carry one); `key` names it in errors.
pub fn check_packet_name(key: &str, value: &str) -> Result<(), String> {
    packet_name_problem(value).map_err(|e| format!("{key}: {e}"))
}

/// What is wrong with `value` as a packet name, without naming where it
/// stands (a caller that names it only on an error builds the key then).
fn packet_name_problem(value: &str) -> Result<(), String> {
    check_text(value, 200, false)
}

/// Converts and validates one record; `key` names it in errors (`objects[3]`).
pub fn object_from_doc(
    fmt: &IdFormat,
    key: impl Fn() -> String,
    d: ObjectDoc,
) -> Result<Object, String> {
    let at = |field: &str, e: String| format!("{}.{field}: {e}", key());
    let number = fmt.parse(&d.id).map_err(|e| at("id", e))?;
    check_text(&d.kind, 200, false).map_err(|e| at("kind", e))?;
    check_text(&d.title, 1000, true).map_err(|e| at("title", e))?;
    check_text(&d.packet, 200, false).map_err(|e| at("packet", e))?;
    check_path(&d.path).map_err(|e| at("path", e))?;
    check_sha(&d.sha256, true).map_err(|e| at("sha256", e))?;
    Ok(Object {
        number,
        kind: d.kind,
        title: d.title,
        packet: d.packet,
        path: d.path,
        sha256: d.sha256,
    })
}

/// Validates a record given to `claim --ids`; `key` names it in errors.
pub fn check_new_record(key: &str, r: &NewRecord) -> Result<(), String> {
    let at = |field: &str, e: String| format!("{key}.{field}: {e}");
    check_text(&r.kind, 200, false).map_err(|e| at("kind", e))?;
    check_text(&r.title, 1000, true).map_err(|e| at("title", e))?;
    check_path(&r.path).map_err(|e| at("path", e))?;
    check_sha(&r.sha256, false).map_err(|e| at("sha256", e))
}

/// Converts and validates one claim; `key` names it in errors
/// (`claims[3]`), built only for an error (a large registry has tens of
/// thousands of claims, parsed on every claim).
fn claim_from_doc(fmt: &IdFormat, key: impl Fn() -> String, d: ClaimDoc) -> Result<Claim, String> {
    let first = fmt
        .parse(&d.first)
        .map_err(|e| format!("{}.first: {e}", key()))?;
    let last = fmt
        .parse(&d.last)
        .map_err(|e| format!("{}.last: {e}", key()))?;
    if first > last {
        return Err(format!(
            "{}: first {} is after last {}",
            key(),
            d.first,
            d.last
        ));
    }
    packet_name_problem(&d.packet).map_err(|e| format!("{}.packet: {e}", key()))?;
    Ok(Claim {
        packet: d.packet,
        first,
        last,
        state: d.state,
    })
}

fn check_revisions(r: &Revisions) -> Result<(), String> {
    for d in DOCUMENTS {
        if r.get(d) == 0 {
            return Err(format!(
                "document_revisions.{}: revisions start at 1",
                d.name()
            ));
        }
    }
    Ok(())
}

fn format_of(prefix: &str, width: u32) -> Result<IdFormat, String> {
    IdFormat::new(prefix, width).map_err(|e| format!("id_prefix/id_width: {e}"))
}

fn check_canonical_max(fmt: &IdFormat, canonical_max: u64) -> Result<(), String> {
    if canonical_max > fmt.max_number() {
        return Err(format!(
            "canonical_max: {canonical_max} is beyond width {} (highest id {})",
            fmt.width(),
            fmt.format(fmt.max_number())
        ));
    }
    Ok(())
}

fn claims_from_docs(fmt: &IdFormat, docs: Vec<ClaimDoc>) -> Result<Vec<Claim>, String> {
    docs.into_iter()
        .enumerate()
        .map(|(i, c)| claim_from_doc(fmt, || format!("claims[{i}]"), c))
        .collect()
}

fn objects_from_docs(fmt: &IdFormat, docs: Vec<ObjectDoc>) -> Result<Vec<Object>, String> {
    // Records are independent, so they are converted in parallel; on a
    // failure the error reported is the one of the lowest index, whatever
    // thread saw a problem first.
    let converted: Vec<Result<Object, String>> = docs
        .into_par_iter()
        .enumerate()
        .map(|(i, o)| object_from_doc(fmt, || format!("objects[{i}]"), o))
        .collect();
    let mut objects = Vec::with_capacity(converted.len());
    for r in converted {
        objects.push(r?);
    }
    // Stable: duplicates keep their order, so `check` reports them as given.
    objects.sort_by_key(|o| o.number);
    Ok(objects)
}

/// Parses and validates an import file (strict JSON: duplicate keys refused).
/// Objects are sorted by id number; everything else is kept as given.
pub fn parse_import(bytes: &[u8], path: &Path) -> Result<Registry> {
    let file: RegistryFile = canonical::from_slice_strict(bytes, path)?;
    let bad = |what: String| Error::malformed(path, what);
    if let Some(f) = &file.format
        && f != FORMAT
    {
        return Err(bad(format!("format: {f:?}, expected {FORMAT:?}")));
    }
    let fmt = format_of(&file.id_prefix, file.id_width).map_err(bad)?;
    check_canonical_max(&fmt, file.canonical_max).map_err(bad)?;
    let r = file.document_revisions;
    let revisions = Revisions {
        index_md: r.index_md,
        objects_json: r.objects_json.unwrap_or(r.registry_json),
        objects_md: r.objects_md.unwrap_or(r.registry_md),
        registry_json: r.registry_json,
        registry_md: r.registry_md,
    };
    check_revisions(&revisions).map_err(bad)?;
    let claims = claims_from_docs(&fmt, file.claims).map_err(bad)?;
    let objects = objects_from_docs(&fmt, file.objects).map_err(bad)?;
    Ok(Registry {
        format: fmt,
        canonical_max: file.canonical_max,
        claims,
        objects,
        revisions,
    })
}

/// The parsed `registry.json`, before its records are attached.
#[derive(Debug, Clone)]
pub struct Header {
    /// Id format.
    pub format: IdFormat,
    /// Canonical max.
    pub canonical_max: u64,
    /// Claims.
    pub claims: Vec<Claim>,
    /// Document revisions.
    pub revisions: Revisions,
    /// The pin of `objects.json` the header was written with.
    pub objects_file: ObjectsRef,
}

/// Parses `registry.json` (strict: duplicate and unknown keys refused).
pub fn parse_registry_json(bytes: &[u8], path: &Path) -> Result<Header> {
    // Straight into the typed document: every struct in it refuses unknown
    // and duplicate keys as the strict parser does, several times faster
    // than through a `serde_json::Value` (the claims of a large registry
    // are a megabyte). A refusal is given in the strict parser's words.
    let doc: RegistryDoc = match serde_json::from_slice(bytes) {
        Ok(doc) => doc,
        Err(typed) => {
            canonical::from_slice_strict::<RegistryDoc>(bytes, path)?;
            return Err(Error::malformed(path, format!("{typed}")));
        }
    };
    let bad = |what: String| Error::malformed(path, what);
    if doc.format != FORMAT {
        return Err(bad(format!(
            "format: {:?}, expected {FORMAT:?}",
            doc.format
        )));
    }
    let fmt = format_of(&doc.id_prefix, doc.id_width).map_err(bad)?;
    check_canonical_max(&fmt, doc.canonical_max).map_err(bad)?;
    check_revisions(&doc.document_revisions).map_err(bad)?;
    if doc.objects_file.file != Document::ObjectsJson.name()
        || !is_sha256_hex(&doc.objects_file.sha256)
    {
        return Err(bad(format!(
            "objects_file: expected file \"objects.json\" and a sha256, found {:?} and {:?}",
            doc.objects_file.file, doc.objects_file.sha256
        )));
    }
    let claims = claims_from_docs(&fmt, doc.claims).map_err(bad)?;
    Ok(Header {
        format: fmt,
        canonical_max: doc.canonical_max,
        claims,
        revisions: doc.document_revisions,
        objects_file: doc.objects_file,
    })
}

/// Parses `objects.json` against `header` (its pin and count must match).
///
/// This file can hold millions of records, so it is deserialized straight
/// into typed records rather than through a `serde_json::Value`; the derived
/// deserializers refuse duplicate and unknown keys just as the strict parser
/// does (a test proves it).
pub fn parse_objects_json(bytes: &[u8], path: &Path, header: &Header) -> Result<Vec<Object>> {
    let sha = sha256_hex(bytes);
    if sha != header.objects_file.sha256 {
        return Err(Error::malformed(
            path,
            format!(
                "sha256 {sha} differs from the pin in registry.json ({}); the two files do not belong together",
                header.objects_file.sha256
            ),
        ));
    }
    parse_objects_bytes(
        bytes,
        path,
        &header.format,
        header.objects_file.count,
        RecordLoad::Full,
    )
}

/// How much of each record to load from `objects.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordLoad {
    /// Every field, each validated.
    Full,
    /// The id and the packet only; the other fields are parsed as JSON but
    /// not kept (they stay empty strings). Enough to check, fold, roll back
    /// and render every document but `objects.json` and `objects.md`, at a
    /// fraction of the time and memory on a large registry.
    IdsAndPackets,
}

/// A record with only the fields a fold needs borrowed from the bytes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Skeleton<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    #[allow(dead_code)]
    kind: serde::de::IgnoredAny,
    #[serde(borrow)]
    packet: std::borrow::Cow<'a, str>,
    #[allow(dead_code)]
    path: serde::de::IgnoredAny,
    #[allow(dead_code)]
    sha256: serde::de::IgnoredAny,
    #[allow(dead_code)]
    title: serde::de::IgnoredAny,
}

/// Parses the bytes of an `objects.json` whose pin is already known to match.
pub fn parse_objects_bytes(
    bytes: &[u8],
    path: &Path,
    fmt: &IdFormat,
    count: u64,
    load: RecordLoad,
) -> Result<Vec<Object>> {
    let bad_json = |e: serde_json::Error| Error::malformed(path, format!("invalid JSON: {e}"));
    let bad_count =
        |n: usize| Error::malformed(path, format!("{n} records, registry.json says {count}"));
    match load {
        RecordLoad::Full => {
            let docs: Vec<ObjectDoc> = serde_json::from_slice(bytes).map_err(bad_json)?;
            if docs.len() as u64 != count {
                return Err(bad_count(docs.len()));
            }
            objects_from_docs(fmt, docs).map_err(|e| Error::malformed(path, e))
        }
        RecordLoad::IdsAndPackets => {
            let docs: Vec<Skeleton> = serde_json::from_slice(bytes).map_err(bad_json)?;
            if docs.len() as u64 != count {
                return Err(bad_count(docs.len()));
            }
            let mut objects = Vec::with_capacity(docs.len());
            for (i, d) in docs.into_iter().enumerate() {
                let number = fmt
                    .parse(&d.id)
                    .map_err(|e| Error::malformed(path, format!("objects[{i}].id: {e}")))?;
                check_text(&d.packet, 200, false)
                    .map_err(|e| Error::malformed(path, format!("objects[{i}].packet: {e}")))?;
                objects.push(Object {
                    number,
                    kind: String::new(),
                    title: String::new(),
                    packet: d.packet.into_owned(),
                    path: String::new(),
                    sha256: String::new(),
                });
            }
            objects.sort_by_key(|o| o.number);
            Ok(objects)
        }
    }
}

// ---------------------------------------------------------------------------
// Model → JSON
// ---------------------------------------------------------------------------

/// The JSON form of a claim.
pub fn claim_doc(fmt: &IdFormat, c: &Claim) -> ClaimDoc {
    ClaimDoc {
        first: fmt.format(c.first),
        last: fmt.format(c.last),
        packet: c.packet.clone(),
        state: c.state,
    }
}

/// Borrowed view of a record for writing, in sorted key order.
#[derive(Serialize)]
struct ObjectOut<'a> {
    id: String,
    kind: &'a str,
    packet: &'a str,
    path: &'a str,
    sha256: &'a str,
    title: &'a str,
}

struct ObjectsOut<'a> {
    fmt: &'a IdFormat,
    objects: &'a [Object],
}

impl Serialize for ObjectsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.objects.len()))?;
        for o in self.objects {
            seq.serialize_element(&ObjectOut {
                id: self.fmt.format(o.number),
                kind: &o.kind,
                packet: &o.packet,
                path: &o.path,
                sha256: &o.sha256,
                title: &o.title,
            })?;
        }
        seq.end()
    }
}

/// The bytes of `objects.json`: canonical JSON of the records array.
pub fn objects_json_bytes(reg: &Registry) -> Result<Vec<u8>> {
    to_canonical_bytes(&ObjectsOut {
        fmt: &reg.format,
        objects: &reg.objects,
    })
}

/// What a claim of `records` adds to the `objects.json` of a registry that
/// already holds at least one record: the document is its old bytes up to
/// the last 3 (`\n]\n`), then these bytes, which end with that `\n]\n`
/// again. `None` for no records. Byte for byte what
/// [`objects_json_bytes`] renders for the longer list (a property test
/// compares the two).
pub fn objects_json_appended(fmt: &IdFormat, records: &[Object]) -> Result<Option<Vec<u8>>> {
    if records.is_empty() {
        return Ok(None);
    }
    let alone = to_canonical_bytes(&ObjectsOut {
        fmt,
        objects: records,
    })?;
    // `[` + `\n  {…},\n  {…}` + `\n]\n`: keep all but the `[`.
    let mut out = Vec::with_capacity(alone.len());
    out.push(b',');
    out.extend_from_slice(&alone[1..]);
    Ok(Some(out))
}

/// The closing bytes of a non-empty `objects.json`, which a claim's
/// [`objects_json_appended`] bytes replace.
pub const OBJECTS_JSON_CLOSING: &[u8] = b"\n]\n";

/// The bytes of `registry.json`, given the pin of `objects.json`.
pub fn registry_json_bytes(reg: &Registry, objects_sha256: &str) -> Result<Vec<u8>> {
    registry_json_bytes_counted(reg, reg.objects.len() as u64, objects_sha256)
}

/// [`registry_json_bytes`] for a registry of `records` records whose
/// records are not in memory (a fast claim reads only the header).
pub fn registry_json_bytes_counted(
    reg: &Registry,
    records: u64,
    objects_sha256: &str,
) -> Result<Vec<u8>> {
    registry_json_with(reg, &reg.claims, records, objects_sha256)
}

/// `registry.json` of `reg` with `claims` in place of its own.
fn registry_json_with(
    reg: &Registry,
    claims: &[Claim],
    records: u64,
    objects_sha256: &str,
) -> Result<Vec<u8>> {
    let doc = RegistryOut {
        canonical_max: reg.canonical_max,
        claims: ClaimsOut {
            fmt: &reg.format,
            claims,
        },
        document_revisions: &reg.revisions,
        format: FORMAT,
        id_prefix: reg.format.prefix(),
        id_width: reg.format.width(),
        objects_file: ObjectsRefOut {
            count: records,
            file: Document::ObjectsJson.name(),
            sha256: objects_sha256,
        },
    };
    // Every type in it declares its fields in key order (a test compares
    // with the general writer, and with [`RegistryDoc`]'s bytes).
    to_canonical_bytes(&doc)
}

/// Borrowed view of [`RegistryDoc`] for writing: the same fields in the
/// same order, the claims' ids written straight into the output instead of
/// a `String` each (a large registry's `registry.json` is rendered on every
/// claim to check it).
#[derive(Serialize)]
struct RegistryOut<'a> {
    canonical_max: u64,
    claims: ClaimsOut<'a>,
    document_revisions: &'a Revisions,
    format: &'a str,
    id_prefix: &'a str,
    id_width: u32,
    objects_file: ObjectsRefOut<'a>,
}

/// Borrowed view of [`ObjectsRef`] for writing.
#[derive(Serialize)]
struct ObjectsRefOut<'a> {
    count: u64,
    file: &'a str,
    sha256: &'a str,
}

/// The claims of [`RegistryOut`], each as [`ClaimDoc`] spells it.
struct ClaimsOut<'a> {
    fmt: &'a IdFormat,
    claims: &'a [Claim],
}

/// Borrowed view of [`ClaimDoc`] for writing.
#[derive(Serialize)]
struct ClaimOut<'a> {
    first: IdOut<'a>,
    last: IdOut<'a>,
    packet: &'a str,
    state: ClaimState,
}

/// An id written as the string [`IdFormat::format`] gives, without one.
struct IdOut<'a>(&'a IdFormat, u64);

impl Serialize for IdOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(&self.0.id(self.1))
    }
}

impl Serialize for ClaimsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.claims.len()))?;
        for c in self.claims {
            seq.serialize_element(&ClaimOut {
                first: IdOut(self.fmt, c.first),
                last: IdOut(self.fmt, c.last),
                packet: &c.packet,
                state: c.state,
            })?;
        }
        seq.end()
    }
}

/// Where the claims array of a canonical `registry.json` holding at least
/// one claim opens (just after its `[` line) and closes (at the line ending
/// before its `]`): no line inside a claim is indented by only two spaces.
fn claims_span(doc: &[u8]) -> Option<(usize, usize)> {
    const OPEN: &[u8] = b"\n  \"claims\": [\n";
    const CLOSE: &[u8] = b"\n  ],\n";
    let open = memchr::memmem::find(doc, OPEN)? + OPEN.len();
    let close = open + memchr::memmem::find(&doc[open..], CLOSE)?;
    Some((open, close))
}

/// What a claim changes in `registry.json`, given the document before it
/// (`old`, of `before` with `before_records` records and objects.json
/// sha256 `before_sha`): one claim appended to the claims array, and the
/// revisions and records pin after it. `next` must be `before` with one
/// claim appended (and new revisions). `Ok(None)` when `old` does not begin
/// and end as `before` renders them, or `before` has no claims: the caller
/// renders the whole document instead. The claims between are kept as they
/// are: the caller has checked that `old` is the whole render of `before`,
/// and a property test compares the result with
/// [`registry_json_bytes_counted`] of `next`.
pub fn registry_json_claimed(
    old: &[u8],
    (before, before_records, before_sha): (&Registry, u64, &str),
    (next, records, sha): (&Registry, u64, &str),
) -> Result<Option<Vec<u8>>> {
    let (Some(last), Some(added)) = (before.claims.last(), next.claims.last()) else {
        return Ok(None);
    };
    if next.claims.len() != before.claims.len() + 1 {
        return Ok(None);
    }
    let one_before = registry_json_with(
        before,
        std::slice::from_ref(last),
        before_records,
        before_sha,
    )?;
    let one_next = registry_json_with(next, std::slice::from_ref(added), records, sha)?;
    let (Some((open, close)), Some((open_next, close_next))) =
        (claims_span(&one_before), claims_span(&one_next))
    else {
        return Ok(None);
    };
    let (head, tail) = (&one_before[..open], &one_before[close..]);
    if one_next[..open_next] != *head
        || old.len() < head.len() + tail.len()
        || !old.starts_with(head)
        || !old.ends_with(tail)
    {
        return Ok(None);
    }
    Ok(Some(
        [
            &old[..old.len() - tail.len()],
            b",\n",
            &one_next[open_next..close_next],
            &one_next[close_next..],
        ]
        .concat(),
    ))
}

#[derive(Serialize)]
struct RegistryFileOut<'a> {
    canonical_max: u64,
    claims: Vec<ClaimDoc>,
    document_revisions: ImportRevisions,
    format: &'static str,
    id_prefix: &'a str,
    id_width: u32,
    objects: ObjectsOut<'a>,
}

/// The single-file form of `reg` (the import format), canonical JSON.
pub fn registry_file_bytes(reg: &Registry) -> Result<Vec<u8>> {
    to_canonical_bytes(&RegistryFileOut {
        canonical_max: reg.canonical_max,
        claims: reg
            .claims
            .iter()
            .map(|c| claim_doc(&reg.format, c))
            .collect(),
        document_revisions: reg.revisions.into(),
        format: FORMAT,
        id_prefix: reg.format.prefix(),
        id_width: reg.format.width(),
        objects: ObjectsOut {
            fmt: &reg.format,
            objects: &reg.objects,
        },
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn sample() -> Registry {
        let fmt = IdFormat::new("TKT-OBJ", 3).unwrap();
        let mut objects = Vec::new();
        for n in 1..=5 {
            objects.push(Object {
                number: n,
                kind: "evidence".into(),
                title: format!("object {n} | \"quoted\" é"),
                packet: "P1".into(),
                path: format!("dir/f{n}.txt"),
                sha256: sha256_hex(&n.to_le_bytes()),
            });
        }
        Registry {
            format: fmt,
            canonical_max: 3,
            claims: vec![Claim {
                packet: "P1".into(),
                first: 4,
                last: 5,
                state: ClaimState::Staged,
            }],
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

    #[test]
    fn export_imports_back_unchanged() {
        let reg = sample();
        let bytes = registry_file_bytes(&reg).unwrap();
        assert_eq!(
            bytes,
            canonical::to_bytes(&canonical::parse_strict(&bytes, Path::new("x")).unwrap()).unwrap()
        );
        let back = parse_import(&bytes, Path::new("x.json")).unwrap();
        assert_eq!(back, reg);
    }

    #[test]
    fn store_documents_round_trip() {
        let reg = sample();
        let objects = objects_json_bytes(&reg).unwrap();
        let sha = sha256_hex(&objects);
        let header = parse_registry_json(
            &registry_json_bytes(&reg, &sha).unwrap(),
            Path::new("registry.json"),
        )
        .unwrap();
        assert_eq!(header.objects_file.count, 5);
        let parsed = parse_objects_json(&objects, Path::new("objects.json"), &header).unwrap();
        assert_eq!(parsed, reg.objects);
        assert_eq!(header.claims, reg.claims);
        assert_eq!(header.revisions, reg.revisions);
    }

    #[test]
    fn duplicate_keys_are_refused_at_every_level_of_objects_json() {
        let reg = sample();
        let good = String::from_utf8(objects_json_bytes(&reg).unwrap()).unwrap();
        let fmt = IdFormat::new("TKT-OBJ", 3).unwrap();
        let dup_field = good.replacen(
            "\"kind\": \"evidence\",",
            "\"kind\": \"evidence\",\n    \"kind\": \"x\",",
            1,
        );
        let err = parse_objects_bytes(
            dup_field.as_bytes(),
            Path::new("objects.json"),
            &fmt,
            5,
            RecordLoad::Full,
        )
        .unwrap_err();
        assert!(err.to_string().contains("duplicate field `kind`"), "{err}");
        let unknown = good.replacen(
            "\"kind\": \"evidence\",",
            "\"kind\": \"evidence\",\n    \"extra\": 1,",
            1,
        );
        let err = parse_objects_bytes(
            unknown.as_bytes(),
            Path::new("objects.json"),
            &fmt,
            5,
            RecordLoad::Full,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `extra`"), "{err}");
    }

    #[test]
    fn registry_json_refuses_duplicate_and_unknown_keys_at_every_level() {
        let reg = sample();
        let good =
            String::from_utf8(registry_json_bytes_counted(&reg, 5, &"a".repeat(64)).unwrap())
                .unwrap();
        let path = Path::new("registry.json");
        assert!(parse_registry_json(good.as_bytes(), path).is_ok());
        let cases = [
            (
                "\"canonical_max\": 3,",
                "\"canonical_max\": 3,\n  \"canonical_max\": 4,",
                "duplicate key \"canonical_max\"",
            ),
            (
                "\"packet\": \"P1\",",
                "\"packet\": \"P1\",\n      \"packet\": \"P2\",",
                "duplicate key \"packet\"",
            ),
            (
                "\"count\": 5,",
                "\"count\": 5,\n    \"count\": 6,",
                "duplicate key \"count\"",
            ),
            (
                "\"index.md\": 115,",
                "\"index.md\": 115,\n    \"index.md\": 116,",
                "duplicate key \"index.md\"",
            ),
            (
                "\"canonical_max\": 3,",
                "\"canonical_max\": 3,\n  \"extra\": 1,",
                "unknown field `extra`",
            ),
            (
                "\"packet\": \"P1\",",
                "\"packet\": \"P1\",\n      \"extra\": 1,",
                "unknown field `extra`",
            ),
        ];
        for (from, to, want) in cases {
            let bad = good.replacen(from, to, 1);
            assert_ne!(bad, good, "{from}");
            let err = parse_registry_json(bad.as_bytes(), path)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(want) && err.contains("registry.json"),
                "{to}: {err}"
            );
        }
        let err = parse_registry_json(b"{\"canonical_max\": 1} x", path).unwrap_err();
        assert!(err.to_string().contains("invalid JSON"), "{err}");
    }

    #[test]
    fn import_errors_name_the_key() {
        let reg = sample();
        let good = String::from_utf8(registry_file_bytes(&reg).unwrap()).unwrap();
        let cases = [
            (
                good.replacen("TKT-OBJ-002", "XYZ-OBJ-002", 1),
                "objects[1].id",
            ),
            (
                good.replacen("TKT-OBJ-002", "TKT-OBJ-0002", 1),
                "out of width",
            ),
            (
                good.replacen(
                    "\"canonical_max\": 3",
                    "\"canonical_max\": 3, \"canonical_max\": 4",
                    1,
                ),
                "duplicate key",
            ),
            (
                good.replacen("\"registry.json\": 23", "\"registry.json\": 0", 1),
                "revisions start at 1",
            ),
            (
                good.replacen("\"id_width\": 3", "\"id_width\": 0", 1),
                "id width",
            ),
            (
                good.replacen("\"state\": \"staged\"", "\"state\": \"maybe\"", 1),
                "maybe",
            ),
            (
                good.replacen("\"path\": \"dir/f1.txt\"", "\"path\": \"../f1.txt\"", 1),
                "objects[0].path",
            ),
            (
                good.replacen("\"kind\": \"evidence\"", "\"kind\": \"\"", 1),
                "objects[0].kind",
            ),
            (
                good.replacen("\"canonical_max\": 3", "\"canonical_max\": 1000", 1),
                "beyond width",
            ),
            (
                good.replacen(
                    "\"first\": \"TKT-OBJ-004\"",
                    "\"first\": \"TKT-OBJ-006\"",
                    1,
                ),
                "after last",
            ),
            (
                good.replacen(
                    "\"format\": \"holdfast-registry/1\"",
                    "\"format\": \"v9\"",
                    1,
                ),
                "format",
            ),
            (good[..good.len() / 2].to_string(), "invalid JSON"),
            (
                good.replacen("\"packet\": \"P1\"", "\"packet\": \"P\\u0007\"", 1),
                "control character",
            ),
            (
                good.replacen("\"packet\": \"P1\"", "\"packet\": \"P\\u202e1\"", 1),
                "bidirectional control character",
            ),
        ];
        for (text, want) in cases {
            let err = parse_import(text.as_bytes(), Path::new("in.json")).unwrap_err();
            assert_eq!(err.exit_code(), crate::error::exit::MALFORMED);
            let msg = err.to_string();
            assert!(
                msg.starts_with("in.json: ") && msg.contains(want),
                "{want}: {msg}"
            );
        }
    }

    #[test]
    fn objects_json_must_match_its_pin_and_count() {
        let reg = sample();
        let objects = objects_json_bytes(&reg).unwrap();
        let header = parse_registry_json(
            &registry_json_bytes(&reg, &"0".repeat(64)).unwrap(),
            Path::new("r"),
        )
        .unwrap();
        let err = parse_objects_json(&objects, Path::new("objects.json"), &header).unwrap_err();
        assert!(err.to_string().contains("do not belong together"), "{err}");
        let err = parse_objects_bytes(
            &objects,
            Path::new("objects.json"),
            &reg.format,
            4,
            RecordLoad::Full,
        )
        .unwrap_err();
        assert!(err.to_string().contains("registry.json says 4"), "{err}");
    }

    #[test]
    fn next_free_is_one_past_everything_issued() {
        let mut reg = sample();
        assert_eq!(reg.next_free(), 6);
        reg.claims[0].last = 9;
        assert_eq!(reg.next_free(), 10);
        reg.canonical_max = 20;
        assert_eq!(reg.next_free(), 21);
    }

    fn text() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 |\"\\\\é\u{1F600}/._-]{0,12}"
    }

    proptest! {
        #[test]
        fn fast_writer_is_canonical(titles in proptest::collection::vec(text(), 0..6), kinds in proptest::collection::vec("[a-z]{1,6}", 0..6)) {
            let mut reg = sample();
            reg.objects = titles.iter().zip(kinds.iter()).enumerate().map(|(i, (t, k))| Object {
                number: i as u64 + 1,
                kind: k.clone(),
                title: t.clone(),
                packet: t.clone(),
                path: String::new(),
                sha256: String::new(),
            }).collect();
            let fast = objects_json_bytes(&reg).unwrap();
            let value = canonical::parse_strict(&fast, Path::new("x")).unwrap();
            prop_assert_eq!(&fast, &canonical::value_to_bytes(&value));
            let file = registry_file_bytes(&reg).unwrap();
            let value = canonical::parse_strict(&file, Path::new("x")).unwrap();
            prop_assert_eq!(&file, &canonical::value_to_bytes(&value));
            // registry.json, with claims of arbitrary packet names (none at all too).
            reg.claims = titles.iter().enumerate().map(|(i, t)| Claim {
                packet: format!("P{t}"),
                first: 10 * i as u64 + 1,
                last: 10 * i as u64 + 5,
                state: if i % 2 == 0 { ClaimState::Staged } else { ClaimState::Folded },
            }).collect();
            let header = registry_json_bytes_counted(&reg, 7, &"a".repeat(64)).unwrap();
            let value = canonical::parse_strict(&header, Path::new("x")).unwrap();
            prop_assert_eq!(&header, &canonical::value_to_bytes(&value));
            let back = parse_registry_json(&header, Path::new("registry.json")).unwrap();
            prop_assert_eq!(back.claims, reg.claims.clone());
            // The borrowed writer gives the bytes of the owned document
            // (packet names with quotes, backslashes and emoji escaped alike).
            let doc = RegistryDoc {
                canonical_max: reg.canonical_max,
                claims: reg.claims.iter().map(|c| claim_doc(&reg.format, c)).collect(),
                document_revisions: reg.revisions,
                format: FORMAT.to_string(),
                id_prefix: reg.format.prefix().to_string(),
                id_width: reg.format.width(),
                objects_file: ObjectsRef {
                    count: 7,
                    file: "objects.json".to_string(),
                    sha256: "a".repeat(64),
                },
            };
            prop_assert_eq!(&header, &to_canonical_bytes(&doc).unwrap());
        }
    }
}
