//! A blocker map edited by hand, through the real binary: `verify --rerun`
//! re-derives the verdict from the packet's own files, and every blocker the
//! map's facts do not close still counts as open, whatever its `status`
//! field says.

use std::fs;
use std::path::Path;

use crate::support::{copy_tree, example, holdfast};
use serde_json::{Value, json};

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
    // The edit itself is caught: the map derived again from gates.toml and
    // the evidence is not the edited one...
    assert_eq!(code, 1, "{report}");
    let failed: Vec<String> = report["rerun"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["detail"].as_str().unwrap().to_string())
        .collect();
    assert!(
        failed
            .iter()
            .any(|d| d.starts_with("production-blocker-map.json: differs")),
        "{failed:?}"
    );
    // ...and the verdict derived again is the recorded one (manifest.json
    // and the decision packet are re-derived unchanged): both blockers
    // still count as open.
    for f in ["manifest.json", "next-production-decision-packet.json"] {
        assert!(
            !failed.iter().any(|d| d.starts_with(f)),
            "{f} re-derives as recorded: {failed:?}"
        );
    }
}

/// Checks one artifact citation against the packet: the file's bytes hash
/// to its sha256, and the place it names holds the value it names.
fn assert_artifact_resolves(packet: &Path, spec: &Path, e: &Value) {
    let file = e["file"].as_str().unwrap();
    let path = if file.ends_with(".toml") {
        spec.join(file)
    } else {
        packet.join(file)
    };
    let bytes = fs::read(&path).unwrap_or_else(|err| panic!("{file}: {err}"));
    assert_eq!(
        e["sha256"],
        holdfast::digest::sha256_hex(&bytes),
        "{file}: {e}"
    );
    if file.ends_with(".json") {
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let at = e["at"].as_str().unwrap();
        assert_eq!(v.pointer(at), Some(&e["value"]), "{file}{at}: {e}");
    }
}

/// Derived blockers carry the ids their facts have in the inventories and
/// the proof, and cite bytes anyone can re-check: the surface's own
/// citations, the proof's entry and the snapshot digests, the probe report.
#[test]
fn derived_blockers_cite_their_facts_under_the_ids_the_packet_uses() {
    let t = tempfile::tempdir().unwrap();
    let spec = t.path().join("spec");
    copy_tree(&example(), &spec);
    // A policy that requires digests for critical surfaces (secrets-vault
    // has no snapshot; ci-seal-scope has no risk), a forbidden surface that
    // changes between the two snapshots, and a user probe that fails open.
    let surfaces = fs::read_to_string(spec.join("surfaces.toml")).unwrap();
    let surfaces = surfaces.replacen(
        "[[surface]]",
        r#"[policy]
require_digest_for = ["critical"]

[[surface]]
id = "prod-counter"
table = "production"
name = "A production counter"
kind = "service"
status = "known"
risk = "high"
gate = "none"
[[surface.evidence]]
path = "infra/postgres/prod-cluster.conf"
lines = "1"
[surface.snapshot]
method = "command"
argv = ["sh", "-c", "n=$(cat counter 2>/dev/null || echo 0); echo $((n+1)) > counter; echo $n"]

[[surface]]"#,
        1,
    );
    let surfaces = surfaces.replace(
        r#"surfaces = ["prod-pg", "directus-cms","#,
        r#"surfaces = ["prod-counter", "prod-pg", "directus-cms","#,
    );
    fs::write(spec.join("surfaces.toml"), surfaces).unwrap();
    // A command snapshot may reach a live system: the packet must say so.
    let packet = fs::read_to_string(spec.join("packet.toml"))
        .unwrap()
        .replace(
            "live_system_contact = \"none\"",
            "live_system_contact = \"read-only\"",
        );
    fs::write(spec.join("packet.toml"), packet).unwrap();
    let gates = fs::read_to_string(spec.join("gates.toml")).unwrap();
    let gates = gates.replace(
        "  \"rollback-changed-live-bytes\",\n]",
        "  \"rollback-changed-live-bytes\",\n  \"user\",\n]\n\n[[probe]]\nid = \"always-passes\"\ncommand = [\"true\"]",
    );
    assert!(gates.contains("always-passes"));
    fs::write(spec.join("gates.toml"), gates).unwrap();

    let p = t.path().join("packet");
    let out = holdfast()
        .arg("run")
        .arg(&spec)
        .arg("--out")
        .arg(&p)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "not READY: {stderr}");

    let map = read(&p.join("production-blocker-map.json"));
    let blockers = map["blockers"].as_array().unwrap();
    let by_id = |id: &str| {
        blockers
            .iter()
            .find(|b| b["id"] == id)
            .unwrap_or_else(|| panic!("no blocker {id} in {map}"))
    };

    // Every fact id of the inventories and the proof is a blocker id.
    let proof = read(&p.join("forbidden-surface-proof.json"));
    let mut fact_ids: Vec<String> = Vec::new();
    for inv in [
        "production-surface-inventory.json",
        "ci-deploy-surface-inventory.json",
    ] {
        for f in read(&p.join(inv))["unknown_surfaces"].as_array().unwrap() {
            fact_ids.push(f["id"].as_str().unwrap().to_string());
        }
    }
    for f in proof["blocker_facts"].as_array().unwrap() {
        fact_ids.push(f["id"].as_str().unwrap().to_string());
    }
    assert_eq!(
        fact_ids,
        [
            "unknown-surface:ci-seal-scope",
            "declared-only-critical-surface:no-ci-deploy-trigger:ci-seal-scope",
            "declared-only-critical-surface:no-secrets-change:secrets-vault",
        ]
    );
    for id in &fact_ids {
        by_id(id);
    }
    let changed = by_id("changed-forbidden-surface:no-production-mutation:prod-counter");
    by_id("fail-open-probe:user/always-passes");

    // Every derived blocker cites evidence, and every artifact it cites
    // resolves in the packet (or the spec) to the value it names.
    let mut artifacts = 0;
    for b in blockers.iter().filter(|b| b["kind"] != "declared") {
        let ev = b["evidence"].as_array().unwrap();
        assert!(!ev.is_empty(), "uncited: {b}");
        for e in ev.iter().filter(|e| e["kind"] == "artifact") {
            assert_artifact_resolves(&p, &spec, e);
            artifacts += 1;
        }
    }
    assert!(artifacts >= 8, "{artifacts}");

    // The unknown surface cites its own citations as the inventory hashed them.
    let inv = read(&p.join("ci-deploy-surface-inventory.json"));
    let row = inv["surfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "ci-seal-scope")
        .unwrap();
    let sources: Vec<Value> = by_id("unknown-surface:ci-seal-scope")["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "source")
        .map(|e| {
            let mut e = e.clone();
            e.as_object_mut().unwrap().remove("kind");
            e
        })
        .collect();
    assert_eq!(&Value::from(sources), &row["evidence"]);

    // The changed surface cites the proof's entry and both digests.
    let cited: Vec<(&str, &str)> = changed["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["file"].as_str().unwrap(), e["at"].as_str().unwrap()))
        .collect();
    assert_eq!(cited[0].0, "forbidden-surface-proof.json");
    assert_eq!(
        &cited[1..],
        [
            (
                "surface-snapshot-before.json",
                "/surfaces/prod-counter/digest"
            ),
            (
                "surface-snapshot-after.json",
                "/surfaces/prod-counter/digest"
            ),
        ]
    );
    let digests: Vec<&Value> = changed["evidence"].as_array().unwrap()[1..]
        .iter()
        .map(|e| &e["value"])
        .collect();
    assert_ne!(digests[0], digests[1]);
}
