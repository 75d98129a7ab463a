//! `holdfast run` end to end through the real binary: the FIX7 example
//! reproduces the seed packet's figures, runs are byte-reproducible and leave
//! the example untouched, every refusal leaves the registry untouched, and
//! `verify --rerun` catches a packet whose claims no longer match its JSON.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use crate::support::{example, holdfast};
use predicates::prelude::*;
use serde_json::Value;

fn json(dir: &Path, name: &str) -> Value {
    let bytes = fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_slice(&bytes).unwrap()
}

/// Every file under `root` with its bytes, by relative path.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(root).sort_by_file_name() {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.insert(rel, fs::read(e.path()).unwrap());
        }
    }
    out
}

fn copy_tree(from: &Path, to: &Path) {
    for (rel, bytes) in tree(from) {
        let p = to.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes).unwrap();
    }
}

/// A copy of the example with `edit` applied to `packet.toml`, its registry
/// moved to a long-lived directory (so "untouched" can be checked byte for byte).
fn spec_with(edit: impl Fn(String) -> String) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let spec = t.path().join("spec");
    copy_tree(&example(), &spec);
    let registry = t.path().join("registry");
    holdfast()
        .args(["registry", "import"])
        .arg(spec.join("registry/registry-import.json"))
        .arg("--registry")
        .arg(&registry)
        .assert()
        .success();
    let text = fs::read_to_string(spec.join("packet.toml")).unwrap();
    let text = text.replace(
        "import = \"registry/registry-import.json\"",
        &format!("dir = {:?}", registry.display().to_string()),
    );
    fs::write(spec.join("packet.toml"), edit(text)).unwrap();
    (t, spec, registry)
}

fn run_into(spec: &Path, out: &Path) -> std::process::Output {
    holdfast()
        .arg("run")
        .arg(spec)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

// ---------------------------------------------------------------- the example

#[test]
fn fix7_example_reproduces_the_seed_figures() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("packet");
    let out = run_into(&example(), &p);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("packet written "));

    let fold = json(&p, "governance-fold-442-461-result.json");
    assert_eq!(fold["canonical_max"]["before"], 441);
    assert_eq!(fold["canonical_max"]["after"], 461);
    assert_eq!(fold["next_free"]["number"], 462);
    assert_eq!(fold["next_free"]["id"], "TKT-OBJ-462");
    for when in ["before", "after"] {
        for k in ["collision", "orphan", "gap", "overlap"] {
            assert_eq!(fold["invariants"][when][k], 0, "{when} {k}");
        }
    }
    assert_eq!(fold["json_valid"], true);
    assert_eq!(fold["objects_unchanged"], true);
    assert_eq!(fold["rollback_rehearsal"]["byte_exact"], true);
    assert_eq!(fold["revisions_after"]["registry.json"], 24);
    assert_eq!(fold["revisions_after"]["registry.md"], 24);
    assert_eq!(fold["revisions_after"]["index.md"], 116);

    let b = json(&p, "production-surface-inventory.json");
    assert_eq!(b["counts"]["surfaces"], 11);
    let c = json(&p, "ci-deploy-surface-inventory.json");
    assert_eq!(c["counts"]["surfaces"], 4);
    assert_eq!(c["counts"]["unknown"], 1);

    let probes = json(&p, "production-bad-input-design.json");
    assert_eq!(probes["summary"]["classes"], 9);
    assert_eq!(
        probes["summary"]["fail_closed"],
        probes["summary"]["probes"]
    );
    assert_eq!(probes["summary"]["fail_open"], 0);
    assert_eq!(probes["summary"]["token_leaked"], 0);
    assert_eq!(probes["all_fail_closed"], true);

    let blockers = json(&p, "production-blocker-map.json");
    assert_eq!(blockers["counts"]["open"], 7);

    let proof = json(&p, "forbidden-surface-proof.json");
    assert_eq!(proof["result"], "PROVEN");
    assert_eq!(proof["counts"]["changed"], 0);
    assert_eq!(proof["counts"]["authorized_mutation_mismatch"], 0);
    assert_eq!(proof["counts"]["authorized_mutation_matched"], 1);
    for s in proof["surfaces"].as_array().unwrap() {
        let want = if s["surface"] == "governance-registry" {
            "AUTHORIZED_MUTATION_MATCHED"
        } else if s["method"] == "none" {
            "DECLARED_NOT_CONTACTED"
        } else {
            "UNTOUCHED"
        };
        assert_eq!(s["status"], want, "{}", s["surface"]);
    }

    let decision = json(&p, "next-production-decision-packet.json");
    assert_eq!(decision["default"], "HOLD_PRODUCTION");
    assert_eq!(
        decision["admissible_now"],
        serde_json::json!(["HOLD_PRODUCTION"])
    );
    assert_eq!(decision["selected"], "none");

    let m = json(&p, "manifest.json");
    assert_eq!(
        m["status"]["scoping_status"],
        "FIX7_P0_PRODUCTION_READINESS_SURFACE_SCOPING_READY"
    );
    assert_eq!(m["status"]["decision"], "HOLD_PRODUCTION");
    assert_eq!(m["status"]["selected"], "none");
    assert_eq!(m["object_ids"]["first"], "TKT-OBJ-462");
    let artifacts = m["artifacts"].as_array().unwrap();
    assert_eq!(m["object_ids"]["count"], artifacts.len());
    for (i, a) in artifacts.iter().enumerate() {
        assert_eq!(a["id"], format!("TKT-OBJ-{}", 462 + i), "{}", a["path"]);
    }
    assert_eq!(m["flags"]["production_mutation"], false);
    assert_eq!(m["mutation"]["performed"], true);

    let readme = fs::read_to_string(p.join("README.md")).unwrap();
    for needle in [
        "Final status: **FIX7_P0_PRODUCTION_READINESS_SURFACE_SCOPING_READY**",
        "Canonical body max 441→461, next free TKT-OBJ-462; 0 collision / 0 orphan / 0 gap / 0 overlap",
        "7 OPEN production blockers",
        "9 classes",
        "9/9 classes fail-closed",
        "PRODUCTION_PASS leaked: no",
        "selected: none",
    ] {
        assert!(
            readme.contains(needle),
            "README lacks {needle:?}:\n{readme}"
        );
    }

    for file in ["HASH_MANIFEST.txt", "packet_tree.sha256"] {
        let s = StdCommand::new("sha256sum")
            .args(["-c", "--strict", file])
            .current_dir(&p)
            .output()
            .unwrap();
        assert!(
            s.status.success(),
            "sha256sum -c {file}: {}",
            String::from_utf8_lossy(&s.stderr)
        );
    }
    holdfast()
        .args(["verify", "--rerun"])
        .arg(&p)
        .assert()
        .success()
        .stdout(predicate::str::contains("probes"));

    // The packet's own scripts, with holdfast on PATH, offline.
    let bin = assert_cmd::cargo::cargo_bin("holdfast");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for script in ["RERUN.sh", "commands.sh"] {
        let s = StdCommand::new("sh")
            .arg(p.join(script))
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            s.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&s.stderr)
        );
    }
}

