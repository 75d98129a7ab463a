//! The packet as one in-memory value, loaded once.
//!
//! [`Packet::load`] reads every file the seal lists, in one pass, through
//! [`crate::digest::Tree`] (never through a link, never outside the packet),
//! hashing each as it is read and comparing it with its `HASH_MANIFEST.txt`
//! line: the bytes in memory are exactly the sealed bytes, even if the
//! directory changes after the seal was checked. Everything `verify --rerun`
//! re-derives is computed from this value; nothing reads the packet
//! directory again ([`Packet::reads`] counts the reads, and a test holds it
//! to one per file).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::digest::{self, sha256_hex};
use crate::error::{Error, Result};
use crate::{canonical, fsio, seal};

/// Largest single file a packet may hold in memory.
pub const FILE_LIMIT: u64 = 256 * 1024 * 1024;
/// Largest packet (all files together) loaded into memory.
pub const TOTAL_LIMIT: u64 = 2 * 1024 * 1024 * 1024;

/// A sealed packet's files and their bytes.
#[derive(Debug)]
pub struct Packet {
    dir: PathBuf,
    files: BTreeMap<String, Vec<u8>>,
    reads: AtomicUsize,
}

impl Packet {
    /// Loads every file `HASH_MANIFEST.txt` lists (and the seal files), each
    /// read once and checked against its listed sha256. A packet whose seal
    /// does not verify must not be loaded: call [`seal::verify`] first; this
    /// re-checks only what it reads.
    pub fn load(dir: &Path) -> Result<Packet> {
        let tree = digest::Tree::open(dir)?;
        let reads = AtomicUsize::new(0);
        let manifest = tree.read(seal::MANIFEST_NAME, FILE_LIMIT)?;
        let mut problems = seal::VerifyReport::default();
        let entries = seal::parse_manifest(&manifest, &mut problems);
        if let Some(p) = problems.problems.first() {
            return Err(Error::malformed(
                dir.join(seal::MANIFEST_NAME),
                format!("{}: {}", p.path, p.detail),
            ));
        }
        let mut files = BTreeMap::new();
        let mut total = 0u64;
        for e in &entries {
            let bytes = tree.read(&e.path, FILE_LIMIT)?;
            reads.fetch_add(1, Ordering::Relaxed);
            total += bytes.len() as u64;
            if total > TOTAL_LIMIT {
                return Err(Error::malformed(
                    dir,
                    format!("the packet is over {TOTAL_LIMIT} bytes: too large to re-derive"),
                ));
            }
            if sha256_hex(&bytes) != e.sha256 {
                return Err(Error::failed(format!(
                    "{}: changed after the seal was checked (its sha256 is no longer the listed one)",
                    dir.join(&e.path).display()
                )));
            }
            files.insert(e.path.clone(), bytes);
        }
        files.insert(seal::MANIFEST_NAME.to_string(), manifest);
        Ok(Packet {
            dir: dir.to_path_buf(),
            files,
            reads,
        })
    }

    /// A packet made in memory (for tests and for callers that hold the bytes).
    pub fn from_files(dir: &Path, files: BTreeMap<String, Vec<u8>>) -> Packet {
        Packet {
            dir: dir.to_path_buf(),
            files,
            reads: AtomicUsize::new(0),
        }
    }

    /// The directory the packet was loaded from (named in messages only).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many files were read from disk to load it.
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::Relaxed)
    }

    /// Every listed file's path, sorted (the seal files aside).
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files
            .keys()
            .map(String::as_str)
            .filter(|p| *p != seal::MANIFEST_NAME)
    }

    /// The bytes of `path`, if the packet holds it.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// The bytes of `path`, or a malformed-input error naming it.
    pub fn bytes(&self, path: &str) -> Result<&[u8]> {
        self.get(path).ok_or_else(|| {
            Error::malformed(self.dir.join(path), "the packet does not hold this file")
        })
    }

    /// `path` parsed as strict JSON into `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T> {
        canonical::from_slice_strict(self.bytes(path)?, &self.dir.join(path))
    }

    /// Writes the files `keep` selects into `dir` (a private work directory).
    pub fn write_subset(&self, dir: &Path, keep: impl Fn(&str) -> bool) -> Result<()> {
        for (path, bytes) in self.files.iter().filter(|(p, _)| keep(p)) {
            let dest = dir.join(path);
            let parent = fsio::parent_dir(&dest);
            std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
            fsio::write_atomic(&dest, bytes)?;
        }
        Ok(())
    }
}
