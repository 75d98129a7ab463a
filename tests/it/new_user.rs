//! The new user's path (issue 16): `init --from`, the messages a user's
//! natural mistakes get (each with the fix it suggests), positive controls
//! for user probes, and packets that carry only their own spec's words.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::{fill_init_packet_toml, fill_init_surfaces_and_plan, holdfast, replace};
use predicates::prelude::*;

/// `holdfast init DIR`, every TODO filled in the way its comment says: a
/// spec that gives a READY packet.
fn filled_scaffold(dir: &Path) -> PathBuf {
    let spec = dir.join("spec");
    holdfast().arg("init").arg(&spec).assert().success();
    fill_init_packet_toml(&spec);
    fill_init_surfaces_and_plan(&spec);
    spec
}

fn run(spec: &Path, out: &Path) -> assert_cmd::assert::Assert {
    holdfast()
        .arg("run")
        .arg(spec)
        .arg("--out")
        .arg(out)
        .assert()
}

fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

// --- init --from -----------------------------------------------------------

#[test]
fn init_from_a_shipped_example_copies_it_whole_and_it_runs_ready() {
    let t = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/config-change");
    let spec = t.path().join("mine");
    holdfast()
        .arg("init")
        .arg(&spec)
        .arg("--from")
        .arg(&example)
        .assert()
        .success()
        .stdout(predicate::str::contains("wrote ").and(predicate::str::contains("next: edit ")));
    for f in all_files(&example) {
        let rel = f.strip_prefix(&example).unwrap();
        assert_eq!(
            fs::read(&f).unwrap(),
            fs::read(spec.join(rel)).unwrap(),
            "{} copied byte for byte",
            rel.display()
        );
    }
    run(&spec, &t.path().join("packet"))
        .success()
        .stdout(predicate::str::contains("_READY"));
    // Never into a directory that holds anything.
    holdfast()
        .arg("init")
        .arg(&spec)
        .arg("--from")
        .arg(&example)
        .assert()
        .code(5)
        .stderr(predicate::str::contains(
            "is not empty; init --from copies into a new or empty directory and never overwrites",
        ));
}

#[test]
fn init_from_a_packet_copies_its_spec_and_names_what_it_does_not_carry() {
    let t = tempfile::tempdir().unwrap();
    let spec = filled_scaffold(t.path());
    let packet = t.path().join("packet");
    run(&spec, &packet).success();
    let again = t.path().join("again");
    fs::create_dir(&again).unwrap(); // an empty directory is accepted
    holdfast()
        .arg("init")
        .arg(&again)
        .arg("--from")
        .arg(&packet)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "next: the packet does not carry registry/registry-import.json, source; put them under",
        ));
    for f in ["packet.toml", "surfaces.toml", "gates.toml"] {
        assert_eq!(
            fs::read(spec.join(f)).unwrap(),
            fs::read(again.join(f)).unwrap(),
            "{f}"
        );
        // The packet's copy is read-only; the spec's is for editing.
        let mode = fs::metadata(again.join(f)).unwrap().permissions().mode();
        assert_eq!(mode & 0o200, 0o200, "{f}: mode {mode:o}");
    }
    // Once the named paths are back, the copy runs to a READY packet.
    fs::create_dir_all(again.join("registry")).unwrap();
    fs::copy(
        spec.join("registry/registry-import.json"),
        again.join("registry/registry-import.json"),
    )
    .unwrap();
    fs::create_dir(again.join("source")).unwrap();
    for f in ["README.md", "payments.yaml"] {
        fs::copy(spec.join("source").join(f), again.join("source").join(f)).unwrap();
    }
    run(&again, &t.path().join("packet-2"))
        .success()
        .stdout(predicate::str::contains("PAYMENTS_REVIEW_READY"));

    // A packet whose seal does not hold is not a start.
    let forged = t.path().join("forged");
    holdfast()
        .arg("init")
        .arg(t.path().join("copy-of-packet"))
        .arg("--from")
        .arg(&packet)
        .assert()
        .success();
    let mut perms = fs::metadata(packet.join("spec/gates.toml"))
        .unwrap()
        .permissions();
    perms.set_mode(0o644);
    fs::set_permissions(packet.join("spec/gates.toml"), perms).unwrap();
    fs::write(packet.join("spec/gates.toml"), "[probes]\n").unwrap();
    holdfast()
        .arg("init")
        .arg(&forged)
        .arg("--from")
        .arg(&packet)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "the packet does not verify (spec/gates.toml",
        ))
        .stderr(predicate::str::contains(
            "init --from copies only a packet whose seal holds",
        ));
    assert!(!forged.exists(), "nothing written");
}

