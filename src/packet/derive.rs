//! Derivation: every derived file of a packet, from its inputs and its
//! primary evidence, by one function that `run` and `verify --rerun` share.
//!
//! A run observes (snapshots, the fold, the probes, the citations) and then
//! calls [`derive()`]; `verify --rerun` extracts the same primary evidence
//! from the packet, calls [`derive()`] on a private copy and compares every
//! derived file byte for byte. Whatever is derived can therefore only say
//! what the inputs and the primary evidence say: editing it, and resealing
//! as a forger would, never survives.
//!
//! [`derive()`] expects in `dir`: the carried inputs under `spec/`, the two
//! snapshots, the probe report and, for a performed fold, its reverse
//! patch, its after documents and the fold result as the registry wrote it
//! (of which only the pins of unkept documents are primary). It writes
//! everything else.

use std::collections::BTreeMap;
use std::path::Path;

use super::evidence::{self, Identity};
use super::inputs::{Inputs, SPEC_DIR};
use super::journal::{self, Journal, RerunArgs};
use super::manifest::{
    ArtifactRecord, COMMANDS_FILE, ENVELOPE, EXIT_CODES_FILE, FORMAT, IdRangeRecord, MANIFEST_FILE,
    MutationRecord, PacketManifest, README_FILE, RERUN_FILE, SNAPSHOT_AFTER_FILE,
    SNAPSHOT_BEFORE_FILE, StatusRecord,
};
use super::spec::{LiveContact, SPEC_FILE};
use super::wire;
use crate::authz::{AuthorizedMutation, FoldRange};
use crate::error::{Error, Result, exit};
use crate::gate::assemble::GatesRequest;
use crate::gate::blocker::ClosingChecks;
use crate::gate::verdict::{Scoping, Verdict, verdict};
use crate::gate::{self, PLAN_FILE, PROBE_REPORT_FILE};
use crate::model::proof::ProofResult;
use crate::probe::ProbeReport;
use crate::registry::{self, FoldResult};
use crate::surface::SurfaceInventory;
use crate::surface::proof::{FoldInput, Proof, SnapshotInput};
use crate::surface::snapshot;
use crate::{canonical, fsio, seal, surface};

/// The primary evidence that lives inside derived files or outside the
/// packet, handed to [`derive()`] (the rest is read from `dir`).
#[derive(Debug, Clone)]
pub struct Observed {
    /// Tables B and C as built from the spec with every citation hashed:
    /// the hashes are primary (the source tree), the rest follows from
    /// `surfaces.toml`.
    pub inventories: Vec<SurfaceInventory>,
    /// What checking each closing citation of the blockers found.
    pub closing: ClosingChecks,
    /// The registry's own reason for refusing an authorized fold.
    pub fold_refusal: Option<String>,
    /// The registry import file's pin (the file is not carried).
    pub import_pin: Option<(String, String)>,
}

/// What [`derive()`] concluded, besides the files it wrote.
#[derive(Debug, Clone)]
pub struct Derived {
    /// The verdict on the packet.
    pub verdict: Verdict,
    /// What became of the requested mutation.
    pub mutation: MutationRecord,
    /// The ids claimed for the artifacts (READY packets only).
    pub object_ids: Option<IdRangeRecord>,
    /// Every step, in order, with its exit codes.
    pub journal: Journal,
}

/// Gives the ids of a READY packet's artifacts: a run claims them from the
/// registry, `verify --rerun` answers with the ids the packet recorded.
pub type Claimer<'a> = dyn FnMut(&[ArtifactRecord]) -> Result<IdRangeRecord> + 'a;

/// Announces each derivation step (a run shows them on a terminal).
pub type StepHook<'a> = dyn Fn(&str) + 'a;

/// One step of the derivation: the line a run shows as it starts
/// (`[ n/N] name` on a terminal) and the function that does it. A step's
/// number is its place in [`STEPS`], so the numbering and the count follow
/// from the table.
struct Step {
    /// What the step does, as a run shows it.
    name: &'static str,
    /// Does it, recording its own journal line.
    run: fn(&mut Derivation<'_, '_>) -> Result<()>,
}

