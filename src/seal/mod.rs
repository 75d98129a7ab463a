//! Sealing a packet directory and verifying it again.
//!
//! `seal` writes `HASH_MANIFEST.txt` (every regular file's sha256, sorted by
//! path bytes) and `packet_tree.sha256` (the sha256 of the manifest's bytes),
//! in the format `sha256sum -c` reads. `verify` recomputes everything and
//! reports every problem it finds, never only the first.

mod manifest;
mod name;
mod replace;
mod report;
mod scan;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use rayon::prelude::*;
use serde::Serialize;

pub use manifest::{
    Entry, check_listed_path, is_sha256_hex, parse as parse_manifest, parse_tree, render,
    render_tree,
};
pub use name::{NameProblem, check_component, check_text};
pub use replace::{check_replaceable, is_signature_file};
pub use report::{Problem, ProblemClass, ProblemKind, VerifyReport, Warning};
pub use scan::{OddKind, Oddity, Scan, scan};

use crate::digest::{self, FileDigest};
use crate::error::{Error, Result};
use crate::fsio;
use crate::progress::Progress;

/// The packet's attestation bundle (JSON Lines, one DSSE envelope a line),
/// at the packet root next to the seal files (written by `attest`).
pub const ATTESTATION_FILE: &str = "packet.intoto.jsonl";
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SealSummary {
    /// Number of files listed in the manifest.
    pub files: u64,
    /// Total bytes hashed.
    pub bytes: u64,
    /// sha256 of the manifest's bytes: the packet's single tree hash.
    pub tree_sha256: String,
}

/// Files at the packet root that the manifest does not list: the two seal
/// files and the attestation bundle (signatures over the sealed packet,
/// which can only come after the seal, and are checked by `verify --trust`).
fn is_seal_file(rel: &str) -> bool {
    rel == MANIFEST_NAME || rel == TREE_NAME || rel == ATTESTATION_FILE
}

/// The entries of `root`'s `HASH_MANIFEST.txt` and the sha256 of its bytes
/// (the tree hash). Malformed when any line is not well-formed.
pub fn read_listing(root: &Path) -> Result<(Vec<Entry>, String)> {
    let path = root.join(MANIFEST_NAME);
    let bytes = fsio::read_regular(&path, MANIFEST_LIMIT)?;
    let mut report = VerifyReport::default();
    let entries = manifest::parse(&bytes, &mut report);
    if let Some(p) = report.problems.first() {
        return Err(Error::malformed(&path, p.detail.clone()));
    }
    Ok((entries, digest::sha256_hex(&bytes)))
}

/// Hashes `rels` (paths inside `root`) in parallel, in the order given.
/// Files are opened through [`digest::Tree`]: never through a link, never
/// outside `root`.
pub fn hash_tree(root: &Path, rels: &[String], progress: &dyn Progress) -> Vec<Result<FileDigest>> {
    match digest::Tree::open(root) {
        Ok(tree) => hash_raw(&tree, rels, progress)
            .into_iter()
            .map(|r| {
                r.map(|(raw, len)| FileDigest {
                    sha256: hex::encode(raw),
                    len,
                })
            })
            .collect(),
        Err(e) => {
            let msg = e.to_string();
            rels.iter()
                .map(|_| Err(Error::failed(msg.clone())))
                .collect()
        }
    }
}

/// Files handed to a hashing thread at a time while the walk goes on: one
/// task per file costs more than hashing a small file.
const BATCH: usize = 64;

