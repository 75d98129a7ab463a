//! Fail-closed gaps an attacker (or an unlucky user) would try, through the
//! real binary on real directories: `run --force` over anything that is not
//! a sealed packet holding nothing else, `--out` in a place that cannot
//! receive a packet, and empty directories in a sealed tree. Each refusal
//! is checked for its exit code, its message, and that nothing was deleted
//! or written.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::{example, holdfast};
use assert_cmd::Command;
use predicates::prelude::*;

const TAMPERED: i32 = 1;
const MALFORMED: i32 = 3;
const IO: i32 = 4;
const REFUSED: i32 = 5;

/// Everything under `root`: each file's bytes and mode, each directory, each
/// link's target; so "nothing changed" covers empty directories and modes.
fn state(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(root).sort_by_file_name() {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(root).unwrap().display().to_string();
        let meta = e.path().symlink_metadata().unwrap();
        let mode = meta.permissions().mode();
        let what = if meta.file_type().is_symlink() {
            format!("link {}", fs::read_link(e.path()).unwrap().display())
        } else if meta.is_dir() {
            format!("dir {mode:o}")
        } else {
            format!("file {mode:o} {:?}", fs::read(e.path()).unwrap())
        };
        out.insert(rel, what);
    }
    out
}

/// A sealed, verified packet of the example, in a fresh temporary directory.
fn packet() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("packet");
    holdfast()
        .arg("run")
        .arg(example())
        .arg("--out")
        .arg(&p)
        .assert()
        .success();
    (t, p)
}

fn force_refused(out: &Path, needles: &[&str]) {
    let parent = out.parent().unwrap();
    let before = state(parent);
    let mut a = holdfast()
        .arg("run")
        .arg(example())
        .arg("--out")
        .arg(out)
        .arg("--force")
        .assert()
        .code(REFUSED)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(out.display().to_string()))
        .stderr(predicate::str::contains(
            "run --force replaces only a packet",
        ))
        .stderr(predicate::str::contains("written").not());
    for n in needles {
        a = a.stderr(predicate::str::contains(*n));
    }
    // Nothing deleted, nothing written, no staging directory left behind.
    assert_eq!(state(parent), before, "{} changed", parent.display());
}

#[test]
fn force_refuses_a_directory_with_a_packet_manifest_json_and_user_files() {
    let (t, p) = packet();
    let home = t.path().join("home");
    fs::create_dir(&home).unwrap();
    fs::copy(p.join("manifest.json"), home.join("manifest.json")).unwrap();
    fs::write(home.join("thesis.tex"), "years of work").unwrap();
    force_refused(&home, &["is not sealed"]);
}

#[test]
fn force_refuses_a_packet_someone_added_a_file_to() {
    let (_t, p) = packet();
    fs::write(p.join("notes.txt"), "mine").unwrap();
    force_refused(&p, &["extra: notes.txt"]);
    // A signature-like name is allowed only at the root.
    fs::remove_file(p.join("notes.txt")).unwrap();
    fs::create_dir(p.join("sigs")).unwrap();
    fs::write(p.join("sigs/a.intoto.jsonl"), "{}\n").unwrap();
    force_refused(&p, &["extra: sigs/a.intoto.jsonl"]);
    // And only the packet's own signature file, by its exact name.
    fs::remove_dir_all(p.join("sigs")).unwrap();
    fs::write(p.join("notes.intoto.jsonl"), "mine\n").unwrap();
    force_refused(&p, &["extra: notes.intoto.jsonl"]);
}

#[test]
fn force_refuses_a_packet_with_an_empty_directory_added() {
    let (_t, p) = packet();
    fs::create_dir(p.join("later")).unwrap();
    force_refused(&p, &["extra: later", "empty directory"]);
}

#[test]
fn force_refuses_a_packet_that_does_not_verify() {
    let (_t, p) = packet();
    fs::write(p.join("README.md"), "# edited\n").unwrap();
    force_refused(&p, &["changed: README.md"]);
}

#[test]
fn force_refuses_a_link_and_a_file() {
    let (t, p) = packet();
    let link = t.path().join("link");
    std::os::unix::fs::symlink(&p, &link).unwrap();
    force_refused(&link, &["is a symbolic link"]);
    let file = t.path().join("file");
    fs::write(&file, "data").unwrap();
    force_refused(&file, &["is not a directory"]);
}

