//! SHA-256 of bytes and of files: the one hashing primitive every artifact uses.
//!
//! Files are opened without following a final symlink and without blocking on
//! a FIFO, checked to be regular after opening (so a swap between the walk and
//! the open cannot smuggle in something else), and read in bounded chunks so
//! memory stays flat whatever the file size.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};

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

/// Opens `path` for reading: no symlink following on the last component, no
/// blocking on FIFOs, close-on-exec. Fails unless it is a regular file.
pub fn open_regular(path: &Path) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                Error::malformed(path, "is a symbolic link; refusing to follow it")
            } else {
                Error::io(path, e)
            }
        })?;
    let meta = file.metadata().at(path)?;
    if !meta.is_file() {
        return Err(Error::malformed(path, "is not a regular file"));
    }
    Ok(file)
}

/// Hashes one file with a caller-provided buffer (reused across files by a
/// hashing thread, so small files cost no allocation).
pub fn hash_file_with(path: &Path, buf: &mut [u8]) -> Result<FileDigest> {
    let mut file = open_regular(path)?;
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    loop {
        let n = match file.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path, e)),
        };
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok(FileDigest {
        sha256: hex::encode(hasher.finalize()),
        len,
    })
}

/// Hashes one file (allocates its own buffer).
pub fn hash_file(path: &Path) -> Result<FileDigest> {
    let mut buf = vec![0u8; CHUNK];
    hash_file_with(path, &mut buf)
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
        let p = dir.path().join("f");
        let data: Vec<u8> = (0..(CHUNK * 2 + 17)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let d = hash_file(&p).unwrap();
        assert_eq!(d.sha256, sha256_hex(&data));
        assert_eq!(d.len, data.len() as u64);
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
    }
}