thread_local! {
    /// One read buffer per hashing thread, allocated once. (rayon's
    /// `map_init` would allocate one per split job: thousands on a big tree.)
    static READ_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Raw digests of `rels`, hashed on all cores.
fn hash_raw<S: AsRef<str> + Sync>(
    tree: &digest::Tree,
    rels: &[S],
    progress: &dyn Progress,
) -> Vec<Result<digest::RawDigest>> {
    rels.par_iter()
        .map(|rel| hash_one(tree, rel.as_ref(), progress))
        .collect()
}

/// Hashes one file of `tree` with this thread's buffer.
fn hash_one(tree: &digest::Tree, rel: &str, progress: &dyn Progress) -> Result<digest::RawDigest> {
    READ_BUF.with_borrow_mut(|buf| {
        if buf.len() != digest::CHUNK {
            buf.resize(digest::CHUNK, 0);
        }
        let d = tree.hash(rel, buf);
        if let Ok((_, len)) = &d {
            progress.advance(*len);
        }
        d
    })
}

/// Computes the manifest of `root` without writing anything: the sorted
/// entries and the total size. Fails on anything that cannot be sealed.
pub fn compute_manifest(root: &Path, progress: &dyn Progress) -> Result<(Vec<Entry>, u64)> {
    let tree = digest::Tree::open(root)?;
    progress.start("hashing", 0);
    let hashed: Mutex<Vec<(String, Result<digest::RawDigest>)>> = Mutex::new(Vec::new());
    let scan = rayon::scope(|s| {
        let mut batch: Vec<String> = Vec::with_capacity(BATCH);
        let (tree, hashed) = (&tree, &hashed);
        let spawn = |batch: Vec<String>| {
            s.spawn(move |_| {
                let done: Vec<(String, Result<digest::RawDigest>)> = batch
                    .into_iter()
                    .map(|rel| {
                        let d = hash_one(tree, &rel, progress);
                        (rel, d)
                    })
                    .collect();
                lock(hashed).extend(done);
            })
        };
        let scan = scan::scan_each(root, |rel| {
            if is_seal_file(rel) {
                return;
            }
            progress.grow(1);
            batch.push(rel.to_string());
            if batch.len() == BATCH {
                spawn(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
            }
        });
        if !batch.is_empty() {
            spawn(batch);
        }
        scan
    });
    progress.finish();
    let scan = scan?;
    if let Some(odd) = scan.oddities.first() {
        let more = match scan.oddities.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        return Err(Error::malformed(root, format!("cannot seal: {odd}{more}")));
    }
    let mut hashed = hashed.into_inner().unwrap_or_else(|e| e.into_inner());
    if hashed.is_empty() {
        return Err(Error::malformed(
            root,
            "cannot seal: no regular files to list",
        ));
    }
    hashed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut entries = Vec::with_capacity(hashed.len());
    let mut bytes = 0u64;
    for (rel, d) in hashed {
        let (raw, len) = d?;
        bytes += len;
        entries.push(Entry {
            sha256: hex::encode(raw),
            path: rel,
        });
    }
    Ok((entries, bytes))
}

/// Locks a mutex, taking its data even if a hashing thread panicked (the
/// data is a plain list; a panic cannot leave it half-updated).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
    let tree = digest::Tree::open(root)?;
    let mut report = VerifyReport::default();

    let manifest_bytes = read_seal_file(root, MANIFEST_NAME, &mut report);
    let tree_bytes = read_seal_file(root, TREE_NAME, &mut report);
    let entries = match &manifest_bytes {
        Some(bytes) => manifest::parse(bytes, &mut report),
        None => Vec::new(),
    };
    report.files_listed = entries.len();
    if let Some(tree_file) = &tree_bytes {
        check_tree_hash(tree_file, manifest_bytes.as_deref(), &mut report);
    }

    // Hash each listed file as soon as the walk finds it as a regular file.
    // Only such files are ever opened (a manifest line naming a device or a
    // link cannot get it opened), and `Tree` opens never cross a link or
    // leave the packet even if the tree changes under the walk.
    let mut listed: Vec<&Entry> = entries.iter().collect();
    listed.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    let paths: Vec<&str> = listed.iter().map(|e| e.path.as_str()).collect();
    let slots: Vec<OnceLock<Result<digest::RawDigest>>> =
        paths.iter().map(|_| OnceLock::new()).collect();
    progress.start("verifying", paths.len() as u64);
    let index: HashMap<&str, usize> = paths.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let scan = rayon::scope(|s| {
        let mut batch: Vec<usize> = Vec::with_capacity(BATCH);
        let (tree, slots, paths) = (&tree, &slots, &paths);
        let spawn = |batch: Vec<usize>| {
            s.spawn(move |_| {
                for i in batch {
                    let _ = slots[i].set(hash_one(tree, paths[i], progress));
                }
            })
        };
        let scan = scan::scan_each(root, |rel| {
            if let Some(&i) = index.get(rel) {
                batch.push(i);
                if batch.len() == BATCH {
                    spawn(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
                }
            }
        });
        if !batch.is_empty() {
            spawn(batch);
        }
        scan
    });
    progress.finish();
    let scan = scan?;
    let digests: Vec<Option<Result<digest::RawDigest>>> =
        slots.into_iter().map(OnceLock::into_inner).collect();

    // Links, special files and hostile names anywhere are problems in their own right.
    let mut not_regular: HashMap<&str, ProblemKind> = HashMap::new();
    for odd in &scan.oddities {
        let kind = match &odd.kind {
            OddKind::Symlink => ProblemKind::Symlink,
            OddKind::Special(_) => ProblemKind::SpecialFile,
            OddKind::Name(_) | OddKind::NormalizationClash(_) => ProblemKind::UnsafeName,
            OddKind::Unreadable(_) => ProblemKind::Io,
            OddKind::EmptyDir => ProblemKind::Extra,
        };
        if !((odd.path == MANIFEST_NAME || odd.path == TREE_NAME)
            && matches!(kind, ProblemKind::Symlink | ProblemKind::SpecialFile))
        {
            // Seal files that are links were already reported by read_seal_file.
            report.push(kind, odd.path.clone(), odd.describe());
        }
        not_regular.insert(odd.path.as_str(), kind);
    }

    // Match listed entries with the regular files found, both in path order.
    let on_disk: Vec<&String> = scan.files.iter().filter(|r| !is_seal_file(r)).collect();
    let mut digests = digests.into_iter();
    let mut files = on_disk.iter().peekable();
    let mut recorded = [0u8; 32];
    for e in &listed {
        let digest = digests.next().flatten();
        while let Some(f) = files.next_if(|f| f.as_str() < e.path.as_str()) {
            report.push(
                ProblemKind::Extra,
                (*f).clone(),
                "in the packet but not listed",
            );
        }
        if files.next_if(|f| f.as_str() == e.path.as_str()).is_none() {
            match not_regular.get(e.path.as_str()) {
                Some(kind) => report.push(
                    ProblemKind::Missing,
                    e.path.clone(),
                    format!("listed as a regular file, found a {}", kind.label()),
                ),
                None => report.push(
                    ProblemKind::Missing,
                    e.path.clone(),
                    "listed but not in the packet",
                ),
            }
            continue;
        }
        match digest {
            Some(Ok((raw, len))) => {
                report.files_checked += 1;
                report.bytes_checked += len;
                // Manifest hashes were validated as 64 lowercase hex digits.
                let same =
                    hex::decode_to_slice(&e.sha256, &mut recorded).is_ok() && recorded == raw;
                if !same {
                    report.push(
                        ProblemKind::Changed,
                        e.path.clone(),
                        format!("sha256 recorded {}, found {}", e.sha256, hex::encode(raw)),
                    );
                }
            }
            Some(Err(Error::Malformed { what, .. })) => {
                // A link or special file where the walk saw a regular file.
                report.push(ProblemKind::Changed, e.path.clone(), what);
            }
            Some(Err(err)) => report.push(ProblemKind::Io, e.path.clone(), err.to_string()),
            None => report.push(
                ProblemKind::Io,
                e.path.clone(),
                "was not hashed: it changed during the walk",
            ),
        }
    }
    for f in files {
        report.push(
            ProblemKind::Extra,
            (*f).clone(),
            "in the packet but not listed",
        );
    }

    report
        .problems
        .sort_by(|a, b| (a.path.as_bytes(), a.kind).cmp(&(b.path.as_bytes(), b.kind)));
    report.warnings = unreadable_by_others(root, &scan);
    Ok(report)
}

/// The packet's files others cannot read and directories others cannot
/// list or enter: a packet is made to be verified by anyone, so each is a
/// warning with its mode and the fix. (`holdfast run` writes packets with
/// modes that never depend on the umask: see [`set_packet_modes`].)
fn unreadable_by_others(root: &Path, scan: &Scan) -> Vec<Warning> {
    use std::os::unix::fs::PermissionsExt;
    let check = |rel: &str, dir: bool| -> Option<Warning> {
        let path = if rel == "." {
            root.to_path_buf()
        } else {
            root.join(rel)
        };
        let mode = path.symlink_metadata().ok()?.permissions().mode() & 0o7777;
        let need = if dir { 0o005 } else { 0o004 };
        (mode & need != need).then(|| Warning {
            path: rel.to_string(),
            detail: format!(
                "mode {mode:04o}: others cannot {}, so they cannot verify the packet \
                 (chmod o+{})",
                if dir { "list it" } else { "read it" },
                if dir { "rx" } else { "r" }
            ),
        })
    };
    let mut out: Vec<Warning> = std::iter::once(check(".", true))
        .chain(
            scan.dirs
                .par_iter()
                .map(|d| check(d, true))
                .collect::<Vec<_>>(),
        )
        .chain(
            scan.files
                .par_iter()
                .map(|f| check(f, false))
                .collect::<Vec<_>>(),
        )
        .flatten()
        .collect();
    out.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    out
}

/// Gives a packet directory the modes every packet has whatever the umask:
/// directories 0755, files 0644, or 0755 for a file with any execute bit
/// (the re-run scripts). Links are never followed (a packet holds none; the
/// seal refuses them).
pub fn set_packet_modes(root: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in walkdir::WalkDir::new(root).follow_links(false) {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(root).to_path_buf();
            Error::io(
                &path,
                e.into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("walk failed")),
            )
        })?;
        let ft = entry.file_type();
        let mode = if ft.is_dir() {
            0o755
        } else if ft.is_file() {
            let now = entry.metadata().map_err(|e| {
                Error::io(
                    entry.path(),
                    e.into_io_error()
                        .unwrap_or_else(|| std::io::Error::other("stat failed")),
                )
            })?;
            if now.permissions().mode() & 0o111 != 0 {
                0o755
            } else {
                0o644
            }
        } else {
            continue;
        };
        std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io(entry.path(), e))?;
    }
    Ok(())
}

/// Compares `packet_tree.sha256` with the manifest's actual hash.
fn check_tree_hash(tree_file: &[u8], manifest: Option<&[u8]>, report: &mut VerifyReport) {
    match manifest::parse_tree(tree_file) {
        Ok(recorded) => {
            if let Some(bytes) = manifest {
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
