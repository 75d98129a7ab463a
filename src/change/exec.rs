//! The one place a governed change's commands are run: a bounded process
//! runner (no shell, stdin closed, its own process group, the whole group
//! killed at the deadline, and reading stopped even when a process that
//! escaped the group keeps the pipes open).
//!
//! Every command of a change goes through [`execute`], a thin layer over the
//! one bounded runner every child process of holdfast uses
//! ([`crate::process::run`]).

use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::process;

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

/// Hashes a stream and keeps its first `cap` bytes, as the runner feeds it.
#[derive(Clone, Default)]
struct Capture {
    hasher: Sha256,
    bytes: u64,
    head: Vec<u8>,
    cap: usize,
}

impl process::Sink for Capture {
    fn feed(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.bytes += chunk.len() as u64;
        let room = self.cap.saturating_sub(self.head.len());
        self.head.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
}

impl Capture {
    fn captured(self, complete: bool) -> Captured {
        Captured {
            sha256: hex::encode(self.hasher.finalize()),
            bytes: self.bytes,
            head: self.head,
            complete,
        }
    }
}

/// Runs `argv` in `cwd` with `env` added to the environment, stdin closed,
/// in its own process group, for at most `timeout`; keeps the first `cap`
/// bytes of each stream. It goes through the one bounded runner
/// ([`crate::process::run`]), so it returns by the deadline plus a short
/// grace whatever the command does.
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
    let job = process::Job {
        program: prog.into(),
        args: args.iter().map(Into::into).collect(),
        cwd: Some(cwd.to_path_buf()),
        clear_env: false,
        env: env.iter().map(|(k, v)| (k.into(), v.into())).collect(),
        stdin: None,
        timeout,
    };
    let sink = Capture {
        cap,
        ..Capture::default()
    };
    let done = process::run(&job, sink.clone(), sink);
    match &done.end {
        process::End::Exited(c) => outcome.exit_code = Some(*c),
        process::End::Signaled(s) => outcome.signal = Some(*s),
        process::End::TimedOut | process::End::WaitFailed(_) => {
            outcome.timed_out = true;
            // The group was killed with SIGKILL.
            outcome.signal = Some(9);
        }
        process::End::NotStarted(why) => {
            outcome.start_error = Some(format!("cannot start {prog:?}: {why}"));
        }
    }
    outcome.escaped = !done.streams_open.is_empty();
    outcome.stdout = done.stdout.captured(!done.streams_open.contains(&"stdout"));
    outcome.stderr = done.stderr.captured(!done.streams_open.contains(&"stderr"));
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

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
        let o = run(&["sh", "-c", &script], 2);
        let escaped = std::fs::read_to_string(&pid).unwrap_or_default();
        if let Ok(n) = escaped.trim().parse::<i32>()
            && let Some(p) = rustix::process::Pid::from_raw(n)
        {
            let _ = rustix::process::kill_process_group(p, rustix::process::Signal::KILL);
        }
        assert!(o.escaped, "{o:?}");
        assert_eq!(o.exit_code, Some(0));
        // Never past the deadline (2 s) plus a short grace.
        assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    }
}
