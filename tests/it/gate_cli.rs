//! `holdfast gates`, `verdict`, `plan check` and `init` through the real
//! binary on real directories.

use std::path::Path;

use crate::support::holdfast;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use serde_json::{Value, json};

fn token() -> &'static str {
    holdfast::gate::verdict::pass_token(None)
}

fn sha256(bytes: &[u8]) -> String {
    holdfast::digest::sha256_hex(bytes)
}

const CLOSING: &[u8] = b"line one\nline two\n";

/// A spec directory: two blockers (one open, one closed with closing
/// evidence in `source/`), one option needing both closed, a complete plan,
/// and authorizations next to it.
fn spec_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::create_dir_all(p.join("source/docs")).unwrap();
    std::fs::write(p.join("source/docs/ci.md"), CLOSING).unwrap();
    std::fs::write(
        p.join("gates.toml"),
        format!(
            r#"
[[blocker]]
id = "BLK-OPEN"
title = "CI seal scope unknown"
surface = "ci"
severity = "critical"
status = "open"
closes_when = "the CI seal scope is proven"

[[blocker]]
id = "BLK-DONE"
title = "registry fold rehearsed"
surface = "registry"
severity = "high"
status = "closed"
closes_when = "a byte-exact rehearsal"
closing_evidence = [{{ path = "docs/ci.md", lines = "2", sha256 = "{}" }}]

[[option]]
id = "PROCEED_TO_REHEARSAL"
title = "Rehearse on staging"
requires_closed = ["BLK-OPEN", "BLK-DONE"]
requires_gates = ["rollback-plan"]
"#,
            sha256(b"line two\n")
        ),
    )
    .unwrap();
    let mut plan = String::new();
    for s in holdfast::gate::plan::SECTIONS {
        plan.push_str(&format!("## {s}\n\nwritten\n\n"));
    }
    std::fs::write(p.join("production-rollback-rehearsal-plan.md"), plan).unwrap();
    std::fs::write(
        p.join("scoping.toml"),
        "text = \"SCOPING ONLY\"\nscope = \"scoping\"\n",
    )
    .unwrap();
    std::fs::write(
        p.join("production.toml"),
        "text = \"may proceed to rehearsal\"\nscope = \"production\"\nselect = [\"PROCEED_TO_REHEARSAL\"]\n",
    )
    .unwrap();
    d
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn a_scoping_run_with_open_blockers_holds_with_only_hold_admissible() {
    let d = spec_dir();
    let out = d.path().join("out");
    holdfast()
        .arg("gates")
        .arg(d.path())
        .arg("--authorization")
        .arg(d.path().join("scoping.toml"))
        .arg("--source")
        .arg(d.path().join("source"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("admissible now: HOLD_PRODUCTION\n").and(contains("selected: none")));
    let dp = read_json(&out.join("next-production-decision-packet.json"));
    assert_eq!(dp["default"], "HOLD_PRODUCTION");
    assert_eq!(dp["admissible_now"], json!(["HOLD_PRODUCTION"]));
    assert_eq!(dp["selected"], "none");
    assert_eq!(dp["open_blockers"], json!(["BLK-OPEN"]));
    assert_eq!(dp["authorization"]["scope"], "scoping");
    assert_eq!(dp["options"][0]["id"], "HOLD_PRODUCTION");
    assert_eq!(dp["options"][1]["admissible"], false);
    let md = std::fs::read_to_string(out.join("next-production-decision-packet.md")).unwrap();
    assert!(
        md.contains("Default: `HOLD_PRODUCTION`") && md.contains("Selected: none"),
        "{md}"
    );
    let map = read_json(&out.join("production-blocker-map.json"));
    assert_eq!(map["counts"]["open"], 1);
    assert_eq!(map["counts"]["closed"], 1);
    let done = &map["blockers"][0];
    assert_eq!(
        (done["id"].as_str(), done["status"].as_str()),
        (Some("BLK-DONE"), Some("closed"))
    );
    assert_eq!(done["closing_evidence"][0]["check"]["state"], "fresh");

    // The verdict of such a run: READY as a scoping status, decision HOLD.
    let ev = d.path().join("evidence.json");
    std::fs::write(&ev, serde_json::to_vec(&scoping_evidence()).unwrap()).unwrap();
    let o = holdfast()
        .arg("verdict")
        .arg(&ev)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "production is not passed");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "FIX7_P0_SCOPING_READY");
    assert_eq!(v["decision"], "HOLD_PRODUCTION");
    assert_eq!(v["admissible_now"], json!(["HOLD_PRODUCTION"]));
    assert_eq!(v["selected"], "none");
    holdfast()
        .arg("verdict")
        .arg(&ev)
        .args(["--require", "scoping"])
        .assert()
        .success()
        .stdout(
            contains("decision: HOLD_PRODUCTION")
                .and(contains("hold: 1 blocker(s) open: BLK-OPEN")),
        );
}

