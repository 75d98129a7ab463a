//! The one error type of the library and the process exit codes it maps to.
//!
//! Every error names what it is about (a file, a key, a line) and says what was
//! expected, in one line, so that a person reading CI output knows what to fix
//! without re-running anything. The exit codes are part of the public contract
//! (they are listed in the README) so scripts can tell "the evidence does not
//! match" from "the input could not be read".

use std::io;
use std::path::{Path, PathBuf};

/// Process exit codes. Stable: scripts depend on them.
pub mod exit {
    /// Everything checked out.
    pub const OK: i32 = 0;
    /// The evidence does not support a pass: a packet was tampered with, an
    /// invariant count is non-zero, a probe failed open, a gate said no.
    pub const FAILED: i32 = 1;
    /// The command line itself was wrong (clap's own code).
    pub const USAGE: i32 = 2;
    /// An input file exists but is not what it must be (bad JSON, bad manifest
    /// line, unknown key, out-of-range value).
    pub const MALFORMED: i32 = 3;
    /// A file could not be read or written.
    pub const IO: i32 = 4;
    /// A safety condition refused the operation before anything was written
    /// (unsafe fold, already sealed, live bytes changed since the pin).
    pub const REFUSED: i32 = 5;

    /// The worse of two exit codes, for a command that checks several
    /// things and must report the worst: I/O over malformed over refused
    /// over failed over ok; a code outside this list ranks worst of all, so
    /// an unexpected code is never hidden by a known one.
    pub fn worst(a: i32, b: i32) -> i32 {
        let rank = |c: i32| match c {
            OK => 0,
            FAILED => 1,
            REFUSED => 2,
            MALFORMED => 3,
            IO => 4,
            _ => 5,
        };
        if rank(b) > rank(a) { b } else { a }
    }
}

/// The library's error. Each variant maps to one exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing `path` failed at the operating-system level.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory the operation was about.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// `path` exists but its content is not acceptable; `what` says where
    /// (line, key) and what was expected.
    #[error("{}: {what}", path.display())]
    Malformed {
        /// The offending input file.
        path: PathBuf,
        /// Where in it, and what was expected.
        what: String,
    },
    /// A safety condition refused the operation; nothing was written.
    #[error("refused: {what}")]
    Refused {
        /// The first reason the operation is unsafe.
        what: String,
    },
    /// The evidence does not support success.
    #[error("{what}")]
    Failed {
        /// What did not match.
        what: String,
    },
    /// The request itself is contradictory or incomplete.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// The process exit code for this error (see [`exit`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Io { .. } => exit::IO,
            Error::Malformed { .. } => exit::MALFORMED,
            Error::Refused { .. } => exit::REFUSED,
            Error::Failed { .. } => exit::FAILED,
            Error::Usage(_) => exit::USAGE,
        }
    }

    /// The same error, its message rewritten by `text` and its path (when it
    /// has one) by `path`; the variant, and so the exit code, stays. Used to
    /// add context to an error, or to name the file a user knows instead of
    /// a private working copy, without a second match over the variants.
    pub fn rewrite(self, path: impl Fn(&Path) -> PathBuf, text: impl Fn(&str) -> String) -> Self {
        match self {
            Error::Io { path: p, source } => Error::Io {
                path: path(&p),
                source: io::Error::new(source.kind(), text(&source.to_string())),
            },
            Error::Malformed { path: p, what } => Error::Malformed {
                path: path(&p),
                what: text(&what),
            },
            Error::Refused { what } => Error::Refused { what: text(&what) },
            Error::Failed { what } => Error::Failed { what: text(&what) },
            Error::Usage(what) => Error::Usage(text(&what)),
        }
    }

    /// An I/O error about `path`.
    pub fn io(path: impl AsRef<Path>, source: io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// A content error about `path`.
    pub fn malformed(path: impl AsRef<Path>, what: impl Into<String>) -> Self {
        Error::Malformed {
            path: path.as_ref().to_path_buf(),
            what: what.into(),
        }
    }

    /// A refusal by a safety condition.
    pub fn refused(what: impl Into<String>) -> Self {
        Error::Refused { what: what.into() }
    }

    /// The evidence does not support success.
    pub fn failed(what: impl Into<String>) -> Self {
        Error::Failed { what: what.into() }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds the path to a bare `io::Result`, so no I/O error reaches the user
/// without the name of the file it was about.
pub trait IoContext<T> {
    /// Attach `path` to the error, if any.
    fn at(self, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_keeps_the_variant_and_changes_only_what_it_is_given() {
        let errors = [
            Error::io("/w/a", io::Error::new(io::ErrorKind::NotFound, "no /w/a")),
            Error::malformed("/w/b", "line 2 of /w/b"),
            Error::refused("/w/c"),
            Error::Failed {
                what: "/w/d".into(),
            },
            Error::Usage("/w/e".into()),
        ];
        for e in errors {
            let code = e.exit_code();
            let before = e.to_string();
            let after = e.rewrite(
                |p| p.display().to_string().replace("/w", "spec").into(),
                |t| t.replace("/w", "spec"),
            );
            assert_eq!(after.exit_code(), code, "{before}");
            assert!(!after.to_string().contains("/w"), "{after}");
            assert_eq!(after.to_string(), before.replace("/w", "spec"));
        }
    }

    #[test]
    fn each_variant_has_its_documented_exit_code() {
        let io = Error::io("a", io::Error::other("x"));
        assert_eq!(io.exit_code(), 4);
        assert_eq!(Error::malformed("a", "b").exit_code(), 3);
        assert_eq!(Error::refused("a").exit_code(), 5);
        assert_eq!(Error::failed("a").exit_code(), 1);
        assert_eq!(Error::Usage("a".into()).exit_code(), 2);
    }

    #[test]
    fn worst_ranks_io_over_malformed_over_refused_over_failed() {
        assert_eq!(exit::worst(0, 1), 1);
        assert_eq!(exit::worst(1, 3), 3);
        assert_eq!(exit::worst(4, 3), 4);
        assert_eq!(exit::worst(3, 1), 3);
        assert_eq!(exit::worst(1, 5), 5);
        assert_eq!(exit::worst(5, 3), 3);
        assert_eq!(exit::worst(0, 0), 0);
        assert_eq!(exit::worst(4, 2), 2, "an unlisted code is never hidden");
    }

    #[test]
    fn messages_name_the_file() {
        let e = Error::malformed("dir/x.json", "line 3: expected a string");
        assert_eq!(e.to_string(), "dir/x.json: line 3: expected a string");
    }
}
