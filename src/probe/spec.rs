//! `gates.toml`: the user probes, the declared blockers and the decision
//! options of a run, and the pass token in force.
//!
//! ```toml
//! [probes]
//! pass_token = "GO_LIVE_APPROVED"  # optional; absent: the built-in token
//! timeout_seconds = 60             # default time limit of a user probe
//!
//! [[probe]]
//! id = "deploy-gate-unsigned"
//! command = ["./ci/deploy-gate", "--check"]
//! input_file = "bad-inputs/unsigned.json"   # appended as the last argument
//! accept_file = "good-inputs/signed.json"   # the positive control: must exit 0
//!
//! [[blocker]]
//! id = "BLK-CI-SEAL"
//! title = "CI seal-vs-bytes scope is unknown"
//! surface = "ci-seal"
//! severity = "critical"
//! status = "open"
//! closes_when = "the CI seal check is shown to cover the packet bytes"
//!
//! [[option]]
//! id = "PROCEED_TO_REHEARSAL"
//! title = "Rehearse the cutover on staging"
//! requires_closed = ["BLK-CI-SEAL"]
//! requires_gates = ["probes", "rollback-plan"]
//! ```
//!
//! Unknown keys are errors (a typo must never widen what a gate lets
//! through), and no value may contain the pass token (only the verdict
//! produces it), except a user probe's `command` and `stdin_text`, which are
//! attack input for the user's gate and are redacted in the probe report.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::gate::SPEC_FILE;
use crate::gate::blocker::{BlockerSpec, check_declared_id};
use crate::gate::citation;
use crate::gate::decision::{OptionSpec, check_option_id};
use crate::gate::verdict::{check_pass_token, find_token_claim, pass_token};
use crate::model::fact::is_derived_id;
use crate::tomlio;

/// The gates.toml `holdfast init` writes: one open blocker and one option,
/// to be edited. It parses as it is.
pub fn example() -> String {
    EXAMPLE.replace("{default_token}", pass_token(None))
}

const EXAMPLE: &str = r#"# gates.toml: user probes, declared blockers and decision options.
# Reference: schemas/gates.schema.json. Unknown keys are errors.

[probes]
# pass_token = "{default_token}"   # the default; upper-case words joined by '_'
timeout_seconds = 60               # default time limit of a user probe
# classes = ["tampered-artifact", "registry-gap"]   # default: every class (`holdfast probe --list`), plus "user"

# A user probe runs your own gate on a bad input and expects it to refuse:
# a non-zero exit, and no pass token in stdout or stderr.
# [[probe]]
# id = "deploy-gate-unsigned"
# command = ["./ci/deploy-gate", "--check"]
# input_file = "bad-inputs/unsigned.json"   # appended as the last argument
# exit_codes = [1]                          # optional: the expected refusal codes
# accept_file = "good-inputs/signed.json"   # the positive control: an input the gate must accept (exit 0)

[[blocker]]
id = "BLK-EXAMPLE"
title = "Replace this example blocker with a real one"
surface = "example-surface"
severity = "high"
status = "open"          # closed counts only with closing_evidence (path, lines, sha256)
closes_when = "describe the evidence that closes it"

[[option]]
id = "PROCEED_TO_REHEARSAL"
title = "Rehearse the change on staging"
requires_closed = ["BLK-EXAMPLE"]
requires_gates = ["probes", "forbidden-surface-proof", "rollback-plan"]
"#;

/// Default time limit of a user probe, in seconds.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 60;
/// Longest time limit a probe may ask for, in seconds.
pub const MAX_TIMEOUT_SECONDS: u64 = 3600;

/// The whole gates.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateSpec {
    /// Harness settings.
    #[serde(default)]
    pub probes: ProbesConfig,
    /// User probes.
    #[serde(default)]
    pub probe: Vec<UserProbe>,
    /// Declared blockers.
    #[serde(default)]
    pub blocker: Vec<BlockerSpec>,
    /// Decision options (HOLD_PRODUCTION is built in).
    #[serde(default)]
    pub option: Vec<OptionSpec>,
}

/// The `[probes]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbesConfig {
    /// The pass token (upper-case words joined by `_`); absent: the default.
    #[serde(default)]
    pub pass_token: Option<String>,
    /// Default time limit of a user probe, in seconds (1 to 3600; default 60).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// The probe classes to run: built-in class ids (`holdfast probe
    /// --list`), and `user` for the spec's `[[probe]]` entries. Absent:
    /// every built-in class, plus `user` when there is a `[[probe]]`. Never
    /// empty (an empty selection would pass without testing anything), no
    /// name twice, and `user` exactly when there is a `[[probe]]` (a declared
    /// probe is never skipped silently).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "classes_schema")]
    pub classes: Option<Vec<String>>,
    /// Every user probe must declare a positive control (`accept_file`); a
    /// probe without one then fails its control (a gate that refuses
    /// everything would otherwise pass). Default false: such a probe is
    /// reported as having no positive control.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_positive_control: bool,
}