fn scoping_evidence() -> Value {
    json!({
        "status_prefix": "FIX7_P0_SCOPING",
        "missing_artifacts": [],
        "sealed": true,
        "verified": true,
        "probes": [{"id": "tampered-artifact/flip-byte", "outcome": "fail-closed", "token_leaked": false, "timeout_counts_as_fail_closed": false}],
        "proof": {"entries": [{"boundary": "production-mutation", "surface": "pg", "result": "UNTOUCHED"}], "boundary_errors": []},
        "rollback_plan_problems": [],
        "blockers": [{"id": "BLK-OPEN", "open": true}, {"id": "BLK-DONE", "open": false}],
        "options": [{"id": "PROCEED_TO_REHEARSAL", "requires_closed": ["BLK-OPEN"], "requires_gates": []}],
        "authorization": {"text": "SCOPING ONLY", "scope": "scoping"},
        "selected": null
    })
}

#[test]
fn a_scoping_authorization_refuses_to_select_and_writes_nothing() {
    let d = spec_dir();
    let out = d.path().join("out");
    holdfast()
        .arg("gates")
        .arg(d.path())
        .arg("--authorization")
        .arg(d.path().join("scoping.toml"))
        .arg("--source")
        .arg(d.path().join("source"))
        .args(["--select", "PROCEED_TO_REHEARSAL", "--out"])
        .arg(&out)
        .assert()
        .code(5)
        .stderr(contains("scoping authorization cannot select"))
        .stdout("");
    assert!(!out.exists());
}

