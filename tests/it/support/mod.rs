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
