//! Classes that attack the seal: `holdfast verify` on bad copies of a
//! sealed packet.

use super::*;

const VERIFY: &[&str] = &["verify-good-packet"];

/// The classes of this family, each with the builder of its bad inputs.
pub(super) fn classes() -> Vec<ClassDef> {
    vec![
        class(
            "tampered-artifact",
            "a packet file changed after sealing",
            &["verify"],
            VERIFY,
            tampered,
        ),
        class(
            "missing-artifact",
            "a sealed file or seal file removed",
            &["verify"],
            VERIFY,
            missing,
        ),
        class(
            "extra-artifact",
            "an unlisted file added to a sealed packet",
            &["verify"],
            VERIFY,
            extra,
        ),
        class(
            "path-escape",
            "manifest paths that leave the packet (.., dir/../x, absolute)",
            &["verify"],
            VERIFY,
            path_escape,
        ),
        class(
            "symlink-out",
            "symbolic links pointing out of the packet",
            &["verify"],
            VERIFY,
            symlink_out,
        ),
        class(
            "mix-and-match",
            "artifacts or seal files taken from another packet",
            &["verify"],
            VERIFY,
            mix_and_match,
        ),
        class(
            "seal-forgery",
            "forged or malformed seal files",
            &["verify"],
            VERIFY,
            seal_forgery,
        ),
    ]
}

/// Writes a manifest and a tree hash that matches it, so that only the
/// manifest's own defect is left for verify to find.
fn forge(d: &Path, manifest: &[u8]) -> Result<()> {
    wr(&d.join(MANIFEST_NAME), manifest)?;
    wr(
        &d.join(TREE_NAME),
        &seal::render_tree(&digest::sha256_hex(manifest)),
    )
}

fn manifest_lines(d: &Path) -> Result<Vec<String>> {
    let text = String::from_utf8_lossy(&rd(&d.join(MANIFEST_NAME))?).into_owned();
    Ok(text.lines().map(str::to_string).collect())
}

/// Adds listed paths (with the hash of `bytes`), sorted, and re-forges the tree.
fn add_listed(d: &Path, paths: &[&str], bytes: &[u8]) -> Result<()> {
    let mut lines = manifest_lines(d)?;
    for p in paths {
        lines.push(format!("{}  {p}", digest::sha256_hex(bytes)));
    }
    lines.sort_by(|a, b| a.as_bytes()[66..].cmp(&b.as_bytes()[66..]));
    let mut text = lines.join("\n");
    text.push('\n');
    forge(d, text.as_bytes())
}

pub(super) fn tampered(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let mut v = Vec::new();
    let d = fx.packet_copy("flip-byte")?;
    let mut b = rd(&d.join("README.md"))?;
    b[0] ^= 0x01;
    wr(&d.join("README.md"), &b)?;
    v.push(cs(
        "flip-byte",
        "README.md with its first byte changed",
        verify(&d),
        &[1],
    ));

    let d = fx.packet_copy("append-byte")?;
    let mut b = rd(&d.join("manifest.json"))?;
    b.push(b'\n');
    wr(&d.join("manifest.json"), &b)?;
    v.push(cs(
        "append-byte",
        "manifest.json with one byte appended",
        verify(&d),
        &[1],
    ));

    let d = fx.packet_copy("truncate")?;
    wr(&d.join("evidence/inventory.json"), b"")?;
    v.push(cs(
        "truncate",
        "evidence/inventory.json truncated to nothing",
        verify(&d),
        &[1],
    ));

    let d = fx.packet_copy("swap")?;
    let a = rd(&d.join("README.md"))?;
    let n = rd(&d.join("evidence/deep/notes.txt"))?;
    wr(&d.join("README.md"), &n)?;
    wr(&d.join("evidence/deep/notes.txt"), &a)?;
    v.push(cs(
        "swap",
        "the contents of two sealed files swapped",
        verify(&d),
        &[1],
    ));
    Ok(v)
}

