//! Sealing a packet directory and verifying it again.
//!
//! `seal` writes `HASH_MANIFEST.txt` (every regular file's sha256, sorted by
//! path bytes) and `packet_tree.sha256` (the sha256 of the manifest's bytes),
//! in the format `sha256sum -c` reads. `verify` recomputes everything and
//! reports every problem it finds, never only the first.

mod manifest;
mod name;
mod report;
mod scan;

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

pub use manifest::{Entry, check_listed_path, is_sha256_hex, parse_tree, render, render_tree};
pub use name::{NameProblem, check_component, check_text};
pub use report::{Problem, ProblemClass, ProblemKind, VerifyReport};
pub use scan::{OddKind, Oddity, Scan, scan};

use crate::digest::{self, FileDigest};
use crate::error::{Error, Result};
use crate::fsio;
use crate::progress::Progress;

/// File name of the manifest at the packet root.
pub const MANIFEST_NAME: &str = "HASH_MANIFEST.txt";
/// File name of the tree hash at the packet root.
pub const TREE_NAME: &str = "packet_tree.sha256";
/// Largest manifest `verify` reads (a 10-million-file packet fits).
pub const MANIFEST_LIMIT: u64 = 1 << 30;

/// Options for [`seal`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SealOptions {
    /// Reseal a directory that already has seal files.
    pub force: bool,
}

/// What [`seal`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SealSummary {
    /// Number of files listed in the manifest.
    pub files: u64,
    /// Total bytes hashed.
    pub bytes: u64,
    /// sha256 of the manifest's bytes: the packet's single tree hash.
    pub tree_sha256: String,
}

fn is_seal_file(rel: &str) -> bool {
    rel == MANIFEST_NAME || rel == TREE_NAME
}

/// Hashes `rels` under `root` in parallel, in the order given.
pub fn hash_tree(root: &Path, rels: &[String], progress: &dyn Progress) -> Vec<Result<FileDigest>> {
    rels.par_iter()
        .map_init(
            || vec![0u8; digest::CHUNK],
            |buf, rel| {
                let d = digest::hash_file_with(&root.join(rel), buf);
                if let Ok(d) = &d {
                    progress.advance(d.len);
                }
                d
            },
        )
        .collect()
}

/// Computes the manifest of `root` without writing anything: the sorted
/// entries and the total size. Fails on anything that cannot be sealed.
pub fn compute_manifest(root: &Path, progress: &dyn Progress) -> Result<(Vec<Entry>, u64)> {
    let scan = scan::scan(root)?;
    if let Some(odd) = scan.oddities.first() {
        let more = match scan.oddities.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        return Err(Error::malformed(root, format!("cannot seal: {odd}{more}")));
    }
    let rels: Vec<String> = scan
        .files
        .into_iter()
        .filter(|r| !is_seal_file(r))
        .collect();
    if rels.is_empty() {
        return Err(Error::malformed(
            root,
            "cannot seal: no regular files to list",
        ));
    }
    progress.start("hashing", rels.len() as u64);
    let digests = hash_tree(root, &rels, progress);
    progress.finish();
    let mut entries = Vec::with_capacity(rels.len());
    let mut bytes = 0u64;
    for (rel, d) in rels.into_iter().zip(digests) {
        let d = d?;
        bytes += d.len;
        entries.push(Entry {
            sha256: d.sha256,
            path: rel,
        });
    }
    Ok((entries, bytes))
}

/// Seals `root`: writes `HASH_MANIFEST.txt` and `packet_tree.sha256`
/// atomically. Nothing is written when any entry cannot be sealed.
pub fn seal(root: &Path, opts: SealOptions, progress: &dyn Progress) -> Result<SealSummary> {
    if !opts.force {
        for name in [MANIFEST_NAME, TREE_NAME] {
            if root.join(name).symlink_metadata().is_ok() {
                return Err(Error::refused(format!(
                    "{}: already sealed ({name} exists); pass --force to reseal",
                    root.display()
                )));
            }
        }
    }
    let (entries, bytes) = compute_manifest(root, progress)?;
    let manifest_bytes = manifest::render(&entries);
    let tree_sha256 = digest::sha256_hex(&manifest_bytes);
    fsio::write_atomic(&root.join(MANIFEST_NAME), &manifest_bytes)?;
    fsio::write_atomic(&root.join(TREE_NAME), &manifest::render_tree(&tree_sha256))?;
    Ok(SealSummary {
        files: entries.len() as u64,
        bytes,
        tree_sha256,
    })
}

