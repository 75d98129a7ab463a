//! The registry as an anchor (`verify --registry DIR`) through the real
//! binary: a FIX7 run against a long-lived registry binds its tree hash to
//! its claim and its fold; the packet verifies against that registry, and
//! every way of presenting another packet, or another registry, fails
//! closed with exit 1.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::support::holdfast;
use predicates::prelude::*;
use serde_json::Value;

fn copy_tree(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let dst = to.join(e.path().strip_prefix(from).unwrap());
        if e.file_type().is_dir() {
            fs::create_dir_all(&dst).unwrap();
        } else {
            fs::copy(e.path(), &dst).unwrap();
            // Blobs are read-only; copies must stay writable for the test
            // that edits them and for cleanup.
            fs::set_permissions(&dst, fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}

/// The FIX7 spec in `root/spec`, pointed at a registry `root/reg` imported
/// from the example's registry file; `extra_claim` first takes ids for
/// another packet, so the run's ids and fold differ from a plain run's.
fn setup(root: &Path, extra_claim: bool) {
    let _ = fs::remove_dir_all(root);
    fs::create_dir_all(root).unwrap();
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fix7"),
        &root.join("spec"),
    );
    let reg = root.join("reg");
    holdfast()
        .args(["registry", "--registry"])
        .arg(&reg)
        .arg("import")
        .arg(root.join("spec/registry/registry-import.json"))
        .assert()
        .success();
    if extra_claim {
        holdfast()
            .args(["registry", "--registry"])
            .arg(&reg)
            .args(["claim", "--count", "3", "--packet", "OTHER_PACKET"])
            .assert()
            .success();
    }
    let toml = root.join("spec/packet.toml");
    let text = fs::read_to_string(&toml).unwrap();
    let text = text.replace(
        "import = \"registry/registry-import.json\"",
        "dir = \"../reg\"",
    );
    assert!(text.contains("dir = \"../reg\""));
    fs::write(&toml, text).unwrap();
    holdfast()
        .arg("run")
        .arg(root.join("spec"))
        .arg("--out")
        .arg(root.join("packet"))
        .assert()
        .success();
}

/// Two runs, built once: `a` (a plain FIX7 run) and `b` (the same spec
/// against a registry that had another claim first). Tests work on copies.
fn bases() -> &'static (PathBuf, PathBuf) {
    static BASES: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BASES.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("anchor-base-{}", std::process::id()));
        let (a, b) = (root.join("a"), root.join("b"));
        setup(&a, false);
        setup(&b, true);
        (a, b)
    })
}

/// A private copy of base `which` (its spec, registry and packet).
fn copy_of(base: &Path, name: &str) -> PathBuf {
    let to = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("anchor-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&to);
    copy_tree(base, &to);
    to
}

fn verify_json(packet: &Path, reg: &Path) -> (i32, Value) {
    let out = holdfast()
        .args(["--json", "verify"])
        .arg(packet)
        .arg("--registry")
        .arg(reg)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), v)
}

fn tree_of(packet: &Path) -> String {
    fs::read_to_string(packet.join("packet_tree.sha256"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Edits `file` of `packet` and reseals it, as a forger who recomputes
/// every hash would.
fn forge(packet: &Path, file: &str, edit: impl Fn(String) -> String) {
    let p = packet.join(file);
    let text = fs::read_to_string(&p).unwrap();
    let edited = edit(text.clone());
    assert_ne!(edited, text, "the forgery must change {file}");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&p, edited).unwrap();
    holdfast()
        .arg("seal")
        .arg(packet)
        .arg("--force")
        .assert()
        .success();
    holdfast().arg("verify").arg(packet).assert().success();
}

#[test]
fn a_run_binds_its_tree_hash_and_verify_registry_accepts_the_packet() {
    let (a, _) = bases();
    let (code, v) = verify_json(&a.join("packet"), &a.join("reg"));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["status"], "VERIFIED");
    let anchor = &v["registry_anchor"];
    assert_eq!(anchor["tree_sha256"], tree_of(&a.join("packet")).as_str());
    assert_eq!(anchor["claim"], "TKT-OBJ-462..TKT-OBJ-481");
    assert_eq!(anchor["fold_bound"], true);
    assert_eq!(anchor["problems"], serde_json::json!([]));
    let state = anchor["bound_state"].as_u64().unwrap();
    // The bind is a state of its own in the history, and the history still
    // replays clean.
    holdfast()
        .args(["registry", "--registry"])
        .arg(a.join("reg"))
        .arg("log")
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("#{state} ")))
        .stdout(predicate::str::contains(
            "bind claim TKT-OBJ-462..TKT-OBJ-481 and fold",
        ));
    holdfast()
        .args(["registry", "--registry"])
        .arg(a.join("reg"))
        .arg("verify-history")
        .assert()
        .success();
    holdfast()
        .arg("verify")
        .arg(a.join("packet"))
        .arg("--registry")
        .arg(a.join("reg"))
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "anchored: registry {} state {state} binds this tree hash to its claim TKT-OBJ-462..TKT-OBJ-481 and fold",
            a.join("reg").display()
        )));
}