#[test]
fn init_from_something_that_is_neither_a_spec_nor_a_packet_is_named() {
    let t = tempfile::tempdir().unwrap();
    fs::write(t.path().join("notes.txt"), "hi").unwrap();
    holdfast()
        .arg("init")
        .arg(t.path().join("new"))
        .arg("--from")
        .arg(t.path())
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "neither a spec directory (no packet.toml) nor a packet (no spec/packet.toml beside manifest.json); give one of the two, e.g. `holdfast init DIR --from examples/fix7`",
        ));
    assert!(!t.path().join("new").exists());
}

#[test]
fn init_from_refuses_a_spec_holding_a_link() {
    let t = tempfile::tempdir().unwrap();
    let spec = filled_scaffold(t.path());
    std::os::unix::fs::symlink("/etc/passwd", spec.join("source/passwd")).unwrap();
    holdfast()
        .arg("init")
        .arg(t.path().join("new"))
        .arg("--from")
        .arg(&spec)
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "cannot copy the spec: source/passwd is a link or special file",
        ));
    assert!(!t.path().join("new").exists());
}

// --- the messages of a user's natural mistakes -------------------------------

#[test]
fn a_files_root_that_is_a_file_suggests_its_parent_and_include() {
    let t = tempfile::tempdir().unwrap();
    let spec = filled_scaffold(t.path());
    replace(
        &spec.join("surfaces.toml"),
        &[("root = \"source\" ", "root = \"source/payments.yaml\" ")],
    );
    run(&spec, &t.path().join("packet")).code(3).stderr(
        predicate::str::contains(
            "surfaces.toml: line 24, column 1: surface[0].snapshot.root (id \"service-config\"): \"source/payments.yaml\" is a file, not a directory; a files snapshot reads a directory: give its parent and select the file, root = \"source\" with include = [\"payments.yaml\"]",
        ),
    );
}

#[test]
fn a_source_root_outside_the_spec_says_run_only_reads_inside_it() {
    let t = tempfile::tempdir().unwrap();
    let spec = filled_scaffold(t.path());
    fs::create_dir(t.path().join("evidence")).unwrap();
    fs::write(t.path().join("evidence/README.md"), "x\n").unwrap();
    replace(
        &spec.join("packet.toml"),
        &[("root = \"source\"", "root = \"../evidence\"")],
    );
    // `surfaces --source` takes it...
    holdfast()
        .arg("surfaces")
        .arg(spec.join("surfaces.toml"))
        .arg("--source")
        .arg(t.path().join("evidence"))
        .assert()
        .success();
    // ...`run` does not, and says why and what to do.
    run(&spec, &t.path().join("packet")).code(3).stderr(
        predicate::str::contains(
            "packet.toml: source.root: ../evidence must be a relative path inside the spec directory; `holdfast run` reads evidence only from inside the spec directory (unlike `holdfast surfaces --source`, which takes any directory): copy the evidence into the spec directory and name it there, e.g. root = \"source\"",
        ),
    );
}

