//! A blocker map edited by hand, through the real binary: `verify --rerun`
//! re-derives the verdict from the packet's own files, and every blocker the
//! map's facts do not close still counts as open, whatever its `status`
//! field says.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};

fn holdfast() -> Command {
    Command::cargo_bin("holdfast").unwrap()
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fix7")
}

fn read(p: &Path) -> Value {
    serde_json::from_slice(&fs::read(p).unwrap()).unwrap()
}

/// The `verify --rerun --json` report of `p`: exit code and checks by name.
fn rerun(p: &Path) -> (i32, Value) {
    let out = holdfast()
        .args(["verify", "--rerun", "--json"])
        .arg(p)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (out.status.code().unwrap(), v)
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["rerun"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no {name} check in {report}"))
}

#[test]
fn a_map_edited_to_closed_still_counts_its_blockers_open() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("packet");
    let out = holdfast()
        .arg("run")
        .arg(example())
        .arg("--out")
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = read(&p.join("manifest.json"));
    let hold = manifest["status"]["hold_reasons"].to_string();
    assert!(
        hold.contains("unknown-surface:ci-seal-scope")
            && hold.contains("BLK-03-BACKUP-RESTORE-UNVERIFIED"),
        "{hold}"
    );

    // A derived blocker and a declared one, each edited to look closed: the
    // status, the declared status, and closing evidence claiming a fresh
    // check (the declared one without a sha256, the derived one with one).
    let map_file = p.join("production-blocker-map.json");
    let mut map = read(&map_file);
    let mut edited = 0;
    for b in map["blockers"].as_array_mut().unwrap() {
        let sha256 = match b["id"].as_str().unwrap() {
            "unknown-surface:ci-seal-scope" => Some("0".repeat(64)),
            "BLK-03-BACKUP-RESTORE-UNVERIFIED" => None,
            _ => continue,
        };
        b["status"] = json!("closed");
        b["declared_status"] = json!("closed");
        b["note"] = Value::Null;
        let mut citation = json!({"path": "infra/postgres/prod-cluster.conf"});
        if let Some(h) = sha256 {
            citation["sha256"] = json!(h);
        }
        b["closing_evidence"] = json!([{"citation": citation, "check": {"state": "fresh"}}]);
        edited += 1;
    }
    assert_eq!(edited, 2);
    fs::write(&map_file, holdfast::canonical::value_to_bytes(&map)).unwrap();
    holdfast()
        .args(["seal", "--force"])
        .arg(&p)
        .assert()
        .success();

    let (code, report) = rerun(&p);
    // The edit itself is caught (the map's bytes are not the listed ones)...
    assert_eq!(code, 1, "{report}");
    assert_eq!(check(&report, "artifacts")["ok"], false, "{report}");
    // ...and the verdict re-derived from the edited map is the recorded
    // one: both blockers still count as open.
    let verdict = check(&report, "verdict");
    assert_eq!(verdict["ok"], true, "{verdict}");
}