/// The derivation's steps, in order (a run shows them as steps 6 to 12).
const STEPS: &[Step] = &[
    Step {
        name: "prove forbidden surfaces untouched",
        run: |d| d.prove(),
    },
    Step {
        name: "surface inventories",
        run: |d| d.inventories(),
    },
    Step {
        name: "blocker map and decision packet",
        run: |d| d.gates(),
    },
    Step {
        name: "check the rollback plan",
        run: |d| d.plan(),
    },
    Step {
        name: "verdict",
        run: |d| d.verdict(),
    },
    Step {
        name: "claim artifact ids",
        run: |d| d.claim(),
    },
    Step {
        name: "manifest, exit codes, README, index.html",
        run: |d| d.manifest(),
    },
];

/// How many steps [`derive()`] announces through its hook.
pub const STEP_COUNT: usize = STEPS.len();

/// The names of the steps [`derive()`] announces, in order.
pub fn step_names() -> impl Iterator<Item = &'static str> {
    STEPS.iter().map(|s| s.name)
}

/// Writes every derived file of the packet in `dir` (see the module docs),
/// announcing each of its steps to `step` as it starts.
pub fn derive(
    inputs: &Inputs,
    dir: &Path,
    observed: &Observed,
    claim: &mut Claimer<'_>,
    step: &StepHook<'_>,
) -> Result<Derived> {
    let mut d = Derivation::new(inputs, dir, observed, claim)?;
    for s in STEPS {
        step(s.name);
        (s.run)(&mut d)?;
    }
    d.finish()
}

/// A derivation in progress: the inputs, the journal so far and what the
/// earlier steps concluded.
struct Derivation<'a, 'c> {
    inputs: &'a Inputs,
    dir: &'a Path,
    observed: &'a Observed,
    claimer: &'a mut Claimer<'c>,
    journal: Journal,
    mutation: MutationRecord,
    report: ProbeReport,
    /// Set by the prove step.
    proof: Option<Proof>,
    /// Set by the verdict step.
    verdict: Option<Verdict>,
    /// Set by the claim step.
    artifacts: Vec<ArtifactRecord>,
    object_ids: Option<IdRangeRecord>,
}

/// A step that needs what an earlier step concludes ran before it: a
/// table in the wrong order, refused rather than guessed at.
fn out_of_order(what: &str) -> Error {
    Error::failed(format!(
        "the derivation's steps are out of order: {what} is not there yet"
    ))
}

impl<'a, 'c> Derivation<'a, 'c> {
    /// Starts a derivation: the journal lines of what the run observed
    /// (steps 2 to 5: the snapshots, the change or fold, the probes),
    /// re-derived from the packet so `verify --rerun` writes the same
    /// `exit_codes.json`, and the probe report, read strictly.
    fn new(
        inputs: &'a Inputs,
        dir: &'a Path,
        observed: &'a Observed,
        claimer: &'a mut Claimer<'c>,
    ) -> Result<Self> {
        let mut journal = Journal::default();
        journal.record(
            "snapshot-before",
            format!(
                "holdfast snapshot {} --out {SNAPSHOT_BEFORE_FILE}",
                inputs.surfaces_name()
            ),
            exit::OK,
            exit::OK,
        );
        let mutation = mutation_record(inputs, dir, observed)?;
        if let Some(id) = &inputs.spec.spec.run.change {
            let ran = dir.join(crate::change::RECORD_FILE).exists();
            journal.record(
                "change",
                format!(
                    "holdfast run: change {id} rehearsed on a copy, then run (see {})",
                    crate::change::RESULT_FILE
                ),
                exit::OK,
                if !ran || mutation.skipped_reason.is_some() {
                    exit::REFUSED
                } else if mutation.failed_reason.is_some() {
                    exit::FAILED
                } else {
                    exit::OK
                },
            );
        }
        if let Some(range) = inputs.spec.spec.run.fold {
            journal.record(
                "fold",
                format!("holdfast registry fold {range} --out ."),
                exit::OK,
                if mutation.performed {
                    exit::OK
                } else {
                    exit::REFUSED
                },
            );
        }
        journal.record(
            "snapshot-after",
            format!(
                "holdfast snapshot {} --out {SNAPSHOT_AFTER_FILE}",
                inputs.surfaces_name()
            ),
            exit::OK,
            exit::OK,
        );
        let token = inputs.gates.token().to_string();
        let report = ProbeReport::load(&dir.join(PROBE_REPORT_FILE), &token)?;
        report.check_consistency(&dir.join(PROBE_REPORT_FILE))?;
        journal.record(
            "probe",
            format!("holdfast probe {} --out .", inputs.gates_name()),
            exit::OK,
            if report.all_fail_closed {
                exit::OK
            } else {
                exit::FAILED
            },
        );
        Ok(Derivation {
            inputs,
            dir,
            observed,
            claimer,
            journal,
            mutation,
            report,
            proof: None,
            verdict: None,
            artifacts: Vec::new(),
            object_ids: None,
        })
    }

