//! Running one gate command under a time limit, scanning everything it
//! prints for the pass token.
//!
//! The command runs under the bounded runner ([`crate::process`]): in its
//! own process group, so a timeout kills it and everything it started, and
//! never waited for past its deadline, even by output pipes a process that
//! left the group holds open. stdout and stderr are read to the end (the
//! token is searched across the whole stream, not just a kept prefix) while
//! only a short head is kept for the report.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::process::{self, End, HeadSink};

/// Bytes of each stream kept for the report.
const HEAD: usize = 4096;

/// What to run.
#[derive(Debug, Clone)]
pub struct Spawn {
    /// The program (a path, or a name looked up on PATH).
    pub program: OsString,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Working directory, if not the current one.
    pub cwd: Option<PathBuf>,
    /// Start from an empty environment (holdfast's own gates, for hermetic runs).
    pub clear_env: bool,
    /// Variables to set.
    pub env: Vec<(String, String)>,
    /// Bytes for standard input (none: standard input is empty).
    pub stdin: Option<Vec<u8>>,
    /// Time limit.
    pub timeout: Duration,
}

/// One output stream, as seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// The token occurred somewhere in the stream.
    pub token_found: bool,
    /// The first bytes of the stream.
    pub head: Vec<u8>,
    /// Total bytes read.
    pub total: u64,
}

/// How the run ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ran {
    /// Exit code, when it exited normally.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did (and it was not our timeout kill).
    pub signal: Option<i32>,
    /// It ran out of time and was killed.
    pub timed_out: bool,
    /// It could not be started (the message says why).
    pub spawn_error: Option<String>,
    /// Standard output.
    pub stdout: Captured,
    /// Standard error.
    pub stderr: Captured,
    /// What the runner killed or stopped waiting for, when anything (no
    /// process ids: reports stay reproducible).
    pub killed: Option<String>,
}

/// Runs `s`, scanning stdout and stderr for `token`, under the bounded
/// runner ([`crate::process::run`]): at the deadline its whole process group
/// is killed, and output a process outside the group keeps open is no
/// longer waited for (the run then counts as timed out: what it printed is
/// incomplete). Never panics on what the child does; a start failure is
/// reported in [`Ran::spawn_error`].
pub fn run(s: &Spawn, token: &str) -> Ran {
    let job = process::Job {
        program: s.program.clone(),
        args: s.args.clone(),
        cwd: s.cwd.clone(),
        clear_env: s.clear_env,
        env: s.env.iter().map(|(k, v)| (k.into(), v.into())).collect(),
        stdin: s.stdin.clone(),
        timeout: s.timeout,
    };
    let sink = || HeadSink::new(HEAD, token.as_bytes());
    let f = process::run(&job, sink(), sink());
    let captured = |h: &HeadSink| Captured {
        token_found: h.found,
        head: h.head.clone(),
        total: h.total,
    };
    let timed_out = f.incomplete();
    let (exit_code, signal, spawn_error) = match &f.end {
        End::Exited(c) => (Some(*c), None, None),
        End::Signaled(sig) => (None, if timed_out { None } else { Some(*sig) }, None),
        End::TimedOut | End::WaitFailed(_) => (None, None, None),
        End::NotStarted(e) => (None, None, Some(e.clone())),
    };
    Ran {
        exit_code,
        signal,
        timed_out,
        spawn_error,
        stdout: captured(&f.stdout),
        stderr: captured(&f.stderr),
        killed: f.killed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout_ms: u64) -> Ran {
        run(
            &Spawn {
                program: "sh".into(),
                args: vec!["-c".into(), script.into()],
                cwd: None,
                clear_env: false,
                env: vec![],
                stdin: None,
                timeout: Duration::from_millis(timeout_ms),
            },
            "SECRET_TOKEN",
        )
    }

    #[test]
    fn exit_codes_and_token_scanning() {
        let r = sh("echo hello; echo SECRET_TOKEN >&2; exit 3", 10_000);
        assert_eq!(r.exit_code, Some(3));
        assert!(!r.stdout.token_found && r.stderr.token_found);
        assert_eq!(r.stdout.head, b"hello\n");
    }

    #[test]
    fn the_token_is_found_across_read_boundaries_and_past_the_head() {
        let r = sh(
            "head -c 200000 /dev/zero | tr '\\0' x; printf SECRET_; sleep 0.05; printf TOKEN",
            10_000,
        );
        assert!(r.stdout.token_found);
        assert_eq!(r.stdout.head.len(), HEAD);
        assert_eq!(r.stdout.total, 200_000 + 12);
    }

    #[test]
    fn signals_timeouts_and_missing_programs_are_told_apart() {
        let r = sh("kill -9 $$", 10_000);
        assert_eq!((r.exit_code, r.signal, r.timed_out), (None, Some(9), false));
        // A background grandchild holding the pipes must not hang the run.
        let r = sh("sleep 30 & sleep 30", 300);
        assert!(r.timed_out && r.signal.is_none(), "{r:?}");
        assert!(r.killed.unwrap().contains("killed its process group"));
        let r = run(
            &Spawn {
                program: "/nonexistent/gate".into(),
                args: vec![],
                cwd: None,
                clear_env: true,
                env: vec![],
                stdin: None,
                timeout: Duration::from_secs(1),
            },
            "X",
        );
        assert!(r.spawn_error.is_some());
    }

    #[test]
    fn stdin_is_fed() {
        let r = run(
            &Spawn {
                program: "sh".into(),
                args: vec!["-c".into(), "cat; exit 1".into()],
                cwd: None,
                clear_env: false,
                env: vec![],
                stdin: Some(b"fed SECRET_TOKEN".to_vec()),
                timeout: Duration::from_secs(10),
            },
            "SECRET_TOKEN",
        );
        assert_eq!(r.exit_code, Some(1));
        assert!(r.stdout.token_found);
    }
}
