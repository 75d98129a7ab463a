//! `holdfast surfaces`, `snapshot`, `prove` and `verify --source`, run as a
//! user would: the real binary on real temporary directories.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::holdfast;
use predicates::str::contains;
use serde_json::{Value, json};

fn put(root: &Path, rel: &str, bytes: impl AsRef<[u8]>) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, bytes).unwrap();
}

fn sha(bytes: impl AsRef<[u8]>) -> String {
    holdfast::digest::sha256_hex(bytes.as_ref())
}

/// A file's permission bits.
fn mode(d: &tempfile::TempDir, rel: &str) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(d.path().join(rel))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

fn json_file(p: &Path) -> Value {
    serde_json::from_slice(&fs::read(p).unwrap()).unwrap()
}

const SPEC: &str = r#"[policy]
require_digest_for = ["critical"]

[[surface]]
id = "governance-registry"
table = "production"
name = "Governance registry"
kind = "registry"
status = "known"
risk = "high"
gate = "authorized fold only"
[[surface.evidence]]
path = "src/registry.rs"
lines = "2-3"
note = "where the registry is written"
[surface.snapshot]
method = "files"
root = "registry"
exclude = ["history/**"]

[[surface]]
id = "prod-cms"
table = "production"
name = "Production CMS"
kind = "cms"
status = "known"
risk = "high"
gate = "editor approval"
[[surface.evidence]]
path = "docs/cms.md"
[surface.snapshot]
method = "command"
argv = ["cat", "cms-export.txt"]

[[surface]]
id = "prod-secrets"
table = "production"
name = "Secrets store"
kind = "secrets"
status = "known"
risk = "critical"
gate = "security review"
[[surface.evidence]]
path = "docs/secrets.md"
lines = "1"

[[surface]]
id = "ci-seal-scope"
table = "ci-deploy"
name = "FIX7 CI seal-vs-bytes scope"
kind = "ci"
status = "unknown"
note = "which bytes CI seals is not documented"
[[surface.evidence]]
path = "ci/pipeline.yml"

[[boundary]]
id = "no-production-mutation"
title = "NO production mutation"
surfaces = ["prod-*", "governance-registry"]

[[boundary]]
id = "no-secrets-change"
title = "NO secrets/credential change"
surfaces = ["prod-secrets"]
"#;

const AUTH: &str = r#"text = "SCOPING ONLY (+ canonical fold 442..461 if safe)."
scope = "scoping"
[[mutations]]
kind = "registry-fold"
surface = "governance-registry"
range = "442..461"
if_safe = true
"#;

/// A run spec directory: the spec, its evidence sources, the registry, the CMS export.
fn workspace() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    put(r, "surfaces.toml", SPEC);
    put(r, "auth.toml", AUTH);
    put(
        r,
        "src/registry.rs",
        "// registry\nfn write() {}\nfn fold() {}\n",
    );
    put(r, "docs/cms.md", "The CMS is edited by editors only.\n");
    put(
        r,
        "docs/secrets.md",
        "Secrets live in the vault.\nNobody touches them.\n",
    );
    put(r, "ci/pipeline.yml", "steps: [build, seal]\n");
    put(r, "registry/registry.json", "{\"canonical_max\": 441}\n");
    put(r, "registry/registry.md", "# Registry\n");
    put(r, "registry/index.md", "# Index rev 115\n");
    put(r, "registry/history/0001", "old revision\n");
    put(r, "cms-export.txt", "page 1\npage 2\n");
    d
}

fn spec_path(d: &tempfile::TempDir) -> PathBuf {
    d.path().join("surfaces.toml")
}

// ---------- surfaces ----------

