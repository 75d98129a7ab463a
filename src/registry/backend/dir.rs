//! The directory backend: each name is a file under the registry directory.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Backend, Hold};
use crate::error::{Error, IoContext, Result};
use crate::fsio;
use crate::registry::history::{BLOBS_DIR, HISTORY_DIR, LOCK_FILE, LOG_FILE};

/// A registry directory.
#[derive(Debug, Clone)]
pub struct DirBackend {
    dir: PathBuf,
}

impl DirBackend {
    /// The registry in `dir` (which may not exist yet).
    pub fn new(dir: &Path) -> DirBackend {
        DirBackend {
            dir: dir.to_path_buf(),
        }
    }
}

impl Hold for fsio::LockGuard {}

impl Backend for DirBackend {
    fn root(&self) -> &Path {
        &self.dir
    }

    fn dir(&self) -> Option<&Path> {
        Some(&self.dir)
    }

    fn is_registry(&self) -> Result<bool> {
        Ok(self.dir.join(LOG_FILE).is_file())
    }

    fn prepare_create(&self) -> Result<()> {
        let dir = &self.dir;
        if dir.exists() {
            if !dir.is_dir() {
                return Err(Error::refused(format!(
                    "{} exists and is not a directory",
                    dir.display()
                )));
            }
            let mut found: Vec<String> = std::fs::read_dir(dir)
                .at(dir)?
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != HISTORY_DIR)
                .collect();
            found.sort();
            if let Some(first) = found.first() {
                return Err(Error::refused(format!(
                    "{} is not empty (found {first}); a registry needs a directory of its own",
                    dir.display()
                )));
            }
        }
        std::fs::create_dir_all(dir.join(BLOBS_DIR)).at(dir.join(BLOBS_DIR))?;
        Ok(())
    }

    fn lock(&self) -> Result<Box<dyn Hold>> {
        Ok(Box::new(fsio::LockGuard::exclusive(
            &self.dir.join(LOCK_FILE),
        )?))
    }

    fn read(&self, rel: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        match fsio::read_regular(&self.dir.join(rel), limit) {
            Ok(b) => Ok(Some(b)),
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn last_log_lines(&self, n: usize) -> Result<Option<Vec<Vec<u8>>>> {
        use std::io::{Read, Seek, SeekFrom};
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.dir.join(LOG_FILE);
        let mut f = match OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let meta = f.metadata().at(&path)?;
        if !meta.file_type().is_file() {
            return Err(Error::malformed(&path, "not a regular file"));
        }
        let len = meta.len();
        // Read back from the end until the chunk holds the newline before
        // the `n`th line from the end (or the whole file).
        let mut want: u64 = 64 << 10;
        loop {
            let take = want.min(len);
            let mut chunk = vec![0u8; take as usize];
            f.seek(SeekFrom::Start(len - take)).at(&path)?;
            f.read_exact(&mut chunk).at(&path)?;
            if !chunk.ends_with(b"\n") {
                return Ok(None);
            }
            let newlines = chunk.iter().filter(|&&b| b == b'\n').count();
            if take == len {
                return Ok(super::last_lines(&chunk, n));
            }
            if newlines > n {
                // The first line of the chunk may be cut: it is never one
                // of the last `n`.
                return Ok(super::last_lines(&chunk, n));
            }
            if want >= crate::registry::history::READ_LIMIT {
                return Err(Error::malformed(
                    &path,
                    "its last lines are longer than holdfast reads",
                ));
            }
            want = want.saturating_mul(4);
        }
    }

    fn exists(&self, rel: &str) -> Result<bool> {
        Ok(self.dir.join(rel).is_file())
    }

    fn write(&self, rel: &str, bytes: &[u8], read_only: bool) -> Result<()> {
        let path = self.dir.join(rel);
        let mode = if read_only { 0o444 } else { 0o644 };
        // A blob's temporary file is made in `history`, not among the
        // blobs, so a claim looks for leftovers in two small directories
        // instead of listing every blob (see `remove_leftovers`).
        let temp_dir = if rel
            .strip_prefix(BLOBS_DIR)
            .is_some_and(|r| r.starts_with('/'))
        {
            self.dir.join(HISTORY_DIR)
        } else {
            fsio::parent_dir(&path)
        };
        fsio::write_atomic_via(&path, &temp_dir, bytes, mode)
    }

    fn append_log(&self, record: &[u8]) -> Result<()> {
        let path = self.dir.join(LOG_FILE);
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .at(&path)?;
        // One write call: a kill leaves the whole line or a torn tail that the
        // next open ignores and truncates, never a line that parses half-way.
        f.write_all(record).at(&path)?;
        f.sync_data().at(&path)?;
        Ok(())
    }

    fn truncate_log(&self, len: u64) -> Result<()> {
        let path = self.dir.join(LOG_FILE);
        let f = OpenOptions::new().write(true).open(&path).at(&path)?;
        f.set_len(len).at(&path)?;
        f.sync_all().at(&path)?;
        Ok(())
    }

    fn remove_leftovers(&self, deep: bool) -> Result<()> {
        let mut dirs = vec![self.dir.clone(), self.dir.join(HISTORY_DIR)];
        if deep {
            dirs.push(self.dir.join(BLOBS_DIR));
        }
        for sub in dirs {
            let Ok(entries) = std::fs::read_dir(&sub) else {
                continue;
            };
            for e in entries.flatten() {
                if e.file_name()
                    .to_string_lossy()
                    .starts_with(fsio::TEMP_PREFIX)
                {
                    std::fs::remove_file(e.path()).at(e.path())?;
                }
            }
        }
        Ok(())
    }

    fn durable(&self) -> Result<()> {
        fsio::sync_dir(&self.dir.join(HISTORY_DIR))
    }

    fn fingerprint(&self, rel: &str) -> Result<Option<String>> {
        use std::os::unix::fs::MetadataExt;
        let Ok(m) = std::fs::symlink_metadata(self.dir.join(rel)) else {
            return Ok(None);
        };
        if !m.file_type().is_file() {
            return Ok(None);
        }
        Ok(Some(format!(
            "dev {} ino {} size {} mtime {}.{:09} ctime {}.{:09}",
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec()
        )))
    }

    fn append_at(&self, rel: &str, keep: u64, tail: &[u8]) -> Result<()> {
        use std::io::{Seek, SeekFrom};
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.dir.join(rel);
        let mut f = OpenOptions::new()
            .write(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
            .at(&path)?;
        let len = f.metadata().at(&path)?.len();
        if keep > len {
            return Err(Error::failed(format!(
                "internal: {}: cannot keep {keep} bytes of {len}",
                path.display()
            )));
        }
        f.set_len(keep).at(&path)?;
        f.seek(SeekFrom::Start(keep)).at(&path)?;
        f.write_all(tail).at(&path)?;
        f.sync_data().at(&path)?;
        Ok(())
    }

    fn list(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in walkdir::WalkDir::new(&self.dir).follow_links(false) {
            let entry =
                entry.map_err(|e| Error::io(&self.dir, std::io::Error::other(e.to_string())))?;
            if !entry.file_type().is_file() {
                continue;
            }
            let rel = entry
                .path()
                .strip_prefix(&self.dir)
                .map_err(|_| Error::failed("internal: a walked path outside its root"))?;
            let rel = rel.to_string_lossy().replace('\\', "/");
            if rel == LOCK_FILE
                || rel == crate::registry::fast::CACHE_FILE
                || rel
                    .rsplit('/')
                    .next()
                    .is_some_and(|n| n.starts_with(fsio::TEMP_PREFIX))
            {
                continue;
            }
            out.push(rel);
        }
        out.sort();
        Ok(out)
    }
}
