//! Re-running a recorded harness (`holdfast probe --rerun DESIGN_JSON`,
//! `holdfast verify PACKET --rerun`): the classes a packet's
//! `production-bad-input-design.json` records are run again against this
//! binary, and the re-run passes only when it reproduces the recorded pass.
//!
//! Built-in classes build everything they attack in a temporary directory,
//! so a packet's design re-runs offline, from inside the packet, with
//! nothing but the binary. User probes need the spec that declares them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::report::ProbeReport;
use super::{REPORT_LIMIT, USER_CLASS, builtin, harness};
use crate::error::{Error, Result};
use crate::gate::verdict::pass_token;
use crate::probe::spec::LoadedSpec;
use crate::progress::Progress;

/// What a re-run needs besides the recorded design.
#[derive(Debug, Clone)]
pub struct RerunOptions {
    /// The holdfast binary to attack (normally `std::env::current_exe()`).
    pub exe: PathBuf,
    /// The gate spec (gates.toml or its directory) the design was recorded
    /// with. Needed only when the design records user probes or a custom
    /// pass token; built-in classes need nothing but the binary.
    pub spec: Option<PathBuf>,
    /// Without `spec`, take the recorded user probes as recorded instead of
    /// refusing the re-run: their gate commands live in the user's spec, not
    /// in the packet, so `verify --rerun` re-runs the built-in classes and
    /// lists the user probes it could not re-run (`RerunReport::not_rerun`).
    pub user_probes_as_recorded: bool,
}

/// The outcome of a re-run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RerunReport {
    /// sha256 of the recorded design's bytes.
    pub design_sha256: String,
    /// The classes the design records (all of them were asked for again).
    pub classes: Vec<String>,
    /// Probe ids the design records that the re-run did not produce.
    pub missing: Vec<String>,
    /// Probe ids the re-run produced that the design does not record.
    pub unrecorded: Vec<String>,
    /// Recorded user probes that were not re-run (no spec was given and
    /// `user_probes_as_recorded` was set): their outcomes are as recorded.
    pub not_rerun: Vec<String>,
    /// Every reason the re-run fails, one line each (empty: it passed).
    pub problems: Vec<String>,
    /// Whether the re-run's report has exactly the recorded design's bytes
    /// (expected from the same build; informational, not a condition).
    pub byte_identical: bool,
    /// The re-run passed: the recorded design passed, every probe failed
    /// closed again, nothing leaked, no control failed, and the probe ids
    /// are the recorded ones.
    pub passed: bool,
    /// The re-run's own report (what `--out` writes).
    pub report: ProbeReport,
}

/// Re-runs the classes recorded in the design at `design` (read strictly;
/// a design that disagrees with itself is malformed, exit 3) and compares.
/// A design recording user probes or a custom pass token needs
/// `opts.spec` (usage error, exit 2, otherwise). Writes nothing.
pub fn rerun(design: &Path, opts: &RerunOptions, progress: &dyn Progress) -> Result<RerunReport> {
    let spec = match &opts.spec {
        Some(p) => Some(LoadedSpec::load(p)?),
        None => None,
    };
    let token = spec
        .as_ref()
        .map_or(pass_token(None), LoadedSpec::token)
        .to_string();
    let bytes = crate::fsio::read_regular(design, REPORT_LIMIT)?;
    let recorded = ProbeReport::parse(&bytes, design, &token)?;
    recorded.check_consistency(design)?;

    let custom = spec.as_ref().is_some_and(|s| s.token() != pass_token(None));
    let classes: Vec<String> = recorded.classes.iter().map(|c| c.id.clone()).collect();
    match (&spec, recorded.custom_pass_token) {
        (None, true) => {
            return Err(Error::Usage(format!(
                "probe --rerun {}: the design was recorded with a custom pass token; give the spec that configures it with --spec GATES",
                design.display()
            )));
        }
        (Some(s), recorded_custom) if recorded_custom != custom => {
            return Err(Error::Usage(format!(
                "probe --rerun: --spec {} {} a custom pass token, but the design was recorded {} one",
                s.path.display(),
                if custom {
                    "configures"
                } else {
                    "configures no"
                },
                if recorded_custom { "with" } else { "without" }
            )));
        }
        _ => {}
    }
    // Without the spec, user probes are refused or, when asked, taken as recorded.
    let user_without_spec = spec.is_none() && classes.iter().any(|c| c == USER_CLASS);
    let skip_user = user_without_spec && opts.user_probes_as_recorded;
    if user_without_spec && !skip_user {
        let first = recorded
            .probes
            .iter()
            .find(|p| p.class == USER_CLASS)
            .map_or(USER_CLASS, |p| p.id.as_str());
        return Err(Error::Usage(format!(
            "probe --rerun {}: the design records user probes ({first}, ...); give the spec that declares them with --spec GATES",
            design.display()
        )));
    }

    // Exactly the recorded classes this build knows; the rest cannot be
    // re-run, and their probes are reported missing.
    let table = builtin::table();
    let runnable: Vec<String> = classes
        .iter()
        .filter(|c| (*c == USER_CLASS && !skip_user) || table.iter().any(|d| d.id == c.as_str()))
        .cloned()
        .collect();
    let mut problems = Vec::new();
    for c in classes
        .iter()
        .filter(|c| !(runnable.contains(c) || skip_user && *c == USER_CLASS))
    {
        problems.push(format!(
            "class {c}: recorded, but this build has no such class"
        ));
    }
    let report = harness::harness(spec.as_ref(), &runnable, &opts.exe, progress)?;

    if !recorded.all_fail_closed {
        problems.push(
            "the recorded design did not pass (all_fail_closed: false); a re-run cannot make it pass"
                .into(),
        );
    }
    if recorded.probes.is_empty() {
        problems.push("the recorded design holds no probe".into());
    }
    let (skipped, rerun_ones): (Vec<_>, Vec<_>) = recorded
        .probes
        .iter()
        .partition(|p| skip_user && p.class == USER_CLASS);
    let not_rerun: Vec<String> = skipped.iter().map(|p| p.id.clone()).collect();
    let was: BTreeSet<&str> = rerun_ones.iter().map(|p| p.id.as_str()).collect();
    let now: BTreeSet<&str> = report.probes.iter().map(|p| p.id.as_str()).collect();
    let missing: Vec<String> = was.difference(&now).map(|s| s.to_string()).collect();
    let unrecorded: Vec<String> = now.difference(&was).map(|s| s.to_string()).collect();
    for id in &missing {
        problems.push(format!("{id}: recorded, but not re-run"));
    }
    for id in &unrecorded {
        problems.push(format!("{id}: re-run, but not recorded"));
    }
    for p in report.probes.iter().filter(|p| !p.fail_closed) {
        problems.push(format!("{}: {}: {}", p.id, p.outcome.label(), p.reason));
    }
    for c in report.controls.iter().filter(|c| !c.ok) {
        problems.push(format!(
            "control {}: good input refused: {}",
            c.id, c.detail
        ));
    }
    if !report.all_fail_closed && problems.is_empty() {
        problems.push("the re-run did not pass".into());
    }
    let byte_identical = crate::canonical::to_bytes(&report)? == bytes;
    Ok(RerunReport {
        design_sha256: crate::digest::sha256_hex(&bytes),
        classes,
        missing,
        unrecorded,
        not_rerun,
        passed: problems.is_empty(),
        problems,
        byte_identical,
        report,
    })
}
