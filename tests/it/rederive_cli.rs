//! `verify --rerun` re-derives every derived file of a packet from the
//! inputs it carries in `spec/` and its primary evidence. Tried as a forger
//! would: edit a file, recompute every hash (`holdfast seal --force`), and
//! the re-derivation must name the file and exit 1. Only an edit of primary
//! evidence (docs/packet-layout.md lists it) can go unnoticed by it.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::support::{copy_tree, example, holdfast};
use predicates::prelude::*;
use proptest::prelude::*;
use serde_json::Value;

/// The FIX7 packet, made once for the whole test binary.
fn base_packet() -> &'static Path {
    static BASE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, p) = BASE.get_or_init(|| {
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
        (t, p)
    });
    p
}

/// A private copy of the FIX7 packet.
fn packet() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("packet");
    copy_tree(base_packet(), &p);
    (t, p)
}

fn read_json(p: &Path, name: &str) -> Value {
    serde_json::from_slice(&fs::read(p.join(name)).unwrap()).unwrap()
}

fn write_json(p: &Path, name: &str, v: &Value) {
    fs::write(p.join(name), holdfast::canonical::value_to_bytes(v)).unwrap();
}

fn edit_json(p: &Path, name: &str, edit: impl FnOnce(&mut Value)) {
    let mut v = read_json(p, name);
    edit(&mut v);
    write_json(p, name, &v);
}

fn edit_text(p: &Path, name: &str, edit: impl FnOnce(String) -> String) {
    let t = fs::read_to_string(p.join(name)).unwrap();
    let edited = edit(t.clone());
    assert_ne!(edited, t, "{name}: the edit changed nothing");
    fs::write(p.join(name), edited).unwrap();
}

/// What a forger does last: every hash recomputed, so the seal verifies.
fn reseal(p: &Path) {
    holdfast()
        .args(["seal", "--force"])
        .arg(p)
        .assert()
        .success();
    holdfast().arg("verify").arg(p).assert().success();
}

/// `verify --rerun` exits 1, prints no success word, and names `needle`.
fn rerun_refuses(p: &Path, needle: &str) {
    holdfast()
        .args(["verify", "--rerun"])
        .arg(p)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("verified").not())
        .stderr(predicate::str::contains(needle));
}

/// Edits `file` with `edit`, reseals, and expects the re-derivation to name `file`.
fn forged_json_is_caught(file: &str, edit: impl FnOnce(&mut Value)) {
    let (_t, p) = packet();
    edit_json(&p, file, edit);
    reseal(&p);
    rerun_refuses(&p, &format!("rerun derived: {file}: differs"));
}

fn forged_text_is_caught(file: &str, edit: impl FnOnce(String) -> String) {
    let (_t, p) = packet();
    edit_text(&p, file, edit);
    reseal(&p);
    rerun_refuses(&p, &format!("rerun derived: {file}: differs"));
}

// ------------------------------------------------------------ the packet as made

#[test]
fn the_packet_carries_its_inputs_and_rerun_accepts_it() {
    let p = base_packet();
    for f in [
        "packet.toml",
        "surfaces.toml",
        "gates.toml",
        "production-rollback-rehearsal-plan.md",
    ] {
        assert_eq!(
            fs::read(p.join("spec").join(f)).unwrap(),
            fs::read(example().join(f)).unwrap(),
            "spec/{f} is the input byte for byte"
        );
    }
    holdfast()
        .args(["verify", "--rerun", "--spec"])
        .arg(example())
        .arg(p)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "status FIX7_P0_PRODUCTION_READINESS_SURFACE_SCOPING_READY · decision HOLD_PRODUCTION",
        ))
        .stdout(predicate::str::contains("snapshot digests"))
        .stdout(predicate::str::contains("as recorded, not re-read"));
}

/// The packet is read once: after [`Packet::load`] the directory can be
/// gone and the whole re-derivation (probes included) still runs, from
/// memory, and agrees.
#[test]
fn rerun_reads_each_packet_file_once_and_then_never_touches_the_directory() {
    let (t, p) = packet();
    let listed = fs::read_to_string(p.join("HASH_MANIFEST.txt"))
        .unwrap()
        .lines()
        .count();
    let loaded = holdfast::packet::model::Packet::load(&p).unwrap();
    assert_eq!(loaded.reads(), listed, "one read per listed file");
    fs::remove_dir_all(&p).unwrap();
    let report = holdfast::packet::rerun::rerun_packet(
        &loaded,
        &holdfast::packet::rerun::RerunOptions {
            exe: assert_cmd::cargo::cargo_bin("holdfast"),
            spec: None,
        },
        &holdfast::progress::NoProgress,
    )
    .unwrap();
    assert!(report.ok(), "{report:?}");
    assert!(report.checks.iter().any(|c| c.check == "probes"));
    assert_eq!(loaded.reads(), listed, "nothing was read again");
    drop(t);
}