#[test]
fn surfaces_writes_both_tables_byte_for_byte_reproducibly() {
    let d = workspace();
    let out = d.path().join("packet");
    holdfast()
        .arg("surfaces")
        .arg(spec_path(&d))
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(contains(
            "Production surfaces: 3 surface(s), 3 known, 0 UNKNOWN",
        ))
        .stdout(contains("blocker fact unknown-surface:ci-seal-scope"));
    let names = [
        "production-surface-inventory.json",
        "production-surface-inventory.md",
        "ci-deploy-surface-inventory.json",
        "ci-deploy-surface-inventory.md",
    ];
    let first: Vec<Vec<u8>> = names
        .iter()
        .map(|n| fs::read(out.join(n)).unwrap())
        .collect();
    holdfast()
        .arg("surfaces")
        .arg(spec_path(&d))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let second: Vec<Vec<u8>> = names
        .iter()
        .map(|n| fs::read(out.join(n)).unwrap())
        .collect();
    assert_eq!(first, second);
    let b = json_file(&out.join(names[0]));
    assert_eq!(b["table"], "production");
    assert_eq!(b["spec"]["sha256"], sha(SPEC));
    let reg = &b["surfaces"][0];
    assert_eq!(reg["evidence"][0]["lines"], "2-3");
    assert_eq!(
        reg["evidence"][0]["sha256"],
        sha("fn write() {}\nfn fold() {}\n")
    );
    assert_eq!(reg["snapshot"], "files");
    assert_eq!(b["surfaces"][2]["snapshot"], "none");
    let c = json_file(&out.join(names[2]));
    assert_eq!(
        c["counts"],
        json!({"surfaces": 1, "known": 0, "unknown": 1})
    );
    assert!(c["surfaces"][0].get("risk").is_none() && c["surfaces"][0].get("gate").is_none());
    assert_eq!(
        c["unknown_surfaces"][0]["id"],
        "unknown-surface:ci-seal-scope"
    );
    assert_eq!(c["unknown_surfaces"][0]["kind"], "unknown-surface");
    let md = String::from_utf8(first[3].clone()).unwrap();
    assert!(
        md.contains(
            "| `ci-seal-scope` | FIX7 CI seal-vs-bytes scope | ci | UNKNOWN | UNKNOWN | UNKNOWN |"
        ),
        "{md}"
    );
    assert!(md.ends_with('\n') && !md.contains('\r'));
}

#[test]
fn surfaces_json_lists_the_unknown_facts_and_without_out_writes_nothing() {
    let d = workspace();
    let out = holdfast()
        .arg("--json")
        .arg("surfaces")
        .arg(spec_path(&d))
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["written"], false);
    assert_eq!(v["unknown_surfaces"][0]["surface"], "ci-seal-scope");
    assert_eq!(v["counts"]["production"]["known"], 3);
    assert!(!d.path().join("production-surface-inventory.json").exists());
}

/// Each bad-input class: exit 3, one line naming the file, the line and the key.
#[test]
fn bad_toml_is_refused_naming_file_line_and_key() {
    let cases: &[(&str, &str, &str, &[&str])] = &[
        (
            "unknown key",
            "kind = \"cms\"",
            "kind = \"cms\"\nowner = \"web team\"",
            &["line 26, column 1", "owner"],
        ),
        (
            "duplicate id",
            "id = \"prod-cms\"",
            "id = \"governance-registry\"",
            &[
                "line 22, column 1",
                "surface[1].id",
                "duplicate surface id \"governance-registry\"",
                "line 5",
            ],
        ),
        (
            "unknown risk",
            "risk = \"critical\"\ngate = \"security review\"",
            "risk = \"catastrophic\"\ngate = \"security review\"",
            &["line 41, column 8", "catastrophic"],
        ),
        (
            "missing gate",
            "gate = \"editor approval\"\n",
            "",
            &[
                "surface[1].gate (id \"prod-cms\")",
                "must name its required gate",
            ],
        ),
        (
            "invented risk",
            "status = \"unknown\"",
            "status = \"unknown\"\nrisk = \"low\"",
            &["line 53, column 1", "surface[3].risk", "never a guess"],
        ),
        (
            "boundary to nothing",
            "surfaces = [\"prod-secrets\"]",
            "surfaces = [\"prod-vault-*\"]",
            &[
                "line 65, column 1",
                "boundary[1].surfaces",
                "matches no surface",
            ],
        ),
        (
            "snapshot key of another method",
            "argv = [\"cat\", \"cms-export.txt\"]",
            "argv = [\"cat\", \"cms-export.txt\"]\nroot = \"x\"",
            &[
                "line 34, column 1",
                "snapshot.root",
                "not a setting of method \"command\"",
            ],
        ),
    ];
    for (what, from, to, needles) in cases {
        let d = workspace();
        assert!(SPEC.contains(from), "{what}");
        put(d.path(), "surfaces.toml", SPEC.replacen(from, to, 1));
        let out = holdfast()
            .arg("surfaces")
            .arg(spec_path(&d))
            .arg("--out")
            .arg(d.path().join("p"))
            .assert()
            .code(3);
        let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
        assert!(
            err.starts_with("holdfast: error: ") && err.contains("surfaces.toml: line "),
            "{what}: {err}"
        );
        for n in *needles {
            assert!(err.contains(n), "{what}: expected {n:?} in {err}");
        }
        assert!(
            !d.path().join("p").exists(),
            "{what}: nothing may be written"
        );
    }
}