#[test]
fn force_replaces_a_packet_holding_only_its_files_and_root_signatures() {
    let (_t, p) = packet();
    let fresh = state(&p);
    fs::write(p.join("packet.intoto.jsonl"), "{}\n").unwrap();
    holdfast()
        .arg("run")
        .arg(example())
        .arg("--out")
        .arg(&p)
        .arg("--force")
        .assert()
        .success();
    // The old packet (and its signature, which cannot sign the new one) is gone.
    assert_eq!(state(&p), fresh);
    holdfast().arg("verify").arg(&p).assert().success();
}

fn out_refused(out: &Path, code: i32, needle: &str) {
    let parent = out.ancestors().find(|a| a.is_dir()).unwrap().to_path_buf();
    let before = state(&parent);
    holdfast()
        .arg("run")
        .arg(example())
        .arg("--out")
        .arg(out)
        .assert()
        .code(code)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(format!("--out {}", out.display())))
        .stderr(predicate::str::contains(needle));
    assert_eq!(state(&parent), before);
}

#[test]
fn out_whose_parent_is_a_file_or_missing_is_named() {
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("file");
    fs::write(&file, "x").unwrap();
    out_refused(&file.join("p"), IO, "its parent is a file, not a directory");
    out_refused(
        &file.join("sub/p"),
        IO,
        "a component of its parent is a file",
    );
    out_refused(
        &t.path().join("missing/p"),
        IO,
        "its parent directory does not exist",
    );
}

#[test]
fn out_whose_parent_is_not_writable_is_named() {
    let t = tempfile::tempdir().unwrap();
    fs::set_permissions(t.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let ro = t.path().join("ro");
    fs::create_dir(&ro).unwrap();
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
    let out = ro.join("p");
    let mut spec = example();
    let mut cmd = if rustix::process::geteuid().is_root() {
        // root may write anywhere: ask as an ordinary user, with the binary
        // and the spec copied where that user can reach them (the checkout
        // itself may sit in a directory only root can enter).
        let bin = t.path().join("holdfast");
        fs::copy(assert_cmd::cargo::cargo_bin("holdfast"), &bin).unwrap();
        spec = t.path().join("spec");
        let copied = std::process::Command::new("cp")
            .arg("-r")
            .arg(example())
            .arg(&spec)
            .status()
            .unwrap();
        assert!(copied.success());
        let readable = std::process::Command::new("chmod")
            .args(["-R", "a+rX"])
            .arg(&spec)
            .arg(&bin)
            .status()
            .unwrap();
        assert!(readable.success());
        let mut c = Command::new("runuser");
        c.args(["-u", "nobody", "--"]).arg(&bin);
        c
    } else {
        holdfast()
    };
    let before = state(t.path());
    cmd.arg("run")
        .arg(&spec)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(IO)
        .stderr(predicate::str::contains(format!("--out {}", out.display())))
        .stderr(predicate::str::contains("not writable"));
    assert_eq!(state(t.path()), before);
}

// ------------------------------------------------------- empty directories

#[test]
fn seal_refuses_an_empty_subdirectory_and_writes_nothing() {
    let t = tempfile::tempdir().unwrap();
    fs::create_dir_all(t.path().join("a/empty")).unwrap();
    fs::write(t.path().join("a/f"), "x").unwrap();
    let before = state(t.path());
    holdfast()
        .arg("seal")
        .arg(t.path())
        .assert()
        .code(MALFORMED)
        .stderr(predicate::str::contains("a/empty"))
        .stderr(predicate::str::contains("empty directory"));
    assert_eq!(state(t.path()), before);
}

#[test]
fn verify_reports_an_empty_directory_added_after_sealing() {
    let t = tempfile::tempdir().unwrap();
    fs::write(t.path().join("f"), "x").unwrap();
    holdfast().arg("seal").arg(t.path()).assert().success();
    fs::create_dir_all(t.path().join("d/e")).unwrap();
    holdfast()
        .arg("verify")
        .arg(t.path())
        .assert()
        .code(TAMPERED)
        .stdout(predicate::str::contains("verified").not())
        .stderr(predicate::str::contains("d/e"))
        .stderr(predicate::str::contains("empty directory"));
}

// ------------------------------------------------ the bounded process runner

/// A surfaces spec with one command surface running `script` under `sh -c`.
fn command_spec(script: &str, timeout: u64) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir(d.path().join("docs")).unwrap();
    fs::write(d.path().join("docs/cms.md"), "The CMS.\n").unwrap();
    let spec = format!(
        r#"[[surface]]
id = "prod-cms"
table = "production"
name = "CMS"
kind = "cms"
status = "known"
risk = "high"
gate = "editor approval"
[[surface.evidence]]
path = "docs/cms.md"
[surface.snapshot]
method = "command"
argv = ["sh", "-c", {script:?}]
timeout_seconds = {timeout}

[[boundary]]
id = "no-production-mutation"
title = "NO production mutation"
surfaces = ["prod-*"]
"#
    );
    fs::write(d.path().join("surfaces.toml"), spec).unwrap();
    d
}