#[test]
fn running_twice_gives_the_same_bytes_and_leaves_the_example_untouched() {
    let before = tree(&example());
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    assert_eq!(run_into(&example(), &a).status.code(), Some(0));
    assert_eq!(run_into(&example(), &b).status.code(), Some(0));
    assert_eq!(tree(&a), tree(&b));
    assert_eq!(tree(&example()), before, "the example spec must not change");
    // --force replaces a packet with the same bytes.
    holdfast()
        .arg("run")
        .arg(example())
        .arg("--out")
        .arg(&a)
        .assert()
        .code(5);
    holdfast()
        .arg("run")
        .arg(example())
        .arg("--out")
        .arg(&a)
        .arg("--force")
        .assert()
        .success();
    assert_eq!(tree(&a), tree(&b));
}

// ---------------------------------------------------------------- refusals

fn assert_refused_run(edit: impl Fn(String) -> String, plan: Option<&str>, why: &str) {
    let (t, spec, registry) = spec_with(edit);
    if let Some(plan) = plan {
        fs::write(spec.join("production-rollback-rehearsal-plan.md"), plan).unwrap();
    }
    let before = tree(&registry);
    let p = t.path().join("packet");
    let out = run_into(&spec, &p);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not READY"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("packet written"));
    let m = json(&p, "manifest.json");
    let status = m["status"]["scoping_status"].as_str().unwrap();
    assert!(!status.ends_with("_READY"), "{status}");
    assert_eq!(m["status"]["decision"], "HOLD_PRODUCTION");
    assert_eq!(m["mutation"]["performed"], false);
    assert!(
        m["mutation"]["skipped_reason"]
            .as_str()
            .unwrap()
            .contains(why),
        "{}",
        m["mutation"]
    );
    assert!(
        m["object_ids"].is_null(),
        "a packet that is not READY claims no ids"
    );
    assert_eq!(
        tree(&registry),
        before,
        "the registry must be untouched, byte for byte"
    );
    // The packet is still sealed and honest about itself.
    holdfast()
        .args(["verify", "--rerun"])
        .arg(&p)
        .assert()
        .success();
}

