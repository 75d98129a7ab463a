//! `holdfast registry …` end to end: the real binary on real directories.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const DOCS: [&str; 5] = [
    "index.md",
    "objects.json",
    "objects.md",
    "registry.json",
    "registry.md",
];

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/registry-seed.json")
}

fn holdfast(cwd: &Path) -> Command {
    let mut c = Command::cargo_bin("holdfast").unwrap();
    c.current_dir(cwd);
    c
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cwd: &Path, args: &[&str]) -> Run {
    let out = holdfast(cwd).args(args).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok(cwd: &Path, args: &[&str]) -> String {
    let r = run(cwd, args);
    assert_eq!(
        r.code, 0,
        "{args:?}\nstdout: {}\nstderr: {}",
        r.stdout, r.stderr
    );
    r.stdout
}

/// Every file under `dir` with its bytes: "nothing written" means this is unchanged.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    if !dir.exists() {
        return BTreeMap::new();
    }
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).unwrap()))
        .collect()
}

fn docs(dir: &Path) -> BTreeMap<&'static str, Vec<u8>> {
    DOCS.iter()
        .map(|d| (*d, std::fs::read(dir.join(d)).unwrap()))
        .collect()
}

fn sha(bytes: &[u8]) -> String {
    holdfast::digest::sha256_hex(bytes)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// A fresh workspace with the seed fixture imported at the default location.
fn seeded() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    ok(
        tmp.path(),
        &["registry", "import", fixture().to_str().unwrap()],
    );
    let reg = tmp.path().join(".holdfast/registry");
    (tmp, reg)
}