#[test]
fn a_file_changed_after_the_seal_check_is_not_loaded() {
    let (_t, p) = packet();
    let loaded = holdfast::packet::model::Packet::load(&p);
    assert!(loaded.is_ok());
    fs::write(p.join("README.md"), "changed after the seal check\n").unwrap();
    let err = holdfast::packet::model::Packet::load(&p).unwrap_err();
    assert_eq!(err.exit_code(), 1, "{err}");
    assert!(
        err.to_string()
            .contains("README.md: changed after the seal was checked"),
        "{err}"
    );
}

// ------------------------------------------------------------ one forgery per derived artifact

#[test]
fn an_unknown_surface_made_known_in_table_c_is_caught() {
    forged_json_is_caught("ci-deploy-surface-inventory.json", |v| {
        for s in v["surfaces"].as_array_mut().unwrap() {
            s["status"] = Value::from("known");
        }
        v["unknown_surfaces"] = Value::Array(vec![]);
        v["counts"]["known"] = v["counts"]["surfaces"].clone();
        v["counts"]["unknown"] = Value::from(0);
    });
}

#[test]
fn a_table_b_count_that_disagrees_with_its_list_is_caught() {
    forged_json_is_caught("production-surface-inventory.json", |v| {
        v["counts"]["surfaces"] = Value::from(12);
    });
}

#[test]
fn a_markdown_table_rewritten_is_caught() {
    forged_text_is_caught("ci-deploy-surface-inventory.md", |t| {
        t.replacen("UNKNOWN", "known", 1)
    });
    forged_text_is_caught("production-blocker-map.md", |t| {
        t.replacen("open", "closed", 1)
    });
    forged_text_is_caught("next-production-decision-packet.md", |t| {
        t.replacen("HOLD_PRODUCTION", "CUTOVER_TO_GREEN", 1)
    });
}

#[test]
fn a_declared_blocker_dropped_from_the_map_is_caught() {
    forged_json_is_caught("production-blocker-map.json", |v| {
        let blockers = v["blockers"].as_array_mut().unwrap();
        let i = blockers
            .iter()
            .position(|b| b["kind"] == "declared")
            .unwrap();
        blockers.remove(i);
        for k in ["total", "open", "declared"] {
            v["counts"][k] = Value::from(v["counts"][k].as_u64().unwrap() - 1);
        }
    });
}

#[test]
fn the_blocker_map_emptied_is_caught() {
    forged_json_is_caught("production-blocker-map.json", |v| {
        v["blockers"] = Value::Array(vec![]);
        for k in ["total", "open", "declared", "derived"] {
            v["counts"][k] = Value::from(0);
        }
    });
}

