//! Running one gate command under a time limit, scanning everything it
//! prints for the pass token.
//!
//! The command runs in its own process group, so a timeout kills it and
//! everything it started; stdout and stderr are read to the end (the token
//! is searched across the whole stream, not just a kept prefix) while only a
//! short head is kept for the report.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bytes of each stream kept for the report.
const HEAD: usize = 4096;
/// How long to wait for output pipes after the process group is gone.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

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
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn reader(
    mut src: impl Read + Send + 'static,
    token: Vec<u8>,
    out: Arc<Mutex<Captured>>,
    done: mpsc::Sender<()>,
) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let keep = token.len().saturating_sub(1);
        let mut window: Vec<u8> = Vec::new();
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            window.extend_from_slice(&buf[..n]);
            let found = contains(&window, &token);
            if window.len() > keep {
                window.drain(..window.len() - keep);
            }
            if let Ok(mut c) = out.lock() {
                c.token_found |= found;
                if c.head.len() < HEAD {
                    let take = (HEAD - c.head.len()).min(n);
                    c.head.extend_from_slice(&buf[..take]);
                }
                c.total += n as u64;
            }
        }
        let _ = done.send(());
    });
}

fn kill_group(child: &std::process::Child) {
    let pid = rustix::process::Pid::from_child(child);
    // ESRCH (group already gone) is the normal case after a clean exit.
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
}

/// Runs `s`, scanning stdout and stderr for `token`. Never panics on what the
/// child does; a start failure is reported in [`Ran::spawn_error`].
pub fn run(s: &Spawn, token: &str) -> Ran {
    let mut cmd = Command::new(&s.program);
    cmd.args(&s.args)
        .stdin(if s.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if s.clear_env {
        cmd.env_clear();
    }
    for (k, v) in &s.env {
        cmd.env(k, v);
    }
    if let Some(d) = &s.cwd {
        cmd.current_dir(d);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Ran {
                spawn_error: Some(e.to_string()),
                ..Ran::default()
            };
        }
    };
    let (tx, rx) = mpsc::channel();
    let out = Arc::new(Mutex::new(Captured::default()));
    let err = Arc::new(Mutex::new(Captured::default()));
    if let Some(o) = child.stdout.take() {
        reader(o, token.as_bytes().to_vec(), Arc::clone(&out), tx.clone());
    }
    if let Some(e) = child.stderr.take() {
        reader(e, token.as_bytes().to_vec(), Arc::clone(&err), tx.clone());
    }
    drop(tx);
    if let (Some(mut w), Some(bytes)) = (child.stdin.take(), s.stdin.clone()) {
        // A gate that stops reading early closes the pipe; that is its right.
        std::thread::spawn(move || {
            let _ = w.write_all(&bytes);
        });
    }

    let deadline = Instant::now() + s.timeout;
    let mut pause = Duration::from_millis(1);
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) => {}
            Err(_) => break None,
        }
        let now = Instant::now();
        if now >= deadline {
            timed_out = true;
            kill_group(&child);
            let _ = child.kill();
            break child.wait().ok();
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    // Whatever the child left behind in its group goes too, so that no
    // grandchild keeps the output pipes (or anything else) busy.
    kill_group(&child);
    let until = Instant::now() + DRAIN_GRACE;
    for _ in 0..2 {
        let left = until.saturating_duration_since(Instant::now());
        if rx.recv_timeout(left).is_err() {
            break;
        }
    }
    let take = |c: &Arc<Mutex<Captured>>| c.lock().map(|g| g.clone()).unwrap_or_default();
    let (code, signal) = match status {
        Some(st) => (st.code(), if timed_out { None } else { st.signal() }),
        None => (None, None),
    };
    Ran {
        exit_code: code,
        signal,
        timed_out,
        spawn_error: None,
        stdout: take(&out),
        stderr: take(&err),
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
