//! The published JSON Schemas describe the real files: every spec file of the
//! FIX7 example and every JSON artifact of a packet it produces validates
//! against its schema in `schemas/`, and a spec with a stray key does not.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema(name: &str) -> jsonschema::Validator {
    let bytes = std::fs::read(root().join("schemas").join(name)).unwrap();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    jsonschema::validator_for(&v).unwrap_or_else(|e| panic!("{name} is not a usable schema: {e}"))
}

fn toml_as_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let v: toml::Value = toml::from_str(&text).unwrap();
    serde_json::to_value(v).unwrap()
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn assert_valid(schema_name: &str, instance: &Value, what: &str) {
    let errs = errors(&schema(schema_name), instance);
    assert!(
        errs.is_empty(),
        "{what} does not match {schema_name}: {errs:?}"
    );
}

#[test]
fn example_spec_files_match_their_schemas() {
    let ex = root().join("examples/fix7");
    assert_valid(
        "packet.schema.json",
        &toml_as_json(&ex.join("packet.toml")),
        "packet.toml",
    );
    assert_valid(
        "surfaces.schema.json",
        &toml_as_json(&ex.join("surfaces.toml")),
        "surfaces.toml",
    );
    assert_valid(
        "gates.schema.json",
        &toml_as_json(&ex.join("gates.toml")),
        "gates.toml",
    );
    let import: Value =
        serde_json::from_slice(&std::fs::read(ex.join("registry/registry-import.json")).unwrap())
            .unwrap();
    assert_valid(
        "registry-import.schema.json",
        &import,
        "registry-import.json",
    );
}

#[test]
fn a_stray_key_fails_schema_validation_too() {
    let mut v = toml_as_json(&root().join("examples/fix7/packet.toml"));
    v["flags"]["surprise"] = Value::from(1);
    assert!(!errors(&schema("packet.schema.json"), &v).is_empty());
    let mut v = toml_as_json(&root().join("examples/fix7/surfaces.toml"));
    v["surface"][0]["risk"] = Value::from("extreme");
    assert!(!errors(&schema("surfaces.schema.json"), &v).is_empty());
}

#[test]
fn packet_artifacts_match_their_schemas() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("packet");
    Command::cargo_bin("holdfast")
        .unwrap()
        .arg("run")
        .arg(root().join("examples/fix7"))
        .arg("--out")
        .arg(&p)
        .assert()
        .success();
    let read = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(p.join(name)).unwrap()).unwrap()
    };
    for (file, schema_name) in [
        ("manifest.json", "packet-manifest.schema.json"),
        (
            "governance-fold-442-461-result.json",
            "fold-result.schema.json",
        ),
        (
            "production-surface-inventory.json",
            "surface-inventory.schema.json",
        ),
        (
            "ci-deploy-surface-inventory.json",
            "surface-inventory.schema.json",
        ),
        (
            "surface-snapshot-before.json",
            "surface-snapshot.schema.json",
        ),
        (
            "surface-snapshot-after.json",
            "surface-snapshot.schema.json",
        ),
        (
            "forbidden-surface-proof.json",
            "forbidden-surface-proof.schema.json",
        ),
        (
            "production-bad-input-design.json",
            "production-bad-input-design.schema.json",
        ),
        (
            "production-blocker-map.json",
            "production-blocker-map.schema.json",
        ),
        (
            "next-production-decision-packet.json",
            "next-production-decision-packet.schema.json",
        ),
    ] {
        assert_valid(schema_name, &read(file), file);
    }
}
