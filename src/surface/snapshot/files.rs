//! `files` snapshots: a directory's files, optionally filtered by globs, each
//! hashed with the seal's hashing (one part per relative path).
//!
//! Globs are matched against `/`-separated paths relative to the root; `*`
//! stays within one directory and `**` crosses them, so `history/**` leaves
//! out a whole append-only history. An include glob that selects no file is
//! an error (a typo must not shrink what the proof covers to nothing), and so
//! is a selection with no file at all. Links and special files are refused
//! when selected: their bytes cannot be pinned.

use std::collections::BTreeMap;
use std::path::Path;

use globset::{Glob, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};

use super::Reading;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::seal::{self, OddKind};

fn glob(pattern: &str) -> std::result::Result<Glob, String> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| format!("{pattern:?} is not a valid glob: {e}"))
}

/// Compiles one glob the way `files` snapshots match it.
pub fn compile_glob(pattern: &str) -> std::result::Result<GlobMatcher, String> {
    if pattern.is_empty() {
        return Err("an empty glob matches nothing".into());
    }
    Ok(glob(pattern)?.compile_matcher())
}

fn set(patterns: &[String]) -> std::result::Result<GlobSet, String> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(glob(p)?);
    }
    b.build().map_err(|e| e.to_string())
}

/// The files of a scan selected by `include` (every file when `None`) and not
/// by `exclude`. Errors name the include glob that selected nothing.
pub fn select(
    files: &[String],
    include: Option<&[String]>,
    exclude: &[String],
) -> std::result::Result<Vec<String>, String> {
    let ex = set(exclude)?;
    let kept: Vec<&String> = files.iter().filter(|f| !ex.is_match(f.as_str())).collect();
    let Some(include) = include else {
        return Ok(kept.into_iter().cloned().collect());
    };
    if include.is_empty() {
        return Err("include is empty: it would select no file".into());
    }
    let mut selected = Vec::new();
    let matchers: Vec<GlobMatcher> = include
        .iter()
        .map(|p| compile_glob(p))
        .collect::<std::result::Result<_, _>>()?;
    let mut used = vec![false; matchers.len()];
    for f in kept {
        let mut hit = false;
        for (m, u) in matchers.iter().zip(used.iter_mut()) {
            if m.is_match(f.as_str()) {
                *u = true;
                hit = true;
            }
        }
        if hit {
            selected.push(f.clone());
        }
    }
    if let Some(pos) = used.iter().position(|u| !u) {
        return Err(format!("include glob {:?} selects no file", include[pos]));
    }
    Ok(selected)
}