#[test]
fn snapshot_accepts_the_spec_directory_probe_and_gates_accept() {
    let t = tempfile::tempdir().unwrap();
    let spec = filled_scaffold(t.path());
    let out = t.path().join("snap.json");
    holdfast()
        .arg("snapshot")
        .arg(&spec)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("service-config: files"));
    let by_file = t.path().join("snap-file.json");
    holdfast()
        .arg("snapshot")
        .arg(spec.join("surfaces.toml"))
        .arg("--out")
        .arg(&by_file)
        .assert()
        .success();
    assert_eq!(fs::read(&out).unwrap(), fs::read(&by_file).unwrap());
    // A directory without a surfaces spec is named, with the fix.
    holdfast()
        .arg("snapshot")
        .arg(spec.join("source"))
        .arg("--out")
        .arg(t.path().join("x.json"))
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "source: a spec directory without surfaces.toml; give the surfaces spec file (surfaces.toml) or a directory holding one",
        ));
}

#[test]
fn a_user_probe_whose_command_is_missing_says_so_on_the_terminal() {
    let t = tempfile::tempdir().unwrap();
    let spec = filled_scaffold(t.path());
    fs::create_dir(spec.join("bad")).unwrap();
    fs::write(spec.join("bad/unsigned.json"), "{}\n").unwrap();
    add_probe(
        &spec,
        "[[probe]]\nid = \"deploy-gate\"\ncommand = [\"./ci/deploy-gate\"]\ninput_file = \"bad/unsigned.json\"\n",
    );
    run(&spec, &t.path().join("packet"))
        .code(1)
        .stdout(predicate::str::contains("READY").not())
        .stderr(predicate::str::contains(
            "probe user/deploy-gate NOT RUN: command ./ci/deploy-gate does not exist (a first word with a '/' is relative to the spec directory)",
        ));
    // A program looked up on PATH that is not there is named too.
    replace(
        &spec.join("gates.toml"),
        &[(
            "command = [\"./ci/deploy-gate\"]\n",
            "command = [\"no-such-deploy-gate\"]\n",
        )],
    );
    run(&spec, &t.path().join("packet-2"))
        .code(1)
        .stderr(predicate::str::contains(
            "probe user/deploy-gate NOT RUN: could not start no-such-deploy-gate: ",
        ));
}

#[test]
fn a_user_probe_whose_input_file_is_missing_says_so_on_the_terminal() {
    let t = tempfile::tempdir().unwrap();
    let spec = filled_scaffold(t.path());
    script(&spec.join("ci/gate"), "exit 1");
    add_probe(
        &spec,
        "[[probe]]\nid = \"deploy-gate\"\ncommand = [\"./ci/gate\"]\ninput_file = \"bad/unsigned.json\"\n",
    );
    run(&spec, &t.path().join("packet"))
        .code(1)
        .stdout(predicate::str::contains("READY").not())
        .stderr(
            predicate::str::contains("1 probe(s) not run: user/deploy-gate").and(
                predicate::str::contains(
                    "probe user/deploy-gate NOT RUN: input file bad/unsigned.json does not exist",
                ),
            ),
        );
}

// --- positive controls of user probes -----------------------------------------

/// Appends `probe` to the spec's gates.toml and runs only the user class
/// (the built-in classes are tested elsewhere; this keeps each run short).
fn add_probe(spec: &Path, probe: &str) {
    let p = spec.join("gates.toml");
    let gates = fs::read_to_string(&p).unwrap().replacen(
        "[probes]\n",
        "[probes]\nclasses = [\"user\"]\n",
        1,
    );
    fs::write(&p, format!("{gates}\n{probe}")).unwrap();
}

