//! Exports of a verified packet for the tools reviewers and auditors keep:
//! a BagIt 1.0 bag ([`bagit`]) for an archive, NIST OSCAL assessment
//! results and a plan of action and milestones ([`oscal`]) for a compliance
//! system.
//!
//! Every export is a pure function of the packet's bytes ([`Packet`]),
//! which are read only from a packet whose seal verifies, and each file is
//! hashed again as it is read and compared with the seal (a file changed
//! between the check and the read is refused). The export is built in a
//! staging directory beside `OUT` and renamed into place, never into the
//! packet, and never over an existing `OUT`: a failure leaves nothing.

pub mod bagit;
pub mod oscal;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, IoContext, Result};
use crate::seal::{self, MANIFEST_NAME, TREE_NAME};
use crate::{digest, fsio};

/// Largest packet file an export reads.
pub const FILE_LIMIT: u64 = 256 * 1024 * 1024;

/// The bytes of a verified packet: every sealed file, the two seal files
/// and the signatures (`packet.intoto.jsonl`), if any.
#[derive(Debug, Clone)]
pub struct Packet {
    /// Packet-relative path (`/` separators) to bytes, sorted by path.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The tree hash the seal records.
    pub tree_sha256: String,
}

impl Packet {
    /// Reads the packet in `dir`, refusing (exit 1) one whose seal does not
    /// verify or whose files change while they are read.
    pub fn read_verified(dir: &Path) -> Result<Packet> {
        let report = seal::verify(dir, &crate::progress::NoProgress)?;
        if !report.is_verified() {
            let first = report.first_problem();
            return Err(Error::failed(format!(
                "{}: the seal does not verify ({} problem(s), first: {first}); run `holdfast verify` on it; nothing exported",
                dir.display(),
                report.problems.len()
            )));
        }
        let manifest = fsio::read_regular(&dir.join(MANIFEST_NAME), FILE_LIMIT)?;
        // The seal verified: every line is `<sha256>  <path>`.
        let text = String::from_utf8_lossy(&manifest).into_owned();
        let mut files = BTreeMap::new();
        for line in text.lines() {
            let (sha256, path) = line.split_once("  ").ok_or_else(|| {
                Error::failed(format!(
                    "{}: changed while it was exported; nothing exported",
                    dir.join(MANIFEST_NAME).display()
                ))
            })?;
            let bytes = fsio::read_regular(&dir.join(path), FILE_LIMIT)?;
            if digest::sha256_hex(&bytes) != sha256 {
                return Err(Error::failed(format!(
                    "{}: changed while it was exported (its sha256 no longer matches {MANIFEST_NAME}); nothing exported",
                    dir.join(path).display()
                )));
            }
            files.insert(path.to_string(), bytes);
        }
        let tree = fsio::read_regular(&dir.join(TREE_NAME), FILE_LIMIT)?;
        let tree_sha256 =
            seal::parse_tree(&tree).map_err(|why| Error::malformed(dir.join(TREE_NAME), why))?;
        if tree_sha256 != digest::sha256_hex(&manifest) {
            return Err(Error::failed(format!(
                "{}: changed while it was exported; nothing exported",
                dir.join(MANIFEST_NAME).display()
            )));
        }
        files.insert(MANIFEST_NAME.to_string(), manifest);
        files.insert(TREE_NAME.to_string(), tree);
        // The signatures are outside the seal (they sign it) and travel with it.
        let sig = dir.join(crate::attest::ATTESTATION_FILE);
        if sig.symlink_metadata().is_ok() {
            files.insert(
                crate::attest::ATTESTATION_FILE.to_string(),
                fsio::read_regular(&sig, FILE_LIMIT)?,
            );
        }
        Ok(Packet { files, tree_sha256 })
    }

    /// A packet JSON file, parsed strictly.
    pub fn json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T> {
        let bytes = self.files.get(name).ok_or_else(|| {
            Error::malformed(PathBuf::from(name), "the packet holds no such file")
        })?;
        crate::canonical::from_slice_strict(bytes, Path::new(name))
    }
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ExportSummary {
    /// `bagit` or `oscal`.
    pub format: String,
    /// The directory written.
    pub out: String,
    /// The files written, relative to `out`, sorted.
    pub files: Vec<String>,
    /// The packet's tree hash.
    pub tree_sha256: String,
}

/// Writes `files` (relative path to bytes and mode) as the new directory
/// `out`: built beside it and renamed into place; refuses (exit 5) an
/// existing `out`, or one inside the packet `packet`.
pub fn publish(packet: &Path, out: &Path, files: &BTreeMap<String, (Vec<u8>, u32)>) -> Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    if out.symlink_metadata().is_ok() {
        return Err(Error::refused(format!(
            "{}: already exists; an export never replaces anything (remove it or pick another OUT)",
            out.display()
        )));
    }
    let parent = fsio::parent_dir(out);
    let parent_real = parent.canonicalize().at(&parent)?;
    let packet_real = packet.canonicalize().at(packet)?;
    if parent_real.starts_with(&packet_real) {
        return Err(Error::refused(format!(
            "{}: inside the packet {}; an export is never written into a packet",
            out.display(),
            packet.display()
        )));
    }
    let staging = tempfile::Builder::new()
        .prefix(".holdfast-export-")
        .tempdir_in(&parent)
        .at(&parent)?;
    for (rel, (bytes, mode)) in files {
        let path = staging.path().join(rel);
        let dir = fsio::parent_dir(&path);
        std::fs::create_dir_all(&dir).at(&dir)?;
        fsio::write_atomic_mode(&path, bytes, *mode)?;
    }
    std::fs::set_permissions(
        staging.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .at(staging.path())?;
    renameat_with(CWD, staging.path(), CWD, out, RenameFlags::NOREPLACE).map_err(|e| {
        if e == rustix::io::Errno::EXIST {
            Error::refused(format!(
                "{}: appeared during the export; nothing written",
                out.display()
            ))
        } else {
            Error::io(out, e.into())
        }
    })?;
    // The staging directory is now `out`: do not let its guard remove it.
    let _ = staging.keep();
    fsio::sync_dir(&parent)
}

/// The file mode a packet file is exported with: scripts stay executable.
pub fn mode_of(path: &str) -> u32 {
    if path.ends_with(".sh") { 0o755 } else { 0o644 }
}

/// Exports the packet in `dir` in `format` to `out`.
pub fn export(dir: &Path, out: &Path, format: Format) -> Result<ExportSummary> {
    let packet = Packet::read_verified(dir)?;
    let files = match format {
        Format::Bagit => bagit::bag(&packet)?,
        Format::Oscal => oscal::documents(&packet)?
            .into_iter()
            .map(|(k, v)| (k, (v, 0o644)))
            .collect(),
    };
    publish(dir, out, &files)?;
    Ok(ExportSummary {
        format: format.name().to_string(),
        out: out.display().to_string(),
        files: files.keys().cloned().collect(),
        tree_sha256: packet.tree_sha256,
    })
}

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// BagIt 1.0 (RFC 8493).
    Bagit,
    /// NIST OSCAL assessment results and POA&M, JSON.
    Oscal,
}

impl Format {
    /// The format's name in the summary.
    pub fn name(self) -> &'static str {
        match self {
            Format::Bagit => "bagit",
            Format::Oscal => "oscal",
        }
    }
}