/// Reads a `files` surface rooted at `dir`; `root` is how the spec wrote
/// it (shown in messages and the description, so no machine path leaks into
/// an artifact). `err_at(field, what)` builds an error pointing at the spec key.
pub fn read(
    dir: &Path,
    root: &str,
    include: Option<&[String]>,
    exclude: &[String],
    progress: &dyn Progress,
    err_at: &dyn Fn(&'static str, String) -> Error,
) -> Result<Reading> {
    let dir = dir.to_path_buf();
    let scan = seal::scan(&dir).map_err(|e| err_at("root", e.to_string()))?;
    let selected = select(&scan.files, include, exclude).map_err(|e| {
        let field = if e.contains("include") {
            "include"
        } else {
            "exclude"
        };
        err_at(field, format!("{e} under {root:?}"))
    })?;
    let ex = set(exclude).map_err(|e| err_at("exclude", e))?;
    let inc = match include {
        Some(i) => Some(set(i).map_err(|e| err_at("include", e))?),
        None => None,
    };
    for odd in &scan.oddities {
        let excluded = ex.is_match(odd.path.as_str());
        let included = inc.as_ref().is_none_or(|s| s.is_match(odd.path.as_str()));
        // An unreadable directory could hide selected files: fail unless excluded.
        let matters = match odd.kind {
            OddKind::Unreadable(_) => !excluded,
            // A snapshot pins files; an empty directory holds no bytes.
            OddKind::EmptyDir => false,
            _ => included && !excluded,
        };
        if matters {
            return Err(err_at(
                "root",
                format!("under {root:?}: {odd}; a snapshot cannot pin it"),
            ));
        }
    }
    if selected.is_empty() {
        return Err(err_at(
            "root",
            format!("{root:?} holds no file to snapshot (after include/exclude)"),
        ));
    }
    progress.start("snapshot", selected.len() as u64);
    let digests = seal::hash_tree(&dir, &selected, progress);
    progress.finish();
    let mut parts = BTreeMap::new();
    let mut bytes = 0u64;
    for (rel, d) in selected.iter().zip(digests) {
        let d = d.map_err(|e| match e {
            // A read failure stays an I/O error (exit 4); a file swapped for
            // a link or special file since the walk is the spec's surface
            // no longer being pinnable.
            Error::Io { .. } => e,
            other => err_at("root", format!("{rel}: {other}")),
        })?;
        bytes += d.len;
        parts.insert(rel.clone(), d.sha256);
    }
    let mut description = format!("{} file(s), {bytes} byte(s) under {root}", parts.len());
    if let Some(i) = include {
        description.push_str(&format!(", include {i:?}"));
    }
    if !exclude.is_empty() {
        description.push_str(&format!(", exclude {exclude:?}"));
    }
    Ok(Reading {
        parts,
        description,
        exit_code: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;
    use std::fs;

    fn files() -> Vec<String> {
        [
            "a.json",
            "docs/b.md",
            "history/1",
            "history/sub/2",
            "registry.json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn include_and_exclude_select_as_documented() {
        assert_eq!(
            select(&files(), None, &v(&["history/**"])).unwrap(),
            v(&["a.json", "docs/b.md", "registry.json"])
        );
        assert_eq!(
            select(&files(), Some(&v(&["*.json"])), &[]).unwrap(),
            v(&["a.json", "registry.json"])
        );
        assert_eq!(
            select(&files(), Some(&v(&["**/*.md"])), &[]).unwrap(),
            v(&["docs/b.md"])
        );
        assert_eq!(
            select(&files(), Some(&v(&["*"])), &[]).unwrap(),
            v(&["a.json", "registry.json"])
        );
    }

    #[test]
    fn a_glob_selecting_nothing_is_an_error() {
        let e = select(&files(), Some(&v(&["*.json", "*.yaml"])), &[]).unwrap_err();
        assert!(e.contains("\"*.yaml\" selects no file"), "{e}");
        let e = select(&files(), Some(&v(&["history/*"])), &v(&["history/**"])).unwrap_err();
        assert!(e.contains("selects no file"), "{e}");
        assert!(select(&files(), Some(&[]), &[]).is_err());
        assert!(compile_glob("").is_err());
        assert!(compile_glob("a[").is_err());
    }

    fn err_at(field: &'static str, what: String) -> Error {
        Error::malformed("surfaces.toml", format!("{field}: {what}"))
    }

    #[test]
    fn reads_digests_and_fails_closed() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("reg");
        fs::create_dir_all(r.join("history")).unwrap();
        fs::write(r.join("registry.json"), "{}\n").unwrap();
        fs::write(r.join("history/1"), "old").unwrap();
        let got = read(&r, "reg", None, &v(&["history/**"]), &NoProgress, &err_at).unwrap();
        assert_eq!(got.parts.len(), 1);
        assert_eq!(
            got.parts["registry.json"],
            crate::digest::sha256_hex(b"{}\n")
        );
        assert!(
            got.description
                .starts_with("1 file(s), 3 byte(s) under reg"),
            "{}",
            got.description
        );
        // A link in the selection is refused; excluded it is ignored.
        std::os::unix::fs::symlink("/etc/hostname", r.join("link")).unwrap();
        let e = read(&r, "reg", None, &[], &NoProgress, &err_at).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(
            read(
                &r,
                "reg",
                None,
                &v(&["link", "history/**"]),
                &NoProgress,
                &err_at
            )
            .is_ok()
        );
        // Nothing selected, missing root.
        let e = read(&r, "reg", None, &v(&["**"]), &NoProgress, &err_at).unwrap_err();
        assert!(e.to_string().contains("no file to snapshot"), "{e}");
        let e = read(
            &d.path().join("nope"),
            "nope",
            None,
            &[],
            &NoProgress,
            &err_at,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("surfaces.toml: root:"), "{e}");
    }
}
