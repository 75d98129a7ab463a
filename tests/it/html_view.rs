//! `index.html`, the packet view a reviewer opens: derived like the README,
//! self-contained, escaped, and tested in a real browser (headless
//! Chromium; CI installs Debian's `chromium` when it is missing).
//!
//! The screenshots and the PDF are written under `target/tmp/html-view/`
//! for a developer to look at (never committed).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use crate::support::{copy_tree, example, holdfast};
use predicates::prelude::*;
use serde_json::Value;

fn read_json(p: &Path, name: &str) -> Value {
    serde_json::from_slice(&fs::read(p.join(name)).unwrap()).unwrap()
}

/// Runs `spec` into `out`; returns the exit code.
fn run(spec: &Path, out: &Path) -> i32 {
    let o = holdfast()
        .arg("run")
        .arg(spec)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    o.status.code().unwrap_or(-1)
}

/// Where screenshots go: `target/tmp/html-view/<name>`.
fn shots(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("html-view")
        .join(name);
    fs::create_dir_all(&d).unwrap();
    d
}

/// The Chromium binary: `$HOLDFAST_CHROMIUM`, or Debian's `chromium`. A
/// missing browser fails the test (CI installs it), it is never skipped.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("HOLDFAST_CHROMIUM") {
        return PathBuf::from(p);
    }
    for c in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(c).is_file() {
            return PathBuf::from(c);
        }
    }
    panic!(
        "headless Chromium is needed to test index.html: install Debian's `chromium` package (CI does), or set HOLDFAST_CHROMIUM"
    );
}

