//! The probe harness report (`production-bad-input-design.json`): what each
//! probe and control did, the totals, and the facts the gates take from it.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::gate::assemble::ProbeFindings;
use crate::gate::citation::{BlockerEvidence, GateFact};
use crate::gate::facts::{Outcome, ProbeFact};
use crate::gate::verdict::find_token_claim;
use crate::model::fact::ArtifactCitation;

use super::{REPORT_LIMIT, USER_CLASS};

/// Built-in (attacks holdfast) or user (attacks the user's gate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeKind {
    /// A built-in class, run against the holdfast binary itself.
    Builtin,
    /// A probe from gates.toml.
    User,
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
    pub fn fail_open_probes(&self) -> Result<Vec<GateFact>> {
        let sha256 = crate::digest::sha256_hex(&crate::canonical::to_bytes(self)?);
        Ok(self
            .probes
            .iter()
            .enumerate()
            .map(|(i, r)| (i, r.fact()))
            .filter(|(_, f)| !f.fail_closed())
            .map(|(i, f)| {
                crate::gate::facts_file::fail_open_probe(
                    &f.id,
                    f.outcome,
                    f.token_leaked,
                    vec![BlockerEvidence::Artifact(ArtifactCitation {
                        file: crate::gate::PROBE_REPORT_FILE.to_string(),
                        sha256: sha256.clone(),
                        at: format!("/probes/{i}/outcome"),
                        value: serde_json::to_value(f.outcome)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string)),
                    })],
                )
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
        if let Some(what) = user_probe_inconsistency(&self.probes, &self.controls) {
            return bad(what);
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

/// The record of class `id` over all `probes` (those of other classes are
/// skipped).
pub(crate) fn class_record(
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
pub(crate) fn summarize(
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

pub(crate) fn worst(records: &[&ProbeRecord]) -> Outcome {
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

/// The first user probe of a report that counts as failing closed although
/// its positive control failed (a report edited by hand), in words.
fn user_probe_inconsistency(probes: &[ProbeRecord], controls: &[ControlRecord]) -> Option<String> {
    probes
        .iter()
        .filter(|p| p.kind == ProbeKind::User && p.fail_closed)
        .find(|p| controls.iter().any(|c| c.id == p.id && !c.ok))
        .map(|p| {
            format!(
                "probes ({}): fail-closed although its positive control failed",
                p.id
            )
        })
}
