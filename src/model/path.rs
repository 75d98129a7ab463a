//! A relative path from outside the process (a manifest line, a citation, a
//! path in `packet.toml`, a fold result): one parse function and one error
//! enum, so every reader refuses the same spellings for the same reason.
//!
//! A path is refused, never normalized: `a//b`, `a/./b` and `a/` name the
//! same file as `a/b` to the file system but are a second spelling of it to
//! anyone comparing text (a manifest, a fold result, a citation), so each is
//! an error, not a silent fold (which `Path::components()` does).

use std::fmt;

/// Why a relative path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// The path is empty.
    Empty,
    /// The path starts with `/`.
    Absolute,
    /// A `..` component: it leaves the directory it is relative to.
    ParentDir,
    /// A `.` component (a second spelling of the same path).
    CurDir,
    /// An empty component: `a//b` or a trailing `/`.
    EmptyComponent,
    /// A control character (shown escaped).
    Control(char),
    /// A backslash (a separator on some systems, an escape in manifests).
    Backslash,
    /// Not valid UTF-8.
    NotUtf8,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::Empty => f.write_str("empty path"),
            PathError::Absolute => f.write_str("absolute path"),
            PathError::ParentDir => f.write_str("path has a '..' component"),
            PathError::CurDir => f.write_str("path has a '.' component"),
            PathError::EmptyComponent => f.write_str("path has an empty component"),
            PathError::Control(c) => write!(f, "name contains control character {c:?}"),
            PathError::Backslash => f.write_str("name contains a backslash"),
            PathError::NotUtf8 => f.write_str("name is not valid UTF-8"),
        }
    }
}

impl std::error::Error for PathError {}

/// A checked relative path: `/`-separated, every component a plain name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelPath(String);

impl RelPath {
    /// The one parse function. Checks, in this order: empty, absolute, each
    /// component (`..`, `.`, empty), then the characters (control, backslash).
    pub fn parse(path: &str) -> Result<RelPath, PathError> {
        if path.is_empty() {
            return Err(PathError::Empty);
        }
        if path.starts_with('/') {
            return Err(PathError::Absolute);
        }
        for comp in path.split('/') {
            match comp {
                ".." => return Err(PathError::ParentDir),
                "." => return Err(PathError::CurDir),
                "" => return Err(PathError::EmptyComponent),
                _ => {}
            }
        }
        if let Some(c) = path.chars().find(|c| c.is_control()) {
            return Err(PathError::Control(c));
        }
        if path.contains('\\') {
            return Err(PathError::Backslash);
        }
        Ok(RelPath(path.to_string()))
    }

    /// [`RelPath::parse`] of a path that may not be UTF-8 (from a TOML
    /// `PathBuf` or the file system).
    pub fn parse_os(path: &std::ffi::OsStr) -> Result<RelPath, PathError> {
        RelPath::parse(path.to_str().ok_or(PathError::NotUtf8)?)
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bad_spelling_has_its_kind() {
        let cases = [
            ("", PathError::Empty),
            ("/etc/passwd", PathError::Absolute),
            ("../x", PathError::ParentDir),
            ("a/../b", PathError::ParentDir),
            ("./a", PathError::CurDir),
            ("a/./b", PathError::CurDir),
            ("a//b", PathError::EmptyComponent),
            ("a/", PathError::EmptyComponent),
            ("a\nb", PathError::Control('\n')),
            ("a\0b", PathError::Control('\0')),
            ("a\\b", PathError::Backslash),
        ];
        for (p, want) in cases {
            assert_eq!(RelPath::parse(p), Err(want), "{p:?}");
        }
        use std::os::unix::ffi::OsStrExt;
        assert_eq!(
            RelPath::parse_os(std::ffi::OsStr::from_bytes(b"a\xffb")),
            Err(PathError::NotUtf8)
        );
        assert_eq!(RelPath::parse("a/b.txt").unwrap().as_str(), "a/b.txt");
    }
}
