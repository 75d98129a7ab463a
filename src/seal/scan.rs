//! Walks a packet directory without following links and classifies every entry.
//!
//! The walk never calls `stat` on a file: the directory entry's type is enough
//! to tell regular files from links and special files, and the file's size is
//! learned when it is hashed. That keeps a tree of 100,000 small files cheap.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use unicode_normalization::UnicodeNormalization;
use walkdir::WalkDir;

use super::name::{NameProblem, check_component, display_lossy};
use crate::error::{Error, IoContext, Result};

/// Something in the tree that cannot be part of a sealed packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oddity {
    /// Relative path with `/` separators (escaped if the name is hostile).
    pub path: String,
    /// What is wrong with it.
    pub kind: OddKind,
}

/// The kinds of entries a packet may not contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OddKind {
    /// A symbolic link (never followed).
    Symlink,
    /// A FIFO, socket, or block/character device.
    Special(&'static str),
    /// A name that cannot be written in every manifest format.
    Name(NameProblem),
    /// Two paths that differ only in Unicode normalization.
    NormalizationClash(String),
    /// A directory that could not be read.
    Unreadable(String),
    /// A directory with nothing in it: a manifest lists files only, so an
    /// empty directory could be added or removed without changing the seal.
    EmptyDir,
}

impl Oddity {
    /// What is wrong, without the path (for reports that show the path apart).
    pub fn describe(&self) -> String {
        match &self.kind {
            OddKind::Symlink => "is a symbolic link".to_string(),
            OddKind::Special(k) => format!("is a {k}, not a regular file"),
            OddKind::Name(p) => p.to_string(),
            OddKind::NormalizationClash(other) => {
                format!("differs from {other} only in Unicode normalization")
            }
            OddKind::Unreadable(e) => format!("cannot be read: {e}"),
            OddKind::EmptyDir => {
                "is an empty directory (a manifest lists files only: remove it or put a file in it)"
                    .to_string()
            }
        }
    }
}

impl std::fmt::Display for Oddity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.describe())
    }
}

/// The result of walking a tree.
#[derive(Debug, Default)]
pub struct Scan {
    /// Relative paths (with `/`) of the regular files, sorted by bytes.
    pub files: Vec<String>,
    /// Everything that is not a well-named regular file or directory.
    pub oddities: Vec<Oddity>,
    /// Relative paths of the well-named directories, sorted by bytes.
    pub dirs: Vec<String>,
}

/// Walks `root` (which must be a directory) and classifies every entry below it.
pub fn scan(root: &Path) -> Result<Scan> {
    scan_each(root, |_| {})
}

/// Like [`scan`], and calls `on_file` with each well-named regular file's
/// relative path as soon as the walk finds it, so hashing can start while the
/// walk goes on.
pub fn scan_each(root: &Path, mut on_file: impl FnMut(&str)) -> Result<Scan> {
    let meta = std::fs::metadata(root).at(root)?;
    if !meta.is_dir() {
        return Err(Error::malformed(root, "is not a directory"));
    }
    let mut out = Scan::default();
    // Every path that is not plain ASCII, for the normalization check.
    let mut non_ascii: Vec<String> = Vec::new();
    // Every directory path, so a name can be checked against directories too.
    let mut dirs: Vec<String> = Vec::new();
    // Directories (relative path, as walked) with at least one entry, and
    // every directory walked, to find the empty ones.
    let mut not_empty: HashSet<PathBuf> = HashSet::new();
    let mut walked_dirs: Vec<(PathBuf, String)> = Vec::new();
    let walker = WalkDir::new(root)
        .follow_links(false)
        .follow_root_links(true)
        .min_depth(1);
    let mut iter = walker.into_iter();
    while let Some(entry) = iter.next() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e
                    .path()
                    .and_then(|p| p.strip_prefix(root).ok())
                    .map(|p| display_lossy(p.as_os_str()))
                    .unwrap_or_else(|| ".".to_string());
                let what = e
                    .io_error()
                    .map(|io| io.to_string())
                    .unwrap_or_else(|| e.to_string());
                if let Some(p) = e.path() {
                    // An unreadable directory is reported as such, not as empty.
                    not_empty.insert(p.to_path_buf());
                    if let Some(parent) = p.parent() {
                        not_empty.insert(parent.to_path_buf());
                    }
                }
                out.oddities.push(Oddity {
                    path,
                    kind: OddKind::Unreadable(what),
                });
                continue;
            }
        };
        if let Some(parent) = entry.path().parent() {
            not_empty.insert(parent.to_path_buf());
        }
        let rel = match relative_path(root, entry.path()) {
            Ok(rel) => rel,
            Err((shown, problem)) => {
                out.oddities.push(Oddity {
                    path: shown,
                    kind: OddKind::Name(problem),
                });
                if entry.file_type().is_dir() {
                    iter.skip_current_dir();
                }
                continue;
            }
        };
        if !rel.is_ascii() {
            non_ascii.push(rel.clone());
        }
        let ft = entry.file_type();
        if ft.is_file() {
            on_file(&rel);
            out.files.push(rel);
        } else if ft.is_dir() {
            walked_dirs.push((entry.path().to_path_buf(), rel.clone()));
            dirs.push(rel);
        } else if ft.is_symlink() {
            out.oddities.push(Oddity {
                path: rel,
                kind: OddKind::Symlink,
            });
        } else {
            out.oddities.push(Oddity {
                path: rel,
                kind: OddKind::Special(special_kind(&ft)),
            });
        }
    }
    for (path, rel) in walked_dirs {
        if !not_empty.contains(&path) {
            out.oddities.push(Oddity {
                path: rel,
                kind: OddKind::EmptyDir,
            });
        }
    }
    out.files.sort_unstable();
    dirs.sort_unstable();
    find_normalization_clashes(&non_ascii, &out.files, &dirs, &mut out.oddities);
    out.oddities.sort_by(|a, b| a.path.cmp(&b.path));
    out.dirs = dirs;
    Ok(out)
}

