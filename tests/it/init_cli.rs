//! `holdfast init` in an empty directory scaffolds a whole spec; `run`
//! refuses it while a TODO marker is left, and gives a READY packet once
//! every TODO is filled in the way its comment says.

use std::fs;

use crate::support::{fill_init_packet_toml, fill_init_surfaces_and_plan, holdfast};
use predicates::prelude::*;

#[test]
fn init_scaffolds_a_spec_that_run_refuses_until_filled_in_then_makes_ready() {
    let t = tempfile::tempdir().unwrap();
    let spec = t.path().join("spec");
    holdfast()
        .arg("init")
        .arg(&spec)
        .assert()
        .success()
        .stdout(predicate::str::contains("next: fill in every TODO"));
    for f in [
        "packet.toml",
        "surfaces.toml",
        "gates.toml",
        "production-rollback-rehearsal-plan.md",
        "registry/registry-import.json",
        "source/README.md",
    ] {
        assert!(spec.join(f).is_file(), "init wrote {f}");
    }
    // Unfilled: refused before anything is written, naming the file and line.
    let packet = t.path().join("packet");
    holdfast()
        .arg("run")
        .arg(&spec)
        .arg("--out")
        .arg(&packet)
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "packet.toml: line 8: still holds a TODO marker from `holdfast init` (macro = \"TODO\"); replace it",
        ));
    assert!(!packet.exists());

    fill_init_packet_toml(&spec);
    // packet.toml filled, surfaces.toml not yet: the next TODO is named.
    holdfast()
        .arg("run")
        .arg(&spec)
        .arg("--out")
        .arg(&packet)
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "surfaces.toml: line 14: still holds a TODO marker",
        ));
    fill_init_surfaces_and_plan(&spec);

    holdfast()
        .arg("run")
        .arg(&spec)
        .arg("--out")
        .arg(&packet)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "PAYMENTS_REVIEW_READY · decision HOLD_PRODUCTION",
        ));
    holdfast()
        .args(["verify", "--rerun"])
        .arg(&packet)
        .assert()
        .success();
    // A user probe that cannot run says why on the terminal, not only in the JSON.
    let gates = fs::read_to_string(spec.join("gates.toml")).unwrap();
    fs::write(
        spec.join("gates.toml"),
        format!(
            "{gates}\n[[probe]]\nid = \"deploy-gate\"\ncommand = [\"./ci/deploy-gate\", \"--check\"]\ninput_file = \"bad-inputs/unsigned.json\"\n"
        ),
    )
    .unwrap();
    holdfast()
        .arg("run")
        .arg(&spec)
        .arg("--out")
        .arg(t.path().join("packet-2"))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("READY").not())
        .stderr(predicate::str::contains(
            "probe user/deploy-gate NOT RUN: input file bad-inputs/unsigned.json does not exist",
        ));
    // Running init again never overwrites.
    holdfast()
        .arg("init")
        .arg(&spec)
        .assert()
        .code(5)
        .stderr(predicate::str::contains(
            "already exists; init never overwrites",
        ));
}
