//! `files` snapshots: a directory's files, optionally filtered by globs, each
//! hashed with the seal's hashing (one part per relative path).
//!
//! Globs are matched against `/`-separated paths relative to the root; `*`
//! stays within one directory and `**` crosses them, so `history/**` leaves
//! out a whole append-only history. An include glob that selects no file is
//! an error (a typo must not shrink what the proof covers to nothing), and so
//! is a selection with no file at all. Links and special files are refused
//! when selected: their bytes cannot be pinned.
//!
//! Each file gives two parts: its path (the sha256 of its bytes, what a fold
//! result pins) and `mode:<path>` (the sha256 of `mode 0644`, its permission
//! bits in octal), so a secrets file made world-readable is a change; with
//! `owner = true` also `owner:<path>` (of `owner <uid>:<gid>`). A sensitive
//! surface keys every part ([`super::keyed`]). Empty directories hold no
//! bytes and are not parts.

use std::collections::BTreeMap;
use std::path::Path;

use globset::{GlobMatcher, GlobSet, GlobSetBuilder};

use std::os::unix::fs::MetadataExt;

use super::Reading;
use super::keyed::Key;
use crate::digest;
use crate::error::{Error, IoContext, Result};
pub use crate::model::glob::compile_glob;
use crate::model::glob::glob;
use crate::progress::Progress;
use crate::seal::{self, OddKind};

/// What a `files` snapshot pins besides each file's content and mode.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pin<'a> {
    /// Each file's numeric owner and group too.
    pub owner: bool,
    /// The key of a sensitive surface: every part is then keyed.
    pub key: Option<&'a Key>,
}

/// The part name of a file's mode: `mode:<path>`.
pub fn mode_part(rel: &str) -> String {
    format!("mode:{rel}")
}

/// The part name of a file's owner and group: `owner:<path>`.
pub fn owner_part(rel: &str) -> String {
    format!("owner:{rel}")
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

/// The message for a `files` root that names a file: the fix is its
/// parent directory as the root, with the file selected by `include`.
pub fn not_a_directory(root: &str) -> String {
    let p = Path::new(root);
    let parent = p
        .parent()
        .map(|d| d.to_string_lossy().replace('\\', "/"))
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| ".".to_string());
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(
        "{root:?} is a file, not a directory; a files snapshot reads a directory: give its parent and select the file, root = {parent:?} with include = [{name:?}]"
    )
}

