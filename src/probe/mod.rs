//! The bad-input probe harness (`holdfast probe SPEC`).
//!
//! Two kinds of probes:
//! - built-in classes attack holdfast's own gates: the harness builds a good
//!   packet and a good spec in a temporary directory, checks that the real
//!   binary accepts them (the controls: a refusal of input the gate would
//!   refuse anyway proves nothing), then runs the binary on bad copies;
//! - user probes run the user's own gate commands on the user's bad inputs.
//!
//! A probe fails closed when the gate exits non-zero (with an expected code)
//! and the pass token appears in neither stdout nor stderr. Timeouts, signals,
//! unexpected codes and gates that are not in this build are reported as
//! such, never as passed. The harness passes only when every probe failed
//! closed, every control passed, and nothing leaked.

mod builtin;
pub(crate) mod exec;
mod fixture;
mod rerun;
pub mod spec;
mod user;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::gate::assemble::ProbeFindings;
use crate::gate::blocker::{BlockerEvidence, FailOpenProbe};
use crate::gate::facts::{Outcome, ProbeFact};
use crate::gate::verdict::{find_token_claim, pass_token};
use crate::probe::spec::LoadedSpec;
use crate::progress::Progress;
use crate::surface::facts::ArtifactCitation;

pub use builtin::{ClassInfo, class_table};
pub use exec::{Captured, Ran, Spawn, run as run_command};
pub use rerun::{RerunOptions, RerunReport, rerun};

/// The class id of user probes.
pub const USER_CLASS: &str = "user";
/// Time limit of each built-in probe (they finish in milliseconds; this only
/// catches a hang).
pub const BUILTIN_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest probe report `holdfast gates --probe-report` reads.
pub const REPORT_LIMIT: u64 = 64 * 1024 * 1024;

/// Built-in (attacks holdfast) or user (attacks the user's gate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeKind {
    /// A built-in class, run against the holdfast binary itself.
    Builtin,
    /// A probe from gates.toml.
    User,
}

/// What the harness runs.
#[derive(Debug, Clone)]
pub struct HarnessOptions {
    /// The holdfast binary to attack (normally `std::env::current_exe()`).
    pub exe: PathBuf,
    /// Class ids to run (empty: all). Each must match a class.
    pub only: Vec<String>,
}

/// What a probe expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// Always `fail-closed`.
    pub outcome: Outcome,
    /// Exit codes that count as the expected refusal (empty: any non-zero).
    pub exit_codes: Vec<i32>,
    /// Time limit, in seconds.
    pub timeout_seconds: u64,
    /// A timeout counts as failing closed.
    pub timeout_counts_as_fail_closed: bool,
}

/// What a probe did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Actual {
    /// Exit code, when it exited.
    pub exit_code: Option<i32>,
    /// Signal that ended it, when one did.
    pub signal: Option<i32>,
    /// It ran out of time and was killed.
    pub timed_out: bool,
    /// The pass token appeared in stdout.
    pub token_in_stdout: bool,
    /// The pass token appeared in stderr.
    pub token_in_stderr: bool,
    /// The first line of stderr (paths of the temporary work directory shown
    /// as `<work>`, the token as `<pass token>`), to see why it refused.
    pub stderr_first_line: String,
}

/// One probe of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeRecord {
    /// `<class>/<name>`.
    pub id: String,
    /// Class id.
    pub class: String,
    /// Built-in or user.
    pub kind: ProbeKind,
    /// The bad input, in words.
    pub input: String,
    /// The command as run (`holdfast` for the binary, `<work>` for the
    /// harness's temporary directory).
    pub command: Vec<String>,
    /// What was fed on standard input, in words (none: nothing).
    pub stdin: Option<String>,
    /// The expectation.
    pub expected: Expected,
    /// What happened (absent when it was not run).
    pub actual: Option<Actual>,
    /// The outcome.
    pub outcome: Outcome,
    /// Whether this counts as failing closed.
    pub fail_closed: bool,
    /// Why the outcome is what it is.
    pub reason: String,
}