/// Kills the escaped grandchildren a test started (their pids are in `file`).
fn kill_listed(file: &Path) {
    for line in fs::read_to_string(file).unwrap_or_default().lines() {
        if let Some(pid) = line
            .trim()
            .parse::<i32>()
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

#[test]
fn a_grandchild_in_a_new_session_cannot_stretch_a_command_timeout() {
    // The child either exits at once or keeps running; either way its
    // grandchild left the process group (setsid) and holds stdout open.
    for (child, needle) in [
        ("echo started", "waiting for its output"),
        ("sleep 30", "killed its process group at the deadline"),
    ] {
        // The child waits until the grandchild has left the group.
        let script = format!(
            "setsid sh -c 'echo $$ >> grandchild.pid; exec sleep 30' & \
             while [ ! -s grandchild.pid ]; do sleep 0.01; done; {child}"
        );
        let d = command_spec(&script, 1);
        let out = d.path().join("snap.json");
        let started = std::time::Instant::now();
        let assert = holdfast()
            .arg("snapshot")
            .arg(d.path().join("surfaces.toml"))
            .arg("--out")
            .arg(&out)
            .assert();
        let took = started.elapsed();
        kill_listed(&d.path().join("grandchild.pid"));
        assert
            .code(TAMPERED)
            .stdout(predicate::str::contains("written").not())
            .stderr(predicate::str::contains("surface prod-cms"))
            .stderr(predicate::str::contains("timed out after 1 s"))
            .stderr(predicate::str::contains(needle))
            .stderr(predicate::str::contains(
                "stopped reading stdout and stderr, still held open by a process outside its group",
            ));
        assert!(
            took < std::time::Duration::from_secs(2),
            "{child}: took {took:?}, past the timeout plus one second"
        );
        assert!(!out.exists(), "nothing may be written");
    }
}

#[test]
fn a_grandchild_in_a_new_session_cannot_stretch_a_user_probe_timeout() {
    let d = tempfile::tempdir().unwrap();
    // The gate refuses (exit 1) at once, but leaves a grandchild outside its
    // group holding stdout: what it prints later is never seen, so the
    // probe cannot count as a clean refusal.
    let script = "setsid sh -c 'echo $$ > grandchild.pid; exec sleep 30' & \
                  while [ ! -s grandchild.pid ]; do sleep 0.01; done; exit 1";
    fs::write(
        d.path().join("gates.toml"),
        format!(
            "[[probe]]\nid = \"p\"\ncommand = [\"sh\", \"-c\", {script:?}]\ntimeout_seconds = 1\n"
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = holdfast()
        .arg("probe")
        .arg(d.path())
        .args(["--only", "user", "--json"])
        .output()
        .unwrap();
    let took = started.elapsed();
    kill_listed(&d.path().join("grandchild.pid"));
    assert_eq!(out.status.code(), Some(TAMPERED));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &r["probes"][0];
    assert_eq!(p["outcome"], "timeout", "{p}");
    assert_eq!(p["fail_closed"], false);
    assert_eq!(p["actual"]["timed_out"], true);
    let reason = p["reason"].as_str().unwrap();
    assert!(reason.contains("outside its group"), "{reason}");
    assert!(
        took < std::time::Duration::from_secs(2),
        "took {took:?}, past the timeout plus one second"
    );
}

// ------------------------------------------- files: modes and sensitive surfaces

/// A surfaces spec with one secrets surface of method files over `secrets/`,
/// with `extra` settings in its `[surface.snapshot]`.
fn secrets_spec(extra: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir_all(d.path().join("docs")).unwrap();
    fs::create_dir_all(d.path().join("secrets")).unwrap();
    fs::write(d.path().join("docs/vault.md"), "Secrets live here.\n").unwrap();
    fs::write(d.path().join("secrets/db.env"), "PASSWORD=hunter2\n").unwrap();
    fs::write(d.path().join("secrets/api.key"), "sk-123456\n").unwrap();
    for f in ["secrets/db.env", "secrets/api.key"] {
        fs::set_permissions(d.path().join(f), fs::Permissions::from_mode(0o600)).unwrap();
    }
    let spec = format!(
        r#"[[surface]]
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
{extra}

[[boundary]]
id = "no-secrets-change"
title = "NO secrets change"
surfaces = ["prod-secrets"]
"#
    );
    fs::write(d.path().join("surfaces.toml"), spec).unwrap();
    fs::write(
        d.path().join("auth.toml"),
        "text = \"SCOPING ONLY\"\nscope = \"scoping\"\n",
    )
    .unwrap();
    d
}

fn snapshot_to(d: &Path, out: &str, env: &[(&str, &str)]) -> assert_cmd::assert::Assert {
    let mut c = holdfast();
    c.arg("snapshot")
        .arg(d.join("surfaces.toml"))
        .arg("--out")
        .arg(d.join(out));
    for (k, v) in env {
        c.env(k, v);
    }
    c.assert()
}

fn prove_between(d: &Path) -> assert_cmd::assert::Assert {
    holdfast()
        .arg("prove")
        .arg(d.join("before.json"))
        .arg(d.join("after.json"))
        .arg("--authorization")
        .arg(d.join("auth.toml"))
        .arg("--out")
        .arg(d.join("proof"))
        .assert()
}

fn sha(bytes: &[u8]) -> String {
    holdfast::digest::sha256_hex(bytes)
}

#[test]
fn a_mode_only_change_of_a_secrets_file_is_changed_naming_the_file() {
    for extra in ["", "owner = true"] {
        let d = secrets_spec(extra);
        snapshot_to(d.path(), "before.json", &[]).success();
        let content = fs::read(d.path().join("secrets/db.env")).unwrap();
        // World-readable, bytes unchanged.
        fs::set_permissions(
            d.path().join("secrets/db.env"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        assert_eq!(fs::read(d.path().join("secrets/db.env")).unwrap(), content);
        snapshot_to(d.path(), "after.json", &[]).success();
        prove_between(d.path())
            .code(TAMPERED)
            .stdout(predicate::str::contains("prod-secrets CHANGED"))
            .stderr(predicate::str::contains("changed part(s): mode:db.env"))
            .stderr(predicate::str::contains("api.key").not());
    }
}

#[test]
fn an_owner_change_is_changed_only_when_owners_are_pinned() {
    if !rustix::process::geteuid().is_root() {
        return; // chown needs root
    }
    for (extra, changed) in [("", false), ("owner = true", true)] {
        let d = secrets_spec(extra);
        snapshot_to(d.path(), "before.json", &[]).success();
        std::os::unix::fs::chown(d.path().join("secrets/api.key"), Some(65534), Some(65534))
            .unwrap();
        snapshot_to(d.path(), "after.json", &[]).success();
        let a = prove_between(d.path());
        if changed {
            a.code(TAMPERED)
                .stderr(predicate::str::contains("changed part(s): owner:api.key"));
        } else {
            a.success();
        }
    }
}

const KEY: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn a_sensitive_surface_publishes_no_plain_sha256_of_its_files() {
    let d = secrets_spec("sensitive = true\nkey_env = \"HOLDFAST_TEST_SECRETS_KEY\"");
    let env = [("HOLDFAST_TEST_SECRETS_KEY", KEY)];
    snapshot_to(d.path(), "before.json", &env).success();
    snapshot_to(d.path(), "after.json", &env).success();
    let snap = fs::read_to_string(d.path().join("before.json")).unwrap();
    for f in ["secrets/db.env", "secrets/api.key"] {
        let plain = sha(&fs::read(d.path().join(f)).unwrap());
        assert!(!snap.contains(&plain), "{f}: plain sha256 published");
    }
    assert!(!snap.contains(KEY), "the key must never be recorded");
    assert!(snap.contains("HMAC-SHA256"), "{snap}");
    // Equal keyed digests still prove the surface untouched, offline.
    prove_between(d.path())
        .success()
        .stdout(predicate::str::contains("prod-secrets UNTOUCHED"));
    // And a content change under the same key is a change.
    fs::write(d.path().join("secrets/db.env"), "PASSWORD=hunter3\n").unwrap();
    fs::set_permissions(
        d.path().join("secrets/db.env"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    snapshot_to(d.path(), "after.json", &env).success();
    prove_between(d.path())
        .code(TAMPERED)
        .stderr(predicate::str::contains("changed part(s): db.env"));
}

#[test]
fn a_sensitive_surface_without_its_key_fails_closed_and_writes_nothing() {
    let cases = [
        (
            "sensitive = true",
            "a sensitive surface needs a key",
            MALFORMED,
        ),
        (
            "sensitive = true\nkey_env = \"HOLDFAST_TEST_UNSET_KEY\"",
            "environment variable HOLDFAST_TEST_UNSET_KEY is not set",
            MALFORMED,
        ),
        (
            "sensitive = true\nkey_env = \"HOLDFAST_TEST_SHORT_KEY\"",
            "at least 16",
            MALFORMED,
        ),
        (
            "sensitive = true\nkey_file = \"no-such-key\"",
            "no-such-key",
            IO,
        ),
        (
            "key_env = \"HOLDFAST_TEST_SECRETS_KEY\"",
            "add sensitive = true",
            MALFORMED,
        ),
        (
            "sensitive = true\nkey_env = \"A\"\nkey_file = \"b\"",
            "exactly one of key_env and key_file",
            MALFORMED,
        ),
    ];
    for (extra, needle, code) in cases {
        let d = secrets_spec(extra);
        snapshot_to(
            d.path(),
            "s.json",
            &[
                ("HOLDFAST_TEST_SHORT_KEY", "short"),
                ("HOLDFAST_TEST_SECRETS_KEY", KEY),
            ],
        )
        .code(code)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("surfaces.toml"))
        .stderr(predicate::str::contains(needle));
        assert!(
            !d.path().join("s.json").exists(),
            "{extra}: nothing may be written"
        );
    }
}

/// Every file of a packet, as text (lossy), to search for what must not be there.
fn packet_text(p: &Path) -> String {
    let mut all = String::new();
    for e in walkdir::WalkDir::new(p) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            all.push_str(&String::from_utf8_lossy(&fs::read(e.path()).unwrap()));
        }
    }
    all
}

/// A copy of the example whose secrets surface reads live secrets files
/// (with `extra` settings).
fn example_with_live_secrets(extra: &str) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let spec = t.path().join("spec");
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(example())
        .arg(&spec)
        .status()
        .unwrap();
    assert!(status.success());
    fs::create_dir_all(spec.join("source/secrets-live")).unwrap();
    fs::write(
        spec.join("source/secrets-live/db.env"),
        "PASSWORD=hunter2\n",
    )
    .unwrap();
    fs::write(spec.join("source/secrets-live/api.key"), "sk-123456\n").unwrap();
    let surfaces = fs::read_to_string(spec.join("surfaces.toml")).unwrap();
    let cited = "path = \"secrets/vault-policy.hcl\"\nlines = \"1-7\"\n";
    assert!(surfaces.contains(cited));
    let surfaces = surfaces.replacen(
        cited,
        &format!(
            "{cited}[surface.snapshot]\nmethod = \"files\"\nroot = \"source/secrets-live\"\n{extra}\n"
        ),
        1,
    );
    fs::write(spec.join("surfaces.toml"), surfaces).unwrap();
    (t, spec)
}

#[test]
fn a_packet_with_a_sensitive_surface_holds_no_plain_sha256_of_its_files() {
    let (t, spec) =
        example_with_live_secrets("sensitive = true\nkey_env = \"HOLDFAST_TEST_SECRETS_KEY\"");
    let p = t.path().join("packet");
    holdfast()
        .arg("run")
        .arg(&spec)
        .arg("--out")
        .arg(&p)
        .env("HOLDFAST_TEST_SECRETS_KEY", KEY)
        .assert()
        .success();
    let all = packet_text(&p);
    assert!(all.contains("HMAC-SHA256"), "the snapshot says it is keyed");
    for f in ["db.env", "api.key"] {
        let plain = sha(&fs::read(spec.join("source/secrets-live").join(f)).unwrap());
        assert!(
            !all.contains(&plain),
            "{f}: its plain sha256 is in the packet"
        );
    }
    assert!(!all.contains(KEY), "the key is in the packet");
    // The control: without `sensitive`, the plain sha256 is there (so the
    // search above can fail).
    let (t2, spec2) = example_with_live_secrets("");
    let p2 = t2.path().join("packet");
    holdfast()
        .arg("run")
        .arg(&spec2)
        .arg("--out")
        .arg(&p2)
        .assert()
        .success();
    let plain = sha(b"PASSWORD=hunter2\n");
    assert!(packet_text(&p2).contains(&plain));
    // Without its key the run stops before anything is written.
    let p3 = t.path().join("packet-no-key");
    holdfast()
        .arg("run")
        .arg(&spec)
        .arg("--out")
        .arg(&p3)
        .env_remove("HOLDFAST_TEST_SECRETS_KEY")
        .assert()
        .code(MALFORMED)
        .stderr(predicate::str::contains(
            "HOLDFAST_TEST_SECRETS_KEY is not set",
        ));
    assert!(!p3.exists());
    let leftovers: Vec<_> = fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        leftovers.len(),
        2,
        "no staging directory left: {leftovers:?}"
    );
}

// ------------------------------------------------- packet modes and the umask

#[test]
fn packet_modes_do_not_depend_on_the_umask_and_verify_warns_of_unreadable_files() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("packet");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 077; exec \"$0\" run \"$1\" --out \"$2\"")
        .arg(assert_cmd::cargo::cargo_bin("holdfast"))
        .arg(example())
        .arg(&p)
        .status()
        .unwrap();
    assert!(status.success());
    let mut dirs = 0;
    for e in walkdir::WalkDir::new(&p) {
        let e = e.unwrap();
        let mode = e.metadata().unwrap().permissions().mode() & 0o7777;
        let name = e.file_name().to_string_lossy().into_owned();
        let want = if e.file_type().is_dir() {
            dirs += 1;
            0o755
        } else if name.ends_with(".sh") {
            0o755
        } else {
            0o644
        };
        assert_eq!(mode, want, "{}: mode {mode:04o}", e.path().display());
    }
    assert!(dirs >= 2, "the packet and the fold's after-directory");
    holdfast()
        .arg("verify")
        .arg(&p)
        .assert()
        .success()
        .stderr(predicate::str::contains("warning").not());
    // A file others cannot read is reported (the seal still holds).
    fs::set_permissions(p.join("README.md"), fs::Permissions::from_mode(0o600)).unwrap();
    let after = fs::read_dir(&p)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|d| d.is_dir())
        .unwrap();
    fs::set_permissions(&after, fs::Permissions::from_mode(0o700)).unwrap();
    holdfast()
        .arg("verify")
        .arg(&p)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: README.md: mode 0600: others cannot read it, so they cannot verify the packet",
        ))
        .stderr(predicate::str::contains(format!(
            "warning: {}: mode 0700: others cannot list it",
            after.file_name().unwrap().to_string_lossy()
        )));
    let out = holdfast()
        .arg("verify")
        .arg(&p)
        .arg("--json")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let warned: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|w| w["path"].as_str().unwrap())
        .collect();
    assert!(warned.contains(&"README.md"), "{warned:?}");
}