#[test]
fn bad_citations_fail_closed_and_write_nothing() {
    let cases: &[(&str, &str, &str, i32, &str)] = &[
        (
            "stale given hash",
            "lines = \"2-3\"\n",
            "lines = \"2-3\"\nsha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n",
            1,
            "stale citation",
        ),
        (
            "past the end",
            "lines = \"2-3\"",
            "lines = \"3-9\"",
            1,
            "past the end of the file, which has 3 line(s)",
        ),
        (
            "missing file",
            "path = \"docs/cms.md\"",
            "path = \"docs/gone.md\"",
            1,
            "missing cited file",
        ),
        (
            "absolute path",
            "path = \"docs/cms.md\"",
            "path = \"/etc/hostname\"",
            3,
            "is absolute",
        ),
        (
            "dot-dot",
            "path = \"docs/cms.md\"",
            "path = \"../outside.txt\"",
            3,
            "leaves the source root",
        ),
        (
            "empty component",
            "path = \"docs/cms.md\"",
            "path = \"docs//cms.md\"",
            3,
            "plain relative path",
        ),
        (
            "dot component",
            "path = \"docs/cms.md\"",
            "path = \"docs/./cms.md\"",
            3,
            "plain relative path",
        ),
        (
            "link out of root",
            "path = \"docs/cms.md\"",
            "path = \"docs/link.md\"",
            3,
            "outside the source root",
        ),
    ];
    for (what, from, to, code, needle) in cases {
        let d = workspace();
        std::os::unix::fs::symlink("/etc/hostname", d.path().join("docs/link.md")).unwrap();
        put(d.path(), "surfaces.toml", SPEC.replacen(from, to, 1));
        let out = holdfast()
            .arg("surfaces")
            .arg(spec_path(&d))
            .arg("--out")
            .arg(d.path().join("p"))
            .assert()
            .code(*code);
        let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(
            err.contains(needle) && err.contains("surfaces.toml: line "),
            "{what}: {err}"
        );
        assert!(
            !d.path().join("p").exists(),
            "{what}: nothing may be written"
        );
    }
    // The right hash given by hand passes.
    let d = workspace();
    let right = sha("fn write() {}\nfn fold() {}\n");
    put(
        d.path(),
        "surfaces.toml",
        SPEC.replacen(
            "lines = \"2-3\"\n",
            &format!("lines = \"2-3\"\nsha256 = \"{right}\"\n"),
            1,
        ),
    );
    holdfast()
        .arg("surfaces")
        .arg(spec_path(&d))
        .assert()
        .success();
}

// ---------- verify --source ----------

/// A sealed packet holding the inventories; returns (workspace, packet dir).
fn sealed_packet() -> (tempfile::TempDir, PathBuf) {
    let d = workspace();
    let p = d.path().join("packet");
    holdfast()
        .arg("surfaces")
        .arg(spec_path(&d))
        .arg("--out")
        .arg(&p)
        .assert()
        .success();
    put(&p, "README.md", "# packet\n");
    holdfast().arg("seal").arg(&p).assert().success();
    (d, p)
}

fn verify(p: &Path, src: &Path) -> assert_cmd::assert::Assert {
    holdfast()
        .arg("verify")
        .arg(p)
        .arg("--source")
        .arg(src)
        .assert()
}