pub(super) fn missing(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let mut v = Vec::new();
    for (name, rel, what) in [
        ("file", "evidence/inventory.json", "a sealed file deleted"),
        ("directory", "evidence/deep", "a sealed directory deleted"),
        ("manifest", MANIFEST_NAME, "HASH_MANIFEST.txt deleted"),
        ("tree-hash", TREE_NAME, "packet_tree.sha256 deleted"),
    ] {
        let d = fx.packet_copy(name)?;
        rm(&d.join(rel))?;
        v.push(cs(name, what, verify(&d), &[1]));
    }
    Ok(v)
}

pub(super) fn extra(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let mut v = Vec::new();
    for (name, rel, what) in [
        ("file", "new.txt", "an unlisted file at the top"),
        ("hidden", ".hidden", "an unlisted hidden file"),
        (
            "leftover-temp",
            ".holdfast-tmp-x",
            "a leftover temporary file of an interrupted write",
        ),
        (
            "in-subdir",
            "evidence/deep/extra.json",
            "an unlisted file in a subdirectory",
        ),
    ] {
        let d = fx.packet_copy(name)?;
        fx.put(&d.join(rel), b"{}\n")?;
        v.push(cs(name, what, verify(&d), &[1]));
    }
    Ok(v)
}

pub(super) fn path_escape(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let readme = rd(&fx.good.join("README.md"))?;
    let abs = s(&fx.outside.join("README.md"));
    let mut v = Vec::new();
    for (name, listed, what) in [
        (
            "dotdot",
            "../outside/README.md".to_string(),
            "a manifest line ../outside/README.md",
        ),
        (
            "dir-dotdot",
            "evidence/../../outside/README.md".to_string(),
            "a manifest line dir/../../x",
        ),
        (
            "inner-dotdot",
            "evidence/../README.md".to_string(),
            "a manifest line dir/../x that stays inside",
        ),
        ("absolute", abs, "a manifest line with an absolute path"),
        ("dot", "./README.md".to_string(), "a manifest line ./x"),
        (
            "backslash",
            "evidence\\..\\..\\outside\\README.md".to_string(),
            "a manifest line with backslash separators",
        ),
    ] {
        let d = fx.packet_copy(name)?;
        add_listed(&d, &[&listed], &readme)?;
        v.push(cs(
            name,
            &format!("{what} (tree hash forged to match)"),
            verify(&d),
            &[3],
        ));
    }
    Ok(v)
}

pub(super) fn symlink_out(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let mut v = Vec::new();
    let d = fx.packet_copy("file-link")?;
    rm(&d.join("README.md"))?;
    link(&fx.outside.join("README.md"), &d.join("README.md"))?;
    v.push(cs(
        "file-link",
        "README.md replaced by a link to an outside file with the same bytes",
        verify(&d),
        &[1],
    ));

    let d = fx.packet_copy("dir-link")?;
    rm(&d.join("evidence/deep"))?;
    link(&fx.outside.join("deep"), &d.join("evidence/deep"))?;
    v.push(cs(
        "dir-link",
        "a sealed directory replaced by a link to an outside copy",
        verify(&d),
        &[1],
    ));

    let d = fx.packet_copy("seal-link")?;
    rm(&d.join(MANIFEST_NAME))?;
    link(&fx.outside.join(MANIFEST_NAME), &d.join(MANIFEST_NAME))?;
    v.push(cs(
        "seal-link",
        "HASH_MANIFEST.txt replaced by a link to an identical outside copy",
        verify(&d),
        &[1],
    ));

    let d = fx.packet_copy("extra-link")?;
    link(&fx.outside, &d.join("escape"))?;
    v.push(cs(
        "extra-link",
        "an added link to a directory outside the packet",
        verify(&d),
        &[1],
    ));
    Ok(v)
}