/// Runs headless Chromium on the page with `args`; returns stdout.
fn browse(page: &Path, args: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Process::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("headless Chromium could not be started");
    assert!(
        out.status.success(),
        "chromium {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The width of a PNG, from its IHDR chunk.
fn png_width(bytes: &[u8]) -> u32 {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    u32::from_be_bytes(bytes[16..20].try_into().unwrap())
}

/// Screenshots at desktop and phone width and a PDF print, checked to exist
/// and to be what was asked for.
fn screenshots_and_print(page: &Path, name: &str) {
    let dir = shots(name);
    for (label, w, h) in [("desktop", 1280u32, 2400u32), ("phone", 390, 2400)] {
        let file = dir.join(format!("{label}.png"));
        let _ = fs::remove_file(&file);
        browse(
            page,
            &[
                format!("--window-size={w},{h}"),
                format!("--screenshot={}", file.display()),
            ],
        );
        let bytes = fs::read(&file).unwrap_or_else(|_| panic!("no screenshot {}", file.display()));
        assert_eq!(png_width(&bytes), w, "{}", file.display());
        assert!(bytes.len() > 20_000, "{} looks blank", file.display());
    }
    let pdf = dir.join("print.pdf");
    let _ = fs::remove_file(&pdf);
    browse(
        page,
        &[
            "--no-pdf-header-footer".to_string(),
            format!("--print-to-pdf={}", pdf.display()),
        ],
    );
    let bytes = fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"), "{}", pdf.display());
    assert!(bytes.len() > 20_000, "{} looks blank", pdf.display());
    eprintln!("index.html screenshots and print: {}", dir.display());
}

/// The page is one self-contained file: no script, nothing fetched.
fn assert_self_contained(html: &str) {
    let lower = html.to_ascii_lowercase();
    for bad in [
        "<script", "<link", "<iframe", "<img", "<object", "<embed", "src=", "@import", "url(",
        "http://", "https://",
    ] {
        assert!(!lower.contains(bad), "index.html contains {bad:?}");
    }
    assert!(lower.contains("content-security-policy"));
}

#[test]
fn the_fix7_page_renders_in_chromium_with_status_decision_boundaries_and_blockers() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("packet");
    assert_eq!(run(&example(), &p), 0);
    let page = p.join("index.html");
    let html = fs::read_to_string(&page).unwrap();
    assert_self_contained(&html);
    let m = read_json(&p, "manifest.json");
    assert!(
        m["envelope"]
            .as_array()
            .unwrap()
            .contains(&Value::from("index.html")),
        "index.html is part of the envelope (no registry id)"
    );
    assert!(
        !html.contains(holdfast::gate::verdict::pass_token(None)),
        "a HOLD page must not spell the pass token"
    );

    let dom = browse(&page, &["--dump-dom".to_string()]);
    let status = m["status"]["scoping_status"].as_str().unwrap();
    let decision = m["status"]["decision"].as_str().unwrap();
    assert!(status.ends_with("_READY"));
    // The status and the decision are at the top, in the glance.
    let glance_end = dom.find("</header>").expect("a header");
    let top = &dom[..glance_end];
    assert!(top.contains(status), "status not at the top");
    assert!(top.contains(decision), "decision not at the top");
    assert!(top.contains("At a glance: READY"));
    assert!(top.contains("This page proves nothing by itself"));
    for b in m["boundaries"].as_array().unwrap() {
        assert!(
            dom.contains(b["id"].as_str().unwrap()),
            "boundary {} missing",
            b["id"]
        );
    }
    let map = read_json(&p, "production-blocker-map.json");
    let blockers = map["blockers"].as_array().unwrap();
    assert_eq!(blockers.len(), 7);
    for b in blockers {
        assert!(
            dom.contains(b["id"].as_str().unwrap()),
            "blocker {} missing",
            b["id"]
        );
    }
    for o in read_json(&p, "next-production-decision-packet.json")["options"]
        .as_array()
        .unwrap()
    {
        assert!(dom.contains(o["id"].as_str().unwrap()));
    }
    // Real headings and tables.
    for tag in [
        "<h1",
        "<h2",
        "<table",
        "<caption",
        "<th scope=\"col\"",
        "<th scope=\"row\"",
    ] {
        assert!(dom.contains(tag), "no {tag} in the page");
    }
    screenshots_and_print(&page, "fix7");
}

#[test]
fn a_failed_packet_says_so_at_the_top() {
    let t = tempfile::tempdir().unwrap();
    let spec = t.path().join("spec");
    copy_tree(&example(), &spec);
    // A forbidden surface that changes between the two snapshots.
    let surfaces = fs::read_to_string(spec.join("surfaces.toml")).unwrap();
    let surfaces = surfaces.replacen(
        "[[surface]]",
        r#"[[surface]]
id = "prod-counter"
table = "production"
name = "A production counter"
kind = "service"
status = "known"
risk = "high"
gate = "none"
[[surface.evidence]]
path = "infra/postgres/prod-cluster.conf"
lines = "1"
[surface.snapshot]
method = "command"
argv = ["sh", "-c", "n=$(cat counter 2>/dev/null || echo 0); echo $((n+1)) > counter; echo $n"]

[[surface]]"#,
        1,
    );
    let surfaces = surfaces.replace(
        r#"surfaces = ["prod-pg", "directus-cms","#,
        r#"surfaces = ["prod-counter", "prod-pg", "directus-cms","#,
    );
    fs::write(spec.join("surfaces.toml"), surfaces).unwrap();
    let packet = fs::read_to_string(spec.join("packet.toml"))
        .unwrap()
        .replace(
            "live_system_contact = \"none\"",
            "live_system_contact = \"read-only\"",
        );
    fs::write(spec.join("packet.toml"), packet).unwrap();
    let p = t.path().join("packet");
    assert_eq!(run(&spec, &p), 1);
    let m = read_json(&p, "manifest.json");
    let status = m["status"]["scoping_status"].as_str().unwrap();
    assert!(status.ends_with("_FAILED"), "{status}");
    let page = p.join("index.html");
    let dom = browse(&page, &["--dump-dom".to_string()]);
    let top = &dom[..dom.find("</header>").unwrap()];
    assert!(top.contains("At a glance: FAILED"), "{top}");
    assert!(top.contains(status));
    assert!(top.contains("HOLD_PRODUCTION"));
    assert!(
        dom.contains("Why this packet is not READY"),
        "the failures are listed"
    );
    assert!(dom.contains("NOT PROVEN"));
    assert!(dom.contains("changed-forbidden-surface:no-production-mutation:prod-counter"));
    screenshots_and_print(&page, "failed");
    // And the page is derived: the re-derivation renders the same bytes.
    holdfast()
        .args(["verify", "--rerun"])
        .arg(&p)
        .assert()
        .stderr(predicate::str::contains("index.html").not());
}

#[test]
fn hostile_titles_are_escaped_and_the_page_is_still_derived() {
    let t = tempfile::tempdir().unwrap();
    let spec = t.path().join("spec");
    copy_tree(&example(), &spec);
    let evil = r#"<script>alert("x")</script> & 'q' <img src=x onerror=alert(1)>"#;
    let toml_evil = evil.replace('"', "\\\"");
    let packet = fs::read_to_string(spec.join("packet.toml"))
        .unwrap()
        .replace(
            "title = \"FIX7 P0 — Production-Readiness Surface Scoping — Evidence Packet\"",
            &format!("title = \"FIX7 {toml_evil}\""),
        );
    assert!(packet.contains("<script>"));
    fs::write(spec.join("packet.toml"), packet).unwrap();
    let gates = fs::read_to_string(spec.join("gates.toml"))
        .unwrap()
        .replace(
            "title = \"No REAL_RUN / QT001 authorization exists\"",
            &format!("title = \"No REAL_RUN {toml_evil}\""),
        );
    assert!(gates.contains("<script>"));
    fs::write(spec.join("gates.toml"), gates).unwrap();
    let surfaces = fs::read_to_string(spec.join("surfaces.toml")).unwrap();
    let surfaces = surfaces.replacen(
        "name = \"Production PostgreSQL (fix7-prod)\"",
        &format!("name = \"PG {toml_evil}\""),
        1,
    );
    assert!(surfaces.contains("<script>"));
    fs::write(spec.join("surfaces.toml"), surfaces).unwrap();

    let p = t.path().join("packet");
    assert_eq!(run(&spec, &p), 0);
    let page = p.join("index.html");
    let html = fs::read_to_string(&page).unwrap();
    let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39; &lt;img src=x onerror=alert(1)&gt;";
    assert!(
        html.matches(escaped).count() >= 3,
        "title, blocker title and surface name are each escaped"
    );
    assert_self_contained(&html.replace(escaped, ""));
    let dom = browse(&page, &["--dump-dom".to_string()]);
    let lower = dom.to_ascii_lowercase();
    assert!(
        !lower.contains("<script"),
        "a script element reached the DOM"
    );
    assert!(!lower.contains("<img"), "an img element reached the DOM");
    holdfast()
        .args(["verify", "--rerun"])
        .arg(&p)
        .assert()
        .success();
}

/// The `<table>` whose caption is `caption`, from the page `dom`.
fn table<'a>(dom: &'a str, caption: &str) -> &'a str {
    let at = dom
        .find(&format!("<caption>{caption}</caption>"))
        .unwrap_or_else(|| panic!("no table {caption:?}"));
    &dom[at..at + dom[at..].find("</table>").unwrap()]
}