#[test]
fn a_blocked_option_called_admissible_is_caught() {
    forged_json_is_caught("next-production-decision-packet.json", |v| {
        let all: Vec<Value> = v["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].clone())
            .collect();
        v["admissible_now"] = Value::Array(all);
    });
}

#[test]
fn an_option_selected_is_caught() {
    forged_json_is_caught("next-production-decision-packet.json", |v| {
        v["selected"] = Value::from("PROCEED_TO_STAGING_REHEARSAL");
    });
}

#[test]
fn every_forged_fold_figure_is_caught() {
    type Edit = Box<dyn Fn(&mut Value)>;
    let edits: Vec<(&str, Edit)> = vec![
        (
            "/invariants/after/collision",
            Box::new(|v| v["invariants"]["after"]["collision"] = Value::from(2)),
        ),
        (
            "/invariants/before/orphan",
            Box::new(|v| v["invariants"]["before"]["orphan"] = Value::from(1)),
        ),
        (
            "/json_valid",
            Box::new(|v| v["json_valid"] = Value::from(false)),
        ),
        (
            "/objects_unchanged",
            Box::new(|v| v["objects_unchanged"] = Value::from(false)),
        ),
        (
            "/rollback_rehearsal/byte_exact",
            Box::new(|v| v["rollback_rehearsal"]["byte_exact"] = Value::from(false)),
        ),
        (
            "/canonical_max/after",
            Box::new(|v| v["canonical_max"]["after"] = Value::from(470)),
        ),
        (
            "/next_free/number",
            Box::new(|v| v["next_free"]["number"] = Value::from(463)),
        ),
        (
            "/revisions_after/registry.json",
            Box::new(|v| v["revisions_after"]["registry.json"] = Value::from(30)),
        ),
    ];
    let file = "governance-fold-442-461-result.json";
    for (at, edit) in edits {
        let (_t, p) = packet();
        let before = read_json(&p, file);
        edit_json(&p, file, |v| edit(v));
        assert_ne!(
            read_json(&p, file),
            before,
            "{at}: the edit changed nothing"
        );
        reseal(&p);
        rerun_refuses(
            &p,
            &format!("{file}: differs from what the inputs and primary evidence derive at {at}"),
        );
    }
}

#[test]
fn a_forged_proof_is_caught() {
    forged_json_is_caught("forbidden-surface-proof.json", |v| {
        v["boundaries"][0]["surfaces"][0]["status"] = Value::from("DECLARED_NOT_CONTACTED");
    });
}

#[test]
fn rewritten_scripts_and_exit_codes_are_caught() {
    forged_text_is_caught("RERUN.sh", |_| "#!/bin/sh\nexit 0\n".to_string());
    forged_text_is_caught("commands.sh", |_| "#!/bin/sh\nexit 0\n".to_string());
    forged_json_is_caught("exit_codes.json", |v| {
        v["commands"].as_array_mut().unwrap().pop();
    });
    forged_json_is_caught("exit_codes.json", |v| {
        v["commands"][1]["expected_exit"] = Value::from(5);
    });
}

#[test]
fn manifest_edits_are_caught() {
    forged_json_is_caught("manifest.json", |v| {
        v["packet"]["date"] = Value::from("2026-06-13")
    });
    forged_json_is_caught("manifest.json", |v| {
        v["boundaries"].as_array_mut().unwrap().pop();
    });
    forged_json_is_caught("manifest.json", |v| {
        v["spec_pins"]["gates.toml"] = Value::from("0".repeat(64));
    });
    forged_json_is_caught("manifest.json", |v| {
        v["artifacts"][0]["id"] = Value::from("TKT-OBJ-999");
    });
    forged_json_is_caught("manifest.json", |v| {
        v["authorization"]["scope"] = Value::from("production");
    });
}

#[test]
fn the_readme_and_the_plan_copy_are_derived() {
    forged_text_is_caught("README.md", |t| t.replace("7 OPEN", "0 OPEN"));
    forged_text_is_caught("index.html", |t| t.replace("7 OPEN", "0 OPEN"));
    forged_text_is_caught("production-rollback-rehearsal-plan.md", |t| {
        format!("{t}\nAn extra line.\n")
    });
}

#[test]
fn a_forged_proof_count_in_the_readme_is_caught() {
    // Every count the README sums: the per-status total, a boundary's line,
    // and the per-surface line, each edited alone.
    forged_text_is_caught("README.md", |t| {
        t.replace(
            "12 UNTOUCHED + 2 DECLARED_NOT_CONTACTED + 1 AUTHORIZED_MUTATION_MATCHED = 15 surfaces",
            "14 UNTOUCHED + 1 AUTHORIZED_MUTATION_MATCHED = 15 surfaces",
        )
    });
    forged_text_is_caught("README.md", |t| {
        t.replace(
            "held; 2 UNTOUCHED + 1 DECLARED_NOT_CONTACTED = 3 surfaces",
            "held; 3 UNTOUCHED = 3 surfaces",
        )
    });
    forged_text_is_caught("README.md", |t| {
        t.replace("15 in one boundary", "14 in one boundary")
    });
}

#[test]
fn a_file_no_input_derives_is_caught() {
    let (_t, p) = packet();
    fs::write(p.join("extra-evidence.json"), "{}\n").unwrap();
    reseal(&p);
    rerun_refuses(
        &p,
        "extra-evidence.json: in the packet, but the inputs and primary evidence derive no such file",
    );
}

/// The forgery: a HOLD packet edited toward a pass. Each of its
/// edits is caught on its own (above); together they are caught too.
#[test]
fn a_hold_packet_forged_toward_a_pass_is_caught() {
    let (_t, p) = packet();
    edit_json(&p, "ci-deploy-surface-inventory.json", |v| {
        for s in v["surfaces"].as_array_mut().unwrap() {
            s["status"] = Value::from("known");
        }
        v["unknown_surfaces"] = Value::Array(vec![]);
    });
    edit_json(&p, "production-blocker-map.json", |v| {
        v["blockers"] = Value::Array(vec![]);
    });
    edit_json(&p, "manifest.json", |v| {
        v["authorization"]["scope"] = Value::from("production");
        v["status"]["selected"] = Value::from("CUTOVER_TO_GREEN");
    });
    edit_json(&p, "next-production-decision-packet.json", |v| {
        v["selected"] = Value::from("CUTOVER_TO_GREEN");
    });
    reseal(&p);
    for file in [
        "ci-deploy-surface-inventory.json",
        "production-blocker-map.json",
        "manifest.json",
        "next-production-decision-packet.json",
    ] {
        rerun_refuses(&p, &format!("rerun derived: {file}: differs"));
    }
}

// ------------------------------------------------------------ cross-checks and inputs

#[test]
fn probe_classes_dropped_from_the_report_are_caught() {
    let (_t, p) = packet();
    edit_json(&p, "production-bad-input-design.json", |v| {
        let dropped = v["classes"].as_array_mut().unwrap().pop().unwrap();
        let id = dropped["id"].as_str().unwrap().to_string();
        v["probes"]
            .as_array_mut()
            .unwrap()
            .retain(|pr| pr["class"] != id.as_str());
    });
    reseal(&p);
    rerun_refuses(
        &p,
        "its probe classes are not the ones spec/gates.toml selects",
    );
}

#[test]
fn a_carried_surfaces_spec_the_snapshots_were_not_taken_from_is_caught() {
    let (_t, p) = packet();
    edit_text(&p, "spec/surfaces.toml", |t| format!("{t}\n# edited\n"));
    reseal(&p);
    rerun_refuses(&p, "taken from a surfaces spec with sha256");
}

#[test]
fn a_snapshot_missing_a_surface_is_caught() {
    let (_t, p) = packet();
    for f in [
        "surface-snapshot-before.json",
        "surface-snapshot-after.json",
    ] {
        edit_json(&p, f, |v| {
            v["surfaces"]
                .as_object_mut()
                .unwrap()
                .remove("ci-seal-scope");
        });
    }
    reseal(&p);
    rerun_refuses(
        &p,
        "its surfaces and methods are not those of spec/surfaces.toml (missing: ci-seal-scope",
    );
}

#[test]
fn a_carried_input_the_spec_does_not_name_is_caught() {
    let (_t, p) = packet();
    fs::write(p.join("spec/notes.toml"), "x = 1\n").unwrap();
    reseal(&p);
    rerun_refuses(&p, "spec/ carries a file that packet.toml does not name");
}

#[test]
fn a_packet_without_its_inputs_cannot_be_rederived() {
    let (_t, p) = packet();
    fs::remove_dir_all(p.join("spec")).unwrap();
    reseal(&p);
    rerun_refuses(&p, "carries no spec/ folder");
}

#[test]
fn carried_inputs_edited_consistently_differ_from_the_run_s_spec() {
    // spec/gates.toml edited and its pin in manifest.json recomputed: the
    // packet agrees with itself (inputs are vouched for from outside), but
    // not with the spec its author holds.
    let (_t, p) = packet();
    let old = holdfast::digest::sha256_hex(&fs::read(p.join("spec/gates.toml")).unwrap());
    edit_text(&p, "spec/gates.toml", |t| {
        format!("{t}\n# an input edited by a forger\n")
    });
    let sha = holdfast::digest::sha256_hex(&fs::read(p.join("spec/gates.toml")).unwrap());
    edit_json(&p, "manifest.json", |v| {
        v["spec_pins"]["gates.toml"] = Value::from(sha.clone())
    });
    // The page shows the pins too: a consistent forger edits it as well.
    edit_text(&p, "index.html", |t| t.replace(&old, &sha));
    reseal(&p);
    let mut report = holdfast::packet::rerun::RerunReport::default();
    let m = holdfast::packet::manifest::PacketManifest::load(&p).unwrap();
    let loaded = holdfast::packet::model::Packet::load(&p).unwrap();
    holdfast::packet::rederive::check(&loaded, &m, None, &mut report);
    assert!(
        report.checks.iter().all(|c| c.ok),
        "an input is vouched for from outside the packet: {report:?}"
    );
    holdfast()
        .args(["verify", "--rerun", "--spec"])
        .arg(example())
        .arg(&p)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "rerun spec: spec/gates.toml: differs from",
        ));
}

