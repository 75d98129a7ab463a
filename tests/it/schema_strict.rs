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

use crate::support::pytools;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::Mutex;

use assert_cmd::Command;
use serde_json::{Value, json};

fn holdfast() -> Command {
    Command::cargo_bin("holdfast").unwrap()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

static NPM: Mutex<()> = Mutex::new(());

/// The directory whose `node_modules` holds ajv and ajv-formats.
fn ajv_dir() -> PathBuf {
    let _g = NPM.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ajv");
    if dir.join("node_modules/ajv-formats/package.json").is_file()
        && dir.join("node_modules/ajv/package.json").is_file()
    {
        return dir;
    }
    fs::create_dir_all(&dir).unwrap();
    let out = Process::new("npm")
        .args([
            "install",
            "--silent",
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--prefix",
        ])
        .arg(&dir)
        .args(["ajv@8", "ajv-formats@3"])
        .output()
        .unwrap_or_else(|e| panic!("npm is needed to install Ajv (CI has node and npm): {e}"));
    assert!(
        out.status.success(),
        "npm could not install ajv and ajv-formats into {} (the npm registry must be reachable): {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

const AJV_SCRIPT: &str = r#"
const Ajv2020 = require("ajv/dist/2020");
const addFormats = require("ajv-formats");
const fs = require("fs");
const job = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
let failed = 0;
for (const s of job.schemas) {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  let validate;
  try {
    validate = ajv.compile(JSON.parse(fs.readFileSync(s.file, "utf8")));
  } catch (e) {
    console.log("COMPILE " + s.name + ": " + e.message);
    failed++;
    continue;
  }
  for (const i of s.instances) {
    const v = JSON.parse(fs.readFileSync(i, "utf8"));
    if (!validate(v)) {
      console.log("INVALID " + i + " against " + s.name + ": " + JSON.stringify(validate.errors));
      failed++;
    }
  }
}
process.exit(failed ? 1 : 0);
"#;

const PY_SCRIPT: &str = r#"
import json, sys
from jsonschema import Draft202012Validator, FormatChecker
job = json.load(open(sys.argv[1]))
failed = 0
for s in job["schemas"]:
    schema = json.load(open(s["file"]))
    try:
        Draft202012Validator.check_schema(schema)
    except Exception as e:
        print("SCHEMA " + s["name"] + ": " + str(e).splitlines()[0]); failed += 1; continue
    v = Draft202012Validator(schema, format_checker=FormatChecker())
    for i in s["instances"]:
        errs = [e.message for e in v.iter_errors(json.load(open(i)))]
        if errs:
            print("INVALID " + i + " against " + s["name"] + ": " + "; ".join(errs[:3])); failed += 1
sys.exit(1 if failed else 0)
"#;

/// Runs both validators on `job` ({"schemas": [{"name", "file", "instances"}]});
/// returns (Ajv exit code and output, jsonschema exit code and output).
fn validate_both(work: &Path, job: &Value) -> ((i32, String), (i32, String)) {
    let job_file = work.join(format!("job-{}.json", rand_name(job)));
    fs::write(&job_file, job.to_string()).unwrap();
    let js = work.join("ajv-check.js");
    fs::write(&js, AJV_SCRIPT).unwrap();
    let out = Process::new("node")
        .arg(&js)
        .arg(&job_file)
        .env("NODE_PATH", ajv_dir().join("node_modules"))
        .output()
        .expect("node is needed to run Ajv");
    let ajv = (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    );
    let (code, o, e) = pytools::run(&["-c", PY_SCRIPT, &job_file.display().to_string()]);
    (ajv, (code, format!("{o}{e}")))
}

fn rand_name(v: &Value) -> String {
    holdfast::digest::sha256_hex(v.to_string().as_bytes())[..12].to_string()
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
    // The --json outputs with a schema.
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
