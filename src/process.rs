//! The one bounded runner for every child process holdfast starts (command
//! snapshots, user probes, holdfast's own gates in the probe harness).
//!
//! A child must never hold holdfast longer than its deadline, whatever it
//! does. So each child runs from an argv (no shell unless the argv says
//! `sh -c`), with standard input closed or fed from a buffer, in its own
//! process group. Its output is read on threads that hand every chunk to a
//! [`Sink`] as it streams (hashed, scanned, its head kept: memory stays
//! flat). At the deadline the whole group is killed; and the wait for the
//! output streams is bounded too: a grandchild that left the group (a new
//! session, `setsid`) and keeps a pipe open cannot be found by the group
//! kill, so holdfast stops reading, leaves the reader thread behind and says
//! so in [`Finished::killed`] and [`Finished::streams_open`]. Output that
//! was still open when holdfast stopped reading is incomplete: callers treat
//! such a run as timed out, never as evidence.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the output streams may stay open after the group was killed at
/// the deadline (a killed group closes them at once; only a process outside
/// the group can keep them open longer).
pub const KILL_GRACE: Duration = Duration::from_millis(300);

/// What to run, and for how long at most.
#[derive(Debug, Clone)]
pub struct Job {
    /// The program (a path, or a name looked up on PATH).
    pub program: OsString,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Working directory, if not the current one.
    pub cwd: Option<PathBuf>,
    /// Start from an empty environment.
    pub clear_env: bool,
    /// Variables to set.
    pub env: Vec<(OsString, OsString)>,
    /// Bytes for standard input (`None`: standard input is closed).
    pub stdin: Option<Vec<u8>>,
    /// The deadline, counted from the start.
    pub timeout: Duration,
}

/// Receives an output stream chunk by chunk, as it is read.
pub trait Sink: Clone + Send + 'static {
    /// One chunk of the stream, in order.
    fn feed(&mut self, chunk: &[u8]);
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// It exited with this code on its own.
    Exited(i32),
    /// A signal it did not get from holdfast ended it.
    Signaled(i32),
    /// It was still running at the deadline and its group was killed.
    TimedOut,
    /// It could not be started (what the system said).
    NotStarted(String),
    /// Waiting for it failed (what the system said); its group was killed.
    WaitFailed(String),
}

/// What a run did, with both sinks as they were when holdfast stopped reading.
#[derive(Debug, Clone)]
pub struct Finished<O, E> {
    /// How the process ended.
    pub end: End,
    /// The standard output sink.
    pub stdout: O,
    /// The standard error sink.
    pub stderr: E,
    /// Streams still open when holdfast stopped reading (`"stdout"`,
    /// `"stderr"`): held by a process outside the group, their content is
    /// incomplete.
    pub streams_open: Vec<&'static str>,
    /// What holdfast killed or gave up on, for the report (no process ids,
    /// so reports stay reproducible); `None` when nothing had to be.
    pub killed: Option<String>,
}

impl<O, E> Finished<O, E> {
    /// True when the run cannot be taken as complete: it timed out, or an
    /// output stream was still open when holdfast stopped reading.
    pub fn incomplete(&self) -> bool {
        self.end == End::TimedOut || !self.streams_open.is_empty()
    }
}

fn reader<S: Sink>(
    mut src: impl Read + Send + 'static,
    sink: Arc<Mutex<S>>,
    which: usize,
    done: mpsc::Sender<usize>,
) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if let Ok(mut s) = sink.lock() {
                        s.feed(&buf[..n]);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = done.send(which);
    });
}

/// Kills the child's whole process group; true when some process got it.
fn kill_group(child: &Child) -> bool {
    let pid = rustix::process::Pid::from_child(child);
    rustix::process::kill_process_group(pid, rustix::process::Signal::KILL).is_ok()
}

