//! Every published schema compiles in strict validators: Ajv's strict mode
//! (npm `ajv`, draft 2020-12, with `ajv-formats`) and Python `jsonschema`
//! (`Draft202012Validator.check_schema`); and every artifact of the FIX7
//! packet, every spec file of the example and the `--json` outputs that
//! have a schema validate against it with both. A sha256 field holding
//! `NOTAHASH` is rejected, and a schemars integer format is refused by
//! Ajv's strict mode (the check can fail).
//!
//! Ajv is installed into `target/tmp/ajv/node_modules` when missing, the
//! Python validator into `target/tmp/pyvenv`; a validator that cannot be
//! installed fails the test with a message saying so.

use crate::support::validators::validate_both;

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::holdfast;
use assert_cmd::Command;
use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn toml_as_json(path: &Path, out: &Path) -> PathBuf {
    let v: toml::Value = toml::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    fs::write(out, serde_json::to_string(&v).unwrap()).unwrap();
    out.to_path_buf()
}

fn stdout_to(cmd: &mut Command, out: &Path) -> PathBuf {
    let o = cmd.output().unwrap();
    fs::write(out, &o.stdout).unwrap();
    serde_json::from_slice::<Value>(&o.stdout)
        .unwrap_or_else(|e| panic!("{cmd:?} printed no JSON: {e}"));
    out.to_path_buf()
}

#[test]
fn every_schema_compiles_strictly_and_every_artifact_and_output_validates() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path();
    let p = w.join("packet");
    holdfast()
        .arg("run")
        .arg(root().join("examples/fix7"))
        .arg("--out")
        .arg(&p)
        .assert()
        .success();
    let ex = root().join("examples/fix7");
    let mut instances: Vec<(&str, Vec<PathBuf>)> = vec![
        ("packet-manifest.schema.json", vec![p.join("manifest.json")]),
        (
            "forbidden-surface-proof.schema.json",
            vec![p.join("forbidden-surface-proof.json")],
        ),
        (
            "surface-inventory.schema.json",
            vec![
                p.join("production-surface-inventory.json"),
                p.join("ci-deploy-surface-inventory.json"),
            ],
        ),
        (
            "surface-snapshot.schema.json",
            vec![
                p.join("surface-snapshot-before.json"),
                p.join("surface-snapshot-after.json"),
            ],
        ),
        (
            "production-blocker-map.schema.json",
            vec![p.join("production-blocker-map.json")],
        ),
        (
            "next-production-decision-packet.schema.json",
            vec![p.join("next-production-decision-packet.json")],
        ),
        (
            "production-bad-input-design.schema.json",
            vec![p.join("production-bad-input-design.json")],
        ),
        (
            "fold-result.schema.json",
            vec![p.join("governance-fold-442-461-result.json")],
        ),
        ("exit-codes.schema.json", vec![p.join("exit_codes.json")]),
        (
            "registry-document.schema.json",
            vec![p.join("governance-fold-442-461-after/registry.json")],
        ),
        (
            "packet.schema.json",
            vec![toml_as_json(
                &ex.join("packet.toml"),
                &w.join("packet.json"),
            )],
        ),
        (
            "surfaces.schema.json",
            vec![toml_as_json(
                &ex.join("surfaces.toml"),
                &w.join("surfaces.json"),
            )],
        ),
        (
            "gates.schema.json",
            vec![toml_as_json(&ex.join("gates.toml"), &w.join("gates.json"))],
        ),
        (
            "registry-import.schema.json",
            vec![ex.join("registry/registry-import.json")],
        ),
    ];
    // Every JSON file of the packet is checked against a schema.
    for e in walkdir::WalkDir::new(&p) {
        let f = e.unwrap().into_path();
        if f.extension().is_some_and(|x| x == "json") {
            assert!(
                instances.iter().any(|(_, fs)| fs.contains(&f)),
                "{} is not validated against any schema",
                f.display()
            );
        }
    }
    // The --json outputs with a schema (every command's: see cli_json).
    let sealed = w.join("resealed");
    fs::create_dir(&sealed).unwrap();
    fs::write(sealed.join("a.txt"), "a\n").unwrap();
    let seal_out = stdout_to(
        holdfast().args(["--json", "seal"]).arg(&sealed),
        &w.join("seal-out.json"),
    );
    let export_out = stdout_to(
        holdfast()
            .args(["--json", "export"])
            .arg(&p)
            .arg("--bagit")
            .arg(w.join("bag")),
        &w.join("export-out.json"),
    );
    let error_out = stdout_to(
        holdfast()
            .args(["--json", "verify"])
            .arg(w.join("no-such-packet")),
        &w.join("error-out.json"),
    );
    instances.push(("cli-seal.schema.json", vec![seal_out]));
    instances.push(("cli-export.schema.json", vec![export_out]));
    instances.push(("cli-error.schema.json", vec![error_out]));

    // exit_codes.json has exactly the published shape (unknown fields refused).
    let codes: holdfast::schema::shapes::ExitCodesFile =
        serde_json::from_slice(&fs::read(p.join("exit_codes.json")).unwrap()).unwrap();
    assert!(codes.all_as_expected && codes.commands.len() >= 9);

    let dir = root().join("schemas");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".schema.json"))
        .collect();
    names.sort();
    assert!(names.len() >= 21, "{names:?}");
    let schemas: Vec<Value> = names
        .iter()
        .map(|n| {
            let schema: Value = serde_json::from_slice(&fs::read(dir.join(n)).unwrap()).unwrap();
            assert_eq!(
                schema["$id"],
                Value::from(format!("{}{n}", holdfast::schema::ID_BASE)),
                "{n} has no $id"
            );
            let inst: Vec<String> = instances
                .iter()
                .filter(|(s, _)| s == n)
                .flat_map(|(_, v)| v.iter().map(|p| p.display().to_string()))
                .collect();
            json!({"name": n, "file": dir.join(n), "instances": inst})
        })
        .collect();
    for (s, _) in &instances {
        assert!(names.iter().any(|n| n == s), "no schema {s}");
    }
    let ((ajv_code, ajv_out), (py_code, py_out)) = validate_both(w, &json!({ "schemas": schemas }));
    assert_eq!(ajv_code, 0, "Ajv (strict):\n{ajv_out}");
    assert_eq!(py_code, 0, "jsonschema:\n{py_out}");
}

