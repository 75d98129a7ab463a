//! The one place a governed change's commands are run: a bounded process
//! runner (no shell, stdin closed, its own process group, the whole group
//! killed at the deadline, and reading stopped even when a process that
//! escaped the group keeps the pipes open).
//!
//! Every command of a change goes through [`execute`], so the runner can be
//! swapped for a shared one without touching the rest of the module.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wait_timeout::ChildExt;

/// How long the output may stay open once the command's process group is
/// gone: anything still holding a pipe then escaped the group.
pub const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// What one command's stream carried: the sha256 and length of every byte
/// read, and the first `cap` bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// sha256 of the bytes read.
    pub sha256: String,
    /// How many bytes were read.
    pub bytes: u64,
    /// The first bytes (at most the cap).
    pub head: Vec<u8>,
    /// The stream reached its end (false: reading was stopped).
    pub complete: bool,
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Its exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// It ran past its deadline and its group was killed.
    pub timed_out: bool,
    /// Its output stayed open after its process group was gone: a process
    /// it started escaped the group (and may still be running).
    pub escaped: bool,
    /// Why it could not be started, when it could not.
    pub start_error: Option<String>,
    /// stdout.
    pub stdout: Captured,
    /// stderr.
    pub stderr: Captured,
}

#[derive(Default)]
struct Stream {
    hasher: Sha256,
    bytes: u64,
    head: Vec<u8>,
    complete: bool,
}

fn reader(mut r: impl Read + Send + 'static, cap: usize) -> Arc<Mutex<Stream>> {
    let state = Arc::new(Mutex::new(Stream::default()));
    let s = Arc::clone(&state);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => {
                    let Ok(mut st) = s.lock() else { return };
                    st.hasher.update(&buf[..k]);
                    st.bytes += k as u64;
                    let room = cap.saturating_sub(st.head.len());
                    st.head.extend_from_slice(&buf[..k.min(room)]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        if let Ok(mut st) = s.lock() {
            st.complete = true;
        }
    });
    state
}

fn take(s: &Arc<Mutex<Stream>>) -> Captured {
    match s.lock() {
        Ok(st) => Captured {
            sha256: hex::encode(st.hasher.clone().finalize()),
            bytes: st.bytes,
            head: st.head.clone(),
            complete: st.complete,
        },
        Err(_) => Captured::default(),
    }
}

fn complete(s: &Arc<Mutex<Stream>>) -> bool {
    s.lock().map(|st| st.complete).unwrap_or(true)
}

/// Runs `argv` in `cwd` with `env` added to the environment, stdin closed,
/// in its own process group, for at most `timeout`; keeps the first `cap`
/// bytes of each stream. It returns within `timeout` plus [`DRAIN_GRACE`]
/// (and a little scheduling), whatever the command does.
pub fn execute(
    argv: &[String],
    cwd: &Path,
    env: &[(String, String)],
    timeout: Duration,
    cap: usize,
) -> Outcome {
    let mut outcome = Outcome {
        exit_code: None,
        signal: None,
        timed_out: false,
        escaped: false,
        start_error: None,
        stdout: Captured::default(),
        stderr: Captured::default(),
    };
    let Some((prog, args)) = argv.split_first() else {
        outcome.start_error = Some("empty argv".into());
        return outcome;
    };
    let mut child = match Command::new(prog)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            outcome.start_error = Some(format!("cannot start {prog:?}: {}", e.kind()));
            return outcome;
        }
    };
    let pgid = rustix::process::Pid::from_child(&child);
    let out = child.stdout.take().map(|s| reader(s, cap));
    let err = child.stderr.take().map(|s| reader(s, cap));
    let kill_group = || {
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    };
    match child.wait_timeout(timeout) {
        Ok(Some(status)) => {
            outcome.exit_code = status.code();
            outcome.signal = status.signal();
        }
        Ok(None) | Err(_) => {
            outcome.timed_out = true;
            kill_group();
            let _ = child.kill();
            if let Ok(status) = child.wait() {
                outcome.signal = status.signal();
            }
        }
    }
    // Whatever it left running in its group must not go on touching the
    // surfaces, nor keep our pipes open.
    kill_group();
    let streams: Vec<&Arc<Mutex<Stream>>> = out.iter().chain(err.iter()).collect();
    let drain_until = Instant::now() + DRAIN_GRACE;
    while !streams.iter().all(|s| complete(s)) && Instant::now() < drain_until {
        std::thread::sleep(Duration::from_millis(10));
    }
    outcome.escaped = !streams.iter().all(|s| complete(s));
    outcome.stdout = out.as_ref().map(take).unwrap_or_default();
    outcome.stderr = err.as_ref().map(take).unwrap_or_default();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    fn run(argv: &[&str], secs: u64) -> Outcome {
        execute(
            &v(argv),
            &std::env::temp_dir(),
            &[("HOLDFAST_T".into(), "v".into())],
            Duration::from_secs(secs),
            8,
        )
    }

    #[test]
    fn output_is_hashed_capped_and_env_passed() {
        let o = run(
            &[
                "sh",
                "-c",
                "printf '%s-0123456789' \"$HOLDFAST_T\"; echo e >&2",
            ],
            10,
        );
        assert_eq!(o.exit_code, Some(0));
        assert!(!o.timed_out && !o.escaped && o.start_error.is_none());
        assert_eq!(o.stdout.sha256, crate::digest::sha256_hex(b"v-0123456789"));
        assert_eq!(o.stdout.bytes, 12);
        assert_eq!(o.stdout.head, b"v-012345");
        assert_eq!(o.stderr.head, b"e\n");
    }

    #[test]
    fn non_zero_exit_and_missing_program_are_recorded() {
        assert_eq!(run(&["sh", "-c", "exit 7"], 10).exit_code, Some(7));
        let o = run(&["holdfast-no-such-program"], 10);
        assert!(o.start_error.is_some() && o.exit_code.is_none());
    }

    #[test]
    fn deadline_kills_the_group() {
        let t = Instant::now();
        let o = run(&["sh", "-c", "sleep 30 & sleep 30"], 1);
        assert!(o.timed_out);
        assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    }

    #[test]
    fn an_escaped_grandchild_holding_stdout_does_not_hold_the_run() {
        // setsid puts the grandchild in its own session: the group kill
        // cannot reach it, and it keeps stdout open for 30 s. The command
        // exits only once the grandchild has escaped.
        let d = tempfile::tempdir().unwrap();
        let pid = d.path().join("pid");
        let script = format!(
            "setsid sh -c 'echo $$ > \"$0\"; exec sleep 30' '{}' & while [ ! -s '{}' ]; do sleep 0.05; done; echo started",
            pid.display(),
            pid.display()
        );
        let t = Instant::now();
        let o = run(&["sh", "-c", &script], 5);
        let escaped = std::fs::read_to_string(&pid).unwrap_or_default();
        if let Ok(n) = escaped.trim().parse::<i32>()
            && let Some(p) = rustix::process::Pid::from_raw(n)
        {
            let _ = rustix::process::kill_process_group(p, rustix::process::Signal::KILL);
        }
        assert!(o.escaped, "{o:?}");
        assert_eq!(o.exit_code, Some(0));
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    }
}