    /// The forbidden-surface proof, from the two snapshots and the fold
    /// result (itself re-derived first).
    fn prove(&mut self) -> Result<()> {
        let (inputs, dir, mutation) = (self.inputs, self.dir, &self.mutation);
        let folds = match (&mutation.fold_result, inputs.spec.spec.run.fold) {
            (Some(file), Some(range)) => {
                rederive_fold(dir, file, range)?;
                vec![FoldInput::read(&dir.join(file))?]
            }
            _ => Vec::new(),
        };
        let read_snapshot = |name: &str| -> Result<SnapshotInput> {
            let (snapshot, sha256) = snapshot::read(&dir.join(name))?;
            Ok(SnapshotInput {
                file: name.to_string(),
                sha256,
                snapshot,
            })
        };
        let proof = surface::proof::prove_with(
            &read_snapshot(SNAPSHOT_BEFORE_FILE)?,
            &read_snapshot(SNAPSHOT_AFTER_FILE)?,
            &inputs.spec.spec.authorization,
            &folds,
            mutation.change.as_deref(),
        )?;
        surface::proof::write(dir, &proof)?;
        let fold_arg = mutation
            .fold_result
            .as_deref()
            .map(|f| format!(" --fold-result {f}"))
            .unwrap_or_default();
        self.journal.record(
            "prove",
            format!(
                "holdfast prove {SNAPSHOT_BEFORE_FILE} {SNAPSHOT_AFTER_FILE} --authorization <[authorization] of {SPEC_FILE}>{fold_arg} --out ."
            ),
            exit::OK,
            if proof.result == ProofResult::Proven {
                exit::OK
            } else {
                exit::FAILED
            },
        );
        self.proof = Some(proof);
        Ok(())
    }

    /// Tables B and C, from the inventories the run observed.
    fn inventories(&mut self) -> Result<()> {
        for (name, bytes) in surface::inventory::render_files(&self.observed.inventories)? {
            fsio::write_atomic(&self.dir.join(name), &bytes)?;
        }
        self.journal.record(
            "surfaces",
            format!(
                "holdfast surfaces {} --source {} --out .",
                self.inputs.surfaces_name(),
                self.source()
            ),
            exit::OK,
            exit::OK,
        );
        Ok(())
    }

    /// The source root as the journal's commands spell it.
    fn source(&self) -> String {
        self.inputs.spec.spec.source.root.display().to_string()
    }

