//! Where a registry's bytes live: the storage seam under [`Store`](super::Store).
//!
//! Every registry operation (claim, fold, rollback, check, replay) is
//! written once, in [`store`](super::store) and [`history`](super::history),
//! against this trait. A backend stores named byte strings (the documents,
//! the blobs, the completion marker) and the append-only log, and gives one
//! exclusive writer at a time. So the directory and PostgreSQL hold exactly
//! the same bytes, refuse exactly the same inputs and produce exactly the same
//! fold results and reverse patches: there is no second implementation of
//! any rule to drift apart.
//!
//! - [`dir`]: a directory (the embedded default); a write is crash-safe by
//!   its order of atomic renames and the log's commit line;
//! - [`postgres`]: a PostgreSQL database (a `postgres://` or
//!   `postgresql://` location); a write is one transaction under a row lock,
//!   so a killed client or a crashed server leaves nothing partial.

pub mod dir;
pub mod export;
pub mod postgres;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Result;

/// Held while a store has the registry to itself; dropping it releases the
/// registry (and, on PostgreSQL, rolls back whatever was not made durable).
pub trait Hold: Send + Sync + std::fmt::Debug {}

/// The storage operations a registry needs. `rel` names are `/`-separated
/// paths relative to the registry (e.g. `objects.json`, `history/log.jsonl`,
/// `history/blobs/<sha256>`), the same on every backend.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// The registry's location as the user gave it (a directory, or a URL
    /// that carries no password): the base of every path in a message.
    fn root(&self) -> &Path;

    /// The directory, when the registry is one (fold outputs may not be
    /// written inside it).
    fn dir(&self) -> Option<&Path>;

    /// Where `rel` is, for messages.
    fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    /// Whether a registry is here (its log exists).
    fn is_registry(&self) -> Result<bool>;

    /// Makes the location ready for a first state; refuses one that already
    /// holds anything (exit 5).
    fn prepare_create(&self) -> Result<()>;

    /// Takes the registry for exclusive use until the returned hold drops.
    fn lock(&self) -> Result<Box<dyn Hold>>;

    /// The bytes of `rel`, `None` when it does not exist. Longer than
    /// `limit` is an error.
    fn read(&self, rel: &str, limit: u64) -> Result<Option<Vec<u8>>>;

    /// The log's last `n` lines (fewer when it is shorter), oldest first,
    /// without their newlines: `None` when the log is missing or empty, or
    /// does not end with a newline (a torn write, which only a full read
    /// repairs). Lets a claim see the head state without reading the whole
    /// history.
    fn last_log_lines(&self, n: usize) -> Result<Option<Vec<Vec<u8>>>> {
        let Some(bytes) = self.read(
            crate::registry::history::LOG_FILE,
            crate::registry::history::READ_LIMIT,
        )?
        else {
            return Ok(None);
        };
        Ok(last_lines(&bytes, n))
    }

    /// Whether `rel` exists.
    fn exists(&self, rel: &str) -> Result<bool>;

    /// Replaces `rel` with `bytes` atomically (`read_only`: a blob, never
    /// rewritten).
    fn write(&self, rel: &str, bytes: &[u8], read_only: bool) -> Result<()>;

    /// Appends one log record (a line and its newline) and makes it durable
    /// unless the backend makes a whole write durable at once (see
    /// [`Backend::durable`]).
    fn append_log(&self, record: &[u8]) -> Result<()>;

    /// Cuts the log to `len` bytes (a torn final line, a commit that never happened).
    fn truncate_log(&self, len: u64) -> Result<()>;

    /// Removes what a killed write left behind (the lock is held). `deep`
    /// also looks among the blobs, where only writes of older holdfast
    /// versions left their temporary files: a directory of every revision's
    /// blob, too large to list on every claim.
    fn remove_leftovers(&self, deep: bool) -> Result<()>;

    /// Makes everything written since the lock was taken durable, as one
    /// unit where the backend can (PostgreSQL commits its transaction and
    /// starts the next one under the lock). The directory is durable write
    /// by write and only syncs its history directory.
    fn durable(&self) -> Result<()>;

    /// Lets go of the registry right after making everything durable, for
    /// a store that writes nothing more under this hold (a claim): where
    /// the backend can, both in one step (PostgreSQL commits and releases
    /// its lock in one round trip, which every writer queued behind this
    /// one waits for), after which dropping the hold does nothing more.
    fn finish(&self) -> Result<()> {
        self.durable()
    }

    /// Says which reads are coming (see [`ReadAhead`]), so a backend where
    /// each read is a round trip makes them all in one. Later calls of
    /// [`Backend::read`], [`Backend::exists`], [`Backend::fingerprint`] and
    /// [`Backend::last_log_lines`] give exactly what they would have given
    /// at this moment (until the hold's transaction ends, or the name is
    /// written), so a caller never depends on it. The directory reads on
    /// demand and ignores it.
    fn read_ahead(&self, _what: &ReadAhead<'_>) -> Result<()> {
        Ok(())
    }

    /// [`Backend::fingerprint`] of each of `rels`, in order: one round trip
    /// on PostgreSQL, also where writes are still to be sent.
    fn fingerprints(&self, rels: &[&str]) -> Result<Vec<Option<String>>> {
        rels.iter().map(|rel| self.fingerprint(rel)).collect()
    }

    /// Every stored name, sorted (for export).
    fn list(&self) -> Result<Vec<String>>;

    /// What changes whenever `rel` is written by anyone (on a directory:
    /// device, inode, size, modification and status-change times of the
    /// file, not following a link), so a claim can tell that a records
    /// document is still the one it wrote without reading it (see
    /// [`fast`](crate::registry::fast)). `None`: the backend has no such
    /// thing (or `rel` is missing or not a regular file), and every claim
    /// reads and hashes the whole document.
    fn fingerprint(&self, _rel: &str) -> Result<Option<String>> {
        Ok(None)
    }

    /// Cuts `rel` to its first `keep` bytes and appends `tail`, in place,
    /// and makes it durable: a claim's records added to a records document
    /// without rewriting it. Not atomic: a crash can leave the first `keep`
    /// bytes and part of `tail`, which recovery tells apart from a hand
    /// edit (the bytes are a prefix of the state the log commits, see
    /// [`store`](crate::registry::store)). Only called where
    /// [`Backend::fingerprint`] gives `Some`.
    fn append_at(&self, rel: &str, _keep: u64, _tail: &[u8]) -> Result<()> {
        Err(crate::error::Error::failed(format!(
            "internal: {rel}: this backend does not append in place"
        )))
    }
}