/// The schema of `[probes] classes`. The names a build knows (its built-in
/// classes and `user`) are added as the items' `enum` where the schema is
/// published (`crate::schema`), one layer up from the class table.
fn classes_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "The probe classes to run (default: every built-in class, plus `user` when there is a [[probe]]).",
        "type": "array",
        "items": {"type": "string"},
        "minItems": 1,
        "uniqueItems": true
    })
}

/// The first problem of a `[probes] classes` selection: the index of the
/// offending name (`None`: the list as a whole) and what is wrong. `known`
/// are the built-in class ids; `has_user`: the spec has a `[[probe]]`.
pub fn class_selection_problem(
    classes: &[String],
    known: &[&str],
    has_user: bool,
) -> Option<(Option<usize>, String)> {
    use crate::probe::USER_CLASS;
    if classes.is_empty() {
        return Some((
            None,
            "an empty selection never passes; remove the key to run every class".into(),
        ));
    }
    for (i, c) in classes.iter().enumerate() {
        if c == USER_CLASS {
            if !has_user {
                return Some((
                    Some(i),
                    "\"user\" selects the spec's [[probe]] entries, and it has none".into(),
                ));
            }
        } else if !known.contains(&c.as_str()) {
            return Some((
                Some(i),
                format!("{c:?} is not a probe class (see `holdfast probe --list`)"),
            ));
        }
        if classes[..i].contains(c) {
            return Some((Some(i), format!("{c:?} is listed twice")));
        }
    }
    if has_user && !classes.iter().any(|c| c == USER_CLASS) {
        return Some((
            None,
            "the spec has [[probe]] entries but the selection leaves out \"user\"; add it (a declared probe is never skipped silently)".into(),
        ));
    }
    None
}

/// Where `[probes] classes` and its names are in the TOML text.
#[derive(Deserialize)]
struct ClassesAt {
    #[serde(default)]
    probes: Option<ProbesAt>,
}

#[derive(Deserialize)]
struct ProbesAt {
    #[serde(default)]
    classes: Option<toml::Spanned<Vec<toml::Spanned<String>>>>,
}

/// Checks the class selection with the line and column of the problem;
/// `known` are the built-in class ids.
fn check_classes_at(bytes: &[u8], path: &Path, spec: &GateSpec, known: &[&str]) -> Result<()> {
    let Some(classes) = &spec.probes.classes else {
        return Ok(());
    };
    let Some((at, what)) = class_selection_problem(classes, known, !spec.probe.is_empty()) else {
        return Ok(());
    };
    let spanned: ClassesAt = tomlio::parse_allowing(bytes, path, &["probe[*]"])?;
    let list = spanned.probes.and_then(|p| p.classes);
    let (key, span) = match (at, &list) {
        (Some(i), Some(l)) => (
            format!("probes.classes[{i}]"),
            l.get_ref().get(i).map(|e| e.span()),
        ),
        (None, Some(l)) => ("probes.classes".to_string(), Some(l.span())),
        _ => ("probes.classes".to_string(), None),
    };
    let at = match span {
        Some(span) => {
            let (line, col) = tomlio::line_col(bytes, span.start);
            format!("line {line}, column {col}: ")
        }
        None => String::new(),
    };
    Err(Error::malformed(path, format!("{at}{key}: {what}")))
}

/// How a user probe's input file reaches the gate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InputVia {
    /// Appended as the last argument.
    #[default]
    Argument,
    /// Fed on standard input.
    Stdin,
}

/// What a user probe expects of the gate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    /// Non-zero exit and no pass token in stdout or stderr.
    #[default]
    FailClosed,
}

/// A user probe (`[[probe]]`): a gate command and a bad input it must refuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserProbe {
    /// Id: letters, digits, `.`, `_`, `-`.
    pub id: String,
    /// One-line description.
    #[serde(default)]
    pub title: String,
    /// The gate's argv (no shell). A first word with a `/` is relative to the
    /// spec directory; otherwise it is looked up on PATH. Runs in the spec
    /// directory.
    pub command: Vec<String>,
    /// The bad input, relative to the spec directory.
    #[serde(default)]
    pub input_file: Option<String>,
    /// How `input_file` is given: `argument` (default) or `stdin`.
    #[serde(default)]
    pub input_via: InputVia,
    /// Literal text fed on standard input (not with `input_via = "stdin"`).
    #[serde(default)]
    pub stdin_text: Option<String>,
    /// Always `fail-closed` (the default).
    #[serde(default)]
    pub expect: Expect,
    /// Exit codes that count as the expected refusal; empty: any non-zero.
    #[serde(default)]
    pub exit_codes: Vec<i32>,
    /// Time limit in seconds (default: `[probes] timeout_seconds`).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Count a timeout as failing closed (it is reported as a timeout either way).
    #[serde(default)]
    pub timeout_is_fail_closed: bool,
    /// The positive control: a good input, relative to the spec directory,
    /// given the same way as `input_file`, that the gate must accept (exit
    /// 0). Without one, a gate that refuses everything would pass the probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_file: Option<String>,
}