/// Runs `job`, feeding its standard output to `stdout` and its standard
/// error to `stderr`. Returns by the deadline plus [`KILL_GRACE`] whatever
/// the child and its descendants do. Never panics on what the child does.
pub fn run<O: Sink, E: Sink>(job: &Job, stdout: O, stderr: E) -> Finished<O, E> {
    let mut cmd = Command::new(&job.program);
    cmd.args(&job.args)
        .stdin(if job.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if job.clear_env {
        cmd.env_clear();
    }
    for (k, v) in &job.env {
        cmd.env(k, v);
    }
    if let Some(d) = &job.cwd {
        cmd.current_dir(d);
    }
    let start = Instant::now();
    let deadline = start + job.timeout;
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Finished {
                end: End::NotStarted(e.to_string()),
                stdout,
                stderr,
                streams_open: vec![],
                killed: None,
            };
        }
    };
    let (tx, rx) = mpsc::channel();
    let out = Arc::new(Mutex::new(stdout));
    let err = Arc::new(Mutex::new(stderr));
    let mut open = [false, false];
    if let Some(o) = child.stdout.take() {
        reader(o, Arc::clone(&out), 0, tx.clone());
        open[0] = true;
    }
    if let Some(e) = child.stderr.take() {
        reader(e, Arc::clone(&err), 1, tx.clone());
        open[1] = true;
    }
    drop(tx);
    if let (Some(mut w), Some(bytes)) = (child.stdin.take(), job.stdin.clone()) {
        // A child that stops reading early closes the pipe; that is its
        // right. A writer blocked by a child that never reads is left behind.
        std::thread::spawn(move || {
            let _ = w.write_all(&bytes);
        });
    }

    let mut pause = Duration::from_millis(1);
    let mut killed: Vec<String> = Vec::new();
    let end = loop {
        match child.try_wait() {
            Ok(Some(st)) => {
                break match (st.code(), st.signal()) {
                    (Some(c), _) => End::Exited(c),
                    (None, Some(s)) => End::Signaled(s),
                    (None, None) => End::WaitFailed("ended without an exit code".into()),
                };
            }
            Ok(None) => {}
            Err(e) => {
                kill_group(&child);
                let _ = child.kill();
                let _ = child.wait();
                killed.push("killed its process group (waiting for it failed)".into());
                break End::WaitFailed(e.to_string());
            }
        }
        let now = Instant::now();
        if now >= deadline {
            kill_group(&child);
            let _ = child.kill();
            let _ = child.wait();
            killed.push(format!(
                "killed its process group at the deadline ({} s)",
                job.timeout.as_secs_f64()
            ));
            break End::TimedOut;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    // Whatever it left running in its group goes too: nothing it started
    // may go on holding the pipes (or touching what it read).
    if !matches!(end, End::TimedOut | End::WaitFailed(_)) && kill_group(&child) {
        killed.push("killed what it left running in its process group".into());
    }
    // Read to the end, but only for a short grace once the group is dead:
    // the child has ended and its group is killed, so only a process that
    // escaped the group can still hold a pipe open, and what it writes is
    // not the child's output (the run is incomplete either way).
    let until = Instant::now() + KILL_GRACE;
    while open.iter().any(|o| *o) {
        let left = until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(i) => open[i] = false,
            Err(_) => break,
        }
    }
    let streams_open: Vec<&'static str> = ["stdout", "stderr"]
        .iter()
        .zip(open)
        .filter(|(_, o)| *o)
        .map(|(n, _)| *n)
        .collect();
    if !streams_open.is_empty() {
        killed.push(format!(
            "stopped reading {}, still held open by a process outside its group",
            streams_open.join(" and ")
        ));
    }
    let take_out = out.lock().map(|g| g.clone());
    let take_err = err.lock().map(|g| g.clone());
    let (stdout, stderr) = match (take_out, take_err) {
        (Ok(o), Ok(e)) => (o, e),
        // A sink panicked while holding its lock: use what it holds.
        (o, e) => (
            o.unwrap_or_else(|p| p.into_inner().clone()),
            e.unwrap_or_else(|p| p.into_inner().clone()),
        ),
    };
    Finished {
        end,
        stdout,
        stderr,
        streams_open,
        killed: if killed.is_empty() {
            None
        } else {
            Some(killed.join("; "))
        },
    }
}

/// A [`Sink`] that hashes the stream with sha256 and counts its bytes.
#[derive(Debug, Clone, Default)]
pub struct HashSink {
    hasher: sha2::Sha256,
    /// Bytes seen.
    pub total: u64,
}

impl HashSink {
    /// The sha256 of everything fed so far, lowercase hex.
    pub fn hex(&self) -> String {
        use sha2::Digest;
        hex::encode(self.hasher.clone().finalize())
    }
}

impl Sink for HashSink {
    fn feed(&mut self, chunk: &[u8]) {
        use sha2::Digest;
        self.hasher.update(chunk);
        self.total += chunk.len() as u64;
    }
}

/// A [`Sink`] that keeps the first `keep` bytes, counts them all, and looks
/// for `needle` across the whole stream (across chunk boundaries too).
#[derive(Debug, Clone, Default)]
pub struct HeadSink {
    keep: usize,
    needle: Vec<u8>,
    window: Vec<u8>,
    /// The first bytes of the stream (at most `keep`).
    pub head: Vec<u8>,
    /// Bytes seen.
    pub total: u64,
    /// The needle occurred somewhere in the stream.
    pub found: bool,
}