// ------------------------------------------- the pass token in input fields

fn token() -> &'static str {
    holdfast::gate::verdict::pass_token(None)
}

/// A copy of the example spec with `edit(file text)` applied to `file`.
fn example_edited(file: &str, edit: impl Fn(String) -> String) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let spec = t.path().join("spec");
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(example())
        .arg(&spec)
        .status()
        .unwrap();
    assert!(status.success());
    let text = fs::read_to_string(spec.join(file)).unwrap();
    let edited = edit(text.clone());
    assert_ne!(edited, text, "{file}: the edit must change something");
    fs::write(spec.join(file), edited).unwrap();
    (t, spec)
}

#[test]
fn the_pass_token_is_refused_in_every_text_field_of_the_run_inputs() {
    let t = token();
    type Edit = Box<dyn Fn(String) -> String>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "packet.toml",
            Box::new(move |s: String| s.replacen("title = \"", &format!("title = \"{t} "), 1)),
            "packet.title: contains the pass token",
        ),
        (
            "packet.toml",
            Box::new(move |s: String| s.replacen("text = \"", &format!("text = \"{t} "), 1)),
            "authorization.text: contains the pass token",
        ),
        (
            "surfaces.toml",
            Box::new(move |s: String| s.replacen("name = \"", &format!("name = \"{t} "), 1)),
            "surface[0].name: contains the pass token",
        ),
        (
            "surfaces.toml",
            Box::new(move |s: String| {
                s.replacen(
                    "method = \"files\"\nroot = \"source/infra/postgres\"",
                    &format!("method = \"command\"\nargv = [\"echo\", \"{t}\"]"),
                    1,
                )
            }),
            "surface[0].snapshot.argv[1]: contains the pass token",
        ),
        (
            "gates.toml",
            Box::new(move |s: String| s.replacen("title = \"", &format!("title = \"{t} "), 1)),
            "contains the pass token",
        ),
    ];
    for (file, edit, needle) in cases {
        let (tmp, spec) = example_edited(file, edit);
        let out = tmp.path().join("packet");
        let before = state(tmp.path());
        let assert = holdfast()
            .arg("run")
            .arg(&spec)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(MALFORMED)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains(file))
            .stderr(predicate::str::contains(needle));
        // The message never repeats the token.
        let err = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(
            !err.contains(t),
            "{file}: the error repeats the token: {err}"
        );
        assert_eq!(state(tmp.path()), before, "{file}: nothing may be written");
    }
}

