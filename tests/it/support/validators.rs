//! The JSON Schema validators the schema tests run: Ajv in strict mode
//! (npm `ajv`, draft 2020-12, with `ajv-formats`, installed into
//! `target/tmp/ajv` when missing) and Python `jsonschema` (in the venv of
//! [`super::pytools`]). A validator that cannot be installed fails the
//! test with a message saying so.

use super::pytools;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::Mutex;

use serde_json::Value;

static NPM: Mutex<()> = Mutex::new(());

/// The directory whose `node_modules` holds ajv and ajv-formats.
pub fn ajv_dir() -> PathBuf {
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
pub fn validate_both(work: &Path, job: &Value) -> ((i32, String), (i32, String)) {
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

const AJV_DRAFT7_SCRIPT: &str = r#"
const Ajv = require("ajv");
const addFormats = require("ajv-formats");
const fs = require("fs");
const [schemaFile, ...docs] = process.argv.slice(2);
// NIST's schemas are not written for Ajv's strict mode (it refuses some
// keyword combinations they use); every keyword is still applied.
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaFile, "utf8")));
let failed = 0;
for (const d of docs) {
  if (!validate(JSON.parse(fs.readFileSync(d, "utf8")))) {
    console.log("INVALID " + d + ": " + JSON.stringify(validate.errors.slice(0, 5)));
    failed++;
  } else {
    console.log("VALID " + d);
  }
}
process.exit(failed ? 1 : 0);
"#;

/// Validates `docs` against a draft-07 `schema` with Ajv (formats on);
/// returns Ajv's exit code and output (`VALID f` / `INVALID f: errors`).
pub fn ajv_draft7(work: &Path, schema: &Path, docs: &[PathBuf]) -> (i32, String) {
    let js = work.join("ajv-draft7-check.js");
    fs::write(&js, AJV_DRAFT7_SCRIPT).unwrap();
    let out = Process::new("node")
        .arg(&js)
        .arg(schema)
        .args(docs)
        .env("NODE_PATH", ajv_dir().join("node_modules"))
        .output()
        .expect("node is needed to run Ajv");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