impl ProbeRecord {
    /// The record as the verdict sees it.
    pub fn fact(&self) -> ProbeFact {
        ProbeFact {
            id: self.id.clone(),
            outcome: self.outcome,
            token_leaked: self
                .actual
                .as_ref()
                .is_some_and(|a| a.token_in_stdout || a.token_in_stderr),
            timeout_counts_as_fail_closed: self.expected.timeout_counts_as_fail_closed,
        }
    }
}

/// One class of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassRecord {
    /// Class id.
    pub id: String,
    /// One-line title.
    pub title: String,
    /// Built-in or user.
    pub kind: ProbeKind,
    /// The gate command it attacks.
    pub gate: String,
    /// Its probes.
    pub probes: usize,
    /// How many failed closed.
    pub fail_closed: usize,
    /// `fail-closed` when all did; otherwise the worst outcome among the rest.
    pub result: Outcome,
}

/// A control: the good input a class's gate must accept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlRecord {
    /// Control id.
    pub id: String,
    /// The command (as in probe records).
    pub command: Vec<String>,
    /// Exit code it got (absent when it did not exit).
    pub exit_code: Option<i32>,
    /// It exited 0, as the good input must.
    pub ok: bool,
    /// First line of stderr when it did not.
    pub detail: String,
}

/// Totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Classes run or reported.
    pub classes: usize,
    /// Probes.
    pub probes: usize,
    /// Probes that failed closed.
    pub fail_closed: usize,
    /// Probes that failed open.
    pub fail_open: usize,
    /// Probes that timed out.
    pub timeout: usize,
    /// Probes that crashed.
    pub crashed: usize,
    /// Probes not run.
    pub not_run: usize,
    /// Probes refused with an unexpected code or side effect.
    pub unexpected: usize,
    /// Probes whose output held the pass token.
    pub token_leaked: usize,
    /// Controls that failed.
    pub controls_failed: usize,
}

/// `production-bad-input-design.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeReport {
    /// A custom pass token was configured (its spelling is never recorded).
    pub custom_pass_token: bool,
    /// Every class, sorted by id.
    pub classes: Vec<ClassRecord>,
    /// Every control run, sorted by id.
    pub controls: Vec<ControlRecord>,
    /// Every probe, sorted by id.
    pub probes: Vec<ProbeRecord>,
    /// Totals.
    pub summary: Summary,
    /// True only when every probe failed closed, every control passed and
    /// nothing leaked.
    pub all_fail_closed: bool,
}

impl ProbeReport {
    /// Every probe as the verdict sees it.
    pub fn facts(&self) -> Vec<ProbeFact> {
        self.probes.iter().map(ProbeRecord::fact).collect()
    }