/// The `<tr>` of `table` whose row header holds `name`.
fn row<'a>(table: &'a str, name: &str) -> &'a str {
    let at = table
        .find(&format!("<th scope=\"row\">{name} "))
        .unwrap_or_else(|| panic!("no row {name:?} in {table}"));
    let start = table[..at].rfind("<tr").unwrap();
    &table[start..at + table[at..].find("</tr>").unwrap()]
}

#[test]
fn the_users_gate_probes_are_rows_of_the_probes_table_with_their_control() {
    let t = tempfile::tempdir().unwrap();
    let spec = crate::support::two_boundary_spec(t.path(), "[\"user\", \"tampered-artifact\"]");
    // A second probe of the same gate, without a positive control.
    let gates = spec.join("gates.toml");
    let text = fs::read_to_string(&gates).unwrap();
    fs::write(
        &gates,
        text + "\n[[probe]]\nid = \"deploy-gate-empty\"\ncommand = [\"./ci/deploy-gate\"]\ninput_file = \"inputs/empty.json\"\n",
    )
    .unwrap();
    fs::write(spec.join("inputs/empty.json"), "{}\n").unwrap();
    let p = t.path().join("packet");
    assert_eq!(run(&spec, &p), 0);
    let page = p.join("index.html");
    assert_self_contained(&fs::read_to_string(&page).unwrap());
    let dom = browse(&page, &["--dump-dom".to_string()]);
    let probes = table(&dom, "Probe classes and your gate probes");
    // holdfast's own class and the user's probes, in the one table.
    let builtin = row(probes, "a packet file changed after sealing");
    assert!(builtin.contains("holdfast built-in"), "{builtin}");
    assert!(!builtin.contains("YOUR GATE PROBE"), "{builtin}");
    assert!(
        !probes.contains("user gate probes from gates.toml"),
        "the user class is shown probe by probe, not as one row"
    );
    let with = row(probes, "deploy-gate-unsigned");
    for want in [
        "<span class=\"badge user\">YOUR GATE PROBE</span>",
        "<code>./ci/deploy-gate inputs/unsigned.json</code>",
        "<span class=\"badge ok\">FAIL-CLOSED</span>",
        "<span class=\"badge ok\">ACCEPTED</span> the gate accepted the good input",
    ] {
        assert!(with.contains(want), "{want:?} not in {with}");
    }
    let without = row(probes, "deploy-gate-empty");
    for want in [
        "<span class=\"badge user\">YOUR GATE PROBE</span>",
        "<span class=\"badge ok\">FAIL-CLOSED</span>",
        "<span class=\"badge warn\">NONE</span> no positive control: a gate that refuses everything would pass this probe too",
    ] {
        assert!(without.contains(want), "{want:?} not in {without}");
    }
    assert!(dom.contains("2 of these probes are the spec's own gate probes"));
    let proof = read_json(&p, "forbidden-surface-proof.json");
    let rows = status_counts_add_up(&dom, proof["surfaces"].as_array().unwrap().len());
    assert!(rows.contains(&("UNTOUCHED".to_string(), 3)), "{rows:?}");
    assert!(
        rows.contains(&("DECLARED_NOT_CONTACTED".to_string(), 1)),
        "{rows:?}"
    );
    screenshots_and_print(&page, "user-probes");

    // A gate that refuses everything: its control fails, and the row says so.
    fs::write(
        spec.join("ci/deploy-gate"),
        "#!/bin/sh\necho refused >&2\nexit 1\n",
    )
    .unwrap();
    let p2 = t.path().join("packet-2");
    assert_eq!(run(&spec, &p2), 1);
    let html = fs::read_to_string(p2.join("index.html")).unwrap();
    let probes = table(&html, "Probe classes and your gate probes");
    let failed = row(probes, "deploy-gate-unsigned");
    assert!(
        failed.contains("<span class=\"badge bad\">FAILED</span> the gate is misconfigured: the gate refused the input it must accept (exit 1): refused"),
        "{failed}"
    );
    assert!(
        failed.contains("<span class=\"badge bad\">UNEXPECTED</span>"),
        "{failed}"
    );
    // Both pages are derived: the re-derivation renders the same bytes.
    for packet in [&p, &p2] {
        holdfast()
            .args(["verify", "--rerun"])
            .arg(packet)
            .assert()
            .stderr(predicate::str::contains("index.html").not());
    }
}

