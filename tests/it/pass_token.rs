//! The default pass token is spelled in exactly one place in `src/` (which
//! includes `src/bin/`): inside `fn pass_token` of `src/gate/verdict.rs`.
//! Everything else asks that function for it.

use std::path::{Path, PathBuf};

const TOKEN: &str = "PRODUCTION_PASS";

/// Every (file, 1-based line) under `root` whose text spells the token, or
/// spells it in two string pieces meant to be glued together.
fn spellings(root: &Path) -> Vec<(PathBuf, usize)> {
    let (head, tail) = TOKEN.split_at(TOKEN.find('_').unwrap());
    let split = [
        format!("\"{head}\""),
        format!("\"{head}_\""),
        format!("\"{}\"", tail),
        format!("\"{}\"", &tail[1..]),
    ];
    let mut hits = Vec::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.unwrap();
        if !entry.file_type().is_file() {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap()).into_owned();
        for (i, line) in text.lines().enumerate() {
            if line.contains(TOKEN) || split.iter().any(|s| line.contains(s.as_str())) {
                hits.push((entry.path().to_path_buf(), i + 1));
            }
        }
    }
    hits
}

/// The name of the function whose body holds `line` (the nearest `fn` above).
fn enclosing_fn(file: &Path, line: usize) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for l in lines[..line].iter().rev() {
        let t = l.trim_start();
        if let Some(pos) = t.find("fn ")
            && (pos == 0 || t[..pos].ends_with(' '))
        {
            return t[pos + 3..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
        }
    }
    String::new()
}

#[test]
fn the_default_token_is_spelled_only_in_fn_pass_token() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    assert!(src.join("bin").is_dir(), "src/bin must be part of the scan");
    let hits = spellings(&src);
    let verdict = src.join("gate").join("verdict.rs");
    assert_eq!(
        hits.len(),
        1,
        "the pass token must be spelled exactly once in src/, found: {hits:?}"
    );
    assert_eq!(hits[0].0, verdict, "{hits:?}");
    assert_eq!(enclosing_fn(&verdict, hits[0].1), "pass_token");
}

#[test]
fn the_scan_finds_a_planted_spelling_anywhere() {
    // The check above must be able to fail: copy the tree, plant the token
    // in the binary's sources and in a split form elsewhere, and scan again.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("src");
    for entry in walkdir::WalkDir::new(&src) {
        let entry = entry.unwrap();
        let to = copy.join(entry.path().strip_prefix(&src).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
    assert_eq!(spellings(&copy).len(), 1);
    let main = copy.join("bin").join("holdfast").join("main.rs");
    let mut text = std::fs::read_to_string(&main).unwrap();
    text.push_str(&format!("\nconst _X: &str = \"{TOKEN}\";\n"));
    std::fs::write(&main, text).unwrap();
    assert_eq!(spellings(&copy).len(), 2);
    let lib = copy.join("lib.rs");
    let (head, tail) = TOKEN.split_at(TOKEN.find('_').unwrap());
    let mut text = std::fs::read_to_string(&lib).unwrap();
    text.push_str(&format!(
        "\nconst _Y: &str = concat!(\"{head}\", \"{tail}\");\n"
    ));
    std::fs::write(&lib, text).unwrap();
    assert_eq!(spellings(&copy).len(), 3);
}

#[test]
fn the_library_hands_out_the_default_token() {
    assert_eq!(holdfast::gate::verdict::pass_token(None), TOKEN);
    assert_eq!(
        holdfast::gate::verdict::pass_token(Some("GO_LIVE_APPROVED")),
        "GO_LIVE_APPROVED"
    );
}
