//! The two seal files, in `sha256sum` format.
//!
//! `HASH_MANIFEST.txt`: one line per file, `<64 lowercase hex>  <path>\n`,
//! sorted by path bytes. `packet_tree.sha256`: the single line
//! `<sha256 of the manifest's bytes>  HASH_MANIFEST.txt\n`. Both are accepted
//! by `sha256sum -c` run inside the packet.
//!
//! The parser is deliberately stricter than `sha256sum`: no binary-mode `*`,
//! no escaped names, no CR, no blank lines, a final newline required, so that
//! exactly one byte string is a valid manifest for a given tree.

use super::report::{ProblemKind, VerifyReport};
use super::{MANIFEST_NAME, TREE_NAME};

/// One manifest entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Lowercase hex SHA-256 of the file.
    pub sha256: String,
    /// Packet-relative path with `/` separators.
    pub path: String,
}

/// Renders entries (which must already be sorted by path) as manifest bytes.
pub fn render(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * 96);
    for e in entries {
        out.extend_from_slice(e.sha256.as_bytes());
        out.extend_from_slice(b"  ");
        out.extend_from_slice(e.path.as_bytes());
        out.push(b'\n');
    }
    out
}

/// The bytes of `packet_tree.sha256` for a manifest whose sha256 is `manifest_sha256`.
pub fn render_tree(manifest_sha256: &str) -> Vec<u8> {
    format!("{manifest_sha256}  {MANIFEST_NAME}\n").into_bytes()
}

/// True when `s` is 64 lowercase hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Checks a listed path: relative, `/`-separated, no empty, `.` or `..`
/// component, no character a manifest cannot carry.
pub fn check_listed_path(path: &str) -> Result<(), (ProblemKind, String)> {
    use crate::model::path::{PathError, RelPath};
    if let Err(e) = RelPath::parse(path) {
        let kind = match e {
            PathError::Absolute | PathError::ParentDir | PathError::CurDir => {
                ProblemKind::PathEscape
            }
            _ => ProblemKind::MalformedLine,
        };
        return Err((kind, e.to_string()));
    }
    if path == MANIFEST_NAME || path == TREE_NAME {
        return Err((
            ProblemKind::MalformedLine,
            "a seal file cannot list itself".into(),
        ));
    }
    Ok(())
}

/// Parses manifest bytes. Well-formed lines become entries; every defect is
/// pushed onto `report` (with its line number), and parsing goes on so that
/// all of them are reported.
pub fn parse(bytes: &[u8], report: &mut VerifyReport) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut sorted = true;
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            report.push(
                ProblemKind::MalformedLine,
                MANIFEST_NAME,
                format!("not valid UTF-8 at byte {}", e.valid_up_to()),
            );
            return entries;
        }
    };
    if !text.is_empty() && !text.ends_with('\n') {
        report.push(
            ProblemKind::MalformedLine,
            MANIFEST_NAME,
            "last line has no terminating newline",
        );
    }
    if text.is_empty() {
        report.push(
            ProblemKind::MalformedLine,
            MANIFEST_NAME,
            "manifest is empty",
        );
    }
    for (idx, line) in text.split_terminator('\n').enumerate() {
        let lineno = idx + 1;
        let Some((hash, path)) = split_line(line) else {
            report.push(
                ProblemKind::MalformedLine,
                MANIFEST_NAME,
                format!("line {lineno}: expected '<64 lowercase hex>  <path>'"),
            );
            continue;
        };
        if let Err((kind, why)) = check_listed_path(path) {
            report.push(
                kind,
                MANIFEST_NAME,
                format!("line {lineno}: {why}: {}", path.escape_debug()),
            );
            continue;
        }
        if let Some(prev) = entries.last() {
            match prev.path.as_bytes().cmp(path.as_bytes()) {
                std::cmp::Ordering::Equal => {
                    report.push(
                        ProblemKind::DuplicateEntry,
                        MANIFEST_NAME,
                        format!("line {lineno}: {path} is listed more than once"),
                    );
                    continue;
                }
                std::cmp::Ordering::Greater => {
                    sorted = false;
                    report.push(
                        ProblemKind::Unsorted,
                        MANIFEST_NAME,
                        format!("line {lineno}: {path} sorts before {}", prev.path),
                    );
                }
                std::cmp::Ordering::Less => {}
            }
        }
        entries.push(Entry {
            sha256: hash.to_string(),
            path: path.to_string(),
        });
    }
    if !sorted {
        // Out of order, a duplicate need not be adjacent: find those too.
        let mut paths: Vec<(&str, usize)> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.path.as_str(), i))
            .collect();
        paths.sort_unstable();
        let mut dups = std::collections::BTreeSet::new();
        for pair in paths.windows(2) {
            if pair[0].0 == pair[1].0 {
                report.push(
                    ProblemKind::DuplicateEntry,
                    MANIFEST_NAME,
                    format!("{} is listed more than once", pair[1].0),
                );
                dups.insert(pair[1].1);
            }
        }
        let mut i = 0;
        entries.retain(|_| {
            i += 1;
            !dups.contains(&(i - 1))
        });
    }
    entries
}