/// The reads a caller is about to make, for [`Backend::read_ahead`].
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadAhead<'a> {
    /// Names whose bytes (or absence) will be read.
    pub read: &'a [&'a str],
    /// Names whose existence only will be asked (a blob that may be large).
    pub exists: &'a [&'a str],
    /// Names whose [fingerprint](Backend::fingerprint) will be asked.
    pub fingerprints: &'a [&'a str],
    /// How many of the log's last lines will be asked for.
    pub log_tail: usize,
}

/// The last `n` lines of `bytes` (oldest first, without newlines) when
/// they end with a newline and hold a line; fewer when there are fewer.
pub(crate) fn last_lines(bytes: &[u8], n: usize) -> Option<Vec<Vec<u8>>> {
    let body = bytes.strip_suffix(b"\n")?;
    let mut out: Vec<Vec<u8>> = body
        .rsplit(|&b| b == b'\n')
        .take(n)
        .map(<[u8]>::to_vec)
        .collect();
    out.reverse();
    Some(out)
}

/// Whether `location` names a PostgreSQL database rather than a directory.
pub fn is_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// The backend for `location`: a `postgres://` / `postgresql://` URL (see
/// [`postgres::PgBackend::connect`]), else a directory.
pub fn open(location: &Path) -> Result<Arc<dyn Backend>> {
    match location.to_str() {
        Some(s) if is_url(s) => Ok(Arc::new(postgres::PgBackend::connect(s)?)),
        _ => Ok(Arc::new(dir::DirBackend::new(location))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_lines_are_there_only_when_the_bytes_end_a_line() {
        let v = |xs: &[&str]| Some(xs.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>());
        assert_eq!(last_lines(b"a\nbc\n", 1), v(&["bc"]));
        assert_eq!(last_lines(b"a\nbc\n", 2), v(&["a", "bc"]));
        assert_eq!(last_lines(b"a\nbc\n", 5), v(&["a", "bc"]));
        assert_eq!(last_lines(b"only\n", 3), v(&["only"]));
        assert_eq!(last_lines(b"a\n\n", 1), v(&[""]));
        assert_eq!(last_lines(b"a\ntorn", 2), None);
        assert_eq!(last_lines(b"", 1), None);
    }

    #[test]
    fn a_directory_log_is_read_back_from_its_end() {
        let tmp = tempfile::tempdir().unwrap();
        let b = dir::DirBackend::new(tmp.path());
        assert_eq!(b.last_log_lines(1).unwrap(), None);
        std::fs::create_dir_all(tmp.path().join(crate::registry::HISTORY_DIR)).unwrap();
        let log = tmp.path().join(crate::registry::LOG_FILE);
        // Lines longer than the first chunk read from the end.
        let long = "x".repeat(200 << 10);
        let other = "y".repeat(70 << 10);
        std::fs::write(&log, format!("first\n{other}\n{long}\n")).unwrap();
        let lines = |n| b.last_log_lines(n).unwrap().unwrap();
        assert_eq!(lines(1), vec![long.clone().into_bytes()]);
        assert_eq!(
            lines(2),
            vec![other.clone().into_bytes(), long.clone().into_bytes()]
        );
        assert_eq!(lines(3)[0], b"first".to_vec());
        assert_eq!(lines(9).len(), 3);
        std::fs::write(&log, format!("first\n{long}")).unwrap();
        assert_eq!(
            b.last_log_lines(1).unwrap(),
            None,
            "a torn line is not a head"
        );
        // The same lines as the whole log read and split.
        let bytes = b"a\nbb\n\nccc\nd\n";
        std::fs::write(&log, bytes).unwrap();
        for n in 1..7 {
            assert_eq!(
                b.last_log_lines(n).unwrap(),
                last_lines(bytes, n),
                "n = {n}"
            );
        }
        // Not followed through a link.
        std::fs::remove_file(&log).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("elsewhere"), &log).unwrap();
        std::fs::write(tmp.path().join("elsewhere"), "a\n").unwrap();
        assert!(b.last_log_lines(1).is_err());
    }
}
