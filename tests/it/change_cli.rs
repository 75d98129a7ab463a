//! Governed changes through the real binary on real directories: a change
//! is rehearsed with its rollback on a staging copy, run between the
//! snapshots, proven inside its declared change set, and rolled back when
//! it fails. Each test is an attack or a failure a change can bring, and
//! checks the real surfaces byte for byte afterwards.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::holdfast;
use serde_json::Value;

const APP: &str = "[database]\nhost = \"db.internal\"\npool_size = 10\n";
const CHANGE_OK: &str = "set -eu\nf=\"$HOLDFAST_ROOT_SERVICE_CONFIG/app.toml\"\nsed 's/pool_size = 10/pool_size = 20/' \"$f\" > \"$f.new\"\nmv \"$f.new\" \"$f\"\necho changed\n";
const ROLLBACK_OK: &str = "set -eu\nf=\"$HOLDFAST_ROOT_SERVICE_CONFIG/app.toml\"\nsed 's/pool_size = 20/pool_size = 10/' \"$f\" > \"$f.new\"\nmv \"$f.new\" \"$f\"\necho restored\n";

/// A spec whose surfaces are real directories inside it (no working copies):
/// `config/` (app.toml, logging.toml; the change may change app.toml) and
/// `secrets/`, both production.
fn spec(change: &str, rollback: &str, timeout: u64) -> (tempfile::TempDir, PathBuf) {
    spec_with(change, rollback, timeout, true)
}

fn spec_with(
    change: &str,
    rollback: &str,
    timeout: u64,
    production_mutation: bool,
) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("spec");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/config-change");
    for sub in ["config", "secrets", "source", "registry"] {
        fs::create_dir_all(d.join(sub)).unwrap();
    }
    fs::write(d.join("config/app.toml"), APP).unwrap();
    fs::write(d.join("config/logging.toml"), "level = \"info\"\n").unwrap();
    fs::write(d.join("secrets/db-password.txt"), "not-a-password\n").unwrap();
    fs::write(d.join("source/README.md"), "surfaces of the test service\n").unwrap();
    fs::write(d.join("change.sh"), change).unwrap();
    fs::write(d.join("rollback.sh"), rollback).unwrap();
    fs::copy(
        example.join("registry/registry-import.json"),
        d.join("registry/registry-import.json"),
    )
    .unwrap();
    fs::copy(
        example.join("production-rollback-rehearsal-plan.md"),
        d.join("production-rollback-rehearsal-plan.md"),
    )
    .unwrap();
    fs::write(
        d.join("gates.toml"),
        "[probes]\ntimeout_seconds = 60\nclasses = [\"tampered-artifact\"]\n",
    )
    .unwrap();
    fs::write(
        d.join("packet.toml"),
        format!(
            r#"[packet]
macro = "T_CHANGE"
status_prefix = "T_CHANGE"
title = "test change"
date = "2026-07-01"

[authorization]
text = "raise pool_size in app.toml"
scope = "production"
[[authorization.mutations]]
kind = "change"
id = "raise"
argv = ["sh", "change.sh"]
rollback = ["sh", "rollback.sh"]
timeout_seconds = {timeout}
[authorization.mutations.may_change]
service-config = ["app.toml"]

[flags]
production_mutation = {production_mutation}
real_run_cutover = false
live_system_contact = "read-write"

[run]
change = "raise"

[registry]
import = "registry/registry-import.json"

[source]
root = "source"
"#
        ),
    )
    .unwrap();
    fs::write(
        d.join("surfaces.toml"),
        r#"[[surface]]
id = "service-config"
table = "production"
name = "config"
kind = "config"
status = "known"
risk = "high"
gate = "governed change"
[[surface.evidence]]
path = "README.md"
[surface.snapshot]
method = "files"
root = "config"

[[surface]]
id = "secrets"
table = "production"
name = "secrets"
kind = "secrets"
status = "known"
risk = "critical"
gate = "security"
[[surface.evidence]]
path = "README.md"
[surface.snapshot]
method = "files"
root = "secrets"

[[boundary]]
id = "config-only-app"
title = "NO config change but app.toml"
surfaces = ["service-config"]

[[boundary]]
id = "no-secrets-change"
title = "NO secrets change"
surfaces = ["secrets"]
"#,
    )
    .unwrap();
    (t, d)
}