fn split_line(line: &str) -> Option<(&str, &str)> {
    let hash = line.get(..64)?;
    let rest = line.get(64..)?;
    let path = rest.strip_prefix("  ")?;
    if !is_sha256_hex(hash) || path.is_empty() {
        return None;
    }
    Some((hash, path))
}

/// Parses `packet_tree.sha256`; returns the recorded manifest hash.
pub fn parse_tree(bytes: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not valid UTF-8".to_string())?;
    let line = text
        .strip_suffix('\n')
        .ok_or_else(|| "expected exactly one line ending in a newline".to_string())?;
    match split_line(line) {
        Some((hash, MANIFEST_NAME)) if !line.contains('\n') => Ok(hash.to_string()),
        _ => Err(format!("expected '<64 lowercase hex>  {MANIFEST_NAME}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn kinds(r: &VerifyReport) -> Vec<ProblemKind> {
        r.problems.iter().map(|p| p.kind).collect()
    }

    #[test]
    fn render_then_parse_round_trips() {
        let entries = vec![
            Entry {
                sha256: H.into(),
                path: "a b.txt".into(),
            },
            Entry {
                sha256: H.into(),
                path: "dir/x".into(),
            },
        ];
        let bytes = render(&entries);
        let mut r = VerifyReport::default();
        assert_eq!(parse(&bytes, &mut r), entries);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }

    #[test]
    fn each_defect_is_classified() {
        let cases: &[(&str, ProblemKind)] = &[
            ("e3b0  a\n", ProblemKind::MalformedLine),
            (
                &format!("{}  a\n", H.to_uppercase()),
                ProblemKind::MalformedLine,
            ),
            (&format!("{H} *a\n"), ProblemKind::MalformedLine),
            (&format!("{H}  a\r\n"), ProblemKind::MalformedLine),
            (&format!("{H}  a"), ProblemKind::MalformedLine),
            (&format!("{H}  /etc/passwd\n"), ProblemKind::PathEscape),
            (&format!("{H}  ../x\n"), ProblemKind::PathEscape),
            (&format!("{H}  dir/../x\n"), ProblemKind::PathEscape),
            (&format!("{H}  a//b\n"), ProblemKind::MalformedLine),
            (&format!("{H}  a\\b\n"), ProblemKind::MalformedLine),
            (&format!("{H}  b\n{H}  a\n"), ProblemKind::Unsorted),
            (&format!("{H}  a\n{H}  a\n"), ProblemKind::DuplicateEntry),
            (
                &format!("{H}  a\n{H}  b\n{H}  a\n"),
                ProblemKind::DuplicateEntry,
            ),
            (
                &format!("{H}  HASH_MANIFEST.txt\n"),
                ProblemKind::MalformedLine,
            ),
            ("", ProblemKind::MalformedLine),
        ];
        for (text, want) in cases {
            let mut r = VerifyReport::default();
            parse(text.as_bytes(), &mut r);
            assert!(kinds(&r).contains(want), "{text:?}: {:?}", r.problems);
        }
    }

    #[test]
    fn tree_file_is_exact() {
        assert_eq!(parse_tree(&render_tree(H)), Ok(H.to_string()));
        assert!(parse_tree(format!("{H}  other.txt\n").as_bytes()).is_err());
        assert!(parse_tree(format!("{H}  HASH_MANIFEST.txt").as_bytes()).is_err());
        assert!(parse_tree(format!("{H}  HASH_MANIFEST.txt\n\n").as_bytes()).is_err());
    }
}
