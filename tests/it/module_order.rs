//! The dependency order of the library's modules is written in one place,
//! the fenced block under the heading "Module order" in
//! `docs/ARCHITECTURE.md` (bottom first, one module per line), and held
//! here: no top-level module names one listed above it, and no file inside
//! `surface`, `gate` or `probe` names a sibling listed above it (so the files
//! of those modules form no import cycle).
//!
//! A reference is any `crate::` path (in `use` or inline, test code
//! included) and, inside a module, a `super::` path; comments and string
//! literals are skipped. `mod.rs` is the unit `<module>::mod`; what it
//! re-exports (`pub use child::Item`) counts as the child's. The one
//! exception is the pass token: every layer may ask
//! `gate::verdict::pass_token` for it, because the rule that it is spelled
//! in that one function (tests/it/pass_token.rs) outranks layering.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules whose files are ordered too.
const INNER: &[&str] = &["surface", "gate", "probe"];
/// The paths any layer may name (see the module comment).
const ANY_LAYER: &[&str] = &["gate::verdict::pass_token"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The lines of the fenced block under the "Module order" heading.
fn order_block(doc: &str) -> Result<Vec<String>, String> {
    let mut lines = doc.lines();
    lines
        .by_ref()
        .find(|l| l.starts_with('#') && l.contains("Module order"))
        .ok_or("docs/ARCHITECTURE.md has no \"Module order\" heading")?;
    lines
        .by_ref()
        .find(|l| l.starts_with("```"))
        .ok_or("no fenced block under \"Module order\"")?;
    let mut out = Vec::new();
    for l in lines {
        if l.starts_with("```") {
            return Ok(out);
        }
        let name = l.split_whitespace().next().unwrap_or("");
        if !name.is_empty() {
            out.push(name.to_string());
        }
    }
    Err("the \"Module order\" block is not closed".into())
}

/// Rust source with comments, string and char literals blanked out (so a
/// path in a doc comment or a message is not a reference). Newlines stay.
fn strip(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let n = b.len();
    let mut out = String::with_capacity(n);
    let mut i = 0;
    let word = |j: usize| j > 0 && (b[j - 1].is_alphanumeric() || b[j - 1] == '_');
    while i < n {
        let c = b[i];
        if c == '/' && i + 1 < n && b[i + 1] == '/' {
            while i < n && b[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && i + 1 < n && b[i + 1] == '*' {
            let mut depth = 0;
            while i < n {
                if b[i] == '/' && i + 1 < n && b[i + 1] == '*' {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && i + 1 < n && b[i + 1] == '/' {
                    depth -= 1;
                    i += 2;
                } else {
                    if b[i] == '\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
                if depth == 0 {
                    break;
                }
            }
            continue;
        }
        // Raw strings: r"..", r#".."#, br#".."#.
        if c == 'r' && !word(i) || (c == 'b' && i + 1 < n && b[i + 1] == 'r' && !word(i)) {
            let mut j = if c == 'b' { i + 2 } else { i + 1 };
            let mut hashes = 0;
            while j < n && b[j] == '#' {
                hashes += 1;
                j += 1;
            }
            if j < n && b[j] == '"' {
                j += 1;
                loop {
                    if j >= n {
                        break;
                    }
                    if b[j] == '"' && (0..hashes).all(|k| j + 1 + k < n && b[j + 1 + k] == '#') {
                        j += 1 + hashes;
                        break;
                    }
                    if b[j] == '\n' {
                        out.push('\n');
                    }
                    j += 1;
                }
                out.push_str("\"\"");
                i = j;
                continue;
            }
        }
        if c == '"' {
            let mut j = i + 1;
            while j < n && b[j] != '"' {
                if b[j] == '\n' {
                    out.push('\n');
                }
                j += if b[j] == '\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i = j + 1;
            continue;
        }
        if c == '\'' {
            // A char literal ('x', '\n', '\'', '\u{..}'); otherwise a lifetime.
            if i + 1 < n && b[i + 1] == '\\' {
                let mut j = i + 2;
                while j < n && b[j] != '\'' {
                    j += 1;
                }
                out.push_str("' '");
                i = j + 1;
                continue;
            }
            if i + 2 < n && b[i + 2] == '\'' {
                out.push_str("' '");
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Expands a path tree starting at `s` (just after `prefix::`): `a::b`,
/// `{a, b::{c, d}}`, `*`. Returns the leaf paths (segments) and the length read.
fn expand(s: &[char]) -> (Vec<Vec<String>>, usize) {
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < s.len() && s[*i].is_whitespace() {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    if i < s.len() && s[i] == '{' {
        i += 1;
        let mut all = Vec::new();
        loop {
            skip_ws(&mut i);
            if i >= s.len() {
                break;
            }
            if s[i] == '}' {
                i += 1;
                break;
            }
            if s[i] == ',' {
                i += 1;
                continue;
            }
            let (paths, used) = expand(&s[i..]);
            all.extend(paths);
            i += used.max(1);
            // Skip an `as alias`.
            skip_ws(&mut i);
            if i < s.len()
                && s[i..].starts_with(&['a', 's'])
                && s.get(i + 2).is_some_and(|c| c.is_whitespace())
            {
                i += 2;
                skip_ws(&mut i);
                while i < s.len() && is_ident(s[i]) {
                    i += 1;
                }
            }
        }
        return (all, i);
    }
    if i < s.len() && s[i] == '*' {
        return (vec![vec!["*".to_string()]], i + 1);
    }
    let start = i;
    while i < s.len() && is_ident(s[i]) {
        i += 1;
    }
    if i == start {
        return (vec![], i);
    }
    let seg: String = s[start..i].iter().collect();
    if s[i..].starts_with(&[':', ':']) {
        let (rest, used) = expand(&s[i + 2..]);
        let rest = if rest.is_empty() { vec![vec![]] } else { rest };
        let paths = rest
            .into_iter()
            .map(|mut p| {
                p.insert(0, seg.clone());
                p
            })
            .collect();
        return (paths, i + 2 + used);
    }
    (vec![vec![seg]], i)
}

/// One source file, parsed.
struct File {
    /// Path under `src/`, with `/`.
    rel: String,
    /// Every `crate::` path: its segments after `crate`.
    crate_paths: Vec<Vec<String>>,
    /// Every `super::` path, with how many levels up it goes counted from
    /// the file's own module (inline `mod x { .. }` blocks included).
    super_paths: Vec<(usize, Vec<String>)>,
    /// Bare `child::` paths (for mod.rs: references to its children).
    bare_paths: Vec<Vec<String>>,
    /// `pub use child::Item` re-exports of a mod.rs: (item, child).
    reexports: Vec<(String, String)>,
    /// The file whose unit this one belongs to: itself, or the file that
    /// includes it with `#[path = ".."] mod x;` (a test file beside it).
    owner: String,
    /// How deep its own module sits below the top-level module's directory
    /// (what `super` counts): [`depth`] of itself, or of its owner plus one.
    depth: usize,
}

fn parse(rel: &str, src: &str) -> File {
    let s: Vec<char> = strip(src).chars().collect();
    let mut f = File {
        rel: rel.to_string(),
        crate_paths: vec![],
        super_paths: vec![],
        bare_paths: vec![],
        reexports: vec![],
        owner: rel.to_string(),
        depth: depth(rel),
    };
    // Inline modules: brace depth at which each one opened.
    let mut depth = 0usize;
    let mut inline: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c == '{' {
            depth += 1;
            i += 1;
            continue;
        }
        if c == '}' {
            depth = depth.saturating_sub(1);
            if inline.last() == Some(&depth) {
                inline.pop();
            }
            i += 1;
            continue;
        }
        if !is_ident(c) || (i > 0 && (is_ident(s[i - 1]) || s[i - 1] == ':')) {
            i += 1;
            continue;
        }
        let start = i;
        while i < s.len() && is_ident(s[i]) {
            i += 1;
        }
        let w: String = s[start..i].iter().collect();
        if w == "mod" {
            // `mod name {` opens an inline module.
            let mut j = i;
            while j < s.len() && s[j].is_whitespace() {
                j += 1;
            }
            while j < s.len() && is_ident(s[j]) {
                j += 1;
            }
            while j < s.len() && s[j].is_whitespace() {
                j += 1;
            }
            if j < s.len() && s[j] == '{' {
                inline.push(depth);
            }
            continue;
        }
        if !s[i..].starts_with(&[':', ':']) {
            continue;
        }
        let is_pub_use = {
            let before: String = s[start.saturating_sub(12)..start].iter().collect();
            before.trim_end().ends_with("pub use")
        };
        if w == "crate" {
            let (paths, used) = expand(&s[i + 2..]);
            f.crate_paths.extend(paths);
            i += 2 + used;
        } else if w == "super" {
            let mut up: usize = 1;
            let mut j = i + 2;
            while s[j..].starts_with(&['s', 'u', 'p', 'e', 'r', ':', ':']) {
                up += 1;
                j += 7;
            }
            let (paths, used) = expand(&s[j..]);
            let levels = up.saturating_sub(inline.len());
            if up > inline.len() {
                f.super_paths.extend(paths.into_iter().map(|p| (levels, p)));
            }
            i = j + used;
        } else if w != "self" && w != "std" && w != "core" {
            let (paths, used) = expand(&s[i + 2..]);
            for p in paths {
                let mut full = vec![w.clone()];
                full.extend(p);
                if is_pub_use && full.len() >= 2 {
                    f.reexports.push((full[full.len() - 1].clone(), w.clone()));
                }
                f.bare_paths.push(full);
            }
            i += 2 + used;
        } else if w == "self" {
            let (paths, used) = expand(&s[i + 2..]);
            f.bare_paths.extend(paths);
            i += 2 + used;
        }
    }
    f
}

fn sources() -> Vec<File> {
    let src = root().join("src");
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(&src).sort_by_file_name() {
        let e = e.unwrap();
        if !e.file_type().is_file() || e.path().extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let rel = e
            .path()
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel.starts_with("bin/") || rel == "lib.rs" {
            continue;
        }
        out.push(parse(&rel, &std::fs::read_to_string(e.path()).unwrap()));
    }
    // `#[path = "x_tests.rs"] mod tests;` makes x_tests.rs part of its includer.
    let mut included = BTreeMap::new();
    for f in &out {
        let text = std::fs::read_to_string(src.join(&f.rel)).unwrap();
        for piece in text.split("#[path = \"").skip(1) {
            if let Some(name) = piece.split('"').next() {
                let dir = Path::new(&f.rel).parent().unwrap_or(Path::new(""));
                let rel = dir.join(name).to_string_lossy().replace('\\', "/");
                included.insert(rel, (f.rel.clone(), f.depth + 1));
            }
        }
    }
    for f in &mut out {
        if let Some((owner, d)) = included.get(&f.rel) {
            f.owner = owner.clone();
            f.depth = *d;
        }
    }
    out
}

/// The top-level module of a file (`gate/blocker.rs` -> `gate`).
fn top(rel: &str) -> String {
    rel.split('/')
        .next()
        .unwrap()
        .trim_end_matches(".rs")
        .to_string()
}

/// The unit of a file inside `m`: the child file or directory it belongs
/// to, or `mod` for `m/mod.rs`.
fn unit(rel: &str) -> String {
    let parts: Vec<&str> = rel.split('/').collect();
    if parts.len() == 2 && parts[1] == "mod.rs" {
        "mod".into()
    } else {
        parts[1].trim_end_matches(".rs").to_string()
    }
}

/// How deep a file sits below its module's directory, as `super` counts:
/// `m/x.rs` and `m/x/mod.rs` are 1, `m/x/y.rs` is 2; `m/mod.rs` is 0.
fn depth(rel: &str) -> usize {
    let parts: Vec<&str> = rel.split('/').collect();
    let d = parts.len() - 1;
    if parts.last() == Some(&"mod.rs") {
        d - 1
    } else {
        d
    }
}

/// Every violation of `order` in `files`, in words.
fn violations(order: &[String], files: &[File]) -> Vec<String> {
    let mut problems = Vec::new();
    let top_order: Vec<&str> = order
        .iter()
        .filter(|l| !l.contains("::"))
        .map(String::as_str)
        .collect();
    let pos = |m: &str| top_order.iter().position(|x| *x == m);

    // Every module is listed once, and only modules that exist.
    let modules: BTreeSet<String> = files.iter().map(|f| top(&f.rel)).collect();
    for m in &modules {
        if pos(m).is_none() {
            problems.push(format!("module {m} is not in the Module order block"));
        }
    }
    let mut seen = BTreeSet::new();
    for l in order {
        if !seen.insert(l) {
            problems.push(format!("{l} is listed twice"));
        }
        let m = l.split("::").next().unwrap();
        if !modules.contains(m) {
            problems.push(format!("{l} is listed but there is no such module"));
        }
    }

    // Top level: no module names one above it.
    for f in files {
        let me = top(&f.rel);
        for p in &f.crate_paths {
            let Some(t) = p.first() else { continue };
            if *t == me || !modules.contains(t) {
                continue;
            }
            if ANY_LAYER.iter().any(|a| p.join("::").starts_with(a)) {
                continue;
            }
            if let (Some(a), Some(b)) = (pos(&me), pos(t))
                && b > a
            {
                problems.push(format!(
                    "src/{} ({me}) names crate::{}, which is listed above {me}",
                    f.rel,
                    p.join("::")
                ));
            }
        }
    }

    // Inside surface, gate, probe: no file names a sibling above it.
    for m in INNER {
        let inner: Vec<&str> = order
            .iter()
            .filter_map(|l| l.strip_prefix(&format!("{m}::")))
            .collect();
        let mine: Vec<&File> = files.iter().filter(|f| top(&f.rel) == *m).collect();
        let units: BTreeSet<String> = mine.iter().map(|f| unit(&f.owner)).collect();
        for u in &units {
            if !inner.contains(&u.as_str()) {
                problems.push(format!("{m}::{u} is not in the Module order block"));
            }
        }
        for u in &inner {
            if !units.contains(*u) {
                problems.push(format!("{m}::{u} is listed but there is no such file"));
            }
        }
        let reexports: BTreeMap<String, String> = mine
            .iter()
            .filter(|f| unit(&f.owner) == "mod")
            .flat_map(|f| f.reexports.clone())
            .filter(|(_, child)| units.contains(child))
            .collect();
        // A name under `m`: a child, an item mod.rs re-exports, or mod.rs's own.
        let resolve = |name: &str| -> String {
            if name == "self" {
                "self".to_string()
            } else if units.contains(name) && name != "mod" {
                name.to_string()
            } else if let Some(c) = reexports.get(name) {
                c.clone()
            } else {
                "mod".to_string()
            }
        };
        let ipos = |u: &str| inner.iter().position(|x| *x == u);
        for f in &mine {
            let me = unit(&f.owner);
            let mut targets: BTreeSet<(String, String)> = BTreeSet::new();
            for p in &f.crate_paths {
                if p.first().map(String::as_str) == Some(m)
                    && let Some(name) = p.get(1)
                {
                    targets.insert((resolve(name), format!("crate::{}", p.join("::"))));
                }
            }
            let d = f.depth;
            for (levels, p) in &f.super_paths {
                if *levels == d
                    && let Some(name) = p.first()
                {
                    let shown = format!("{}::{}", vec!["super"; *levels].join("::"), p.join("::"));
                    targets.insert((resolve(name), shown));
                }
            }
            if me == "mod" {
                // mod.rs naming its children directly; a re-export is the
                // module's face, not a use.
                let reexported: BTreeSet<&String> = f.reexports.iter().map(|(_, c)| c).collect();
                for p in &f.bare_paths {
                    if let Some(name) = p.first()
                        && units.contains(name)
                        && name != "mod"
                        && !(reexported.contains(name)
                            && f.reexports
                                .iter()
                                .any(|(i, c)| c == name && p.last() == Some(i)))
                    {
                        targets.insert((name.clone(), p.join("::")));
                    }
                }
            }
            for (t, shown) in targets {
                if t == me || t == "self" {
                    continue;
                }
                if let (Some(a), Some(b)) = (ipos(&me), ipos(&t))
                    && b > a
                {
                    problems.push(format!(
                        "src/{} ({m}::{me}) names {shown}, which is {m}::{t}, listed above it",
                        f.rel
                    ));
                }
            }
        }
    }
    problems
}

fn doc_order() -> Vec<String> {
    let doc = std::fs::read_to_string(root().join("docs").join("ARCHITECTURE.md")).unwrap();
    order_block(&doc).unwrap()
}

#[test]
fn the_modules_depend_on_each_other_in_the_written_order() {
    let problems = violations(&doc_order(), &sources());
    assert!(
        problems.is_empty(),
        "{} problem(s) with the module order (docs/ARCHITECTURE.md, \"Module order\"):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

fn file(rel: &str, src: &str) -> File {
    parse(rel, src)
}

fn order(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|s| s.to_string()).collect()
}

#[test]
fn an_import_from_a_module_above_is_caught() {
    let files = [
        file("error.rs", "pub struct E;"),
        file("seal/mod.rs", "use crate::{error::E, registry::Store};"),
        file("registry.rs", "use crate::error::E;"),
    ];
    let problems = violations(&order(&["error", "seal", "registry"]), &files);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("crate::registry::Store"),
        "{problems:?}"
    );
    assert!(violations(&order(&["error", "registry", "seal"]), &files).is_empty());
}

#[test]
fn a_reference_in_a_comment_or_a_string_is_not_an_import() {
    let files = [
        file(
            "a.rs",
            "// crate::b::x\n/* crate::b */ const S: &str = \"crate::b::y\"; const R: &str = r#\"crate::b\"#; const C: char = '\"';",
        ),
        file("b.rs", ""),
    ];
    assert!(violations(&order(&["a", "b"]), &files).is_empty());
    let files = [file("a.rs", "fn f() { crate::b::g() }"), file("b.rs", "")];
    assert_eq!(violations(&order(&["a", "b"]), &files).len(), 1);
}

#[test]
fn a_cycle_between_sibling_files_is_caught() {
    // gate::x uses gate::y through super, gate::y uses gate::x through crate::.
    let files = [
        file("gate/mod.rs", "pub mod x; pub mod y; pub use y::Thing;"),
        file("gate/x.rs", "use super::y::f; use super::Thing;"),
        file(
            "gate/y.rs",
            "use crate::gate::x::g; #[cfg(test)] mod tests { use super::*; }",
        ),
    ];
    let all = ["gate::mod", "gate::x", "gate::y"];
    let problems = violations(&order(&["gate", all[0], all[1], all[2]]), &files);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems.iter().any(|p| p.contains("super::y::f")),
        "{problems:?}"
    );
    let problems = violations(&order(&["gate", all[0], all[2], all[1]]), &files);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("crate::gate::x::g"), "{problems:?}");
    // The re-exported Thing is y's: x naming it is a use of y.
    let files = [
        file("gate/mod.rs", "pub mod x; pub mod y; pub use y::Thing;"),
        file("gate/y.rs", ""),
        file("gate/x.rs", "use super::Thing;"),
    ];
    let problems = violations(&order(&["gate", all[0], all[1], all[2]]), &files);
    assert_eq!(problems.len(), 1, "{problems:?}");
}

#[test]
fn mod_rs_using_a_child_it_declares_is_a_use() {
    let files = [
        file("gate/mod.rs", "pub mod x; pub fn run() { x::go() }"),
        file("gate/x.rs", "use super::LIMIT;"),
    ];
    let problems = violations(&order(&["gate", "gate::mod", "gate::x"]), &files);
    assert_eq!(problems.len(), 1, "{problems:?}");
    let problems = violations(&order(&["gate", "gate::x", "gate::mod"]), &files);
    assert_eq!(problems.len(), 1, "{problems:?}");
}

#[test]
fn every_module_and_file_must_be_listed() {
    let files = [
        file("a.rs", ""),
        file("gate/mod.rs", ""),
        file("gate/x.rs", ""),
    ];
    let problems = violations(&order(&["a", "gate", "gate::mod"]), &files);
    assert_eq!(
        problems,
        vec!["gate::x is not in the Module order block".to_string()]
    );
    let problems = violations(
        &order(&["a", "gate", "gate::mod", "gate::x", "ghost"]),
        &files,
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
}
