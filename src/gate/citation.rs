//! Evidence citations of blockers, in the shape gates.toml writes them: a
//! path under a source root, an optional line range as text (`"A-B"` or
//! `"A"`), and the sha256 of exactly the cited bytes (optional for the
//! evidence of a blocker, required for its closing evidence).
//!
//! This is a thin layer over [`crate::surface::citation`], the one
//! implementation of citations: the same line-range semantics (lines A to B,
//! 1-based, inclusive, with their line ends; what `sed -n 'A,Bp' FILE |
//! sha256sum` hashes when line B ends in a line feed; without `lines` the
//! whole file, `sha256sum FILE`), the same streaming hash, and the same path
//! safety (relative, no `.`, `..` or empty component, and never through a
//! symbolic link that resolves outside the source root).

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::fact::{DerivedFact, FactEvidence};
use crate::seal::is_sha256_hex;
use crate::surface::citation::{self as cite, CitationProblemKind, LineRange};

/// One piece of evidence a blocker cites: the one evidence type
/// ([`FactEvidence`]) over the citation shape of gates.toml. Derived
/// blockers cite what their fact rests on; declared ones cite their
/// `evidence` from gates.toml.
pub type BlockerEvidence = FactEvidence<Citation>;

/// A derived fact as the gate module takes it: the one fact type
/// ([`DerivedFact`]) citing source bytes in the shape of gates.toml.
pub type GateFact = DerivedFact<Citation>;

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

impl Citation {
    /// The line range, parsed with the one parser
    /// ([`LineRange`]); `None` cites the whole file.
    pub fn range(&self) -> std::result::Result<Option<LineRange>, String> {
        self.lines.as_deref().map(str::parse).transpose()
    }

    /// `path` or `path:A-B`, for messages and tables.
    pub fn location(&self) -> String {
        match &self.lines {
            Some(l) => format!("{}:{l}", self.path),
            None => self.path.clone(),
        }
    }
}

impl From<cite::Citation> for Citation {
    /// An inventory's pinned citation in the shape of gates.toml (its note
    /// is not part of that shape).
    fn from(c: cite::Citation) -> Self {
        Citation {
            path: c.path,
            lines: c.lines.map(|l| l.to_string()),
            sha256: Some(c.sha256),
        }
    }
}

impl BlockerEvidence {
    /// Where it points, in one short string: `path:lines` for source bytes,
    /// `file#at` for a value in a file (e.g.
    /// `forbidden-surface-proof.json#/boundaries/0/surfaces/2/status`).
    pub fn location(&self) -> String {
        match self {
            FactEvidence::Source(c) => c.location(),
            FactEvidence::Artifact(a) => format!("{}#{}", a.file, a.at),
        }
    }

