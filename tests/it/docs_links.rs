//! The documentation names only files the repository has: every relative
//! link and every backticked repository path in README.md, CONTRIBUTING.md
//! and docs/**/*.md must exist, and no file of the repository mentions a
//! design document it does not carry.

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md, CONTRIBUTING.md and every Markdown file under docs/, sorted.
fn doc_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md"), root().join("CONTRIBUTING.md")];
    let mut docs: Vec<PathBuf> = walkdir::WalkDir::new(root().join("docs"))
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The text of a Markdown file outside fenced code blocks, one entry per
/// line with its line number.
fn prose(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push((i + 1, line));
        }
    }
    out
}

/// The targets of inline links `[text](target)` on a line.
fn link_targets(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        let Some(end) = after.find(')') else { break };
        out.push(after[..end].trim());
        rest = &after[end..];
    }
    out
}

/// A line without its inline code spans: `[a](b)` inside backticks (a regex,
/// an example) is code, not a link.
fn outside_code(line: &str) -> String {
    line.split('`').step_by(2).collect::<Vec<_>>().join(" ")
}

/// The inline code spans of a line (text between single backticks).
fn code_spans(line: &str) -> Vec<&str> {
    line.split('`').skip(1).step_by(2).collect()
}

/// The top-level names a backticked repository path starts with.
fn top_level() -> Vec<String> {
    std::fs::read_dir(root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "target" && n != ".git")
        .collect()
}

/// A code span names a repository file when it is one word that starts with
/// a top-level directory of the repository and a `/`, or is a top-level
/// file's name; placeholders (`<name>`, globs) name no single file.
fn repository_path<'a>(span: &'a str, top: &[String]) -> Option<&'a str> {
    if span.is_empty() || span.contains(char::is_whitespace) {
        return None;
    }
    if span.contains(['<', '>', '*', '{', '}', '$', '…']) {
        return None;
    }
    let first = span.split('/').next()?;
    let is_dir = top.iter().any(|t| t == first && root().join(t).is_dir());
    if is_dir && span.contains('/') {
        return Some(span);
    }
    None
}

fn problems() -> Vec<String> {
    let top = top_level();
    let mut problems = Vec::new();
    for file in doc_files() {
        let rel = file.strip_prefix(root()).unwrap().display().to_string();
        let Ok(text) = std::fs::read_to_string(&file) else {
            problems.push(format!("{rel}: missing"));
            continue;
        };
        let dir = file.parent().unwrap();
        for (n, line) in prose(&text) {
            let text = outside_code(line);
            for target in link_targets(&text) {
                if target.contains("://")
                    || target.starts_with("mailto:")
                    || target.starts_with('#')
                {
                    continue;
                }
                let path = target.split('#').next().unwrap_or(target);
                if !dir.join(path).exists() {
                    problems.push(format!("{rel}:{n}: link to {target}: no such file"));
                }
            }
            for span in code_spans(line) {
                if let Some(path) = repository_path(span, &top)
                    && !root().join(path).exists()
                {
                    problems.push(format!("{rel}:{n}: `{path}`: no such file"));
                }
            }
        }
    }
    problems
}

#[test]
fn a_link_inside_a_code_span_is_code_and_one_outside_is_a_link() {
    let line = "see [x](a.md) and `[0-9](b)` here";
    assert_eq!(link_targets(&outside_code(line)), ["a.md"]);
    assert_eq!(link_targets(line), ["a.md", "b"]);
}

#[test]
fn every_link_and_repository_path_in_the_docs_exists() {
    let p = problems();
    assert!(p.is_empty(), "{}", p.join("\n"));
}

#[test]
fn no_file_mentions_a_design_document_the_repository_lacks() {
    let needle = concat!("DESIGN", ".md");
    let mut found = Vec::new();
    for dir in [
        "src", "tests", "docs", "examples", "schemas", "bench", "benches", ".ci",
    ] {
        for e in walkdir::WalkDir::new(root().join(dir)) {
            let e = e.unwrap();
            if !e.file_type().is_file() {
                continue;
            }
            if std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains(needle)) {
                found.push(e.path().strip_prefix(root()).unwrap().display().to_string());
            }
        }
    }
    for f in ["README.md", "CONTRIBUTING.md", "Cargo.toml"] {
        if std::fs::read_to_string(root().join(f)).is_ok_and(|t| t.contains(needle)) {
            found.push(f.to_string());
        }
    }
    assert!(found.is_empty(), "{needle} is mentioned in {found:?}");
}

#[test]
fn the_checker_catches_a_missing_file() {
    // The checks must be able to fail: a link and a path that do not exist.
    let top = top_level();
    assert_eq!(
        link_targets("see [x](docs/nope.md) and [y](#a)"),
        ["docs/nope.md", "#a"]
    );
    assert_eq!(repository_path("docs/nope.md", &top), Some("docs/nope.md"));
    assert!(!root().join("docs/nope.md").exists());
    assert_eq!(repository_path("spec/", &top), None);
    assert_eq!(repository_path("tests/it/<name>.rs", &top), None);
    assert_eq!(code_spans("a `b` c `d e` f"), ["b", "d e"]);
    assert_eq!(
        prose("x\n```sh\n[a](gone.md)\n```\ny"),
        [(1, "x"), (5, "y")]
    );
}