#[test]
fn selecting_needs_every_blocker_closed_with_evidence_and_a_naming_authorization() {
    let d = spec_dir();
    let out = d.path().join("out");
    let gates = |spec: &Path, auth: &str| {
        let mut c = holdfast();
        c.arg("gates")
            .arg(spec)
            .arg("--authorization")
            .arg(d.path().join(auth))
            .arg("--source")
            .arg(d.path().join("source"))
            .args(["--select", "PROCEED_TO_REHEARSAL", "--out"])
            .arg(&out);
        c
    };
    gates(d.path(), "production.toml")
        .assert()
        .code(5)
        .stderr(contains("not admissible now").and(contains("BLK-OPEN is open")));
    assert!(!out.exists());

    // Closing the open blocker without closing evidence changes nothing.
    let spec = d.path().join("gates.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(
        &spec,
        text.replacen("status = \"open\"", "status = \"closed\"", 1),
    )
    .unwrap();
    gates(d.path(), "production.toml").assert().code(5);
    holdfast()
        .arg("gates")
        .arg(d.path())
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("2 marked closed count as open"));
    let map = read_json(&out.join("production-blocker-map.json"));
    let b = map["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == "BLK-OPEN")
        .unwrap()
        .clone();
    assert_eq!(b["declared_status"], "closed");
    assert_eq!(b["status"], "open");
    assert!(
        b["note"]
            .as_str()
            .unwrap()
            .contains("without closing evidence")
    );
    let md = std::fs::read_to_string(out.join("production-blocker-map.md")).unwrap();
    assert!(md.contains("OPEN (marked closed)"), "{md}");
    std::fs::remove_dir_all(&out).unwrap();

    // With closing evidence, the production authorization selects it.
    let closed = text.replacen(
        "status = \"open\"",
        &format!(
            "status = \"closed\"\nclosing_evidence = [{{ path = \"docs/ci.md\", sha256 = \"{}\" }}]",
            sha256(CLOSING)
        ),
        1,
    );
    std::fs::write(&spec, closed).unwrap();
    gates(d.path(), "production.toml")
        .assert()
        .success()
        .stdout(contains("selected: PROCEED_TO_REHEARSAL"));
    let dp = read_json(&out.join("next-production-decision-packet.json"));
    assert_eq!(dp["selected"], "PROCEED_TO_REHEARSAL");
    assert_eq!(
        dp["admissible_now"],
        json!(["HOLD_PRODUCTION", "PROCEED_TO_REHEARSAL"])
    );
    let text = std::fs::read_to_string(out.join("next-production-decision-packet.json")).unwrap();
    assert!(
        !text.contains(token()),
        "the decision packet never spells the token"
    );

    // A production authorization that does not name the option is refused.
    std::fs::write(
        d.path().join("other.toml"),
        "text = \"other\"\nscope = \"production\"\nselect = [\"SOMETHING_ELSE\"]\n",
    )
    .unwrap();
    gates(d.path(), "other.toml")
        .assert()
        .code(5)
        .stderr(contains("does not name PROCEED_TO_REHEARSAL"));
    // Without --source the closing evidence is unchecked: no selection.
    holdfast()
        .arg("gates")
        .arg(d.path())
        .arg("--authorization")
        .arg(d.path().join("production.toml"))
        .args(["--select", "PROCEED_TO_REHEARSAL", "--out"])
        .arg(d.path().join("out2"))
        .assert()
        .code(2)
        .stderr(contains("needs --source"));
    // Stale closing evidence reopens the blocker.
    std::fs::write(d.path().join("source/docs/ci.md"), b"line one\nline 2\n").unwrap();
    gates(d.path(), "production.toml")
        .assert()
        .code(5)
        .stderr(contains("not admissible"));
}