#[test]
fn a_non_hash_and_a_non_standard_format_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path();
    let dir = root().join("schemas");
    // A manifest whose spec pin is not a sha256.
    let p = w.join("packet");
    holdfast()
        .arg("run")
        .arg(root().join("examples/fix7"))
        .arg("--out")
        .arg(&p)
        .assert()
        .success();
    let mut m: Value = serde_json::from_slice(&fs::read(p.join("manifest.json")).unwrap()).unwrap();
    m["spec_pins"]["gates.toml"] = Value::from("NOTAHASH");
    m["artifacts"][0]["sha256"] = Value::from("NOTAHASH");
    let bad = w.join("bad-manifest.json");
    fs::write(&bad, m.to_string()).unwrap();
    let job = json!({"schemas": [{
        "name": "packet-manifest.schema.json",
        "file": dir.join("packet-manifest.schema.json"),
        "instances": [bad],
    }]});
    let ((ajv_code, ajv_out), (py_code, py_out)) = validate_both(w, &job);
    assert_ne!(ajv_code, 0, "Ajv accepts NOTAHASH");
    assert!(ajv_out.contains("pattern"), "{ajv_out}");
    assert_ne!(py_code, 0, "jsonschema accepts NOTAHASH");
    assert!(py_out.contains("NOTAHASH"), "{py_out}");

    // What schemars emits without the strict transform: Ajv's strict mode refuses it.
    let raw = w.join("raw.schema.json");
    fs::write(
        &raw,
        holdfast::schema::schema_bytes::<holdfast::probe::ProbeReport>(),
    )
    .unwrap();
    let job = json!({"schemas": [{"name": "raw", "file": raw, "instances": []}]});
    let ((ajv_code, ajv_out), _) = validate_both(w, &job);
    assert_ne!(ajv_code, 0, "Ajv strict compiles a schema with format uint");
    assert!(ajv_out.contains("unknown format"), "{ajv_out}");
}