#[test]
fn seed_fold_gives_the_seed_figures_and_gnu_patch_undoes_it() {
    let (tmp, reg) = seeded();
    let w = tmp.path();
    let before = docs(&reg);
    ok(w, &["registry", "check"]);

    let out = ok(w, &["registry", "fold", "442..461", "--out", "packet"]);
    assert!(
        out.contains(
            "folded TKT-OBJ-442..TKT-OBJ-461: canonical max 441 -> 461, next free TKT-OBJ-462"
        ),
        "{out}"
    );
    let result_path = w.join("packet/governance-fold-442-461-result.json");
    let patch_path = w.join("packet/governance-fold-442-461.reverse.patch");
    let bytes = std::fs::read(&result_path).unwrap();
    let r: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        r["range"],
        json(r#"{"first": 442, "last": 461, "first_id": "TKT-OBJ-442", "last_id": "TKT-OBJ-461"}"#)
    );
    assert_eq!(r["applied"], true);
    assert_eq!(r["canonical_max"], json(r#"{"before": 441, "after": 461}"#));
    assert_eq!(
        r["next_free"],
        json(r#"{"number": 462, "id": "TKT-OBJ-462"}"#)
    );
    let zero = json(r#"{"collision": 0, "orphan": 0, "gap": 0, "overlap": 0}"#);
    assert_eq!(r["invariants"]["before"], zero);
    assert_eq!(r["invariants"]["after"], zero);
    assert_eq!(r["json_valid"], true);
    assert_eq!(r["objects_unchanged"], true);
    assert_eq!(r["objects_sha256"]["before"], r["objects_sha256"]["after"]);
    assert_eq!(r["revisions_after"]["registry.json"], 24);
    assert_eq!(r["revisions_after"]["registry.md"], 24);
    assert_eq!(r["revisions_after"]["index.md"], 116);
    assert_eq!(r["rollback_rehearsal"]["byte_exact"], true);
    let patch = std::fs::read(&patch_path).unwrap();
    assert_eq!(
        r["reverse_patch"]["file"],
        "governance-fold-442-461.reverse.patch"
    );
    assert_eq!(r["reverse_patch"]["sha256"], sha(&patch));
    for (name, b) in &before {
        assert_eq!(r["pins"]["before"][name], sha(b), "{name}");
    }
    let after = docs(&reg);
    for (name, b) in &after {
        assert_eq!(r["pins"]["after"][name], sha(b), "{name}");
    }
    // The result file is canonical JSON: the same bytes the library writes.
    assert_eq!(bytes, holdfast::canonical::value_to_bytes(&r));
    ok(w, &["registry", "check"]);

    // GNU patch, run in a copy of the registry directory, restores the
    // before bytes of every document.
    let stage = w.join("stage");
    std::fs::create_dir(&stage).unwrap();
    for (name, b) in &after {
        std::fs::write(stage.join(name), b).unwrap();
    }
    let status = std::process::Command::new("patch")
        .args(["-p1", "--batch", "--forward", "--silent", "-i"])
        .arg(&patch_path)
        .current_dir(&stage)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(docs(&stage), before);

    // And holdfast's own rollback does the same to the live registry.
    let out = ok(w, &["registry", "rollback", result_path.to_str().unwrap()]);
    assert!(out.contains("rolled back"), "{out}");
    assert_eq!(docs(&reg), before);
    ok(w, &["registry", "verify-history"]);
    let log = json(&ok(w, &["--json", "registry", "log"]));
    let kinds: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["op"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["import", "fold", "rollback"]);
}

#[test]
fn registry_option_goes_before_or_after_the_subcommand_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    ok(
        w,
        &[
            "registry",
            "--registry",
            "r1",
            "init",
            "--prefix",
            "OBJ",
            "--width",
            "4",
        ],
    );
    ok(
        w,
        &[
            "registry",
            "init",
            "--prefix",
            "OBJ",
            "--width",
            "4",
            "--registry",
            "r2",
        ],
    );
    let a = json(&ok(
        w,
        &[
            "--json",
            "registry",
            "--registry",
            "r1",
            "claim",
            "--packet",
            "A",
            "--count",
            "3",
        ],
    ));
    let b = json(&ok(
        w,
        &[
            "registry",
            "claim",
            "--packet",
            "A",
            "--count",
            "3",
            "--registry",
            "r2",
            "--json",
        ],
    ));
    assert_eq!(a["first_id"], "OBJ-0001");
    assert_eq!(a["last_id"], "OBJ-0003");
    assert_eq!(b["last_id"], "OBJ-0003");
    assert_eq!(
        docs(&w.join("r1")),
        docs(&w.join("r2")),
        "same inputs, same bytes"
    );
    let show = json(&ok(w, &["--json", "registry", "show", "--registry", "r1"]));
    assert_eq!(show["next_free"], "OBJ-0004");
    assert!(!w.join(".holdfast").exists());
}

#[test]
fn claim_with_records_then_fold_by_ids() {
    let (tmp, reg) = seeded();
    let w = tmp.path();
    ok(w, &["registry", "fold", "442..461", "--out", "f1"]);
    let records = r#"[
      {"kind": "evidence", "title": "surface inventory | table B", "path": "production-surface-inventory.json", "sha256": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
      {"kind": "evidence", "title": "blocker map", "path": "production-blocker-map.json", "sha256": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}
    ]"#;
    std::fs::write(w.join("records.json"), records).unwrap();
    let c = json(&ok(
        w,
        &[
            "--json",
            "registry",
            "claim",
            "--packet",
            "FIX7",
            "--ids",
            "records.json",
        ],
    ));
    assert_eq!(
        (c["first_id"].as_str(), c["last_id"].as_str()),
        (Some("TKT-OBJ-462"), Some("TKT-OBJ-463"))
    );
    let objects = std::fs::read_to_string(reg.join("objects.md")).unwrap();
    assert!(
        objects.contains("| TKT-OBJ-462 | evidence | surface inventory \\| table B | FIX7 |"),
        "{objects}"
    );
    let dry = json(&ok(
        w,
        &[
            "--json",
            "registry",
            "fold",
            "TKT-OBJ-462..TKT-OBJ-463",
            "--dry-run",
            "--out",
            "f2",
        ],
    ));
    assert_eq!(dry["result"]["applied"], false);
    assert!(!w.join("f2").exists(), "a dry run writes nothing");
    ok(
        w,
        &[
            "registry",
            "fold",
            "TKT-OBJ-462..TKT-OBJ-463",
            "--out",
            "f2",
        ],
    );
    let show = json(&ok(w, &["--json", "registry", "show"]));
    assert_eq!(show["canonical_max"], 463);
    assert_eq!(show["revisions"]["registry.json"], 26);
    assert_eq!(show["revisions"]["objects.json"], 24);
    // Claims with records and folds replay to the recorded states.
    ok(w, &["registry", "verify-history"]);
    // The export is the import format: it imports again to the same documents.
    let export = holdfast(w)
        .args(["registry", "show", "--export"])
        .output()
        .unwrap();
    assert!(export.status.success());
    std::fs::write(w.join("export.json"), &export.stdout).unwrap();
    ok(
        w,
        &["registry", "--registry", "copy", "import", "export.json"],
    );
    for name in [
        "objects.json",
        "objects.md",
        "registry.json",
        "registry.md",
        "index.md",
    ] {
        assert_eq!(
            std::fs::read(reg.join(name)).unwrap(),
            std::fs::read(w.join("copy").join(name)).unwrap(),
            "{name}"
        );
    }
}

/// One bad input: its exit code, a phrase its message must contain, and
/// the proof nothing was written.
fn refuses(w: &Path, args: &[&str], code: i32, phrase: &str) {
    let before = tree(w);
    let r = run(w, args);
    assert_eq!(
        r.code, code,
        "{args:?}\nstdout: {}\nstderr: {}",
        r.stdout, r.stderr
    );
    assert!(
        r.stderr.contains(phrase),
        "{args:?}: {:?} not in {}",
        phrase,
        r.stderr
    );
    if code != 2 {
        // clap adds a usage hint to its own errors; ours are one line.
        assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
    }
    for word in ["folded", "claimed", "imported", "passed", "rolled back"] {
        assert!(
            !r.stdout.contains(word),
            "success word {word:?} on a failure: {}",
            r.stdout
        );
    }
    assert_eq!(tree(w), before, "{args:?} wrote something");
}

#[test]
fn bad_import_files_fail_closed_and_create_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    let good = std::fs::read_to_string(fixture()).unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "truncated.json",
            good[..good.len() / 2].to_string(),
            "invalid JSON",
        ),
        ("garbage.json", "{not json".to_string(), "invalid JSON"),
        (
            "dup.json",
            good.replacen(
                "\"canonical_max\": 441,",
                "\"canonical_max\": 441,\n  \"canonical_max\": 461,",
                1,
            ),
            "duplicate key \"canonical_max\"",
        ),
        (
            "dupobj.json",
            good.replacen(
                "\"kind\": \"script\",",
                "\"kind\": \"script\",\n      \"kind\": \"report\",",
                1,
            ),
            "duplicate key \"kind\"",
        ),
        (
            "prefix.json",
            good.replacen("\"TKT-OBJ-007\"", "\"TKT-OJB-007\"", 1),
            "does not start with \"TKT-OBJ-\"",
        ),
        (
            "width.json",
            good.replacen("\"TKT-OBJ-007\"", "\"TKT-OBJ-0007\"", 1),
            "out of width",
        ),
        (
            "unknown.json",
            good.replacen(
                "\"canonical_max\": 441,",
                "\"canonical_max\": 441,\n  \"canonical_min\": 1,",
                1,
            ),
            "unknown field",
        ),
        (
            "sha.json",
            good.replacen("\"sha256\": \"", "\"sha256\": \"X", 1),
            "is not a sha256",
        ),
    ];
    for (name, text, _) in &cases {
        std::fs::write(w.join(name), text).unwrap();
    }
    for (name, _, phrase) in &cases {
        refuses(w, &["registry", "import", name], 3, phrase);
        assert!(!w.join(".holdfast").exists(), "{name}");
    }
    // Well-formed but inconsistent: refused (exit 5), the first problem named.
    std::fs::write(
        w.join("gap.json"),
        good.replacen("\"canonical_max\": 441", "\"canonical_max\": 445", 1),
    )
    .unwrap();
    refuses(w, &["registry", "import", "gap.json"], 5, "fails check");
    refuses(
        w,
        &["registry", "import", "missing.json"],
        4,
        "missing.json",
    );
    refuses(
        w,
        &["registry", "init", "--prefix", "TKT OBJ", "--width", "3"],
        2,
        "id prefix",
    );
    refuses(
        w,
        &["registry", "init", "--prefix", "TKT", "--width", "0"],
        2,
        "id width",
    );
}