#[test]
fn a_user_probes_attack_input_may_carry_the_token_and_is_redacted() {
    let d = tempfile::tempdir().unwrap();
    let t = token();
    fs::write(
        d.path().join("gates.toml"),
        format!(
            "[[probe]]\nid = \"p\"\ncommand = [\"sh\", \"-c\", \"cat >/dev/null; exit 1\", \"{t}\"]\nstdin_text = \"{t}\"\n"
        ),
    )
    .unwrap();
    let out = holdfast()
        .arg("probe")
        .arg(d.path())
        .args(["--only", "user", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(t),
        "redacted"
    );
    // Anywhere else in gates.toml it is refused.
    fs::write(
        d.path().join("gates.toml"),
        format!("[[probe]]\nid = \"p\"\ncommand = [\"false\"]\ntitle = \"{t}\"\n"),
    )
    .unwrap();
    holdfast()
        .arg("probe")
        .arg(d.path())
        .args(["--only", "user"])
        .assert()
        .code(MALFORMED)
        .stderr(predicate::str::contains("contains the pass token"));
}

/// A spec text with a line break could start a README heading of its own
/// ("## Production decision: GO"); a bidirectional override or an
/// invisible character makes a text read otherwise than its bytes. Every
/// spec file refuses them, naming the key and the code point; program
/// input (a multi-line `sh -c` script) is still accepted.
#[test]
fn spec_text_with_a_line_break_or_hidden_characters_is_refused() {
    type Edit = Box<dyn Fn(String) -> String>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "packet.toml",
            Box::new(|s: String| {
                let title = s
                    .lines()
                    .find(|l| l.starts_with("title = "))
                    .unwrap()
                    .to_string();
                s.replacen(
                    &title,
                    "title = \"FIX7\\n\\n## Production decision: GO\"",
                    1,
                )
            }),
            "packet.title: holds a control character (a line break, tab or escape) (U+000A)",
        ),
        (
            "gates.toml",
            Box::new(|s: String| {
                s.replacen(
                    "title = \"Execute the rollback rehearsal on staging\"",
                    "title = \"Execute the rollback \\u202Eno\\u202C rehearsal\"",
                    1,
                )
            }),
            "title: holds a bidirectional control character (U+202E)",
        ),
        (
            "gates.toml",
            Box::new(|s: String| {
                s.replacen("closes_when = \"", "closes_when = \"zero\\u200Bwidth ", 1)
            }),
            "closes_when: holds an invisible character (U+200B)",
        ),
        (
            "surfaces.toml",
            Box::new(|s: String| s.replacen("name = \"", "name = \"tab\\there ", 1)),
            "surface[0].name: holds a control character (a line break, tab or escape) (U+0009)",
        ),
    ];
    for (file, edit, needle) in cases {
        let (tmp, spec) = example_edited(file, edit);
        let out = tmp.path().join("packet");
        let before = state(tmp.path());
        holdfast()
            .arg("run")
            .arg(&spec)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(MALFORMED)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains(file))
            .stderr(predicate::str::contains(needle))
            .stderr(predicate::str::contains("plain text on one line"));
        assert_eq!(state(tmp.path()), before, "{file}: nothing may be written");
    }

    // A user probe's script may span lines: it is program input.
    let d = tempfile::tempdir().unwrap();
    fs::write(
        d.path().join("gates.toml"),
        "[[probe]]\nid = \"p\"\ncommand = [\"sh\", \"-c\", \"cat >/dev/null\\nexit 1\"]\nstdin_text = \"a\\tb\\n\"\n",
    )
    .unwrap();
    holdfast()
        .arg("probe")
        .arg(d.path())
        .args(["--only", "user"])
        .assert()
        .success();
}

