//! `holdfast seal` and `holdfast verify` through the real binary, on real
//! temporary directories: the format other tools read, every refusal, every
//! class of tampering, and the exit codes that tell them apart.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use crate::support::holdfast;
use predicates::prelude::*;
use proptest::prelude::*;

const TAMPERED: i32 = 1;
const MALFORMED: i32 = 3;
const IO: i32 = 4;
const REFUSED: i32 = 5;

/// A small packet: nested dirs, a space in a name, an empty file.
fn packet() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("packet");
    fs::create_dir_all(p.join("evidence/deep")).unwrap();
    fs::write(p.join("README.md"), "# packet\n").unwrap();
    fs::write(p.join("manifest.json"), "{\n  \"a\": 1\n}\n").unwrap();
    fs::write(p.join("evidence/with space.txt"), "spaced\n").unwrap();
    fs::write(p.join("evidence/deep/empty"), "").unwrap();
    fs::write(p.join("evidence/deep/bin.dat"), [0u8, 255, 10, 13, 0]).unwrap();
    (tmp, p)
}

fn seal(p: &Path) {
    holdfast().arg("seal").arg(p).assert().success();
}

fn sealed() -> (tempfile::TempDir, PathBuf) {
    let (t, p) = packet();
    seal(&p);
    (t, p)
}

fn verify_fails(p: &Path, code: i32, needle: &str) {
    holdfast()
        .arg("verify")
        .arg(p)
        .assert()
        .code(code)
        .stdout(predicate::str::contains("verified").not())
        .stderr(predicate::str::contains(needle));
}

fn manifest(p: &Path) -> String {
    fs::read_to_string(p.join("HASH_MANIFEST.txt")).unwrap()
}

fn write_manifest_and_rehash_tree(p: &Path, text: &str) {
    fs::write(p.join("HASH_MANIFEST.txt"), text).unwrap();
    let h = holdfast::digest::sha256_hex(text.as_bytes());
    fs::write(
        p.join("packet_tree.sha256"),
        format!("{h}  HASH_MANIFEST.txt\n"),
    )
    .unwrap();
}

// ---------------------------------------------------------------- format

