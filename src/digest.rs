//! SHA-256 of bytes and of files: the one hashing primitive every artifact uses.
//!
//! Files inside a tree are opened relative to the tree's root directory with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`: the kernel refuses any
//! path that leaves the tree or crosses a symbolic link at any component, so a
//! swap between the walk and the open cannot redirect a read. Opens never
//! block on a FIFO, the result is checked to be a regular file, and reads go
//! through a bounded per-thread buffer so memory stays flat whatever the size.

use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Size of the read buffer per hashing thread. Large enough that the
/// per-call overhead vanishes against SHA-256's cost, small enough to stay in L2.
pub const CHUNK: usize = 256 * 1024;

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The digest and length of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// Number of bytes hashed.
    pub len: u64,
}

/// A raw 32-byte SHA-256 and the number of bytes hashed.
pub type RawDigest = ([u8; 32], u64);

const READ_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::NONBLOCK)
    .union(OFlags::CLOEXEC);

/// Opens `path` for reading: no symlink following on the last component, no
/// blocking on FIFOs, close-on-exec. Fails unless it is a regular file.
pub fn open_regular(path: &Path) -> Result<File> {
    let fd = rustix::fs::open(path, READ_FLAGS, Mode::empty()).map_err(|e| open_error(path, e))?;
    check_regular(fd, path).map(|(f, _)| f)
}

fn open_error(path: &Path, e: Errno) -> Error {
    match e {
        Errno::LOOP => Error::malformed(path, "is a symbolic link; refusing to follow it"),
        Errno::XDEV => Error::malformed(path, "resolves outside the tree; refusing to follow it"),
        other => Error::io(path, other.into()),
    }
}

/// Confirms an open descriptor is a regular file; returns it with its size.
fn check_regular(fd: OwnedFd, path: &Path) -> Result<(File, u64)> {
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::io(path, e.into()))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(Error::malformed(path, "is not a regular file"));
    }
    Ok((File::from(fd), u64::try_from(st.st_size).unwrap_or(0)))
}

/// Hashes an open file. `size` is the size seen at open; a read shorter than
/// requested means end of file for a regular file, so a file that did not
/// change is read with no extra end-of-file probe, while one that grew is
/// read to its new end.
fn hash_open(
    mut file: File,
    size: u64,
    buf: &mut [u8],
    path: &dyn Fn() -> std::path::PathBuf,
) -> Result<RawDigest> {
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    loop {
        let remaining = size.saturating_sub(len);
        let want = usize::try_from(remaining.saturating_add(1))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = match file.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path(), e)),
        };
        hasher.update(&buf[..n]);
        len += n as u64;
        if n < want || n == 0 {
            break;
        }
    }
    Ok((hasher.finalize().into(), len))
}

/// Hashes one file with a caller-provided buffer.
pub fn hash_file_with(path: &Path, buf: &mut [u8]) -> Result<FileDigest> {
    let fd = rustix::fs::open(path, READ_FLAGS, Mode::empty()).map_err(|e| open_error(path, e))?;
    let (file, size) = check_regular(fd, path)?;
    let (raw, len) = hash_open(file, size, buf, &|| path.to_path_buf())?;
    Ok(FileDigest {
        sha256: hex::encode(raw),
        len,
    })
}

/// Hashes one file (allocates its own buffer).
pub fn hash_file(path: &Path) -> Result<FileDigest> {
    let mut buf = vec![0u8; CHUNK];
    hash_file_with(path, &mut buf)
}

/// A directory tree whose files are opened relative to its root, never
/// through a symbolic link and never outside it.
#[derive(Debug)]
pub struct Tree {
    root: OwnedFd,
    root_path: std::path::PathBuf,
    /// Cleared when the kernel lacks `openat2` (before Linux 5.6); the
    /// fallback still refuses a link as the last component.
    has_openat2: AtomicBool,
}

impl Tree {
    /// Opens the tree rooted at `root` (which may itself be a link to a directory).
    pub fn open(root: &Path) -> Result<Self> {
        let fd = rustix::fs::open(
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            Errno::NOTDIR => Error::malformed(root, "is not a directory"),
            other => Error::io(root, other.into()),
        })?;
        Ok(Tree {
            root: fd,
            root_path: root.to_path_buf(),
            has_openat2: AtomicBool::new(true),
        })
    }

    /// Opens `rel` (a `/`-separated path inside the tree) for reading.
    fn open_file(&self, rel: &str) -> Result<(File, u64)> {
        let shown = || self.root_path.join(rel);
        let opened = if self.has_openat2.load(Ordering::Relaxed) {
            match rustix::fs::openat2(
                &self.root,
                rel,
                READ_FLAGS,
                Mode::empty(),
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
            ) {
                Err(Errno::NOSYS) => {
                    self.has_openat2.store(false, Ordering::Relaxed);
                    rustix::fs::openat(&self.root, rel, READ_FLAGS, Mode::empty())
                }
                other => other,
            }
        } else {
            rustix::fs::openat(&self.root, rel, READ_FLAGS, Mode::empty())
        };
        let fd = opened.map_err(|e| open_error(&shown(), e))?;
        check_regular(fd, &shown())
    }

    /// Reads the whole file `rel` inside the tree, refusing one larger than
    /// `limit` bytes (opened like [`Tree::hash`]: no link, never outside).
    pub fn read(&self, rel: &str, limit: u64) -> Result<Vec<u8>> {
        use std::io::Read as _;
        let (file, size) = self.open_file(rel)?;
        let shown = || self.root_path.join(rel);
        if size > limit {
            return Err(Error::malformed(
                shown(),
                format!("{size} bytes is over the limit of {limit}"),
            ));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(shown(), e))?;
        if bytes.len() as u64 > limit {
            return Err(Error::malformed(
                shown(),
                format!("grew past the limit of {limit} bytes while read"),
            ));
        }
        Ok(bytes)
    }

    /// Hashes the file `rel` inside the tree with a caller-provided buffer.
    pub fn hash(&self, rel: &str, buf: &mut [u8]) -> Result<RawDigest> {
        let (file, size) = self.open_file(rel)?;
        // The path is only built for an error message: not once per file.
        hash_open(file, size, buf, &|| self.root_path.join(rel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn file_hash_equals_bytes_hash_across_chunk_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, CHUNK * 2 + 17] {
            let p = dir.path().join(format!("f{size}"));
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            std::fs::write(&p, &data).unwrap();
            let d = hash_file(&p).unwrap();
            assert_eq!((d.sha256, d.len), (sha256_hex(&data), size as u64));
            let tree = Tree::open(dir.path()).unwrap();
            let mut buf = vec![0u8; CHUNK];
            let (raw, len) = tree.hash(&format!("f{size}"), &mut buf).unwrap();
            assert_eq!((hex::encode(raw), len), (sha256_hex(&data), size as u64));
        }
    }

    #[test]
    fn fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        let ok = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .unwrap();
        assert!(ok.success());
        let err = hash_file(&p).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let tree = Tree::open(dir.path()).unwrap();
        let err = tree.hash("fifo", &mut [0u8; 16]).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn tree_never_crosses_a_link_at_any_component() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"s").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("leaf")).unwrap();
        let tree = Tree::open(dir.path()).unwrap();
        let mut buf = [0u8; 16];
        for rel in ["sub/secret", "leaf", "../x"] {
            let err = tree.hash(rel, &mut buf).unwrap_err();
            assert_eq!(
                err.exit_code(),
                crate::error::exit::MALFORMED,
                "{rel}: {err}"
            );
        }
    }
}
