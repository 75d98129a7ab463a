//! `holdfast verify PACKET --rerun`: beyond the seal, re-derive what the
//! packet claims from the packet alone, offline.
//!
//! - every figure of `README.md` matches its JSON (the README is rendered
//!   again and compared byte for byte);
//! - the status and decision in `manifest.json` are what the verdict gives
//!   on the packet's evidence today;
//! - the artifact list of `manifest.json` matches the files and their bytes;
//! - the fold's rollback rehearsal is re-run: the reverse patch applied to
//!   the recorded after bytes gives the before pins, byte for byte;
//! - the bad-input probe harness is re-run (`RERUN.sh`), and every probe must
//!   fail closed again;
//! - every derived file is derived again from the inputs the packet carries
//!   in `spec/` and its primary evidence, and compared byte for byte
//!   ([`super::rederive`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::derive::after_dir_name;
use super::evidence::{self, Identity};
use super::manifest::{
    PacketManifest, README_FILE, SNAPSHOT_AFTER_FILE, SNAPSHOT_BEFORE_FILE, StatusRecord,
};
use crate::authz::FoldRange;
use crate::error::{Error, Result};
use crate::gate::verdict::verdict;
use crate::progress::Progress;
use crate::registry::{self, FoldResult};
use crate::surface::proof::{FoldInput, PROOF_FILE, SnapshotInput};
use crate::surface::snapshot;
use crate::{fsio, seal, surface};

/// One re-derived claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RerunCheck {
    /// What was re-derived (`readme`, `verdict`, `artifacts`, `rollback-rehearsal`, `probes`).
    pub check: String,
    /// It matches.
    pub ok: bool,
    /// What was found, in one line.
    pub detail: String,
}

/// Everything `--rerun` re-derived.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
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

/// Re-derives the packet's claims. `verified` is the result of the seal
/// check the caller ran first (the verdict depends on it).
pub fn rerun(
    dir: &Path,
    verified: bool,
    opts: &RerunOptions,
    progress: &dyn Progress,
) -> Result<RerunReport> {
    let mut report = RerunReport::default();
    let m = PacketManifest::load(dir)?;

    // README figures.
    let rendered = super::readme::render(dir)?;
    let on_disk = fsio::read_regular(&dir.join(README_FILE), evidence::ARTIFACT_LIMIT)?;
    match first_difference(&rendered, &on_disk) {
        None => report.push("readme", true, "every figure matches the packet's JSON"),
        Some(line) => report.push(
            "readme",
            false,
            format!("{README_FILE} line {line} differs from what the packet's JSON says"),
        ),
    }

    // The verdict.
    let sealed = dir.join(seal::MANIFEST_NAME).is_file() && dir.join(seal::TREE_NAME).is_file();
    let identity = Identity {
        status_prefix: &m.packet.status_prefix,
        pass_token: m.pass_token.as_deref(),
        authorization: &m.authorization,
        mutation_refused: m.mutation.skipped_reason.as_deref(),
        mutation_failed: m.mutation.failed_reason.as_deref(),
    };
    let v = verdict(&evidence::collect(dir, identity, sealed, verified)?);
    let now = StatusRecord::from(&v);
    if now == m.status {
        report.push(
            "verdict",
            true,
            format!("{} · {}", now.scoping_status, now.decision),
        );
    } else {
        report.push(
            "verdict",
            false,
            format!(
                "manifest.json records {} · {}, the evidence gives {} · {}",
                m.status.scoping_status, m.status.decision, now.scoping_status, now.decision
            ),
        );
    }

    super::rederive::check(dir, &m, opts.spec.as_deref(), &mut report);
    report.status = m.status.scoping_status.clone();
    report.decision = m.status.decision.clone();
    report.as_recorded = super::rederive::as_recorded(&m);
    check_artifacts(dir, &m, &mut report)?;
    check_blockers(dir, &m, &mut report)?;
    let fold_file = fold_result_name(&m)?;
    check_proof(dir, &m, fold_file.as_deref(), &mut report)?;
    check_rehearsal(dir, fold_file.as_deref(), &mut report)?;
    // Re-running the harness takes seconds; a packet that already fails
    // re-derivation is refused whatever the probes say.
    if report.checks.iter().all(|c| c.ok) {
        check_probes(dir, opts, progress, &mut report);
    }
    Ok(report)
}