#[test]
fn bad_commands_on_a_live_registry_fail_closed_and_write_nothing() {
    let (tmp, _reg) = seeded();
    let w = tmp.path();
    refuses(
        w,
        &["registry", "claim", "--packet", "P", "--count", "0"],
        2,
        "at least 1",
    );
    refuses(
        w,
        &["registry", "claim", "--packet", "P", "--count", "-3"],
        2,
        "at least 1",
    );
    refuses(
        w,
        &["registry", "claim", "--packet", "P", "--count", "many"],
        2,
        "not a whole number",
    );
    refuses(
        w,
        &["registry", "claim", "--packet", "P", "--count", "600"],
        5,
        "width 3",
    );
    refuses(
        w,
        &["registry", "claim", "--packet", "", "--count", "1"],
        2,
        "--packet",
    );
    std::fs::write(
        w.join("bad-records.json"),
        r#"[{"kind": "x", "title": "", "path": "/etc/passwd", "sha256": "00"}]"#,
    )
    .unwrap();
    refuses(
        w,
        &[
            "registry",
            "claim",
            "--packet",
            "P",
            "--ids",
            "bad-records.json",
        ],
        3,
        "[0].path",
    );
    refuses(
        w,
        &["registry", "fold", "461..442"],
        2,
        "start 461 is after end 442",
    );
    refuses(w, &["registry", "fold", "0..3"], 2, "ids start at 1");
    refuses(w, &["registry", "fold", "442-461"], 2, "expected A..B");
    refuses(
        w,
        &["registry", "fold", "443..461"],
        5,
        "must start at canonical_max + 1 = 442",
    );
    refuses(
        w,
        &["registry", "fold", "441..461"],
        5,
        "reaches into the canonical body",
    );
    refuses(
        w,
        &["registry", "fold", "442..450"],
        5,
        "only partly inside",
    );
    refuses(
        w,
        &["registry", "fold", "442..470"],
        5,
        "belongs to no staged claim",
    );
    refuses(w, &["registry", "fold", "442..1000"], 2, "beyond width 3");
    refuses(w, &["registry", "rollback", "nope.json"], 4, "nope.json");
    refuses(
        w,
        &["registry", "--registry", "elsewhere", "show"],
        4,
        "no registry here",
    );

    refuses(
        w,
        &[
            "registry",
            "fold",
            "442..461",
            "--out",
            ".holdfast/registry/x",
        ],
        5,
        "inside the registry directory",
    );
    // A fold result that would be overwritten: refused before anything happens.
    std::fs::create_dir(w.join("out")).unwrap();
    std::fs::write(w.join("out/governance-fold-442-461-result.json"), b"{}").unwrap();
    refuses(
        w,
        &["registry", "fold", "442..461", "--out", "out"],
        5,
        "already exists",
    );
}

