//! Reads that report instead of refusing: `check` of a registry (after
//! completing an interrupted write: drift, stale documents, JSON and format
//! validity, the four invariants, all of them rather than the first) or of
//! a single-file registry, and the history log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::recover::{load_model, recover, stale_message};
use super::{doc_path, require_registry};
use crate::canonical;
use crate::digest::sha256_hex;
use crate::error::Result;
use crate::fsio;
use crate::registry::backend::{self, Backend};
use crate::registry::check::{CheckReport, check};
use crate::registry::history::{Log, READ_LIMIT};
use crate::registry::model::{DOCUMENTS, Document, RecordLoad, parse_import};

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
/// invariants. Unlike [`Store::open`](super::Store::open) it does not stop at the first problem.
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
