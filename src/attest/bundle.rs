//! JSON Lines bundles of DSSE envelopes: one envelope a line, each line
//! ended by LF (the in-toto bundle convention). A bundle only grows: adding
//! an envelope writes a new file holding the old bytes and the new line and
//! renames it into place, so the old lines are never rewritten and a crash
//! leaves either the old or the new bundle.

use std::path::{Path, PathBuf};

use super::BUNDLE_LIMIT;
use super::dsse::Envelope;
use crate::error::{Error, Result};
use crate::fsio;

/// One envelope of a bundle and where it was.
#[derive(Debug, Clone)]
pub struct Line {
    /// 1-based line number.
    pub number: usize,
    /// The parsed envelope.
    pub envelope: Envelope,
}

/// The name an error about line `n` of `path` carries (`path:n`).
pub fn line_name(path: &Path, n: usize) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(":{n}"));
    PathBuf::from(s)
}

/// Reads a bundle strictly: a regular file (never through a link), every
/// line a well-formed envelope ended by LF, no empty line.
pub fn read(path: &Path) -> Result<Vec<Line>> {
    let bytes = fsio::read_regular(path, BUNDLE_LIMIT)?;
    parse(&bytes, path)
}

/// Parses bundle bytes (see [`read`]); `path` names the file in errors.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Vec<Line>> {
    if bytes.is_empty() {
        return Err(Error::malformed(path, "is empty: no envelope"));
    }
    if !bytes.ends_with(b"\n") {
        return Err(Error::malformed(
            path,
            "last line has no line break: the file is truncated",
        ));
    }
    let mut out = Vec::new();
    for (i, line) in bytes[..bytes.len() - 1].split(|b| *b == b'\n').enumerate() {
        let name = line_name(path, i + 1);
        if line.is_empty() {
            return Err(Error::malformed(&name, "empty line"));
        }
        out.push(Line {
            number: i + 1,
            envelope: Envelope::parse(line, &name)?,
        });
    }
    Ok(out)
}

/// Appends `envelope` to the bundle at `path` (creating it when absent).
/// An existing bundle that does not parse is refused, never extended.
/// Returns the new line's number.
pub fn append(path: &Path, envelope: &Envelope) -> Result<usize> {
    let mut bytes = match path.symlink_metadata() {
        Ok(_) => {
            let old = fsio::read_regular(path, BUNDLE_LIMIT)?;
            parse(&old, path)?;
            old
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io(path, e)),
    };
    let number = bytes.iter().filter(|b| **b == b'\n').count() + 1;
    bytes.extend_from_slice(&envelope.to_line()?);
    bytes.push(b'\n');
    fsio::write_atomic(path, &bytes)?;
    Ok(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &[u8] = br#"{"payload":"e30=","payloadType":"t","signatures":[{"sig":"AA=="}]}"#;

    #[test]
    fn parse_refuses_truncation_and_empty_lines() {
        let p = Path::new("b.jsonl");
        let mut ok = LINE.to_vec();
        ok.push(b'\n');
        assert_eq!(parse(&ok, p).unwrap().len(), 1);
        assert_eq!(parse(LINE, p).unwrap_err().exit_code(), 3);
        assert_eq!(parse(b"", p).unwrap_err().exit_code(), 3);
        let mut two = ok.clone();
        two.push(b'\n');
        two.extend_from_slice(&ok);
        let e = parse(&two, p).unwrap_err();
        assert!(e.to_string().contains("b.jsonl:2"), "{e}");
    }

    #[test]
    fn append_keeps_old_bytes_and_refuses_a_corrupt_bundle() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("b.jsonl");
        let env = Envelope::parse(LINE, &p).unwrap();
        assert_eq!(append(&p, &env).unwrap(), 1);
        let first = std::fs::read(&p).unwrap();
        assert_eq!(append(&p, &env).unwrap(), 2);
        let both = std::fs::read(&p).unwrap();
        assert!(both.starts_with(&first));
        assert_eq!(read(&p).unwrap().len(), 2);
        std::fs::write(&p, b"junk\n").unwrap();
        assert_eq!(append(&p, &env).unwrap_err().exit_code(), 3);
        assert_eq!(std::fs::read(&p).unwrap(), b"junk\n");
    }
}
