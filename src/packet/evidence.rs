//! The verdict's facts, read back from a packet's own files.
//!
//! `holdfast run` computes the packet's status with this function from the
//! artifacts it has just written, and `holdfast verify --rerun` computes it
//! again, the same way, from the packet as it is: the status in the README
//! is therefore always one that the packet's bytes support.

use std::path::Path;

use crate::authz::Authorization;
use crate::canonical;
use crate::error::Result;
use crate::gate::blocker::BlockerMap;
use crate::gate::decision::DecisionPacket;
use crate::gate::facts::OptionFact;
use crate::gate::verdict::{Evidence, pass_token};
use crate::gate::{self, BLOCKER_MAP_FILE, DECISION_FILE, PLAN_FILE, PROBE_REPORT_FILE};
use crate::probe::ProbeReport;
use crate::surface::proof::{PROOF_FILE, Proof};

pub use crate::fsio::ARTIFACT_LIMIT;

/// What identifies the packet to the verdict (from the spec during a run,
/// from `manifest.json` afterwards).
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    /// The status prefix.
    pub status_prefix: &'a str,
    /// The configured pass token, if not the default.
    pub pass_token: Option<&'a str>,
    /// The authorization.
    pub authorization: &'a Authorization,
    /// Why the requested mutation was not performed, if it was refused.
    pub mutation_refused: Option<&'a str>,
    /// The fold result's file name, when a fold was performed.
    pub fold_result: Option<&'a str>,
    /// Why the performed mutation failed, if it did.
    pub mutation_failed: Option<&'a str>,
}

/// The artifacts the verdict reads; a missing one makes the packet incomplete.
pub const REQUIRED: [&str; 5] = [
    PROBE_REPORT_FILE,
    PROOF_FILE,
    PLAN_FILE,
    BLOCKER_MAP_FILE,
    DECISION_FILE,
];

/// Reads a strict JSON artifact of the packet.
pub fn read_json<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> Result<T> {
    canonical::read_strict(&dir.join(name), ARTIFACT_LIMIT)
}

/// Collects the evidence of the packet in `dir`. `sealed` and `verified` are
/// what the caller established (a run asserts them and then proves them by
/// sealing and verifying; `verify --rerun` measures them).
pub fn collect(dir: &Path, id: Identity<'_>, sealed: bool, verified: bool) -> Result<Evidence> {
    let token = pass_token(id.pass_token);
    let missing_artifacts: Vec<String> = REQUIRED
        .iter()
        .filter(|f| !dir.join(f).is_file())
        .map(|f| f.to_string())
        .collect();
    let present = |f: &str| dir.join(f).is_file();
    let probes = if present(PROBE_REPORT_FILE) {
        Some(ProbeReport::load(&dir.join(PROBE_REPORT_FILE), token)?.facts())
    } else {
        None
    };
    let proof = if present(PROOF_FILE) {
        let p: Proof = read_json(dir, PROOF_FILE)?;
        Some(super::wire::proof_facts(&p))
    } else {
        None
    };
    let rollback_plan_problems = if present(PLAN_FILE) {
        Some(gate::plan::check_file(&dir.join(PLAN_FILE))?.problems)
    } else {
        None
    };
    let blockers = if present(BLOCKER_MAP_FILE) {
        read_json::<BlockerMap>(dir, BLOCKER_MAP_FILE)?.facts()
    } else {
        Vec::new()
    };
    let (options, selected) = if present(DECISION_FILE) {
        let d: DecisionPacket = read_json(dir, DECISION_FILE)?;
        let options = d
            .options
            .iter()
            .filter(|o| o.id != d.default)
            .map(|o| OptionFact {
                id: o.id.clone(),
                requires_closed: o.requires_closed.clone(),
                requires_gates: o.requires_gates.clone(),
            })
            .collect();
        let selected = (d.selected != "none").then(|| d.selected.clone());
        (options, selected)
    } else {
        (Vec::new(), None)
    };
    let mutation_problems = match id.fold_result {
        Some(f) => read_json::<crate::registry::FoldResult>(dir, f)?.problems(),
        None => Vec::new(),
    };
    Ok(Evidence {
        status_prefix: id.status_prefix.to_string(),
        pass_token: id.pass_token.map(str::to_string),
        missing_artifacts,
        sealed,
        verified,
        probes,
        proof,
        rollback_plan_problems,
        blockers,
        options,
        authorization: id.authorization.clone(),
        selected,
        mutation_refused: id.mutation_refused.map(str::to_string),
        mutation_problems,
        mutation_failed: id.mutation_failed.map(str::to_string),
    })
}