#[test]
fn a_forged_packet_with_recomputed_hashes_is_not_anchored() {
    let (a, _) = bases();
    let w = copy_of(a, "forged");
    let packet = w.join("packet");
    let genuine = tree_of(&packet);
    // An artifact changed, its manifest entry updated, everything resealed:
    // the packet agrees with itself, but not with the registry.
    forge(&packet, "production-blocker-map.json", |t| {
        t.replacen("\"", "\" ", 1)
    });
    let (code, v) = verify_json(&packet, &w.join("reg"));
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["status"], "NOT_ANCHORED");
    let problems = v["registry_anchor"]["problems"].to_string();
    assert!(
        problems.contains(&format!("to tree hash {genuine}")),
        "{problems}"
    );
    assert!(
        problems.contains("altered after it was sealed"),
        "{problems}"
    );
    holdfast()
        .arg("verify")
        .arg(&packet)
        .arg("--registry")
        .arg(w.join("reg"))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("anchored").not())
        .stderr(predicate::str::contains(
            "registry: the registry binds this packet's claim",
        ));
}

#[test]
fn a_forged_manifest_claiming_other_ids_is_not_anchored() {
    let (a, _) = bases();
    let w = copy_of(a, "forged-ids");
    let packet = w.join("packet");
    forge(&packet, "manifest.json", |t| {
        t.replace("TKT-OBJ-462", "TKT-OBJ-442")
    });
    let (code, v) = verify_json(&packet, &w.join("reg"));
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["status"], "NOT_ANCHORED");
}

#[test]
fn a_registry_whose_log_was_edited_vouches_for_nothing() {
    let (a, _) = bases();
    let w = copy_of(a, "edited-log");
    let reg = w.join("reg");
    // Another write after the bind, so the bind line is not the head.
    holdfast()
        .args(["registry", "--registry"])
        .arg(&reg)
        .args(["claim", "--count", "1", "--packet", "LATER"])
        .assert()
        .success();
    // The forger's packet, and the bind line rewritten to name its tree hash.
    let forged = w.join("packet");
    let genuine = tree_of(&forged);
    forge(&forged, "README.md", |t| format!("{t}\nforged\n"));
    let forged_tree = tree_of(&forged);
    let log = reg.join("history/log.jsonl");
    let text = fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches(&genuine).count(), 1);
    fs::write(&log, text.replace(&genuine, &forged_tree)).unwrap();
    let (code, v) = verify_json(&forged, &reg);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["status"], "NOT_ANCHORED");
    let problems = v["registry_anchor"]["problems"].to_string();
    assert!(
        problems.contains("the registry fails its history check"),
        "{problems}"
    );
    assert!(problems.contains("history was rewritten"), "{problems}");
}

#[test]
fn a_registry_whose_head_bind_line_was_edited_is_refused() {
    let (a, _) = bases();
    let w = copy_of(a, "edited-head");
    let reg = w.join("reg");
    let packet = w.join("packet");
    let genuine = tree_of(&packet);
    let log = reg.join("history/log.jsonl");
    let text = fs::read_to_string(&log).unwrap();
    let other = "0".repeat(64);
    fs::write(&log, text.replace(&genuine, &other)).unwrap();
    // The completion marker names the line holdfast wrote, not this one.
    let (code, v) = verify_json(&packet, &reg);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["status"], "NOT_ANCHORED");
    let problems = v["registry_anchor"]["problems"].to_string();
    assert!(
        problems.contains("fails its history check") && problems.contains("history/complete"),
        "{problems}"
    );
}

#[test]
fn a_registry_whose_records_were_edited_vouches_for_nothing() {
    let (a, _) = bases();
    let w = copy_of(a, "edited-records");
    let reg = w.join("reg");
    let objects = reg.join("objects.json");
    let text = fs::read_to_string(&objects).unwrap();
    fs::write(
        &objects,
        text.replacen("packet-artifact", "packet-artefact", 1),
    )
    .unwrap();
    let (code, v) = verify_json(&w.join("packet"), &reg);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["status"], "NOT_ANCHORED");
    let problems = v["registry_anchor"]["problems"].to_string();
    assert!(problems.contains("the registry fails its"), "{problems}");
}

#[test]
fn a_packet_from_another_registry_is_not_recorded() {
    let (a, b) = bases();
    assert_ne!(tree_of(&a.join("packet")), tree_of(&b.join("packet")));
    // b's packet against a's registry, and a's against b's.
    for (packet, reg) in [
        (b.join("packet"), a.join("reg")),
        (a.join("packet"), b.join("reg")),
    ] {
        let (code, v) = verify_json(&packet, &reg);
        assert_eq!(code, 1, "{v}");
        assert_eq!(v["status"], "NOT_ANCHORED");
        let problems = v["registry_anchor"]["problems"].to_string();
        assert!(
            problems.contains("the registry does not record this packet"),
            "{problems}"
        );
        assert_eq!(v["registry_anchor"]["bound_state"], Value::Null);
    }
    // Each packet is anchored in its own.
    assert_eq!(verify_json(&b.join("packet"), &b.join("reg")).0, 0);
}

#[test]
fn a_packet_of_the_same_claim_from_a_throwaway_registry_is_not_anchored() {
    let (a, _) = bases();
    let w = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("anchor-import-{}", std::process::id()));
    let _ = fs::remove_dir_all(&w);
    holdfast()
        .arg("run")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fix7"))
        .arg("--out")
        .arg(&w)
        .assert()
        .success();
    // The example's registry is a working copy imported per run, from the
    // same file as a's: the same ids and the same fold, but a's registry
    // bound them to a's packet, not to this one.
    let (code, v) = verify_json(&w, &a.join("reg"));
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["status"], "NOT_ANCHORED");
    let problems = v["registry_anchor"]["problems"].to_string();
    assert!(
        problems.contains(&format!("to tree hash {}", tree_of(&a.join("packet")))),
        "{problems}"
    );
}