    /// The blocker map and the decision packet, from the derived facts,
    /// the proof and the probe report.
    fn gates(&mut self) -> Result<()> {
        let (inputs, dir) = (self.inputs, self.dir);
        let auth = &inputs.spec.spec.authorization;
        let proof = self
            .proof
            .as_ref()
            .ok_or_else(|| out_of_order("the proof"))?;
        let mut derived =
            wire::derived_facts(&inputs.surfaces, &self.observed.inventories, Some(proof))?;
        // A change that could not be rehearsed is a blocker derived from its
        // record, so production stays on hold and `verify --rerun` re-derives it.
        if let Some(c) = inputs
            .spec
            .spec
            .run
            .change
            .as_deref()
            .and_then(|id| auth.authorized_change(id))
        {
            derived.extend(crate::change::impossible_rehearsal(c, dir)?);
        }
        let assembled = gate::assemble::assemble(&GatesRequest {
            blockers: &inputs.gates.spec.blocker,
            options: &inputs.gates.spec.option,
            derived,
            proof: Some(wire::proof_facts(proof)),
            probes: Some(self.report.findings()?),
            plan: Some(inputs.plan.clone()),
            closing_checks: Some(self.observed.closing.clone()),
            authorization: Some(auth.clone()),
            select: None,
        })?;
        gate::assemble::write(dir, &assembled)?;
        self.journal.record(
            "gates",
            format!(
                "holdfast gates {} --source {} --out .",
                inputs.gates_name(),
                self.source()
            ),
            exit::OK,
            exit::OK,
        );
        Ok(())
    }

    /// The rollback plan, carried as written and checked for completeness.
    fn plan(&mut self) -> Result<()> {
        fsio::write_atomic(&self.dir.join(PLAN_FILE), &self.inputs.plan_bytes)?;
        self.journal.record(
            "plan",
            format!("holdfast plan check {PLAN_FILE}"),
            exit::OK,
            if self.inputs.plan.complete {
                exit::OK
            } else {
                exit::FAILED
            },
        );
        Ok(())
    }

    /// The re-run scripts, then the verdict on everything written so far.
    fn verdict(&mut self) -> Result<()> {
        let (inputs, dir) = (self.inputs, self.dir);
        let args = if inputs.gates.spec.probe.is_empty()
            && inputs.gates.spec.probes.pass_token.is_none()
        {
            RerunArgs::None
        } else {
            RerunArgs::NeedsSpec
        };
        fsio::write_atomic_mode(
            &dir.join(COMMANDS_FILE),
            journal::commands_sh(args).as_bytes(),
            0o755,
        )?;
        fsio::write_atomic_mode(
            &dir.join(RERUN_FILE),
            journal::rerun_sh(PROBE_REPORT_FILE, args).as_bytes(),
            0o755,
        )?;
        let mutation = &self.mutation;
        let identity = Identity {
            status_prefix: &inputs.spec.spec.packet.status_prefix,
            pass_token: inputs.gates.spec.probes.pass_token.as_deref(),
            authorization: &inputs.spec.spec.authorization,
            mutation_refused: mutation.skipped_reason.as_deref(),
            fold_result: mutation.fold_result.as_deref(),
            mutation_failed: mutation.failed_reason.as_deref(),
        };
        // Sealed and verified are asserted here: a run proves them by sealing
        // and verifying before it publishes; `verify --rerun` re-derives only a
        // packet whose seal verified.
        self.verdict = Some(verdict(&evidence::collect(dir, identity, true, true)?));
        Ok(())
    }

    /// The artifacts, and for a READY packet the ids claimed for them.
    fn claim(&mut self) -> Result<()> {
        let ready = self
            .verdict
            .as_ref()
            .ok_or_else(|| out_of_order("the verdict"))?
            .scoping
            == Scoping::Ready;
        let mut artifacts = list_artifacts(self.dir, &self.inputs.surfaces.spec.labels)?;
        if ready {
            let ids = (self.claimer)(&artifacts)?;
            assign_ids(self.inputs, &ids, &mut artifacts)?;
            self.journal.record(
                "claim",
                format!(
                    "holdfast registry claim --packet {} --ids <one record per artifact>",
                    ids.packet
                ),
                exit::OK,
                exit::OK,
            );
            self.object_ids = Some(ids);
        }
        self.artifacts = artifacts;
        Ok(())
    }

