//! The guides in docs/guide/ work as written: every ```sh block of a guide
//! runs, in order, in one shell in a fresh directory with the real binary on
//! PATH, and every line of its ```text blocks (the output the guide shows;
//! a `…` ends the part that is compared) appears in what the commands print.
//! A guide that builds on another runs after it in the same directory.

use std::path::{Path, PathBuf};
use std::process::Command;

fn guide_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/guide")
}

/// A guide's shell script (its ```sh blocks, in order) and the output lines
/// its ```text blocks promise.
fn parse(md: &str) -> (String, Vec<String>) {
    let mut script = String::new();
    let mut expected = Vec::new();
    let mut block: Option<&str> = None;
    for line in md.lines() {
        match block {
            None => {
                if let Some(lang) = line.strip_prefix("```") {
                    block = Some(lang.trim());
                }
            }
            Some(_) if line.trim_start() == "```" => block = None,
            Some("sh") => {
                script.push_str(line);
                script.push('\n');
            }
            Some("text") => {
                let want = line.split('…').next().unwrap_or(line).trim();
                if !want.is_empty() {
                    expected.push(want.to_string());
                }
            }
            Some(_) => {}
        }
    }
    (script, expected)
}

/// Runs the guides in `dir`, one after the other, each in one `bash -euo
/// pipefail`, and checks each one's promised output.
fn follow(guides: &[&str], dir: &Path) {
    let bin = assert_cmd::cargo::cargo_bin("holdfast");
    let bin_dir = bin.parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for guide in guides {
        let md = std::fs::read_to_string(guide_dir().join(guide)).unwrap();
        let (script, expected) = parse(&md);
        assert!(!script.is_empty(), "{guide}: no ```sh block");
        let mut cmd = Command::new("bash");
        cmd.args(["-euo", "pipefail", "-c", &script])
            .current_dir(dir)
            .env("PATH", &path)
            .env("LC_ALL", "C.UTF-8");
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("HOLDFAST_") {
                cmd.env_remove(k);
            }
        }
        let out = cmd.output().unwrap();
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "docs/guide/{guide}: its commands failed ({:?}):\n{printed}",
            out.status
        );
        for want in &expected {
            assert!(
                printed.contains(want.as_str()),
                "docs/guide/{guide}: shows {want:?}, but the commands printed:\n{printed}"
            );
        }
    }
}

/// Every guide and the test that follows it, so a new guide cannot go
/// untested.
const FOLLOWED: &[&str] = &[
    "first-packet.md",
    "verify-offline.md",
    "user-probes.md",
    "signing.md",
    "fold-and-rollback.md",
];

#[test]
fn first_packet_then_verify_offline_user_probes_and_signing_work_as_written() {
    let d = tempfile::tempdir().unwrap();
    follow(
        &[
            "first-packet.md",
            "verify-offline.md",
            "user-probes.md",
            "signing.md",
        ],
        d.path(),
    );
    assert!(d.path().join("packet/HASH_MANIFEST.txt").is_file());
    assert!(d.path().join("signed-packet/packet.intoto.jsonl").is_file());
}

#[test]
fn the_fold_and_rollback_guide_works_as_written() {
    let d = tempfile::tempdir().unwrap();
    follow(&["fold-and-rollback.md"], d.path());
    assert!(
        d.path()
            .join("folds/governance-fold-1-3-result.json")
            .is_file()
    );
}

#[test]
fn every_guide_is_followed_by_a_test() {
    let mut guides: Vec<String> = std::fs::read_dir(guide_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .collect();
    guides.sort();
    let mut followed: Vec<String> = FOLLOWED.iter().map(|s| s.to_string()).collect();
    followed.sort();
    assert_eq!(guides, followed);
}

#[test]
fn the_parser_takes_sh_blocks_and_promised_output_only() {
    let md = "text\n```sh\necho one\n```\n```text\none\nsha …ignored\n```\n```toml\nx = 1\n```\n";
    let (script, expected) = parse(md);
    assert_eq!(script, "echo one\n");
    assert_eq!(expected, ["one", "sha"]);
}
