//! Every command's `--json` output has a published schema, and what each
//! command really prints validates against it, on success and on failure.
//!
//! The command list is read from the CLI's own `--help` (recursively), so a
//! new command without an entry in `holdfast::cli_output::COMMANDS` fails
//! here. Each command then runs with `--json` on real inputs: at least one
//! success and one failure each, every schema a command declares printed at
//! least once; every output is checked with Ajv (strict) and Python
//! `jsonschema` (see `support::validators`).

use crate::support::validators::validate_both;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use crate::support::holdfast;
use holdfast::cli_output::{COMMANDS, ERROR_SCHEMA};
use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The subcommand names of a `--help` text's `Commands:` section.
fn subcommands(help: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if line.trim_end() == "Commands:" {
            inside = true;
            continue;
        }
        if inside {
            if line.trim().is_empty() {
                break;
            }
            if let Some(name) = line.split_whitespace().next()
                && name != "help"
            {
                out.push(name.to_string());
            }
        }
    }
    out
}

/// Every leaf command of the CLI, as typed (`registry fold`).
fn leaf_commands() -> Vec<String> {
    let mut leaves = Vec::new();
    let mut todo: Vec<Vec<String>> = vec![vec![]];
    while let Some(path) = todo.pop() {
        let o = holdfast().args(&path).arg("--help").output().unwrap();
        assert!(o.status.success(), "holdfast {path:?} --help failed");
        let subs = subcommands(&String::from_utf8_lossy(&o.stdout));
        if subs.is_empty() {
            leaves.push(path.join(" "));
        }
        for s in subs {
            let mut p = path.clone();
            p.push(s);
            todo.push(p);
        }
    }
    leaves.sort();
    leaves
}

#[test]
fn every_command_of_the_cli_has_an_output_schema() {
    let leaves = leaf_commands();
    assert!(leaves.len() >= 20, "{leaves:?}");
    let listed: Vec<String> = COMMANDS.iter().map(|c| c.command.to_string()).collect();
    for l in &leaves {
        assert!(
            listed.contains(l),
            "`holdfast {l}` has no entry in cli_output::COMMANDS (and so no --json schema)"
        );
    }
    for c in &listed {
        assert!(
            leaves.contains(c),
            "cli_output::COMMANDS lists `{c}`, which the CLI does not have"
        );
    }
    let published: Vec<&str> = holdfast::schema::all().iter().map(|p| p.file).collect();
    for c in COMMANDS {
        for s in c.schemas.iter().chain([&ERROR_SCHEMA]) {
            assert!(
                published.contains(s),
                "{}: schema {s} is not published",
                c.command
            );
        }
    }
}

/// One run of a command with `--json`.
struct Case {
    command: &'static str,
    args: Vec<OsString>,
    exit: i32,
    schema: &'static str,
}

fn case<I, S>(command: &'static str, args: I, exit: i32, schema: &'static str) -> Case
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    Case {
        command,
        args: args.into_iter().map(Into::into).collect(),
        exit,
        schema,
    }
}