// ------------------------------------------------------------ property: single-value edits

/// Where primary evidence lives: whole files, or JSON pointers (a `*`
/// matches one array index or object key). See docs/packet-layout.md.
const PRIMARY: &[(&str, &str)] = &[
    ("surface-snapshot-before.json", ""),
    ("surface-snapshot-after.json", ""),
    ("production-bad-input-design.json", ""),
    (
        "production-surface-inventory.json",
        "/surfaces/*/evidence/*/sha256",
    ),
    (
        "ci-deploy-surface-inventory.json",
        "/surfaces/*/evidence/*/sha256",
    ),
    (
        "production-blocker-map.json",
        "/blockers/*/closing_evidence/*/check",
    ),
    ("governance-fold-442-461-result.json", "/pins/*/objects.md"),
    ("manifest.json", "/object_ids"),
    ("manifest.json", "/mutation/skipped_reason"),
    ("manifest.json", "/spec_pins/registry~1registry-import.json"),
];

fn is_primary(file: &str, pointer: &str) -> bool {
    PRIMARY.iter().any(|(f, pattern)| {
        *f == file && {
            let pat: Vec<&str> = pattern.split('/').collect();
            let got: Vec<&str> = pointer.split('/').collect();
            got.len() >= pat.len() && pat.iter().zip(&got).all(|(a, b)| *a == "*" || a == b)
        }
    })
}

