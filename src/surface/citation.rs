//! Evidence citations: a path relative to a source root, an optional line
//! range, and the sha256 of exactly the cited bytes.
//!
//! The cited bytes of `lines = "12-30"` are lines 12 to 30 including their
//! line ends (the last line of a file may have none); without `lines` they
//! are the whole file. A citation that leaves the source root (absolute,
//! `..`, or a symbolic link resolving outside), names a missing file, or
//! reaches past the last line fails closed: there is no hash of bytes that
//! are not there.
//!
//! `holdfast verify PACKET --source DIR` re-checks every citation recorded in
//! the packet's inventories with `inventory::verify_citations`.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::digest;
use crate::error::{Error, IoContext, Result, exit};

/// Largest inventory JSON `verify --source` reads.
pub const INVENTORY_LIMIT: u64 = 64 * 1024 * 1024;

/// An inclusive, 1-based range of lines, written `N` or `N-M`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LineRange {
    /// First cited line (1-based).
    pub first: u64,
    /// Last cited line (inclusive).
    pub last: u64,
}

impl LineRange {
    /// Whether line `n` is cited.
    pub fn contains(&self, n: u64) -> bool {
        self.first <= n && n <= self.last
    }
}

impl fmt::Display for LineRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

impl FromStr for LineRange {
    type Err = String;

    /// Parses `N` or `N-M` with `1 <= N <= M`, plain decimal digits only.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let num = |t: &str| -> std::result::Result<u64, String> {
            if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
                return Err(format!(
                    "lines {s:?}: expected N or N-M with whole numbers, e.g. \"12-30\""
                ));
            }
            t.parse::<u64>()
                .map_err(|_| format!("lines {s:?}: {t:?} is too large"))
        };
        let (first, last) = match s.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let n = num(s)?;
                (n, n)
            }
        };
        if first == 0 {
            return Err(format!("lines {s:?}: lines are numbered from 1"));
        }
        if first > last {
            return Err(format!("lines {s:?}: start {first} is after end {last}"));
        }
        Ok(LineRange { first, last })
    }
}

impl Serialize for LineRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LineRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for LineRange {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "LineRange".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[1-9][0-9]*(-[1-9][0-9]*)?$",
            "description": "Inclusive 1-based line range N or N-M with N <= M."
        })
    }
}

/// A citation as recorded in an inventory: the hash is always there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Citation {
    /// Path relative to the source root.
    pub path: String,
    /// The cited lines; absent for the whole file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<LineRange>,
    /// sha256 of exactly the cited bytes.
    pub sha256: String,
    /// What the cited bytes show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Citation {
    /// `path` or `path:12-30`, for messages and tables.
    pub fn location(&self) -> String {
        match self.lines {
            Some(r) => format!("{}:{r}", self.path),
            None => self.path.clone(),
        }
    }
}

/// Checks that `path` is a plain relative path: not empty, not absolute,
/// `/`-separated, and no `.`, `..` or empty component (so `a//b`, `a/./b`
/// and `a/` are refused, not normalized: a citation names one spelling of
/// one file). Symbolic links are checked when the file is opened.
pub fn check_relative_path(path: &str) -> std::result::Result<(), String> {
    use crate::model::path::{PathError, RelPath};
    RelPath::parse(path).map(|_| ()).map_err(|e| match e {
        PathError::Empty => format!("must not be empty ({e})"),
        PathError::Absolute => {
            format!("{path:?} is absolute ({e}); citations are relative to the source root")
        }
        PathError::ParentDir => format!("{path:?} leaves the source root ({e})"),
        PathError::CurDir | PathError::EmptyComponent => {
            format!("{path:?}: use a plain relative path ({e})")
        }
        _ => format!("{path:?}: {e}"),
    })
}

/// Why a citation could not be (re)checked, or did not match.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CitationProblemKind {
    /// The cited bytes hash to something else than recorded.
    Stale,
    /// The cited file does not exist.
    Missing,
    /// The path leaves the source root (absolute, `..`, or a link outside).
    OutOfRoot,
    /// The line range reaches past the file's last line.
    PastEnd,
    /// The path is a directory or special file, not a regular file.
    NotAFile,
    /// The file could not be read.
    Unreadable,
    /// An inventory file is absent from the packet.
    MissingInventory,
    /// An inventory file is not valid inventory JSON.
    MalformedInventory,
}

