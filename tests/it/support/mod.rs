//! Helpers shared by integration tests.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub mod oscal_schema;
pub mod pg;
pub mod pytools;
pub mod validators;

/// The `holdfast` binary this test build made, ready to be given arguments.
pub fn holdfast() -> Command {
    Command::cargo_bin("holdfast").unwrap()
}

/// The FIX7 example spec that ships in the repository.
pub fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fix7")
}

/// Copies the tree `from` into `to` (directories, then files byte for byte).
pub fn copy_tree(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let dest = to.join(e.path().strip_prefix(from).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// Replaces the first occurrence of each `from` in the file `path` by its
/// `to`; a `from` the file lacks fails the test.
pub fn replace(path: &Path, pairs: &[(&str, &str)]) {
    let mut t = std::fs::read_to_string(path).unwrap();
    for (from, to) in pairs {
        assert!(t.contains(from), "{}: lacks {from:?}", path.display());
        t = t.replacen(from, to, 1);
    }
    std::fs::write(path, t).unwrap();
}

/// Fills the TODO markers of the `packet.toml` that `holdfast init` wrote in
/// `spec`, the way their comments say.
pub fn fill_init_packet_toml(spec: &Path) {
    replace(
        &spec.join("packet.toml"),
        &[
            ("macro = \"TODO\"", "macro = \"PAYMENTS_CONFIG_REVIEW\""),
            (
                "status_prefix = \"TODO\"",
                "status_prefix = \"PAYMENTS_REVIEW\"",
            ),
            ("title = \"TODO\"", "title = \"Payments config review\""),
            ("date = \"TODO\"", "date = \"2026-12-01\""),
            (
                "text = \"TODO\"",
                "text = \"The SRE lead: read-only scoping.\"",
            ),
        ],
    );
}

/// Fills the rest of an `init` scaffold in `spec` (surfaces.toml, the plan)
/// and adds the evidence file its surface cites: with
/// [`fill_init_packet_toml`], a spec that gives a READY packet.
pub fn fill_init_surfaces_and_plan(spec: &Path) {
    replace(
        &spec.join("surfaces.toml"),
        &[
            (
                "name = \"TODO\"",
                "name = \"Payments service configuration\"",
            ),
            ("gate = \"TODO\"", "gate = \"a reviewed merge request\""),
        ],
    );
    let plan = spec.join("production-rollback-rehearsal-plan.md");
    let filled: String = std::fs::read_to_string(&plan)
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with("- TODO") {
                "- Done by the on-call SRE, from git.".to_string()
            } else {
                l.replace("(TODO)", "(Payments service configuration)")
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&plan, filled + "\n").unwrap();
    std::fs::write(spec.join("source/payments.yaml"), "timeout_ms: 300\n").unwrap();
}

/// A filled `holdfast init` scaffold in `dir/spec` grown to two boundaries
/// over four surfaces, each counted differently, plus a user gate probe with
/// a positive control (a gate that tells a signed input from an unsigned
/// one); `classes` is the `[probes] classes` list to run.
///
/// - `service-config` and `feature-flags` (production, files): UNTOUCHED,
///   each in both boundaries;
/// - `deploy-pipeline` (ci-deploy, no snapshot method): DECLARED_NOT_CONTACTED,
///   in `no-deploy-trigger` only;
/// - `audit-log` (production, files): UNTOUCHED, in no boundary.
pub fn two_boundary_spec(dir: &Path, classes: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let spec = dir.join("spec");
    holdfast().arg("init").arg(&spec).assert().success();
    fill_init_packet_toml(&spec);
    fill_init_surfaces_and_plan(&spec);
    for (d, f) in [("flags", "flags.yaml"), ("audit", "audit.log")] {
        std::fs::create_dir_all(spec.join(d)).unwrap();
        std::fs::write(spec.join(d).join(f), format!("{f}\n")).unwrap();
    }
    let more = r#"
[[surface]]
id = "feature-flags"
table = "production"
name = "Feature flags"
kind = "config"
status = "known"
risk = "high"
gate = "a reviewed merge request"
[[surface.evidence]]
path = "payments.yaml"
[surface.snapshot]
method = "files"
root = "flags"

[[surface]]
id = "audit-log"
table = "production"
name = "Audit log"
kind = "log"
status = "known"
risk = "low"
gate = "none: append-only"
[[surface.evidence]]
path = "payments.yaml"
[surface.snapshot]
method = "files"
root = "audit"

[[surface]]
id = "deploy-pipeline"
table = "ci-deploy"
name = "Deploy pipeline"
kind = "ci"
status = "known"
risk = "low"
gate = "a release manager"
[[surface.evidence]]
path = "payments.yaml"

[[boundary]]
id = "no-deploy-trigger"
title = "NO deploy trigger"
surfaces = ["deploy-pipeline", "service-config", "feature-flags"]
"#;
    let surfaces = spec.join("surfaces.toml");
    let text = std::fs::read_to_string(&surfaces).unwrap();
    std::fs::write(&surfaces, text + more).unwrap();
    replace(
        &surfaces,
        &[(
            "surfaces = [\"service-config\"]",
            "surfaces = [\"service-config\", \"feature-flags\"]",
        )],
    );
    std::fs::create_dir_all(spec.join("inputs")).unwrap();
    std::fs::write(spec.join("inputs/unsigned.json"), "{\"signed\": false}\n").unwrap();
    std::fs::write(spec.join("inputs/signed.json"), "{\"signed\": true}\n").unwrap();
    let gate = spec.join("ci/deploy-gate");
    std::fs::create_dir_all(gate.parent().unwrap()).unwrap();
    std::fs::write(
        &gate,
        "#!/bin/sh\ngrep -q '\"signed\": true' \"$1\" && exit 0\necho unsigned >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&gate, std::fs::Permissions::from_mode(0o755)).unwrap();
    let gates = spec.join("gates.toml");
    let text = std::fs::read_to_string(&gates).unwrap().replacen(
        "[probes]\n",
        &format!("[probes]\nclasses = {classes}\n"),
        1,
    );
    std::fs::write(
        &gates,
        text + "\n[[probe]]\nid = \"deploy-gate-unsigned\"\ncommand = [\"./ci/deploy-gate\"]\ninput_file = \"inputs/unsigned.json\"\naccept_file = \"inputs/signed.json\"\n",
    )
    .unwrap();
    spec
}