    /// The manifest, `exit_codes.json` from the journal, the README and
    /// `index.html`.
    fn manifest(&mut self) -> Result<()> {
        let (inputs, dir) = (self.inputs, self.dir);
        let v = self
            .verdict
            .as_ref()
            .ok_or_else(|| out_of_order("the verdict"))?;
        let manifest = PacketManifest {
            format: FORMAT.to_string(),
            packet: inputs.spec.spec.packet.clone(),
            authorization: inputs.spec.spec.authorization.clone(),
            flags: inputs.spec.spec.flags.clone(),
            pass_token: inputs.gates.spec.probes.pass_token.clone(),
            boundaries: inputs.boundaries(),
            mutation: self.mutation.clone(),
            registry: inputs.registry_description(),
            spec_pins: inputs.pins(self.observed.import_pin.as_ref()),
            status: StatusRecord::from(v),
            artifacts: std::mem::take(&mut self.artifacts),
            object_ids: self.object_ids.clone(),
            envelope: ENVELOPE.iter().map(|s| s.to_string()).collect(),
        };
        fsio::write_atomic(&dir.join(MANIFEST_FILE), &canonical::to_bytes(&manifest)?)?;
        fsio::write_atomic(
            &dir.join(EXIT_CODES_FILE),
            &canonical::value_to_bytes(&self.journal.exit_codes_json()),
        )?;
        let readme = super::readme::render(dir)?;
        fsio::write_atomic(&dir.join(README_FILE), &readme)?;
        let page = super::html::render(dir)?;
        fsio::write_atomic(&dir.join(super::html::INDEX_FILE), &page)?;
        Ok(())
    }

    /// What the derivation concluded.
    fn finish(self) -> Result<Derived> {
        Ok(Derived {
            verdict: self.verdict.ok_or_else(|| out_of_order("the verdict"))?,
            mutation: self.mutation,
            object_ids: self.object_ids,
            journal: self.journal,
        })
    }
}

/// What became of the requested mutation: everything follows from the
/// spec and from whether the packet holds a fold result, except the
/// registry's own reason for refusing an authorized, planned fold.
fn mutation_record(inputs: &Inputs, dir: &Path, observed: &Observed) -> Result<MutationRecord> {
    if let Some(id) = &inputs.spec.spec.run.change {
        return change_record(inputs, dir, id);
    }
    let Some(range) = inputs.spec.spec.run.fold else {
        return Ok(MutationRecord {
            requested: None,
            authorized: false,
            performed: false,
            skipped_reason: None,
            fold_result: None,
            surface: None,
            change: None,
            failed_reason: None,
        });
    };
    let auth = &inputs.spec.spec.authorization;
    let surface = auth.authorized_fold(range).and_then(|m| match m {
        AuthorizedMutation::RegistryFold { surface, .. } => Some(surface.clone()),
        AuthorizedMutation::Change(_) => None,
    });
    let file = registry::result_file_name(range);
    let performed = dir.join(&file).exists();
    let outside = surface.is_none().then(|| {
        format!(
            "registry fold {range} is outside the authorization (it names {})",
            authorized_folds(inputs)
        )
    });
    let incomplete = (!inputs.plan.complete).then(|| {
        format!(
            "the rollback plan is incomplete ({}); no mutation without one",
            inputs.plan.problems.join("; ")
        )
    });
    let skipped_reason = match (outside.or(incomplete), performed) {
        (Some(why), false) => Some(why),
        (Some(why), true) => {
            return Err(Error::failed(format!(
                "{file} is present, but the fold could not have been performed: {why}"
            )));
        }
        (None, true) => None,
        (None, false) => Some(observed.fold_refusal.clone().ok_or_else(|| {
            Error::failed(format!(
                "registry fold {range} was authorized and planned, yet it was not performed and no reason is recorded"
            ))
        })?),
    };
    Ok(MutationRecord {
        requested: Some(format!("registry fold {range}")),
        authorized: surface.is_some(),
        performed,
        skipped_reason,
        fold_result: performed.then_some(file),
        surface,
        change: None,
        failed_reason: None,
    })
}

