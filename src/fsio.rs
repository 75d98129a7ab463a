//! File-system edges shared by every artifact: atomic writes, exclusive locks,
//! bounded reads.
//!
//! An atomic write goes to a temporary file in the target's own directory, is
//! flushed to disk, renamed over the target, and then the directory itself is
//! flushed, so a crash or a kill at any instant leaves either the old bytes or
//! the new bytes under the name, never a torn file.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};

/// Largest packet artifact (JSON) holdfast reads back.
pub const ARTIFACT_LIMIT: u64 = 256 * 1024 * 1024;

/// Prefix of the temporary files an atomic write creates. A leftover one
/// (after a crash) is an unlisted file to `verify`, which fails closed.
pub const TEMP_PREFIX: &str = ".holdfast-tmp-";

/// Writes `bytes` to `path` atomically with mode 0644.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_mode(path, bytes, 0o644)
}

/// Writes `bytes` to `path` atomically with the given Unix permission bits.
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    write_atomic_via(path, &parent_dir(path), bytes, mode)
}

/// [`write_atomic_mode`] with the temporary file made in `temp_dir` (on the
/// same file system) instead of beside `path`, renamed into place and its
/// directory flushed. A crash may leave the temporary file in `temp_dir`,
/// whose owner removes such leftovers.
pub fn write_atomic_via(path: &Path, temp_dir: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = parent_dir(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(temp_dir)
        .at(temp_dir)?;
    tmp.write_all(bytes).at(tmp.path())?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))
        .at(tmp.path())?;
    tmp.as_file().sync_all().at(tmp.path())?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    sync_dir(&dir)
}

/// Flushes a directory's entries (a rename is durable only after this).
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).at(dir)
}

/// The directory `path` is in: its parent, or `.` for a bare file name (whose
/// `parent()` is the empty path, which no system call accepts).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Checks that the directory `out` is to be created in exists, is a
/// directory and is writable, and returns it. `flag` names the option in
/// the messages (`--out`). A parent that is missing, a regular file, or not
/// writable is an I/O error (exit 4) saying which, checked before any work
/// so a long run does not fail at its last step.
pub fn check_out_parent(out: &Path, flag: &str) -> Result<PathBuf> {
    use std::io::{Error as IoError, ErrorKind};
    let parent = parent_dir(out);
    let say = |kind: ErrorKind, why: String| {
        Error::io(
            &parent,
            IoError::new(kind, format!("{flag} {}: {why}", out.display())),
        )
    };
    match fs::metadata(&parent) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(say(
                ErrorKind::NotFound,
                "its parent directory does not exist; create it first".into(),
            ));
        }
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) => {
            return Err(say(
                ErrorKind::NotADirectory,
                "a component of its parent is a file, not a directory".into(),
            ));
        }
        Err(e) => return Err(Error::io(&parent, e)),
        Ok(m) if !m.is_dir() => {
            return Err(say(
                ErrorKind::NotADirectory,
                "its parent is a file, not a directory".into(),
            ));
        }
        Ok(_) => {}
    }
    use rustix::fs::{Access, access};
    if let Err(e) = access(&parent, Access::WRITE_OK | Access::EXEC_OK) {
        return Err(say(
            ErrorKind::PermissionDenied,
            format!("its parent directory is not writable ({e})"),
        ));
    }
    Ok(parent)
}

/// An exclusive advisory lock on a lock file, released when dropped.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
    path: PathBuf,
}

impl LockGuard {
    /// Blocks until the exclusive lock on `path` is held (creating the file
    /// if needed). The last component is opened without following a
    /// symbolic link, and only a regular file is locked: a lock path that is
    /// a link (or a FIFO, a device…) is refused, since locking whatever it
    /// points at would not keep other holdfast writers out.
    pub fn exclusive(path: &Path) -> Result<Self> {
        use rustix::fs::{FileType, Mode, OFlags};
        let flags =
            OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = rustix::fs::open(path, flags, Mode::from_raw_mode(0o644)).map_err(|e| {
            if e == rustix::io::Errno::LOOP {
                Error::refused(format!(
                    "{}: the lock file is a symbolic link; refusing to follow it (remove the link; holdfast creates the lock file itself)",
                    path.display()
                ))
            } else {
                Error::io(path, e.into())
            }
        })?;
        let st = rustix::fs::fstat(&fd).map_err(|e| Error::io(path, e.into()))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(Error::refused(format!(
                "{}: the lock file is not a regular file; refusing to lock it",
                path.display()
            )));
        }
        let file = File::from(fd);
        file.lock().at(path)?;
        Ok(LockGuard {
            file,
            path: path.to_path_buf(),
        })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Closing the descriptor releases the lock too; unlocking first just
        // makes the release explicit. A failure here cannot be acted on.
        let _ = self.file.unlock();
    }
}

/// Reads a whole regular file, refusing symlinks (the final component is opened
/// with O_NOFOLLOW) and anything larger than `limit` bytes.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let file = crate::digest::open_regular(path)?;
    let meta = file.metadata().at(path)?;
    if meta.len() > limit {
        return Err(Error::malformed(
            path,
            format!("is {} bytes, over the limit of {limit} bytes", meta.len()),
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes).at(path)?;
    if bytes.len() as u64 > limit {
        return Err(Error::malformed(
            path,
            format!("grew past the limit of {limit} bytes while being read"),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.json")]);
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
    }

    #[test]
    fn write_into_missing_directory_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nope/a.json");
        let err = write_atomic(&p, b"x").unwrap_err();
        assert_eq!(err.exit_code(), crate::error::exit::IO);
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn out_parent_problems_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, b"x").unwrap();
        let msg = |p: &Path| {
            let e = check_out_parent(p, "--out").unwrap_err();
            assert_eq!(e.exit_code(), crate::error::exit::IO, "{e}");
            e.to_string()
        };
        assert!(msg(&file.join("p")).contains("its parent is a file"));
        assert!(msg(&file.join("a/p")).contains("is a file, not a directory"));
        assert!(msg(&dir.path().join("nope/p")).contains("does not exist"));
        assert_eq!(
            check_out_parent(&dir.path().join("p"), "--out").unwrap(),
            dir.path()
        );
        assert_eq!(
            check_out_parent(Path::new("p"), "--out").unwrap(),
            Path::new(".")
        );
    }

    #[test]
    fn read_regular_refuses_symlinks_and_oversize() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t");
        fs::write(&target, b"12345").unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(
            read_regular(&link, 100)
                .unwrap_err()
                .to_string()
                .contains("symbolic link")
        );
        assert!(
            read_regular(&target, 4)
                .unwrap_err()
                .to_string()
                .contains("over the limit")
        );
        assert_eq!(read_regular(&target, 5).unwrap(), b"12345");
    }

    #[test]
    fn lock_is_exclusive_between_handles() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".lock");
        let guard = LockGuard::exclusive(&p).unwrap();
        let other = File::options().read(true).write(true).open(&p).unwrap();
        assert!(other.try_lock().is_err());
        drop(guard);
        assert!(other.try_lock().is_ok());
    }
}
