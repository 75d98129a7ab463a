//! `holdfast verify PACKET --rerun`: beyond the seal, re-derive what the
//! packet claims from the packet alone, offline. The packet is loaded once
//! ([`Packet`]); then:
//!
//! - every derived file is derived again from the inputs the packet carries
//!   in `spec/` and its primary evidence, and compared byte for byte, and
//!   the primary evidence is cross-checked with the inputs
//!   ([`super::rederive`]): the README, the verdict, the artifact list, the
//!   blocker map, the proof, the fold result, the scripts and the exit
//!   codes are all among the derived files;
//! - the fold's rollback rehearsal is re-run: the reverse patch applied to
//!   the recorded after bytes gives the before pins, byte for byte;
//! - the bad-input probe harness is re-run (`RERUN.sh`), and every probe must
//!   fail closed again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::derive::after_dir_name;
use super::manifest::{MANIFEST_FILE, PacketManifest};
use super::model::Packet;
use crate::authz::FoldRange;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::registry::{self, FoldResult};
use crate::seal;

/// One re-derived claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RerunCheck {
    /// What was re-derived (`readme`, `verdict`, `artifacts`, `rollback-rehearsal`, `probes`).
    pub check: String,
    /// It matches.
    pub ok: bool,
    /// What was found, in one line.
    pub detail: String,
}

/// Everything `--rerun` re-derived.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RerunReport {
    /// Every check, in the order run.
    pub checks: Vec<RerunCheck>,
    /// The packet's scoping status, as re-derived (meaningful only when every check matched).
    pub status: String,
    /// The packet's production decision, as re-derived (likewise).
    pub decision: String,
    /// The primary evidence taken as recorded, and what could vouch for it.
    pub as_recorded: Vec<String>,
}

impl RerunReport {
    /// True only when every check matched.
    pub fn ok(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.ok)
    }

    pub(crate) fn push(&mut self, check: &str, ok: bool, detail: impl Into<String>) {
        self.checks.push(RerunCheck {
            check: check.to_string(),
            ok,
            detail: detail.into(),
        });
    }
}

/// Options of a re-run.
#[derive(Debug, Clone)]
pub struct RerunOptions {
    /// The holdfast binary the probe harness attacks.
    pub exe: PathBuf,
    /// The run's gate spec, needed only when the probes include user probes
    /// or a custom pass token.
    pub spec: Option<PathBuf>,
}

/// Re-derives the packet in `dir`, whose seal the caller has verified
/// (`verified`; an unverified packet is refused: its seal problems are the
/// answer). The packet is loaded once ([`Packet::load`]) and every check
/// works on that value.
pub fn rerun(
    dir: &Path,
    verified: bool,
    opts: &RerunOptions,
    progress: &dyn Progress,
) -> Result<RerunReport> {
    if !verified {
        return Err(Error::failed(format!(
            "{}: the seal does not verify; nothing is re-derived",
            dir.display()
        )));
    }
    let packet = Packet::load(dir)?;
    rerun_packet(&packet, opts, progress)
}

/// [`rerun`] on a loaded packet: the re-derivation of every derived file
/// and its cross-checks ([`super::rederive`]), the fold's rollback
/// rehearsal, and the recorded probe classes run again.
pub fn rerun_packet(
    packet: &Packet,
    opts: &RerunOptions,
    progress: &dyn Progress,
) -> Result<RerunReport> {
    let mut report = RerunReport::default();
    let m = PacketManifest::parse(
        packet.bytes(MANIFEST_FILE)?,
        &packet.dir().join(MANIFEST_FILE),
    )?;
    super::rederive::check(packet, &m, opts.spec.as_deref(), &mut report);
    report.status = m.status.scoping_status.clone();
    report.decision = m.status.decision.clone();
    report.as_recorded = super::rederive::as_recorded(&m);
    let fold_file = fold_result_name(&m)?;
    check_rehearsal(packet, fold_file.as_deref(), &mut report)?;
    // Re-running the harness takes seconds; a packet that already fails
    // re-derivation is refused whatever the probes say.
    if report.checks.iter().all(|c| c.ok) {
        check_probes(packet, opts, progress, &mut report)?;
    }
    Ok(report)
}

