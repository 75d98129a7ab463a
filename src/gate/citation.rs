//! Evidence citations of blockers: a path under a source root, an optional
//! line range, and the sha256 of exactly the cited bytes.
//!
//! The cited bytes of `lines = "A-B"` are lines A to B (1-based, inclusive)
//! with their line feeds, which is what `sed -n 'A,Bp' FILE | sha256sum`
//! hashes when line B ends in a line feed; without `lines` it is the whole
//! file (`sha256sum FILE`).

use std::path::{Component, Path};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::digest;
use crate::error::Error;
use crate::fsio;
use crate::seal::is_sha256_hex;

/// Largest file a citation may cite.
pub const CITED_FILE_LIMIT: u64 = 256 * 1024 * 1024;

/// One citation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Citation {
    /// Path relative to the source root, `/`-separated, no `..`.
    pub path: String,
    /// `A-B` or `A` (1-based, inclusive); absent: the whole file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<String>,
    /// sha256 (64 lower-case hex) of the cited bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// What checking a citation against a source tree found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "state", rename_all = "kebab-case", deny_unknown_fields)]
pub enum CitationState {
    /// Not checked (no source tree was given).
    NotChecked,
    /// The cited bytes hash to the recorded sha256.
    Fresh,
    /// The cited bytes are not what was recorded.
    Stale {
        /// What was found instead: a hash, or why nothing could be read.
        found: String,
    },
}

/// Parses `A-B` or `A` into an inclusive 1-based range.
pub fn parse_lines(s: &str) -> std::result::Result<(usize, usize), String> {
    let num = |t: &str| -> std::result::Result<usize, String> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("lines {s:?}: expected A-B or A with whole numbers"));
        }
        t.parse::<usize>()
            .map_err(|_| format!("lines {s:?}: number too large"))
    };
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let a = num(s)?;
            (a, a)
        }
    };
    if a == 0 || a > b {
        return Err(format!("lines {s:?}: expected 1 <= A <= B"));
    }
    Ok((a, b))
}

/// Checks a citation's shape; `require_sha` for closing evidence, which must
/// pin its bytes. Returns a message naming the field.
pub fn check_shape(c: &Citation, require_sha: bool) -> std::result::Result<(), String> {
    check_relative(&c.path).map_err(|why| format!("path: {why}"))?;
    if let Some(l) = &c.lines {
        parse_lines(l)?;
    }
    match &c.sha256 {
        Some(h) if !is_sha256_hex(h) => Err("sha256: expected 64 lower-case hex digits".into()),
        None if require_sha => Err(
            "sha256: required: closing evidence must pin its bytes (sha256sum FILE, or sed -n 'A,Bp' FILE | sha256sum)"
                .into(),
        ),
        _ => Ok(()),
    }
}

/// A relative, `/`-separated path with no `.`/`..`/empty component.
pub fn check_relative(p: &str) -> std::result::Result<(), String> {
    if p.is_empty() {
        return Err("must not be empty".into());
    }
    if p.starts_with('/') {
        return Err("must be relative to the source root".into());
    }
    if p.contains('\\') || p.contains('\0') {
        return Err("must use '/' separators and no NUL".into());
    }
    if p.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err("must not have empty, '.' or '..' components".into());
    }
    Ok(())
}

/// The cited bytes of `bytes` for `lines` (all of them when `None`).
pub fn cited_bytes(
    bytes: &[u8],
    lines: Option<(usize, usize)>,
) -> std::result::Result<&[u8], String> {
    let Some((a, b)) = lines else {
        return Ok(bytes);
    };
    let mut starts = vec![0usize];
    for (i, &c) in bytes.iter().enumerate() {
        if c == b'\n' && i + 1 < bytes.len() {
            starts.push(i + 1);
        }
    }
    let count = if bytes.is_empty() { 0 } else { starts.len() };
    if b > count {
        return Err(format!("line {b} is past the end ({count} lines)"));
    }
    let start = starts[a - 1];
    let end = if b < starts.len() {
        starts[b]
    } else {
        bytes.len()
    };
    Ok(&bytes[start..end])
}

