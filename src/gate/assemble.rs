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
use crate::gate::blocker::{self, BlockerMap, ClosingChecks, DerivedInputs};
use crate::gate::citation;
use crate::gate::decision::{self, DecisionPacket};
use crate::gate::facts::{GateStatus, ProofFacts};
use crate::gate::plan::PlanReport;
use crate::gate::probe::ProbeReport;
use crate::gate::spec::LoadedSpec;
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
}

/// What `holdfast gates` is given.
#[derive(Debug, Clone)]
pub struct GatesRequest<'a> {
    /// The gate spec.
    pub spec: &'a LoadedSpec,
    /// Derived-blocker facts and the proof.
    pub facts: Option<GateFacts>,
    /// The probe harness report.
    pub probe_report: Option<ProbeReport>,
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
pub fn check_closing(spec: &LoadedSpec, source: &Path) -> Result<ClosingChecks> {
    if !source.is_dir() {
        return Err(Error::malformed(source, "--source: not a directory"));
    }
    Ok(spec
        .spec
        .blocker
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
    let mut derived = req
        .facts
        .as_ref()
        .map(|f| f.derived.clone())
        .unwrap_or_default();
    if let Some(r) = &req.probe_report {
        derived.fail_open_probes.extend(r.fail_open_probes()?);
    }
    let checks = req.closing_checks.clone().unwrap_or_default();
    let map = blocker::build(&req.spec.spec.blocker, &derived, &checks);
    let probe_facts = req.probe_report.as_ref().map(ProbeReport::facts);
    let gates = GateStatus::from_facts(
        probe_facts.as_deref(),
        req.facts.as_ref().and_then(|f| f.proof.as_ref()),
        req.plan.as_ref().map(|p| p.problems.as_slice()),
    );
    let decision = decision::build(
        &req.spec.spec.option,
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