#[test]
fn a_mutation_outside_the_authorization_is_refused_and_the_registry_untouched() {
    assert_refused_run(
        |t| t.replace("fold = \"442..461\"", "fold = \"442..462\""),
        None,
        "outside the authorization",
    );
}

#[test]
fn an_unsafe_fold_is_refused_and_the_registry_untouched() {
    // Authorized, but it cuts the staged claim 442..461 in two.
    assert_refused_run(|t| t.replace("442..461", "442..450"), None, "not safe");
}

#[test]
fn a_missing_rollback_plan_section_refuses_the_mutation_and_the_registry_is_untouched() {
    let plan = fs::read_to_string(example().join("production-rollback-rehearsal-plan.md")).unwrap();
    let cut = plan.split("## Rollback action").next().unwrap().to_string()
        + &plan
            .split("## Verification")
            .nth(1)
            .map(|r| format!("## Verification{r}"))
            .unwrap();
    assert!(!cut.contains("Rollback action"));
    assert_refused_run(|t| t, Some(&cut), "rollback plan is incomplete");
}

#[test]
fn a_ready_run_on_a_long_lived_registry_folds_and_claims_the_artifact_ids() {
    let (t, spec, registry) = spec_with(|t| t);
    let p = t.path().join("packet");
    let out = run_into(&spec, &p);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = json(&p, "manifest.json");
    let last = m["object_ids"]["last"].as_str().unwrap().to_string();
    // The live registry now has the fold and the claim.
    let show = holdfast()
        .args(["registry", "show", "--json", "--registry"])
        .arg(&registry)
        .output()
        .unwrap();
    assert!(show.status.success());
    let v: Value = serde_json::from_slice(&show.stdout).unwrap();
    let text = v.to_string();
    assert!(text.contains("461") && text.contains(&last), "{text}");
    holdfast()
        .args(["registry", "check", "--registry"])
        .arg(&registry)
        .assert()
        .success();
}

#[test]
fn a_malformed_spec_writes_no_packet() {
    let (t, spec, registry) = spec_with(|t| t.replace("[flags]", "[flags]\nsurprise = 1"));
    let before = tree(&registry);
    let p = t.path().join("packet");
    holdfast()
        .arg("run")
        .arg(&spec)
        .arg("--out")
        .arg(&p)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("packet.toml").and(predicate::str::contains("surprise")));
    assert!(!p.exists());
    assert_eq!(tree(&registry), before);
    let leftovers: Vec<_> = fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        2,
        "no staging directory left behind: {leftovers:?}"
    );
}

// ---------------------------------------------------------------- verify --rerun

fn ready_packet() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("packet");
    assert_eq!(run_into(&example(), &p).status.code(), Some(0));
    (t, p)
}

/// `verify --rerun` exits 1 and names what it could not re-derive.
fn rerun_fails_with(p: &Path, needle: &str) {
    holdfast()
        .args(["verify", "--rerun"])
        .arg(p)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("verified").not())
        .stderr(predicate::str::contains(needle));
}

fn reseal(p: &Path) {
    holdfast()
        .args(["seal", "--force"])
        .arg(p)
        .assert()
        .success();
    holdfast().arg("verify").arg(p).assert().success();
}

#[test]
fn rerun_catches_a_readme_figure_edited_and_resealed() {
    let (_t, p) = ready_packet();
    let r = fs::read_to_string(p.join("README.md")).unwrap();
    fs::write(
        p.join("README.md"),
        r.replace("7 OPEN production blockers", "0 OPEN production blockers"),
    )
    .unwrap();
    reseal(&p);
    rerun_fails_with(&p, "rerun derived: README.md: differs");
}

#[test]
fn rerun_catches_a_forged_status_resealed() {
    let (_t, p) = ready_packet();
    // Open blockers closed by hand in the map: the verdict no longer matches.
    let mut map = json(&p, "production-blocker-map.json");
    for b in map["blockers"].as_array_mut().unwrap() {
        b["status"] = Value::from("closed");
    }
    fs::write(
        p.join("production-blocker-map.json"),
        holdfast::canonical::value_to_bytes(&map),
    )
    .unwrap();
    reseal(&p);
    let out = holdfast()
        .args(["verify", "--rerun"])
        .arg(&p)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("verified"));
}