    /// The probes that did not fail closed, as blocker inputs. Recomputed
    /// from each probe's outcome, never taken from the summary fields. Each
    /// cites its outcome in the report file
    /// (`production-bad-input-design.json`, `/probes/<i>/outcome`), pinned
    /// by the sha256 of the report's canonical JSON: the bytes holdfast
    /// writes, and so the bytes of a packet's report.
    pub fn fail_open_probes(&self) -> Result<Vec<FailOpenProbe>> {
        let sha256 = crate::digest::sha256_hex(&crate::canonical::to_bytes(self)?);
        Ok(self
            .probes
            .iter()
            .enumerate()
            .map(|(i, r)| (i, r.fact()))
            .filter(|(_, f)| !f.fail_closed())
            .map(|(i, f)| FailOpenProbe {
                evidence: vec![BlockerEvidence::Artifact(ArtifactCitation {
                    file: crate::gate::PROBE_REPORT_FILE.to_string(),
                    sha256: sha256.clone(),
                    at: format!("/probes/{i}/outcome"),
                    value: serde_json::to_value(f.outcome)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string)),
                })],
                probe: f.id,
                outcome: f.outcome,
                token_leaked: f.token_leaked,
            })
            .collect())
    }

    /// What the gates take from this report: every probe's fact and the
    /// fail-open probes ([`ProbeReport::fail_open_probes`]).
    pub fn findings(&self) -> Result<ProbeFindings> {
        Ok(ProbeFindings {
            facts: self.facts(),
            fail_open: self.fail_open_probes()?,
        })
    }

    /// Reads a report strictly (for `holdfast gates --probe-report`).
    pub fn load(path: &Path, token: &str) -> Result<ProbeReport> {
        let bytes = crate::fsio::read_regular(path, REPORT_LIMIT)?;
        ProbeReport::parse(&bytes, path, token)
    }

    /// Parses report bytes strictly (duplicate and unknown keys refused, the
    /// pass token refused); `path` names them in errors.
    pub fn parse(bytes: &[u8], path: &Path, token: &str) -> Result<ProbeReport> {
        let value = crate::canonical::parse_strict(bytes, path)?;
        if let Some(at) = find_token_claim(&value, token, &[]) {
            return Err(Error::malformed(
                path,
                format!("{at}: contains the pass token; only the verdict produces it"),
            ));
        }
        serde_json::from_value(value).map_err(|e| Error::malformed(path, e.to_string()))
    }

    /// Checks that the report agrees with itself, as the harness writes it:
    /// probes, classes and controls sorted by unique ids; each probe
    /// `<class>/<name>` of a listed class of its kind, its `fail_closed`
    /// what its outcome gives; each class's counts and result, the summary
    /// and `all_fail_closed` what the probes and controls give. A report
    /// edited by hand (a probe added, dropped or turned to fail-closed) fails
    /// this; the error (exit 3) names the first disagreement.
    pub fn check_consistency(&self, path: &Path) -> Result<()> {
        let bad = |what: String| Err(Error::malformed(path, what));
        let sorted = |ids: Vec<&str>| ids.windows(2).all(|w| w[0] < w[1]);
        if !sorted(self.probes.iter().map(|p| p.id.as_str()).collect()) {
            return bad("probes: not sorted by unique id".into());
        }
        if !sorted(self.classes.iter().map(|c| c.id.as_str()).collect()) {
            return bad("classes: not sorted by unique id".into());
        }
        if !sorted(self.controls.iter().map(|c| c.id.as_str()).collect()) {
            return bad("controls: not sorted by unique id".into());
        }
        for (i, p) in self.probes.iter().enumerate() {
            let at = format!("probes[{i}] ({})", p.id);
            let Some(name) = p.id.strip_prefix(&format!("{}/", p.class)) else {
                return bad(format!(
                    "{at}: id is not <class>/<name> of class {}",
                    p.class
                ));
            };
            if name.is_empty() {
                return bad(format!("{at}: id has no name"));
            }
            let Some(c) = self.classes.iter().find(|c| c.id == p.class) else {
                return bad(format!("{at}: class {} is not in classes", p.class));
            };
            if c.kind != p.kind || (p.kind == ProbeKind::User) != (p.class == USER_CLASS) {
                return bad(format!("{at}: kind disagrees with its class"));
            }
            if p.fail_closed != p.fact().fail_closed() {
                return bad(format!(
                    "{at}: fail_closed is {}, but its outcome gives {}",
                    p.fail_closed,
                    p.fact().fail_closed()
                ));
            }
        }
        for (i, c) in self.classes.iter().enumerate() {
            let want = class_record(&c.id, c.title.clone(), c.kind, c.gate.clone(), &self.probes);
            if *c != want {
                return bad(format!(
                    "classes[{i}] ({}): probes {}, fail_closed {}, result {:?} disagree with its probes ({}, {}, {:?})",
                    c.id,
                    c.probes,
                    c.fail_closed,
                    c.result,
                    want.probes,
                    want.fail_closed,
                    want.result
                ));
            }
        }
        for (i, c) in self.controls.iter().enumerate() {
            if c.ok != (c.exit_code == Some(0)) {
                return bad(format!(
                    "controls[{i}] ({}): ok disagrees with its exit code",
                    c.id
                ));
            }
        }
        let (summary, all) = summarize(self.classes.len(), &self.probes, &self.controls);
        if summary != self.summary {
            return bad("summary: disagrees with the probes and controls".into());
        }
        if all != self.all_fail_closed {
            return bad(format!(
                "all_fail_closed: {}, but the probes and controls give {all}",
                self.all_fail_closed
            ));
        }
        Ok(())
    }
}

