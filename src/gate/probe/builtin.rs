//! The built-in bad-input classes: what each attacks, and the bad copies of
//! the fixture it runs the real binary on.
//!
//! Classes whose gate lives in another module (the registry, the surface
//! proof, `verify --source`) are listed with the command they will attack;
//! until their probes are written here they are reported NOT RUN, which fails
//! the harness: a class that did not run never counts as passed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use super::fixture::{CLOSING, Fixture, good_plan};
use super::{Case, ControlRecord, ProbeKind, Redactor, Spawn, exec};
use crate::error::{IoContext, Result};
use crate::gate::blocker::{Status, UnknownSurface};
use crate::gate::facts::Outcome;
use crate::gate::{PLAN_FILE, SPEC_FILE, plan};
use crate::seal::{MANIFEST_NAME, TREE_NAME};
use crate::{digest, seal};

/// Builds the bad inputs of a class.
type Builder = fn(&Fixture) -> Result<Vec<CaseSpec>>;

/// A built-in class.
pub(crate) struct ClassDef {
    pub id: &'static str,
    pub title: &'static str,
    /// The holdfast subcommand it attacks.
    pub gate: &'static [&'static str],
    /// A flag the subcommand must offer (for gates that are a flag).
    pub flag: Option<&'static str>,
    /// Controls that must pass before its probes mean anything.
    pub controls: &'static [&'static str],
    /// `None`: its probes are not written yet (reported NOT RUN).
    pub build: Option<Builder>,
}

/// A built-in class, for listing (`holdfast probe --list`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassInfo {
    /// Class id.
    pub id: String,
    /// One-line title.
    pub title: String,
    /// The gate command it attacks.
    pub gate: String,
    /// Whether its probes exist in this build (otherwise it reports NOT RUN).
    pub implemented: bool,
}

/// Every built-in class, for listing.
pub fn class_table() -> Vec<ClassInfo> {
    table()
        .iter()
        .map(|c| ClassInfo {
            id: c.id.to_string(),
            title: c.title.to_string(),
            gate: gate_text(c),
            implemented: c.build.is_some(),
        })
        .collect()
}

fn gate_text(c: &ClassDef) -> String {
    let mut s = format!("holdfast {}", c.gate.join(" "));
    if let Some(f) = c.flag {
        s.push(' ');
        s.push_str(f);
    }
    s
}

const VERIFY: &[&str] = &["verify-good-packet"];
const GATES: &[&str] = &["gates-select-good-spec"];
const PLAN: &[&str] = &["plan-check-good-plan", "gates-select-good-spec"];
const JSON: &[&str] = &["verdict-good-evidence", "gates-select-good-spec"];
const MANY: &[&str] = &[
    "verify-good-packet",
    "verdict-good-evidence",
    "gates-select-good-spec",
    "plan-check-good-plan",
    "probe-user-only",
];

/// The class table, sorted by id.
pub(crate) fn table() -> Vec<ClassDef> {
    let c = |id, title, gate, controls, build| ClassDef {
        id,
        title,
        gate,
        flag: None,
        controls,
        build,
    };
    let mut t = vec![
        c(
            "tampered-artifact",
            "a packet file changed after sealing",
            &["verify"],
            VERIFY,
            Some(tampered as Builder),
        ),
        c(
            "missing-artifact",
            "a sealed file or seal file removed",
            &["verify"],
            VERIFY,
            Some(missing),
        ),
        c(
            "extra-artifact",
            "an unlisted file added to a sealed packet",
            &["verify"],
            VERIFY,
            Some(extra),
        ),
        c(
            "path-escape",
            "manifest paths that leave the packet (.., dir/../x, absolute)",
            &["verify"],
            VERIFY,
            Some(path_escape),
        ),
        c(
            "symlink-out",
            "symbolic links pointing out of the packet",
            &["verify"],
            VERIFY,
            Some(symlink_out),
        ),
        c(
            "mix-and-match",
            "artifacts or seal files taken from another packet",
            &["verify"],
            VERIFY,
            Some(mix_and_match),
        ),
        c(
            "seal-forgery",
            "forged or malformed seal files",
            &["verify"],
            VERIFY,
            Some(seal_forgery),
        ),
        c(
            "malformed-json",
            "malformed or truncated JSON inputs",
            &["verdict"],
            JSON,
            Some(malformed_json),
        ),
        c(
            "duplicate-json-keys",
            "JSON inputs with duplicate keys",
            &["verdict"],
            JSON,
            Some(duplicate_keys),
        ),
        c(
            "huge-or-deep-input",
            "oversized or deeply nested inputs (bounded, no crash)",
            &["verdict"],
            MANY,
            Some(huge_or_deep),
        ),
        c(
            "forged-status",
            "the pass token or a _READY status placed in an input field",
            &["verdict"],
            MANY,
            Some(forged_status),
        ),
        c(
            "blocker-closed-without-evidence",
            "a blocker marked closed without closing evidence",
            &["gates"],
            GATES,
            Some(closed_without_evidence),
        ),
        c(
            "stale-closing-evidence",
            "closing evidence whose cited bytes changed",
            &["gates"],
            GATES,
            Some(stale_closing),
        ),
        c(
            "rollback-plan-incomplete",
            "a rollback plan missing a section or left unfinished",
            &["plan", "check"],
            PLAN,
            Some(plan_incomplete),
        ),
        c(
            "empty-pattern",
            "an empty pattern, list or selection that matches nothing",
            &["probe"],
            MANY,
            Some(empty_pattern),
        ),
        c(
            "bypass",
            "--force, HOLDFAST_* variables and unknown config keys",
            &["verify"],
            MANY,
            Some(bypass),
        ),
        c(
            "registry-collision",
            "registry invariant break: an id issued twice",
            &["registry", "check"],
            &[],
            None,
        ),
        c(
            "registry-orphan",
            "registry invariant break: a record no claim covers",
            &["registry", "check"],
            &[],
            None,
        ),
        c(
            "registry-gap",
            "registry invariant break: a hole in the id sequence",
            &["registry", "check"],
            &[],
            None,
        ),
        c(
            "registry-overlap",
            "registry invariant break: a fold reaching into the canonical body",
            &["registry", "check"],
            &[],
            None,
        ),
        c(
            "fold-outside-authorized-range",
            "a fold of a range the authorization does not name",
            &["registry", "fold"],
            &[],
            None,
        ),
        c(
            "rollback-changed-live-bytes",
            "a rollback against live bytes changed since the fold",
            &["registry", "rollback"],
            &[],
            None,
        ),
        c(
            "old-revision-as-current",
            "an old registry revision presented as current",
            &["registry", "rollback"],
            &[],
            None,
        ),
        c(
            "boundary-matches-nothing",
            "a boundary whose surface list matches no surface",
            &["prove"],
            &[],
            None,
        ),
        c(
            "changed-forbidden-surface",
            "a forbidden surface changed between snapshots",
            &["prove"],
            &[],
            None,
        ),
        ClassDef {
            id: "stale-evidence-citation",
            title: "a surface citation whose bytes changed in the source",
            gate: &["verify"],
            flag: Some("--source"),
            controls: &[],
            build: None,
        },
    ];
    t.sort_by(|a, b| a.id.cmp(b.id));
    t
}

