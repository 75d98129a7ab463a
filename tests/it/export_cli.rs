//! `holdfast export PACKET --bagit OUT | --oscal OUT`: pure functions of a
//! verified packet, checked with the validators archives and compliance
//! tools use (bagit-python, compliance-trestle's OSCAL models), refused on
//! a packet whose seal fails, and never written into the packet or over
//! anything.

use crate::support::{oscal_schema, pytools, validators};

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::support::{copy_tree, example, holdfast};
use predicates::prelude::*;
use serde_json::Value;

/// The FIX7 packet, made once for the whole test binary.
fn packet() -> &'static Path {
    static P: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, p) = P.get_or_init(|| {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("packet");
        holdfast()
            .arg("run")
            .arg(example())
            .arg("--out")
            .arg(&p)
            .assert()
            .success();
        (t, p)
    });
    p
}

/// Every file under `dir`, relative path to bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path()
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn export(packet: &Path, flag: &str, out: &Path) -> assert_cmd::assert::Assert {
    holdfast()
        .arg("export")
        .arg(packet)
        .arg(flag)
        .arg(out)
        .assert()
}

fn bagit_validate(bag: &Path) -> (i32, String) {
    let (code, _, err) = pytools::run(&["-m", "bagit", "--validate", &bag.display().to_string()]);
    (code, err)
}

#[test]
fn the_bag_validates_is_deterministic_and_a_changed_payload_byte_is_caught() {
    let t = tempfile::tempdir().unwrap();
    let a = t.path().join("a");
    let b = t.path().join("b");
    export(packet(), "--bagit", &a).success();
    export(packet(), "--bagit", &b).success();
    assert_eq!(tree(&a), tree(&b), "two exports of one packet differ");

    let info = fs::read_to_string(a.join("bag-info.txt")).unwrap();
    let tree_hash = fs::read_to_string(packet().join("packet_tree.sha256")).unwrap();
    let tree_hash = tree_hash.split_whitespace().next().unwrap();
    assert!(info.contains(&format!("External-Identifier: {tree_hash}\n")));
    assert!(info.contains("Bagging-Date: 2026-06-12\n"));
    let files = tree(packet());
    let octets: usize = files.values().map(Vec::len).sum();
    assert!(info.contains(&format!("Payload-Oxum: {octets}.{}\n", files.len())));
    for (rel, bytes) in &files {
        assert_eq!(&fs::read(a.join("data").join(rel)).unwrap(), bytes, "{rel}");
    }
    assert!(a.join("tagmanifest-sha256.txt").is_file());

    let (code, err) = bagit_validate(&a);
    assert_eq!(code, 0, "bagit rejects the bag: {err}");

    // One payload byte changed: the bag no longer validates.
    let victim = a.join("data/production-blocker-map.json");
    let mut bytes = fs::read(&victim).unwrap();
    bytes[10] ^= 0x01;
    fs::write(&victim, bytes).unwrap();
    let (code, err) = bagit_validate(&a);
    assert_ne!(code, 0, "bagit accepts a changed payload byte");
    assert!(err.contains("production-blocker-map.json"), "{err}");
}