#[test]
fn verify_source_passes_on_fresh_citations_and_ignores_edits_outside_ranges() {
    let (d, p) = sealed_packet();
    verify(&p, d.path())
        .success()
        .stdout(contains("verified"))
        .stdout(contains("4 citation(s) fresh"));
    // Line 1 is not cited (lines 2-3 are).
    put(
        d.path(),
        "src/registry.rs",
        "// registry, reworded\nfn write() {}\nfn fold() {}\n",
    );
    verify(&p, d.path()).success();
    let out = holdfast()
        .arg("--json")
        .arg("verify")
        .arg(&p)
        .arg("--source")
        .arg(d.path())
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["status"], "VERIFIED");
    assert_eq!(v["citations"]["citations_checked"], 4);
    assert_eq!(v["citations"]["problems"], json!([]));
}

#[test]
fn verify_source_reports_stale_missing_out_of_root_and_past_end() {
    let (d, p) = sealed_packet();
    put(
        d.path(),
        "src/registry.rs",
        "// registry\nfn write() { evil() }\nfn fold() {}\n",
    );
    fs::remove_file(d.path().join("docs/cms.md")).unwrap();
    fs::remove_file(d.path().join("ci/pipeline.yml")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", d.path().join("ci/pipeline.yml")).unwrap();
    put(d.path(), "docs/secrets.md", "");
    let out = verify(&p, d.path()).code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("stale citation: production-surface-inventory.json surface governance-registry: src/registry.rs:2-3: sha256 recorded"), "{err}");
    assert!(
        err.contains("missing cited file: production-surface-inventory.json surface prod-cms"),
        "{err}"
    );
    assert!(
        err.contains(
            "citation out of root: ci-deploy-surface-inventory.json surface ci-seal-scope"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "citation past the end: production-surface-inventory.json surface prod-secrets"
        ),
        "{err}"
    );
    assert!(err.contains("holdfast: STALE: 4 problem(s)"), "{err}");
    assert!(!String::from_utf8_lossy(&out.get_output().stdout).contains("verified"));
    let out = holdfast()
        .arg("--json")
        .arg("verify")
        .arg(&p)
        .arg("--source")
        .arg(d.path())
        .assert()
        .code(1);
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["status"], "STALE");
    let kinds: Vec<&str> = v["citations"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["stale", "missing", "past_end", "out_of_root"]);
}

#[test]
fn verify_source_fails_closed_on_missing_or_malformed_inventories() {
    let (d, p) = sealed_packet();
    fs::remove_file(p.join("ci-deploy-surface-inventory.json")).unwrap();
    holdfast()
        .arg("seal")
        .arg("--force")
        .arg(&p)
        .assert()
        .success();
    verify(&p, d.path()).code(1).stderr(contains(
        "missing inventory: ci-deploy-surface-inventory.json",
    ));
    put(
        &p,
        "ci-deploy-surface-inventory.json",
        "{\"table\": \"ci-deploy\", \"table\": \"production\"}",
    );
    holdfast()
        .arg("seal")
        .arg("--force")
        .arg(&p)
        .assert()
        .success();
    verify(&p, d.path())
        .code(3)
        .stderr(contains("duplicate key"))
        .stderr(contains("MALFORMED"));
    // Without --source, citations are not looked at.
    holdfast().arg("verify").arg(&p).assert().success();
    // A source root that is not there is an I/O error, not a pass.
    holdfast()
        .arg("verify")
        .arg(&p)
        .arg("--source")
        .arg(d.path().join("nope"))
        .assert()
        .code(4);
}

#[test]
fn verify_source_keeps_reporting_tampering() {
    let (d, p) = sealed_packet();
    put(&p, "README.md", "# tampered\n");
    verify(&p, d.path())
        .code(1)
        .stderr(contains("changed: README.md"))
        .stderr(contains("TAMPERED"));
}

// ---------- snapshot ----------

fn snapshot(d: &tempfile::TempDir, out: &str) -> assert_cmd::assert::Assert {
    holdfast()
        .arg("snapshot")
        .arg(spec_path(d))
        .arg("--out")
        .arg(d.path().join(out))
        .assert()
}

