//! Strict TOML input: every spec file holdfast reads goes through here, so
//! every error names the file, the line and column, and what was expected.
//!
//! Spec types derive `Deserialize` with `#[serde(deny_unknown_fields)]`, so a
//! misspelt key is an error rather than a silently ignored setting (a typo in
//! a gate's configuration must never widen what it lets through). TOML itself
//! refuses duplicate keys.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::fsio;

/// Largest spec file holdfast reads (spec files are hand-written).
pub const SPEC_LIMIT: u64 = 16 * 1024 * 1024;

/// Reads and parses the TOML file at `path` into `T`.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = fsio::read_regular(path, SPEC_LIMIT)?;
    parse(&bytes, path)
}

/// Parses TOML `bytes` (named `path` in errors) into `T`. No value and no
/// key may spell the default pass token: only the verdict produces it, and
/// an input that carries it could put it into a packet (a title becomes a
/// README heading, a command's argv is recorded in the snapshots).
pub fn parse<T: DeserializeOwned>(bytes: &[u8], path: &Path) -> Result<T> {
    parse_allowing(bytes, path, &[])
}

/// [`parse`], except that the values under `allowed` (key paths as
/// [`crate::model::token::find_token_claim`] reads them, `[*]` for any
/// index) may spell the pass token: gates.toml's user probe attack input,
/// which is redacted in the report.
pub fn parse_allowing<T: DeserializeOwned>(
    bytes: &[u8],
    path: &Path,
    allowed: &[&str],
) -> Result<T> {
    let parsed: T = parse_text(bytes, path)?;
    let raw: serde_json::Value = parse_text(bytes, path)?;
    let token = crate::gate::verdict::pass_token(None);
    if let Some(at) = crate::model::token::find_token_claim(&raw, token, allowed) {
        return Err(Error::malformed(
            path,
            format!("{at}: contains the pass token; an input may not claim it"),
        ));
    }
    refuse_hidden_text(&raw, path)?;
    Ok(parsed)
}

/// Refuses a spec string that holds a line break, a control, bidirectional
/// or invisible character, except in program input (see
/// [`crate::model::text`]): such a string could change how a packet's
/// README reads.
fn refuse_hidden_text(raw: &serde_json::Value, path: &Path) -> Result<()> {
    match crate::model::text::find_hidden_text(raw) {
        Some((at, c, what)) => Err(Error::malformed(
            path,
            crate::model::text::refusal(&at, c, what),
        )),
        None => Ok(()),
    }
}

fn parse_text<T: DeserializeOwned>(bytes: &[u8], path: &Path) -> Result<T> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, col) = line_col(bytes, e.valid_up_to());
        Error::malformed(path, format!("line {line}, column {col}: not valid UTF-8"))
    })?;
    toml::from_str(text).map_err(|e| {
        let message = e.message().trim().replace('\n', "; ");
        match e.span() {
            Some(span) => {
                let (line, col) = line_col(bytes, span.start);
                Error::malformed(path, format!("line {line}, column {col}: {message}"))
            }
            None => Error::malformed(path, message),
        }
    })
}

/// 1-based line and column of byte offset `at`.
pub fn line_col(bytes: &[u8], at: usize) -> (usize, usize) {
    let at = at.min(bytes.len());
    let before = &bytes[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = at
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct S {
        #[allow(dead_code)]
        name: String,
        #[allow(dead_code)]
        risk: Risk,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Risk {
        Low,
    }

    fn err(text: &str) -> String {
        parse::<S>(text.as_bytes(), Path::new("spec/s.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let e = err("name = \"a\"\nrisk = \"low\"\ngaet = \"x\"\n");
        assert!(e.starts_with("spec/s.toml: line 3, column 1:"), "{e}");
        assert!(e.contains("gaet"), "{e}");
    }

    #[test]
    fn bad_enum_value_and_duplicate_key_are_refused() {
        let e = err("name = \"a\"\nrisk = \"extreme\"\n");
        assert!(e.contains("line 2") && e.contains("extreme"), "{e}");
        let e = err("name = \"a\"\nname = \"b\"\nrisk = \"low\"\n");
        assert!(e.contains("line 2") && e.contains("duplicate"), "{e}");
    }

    #[test]
    fn missing_key_is_named() {
        let e = err("name = \"a\"\n");
        assert!(e.contains("missing field `risk`"), "{e}");
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col(b"ab\ncd", 0), (1, 1));
        assert_eq!(line_col(b"ab\ncd", 4), (2, 2));
    }
}