    /// Checks the shape (a relative path, a line range, 64 lower-case hex
    /// digits, a place to look); a message naming the field.
    pub fn check_shape(&self) -> std::result::Result<(), String> {
        match self {
            FactEvidence::Source(c) => check_shape(c, false),
            FactEvidence::Artifact(a) => {
                cite::check_relative_path(&a.file).map_err(|why| format!("file: {why}"))?;
                if !is_sha256_hex(&a.sha256) {
                    return Err("sha256: expected 64 lower-case hex digits".into());
                }
                if a.at.trim().is_empty() {
                    return Err("at: must say where in the file".into());
                }
                Ok(())
            }
        }
    }
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

/// Checks a citation's shape; `require_sha` for closing evidence, which must
/// pin its bytes. Returns a message naming the field.
pub fn check_shape(c: &Citation, require_sha: bool) -> std::result::Result<(), String> {
    cite::check_relative_path(&c.path).map_err(|why| format!("path: {why}"))?;
    c.range()?;
    match &c.sha256 {
        Some(h) if !is_sha256_hex(h) => Err("sha256: expected 64 lower-case hex digits".into()),
        None if require_sha => Err(
            "sha256: required: closing evidence must pin its bytes (sha256sum FILE, or sed -n 'A,Bp' FILE | sha256sum)"
                .into(),
        ),
        _ => Ok(()),
    }
}

/// Checks `c` against the tree at `root`, with
/// [`crate::surface::citation::cite_file`]: streamed, and never through a
/// link out of the root. Anything that cannot be established is `Stale`.
pub fn check(root: &Path, c: &Citation) -> CitationState {
    let stale = |found: String| CitationState::Stale { found };
    let Some(recorded) = &c.sha256 else {
        return stale("no sha256 recorded".into());
    };
    let range = match c.range() {
        Ok(r) => r,
        Err(why) => return stale(why),
    };
    let root = match cite::source_root(root) {
        Ok(r) => r,
        Err(e) => return stale(format!("source root unreadable: {e}")),
    };
    match cite::cite_file(&root, &c.path, range) {
        Ok(cited) if &cited.sha256 == recorded => CitationState::Fresh,
        Ok(cited) => stale(format!("sha256 {}", cited.sha256)),
        Err(e) if e.kind == CitationProblemKind::Missing => stale("missing".into()),
        Err(e) => stale(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest;

    fn cite(path: &str, lines: Option<&str>, sha256: Option<String>) -> Citation {
        Citation {
            path: path.into(),
            lines: lines.map(str::to_string),
            sha256,
        }
    }

    #[test]
    fn line_specs_and_paths_are_strict() {
        let sha = Some("a".repeat(64));
        assert_eq!(
            cite("a", Some("3-9"), None)
                .range()
                .unwrap()
                .unwrap()
                .to_string(),
            "3-9"
        );
        assert_eq!(
            cite("a", Some("4"), None)
                .range()
                .unwrap()
                .unwrap()
                .to_string(),
            "4"
        );
        assert_eq!(cite("a", None, None).range(), Ok(None));
        for bad in ["0-1", "5-2", "a", "-3", "1-", "1--2", " 1"] {
            let e = check_shape(&cite("docs/a.md", Some(bad), sha.clone()), true);
            assert!(e.is_err_and(|e| e.contains("lines")), "{bad}");
        }
        assert!(check_shape(&cite("docs/a.md", Some("1-2"), sha.clone()), true).is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "./a",
            "a/./b",
            "a/",
            "a\\b",
        ] {
            let e = check_shape(&cite(bad, None, sha.clone()), false);
            assert!(e.is_err_and(|e| e.starts_with("path: ")), "{bad:?}");
        }
        let e = check_shape(&cite("a", None, None), true).unwrap_err();
        assert!(e.starts_with("sha256: required"), "{e}");
        assert!(check_shape(&cite("a", None, None), false).is_ok());
        let e = check_shape(&cite("a", None, Some("A".repeat(64))), false).unwrap_err();
        assert!(e.starts_with("sha256: expected"), "{e}");
    }

    #[test]
    fn checking_finds_fresh_stale_missing_and_escaping_citations() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("src");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("a.txt"), b"l1\nl2\nl3\n").unwrap();
        std::fs::write(root.join("b.txt"), b"one\ntwo\nthree").unwrap();
        std::fs::write(dir.path().join("secret.txt"), b"l1\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("link.txt")).unwrap();
        let pinned = |path: &str, lines: Option<&str>, bytes: &[u8]| {
            cite(path, lines, Some(digest::sha256_hex(bytes)))
        };
        for (path, lines, bytes) in [
            ("a.txt", Some("2-3"), &b"l2\nl3\n"[..]),
            ("a.txt", None, b"l1\nl2\nl3\n"),
            ("b.txt", Some("1"), b"one\n"),
            ("b.txt", Some("2-3"), b"two\nthree"),
        ] {
            assert_eq!(
                check(&root, &pinned(path, lines, bytes)),
                CitationState::Fresh,
                "{path} {lines:?}"
            );
        }
        let stale = check(&root, &pinned("a.txt", Some("1"), b"other\n"));
        assert_eq!(
            stale,
            CitationState::Stale {
                found: format!("sha256 {}", digest::sha256_hex(b"l1\n"))
            }
        );
        let past = check(&root, &pinned("a.txt", Some("3-4"), b"l3\n"));
        assert!(matches!(past, CitationState::Stale { found } if found.contains("past the end")));
        let gone = check(&root, &pinned("c.txt", None, b""));
        assert_eq!(
            gone,
            CitationState::Stale {
                found: "missing".into()
            }
        );
        let out = check(&root, &pinned("link.txt", None, b"l1\n"));
        assert!(
            matches!(&out, CitationState::Stale { found } if found.contains("outside")),
            "{out:?}"
        );
        let up = check(&root, &pinned("../secret.txt", None, b"l1\n"));
        assert!(
            matches!(&up, CitationState::Stale { found } if found.contains("leaves the source root")),
            "{up:?}"
        );
        let unpinned = check(&root, &cite("a.txt", None, None));
        assert!(matches!(unpinned, CitationState::Stale { found } if found.contains("no sha256")));
        let dir_cited = check(&root, &pinned(".", None, b""));
        assert!(
            matches!(dir_cited, CitationState::Stale { .. }),
            "{dir_cited:?}"
        );
        let no_root = check(
            &dir.path().join("nope"),
            &pinned("a.txt", None, b"l1\nl2\nl3\n"),
        );
        assert!(
            matches!(&no_root, CitationState::Stale { found } if found.contains("source root")),
            "{no_root:?}"
        );
    }
}