/// A loaded and validated gates.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedSpec {
    /// The file it was read from.
    pub path: PathBuf,
    /// Its directory (user probes run here; relative paths start here).
    pub dir: PathBuf,
    /// The content.
    pub spec: GateSpec,
}

impl LoadedSpec {
    /// The pass token in force for this spec.
    pub fn token(&self) -> &str {
        pass_token(self.spec.probes.pass_token.as_deref())
    }

    /// The plan next to the spec, if there is one.
    pub fn default_plan(&self) -> Option<PathBuf> {
        let p = self.dir.join(crate::gate::PLAN_FILE);
        p.is_file().then_some(p)
    }
}

/// Parses gates.toml bytes (named `path` in errors) and validates them;
/// `known` are the built-in class ids a `[probes] classes` may name
/// (`crate::probe::load::parse` passes this build's).
pub fn parse_with(bytes: &[u8], path: &Path, known: &[&str]) -> Result<GateSpec> {
    // A user probe's command and stdin are attack input for the user's own
    // gate (and are redacted in the report); nothing else may spell the token.
    let skip = [
        "probes.pass_token",
        "probe[*].command",
        "probe[*].stdin_text",
    ];
    let raw: serde_json::Value = tomlio::parse_allowing(bytes, path, &skip)?;
    let configured = raw
        .get("probes")
        .and_then(|p| p.get("pass_token"))
        .and_then(serde_json::Value::as_str);
    if let Some(at) = find_token_claim(&raw, pass_token(configured), &skip) {
        return Err(Error::malformed(
            path,
            format!("{at}: contains the pass token; an input may not claim it"),
        ));
    }
    let spec: GateSpec = tomlio::parse_allowing(bytes, path, &skip)?;
    check_classes_at(bytes, path, &spec, known)?;
    validate(&spec, path, known)?;
    Ok(spec)
}

fn nonblank(path: &Path, at: &str, s: &str) -> Result<()> {
    if s.trim().is_empty() {
        return Err(Error::malformed(path, format!("{at}: must not be empty")));
    }
    Ok(())
}

fn check_timeout(path: &Path, at: &str, t: Option<u64>) -> Result<()> {
    match t {
        Some(t) if !(1..=MAX_TIMEOUT_SECONDS).contains(&t) => Err(Error::malformed(
            path,
            format!("{at}: must be 1 to {MAX_TIMEOUT_SECONDS} seconds"),
        )),
        _ => Ok(()),
    }
}