/// Re-runs the recorded bad-input probe harness (what `RERUN.sh` does).
fn check_probes(
    dir: &Path,
    opts: &RerunOptions,
    progress: &dyn Progress,
    report: &mut RerunReport,
) {
    let design = dir.join(crate::gate::PROBE_REPORT_FILE);
    let rerun = crate::gate::probe::rerun(
        &design,
        &crate::gate::probe::RerunOptions {
            exe: opts.exe.clone(),
            spec: opts.spec.clone(),
        },
        progress,
    );
    match rerun {
        Ok(r) if r.passed => report.push(
            "probes",
            true,
            format!(
                "{} classes re-run: every recorded probe failed closed again, nothing leaked",
                r.classes.len()
            ),
        ),
        Ok(r) => report.push("probes", false, r.problems.join("; ")),
        Err(e) => report.push("probes", false, e.to_string()),
    }
}

/// 1-based number of the first line where `a` and `b` differ, if any.
fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    if a == b {
        return None;
    }
    let (mut la, mut lb) = (a.split(|&c| c == b'\n'), b.split(|&c| c == b'\n'));
    let mut n = 0;
    loop {
        n += 1;
        match (la.next(), lb.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (None, None) => return Some(n),
            _ => return Some(n),
        }
    }
}

/// The manifest's artifact list equals the packet's files and bytes.
fn check_artifacts(dir: &Path, m: &PacketManifest, report: &mut RerunReport) -> Result<()> {
    let (entries, _) = seal::compute_manifest(dir, &crate::progress::NoProgress)?;
    let actual: BTreeMap<&str, &str> = entries
        .iter()
        .filter(|e| super::derive::carries_id(&e.path))
        .map(|e| (e.path.as_str(), e.sha256.as_str()))
        .collect();
    let listed: BTreeMap<&str, &str> = m
        .artifacts
        .iter()
        .map(|a| (a.path.as_str(), a.sha256.as_str()))
        .collect();
    let mut problems = Vec::new();
    for (p, h) in &listed {
        match actual.get(p) {
            None => problems.push(format!("{p} is listed but absent")),
            Some(a) if a != h => problems.push(format!("{p} differs from its listed sha256")),
            _ => {}
        }
    }
    for p in actual.keys().filter(|p| !listed.contains_key(*p)) {
        problems.push(format!("{p} is not listed in manifest.json"));
    }
    let ids = m.artifacts.iter().filter(|a| a.id.is_some()).count();
    let expected_ids = m.object_ids.as_ref().map_or(0, |r| r.count as usize);
    if ids != expected_ids || (expected_ids > 0 && ids != m.artifacts.len()) {
        problems.push(format!(
            "{ids} artifact(s) carry an id, the object-id range says {expected_ids}"
        ));
    }
    if problems.is_empty() {
        report.push(
            "artifacts",
            true,
            format!(
                "{} artifacts, {expected_ids} with registry ids",
                m.artifacts.len()
            ),
        );
    } else {
        report.push("artifacts", false, problems.join("; "));
    }
    Ok(())
}