/// Reads a `files` surface rooted at `dir`; `root` is how the spec wrote
/// it (shown in messages and the description, so no machine path leaks into
/// an artifact). `err_at(field, what)` builds an error pointing at the spec key.
#[allow(clippy::too_many_arguments)]
pub fn read(
    dir: &Path,
    root: &str,
    include: Option<&[String]>,
    exclude: &[String],
    pin: Pin<'_>,
    progress: &dyn Progress,
    err_at: &dyn Fn(&'static str, String) -> Error,
) -> Result<Reading> {
    let dir = dir.to_path_buf();
    if dir.is_file() {
        return Err(err_at("root", not_a_directory(root)));
    }
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
    let mut put = |name: String, value: String| -> Result<()> {
        if parts.contains_key(&name) {
            return Err(err_at(
                "root",
                format!(
                    "under {root:?}: the part {name:?} would be recorded twice (a file is \
                     named like another file's mode or owner part); rename it"
                ),
            ));
        }
        parts.insert(name, value);
        Ok(())
    };
    for (rel, d) in selected.iter().zip(digests) {
        let d = d.map_err(|e| match e {
            // A read failure stays an I/O error (exit 4); a file swapped for
            // a link or special file since the walk is the spec's surface
            // no longer being pinnable.
            Error::Io { .. } => e,
            other => err_at("root", format!("{rel}: {other}")),
        })?;
        bytes += d.len;
        let path = dir.join(rel);
        let meta = path.symlink_metadata().at(&path)?;
        if !meta.is_file() {
            return Err(err_at(
                "root",
                format!("{rel}: is no longer a regular file; a snapshot cannot pin it"),
            ));
        }
        let mode = format!("{:04o}", meta.mode() & 0o7777);
        let own = format!("{}:{}", meta.uid(), meta.gid());
        let mut raw = [0u8; 32];
        hex::decode_to_slice(&d.sha256, &mut raw)
            .map_err(|e| err_at("root", format!("{rel}: {e}")))?;
        match pin.key {
            None => {
                put(rel.clone(), d.sha256)?;
                put(
                    mode_part(rel),
                    digest::sha256_hex(format!("mode {mode}").as_bytes()),
                )?;
                if pin.owner {
                    put(
                        owner_part(rel),
                        digest::sha256_hex(format!("owner {own}").as_bytes()),
                    )?;
                }
            }
            Some(k) => {
                put(rel.clone(), k.part("file", rel, &raw))?;
                put(mode_part(rel), k.part("mode", rel, mode.as_bytes()))?;
                if pin.owner {
                    put(owner_part(rel), k.part("owner", rel, own.as_bytes()))?;
                }
            }
        }
    }
    let pinned = if pin.owner {
        "content, mode, owner and group"
    } else {
        "content and mode"
    };
    let mut description = match pin.key {
        None => format!(
            "{} file(s), {bytes} byte(s) under {root}; {pinned} pinned",
            selected.len()
        ),
        Some(_) => format!(
            "{} file(s) under {root}; {pinned} pinned by keyed digests (HMAC-SHA256, sensitive)",
            selected.len()
        ),
    };
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
    use std::os::unix::fs::MetadataExt;

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
    fn a_mode_change_owner_and_keys_change_the_right_parts() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("s");
        fs::create_dir_all(&r).unwrap();
        fs::write(r.join("db.env"), "PASSWORD=hunter2\n").unwrap();
        fs::set_permissions(r.join("db.env"), fs::Permissions::from_mode(0o600)).unwrap();
        let pin = Pin::default();
        let a = read(&r, "s", None, &[], pin, &NoProgress, &err_at).unwrap();
        fs::set_permissions(r.join("db.env"), fs::Permissions::from_mode(0o644)).unwrap();
        let b = read(&r, "s", None, &[], pin, &NoProgress, &err_at).unwrap();
        assert_eq!(a.parts["db.env"], b.parts["db.env"]);
        assert_ne!(a.parts["mode:db.env"], b.parts["mode:db.env"]);
        let owned = Pin {
            owner: true,
            key: None,
        };
        let o = read(&r, "s", None, &[], owned, &NoProgress, &err_at).unwrap();
        assert!(o.parts.contains_key("owner:db.env"), "{:?}", o.parts);
        assert!(
            o.description.contains("owner and group"),
            "{}",
            o.description
        );
        // Keyed: no plain sha256 anywhere, and the key matters.
        let k1 = Key::new(vec![1; 32]).unwrap();
        let k2 = Key::new(vec![2; 32]).unwrap();
        let keyed = |k| {
            read(
                &r,
                "s",
                None,
                &[],
                Pin {
                    owner: true,
                    key: Some(k),
                },
                &NoProgress,
                &err_at,
            )
            .unwrap()
        };
        let (x, y) = (keyed(&k1), keyed(&k2));
        let plain = crate::digest::sha256_hex(b"PASSWORD=hunter2\n");
        assert!(
            x.parts
                .values()
                .all(|v| *v != plain && !o.parts.values().any(|p| p == v))
        );
        assert_ne!(x.parts["db.env"], y.parts["db.env"]);
        assert_eq!(x.parts, keyed(&k1).parts, "same key, same digests");
        assert!(!x.description.contains("byte"), "{}", x.description);
        // A file named like another file's mode part is refused.
        fs::write(r.join("mode:db.env"), "x").unwrap();
        let e = read(&r, "s", None, &[], pin, &NoProgress, &err_at).unwrap_err();
        assert!(e.to_string().contains("recorded twice"), "{e}");
    }

    #[test]
    fn reads_digests_and_fails_closed() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("reg");
        fs::create_dir_all(r.join("history")).unwrap();
        fs::write(r.join("registry.json"), "{}\n").unwrap();
        fs::write(r.join("history/1"), "old").unwrap();
        let got = read(
            &r,
            "reg",
            None,
            &v(&["history/**"]),
            Pin::default(),
            &NoProgress,
            &err_at,
        )
        .unwrap();
        assert_eq!(got.parts.len(), 2);
        assert_eq!(
            got.parts["registry.json"],
            crate::digest::sha256_hex(b"{}\n")
        );
        let mode = fs::metadata(r.join("registry.json")).unwrap().mode() & 0o7777;
        assert_eq!(
            got.parts["mode:registry.json"],
            crate::digest::sha256_hex(format!("mode {mode:04o}").as_bytes())
        );
        assert!(
            got.description
                .starts_with("1 file(s), 3 byte(s) under reg"),
            "{}",
            got.description
        );
        // A link in the selection is refused; excluded it is ignored.
        std::os::unix::fs::symlink("/etc/hostname", r.join("link")).unwrap();
        let e = read(&r, "reg", None, &[], Pin::default(), &NoProgress, &err_at).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(
            read(
                &r,
                "reg",
                None,
                &v(&["link", "history/**"]),
                Pin::default(),
                &NoProgress,
                &err_at
            )
            .is_ok()
        );
        // Nothing selected, missing root.
        let e = read(
            &r,
            "reg",
            None,
            &v(&["**"]),
            Pin::default(),
            &NoProgress,
            &err_at,
        )
        .unwrap_err();
        assert!(e.to_string().contains("no file to snapshot"), "{e}");
        let e = read(
            &d.path().join("nope"),
            "nope",
            None,
            &[],
            Pin::default(),
            &NoProgress,
            &err_at,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("surfaces.toml: root:"), "{e}");
    }
}