/// Verifies `root` against its seal files and reports every problem.
///
/// Returns `Err` only when `root` itself cannot be examined (not a
/// directory, unreadable); every other defect is a [`Problem`] in the report.
pub fn verify(root: &Path, progress: &dyn Progress) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let scan = scan::scan(root)?;

    let manifest_bytes = read_seal_file(root, MANIFEST_NAME, &mut report);
    let tree_bytes = read_seal_file(root, TREE_NAME, &mut report);

    let entries = match &manifest_bytes {
        Some(bytes) => manifest::parse(bytes, &mut report),
        None => Vec::new(),
    };
    report.files_listed = entries.len();

    if let Some(tree) = &tree_bytes {
        match manifest::parse_tree(tree) {
            Ok(recorded) => {
                if let Some(bytes) = &manifest_bytes {
                    let actual = digest::sha256_hex(bytes);
                    if actual != recorded {
                        report.push(
                            ProblemKind::TreeHashMismatch,
                            TREE_NAME,
                            format!("records {recorded}, but {MANIFEST_NAME} hashes to {actual}"),
                        );
                    }
                }
                report.tree_sha256 = Some(recorded);
            }
            Err(why) => report.push(ProblemKind::MalformedSealFile, TREE_NAME, why),
        }
    }

    // Links, special files and hostile names anywhere are problems in their own right.
    let mut not_regular: HashMap<&str, ProblemKind> = HashMap::new();
    for odd in &scan.oddities {
        let kind = match &odd.kind {
            OddKind::Symlink => ProblemKind::Symlink,
            OddKind::Special(_) => ProblemKind::SpecialFile,
            OddKind::Name(_) | OddKind::NormalizationClash(_) => ProblemKind::UnsafeName,
            OddKind::Unreadable(_) => ProblemKind::Io,
        };
        if !(is_seal_file(&odd.path)
            && matches!(kind, ProblemKind::Symlink | ProblemKind::SpecialFile))
        {
            // Seal files that are links were already reported by read_seal_file.
            report.push(kind, odd.path.clone(), odd.describe());
        }
        not_regular.insert(odd.path.as_str(), kind);
    }

    // Only files found by the walk are ever opened: a manifest line cannot
    // make verify read outside the packet or through a link.
    let on_disk: std::collections::HashSet<&str> = scan.files.iter().map(String::as_str).collect();
    let mut to_hash: Vec<&Entry> = Vec::with_capacity(entries.len());
    for e in &entries {
        if on_disk.contains(e.path.as_str()) {
            to_hash.push(e);
        } else if let Some(kind) = not_regular.get(e.path.as_str()) {
            report.push(
                ProblemKind::Missing,
                e.path.clone(),
                format!("listed as a regular file, found a {}", kind.label()),
            );
        } else {
            report.push(
                ProblemKind::Missing,
                e.path.clone(),
                "listed but not in the packet",
            );
        }
    }
    let listed: std::collections::HashSet<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    for rel in &scan.files {
        if !is_seal_file(rel) && !listed.contains(rel.as_str()) {
            report.push(
                ProblemKind::Extra,
                rel.clone(),
                "in the packet but not listed",
            );
        }
    }

    let rels: Vec<String> = to_hash.iter().map(|e| e.path.clone()).collect();
    progress.start("verifying", rels.len() as u64);
    let digests = hash_tree(root, &rels, progress);
    progress.finish();
    for (e, d) in to_hash.iter().zip(digests) {
        match d {
            Ok(d) => {
                report.files_checked += 1;
                report.bytes_checked += d.len;
                if d.sha256 != e.sha256 {
                    report.push(
                        ProblemKind::Changed,
                        e.path.clone(),
                        format!("sha256 recorded {}, found {}", e.sha256, d.sha256),
                    );
                }
            }
            Err(Error::Malformed { what, .. }) => {
                // Swapped for a link or special file after the walk.
                report.push(ProblemKind::Changed, e.path.clone(), what);
            }
            Err(err) => report.push(ProblemKind::Io, e.path.clone(), err.to_string()),
        }
    }
    report
        .problems
        .sort_by(|a, b| (a.path.as_bytes(), a.kind).cmp(&(b.path.as_bytes(), b.kind)));
    Ok(report)
}

/// Reads one seal file, recording a problem (and returning `None`) when it is
/// missing, not a regular file, or unreadable.
fn read_seal_file(root: &Path, name: &str, report: &mut VerifyReport) -> Option<Vec<u8>> {
    let path = root.join(name);
    match path.symlink_metadata() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            report.push(
                ProblemKind::MissingSealFile,
                name,
                "not found: the packet is not sealed",
            );
            return None;
        }
        Err(e) => {
            report.push(ProblemKind::Io, name, e.to_string());
            return None;
        }
        Ok(m) if m.file_type().is_symlink() => {
            report.push(ProblemKind::Symlink, name, "seal file is a symbolic link");
            return None;
        }
        Ok(m) if !m.is_file() => {
            report.push(
                ProblemKind::SpecialFile,
                name,
                "seal file is not a regular file",
            );
            return None;
        }
        Ok(_) => {}
    }
    match fsio::read_regular(&path, MANIFEST_LIMIT) {
        Ok(bytes) => Some(bytes),
        Err(Error::Io { source, .. }) => {
            report.push(ProblemKind::Io, name, source.to_string());
            None
        }
        Err(e) => {
            report.push(ProblemKind::MalformedSealFile, name, e.to_string());
            None
        }
    }
}