#[test]
fn derived_blockers_come_from_facts_with_stable_ids() {
    let d = spec_dir();
    let facts = d.path().join("facts.json");
    let proof = |at: &str, value: &str| {
        json!([{"kind": "artifact", "file": "forbidden-surface-proof.json",
                "sha256": sha256(b"proof"), "at": at, "value": value}])
    };
    let unknown_evidence = json!([
        {"kind": "source", "path": "ci/seal.md", "lines": "1-2", "sha256": sha256(b"seal")}
    ]);
    let facts_json = json!({
        "derived": {
            "unknown_surfaces": [{"surface": "ci-seal", "name": "FIX7 CI seal-vs-bytes scope",
                                  "evidence": unknown_evidence}],
            "stale_citations": [{"owner": "pg", "path": "docs/pg.md", "lines": "3-9", "found": "missing",
                                 "evidence": []}],
            "changed_forbidden_surfaces": [{"boundary": "production-mutation", "surface": "pg", "result": "CHANGED",
                                            "evidence": proof("/boundaries/0/surfaces/0/status", "CHANGED")}],
            "declared_only_critical_surfaces": [{"boundary": "secrets", "surface": "vault",
                                                 "evidence": proof("/blocker_facts/0/id", "declared-only-critical-surface:secrets:vault")}],
            "fail_open_probes": [{"probe": "user/deploy", "outcome": "fail-open", "token_leaked": false,
                                  "evidence": [{"kind": "artifact", "file": "production-bad-input-design.json",
                                                "sha256": sha256(b"report"), "at": "/probes/0/outcome", "value": "fail-open"}]}]
        },
        "proof": null
    });
    std::fs::write(&facts, serde_json::to_vec(&facts_json).unwrap()).unwrap();
    let mut bytes = Vec::new();
    for i in 0..2 {
        let out = d.path().join(format!("out{i}"));
        holdfast()
            .arg("gates")
            .arg(d.path().join("gates.toml"))
            .arg("--facts")
            .arg(&facts)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        let mut all = Vec::new();
        for f in [
            "production-blocker-map.json",
            "production-blocker-map.md",
            "next-production-decision-packet.json",
            "next-production-decision-packet.md",
        ] {
            all.extend(std::fs::read(out.join(f)).unwrap());
        }
        bytes.push(all);
    }
    assert_eq!(bytes[0], bytes[1], "same inputs, same bytes");
    let map = read_json(&d.path().join("out0/production-blocker-map.json"));
    let ids: Vec<&str> = map["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![
            "BLK-DONE",
            "BLK-OPEN",
            "changed-forbidden-surface:production-mutation:pg",
            "declared-only-critical-surface:secrets:vault",
            "fail-open-probe:user/deploy",
            "stale-citation:pg:docs/pg.md:3-9",
            "unknown-surface:ci-seal",
        ]
    );
    assert_eq!(map["counts"]["derived"], 5);
    // Without --source the closing evidence of BLK-DONE was not checked:
    // it establishes nothing, and BLK-DONE counts as open.
    assert_eq!(map["counts"]["open"], 7);
    assert_eq!(map["blockers"][0]["status"], "open");
    assert!(
        map["blockers"][0]["note"]
            .as_str()
            .unwrap()
            .contains("was not checked against a source tree"),
        "{}",
        map["blockers"][0]
    );
    // Each derived blocker cites what its fact rests on.
    let by_id = |id: &str| {
        map["blockers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(
        by_id("unknown-surface:ci-seal")["evidence"],
        unknown_evidence
    );
    assert_eq!(
        by_id("changed-forbidden-surface:production-mutation:pg")["evidence"],
        proof("/boundaries/0/surfaces/0/status", "CHANGED")
    );
    assert_eq!(
        by_id("fail-open-probe:user/deploy")["evidence"][0]["at"],
        "/probes/0/outcome"
    );
    assert_eq!(
        by_id("stale-citation:pg:docs/pg.md:3-9")["evidence"],
        json!([{"kind": "source", "path": "docs/pg.md", "lines": "3-9"}])
    );
    assert_eq!(
        by_id("BLK-OPEN")["evidence"],
        json!([]),
        "a declared blocker cites its gates.toml evidence"
    );

    // An uncited fact, or a malformed citation, is refused with its key.
    for (pointer, value, key) in [
        (
            "/derived/unknown_surfaces/0/evidence",
            json!([]),
            "derived.unknown_surfaces[0].evidence: empty",
        ),
        (
            "/derived/fail_open_probes/0/evidence/0/sha256",
            json!("abc"),
            "derived.fail_open_probes[0].evidence[0].sha256",
        ),
        (
            "/derived/changed_forbidden_surfaces/0/evidence/0/file",
            json!("../proof.json"),
            "derived.changed_forbidden_surfaces[0].evidence[0].file",
        ),
    ] {
        let mut bad = facts_json.clone();
        *bad.pointer_mut(pointer).unwrap() = value;
        std::fs::write(&facts, serde_json::to_vec(&bad).unwrap()).unwrap();
        holdfast()
            .arg("gates")
            .arg(d.path())
            .arg("--facts")
            .arg(&facts)
            .arg("--out")
            .arg(d.path().join("out3"))
            .assert()
            .code(3)
            .stderr(contains("facts.json").and(contains(key)));
        assert!(!d.path().join("out3").exists());
    }

    // A facts file that leaves a list out is refused: every source is required.
    std::fs::write(
        &facts,
        br#"{"derived": {"unknown_surfaces": []}, "proof": null}"#,
    )
    .unwrap();
    holdfast()
        .arg("gates")
        .arg(d.path())
        .arg("--facts")
        .arg(&facts)
        .arg("--out")
        .arg(d.path().join("out3"))
        .assert()
        .code(3)
        .stderr(contains("facts.json").and(contains("missing field")));
    assert!(!d.path().join("out3").exists());
}