impl CitationProblemKind {
    /// Short label for human output.
    pub fn label(self) -> &'static str {
        match self {
            Self::Stale => "stale citation",
            Self::Missing => "missing cited file",
            Self::OutOfRoot => "citation out of root",
            Self::PastEnd => "citation past the end",
            Self::NotAFile => "cited path not a file",
            Self::Unreadable => "unreadable cited file",
            Self::MissingInventory => "missing inventory",
            Self::MalformedInventory => "malformed inventory",
        }
    }

    /// The exit code this problem earns on its own (see [`exit`]).
    pub fn exit_code(self) -> i32 {
        match self {
            Self::Unreadable => exit::IO,
            Self::MalformedInventory => exit::MALFORMED,
            _ => exit::FAILED,
        }
    }
}

/// A citation that failed, with what was expected and found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiteError {
    /// What went wrong.
    pub kind: CitationProblemKind,
    /// One line: path, lines, expected and found.
    pub detail: String,
}

impl fmt::Display for CiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.label(), self.detail)
    }
}

/// The sha256 of the cited bytes and how many lines the file has (when it
/// was read to the end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cited {
    /// Lowercase hex sha256 of the cited bytes.
    pub sha256: String,
    /// Number of cited bytes.
    pub bytes: u64,
}

/// Streams bytes and hashes only the cited lines.
struct LineHasher {
    range: Option<LineRange>,
    line: u64,
    hasher: Sha256,
    bytes: u64,
    seen_any: bool,
    ends_with_newline: bool,
}

impl LineHasher {
    fn new(range: Option<LineRange>) -> Self {
        LineHasher {
            range,
            line: 1,
            hasher: Sha256::new(),
            bytes: 0,
            seen_any: false,
            ends_with_newline: false,
        }
    }

    /// True once every cited line has been seen (the rest need not be read).
    fn done(&self) -> bool {
        self.range.is_some_and(|r| self.line > r.last)
    }

    fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() && !self.done() {
            let end = data
                .iter()
                .position(|&b| b == b'\n')
                .map_or(data.len(), |p| p + 1);
            let seg = &data[..end];
            if self.range.is_none_or(|r| r.contains(self.line)) {
                self.hasher.update(seg);
                self.bytes += seg.len() as u64;
            }
            self.seen_any = true;
            self.ends_with_newline = seg.ends_with(b"\n");
            if self.ends_with_newline {
                self.line += 1;
            }
            data = &data[end..];
        }
    }

    /// Number of lines in what was seen (a final line without a newline counts).
    fn lines_seen(&self) -> u64 {
        if !self.seen_any {
            0
        } else if self.ends_with_newline {
            self.line - 1
        } else {
            self.line
        }
    }

    fn finish(self) -> std::result::Result<Cited, u64> {
        if let Some(r) = self.range
            && !self.done()
            && self.lines_seen() < r.last
        {
            return Err(self.lines_seen());
        }
        Ok(Cited {
            sha256: hex::encode(self.hasher.finalize()),
            bytes: self.bytes,
        })
    }
}

/// The sha256 of the cited lines of `bytes` (pure; for tests and in-memory
/// text). `Err(n)` when the range reaches past the last line; `n` is the
/// number of lines there are.
pub fn cite_bytes(bytes: &[u8], lines: Option<LineRange>) -> std::result::Result<Cited, u64> {
    let mut h = LineHasher::new(lines);
    h.update(bytes);
    h.finish()
}

/// Resolves `rel` under `root` (already canonical) and refuses anything that
/// ends up outside it.
fn resolve(root: &Path, rel: &str) -> std::result::Result<PathBuf, CiteError> {
    check_relative_path(rel).map_err(|why| CiteError {
        kind: CitationProblemKind::OutOfRoot,
        detail: why,
    })?;
    let joined = root.join(rel);
    let real = std::fs::canonicalize(&joined).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            CiteError {
                kind: CitationProblemKind::Missing,
                detail: format!("{rel}: no such file under the source root"),
            }
        } else {
            CiteError {
                kind: CitationProblemKind::Unreadable,
                detail: format!("{rel}: {e}"),
            }
        }
    })?;
    if !real.starts_with(root) {
        return Err(CiteError {
            kind: CitationProblemKind::OutOfRoot,
            detail: format!("{rel}: resolves (through a symbolic link) outside the source root"),
        });
    }
    Ok(real)
}

/// Canonical form of a source root; it must be a directory.
pub fn source_root(root: &Path) -> Result<PathBuf> {
    let real = std::fs::canonicalize(root).at(root)?;
    if !real.is_dir() {
        return Err(Error::malformed(root, "source root is not a directory"));
    }
    Ok(real)
}

