//! One probe ready to run: its command, what it must not touch, the
//! redaction of its output, and the outcome of its run.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::gate::facts::Outcome;

use super::exec::{self, Ran, Spawn};
use super::report::{Actual, Expected, ProbeKind, ProbeRecord};

/// One probe ready to run (or already decided not to be run).
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub id: String,
    pub class: String,
    pub kind: ProbeKind,
    pub input: String,
    pub spawn: Spawn,
    pub shown: Vec<String>,
    pub stdin_shown: Option<String>,
    pub expected_exit: Vec<i32>,
    pub timeout_counts: bool,
    /// Paths a refusal must not create (nothing written on refusal).
    pub must_not_exist: Vec<PathBuf>,
    /// Paths (files or directory trees) a refusal must leave byte for byte
    /// as they were, with their digest ([`tree_digest`]) before the run.
    pub must_keep: Vec<(PathBuf, String)>,
    /// Set when the probe cannot run; the reason.
    pub not_run: Option<String>,
}

/// Replaces machine-specific paths and the token in a line of output.
pub(crate) struct Redactor {
    pairs: Vec<(String, String)>,
}

impl Redactor {
    pub(crate) fn new(pairs: Vec<(String, String)>) -> Self {
        // Longest first, so a path is replaced before any prefix of it.
        let mut pairs: Vec<(String, String)> =
            pairs.into_iter().filter(|(a, _)| !a.is_empty()).collect();
        pairs.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        Redactor { pairs }
    }

    pub(crate) fn apply(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (from, to) in &self.pairs {
            out = out.replace(from.as_str(), to);
        }
        out
    }
}

fn first_line(bytes: &[u8], r: &Redactor) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().next().unwrap_or("");
    let line = r.apply(line);
    match line.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line,
    }
}

/// A digest of everything at `path`: the sha256 of a file's bytes, or of
/// the canonical JSON of a tree's relative paths and their files' sha256
/// (links by their target); `absent` when nothing is there. Two digests are
/// equal only when nothing under `path` was written, added or removed.
pub(crate) fn tree_digest(path: &Path) -> Result<String> {
    let meta = match path.symlink_metadata() {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok("absent".into()),
        Err(e) => return Err(Error::io(path, e)),
    };
    if !meta.is_dir() {
        return crate::digest::hash_file(path).map(|f| f.sha256);
    }
    let mut map = std::collections::BTreeMap::new();
    for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
        let entry = entry.map_err(|e| Error::failed(format!("{}: {e}", path.display())))?;
        let rel = entry
            .path()
            .strip_prefix(path)
            .unwrap_or(entry.path())
            .display()
            .to_string();
        let ft = entry.file_type();
        let value = if ft.is_symlink() {
            let target =
                std::fs::read_link(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            format!("link:{}", target.display())
        } else if ft.is_file() {
            crate::digest::hash_file(entry.path())?.sha256
        } else if ft.is_dir() {
            "dir".into()
        } else {
            "special".into()
        };
        map.insert(rel, value);
    }
    Ok(crate::digest::sha256_hex(&crate::canonical::to_bytes(
        &map,
    )?))
}

/// What a refused run must not have done: created a path it was told not
/// to, or changed one it was told to keep. The first such side effect.
fn side_effect(case: &Case) -> Option<String> {
    if let Some(p) = case
        .must_not_exist
        .iter()
        .find(|p| p.symlink_metadata().is_ok())
    {
        return Some(format!("it wrote {}", p.display()));
    }
    case.must_keep
        .iter()
        .find_map(|(p, before)| match tree_digest(p) {
            Ok(now) if &now == before => None,
            _ => Some(format!("it changed {}", p.display())),
        })
}

/// Decides the outcome of a finished run; `side_effect` says what it wrote
/// despite refusing, if anything. Pure.
pub(crate) fn classify(ran: &Ran, case: &Case, side_effect: Option<&str>) -> (Outcome, String) {
    if let Some(e) = &ran.spawn_error {
        let program = case.shown.first().map_or("", String::as_str);
        return (Outcome::NotRun, format!("could not start {program}: {e}"));
    }
    let leaked: Vec<&str> = [
        ("stdout", ran.stdout.token_found),
        ("stderr", ran.stderr.token_found),
    ]
    .iter()
    .filter(|(_, f)| *f)
    .map(|(n, _)| *n)
    .collect();
    if !leaked.is_empty() {
        return (
            Outcome::FailOpen,
            format!("the pass token appeared in {}", leaked.join(" and ")),
        );
    }
    if ran.timed_out {
        return (
            Outcome::Timeout,
            format!(
                "still running after {}s; {} ({})",
                case.spawn.timeout.as_secs(),
                ran.killed.as_deref().unwrap_or("killed"),
                if case.timeout_counts {
                    "counts as fail-closed, as the probe declares"
                } else {
                    "does not count as fail-closed"
                }
            ),
        );
    }
    if let Some(sig) = ran.signal {
        return (Outcome::Crashed, format!("killed by signal {sig}"));
    }
    let Some(code) = ran.exit_code else {
        return (Outcome::Crashed, "ended without an exit code".into());
    };
    if code == 0 {
        return (
            Outcome::FailOpen,
            "exit 0: the gate let the bad input through".into(),
        );
    }
    match case.kind {
        ProbeKind::Builtin if code == 101 => {
            return (Outcome::Crashed, "panicked (exit 101)".into());
        }
        ProbeKind::User if code == 126 || code == 127 => {
            return (
                Outcome::NotRun,
                format!("exit {code}: the command could not be executed"),
            );
        }
        _ => {}
    }
    if !case.expected_exit.is_empty() && !case.expected_exit.contains(&code) {
        return (
            Outcome::Unexpected,
            format!("exit {code}, expected {:?}", case.expected_exit),
        );
    }
    if let Some(what) = side_effect {
        return (
            Outcome::Unexpected,
            format!("exit {code}, but {what} despite refusing"),
        );
    }
    (Outcome::FailClosed, format!("exit {code}"))
}

pub(crate) fn run_case(case: &Case, token: &str, r: &Redactor) -> ProbeRecord {
    let expected = Expected {
        outcome: Outcome::FailClosed,
        exit_codes: case.expected_exit.clone(),
        timeout_seconds: case.spawn.timeout.as_secs(),
        timeout_counts_as_fail_closed: case.timeout_counts,
    };
    let base = |outcome: Outcome, actual: Option<Actual>, reason: String| {
        let mut rec = ProbeRecord {
            id: case.id.clone(),
            class: case.class.clone(),
            kind: case.kind,
            input: r.apply(&case.input),
            command: case.shown.clone(),
            stdin: case.stdin_shown.clone(),
            expected: expected.clone(),
            actual,
            outcome,
            fail_closed: false,
            reason: r.apply(&reason),
        };
        rec.fail_closed = rec.fact().fail_closed();
        rec
    };
    if let Some(why) = &case.not_run {
        return base(Outcome::NotRun, None, why.clone());
    }
    let ran = exec::run(&case.spawn, token);
    let effect = side_effect(case);
    let (outcome, reason) = classify(&ran, case, effect.as_deref());
    let actual = if ran.spawn_error.is_some() {
        None
    } else {
        Some(Actual {
            exit_code: ran.exit_code,
            signal: ran.signal,
            timed_out: ran.timed_out,
            token_in_stdout: ran.stdout.token_found,
            token_in_stderr: ran.stderr.token_found,
            stderr_first_line: first_line(&ran.stderr.head, r),
        })
    };
    base(outcome, actual, reason)
}