#[test]
fn verdict_passes_only_on_full_evidence_and_refuses_bad_files() {
    let d = tempfile::tempdir().unwrap();
    let ev = d.path().join("e.json");
    let mut e = scoping_evidence();
    e["blockers"] = json!([{"id": "BLK-DONE", "open": false}]);
    e["options"] = json!([{"id": "PROCEED_TO_REHEARSAL", "requires_closed": ["BLK-DONE"], "requires_gates": ["probes"]}]);
    e["authorization"] =
        json!({"text": "go", "scope": "production", "select": ["PROCEED_TO_REHEARSAL"]});
    e["selected"] = json!("PROCEED_TO_REHEARSAL");
    std::fs::write(&ev, serde_json::to_vec(&e).unwrap()).unwrap();
    holdfast()
        .arg("verdict")
        .arg(&ev)
        .assert()
        .success()
        .stdout(contains(format!("decision: {}", token())));
    // One fact less, and it holds.
    e["verified"] = json!(false);
    std::fs::write(&ev, serde_json::to_vec(&e).unwrap()).unwrap();
    let o = holdfast().arg("verdict").arg(&ev).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("status: FIX7_P0_SCOPING_FAILED") && out.contains("decision: HOLD_PRODUCTION"),
        "{out}"
    );
    assert!(!out.contains(token()));
    // Bad files: each a clear error with the file named, exit 3 or 4.
    std::fs::write(&ev, b"{\"sealed\": true, \"sealed\": false}").unwrap();
    holdfast()
        .arg("verdict")
        .arg(&ev)
        .assert()
        .code(3)
        .stderr(contains("e.json").and(contains("duplicate key")));
    std::fs::write(&ev, b"{").unwrap();
    holdfast()
        .arg("verdict")
        .arg(&ev)
        .assert()
        .code(3)
        .stderr(contains("e.json: invalid JSON"));
    holdfast()
        .arg("verdict")
        .arg(d.path().join("nope.json"))
        .assert()
        .code(4);
    holdfast()
        .args(["verdict", "--help"])
        .assert()
        .success()
        .stdout(contains("--require"));
}

#[test]
fn plan_check_names_each_problem() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("plan.md");
    let mut good = String::new();
    for s in holdfast::gate::plan::SECTIONS {
        good.push_str(&format!("### {s}\n\n1. real step\n\n"));
    }
    std::fs::write(&p, &good).unwrap();
    holdfast()
        .args(["plan", "check"])
        .arg(&p)
        .assert()
        .success()
        .stdout(contains("all 6 sections present and filled in"));
    std::fs::write(
        &p,
        good.replace(
            "### Rollback action\n\n1. real step\n",
            "### Rollback action\n\nTBD\n",
        ),
    )
    .unwrap();
    holdfast()
        .args(["plan", "check"])
        .arg(&p)
        .assert()
        .code(1)
        .stderr(
            contains("plan.md: section \"Rollback action\" (line").and(contains("placeholder")),
        );
    std::fs::write(&p, good.replace("### Verification\n", "")).unwrap();
    let o = holdfast()
        .args(["plan", "check", "--json"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["complete"], false);
    assert_eq!(r["sections"][4]["status"], "missing");
    std::fs::write(&p, b"\xff").unwrap();
    holdfast()
        .args(["plan", "check"])
        .arg(&p)
        .assert()
        .code(3)
        .stderr(contains("not valid UTF-8"));
    holdfast()
        .args(["plan", "check"])
        .arg(d.path().join("none.md"))
        .assert()
        .code(4);
}

#[test]
fn init_writes_a_template_set_once() {
    let d = tempfile::tempdir().unwrap();
    let spec = d.path().join("spec");
    holdfast().arg("init").arg(&spec).assert().success();
    let gates = std::fs::read_to_string(spec.join("gates.toml")).unwrap();
    assert!(gates.contains("[[blocker]]"));
    // The template fails the check until its TODOs are filled in.
    holdfast()
        .args(["plan", "check"])
        .arg(spec.join("production-rollback-rehearsal-plan.md"))
        .assert()
        .code(1)
        .stderr(contains("TODO"));
    // The example spec is usable as it is.
    holdfast()
        .arg("gates")
        .arg(&spec)
        .arg("--out")
        .arg(d.path().join("out"))
        .assert()
        .success();
    let before = std::fs::read(spec.join("gates.toml")).unwrap();
    holdfast()
        .arg("init")
        .arg(&spec)
        .assert()
        .code(5)
        .stderr(contains("already exists"));
    assert_eq!(std::fs::read(spec.join("gates.toml")).unwrap(), before);
}