/// One bad input of a built-in class.
pub(crate) struct CaseSpec {
    name: String,
    input: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    expect: Vec<i32>,
    must_not_exist: Vec<PathBuf>,
}

fn cs(name: &str, input: &str, args: Vec<String>, expect: &[i32]) -> CaseSpec {
    CaseSpec {
        name: name.to_string(),
        input: input.to_string(),
        args,
        env: vec![],
        expect: expect.to_vec(),
        must_not_exist: vec![],
    }
}

impl CaseSpec {
    fn nothing_at(mut self, p: PathBuf) -> Self {
        self.must_not_exist.push(p);
        self
    }
    fn env(mut self, vars: Vec<(String, String)>) -> Self {
        self.env = vars;
        self
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn verify(d: &Path) -> Vec<String> {
    vec!["verify".into(), s(d)]
}

fn rd(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).at(p)
}

fn wr(p: &Path, b: &[u8]) -> Result<()> {
    std::fs::write(p, b).at(p)
}

fn rm(p: &Path) -> Result<()> {
    if p.is_dir() {
        std::fs::remove_dir_all(p).at(p)
    } else {
        std::fs::remove_file(p).at(p)
    }
}

fn link(target: &Path, at: &Path) -> Result<()> {
    std::os::unix::fs::symlink(target, at).at(at)
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

fn tampered(fx: &Fixture) -> Result<Vec<CaseSpec>> {
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

fn missing(fx: &Fixture) -> Result<Vec<CaseSpec>> {
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

fn extra(fx: &Fixture) -> Result<Vec<CaseSpec>> {
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

fn path_escape(fx: &Fixture) -> Result<Vec<CaseSpec>> {
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

fn symlink_out(fx: &Fixture) -> Result<Vec<CaseSpec>> {
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

fn mix_and_match(fx: &Fixture) -> Result<Vec<CaseSpec>> {
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

fn seal_forgery(fx: &Fixture) -> Result<Vec<CaseSpec>> {
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

// ---- JSON and TOML inputs -------------------------------------------------

fn json_bytes<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    crate::canonical::to_bytes(v)
}

/// The good evidence as a JSON value.
fn evidence(fx: &Fixture) -> Result<Value> {
    serde_json::to_value(&fx.evidence_value)
        .map_err(|e| crate::Error::failed(format!("internal: {e}")))
}

/// Evidence that must not pass: the packet is not sealed.
fn failing_evidence(fx: &Fixture) -> Result<Value> {
    let mut e = evidence(fx)?;
    e["sealed"] = json!(false);
    Ok(e)
}

fn verdict_case(
    fx: &Fixture,
    name: &str,
    what: &str,
    bytes: &[u8],
    expect: &[i32],
) -> Result<CaseSpec> {
    let d = fx.case_dir(name)?;
    let p = d.join("evidence.json");
    wr(&p, bytes)?;
    Ok(cs(name, what, vec!["verdict".into(), s(&p)], expect))
}

/// `holdfast gates` selecting the option on a mutated copy of the spec.
fn gates_case(
    fx: &Fixture,
    name: &str,
    what: &str,
    expect: &[i32],
    mutate: impl FnOnce(&Path) -> Result<()>,
) -> Result<CaseSpec> {
    let spec = fx.spec_copy(name)?;
    mutate(&spec)?;
    let out = spec.with_file_name("out");
    Ok(cs(name, what, fx.gates_select(&spec, &out), expect).nothing_at(out))
}

fn spec_toml(fx: &Fixture, edit: impl FnOnce(&mut crate::gate::spec::GateSpec)) -> Result<String> {
    let mut v = fx.spec_value.clone();
    edit(&mut v);
    fx.toml(&v)
}

fn sparse(p: &Path, len: u64) -> Result<()> {
    let f = std::fs::File::create(p).at(p)?;
    f.set_len(len).at(p)
}

fn malformed_json(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let good = json_bytes(&evidence(fx)?)?;
    let text = String::from_utf8_lossy(&good).into_owned();
    let mut v = vec![
        verdict_case(
            fx,
            "truncated",
            "evidence JSON cut in half",
            &good[..good.len() / 2],
            &[3],
        )?,
        verdict_case(
            fx,
            "not-json",
            "evidence that is not JSON",
            b"sealed: yes\n",
            &[3],
        )?,
        verdict_case(
            fx,
            "invalid-utf8",
            "evidence with invalid UTF-8 in a string",
            b"{\"status_prefix\": \"\xff\"}\n",
            &[3],
        )?,
        verdict_case(
            fx,
            "trailing-garbage",
            "evidence JSON followed by garbage",
            format!("{text}x").as_bytes(),
            &[3],
        )?,
        verdict_case(fx, "empty-file", "an empty evidence file", b"", &[3])?,
        verdict_case(
            fx,
            "byte-order-mark",
            "evidence JSON behind a byte-order mark",
            format!("\u{feff}{text}").as_bytes(),
            &[3],
        )?,
        verdict_case(
            fx,
            "comment",
            "evidence JSON with a comment",
            format!("// ok\n{text}").as_bytes(),
            &[3],
        )?,
        verdict_case(
            fx,
            "wrong-type",
            "evidence with \"sealed\": \"yes\"",
            text.replacen("\"sealed\": true", "\"sealed\": \"yes\"", 1)
                .as_bytes(),
            &[3],
        )?,
    ];
    let mut e = evidence(fx)?;
    if let Some(m) = e.as_object_mut() {
        m.remove("verified");
    }
    v.push(verdict_case(
        fx,
        "missing-field",
        "evidence without its \"verified\" field",
        &json_bytes(&e)?,
        &[3],
    )?);
    let facts = json_bytes(&fx.facts_value)?;
    v.push(gates_case(
        fx,
        "facts-truncated",
        "a truncated --facts file",
        &[3],
        |d| wr(&d.join("facts.json"), &facts[..facts.len() / 2]),
    )?);
    let report = json_bytes(&fx.report_value)?;
    v.push(gates_case(
        fx,
        "report-truncated",
        "a truncated --probe-report file",
        &[3],
        |d| wr(&d.join("probe-report.json"), &report[..report.len() / 2]),
    )?);
    Ok(v)
}

fn duplicate_keys(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let text = String::from_utf8_lossy(&json_bytes(&evidence(fx)?)?).into_owned();
    let failing = String::from_utf8_lossy(&json_bytes(&failing_evidence(fx)?)?).into_owned();
    let mut v = vec![
        verdict_case(
            fx,
            "top-level",
            "\"sealed\": false, then \"sealed\": true",
            text.replacen('{', "{\"sealed\": false,", 1).as_bytes(),
            &[3],
        )?,
        verdict_case(
            fx,
            "last-wins-attempt",
            "failing evidence with \"sealed\": true appended as a duplicate",
            failing.replacen('{', "{\"sealed\": true,", 1).as_bytes(),
            &[3],
        )?,
        verdict_case(
            fx,
            "nested",
            "authorization.scope given twice",
            text.replacen(
                "\"scope\": \"production\"",
                "\"scope\": \"scoping\", \"scope\": \"production\"",
                1,
            )
            .as_bytes(),
            &[3],
        )?,
    ];
    let facts = String::from_utf8_lossy(&json_bytes(&fx.facts_value)?).into_owned();
    v.push(gates_case(
        fx,
        "facts",
        "a --facts file with \"proof\" twice",
        &[3],
        |d| {
            wr(
                &d.join("facts.json"),
                facts.replacen('{', "{\"proof\": null,", 1).as_bytes(),
            )
        },
    )?);
    let report = String::from_utf8_lossy(&json_bytes(&fx.report_value)?).into_owned();
    v.push(gates_case(
        fx,
        "report",
        "a --probe-report with \"all_fail_closed\" twice",
        &[3],
        |d| {
            wr(
                &d.join("probe-report.json"),
                report
                    .replacen('{', "{\"all_fail_closed\": true,", 1)
                    .as_bytes(),
            )
        },
    )?);
    Ok(v)
}

fn huge_or_deep(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let n = 200_000;
    let text = String::from_utf8_lossy(&json_bytes(&evidence(fx)?)?).into_owned();
    let mut v = vec![
        verdict_case(
            fx,
            "deep-arrays",
            "200,000 nested JSON arrays",
            "[".repeat(n).as_bytes(),
            &[3],
        )?,
        verdict_case(
            fx,
            "deep-objects",
            "200,000 nested JSON objects",
            "{\"a\":".repeat(n).as_bytes(),
            &[3],
        )?,
        verdict_case(
            fx,
            "deep-in-a-field",
            "a deeply nested value inside a good evidence file",
            text.replacen(
                "\"missing_artifacts\": []",
                &format!("\"missing_artifacts\": {}{}", "[".repeat(n), "]".repeat(n)),
                1,
            )
            .as_bytes(),
            &[3],
        )?,
        verdict_case(
            fx,
            "long-string",
            "a 1 MiB status prefix",
            text.replacen(
                "\"PROBE_FIXTURE\"",
                &format!("\"{}\"", "A".repeat(1 << 20)),
                1,
            )
            .as_bytes(),
            &[3],
        )?,
    ];
    let d = fx.case_dir("oversized-evidence")?;
    let p = d.join("evidence.json");
    sparse(&p, crate::gate::verdict::EVIDENCE_LIMIT + 1)?;
    v.push(cs(
        "oversized-evidence",
        "an evidence file one byte over the limit",
        vec!["verdict".into(), s(&p)],
        &[3],
    ));

    v.push(gates_case(
        fx,
        "oversized-spec",
        "a gates.toml one byte over the limit",
        &[3],
        |d| sparse(&d.join(SPEC_FILE), crate::tomlio::SPEC_LIMIT + 1),
    )?);
    v.push(gates_case(
        fx,
        "deep-toml",
        "200,000 nested TOML arrays in gates.toml",
        &[3],
        |d| {
            wr(
                &d.join(SPEC_FILE),
                format!("x = {}{}\n", "[".repeat(n), "]".repeat(n)).as_bytes(),
            )
        },
    )?);
    v.push(gates_case(
        fx,
        "deep-facts",
        "200,000 nested arrays in the --facts file",
        &[3],
        |d| wr(&d.join("facts.json"), "[".repeat(n).as_bytes()),
    )?);
    let d = fx.case_dir("oversized-plan")?;
    let p = d.join(PLAN_FILE);
    sparse(&p, plan::PLAN_LIMIT + 1)?;
    v.push(cs(
        "oversized-plan",
        "a rollback plan one byte over the limit",
        vec!["plan".into(), "check".into(), s(&p)],
        &[3],
    ));
    let d = fx.packet_copy("oversized-manifest")?;
    sparse(&d.join(MANIFEST_NAME), seal::MANIFEST_LIMIT + 1)?;
    v.push(cs(
        "oversized-manifest",
        "a HASH_MANIFEST.txt one byte over the limit",
        verify(&d),
        &[3],
    ));
    Ok(v)
}

fn forged_status(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let t = fx.token.clone();
    let ready = format!("{}_READY", fx.evidence_value.status_prefix);
    let with = |mut e: Value, k: &str, val: Value| -> Result<Vec<u8>> {
        e[k] = val;
        json_bytes(&e)
    };
    let mut v = vec![
        verdict_case(
            fx,
            "status-field",
            "failing evidence claiming \"status\": \"<PREFIX>_READY\"",
            &with(failing_evidence(fx)?, "status", json!(ready))?,
            &[3],
        )?,
        verdict_case(
            fx,
            "decision-field",
            "failing evidence claiming the pass token as its decision",
            &with(failing_evidence(fx)?, "decision", json!(t))?,
            &[3],
        )?,
        verdict_case(
            fx,
            "ready-prefix",
            "a status prefix ending in _READY",
            &with(evidence(fx)?, "status_prefix", json!(ready))?,
            &[3],
        )?,
        verdict_case(
            fx,
            "token-as-key",
            "failing evidence with the pass token as a key",
            &with(failing_evidence(fx)?, &t, json!(true))?,
            &[3],
        )?,
    ];
    // The token spelled with a JSON escape is still the token once parsed.
    let escaped = t.replace('_', "\\u005f");
    let sel = String::from_utf8_lossy(&json_bytes(&evidence(fx)?)?).replacen(
        "\"selected\": \"PROCEED\"",
        &format!("\"selected\": \"{escaped}\""),
        1,
    );
    v.push(verdict_case(
        fx,
        "escaped-token-selected",
        "the pass token, JSON-escaped, as the selected option",
        sel.as_bytes(),
        &[3],
    )?);
    let mut e = failing_evidence(fx)?;
    e["probes"][0]["id"] = json!("probe_READY");
    e["blockers"][0]["id"] = json!("BLK_READY");
    e["blockers"][0]["open"] = json!(true);
    v.push(verdict_case(
        fx,
        "ready-in-ids",
        "failing evidence whose ids spell _READY",
        &json_bytes(&e)?,
        &[1],
    )?);

    let title = spec_toml(fx, |s| s.blocker[0].title = format!("{t} granted"))?;
    v.push(gates_case(
        fx,
        "token-in-blocker-title",
        "a blocker title holding the pass token",
        &[3],
        |d| wr(&d.join(SPEC_FILE), title.as_bytes()),
    )?);
    let status = spec_toml(fx, |_| {})?.replacen("status = \"closed\"", "status = \"READY\"", 1);
    v.push(gates_case(
        fx,
        "ready-blocker-status",
        "a blocker with status = \"READY\"",
        &[3],
        |d| wr(&d.join(SPEC_FILE), status.as_bytes()),
    )?);
    let opt = spec_toml(fx, |s| s.option[0].id = t.clone())?;
    v.push(gates_case(
        fx,
        "token-as-option",
        "a decision option named after the pass token",
        &[3],
        |d| wr(&d.join(SPEC_FILE), opt.as_bytes()),
    )?);
    let mut report = fx.report_value.clone();
    report.probes[0].outcome = Outcome::FailOpen;
    report.probes[0].fail_closed = true;
    let forged = json_bytes(&report)?;
    v.push(gates_case(
        fx,
        "forged-probe-report",
        "a probe report whose summary says all closed but whose probe failed open",
        &[5],
        |d| wr(&d.join("probe-report.json"), &forged),
    )?);
    let mut facts = fx.facts_value.clone();
    facts.derived.unknown_surfaces.push(UnknownSurface {
        surface: "ci_READY".into(),
        name: "surface named READY".into(),
    });
    let facts = json_bytes(&facts)?;
    v.push(gates_case(
        fx,
        "ready-surface-name",
        "an unknown surface whose name says READY",
        &[5],
        |d| wr(&d.join("facts.json"), &facts),
    )?);
    let d = fx.case_dir("token-in-probe-title")?;
    let mut user: crate::gate::spec::GateSpec =
        toml::from_str(&std::fs::read_to_string(fx.userspec.join(SPEC_FILE)).at(&fx.userspec)?)
            .map_err(|e| crate::Error::failed(format!("internal: {e}")))?;
    user.probe[0].title = format!("claims {t}");
    user.probe[0].input_file = None;
    wr(&d.join(SPEC_FILE), fx.toml(&user)?.as_bytes())?;
    v.push(cs(
        "token-in-probe-title",
        "a user probe whose title claims the pass token",
        vec!["probe".into(), s(&d), "--only".into(), "user".into()],
        &[3],
    ));

    let d = fx.case_dir("ready-plan")?;
    let p = d.join(PLAN_FILE);
    wr(
        &p,
        format!("# Plan\n\nStatus: {ready}\n\n## Before-state capture\n\ndone\n").as_bytes(),
    )?;
    v.push(cs(
        "ready-plan",
        "a plan claiming _READY but missing five sections",
        vec!["plan".into(), "check".into(), s(&p)],
        &[1],
    ));
    Ok(v)
}

fn closed_without_evidence(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let none = spec_toml(fx, |s| s.blocker[0].closing_evidence.clear())?;
    let absent: String = none
        .lines()
        .filter(|l| !l.starts_with("closing_evidence"))
        .map(|l| format!("{l}\n"))
        .collect();
    let unpinned = spec_toml(fx, |s| s.blocker[0].closing_evidence[0].sha256 = None)?;
    let open = spec_toml(fx, |s| {
        s.blocker[0].status = Status::Open;
        s.blocker[0].title = "closed".into();
    })?;
    let mut facts = fx.facts_value.clone();
    facts.derived.unknown_surfaces.push(UnknownSurface {
        surface: "ci".into(),
        name: "CI".into(),
    });
    let facts = json_bytes(&facts)?;
    Ok(vec![
        gates_case(
            fx,
            "empty-list",
            "a closed blocker with closing_evidence = []",
            &[5],
            |d| wr(&d.join(SPEC_FILE), none.as_bytes()),
        )?,
        gates_case(
            fx,
            "no-key",
            "a closed blocker without a closing_evidence key",
            &[5],
            |d| wr(&d.join(SPEC_FILE), absent.as_bytes()),
        )?,
        gates_case(
            fx,
            "unpinned",
            "closing evidence without a sha256",
            &[3],
            |d| wr(&d.join(SPEC_FILE), unpinned.as_bytes()),
        )?,
        gates_case(
            fx,
            "open-titled-closed",
            "an open blocker whose title says closed",
            &[5],
            |d| wr(&d.join(SPEC_FILE), open.as_bytes()),
        )?,
        gates_case(
            fx,
            "derived-open",
            "declared blockers closed, but an unknown surface derives an open one",
            &[5],
            |d| wr(&d.join("facts.json"), &facts),
        )?,
    ])
}

fn stale_closing(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let past = spec_toml(fx, |s| {
        s.blocker[0].closing_evidence[0].lines = Some("1-9".into())
    })?;
    let mut v = vec![
        gates_case(
            fx,
            "changed-source",
            "the cited closing evidence changed in the source",
            &[5],
            |d| {
                wr(
                    &d.join("source").join(CLOSING),
                    b"CI scope reviewed\nseal does NOT cover the bytes\n",
                )
            },
        )?,
        gates_case(
            fx,
            "missing-source",
            "the cited closing evidence deleted from the source",
            &[5],
            |d| rm(&d.join("source").join(CLOSING)),
        )?,
        gates_case(
            fx,
            "past-the-end",
            "a closing citation of lines past the end of the file",
            &[5],
            |d| wr(&d.join(SPEC_FILE), past.as_bytes()),
        )?,
        gates_case(
            fx,
            "link-out",
            "the cited file replaced by a link to an identical file outside the source",
            &[5],
            |d| {
                let real = d.with_file_name("outside-closing.txt");
                std::fs::copy(d.join("source").join(CLOSING), &real).at(&real)?;
                rm(&d.join("source").join(CLOSING))?;
                link(&real, &d.join("source").join(CLOSING))
            },
        )?,
    ];
    let spec = fx.spec_copy("no-source")?;
    let out = spec.with_file_name("out");
    let mut args = fx.gates_select(&spec, &out);
    if let Some(i) = args.iter().position(|a| a == "--source") {
        args.drain(i..i + 2);
    }
    v.push(
        cs(
            "no-source",
            "selecting without --source, so closing evidence is unchecked",
            args,
            &[2],
        )
        .nothing_at(out),
    );
    Ok(v)
}

fn plan_incomplete(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let good = good_plan();
    let body = "- done for the fixture\n";
    let cases: Vec<(&str, String, &str, i32)> = vec![
        (
            "missing-section",
            good.replace("## Rollback trigger\n", ""),
            "the Rollback trigger heading removed",
            1,
        ),
        (
            "empty-section",
            good.replacen(
                &format!("## Verification\n\n{body}"),
                "## Verification\n\n",
                1,
            ),
            "the Verification section emptied",
            1,
        ),
        (
            "todo-left",
            good.replacen(body, "- TODO: fill in\n", 1),
            "a TODO placeholder left in a section",
            1,
        ),
        (
            "comment-only",
            good.replacen(body, "<!-- fill in -->\n", 1),
            "a section holding only an HTML comment",
            1,
        ),
        (
            "fenced-heading",
            good.replace("## Rollback action\n", "```\n## Rollback action\n```\n"),
            "a section heading inside a code fence",
            1,
        ),
        (
            "duplicate-section",
            format!("{good}## Rollback action\n\nagain\n"),
            "a section given twice",
            1,
        ),
        (
            "no-space-heading",
            good.replace("## Mutation boundary", "##Mutation boundary"),
            "a heading without the space after ##",
            1,
        ),
        ("empty-file", String::new(), "an empty plan", 1),
    ];
    let mut v = Vec::new();
    for (name, text, what, code) in cases {
        let d = fx.case_dir(name)?;
        let p = d.join(PLAN_FILE);
        wr(&p, text.as_bytes())?;
        v.push(cs(
            name,
            what,
            vec!["plan".into(), "check".into(), s(&p)],
            &[code],
        ));
    }
    let d = fx.case_dir("not-utf8")?;
    let p = d.join(PLAN_FILE);
    wr(&p, b"## Before-state capture\n\xff\n")?;
    v.push(cs(
        "not-utf8",
        "a plan that is not UTF-8",
        vec!["plan".into(), "check".into(), s(&p)],
        &[3],
    ));
    let broken = good.replace("## Rollback trigger\n", "");
    v.push(gates_case(
        fx,
        "gates-incomplete-plan",
        "an option requiring the rollback plan, with a section missing",
        &[5],
        |d| wr(&d.join(PLAN_FILE), broken.as_bytes()),
    )?);
    v.push(gates_case(
        fx,
        "gates-no-plan",
        "an option requiring the rollback plan, with no plan",
        &[5],
        |d| rm(&d.join(PLAN_FILE)),
    )?);
    Ok(v)
}

fn empty_pattern(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let us = s(&fx.userspec);
    let surface = spec_toml(fx, |s| s.blocker[0].surface = String::new())?;
    let req = spec_toml(fx, |s| s.option[0].requires_closed = vec![String::new()])?;
    let mut v = vec![
        cs(
            "probe-only-unknown",
            "probe --only naming no class",
            vec![
                "probe".into(),
                us.clone(),
                "--only".into(),
                "no-such-class".into(),
            ],
            &[2],
        ),
        cs(
            "probe-only-empty",
            "probe --only with an empty class name",
            vec!["probe".into(), us, "--only".into(), String::new()],
            &[2],
        ),
        gates_case(
            fx,
            "blocker-empty-surface",
            "a blocker with surface = \"\"",
            &[3],
            |d| wr(&d.join(SPEC_FILE), surface.as_bytes()),
        )?,
        gates_case(
            fx,
            "option-empty-requirement",
            "an option requiring the blocker \"\"",
            &[3],
            |d| wr(&d.join(SPEC_FILE), req.as_bytes()),
        )?,
    ];
    let d = fx.case_dir("user-probe-empty-command")?;
    let text = std::fs::read_to_string(fx.userspec.join(SPEC_FILE)).at(&fx.userspec)?;
    let start = text.find("command = [").unwrap_or(0);
    let end = text[start..]
        .find(']')
        .map_or(text.len(), |e| start + e + 1);
    wr(
        &d.join(SPEC_FILE),
        format!("{}command = []{}", &text[..start], &text[end..]).as_bytes(),
    )?;
    v.push(cs(
        "user-probe-empty-command",
        "a user probe with command = []",
        vec!["probe".into(), s(&d), "--only".into(), "user".into()],
        &[3],
    ));

    let mut e = evidence(fx)?;
    e["proof"]["entries"] = json!([]);
    v.push(verdict_case(
        fx,
        "proof-covers-nothing",
        "evidence whose forbidden-surface proof lists no surface",
        &json_bytes(&e)?,
        &[1],
    )?);
    let mut e = evidence(fx)?;
    e["probes"] = json!([]);
    v.push(verdict_case(
        fx,
        "no-probes",
        "evidence with an empty probe list",
        &json_bytes(&e)?,
        &[1],
    )?);
    let mut facts = fx.facts_value.clone();
    if let Some(p) = facts.proof.as_mut() {
        p.entries.clear();
    }
    let facts = json_bytes(&facts)?;
    v.push(gates_case(
        fx,
        "facts-proof-empty",
        "a --facts proof listing no surface",
        &[5],
        |d| wr(&d.join("facts.json"), &facts),
    )?);
    Ok(v)
}

fn holdfast_env(token: &str) -> Vec<(String, String)> {
    [
        ("HOLDFAST_FORCE", "1"),
        ("HOLDFAST_BYPASS", "1"),
        ("HOLDFAST_SKIP_VERIFY", "1"),
        ("HOLDFAST_ALLOW_FAIL_OPEN", "1"),
        ("HOLDFAST_DECISION", token),
        ("HOLDFAST_PASS_TOKEN", token),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn bypass(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let env = holdfast_env(&fx.token);
    let mut v = Vec::new();
    let tampered = |name: &str| -> Result<PathBuf> {
        let d = fx.packet_copy(name)?;
        wr(&d.join("README.md"), b"tampered\n")?;
        Ok(d)
    };
    let d = tampered("verify-force")?;
    let mut a = verify(&d);
    a.push("--force".into());
    v.push(cs(
        "verify-force",
        "verify --force on a tampered packet",
        a,
        &[2],
    ));
    let d = tampered("verify-env")?;
    v.push(
        cs(
            "verify-env",
            "verify of a tampered packet with HOLDFAST_* variables set",
            verify(&d),
            &[1],
        )
        .env(env.clone()),
    );

    let failing = json_bytes(&failing_evidence(fx)?)?;
    let mut c = verdict_case(
        fx,
        "verdict-force",
        "verdict --force on failing evidence",
        &failing,
        &[2],
    )?;
    c.args.push("--force".into());
    v.push(c);
    v.push(
        verdict_case(
            fx,
            "verdict-env",
            "verdict of failing evidence with HOLDFAST_* variables set",
            &failing,
            &[1],
        )?
        .env(env.clone()),
    );
    let mut e = evidence(fx)?;
    e["verified"] = json!(false);
    let mut c = verdict_case(
        fx,
        "verdict-require-scoping",
        "verdict --require scoping on evidence that does not verify",
        &json_bytes(&e)?,
        &[1],
    )?;
    c.args.extend(["--require".into(), "scoping".into()]);
    v.push(c);

    let open = spec_toml(fx, |s| s.blocker[0].status = Status::Open)?;
    let mut c = gates_case(
        fx,
        "gates-force",
        "gates --select --force with an open blocker",
        &[2],
        |d| wr(&d.join(SPEC_FILE), open.as_bytes()),
    )?;
    c.args.push("--force".into());
    v.push(c);
    v.push(
        gates_case(
            fx,
            "gates-env",
            "gates --select with an open blocker and HOLDFAST_* variables set",
            &[5],
            |d| wr(&d.join(SPEC_FILE), open.as_bytes()),
        )?
        .env(env.clone()),
    );
    let forced = format!(
        "force = true\n{}",
        spec_toml(fx, |s| s.blocker[0].status = Status::Open)?
    );
    v.push(gates_case(
        fx,
        "spec-force-key",
        "gates.toml with force = true",
        &[3],
        |d| wr(&d.join(SPEC_FILE), forced.as_bytes()),
    )?);
    // The key goes into the spec's own [probes] table, so that the unknown
    // key (not a duplicate table) is what the gate has to refuse.
    let mut table: toml::Table = toml::from_str(&spec_toml(fx, |_| {})?)
        .map_err(|e| crate::Error::failed(format!("internal: {e}")))?;
    if let Some(probes) = table
        .entry("probes")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
    {
        probes.insert("allow_fail_open".into(), toml::Value::Boolean(true));
    }
    let allow = fx.toml(&table)?;
    v.push(gates_case(
        fx,
        "spec-probes-key",
        "gates.toml with [probes] allow_fail_open = true",
        &[3],
        |d| wr(&d.join(SPEC_FILE), allow.as_bytes()),
    )?);
    let mut e = failing_evidence(fx)?;
    e["override"] = json!(true);
    v.push(verdict_case(
        fx,
        "evidence-override-key",
        "failing evidence with \"override\": true",
        &json_bytes(&e)?,
        &[3],
    )?);
    let mut facts =
        serde_json::to_value(&fx.facts_value).map_err(|e| crate::Error::failed(e.to_string()))?;
    facts["force"] = json!(true);
    let facts = json_bytes(&facts)?;
    v.push(gates_case(
        fx,
        "facts-force-key",
        "a --facts file with \"force\": true",
        &[3],
        |d| wr(&d.join("facts.json"), &facts),
    )?);

    let auth = std::fs::read_to_string(&fx.auth_production).at(&fx.auth_production)?;
    let spec = fx.spec_copy("authorization-bypass-key")?;
    let out = spec.with_file_name("out");
    let bad_auth = spec.with_file_name("auth.toml");
    wr(&bad_auth, format!("bypass = true\n{auth}").as_bytes())?;
    let mut args = fx.gates_select(&spec, &out);
    if let Some(i) = args.iter().position(|a| a == "--authorization") {
        args[i + 1] = s(&bad_auth);
    }
    v.push(
        cs(
            "authorization-bypass-key",
            "an authorization file with bypass = true",
            args,
            &[3],
        )
        .nothing_at(out),
    );

    let spec = fx.spec_copy("scoping-authorization-selects")?;
    let out = spec.with_file_name("out");
    let mut args = fx.gates_select(&spec, &out);
    if let Some(i) = args.iter().position(|a| a == "--authorization") {
        args[i + 1] = s(&fx.auth_scoping);
    }
    v.push(
        cs(
            "scoping-authorization-selects",
            "a scoping authorization used to select an option",
            args,
            &[5],
        )
        .nothing_at(out),
    );

    let d = fx.case_dir("plan-env")?;
    let p = d.join(PLAN_FILE);
    wr(
        &p,
        good_plan().replace("## Rollback trigger\n", "").as_bytes(),
    )?;
    v.push(
        cs(
            "plan-env",
            "plan check of an incomplete plan with HOLDFAST_* variables set",
            vec!["plan".into(), "check".into(), s(&p)],
            &[1],
        )
        .env(env.clone()),
    );

    // The harness itself: a user gate that lets a bad input through must fail
    // the harness whatever the environment says.
    let d = fx.case_dir("probe-env")?;
    fx.put(&d.join(PLAN_FILE), good_plan().as_bytes())?;
    let mut user = crate::gate::spec::GateSpec::default();
    user.probes.pass_token = fx.spec_value.probes.pass_token.clone();
    user.probe.push(crate::gate::spec::UserProbe {
        id: "lets-it-through".into(),
        title: String::new(),
        command: vec![s(&fx.exe), "plan".into(), "check".into()],
        input_file: Some(PLAN_FILE.into()),
        input_via: Default::default(),
        stdin_text: None,
        expect: Default::default(),
        exit_codes: vec![],
        timeout_seconds: None,
        timeout_is_fail_closed: false,
    });
    wr(&d.join(SPEC_FILE), fx.toml(&user)?.as_bytes())?;
    v.push(
        cs(
            "probe-env",
            "the harness on a user gate that exits 0, with HOLDFAST_* variables set",
            vec!["probe".into(), s(&d), "--only".into(), "user".into()],
            &[1],
        )
        .env(env),
    );
    Ok(v)
}

/// Whether `exe` offers the subcommand (and flag) a class attacks.
fn available(exe: &Path, c: &ClassDef) -> bool {
    let mut args: Vec<std::ffi::OsString> = c.gate.iter().map(Into::into).collect();
    args.push("--help".into());
    let ran = exec::run(
        &Spawn {
            program: exe.as_os_str().to_owned(),
            args,
            cwd: None,
            clear_env: true,
            env: vec![],
            stdin: None,
            timeout: Duration::from_secs(30),
        },
        "",
    );
    ran.exit_code == Some(0)
        && c.flag
            .is_none_or(|f| String::from_utf8_lossy(&ran.stdout.head).contains(f))
}

fn shown(args: &[String], r: &Redactor) -> Vec<String> {
    std::iter::once("holdfast".to_string())
        .chain(args.iter().map(|a| r.apply(a)))
        .collect()
}

/// The cases of the selected classes, and the controls they rest on.
pub(crate) fn cases(
    selected: &[&ClassDef],
    fx: &Fixture,
    exe: &Path,
    r: &Redactor,
    token: &str,
) -> Result<(Vec<Case>, Vec<ControlRecord>)> {
    let spawn = |args: &[String], env: Vec<(String, String)>| Spawn {
        program: exe.as_os_str().to_owned(),
        args: args.iter().map(Into::into).collect(),
        cwd: None,
        clear_env: true,
        env,
        stdin: None,
        timeout: super::BUILTIN_TIMEOUT,
    };
    let mut controls: Vec<ControlRecord> = Vec::new();
    for (id, args) in fx.controls() {
        if !selected
            .iter()
            .any(|c| c.build.is_some() && c.controls.contains(&id))
        {
            continue;
        }
        let ran = exec::run(&spawn(&args, vec![]), token);
        controls.push(ControlRecord {
            id: id.to_string(),
            command: shown(&args, r),
            exit_code: ran.exit_code,
            ok: ran.exit_code == Some(0),
            detail: if ran.exit_code == Some(0) {
                String::new()
            } else {
                r.apply(
                    String::from_utf8_lossy(&ran.stderr.head)
                        .lines()
                        .next()
                        .unwrap_or("did not exit"),
                )
            },
        });
    }
    controls.sort_by(|a, b| a.id.cmp(&b.id));

    let mut out = Vec::new();
    for c in selected {
        let not_run = |why: String, name: &str, input: &str, args: Vec<String>| Case {
            id: format!("{}/{name}", c.id),
            class: c.id.to_string(),
            kind: ProbeKind::Builtin,
            input: input.to_string(),
            spawn: spawn(&args, vec![]),
            shown: shown(&args, r),
            stdin_shown: None,
            expected_exit: vec![],
            timeout_counts: false,
            must_not_exist: vec![],
            not_run: Some(why),
        };
        let gate_args: Vec<String> = c.gate.iter().map(|s| s.to_string()).collect();
        if !available(exe, c) {
            out.push(not_run(
                format!(
                    "the gate command `{}` is not available in this build",
                    gate_text(c)
                ),
                "not-run",
                c.title,
                gate_args,
            ));
            continue;
        }
        let Some(build) = c.build else {
            out.push(not_run(
                format!(
                    "no probe of this class is implemented in this build (gate: `{}`)",
                    gate_text(c)
                ),
                "not-run",
                c.title,
                gate_args,
            ));
            continue;
        };
        let failed: Vec<&ControlRecord> = controls
            .iter()
            .filter(|k| c.controls.contains(&k.id.as_str()) && !k.ok)
            .collect();
        fx.set_class(c.id);
        for spec in build(fx)? {
            let args = spec.args;
            let mut case = Case {
                id: format!("{}/{}", c.id, spec.name),
                class: c.id.to_string(),
                kind: ProbeKind::Builtin,
                input: spec.input,
                spawn: spawn(&args, spec.env.clone()),
                shown: {
                    let mut v: Vec<String> = spec
                        .env
                        .iter()
                        .map(|(k, val)| r.apply(&format!("{k}={val}")))
                        .collect();
                    v.extend(shown(&args, r));
                    v
                },
                stdin_shown: None,
                expected_exit: spec.expect,
                timeout_counts: false,
                must_not_exist: spec.must_not_exist,
                not_run: None,
            };
            if let Some(k) = failed.first() {
                case.not_run = Some(format!(
                    "control {} failed (the good input was refused, so a refusal proves nothing): {}",
                    k.id, k.detail
                ));
            }
            out.push(case);
        }
    }
    Ok((out, controls))
}