fn script(path: &Path, body: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

fn with_inputs(spec: &Path) {
    fs::create_dir_all(spec.join("inputs")).unwrap();
    fs::write(spec.join("inputs/unsigned.json"), "{\"signed\": false}\n").unwrap();
    fs::write(spec.join("inputs/signed.json"), "{\"signed\": true}\n").unwrap();
}

fn readme(packet: &Path) -> String {
    fs::read_to_string(packet.join("README.md")).unwrap()
}

#[test]
fn a_gate_that_refuses_everything_is_caught_only_by_its_positive_control() {
    let t = tempfile::tempdir().unwrap();
    let spec = filled_scaffold(t.path());
    with_inputs(&spec);
    script(&spec.join("ci/gate"), "echo refused >&2\nexit 1");

    // Without a positive control: the probe "fails closed", the packet says
    // it has no control.
    add_probe(
        &spec,
        "[[probe]]\nid = \"deploy-gate\"\ncommand = [\"./ci/gate\"]\ninput_file = \"inputs/unsigned.json\"\n",
    );
    let p1 = t.path().join("p1");
    run(&spec, &p1).success();
    assert!(
        readme(&p1).contains("  - `deploy-gate` — FAIL-CLOSED; no positive control (a gate that refuses everything would pass this probe too)."),
        "{}",
        readme(&p1)
    );

    // With one: the control fails, the packet is not READY and says the
    // gate is misconfigured, on the terminal and in the README.
    replace(
        &spec.join("gates.toml"),
        &[(
            "input_file = \"inputs/unsigned.json\"\n",
            "input_file = \"inputs/unsigned.json\"\naccept_file = \"inputs/signed.json\"\n",
        )],
    );
    let p2 = t.path().join("p2");
    run(&spec, &p2)
        .code(1)
        .stdout(predicate::str::contains("READY").not())
        .stderr(predicate::str::contains(
            "control user/deploy-gate FAILED: the gate refused the input it must accept (exit 1): refused",
        ));
    assert!(
        readme(&p2).contains("  - `deploy-gate` — UNEXPECTED; positive control FAILED, the gate is misconfigured: the gate refused the input it must accept (exit 1): refused."),
        "{}",
        readme(&p2)
    );
    // The packet is whole: its seal holds (a failed gate is recorded, not hidden).
    holdfast().arg("verify").arg(&p2).assert().success();

    // The control of the control: a gate that tells good from bad passes,
    // and the packet says its control was accepted.
    script(
        &spec.join("ci/gate"),
        "grep -q '\"signed\": true' \"$1\" && exit 0\necho unsigned >&2\nexit 1",
    );
    let p3 = t.path().join("p3");
    run(&spec, &p3)
        .success()
        .stdout(predicate::str::contains("PAYMENTS_REVIEW_READY"));
    assert!(
        readme(&p3).contains("  - `deploy-gate` — FAIL-CLOSED; positive control accepted."),
        "{}",
        readme(&p3)
    );
}

#[test]
fn the_policy_can_require_a_positive_control() {
    let t = tempfile::tempdir().unwrap();
    let spec = filled_scaffold(t.path());
    with_inputs(&spec);
    script(
        &spec.join("ci/gate"),
        "grep -q '\"signed\": true' \"$1\" && exit 0\nexit 1",
    );
    add_probe(
        &spec,
        "[[probe]]\nid = \"deploy-gate\"\ncommand = [\"./ci/gate\"]\ninput_file = \"inputs/unsigned.json\"\n",
    );
    replace(
        &spec.join("gates.toml"),
        &[("[probes]\n", "[probes]\nrequire_positive_control = true\n")],
    );
    run(&spec, &t.path().join("p1"))
        .code(1)
        .stderr(predicate::str::contains(
            "control user/deploy-gate FAILED: no positive control: [probes] require_positive_control is set and this probe has no accept_file",
        ));
    // Declared, it passes (the gate accepts the good input).
    replace(
        &spec.join("gates.toml"),
        &[(
            "input_file = \"inputs/unsigned.json\"\n",
            "input_file = \"inputs/unsigned.json\"\naccept_file = \"inputs/signed.json\"\n",
        )],
    );
    run(&spec, &t.path().join("p2")).success();
}

#[test]
fn an_accept_file_that_is_the_bad_input_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let spec = filled_scaffold(t.path());
    with_inputs(&spec);
    add_probe(
        &spec,
        "[[probe]]\nid = \"g\"\ncommand = [\"./ci/gate\"]\ninput_file = \"inputs/unsigned.json\"\naccept_file = \"inputs/unsigned.json\"\n",
    );
    run(&spec, &t.path().join("p"))
        .code(3)
        .stderr(predicate::str::contains(
            "probe[0].accept_file: inputs/unsigned.json is also the probe's input_file",
        ));
}