#[test]
fn every_gate_subcommand_has_help() {
    for sub in [
        &["probe"][..],
        &["gates"],
        &["verdict"],
        &["plan"],
        &["plan", "check"],
        &["init"],
    ] {
        holdfast()
            .args(sub)
            .arg("--help")
            .assert()
            .success()
            .stdout(contains("Usage"));
    }
}

#[test]
fn gates_refuses_bad_inputs_with_the_file_and_key_named() {
    let d = spec_dir();
    let spec = d.path().join("gates.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    let out = d.path().join("out");
    let run = || {
        let mut c = holdfast();
        c.arg("gates").arg(d.path()).arg("--out").arg(&out);
        c
    };
    std::fs::write(
        &spec,
        text.replace("severity = \"critical\"", "severity = \"extreme\""),
    )
    .unwrap();
    run()
        .assert()
        .code(3)
        .stderr(contains("gates.toml: line").and(contains("extreme")));
    std::fs::write(
        &spec,
        text.replace(
            "title = \"CI seal scope unknown\"",
            &format!("title = \"{} now\"", token()),
        ),
    )
    .unwrap();
    let o = run().output().unwrap();
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("blocker[0].title: contains the pass token") && !err.contains(token()),
        "{err}"
    );
    std::fs::write(
        &spec,
        text.replace("\"BLK-OPEN\", \"BLK-DONE\"", "\"BLK-TYPO\""),
    )
    .unwrap();
    run()
        .assert()
        .code(3)
        .stderr(contains("option[0].requires_closed[0]"));
    // A derived id of a shape no fact has (the surface module's old ids, a
    // boundary left out) is refused too: nothing could ever close it.
    for old in [
        "changed-surface:pg",
        "changed-forbidden-surface:pg",
        "declared-only-critical:vault",
    ] {
        std::fs::write(
            &spec,
            text.replace("\"BLK-OPEN\", \"BLK-DONE\"", &format!("\"{old}\"")),
        )
        .unwrap();
        run().assert().code(3).stderr(
            contains("option[0].requires_closed[0]")
                .and(contains("changed-forbidden-surface:<boundary>:<surface>")),
        );
    }
    assert!(!out.exists());
}

#[test]
fn the_documented_gates_toml_example_is_accepted() {
    let page = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reference/gates-toml.md"),
    )
    .unwrap();
    let section = &page[page.find("\n## The file\n").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let d = tempfile::tempdir().unwrap();
    let proof: String = (1..=12).map(|i| format!("line {i}\n")).collect();
    std::fs::create_dir_all(d.path().join("source/docs")).unwrap();
    std::fs::write(d.path().join("source/docs/ci-proof.md"), &proof).unwrap();
    let lines_3_9: String = (3..=9).map(|i| format!("line {i}\n")).collect();
    std::fs::write(
        d.path().join("gates.toml"),
        example.replace("<64 hex>", &sha256(lines_3_9.as_bytes())),
    )
    .unwrap();
    let gates = |source: bool| {
        let mut c = holdfast();
        c.arg("gates")
            .arg(d.path())
            .arg("--out")
            .arg(d.path().join("out"));
        if source {
            c.arg("--source").arg(d.path().join("source"));
        }
        c
    };
    gates(true)
        .assert()
        .success()
        .stdout(contains("blockers: 1 (0 open, 1 closed"));
    // Unchecked closing evidence closes nothing.
    gates(false).assert().success().stdout(contains(
        "blockers: 1 (1 open, 0 closed; 1 marked closed count as open)",
    ));
    // Nor does evidence whose bytes changed.
    std::fs::write(
        d.path().join("source/docs/ci-proof.md"),
        proof.replace("line 5", "line five"),
    )
    .unwrap();
    gates(true)
        .assert()
        .success()
        .stdout(contains("blockers: 1 (1 open, 0 closed"));
}
