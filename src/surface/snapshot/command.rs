//! `command` snapshots: run a declared read-only command and digest its
//! stdout.
//!
//! The command runs without a shell (write `sh -c` if you want one), with
//! stdin closed, in its own process group so a timeout can kill everything it
//! started. stdout is hashed as it streams (memory stays flat whatever its
//! size); the start of stderr is kept for the error message. A non-zero exit,
//! a death by signal or a timeout fails the snapshot: output of a command
//! that did not succeed is not evidence.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wait_timeout::ChildExt;

use super::Reading;
use crate::error::{Error, Result};

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

/// Runs `argv` in `cwd` with a timeout; `Ok` only on exit code 0.
/// `who` names the surface in errors.
pub fn run(argv: &[String], cwd: &Path, timeout: Duration, who: &str) -> Result<CommandOutput> {
    let (prog, args) = argv.split_first().ok_or_else(|| {
        Error::Usage(format!("surface {who}: command snapshot has an empty argv"))
    })?;
    let cmdline = shown(argv);
    let fail = |what: String| Error::failed(format!("surface {who}: command `{cmdline}`: {what}"));
    let mut child = Command::new(prog)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| fail(format!("cannot start: {e}")))?;
    let pgid = rustix::process::Pid::from_child(&child);
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    // Both pipes are drained on their own threads, so a chatty command can
    // never block on a full pipe while we wait for it.
    let out_thread = std::thread::spawn(move || -> std::io::Result<(String, u64)> {
        let mut h = Sha256::new();
        let mut n = 0u64;
        if let Some(mut s) = stdout {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match s.read(&mut buf) {
                    Ok(0) => break,
                    Ok(k) => {
                        h.update(&buf[..k]);
                        n += k as u64;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok((hex::encode(h.finalize()), n))
    });
    let err_thread = std::thread::spawn(move || -> Vec<u8> {
        let mut kept = Vec::new();
        if let Some(mut s) = stderr {
            let mut buf = [0u8; 4096];
            while let Ok(k) = s.read(&mut buf) {
                if k == 0 {
                    break;
                }
                let room = STDERR_KEEP.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..k.min(room)]);
            }
        }
        kept
    });
    let waited = child.wait_timeout(timeout);
    let status = match waited {
        Ok(Some(status)) => status,
        Ok(None) | Err(_) => {
            // Kill the whole group: a shell's children hold the pipes too.
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
            let _ = child.kill();
            let _ = child.wait();
            let _ = out_thread.join();
            let _ = err_thread.join();
            return Err(match waited {
                Err(e) => fail(format!("waiting failed: {e}")),
                _ => fail(format!("timed out after {} s; killed", timeout.as_secs())),
            });
        }
    };
    // The command is done; anything it left running in its group must not
    // keep our pipes open (or go on touching the surface).
    let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    let out = out_thread
        .join()
        .map_err(|_| fail("stdout reader panicked".into()))?
        .map_err(|e| fail(format!("reading stdout: {e}")))?;
    let err_bytes = err_thread.join().unwrap_or_default();
    let stderr_text = String::from_utf8_lossy(&err_bytes);
    let stderr_text = stderr_text.trim();
    let tail = if stderr_text.is_empty() {
        String::new()
    } else {
        format!("; stderr: {stderr_text}")
    };
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(CommandOutput {
            stdout_sha256: out.0,
            stdout_bytes: out.1,
            exit_code: 0,
        }),
        (Some(code), _) => Err(fail(format!("exited with code {code}{tail}"))),
        (None, Some(sig)) => Err(fail(format!("killed by signal {sig}{tail}"))),
        (None, None) => Err(fail(format!("ended without an exit code{tail}"))),
    }
}

/// Reads a `command` surface: `cwd` is relative to `base` (default `base`).
pub fn read(
    base: &Path,
    argv: &[String],
    cwd: Option<&str>,
    timeout_seconds: u64,
    who: &str,
) -> Result<Reading> {
    let dir = match cwd {
        Some(c) => base.join(c),
        None => base.to_path_buf(),
    };
    let out = run(argv, &dir, Duration::from_secs(timeout_seconds), who)?;
    let mut parts = BTreeMap::new();
    parts.insert("stdout".to_string(), out.stdout_sha256);
    Ok(Reading {
        parts,
        description: format!(
            "stdout of `{}` ({} byte(s), exit code {})",
            shown(argv),
            out.stdout_bytes,
            out.exit_code
        ),
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
        let r = read(&here(), &v(&["printf", "hello\n"]), None, 10, "s").unwrap();
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