/// Whether a property name holds an id (or a list of ids).
fn id_like(name: &str) -> bool {
    name == "id"
        || name.ends_with("_id")
        || name.ends_with("_ids")
        || matches!(
            name,
            "first" | "last" | "class" | "probe" | "surface" | "boundary" | "head"
        )
        || matches!(name, "requires_closed" | "open_blockers")
}

/// The string schema of a property, or of its array's items.
fn string_schema(p: &Value) -> Option<&Value> {
    let is_string = |v: &Value| match v.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
        _ => false,
    };
    if is_string(p) {
        return Some(p);
    }
    if p.get("type") == Some(&Value::from("array")) {
        return p.get("items").filter(|i| is_string(i));
    }
    None
}

fn id_fields_without_pattern(def: &str, v: &Value, file: &str, out: &mut Vec<String>) {
    if let Some(props) = v.get("properties").and_then(Value::as_object) {
        for (name, p) in props {
            if id_like(name)
                && let Some(s) = string_schema(p)
                && s.get("pattern").is_none()
            {
                out.push(format!("{file}: {def}.{name}"));
            }
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for a in v.get(key).and_then(Value::as_array).into_iter().flatten() {
            id_fields_without_pattern(def, a, file, out);
        }
    }
}

#[test]
fn every_id_and_hash_field_of_every_schema_has_a_pattern() {
    let mut missing = Vec::new();
    let mut with_pattern = 0;
    for p in holdfast::schema::all() {
        let v: Value = serde_json::from_slice(&p.bytes).unwrap();
        with_pattern += p.bytes.windows(10).filter(|w| w == b"\"pattern\":").count();
        let title = v["title"].as_str().unwrap_or_default().to_string();
        id_fields_without_pattern(&title, &v, p.file, &mut missing);
        for (name, d) in v["$defs"].as_object().into_iter().flatten() {
            id_fields_without_pattern(name, d, p.file, &mut missing);
        }
    }
    assert!(
        missing.is_empty(),
        "id fields without a pattern: {missing:#?}"
    );
    assert!(with_pattern > 100, "{with_pattern} patterns");
}

/// Writes `v` with one field changed by `edit` as `name` under `w`.
fn edited(w: &Path, name: &str, v: &Value, edit: impl FnOnce(&mut Value)) -> String {
    let mut v = v.clone();
    edit(&mut v);
    let f = w.join(name);
    fs::write(&f, v.to_string()).unwrap();
    f.display().to_string()
}

#[test]
fn a_wrong_id_is_refused_by_the_schema() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path();
    let p = w.join("packet");
    holdfast()
        .arg("run")
        .arg(root().join("examples/fix7"))
        .arg("--out")
        .arg(&p)
        .assert()
        .success();
    let read =
        |f: &str| -> Value { serde_json::from_slice(&fs::read(p.join(f)).unwrap()).unwrap() };
    let manifest = read("manifest.json");
    let map = read("production-blocker-map.json");
    let decision = read("next-production-decision-packet.json");
    let probes = read("production-bad-input-design.json");
    let fold = read("governance-fold-442-461-result.json");
    let import: Value = serde_json::from_slice(
        &fs::read(root().join("examples/fix7/registry/registry-import.json")).unwrap(),
    )
    .unwrap();
    let dir = root().join("schemas");
    let mut cases: Vec<(&str, Vec<String>)> = Vec::new();
    // Each instance holds exactly one wrong id; each must be refused.
    cases.push((
        "packet-manifest.schema.json",
        vec![
            edited(w, "object-id-no-number.json", &manifest, |m| {
                m["object_ids"]["first"] = Value::from("TKT-OBJ-")
            }),
            edited(w, "object-id-letter.json", &manifest, |m| {
                m["object_ids"]["last"] = Value::from("TKT-OBJ-48l")
            }),
        ],
    ));
    cases.push((
        "registry-import.schema.json",
        vec![edited(w, "claim-id-bare-number.json", &import, |r| {
            r["claims"][0]["first"] = Value::from("442")
        })],
    ));
    cases.push((
        "fold-result.schema.json",
        vec![edited(w, "fold-id-space.json", &fold, |f| {
            f["range"]["first_id"] = Value::from("TKT OBJ-442")
        })],
    ));
    cases.push((
        "production-blocker-map.schema.json",
        vec![
            edited(w, "blocker-id-space.json", &map, |m| {
                m["blockers"][0]["id"] = Value::from("BLK CI")
            }),
            edited(w, "blocker-id-unknown-kind.json", &map, |m| {
                m["blockers"][0]["id"] = Value::from("changed-surface:x")
            }),
        ],
    ));
    cases.push((
        "next-production-decision-packet.schema.json",
        vec![edited(w, "open-blocker-empty-key.json", &decision, |d| {
            d["open_blockers"][0] = Value::from("unknown-surface:")
        })],
    ));
    cases.push((
        "production-bad-input-design.schema.json",
        vec![
            edited(w, "probe-class-upper.json", &probes, |r| {
                r["probes"][0]["class"] = Value::from("Tampered_Artifact")
            }),
            edited(w, "probe-id-no-name.json", &probes, |r| {
                r["probes"][0]["id"] = Value::from("tampered-artifact")
            }),
        ],
    ));
    cases.push((
        "packet-manifest.schema.json",
        vec![edited(w, "artifact-sha-short.json", &manifest, |m| {
            m["artifacts"][0]["sha256"] = Value::from("abc123")
        })],
    ));
    // The unedited documents validate (so each refusal is the one edit).
    let good: Vec<(&str, Vec<String>)> = vec![
        (
            "packet-manifest.schema.json",
            vec![p.join("manifest.json").display().to_string()],
        ),
        (
            "production-blocker-map.schema.json",
            vec![p.join("production-blocker-map.json").display().to_string()],
        ),
        (
            "production-bad-input-design.schema.json",
            vec![
                p.join("production-bad-input-design.json")
                    .display()
                    .to_string(),
            ],
        ),
        (
            "fold-result.schema.json",
            vec![
                p.join("governance-fold-442-461-result.json")
                    .display()
                    .to_string(),
            ],
        ),
        (
            "registry-import.schema.json",
            vec![
                root()
                    .join("examples/fix7/registry/registry-import.json")
                    .display()
                    .to_string(),
            ],
        ),
        (
            "next-production-decision-packet.schema.json",
            vec![
                p.join("next-production-decision-packet.json")
                    .display()
                    .to_string(),
            ],
        ),
    ];
    let job = |cs: &[(&str, Vec<String>)]| json!({"schemas": cs.iter().map(|(s, i)| json!({"name": s, "file": dir.join(s), "instances": i})).collect::<Vec<_>>()});
    let ((ajv_code, ajv_out), (py_code, py_out)) = validate_both(w, &job(&good));
    assert_eq!(ajv_code, 0, "Ajv refuses a good document:\n{ajv_out}");
    assert_eq!(py_code, 0, "jsonschema refuses a good document:\n{py_out}");
    let ((ajv_code, ajv_out), (py_code, py_out)) = validate_both(w, &job(&cases));
    assert_ne!(ajv_code, 0);
    assert_ne!(py_code, 0);
    for f in cases.iter().flat_map(|(_, i)| i) {
        assert!(
            ajv_out.contains(&format!("INVALID {f} ")),
            "Ajv accepts {f}:\n{ajv_out}"
        );
        assert!(
            py_out.contains(&format!("INVALID {f} ")),
            "jsonschema accepts {f}:\n{py_out}"
        );
    }
    assert!(ajv_out.contains("pattern"), "{ajv_out}");
}