#[test]
fn force_keeps_an_old_packet_that_gained_a_file_during_the_run() {
    let (t, p) = packet();
    // A surface command (run after the --force check) writes into the old
    // packet: at the exchange it no longer holds only its listed files.
    let (_t2, spec) = example_edited("packet.toml", |s| {
        s.replace(
            "live_system_contact = \"none\"",
            "live_system_contact = \"read-only\"",
        )
    });
    let late = p.join("late.txt");
    let surfaces = fs::read_to_string(spec.join("surfaces.toml")).unwrap().replacen(
        "[[surface]]",
        &format!(
            "[[surface]]\nid = \"writer\"\ntable = \"production\"\nname = \"Writer\"\nkind = \"cms\"\n\
             status = \"known\"\nrisk = \"low\"\ngate = \"none\"\n[[surface.evidence]]\n\
             path = \"cms/directus.yaml\"\n[surface.snapshot]\nmethod = \"command\"\n\
             argv = [\"sh\", \"-c\", \"[ -e {0} ] || echo mine > {0}; echo ok\"]\n\n[[surface]]",
            late.display()
        ),
        1,
    );
    fs::write(spec.join("surfaces.toml"), surfaces).unwrap();
    let out = holdfast()
        .arg("run")
        .arg(&spec)
        .arg("--out")
        .arg(&p)
        .arg("--force")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(REFUSED), "{err}");
    assert!(
        err.contains("changed during the run, so it was not deleted"),
        "{err}"
    );
    assert!(err.contains("extra: late.txt"), "{err}");
    // The file written into the old packet survives, in the directory named.
    let kept: Vec<PathBuf> = fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|d| d.join("late.txt").is_file())
        .collect();
    assert_eq!(kept.len(), 1, "{err}");
    assert!(err.contains(&kept[0].display().to_string()), "{err}");
    assert_eq!(
        fs::read_to_string(kept[0].join("late.txt")).unwrap(),
        "mine\n"
    );
    // The new packet is in place and verifies.
    assert!(!late.exists());
    holdfast().arg("verify").arg(&p).assert().success();
}