impl HeadSink {
    /// Keeps `keep` bytes and looks for `needle` (an empty needle is never found).
    pub fn new(keep: usize, needle: &[u8]) -> Self {
        HeadSink {
            keep,
            needle: needle.to_vec(),
            ..HeadSink::default()
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

impl Sink for HeadSink {
    fn feed(&mut self, chunk: &[u8]) {
        if !self.needle.is_empty() {
            self.window.extend_from_slice(chunk);
            self.found |= contains(&self.window, &self.needle);
            let keep = self.needle.len() - 1;
            if self.window.len() > keep {
                self.window.drain(..self.window.len() - keep);
            }
        }
        if self.head.len() < self.keep {
            let take = (self.keep - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.total += chunk.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration) -> Finished<HashSink, HeadSink> {
        run(
            &Job {
                program: "sh".into(),
                args: vec!["-c".into(), script.into()],
                cwd: None,
                clear_env: false,
                env: vec![],
                stdin: None,
                timeout,
            },
            HashSink::default(),
            HeadSink::new(100, b"NEEDLE"),
        )
    }

    #[test]
    fn output_is_hashed_and_scanned_as_it_streams() {
        let f = sh(
            "head -c 200000 /dev/zero; printf NEE >&2; sleep 0.05; printf DLE >&2; exit 4",
            Duration::from_secs(10),
        );
        assert_eq!(f.end, End::Exited(4));
        assert_eq!(f.stdout.total, 200_000);
        assert_eq!(f.stdout.hex(), crate::digest::sha256_hex(&[0u8; 200_000]));
        assert!(f.stderr.found && f.stderr.head == b"NEEDLE");
        assert!(f.streams_open.is_empty() && f.killed.is_none() && !f.incomplete());
    }

    #[test]
    fn a_group_member_left_behind_is_killed_and_said_so() {
        let t = Instant::now();
        let f = sh("sleep 30 & echo done", Duration::from_secs(10));
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        assert_eq!(f.end, End::Exited(0));
        assert!(f.streams_open.is_empty(), "{f:?}");
        assert!(f.killed.unwrap().contains("left running"));
    }

    #[test]
    fn a_grandchild_in_a_new_session_cannot_hold_the_run_past_its_deadline() {
        let d = tempfile::tempdir().unwrap();
        let pid = d.path().join("pid");
        // The child exits at once; the escaped grandchild keeps stdout open.
        // (It waits until the grandchild has left the group.)
        let script = format!(
            "setsid sh -c 'echo $$ > {0}; exec sleep 30' & \
             while [ ! -s {0} ]; do sleep 0.01; done; echo started",
            pid.display()
        );
        let t = Instant::now();
        let f = sh(&script, Duration::from_secs(1));
        let took = t.elapsed();
        // The child itself is still running at the deadline in this variant.
        let g = sh(
            &format!(
                "setsid sh -c 'echo $$ > {0}.2; exec sleep 30' & \
                 while [ ! -s {0}.2 ]; do sleep 0.01; done; sleep 30",
                pid.display()
            ),
            Duration::from_secs(1),
        );
        let took_g = t.elapsed() - took;
        let pids = std::fs::read_to_string(&pid).unwrap_or_default()
            + &std::fs::read_to_string(pid.with_extension("2")).unwrap_or_default();
        for p in pids.lines() {
            if let Ok(n) = p.trim().parse::<i32>()
                && let Some(p) = rustix::process::Pid::from_raw(n)
            {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            }
        }
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert_eq!(f.end, End::Exited(0));
        assert_eq!(f.streams_open, vec!["stdout", "stderr"], "{f:?}");
        assert!(f.incomplete());
        assert!(f.killed.unwrap().contains("outside its group"));
        assert!(took_g < Duration::from_secs(2), "{took_g:?}");
        assert_eq!(g.end, End::TimedOut);
        let k = g.killed.unwrap();
        assert!(
            k.contains("at the deadline") && k.contains("outside its group"),
            "{k}"
        );
    }

    #[test]
    fn stdin_is_closed_or_fed_and_missing_programs_are_told() {
        let f = sh("cat", Duration::from_secs(10));
        assert_eq!((f.end, f.stdout.total), (End::Exited(0), 0));
        let mut job = Job {
            program: "cat".into(),
            args: vec![],
            cwd: None,
            clear_env: false,
            env: vec![],
            stdin: Some(b"fed".to_vec()),
            timeout: Duration::from_secs(10),
        };
        let f = run(&job, HeadSink::new(10, b""), HeadSink::new(10, b""));
        assert_eq!(f.stdout.head, b"fed");
        job.program = "/nonexistent/holdfast-gate".into();
        let f = run(&job, HashSink::default(), HashSink::default());
        assert!(matches!(f.end, End::NotStarted(_)), "{:?}", f.end);
    }

    #[test]
    fn a_signal_is_not_a_timeout() {
        let f = sh("kill -9 $$", Duration::from_secs(10));
        assert_eq!(f.end, End::Signaled(9));
    }
}
