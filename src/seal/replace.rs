//! When may a command replace an existing directory? Only when it is a
//! sealed packet that verifies and holds nothing else.
//!
//! `run --force` exchanges a new packet with the directory at `--out` and
//! then deletes the old one. Anything that is not provably a packet (a
//! spec, a source tree, a registry, a home directory with a stray
//! `manifest.json`) must never be deleted that way, and neither may a
//! packet someone added files to: those files are listed nowhere, so
//! deleting them loses data no seal can bring back. The test is the seal's
//! own: [`super::verify`] must report nothing at all (the packet's signature
//! file, [`crate::seal::ATTESTATION_FILE`], lives next to the seal files
//! and is not listed in the manifest; any other unlisted file is refused).

use std::path::Path;

use crate::error::{Error, IoContext, Result};
use crate::progress::NoProgress;

use super::ProblemKind;

/// True for a packet-relative path that is the packet's signature file:
/// exactly [`crate::seal::ATTESTATION_FILE`] at the packet root. Any other
/// `*.intoto.jsonl` is an unlisted file like any other, and never deleted.
pub fn is_signature_file(rel: &str) -> bool {
    rel == crate::seal::ATTESTATION_FILE
}

/// Checks that `dir` may be replaced (and then deleted) by a command given
/// `flag` (e.g. `"run --force"`): it is a real directory (not a link), its
/// seal verifies, and it holds nothing but the files its manifest lists, the
/// seal files and root-level signature files. Otherwise a refusal (exit 5)
/// naming the directory and the first reason, with nothing touched.
pub fn check_replaceable(dir: &Path, flag: &str) -> Result<()> {
    let shown = dir.display();
    let refuse = |why: String| {
        Error::refused(format!(
            "{flag} replaces only a packet that is sealed, verifies and holds nothing \
             else, and {shown} {why}; nothing was touched"
        ))
    };
    let meta = dir.symlink_metadata().at(dir)?;
    if meta.file_type().is_symlink() {
        return Err(refuse("is a symbolic link".into()));
    }
    if !meta.is_dir() {
        return Err(refuse("is not a directory".into()));
    }
    let report =
        super::verify(dir, &NoProgress).map_err(|e| refuse(format!("cannot be verified ({e})")))?;
    let problems: Vec<_> = report
        .problems
        .iter()
        .filter(|p| !(p.kind == ProblemKind::Extra && is_signature_file(&p.path)))
        .collect();
    let Some(first) = problems.first() else {
        return Ok(());
    };
    let more = match problems.len() {
        1 => String::new(),
        n => format!(" (and {} more problem(s))", n - 1),
    };
    let why = if problems
        .iter()
        .any(|p| p.kind == ProblemKind::MissingSealFile)
    {
        "is not sealed".to_string()
    } else {
        format!(
            "does not verify: {}: {} ({}){more}",
            first.kind.label(),
            first.path,
            first.detail
        )
    };
    Err(refuse(why))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn sealed() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("sub")).unwrap();
        fs::write(d.path().join("sub/a"), "a").unwrap();
        fs::write(d.path().join("manifest.json"), "{}").unwrap();
        super::super::seal(d.path(), Default::default(), &NoProgress).unwrap();
        d
    }

    fn refusal(dir: &Path) -> String {
        let e = check_replaceable(dir, "run --force").unwrap_err();
        assert_eq!(e.exit_code(), 5, "{e}");
        e.to_string()
    }

    #[test]
    fn a_sealed_packet_with_signatures_may_be_replaced() {
        let d = sealed();
        check_replaceable(d.path(), "run --force").unwrap();
        fs::write(d.path().join(crate::seal::ATTESTATION_FILE), "{}\n").unwrap();
        check_replaceable(d.path(), "run --force").unwrap();
        fs::write(d.path().join("other.intoto.jsonl"), "{}\n").unwrap();
        assert!(refusal(d.path()).contains("extra: other.intoto.jsonl"));
    }

    #[test]
    fn anything_else_is_refused_naming_why() {
        let d = sealed();
        fs::write(d.path().join("sub/x.intoto.jsonl"), "{}\n").unwrap();
        let e = refusal(d.path());
        assert!(e.contains("extra: sub/x.intoto.jsonl"), "{e}");
        fs::remove_file(d.path().join("sub/x.intoto.jsonl")).unwrap();
        fs::create_dir(d.path().join("empty")).unwrap();
        assert!(refusal(d.path()).contains("extra: empty"));
        fs::remove_dir(d.path().join("empty")).unwrap();
        fs::write(d.path().join("sub/a"), "b").unwrap();
        assert!(refusal(d.path()).contains("changed: sub/a"));
        fs::remove_file(d.path().join("HASH_MANIFEST.txt")).unwrap();
        assert!(refusal(d.path()).contains("is not sealed"));
        let f = d.path().join("manifest.json");
        assert!(refusal(&f).contains("is not a directory"));
        assert!(!is_signature_file(".intoto.jsonl"));
        assert!(!is_signature_file("a.intoto.jsonl"));
        assert!(is_signature_file(crate::seal::ATTESTATION_FILE));
    }
}
