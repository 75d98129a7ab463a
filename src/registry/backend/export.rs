//! `registry export`: a registry moved to another location, on any backend,
//! with its documents, revisions and history byte for byte.
//!
//! The source must first pass `verify-history` (the replay of every state):
//! an export directory that was edited (a blob, a log line, a document)
//! is refused before anything is written. Every stored name is then copied
//! as it is (blobs in their stored form, log lines in order, the documents
//! and the completion marker last), and the copy must pass `verify-history`
//! too, with the same head line: the hash chain verifies on the other side.

use std::path::Path;

use serde::Serialize;

use super::{Backend, open};
use crate::error::{Error, Result};
use crate::registry::history::{BLOBS_DIR, COMPLETE_FILE, LOG_FILE, READ_LIMIT};
use crate::registry::model::Document;
use crate::registry::store::{inspect_at, verify_history_at};

/// What `export` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ExportOutcome {
    /// Number of states copied.
    pub states: u64,
    /// sha256 of the head line, the same on both sides.
    pub head: Option<String>,
    /// Number of stored names copied (documents, blobs, log, marker).
    pub copied: u64,
}

/// What a stored name is, so that nothing but a registry's own files is copied.
fn kind(rel: &str) -> Option<u8> {
    if Document::from_name(rel).is_some() {
        return Some(2);
    }
    if rel == LOG_FILE {
        return Some(1);
    }
    if rel == COMPLETE_FILE {
        return Some(3);
    }
    let name = rel.strip_prefix(BLOBS_DIR)?.strip_prefix('/')?;
    let sha = name.strip_suffix(".delta").unwrap_or(name);
    crate::registry::id::is_sha256_hex(sha).then_some(0)
}

/// Copies the registry at `from` to the new registry `to` (either a
/// directory or a `postgres://` URL). Refuses (exit 5) when `from` does not
/// pass `verify-history` or holds anything but a registry's files, and when
/// `to` already holds anything; fails (exit 1) if the copy does not verify
/// with the same head.
pub fn export(from: &Path, to: &Path) -> Result<ExportOutcome> {
    let src = open(from)?;
    let dst = open(to)?;
    export_between(&*src, &*dst)
}

/// [`export`] between open backends.
pub fn export_between(src: &dyn Backend, dst: &dyn Backend) -> Result<ExportOutcome> {
    let before = verify_history_at(src)?;
    if let Some(p) = before.problems.first() {
        return Err(Error::refused(format!(
            "{}: does not pass verify-history ({} problems; first: {p}); nothing exported",
            src.root().display(),
            before.problems.len()
        )));
    }
    if !inspect_at(src)?.passes() {
        return Err(Error::refused(format!(
            "{}: does not pass `holdfast registry check`; nothing exported",
            src.root().display()
        )));
    }
    dst.prepare_create()?;
    let copied = {
        let _src_lock = src.lock()?;
        let mut names = Vec::new();
        for rel in src.list()? {
            match kind(&rel) {
                Some(k) => names.push((k, rel)),
                None => {
                    return Err(Error::refused(format!(
                        "{}: is not a registry file (expected documents, {LOG_FILE}, {COMPLETE_FILE} and {BLOBS_DIR}/<sha256>); nothing exported",
                        src.path(&rel).display()
                    )));
                }
            }
        }
        // Blobs first, then the log (the commit point on a directory), then
        // the documents and the marker that says they are in place.
        names.sort();
        let _dst_lock = dst.lock()?;
        for (k, rel) in &names {
            let bytes = src.read(rel, READ_LIMIT)?.ok_or_else(|| {
                Error::failed(format!(
                    "{}: vanished while exporting",
                    src.path(rel).display()
                ))
            })?;
            match k {
                0 => dst.write(rel, &bytes, true)?,
                1 => {
                    for line in bytes.split_inclusive(|&b| b == b'\n') {
                        dst.append_log(line)?;
                    }
                }
                _ => dst.write(rel, &bytes, false)?,
            }
        }
        dst.durable()?;
        names.len() as u64
    };
    let after = verify_history_at(dst)?;
    if let Some(p) = after.problems.first() {
        return Err(Error::failed(format!(
            "{}: the copy does not pass verify-history ({p}); remove it before trying again",
            dst.root().display()
        )));
    }
    if after.head != before.head || after.states != before.states {
        return Err(Error::failed(format!(
            "{}: the copy's head ({} states) differs from the source's ({} states); remove it before trying again",
            dst.root().display(),
            after.states,
            before.states
        )));
    }
    // Only a shortcut for the copy's first claim: a failure costs nothing else.
    let _ = crate::registry::store::refresh_claim_cache(dst);
    Ok(ExportOutcome {
        states: after.states,
        head: after.head,
        copied,
    })
}