/// What became of a requested governed change: not authorized or no
/// complete plan (then nothing may have run), else what its record and
/// snapshots give ([`crate::change::derive_result`], whose
/// `change-result.json` this writes).
fn change_record(inputs: &Inputs, dir: &Path, id: &str) -> Result<MutationRecord> {
    use crate::change;
    let auth = &inputs.spec.spec.authorization;
    let spec_change = auth.authorized_change(id);
    let outside = spec_change.is_none().then(|| {
        format!(
            "change {id} is outside the authorization (it names {})",
            authorized_folds(inputs)
        )
    });
    let incomplete = (!inputs.plan.complete).then(|| {
        format!(
            "the rollback plan is incomplete ({}); no mutation without one",
            inputs.plan.problems.join("; ")
        )
    });
    let mut record = MutationRecord {
        requested: Some(format!("change {id}")),
        authorized: spec_change.is_some(),
        performed: false,
        skipped_reason: None,
        fold_result: None,
        surface: spec_change.map(|c| c.may_change.keys().cloned().collect::<Vec<_>>().join(", ")),
        change: None,
        failed_reason: None,
    };
    let recorded = dir.join(change::RECORD_FILE).exists();
    if let Some(why) = outside.or(incomplete) {
        if recorded {
            return Err(Error::failed(format!(
                "{} is present, but the change could not have been run: {why}",
                change::RECORD_FILE
            )));
        }
        record.skipped_reason = Some(why);
        return Ok(record);
    }
    let Some(c) = spec_change else {
        return Ok(record);
    };
    if !recorded {
        return Err(Error::failed(format!(
            "change {id} was authorized and planned, yet {} is missing",
            change::RECORD_FILE
        )));
    }
    let names: Vec<String> = std::iter::once("registry".to_string())
        .chain(inputs.spec.spec.run.working_copies.keys().cloned())
        .collect();
    let result = change::derive_result(c, &inputs.surfaces, &names, dir, inputs.gates.token())?;
    change::write_result(dir, &result)?;
    record.performed = result.performed;
    if !result.rehearsal.passed {
        record.skipped_reason = Some(format!(
            "the rehearsal on a copy did not pass, so the real change was not run: {}",
            result.rehearsal.problems.join("; ")
        ));
    }
    if result.performed {
        record.change = Some(id.to_string());
    }
    let mut failed: Vec<String> = result.failure().into_iter().collect();
    let declared = inputs.spec.spec.flags.production_mutation;
    if declared != result.production_mutation {
        failed.push(format!(
            "flags.production_mutation of {SPEC_FILE} says {declared}, the snapshots say {}",
            result.production_mutation
        ));
    }
    // Live contact follows what the change touched: read-write exactly
    // when a part of a real surface changed while its commands ran.
    let declared_rw = inputs.spec.spec.flags.live_system_contact == LiveContact::ReadWrite;
    match (declared_rw, result.touched_real.is_empty()) {
        (false, false) => failed.push(format!(
            "flags.live_system_contact of {SPEC_FILE} is not \"read-write\", but change {id} changed {} on the real surfaces",
            result.touched_real.join(", ")
        )),
        (true, true) => failed.push(format!(
            "flags.live_system_contact of {SPEC_FILE} says \"read-write\", but change {id} changed no part of a real surface{}",
            if result.performed { "" } else { " (it was not run)" }
        )),
        _ => {}
    }
    if !failed.is_empty() {
        record.failed_reason = Some(failed.join("; "));
    }
    Ok(record)
}

/// Every fold the authorization names, in words.
pub fn authorized_folds(inputs: &Inputs) -> String {
    let folds: Vec<String> = inputs
        .spec
        .spec
        .authorization
        .mutations
        .iter()
        .map(|m| match m {
            AuthorizedMutation::RegistryFold { range, .. } => format!("registry fold {range}"),
            AuthorizedMutation::Change(c) => format!("change {}", c.id),
        })
        .collect();
    if folds.is_empty() {
        "no mutation".to_string()
    } else {
        folds.join(", ")
    }
}