/// One probe ready to run (or already decided not to be run).
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub id: String,
    pub class: String,
    pub kind: ProbeKind,
    pub input: String,
    pub spawn: Spawn,
    pub shown: Vec<String>,
    pub stdin_shown: Option<String>,
    pub expected_exit: Vec<i32>,
    pub timeout_counts: bool,
    /// Paths a refusal must not create (nothing written on refusal).
    pub must_not_exist: Vec<PathBuf>,
    /// Paths (files or directory trees) a refusal must leave byte for byte
    /// as they were, with their digest ([`tree_digest`]) before the run.
    pub must_keep: Vec<(PathBuf, String)>,
    /// Set when the probe cannot run; the reason.
    pub not_run: Option<String>,
}

/// Replaces machine-specific paths and the token in a line of output.
pub(crate) struct Redactor {
    pairs: Vec<(String, String)>,
}

impl Redactor {
    pub(crate) fn new(pairs: Vec<(String, String)>) -> Self {
        // Longest first, so a path is replaced before any prefix of it.
        let mut pairs: Vec<(String, String)> =
            pairs.into_iter().filter(|(a, _)| !a.is_empty()).collect();
        pairs.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        Redactor { pairs }
    }

    pub(crate) fn apply(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (from, to) in &self.pairs {
            out = out.replace(from.as_str(), to);
        }
        out
    }
}

fn first_line(bytes: &[u8], r: &Redactor) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().next().unwrap_or("");
    let line = r.apply(line);
    match line.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line,
    }
}

/// A digest of everything at `path`: the sha256 of a file's bytes, or of
/// the canonical JSON of a tree's relative paths and their files' sha256
/// (links by their target); `absent` when nothing is there. Two digests are
/// equal only when nothing under `path` was written, added or removed.
pub(crate) fn tree_digest(path: &Path) -> Result<String> {
    let meta = match path.symlink_metadata() {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok("absent".into()),
        Err(e) => return Err(Error::io(path, e)),
    };
    if !meta.is_dir() {
        return crate::digest::hash_file(path).map(|f| f.sha256);
    }
    let mut map = std::collections::BTreeMap::new();
    for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
        let entry = entry.map_err(|e| Error::failed(format!("{}: {e}", path.display())))?;
        let rel = entry
            .path()
            .strip_prefix(path)
            .unwrap_or(entry.path())
            .display()
            .to_string();
        let ft = entry.file_type();
        let value = if ft.is_symlink() {
            let target =
                std::fs::read_link(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            format!("link:{}", target.display())
        } else if ft.is_file() {
            crate::digest::hash_file(entry.path())?.sha256
        } else if ft.is_dir() {
            "dir".into()
        } else {
            "special".into()
        };
        map.insert(rel, value);
    }
    Ok(crate::digest::sha256_hex(&crate::canonical::to_bytes(
        &map,
    )?))
}

/// What a refused run must not have done: created a path it was told not
/// to, or changed one it was told to keep. The first such side effect.
fn side_effect(case: &Case) -> Option<String> {
    if let Some(p) = case
        .must_not_exist
        .iter()
        .find(|p| p.symlink_metadata().is_ok())
    {
        return Some(format!("it wrote {}", p.display()));
    }
    case.must_keep
        .iter()
        .find_map(|(p, before)| match tree_digest(p) {
            Ok(now) if &now == before => None,
            _ => Some(format!("it changed {}", p.display())),
        })
}