/// Checks `c` against the tree at `root`. Never follows a link out of the
/// root: the resolved path must stay under the resolved root.
pub fn check(root: &Path, c: &Citation) -> CitationState {
    let stale = |found: String| CitationState::Stale { found };
    if let Err(why) = check_relative(&c.path) {
        return stale(format!("path {why}"));
    }
    let Some(recorded) = &c.sha256 else {
        return stale("no sha256 recorded".into());
    };
    let root_real = match root.canonicalize() {
        Ok(r) => r,
        Err(e) => return stale(format!("source root unreadable: {e}")),
    };
    let path = root.join(Path::new(&c.path));
    let real = match path.canonicalize() {
        Ok(r) => r,
        Err(_) => return stale("missing".into()),
    };
    if !real.starts_with(&root_real)
        || real
            .strip_prefix(&root_real)
            .map(|r| r.components().any(|c| !matches!(c, Component::Normal(_))))
            .unwrap_or(true)
    {
        return stale("resolves outside the source root".into());
    }
    let bytes = match fsio::read_regular(&real, CITED_FILE_LIMIT) {
        Ok(b) => b,
        Err(Error::Io { source, .. }) => return stale(format!("unreadable: {source}")),
        Err(e) => return stale(e.to_string()),
    };
    let range = match c.lines.as_deref().map(parse_lines).transpose() {
        Ok(r) => r,
        Err(why) => return stale(why),
    };
    match cited_bytes(&bytes, range) {
        Err(why) => stale(why),
        Ok(cited) => {
            let actual = digest::sha256_hex(cited);
            if &actual == recorded {
                CitationState::Fresh
            } else {
                stale(format!("sha256 {actual}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ranges_cut_whole_lines_with_their_line_feeds() {
        let b = b"one\ntwo\nthree";
        assert_eq!(cited_bytes(b, Some((1, 1))).unwrap(), b"one\n");
        assert_eq!(cited_bytes(b, Some((2, 3))).unwrap(), b"two\nthree");
        assert_eq!(cited_bytes(b, None).unwrap(), b);
        assert!(
            cited_bytes(b, Some((2, 4)))
                .unwrap_err()
                .contains("past the end")
        );
        assert_eq!(cited_bytes(b"a\n", Some((1, 1))).unwrap(), b"a\n");
        assert!(cited_bytes(b"a\n", Some((2, 2))).is_err());
        assert!(cited_bytes(b"", Some((1, 1))).is_err());
    }

    #[test]
    fn line_specs_and_paths_are_strict() {
        assert_eq!(parse_lines("3-9"), Ok((3, 9)));
        assert_eq!(parse_lines("4"), Ok((4, 4)));
        for bad in ["0-1", "5-2", "a", "-3", "1-", "1--2", " 1"] {
            assert!(parse_lines(bad).is_err(), "{bad}");
        }
        assert!(check_relative("docs/a.md").is_ok());
        for bad in ["", "/etc/passwd", "../x", "a/../b", "a//b", "./a", "a\\b"] {
            assert!(check_relative(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn checking_finds_fresh_stale_missing_and_escaping_citations() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("src");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("a.txt"), b"l1\nl2\nl3\n").unwrap();
        std::fs::write(dir.path().join("secret.txt"), b"l1\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("link.txt")).unwrap();
        let cite = |path: &str, lines: Option<&str>, bytes: &[u8]| Citation {
            path: path.into(),
            lines: lines.map(str::to_string),
            sha256: Some(digest::sha256_hex(bytes)),
        };
        assert_eq!(
            check(&root, &cite("a.txt", Some("2-3"), b"l2\nl3\n")),
            CitationState::Fresh
        );
        assert_eq!(
            check(&root, &cite("a.txt", None, b"l1\nl2\nl3\n")),
            CitationState::Fresh
        );
        let stale = check(&root, &cite("a.txt", Some("1"), b"other\n"));
        assert!(matches!(stale, CitationState::Stale { found } if found.starts_with("sha256 ")));
        let past = check(&root, &cite("a.txt", Some("3-4"), b"l3\n"));
        assert!(matches!(past, CitationState::Stale { found } if found.contains("past the end")));
        let gone = check(&root, &cite("b.txt", None, b""));
        assert_eq!(
            gone,
            CitationState::Stale {
                found: "missing".into()
            }
        );
        let out = check(&root, &cite("link.txt", None, b"l1\n"));
        assert!(
            matches!(&out, CitationState::Stale { found } if found.contains("outside")),
            "{out:?}"
        );
    }
}
