//! Which file names a packet may contain.
//!
//! A name must survive every format a packet is exported to unchanged:
//! `sha256sum` escapes names with a backslash or a newline (and GNU and BSD
//! tools disagree on how), BagIt manifests percent-encode only CR/LF/`%`, and a
//! file system that normalizes Unicode (APFS, some NAS shares) merges names
//! that differ only in normalization. So holdfast refuses those names outright
//! instead of escaping them.

use std::ffi::OsStr;
use std::fmt;

/// Why a name cannot be part of a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameProblem {
    /// The name is not valid UTF-8.
    NotUtf8,
    /// The name contains a control character (shown escaped).
    Control(char),
    /// The name contains a backslash.
    Backslash,
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameProblem::NotUtf8 => f.write_str("name is not valid UTF-8"),
            NameProblem::Control(c) => write!(f, "name contains control character {c:?}"),
            NameProblem::Backslash => f.write_str("name contains a backslash"),
        }
    }
}

/// Checks one path component read from the file system.
pub fn check_component(name: &OsStr) -> Result<&str, NameProblem> {
    let name = name.to_str().ok_or(NameProblem::NotUtf8)?;
    check_text(name)?;
    Ok(name)
}

/// Checks the characters of a name or path given as text.
pub fn check_text(name: &str) -> Result<(), NameProblem> {
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(NameProblem::Control(c));
    }
    if name.contains('\\') {
        return Err(NameProblem::Backslash);
    }
    Ok(())
}

/// Renders a possibly hostile name for a one-line message: control
/// characters and invalid UTF-8 are escaped, so an error can never break the
/// line or drive the terminal.
pub fn display_lossy(name: &OsStr) -> String {
    let lossy = name.to_string_lossy();
    lossy.escape_debug().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn plain_and_unicode_names_pass() {
        assert_eq!(check_component(OsStr::new("a b-é.txt")), Ok("a b-é.txt"));
        assert_eq!(check_component(OsStr::new("*star")), Ok("*star"));
    }

    #[test]
    fn hostile_names_are_refused() {
        assert_eq!(
            check_component(OsStr::from_bytes(b"a\xffb")),
            Err(NameProblem::NotUtf8)
        );
        assert_eq!(
            check_component(OsStr::new("a\nb")),
            Err(NameProblem::Control('\n'))
        );
        assert_eq!(
            check_component(OsStr::new("a\u{7f}")),
            Err(NameProblem::Control('\u{7f}'))
        );
        assert_eq!(
            check_component(OsStr::new("a\u{85}")),
            Err(NameProblem::Control('\u{85}'))
        );
        assert_eq!(
            check_component(OsStr::new("a\\b")),
            Err(NameProblem::Backslash)
        );
    }

    #[test]
    fn display_escapes_line_breaks() {
        assert_eq!(display_lossy(OsStr::new("a\nb")), "a\\nb");
    }
}