pub(super) fn mix_and_match(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let mut v = Vec::new();
    let d = fx.packet_copy("foreign-file")?;
    std::fs::copy(
        fx.other.join("evidence/inventory.json"),
        d.join("evidence/inventory.json"),
    )
    .at(&d)?;
    v.push(cs(
        "foreign-file",
        "evidence/inventory.json taken from another sealed packet",
        verify(&d),
        &[1],
    ));

    for (name, files, what) in [
        (
            "foreign-seal",
            &[MANIFEST_NAME, TREE_NAME][..],
            "both seal files taken from another packet",
        ),
        (
            "foreign-manifest",
            &[MANIFEST_NAME][..],
            "HASH_MANIFEST.txt taken from another packet",
        ),
        (
            "foreign-tree-hash",
            &[TREE_NAME][..],
            "packet_tree.sha256 taken from another packet",
        ),
    ] {
        let d = fx.packet_copy(name)?;
        for f in files {
            std::fs::copy(fx.other.join(f), d.join(f)).at(&d)?;
        }
        v.push(cs(name, what, verify(&d), &[1]));
    }
    Ok(v)
}

pub(super) fn seal_forgery(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let mut v = Vec::new();
    // The classic forgery: change a file and its manifest line, leave the tree hash.
    let d = fx.packet_copy("rehashed-entry")?;
    let new = b"# forged\n";
    wr(&d.join("README.md"), new)?;
    let lines: Vec<String> = manifest_lines(&d)?
        .into_iter()
        .map(|l| {
            if l.ends_with("  README.md") {
                format!("{}  README.md", digest::sha256_hex(new))
            } else {
                l
            }
        })
        .collect();
    wr(
        &d.join(MANIFEST_NAME),
        format!("{}\n", lines.join("\n")).as_bytes(),
    )?;
    v.push(cs(
        "rehashed-entry",
        "a file changed and its manifest line rehashed, tree hash left",
        verify(&d),
        &[1],
    ));

    let good_tree = String::from_utf8_lossy(&rd(&fx.good.join(TREE_NAME))?).into_owned();
    for (name, tree, what) in [
        (
            "tree-other-name",
            good_tree.replace(MANIFEST_NAME, "README.md"),
            "packet_tree.sha256 naming another file",
        ),
        (
            "tree-uppercase",
            good_tree
                .to_uppercase()
                .replace("HASH_MANIFEST.TXT", MANIFEST_NAME),
            "packet_tree.sha256 in upper-case hex",
        ),
        (
            "tree-two-lines",
            format!("{good_tree}{good_tree}"),
            "packet_tree.sha256 with two lines",
        ),
    ] {
        let d = fx.packet_copy(name)?;
        wr(&d.join(TREE_NAME), tree.as_bytes())?;
        v.push(cs(name, what, verify(&d), &[3]));
    }

    let lines = manifest_lines(&fx.good)?;
    let joined = |ls: &[String]| format!("{}\n", ls.join("\n"));
    let mut unsorted = lines.clone();
    unsorted.swap(0, 1);
    let mut dup = lines.clone();
    dup.insert(1, lines[0].clone());
    let star: Vec<String> = lines.iter().map(|l| l.replacen("  ", " *", 1)).collect();
    let mut itself = lines.clone();
    itself.push(format!("{}  {MANIFEST_NAME}", "0".repeat(64)));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "unsorted",
            joined(&unsorted).into_bytes(),
            "manifest lines out of order",
        ),
        (
            "duplicate-line",
            joined(&dup).into_bytes(),
            "a manifest line listed twice",
        ),
        (
            "crlf",
            joined(&lines).replace('\n', "\r\n").into_bytes(),
            "manifest with CRLF line ends",
        ),
        (
            "binary-mode",
            joined(&star).into_bytes(),
            "manifest lines in sha256sum binary mode (*path)",
        ),
        (
            "lists-itself",
            joined(&itself).into_bytes(),
            "a manifest that lists itself",
        ),
        ("empty-manifest", Vec::new(), "an empty manifest"),
        (
            "no-final-newline",
            lines.join("\n").into_bytes(),
            "a manifest without its final newline",
        ),
        (
            "not-utf8",
            b"\xff\xfe\n".to_vec(),
            "a manifest that is not UTF-8",
        ),
    ];
    for (name, bytes, what) in cases {
        let d = fx.packet_copy(name)?;
        forge(&d, &bytes)?;
        v.push(cs(
            name,
            &format!("{what} (tree hash forged to match)"),
            verify(&d),
            &[3],
        ));
    }
    Ok(v)
}
