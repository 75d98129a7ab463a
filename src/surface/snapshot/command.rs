//! `command` snapshots: run a declared read-only command and digest its
//! stdout.
//!
//! The command runs under the bounded runner ([`crate::process`]): without a
//! shell (write `sh -c` if you want one), with stdin closed, in its own
//! process group so a timeout kills everything it started, and never waited
//! for past its deadline, not even by a process that left the group and
//! holds stdout open. stdout is hashed as it streams (memory stays flat
//! whatever its size); the start of stderr is kept for the error message. A
//! non-zero exit, a death by signal, a timeout or output still open at the
//! deadline fails the snapshot: output of a command that did not succeed is
//! not evidence.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::Reading;
use super::keyed::Key;
use crate::error::{Error, Result};
use crate::process::{self, End, HashSink, HeadSink};

/// How much of stderr is kept for the error message.
const STDERR_KEEP: usize = 2048;

/// What the command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// sha256 of stdout.
    pub stdout_sha256: String,
    /// Bytes on stdout.
    pub stdout_bytes: u64,
    /// Exit code (always 0 when returned by [`run`]).
    pub exit_code: i32,
}

fn shown(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `argv` in `cwd` under the bounded runner ([`crate::process`]) with
/// a timeout; `Ok` only on exit code 0 with both output streams read to
/// their end. `who` names the surface in errors, which say what was killed.
pub fn run(argv: &[String], cwd: &Path, timeout: Duration, who: &str) -> Result<CommandOutput> {
    let (prog, args) = argv.split_first().ok_or_else(|| {
        Error::Usage(format!("surface {who}: command snapshot has an empty argv"))
    })?;
    let cmdline = shown(argv);
    let fail = |what: String| Error::failed(format!("surface {who}: command `{cmdline}`: {what}"));
    let job = process::Job {
        program: prog.into(),
        args: args.iter().map(Into::into).collect(),
        cwd: Some(cwd.to_path_buf()),
        clear_env: false,
        env: vec![],
        stdin: None,
        timeout,
    };
    let f = process::run(&job, HashSink::default(), HeadSink::new(STDERR_KEEP, b""));
    let stderr_text = String::from_utf8_lossy(&f.stderr.head);
    let stderr_text = stderr_text.trim();
    let tail = if stderr_text.is_empty() {
        String::new()
    } else {
        format!("; stderr: {stderr_text}")
    };
    let killed = f.killed.clone().unwrap_or_default();
    match &f.end {
        End::NotStarted(e) => return Err(fail(format!("cannot start: {e}"))),
        End::WaitFailed(e) => return Err(fail(format!("waiting failed: {e}; {killed}"))),
        End::TimedOut => {
            return Err(fail(format!(
                "timed out after {} s; {killed}",
                timeout.as_secs()
            )));
        }
        _ if !f.streams_open.is_empty() => {
            // Exited, but its output is not complete: not evidence.
            return Err(fail(format!(
                "timed out after {} s waiting for its output; {killed}",
                timeout.as_secs()
            )));
        }
        End::Exited(0) => {}
        End::Exited(code) => return Err(fail(format!("exited with code {code}{tail}"))),
        End::Signaled(sig) => return Err(fail(format!("killed by signal {sig}{tail}"))),
    }
    Ok(CommandOutput {
        stdout_sha256: f.stdout.hex(),
        stdout_bytes: f.stdout.total,
        exit_code: 0,
    })
}

/// Reads a `command` surface: `cwd` is relative to `base` (default `base`).
pub fn read(
    base: &Path,
    argv: &[String],
    cwd: Option<&str>,
    timeout_seconds: u64,
    key: Option<&Key>,
    who: &str,
) -> Result<Reading> {
    let dir = match cwd {
        Some(c) => base.join(c),
        None => base.to_path_buf(),
    };
    let out = run(argv, &dir, Duration::from_secs(timeout_seconds), who)?;
    let mut parts = BTreeMap::new();
    let description = match key {
        None => {
            parts.insert("stdout".to_string(), out.stdout_sha256);
            format!(
                "stdout of `{}` ({} byte(s), exit code {})",
                shown(argv),
                out.stdout_bytes,
                out.exit_code
            )
        }
        Some(k) => {
            let mut raw = [0u8; 32];
            hex::decode_to_slice(&out.stdout_sha256, &mut raw)
                .map_err(|e| Error::failed(format!("surface {who}: {e}")))?;
            parts.insert("stdout".to_string(), k.part("stdout", "stdout", &raw));
            format!(
                "stdout of `{}` (exit code {}), keyed digest (HMAC-SHA256, sensitive)",
                shown(argv),
                out.exit_code
            )
        }
    };
    Ok(Reading {
        parts,
        description,
        exit_code: Some(out.exit_code),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    fn here() -> std::path::PathBuf {
        std::env::temp_dir()
    }

    #[test]
    fn stdout_is_hashed_and_stable() {
        let a = run(
            &v(&["printf", "hello\n"]),
            &here(),
            Duration::from_secs(10),
            "s",
        )
        .unwrap();
        assert_eq!(a.stdout_sha256, crate::digest::sha256_hex(b"hello\n"));
        assert_eq!((a.stdout_bytes, a.exit_code), (6, 0));
        let r = read(&here(), &v(&["printf", "hello\n"]), None, 10, None, "s").unwrap();
        assert_eq!(r.parts["stdout"], a.stdout_sha256);
        assert_eq!(r.exit_code, Some(0));
        assert!(
            r.description.contains("`printf 'hello\n'`"),
            "{}",
            r.description
        );
    }

    #[test]
    fn large_output_streams_without_blocking() {
        let a = run(
            &v(&["sh", "-c", "head -c 3000000 /dev/zero; echo err >&2"]),
            &here(),
            Duration::from_secs(30),
            "s",
        )
        .unwrap();
        assert_eq!(a.stdout_bytes, 3_000_000);
        assert_eq!(
            a.stdout_sha256,
            crate::digest::sha256_hex(&vec![0u8; 3_000_000])
        );
    }

    #[test]
    fn non_zero_exit_fails_closed_with_stderr() {
        let e = run(
            &v(&["sh", "-c", "echo out; echo broken >&2; exit 3"]),
            &here(),
            Duration::from_secs(10),
            "ci",
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 1);
        let m = e.to_string();
        assert!(
            m.contains("surface ci") && m.contains("exited with code 3") && m.contains("broken"),
            "{m}"
        );
    }

    #[test]
    fn timeout_kills_the_group_and_fails_closed() {
        // The shell forks `sleep`, which holds stdout: only a group kill ends it.
        let e = run(
            &v(&["sh", "-c", "sleep 30; echo late"]),
            &here(),
            Duration::from_secs(1),
            "slow",
        )
        .unwrap_err();
        assert!(e.to_string().contains("timed out after 1 s"), "{e}");
    }

    #[test]
    fn stdin_is_closed() {
        let a = run(&v(&["cat"]), &here(), Duration::from_secs(10), "s").unwrap();
        assert_eq!(a.stdout_bytes, 0);
    }

    #[test]
    fn a_missing_program_fails_closed() {
        let e = run(
            &v(&["holdfast-no-such-program"]),
            &here(),
            Duration::from_secs(5),
            "s",
        )
        .unwrap_err();
        assert!(e.to_string().contains("cannot start"), "{e}");
    }
}