#[test]
fn prove_refuses_a_snapshot_that_spells_the_pass_token_even_escaped() {
    let d = secrets_spec("");
    snapshot_to(d.path(), "before.json", &[]).success();
    snapshot_to(d.path(), "after.json", &[]).success();
    let mut v: serde_json::Value =
        serde_json::from_slice(&fs::read(d.path().join("before.json")).unwrap()).unwrap();
    v["surfaces"]["prod-secrets"]["description"] = serde_json::Value::String(token().into());
    // JSON-escape every letter: the parsed value still spells the token.
    let text = serde_json::to_string(&v).unwrap();
    let escaped: String = token()
        .chars()
        .map(|c| format!("\\u{:04x}", c as u32))
        .collect();
    let text = text.replace(token(), &escaped);
    assert!(!text.contains(token()));
    fs::write(d.path().join("before.json"), text).unwrap();
    prove_between(d.path())
        .code(MALFORMED)
        .stderr(predicate::str::contains("before.json"))
        .stderr(predicate::str::contains(
            "surfaces.prod-secrets.description: contains the pass token",
        ));
    assert!(!d.path().join("proof").exists(), "nothing may be written");
}

/// A reader that went away (`holdfast … | head -1`) ends the command with
/// exit 141 and no panic or backtrace; a full disk behind a redirection is
/// one line and exit 4. The claim itself was made either way: it is in the
/// registry afterwards.
#[test]
fn output_to_a_closed_pipe_or_a_full_disk_is_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = tmp.path().join("reg");
    holdfast()
        .args(["registry", "--registry"])
        .arg(&reg)
        .args(["init", "--prefix", "BP", "--width", "4"])
        .assert()
        .success();
    let bin = assert_cmd::cargo::cargo_bin("holdfast");
    for (json, args) in [
        (false, vec!["claim", "--packet", "A", "--count", "2"]),
        (true, vec!["claim", "--packet", "B", "--count", "2"]),
        (false, vec!["show"]),
    ] {
        // The read end is gone before the command starts: every write fails.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut cmd = std::process::Command::new(&bin);
        if json {
            cmd.arg("--json");
        }
        let out = cmd
            .args(["registry", "--registry"])
            .arg(&reg)
            .args(&args)
            .stdout(writer)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
    if Path::new("/dev/full").exists() {
        let full = fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = std::process::Command::new(&bin)
            .args(["registry", "--registry"])
            .arg(&reg)
            .arg("show")
            .stdout(full)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{stderr}");
        assert!(
            stderr.starts_with("holdfast: error: writing to standard output:")
                && stderr.lines().count() == 1,
            "{stderr}"
        );
    }
    // Both claims were made.
    holdfast()
        .args(["registry", "--registry"])
        .arg(&reg)
        .arg("show")
        .assert()
        .success()
        .stdout(predicate::str::contains("claims:         2"));
}