/// Every file under the spec's surfaces, with its bytes.
fn real(d: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    for root in ["config", "secrets"] {
        for e in walkdir::WalkDir::new(d.join(root)) {
            let e = e.unwrap();
            if e.file_type().is_file() {
                let rel = e.path().strip_prefix(d).unwrap().display().to_string();
                m.insert(rel, fs::read(e.path()).unwrap());
            }
        }
    }
    m
}

struct Ran {
    code: Option<i32>,
    stderr: String,
    took: Duration,
    packet: PathBuf,
}

fn run(d: &Path, agent: &[&str]) -> Ran {
    let packet = d.parent().unwrap().join("packet");
    let started = Instant::now();
    let mut cmd = holdfast();
    cmd.arg("run").arg(d).arg("--out").arg(&packet);
    if !agent.is_empty() {
        cmd.arg("--").args(agent);
    }
    let out = cmd.output().unwrap();
    Ran {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
        packet,
    }
}

fn json(p: &Path, name: &str) -> Value {
    serde_json::from_slice(&fs::read(p.join(name)).unwrap()).unwrap()
}

fn status_of(packet: &Path, surface: &str) -> String {
    let proof = json(packet, "forbidden-surface-proof.json");
    proof["surfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["surface"] == surface)
        .unwrap()["status"]
        .as_str()
        .unwrap()
        .to_string()
}

fn verify_rerun_ok(packet: &Path) {
    let out = holdfast()
        .args(["verify", "--rerun"])
        .arg(packet)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn reseal(p: &Path) {
    holdfast()
        .args(["seal", "--force"])
        .arg(p)
        .assert()
        .success();
}

fn rerun_refuses(p: &Path, needle: &str) {
    let out = holdfast()
        .args(["verify", "--rerun"])
        .arg(p)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("verified"));
    assert!(stderr.contains(needle), "{needle}: {stderr}");
}

fn edit_json(p: &Path, name: &str, edit: impl FnOnce(&mut Value)) {
    let mut v = json(p, name);
    edit(&mut v);
    fs::write(p.join(name), holdfast::canonical::value_to_bytes(&v)).unwrap();
}

#[test]
fn a_matched_change_is_ready_proven_inside_its_set_and_re_derives() {
    let (_t, d) = spec(CHANGE_OK, ROLLBACK_OK, 30);
    let before = real(&d);
    let r = run(&d, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        status_of(&r.packet, "service-config"),
        "AUTHORIZED_CHANGE_MATCHED"
    );
    assert_eq!(status_of(&r.packet, "secrets"), "UNTOUCHED");
    let proof = json(&r.packet, "forbidden-surface-proof.json");
    let cfg = proof["surfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["surface"] == "service-config")
        .unwrap()
        .clone();
    assert_eq!(cfg["changed_parts"], serde_json::json!(["app.toml"]));
    let result = json(&r.packet, "change-result.json");
    assert_eq!(result["rehearsal"]["passed"], true);
    assert_eq!(
        result["rehearsal"]["copied"],
        serde_json::json!(["service-config", "secrets"])
    );
    assert_eq!(result["performed"], true);
    assert_eq!(result["real"]["succeeded"], true);
    assert_eq!(result["production_mutation"], true);
    // Live contact is derived from what the change touched on the real surfaces.
    assert_eq!(
        result["touched_real"],
        serde_json::json!(["service-config:app.toml"])
    );
    assert_eq!(
        json(&r.packet, "manifest.json")["flags"]["live_system_contact"],
        "read-write"
    );
    let record = json(&r.packet, "change-record.json");
    assert_eq!(record["real"][0]["exit_code"], 0);
    assert_eq!(record["real"][0]["stdout"]["text"], "changed\n");
    assert_eq!(
        record["real"][0]["stdout"]["sha256"],
        holdfast::digest::sha256_hex(b"changed\n")
    );
    // The change ran on the real config, and only there.
    let after = real(&d);
    assert_eq!(
        after["config/app.toml"],
        APP.replace("pool_size = 10", "pool_size = 20").into_bytes()
    );
    assert_eq!(after["config/logging.toml"], before["config/logging.toml"]);
    assert_eq!(
        after["secrets/db-password.txt"],
        before["secrets/db-password.txt"]
    );
    verify_rerun_ok(&r.packet);
}

fn assert_stopped_at_rehearsal(
    d: &Path,
    before: &BTreeMap<String, Vec<u8>>,
    r: &Ran,
    needle: &str,
) {
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("FAILED"), "{}", r.stderr);
    assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
    let result = json(&r.packet, "change-result.json");
    assert_eq!(result["rehearsal"]["passed"], false);
    assert_eq!(result["performed"], false);
    assert_eq!(
        json(&r.packet, "change-record.json")["real"],
        serde_json::json!([])
    );
    assert!(!r.packet.join("surface-snapshot-rolled-back.json").exists());
    assert_eq!(&real(d), before, "the real surfaces changed");
    for s in ["service-config", "secrets"] {
        assert_eq!(status_of(&r.packet, s), "UNTOUCHED");
    }
    verify_rerun_ok(&r.packet);
}

#[test]
fn a_change_outside_its_set_is_stopped_at_the_rehearsal() {
    let change = format!(
        "{CHANGE_OK}echo 'level = \"debug\"' > \"$HOLDFAST_ROOT_SERVICE_CONFIG/logging.toml\"\n"
    );
    let (_t, d) = spec(&change, ROLLBACK_OK, 30);
    let before = real(&d);
    let r = run(&d, &[]);
    assert_stopped_at_rehearsal(
        &d,
        &before,
        &r,
        "outside its declared set: service-config:logging.toml",
    );
}

#[test]
fn a_change_of_a_forbidden_surface_is_stopped_at_the_rehearsal() {
    let change = format!("{CHANGE_OK}echo leaked > \"$HOLDFAST_ROOT_SECRETS/db-password.txt\"\n");
    let (_t, d) = spec(&change, ROLLBACK_OK, 30);
    let before = real(&d);
    let r = run(&d, &[]);
    assert_stopped_at_rehearsal(&d, &before, &r, "secrets:db-password.txt");
}

#[test]
fn a_rehearsal_that_writes_the_real_system_stops_the_real_change() {
    // The command ignores HOLDFAST_ROOT_*: during the rehearsal it writes
    // the real secrets (relative to the spec directory it runs in).
    let change = format!(
        "{CHANGE_OK}[ \"$HOLDFAST_PHASE\" = rehearsal-change ] && echo x >> secrets/db-password.txt\ntrue\n"
    );
    let (_t, d) = spec(&change, ROLLBACK_OK, 30);
    let r = run(&d, &[]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("the real surfaces changed during the rehearsal"),
        "{}",
        r.stderr
    );
    let result = json(&r.packet, "change-result.json");
    assert_eq!(
        result["rehearsal"]["real_touched"],
        serde_json::json!(["secrets:db-password.txt"])
    );
    assert_eq!(result["performed"], false);
    // The real change itself never ran: app.toml is as it was.
    assert_eq!(real(&d)["config/app.toml"], APP.as_bytes());
}

#[test]
fn a_rollback_that_is_not_exact_fails_the_rehearsal() {
    let rollback = "echo 'forgot to restore app.toml'\n";
    let (_t, d) = spec(CHANGE_OK, rollback, 30);
    let before = real(&d);
    let r = run(&d, &[]);
    assert_stopped_at_rehearsal(
        &d,
        &before,
        &r,
        "after the rollback the copy differs from the before snapshot: service-config:app.toml",
    );
}

#[test]
fn a_real_change_that_exits_non_zero_is_rolled_back_exactly() {
    let change = format!("{CHANGE_OK}[ \"$HOLDFAST_PHASE\" = change ] && exit 3\ntrue\n");
    let (_t, d) = spec(&change, ROLLBACK_OK, 30);
    let before = real(&d);
    let r = run(&d, &[]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("exited with code 3"), "{}", r.stderr);
    assert!(r.stderr.contains("ROLLED_BACK_EXACT"), "{}", r.stderr);
    let result = json(&r.packet, "change-result.json");
    assert_eq!(result["rollback_result"]["status"], "ROLLED_BACK_EXACT");
    assert_eq!(
        real(&d),
        before,
        "the rollback did not restore the real surfaces"
    );
    assert!(r.packet.join("surface-snapshot-rolled-back.json").exists());
    verify_rerun_ok(&r.packet);
}

#[test]
fn a_real_change_outside_its_set_fails_and_a_partial_rollback_says_what_differs() {
    let change = format!(
        "{CHANGE_OK}[ \"$HOLDFAST_PHASE\" = change ] && echo 'level = \"debug\"' > \"$HOLDFAST_ROOT_SERVICE_CONFIG/logging.toml\"\ntrue\n"
    );
    let (_t, d) = spec(&change, ROLLBACK_OK, 30);
    let r = run(&d, &[]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert_eq!(
        status_of(&r.packet, "service-config"),
        "AUTHORIZED_CHANGE_OUTSIDE_SCOPE"
    );
    assert_eq!(status_of(&r.packet, "secrets"), "UNTOUCHED");
    let result = json(&r.packet, "change-result.json");
    assert_eq!(
        result["real"]["outside"],
        serde_json::json!(["service-config:logging.toml"])
    );
    assert_eq!(result["rollback_result"]["status"], "ROLLBACK_NOT_EXACT");
    assert_eq!(
        result["rollback_result"]["differs"],
        serde_json::json!(["service-config:logging.toml"])
    );
    assert!(r.stderr.contains("ROLLBACK_NOT_EXACT"), "{}", r.stderr);
    verify_rerun_ok(&r.packet);

    // A forger turns the failed rollback into an exact one and reseals.
    edit_json(&r.packet, "change-result.json", |v| {
        v["rollback_result"]["status"] = "ROLLED_BACK_EXACT".into();
        v["rollback_result"]["differs"] = serde_json::json!([]);
    });
    reseal(&r.packet);
    rerun_refuses(&r.packet, "change-result.json");
}

#[test]
fn a_real_change_past_its_deadline_with_an_escaped_grandchild_is_killed_in_time() {
    // In the real phase the command starts a grandchild in its own session
    // (out of reach of the group kill) that holds stdout, then hangs.
    let change = format!(
        "{CHANGE_OK}if [ \"$HOLDFAST_PHASE\" = change ]; then setsid sh -c 'echo $$ > \"$0\"; exec sleep 60' \"$PWD/../escaped.pid\" & sleep 60; fi\n"
    );
    let (t, d) = spec(&change, ROLLBACK_OK, 2);
    let before = real(&d);
    let baseline = {
        let (_t2, d2) = spec(CHANGE_OK, ROLLBACK_OK, 2);
        run(&d2, &[]).took
    };
    let r = run(&d, &[]);
    // End the escaped grandchild (we started it; its pid is in the file).
    let pidfile = t.path().join("escaped.pid");
    let mut tries = 0;
    while !pidfile.exists() && tries < 50 {
        std::thread::sleep(Duration::from_millis(50));
        tries += 1;
    }
    if let Ok(pid) = fs::read_to_string(&pidfile) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", pid.trim())])
            .status();
    }
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("ran past its deadline"), "{}", r.stderr);
    // The deadline (2 s) and a small bound over a run whose change is instant.
    assert!(
        r.took < baseline + Duration::from_secs(2) + Duration::from_secs(5),
        "took {:?}, baseline {:?}",
        r.took,
        baseline
    );
    let record = json(&r.packet, "change-record.json");
    assert_eq!(record["real"][0]["timed_out"], true);
    assert_eq!(
        json(&r.packet, "change-result.json")["rollback_result"]["status"],
        "ROLLED_BACK_EXACT"
    );
    assert_eq!(real(&d), before);
}

