//! The registry under kills and under concurrent writers, with the real
//! binary: a child doing claims and folds is SIGKILLed at random moments,
//! and several processes claim at once.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_holdfast")
}

fn holdfast(reg: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .arg("registry")
        .arg("--registry")
        .arg(reg)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok_json(reg: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = Command::new(bin())
        .args(["--json", "registry", "--registry"])
        .arg(reg)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A small deterministic generator: the test's random moments are
/// reproducible from the seed printed on failure.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// After any kill: `check` passes (it finishes an interrupted write), the
/// documents parse, and every document is byte for byte the state the
/// history's last line records. Returns the number of states.
fn assert_consistent(reg: &Path, context: &str) -> usize {
    // Before anything reads the registry: did this kill land inside a write?
    let raw = std::fs::read(reg.join("history/log.jsonl")).unwrap();
    let torn = !raw.ends_with(b"\n");
    let complete = &raw[..raw.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1)];
    let last: Value = serde_json::from_slice(
        complete
            .split(|&b| b == b'\n')
            .rfind(|l| !l.is_empty())
            .unwrap(),
    )
    .unwrap();
    let behind = last["documents"]
        .as_object()
        .unwrap()
        .iter()
        .any(|(name, pin)| {
            std::fs::read(reg.join(name))
                .ok()
                .map(|b| holdfast::digest::sha256_hex(&b))
                .as_deref()
                != pin["sha256"].as_str()
        });
    let temp = std::fs::read_dir(reg).unwrap().flatten().any(|e| {
        e.file_name()
            .to_string_lossy()
            .starts_with(".holdfast-tmp-")
    });
    if torn || behind || temp {
        eprintln!(
            "{context}: killed inside a write (torn log line: {torn}, documents behind the log: {behind}, temp file: {temp})"
        );
    }
    let (code, _, err) = holdfast(reg, &["check"]);
    assert_eq!(code, 0, "{context}: check failed: {err}");
    let log = ok_json(reg, &["log"]);
    let head = log.as_array().unwrap().last().unwrap();
    for (name, pin) in head["documents"].as_object().unwrap() {
        let bytes = std::fs::read(reg.join(name)).unwrap();
        assert_eq!(
            holdfast::digest::sha256_hex(&bytes),
            pin["sha256"].as_str().unwrap(),
            "{context}: {name} is not the head state's"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(reg)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".holdfast-tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{context}: {leftovers:?}");
    log.as_array().unwrap().len()
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

#[test]
fn killed_at_random_moments_the_registry_is_always_a_recorded_state() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = tmp.path().join("reg");
    let out = tmp.path().join("out");
    let seed = std::env::var("HOLDFAST_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_u64);
    let mut rng = Rng(seed);
    let (code, _, err) = holdfast(&reg, &["init", "--prefix", "TKT-OBJ", "--width", "4"]);
    assert_eq!(code, 0, "{err}");
    let mut states_seen = std::collections::BTreeSet::new();
    // The kill comes at a random moment within a window that adapts to the
    // machine's speed, not to a wall-clock guess: a round in which nothing
    // was committed (the kill came before the first write finished, as on a
    // loaded machine) doubles the window, a round that ran to the end
    // without being killed halves it. So the rounds make progress however
    // slow each command is, and most of them are still killed mid-way.
    let mut window_ms: u64 = 150;
    let mut killed_rounds = 0u32;
    let mut round = 0u32;
    let mut last_states = 1usize;
    while (states_seen.len() <= 10 || round < 30) && round < 200 {
        round += 1;
        let context = format!("seed {seed:#x}, round {round}");
        let show = ok_json(&reg, &["show"]);
        let next_free = show["next_free"].as_str().unwrap()[8..]
            .parse::<u64>()
            .unwrap();
        let cmax = show["canonical_max"].as_u64().unwrap();
        // A staged claim left by a kill between a claim and its fold is folded first.
        let mut ops = Vec::new();
        if next_free > cmax + 1 {
            ops.push(format!(
                "fold {}..{} --out {}",
                cmax + 1,
                next_free - 1,
                shell_quote(&out.join(format!("r{round}-0")))
            ));
        }
        let mut first = next_free;
        for k in 1..=4 {
            let count = 1 + rng.below(5);
            ops.push(format!("claim --packet R{round}K{k} --count {count}"));
            ops.push(format!(
                "fold {first}..{} --out {}",
                first + count - 1,
                shell_quote(&out.join(format!("r{round}-{k}")))
            ));
            first += count;
        }
        let script: String = ops
            .iter()
            .map(|op| {
                format!(
                    "{} registry --registry {} {op} >/dev/null || exit 1\n",
                    shell_quote(Path::new(bin())),
                    shell_quote(&reg)
                )
            })
            .collect();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(2 + rng.below(window_ms)));
        // SIGKILL the whole group: the shell and whichever holdfast is running.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status();
        let status = child.wait().unwrap();
        if status.success() {
            // Finished before the kill: it must not have failed on its own.
            assert!(status.success());
        } else if status.code() == Some(1) {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            panic!("{context}: an operation failed without being killed: {err}");
        }
        if !status.success() {
            killed_rounds += 1;
        }
        let states = assert_consistent(&reg, &context);
        states_seen.insert(states);
        if states == last_states {
            window_ms = (window_ms * 2).min(60_000);
        } else if status.success() {
            window_ms = (window_ms / 2).max(1);
        }
        last_states = states;
    }
    // The rounds made progress: kills did not stop every write (each
    // committed state is a distinct log length), and the kills really
    // interrupted commands, not only idle moments after a finished script.
    assert!(
        states_seen.len() > 10,
        "{round} rounds, window {window_ms} ms: {states_seen:?}"
    );
    assert!(
        killed_rounds >= 10,
        "only {killed_rounds} of {round} rounds were killed"
    );
    // And the whole history, every revision of every document, is intact.
    let (code, _, err) = holdfast(&reg, &["verify-history"]);
    assert_eq!(code, 0, "seed {seed:#x}: verify-history failed: {err}");
}

#[test]
fn concurrent_claimers_never_get_the_same_id() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = tmp.path().join("reg");
    let (code, _, err) = holdfast(&reg, &["init", "--prefix", "CC", "--width", "5"]);
    assert_eq!(code, 0, "{err}");
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let script = format!(
                "for i in $(seq 20); do {} --json registry --registry {} claim --packet W{w} --count {} || exit 1; done",
                shell_quote(Path::new(bin())),
                shell_quote(&reg),
                1 + w % 3
            );
            Command::new("sh").arg("-c").arg(script).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    let mut taken: Vec<(u64, u64, String)> = Vec::new();
    for (w, child) in workers.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "worker {w}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let claims: Vec<Value> = serde_json::Deserializer::from_str(&text)
            .into_iter()
            .map(|v| v.unwrap())
            .collect();
        assert_eq!(claims.len(), 20, "worker {w}");
        for c in claims {
            let n = |k: &str| c[k].as_str().unwrap()[3..].parse::<u64>().unwrap();
            assert_eq!(c["packet"], format!("W{w}"));
            taken.push((n("first_id"), n("last_id"), format!("W{w}")));
        }
    }
    taken.sort();
    // Disjoint and contiguous from 1: no id issued twice, none skipped.
    let mut next = 1;
    for (first, last, who) in &taken {
        assert_eq!(
            *first, next,
            "{who} got {first}..{last}, expected to start at {next}"
        );
        next = last + 1;
    }
    assert_eq!(next - 1, 20 * (1 + 2 + 3 + 1));
    let (code, _, err) = holdfast(&reg, &["check"]);
    assert_eq!(code, 0, "{err}");
    let log = ok_json(&reg, &["log"]);
    assert_eq!(log.as_array().unwrap().len(), 81);
    let registry: PathBuf = reg.join("objects.json");
    let objects: Value = serde_json::from_slice(&std::fs::read(registry).unwrap()).unwrap();
    assert_eq!(objects.as_array().unwrap().len() as u64, next - 1);
}