/// Re-runs the recorded bad-input probe harness (what `RERUN.sh` does),
/// from the design as loaded (copied to a private directory).
fn check_probes(
    packet: &Packet,
    opts: &RerunOptions,
    progress: &dyn Progress,
    report: &mut RerunReport,
) -> Result<()> {
    let work = tempfile::Builder::new()
        .prefix("holdfast-probes-")
        .tempdir()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let name = crate::gate::PROBE_REPORT_FILE;
    packet.write_subset(work.path(), |p| p == name)?;
    let rerun = crate::probe::rerun(
        &work.path().join(name),
        &crate::probe::RerunOptions {
            exe: opts.exe.clone(),
            spec: opts.spec.clone(),
            user_probes_as_recorded: true,
        },
        progress,
    );
    match rerun {
        Ok(r) if r.passed && r.not_rerun.is_empty() => report.push(
            "probes",
            true,
            format!(
                "{} classes re-run: every recorded probe failed closed again, nothing leaked",
                r.classes.len()
            ),
        ),
        Ok(r) if r.passed => {
            report.push(
                "probes",
                true,
                format!(
                    "the built-in classes re-run: every recorded probe of theirs failed closed again, nothing leaked; {} user probe(s) not re-run",
                    r.not_rerun.len()
                ),
            );
            report.as_recorded.push(format!(
                "user probes ({}): as recorded, not re-run; their gate commands are in the spec, not the packet: re-run them with --spec DIR",
                r.not_rerun.join(", ")
            ));
        }
        Ok(r) => report.push("probes", false, r.problems.join("; ")),
        Err(e) => report.push("probes", false, e.to_string()),
    }
    Ok(())
}

/// The fold result's file name, when the manifest says a fold was
/// performed: a plain file name inside the packet, never a path.
fn fold_result_name(m: &PacketManifest) -> Result<Option<String>> {
    let Some(file) = m
        .mutation
        .fold_result
        .as_deref()
        .filter(|_| m.mutation.performed)
    else {
        return Ok(None);
    };
    if file.contains('/') || seal::check_listed_path(file).is_err() {
        return Err(Error::malformed(
            super::manifest::MANIFEST_FILE,
            format!("mutation.fold_result: {file:?} is not a file name inside the packet"),
        ));
    }
    Ok(Some(file.to_string()))
}

/// Re-runs the fold's rollback rehearsal from the packet's own bytes.
fn check_rehearsal(
    packet: &Packet,
    fold_file: Option<&str>,
    report: &mut RerunReport,
) -> Result<()> {
    let Some(file) = fold_file else {
        report.push(
            "rollback-rehearsal",
            true,
            "no fold was performed: nothing to rehearse",
        );
        return Ok(());
    };
    let r: FoldResult = packet.json(file)?;
    let range = FoldRange {
        first: r.range.first,
        last: r.range.last,
    };
    let mut problems = Vec::new();
    if file != registry::result_file_name(range)
        || r.reverse_patch.file != registry::patch_file_name(range)
    {
        problems.push(format!(
            "{file} and its patch {:?} are not named for the range {range}",
            r.reverse_patch.file
        ));
    }
    if let Some(bad) = r
        .pins
        .after
        .keys()
        .chain(r.pins.before.keys())
        .find(|d| !registry::is_document(d))
    {
        problems.push(format!("{bad:?} is pinned but is not a registry document"));
    }
    if !problems.is_empty() {
        report.push("rollback-rehearsal", false, problems.join("; "));
        return Ok(());
    }
    let patch = packet.bytes(&r.reverse_patch.file)?;
    if crate::digest::sha256_hex(patch) != r.reverse_patch.sha256 {
        problems.push(format!(
            "{} differs from its sha256 in {file}",
            r.reverse_patch.file
        ));
    }
    let after_dir = after_dir_name(range);
    let mut after: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut known: BTreeMap<String, String> = BTreeMap::new();
    for (doc, pin_after) in &r.pins.after {
        if r.pins.before.get(doc) == Some(pin_after) {
            // Unchanged by the fold: its after bytes are its before bytes,
            // proven by the pins; the rehearsal takes the pin as its hash.
            after.insert(doc.clone(), Vec::new());
            known.insert(doc.clone(), pin_after.clone());
            continue;
        }
        let Some(bytes) = packet.get(&format!("{after_dir}/{doc}")) else {
            problems.push(format!(
                "after bytes of {doc}: {after_dir}/{doc} is not in the packet"
            ));
            continue;
        };
        if crate::digest::sha256_hex(bytes) != *pin_after {
            problems.push(format!(
                "{doc}: recorded after bytes differ from the after pin"
            ));
        }
        after.insert(doc.clone(), bytes.to_vec());
    }
    let rehearsal = registry::patch::rehearse_rollback_known(patch, &after, &r.pins.before, &known);
    if !rehearsal.byte_exact {
        problems.push(format!(
            "the reverse patch does not restore the before pins: {}",
            rehearsal
                .error
                .unwrap_or_else(|| "a document differs".to_string())
        ));
    }
    if problems.is_empty() {
        report.push(
            "rollback-rehearsal",
            true,
            format!(
                "{} applied to the after bytes gives every before pin, byte for byte",
                r.reverse_patch.file
            ),
        );
    } else {
        report.push("rollback-rehearsal", false, problems.join("; "));
    }
    Ok(())
}
