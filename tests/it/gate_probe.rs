//! `holdfast probe` through the real binary: every built-in class fails
//! closed, the harness reports a broken gate as FAIL-OPEN (it can fail), a
//! killed gate as crashed, a slow one as a timeout, and a class whose gate is
//! not in this build as NOT RUN, never as passed.

use std::path::Path;

use crate::support::holdfast;
use predicates::prelude::PredicateBooleanExt;
use serde_json::Value;

/// The pass token, asked of the library like every other caller does.
fn token() -> &'static str {
    holdfast::gate::verdict::pass_token(None)
}

/// An empty spec directory (no user probes, blockers or options).
fn empty_spec() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("gates.toml"), "").unwrap();
    d
}

/// Runs `holdfast probe SPEC --json` with extra arguments; returns the exit
/// code and the report.
fn probe(spec: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = holdfast()
        .arg("probe")
        .arg(spec)
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        code,
        report,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs one built-in class and checks, from the recorded real runs, that
/// every probe failed closed with one of its expected exit codes; returns
/// the report.
fn class_fails_closed(class: &str, min_probes: usize) -> Value {
    let spec = empty_spec();
    let (code, r, err) = probe(spec.path(), &["--only", class]);
    assert_eq!(code, 0, "{class}: {err}\n{r:#}");
    assert_eq!(r["all_fail_closed"], true);
    let probes = r["probes"].as_array().unwrap();
    assert!(
        probes.len() >= min_probes,
        "{class}: only {} probes",
        probes.len()
    );
    for p in probes {
        assert_eq!(p["class"], class);
        assert_eq!(p["outcome"], "fail-closed", "{p:#}");
        assert_eq!(p["fail_closed"], true);
        let a = &p["actual"];
        let exit = a["exit_code"].as_i64().unwrap();
        assert_ne!(exit, 0, "{p:#}");
        let expected: Vec<i64> = p["expected"]["exit_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_i64().unwrap())
            .collect();
        assert!(expected.contains(&exit), "{p:#}");
        assert_eq!(a["token_in_stdout"], false);
        assert_eq!(a["token_in_stderr"], false);
        assert_eq!(a["timed_out"], false);
        assert_eq!(a["signal"], Value::Null);
        let command = p["command"].as_array().unwrap();
        assert!(command.iter().any(|a| a == "holdfast"), "{p:#}");
    }
    for c in r["controls"].as_array().unwrap() {
        assert_eq!(c["ok"], true, "{c:#}");
    }
    assert!(
        !r["controls"].as_array().unwrap().is_empty(),
        "{class}: no control ran"
    );
    let text = serde_json::to_string(&r).unwrap();
    assert!(!text.contains(token()), "the report spells the pass token");
    r
}

/// Every class implemented in this build, each with its own test below.
const IMPLEMENTED: [&str; 26] = [
    "blocker-closed-without-evidence",
    "boundary-matches-nothing",
    "bypass",
    "changed-forbidden-surface",
    "duplicate-json-keys",
    "empty-pattern",
    "extra-artifact",
    "fold-outside-authorized-range",
    "forged-status",
    "huge-or-deep-input",
    "malformed-json",
    "missing-artifact",
    "mix-and-match",
    "old-revision-as-current",
    "path-escape",
    "registry-collision",
    "registry-gap",
    "registry-orphan",
    "registry-overlap",
    "rollback-changed-live-bytes",
    "rollback-plan-incomplete",
    "seal-forgery",
    "stale-closing-evidence",
    "stale-evidence-citation",
    "symlink-out",
    "tampered-artifact",
];

#[test]
fn every_implemented_class_has_a_test_here() {
    let out = holdfast()
        .args(["probe", "--list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut implemented: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["implemented"] == true)
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    implemented.sort();
    assert_eq!(implemented, IMPLEMENTED.map(String::from).to_vec());
}

#[test]
fn tampered_artifact_fails_closed() {
    class_fails_closed("tampered-artifact", 4);
}

#[test]
fn missing_artifact_fails_closed() {
    class_fails_closed("missing-artifact", 4);
}

#[test]
fn extra_artifact_fails_closed() {
    class_fails_closed("extra-artifact", 4);
}

#[test]
fn path_escape_fails_closed() {
    class_fails_closed("path-escape", 6);
}

#[test]
fn symlink_out_fails_closed() {
    class_fails_closed("symlink-out", 4);
}

#[test]
fn mix_and_match_fails_closed() {
    class_fails_closed("mix-and-match", 4);
}

#[test]
fn seal_forgery_fails_closed() {
    class_fails_closed("seal-forgery", 10);
}

#[test]
fn malformed_json_fails_closed() {
    class_fails_closed("malformed-json", 10);
}

#[test]
fn duplicate_json_keys_fail_closed() {
    class_fails_closed("duplicate-json-keys", 5);
}

#[test]
fn huge_or_deep_input_fails_closed_without_crashing() {
    class_fails_closed("huge-or-deep-input", 10);
}

#[test]
fn forged_status_fails_closed() {
    class_fails_closed("forged-status", 10);
}

#[test]
fn blocker_closed_without_evidence_fails_closed() {
    class_fails_closed("blocker-closed-without-evidence", 5);
}

#[test]
fn stale_closing_evidence_fails_closed() {
    class_fails_closed("stale-closing-evidence", 5);
}

#[test]
fn rollback_plan_incomplete_fails_closed() {
    class_fails_closed("rollback-plan-incomplete", 10);
}

#[test]
fn empty_pattern_fails_closed() {
    class_fails_closed("empty-pattern", 8);
}

#[test]
fn bypass_attempts_fail_closed() {
    class_fails_closed("bypass", 12);
}

#[test]
fn changed_forbidden_surface_fails_closed() {
    class_fails_closed("changed-forbidden-surface", 7);
}

#[test]
fn boundary_matching_nothing_fails_closed() {
    class_fails_closed("boundary-matches-nothing", 6);
}

#[test]
fn stale_evidence_citation_fails_closed() {
    class_fails_closed("stale-evidence-citation", 6);
}

/// The probe ids of a report, with their first stderr line and exit code.
fn probe_lines(r: &Value) -> Vec<(String, String, i64)> {
    r["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                p["actual"]["stderr_first_line"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                p["actual"]["exit_code"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// A registry invariant class: every gate it attacks (check --file, import,
/// check, fold, claim) refuses, and check and import name the invariant.
fn registry_invariant_fails_closed(class: &str, word: &str) {
    let r = class_fails_closed(class, 10);
    let lines = probe_lines(&r);
    for gate in [
        "-check-file",
        "-import",
        "-live-check",
        "-live-fold",
        "-live-claim",
    ] {
        assert_eq!(
            lines.iter().filter(|(id, _, _)| id.ends_with(gate)).count(),
            2,
            "{class}: two broken registries given to {gate}"
        );
    }
    for (id, line, code) in &lines {
        if id.ends_with("-check-file") || id.ends_with("-live-check") {
            assert_eq!(*code, 1, "{id}");
            assert!(line.starts_with(&format!("{word}: ")), "{id}: {line}");
        } else {
            assert_eq!(*code, 5, "{id}");
            assert!(line.contains("refused: "), "{id}: {line}");
        }
        if id.ends_with("-import") || id.ends_with("-live-claim") {
            assert!(line.contains(&format!("first: {word}: ")), "{id}: {line}");
        }
    }
}

#[test]
fn registry_collision_fails_closed() {
    registry_invariant_fails_closed("registry-collision", "collision");
}

#[test]
fn registry_orphan_fails_closed() {
    registry_invariant_fails_closed("registry-orphan", "orphan");
}

#[test]
fn registry_gap_fails_closed() {
    registry_invariant_fails_closed("registry-gap", "gap");
}

#[test]
fn registry_overlap_fails_closed() {
    registry_invariant_fails_closed("registry-overlap", "overlap");
}

#[test]
fn fold_outside_authorized_range_fails_closed() {
    let r = class_fails_closed("fold-outside-authorized-range", 17);
    let lines = probe_lines(&r);
    let line = |name: &str| {
        lines
            .iter()
            .find(|(id, _, _)| id == &format!("fold-outside-authorized-range/{name}"))
            .unwrap_or_else(|| panic!("no probe {name}"))
            .clone()
    };
    // The registry itself refuses these ranges.
    for (name, code, phrase) in [
        ("wrong-start", 5, "must start at canonical_max + 1 = 442"),
        ("cuts-staged-claim", 5, "lies only partly inside"),
        ("beyond-staged-claims", 5, "belongs to no staged claim"),
        ("into-canonical-body", 5, "reaches into the canonical body"),
        ("reversed", 2, "start 461 is after end 442"),
        ("beyond-id-width", 2, "beyond width 3"),
    ] {
        let (_, l, c) = line(name);
        assert_eq!(c, code, "{name}: {l}");
        assert!(l.contains(phrase), "{name}: {l}");
    }
    // The range is safe for the registry, but not the authorized one.
    for name in [
        "unauthorized-union",
        "unauthorized-union-ids",
        "unauthorized-dry-run",
    ] {
        let (_, l, c) = line(name);
        assert_eq!(c, 5, "{name}: {l}");
        assert!(
            l.contains("fold 442..466: the authorization")
                && l.contains("names only the registry fold of 442..461"),
            "{name}: {l}"
        );
    }
    let (_, l, _) = line("read-only-authorization");
    assert!(l.contains("authorizes no mutation"), "{l}");
    let controls: Vec<&str> = r["controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(controls, ["registry-fold-authorized", "registry-fold-good"]);
}

#[test]
fn rollback_changed_live_bytes_fails_closed() {
    let r = class_fails_closed("rollback-changed-live-bytes", 5);
    for (id, line, code) in probe_lines(&r) {
        assert_eq!(code, 5, "{id}");
        let why = if id.ends_with("claimed-after-fold") {
            "changed since the fold"
        } else {
            "edited outside holdfast"
        };
        assert!(line.contains(why), "{id}: {line}");
    }
}

#[test]
fn old_revision_as_current_fails_closed() {
    let r = class_fails_closed("old-revision-as-current", 11);
    for (id, line, code) in probe_lines(&r) {
        let name = id.trim_start_matches("old-revision-as-current/");
        if name.ends_with("-check") {
            assert_eq!(code, 1, "{id}");
            assert!(line.starts_with("stale: "), "{id}: {line}");
        } else if name.starts_with("old-") {
            assert!(
                line.contains("are the revision of state")
                    && line.contains("not of the current state 4"),
                "{id}: {line}"
            );
        } else {
            // An earlier fold result: the live registry moved on since.
            assert_eq!(code, 5, "{id}");
            assert!(line.contains("changed since the fold"), "{id}: {line}");
        }
    }
}

#[test]
fn every_class_runs_and_the_whole_harness_passes() {
    // Every built-in class and a user probe: nothing is NOT RUN any more.
    let d = spec_with(&user_probe("[\"false\"]", ""));
    let (code, r, err) = probe(d.path(), &[]);
    assert_eq!(code, 0, "{err}\n{:#}", r["summary"]);
    assert_eq!(r["summary"]["not_run"], 0);
    assert_eq!(r["summary"]["classes"], IMPLEMENTED.len() + 1);
    assert_eq!(r["all_fail_closed"], true);
    let classes: Vec<&str> = r["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let mut want: Vec<&str> = IMPLEMENTED.to_vec();
    want.push("user");
    want.sort();
    assert_eq!(classes, want);
}

/// A stand-in for the holdfast binary: a shell script that runs `script`
/// and otherwise hands every call to the real binary.
fn wrapped_binary(dir: &Path, script: &str) -> std::path::PathBuf {
    let real = assert_cmd::cargo::cargo_bin("holdfast");
    let stub = dir.join("holdfast-stub");
    std::fs::write(
        &stub,
        format!("#!/bin/sh\n{script}\nexec '{}' \"$@\"\n", real.display()),
    )
    .unwrap();
    let mut perm = std::fs::metadata(&stub).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&stub, perm).unwrap();
    stub
}

/// The harness, in-process, attacking `exe` with `class`.
fn harness_on(exe: &Path, class: &str) -> holdfast::probe::ProbeReport {
    let spec = empty_spec();
    let loaded = holdfast::probe::spec::LoadedSpec::load(spec.path()).unwrap();
    holdfast::probe::run(
        &loaded,
        &holdfast::probe::HarnessOptions {
            exe: exe.to_path_buf(),
            only: vec![class.to_string()],
        },
        &holdfast::progress::NoProgress,
    )
    .unwrap()
}

#[test]
fn a_class_whose_gate_is_not_in_this_build_is_not_run_and_fails_the_harness() {
    // A build without `holdfast registry`.
    let d = tempfile::tempdir().unwrap();
    let exe = wrapped_binary(d.path(), "[ \"$1\" = registry ] && exit 2");
    for class in [
        "registry-gap",
        "fold-outside-authorized-range",
        "old-revision-as-current",
    ] {
        let r = harness_on(&exe, class);
        assert!(!r.all_fail_closed, "{class}");
        assert_eq!(r.summary.not_run, 1, "{class}");
        let p = &r.probes[0];
        assert_eq!(p.outcome, holdfast::gate::facts::Outcome::NotRun);
        assert!(!p.fail_closed);
        assert!(
            p.reason.contains("is not available in this build"),
            "{}",
            p.reason
        );
    }
}

#[test]
fn a_registry_gate_that_lets_a_broken_registry_through_is_caught() {
    // A build whose `registry check` passes anything, and one whose
    // rollback "succeeds" without writing: the harness must fail.
    let d = tempfile::tempdir().unwrap();
    let exe = wrapped_binary(
        d.path(),
        "[ \"$1\" = registry ] && [ \"$4\" = check ] && [ \"$5\" != --help ] && exit 0",
    );
    let r = harness_on(&exe, "registry-orphan");
    assert!(!r.all_fail_closed);
    let open: Vec<&str> = r
        .probes
        .iter()
        .filter(|p| p.outcome == holdfast::gate::facts::Outcome::FailOpen)
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(
        open,
        [
            "registry-orphan/claimed-without-record-live-check",
            "registry-orphan/uncovered-record-live-check"
        ]
    );
    // A refusal that changed the registry anyway is not fail-closed either
    // (the good rollback, the control, still works).
    let exe = wrapped_binary(
        d.path(),
        "if [ \"$1\" = registry ] && [ \"$4\" = rollback ]; then case \"$3\" in */cases/*) echo x >> \"$3/registry.md\"; exit 5;; esac; fi",
    );
    let r = harness_on(&exe, "rollback-changed-live-bytes");
    assert!(!r.all_fail_closed);
    assert!(r.probes.iter().all(|p| {
        p.outcome == holdfast::gate::facts::Outcome::Unexpected && p.reason.contains("it changed")
    }));
}

/// A spec directory with the given gates.toml text.
fn spec_with(text: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("gates.toml"), text).unwrap();
    d
}

fn user_probe(command: &str, extra: &str) -> String {
    format!("[[probe]]\nid = \"p\"\ncommand = {command}\n{extra}\n")
}

#[test]
fn a_broken_gate_that_passes_bad_input_is_reported_fail_open() {
    // The test double exits 0 and prints the pass token: the harness must fail.
    let cmd = format!("[\"sh\", \"-c\", \"echo {}; exit 0\"]", token());
    let spec = spec_with(&user_probe(&cmd, ""));
    let (code, r, err) = probe(spec.path(), &["--only", "user"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(r["all_fail_closed"], false);
    let p = &r["probes"][0];
    assert_eq!(p["id"], "user/p");
    assert_eq!(p["outcome"], "fail-open");
    assert_eq!(p["actual"]["token_in_stdout"], true);
    assert_eq!(p["actual"]["exit_code"], 0);
    assert_eq!(r["summary"]["token_leaked"], 1);
    // The text output says FAIL-OPEN and never echoes the token.
    let out = holdfast()
        .args(["probe", "--only", "user"])
        .arg(spec.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAIL-OPEN") && stdout.contains("user/p"),
        "{stdout}"
    );
    assert!(!stdout.contains(token()));
    assert!(String::from_utf8_lossy(&out.stderr).contains("probe harness FAILED"));
    // The recorded command shows the token redacted.
    assert_eq!(p["command"][2], "echo <pass token>; exit 0");
}

#[test]
fn exit_zero_alone_or_a_leak_alone_is_fail_open() {
    let spec = spec_with(&user_probe("[\"true\"]", ""));
    let (code, r, _) = probe(spec.path(), &["--only", "user"]);
    assert_eq!(
        (code, r["probes"][0]["outcome"].as_str()),
        (1, Some("fail-open"))
    );
    let cmd = format!("[\"sh\", \"-c\", \"echo {} >&2; exit 1\"]", token());
    let spec = spec_with(&user_probe(&cmd, ""));
    let (code, r, _) = probe(spec.path(), &["--only", "user"]);
    assert_eq!(code, 1);
    assert_eq!(r["probes"][0]["outcome"], "fail-open");
    assert_eq!(r["probes"][0]["actual"]["token_in_stderr"], true);
}

#[test]
fn a_gate_killed_by_a_signal_is_reported_crashed() {
    let spec = spec_with(&user_probe("[\"sh\", \"-c\", \"kill -9 $$\"]", ""));
    let (code, r, _) = probe(spec.path(), &["--only", "user"]);
    assert_eq!(code, 1);
    let p = &r["probes"][0];
    assert_eq!(p["outcome"], "crashed");
    assert_eq!(p["fail_closed"], false);
    assert_eq!(p["actual"]["signal"], 9);
    assert_eq!(r["summary"]["crashed"], 1);
}

#[test]
fn a_timeout_is_reported_and_counts_closed_only_when_declared() {
    let spec = spec_with(&user_probe("[\"sleep\", \"30\"]", "timeout_seconds = 1"));
    let (code, r, _) = probe(spec.path(), &["--only", "user"]);
    assert_eq!(code, 1);
    let p = &r["probes"][0];
    assert_eq!(p["outcome"], "timeout");
    assert_eq!(p["fail_closed"], false);
    assert_eq!(p["actual"]["timed_out"], true);

    let spec = spec_with(&user_probe(
        "[\"sleep\", \"30\"]",
        "timeout_seconds = 1\ntimeout_is_fail_closed = true",
    ));
    let (code, r, _) = probe(spec.path(), &["--only", "user"]);
    assert_eq!(code, 0);
    let p = &r["probes"][0];
    assert_eq!(p["outcome"], "timeout");
    assert_eq!(p["fail_closed"], true);
}

#[test]
fn a_user_gate_that_refuses_passes_and_inputs_reach_it() {
    let d = spec_with(
        "[[probe]]\nid = \"arg\"\ncommand = [\"./gate.sh\"]\ninput_file = \"bad.json\"\nexit_codes = [3]\n\n\
         [[probe]]\nid = \"stdin\"\ncommand = [\"./gate.sh\"]\ninput_file = \"bad.json\"\ninput_via = \"stdin\"\nexit_codes = [4]\n",
    );
    let gate = d.path().join("gate.sh");
    std::fs::write(
        &gate,
        "#!/bin/sh\nif [ -n \"$1\" ]; then grep -q BAD \"$1\" && exit 3; exit 0; fi\ngrep -q BAD && exit 4\nexit 0\n",
    )
    .unwrap();
    let mut perm = std::fs::metadata(&gate).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&gate, perm).unwrap();
    std::fs::write(d.path().join("bad.json"), "{\"BAD\": 1}\n").unwrap();
    let (code, r, err) = probe(d.path(), &["--only", "user"]);
    assert_eq!(code, 0, "{err}\n{r:#}");
    assert_eq!(r["probes"][0]["id"], "user/arg");
    assert_eq!(
        r["probes"][0]["command"],
        serde_json::json!(["./gate.sh", "bad.json"])
    );
    assert_eq!(r["probes"][1]["stdin"], "file bad.json (11 bytes)");
    // A wrong exit code is not the expected refusal.
    let text = std::fs::read_to_string(d.path().join("gates.toml")).unwrap();
    std::fs::write(d.path().join("gates.toml"), text.replace("[3]", "[1]")).unwrap();
    let (code, r, _) = probe(d.path(), &["--only", "user"]);
    assert_eq!(code, 1);
    assert_eq!(r["probes"][0]["outcome"], "unexpected");
}

#[test]
fn a_gate_that_cannot_be_run_is_not_run_never_passed() {
    let spec = spec_with(&user_probe("[\"./no-such-gate\"]", ""));
    let (code, r, _) = probe(spec.path(), &["--only", "user"]);
    assert_eq!(code, 1);
    assert_eq!(r["probes"][0]["outcome"], "not-run");
    let spec = spec_with(&user_probe(
        "[\"sh\", \"-c\", \"no-such-command-anywhere\"]",
        "",
    ));
    let (_, r, _) = probe(spec.path(), &["--only", "user"]);
    assert_eq!(r["probes"][0]["outcome"], "not-run");
    let spec = spec_with(&user_probe("[\"true\"]", "input_file = \"missing.json\""));
    let (code, r, _) = probe(spec.path(), &["--only", "user"]);
    assert_eq!(code, 1);
    assert_eq!(r["probes"][0]["outcome"], "not-run");
    assert!(
        r["probes"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("missing.json")
    );
}

#[test]
fn a_custom_token_is_the_one_scanned_for() {
    let text = |echo: &str| {
        format!(
            "[probes]\npass_token = \"GO_LIVE_APPROVED\"\n\n{}",
            user_probe(&format!("[\"sh\", \"-c\", \"echo {echo}; exit 1\"]"), "")
        )
    };
    let spec = spec_with(&text("GO_LIVE_APPROVED"));
    let (code, r, _) = probe(spec.path(), &["--only", "user"]);
    assert_eq!(code, 1);
    assert_eq!(r["probes"][0]["outcome"], "fail-open");
    assert_eq!(r["custom_pass_token"], true);
    let spec = spec_with(&text("SOMETHING_ELSE"));
    let (code, _, _) = probe(spec.path(), &["--only", "user"]);
    assert_eq!(code, 0);
    // The built-in fixtures follow the configured token.
    let spec = spec_with("[probes]\npass_token = \"GO_LIVE_APPROVED\"\n");
    let (code, r, err) = probe(spec.path(), &["--only", "forged-status"]);
    assert_eq!(code, 0, "{err}\n{r:#}");
}

#[test]
fn the_report_is_written_and_reproducible() {
    let spec = spec_with(&user_probe("[\"false\"]", ""));
    let out = tempfile::tempdir().unwrap();
    let mut bytes = Vec::new();
    for i in 0..2 {
        let dir = out.path().join(format!("r{i}"));
        holdfast()
            .arg("probe")
            .arg(spec.path())
            .args(["--only", "user", "--only", "tampered-artifact", "--out"])
            .arg(&dir)
            .assert()
            .success();
        bytes.push(std::fs::read(dir.join("production-bad-input-design.json")).unwrap());
    }
    assert_eq!(bytes[0], bytes[1]);
    let text = String::from_utf8(bytes[0].clone()).unwrap();
    assert!(text.ends_with("}\n") && !text.contains('\r'));
    assert!(
        !text.contains(out.path().to_str().unwrap()),
        "machine paths leak into the report"
    );
    let r: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["summary"]["classes"], 2);
    assert_eq!(r["all_fail_closed"], true);
}

#[test]
fn classes_in_gates_toml_select_what_runs_and_only_narrows_it() {
    let spec = spec_with(
        "[probes]\nclasses = [\"tampered-artifact\", \"missing-artifact\", \"user\"]\n\n[[probe]]\nid = \"p\"\ncommand = [\"false\"]\n",
    );
    let (code, r, err) = probe(spec.path(), &[]);
    assert_eq!(code, 0, "{err}");
    let classes: Vec<&str> = r["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(classes, ["missing-artifact", "tampered-artifact", "user"]);
    let (code, r, _) = probe(spec.path(), &["--only", "tampered-artifact"]);
    assert_eq!(code, 0);
    assert_eq!(r["summary"]["classes"], 1);
    // --only may only narrow the configured selection.
    holdfast()
        .arg("probe")
        .arg(spec.path())
        .args(["--only", "bypass"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "--only bypass: not selected by [probes] classes in gates.toml",
        ));
}

#[test]
fn a_bad_class_selection_is_malformed_and_names_its_line() {
    for (classes, want) in [
        (
            "[\n  \"tampered-artifact\",\n  \"nope\",\n]",
            "gates.toml: line 4, column 3: probes.classes[1]: \"nope\" is not a probe class",
        ),
        (
            "[]",
            "gates.toml: line 2, column 11: probes.classes: an empty selection never passes",
        ),
        (
            "[\"user\"]",
            "gates.toml: line 2, column 12: probes.classes[0]: \"user\" selects the spec's [[probe]] entries, and it has none",
        ),
        (
            "\"tampered-artifact\"",
            "gates.toml: line 2, column 11: invalid type: string",
        ),
    ] {
        let spec = spec_with(&format!("[probes]\nclasses = {classes}\n"));
        let out = holdfast().arg("probe").arg(spec.path()).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{classes}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "expected {want:?} in {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn bad_specs_and_selections_fail_closed() {
    let spec = spec_with("force = true\n");
    holdfast()
        .arg("probe")
        .arg(spec.path())
        .assert()
        .code(3)
        .stderr(
            predicates::str::contains("gates.toml: line 1").and(predicates::str::contains("force")),
        );
    let spec = empty_spec();
    holdfast()
        .arg("probe")
        .arg(spec.path())
        .args(["--only", "nope"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "--only nope: matches no probe class",
        ));
    holdfast()
        .arg("probe")
        .arg(spec.path())
        .args(["--only", "user"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no [[probe]]"));
    holdfast()
        .arg("probe")
        .arg(spec.path().join("missing"))
        .assert()
        .code(4);
    holdfast().args(["probe"]).assert().code(2);
}

// ---------- probe --rerun ----------

/// Records a design with `holdfast probe SPEC ARGS --out DIR`; returns its path.
fn record(spec: &Path, args: &[&str], dir: &Path) -> std::path::PathBuf {
    let out = holdfast()
        .arg("probe")
        .arg(spec)
        .args(args)
        .arg("--out")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("production-bad-input-design.json")
}

/// Runs `holdfast probe --rerun DESIGN ARGS --json` in `cwd`.
fn rerun(cwd: &Path, design: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = holdfast()
        .current_dir(cwd)
        .arg("probe")
        .arg("--rerun")
        .arg(design)
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every file under `dir` with its bytes.
fn files(dir: &Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).unwrap()))
        .collect()
}

/// Recomputes a design's class counts and summary after its probes were
/// edited, as a careful forger would, so only the re-run can tell.
fn restamp(v: &mut Value) {
    let probes = v["probes"].as_array().unwrap().clone();
    for c in v["classes"].as_array_mut().unwrap() {
        let mine: Vec<&Value> = probes.iter().filter(|p| p["class"] == c["id"]).collect();
        c["probes"] = mine.len().into();
        c["fail_closed"] = mine
            .iter()
            .filter(|p| p["fail_closed"] == true)
            .count()
            .into();
    }
    v["summary"]["probes"] = probes.len().into();
    v["summary"]["fail_closed"] = probes
        .iter()
        .filter(|p| p["fail_closed"] == true)
        .count()
        .into();
}

fn write_json(p: &Path, v: &Value) {
    std::fs::write(p, holdfast::canonical::value_to_bytes(v)).unwrap();
}

#[test]
fn a_recorded_design_reruns_offline_from_inside_the_packet() {
    let spec = empty_spec();
    let work = tempfile::tempdir().unwrap();
    let design = record(
        spec.path(),
        &["--only", "tampered-artifact", "--only", "registry-gap"],
        &work.path().join("packet"),
    );
    // The spec is gone: built-in classes need nothing but the binary.
    drop(spec);
    let packet = work.path().join("packet");
    let before = files(work.path());
    let (code, r, err) = rerun(&packet, Path::new("production-bad-input-design.json"), &[]);
    assert_eq!(code, 0, "{err}\n{:#}", r["problems"]);
    assert_eq!(r["passed"], true);
    assert_eq!(r["problems"], serde_json::json!([]));
    assert_eq!(
        r["classes"],
        serde_json::json!(["registry-gap", "tampered-artifact"])
    );
    assert_eq!(r["byte_identical"], true, "same build, same bytes");
    assert_eq!(files(work.path()), before, "a re-run writes nothing");
    // --out writes the re-run's report, never over the design itself.
    let (code, _, _) = rerun(&packet, &design, &["--out", "again"]);
    assert_eq!(code, 0);
    assert_eq!(
        std::fs::read(packet.join("again/production-bad-input-design.json")).unwrap(),
        std::fs::read(&design).unwrap()
    );
    let (code, _, err) = rerun(&packet, &design, &["--out", "."]);
    assert_eq!(code, 2);
    assert!(
        err.contains("would overwrite the design being re-run"),
        "{err}"
    );
    // The text output says it passed.
    holdfast()
        .current_dir(&packet)
        .args(["probe", "--rerun", "production-bad-input-design.json"])
        .assert()
        .success()
        .stdout(predicates::str::contains("re-run: passed"));
}

#[test]
fn a_design_with_a_probe_added_or_dropped_fails_naming_it() {
    let spec = empty_spec();
    let work = tempfile::tempdir().unwrap();
    let design = record(spec.path(), &["--only", "tampered-artifact"], work.path());
    let recorded: Value = serde_json::from_slice(&std::fs::read(&design).unwrap()).unwrap();

    let mut added = recorded.clone();
    let mut fake = added["probes"][0].clone();
    fake["id"] = "tampered-artifact/zz-fake-probe".into();
    added["probes"].as_array_mut().unwrap().push(fake);
    restamp(&mut added);
    let p = work.path().join("added.json");
    write_json(&p, &added);
    let (code, r, err) = rerun(work.path(), &p, &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(r["passed"], false);
    assert_eq!(
        r["missing"],
        serde_json::json!(["tampered-artifact/zz-fake-probe"])
    );
    assert!(
        err.contains("tampered-artifact/zz-fake-probe: recorded, but not re-run"),
        "{err}"
    );

    let mut dropped = recorded.clone();
    let gone = dropped["probes"][1]["id"].as_str().unwrap().to_string();
    dropped["probes"].as_array_mut().unwrap().remove(1);
    restamp(&mut dropped);
    let p = work.path().join("dropped.json");
    write_json(&p, &dropped);
    let (code, r, err) = rerun(work.path(), &p, &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(r["unrecorded"], serde_json::json!([gone]));
    assert!(
        err.contains(&format!("{gone}: re-run, but not recorded")),
        "{err}"
    );
}

#[test]
fn a_design_with_user_probes_needs_its_spec() {
    let spec = spec_with(&user_probe("[\"false\"]", ""));
    let work = tempfile::tempdir().unwrap();
    let design = record(
        spec.path(),
        &["--only", "user", "--only", "missing-artifact"],
        work.path(),
    );
    let (code, _, err) = rerun(work.path(), &design, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("records user probes (user/p, ...)") && err.contains("--spec GATES"),
        "{err}"
    );
    let spec_arg = spec.path().to_str().unwrap();
    let (code, r, err) = rerun(work.path(), &design, &["--spec", spec_arg]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        r["classes"],
        serde_json::json!(["missing-artifact", "user"])
    );
    // --spec alone, without --rerun, is a usage error.
    holdfast()
        .args(["probe", "--spec", spec_arg])
        .assert()
        .code(2);
    // A spec whose user probe no longer refuses: the re-run fails.
    std::fs::write(spec.path().join("gates.toml"), user_probe("[\"true\"]", "")).unwrap();
    let (code, r, _) = rerun(work.path(), &design, &["--spec", spec_arg]);
    assert_eq!(code, 1);
    assert!(
        r["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("user/p: FAIL-OPEN"),
        "{:#}",
        r["problems"]
    );
    // A design recorded with a custom token needs the spec that names it.
    let custom = spec_with("[probes]\npass_token = \"GO_LIVE_APPROVED\"\n");
    let d2 = work.path().join("custom");
    let design = record(custom.path(), &["--only", "tampered-artifact"], &d2);
    let (code, _, err) = rerun(work.path(), &design, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("custom pass token") && err.contains("--spec"),
        "{err}"
    );
    let (code, _, err) = rerun(
        work.path(),
        &design,
        &["--spec", custom.path().to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_tampered_or_malformed_design_is_refused() {
    let spec = empty_spec();
    let work = tempfile::tempdir().unwrap();
    let design = record(spec.path(), &["--only", "tampered-artifact"], work.path());
    let text = std::fs::read_to_string(&design).unwrap();
    let recorded: Value = serde_json::from_str(&text).unwrap();
    let mut cases: Vec<(&str, String, &str)> = Vec::new();
    // A probe dropped without fixing the counts.
    let mut v = recorded.clone();
    v["probes"].as_array_mut().unwrap().remove(0);
    cases.push((
        "dropped",
        String::from_utf8(holdfast::canonical::value_to_bytes(&v)).unwrap(),
        "disagree with its probes",
    ));
    // A failing probe relabelled as passing.
    let mut v = recorded.clone();
    v["probes"][0]["outcome"] = "fail-open".into();
    cases.push((
        "relabelled",
        String::from_utf8(holdfast::canonical::value_to_bytes(&v)).unwrap(),
        "fail_closed is true, but its outcome gives false",
    ));
    // A probe moved to a class that is not listed.
    let mut v = recorded.clone();
    v["probes"][0]["class"] = "bypass".into();
    cases.push((
        "reclassed",
        String::from_utf8(holdfast::canonical::value_to_bytes(&v)).unwrap(),
        "is not <class>/<name> of class bypass",
    ));
    cases.push((
        "duplicate-key",
        text.replacen("{\n", "{\n  \"all_fail_closed\": false,\n", 1),
        "duplicate key",
    ));
    cases.push((
        "truncated",
        text[..text.len() / 2].to_string(),
        "invalid JSON",
    ));
    cases.push((
        "unknown-key",
        text.replacen("{\n", "{\n  \"verified\": true,\n", 1),
        "unknown field",
    ));
    cases.push((
        "token",
        text.replacen("\"exit 1\"", &format!("\"{}\"", token()), 1),
        "contains the pass token",
    ));
    for (name, bytes, phrase) in cases {
        let p = work.path().join(format!("{name}.json"));
        std::fs::write(&p, &bytes).unwrap();
        let (code, _, err) = rerun(work.path(), &p, &[]);
        assert_eq!(code, 3, "{name}: {err}");
        assert!(err.contains(phrase), "{name}: {phrase:?} not in {err}");
        assert!(err.contains(&format!("{name}.json")), "{name}: {err}");
    }
    let (code, _, _) = rerun(work.path(), &work.path().join("missing.json"), &[]);
    assert_eq!(code, 4);
}

#[test]
fn a_recorded_failure_never_reruns_to_a_pass() {
    let spec = spec_with(&user_probe("[\"true\"]", ""));
    let work = tempfile::tempdir().unwrap();
    let design = record(spec.path(), &["--only", "user"], work.path());
    // The gate is fixed afterwards, but the packet recorded a failure.
    std::fs::write(
        spec.path().join("gates.toml"),
        user_probe("[\"false\"]", ""),
    )
    .unwrap();
    let (code, r, _) = rerun(
        work.path(),
        &design,
        &["--spec", spec.path().to_str().unwrap()],
    );
    assert_eq!(code, 1);
    assert!(
        r["problems"][0]
            .as_str()
            .unwrap()
            .contains("the recorded design did not pass"),
        "{:#}",
        r["problems"]
    );
}

#[test]
fn a_design_with_user_probes_reruns_them_only_with_their_spec() {
    let spec = spec_with(&user_probe("[\"false\"]", ""));
    let work = tempfile::tempdir().unwrap();
    let design = record(
        spec.path(),
        &["--only", "user", "--only", "tampered-artifact"],
        work.path(),
    );
    // `probe --rerun` without the spec refuses: it cannot run the user's gate.
    let (code, _, err) = rerun(work.path(), &design, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("give the spec that declares them"), "{err}");
    // With it, every class is re-run, the user probe included.
    let gates = spec.path().join("gates.toml");
    let (code, r, err) = rerun(work.path(), &design, &["--spec", gates.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(r["not_rerun"], serde_json::json!([]));
    assert!(
        r["report"]["probes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "user/p")
    );
    // As `verify --rerun` asks: the built-in classes re-run, the user probe
    // named as recorded, and a recorded design that did not pass still fails.
    let opts = |as_recorded| holdfast::probe::RerunOptions {
        exe: assert_cmd::cargo::cargo_bin("holdfast"),
        spec: None,
        user_probes_as_recorded: as_recorded,
    };
    let quiet = holdfast::progress::NoProgress;
    let r = holdfast::probe::rerun(&design, &opts(true), &quiet).unwrap();
    assert!(r.passed, "{:?}", r.problems);
    assert_eq!(r.not_rerun, ["user/p"]);
    assert!(r.report.probes.iter().all(|p| p.class != "user"));
    assert!(
        r.report
            .probes
            .iter()
            .any(|p| p.class == "tampered-artifact")
    );
    let mut failed: Value = serde_json::from_slice(&std::fs::read(&design).unwrap()).unwrap();
    for p in failed["probes"].as_array_mut().unwrap() {
        if p["class"] == "user" {
            p["fail_closed"] = false.into();
            p["outcome"] = "fail-open".into();
        }
    }
    restamp(&mut failed);
    for c in failed["classes"].as_array_mut().unwrap() {
        if c["id"] == "user" {
            c["result"] = "fail-open".into();
        }
    }
    failed["summary"]["fail_open"] = 1.into();
    failed["all_fail_closed"] = false.into();
    let forged = work.path().join("failed.json");
    write_json(&forged, &failed);
    let r = holdfast::probe::rerun(&forged, &opts(true), &quiet).unwrap();
    assert!(!r.passed, "a recorded fail-open user probe passed a re-run");
    assert!(
        r.problems.iter().any(|p| p.contains("did not pass")),
        "{:?}",
        r.problems
    );
}