/// Every leaf of `v` with its JSON pointer.
fn leaves(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                leaves(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                leaves(x, format!("{at}/{i}"), out);
            }
        }
        _ => out.push(at),
    }
}

fn json_leaves() -> &'static Vec<(String, String)> {
    static LEAVES: OnceLock<Vec<(String, String)>> = OnceLock::new();
    LEAVES.get_or_init(|| {
        let p = base_packet();
        let mut out = Vec::new();
        for e in walkdir::WalkDir::new(p).sort_by_file_name() {
            let e = e.unwrap();
            let rel = e
                .path()
                .strip_prefix(p)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if !e.file_type().is_file() || !rel.ends_with(".json") {
                continue;
            }
            let mut ls = Vec::new();
            leaves(&read_json(p, &rel), String::new(), &mut ls);
            out.extend(ls.into_iter().map(|l| (rel.clone(), l)));
        }
        out
    })
}

fn mutate(v: &Value, salt: u8) -> Value {
    match v {
        Value::Bool(b) => Value::Bool(!b),
        Value::Number(n) => Value::from(n.as_u64().map_or(1, |x| x + 1 + u64::from(salt % 3))),
        Value::String(s) if salt.is_multiple_of(2) => Value::from(format!("{s}x")),
        Value::String(s) => Value::from(s.chars().rev().collect::<String>() + "y"),
        Value::Null => Value::from(salt),
        other => other.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// A random single-value edit of any JSON artifact, resealed as a forger
    /// would, is never re-derived unless the value is primary evidence.
    #[test]
    fn a_single_value_edit_is_caught_unless_it_is_primary_evidence(pick in any::<prop::sample::Index>(), salt in any::<u8>()) {
        let all = json_leaves();
        let (file, pointer) = &all[pick.index(all.len())];
        let (_t, p) = packet();
        let mut v = read_json(&p, file);
        let old = v.pointer(pointer).unwrap().clone();
        let new = mutate(&old, salt);
        prop_assume!(new != old);
        *v.pointer_mut(pointer).unwrap() = new;
        write_json(&p, file, &v);
        holdfast::seal::seal(&p, holdfast::seal::SealOptions { force: true }, &holdfast::progress::NoProgress).unwrap();
        let m = holdfast::packet::manifest::PacketManifest::load(&p);
        let caught = match m {
            Err(_) => true,
            Ok(m) => {
                let mut report = holdfast::packet::rerun::RerunReport::default();
                let loaded = holdfast::packet::model::Packet::load(&p).unwrap();
                holdfast::packet::rederive::check(&loaded, &m, None, &mut report);
                report.checks.iter().any(|c| !c.ok)
            }
        };
        prop_assert!(caught || is_primary(file, pointer), "{file}{pointer}: {old} edited and resealed, yet re-derived");
    }
}