// --- labels from the spec -------------------------------------------------------

/// The seed's own words: in a packet of another spec each is a borrowed label.
const FIX7_WORDS: [&str; 8] = [
    "FIX7",
    "FIX6",
    "Macro",
    "Table B",
    "Table C",
    "REAL_RUN",
    "canonical mutation",
    "cutover",
];

#[test]
fn a_packet_of_the_init_scaffold_has_none_of_fix7s_vocabulary() {
    let t = tempfile::tempdir().unwrap();
    let spec = filled_scaffold(t.path());
    let packet = t.path().join("packet");
    run(&spec, &packet).success();
    let files = all_files(&packet);
    assert!(files.len() > 15, "{files:?}");
    for f in files {
        // The spec's own keys (`real_run_cutover`) are its format, not words.
        let text = fs::read_to_string(&f)
            .unwrap()
            .replace("real_run_cutover", "");
        for w in FIX7_WORDS {
            assert!(
                !text.contains(w),
                "{} holds FIX7's word {w:?}",
                f.strip_prefix(&packet).unwrap().display()
            );
        }
    }
}

#[test]
fn the_fix7_packet_keeps_the_seeds_words_from_its_own_spec() {
    let t = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fix7");
    let packet = t.path().join("packet");
    run(&example, &packet).success();
    let r = readme(&packet);
    for line in [
        "- Macro: `FIX7_P0_PRODUCTION_READINESS_SURFACE_SCOPING_AND_GOVERNANCE_LANE_MACRO_2026_06_12`",
        "- Production mutation: NO · REAL_RUN/cutover: NO · Live-system contact: NONE",
        "- Production surface inventory (`production-surface-inventory.json`, Table B) — 11 surfaces",
        "- CI/deploy surface inventory (`ci-deploy-surface-inventory.json`, Table C) — 4 surfaces",
        "9/9 classes fail-closed",
        "The only canonical mutation is the authorized registry fold 442..461.",
    ] {
        assert!(r.contains(line), "README lacks {line:?}:\n{r}");
    }
    assert!(
        !r.contains("Your own gate probes"),
        "FIX7 has no user probe"
    );
    let html = fs::read_to_string(packet.join("index.html")).unwrap();
    for s in [
        "<dt>Macro</dt>",
        "<dt>REAL_RUN / cutover</dt>",
        "Table B: production surfaces</h2>",
    ] {
        assert!(html.contains(s), "index.html lacks {s:?}");
    }
}

#[test]
fn a_label_with_markup_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let spec = filled_scaffold(t.path());
    replace(
        &spec.join("surfaces.toml"),
        &[(
            "[[surface]]\n",
            "[labels]\nproduction = \"<b>Table</b>\"\n\n[[surface]]\n",
        )],
    );
    run(&spec, &t.path().join("p"))
        .code(3)
        .stderr(predicate::str::contains(
            "labels.production: '<' is not allowed in a label",
        ));
}

// --- counts that add up ---------------------------------------------------------

/// The numbers of a sum "4 UNTOUCHED + 1 DECLARED_NOT_CONTACTED" (or "0").
fn terms(sum: &str) -> Vec<usize> {
    sum.split(" + ")
        .map(|t| t.split(' ').next().unwrap().parse().unwrap())
        .collect()
}

/// The text of `line` between `from` and the next `to`.
fn between<'a>(line: &'a str, from: &str, to: &str) -> &'a str {
    let rest = &line[line
        .find(from)
        .unwrap_or_else(|| panic!("{from:?} not in {line:?}"))
        + from.len()..];
    &rest[..rest
        .find(to)
        .unwrap_or_else(|| panic!("{to:?} not after {from:?} in {line:?}"))]
}

