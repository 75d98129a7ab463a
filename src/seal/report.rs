//! What `verify` found: every problem, classified, and the exit code it earns.

use serde::Serialize;

use crate::error::exit;

/// One thing that does not match the seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Problem {
    /// What kind of problem.
    pub kind: ProblemKind,
    /// The packet-relative path it is about (or the seal file for manifest problems).
    pub path: String,
    /// A one-line explanation: line number, expected and found values.
    pub detail: String,
}

/// The kinds of problems `verify` reports.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A listed file's bytes differ from its recorded sha256.
    Changed,
    /// A listed file is not in the packet.
    Missing,
    /// A regular file in the packet is not listed.
    Extra,
    /// A symbolic link inside the packet.
    Symlink,
    /// A FIFO, socket or device inside the packet.
    SpecialFile,
    /// A name no manifest format can carry safely.
    UnsafeName,
    /// `HASH_MANIFEST.txt` or `packet_tree.sha256` is absent.
    MissingSealFile,
    /// The tree hash does not match the manifest's bytes.
    TreeHashMismatch,
    /// A manifest line is not `<64 lowercase hex>  <path>`.
    MalformedLine,
    /// The same path is listed twice.
    DuplicateEntry,
    /// Lines are not sorted by path bytes.
    Unsorted,
    /// A listed path is absolute or has `..`/`.` components.
    PathEscape,
    /// `packet_tree.sha256` is not `<hex>  HASH_MANIFEST.txt`.
    MalformedSealFile,
    /// A file or directory could not be read.
    Io,
}

/// The three failure classes, each with its own exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemClass {
    /// The packet's contents differ from what was sealed (exit 1).
    Tampered,
    /// The seal files themselves are not well-formed (exit 3).
    Malformed,
    /// Something could not be read (exit 4).
    Io,
}

impl ProblemKind {
    /// Which class this problem belongs to.
    pub fn class(self) -> ProblemClass {
        use ProblemKind::*;
        match self {
            Changed | Missing | Extra | Symlink | SpecialFile | UnsafeName | MissingSealFile
            | TreeHashMismatch => ProblemClass::Tampered,
            MalformedLine | DuplicateEntry | Unsorted | PathEscape | MalformedSealFile => {
                ProblemClass::Malformed
            }
            Io => ProblemClass::Io,
        }
    }

    /// Short label used in human output.
    pub fn label(self) -> &'static str {
        use ProblemKind::*;
        match self {
            Changed => "changed",
            Missing => "missing",
            Extra => "extra",
            Symlink => "symlink",
            SpecialFile => "special file",
            UnsafeName => "unsafe name",
            MissingSealFile => "missing seal file",
            TreeHashMismatch => "tree hash mismatch",
            MalformedLine => "malformed line",
            DuplicateEntry => "duplicate entry",
            Unsorted => "unsorted",
            PathEscape => "path escape",
            MalformedSealFile => "malformed seal file",
            Io => "I/O error",
        }
    }
}

impl ProblemClass {
    /// The process exit code for this class.
    pub fn exit_code(self) -> i32 {
        match self {
            ProblemClass::Tampered => exit::FAILED,
            ProblemClass::Malformed => exit::MALFORMED,
            ProblemClass::Io => exit::IO,
        }
    }
}

/// The full result of verifying a packet.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct VerifyReport {
    /// Entries listed in the manifest (well-formed lines only).
    pub files_listed: usize,
    /// Listed files that were found and hashed.
    pub files_checked: usize,
    /// Bytes hashed.
    pub bytes_checked: u64,
    /// The tree hash recorded in `packet_tree.sha256`, when readable.
    pub tree_sha256: Option<String>,
    /// Every problem found, sorted by path then kind.
    pub problems: Vec<Problem>,
    /// What does not make the packet fail but should be fixed: files and
    /// directories others cannot read (so others cannot verify the packet),
    /// sorted by path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

/// Something `verify` reports that does not change its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Warning {
    /// The packet-relative path it is about (`.` for the packet directory).
    pub path: String,
    /// What is wrong, and the fix.
    pub detail: String,
}

impl VerifyReport {
    /// True only when nothing at all is wrong.
    pub fn is_verified(&self) -> bool {
        self.problems.is_empty()
    }

    /// The first problem as `path: detail`, for a one-line message; empty
    /// when there is none.
    pub fn first_problem(&self) -> String {
        self.problems
            .first()
            .map(|p| format!("{}: {}", p.path, p.detail))
            .unwrap_or_default()
    }

    /// The worst class present: I/O over malformed over tampered.
    pub fn worst_class(&self) -> Option<ProblemClass> {
        self.problems.iter().map(|p| p.kind.class()).max()
    }

    /// 0 when verified; otherwise the exit code of the worst class.
    pub fn exit_code(&self) -> i32 {
        self.worst_class().map_or(exit::OK, ProblemClass::exit_code)
    }

    /// A one-word status for machines: `VERIFIED`, `TAMPERED`, `MALFORMED` or `IO_ERROR`.
    pub fn status(&self) -> &'static str {
        match self.worst_class() {
            None => "VERIFIED",
            Some(ProblemClass::Tampered) => "TAMPERED",
            Some(ProblemClass::Malformed) => "MALFORMED",
            Some(ProblemClass::Io) => "IO_ERROR",
        }
    }

    pub(crate) fn push(
        &mut self,
        kind: ProblemKind,
        path: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.problems.push(Problem {
            kind,
            path: path.into(),
            detail: detail.into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_class_decides_the_exit_code() {
        let mut r = VerifyReport::default();
        assert_eq!((r.exit_code(), r.status()), (0, "VERIFIED"));
        r.push(ProblemKind::Changed, "a", "x");
        assert_eq!((r.exit_code(), r.status()), (1, "TAMPERED"));
        r.push(ProblemKind::Unsorted, "HASH_MANIFEST.txt", "x");
        assert_eq!((r.exit_code(), r.status()), (3, "MALFORMED"));
        r.push(ProblemKind::Io, "b", "x");
        assert_eq!((r.exit_code(), r.status()), (4, "IO_ERROR"));
    }
}