/// Name of the directory holding the after bytes of the documents a fold changed.
pub fn after_dir_name(range: FoldRange) -> String {
    format!("governance-fold-{}-{}-after", range.first, range.last)
}

/// Replaces the fold result in `dir` with the one its reverse patch and
/// after documents give ([`registry::rederive_fold_result`]).
fn rederive_fold(dir: &Path, file: &str, range: FoldRange) -> Result<()> {
    let path = dir.join(file);
    let recorded: FoldResult = evidence::read_json(dir, file)?;
    let patch = fsio::read_regular(
        &dir.join(registry::patch_file_name(range)),
        evidence::ARTIFACT_LIMIT,
    )?;
    let after_dir = dir.join(after_dir_name(range));
    let mut after = BTreeMap::new();
    if after_dir.is_dir() {
        let entries = std::fs::read_dir(&after_dir).map_err(|e| Error::io(&after_dir, e))?;
        for e in entries {
            let e = e.map_err(|err| Error::io(&after_dir, err))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let bytes = fsio::read_regular(&e.path(), evidence::ARTIFACT_LIMIT)?;
            after.insert(name, bytes);
        }
    }
    let derived = registry::rederive_fold_result(&path, range, &recorded, &patch, &after)?;
    fsio::write_atomic(&path, &canonical::to_bytes(&derived)?)
}

/// Whether a packet file carries a registry id: every file but the envelope
/// and the carried inputs (pinned by the manifest's spec pins).
pub fn carries_id(path: &str) -> bool {
    !ENVELOPE.contains(&path) && !path.starts_with(&format!("{SPEC_DIR}/"))
}

/// Every file in the packet that carries an id, sorted, with its sha256 and title.
fn list_artifacts(
    dir: &Path,
    labels: &crate::surface::spec::TableLabels,
) -> Result<Vec<ArtifactRecord>> {
    let (entries, _) = seal::compute_manifest(dir, &crate::progress::NoProgress)?;
    Ok(entries
        .into_iter()
        .filter(|e| carries_id(&e.path))
        .map(|e| ArtifactRecord {
            title: super::readme::artifact_title(&e.path, labels),
            path: e.path,
            sha256: e.sha256,
            id: None,
        })
        .collect())
}

/// Writes the claimed ids into `artifacts`, in path order; the range must
/// hold exactly one id per artifact.
fn assign_ids(
    inputs: &Inputs,
    ids: &IdRangeRecord,
    artifacts: &mut [ArtifactRecord],
) -> Result<()> {
    let bad =
        |what: String| Error::failed(format!("claimed ids {}..{}: {what}", ids.first, ids.last));
    if ids.count != artifacts.len() as u64 {
        return Err(bad(format!(
            "{} ids for {} artifacts",
            ids.count,
            artifacts.len()
        )));
    }
    if ids.packet != inputs.spec.spec.packet.macro_name {
        return Err(bad(format!(
            "claimed for {:?}, not for this packet's macro",
            ids.packet
        )));
    }
    let format = id_format_of(&ids.first).ok_or_else(|| bad("not an id".to_string()))?;
    let first = format
        .parse(&ids.first)
        .map_err(|e| bad(format!("unreadable first id: {e}")))?;
    for (i, a) in artifacts.iter_mut().enumerate() {
        a.id = Some(format.format(first + i as u64));
    }
    match artifacts.last().and_then(|a| a.id.as_deref()) {
        Some(last) if last == ids.last => Ok(()),
        other => Err(bad(format!(
            "the last artifact gets {}, the range ends at {}",
            other.unwrap_or("nothing"),
            ids.last
        ))),
    }
}

/// The id format an id is spelled in (`TKT-OBJ-462`: prefix `TKT-OBJ`, width 3).
fn id_format_of(id: &str) -> Option<registry::IdFormat> {
    let (prefix, digits) = id.rsplit_once('-')?;
    registry::IdFormat::new(prefix, digits.len() as u32).ok()
}
