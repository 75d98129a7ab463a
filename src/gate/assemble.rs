//! `holdfast gates`: the blocker map and the decision packet of a spec,
//! assembled from the facts at hand (derived-blocker facts and the proof,
//! the probe report, the rollback plan, the source tree closing evidence
//! cites).
//!
//! Whatever is not given stays unknown, and an unknown gate is never met.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::authz::Authorization;
use crate::error::{Error, IoContext, Result};
use crate::gate::blocker::{self, BlockerMap, BlockerSpec, ClosingChecks};
use crate::gate::citation::{self, GateFact};
use crate::gate::decision::{self, DecisionPacket, OptionSpec};
use crate::gate::facts::{GateStatus, ProbeFact, ProofFacts};
use crate::gate::facts_file::DerivedInputs;
use crate::gate::plan::PlanReport;
use crate::gate::verdict::find_token_claim;
use crate::gate::{BLOCKER_MAP_FILE, BLOCKER_MAP_MD_FILE, DECISION_FILE, DECISION_MD_FILE};
use crate::{canonical, fsio};

/// Largest facts file holdfast reads.
pub const FACTS_LIMIT: u64 = 16 * 1024 * 1024;

/// The facts file of `holdfast gates --facts`: what the surface module
/// found, reduced to blocker inputs and the proof.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateFacts {
    /// Facts blockers are derived from (every list required).
    pub derived: DerivedInputs,
    /// The forbidden-surface proof; null when there is none yet.
    pub proof: Option<ProofFacts>,
}

impl GateFacts {
    /// Reads a facts file strictly; `token` is the pass token in force.
    pub fn load(path: &Path, token: &str) -> Result<GateFacts> {
        let bytes = fsio::read_regular(path, FACTS_LIMIT)?;
        let value = canonical::parse_strict(&bytes, path)?;
        if let Some(at) = find_token_claim(&value, token, &[]) {
            return Err(Error::malformed(
                path,
                format!("{at}: contains the pass token; only the verdict produces it"),
            ));
        }
        let facts: GateFacts =
            serde_json::from_value(value).map_err(|e| Error::malformed(path, e.to_string()))?;
        facts
            .derived
            .check()
            .map_err(|why| Error::malformed(path, why))?;
        Ok(facts)
    }

    /// The derived facts of the file ([`DerivedInputs::facts`]).
    pub fn facts(&self) -> Vec<GateFact> {
        self.derived.facts()
    }
}

/// What the gates take from a probe harness report: every probe as the
/// verdict sees it, and the probes that did not fail closed as blocker
/// inputs (each citing its outcome in the report). The report itself belongs
/// to the probe harness, one layer up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeFindings {
    /// Every probe's outcome.
    pub facts: Vec<ProbeFact>,
    /// The facts of the probes that did not fail closed.
    pub fail_open: Vec<GateFact>,
}

/// What `holdfast gates` is given.
#[derive(Debug, Clone)]
pub struct GatesRequest<'a> {
    /// The declared blockers of the gate spec.
    pub blockers: &'a [BlockerSpec],
    /// The decision options of the gate spec.
    pub options: &'a [OptionSpec],
    /// Derived-blocker facts (from a facts file, or the packet's
    /// inventories, proof and change record).
    pub derived: Vec<GateFact>,
    /// The forbidden-surface proof; `None` when there is none yet.
    pub proof: Option<ProofFacts>,
    /// What the probe harness report says.
    pub probes: Option<ProbeFindings>,
    /// The checked rollback plan.
    pub plan: Option<PlanReport>,
    /// Results of checking closing evidence against the source tree.
    pub closing_checks: Option<ClosingChecks>,
    /// The authorization, if any.
    pub authorization: Option<Authorization>,
    /// The option to select, if any.
    pub select: Option<String>,
}

/// The assembled artifacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatesOutput {
    /// `production-blocker-map.json`.
    pub map: BlockerMap,
    /// `next-production-decision-packet.json`.
    pub decision: DecisionPacket,
}

/// Checks every closing citation of the spec's blockers against `source`.
pub fn check_closing(blockers: &[BlockerSpec], source: &Path) -> Result<ClosingChecks> {
    if !source.is_dir() {
        return Err(Error::malformed(source, "--source: not a directory"));
    }
    Ok(blockers
        .iter()
        .map(|b| {
            (
                b.id.clone(),
                b.closing_evidence
                    .iter()
                    .map(|c| citation::check(source, c))
                    .collect(),
            )
        })
        .collect())
}

/// Assembles the blocker map and the decision packet. Refuses a selection
/// unless closing evidence was checked and the selection is authorized and
/// admissible (see [`decision::build`]).
pub fn assemble(req: &GatesRequest) -> Result<GatesOutput> {
    if let Some(id) = &req.select
        && req.closing_checks.is_none()
    {
        return Err(Error::Usage(format!(
            "selecting {id} needs --source DIR: closing evidence must be checked against its source first"
        )));
    }
    let mut derived = req.derived.clone();
    if let Some(p) = &req.probes {
        derived.extend(p.fail_open.iter().cloned());
    }
    let checks = req.closing_checks.clone().unwrap_or_default();
    let map = blocker::build(req.blockers, &derived, &checks);
    let gates = GateStatus::from_facts(
        req.probes.as_ref().map(|p| p.facts.as_slice()),
        req.proof.as_ref(),
        req.plan.as_ref().map(|p| p.problems.as_slice()),
    );
    let decision = decision::build(
        req.options,
        &map,
        &gates,
        req.authorization.as_ref(),
        req.select.as_deref(),
    )?;
    Ok(GatesOutput { map, decision })
}

/// Writes the four artifacts into `out` (created if needed); returns their paths.
pub fn write(out: &Path, o: &GatesOutput) -> Result<Vec<PathBuf>> {
    let files: Vec<(&str, Vec<u8>)> = vec![
        (BLOCKER_MAP_FILE, canonical::to_bytes(&o.map)?),
        (
            BLOCKER_MAP_MD_FILE,
            blocker::render_markdown(&o.map).into_bytes(),
        ),
        (DECISION_FILE, canonical::to_bytes(&o.decision)?),
        (
            DECISION_MD_FILE,
            decision::render_markdown(&o.decision).into_bytes(),
        ),
    ];
    std::fs::create_dir_all(out).at(out)?;
    let mut written = Vec::new();
    for (name, bytes) in files {
        let p = out.join(name);
        fsio::write_atomic(&p, &bytes)?;
        written.push(p);
    }
    Ok(written)
}

/// Reads an authorization TOML file, refusing one that spells the pass token.
pub fn load_authorization(path: &Path, token: &str) -> Result<Authorization> {
    let bytes = fsio::read_regular(path, crate::tomlio::SPEC_LIMIT)?;
    let raw: serde_json::Value = crate::tomlio::parse(&bytes, path)?;
    if let Some(at) = find_token_claim(&raw, token, &[]) {
        return Err(Error::malformed(
            path,
            format!("{at}: contains the pass token; an input may not claim it"),
        ));
    }
    let a: Authorization = crate::tomlio::parse(&bytes, path)?;
    a.validate(path)?;
    Ok(a)
}