/// Hashes the cited bytes of `rel` (relative to the canonical `root`),
/// streaming, so a large file costs no memory.
pub fn cite_file(
    root: &Path,
    rel: &str,
    lines: Option<LineRange>,
) -> std::result::Result<Cited, CiteError> {
    let real = resolve(root, rel)?;
    let mut file = digest::open_regular(&real).map_err(|e| match e {
        Error::Malformed { .. } => CiteError {
            kind: CitationProblemKind::NotAFile,
            detail: format!("{rel}: is not a regular file"),
        },
        other => CiteError {
            kind: CitationProblemKind::Unreadable,
            detail: format!("{rel}: {other}"),
        },
    })?;
    let mut h = LineHasher::new(lines);
    let mut buf = vec![0u8; digest::CHUNK];
    while !h.done() {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(CiteError {
                    kind: CitationProblemKind::Unreadable,
                    detail: format!("{rel}: {e}"),
                });
            }
        };
        h.update(&buf[..n]);
    }
    h.finish().map_err(|have| CiteError {
        kind: CitationProblemKind::PastEnd,
        detail: format!(
            "{rel}: lines {} reach past the end of the file, which has {have} line(s)",
            lines.map(|r| r.to_string()).unwrap_or_default()
        ),
    })
}

/// Checks a recorded citation against `root`: `Ok` when the bytes still hash
/// to the recorded sha256.
pub fn check(root: &Path, c: &Citation) -> std::result::Result<(), CiteError> {
    let cited = cite_file(root, &c.path, c.lines)?;
    if cited.sha256 != c.sha256 {
        return Err(CiteError {
            kind: CitationProblemKind::Stale,
            detail: format!(
                "{}: sha256 recorded {}, found {}",
                c.location(),
                c.sha256,
                cited.sha256
            ),
        });
    }
    Ok(())
}

/// One problem found by `inventory::verify_citations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CitationProblem {
    /// What is wrong.
    pub kind: CitationProblemKind,
    /// The inventory file the citation is recorded in.
    pub inventory: String,
    /// The surface id (empty for inventory-level problems).
    pub surface: String,
    /// Index of the citation in the surface's evidence list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_index: Option<usize>,
    /// `path` or `path:lines` of the citation (empty for inventory-level problems).
    pub citation: String,
    /// One line: expected and found.
    pub detail: String,
    /// The citation as the inventory records it (absent for inventory-level
    /// problems).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Citation>,
    /// sha256 of the inventory file's bytes (absent when it could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_sha256: Option<String>,
    /// JSON Pointer of the citation in the inventory, e.g. `/surfaces/2/evidence/0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// The result of re-checking every citation of a packet against a source tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CitationReport {
    /// The inventory files read.
    pub inventories: Vec<String>,
    /// Citations re-hashed.
    pub citations_checked: usize,
    /// Citations whose bytes still match.
    pub citations_fresh: usize,
    /// Every problem, in inventory, surface and evidence order.
    pub problems: Vec<CitationProblem>,
}

impl CitationReport {
    /// True when every citation is fresh and every inventory was read.
    pub fn is_fresh(&self) -> bool {
        self.problems.is_empty()
    }

    /// 0 when fresh, else the worst problem's code (I/O over malformed over failed).
    pub fn exit_code(&self) -> i32 {
        self.problems
            .iter()
            .map(|p| p.kind.exit_code())
            .fold(exit::OK, exit::worst)
    }