#[test]
fn files_and_command_snapshots_are_stable_and_describe_what_was_read() {
    let d = workspace();
    snapshot(&d, "a.json")
        .success()
        .stdout(contains("snapshot of 4 surface(s) written"));
    snapshot(&d, "b.json").success();
    let (a, b) = (
        fs::read(d.path().join("a.json")).unwrap(),
        fs::read(d.path().join("b.json")).unwrap(),
    );
    assert_eq!(a, b);
    let v: Value = serde_json::from_slice(&a).unwrap();
    let reg = &v["surfaces"]["governance-registry"];
    assert_eq!(reg["method"], "files");
    assert_eq!(
        reg["parts"],
        json!({
            "index.md": sha("# Index rev 115\n"),
            "registry.json": sha("{\"canonical_max\": 441}\n"),
            "registry.md": sha("# Registry\n"),
            "mode:index.md": sha(format!("mode {:04o}", mode(&d, "registry/index.md"))),
            "mode:registry.json": sha(format!("mode {:04o}", mode(&d, "registry/registry.json"))),
            "mode:registry.md": sha(format!("mode {:04o}", mode(&d, "registry/registry.md"))),
        })
    );
    assert!(
        reg["description"]
            .as_str()
            .unwrap()
            .starts_with("3 file(s)"),
        "{reg}"
    );
    let cms = &v["surfaces"]["prod-cms"];
    assert_eq!(cms["parts"]["stdout"], sha("page 1\npage 2\n"));
    assert_eq!(cms["exit_code"], 0);
    assert_eq!(v["surfaces"]["prod-secrets"]["method"], "none");
    assert!(v["surfaces"]["prod-secrets"].get("digest").is_none());
    assert_eq!(v["spec_sha256"], sha(SPEC));
    assert_eq!(
        v["boundaries"][0]["covers"],
        json!(["governance-registry", "prod-cms", "prod-secrets"])
    );
    // A change in the history (excluded) leaves the digest alone.
    put(d.path(), "registry/history/0002", "new revision\n");
    snapshot(&d, "c.json").success();
    assert_eq!(fs::read(d.path().join("c.json")).unwrap(), a);
}

#[test]
fn failing_snapshots_write_nothing() {
    let cases: &[(&str, &str, &str, i32, &str)] = &[
        (
            "command exits non-zero",
            "argv = [\"cat\", \"cms-export.txt\"]",
            "argv = [\"sh\", \"-c\", \"echo partial; echo no such page >&2; exit 2\"]",
            1,
            "exited with code 2; stderr: no such page",
        ),
        (
            "command times out",
            "argv = [\"cat\", \"cms-export.txt\"]",
            "argv = [\"sleep\", \"30\"]\ntimeout_seconds = 1",
            1,
            "timed out after 1 s",
        ),
        (
            "glob selects nothing",
            "exclude = [\"history/**\"]",
            "include = [\"*.yaml\"]",
            3,
            "include glob \"*.yaml\" selects no file",
        ),
        (
            "root missing",
            "root = \"registry\"",
            "root = \"registry-gone\"",
            3,
            "surface[0].snapshot.root",
        ),
        (
            "bad connection string",
            "method = \"command\"\nargv = [\"cat\", \"cms-export.txt\"]",
            "method = \"postgres\"\nconnection = \"host=x port=notaport\"",
            3,
            "line 33, column 1: surface[1].snapshot.connection (id \"prod-cms\"): the PostgreSQL connection string is not valid",
        ),
    ];
    for (what, from, to, code, needle) in cases {
        let d = workspace();
        put(d.path(), "surfaces.toml", SPEC.replacen(from, to, 1));
        let out = snapshot(&d, "s.json").code(*code);
        let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(err.contains(needle), "{what}: {err}");
        assert!(
            !d.path().join("s.json").exists(),
            "{what}: nothing may be written"
        );
    }
}

// ---------- prove ----------

fn prove(
    d: &tempfile::TempDir,
    before: &str,
    after: &str,
    folds: &[&str],
) -> assert_cmd::assert::Assert {
    let mut c = holdfast();
    c.arg("prove")
        .arg(d.path().join(before))
        .arg(d.path().join(after))
        .arg("--authorization")
        .arg(d.path().join("auth.toml"))
        .arg("--out")
        .arg(d.path().join("proof"));
    for f in folds {
        c.arg("--fold-result").arg(d.path().join(f));
    }
    c.assert()
}

fn proof(d: &tempfile::TempDir) -> Value {
    json_file(&d.path().join("proof/forbidden-surface-proof.json"))
}