#[test]
fn the_oscal_documents_validate_and_every_open_blocker_is_a_poam_item() {
    let t = tempfile::tempdir().unwrap();
    let a = t.path().join("a");
    let b = t.path().join("b");
    export(packet(), "--oscal", &a).success();
    export(packet(), "--oscal", &b).success();
    assert_eq!(tree(&a), tree(&b), "two exports of one packet differ");

    let script = r#"
import json, sys
from trestle.oscal.assessment_results import AssessmentResults
from trestle.oscal.poam import PlanOfActionAndMilestones
d = sys.argv[1]
ar = json.load(open(d + "/assessment-results.json"))["assessment-results"]
po = json.load(open(d + "/plan-of-action-and-milestones.json"))["plan-of-action-and-milestones"]
AssessmentResults.model_validate(ar)
PlanOfActionAndMilestones.model_validate(po)
print("valid")
"#;
    let (code, out, err) = pytools::run(&["-c", script, &a.display().to_string()]);
    assert_eq!(code, 0, "trestle rejects the OSCAL documents: {err}");
    assert!(out.contains("valid"));

    let poam: Value =
        serde_json::from_slice(&fs::read(a.join("plan-of-action-and-milestones.json")).unwrap())
            .unwrap();
    let items = poam["plan-of-action-and-milestones"]["poam-items"]
        .as_array()
        .unwrap();
    let decision: Value = serde_json::from_slice(
        &fs::read(packet().join("next-production-decision-packet.json")).unwrap(),
    )
    .unwrap();
    let open: Vec<&str> = decision["open_blockers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(open.len(), 7);
    assert_eq!(items.len(), open.len());
    for id in open {
        assert!(
            items.iter().any(|i| i["props"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "blocker-id" && p["value"] == id)),
            "open blocker {id} is not a POA&M item"
        );
    }
    // Observations cite evidence by SHA-256: a back-matter resource per file.
    let ar: Value =
        serde_json::from_slice(&fs::read(a.join("assessment-results.json")).unwrap()).unwrap();
    let resources = ar["assessment-results"]["back-matter"]["resources"]
        .as_array()
        .unwrap();
    let proof_sha = holdfast::digest::sha256_hex(
        &fs::read(packet().join("forbidden-surface-proof.json")).unwrap(),
    );
    assert!(
        resources
            .iter()
            .any(|r| r["rlinks"][0]["href"] == "forbidden-surface-proof.json"
                && r["rlinks"][0]["hashes"][0]["value"] == proof_sha.as_str())
    );

    // The validator can fail: a finding with an id OSCAL does not allow.
    let c = t.path().join("c");
    copy_tree(&a, &c);
    let mut bad = ar.clone();
    bad["assessment-results"]["results"][0]["findings"][0]["target"]["target-id"] =
        Value::from("not:a:token");
    fs::write(c.join("assessment-results.json"), bad.to_string()).unwrap();
    let (code, _, _) = pytools::run(&["-c", script, &c.display().to_string()]);
    assert_ne!(code, 0, "trestle accepts an invalid document");
}

/// The errors the `jsonschema` crate finds in `doc` against `schema`.
fn jsonschema_errors(schema: &Path, doc: &Path) -> Vec<String> {
    let s: Value = serde_json::from_slice(&fs::read(schema).unwrap()).unwrap();
    let v = jsonschema::validator_for(&s)
        .unwrap_or_else(|e| panic!("{} does not compile: {e}", schema.display()));
    let d: Value = serde_json::from_slice(&fs::read(doc).unwrap()).unwrap();
    v.iter_errors(&d)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

#[test]
fn the_oscal_documents_validate_against_nists_published_json_schemas() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path();
    let a = w.join("a");
    export(packet(), "--oscal", &a).success();
    let dir = oscal_schema::dir();
    let ar_schema = dir.join(oscal_schema::ASSESSMENT_RESULTS.0);
    let poam_schema = dir.join(oscal_schema::POAM.0);
    let ar = a.join("assessment-results.json");
    let poam = a.join("plan-of-action-and-milestones.json");
    for (schema, doc) in [(&ar_schema, &ar), (&poam_schema, &poam)] {
        let (code, out) = validators::ajv_draft7(w, schema, std::slice::from_ref(doc));
        assert_eq!(code, 0, "Ajv: {} is not valid OSCAL:\n{out}", doc.display());
        let errs = jsonschema_errors(schema, doc);
        assert!(
            errs.is_empty(),
            "jsonschema: {} is not valid OSCAL: {errs:#?}",
            doc.display()
        );
        let v: Value = serde_json::from_slice(&fs::read(doc).unwrap()).unwrap();
        let root = v.as_object().unwrap().values().next().unwrap();
        assert_eq!(
            root["metadata"]["oscal-version"],
            holdfast::export::oscal::OSCAL_VERSION,
            "the documents declare the version of the schema they are checked with"
        );
    }
    assert!(
        oscal_schema::ASSESSMENT_RESULTS
            .2
            .contains(holdfast::export::oscal::OSCAL_VERSION)
    );

    // Both validators can fail: a target id that is not an OSCAL token,
    // a POA&M item whose uuid is not a UUID, a result without its start.
    let mut bad_ar: Value = serde_json::from_slice(&fs::read(&ar).unwrap()).unwrap();
    bad_ar["assessment-results"]["results"][0]["findings"][0]["target"]["target-id"] =
        Value::from("not:a:token");
    let bad_ar_file = w.join("bad-ar.json");
    fs::write(&bad_ar_file, bad_ar.to_string()).unwrap();
    let mut no_start: Value = serde_json::from_slice(&fs::read(&ar).unwrap()).unwrap();
    no_start["assessment-results"]["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("start");
    let no_start_file = w.join("no-start.json");
    fs::write(&no_start_file, no_start.to_string()).unwrap();
    let mut bad_poam: Value = serde_json::from_slice(&fs::read(&poam).unwrap()).unwrap();
    bad_poam["plan-of-action-and-milestones"]["poam-items"][0]["uuid"] = Value::from("BLK-CI-SEAL");
    let bad_poam_file = w.join("bad-poam.json");
    fs::write(&bad_poam_file, bad_poam.to_string()).unwrap();
    for (schema, doc, what) in [
        (&ar_schema, &bad_ar_file, "TokenDatatype"),
        (&ar_schema, &no_start_file, "start"),
        (&poam_schema, &bad_poam_file, "UUIDDatatype"),
    ] {
        let (code, out) = validators::ajv_draft7(w, schema, std::slice::from_ref(doc));
        assert_ne!(code, 0, "Ajv accepts {}: {out}", doc.display());
        assert!(out.contains(what), "{out}");
        let errs = jsonschema_errors(schema, doc);
        assert!(!errs.is_empty(), "jsonschema accepts {}", doc.display());
    }
}

#[test]
fn a_packet_whose_seal_fails_is_not_exported() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("packet");
    copy_tree(packet(), &p);
    let f = p.join("production-blocker-map.json");
    let text = fs::read_to_string(&f)
        .unwrap()
        .replace("\"open\"", "\"closed\"");
    fs::write(&f, text).unwrap();
    for flag in ["--bagit", "--oscal"] {
        let out = t.path().join(format!("out{flag}"));
        export(&p, flag, &out)
            .code(1)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains("the seal does not verify"));
        assert!(!out.exists(), "{flag}: something was written");
    }
    let leftovers: Vec<_> = fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".holdfast"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn an_export_never_writes_into_the_packet_or_over_anything() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("packet");
    copy_tree(packet(), &p);
    let before = tree(&p);
    for flag in ["--bagit", "--oscal"] {
        export(&p, flag, &p.join("bag"))
            .code(5)
            .stderr(predicate::str::contains("never written into a packet"));
        export(&p, flag, &p.join("spec/bag"))
            .code(5)
            .stderr(predicate::str::contains("never written into a packet"));
        let existing = t.path().join(format!("existing{flag}"));
        fs::create_dir(&existing).unwrap();
        fs::write(existing.join("keep"), "mine").unwrap();
        export(&p, flag, &existing)
            .code(5)
            .stderr(predicate::str::contains("already exists"));
        assert_eq!(fs::read_to_string(existing.join("keep")).unwrap(), "mine");
        assert_eq!(tree(&existing).len(), 1);
    }
    assert_eq!(tree(&p), before, "the packet changed");
    holdfast().arg("verify").arg(&p).assert().success();
    // Exactly one format, and a packet.
    holdfast().arg("export").arg(&p).assert().code(2);
    holdfast()
        .arg("export")
        .arg(&p)
        .args(["--bagit", "x", "--oscal", "y"])
        .assert()
        .code(2);
}
