//! `docs/reference/cli.md` is the binary's own help: `holdfast --help` and
//! `holdfast <cmd> --help` for every command and subcommand the help lists.
//! The test walks the command tree of the real binary, renders the page and
//! fails if the committed page differs; `UPDATE_DOCS=1 cargo test --test it
//! docs_reference::` rewrites it.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn page_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reference/cli.md")
}

/// The help text of `holdfast ARGS… --help`, exactly as a user sees it.
/// clap is built without terminal-size detection, so the width is fixed;
/// `COLUMNS` is set all the same so the page never depends on the terminal.
fn help(path: &[String]) -> String {
    let out = Command::cargo_bin("holdfast")
        .unwrap()
        .args(path)
        .arg("--help")
        .env("COLUMNS", "100")
        .env_remove("CLICOLOR_FORCE")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "holdfast {} --help exited {:?}: {}",
        path.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "holdfast {} --help", path.join(" "));
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommand names a help text lists under `Commands:`, in order,
/// without clap's own `help`.
fn subcommands(help: &str) -> Vec<String> {
    let Some(start) = help.find("\nCommands:\n") else {
        return Vec::new();
    };
    help[start + "\nCommands:\n".len()..]
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   ")) // a wrapped description line
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// Every command path, depth first, with its help text.
fn walk(path: Vec<String>, into: &mut Vec<(Vec<String>, String)>) {
    let text = help(&path);
    let children = subcommands(&text);
    into.push((path.clone(), text));
    for c in children {
        let mut p = path.clone();
        p.push(c);
        walk(p, into);
    }
}

fn render() -> String {
    let mut all = Vec::new();
    walk(Vec::new(), &mut all);
    let mut page = String::from(
        "# CLI reference\n\n\
         Generated from the binary's own help by `tests/it/docs_reference.rs`; do not edit it by\n\
         hand. After changing a command's arguments or help text, rewrite it with\n\
         `UPDATE_DOCS=1 cargo test --test it docs_reference::`.\n\n\
         What the exit codes mean for each command: [exit-codes.md](exit-codes.md).\n\n",
    );
    // A table of contents, so a command is one click away.
    for (path, _) in &all {
        let name = display(path);
        page.push_str(&format!("- [`{name}`](#{})\n", anchor(&name)));
    }
    for (path, text) in &all {
        page.push_str(&format!("\n## {}\n\n```text\n{}```\n", display(path), text));
    }
    page
}

fn display(path: &[String]) -> String {
    std::iter::once("holdfast".to_string())
        .chain(path.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The anchor GitHub and most Markdown renderers give a `## holdfast x y` heading.
fn anchor(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn the_cli_reference_is_the_binarys_help() {
    let page = render();
    let path = page_path();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &page).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != page {
        let first = committed
            .lines()
            .zip(page.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(page.lines().count()));
        panic!(
            "docs/reference/cli.md is not the binary's help (first difference at line {}); \
             run `UPDATE_DOCS=1 cargo test --test it docs_reference::`",
            first + 1
        );
    }
}

#[test]
fn the_walk_finds_every_command_and_nested_subcommand() {
    // The walk must reach the nested commands, or the page would silently
    // cover only the top level.
    let mut all = Vec::new();
    walk(Vec::new(), &mut all);
    let names: Vec<String> = all.iter().map(|(p, _)| display(p)).collect();
    for needed in [
        "holdfast",
        "holdfast run",
        "holdfast verify",
        "holdfast registry",
        "holdfast registry fold",
        "holdfast registry verify-history",
        "holdfast key generate",
        "holdfast plan check",
        "holdfast authorize",
    ] {
        assert!(
            names.iter().any(|n| n == needed),
            "{needed} not in {names:?}"
        );
    }
    assert!(!names.iter().any(|n| n.ends_with(" help")), "{names:?}");
}

#[test]
fn subcommands_are_read_from_the_commands_section_only() {
    let text = "Usage: x\n\nCommands:\n  run   Run it\n  key   Keys: a long\n        wrapped line\n  help  Print this\n\nOptions:\n  --json  JSON\n";
    assert_eq!(subcommands(text), ["run", "key"]);
    assert!(subcommands("Usage: x\n\nOptions:\n  -h\n").is_empty());
}