#[test]
fn a_damaged_live_registry_is_reported_and_never_written() {
    let (tmp, reg) = seeded();
    let w = tmp.path();
    let bytes = std::fs::read(reg.join("registry.json")).unwrap();
    std::fs::write(reg.join("registry.json"), &bytes[..bytes.len() / 2]).unwrap();
    // check reads it, says what is wrong, exits 3 (malformed).
    let before = tree(w);
    let r = run(w, &["--json", "registry", "check"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let v = json(&r.stdout);
    assert_eq!(v["json_valid"], false);
    assert_eq!(v["status"], "failed");
    assert!(v["error"].as_str().unwrap().contains("invalid JSON"));
    assert!(v["drift"][0].as_str().unwrap().starts_with("registry.json"));
    assert_eq!(tree(w), before);
    // Every write refuses, naming the file.
    refuses(
        w,
        &["registry", "claim", "--packet", "P", "--count", "1"],
        5,
        "registry.json",
    );
    refuses(
        w,
        &["registry", "fold", "442..461"],
        5,
        "edited outside holdfast",
    );
    // verify-history names it too.
    let r = run(w, &["registry", "verify-history"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("registry.json"), "{}", r.stderr);
}

#[test]
fn rollback_refuses_when_the_registry_changed_since_the_fold() {
    let (tmp, _reg) = seeded();
    let w = tmp.path();
    ok(w, &["registry", "fold", "442..461", "--out", "f"]);
    ok(
        w,
        &["registry", "claim", "--packet", "LATE", "--count", "2"],
    );
    refuses(
        w,
        &[
            "registry",
            "rollback",
            "f/governance-fold-442-461-result.json",
        ],
        5,
        "changed since the fold",
    );
}

#[test]
fn a_fold_outside_the_authorized_range_is_refused_and_writes_nothing() {
    let (tmp, _reg) = seeded();
    let w = tmp.path();
    // A second staged claim: 442..466 is then a safe fold, but not the
    // authorized one.
    ok(
        w,
        &["registry", "claim", "--packet", "FIX7", "--count", "5"],
    );
    let auth = |name: &str, body: &str| {
        std::fs::write(
            w.join(name),
            format!("text = \"scoping (+ fold if safe)\"\nscope = \"scoping\"\n{body}"),
        )
        .unwrap();
    };
    let fold_442_461 = "[[mutations]]\nkind = \"registry-fold\"\nsurface = \"reg\"\nrange = \"442..461\"\nif_safe = true\n";
    auth("a.toml", fold_442_461);
    auth("read-only.toml", "");
    auth("if-unsafe.toml", &fold_442_461.replace("true", "false"));
    auth(
        "unknown-key.toml",
        &format!("{fold_442_461}any_range = true\n"),
    );
    for (args, code, phrase) in [
        (
            vec!["442..466", "--authorization", "a.toml"],
            5,
            "fold 442..466: the authorization a.toml names only the registry fold of 442..461",
        ),
        (
            vec!["TKT-OBJ-442..TKT-OBJ-466", "--authorization", "a.toml"],
            5,
            "fold 442..466",
        ),
        (
            vec!["442..466", "--dry-run", "--authorization", "a.toml"],
            5,
            "names only the registry fold of 442..461",
        ),
        (
            vec!["442..461", "--authorization", "read-only.toml"],
            5,
            "authorizes no mutation",
        ),
        (
            vec!["442..461", "--authorization", "if-unsafe.toml"],
            3,
            "if_safe: must be true",
        ),
        (
            vec!["442..461", "--authorization", "unknown-key.toml"],
            3,
            "unknown-key.toml: line 3, column 1: unknown field `any_range`",
        ),
        (
            vec!["442..461", "--authorization", "missing.toml"],
            4,
            "missing.toml",
        ),
    ] {
        let mut full = vec!["registry", "fold"];
        full.extend(args);
        full.extend(["--out", "f"]);
        refuses(w, &full, code, phrase);
    }
    // The authorized range folds.
    ok(
        w,
        &[
            "registry",
            "fold",
            "442..461",
            "--authorization",
            "a.toml",
            "--out",
            "f",
        ],
    );
    assert!(w.join("f/governance-fold-442-461-result.json").is_file());
}

#[test]
fn an_old_revision_presented_as_current_fails_check_and_stops_writes() {
    let (tmp, reg) = seeded();
    let w = tmp.path();
    ok(
        w,
        &["registry", "claim", "--packet", "FIX7", "--count", "5"],
    );
    ok(w, &["registry", "fold", "442..461", "--out", "f"]);
    // registry.json as imported (state 1; the head is state 3).
    let first = std::fs::read_to_string(reg.join("history/log.jsonl")).unwrap();
    let line: Value = json(first.lines().next().unwrap());
    let sha1 = line["documents"]["registry.json"]["sha256"]
        .as_str()
        .unwrap();
    let old = holdfast::registry::history::get_blob(
        &holdfast::registry::backend::dir::DirBackend::new(&reg),
        sha1,
    )
    .unwrap();
    std::fs::write(reg.join("registry.json"), &old).unwrap();
    let r = run(w, &["registry", "check"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("stale: registry.json: its bytes")
            && r.stderr.contains("1 old revision(s) presented as current"),
        "{}",
        r.stderr
    );
    for args in [
        vec!["registry", "claim", "--packet", "X", "--count", "1"],
        vec!["registry", "fold", "462..466", "--out", "g"],
        vec![
            "registry",
            "rollback",
            "f/governance-fold-442-461-result.json",
        ],
    ] {
        refuses(w, &args, 5, "an old revision presented as current");
    }
    assert_eq!(std::fs::read(reg.join("registry.json")).unwrap(), old);
}

#[test]
fn check_lists_every_problem_of_a_registry_file() {
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    let good = std::fs::read_to_string(fixture()).unwrap();
    // TKT-OBJ-010 recorded twice (collision) and 455 not at all (orphan).
    let dup = good.replacen("\"id\": \"TKT-OBJ-011\"", "\"id\": \"TKT-OBJ-010\"", 1);
    let both = dup.replacen("\"id\": \"TKT-OBJ-455\"", "\"id\": \"TKT-OBJ-010\"", 1);
    std::fs::write(w.join("bad.json"), both).unwrap();
    let r = run(w, &["--json", "registry", "check", "--file", "bad.json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = json(&r.stdout);
    assert_eq!(v["report"]["counts"]["collision"], 1);
    assert_eq!(
        v["report"]["counts"]["gap"], 1,
        "TKT-OBJ-011 is a hole in the canonical body"
    );
    assert_eq!(
        v["report"]["counts"]["orphan"], 1,
        "TKT-OBJ-455 is claimed without a record"
    );
    assert!(
        r.stderr
            .contains("collision: TKT-OBJ-010 issued more than once"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("[TKT-OBJ-455]"), "{}", r.stderr);
    ok(
        w,
        &["registry", "check", "--file", fixture().to_str().unwrap()],
    );

    // An id out of width is valid JSON but not a valid registry: exit 3, said so.
    std::fs::write(
        w.join("width.json"),
        good.replacen("\"TKT-OBJ-007\"", "\"TKT-OBJ-0007\"", 1),
    )
    .unwrap();
    let r = run(w, &["--json", "registry", "check", "--file", "width.json"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let v = json(&r.stdout);
    assert_eq!(
        (v["json_valid"].as_bool(), v["format_valid"].as_bool()),
        (Some(true), Some(false))
    );
    assert!(v["error"].as_str().unwrap().contains("out of width"));
    assert!(
        r.stderr.contains("JSON valid; ids and format invalid"),
        "{}",
        r.stderr
    );
}

#[test]
fn every_registry_subcommand_has_help() {
    let tmp = tempfile::tempdir().unwrap();
    for sub in [
        "init",
        "import",
        "show",
        "log",
        "claim",
        "check",
        "fold",
        "rollback",
        "verify-history",
    ] {
        let out = ok(tmp.path(), &["registry", sub, "--help"]);
        assert!(out.contains("--registry"), "{sub}: {out}");
    }
}

/// Replaces the head state of the registry at `reg` by the documents of
/// `model`, consistently: blobs stored, documents written, the last log
/// line re-pinned (its operation kept, so the chain stays intact).
fn forge_head(reg: &Path, model: &holdfast::registry::Registry) {
    use holdfast::registry::history::{Entry, encode, put_blob};
    let docs = holdfast::registry::store::render_all(model).unwrap();
    let log_path = reg.join("history/log.jsonl");
    let text = std::fs::read_to_string(&log_path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut entry: Entry = serde_json::from_str(lines.last().unwrap()).unwrap();
    for d in holdfast::registry::DOCUMENTS {
        let sha = put_blob(
            &holdfast::registry::backend::dir::DirBackend::new(reg),
            &docs[d.index()],
        )
        .unwrap();
        entry.documents.get_mut(d.name()).unwrap().sha256 = sha;
        let path = reg.join(d.name());
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, &docs[d.index()]).unwrap();
    }
    let line = encode(&entry).unwrap();
    *lines.last_mut().unwrap() = String::from_utf8(line.clone()).unwrap();
    std::fs::write(&log_path, lines.join("\n") + "\n").unwrap();
    // The completion marker names the new line, as a real write leaves it.
    std::fs::write(reg.join("history/complete"), format!("{}\n", sha(&line))).unwrap();
}

#[test]
fn a_forged_history_entry_is_named_by_verify_history() {
    let (tmp, reg) = seeded();
    let w = tmp.path();
    ok(
        w,
        &["registry", "claim", "--packet", "FIX7", "--count", "2"],
    );
    ok(w, &["registry", "verify-history"]);
    let model = holdfast::registry::Store::open(&reg)
        .unwrap()
        .registry()
        .clone();

    // The log line says "claim", but a record of the canonical body was
    // edited as well: every document agrees with the line, so `check`
    // (which looks at one state) passes; only the replay sees it.
    let mut forged = model.clone();
    forged.objects[0].title = "forged".into();
    forge_head(&reg, &forged);
    ok(w, &["registry", "check"]);
    let r = run(w, &["registry", "verify-history"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("state 2 (claim TKT-OBJ-462..TKT-OBJ-463 (2 ids) by FIX7): forged or altered")
            && all.contains("objects.json is recorded as"),
        "{all}"
    );

    // A claim line whose documents show another packet's claim.
    let mut other = model.clone();
    for o in other.objects.iter_mut().filter(|o| o.number >= 462) {
        o.packet = "EVIL".into();
    }
    for c in other.claims.iter_mut().filter(|c| c.first == 462) {
        c.packet = "EVIL".into();
    }
    forge_head(&reg, &other);
    ok(w, &["registry", "check"]);
    let r = run(w, &["registry", "verify-history"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        format!("{}{}", r.stdout, r.stderr).contains("state 2 (claim"),
        "{}",
        r.stderr
    );

    // The genuine documents again: the replay agrees.
    forge_head(&reg, &model);
    ok(w, &["registry", "verify-history"]);
}

#[test]
fn a_registry_restored_by_hand_with_gnu_patch_is_reported_never_rolled_forward() {
    let (tmp, reg) = seeded();
    let w = tmp.path();
    let before = docs(&reg);
    ok(w, &["registry", "fold", "442..461", "--out", "packet"]);
    let after = docs(&reg);
    let patch_path = w.join("packet/governance-fold-442-461.reverse.patch");
    let gnu_patch = |args: &[&str]| {
        let status = std::process::Command::new("patch")
            .args(args)
            .arg("-i")
            .arg(&patch_path)
            .current_dir(&reg)
            .status()
            .unwrap();
        assert!(status.success(), "patch {args:?}");
    };
    // The before bytes restored by hand in the live registry: exactly what
    // an interrupted fold could have left, but this fold completed.
    gnu_patch(&["-p1", "--batch", "--forward", "--silent"]);
    assert_eq!(docs(&reg), before);
    let snapshot = tree(&reg);
    let r = run(w, &["registry", "check"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("restored by hand?") && r.stderr.contains("registry.json"),
        "{}",
        r.stderr
    );
    assert_eq!(tree(&reg), snapshot, "check wrote something");
    // `show` and every write refuse; nothing is rolled forward.
    let r = run(w, &["registry", "show"]);
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    for args in [
        vec!["registry", "claim", "--packet", "X", "--count", "1"],
        vec!["registry", "fold", "462..466", "--out", "g"],
    ] {
        refuses(w, &args, 5, "holdfast registry rollback FOLD_RESULT");
    }
    assert_eq!(tree(&reg), snapshot, "a command wrote something");
    assert_eq!(docs(&reg), before);
    // The recipe: undo the hand edit, then roll back through holdfast.
    gnu_patch(&["-R", "-p1", "--batch", "--silent"]);
    assert_eq!(docs(&reg), after);
    ok(w, &["registry", "check"]);
    ok(
        w,
        &[
            "registry",
            "rollback",
            "packet/governance-fold-442-461-result.json",
        ],
    );
    assert_eq!(docs(&reg), before);
    ok(w, &["registry", "verify-history"]);
}

#[test]
fn a_bad_completion_marker_fails_closed() {
    let (tmp, reg) = seeded();
    let w = tmp.path();
    let marker = reg.join("history/complete");
    let good = std::fs::read(&marker).unwrap();
    std::fs::write(&marker, b"not a hash\n").unwrap();
    let r = run(w, &["registry", "check"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("history/complete"), "{}", r.stderr);
    std::fs::write(&marker, format!("{}\n", "0".repeat(64))).unwrap();
    let r = run(w, &["registry", "claim", "--packet", "X", "--count", "1"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("neither the head"), "{}", r.stderr);
    std::fs::write(&marker, good).unwrap();
    ok(w, &["registry", "check"]);
}

#[test]
fn a_lock_file_that_is_a_symbolic_link_is_refused() {
    let (tmp, reg) = seeded();
    let w = tmp.path();
    let lock = reg.join("history/lock");
    let target = w.join("elsewhere");
    std::fs::write(&target, b"").unwrap();
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink(&target, &lock).unwrap();
    let snapshot = tree(&reg);
    for args in [
        vec!["registry", "check"],
        vec!["registry", "show"],
        vec!["registry", "claim", "--packet", "X", "--count", "1"],
    ] {
        let r = run(w, &args);
        assert_eq!(r.code, 5, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr
                .contains("history/lock: the lock file is a symbolic link"),
            "{}",
            r.stderr
        );
    }
    assert_eq!(tree(&reg), snapshot);
    assert!(
        std::fs::symlink_metadata(&lock)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // A dangling link is refused too (not created through).
    std::fs::remove_file(&target).unwrap();
    let r = run(w, &["registry", "check"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(!target.exists());
    // The link replaced by a regular file: the registry works again.
    std::fs::remove_file(&lock).unwrap();
    ok(w, &["registry", "check"]);
}

#[test]
fn a_document_deleted_after_a_complete_write_is_refused_not_recreated() {
    let (tmp, reg) = seeded();
    let w = tmp.path();
    std::fs::remove_file(reg.join("objects.md")).unwrap();
    let snapshot = tree(&reg);
    for args in [vec!["registry", "check"], vec!["registry", "show"]] {
        let r = run(w, &args);
        assert_eq!(r.code, 5, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("objects.md: missing") && r.stderr.contains("deleted by hand?"),
            "{}",
            r.stderr
        );
    }
    assert_eq!(tree(&reg), snapshot, "nothing written");
    assert!(!reg.join("objects.md").exists());
}

#[test]
fn a_forged_fold_entry_is_named_by_verify_history() {
    let (tmp, reg) = seeded();
    let w = tmp.path();
    ok(w, &["registry", "fold", "442..461", "--out", "f"]);
    let mut model = holdfast::registry::Store::open(&reg)
        .unwrap()
        .registry()
        .clone();
    // The line says "fold", but a folded record's sha256 was changed too
    // (a fold never changes records).
    let o = model.objects.iter_mut().find(|o| o.number == 450).unwrap();
    o.sha256 = "0".repeat(64);
    forge_head(&reg, &model);
    ok(w, &["registry", "check"]);
    let r = run(w, &["registry", "verify-history"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("state 2 (fold TKT-OBJ-442..TKT-OBJ-461): forged or altered"),
        "{all}"
    );
}

/// The temporary files of a killed write: a claim removes those in the
/// registry and its history directory without listing every blob (a new
/// blob's temporary file is made in `history`, never among the blobs);
/// those an older version left among the blobs are ignored by every
/// command and removed by the next write that takes the full way.
#[test]
fn leftover_temporary_files_are_removed_without_listing_the_blobs_on_each_claim() {
    let (tmp, reg) = seeded();
    let w = tmp.path();
    ok(
        w,
        &["registry", "claim", "--packet", "PKT-A", "--count", "2"],
    );
    let history_temp = reg.join("history/.holdfast-tmp-killed");
    let blob_temp = reg.join("history/blobs/.holdfast-tmp-killed-long-ago");
    std::fs::write(&history_temp, b"half a blob").unwrap();
    std::fs::write(&blob_temp, b"half a blob").unwrap();
    ok(
        w,
        &["registry", "claim", "--packet", "PKT-B", "--count", "2"],
    );
    assert!(
        !history_temp.exists(),
        "the claim removes a leftover in history"
    );
    assert!(blob_temp.exists(), "a claim does not list the blobs");
    let temps_among_blobs = || {
        std::fs::read_dir(reg.join("history/blobs"))
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".holdfast-tmp-")
            })
            .count()
    };
    assert_eq!(temps_among_blobs(), 1);
    ok(
        w,
        &["registry", "claim", "--packet", "PKT-C", "--count", "2"],
    );
    assert_eq!(temps_among_blobs(), 1);
    // The other commands take the full way, which looks among the blobs
    // too.
    ok(w, &["registry", "check"]);
    assert_eq!(temps_among_blobs(), 0);
    ok(w, &["registry", "verify-history"]);
}