/// Decides the outcome of a finished run; `side_effect` says what it wrote
/// despite refusing, if anything. Pure.
pub(crate) fn classify(ran: &Ran, case: &Case, side_effect: Option<&str>) -> (Outcome, String) {
    if let Some(e) = &ran.spawn_error {
        return (Outcome::NotRun, format!("could not start: {e}"));
    }
    let leaked: Vec<&str> = [
        ("stdout", ran.stdout.token_found),
        ("stderr", ran.stderr.token_found),
    ]
    .iter()
    .filter(|(_, f)| *f)
    .map(|(n, _)| *n)
    .collect();
    if !leaked.is_empty() {
        return (
            Outcome::FailOpen,
            format!("the pass token appeared in {}", leaked.join(" and ")),
        );
    }
    if ran.timed_out {
        return (
            Outcome::Timeout,
            format!(
                "still running after {}s; {} ({})",
                case.spawn.timeout.as_secs(),
                ran.killed.as_deref().unwrap_or("killed"),
                if case.timeout_counts {
                    "counts as fail-closed, as the probe declares"
                } else {
                    "does not count as fail-closed"
                }
            ),
        );
    }
    if let Some(sig) = ran.signal {
        return (Outcome::Crashed, format!("killed by signal {sig}"));
    }
    let Some(code) = ran.exit_code else {
        return (Outcome::Crashed, "ended without an exit code".into());
    };
    if code == 0 {
        return (
            Outcome::FailOpen,
            "exit 0: the gate let the bad input through".into(),
        );
    }
    match case.kind {
        ProbeKind::Builtin if code == 101 => {
            return (Outcome::Crashed, "panicked (exit 101)".into());
        }
        ProbeKind::User if code == 126 || code == 127 => {
            return (
                Outcome::NotRun,
                format!("exit {code}: the command could not be executed"),
            );
        }
        _ => {}
    }
    if !case.expected_exit.is_empty() && !case.expected_exit.contains(&code) {
        return (
            Outcome::Unexpected,
            format!("exit {code}, expected {:?}", case.expected_exit),
        );
    }
    if let Some(what) = side_effect {
        return (
            Outcome::Unexpected,
            format!("exit {code}, but {what} despite refusing"),
        );
    }
    (Outcome::FailClosed, format!("exit {code}"))
}

fn run_case(case: &Case, token: &str, r: &Redactor) -> ProbeRecord {
    let expected = Expected {
        outcome: Outcome::FailClosed,
        exit_codes: case.expected_exit.clone(),
        timeout_seconds: case.spawn.timeout.as_secs(),
        timeout_counts_as_fail_closed: case.timeout_counts,
    };
    let base = |outcome: Outcome, actual: Option<Actual>, reason: String| {
        let mut rec = ProbeRecord {
            id: case.id.clone(),
            class: case.class.clone(),
            kind: case.kind,
            input: r.apply(&case.input),
            command: case.shown.clone(),
            stdin: case.stdin_shown.clone(),
            expected: expected.clone(),
            actual,
            outcome,
            fail_closed: false,
            reason: r.apply(&reason),
        };
        rec.fail_closed = rec.fact().fail_closed();
        rec
    };
    if let Some(why) = &case.not_run {
        return base(Outcome::NotRun, None, why.clone());
    }
    let ran = exec::run(&case.spawn, token);
    let effect = side_effect(case);
    let (outcome, reason) = classify(&ran, case, effect.as_deref());
    let actual = if ran.spawn_error.is_some() {
        None
    } else {
        Some(Actual {
            exit_code: ran.exit_code,
            signal: ran.signal,
            timed_out: ran.timed_out,
            token_in_stdout: ran.stdout.token_found,
            token_in_stderr: ran.stderr.token_found,
            stderr_first_line: first_line(&ran.stderr.head, r),
        })
    };
    base(outcome, actual, reason)
}

fn worst(records: &[&ProbeRecord]) -> Outcome {
    for o in [
        Outcome::FailOpen,
        Outcome::Crashed,
        Outcome::Unexpected,
        Outcome::Timeout,
        Outcome::NotRun,
    ] {
        if records.iter().any(|p| !p.fail_closed && p.outcome == o) {
            return o;
        }
    }
    Outcome::FailClosed
}

/// Checks `--only` values against the known classes; an empty selection or a
/// value that matches nothing is a usage error, never "nothing to do, passed".
pub fn select_classes(only: &[String], builtin: &[&str], has_user: bool) -> Result<Vec<String>> {
    select_configured(only, None, builtin, has_user)
}