/// Two paths clash when their NFC forms are equal. A plain-ASCII path is its
/// own NFC form, but a non-ASCII one can normalize to ASCII (KELVIN SIGN to
/// `K`), so each non-ASCII path's NFC form is looked up among all paths as
/// well as among the other non-ASCII paths' forms. Trees of ASCII names (the
/// common case) cost nothing here.
fn find_normalization_clashes(
    non_ascii: &[String],
    files: &[String],
    dirs: &[String],
    oddities: &mut Vec<Oddity>,
) {
    let mut seen: HashMap<String, &str> = HashMap::new();
    let mut sorted: Vec<&String> = non_ascii.iter().collect();
    sorted.sort();
    for path in sorted {
        let nfc: String = path.nfc().collect();
        let clash = if let Some(first) = seen.get(&nfc) {
            Some(first.to_string())
        } else if nfc != *path
            && (files.binary_search(&nfc).is_ok() || dirs.binary_search(&nfc).is_ok())
        {
            Some(nfc.clone())
        } else {
            None
        };
        match clash {
            Some(other) => oddities.push(Oddity {
                path: path.clone(),
                kind: OddKind::NormalizationClash(other),
            }),
            None => {
                seen.insert(nfc, path);
            }
        }
    }
}

fn special_kind(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "FIFO"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_char_device() {
        "character device"
    } else {
        "special file"
    }
}

/// `path` relative to `root`, components checked and joined with `/`.
fn relative_path(root: &Path, path: &Path) -> Result<String, (String, NameProblem)> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut out = String::new();
    for comp in rel.components() {
        let os = comp.as_os_str();
        match check_component(os) {
            Ok(s) => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(s);
            }
            Err(p) => return Err((display_lossy(rel.as_os_str()), p)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn files_sorted_by_bytes_and_links_reported() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("a")).unwrap();
        fs::write(d.path().join("a/b"), b"1").unwrap();
        fs::write(d.path().join("a.txt"), b"2").unwrap();
        fs::write(d.path().join("B"), b"3").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("link")).unwrap();
        let s = scan(d.path()).unwrap();
        assert_eq!(s.files, vec!["B", "a.txt", "a/b"]);
        assert_eq!(s.oddities.len(), 1);
        assert_eq!(s.oddities[0].kind, OddKind::Symlink);
        assert_eq!(s.oddities[0].path, "link");
    }

    #[test]
    fn empty_directories_are_reported_and_full_ones_are_not() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("a/empty")).unwrap();
        fs::create_dir_all(d.path().join("b/c")).unwrap();
        fs::write(d.path().join("b/c/f"), b"1").unwrap();
        fs::create_dir_all(d.path().join("top-empty")).unwrap();
        let s = scan(d.path()).unwrap();
        let empty: Vec<&str> = s
            .oddities
            .iter()
            .filter(|o| o.kind == OddKind::EmptyDir)
            .map(|o| o.path.as_str())
            .collect();
        assert_eq!(empty, vec!["a/empty", "top-empty"], "{:?}", s.oddities);
        assert_eq!(s.files, vec!["b/c/f"]);
    }

    #[test]
    fn normalization_clash_is_found() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("caf\u{e9}"), b"1").unwrap();
        fs::write(d.path().join("cafe\u{301}"), b"2").unwrap();
        let s = scan(d.path()).unwrap();
        assert!(
            s.oddities
                .iter()
                .any(|o| matches!(o.kind, OddKind::NormalizationClash(_))),
            "{:?}",
            s.oddities
        );
    }

    #[test]
    fn non_ascii_name_normalizing_to_an_ascii_name_clashes() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("K"), b"1").unwrap();
        fs::write(d.path().join("\u{212a}"), b"2").unwrap();
        let s = scan(d.path()).unwrap();
        assert_eq!(s.oddities.len(), 1, "{:?}", s.oddities);
        assert_eq!(s.oddities[0].kind, OddKind::NormalizationClash("K".into()));
    }

    #[test]
    fn clash_between_two_directories_is_found() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("caf\u{e9}")).unwrap();
        fs::create_dir_all(d.path().join("cafe\u{301}")).unwrap();
        fs::write(d.path().join("caf\u{e9}/a"), b"1").unwrap();
        fs::write(d.path().join("cafe\u{301}/b"), b"2").unwrap();
        let s = scan(d.path()).unwrap();
        assert_eq!(s.oddities.len(), 1, "{:?}", s.oddities);
    }
}
