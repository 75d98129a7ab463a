//! `holdfast run` on a real terminal (a tmux pane) shows a progress bar
//! during the probe step, counting probes, and clears it: the screen ends
//! with the step lines and the packet line. Piped, it prints no bar at all,
//! and `--json` prints only JSON.

use std::path::PathBuf;
use std::process::Command as Std;
use std::time::{Duration, Instant};

use crate::support::{copy_tree, example, replace};
use assert_cmd::Command;

/// tmux, or `None` off CI when it is not installed (CI installs it).
fn tmux() -> Option<&'static str> {
    let found = Std::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("tmux");
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "tmux is needed for the terminal test: install Debian's tmux package (.ci/run does)"
    );
    eprintln!("tmux not installed: the terminal test is skipped off CI");
    None
}

/// A tmux server on a private socket, killed when dropped.
struct Server {
    socket: PathBuf,
}

impl Server {
    fn tmux(&self) -> Std {
        let mut c = Std::new("tmux");
        c.arg("-S").arg(&self.socket);
        c
    }

    fn capture(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-J", "-t", "hf"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
    }
}

/// The user's own gate, made slow: the probe step then lasts well past the
/// bar's show delay however fast the machine runs the built-in classes.
const SLOW_GATE_SECONDS: u64 = 3;

#[test]
fn run_on_a_terminal_shows_the_probe_steps_progress_then_its_result() {
    let Some(_) = tmux() else { return };
    let t = tempfile::tempdir().unwrap();
    let spec = t.path().join("spec");
    copy_tree(&example(), &spec);
    replace(
        &spec.join("gates.toml"),
        &[(
            "  \"rollback-changed-live-bytes\",\n]",
            &format!(
                "  \"rollback-changed-live-bytes\",\n  \"user\",\n]\n\n[[probe]]\n\
                 id = \"slow-gate\"\ncommand = [\"sh\", \"-c\", \"sleep {SLOW_GATE_SECONDS}; exit 1\"]"
            ),
        )],
    );
    let server = Server {
        socket: t.path().join("tmux.sock"),
    };
    let packet = t.path().join("packet");
    let raw = t.path().join("pane.raw");
    // The pane waits for a signal, so every byte the run writes reaches the
    // pane's pipe: the bar is found in what was drawn, not in whichever
    // screen a poll happened to catch.
    let cmd = format!(
        "tmux -S '{}' wait-for go; '{}' run '{}' --out '{}'; echo EXIT=$?; sleep 600",
        server.socket.display(),
        env!("CARGO_BIN_EXE_holdfast"),
        spec.display(),
        packet.display()
    );
    let ok = server
        .tmux()
        .args(["new-session", "-d", "-s", "hf", "-x", "160", "-y", "40"])
        .arg("-c")
        .arg(t.path())
        .arg(&cmd)
        .env("TERM", "xterm-256color")
        .status()
        .unwrap();
    assert!(ok.success(), "tmux new-session");
    let ok = server
        .tmux()
        .args(["pipe-pane", "-o", "-t", "hf"])
        .arg(format!("cat >> '{}'", raw.display()))
        .status()
        .unwrap();
    assert!(ok.success(), "tmux pipe-pane");
    let ok = server
        .tmux()
        .args(["wait-for", "-S", "go"])
        .status()
        .unwrap();
    assert!(ok.success(), "tmux wait-for -S");

    let start = Instant::now();
    let screen = loop {
        let screen = capture_retrying(&server);
        if screen.contains("EXIT=") {
            break screen;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "the run did not end in 300 s:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let drawn = String::from_utf8_lossy(&std::fs::read(&raw).unwrap()).into_owned();
    // Each redraw of the bar is a line of its own between carriage returns
    // and escape sequences; the last one drawn has the highest count.
    let bar = drawn
        .split(['\r', '\n', '\u{1b}'])
        .filter_map(|l| l.find("probing [").map(|at| &l[at..]))
        .rfind(|l| l.contains(" probes, "))
        .unwrap_or_else(|| panic!("no probe progress bar was drawn:\n{drawn:?}"))
        .to_string();
    // It counts probes, out of the harness's total.
    let counts = bar.split("] ").nth(1).unwrap_or_default();
    let (pos, rest) = counts.split_once('/').unwrap_or_default();
    let len = rest.split(' ').next().unwrap_or_default();
    let (pos, len): (u64, u64) = (pos.parse().unwrap(), len.parse().unwrap());
    assert!(
        pos < len,
        "the bar was drawn while the slow gate ran: {bar}"
    );

    let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    let exit = lines.iter().position(|l| l.starts_with("EXIT=")).unwrap();
    assert_eq!(lines[exit], "EXIT=0", "{screen}");
    let last = lines[exit - 1];
    assert!(
        last.starts_with("packet written ")
            && last.contains(
                "FIX7_P0_PRODUCTION_READINESS_SURFACE_SCOPING_READY · decision HOLD_PRODUCTION"
            ),
        "the final line is the packet line, not {last:?}:\n{screen}"
    );
    assert!(
        screen.contains("[ 5/13] run the bad-input probes"),
        "{screen}"
    );
    // The bar is cleared once the step is over: only step lines remain.
    assert!(!screen.contains("probing ["), "{screen}");
    // The total is the packet's own count of probes: the built-in classes'
    // probes plus the one user gate.
    let readme = std::fs::read_to_string(packet.join("README.md")).unwrap();
    assert!(
        readme.contains(&format!(" classes, {} probes: ", len - 1))
            && readme.contains("(`[[probe]]` of gates.toml) — 1/1 fail-closed"),
        "the bar's total {len} is not the packet's probe count:\n{readme}"
    );
}

/// capture-pane right after new-session can race the session's start.
fn capture_retrying(server: &Server) -> String {
    for _ in 0..50 {
        let s = server.capture();
        if !s.is_empty() {
            return s;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    server.capture()
}

#[test]
fn piped_run_prints_no_bar_and_json_stays_clean() {
    let t = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("holdfast")
        .unwrap()
        .arg("run")
        .arg(example())
        .arg("--out")
        .arg(t.path().join("p1"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("probing") && !stderr.contains('\r') && !stderr.contains('\u{1b}'),
        "piped stderr: {stderr:?}"
    );
    // Step lines are for a terminal: piped, a READY run says nothing on
    // stderr, and its one stdout line is the packet line.
    assert!(stderr.is_empty(), "piped stderr: {stderr:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("packet written "), "{stdout}");

    let out = Command::cargo_bin("holdfast")
        .unwrap()
        .args(["--json", "run"])
        .arg(example())
        .arg("--out")
        .arg(t.path().join("p2"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON alone");
    assert_eq!(v["ready"], true);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