#[test]
fn rerun_catches_a_tampered_reverse_patch_resealed() {
    let (_t, p) = ready_packet();
    let patch_file = p.join("governance-fold-442-461.reverse.patch");
    let patch = fs::read_to_string(&patch_file).unwrap();
    fs::write(&patch_file, patch.replacen("441", "440", 1)).unwrap();
    reseal(&p);
    rerun_fails_with(&p, "rerun rollback-rehearsal");
}

#[test]
fn rerun_catches_an_unlisted_artifact_resealed() {
    let (_t, p) = ready_packet();
    fs::write(p.join("planted.json"), "{}\n").unwrap();
    reseal(&p);
    rerun_fails_with(
        &p,
        "planted.json: in the packet, but the inputs and primary evidence derive no such file",
    );
}

// ---------------------------------------------------------------- findings of review

#[test]
fn a_fold_requested_under_a_read_only_authorization_is_refused_and_not_ready() {
    // No [[authorization.mutations]] at all: the proof sees no authorized
    // mutation and the registry untouched, so only the refusal can stop READY.
    assert_refused_run(
        |t| {
            let start = t.find("[[authorization.mutations]]").unwrap();
            let end = t.find("[flags]").unwrap();
            format!("{}{}", &t[..start], &t[end..])
        },
        None,
        "outside the authorization",
    );
}

#[test]
fn rerun_recomputes_the_proof_from_the_snapshots() {
    let (_t, p) = ready_packet();
    // A surface digest changed in the after snapshot: the recorded proof
    // (UNTOUCHED) no longer follows from the packet's own snapshots.
    let mut snap = json(&p, "surface-snapshot-after.json");
    let surfaces = snap["surfaces"].as_object_mut().unwrap();
    let prod = surfaces.get_mut("prod-pg").unwrap();
    let mut parts: std::collections::BTreeMap<String, String> =
        serde_json::from_value(prod["parts"].clone()).unwrap();
    for v in parts.values_mut() {
        *v = "0".repeat(64);
    }
    prod["digest"] = Value::from(holdfast::surface::snapshot::parts_digest(&parts).unwrap());
    prod["parts"] = serde_json::to_value(&parts).unwrap();
    fs::write(
        p.join("surface-snapshot-after.json"),
        holdfast::canonical::value_to_bytes(&snap),
    )
    .unwrap();
    reseal(&p);
    rerun_fails_with(&p, "rerun derived: forbidden-surface-proof.json: differs");
}

#[test]
fn out_may_not_overlap_an_input_and_force_replaces_only_a_packet() {
    let (t, spec, _registry) = spec_with(|t| t);
    holdfast()
        .arg("run")
        .arg(&spec)
        .arg("--out")
        .arg(spec.join("packet"))
        .assert()
        .code(5)
        .stderr(predicate::str::contains("overlaps the spec directory"));
    let not_a_packet = t.path().join("notes");
    fs::create_dir(&not_a_packet).unwrap();
    fs::write(not_a_packet.join("keep.txt"), "precious").unwrap();
    holdfast()
        .arg("run")
        .arg(&spec)
        .arg("--out")
        .arg(&not_a_packet)
        .arg("--force")
        .assert()
        .code(5)
        .stderr(predicate::str::contains("replaces only a packet"));
    assert_eq!(
        fs::read_to_string(not_a_packet.join("keep.txt")).unwrap(),
        "precious"
    );
}