fn status_of(v: &Value, id: &str) -> String {
    v["surfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["surface"] == id)
        .unwrap()["status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Applies a fold to the workspace's registry and writes its result.
fn fold(d: &tempfile::TempDir, registry_json_after: &str) {
    let r = d.path().join("registry");
    let before = [
        ("registry.json", fs::read(r.join("registry.json")).unwrap()),
        ("registry.md", fs::read(r.join("registry.md")).unwrap()),
        ("index.md", fs::read(r.join("index.md")).unwrap()),
    ];
    put(
        d.path(),
        "registry/registry.json",
        "{\"canonical_max\": 461}\n",
    );
    put(d.path(), "registry/index.md", "# Index rev 116\n");
    let after = [
        ("registry.json", registry_json_after.as_bytes().to_vec()),
        ("registry.md", b"# Registry\n".to_vec()),
        ("index.md", b"# Index rev 116\n".to_vec()),
    ];
    let pins = |x: &[(&str, Vec<u8>)]| {
        x.iter()
            .map(|(k, v)| (k.to_string(), Value::String(sha(v))))
            .collect::<serde_json::Map<_, _>>()
    };
    // Every field of the fold result contract (registry::FoldResult); the
    // proof uses the range, `applied` and the pins.
    let zero = json!({"collision": 0, "orphan": 0, "gap": 0, "overlap": 0});
    let revs = |n: u64, i: u64| json!({"index.md": i, "objects.json": 23, "objects.md": 23, "registry.json": n, "registry.md": n});
    let objects = sha("objects");
    let result = json!({
        "range": {"first": 442, "last": 461, "first_id": "TKT-OBJ-442", "last_id": "TKT-OBJ-461"},
        "applied": true,
        "canonical_max": {"before": 441, "after": 461},
        "claims_folded": [{"first": "TKT-OBJ-442", "last": "TKT-OBJ-461", "packet": "FIX6", "state": "folded"}],
        "next_free": {"number": 462, "id": "TKT-OBJ-462"},
        "invariants": {"before": zero, "after": zero},
        "json_valid": true,
        "objects_unchanged": true,
        "objects_sha256": {"before": objects, "after": objects},
        "pins": {"before": pins(&before), "after": pins(&after)},
        "revisions_before": revs(23, 115),
        "revisions_after": revs(24, 116),
        "reverse_patch": {"file": "governance-fold-442-461.reverse.patch", "sha256": sha("patch")},
        "rollback_rehearsal": {"byte_exact": true, "method": "reverse patch applied to a staging copy of the after bytes", "documents": {}}
    });
    assert!(
        serde_json::from_value::<holdfast::registry::FoldResult>(result.clone()).is_ok(),
        "the test's fold result is a complete FoldResult"
    );
    put(
        d.path(),
        "governance-fold-442-461-result.json",
        serde_json::to_vec_pretty(&result).unwrap(),
    );
}

#[test]
fn prove_untouched_with_declared_only_secrets_as_a_policy_blocker() {
    let d = workspace();
    put(
        d.path(),
        "auth.toml",
        "text = \"SCOPING ONLY\"\nscope = \"scoping\"\n",
    );
    snapshot(&d, "before.json").success();
    snapshot(&d, "after.json").success();
    prove(&d, "before.json", "after.json", &[])
        .success()
        .stdout(contains(
            "boundary no-production-mutation: governance-registry UNTOUCHED, prod-cms UNTOUCHED",
        ))
        .stdout(contains("note: prod-secrets: DECLARED_NOT_CONTACTED"))
        .stdout(contains(
            "blocker fact declared-only-critical-surface:no-production-mutation:prod-secrets",
        ))
        .stdout(contains(
            "blocker fact declared-only-critical-surface:no-secrets-change:prod-secrets",
        ))
        .stdout(contains(
            "PROVEN (2 untouched, 0 changed, 2 declared not contacted",
        ));
    let v = proof(&d);
    assert_eq!(v["result"], "PROVEN");
    assert_eq!(status_of(&v, "prod-secrets"), "DECLARED_NOT_CONTACTED");
    assert_eq!(v["blocker_facts"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["blocker_facts"][0]["kind"],
        "declared-only-critical-surface"
    );
    assert_eq!(v["blocker_facts"][0]["boundary"], "no-production-mutation");
    // Each cites the snapshots' record that the surface has no snapshot
    // method: the file by its sha256, the place, the value found there.
    for e in v["blocker_facts"][1]["evidence"].as_array().unwrap() {
        assert_eq!(e["kind"], "artifact", "{e}");
        let file = d.path().join(e["file"].as_str().unwrap());
        let bytes = fs::read(&file).unwrap();
        assert_eq!(e["sha256"], sha(&bytes), "{e}");
        let snap: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            snap.pointer(e["at"].as_str().unwrap()),
            Some(&e["value"]),
            "{e}"
        );
        assert_eq!(e["value"], "none");
    }
    assert_eq!(
        v["before"]["sha256"],
        sha(fs::read(d.path().join("before.json")).unwrap())
    );
    // Same inputs, same proof bytes.
    let first = fs::read(d.path().join("proof/forbidden-surface-proof.json")).unwrap();
    prove(&d, "before.json", "after.json", &[]).success();
    assert_eq!(
        fs::read(d.path().join("proof/forbidden-surface-proof.json")).unwrap(),
        first
    );
}

#[test]
fn prove_changed_surface_fails_and_records_why() {
    let d = workspace();
    put(
        d.path(),
        "auth.toml",
        "text = \"SCOPING ONLY\"\nscope = \"scoping\"\n",
    );
    snapshot(&d, "before.json").success();
    put(d.path(), "cms-export.txt", "page 1\npage 2 edited\n");
    snapshot(&d, "after.json").success();
    let out = prove(&d, "before.json", "after.json", &[]).code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("command digest changed; changed part(s): stdout")
            && err.contains("NOT_PROVEN"),
        "{err}"
    );
    assert!(!String::from_utf8_lossy(&out.get_output().stdout).contains("PROVEN ("));
    let v = proof(&d);
    assert_eq!(v["result"], "NOT_PROVEN");
    assert_eq!(status_of(&v, "prod-cms"), "CHANGED");
    assert_eq!(v["boundaries"][0]["holds"], false);
    assert_eq!(v["failures"][0]["class"], "changed");
}

#[test]
fn prove_matches_the_authorized_fold_to_its_pins() {
    let d = workspace();
    snapshot(&d, "before.json").success();
    fold(&d, "{\"canonical_max\": 461}\n");
    snapshot(&d, "after.json").success();
    prove(
        &d,
        "before.json",
        "after.json",
        &["governance-fold-442-461-result.json"],
    )
    .success()
    .stdout(contains("governance-registry AUTHORIZED_MUTATION_MATCHED"))
    .stdout(contains(
        "authorized registry-fold 442..461 on governance-registry: AUTHORIZED_MUTATION_MATCHED",
    ));
    let v = proof(&d);
    assert_eq!(v["result"], "PROVEN");
    assert_eq!(
        v["authorized_mutations"][0]["pins"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        v["fold_results"][0]["file"],
        "governance-fold-442-461-result.json"
    );
    // Without the fold result, the authorized mutation cannot be matched.
    prove(&d, "before.json", "after.json", &[])
        .code(1)
        .stderr(contains(
            "no fold result given for the authorized fold 442..461",
        ));
}

#[test]
fn prove_refuses_an_authorized_surface_changed_otherwise() {
    let d = workspace();
    snapshot(&d, "before.json").success();
    // The fold result says registry.json became X; the bytes say otherwise.
    fold(&d, "{\"canonical_max\": 462}\n");
    snapshot(&d, "after.json").success();
    prove(
        &d,
        "before.json",
        "after.json",
        &["governance-fold-442-461-result.json"],
    )
    .code(1)
    .stderr(contains(
        "pinned document(s) not matching their pins: registry.json",
    ));
    assert_eq!(
        status_of(&proof(&d), "governance-registry"),
        "AUTHORIZED_MUTATION_MISMATCH"
    );
    // A registry document changed that the fold does not explain.
    let d = workspace();
    snapshot(&d, "before.json").success();
    fold(&d, "{\"canonical_max\": 461}\n");
    put(d.path(), "registry/notes.md", "added on the side\n");
    snapshot(&d, "after.json").success();
    prove(
        &d,
        "before.json",
        "after.json",
        &["governance-fold-442-461-result.json"],
    )
    .code(1)
    .stderr(contains(
        "file(s) changed without a pin: mode:notes.md, notes.md",
    ));
}

#[test]
fn prove_fails_on_a_boundary_that_matches_nothing() {
    let d = workspace();
    put(
        d.path(),
        "auth.toml",
        "text = \"SCOPING ONLY\"\nscope = \"scoping\"\n",
    );
    snapshot(&d, "before.json").success();
    // Rewrite a boundary in both snapshots (consistently, as a different
    // tool might) so that it matches no surface.
    for f in ["before.json", "after2.json"] {
        let mut v = json_file(&d.path().join("before.json"));
        v["boundaries"][1]["surfaces"] = json!(["prod-vault-*"]);
        v["boundaries"][1]["covers"] = json!([]);
        let records: Vec<holdfast::surface::snapshot::BoundaryRecord> =
            serde_json::from_value(v["boundaries"].clone()).unwrap();
        v["boundaries_sha256"] =
            json!(holdfast::surface::snapshot::boundaries_digest(&records).unwrap());
        put(d.path(), f, holdfast::canonical::value_to_bytes(&v));
    }
    prove(&d, "before.json", "after2.json", &[])
        .code(1)
        .stderr(contains("boundary \"no-secrets-change\" (NO secrets/credential change) covers [\"prod-vault-*\"], which matches no surface"));
    let v = proof(&d);
    assert_eq!(v["failures"][0]["class"], "boundary-matches-nothing");
    assert_eq!(v["boundaries"][1]["holds"], false);
}

#[test]
fn prove_refuses_bad_inputs_and_writes_nothing() {
    let d = workspace();
    snapshot(&d, "before.json").success();
    // Another spec: refused (5).
    put(
        d.path(),
        "surfaces.toml",
        SPEC.replace("NO production mutation", "NO prod mutation"),
    );
    snapshot(&d, "other.json").success();
    prove(&d, "before.json", "other.json", &[])
        .code(5)
        .stderr(contains("different surfaces specs"));
    assert!(!d.path().join("proof").exists());
    // A hand-edited snapshot: malformed (3).
    let mut v = json_file(&d.path().join("before.json"));
    v["surfaces"]["prod-cms"]["parts"]["stdout"] = json!(sha("forged"));
    put(
        d.path(),
        "forged.json",
        holdfast::canonical::value_to_bytes(&v),
    );
    prove(&d, "before.json", "forged.json", &[])
        .code(3)
        .stderr(contains("surfaces.prod-cms.digest: recorded"));
    // A fold result with a duplicate key: malformed (3).
    put(
        d.path(),
        "dup.json",
        "{\"applied\": true, \"applied\": false, \"range\": {\"first\": 442, \"last\": 461}}",
    );
    prove(&d, "before.json", "before.json", &["dup.json"])
        .code(3)
        .stderr(contains("duplicate key \"applied\""));
    // A fold result missing fields of the contract, or with a field it
    // does not have: malformed (3).
    put(
        d.path(),
        "partial.json",
        "{\"applied\": false, \"range\": {\"first\": 442, \"last\": 461}}",
    );
    prove(&d, "before.json", "before.json", &["partial.json"])
        .code(3)
        .stderr(contains("partial.json: missing field"));
    put(
        d.path(),
        "extra.json",
        "{\"applied\": false, \"approved\": true, \"range\": {\"first\": 442, \"last\": 461}}",
    );
    prove(&d, "before.json", "before.json", &["extra.json"])
        .code(3)
        .stderr(contains("extra.json: unknown field `approved`"));
    // An authorization with an unknown key: malformed (3), with its line.
    put(d.path(), "auth.toml", format!("selekt = []\n{AUTH}"));
    prove(&d, "before.json", "before.json", &[])
        .code(3)
        .stderr(contains(
            "auth.toml: line 1, column 1: unknown field `selekt`",
        ));
    assert!(!d.path().join("proof").exists());
}

#[test]
fn every_new_subcommand_has_help() {
    for sub in ["surfaces", "snapshot", "prove"] {
        holdfast()
            .arg(sub)
            .arg("--help")
            .assert()
            .success()
            .stdout(contains("Usage: holdfast"));
    }
    holdfast()
        .args(["verify", "--help"])
        .assert()
        .success()
        .stdout(contains("--source"));
}