/// The blocker map agrees with itself, and every blocker the packet's own
/// evidence derives (unknown surfaces in the inventories, changed and
/// declared-only surfaces in the proof, fail-open probes in the probe
/// report) is in it and open: a derived blocker cannot be dropped or closed
/// by editing the map.
fn check_blockers(dir: &Path, m: &PacketManifest, report: &mut RerunReport) -> Result<()> {
    use crate::gate::blocker::{BlockerMap, fail_open_probe_id};
    use crate::surface::facts;
    use crate::surface::inventory::{SurfaceInventory, json_file_name};
    use crate::surface::spec::Table;
    let map: BlockerMap = evidence::read_json(dir, crate::gate::BLOCKER_MAP_FILE)?;
    let mut problems = map.inconsistencies();
    let inventories = Table::ALL
        .iter()
        .map(|t| evidence::read_json::<SurfaceInventory>(dir, json_file_name(*t)))
        .collect::<Result<Vec<_>>>()?;
    let proof: surface::proof::Proof = evidence::read_json(dir, PROOF_FILE)?;
    let token = crate::gate::verdict::pass_token(m.pass_token.as_deref());
    let probes =
        crate::gate::probe::ProbeReport::load(&dir.join(crate::gate::PROBE_REPORT_FILE), token)?;
    let mut expected: Vec<String> = facts::unknown_surfaces(&inventories)
        .into_iter()
        .chain(facts::changed_forbidden_surfaces(&proof)?)
        .chain(facts::declared_only_critical_surfaces(&proof)?)
        .map(|f| f.id)
        .collect();
    expected.extend(
        probes
            .fail_open_probes()?
            .iter()
            .map(|f| fail_open_probe_id(&f.probe)),
    );
    let open: BTreeMap<String, bool> = map.facts().into_iter().map(|f| (f.id, f.open)).collect();
    for id in &expected {
        match open.get(id) {
            None => problems.push(format!("derived blocker {id} is missing from the map")),
            Some(false) => problems.push(format!("derived blocker {id} counts as closed")),
            Some(true) => {}
        }
    }
    if problems.is_empty() {
        let open_now = open.values().filter(|o| **o).count();
        report.push(
            "blockers",
            true,
            format!(
                "{open_now} open; every one of the {} derived blockers is present and open",
                expected.len()
            ),
        );
    } else {
        report.push("blockers", false, problems.join("; "));
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

/// Recomputes the forbidden-surface proof from the packet's two snapshots,
/// its authorization and its fold result, and compares it byte for byte
/// with the recorded proof: a proof edited to say UNTOUCHED over snapshots
/// that say CHANGED does not survive.
fn check_proof(
    dir: &Path,
    m: &PacketManifest,
    fold_file: Option<&str>,
    report: &mut RerunReport,
) -> Result<()> {
    let input = |name: &str| -> Result<SnapshotInput> {
        let (snapshot, sha256) = snapshot::read(&dir.join(name))?;
        Ok(SnapshotInput {
            file: name.to_string(),
            sha256,
            snapshot,
        })
    };
    let folds = match fold_file {
        Some(f) => vec![FoldInput::read(&dir.join(f))?],
        None => Vec::new(),
    };
    let proof = surface::proof::prove_with(
        &input(SNAPSHOT_BEFORE_FILE)?,
        &input(SNAPSHOT_AFTER_FILE)?,
        &m.authorization,
        &folds,
        m.mutation.change.as_deref(),
    );
    let recorded = fsio::read_regular(&dir.join(PROOF_FILE), evidence::ARTIFACT_LIMIT)?;
    match proof.and_then(|p| crate::canonical::to_bytes(&p)) {
        Ok(bytes) if bytes == recorded => report.push(
            "proof",
            true,
            format!("{PROOF_FILE} recomputed from the snapshots, byte for byte"),
        ),
        Ok(_) => report.push(
            "proof",
            false,
            format!(
                "{PROOF_FILE} differs from the proof the packet's snapshots and authorization give"
            ),
        ),
        Err(e) => report.push(
            "proof",
            false,
            format!("the proof cannot be recomputed: {e}"),
        ),
    }
    Ok(())
}

/// Re-runs the fold's rollback rehearsal from the packet's own bytes.
fn check_rehearsal(dir: &Path, fold_file: Option<&str>, report: &mut RerunReport) -> Result<()> {
    let Some(file) = fold_file else {
        report.push(
            "rollback-rehearsal",
            true,
            "no fold was performed: nothing to rehearse",
        );
        return Ok(());
    };
    let r: FoldResult = evidence::read_json(dir, file)?;
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
    let patch = fsio::read_regular(&dir.join(&r.reverse_patch.file), evidence::ARTIFACT_LIMIT)?;
    if crate::digest::sha256_hex(&patch) != r.reverse_patch.sha256 {
        problems.push(format!(
            "{} differs from its sha256 in {file}",
            r.reverse_patch.file
        ));
    }
    let after_dir = dir.join(after_dir_name(range));
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
        let path = after_dir.join(doc);
        let bytes = match fsio::read_regular(&path, evidence::ARTIFACT_LIMIT) {
            Ok(b) => b,
            Err(e) => {
                problems.push(format!("after bytes of {doc}: {e}"));
                continue;
            }
        };
        if crate::digest::sha256_hex(&bytes) != *pin_after {
            problems.push(format!(
                "{doc}: recorded after bytes differ from the after pin"
            ));
        }
        after.insert(doc.clone(), bytes);
    }
    let rehearsal =
        registry::patch::rehearse_rollback_known(&patch, &after, &r.pins.before, &known);
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