/// The count column of the page's status table, and its total row: each
/// status's count, summed, is the total, and the total is the proof's
/// surface count.
fn status_counts_add_up(html: &str, surfaces: usize) -> Vec<(String, usize)> {
    let t = table(html, "What each status means");
    let mut rows = Vec::new();
    let mut total = None;
    for r in t.split("<tr>").skip(2) {
        let cells: Vec<&str> = r.split("<td>").skip(1).collect();
        let count: usize = cells
            .last()
            .unwrap()
            .split("</td>")
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("no count in {r}"));
        if r.starts_with("<th scope=\"row\">total</th>") {
            total = Some(count);
        } else {
            let status = between(cells[0], "\">", "</span>");
            rows.push((status.to_string(), count));
        }
    }
    let total = total.unwrap_or_else(|| panic!("no total row in {t}"));
    assert_eq!(rows.iter().map(|(_, n)| n).sum::<usize>(), total, "{t}");
    assert_eq!(total, surfaces, "{t}");
    rows
}

fn between<'a>(s: &'a str, from: &str, to: &str) -> &'a str {
    let rest = &s[s.find(from).unwrap() + from.len()..];
    &rest[..rest.find(to).unwrap()]
}

#[test]
fn a_governed_change_page_counts_its_change_statuses_and_they_add_up() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("packet");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/config-change");
    assert_eq!(run(&example, &p), 0);
    let html = fs::read_to_string(p.join("index.html")).unwrap();
    let proof = read_json(&p, "forbidden-surface-proof.json");
    let rows = status_counts_add_up(&html, proof["surfaces"].as_array().unwrap().len());
    assert!(
        rows.contains(&("AUTHORIZED_CHANGE_MATCHED".to_string(), 1)),
        "{rows:?}"
    );
    // The matched change is a status that holds, not an unknown one.
    let matrix = &html[html.find("id=\"proof-matrix\"").unwrap()..];
    let matrix = &matrix[..matrix.find("</table>").unwrap()];
    assert!(
        matrix.contains("<span class=\"badge ok\">AUTHORIZED_CHANGE_MATCHED</span>"),
        "{matrix}"
    );
    assert!(!html.contains("unknown status"));
}