/// [`select_classes`] within the selection of gates.toml's `[probes]
/// classes` (`configured`; `None`: every class): `--only` narrows it and
/// must name classes inside it.
pub fn select_configured(
    only: &[String],
    configured: Option<&[String]>,
    builtin: &[&str],
    has_user: bool,
) -> Result<Vec<String>> {
    let mut known: Vec<String> = builtin.iter().map(|s| s.to_string()).collect();
    if has_user {
        known.push(USER_CLASS.to_string());
    }
    if let Some(configured) = configured {
        if let Some((_, what)) =
            crate::probe::spec::class_selection_problem(configured, builtin, has_user)
        {
            return Err(Error::Usage(format!("probes.classes: {what}")));
        }
        for o in only {
            if known.contains(o) && !configured.contains(o) {
                return Err(Error::Usage(format!(
                    "--only {o}: not selected by [probes] classes in gates.toml ({}); --only can only narrow it",
                    configured.join(", ")
                )));
            }
        }
        known = configured.to_vec();
    }
    if only.is_empty() {
        return Ok(known);
    }
    let mut out = Vec::new();
    for o in only {
        if o.trim().is_empty() {
            return Err(Error::Usage(
                "--only: an empty class name matches nothing".into(),
            ));
        }
        if !known.contains(o) {
            let hint = if o == USER_CLASS {
                "the spec has no [[probe]]".to_string()
            } else {
                format!("known classes: {}", known.join(", "))
            };
            return Err(Error::Usage(format!(
                "--only {o}: matches no probe class ({hint})"
            )));
        }
        if !out.contains(o) {
            out.push(o.clone());
        }
    }
    Ok(out)
}

/// The classes a full run of `spec` selects (gates.toml's `[probes]
/// classes`, or every class): what a packet's recorded report must hold,
/// no more and no fewer.
pub fn configured_classes(spec: &LoadedSpec) -> Result<Vec<String>> {
    let table = builtin::table();
    let ids: Vec<&str> = table.iter().map(|c| c.id).collect();
    let mut selected = select_configured(
        &[],
        spec.spec.probes.classes.as_deref(),
        &ids,
        !spec.spec.probe.is_empty(),
    )?;
    selected.sort();
    Ok(selected)
}

/// Runs the harness: every selected class, every user probe. The report is
/// returned whatever the outcome; `all_fail_closed` says whether it passed.
pub fn run(
    spec: &LoadedSpec,
    opts: &HarnessOptions,
    progress: &dyn Progress,
) -> Result<ProbeReport> {
    let table = builtin::table();
    let ids: Vec<&str> = table.iter().map(|c| c.id).collect();
    let selected = select_configured(
        &opts.only,
        spec.spec.probes.classes.as_deref(),
        &ids,
        !spec.spec.probe.is_empty(),
    )?;
    harness(Some(spec), &selected, &opts.exe, progress)
}

/// Runs exactly the classes `selected` (built-in ids, and `user` for the
/// spec's probes) against `exe`. Without a spec the token is the default
/// and `user` cannot be selected.
pub(crate) fn harness(
    spec: Option<&LoadedSpec>,
    selected: &[String],
    exe: &Path,
    progress: &dyn Progress,
) -> Result<ProbeReport> {
    let token = spec.map_or(pass_token(None), LoadedSpec::token).to_string();
    let table = builtin::table();

    let work = tempfile::Builder::new()
        .prefix("holdfast-probe-")
        .tempdir()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let exe = exe.canonicalize().map_err(|e| Error::io(exe, e))?;
    let work_root = work
        .path()
        .canonicalize()
        .map_err(|e| Error::io(work.path(), e))?;
    let mut pairs = vec![
        (work_root.display().to_string(), "<work>".into()),
        (work.path().display().to_string(), "<work>".into()),
        (exe.display().to_string(), "holdfast".into()),
        (token.clone(), "<pass token>".into()),
    ];
    if let Some(spec) = spec {
        let spec_dir = spec
            .dir
            .canonicalize()
            .map_err(|e| Error::io(&spec.dir, e))?;
        pairs.push((spec_dir.display().to_string(), "<spec>".into()));
    }
    let redactor = Redactor::new(pairs);

    let builtin_selected: Vec<&builtin::ClassDef> = table
        .iter()
        .filter(|c| selected.iter().any(|s| s == c.id))
        .collect();
    let (mut cases, controls) = if builtin_selected.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let fx = fixture::Fixture::build(&work_root, &exe, &token)?;
        builtin::cases(&builtin_selected, &fx, &exe, &redactor, &token)?
    };
    if selected.iter().any(|s| s == USER_CLASS) {
        let Some(spec) = spec else {
            return Err(Error::Usage(
                "user probes need the spec that declares them".into(),
            ));
        };
        cases.extend(user::cases(spec, &redactor)?);
    }

    progress.start("probing", cases.len() as u64);
    let mut probes: Vec<ProbeRecord> = cases
        .par_iter()
        .map(|c| {
            let rec = run_case(c, &token, &redactor);
            progress.advance(0);
            rec
        })
        .collect();
    progress.finish();
    probes.sort_by(|a, b| a.id.cmp(&b.id));

    let mut classes: Vec<ClassRecord> = Vec::new();
    for id in selected {
        let (title, gate, kind) = match table.iter().find(|c| c.id == id) {
            Some(c) => (
                c.title.to_string(),
                format!("holdfast {}", c.gate.join(" ")),
                ProbeKind::Builtin,
            ),
            None => (
                "user gate probes from gates.toml".to_string(),
                "user commands".to_string(),
                ProbeKind::User,
            ),
        };
        classes.push(class_record(id, title, kind, gate, &probes));
    }
    classes.sort_by(|a, b| a.id.cmp(&b.id));

    let (summary, all_fail_closed) = summarize(classes.len(), &probes, &controls);
    Ok(ProbeReport {
        custom_pass_token: spec.is_some_and(|s| {
            s.spec.probes.pass_token.is_some()
                && s.spec.probes.pass_token.as_deref() != Some(pass_token(None))
        }),
        classes,
        controls,
        probes,
        summary,
        all_fail_closed,
    })
}