fn p(path: &Path) -> OsString {
    path.as_os_str().to_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

/// A surfaces spec that `holdfast snapshot` can read on its own (one files
/// surface).
fn files_spec(d: &Path) -> PathBuf {
    fs::create_dir_all(d.join("docs")).unwrap();
    fs::create_dir_all(d.join("secrets")).unwrap();
    fs::write(d.join("docs/vault.md"), "Secrets live here.\n").unwrap();
    fs::write(d.join("secrets/db.env"), "PASSWORD=x\n").unwrap();
    let spec = r#"[[surface]]
id = "prod-secrets"
table = "production"
name = "Secrets"
kind = "secrets"
status = "known"
risk = "critical"
gate = "security review"
[[surface.evidence]]
path = "docs/vault.md"
[surface.snapshot]
method = "files"
root = "secrets"

[[boundary]]
id = "no-secrets-change"
title = "NO secrets change"
surfaces = ["prod-secrets"]
"#;
    fs::write(d.join("surfaces.toml"), spec).unwrap();
    d.join("surfaces.toml")
}

/// Evidence of a scoping run with one open blocker: READY as a scoping
/// status, production not passed.
fn evidence() -> Value {
    json!({
        "status_prefix": "FIX7_P0_SCOPING",
        "missing_artifacts": [],
        "sealed": true,
        "verified": true,
        "probes": [{"id": "tampered-artifact/flip-byte", "outcome": "fail-closed", "token_leaked": false, "timeout_counts_as_fail_closed": false}],
        "proof": {"entries": [{"boundary": "production-mutation", "surface": "pg", "result": "UNTOUCHED"}], "boundary_errors": []},
        "rollback_plan_problems": [],
        "blockers": [{"id": "BLK-OPEN", "open": true}, {"id": "BLK-DONE", "open": false}],
        "options": [{"id": "PROCEED_TO_REHEARSAL", "requires_closed": ["BLK-OPEN"], "requires_gates": []}],
        "authorization": {"text": "SCOPING ONLY", "scope": "scoping"},
        "selected": null
    })
}

#[test]
fn every_json_output_of_every_command_validates_against_its_schema() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path();
    let ex = root().join("examples/fix7");
    let pk = w.join("packet");
    let none = w.join("no-such-file");

    // Fixtures the cases read.
    let sealme = w.join("sealme");
    fs::create_dir(&sealme).unwrap();
    fs::write(sealme.join("a.txt"), "a\n").unwrap();
    let tampered = w.join("tampered");
    let fx = w.join("fx");
    fs::create_dir(&fx).unwrap();
    let surfaces = files_spec(&fx);
    let auth = w.join("auth.toml");
    fs::write(
        &auth,
        "text = \"SCOPING ONLY (+ canonical fold 442..461 if safe).\"\nscope = \"scoping\"\n\n[[mutations]]\nkind = \"registry-fold\"\nsurface = \"governance-registry\"\nrange = \"442..461\"\nif_safe = true\n",
    )
    .unwrap();
    let ev = w.join("evidence.json");
    fs::write(&ev, evidence().to_string()).unwrap();
    let empty_plan = w.join("empty-plan.md");
    fs::write(&empty_plan, "# nothing here\n").unwrap();
    let bad_registry = w.join("bad-registry.json");
    fs::write(&bad_registry, "{\"id_prefix\": ").unwrap();
    let spec_copy = w.join("spec-copy");
    let reg_new = w.join("reg-new");
    let reg = w.join("reg");
    let fold_out = w.join("fold");
    let key = w.join("k");

    let mut cases: Vec<Case> = vec![
        // run (first: the other cases read its packet)
        case(
            "run",
            [p(&ex), "--out".into(), p(&pk)],
            0,
            "cli-run.schema.json",
        ),
        case(
            "run",
            [p(&none), "--out".into(), p(&w.join("x"))],
            4,
            ERROR_SCHEMA,
        ),
        // seal
        case("seal", [p(&sealme)], 0, "cli-seal.schema.json"),
        case("seal", [p(&sealme)], 5, ERROR_SCHEMA),
        // verify (the tampered copy is made below, before it runs)
        case("verify", [p(&pk)], 0, "cli-verify.schema.json"),
        case("verify", [p(&tampered)], 1, "cli-verify.schema.json"),
        case("verify", Vec::<OsString>::new(), 2, ERROR_SCHEMA),
        // registry
        case(
            "registry init",
            [
                "--registry".into(),
                p(&reg_new),
                "init".into(),
                "--prefix".into(),
                "T".into(),
                "--width".into(),
                "3".into(),
            ],
            0,
            "cli-registry-summary.schema.json",
        ),
        case(
            "registry init",
            [
                "--registry".into(),
                p(&reg_new),
                "init".into(),
                "--prefix".into(),
                "T".into(),
                "--width".into(),
                "3".into(),
            ],
            5,
            ERROR_SCHEMA,
        ),
        case(
            "registry import",
            [
                "--registry".into(),
                p(&reg),
                "import".into(),
                p(&ex.join("registry/registry-import.json")),
            ],
            0,
            "cli-registry-summary.schema.json",
        ),
        case(
            "registry import",
            [
                "--registry".into(),
                p(&w.join("reg2")),
                "import".into(),
                p(&none),
            ],
            4,
            ERROR_SCHEMA,
        ),
        case(
            "registry show",
            ["--registry".into(), p(&reg), "show".into()],
            0,
            "cli-registry-summary.schema.json",
        ),
        case(
            "registry show",
            [
                "--registry".into(),
                p(&reg),
                "show".into(),
                "--export".into(),
            ],
            0,
            "registry-import.schema.json",
        ),
        case(
            "registry show",
            ["--registry".into(), p(&none), "show".into()],
            4,
            ERROR_SCHEMA,
        ),
        case(
            "registry log",
            ["--registry".into(), p(&reg), "log".into()],
            0,
            "cli-registry-log.schema.json",
        ),
        case(
            "registry log",
            ["--registry".into(), p(&none), "log".into()],
            4,
            ERROR_SCHEMA,
        ),
        case(
            "registry claim",
            [
                "--registry".into(),
                p(&reg_new),
                "claim".into(),
                "--packet".into(),
                "PKT".into(),
                "--count".into(),
                "2".into(),
            ],
            0,
            "cli-registry-claim.schema.json",
        ),
        case(
            "registry claim",
            [
                "--registry".into(),
                p(&reg_new),
                "claim".into(),
                "--packet".into(),
                "PKT".into(),
                "--count".into(),
                "0".into(),
            ],
            2,
            ERROR_SCHEMA,
        ),
        case(
            "registry check",
            ["--registry".into(), p(&reg), "check".into()],
            0,
            "cli-registry-check.schema.json",
        ),
        case(
            "registry check",
            [
                "--registry".into(),
                p(&reg),
                "check".into(),
                "--file".into(),
                p(&bad_registry),
            ],
            3,
            "cli-registry-check.schema.json",
        ),
        case(
            "registry fold",
            [
                "--registry".into(),
                p(&reg),
                "fold".into(),
                "442..461".into(),
                "--out".into(),
                p(&fold_out),
            ],
            0,
            "cli-registry-fold.schema.json",
        ),
        case(
            "registry fold",
            ["--registry".into(), p(&reg), "fold".into(), "5..3".into()],
            2,
            ERROR_SCHEMA,
        ),
        case(
            "registry rollback",
            [
                "--registry".into(),
                p(&reg),
                "rollback".into(),
                p(&fold_out.join("governance-fold-442-461-result.json")),
            ],
            0,
            "cli-registry-rollback.schema.json",
        ),
        case(
            "registry rollback",
            [
                "--registry".into(),
                p(&reg),
                "rollback".into(),
                p(&fold_out.join("governance-fold-442-461-result.json")),
            ],
            5,
            ERROR_SCHEMA,
        ),
        case(
            "registry verify-history",
            ["--registry".into(), p(&reg), "verify-history".into()],
            0,
            "cli-registry-verify-history.schema.json",
        ),
        case(
            "registry verify-history",
            ["--registry".into(), p(&none), "verify-history".into()],
            4,
            ERROR_SCHEMA,
        ),
        case(
            "registry export",
            [
                "--registry".into(),
                p(&reg),
                "export".into(),
                "--to".into(),
                p(&w.join("exported")),
            ],
            0,
            "cli-registry-export.schema.json",
        ),
        case(
            "registry export",
            [
                "--registry".into(),
                p(&reg),
                "export".into(),
                "--to".into(),
                p(&w.join("exported")),
            ],
            5,
            ERROR_SCHEMA,
        ),
        case(
            "registry import",
            [
                "--registry".into(),
                p(&w.join("imported")),
                "import".into(),
                p(&w.join("exported")),
            ],
            0,
            "cli-registry-export.schema.json",
        ),
        // surfaces, snapshot, prove
        case(
            "surfaces",
            [
                p(&ex.join("surfaces.toml")),
                "--source".into(),
                p(&ex.join("source")),
                "--out".into(),
                p(&w.join("surf")),
            ],
            0,
            "cli-surfaces.schema.json",
        ),
        case(
            "surfaces",
            [p(&surfaces), "--source".into(), p(&w.join("sealme"))],
            1,
            ERROR_SCHEMA,
        ),
        case(
            "snapshot",
            [p(&surfaces), "--out".into(), p(&w.join("snap.json"))],
            0,
            "surface-snapshot.schema.json",
        ),
        case(
            "snapshot",
            [p(&none), "--out".into(), p(&w.join("snap2.json"))],
            4,
            ERROR_SCHEMA,
        ),
        case(
            "prove",
            [
                p(&pk.join("surface-snapshot-before.json")),
                p(&pk.join("surface-snapshot-after.json")),
                "--authorization".into(),
                p(&auth),
                "--fold-result".into(),
                p(&pk.join("governance-fold-442-461-result.json")),
                "--out".into(),
                p(&w.join("proof")),
            ],
            0,
            "forbidden-surface-proof.schema.json",
        ),
        case(
            "prove",
            [
                p(&pk.join("surface-snapshot-before.json")),
                p(&pk.join("surface-snapshot-after.json")),
                "--authorization".into(),
                p(&auth),
                "--out".into(),
                p(&w.join("proof2")),
            ],
            1,
            "forbidden-surface-proof.schema.json",
        ),
        // probe
        case("probe", ["--list"], 0, "cli-probe-list.schema.json"),
        case(
            "probe",
            [p(&ex), "--only".into(), "tampered-artifact".into()],
            0,
            "production-bad-input-design.schema.json",
        ),
        case(
            "probe",
            [
                "--rerun".into(),
                p(&pk.join("production-bad-input-design.json")),
                "--spec".into(),
                p(&ex),
            ],
            0,
            "cli-probe-rerun.schema.json",
        ),
        case("probe", [p(&none)], 4, ERROR_SCHEMA),
        // gates, verdict, plan
        case(
            "gates",
            [p(&ex), "--out".into(), p(&w.join("gates"))],
            0,
            "cli-gates.schema.json",
        ),
        case(
            "gates",
            [p(&none), "--out".into(), p(&w.join("gates2"))],
            4,
            ERROR_SCHEMA,
        ),
        case(
            "verdict",
            [p(&ev), "--require".into(), "scoping".into()],
            0,
            "cli-verdict.schema.json",
        ),
        case("verdict", [p(&ev)], 1, "cli-verdict.schema.json"),
        case(
            "plan check",
            [p(&ex.join("production-rollback-rehearsal-plan.md"))],
            0,
            "cli-plan-check.schema.json",
        ),
        case(
            "plan check",
            [p(&empty_plan)],
            1,
            "cli-plan-check.schema.json",
        ),
        // init, export, keys, signatures
        case("init", [p(&w.join("new-spec"))], 0, "cli-init.schema.json"),
        case("init", [p(&w.join("new-spec"))], 5, ERROR_SCHEMA),
        case(
            "export",
            [p(&pk), "--bagit".into(), p(&w.join("bag"))],
            0,
            "cli-export.schema.json",
        ),
        case(
            "export",
            [p(&pk), "--oscal".into(), p(&w.join("oscal"))],
            0,
            "cli-export.schema.json",
        ),
        case(
            "export",
            [p(&tampered), "--oscal".into(), p(&w.join("oscal2"))],
            1,
            ERROR_SCHEMA,
        ),
        case("key generate", [p(&key)], 0, "cli-key-generate.schema.json"),
        case("key generate", [p(&key)], 5, ERROR_SCHEMA),
        case(
            "authorize",
            [p(&spec_copy), "--key".into(), p(&w.join("k.key"))],
            0,
            "cli-authorize.schema.json",
        ),
        case(
            "authorize",
            [p(&none), "--key".into(), p(&w.join("k.key"))],
            4,
            ERROR_SCHEMA,
        ),
        case(
            "sign",
            [p(&pk), "--key".into(), p(&w.join("k.key"))],
            0,
            "cli-sign.schema.json",
        ),
        case(
            "sign",
            [p(&sealme), "--key".into(), p(&none)],
            4,
            ERROR_SCHEMA,
        ),
    ];
    // A command line clap refuses prints the JSON error too: an unknown
    // flag, a missing subcommand.
    cases.push(case("verify", ["--no-such-flag"], 2, ERROR_SCHEMA));
    cases.push(case(
        "registry log",
        Vec::<OsString>::new(),
        2,
        ERROR_SCHEMA,
    ));

    let out_dir = w.join("outputs");
    fs::create_dir(&out_dir).unwrap();
    let mut by_schema: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut ok: BTreeSet<&str> = BTreeSet::new();
    let mut failed: BTreeSet<&str> = BTreeSet::new();
    let mut printed: BTreeSet<(&str, &str)> = BTreeSet::new();
    assert_eq!(cases[0].command, "run", "the packet is made first");
    for (i, c) in cases.iter().enumerate() {
        if i == 1 {
            // The packet exists now. A tampered copy (one byte of an
            // artifact changed) and a copy of the spec to authorize.
            copy_dir(&pk, &tampered);
            let f = tampered.join("production-blocker-map.md");
            let mut b = fs::read(&f).unwrap();
            b[0] ^= 1;
            fs::write(&f, b).unwrap();
            copy_dir(&ex, &spec_copy);
        }
        let words: Vec<&str> = c.command.split(' ').collect();
        let mut cmd = holdfast();
        cmd.arg("--json");
        // `registry SUB`: the registry flag comes first in the args.
        if words[0] == "registry" {
            cmd.arg("registry");
        } else {
            cmd.args(&words);
        }
        let o = cmd.args(&c.args).output().unwrap();
        let code = o.status.code().unwrap_or(-1);
        assert_eq!(
            code,
            c.exit,
            "holdfast --json {} {:?}: exit {code}\nstdout: {}\nstderr: {}",
            c.command,
            c.args,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!(
                "holdfast --json {} {:?} printed no JSON ({e}): {}",
                c.command,
                c.args,
                String::from_utf8_lossy(&o.stdout)
            )
        });
        if c.schema == ERROR_SCHEMA {
            assert_eq!(v["error"]["exit_code"], json!(c.exit), "{v}");
        }
        let declared = COMMANDS
            .iter()
            .find(|d| d.command == c.command)
            .unwrap_or_else(|| panic!("{} is not in COMMANDS", c.command));
        assert!(
            declared.schemas.contains(&c.schema) || c.schema == ERROR_SCHEMA,
            "{} printed {} which COMMANDS does not declare",
            c.command,
            c.schema
        );
        let file = out_dir.join(format!("{i:02}-{}.json", c.command.replace(' ', "-")));
        fs::write(&file, &o.stdout).unwrap();
        by_schema
            .entry(c.schema)
            .or_default()
            .push(file.display().to_string());
        if c.exit == 0 {
            ok.insert(c.command);
        } else {
            failed.insert(c.command);
        }
        printed.insert((c.command, c.schema));
    }
    for d in COMMANDS {
        assert!(
            ok.contains(d.command),
            "no success case for `{}`",
            d.command
        );
        assert!(
            failed.contains(d.command),
            "no failure case for `{}`",
            d.command
        );
        for s in d.schemas {
            assert!(
                printed.contains(&(d.command, *s)),
                "`{}` never printed {s} in this test",
                d.command
            );
        }
    }
    let dir = root().join("schemas");
    let job = json!({"schemas": by_schema.iter().map(|(s, inst)| json!({
        "name": s, "file": dir.join(s), "instances": inst,
    })).collect::<Vec<_>>()});
    let ((ajv_code, ajv_out), (py_code, py_out)) = validate_both(w, &job);
    assert_eq!(ajv_code, 0, "Ajv (strict):\n{ajv_out}");
    assert_eq!(py_code, 0, "jsonschema:\n{py_out}");

    // The schemas are closed: every real output with one field more, at
    // its top or in the first nested object, is refused.
    for (s, instances) in &by_schema {
        let schema: Value = serde_json::from_slice(&fs::read(dir.join(s)).unwrap()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        for instance in instances {
            let instance: Value = serde_json::from_slice(&fs::read(instance).unwrap()).unwrap();
            for stray in with_a_stray_field(&instance) {
                assert!(
                    !validator.is_valid(&stray),
                    "{s} accepts an output with a field it does not define: {stray}"
                );
            }
        }
    }
}

/// `v` with an unknown field added at its top, and (when there is one) in
/// its first nested object that is not a map of names (a map takes any
/// key).
fn with_a_stray_field(v: &Value) -> Vec<Value> {
    const STRAY: &str = "a_field_no_schema_defines";
    let Some(top) = v.as_object() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut t = top.clone();
    t.insert(STRAY.into(), Value::Bool(true));
    out.push(Value::Object(t));
    let nested = top.iter().find_map(|(k, x)| match x {
        Value::Object(o) if !o.is_empty() && !MAPS.contains(&k.as_str()) => Some(k.clone()),
        _ => None,
    });
    if let Some(k) = nested {
        let mut t = top.clone();
        if let Some(Value::Object(o)) = t.get_mut(&k) {
            o.insert(STRAY.into(), Value::Bool(true));
        }
        out.push(Value::Object(t));
    }
    out
}

/// Output fields that are maps keyed by names (ids, file names), not
/// records with a fixed set of fields.
const MAPS: &[&str] = &[
    "spec_pins",
    "pins",
    "labels",
    "counts",
    "by_kind",
    "by_class",
];