#[test]
fn a_failure_after_a_live_fold_keeps_the_fold_evidence() {
    // A command surface that reads fine once and fails the second time: the
    // after snapshot fails after the fold changed the team's registry.
    let (t, spec, registry) = spec_with(|t| {
        t.replace(
            "live_system_contact = \"none\"",
            "live_system_contact = \"read-only\"",
        )
    });
    let mut surfaces = fs::read_to_string(spec.join("surfaces.toml")).unwrap();
    surfaces = surfaces.replacen(
        "[[surface]]",
        "[[surface]]\nid = \"flaky\"\ntable = \"production\"\nname = \"Flaky export\"\nkind = \"cms\"\nstatus = \"known\"\nrisk = \"low\"\ngate = \"none\"\n[[surface.evidence]]\npath = \"cms/directus.yaml\"\n[surface.snapshot]\nmethod = \"command\"\nargv = [\"sh\", \"-c\", \"if [ -e ran ]; then exit 3; fi; touch ran; echo once\"]\n\n[[surface]]",
        1,
    );
    fs::write(spec.join("surfaces.toml"), surfaces).unwrap();
    let p = t.path().join("packet");
    let out = run_into(&spec, &p);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(!p.exists(), "no packet is published");
    assert!(
        stderr.contains("the registry was changed")
            && stderr.contains("governance-fold-442-461-result.json"),
        "{stderr}"
    );
    let kept: Vec<PathBuf> = fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".holdfast-run-")
        })
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        kept[0]
            .join("governance-fold-442-461-result.json")
            .is_file()
    );
    assert!(
        kept[0]
            .join("governance-fold-442-461.reverse.patch")
            .is_file()
    );
    // And the fold can be rolled back with what was kept.
    holdfast()
        .args(["registry", "rollback"])
        .arg(kept[0].join("governance-fold-442-461-result.json"))
        .arg("--registry")
        .arg(&registry)
        .assert()
        .success();
}

#[test]
fn a_command_snapshot_cannot_claim_no_live_contact() {
    let (t, spec, _registry) = spec_with(|t| t);
    let surfaces = fs::read_to_string(spec.join("surfaces.toml"))
        .unwrap()
        .replacen(
            "[surface.snapshot]\nmethod = \"files\"\nroot = \"source/infra/postgres\"",
            "[surface.snapshot]\nmethod = \"command\"\nargv = [\"echo\", \"pg\"]",
            1,
        );
    fs::write(spec.join("surfaces.toml"), surfaces).unwrap();
    holdfast()
        .arg("run")
        .arg(&spec)
        .arg("--out")
        .arg(t.path().join("packet"))
        .assert()
        .code(3)
        .stderr(predicate::str::contains("live_system_contact"));
}

#[test]
fn rerun_catches_a_derived_blocker_dropped_from_the_map() {
    let (_t, p) = ready_packet();
    let mut map = json(&p, "production-blocker-map.json");
    let blockers = map["blockers"].as_array_mut().unwrap();
    let before = blockers.len();
    blockers.retain(|b| b["id"] != "unknown-surface:ci-seal-scope");
    assert_eq!(
        blockers.len(),
        before - 1,
        "the example derives this blocker"
    );
    // Keep the totals consistent with what is left, as a careful forger would.
    map["counts"]["total"] = Value::from(before - 1);
    map["counts"]["open"] = Value::from(map["counts"]["open"].as_u64().unwrap() - 1);
    map["counts"]["derived"] = Value::from(map["counts"]["derived"].as_u64().unwrap() - 1);
    fs::write(
        p.join("production-blocker-map.json"),
        holdfast::canonical::value_to_bytes(&map),
    )
    .unwrap();
    reseal(&p);
    holdfast()
        .args(["verify", "--rerun"])
        .arg(&p)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "rerun derived: production-blocker-map.json: differs from what the inputs and primary evidence derive at /blockers/",
        ));
}

#[test]
fn a_custom_pass_token_is_refused_in_packet_toml_and_surfaces_toml() {
    for (file, edit) in [
        ("packet.toml", "title = \"FIX7 P0"),
        ("surfaces.toml", "name = \"Production PostgreSQL"),
    ] {
        let (t, spec, registry) = spec_with(|t| t);
        let gates = fs::read_to_string(spec.join("gates.toml")).unwrap();
        fs::write(
            spec.join("gates.toml"),
            gates.replacen("[probes]\n", "[probes]\npass_token = \"SHIP_IT_NOW\"\n", 1),
        )
        .unwrap();
        let text = fs::read_to_string(spec.join(file)).unwrap();
        assert!(text.contains(edit), "{file} lacks {edit:?}");
        fs::write(
            spec.join(file),
            text.replacen(edit, &format!("{edit} SHIP_IT_NOW"), 1),
        )
        .unwrap();
        let before = tree(&registry);
        let out = holdfast()
            .arg("run")
            .arg(&spec)
            .arg("--out")
            .arg(t.path().join("packet"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{file}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("contains the pass token configured in gates.toml"),
            "{file}: {err}"
        );
        assert!(
            !err.contains("SHIP_IT_NOW"),
            "the message never repeats the token: {err}"
        );
        assert!(!t.path().join("packet").exists());
        assert_eq!(tree(&registry), before, "{file}: the registry is untouched");
    }
}