/// The record of class `id` over all `probes` (those of other classes are
/// skipped).
fn class_record(
    id: &str,
    title: String,
    kind: ProbeKind,
    gate: String,
    probes: &[ProbeRecord],
) -> ClassRecord {
    let mine: Vec<&ProbeRecord> = probes.iter().filter(|p| p.class == id).collect();
    ClassRecord {
        id: id.to_string(),
        title,
        kind,
        gate,
        probes: mine.len(),
        fail_closed: mine.iter().filter(|p| p.fail_closed).count(),
        result: worst(&mine),
    }
}

/// The totals of a report and whether it passes, from its probes and
/// controls alone.
fn summarize(
    classes: usize,
    probes: &[ProbeRecord],
    controls: &[ControlRecord],
) -> (Summary, bool) {
    let count = |o: Outcome| probes.iter().filter(|p| p.outcome == o).count();
    let summary = Summary {
        classes,
        probes: probes.len(),
        fail_closed: probes.iter().filter(|p| p.fail_closed).count(),
        fail_open: count(Outcome::FailOpen),
        timeout: count(Outcome::Timeout),
        crashed: count(Outcome::Crashed),
        not_run: count(Outcome::NotRun),
        unexpected: count(Outcome::Unexpected),
        token_leaked: probes.iter().filter(|p| p.fact().token_leaked).count(),
        controls_failed: controls.iter().filter(|c| !c.ok).count(),
    };
    let all_fail_closed = !probes.is_empty()
        && summary.fail_closed == summary.probes
        && summary.token_leaked == 0
        && summary.controls_failed == 0;
    (summary, all_fail_closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(kind: ProbeKind, expected: Vec<i32>) -> Case {
        Case {
            id: "c/p".into(),
            class: "c".into(),
            kind,
            input: "bad".into(),
            spawn: Spawn {
                program: "x".into(),
                args: vec![],
                cwd: None,
                clear_env: true,
                env: vec![],
                stdin: None,
                timeout: Duration::from_secs(2),
            },
            shown: vec![],
            stdin_shown: None,
            expected_exit: expected,
            timeout_counts: false,
            must_not_exist: vec![],
            must_keep: vec![],
            not_run: None,
        }
    }

    fn ran(code: Option<i32>) -> Ran {
        Ran {
            exit_code: code,
            ..Ran::default()
        }
    }

    #[test]
    fn classification_never_calls_a_bad_run_fail_closed() {
        let b = case(ProbeKind::Builtin, vec![1]);
        assert_eq!(classify(&ran(Some(1)), &b, None).0, Outcome::FailClosed);
        assert_eq!(classify(&ran(Some(0)), &b, None).0, Outcome::FailOpen);
        assert_eq!(classify(&ran(Some(3)), &b, None).0, Outcome::Unexpected);
        assert_eq!(classify(&ran(Some(101)), &b, None).0, Outcome::Crashed);
        assert_eq!(
            classify(&ran(Some(1)), &b, Some("it wrote out")).0,
            Outcome::Unexpected
        );
        let mut leak = ran(Some(1));
        leak.stderr.token_found = true;
        assert_eq!(classify(&leak, &b, None).0, Outcome::FailOpen);
        let mut sig = ran(None);
        sig.signal = Some(9);
        assert_eq!(classify(&sig, &b, None).0, Outcome::Crashed);
        let mut t = ran(None);
        t.timed_out = true;
        assert_eq!(classify(&t, &b, None).0, Outcome::Timeout);
        let mut spawn = ran(None);
        spawn.spawn_error = Some("no such file".into());
        assert_eq!(classify(&spawn, &b, None).0, Outcome::NotRun);

        let u = case(ProbeKind::User, vec![]);
        assert_eq!(classify(&ran(Some(101)), &u, None).0, Outcome::FailClosed);
        assert_eq!(classify(&ran(Some(127)), &u, None).0, Outcome::NotRun);
        assert_eq!(classify(&ran(Some(2)), &u, None).0, Outcome::FailClosed);
    }

    #[test]
    fn a_selection_that_matches_nothing_is_an_error() {
        let ids = ["a", "b"];
        assert_eq!(select_classes(&[], &ids, false).unwrap(), vec!["a", "b"]);
        assert_eq!(
            select_classes(&[], &ids, true).unwrap(),
            vec!["a", "b", "user"]
        );
        assert_eq!(
            select_classes(&["b".into()], &ids, false).unwrap(),
            vec!["b"]
        );
        for bad in ["", "zzz", "user"] {
            let e = select_classes(&[bad.to_string()], &ids, false).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}: {e}");
        }
    }

    #[test]
    fn only_narrows_the_configured_selection() {
        let ids = ["a", "b", "c"];
        let conf = vec!["c".to_string(), "a".to_string()];
        let sel = |only: &[&str], user: bool| {
            let only: Vec<String> = only.iter().map(|s| s.to_string()).collect();
            select_configured(&only, Some(&conf), &ids, user)
        };
        assert_eq!(sel(&[], false).unwrap(), vec!["c", "a"]);
        assert_eq!(sel(&["a"], false).unwrap(), vec!["a"]);
        let e = sel(&["b"], false).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("--only b: not selected"), "{e}");
        assert_eq!(sel(&["zzz"], false).unwrap_err().exit_code(), 2);
        // A configured list without `user` while probes exist is refused.
        assert_eq!(sel(&[], true).unwrap_err().exit_code(), 2);
        let empty: Vec<String> = vec![];
        assert!(select_configured(&[], Some(&empty), &ids, false).is_err());
    }

    #[test]
    fn a_tree_digest_changes_with_any_write_under_it() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("t");
        assert_eq!(tree_digest(&root).unwrap(), "absent");
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::write(root.join("a/x"), b"1").unwrap();
        let first = tree_digest(&root).unwrap();
        assert_eq!(tree_digest(&root).unwrap(), first);
        std::fs::write(root.join("a/x"), b"2").unwrap();
        let second = tree_digest(&root).unwrap();
        assert_ne!(second, first);
        std::fs::create_dir(root.join("b")).unwrap();
        assert_ne!(tree_digest(&root).unwrap(), second);
        std::fs::remove_dir(root.join("b")).unwrap();
        assert_eq!(tree_digest(&root).unwrap(), second);
        assert_ne!(tree_digest(&root.join("a/x")).unwrap(), second);
    }

    #[test]
    fn redaction_replaces_longest_first() {
        let r = Redactor::new(vec![
            ("/base/w".into(), "<work>".into()),
            ("/base/w/bin/holdfast".into(), "holdfast".into()),
        ]);
        assert_eq!(
            r.apply("/base/w/bin/holdfast: /base/w/x"),
            "holdfast: <work>/x"
        );
    }
}