#[test]
fn the_readme_counts_add_up_per_boundary_and_per_surface() {
    let t = tempfile::tempdir().unwrap();
    let spec = crate::support::two_boundary_spec(t.path(), "[\"user\"]");
    let packet = t.path().join("packet");
    run(&spec, &packet).success();
    let r = readme(&packet);

    // The figures, as a reader sees them.
    for line in [
        "PROVEN: 2 boundaries over 4 surfaces; 3 UNTOUCHED by digest, 1 declared not contacted (weaker: no snapshot method), 0 CHANGED;",
        "Each surface has one status: 3 UNTOUCHED + 1 DECLARED_NOT_CONTACTED = 4 surfaces (3 production + 1 CI/deploy); per boundary under Boundaries.",
        "- NO production change — held; 2 UNTOUCHED = 2 surfaces; covers service-config, feature-flags.",
        "- NO deploy trigger — held; 2 UNTOUCHED + 1 DECLARED_NOT_CONTACTED = 3 surfaces; covers service-config, feature-flags, deploy-pipeline.",
        "Per surface: 4 surfaces = 1 in one boundary + 2 in 2 boundaries (`feature-flags`: no-production-change, no-deploy-trigger; `service-config`: no-production-change, no-deploy-trigger) + 1 in no boundary (`audit-log`: not a forbidden surface). The boundary lines above hold 1×1 + 2×2 = 5 surface entries: 4 UNTOUCHED + 1 DECLARED_NOT_CONTACTED.",
    ] {
        assert!(r.contains(line), "README lacks {line:?}:\n{r}");
    }

    // And they add up, checked against the proof's own lists: each sum's
    // terms make its total, the boundary lines make the entries, the
    // surfaces by boundary count make the surfaces.
    let proof: serde_json::Value =
        serde_json::from_slice(&fs::read(packet.join("forbidden-surface-proof.json")).unwrap())
            .unwrap();
    let surfaces = proof["surfaces"].as_array().unwrap().len();
    let overall = between(&r, "Each surface has one status: ", "; per boundary");
    let (overall, by_table) = overall.split_once(" surfaces (").unwrap();
    let (sum, total) = overall.split_once(" = ").unwrap();
    assert_eq!(
        terms(sum).iter().sum::<usize>(),
        total.parse::<usize>().unwrap()
    );
    assert_eq!(total.parse::<usize>().unwrap(), surfaces);
    let by_table = by_table.strip_suffix(')').unwrap();
    assert_eq!(terms(by_table).iter().sum::<usize>(), surfaces);

    let mut entries = 0;
    for b in proof["boundaries"].as_array().unwrap() {
        let title = b["title"].as_str().unwrap();
        let line = r
            .lines()
            .find(|l| l.starts_with(&format!("- {title} — ")))
            .unwrap_or_else(|| panic!("no line for boundary {title}"));
        let (sum, total) = between(line, "held; ", " surface")
            .split_once(" = ")
            .unwrap();
        let total: usize = total.parse().unwrap();
        assert_eq!(terms(sum).iter().sum::<usize>(), total, "{line}");
        assert_eq!(total, b["surfaces"].as_array().unwrap().len(), "{line}");
        entries += total;
    }
    let per_surface = r.lines().find(|l| l.starts_with("Per surface: ")).unwrap();
    let held = between(per_surface, "hold ", " surface entries");
    let (products, n) = held.split_once(" = ").unwrap();
    assert_eq!(n.parse::<usize>().unwrap(), entries, "{per_surface}");
    let from_products: usize = products
        .split(" + ")
        .map(|p| {
            let (a, b) = p.split_once('×').unwrap();
            a.parse::<usize>().unwrap() * b.parse::<usize>().unwrap()
        })
        .sum();
    assert_eq!(from_products, entries, "{per_surface}");
    let statuses = between(per_surface, "surface entries: ", ".");
    assert_eq!(terms(statuses).iter().sum::<usize>(), entries);
    let groups = between(per_surface, " surfaces = ", ". The boundary");
    let counted: usize = groups
        .split(" + ")
        .map(|g| g.split(' ').next().unwrap().parse::<usize>().unwrap())
        .sum();
    assert_eq!(counted, surfaces, "{per_surface}");
}