#[test]
fn sha256sum_accepts_both_seal_files() {
    let (_t, p) = sealed();
    for file in ["HASH_MANIFEST.txt", "packet_tree.sha256"] {
        let out = StdCommand::new("sha256sum")
            .args(["-c", "--strict", file])
            .current_dir(&p)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sha256sum -c {file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let m = manifest(&p);
    let paths: Vec<&str> = m.lines().map(|l| &l[66..]).collect();
    assert_eq!(
        paths,
        [
            "README.md",
            "evidence/deep/bin.dat",
            "evidence/deep/empty",
            "evidence/with space.txt",
            "manifest.json"
        ]
    );
    assert!(m.lines().all(|l| l.as_bytes()[64..66] == *b"  "));
}

#[test]
fn seal_prints_summary_and_json() {
    let (_t, p) = packet();
    holdfast().arg("seal").arg(&p).assert().success().stdout(
        predicate::str::is_match(r"^sealed .*: 5 files, 34 bytes, tree sha256 [0-9a-f]{64}\n$")
            .unwrap(),
    );
    let out = holdfast()
        .args(["--json", "seal", "--force"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["files"], 5);
    assert_eq!(v["bytes"], 34);
    let tree = fs::read_to_string(p.join("packet_tree.sha256")).unwrap();
    assert_eq!(v["tree_sha256"].as_str().unwrap(), &tree[..64]);
}

#[test]
fn sealing_is_deterministic_and_path_independent() {
    let (_t, p) = sealed();
    let first = (
        manifest(&p),
        fs::read(p.join("packet_tree.sha256")).unwrap(),
    );
    holdfast()
        .args(["seal", "--force"])
        .arg(&p)
        .assert()
        .success();
    let second = (
        manifest(&p),
        fs::read(p.join("packet_tree.sha256")).unwrap(),
    );
    assert_eq!(first, second);

    let (_t2, q) = packet();
    let moved = q.parent().unwrap().join("elsewhere/other-name");
    fs::create_dir_all(moved.parent().unwrap()).unwrap();
    fs::rename(&q, &moved).unwrap();
    seal(&moved);
    assert_eq!(fs::read(moved.join("packet_tree.sha256")).unwrap(), first.1);
}

#[test]
fn verify_passes_on_a_fresh_seal_with_json_report() {
    let (_t, p) = sealed();
    holdfast()
        .arg("verify")
        .arg(&p)
        .assert()
        .success()
        .stdout(predicate::str::starts_with("verified "));
    let out = holdfast()
        .args(["verify", "--json"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "VERIFIED");
    assert_eq!(v["files_checked"], 5);
    assert_eq!(v["problems"].as_array().unwrap().len(), 0);
}

// ---------------------------------------------------------------- seal refusals

fn seal_refused(p: &Path, code: i32, needle: &str) {
    holdfast()
        .arg("seal")
        .arg(p)
        .assert()
        .code(code)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(needle));
    assert!(
        !p.join("HASH_MANIFEST.txt").exists(),
        "nothing may be written"
    );
    assert!(
        !p.join("packet_tree.sha256").exists(),
        "nothing may be written"
    );
}

#[test]
fn seal_refuses_symlinks() {
    let (_t, p) = packet();
    symlink("/etc/passwd", p.join("evidence/link")).unwrap();
    seal_refused(&p, MALFORMED, "evidence/link: is a symbolic link");
}

#[test]
fn seal_refuses_fifos() {
    let (_t, p) = packet();
    assert!(
        StdCommand::new("mkfifo")
            .arg(p.join("pipe"))
            .status()
            .unwrap()
            .success()
    );
    seal_refused(&p, MALFORMED, "pipe: is a FIFO");
}

#[test]
fn seal_refuses_sockets() {
    let (_t, p) = packet();
    let _l = std::os::unix::net::UnixListener::bind(p.join("sock")).unwrap();
    seal_refused(&p, MALFORMED, "sock: is a socket");
}

#[test]
fn seal_refuses_non_utf8_names() {
    use std::os::unix::ffi::OsStrExt;
    let (_t, p) = packet();
    fs::write(p.join(std::ffi::OsStr::from_bytes(b"bad\xffname")), "x").unwrap();
    seal_refused(&p, MALFORMED, "name is not valid UTF-8");
}

#[test]
fn seal_refuses_control_characters_in_names() {
    let (_t, p) = packet();
    fs::write(p.join("two\nlines"), "x").unwrap();
    seal_refused(&p, MALFORMED, "control character '\\n'");
}

#[test]
fn seal_refuses_backslash_in_names() {
    let (_t, p) = packet();
    fs::write(p.join("back\\slash"), "x").unwrap();
    seal_refused(&p, MALFORMED, "backslash");
}

#[test]
fn seal_refuses_names_differing_only_in_normalization() {
    let (_t, p) = packet();
    fs::write(p.join("evidence/caf\u{e9}.txt"), "nfc").unwrap();
    fs::write(p.join("evidence/cafe\u{301}.txt"), "nfd").unwrap();
    seal_refused(&p, MALFORMED, "only in Unicode normalization");
}

#[test]
fn seal_refuses_an_empty_directory() {
    let t = tempfile::tempdir().unwrap();
    seal_refused(t.path(), MALFORMED, "no regular files");
}

#[test]
fn seal_refuses_a_missing_directory_as_io() {
    let t = tempfile::tempdir().unwrap();
    seal_refused(&t.path().join("nope"), IO, "nope");
}

#[test]
fn seal_refuses_an_already_sealed_directory_unless_forced() {
    let (_t, p) = sealed();
    let before = manifest(&p);
    fs::write(p.join("README.md"), "# changed\n").unwrap();
    holdfast()
        .arg("seal")
        .arg(&p)
        .assert()
        .code(REFUSED)
        .stderr(
            predicate::str::contains("already sealed").and(predicate::str::contains("--force")),
        );
    assert_eq!(manifest(&p), before, "a refused seal writes nothing");
    holdfast()
        .args(["seal", "--force"])
        .arg(&p)
        .assert()
        .success();
    assert_ne!(manifest(&p), before);
    holdfast().arg("verify").arg(&p).assert().success();
}

// ---------------------------------------------------------------- verify: tampering

#[test]
fn verify_reports_a_changed_file() {
    let (_t, p) = sealed();
    fs::write(p.join("manifest.json"), "{\n  \"a\": 2\n}\n").unwrap();
    verify_fails(&p, TAMPERED, "changed: manifest.json: sha256 recorded");
}

#[test]
fn verify_reports_a_missing_file() {
    let (_t, p) = sealed();
    fs::remove_file(p.join("evidence/deep/empty")).unwrap();
    verify_fails(&p, TAMPERED, "missing: evidence/deep/empty");
}

#[test]
fn verify_reports_an_extra_file() {
    let (_t, p) = sealed();
    fs::write(p.join("evidence/new.txt"), "planted").unwrap();
    verify_fails(&p, TAMPERED, "extra: evidence/new.txt");
}

#[test]
fn verify_reports_a_symlink_and_never_follows_it_out_of_the_packet() {
    let (t, p) = sealed();
    // An outside directory holding a file with exactly the sealed bytes:
    // following the link would make the packet look intact.
    let outside = t.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::copy(
        p.join("evidence/with space.txt"),
        outside.join("with space.txt"),
    )
    .unwrap();
    fs::copy(p.join("evidence/deep/empty"), outside.join("deep-empty")).unwrap();
    fs::remove_dir_all(p.join("evidence")).unwrap();
    symlink(&outside, p.join("evidence")).unwrap();
    verify_fails(&p, TAMPERED, "symlink: evidence");
    holdfast()
        .arg("verify")
        .arg(&p)
        .assert()
        .stderr(predicate::str::contains("missing: evidence/with space.txt"));
}

#[test]
fn verify_reports_a_special_file() {
    let (_t, p) = sealed();
    assert!(
        StdCommand::new("mkfifo")
            .arg(p.join("evidence/fifo"))
            .status()
            .unwrap()
            .success()
    );
    verify_fails(&p, TAMPERED, "special file: evidence/fifo");
}

#[test]
fn verify_reports_a_renamed_file_as_missing_and_extra() {
    let (_t, p) = sealed();
    fs::rename(p.join("README.md"), p.join("README.txt")).unwrap();
    verify_fails(&p, TAMPERED, "missing: README.md");
    verify_fails(&p, TAMPERED, "extra: README.txt");
}

#[test]
fn verify_reports_a_wrong_tree_hash() {
    let (_t, p) = sealed();
    let m = manifest(&p);
    let bogus = "0".repeat(64);
    fs::write(
        p.join("packet_tree.sha256"),
        format!("{bogus}  HASH_MANIFEST.txt\n"),
    )
    .unwrap();
    assert_eq!(m, manifest(&p));
    verify_fails(&p, TAMPERED, "tree hash mismatch: packet_tree.sha256");
}

#[test]
fn verify_reports_a_manifest_edit_that_keeps_file_hashes_consistent() {
    // An attacker changes a file AND its manifest line: the tree hash catches it.
    let (_t, p) = sealed();
    fs::write(p.join("README.md"), "# forged\n").unwrap();
    let new_hash = holdfast::digest::sha256_hex(b"# forged\n");
    let m: String = manifest(&p)
        .lines()
        .map(|l| {
            if l.ends_with("  README.md") {
                format!("{new_hash}  README.md\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    fs::write(p.join("HASH_MANIFEST.txt"), m).unwrap();
    verify_fails(&p, TAMPERED, "tree hash mismatch");
}

#[test]
fn verify_reports_missing_seal_files() {
    let (_t, p) = sealed();
    fs::remove_file(p.join("packet_tree.sha256")).unwrap();
    verify_fails(&p, TAMPERED, "missing seal file: packet_tree.sha256");
    let (_t, q) = sealed();
    fs::remove_file(q.join("HASH_MANIFEST.txt")).unwrap();
    verify_fails(&q, TAMPERED, "missing seal file: HASH_MANIFEST.txt");
    let (_t, r) = packet();
    verify_fails(&r, TAMPERED, "the packet is not sealed");
}

// ---------------------------------------------------------------- verify: malformed manifests

#[test]
fn verify_reports_a_malformed_manifest_line_with_its_number() {
    let (_t, p) = sealed();
    let mut m = manifest(&p);
    m.push_str("not a checksum line\n");
    write_manifest_and_rehash_tree(&p, &m);
    verify_fails(
        &p,
        MALFORMED,
        "line 6: expected '<64 lowercase hex>  <path>'",
    );
}

#[test]
fn verify_reports_a_duplicate_entry() {
    let (_t, p) = sealed();
    let m = manifest(&p);
    let first = m.lines().next().unwrap();
    write_manifest_and_rehash_tree(&p, &format!("{first}\n{m}"));
    verify_fails(&p, MALFORMED, "is listed more than once");
}

#[test]
fn verify_reports_an_unsorted_manifest() {
    let (_t, p) = sealed();
    let m = manifest(&p);
    let mut lines: Vec<&str> = m.lines().collect();
    lines.reverse();
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    write_manifest_and_rehash_tree(&p, &text);
    verify_fails(&p, MALFORMED, "unsorted: HASH_MANIFEST.txt");
}

#[test]
fn verify_reports_path_escapes() {
    for escape in [
        "../outside.txt",
        "/etc/passwd",
        "evidence/../README.md",
        "./README.md",
    ] {
        let (_t, p) = sealed();
        let h = holdfast::digest::sha256_hex(b"# packet\n");
        let mut m = manifest(&p);
        m.push_str(&format!("{h}  {escape}\n"));
        write_manifest_and_rehash_tree(&p, &m);
        verify_fails(&p, MALFORMED, "path escape: HASH_MANIFEST.txt");
    }
}

#[test]
fn verify_reports_a_malformed_tree_file() {
    let (_t, p) = sealed();
    fs::write(p.join("packet_tree.sha256"), "not a hash\n").unwrap();
    verify_fails(&p, MALFORMED, "malformed seal file: packet_tree.sha256");
}

#[test]
fn verify_reports_every_problem_not_just_the_first() {
    let (_t, p) = sealed();
    fs::write(p.join("README.md"), "x").unwrap();
    fs::remove_file(p.join("manifest.json")).unwrap();
    fs::write(p.join("planted"), "x").unwrap();
    let out = holdfast()
        .args(["verify", "--json"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(TAMPERED));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["changed", "missing", "extra"]);
    assert_eq!(v["status"], "TAMPERED");
}

#[test]
fn verify_of_a_missing_directory_is_an_io_error() {
    let t = tempfile::tempdir().unwrap();
    holdfast()
        .arg("verify")
        .arg(t.path().join("absent"))
        .assert()
        .code(IO)
        .stderr(predicate::str::contains("absent"));
}

#[test]
fn usage_errors_exit_2() {
    holdfast().arg("verify").assert().code(2);
    holdfast().arg("bogus").assert().code(2);
}

#[test]
fn every_subcommand_has_help_and_the_binary_a_version() {
    holdfast()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("holdfast "));
    for sub in ["seal", "verify"] {
        holdfast()
            .args([sub, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains("Usage"));
    }
}

// ---------------------------------------------------------------- property: no mutation goes unnoticed

#[derive(Debug, Clone)]
enum Mutation {
    FlipByte { file: usize, at: usize },
    Delete { file: usize },
    Add { name: String },
    Rename { file: usize, to: String },
    Truncate { file: usize },
}

fn tree_strategy() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let name = "[a-z]{1,6}(/[a-z]{1,6}){0,2}";
    prop::collection::btree_map(name, prop::collection::vec(any::<u8>(), 0..200), 1..8)
        .prop_map(|m| m.into_iter().collect::<Vec<_>>())
        .prop_filter("no file may also be a directory", |files| {
            files
                .iter()
                .all(|(a, _)| !files.iter().any(|(b, _)| b.starts_with(&format!("{a}/"))))
        })
}

fn mutation_strategy() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<usize>()).prop_map(|(file, at)| Mutation::FlipByte { file, at }),
        any::<usize>().prop_map(|file| Mutation::Delete { file }),
        "[A-Z]{1,6}".prop_map(|name| Mutation::Add { name }),
        (any::<usize>(), "[A-Z]{1,6}").prop_map(|(file, to)| Mutation::Rename { file, to }),
        any::<usize>().prop_map(|file| Mutation::Truncate { file }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn verify_never_passes_after_any_mutation(files in tree_strategy(), m in mutation_strategy()) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        for (name, bytes) in &files {
            let path = root.join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, bytes).unwrap();
        }
        seal(root);
        holdfast().arg("verify").arg(root).assert().success();
        let pick = |i: usize| &files[i % files.len()];
        match &m {
            Mutation::FlipByte { file, at } => {
                let (name, bytes) = pick(*file);
                let mut b = bytes.clone();
                if b.is_empty() { b.push(0) } else { let i = at % b.len(); b[i] ^= 0x01; }
                fs::write(root.join(name), b).unwrap();
            }
            Mutation::Delete { file } => fs::remove_file(root.join(&pick(*file).0)).unwrap(),
            Mutation::Add { name } => fs::write(root.join(name), b"new").unwrap(),
            Mutation::Rename { file, to } => fs::rename(root.join(&pick(*file).0), root.join(to)).unwrap(),
            Mutation::Truncate { file } => {
                let (name, bytes) = pick(*file);
                let cut = if bytes.is_empty() { b"x".to_vec() } else { bytes[..bytes.len() - 1].to_vec() };
                fs::write(root.join(name), cut).unwrap();
            }
        }
        let out = holdfast().arg("verify").arg(root).output().unwrap();
        prop_assert_ne!(out.status.code(), Some(0), "mutation {:?} went unnoticed", m);
        prop_assert!(!String::from_utf8_lossy(&out.stdout).contains("verified"));
    }
}
