//! `index.html` of a packet: what a reviewer opens in a browser, rendered
//! from the packet's own JSON and never typed by hand.
//!
//! The page is one self-contained file: no script, no network, no external
//! font or style sheet; readable with scripts off, at phone width and on
//! paper. Like `README.md` it is derived, so `verify --rerun` renders it
//! again and compares the bytes: every figure on the page is one the JSON
//! states. Every string taken from the packet is HTML-escaped (titles,
//! notes and surface names are written by whoever wrote the spec), and the
//! pass token is never spelled on the page unless it is the decision.
//!
//! The page says what it is: a view. It proves nothing by itself; the
//! integrity section says how to verify the packet it sits in.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use super::evidence::read_json;
use super::manifest::{
    COMMANDS_FILE, EXIT_CODES_FILE, MANIFEST_FILE, PacketManifest, README_FILE, RERUN_FILE,
};
use super::spec::LiveContact;
use crate::error::Result;
use crate::gate::blocker::BlockerMap;
use crate::gate::verdict::pass_token;
use crate::gate::{BLOCKER_MAP_FILE, DECISION_FILE, PROBE_REPORT_FILE};
use crate::seal::{MANIFEST_NAME, TREE_NAME};
use crate::surface::inventory::json_file_name;
use crate::surface::proof::PROOF_FILE;
use crate::surface::spec::Table;

/// File name of the page in a packet.
pub const INDEX_FILE: &str = "index.html";

/// The packet's JSON the page is rendered from.
#[derive(Debug, Clone)]
pub struct PageInputs {
    /// `manifest.json`.
    pub manifest: PacketManifest,
    /// `forbidden-surface-proof.json`.
    pub proof: Value,
    /// Tables B and C, in [`Table::ALL`] order.
    pub inventories: Vec<Value>,
    /// `production-blocker-map.json`.
    pub blockers: BlockerMap,
    /// `next-production-decision-packet.json`.
    pub decision: Value,
    /// `production-bad-input-design.json`.
    pub probes: Value,
    /// The fold result, when a fold was performed.
    pub fold: Option<Value>,
    /// `exit_codes.json`.
    pub exit_codes: Value,
}

impl PageInputs {
    /// Reads the page's inputs from the packet in `dir`.
    pub fn load(dir: &Path) -> Result<PageInputs> {
        let manifest = PacketManifest::load(dir)?;
        let fold = match manifest.mutation.fold_result.as_deref() {
            Some(f) if manifest.mutation.performed => Some(read_json(dir, f)?),
            _ => None,
        };
        Ok(PageInputs {
            proof: read_json(dir, PROOF_FILE)?,
            inventories: Table::ALL
                .iter()
                .map(|t| read_json(dir, json_file_name(*t)))
                .collect::<Result<_>>()?,
            blockers: read_json(dir, BLOCKER_MAP_FILE)?,
            decision: read_json(dir, DECISION_FILE)?,
            probes: read_json(dir, PROBE_REPORT_FILE)?,
            exit_codes: read_json(dir, EXIT_CODES_FILE)?,
            fold,
            manifest,
        })
    }
}