    /// One word for machines: `FRESH`, `STALE`, `MALFORMED` or `IO_ERROR`.
    pub fn status(&self) -> &'static str {
        match self.exit_code() {
            exit::OK => "FRESH",
            exit::IO => "IO_ERROR",
            exit::MALFORMED => "MALFORMED",
            _ => "STALE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::fs;

    fn r(s: &str) -> LineRange {
        s.parse().unwrap()
    }

    #[test]
    fn line_ranges_parse_strictly() {
        assert_eq!(
            r("12-30"),
            LineRange {
                first: 12,
                last: 30
            }
        );
        assert_eq!(r("7"), LineRange { first: 7, last: 7 });
        assert_eq!(r("7").to_string(), "7");
        assert_eq!(r("1-2").to_string(), "1-2");
        for bad in [
            "", "0", "0-3", "0-1", "5-2", "a", "1-", "-2", "-3", "1-2-3", "1--2", " 1", "+1",
            "1..2",
        ] {
            assert!(bad.parse::<LineRange>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cited_bytes_are_the_lines_with_their_newlines() {
        let text = b"one\ntwo\nthree";
        assert_eq!(
            cite_bytes(text, Some(r("1"))).unwrap().sha256,
            digest::sha256_hex(b"one\n")
        );
        assert_eq!(
            cite_bytes(b"a\n", Some(r("1"))).unwrap().sha256,
            digest::sha256_hex(b"a\n")
        );
        assert_eq!(
            cite_bytes(text, Some(r("2"))).unwrap().sha256,
            digest::sha256_hex(b"two\n")
        );
        assert_eq!(
            cite_bytes(text, Some(r("2-3"))).unwrap().sha256,
            digest::sha256_hex(b"two\nthree")
        );
        assert_eq!(
            cite_bytes(text, None).unwrap().sha256,
            digest::sha256_hex(text)
        );
        assert_eq!(cite_bytes(text, Some(r("3-4"))), Err(3));
        assert_eq!(cite_bytes(b"a\n", Some(r("2"))), Err(1));
        assert_eq!(cite_bytes(b"", Some(r("1"))), Err(0));
        assert_eq!(
            cite_bytes(b"\n\n", Some(r("2"))).unwrap().sha256,
            digest::sha256_hex(b"\n")
        );
    }

    #[test]
    fn relative_paths_only() {
        assert!(check_relative_path("src/a.rs").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a/../../x",
            "./a",
            "a/./b",
            "a//b",
            "a/",
            "a\\b",
            "a\0b",
        ] {
            assert!(check_relative_path(bad).is_err(), "{bad:?}");
        }
    }

    fn tree() -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("sub/a.txt"), "l1\nl2\nl3\n").unwrap();
        fs::write(d.path().join("outside.txt"), "secret\n").unwrap();
        std::os::unix::fs::symlink("../outside.txt", src.join("escape")).unwrap();
        std::os::unix::fs::symlink("sub/a.txt", src.join("inside")).unwrap();
        let root = source_root(&src).unwrap();
        (d, root)
    }

    #[test]
    fn files_fresh_stale_missing_out_of_root_past_end() {
        let (_d, root) = tree();
        let ok = cite_file(&root, "sub/a.txt", Some(r("2-3"))).unwrap();
        assert_eq!(ok.sha256, digest::sha256_hex(b"l2\nl3\n"));
        assert_eq!(cite_file(&root, "inside", Some(r("2-3"))).unwrap(), ok);
        let kind = |p: &str, l: Option<LineRange>| cite_file(&root, p, l).unwrap_err().kind;
        assert_eq!(kind("escape", None), CitationProblemKind::OutOfRoot);
        assert_eq!(kind("../outside.txt", None), CitationProblemKind::OutOfRoot);
        assert_eq!(kind("nope.txt", None), CitationProblemKind::Missing);
        assert_eq!(
            kind("sub/a.txt", Some(r("3-4"))),
            CitationProblemKind::PastEnd
        );
        assert_eq!(kind("sub", None), CitationProblemKind::NotAFile);
        let c = Citation {
            path: "sub/a.txt".into(),
            lines: Some(r("2-3")),
            sha256: ok.sha256.clone(),
            note: None,
        };
        assert!(check(&root, &c).is_ok());
        fs::write(root.join("sub/a.txt"), "l1\nL2\nl3\n").unwrap();
        let e = check(&root, &c).unwrap_err();
        assert_eq!(e.kind, CitationProblemKind::Stale);
        assert!(
            e.detail.contains("sub/a.txt:2-3") && e.detail.contains(&ok.sha256),
            "{e}"
        );
    }

    #[test]
    fn an_edit_outside_the_range_keeps_the_citation_fresh() {
        let (_d, root) = tree();
        let before = cite_file(&root, "sub/a.txt", Some(r("2"))).unwrap();
        fs::write(root.join("sub/a.txt"), "changed\nl2\nl3 too\n").unwrap();
        assert_eq!(cite_file(&root, "sub/a.txt", Some(r("2"))).unwrap(), before);
    }

    proptest! {
        /// Streaming in arbitrary chunk sizes gives the same hash as the
        /// lines cut out directly.
        #[test]
        fn streaming_matches_direct_slicing(
            lines in proptest::collection::vec("[a-z]{0,5}", 0..12),
            trailing in any::<bool>(),
            first in 1u64..14,
            len in 0u64..4,
            chunk in 1usize..7,
        ) {
            let mut text = lines.join("\n");
            if trailing && !lines.is_empty() { text.push('\n'); }
            let bytes = text.as_bytes();
            let range = LineRange { first, last: first + len };
            // Direct: split keeping newlines.
            let pieces: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
            let expected = if (range.last as usize) <= pieces.len() {
                Ok(digest::sha256_hex(&pieces[first as usize - 1..range.last as usize].concat()))
            } else {
                Err(pieces.len() as u64)
            };
            let mut h = LineHasher::new(Some(range));
            for c in bytes.chunks(chunk) { h.update(c); }
            prop_assert_eq!(h.finish().map(|c| c.sha256), expected);
        }
    }
}