/// Checks everything serde cannot; errors name the file and the key.
/// `known` are the built-in class ids.
pub fn validate(spec: &GateSpec, path: &Path, known: &[&str]) -> Result<()> {
    if let Some(t) = &spec.probes.pass_token {
        check_pass_token(t)
            .map_err(|why| Error::malformed(path, format!("probes.pass_token: {why}")))?;
    }
    check_timeout(path, "probes.timeout_seconds", spec.probes.timeout_seconds)?;
    if let Some(classes) = &spec.probes.classes
        && let Some((at, what)) = class_selection_problem(classes, known, !spec.probe.is_empty())
    {
        let key = at.map_or("probes.classes".to_string(), |i| {
            format!("probes.classes[{i}]")
        });
        return Err(Error::malformed(path, format!("{key}: {what}")));
    }

    let mut ids = BTreeSet::new();
    for (i, p) in spec.probe.iter().enumerate() {
        let at = format!("probe[{i}]");
        check_declared_id(&p.id).map_err(|w| Error::malformed(path, format!("{at}.id: {w}")))?;
        if !ids.insert(p.id.as_str()) {
            return Err(Error::malformed(
                path,
                format!("{at}.id: {:?} is used twice", p.id),
            ));
        }
        match p.command.first() {
            None => {
                return Err(Error::malformed(
                    path,
                    format!("{at}.command: must name a program (an empty command tests nothing)"),
                ));
            }
            Some(c) => nonblank(path, &format!("{at}.command[0]"), c)?,
        }
        if let Some(f) = &p.input_file {
            crate::surface::citation::check_relative_path(f)
                .map_err(|w| Error::malformed(path, format!("{at}.input_file: {w}")))?;
        }
        if let Some(f) = &p.accept_file {
            crate::surface::citation::check_relative_path(f)
                .map_err(|w| Error::malformed(path, format!("{at}.accept_file: {w}")))?;
            if p.input_file.as_deref() == Some(f.as_str()) {
                return Err(Error::malformed(
                    path,
                    format!(
                        "{at}.accept_file: {f} is also the probe's input_file; the control needs an input the gate must accept, not the bad one"
                    ),
                ));
            }
        }
        if p.stdin_text.is_some() && p.input_via == InputVia::Stdin && p.input_file.is_some() {
            return Err(Error::malformed(
                path,
                format!("{at}.stdin_text: standard input already carries input_file"),
            ));
        }
        if p.input_via == InputVia::Stdin && p.input_file.is_none() {
            return Err(Error::malformed(
                path,
                format!("{at}.input_via: \"stdin\" needs an input_file"),
            ));
        }
        check_timeout(path, &format!("{at}.timeout_seconds"), p.timeout_seconds)?;
        if let Some(c) = p.exit_codes.iter().find(|c| !(1..=255).contains(*c)) {
            return Err(Error::malformed(
                path,
                format!("{at}.exit_codes: {c} is not a refusal (expected 1 to 255)"),
            ));
        }
    }

    let mut blockers = BTreeSet::new();
    for (i, b) in spec.blocker.iter().enumerate() {
        let at = format!("blocker[{i}]");
        check_declared_id(&b.id).map_err(|w| Error::malformed(path, format!("{at}.id: {w}")))?;
        if !blockers.insert(b.id.as_str()) {
            return Err(Error::malformed(
                path,
                format!("{at}.id: {:?} is used twice", b.id),
            ));
        }
        nonblank(path, &format!("{at}.title"), &b.title)?;
        nonblank(path, &format!("{at}.surface"), &b.surface)?;
        nonblank(path, &format!("{at}.closes_when"), &b.closes_when)?;
        for (j, c) in b.evidence.iter().enumerate() {
            citation::check_shape(c, false)
                .map_err(|w| Error::malformed(path, format!("{at}.evidence[{j}].{w}")))?;
        }
        for (j, c) in b.closing_evidence.iter().enumerate() {
            citation::check_shape(c, true)
                .map_err(|w| Error::malformed(path, format!("{at}.closing_evidence[{j}].{w}")))?;
        }
    }

    let mut options = BTreeSet::new();
    for (i, o) in spec.option.iter().enumerate() {
        let at = format!("option[{i}]");
        check_option_id(&o.id).map_err(|w| Error::malformed(path, format!("{at}.id: {w}")))?;
        if !options.insert(o.id.as_str()) {
            return Err(Error::malformed(
                path,
                format!("{at}.id: {:?} is used twice", o.id),
            ));
        }
        nonblank(path, &format!("{at}.title"), &o.title)?;
        for (j, r) in o.requires_closed.iter().enumerate() {
            // Derived ids contain ':'; anything else must be declared here,
            // so a typo cannot make an option wait on nothing.
            if !blockers.contains(r.as_str()) && !is_derived_id(r) {
                return Err(Error::malformed(
                    path,
                    format!(
                        "{at}.requires_closed[{j}]: {r:?} is not a declared blocker id, nor a derived one (unknown-surface:<surface>, stale-citation:<owner>:<path>[:<lines>], changed-forbidden-surface:<boundary>:<surface>, declared-only-critical-surface:<boundary>:<surface>, fail-open-probe:<class>/<name>, impossible-rehearsal:<change>)"
                    ),
                ));
            }
        }
        let mut gates = BTreeSet::new();
        for g in &o.requires_gates {
            if !gates.insert(*g) {
                return Err(Error::malformed(
                    path,
                    format!("{at}.requires_gates: {} is listed twice", g.as_str()),
                ));
            }
        }
    }
    Ok(())
}

/// Writes a starting spec into `dir`: an example gates.toml and the rollback
/// plan template pre-filled from `inputs`. Refuses (nothing written) when
/// either file already exists.
pub fn init(
    dir: &std::path::Path,
    inputs: &crate::gate::plan::PlanInputs,
) -> crate::Result<Vec<std::path::PathBuf>> {
    use crate::error::IoContext;
    let files = [
        (dir.join(SPEC_FILE), example()),
        (
            dir.join(crate::gate::PLAN_FILE),
            crate::gate::plan::template(inputs),
        ),
    ];
    for (p, _) in &files {
        if p.symlink_metadata().is_ok() {
            return Err(crate::Error::refused(format!(
                "{} already exists; init never overwrites",
                p.display()
            )));
        }
    }
    std::fs::create_dir_all(dir).at(dir)?;
    let mut written = Vec::new();
    for (p, text) in files {
        crate::fsio::write_atomic(&p, text.as_bytes())?;
        written.push(p);
    }
    Ok(written)
}
