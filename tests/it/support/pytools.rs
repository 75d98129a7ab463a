//! A Python virtualenv with the validators the export and schema tests run
//! (`bagit`, `compliance-trestle`, `jsonschema`), created under
//! `target/tmp/pyvenv` when missing. A tool that cannot be installed fails
//! the test with a message saying so: nothing is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The packages the venv holds.
pub const PACKAGES: &[&str] = &["bagit", "compliance-trestle", "jsonschema"];

static LOCK: Mutex<()> = Mutex::new(());

/// The venv's `python`, created (and the packages installed) when missing.
/// `HOLDFAST_PYTHON` names an existing interpreter that has them instead.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("HOLDFAST_PYTHON") {
        return PathBuf::from(p);
    }
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pyvenv");
    let py = venv.join("bin/python");
    let ready = venv.join(".holdfast-ready");
    if ready.is_file() {
        return py;
    }
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .unwrap_or_else(|e| panic!("python3 is needed to create {}: {e}", venv.display()));
    assert!(
        status.success(),
        "`python3 -m venv {}` failed: install python3-venv (CI does)",
        venv.display()
    );
    let out = Command::new(&py)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(PACKAGES)
        .output()
        .expect("pip could not be started");
    assert!(
        out.status.success(),
        "pip could not install {PACKAGES:?} into {} (PyPI must be reachable): {}",
        venv.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&ready, PACKAGES.join("\n")).unwrap();
    py
}

/// Runs the venv's `python` with `args`; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(python())
        .args(args)
        .output()
        .expect("python could not be started");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