#[test]
fn a_command_that_exits_but_leaves_an_escaped_process_on_its_output_fails() {
    let change = format!(
        "{CHANGE_OK}if [ \"$HOLDFAST_PHASE\" = change ]; then setsid sh -c 'echo $$ > \"$0\"; exec sleep 60' \"$PWD/../escaped.pid\" & while [ ! -s ../escaped.pid ]; do sleep 0.05; done; fi\n"
    );
    let (t, d) = spec(&change, ROLLBACK_OK, 20);
    let r = run(&d, &[]);
    if let Ok(pid) = fs::read_to_string(t.path().join("escaped.pid")) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", pid.trim())])
            .status();
    }
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("escaped the group"), "{}", r.stderr);
    assert!(r.took < Duration::from_secs(20), "{:?}", r.took);
    assert_eq!(
        json(&r.packet, "change-record.json")["real"][0]["escaped"],
        true
    );
}

#[test]
fn an_agent_argv_runs_only_if_it_is_exactly_the_authorized_one() {
    let marker = "touch ../ran-it\n";
    let (t, d) = spec(&format!("{marker}{CHANGE_OK}"), ROLLBACK_OK, 30);
    let before = real(&d);
    for argv in [
        vec!["sh", "change.sh", "--extra"],
        vec!["sh", "-c", "sh change.sh"],
        vec!["sh", "rollback.sh"],
        vec!["bash", "change.sh"],
    ] {
        let r = run(&d, &argv);
        assert_eq!(r.code, Some(5), "{argv:?}: {}", r.stderr);
        assert!(r.stderr.contains("nothing run"), "{}", r.stderr);
        assert!(!r.packet.exists(), "a refused run wrote a packet");
        assert!(!t.path().join("ran-it").exists(), "{argv:?} ran");
        assert_eq!(real(&d), before);
    }
    let r = run(&d, &["sh", "change.sh"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(t.path().join("ran-it").exists());
}

#[test]
fn a_production_flag_the_rehearsal_contradicts_stops_the_run_before_the_real_change() {
    let (_t, d) = spec_with(CHANGE_OK, ROLLBACK_OK, 30, false);
    let before = real(&d);
    let r = run(&d, &[]);
    assert_eq!(r.code, Some(3), "{}", r.stderr);
    assert!(
        r.stderr.contains("flags.production_mutation"),
        "{}",
        r.stderr
    );
    assert!(!r.packet.exists());
    assert_eq!(real(&d), before);
}

#[test]
fn a_live_contact_flag_the_rehearsal_contradicts_stops_the_run_before_the_real_change() {
    // The spec says the run only reads; the rehearsal shows the change
    // writes app.toml: the real change is not run.
    for declared in ["read-only", "none"] {
        let (_t, d) = spec(CHANGE_OK, ROLLBACK_OK, 30);
        let text = fs::read_to_string(d.join("packet.toml")).unwrap().replace(
            "live_system_contact = \"read-write\"",
            &format!("live_system_contact = \"{declared}\""),
        );
        fs::write(d.join("packet.toml"), text).unwrap();
        let before = real(&d);
        let r = run(&d, &[]);
        assert_eq!(r.code, Some(3), "{declared}: {}", r.stderr);
        assert!(
            r.stderr.contains("flags.live_system_contact")
                && r.stderr.contains("changes service-config:app.toml")
                && r.stderr.contains("the real change was not run"),
            "{declared}: {}",
            r.stderr
        );
        assert!(!r.packet.exists());
        assert_eq!(real(&d), before);
    }
}

#[test]
fn a_change_that_was_not_run_did_not_write_and_read_write_is_not_derived() {
    // The rehearsal fails (the rollback forgets to restore), so the real
    // change never runs: no real part changed, and the packet says that the
    // declared read-write contact is not what happened.
    let (_t, d) = spec(CHANGE_OK, "true\n", 30);
    let r = run(&d, &[]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let result = json(&r.packet, "change-result.json");
    assert_eq!(result["performed"], false);
    assert_eq!(result["touched_real"], serde_json::json!([]));
    let failed = json(&r.packet, "manifest.json")["mutation"]["failed_reason"].to_string();
    assert!(
        failed.contains("says \\\"read-write\\\", but change raise changed no part of a real surface (it was not run)"),
        "{failed}"
    );
    verify_rerun_ok(&r.packet);
}

#[test]
fn a_carried_live_contact_flag_edited_after_the_run_does_not_survive_verify_rerun() {
    let (_t, d) = spec(CHANGE_OK, ROLLBACK_OK, 30);
    let r = run(&d, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let p = r.packet.clone();
    let carried = p.join("spec/packet.toml");
    let text = fs::read_to_string(&carried).unwrap();
    fs::set_permissions(&carried, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(
        &carried,
        text.replace(
            "live_system_contact = \"read-write\"",
            "live_system_contact = \"read-only\"",
        ),
    )
    .unwrap();
    edit_json(&p, "manifest.json", |v| {
        v["flags"]["live_system_contact"] = Value::from("read-only");
    });
    reseal(&p);
    rerun_refuses(&p, "rerun");
}

#[test]
fn forged_change_evidence_does_not_survive_verify_rerun() {
    let (_t, d) = spec(CHANGE_OK, ROLLBACK_OK, 30);
    let r = run(&d, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let base = r.packet.clone();
    let copy = |name: &str| -> PathBuf {
        let p = base.parent().unwrap().join(name);
        for e in walkdir::WalkDir::new(&base) {
            let e = e.unwrap();
            let dest = p.join(e.path().strip_prefix(&base).unwrap());
            if e.file_type().is_dir() {
                fs::create_dir_all(&dest).unwrap();
            } else {
                fs::copy(e.path(), &dest).unwrap();
            }
        }
        p
    };
    // A derived status edited.
    let p = copy("forged-proof");
    edit_json(&p, "forbidden-surface-proof.json", |v| {
        v["surfaces"][1]["status"] = "UNTOUCHED".into();
    });
    reseal(&p);
    rerun_refuses(&p, "forbidden-surface-proof.json");
    // The recorded exit code says it failed: the derived result must follow.
    let p = copy("forged-record");
    edit_json(&p, "change-record.json", |v| {
        v["real"][0]["exit_code"] = 3.into();
    });
    reseal(&p);
    rerun_refuses(&p, "change-record.json");
    // A command other than the authorized one recorded.
    let p = copy("forged-argv");
    edit_json(&p, "change-record.json", |v| {
        v["real"][0]["argv"] = serde_json::json!(["sh", "other.sh"]);
    });
    reseal(&p);
    rerun_refuses(&p, "is not the authorized one");
    // The change's after snapshot swapped for the before one: nothing changed.
    let p = copy("forged-after");
    fs::copy(
        p.join("surface-snapshot-before.json"),
        p.join("surface-snapshot-after.json"),
    )
    .unwrap();
    reseal(&p);
    rerun_refuses(&p, "differs");
}

#[test]
fn a_change_of_a_surface_that_cannot_be_copied_is_never_run() {
    // The change may change a `command` surface: no copy, no rehearsal.
    let (_t, d) = spec(&format!("touch ../ran-it\n{CHANGE_OK}"), ROLLBACK_OK, 30);
    let mut surfaces = fs::read_to_string(d.join("surfaces.toml")).unwrap();
    surfaces.push_str(
        "\n[[surface]]\nid = \"version\"\ntable = \"production\"\nname = \"v\"\nkind = \"service\"\nstatus = \"known\"\nrisk = \"low\"\ngate = \"g\"\n[[surface.evidence]]\npath = \"README.md\"\n[surface.snapshot]\nmethod = \"command\"\nargv = [\"echo\", \"v1\"]\n",
    );
    fs::write(d.join("surfaces.toml"), surfaces).unwrap();
    let packet = fs::read_to_string(d.join("packet.toml")).unwrap().replace(
        "service-config = [\"app.toml\"]",
        "service-config = [\"app.toml\"]\nversion = [\"stdout\"]",
    );
    fs::write(d.join("packet.toml"), packet).unwrap();
    let before = real(&d);
    let r = run(&d, &[]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains("the rehearsal is impossible"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("surface version, which cannot be copied (it is read by method command)"),
        "{}",
        r.stderr
    );
    assert!(
        !d.parent().unwrap().join("ran-it").exists(),
        "the command ran"
    );
    assert_eq!(real(&d), before);
    let record = json(&r.packet, "change-record.json");
    assert_eq!(record["rehearsal"]["runs"], serde_json::json!([]));
    assert_impossible_rehearsal_blocks(&r.packet, "it is read by method command");
    verify_rerun_ok(&r.packet);
    // A forger who drops the derived blocker (and reseals) is caught: the
    // map is re-derived from the change record.
    let p = r.packet.clone();
    edit_json(&p, "production-blocker-map.json", |v| {
        let list = v["blockers"].as_array_mut().unwrap();
        list.retain(|b| b["id"] != "impossible-rehearsal:raise");
    });
    reseal(&p);
    rerun_refuses(&p, "production-blocker-map.json");
}

/// The packet holds the derived blocker `impossible-rehearsal:raise`, open,
/// citing the change record, and production stays on hold.
fn assert_impossible_rehearsal_blocks(packet: &Path, reason: &str) {
    let map = json(packet, "production-blocker-map.json");
    let b = map["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == "impossible-rehearsal:raise")
        .unwrap_or_else(|| panic!("no impossible-rehearsal blocker: {map}"));
    assert_eq!(b["kind"], "impossible-rehearsal");
    assert_eq!(b["status"], "open");
    assert_eq!(b["severity"], "critical");
    assert!(b["title"].as_str().unwrap().contains(reason), "{b}");
    assert_eq!(b["evidence"][0]["file"], "change-record.json");
    assert_eq!(b["evidence"][0]["at"], "/rehearsal/impossible");
    let manifest = json(packet, "manifest.json");
    assert_eq!(
        manifest["status"]["decision"], "HOLD_PRODUCTION",
        "{manifest}"
    );
}

#[test]
fn a_link_in_a_root_makes_the_rehearsal_impossible() {
    let (_t, d) = spec(&format!("touch ../ran-it\n{CHANGE_OK}"), ROLLBACK_OK, 30);
    std::os::unix::fs::symlink("/etc/passwd", d.join("config/passwd")).unwrap();
    let mut surfaces = fs::read_to_string(d.join("surfaces.toml")).unwrap();
    surfaces = surfaces.replacen(
        "root = \"config\"",
        "root = \"config\"\nexclude = [\"passwd\"]",
        1,
    );
    fs::write(d.join("surfaces.toml"), surfaces).unwrap();
    let r = run(&d, &[]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains("passwd is a link or special file"),
        "{}",
        r.stderr
    );
    assert!(
        !d.parent().unwrap().join("ran-it").exists(),
        "the command ran"
    );
    assert_impossible_rehearsal_blocks(&r.packet, "passwd is a link or special file");
    verify_rerun_ok(&r.packet);
    // The record cannot be made to say the rehearsal was possible: there
    // are no rehearsal snapshots to go with it.
    let p = r.packet.clone();
    edit_json(&p, "change-record.json", |v| {
        v["rehearsal"]["impossible"] = Value::Null;
    });
    reseal(&p);
    rerun_refuses(&p, "do not match whether it was made");
}

#[test]
fn a_change_the_authorization_does_not_name_is_skipped_and_said_so() {
    let (_t, d) = spec(&format!("touch ../ran-it\n{CHANGE_OK}"), ROLLBACK_OK, 30);
    let packet = fs::read_to_string(d.join("packet.toml"))
        .unwrap()
        .replace("[run]\nchange = \"raise\"", "[run]\nchange = \"other\"");
    fs::write(d.join("packet.toml"), packet).unwrap();
    let before = real(&d);
    let r = run(&d, &[]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("change other is outside the authorization (it names change raise)"),
        "{}",
        r.stderr
    );
    assert!(!d.parent().unwrap().join("ran-it").exists());
    assert!(!r.packet.join("change-record.json").exists());
    assert_eq!(real(&d), before);
}

#[test]
fn contradictory_change_specs_are_refused_before_anything_runs() {
    for (from, to, needle) in [
        (
            "[run]\nchange = \"raise\"",
            "[run]\nchange = \"raise\"\nfold = \"1..2\"",
            "give either `fold` or `change`",
        ),
        (
            "service-config = [\"app.toml\"]",
            "nowhere = [\"app.toml\"]",
            "\"nowhere\" is not a surface",
        ),
        (
            "[registry]",
            "[run.working_copies]\nregistry = \"config\"\n\n[registry]",
            "run.working_copies.registry",
        ),
        (
            "[registry]",
            "[run.working_copies]\ncfg = \"../x\"\n\n[registry]",
            "run.working_copies.cfg",
        ),
    ] {
        let (_t, d) = spec(&format!("touch ../ran-it\n{CHANGE_OK}"), ROLLBACK_OK, 30);
        let text = fs::read_to_string(d.join("packet.toml")).unwrap();
        assert!(text.contains(from), "{from}");
        fs::write(d.join("packet.toml"), text.replace(from, to)).unwrap();
        let r = run(&d, &[]);
        assert_eq!(r.code, Some(3), "{needle}: {}", r.stderr);
        assert!(
            r.stderr.contains(needle) && r.stderr.contains("packet.toml"),
            "{needle}: {}",
            r.stderr
        );
        assert!(!r.packet.exists());
        assert!(!d.parent().unwrap().join("ran-it").exists());
    }
}

#[test]
fn init_names_the_change_in_the_rollback_plan_template() {
    let (_t, d) = spec(CHANGE_OK, ROLLBACK_OK, 30);
    fs::remove_file(d.join("gates.toml")).unwrap();
    fs::remove_file(d.join("production-rollback-rehearsal-plan.md")).unwrap();
    holdfast().arg("init").arg(&d).assert().success();
    let plan = fs::read_to_string(d.join("production-rollback-rehearsal-plan.md")).unwrap();
    assert!(plan.contains("change raise (`sh change.sh`)"), "{plan}");
    assert!(plan.contains("`sh rollback.sh`"), "{plan}");
}