/// Renders `index.html` of the packet in `dir` from its JSON files.
pub fn render(dir: &Path) -> Result<Vec<u8>> {
    Ok(render_page(&PageInputs::load(dir)?).into_bytes())
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Writes the page: escapes every packet string and masks the pass token.
struct Page {
    out: String,
    token: String,
}

impl Page {
    /// Packet text, escaped, with the pass token replaced by words.
    fn t(&self, s: &str) -> String {
        let masked = if self.token.is_empty() {
            s.to_string()
        } else {
            s.replace(&self.token, "<pass token>")
        };
        escape(&masked)
    }

    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn line(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }

    /// A `<td>` holding packet text.
    fn td(&mut self, s: &str) {
        let cell = format!("<td>{}</td>", self.t(s));
        self.raw(&cell);
    }

    /// A `<td>` holding packet text as code.
    fn td_code(&mut self, s: &str) {
        let cell = format!("<td><code>{}</code></td>", self.t(s));
        self.raw(&cell);
    }

    /// A `<td>` with a labelled status badge: the word always says it, the
    /// colour only repeats it.
    fn td_badge(&mut self, class: &str, label: &str) {
        let cell = format!(
            "<td><span class=\"badge {class}\">{}</span></td>",
            self.t(label)
        );
        self.raw(&cell);
    }

    /// A `<td>` with a status badge followed by packet text that says why.
    fn td_badge_text(&mut self, class: &str, label: &str, text: &str) {
        let cell = format!(
            "<td><span class=\"badge {class}\">{}</span> {}</td>",
            self.t(label),
            self.t(text)
        );
        self.raw(&cell);
    }

    fn table_head(&mut self, caption: &str, cols: &[&str]) {
        self.line("<div class=\"scroll\"><table>");
        let cap = format!("<caption>{}</caption>", self.t(caption));
        self.line(&cap);
        self.raw("<thead><tr>");
        for c in cols {
            let th = format!("<th scope=\"col\">{}</th>", self.t(c));
            self.raw(&th);
        }
        self.line("</tr></thead><tbody>");
    }

    fn table_end(&mut self) {
        self.line("</tbody></table></div>");
    }
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn n(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn strs(v: &Value, key: &str) -> Vec<String> {
    arr(v, key)
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

fn yes_no(b: bool) -> &'static str {
    if b { "YES" } else { "NO" }
}

/// The page's style: system fonts only, colours repeat the words.
const STYLE: &str = "\
:root{--ok:#0b6e2a;--ok-bg:#e3f4e8;--warn:#7a4a00;--warn-bg:#fff1d6;--bad:#9b1111;--bad-bg:#fde4e4;--muted:#555;}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;line-height:1.45;margin:0 auto;max-width:72rem;padding:1rem;color:#111;background:#fff}
h1{font-size:1.6rem;margin:.2rem 0 1rem}
h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em;overflow-wrap:anywhere}
.scroll{overflow-x:auto;margin:.5rem 0 1rem}
table{border-collapse:collapse;width:100%}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border:1px solid #bbb;padding:.3rem .45rem;text-align:left;vertical-align:top}
thead th{background:#f0f0f0}
.glance{border:3px solid;padding:.8rem 1rem;border-radius:.4rem;margin-bottom:1rem}
.glance dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}
.glance dt{font-weight:600}
.glance dd{margin:0;overflow-wrap:anywhere}
.ok{color:var(--ok);background:var(--ok-bg);border-color:var(--ok)}
.warn{color:var(--warn);background:var(--warn-bg);border-color:var(--warn)}
.bad{color:var(--bad);background:var(--bad-bg);border-color:var(--bad)}
.user{color:#1a2f6b;background:#e6ecfb;border-color:#1a2f6b}
.glance.ok,.glance.warn,.glance.bad{color:#111}
.badge{display:inline-block;border:1px solid;border-radius:.25rem;padding:0 .3rem;font-weight:600;white-space:nowrap}
.status{font-size:1.15rem;font-weight:700;overflow-wrap:anywhere}
.note{color:var(--muted);font-size:.92rem}
@media (max-width:40rem){.glance dl{grid-template-columns:1fr;gap:0}.glance dd{margin-bottom:.5rem}body{padding:.5rem}}
@media print{body{max-width:none;padding:0}.scroll{overflow:visible}h2{break-after:avoid}tr{break-inside:avoid}}
";

/// Renders the page from the packet's JSON (a pure function).
pub fn render_page(p: &PageInputs) -> String {
    let m = &p.manifest;
    let token = pass_token(m.pass_token.as_deref()).to_string();
    let mut g = Page {
        out: String::new(),
        token: token.clone(),
    };
    let status = &m.status.scoping_status;
    let (status_class, status_word) = if status.ends_with("_READY") {
        ("ok", "READY")
    } else if status.ends_with("_FAILED") {
        ("bad", "FAILED")
    } else {
        ("warn", "INCOMPLETE")
    };
    let passes = m.status.decision == token;

    g.line("<!DOCTYPE html>");
    g.line("<html lang=\"en\">");
    g.line("<head>");
    g.line("<meta charset=\"utf-8\">");
    g.line("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    g.line("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">");
    let title = format!("<title>{} — {status_word}</title>", g.t(&m.packet.title));
    g.line(&title);
    g.line(&format!("<style>\n{STYLE}</style>"));
    g.line("</head>");
    g.line("<body>");
    g.line("<header>");
    let h1 = format!(
        "<h1>{} <span class=\"note\">({})</span></h1>",
        g.t(&m.packet.title),
        g.t(&m.packet.date)
    );
    g.line(&h1);

    // At a glance.
    let glance = format!(
        "<section class=\"glance {status_class}\" aria-labelledby=\"glance\"><h2 id=\"glance\" style=\"margin-top:0\">At a glance: {status_word}</h2><dl>"
    );
    g.line(&glance);
    let row = format!(
        "<dt>Final status</dt><dd class=\"status\" id=\"final-status\"><span class=\"badge {status_class}\">{status_word}</span> <code>{}</code></dd>",
        g.t(status)
    );
    g.line(&row);
    let decision_html = if passes {
        escape(&m.status.decision)
    } else {
        g.t(&m.status.decision)
    };
    let row = format!(
        "<dt>Production decision</dt><dd id=\"decision\"><span class=\"badge {}\">{}</span> <code>{decision_html}</code> (selected: {})</dd>",
        if passes { "ok" } else { "warn" },
        if passes { "MAY PROCEED" } else { "HOLD" },
        g.t(&m.status.selected)
    );
    g.line(&row);
    let f = &m.flags;
    let contact = match f.live_system_contact {
        LiveContact::None => "NONE",
        LiveContact::ReadOnly => "READ-ONLY",
        LiveContact::ReadWrite => "READ-WRITE (a governed change)",
    };
    let row = format!(
        "<dt>Production mutation</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>Live-system contact</dt><dd>{contact}</dd>",
        yes_no(f.production_mutation),
        g.t(&m.packet.labels.cutover().replace('/', " / ")),
        yes_no(f.real_run_cutover)
    );
    g.line(&row);
    let row = format!(
        "<dt>Authorization</dt><dd>{}</dd><dt>{}</dt><dd><code>{}</code></dd>",
        g.t(&m.authorization.text),
        g.t(m.packet.labels.name()),
        g.t(&m.packet.macro_name)
    );
    g.line(&row);
    let row = format!(
        "<dt>Seal</dt><dd>As recorded: the run sealed the packet ({MANIFEST_NAME}, {TREE_NAME}) and verified the seal before publishing it. Signatures, if any, are the <code>*.intoto.jsonl</code> files beside this page; this page cannot tell whether they verify.</dd>"
    );
    g.line(&row);
    g.line("</dl>");
    g.line(&format!(
        "<p><strong>This page proves nothing by itself.</strong> It is a view rendered from the packet's JSON. To check the packet, run <code>sha256sum -c --strict {MANIFEST_NAME}</code> and <code>holdfast verify . --rerun</code> in its directory (see <a href=\"#integrity\">Integrity</a>).</p>"
    ));
    g.line("</section>");
    g.line("</header>");
    g.line("<main>");

    let reasons: Vec<&String> = m.status.failures.iter().chain(&m.status.missing).collect();
    if !reasons.is_empty() {
        g.line(
            "<section aria-labelledby=\"why\"><h2 id=\"why\">Why this packet is not READY</h2><ul>",
        );
        for r in reasons {
            let li = format!(
                "<li><span class=\"badge bad\">FAILED</span> {}</li>",
                g.t(r)
            );
            g.line(&li);
        }
        g.line("</ul></section>");
    }
    if !m.status.hold_reasons.is_empty() {
        g.line("<section aria-labelledby=\"hold\"><h2 id=\"hold\">Why production stays on hold</h2><ul>");
        for r in &m.status.hold_reasons {
            let li = format!("<li>{}</li>", g.t(r));
            g.line(&li);
        }
        g.line("</ul></section>");
    }

    fold_section(&mut g, p);
    proof_section(&mut g, p);
    for (table, inv) in Table::ALL.iter().zip(&p.inventories) {
        inventory_section(&mut g, *table, inv);
    }
    blocker_section(&mut g, p);
    probe_section(&mut g, p);
    decision_section(&mut g, p);
    integrity_section(&mut g, p);

    g.line("</main>");
    g.line("</body>");
    g.line("</html>");
    g.out
}

fn fold_section(g: &mut Page, p: &PageInputs) {
    let m = &p.manifest;
    g.line("<section aria-labelledby=\"fold\"><h2 id=\"fold\">The authorized mutation</h2>");
    let Some(req) = &m.mutation.requested else {
        g.line("<p>No mutation was requested: the run only read.</p></section>");
        return;
    };
    let Some(r) = &p.fold else {
        let para = format!(
            "<p><span class=\"badge warn\">NOT APPLIED</span> {}: {}.</p></section>",
            g.t(req),
            g.t(m
                .mutation
                .skipped_reason
                .as_deref()
                .unwrap_or("no reason recorded"))
        );
        g.line(&para);
        return;
    };
    let range = &r["range"];
    let para = format!(
        "<p><span class=\"badge ok\">APPLIED</span> {} ({} .. {}), recorded in <code>{}</code>.</p>",
        g.t(req),
        g.t(s(range, "first_id")),
        g.t(s(range, "last_id")),
        g.t(m.mutation.fold_result.as_deref().unwrap_or(""))
    );
    g.line(&para);
    g.table_head("Fold figures", &["figure", "before", "after"]);
    let cm = &r["canonical_max"];
    let rows: Vec<(String, String, String)> = vec![
        (
            "canonical body max".into(),
            n(cm, "before").to_string(),
            n(cm, "after").to_string(),
        ),
        (
            "next free id".into(),
            String::new(),
            s(&r["next_free"], "id").to_string(),
        ),
    ];
    for (a, b, c) in rows {
        g.raw("<tr>");
        g.td(&a);
        g.td(&b);
        g.td(&c);
        g.line("</tr>");
    }
    for inv in ["collision", "orphan", "gap", "overlap"] {
        g.raw("<tr>");
        g.td(&format!("{inv} count"));
        g.td(&n(&r["invariants"]["before"], inv).to_string());
        g.td(&n(&r["invariants"]["after"], inv).to_string());
        g.line("</tr>");
    }
    let os = &r["objects_sha256"];
    g.raw("<tr>");
    g.td("objects[] sha256");
    g.td_code(s(os, "before"));
    g.td_code(s(os, "after"));
    g.line("</tr>");
    g.table_end();
    let flag = |b: bool, yes: &str, no: &str| -> (String, String) {
        if b {
            ("ok".to_string(), yes.to_string())
        } else {
            ("bad".to_string(), no.to_string())
        }
    };
    let checks = [
        (
            "JSON of the registry",
            flag(r["json_valid"] == Value::Bool(true), "VALID", "INVALID"),
        ),
        (
            "objects[]",
            flag(
                r["objects_unchanged"] == Value::Bool(true),
                "UNCHANGED",
                "CHANGED",
            ),
        ),
        (
            "rollback rehearsal (reverse patch, staging copy)",
            flag(
                r["rollback_rehearsal"]["byte_exact"] == Value::Bool(true),
                "BYTE-EXACT",
                "NOT BYTE-EXACT",
            ),
        ),
    ];
    g.table_head("Fold checks", &["check", "result"]);
    for (what, (class, word)) in checks {
        g.raw("<tr>");
        g.td(what);
        g.td_badge(&class, &word);
        g.line("</tr>");
    }
    g.table_end();
    g.line("</section>");
}

/// Class and one-line explanation of a proof cell status.
fn proof_status(status: &str) -> (&'static str, &'static str) {
    match status {
        "UNTOUCHED" => ("ok", "same digest before and after"),
        "AUTHORIZED_MUTATION_MATCHED" => (
            "ok",
            "changed exactly as the authorized mutation's pins say",
        ),
        "DECLARED_NOT_CONTACTED" => (
            "warn",
            "no snapshot method: declared not contacted (weaker than a digest)",
        ),
        "CHANGED" => ("bad", "the digest changed: a forbidden surface was touched"),
        "AUTHORIZED_MUTATION_MISMATCH" => (
            "bad",
            "changed, but not as the authorized mutation's pins say",
        ),
        "AUTHORIZED_CHANGE_MATCHED" => (
            "ok",
            "changed by the performed change, only in the parts it declares",
        ),
        "AUTHORIZED_CHANGE_OUTSIDE_SCOPE" => (
            "bad",
            "changed outside the parts the performed change declares",
        ),
        _ => ("bad", "unknown status"),
    }
}

fn proof_section(g: &mut Page, p: &PageInputs) {
    let proof = &p.proof;
    let proven = s(proof, "result") == "PROVEN";
    let para = format!(
        "<section aria-labelledby=\"proof\"><h2 id=\"proof\">Forbidden-surface proof</h2><p><span class=\"badge {}\">{}</span> from <code>{PROOF_FILE}</code>.</p>",
        if proven { "ok" } else { "bad" },
        if proven { "PROVEN" } else { "NOT PROVEN" }
    );
    g.line(&para);
    let boundaries = arr(proof, "boundaries");
    let surfaces: BTreeSet<&str> = boundaries
        .iter()
        .flat_map(|b| arr(b, "surfaces").iter().map(|c| s(c, "surface")))
        .collect();
    g.line("<p>Boundaries (the forbidden action classes):</p><ul>");
    for b in boundaries {
        let holds = b.get("holds") == Some(&Value::Bool(true));
        let li = format!(
            "<li><code>{}</code>: {} — <span class=\"badge {}\">{}</span></li>",
            g.t(s(b, "id")),
            g.t(s(b, "title")),
            if holds { "ok" } else { "bad" },
            if holds { "HELD" } else { "NOT HELD" }
        );
        g.line(&li);
    }
    g.line("</ul>");
    g.line("<div class=\"scroll\"><table id=\"proof-matrix\">");
    g.line("<caption>Surface × boundary: each cell is the status the proof found for a surface the boundary covers (— : the boundary does not cover it)</caption>");
    g.raw("<thead><tr><th scope=\"col\">surface</th>");
    for b in boundaries {
        let th = format!("<th scope=\"col\"><code>{}</code></th>", g.t(s(b, "id")));
        g.raw(&th);
    }
    g.line("</tr></thead><tbody>");
    for sf in &surfaces {
        let th = format!("<tr><th scope=\"row\"><code>{}</code></th>", g.t(sf));
        g.raw(&th);
        for b in boundaries {
            match arr(b, "surfaces").iter().find(|c| s(c, "surface") == *sf) {
                Some(c) => {
                    let st = s(c, "status");
                    let (class, _) = proof_status(st);
                    g.td_badge(class, st);
                }
                None => g.raw("<td>—</td>"),
            }
        }
        g.line("</tr>");
    }
    g.raw("</tbody><tfoot><tr><th scope=\"row\">boundary holds</th>");
    for b in boundaries {
        let holds = b.get("holds") == Some(&Value::Bool(true));
        g.td_badge(
            if holds { "ok" } else { "bad" },
            if holds { "HELD" } else { "NOT HELD" },
        );
    }
    g.line("</tr></tfoot></table></div>");
    g.table_head("What each status means", &["status", "meaning", "count"]);
    let counts = &proof["counts"];
    for (st, key) in [
        ("UNTOUCHED", "untouched"),
        ("AUTHORIZED_MUTATION_MATCHED", "authorized_mutation_matched"),
        ("DECLARED_NOT_CONTACTED", "declared_not_contacted"),
        ("CHANGED", "changed"),
        (
            "AUTHORIZED_MUTATION_MISMATCH",
            "authorized_mutation_mismatch",
        ),
        ("AUTHORIZED_CHANGE_MATCHED", "authorized_change_matched"),
        (
            "AUTHORIZED_CHANGE_OUTSIDE_SCOPE",
            "authorized_change_outside_scope",
        ),
    ] {
        // The governed change's statuses only when a change used them.
        if key.starts_with("authorized_change") && n(counts, key) == 0 {
            continue;
        }
        let (class, why) = proof_status(st);
        g.raw("<tr>");
        g.td_badge(class, st);
        g.td(why);
        g.td(&n(counts, key).to_string());
        g.line("</tr>");
    }
    // Each surface has one status: the rows add up to this.
    let total = format!(
        "<tr><th scope=\"row\">total</th><td>every surface, each with one status</td><td>{}</td></tr>",
        arr(proof, "surfaces").len()
    );
    g.line(&total);
    g.table_end();
    let failures = arr(proof, "failures");
    if !failures.is_empty() {
        g.line("<p>Why the proof fails:</p><ul>");
        for f in failures {
            let text = match f {
                Value::String(x) => x.clone(),
                other => other
                    .get("detail")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| other.to_string()),
            };
            let li = format!(
                "<li><span class=\"badge bad\">FAILED</span> {}</li>",
                g.t(&text)
            );
            g.line(&li);
        }
        g.line("</ul>");
    }
    let notes = strs(proof, "notes");
    if !notes.is_empty() {
        g.line("<p>Notes:</p><ul>");
        for note in notes {
            let li = format!("<li>{}</li>", g.t(&note));
            g.line(&li);
        }
        g.line("</ul>");
    }
    g.line("</section>");
}

fn inventory_section(g: &mut Page, table: Table, inv: &Value) {
    let (what, anchor) = match table {
        Table::Production => ("production surfaces", "table-b"),
        Table::CiDeploy => ("CI/deploy surfaces", "table-c"),
    };
    // The spec's own name for the table, when it gives one.
    let named = inv.get("label").and_then(Value::as_str);
    let heading = match named {
        Some(l) => g.t(&format!("{l}: {what}")),
        None => escape(&crate::surface::inventory::capitalized(what)),
    };
    let caption = match named {
        Some(l) => l.to_string(),
        None => crate::surface::inventory::capitalized(what),
    };
    let counts = &inv["counts"];
    let head = format!(
        "<section aria-labelledby=\"{anchor}\"><h2 id=\"{anchor}\">{heading}</h2><p>{} surfaces: {} known, {} UNKNOWN (from <code>{}</code>). An UNKNOWN surface is a blocker, not a guess.</p>",
        n(counts, "surfaces"),
        n(counts, "known"),
        n(counts, "unknown"),
        escape(json_file_name(table))
    );
    g.line(&head);
    g.table_head(
        &caption,
        &[
            "surface",
            "status",
            "mutation risk",
            "required gate",
            "snapshot",
            "evidence (sha256 of the cited bytes)",
        ],
    );
    for e in arr(inv, "surfaces") {
        let known = s(e, "status") == "known";
        let th = format!(
            "<tr><th scope=\"row\">{} <span class=\"note\"><code>{}</code></span></th>",
            g.t(s(e, "name")),
            g.t(s(e, "id"))
        );
        g.raw(&th);
        g.td_badge(
            if known { "ok" } else { "bad" },
            if known { "known" } else { "UNKNOWN" },
        );
        let risk = s(e, "risk");
        let risk_class = match risk {
            "critical" | "high" => "bad",
            "medium" => "warn",
            "" => "bad",
            _ => "ok",
        };
        g.td_badge(risk_class, if risk.is_empty() { "UNKNOWN" } else { risk });
        g.td(e.get("gate").and_then(Value::as_str).unwrap_or("UNKNOWN"));
        g.td(s(e, "snapshot"));
        g.raw("<td><ul>");
        for c in arr(e, "evidence") {
            let lines = s(c, "lines");
            let li = format!(
                "<li><code>{}{}{}</code> <code class=\"note\">{}</code></li>",
                g.t(s(c, "path")),
                if lines.is_empty() { "" } else { ":" },
                g.t(lines),
                g.t(s(c, "sha256"))
            );
            g.raw(&li);
        }
        g.line("</ul></td></tr>");
    }
    g.table_end();
    g.line("</section>");
}

fn blocker_section(g: &mut Page, p: &PageInputs) {
    let map = &p.blockers;
    // Counted from each blocker's own facts, never from the stored totals.
    let c = map.recount();
    let head = format!(
        "<section aria-labelledby=\"blockers\"><h2 id=\"blockers\">Blocker map</h2><p>{} OPEN, {} closed ({} declared, {} derived; {} marked closed without closing evidence and counted open). Each status is recomputed from the blocker's own facts.</p>",
        c.open, c.closed, c.declared, c.derived, c.closed_without_evidence
    );
    g.line(&head);
    g.table_head(
        "Blockers",
        &[
            "id",
            "status",
            "severity",
            "surface",
            "title",
            "what closes it",
        ],
    );
    for b in &map.blockers {
        let open = b.counts_open();
        let id = format!("<tr><th scope=\"row\"><code>{}</code></th>", g.t(&b.id));
        g.raw(&id);
        g.td_badge(
            if open { "bad" } else { "ok" },
            if open { "OPEN" } else { "closed" },
        );
        let sev = serde_json::to_value(b.severity)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let class = match sev.as_str() {
            "critical" | "high" => "bad",
            "medium" => "warn",
            _ => "ok",
        };
        g.td_badge(class, &sev);
        g.td_code(&b.surface);
        let mut title = b.title.clone();
        if let Some(note) = &b.note {
            title.push_str(" — ");
            title.push_str(note);
        }
        g.td(&title);
        g.td(&b.closes_when);
        g.line("</tr>");
    }
    g.table_end();
    g.line("</section>");
}

fn outcome_class(outcome: &str) -> &'static str {
    if outcome == "fail-closed" {
        "ok"
    } else {
        "bad"
    }
}

fn probe_section(g: &mut Page, p: &PageInputs) {
    let r = &p.probes;
    let t = &r["summary"];
    let head = format!(
        "<section aria-labelledby=\"probes\"><h2 id=\"probes\">Bad-input probes</h2><p>{} classes, {} probes: {} failed closed, {} fail-open, {} timeout, {} crashed, {} not run, {} unexpected; pass token leaked in {} outputs; {} controls failed. Local and static: the harness attacks copies in a temporary directory (<code>{RERUN_FILE}</code> runs it again).</p>",
        n(t, "classes"),
        n(t, "probes"),
        n(t, "fail_closed"),
        n(t, "fail_open"),
        n(t, "timeout"),
        n(t, "crashed"),
        n(t, "not_run"),
        n(t, "unexpected"),
        n(t, "token_leaked"),
        n(t, "controls_failed"),
    );
    g.line(&head);
    let user = arr(r, "probes")
        .iter()
        .filter(|p| s(p, "kind") == "user")
        .count();
    if user > 0 {
        g.line(&format!("<p>{user} of these probes {} the spec's own gate probe{} (<code>[[probe]]</code> of gates.toml), each a row marked <span class=\"badge user\">YOUR GATE PROBE</span> below: your gate run on a bad input it must refuse, and on its positive control (<code>accept_file</code>), a good input it must accept. The other rows are holdfast's built-in classes, which attack holdfast itself.</p>", if user == 1 { "is" } else { "are" }, if user == 1 { "" } else { "s" }));
    }
    g.table_head(
        "Probe classes and your gate probes",
        &[
            "class or probe",
            "kind",
            "gate attacked",
            "probes",
            "failed closed",
            "result",
            "positive control",
        ],
    );
    for c in arr(r, "classes").iter().filter(|c| s(c, "kind") != "user") {
        let th = format!(
            "<tr><th scope=\"row\">{} <span class=\"note\"><code>{}</code></span></th>",
            g.t(s(c, "title")),
            g.t(s(c, "id"))
        );
        g.raw(&th);
        g.td("holdfast built-in");
        g.td_code(s(c, "gate"));
        g.td(&n(c, "probes").to_string());
        g.td(&n(c, "fail_closed").to_string());
        let res = s(c, "result");
        g.td_badge(outcome_class(res), &res.to_uppercase());
        g.td("— (holdfast's own controls, counted above)");
        g.line("</tr>");
    }
    // The user's probes, one row each, by name, with their control.
    for pr in arr(r, "probes").iter().filter(|p| s(p, "kind") == "user") {
        let id = s(pr, "id");
        let name = id.strip_prefix("user/").unwrap_or(id);
        let th = format!(
            "<tr class=\"user-probe\"><th scope=\"row\">{} <span class=\"note\"><code>{}</code></span></th>",
            g.t(name),
            g.t(id)
        );
        g.raw(&th);
        g.td_badge("user", "YOUR GATE PROBE");
        g.td_code(&strs(pr, "command").join(" "));
        g.td("1");
        let closed = pr.get("fail_closed") == Some(&Value::Bool(true));
        g.td(if closed { "1" } else { "0" });
        let o = s(pr, "outcome");
        g.td_badge(outcome_class(o), &o.to_uppercase());
        match arr(r, "controls").iter().find(|c| s(c, "id") == id) {
            None => g.td_badge_text(
                "warn",
                "NONE",
                "no positive control: a gate that refuses everything would pass this probe too",
            ),
            Some(c) if c.get("ok") == Some(&Value::Bool(true)) => {
                g.td_badge_text("ok", "ACCEPTED", "the gate accepted the good input")
            }
            Some(c) => g.td_badge_text(
                "bad",
                "FAILED",
                &format!("the gate is misconfigured: {}", s(c, "detail")),
            ),
        }
        g.line("</tr>");
    }
    g.table_end();
    g.table_head("Every probe", &["probe", "bad input", "outcome", "why"]);
    for pr in arr(r, "probes") {
        let th = format!(
            "<tr><th scope=\"row\"><code>{}</code>{}</th>",
            g.t(s(pr, "id")),
            if s(pr, "kind") == "user" {
                " <span class=\"badge user\">YOUR GATE PROBE</span>"
            } else {
                ""
            }
        );
        g.raw(&th);
        g.td(s(pr, "input"));
        let o = s(pr, "outcome");
        g.td_badge(outcome_class(o), &o.to_uppercase());
        g.td(s(pr, "reason"));
        g.line("</tr>");
    }
    g.table_end();
    g.line("</section>");
}

fn decision_section(g: &mut Page, p: &PageInputs) {
    let d = &p.decision;
    let head = format!(
        "<section aria-labelledby=\"options\"><h2 id=\"options\">Decision options</h2><p>Default: <code>{}</code>. Admissible now: {}. Selected: <code>{}</code>.</p>",
        g.t(s(d, "default")),
        g.t(&strs(d, "admissible_now").join(", ")),
        g.t(s(d, "selected"))
    );
    g.line(&head);
    g.table_head(
        "Options",
        &[
            "option",
            "admissible now",
            "what choosing it means",
            "requires closed",
            "why not (if not admissible)",
        ],
    );
    for o in arr(d, "options") {
        let ok = o.get("admissible") == Some(&Value::Bool(true));
        let th = format!(
            "<tr><th scope=\"row\">{} <span class=\"note\"><code>{}</code></span></th>",
            g.t(s(o, "title")),
            g.t(s(o, "id"))
        );
        g.raw(&th);
        g.td_badge(
            if ok { "ok" } else { "bad" },
            if ok { "ADMISSIBLE" } else { "NOT ADMISSIBLE" },
        );
        g.td(s(o, "description"));
        let req = strs(o, "requires_closed");
        g.td_code(&if req.is_empty() {
            "—".to_string()
        } else {
            req.join(", ")
        });
        g.raw("<td>");
        let unmet = strs(o, "unmet");
        if unmet.is_empty() {
            g.raw("—");
        } else {
            g.raw("<ul>");
            for u in unmet {
                let li = format!("<li>{}</li>", g.t(&u));
                g.raw(&li);
            }
            g.raw("</ul>");
        }
        g.line("</td></tr>");
    }
    g.table_end();
    g.line("</section>");
}

fn integrity_section(g: &mut Page, p: &PageInputs) {
    let m = &p.manifest;
    g.line("<section aria-labelledby=\"integrity\"><h2 id=\"integrity\">Integrity: how to verify this packet</h2>");
    g.line(&format!(
        "<p>The tree hash of the packet is in <code>{TREE_NAME}</code> (this page cannot hold it: the hash covers this page). In the packet's directory:</p>"
    ));
    g.line(&format!(
        "<pre><code>sha256sum -c --strict {MANIFEST_NAME}\nsha256sum -c --strict {TREE_NAME}\nholdfast verify . --rerun</code></pre>"
    ));
    g.line(&format!(
        "<p><code>{COMMANDS_FILE}</code> recomputes every hash and re-runs every check; <code>verify --rerun</code> derives every derived file (this page, <code>{README_FILE}</code>, <code>{MANIFEST_FILE}</code> …) again from the inputs carried in <code>spec/</code> and the primary evidence and compares the bytes.</p>"
    ));
    let steps = arr(&p.exit_codes, "commands").len();
    let all = p.exit_codes["all_as_expected"] == Value::Bool(true);
    let para = format!(
        "<p><code>{EXIT_CODES_FILE}</code>: {steps} recorded steps, <span class=\"badge {}\">{}</span>.</p>",
        if all { "ok" } else { "bad" },
        if all {
            "all with their expected exit code"
        } else {
            "NOT all with their expected exit code"
        }
    );
    g.line(&para);
    let caption = match &m.object_ids {
        Some(ids) => format!(
            "Artifacts and their registry ids ({} .. {}, {} ids)",
            ids.first, ids.last, ids.count
        ),
        None => {
            "Artifacts (no registry ids were claimed: only a READY packet claims ids)".to_string()
        }
    };
    g.table_head(&caption, &["file", "what it is", "sha256", "id"]);
    for a in &m.artifacts {
        let th = format!("<tr><th scope=\"row\"><code>{}</code></th>", g.t(&a.path));
        g.raw(&th);
        g.td(&a.title);
        g.td_code(&a.sha256);
        g.td_code(a.id.as_deref().unwrap_or("—"));
        g.line("</tr>");
    }
    g.table_end();
    let spec_pins = m
        .spec_pins
        .iter()
        .map(|(k, v)| {
            format!(
                "<li><code>{}</code> <code class=\"note\">{}</code></li>",
                g.t(k),
                g.t(v)
            )
        })
        .collect::<String>();
    let para =
        format!("<p>Inputs (sha256 as carried in <code>spec/</code>):</p><ul>{spec_pins}</ul>");
    g.line(&para);
    g.line("</section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape("<script>alert(\"x\")</script> & 'y'"),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

    #[test]
    fn the_token_is_masked_in_packet_text() {
        let token = pass_token(None).to_string();
        let g = Page {
            out: String::new(),
            token: token.clone(),
        };
        let shown = g.t(&format!("a {token} b"));
        assert!(!shown.contains(&token), "{shown}");
        assert!(shown.contains("&lt;pass token&gt;"), "{shown}");
    }
}
