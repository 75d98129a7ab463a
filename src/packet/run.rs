//! `holdfast run SPEC --out PACKET`: from a spec to a sealed, verified packet.
//!
//! The steps run in order and the run stops, fail closed, at the first one
//! that cannot be done honestly. Bad input (a spec that does not parse, a
//! stale citation, a snapshot that cannot be read) stops it with no packet.
//! A gate that says no (a mutation outside the authorization, an unsafe fold,
//! an incomplete rollback plan, a probe that fails open, a changed surface)
//! does not stop it: the packet is still written, with a status that says
//! why it is not READY, and the run exits non-zero.
//!
//! The packet is built in a staging directory next to `--out` and renamed
//! into place only once it is sealed and verified, so `--out` never holds a
//! half-written packet. The only registry writes are the authorized fold
//! (before the packet exists) and the claim of the artifacts' ids (only for
//! a READY packet); every input is validated before either.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::derive::{Observed, after_dir_name, derive};
use super::evidence;
use super::inputs::Inputs;
use super::journal;
use super::manifest::{
    ArtifactRecord, IdRangeRecord, MutationRecord, PacketManifest, SNAPSHOT_AFTER_FILE,
    SNAPSHOT_BEFORE_FILE,
};
use super::spec::SPEC_FILE;
use crate::authz::FoldRange;
use crate::error::{Error, IoContext, Result, exit};
use crate::gate::verdict::Scoping;
use crate::gate::{self, PROBE_REPORT_FILE};
use crate::probe::HarnessOptions;
use crate::progress::Progress;
use crate::registry::{self, ClaimRequest, FoldOptions, NewRecord, RecordLoad, Store};
use crate::surface::snapshot;
use crate::{canonical, digest, fsio, seal, surface};

/// Options of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The holdfast binary the probe harness attacks (the running one).
    pub exe: PathBuf,
    /// Replace an existing `--out` directory.
    pub force: bool,
    /// An agent's command (`holdfast run SPEC --out P -- CMD ARGS…`): the
    /// run goes ahead only if it is exactly the argv of the change
    /// `[run] change` names; otherwise it is refused and nothing runs.
    pub agent_argv: Option<Vec<String>>,
    /// The team's registry (`holdfast run --registry`): a directory or a
    /// `postgres://` / `postgresql://` URL. It takes precedence over
    /// `registry.dir` / `registry.url` of packet.toml; a spec that imports
    /// a working copy (`registry.import`) refuses it.
    pub registry: Option<PathBuf>,
}

/// The registry a run works on: its location (a directory or a URL) and,
/// for a database, a directory holding its documents as the directory
/// backend would, which the `@registry` snapshots read.
struct RunRegistry {
    location: PathBuf,
    view: Option<tempfile::TempDir>,
}

impl RunRegistry {
    fn new(location: PathBuf) -> Result<RunRegistry> {
        let is_url = location.to_str().is_some_and(registry::backend::is_url);
        let view = if is_url {
            Some(
                tempfile::Builder::new()
                    .prefix("holdfast-registry-view-")
                    .tempdir()
                    .map_err(|e| Error::io(std::env::temp_dir(), e))?,
            )
        } else {
            None
        };
        Ok(RunRegistry { location, view })
    }

    /// Where the documents are as files: the registry directory itself, or
    /// the database's documents written out by [`RunRegistry::refresh`].
    fn documents_dir(&self) -> &Path {
        match &self.view {
            Some(v) => v.path(),
            None => &self.location,
        }
    }

    /// Writes the database's current documents into the view (a directory
    /// registry is read in place). The store checks them against the
    /// history first, as every command does.
    fn refresh(&self) -> Result<()> {
        let Some(view) = &self.view else {
            return Ok(());
        };
        let store = Store::open_with(&self.location, RecordLoad::IdsAndPackets)?;
        for d in registry::DOCUMENTS {
            fsio::write_atomic(&view.path().join(d.name()), store.document(d))?;
        }
        Ok(())
    }
}

/// Receives the name of each step as it starts (for a terminal display).
pub trait StepReporter {
    /// Step `n` of `total` is starting.
    fn step(&self, n: usize, total: usize, what: &str);
}

/// A reporter that shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl StepReporter for Quiet {
    fn step(&self, _n: usize, _total: usize, _what: &str) {}
}

/// What a run produced.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RunSummary {
    /// The packet's scoping status.
    pub status: String,
    /// The production decision.
    pub decision: String,
    /// True only for `<PREFIX>_READY`.
    pub ready: bool,
    /// Why the status is not READY.
    pub failures: Vec<String>,
    /// What is missing.
    pub missing: Vec<String>,
    /// What became of the requested mutation.
    pub mutation: MutationRecord,
    /// The ids claimed for the artifacts (READY packets only).
    pub object_ids: Option<IdRangeRecord>,
    /// Files in the packet's manifest.
    pub files: u64,
    /// The packet's tree hash.
    pub tree_sha256: String,
    /// The registry state that binds this tree hash to the packet's claim
    /// and fold (absent when the packet neither claimed ids nor folded).
    pub bound_state: Option<u64>,
    /// Every step with its exit code.
    pub steps: Vec<journal::Step>,
    /// Every probe that did not fail closed: its id, outcome and why, so
    /// the terminal can say what to fix without opening the report.
    pub probes_not_fail_closed: Vec<ProbeProblem>,
    /// Every control that failed (a good input its gate refused, or a
    /// positive control the policy requires and a user probe lacks), with
    /// why: a gate that refuses everything shows here.
    pub controls_failed: Vec<ProbeProblem>,
}

/// A probe that did not fail closed, as the run reports it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ProbeProblem {
    /// `<class>/<name>`.
    pub id: String,
    /// Its outcome (`FAIL-OPEN`, `TIMEOUT`, `CRASHED`, `NOT RUN`, `UNEXPECTED`).
    pub outcome: String,
    /// Why, as the harness recorded it.
    pub reason: String,
}

impl RunSummary {
    /// 0 for a READY packet, 1 otherwise (the packet exists and says why).
    pub fn exit_code(&self) -> i32 {
        if self.ready { exit::OK } else { exit::FAILED }
    }
}

/// Runs the spec in `spec_dir` into the packet directory `out`.
pub fn run(
    spec_dir: &Path,
    out: &Path,
    opts: &RunOptions,
    steps: &dyn StepReporter,
    progress: &dyn Progress,
) -> Result<RunSummary> {
    // 1. Every input, before anything is touched: the specs, the plan, every
    //    citation of the inventories and of the blockers' closing evidence.
    steps.step(1, STEPS, VALIDATE);
    let inputs = Inputs::load(spec_dir)?;
    if let Some(argv) = &opts.agent_argv {
        inputs.spec.spec.authorization.require_change_argv(
            inputs.spec.spec.run.change.as_deref(),
            argv,
            &spec_dir.join(SPEC_FILE),
        )?;
    }
    // Every citation is hashed now: a stale or escaping one stops the run
    // before any registry write.
    let citations = super::inputs::observe_citations(&inputs)?;
    let live = live_location(&inputs, opts.registry.as_deref(), spec_dir)?;
    let parent = prepare_out(out, opts.force, &inputs, live.as_deref())?;
    let staging = tempfile::Builder::new()
        .prefix(".holdfast-run-")
        .tempdir_in(&parent)
        .at(&parent)?;

    let working_copy;
    let (registry_at, live_registry) = match (inputs.spec.registry_import()?, live) {
        (Some(file), _) => {
            working_copy = tempfile::Builder::new()
                .prefix("holdfast-registry-")
                .tempdir()
                .map_err(|e| Error::io(std::env::temp_dir(), e))?;
            let d = working_copy.path().join("registry");
            registry::import(&d, &file)?;
            (RunRegistry::new(d)?, false)
        }
        (None, Some(location)) => (RunRegistry::new(location)?, true),
        (None, None) => {
            return Err(Error::malformed(
                spec_dir.join(SPEC_FILE),
                "registry: give `dir`, `url` or `import`",
            ));
        }
    };
    refuse_change_of_a_database_registry(&inputs, &registry_at, spec_dir)?;

    let mut state = RunState::default();
    match build(
        &inputs,
        citations,
        staging.path(),
        &registry_at,
        opts,
        steps,
        progress,
        &mut state,
    ) {
        Ok(mut summary) => {
            publish(staging, out, opts.force)?;
            summary.steps = state.journal.steps;
            Ok(summary)
        }
        Err(e) if live_registry && (state.folded.is_some() || state.claimed.is_some()) => {
            // The team's registry changed: keep everything the run wrote, so
            // the fold result and reverse patch needed to roll it back are not lost.
            let kept = staging.keep();
            let mut what = Vec::new();
            if let Some(f) = &state.folded {
                what.push(format!(
                    "the fold was applied ({f} and its reverse patch are kept)"
                ));
            }
            if let Some(ids) = &state.claimed {
                what.push(format!("ids {}..{} were claimed", ids.first, ids.last));
            }
            Err(annotate(
                e,
                &format!(
                    "; the registry was changed: {}; see {}",
                    what.join(", "),
                    kept.display()
                ),
            ))
        }
        Err(e) => Err(e),
    }
}

/// The team's registry for this run: `--registry` when given (refused for
/// a spec that imports a working copy), else `registry.dir` or
/// `registry.url` of packet.toml; `None` for a working copy.
fn live_location(
    inputs: &Inputs,
    given: Option<&Path>,
    spec_dir: &Path,
) -> Result<Option<PathBuf>> {
    match given {
        Some(_) if inputs.spec.spec.registry.import.is_some() => Err(Error::Usage(format!(
            "--registry: {} imports a working copy for every run (registry.import); a run with the team's registry names it in registry.dir or registry.url instead",
            spec_dir.join(SPEC_FILE).display()
        ))),
        Some(location) => Ok(Some(location.to_path_buf())),
        None => {
            let from_spec = inputs.spec.spec.registry.url.is_some();
            let env_password = std::env::var_os("PGPASSWORD").is_some_and(|p| !p.is_empty());
            refuse_env_password_for_a_spec_url(from_spec, env_password, spec_dir)?;
            Ok(inputs.spec.registry_location())
        }
    }
}

/// A spec may be written by the agent it governs: its `registry.url` can
/// name any server, which would then be sent the password in `PGPASSWORD`.
/// So a password from the environment goes only to a registry named on the
/// command line; a URL from packet.toml gets one from the pgpass file
/// (which holds a password per host) or none. Refused (exit 5) rather than
/// ignored, so a user who set `PGPASSWORD` learns why it is not used.
fn refuse_env_password_for_a_spec_url(
    from_spec: bool,
    env_password: bool,
    spec_dir: &Path,
) -> Result<()> {
    if from_spec && env_password {
        return Err(Error::refused(format!(
            "{}: registry.url comes from the spec and PGPASSWORD is set; a password from the environment goes only to a registry named on the command line: pass --registry with the URL, or unset PGPASSWORD and give the password in a pgpass file (chmod 600)",
            spec_dir.join(SPEC_FILE).display()
        )));
    }
    Ok(())
}

/// A governed change may not change the `@registry` surface of a registry
/// in a database: its commands would only see the documents written out
/// for the snapshots, never the registry. Refused before anything runs.
fn refuse_change_of_a_database_registry(
    inputs: &Inputs,
    reg: &RunRegistry,
    spec_dir: &Path,
) -> Result<()> {
    let Some(id) = &inputs.spec.spec.run.change else {
        return Ok(());
    };
    let Some(c) = inputs.spec.spec.authorization.authorized_change(id) else {
        return Ok(());
    };
    if reg.view.is_none() {
        return Ok(());
    }
    for (s, snap) in inputs
        .surfaces
        .spec
        .surfaces
        .iter()
        .zip(&inputs.surfaces.snapshots)
    {
        if matches!(snap, surface::spec::SnapshotSpec::Files { root, .. } if root == "@registry")
            && c.may_change.contains_key(&s.id)
        {
            return Err(Error::malformed(
                spec_dir.join(SPEC_FILE),
                format!(
                    "run.change: change {id} may change surface {:?}, the registry (root = \"@registry\"), which is in a PostgreSQL database here; a change's commands cannot reach it, so nothing is run",
                    s.id
                ),
            ));
        }
    }
    Ok(())
}

/// What a run did to the registry so far (for the error path).
#[derive(Debug, Default)]
struct RunState {
    journal: journal::Journal,
    folded: Option<String>,
    claimed: Option<IdRangeRecord>,
    bound: Option<u64>,
}

/// Adds `more` to an error's message, keeping its kind (and exit code).
fn annotate(e: Error, more: &str) -> Error {
    e.rewrite(Path::to_path_buf, |t| format!("{t}{more}"))
}

/// One step of a run outside the derivation: the line it shows as it
/// starts (`[ n/N] name` on a terminal) and the function that does it. A
/// step's number is its place in the run: validation, [`OBSERVE`], the
/// derivation's steps (`derive::STEP_COUNT`), then [`SEAL`].
struct Step {
    /// What the step does, as a run shows it.
    name: &'static str,
    /// Does it.
    run: fn(&mut Build<'_>) -> Result<()>,
}

/// Step 1, done by [`run`] before there is a staging directory.
const VALIDATE: &str = "validate the spec";

/// What a run observes, after validation (steps 2 to 5).
const OBSERVE: &[Step] = &[
    Step {
        name: "snapshot surfaces (before)",
        run: |b| b.snapshot_before(),
    },
    Step {
        name: "authorized mutation (if safe)",
        run: |b| b.mutation(),
    },
    Step {
        name: "snapshot surfaces (after)",
        run: |b| b.snapshot_after(),
    },
    Step {
        name: "run the bad-input probes",
        run: |b| b.probes(),
    },
];

/// After the derivation: the seal (publishing is the caller's last step).
const SEAL: &[Step] = &[Step {
    name: "seal and verify",
    run: |b| b.seal(),
}];

/// How many steps a run reports: validation, then the tables' steps.
pub const STEPS: usize = 1 + OBSERVE.len() + super::derive::STEP_COUNT + SEAL.len();

/// Steps 2 to 13 in the staging directory `dir`: observe (snapshots, the
/// fold, the probes), then derive everything else with [`derive()`], the
/// function `verify --rerun` re-derives the packet with, then seal.
#[allow(clippy::too_many_arguments)]
fn build(
    inputs: &Inputs,
    observed_citations: (Vec<surface::SurfaceInventory>, gate::blocker::ClosingChecks),
    dir: &Path,
    reg: &RunRegistry,
    opts: &RunOptions,
    steps: &dyn StepReporter,
    progress: &dyn Progress,
    state: &mut RunState,
) -> Result<RunSummary> {
    let mut b = Build::new(inputs, observed_citations, dir, reg, opts, progress, state)?;
    // Validation was step 1; every later number is a place in the tables.
    let n = std::cell::Cell::new(1);
    let announce = |what: &str| {
        n.set(n.get() + 1);
        steps.step(n.get(), STEPS, what);
    };
    for s in OBSERVE {
        announce(s.name);
        (s.run)(&mut b)?;
    }
    b.derive(&announce)?;
    for s in SEAL {
        announce(s.name);
        (s.run)(&mut b)?;
    }
    b.summary()
}

/// A run in its staging directory: the inputs, the registry, and what the
/// steps so far observed and concluded.
struct Build<'a> {
    inputs: &'a Inputs,
    dir: &'a Path,
    /// The registry: its location, and the directory of its documents.
    reg: &'a RunRegistry,
    opts: &'a RunOptions,
    progress: &'a dyn Progress,
    state: &'a mut RunState,
    /// The directories snapshots and a change read, by name.
    named: BTreeMap<String, PathBuf>,
    /// Keeps the working copies in `named` for the run's length.
    _copies: tempfile::TempDir,
    /// The inventories and closing checks, observed at validation.
    citations: Option<(Vec<surface::SurfaceInventory>, gate::blocker::ClosingChecks)>,
    import_pin: Option<(String, String)>,
    before: Option<surface::Snapshot>,
    fold_refusal: Option<String>,
    fold_bytes: Option<Vec<u8>>,
    /// The after snapshot a change took before any rollback.
    changed_after: Option<surface::Snapshot>,
    probes_not_fail_closed: Vec<ProbeProblem>,
    controls_failed: Vec<ProbeProblem>,
    derived: Option<super::derive::Derived>,
    sealed: Option<seal::SealSummary>,
}

/// A step that needs what an earlier step concludes ran before it: a
/// table in the wrong order, refused rather than guessed at.
fn out_of_order(what: &str) -> Error {
    Error::failed(format!(
        "the run's steps are out of order: {what} is not there yet"
    ))
}

impl<'a> Build<'a> {
    /// Makes fresh working copies of the directories the spec names (the
    /// run, and a change, read and write those, never the spec's own
    /// files) and carries the inputs into `dir`.
    fn new(
        inputs: &'a Inputs,
        citations: (Vec<surface::SurfaceInventory>, gate::blocker::ClosingChecks),
        dir: &'a Path,
        reg: &'a RunRegistry,
        opts: &'a RunOptions,
        progress: &'a dyn Progress,
        state: &'a mut RunState,
    ) -> Result<Self> {
        let mut named: BTreeMap<String, PathBuf> =
            [("registry".to_string(), reg.documents_dir().to_path_buf())].into();
        let copies = tempfile::Builder::new()
            .prefix("holdfast-working-")
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        for (name, from) in &inputs.spec.spec.run.working_copies {
            let to = copies.path().join(name);
            let src = inputs.spec.dir.join(from);
            crate::change::copy_tree(&src, &to).map_err(|why| {
                Error::malformed(
                    inputs.spec.dir.join(SPEC_FILE),
                    format!(
                        "run.working_copies.{name}: cannot copy {}: {why}",
                        from.display()
                    ),
                )
            })?;
            named.insert(name.clone(), to);
        }
        inputs.write_carried(dir)?;
        let import_pin = super::inputs::import_pin(inputs)?;
        Ok(Build {
            inputs,
            dir,
            reg,
            opts,
            progress,
            state,
            named,
            _copies: copies,
            citations: Some(citations),
            import_pin,
            before: None,
            fold_refusal: None,
            fold_bytes: None,
            changed_after: None,
            probes_not_fail_closed: Vec::new(),
            controls_failed: Vec::new(),
            derived: None,
            sealed: None,
        })
    }

    /// The BEFORE snapshot.
    fn snapshot_before(&mut self) -> Result<()> {
        self.reg.refresh()?;
        let before = snapshot::take_with(&self.inputs.surfaces, &self.named, self.progress)?;
        snapshot::write(&self.dir.join(SNAPSHOT_BEFORE_FILE), &before)?;
        self.before = Some(before);
        Ok(())
    }

    /// The authorized mutation, only if it is authorized and safe (a
    /// change: only once its rehearsal on a copy passed).
    fn mutation(&mut self) -> Result<()> {
        let inputs = self.inputs;
        let (fold_refusal, fold_bytes) = perform_fold(inputs, self.reg, self.dir)?;
        if fold_bytes.is_some() {
            self.state.folded = inputs.spec.spec.run.fold.map(registry::result_file_name);
        }
        self.fold_refusal = fold_refusal;
        self.fold_bytes = fold_bytes;
        let before = self
            .before
            .as_ref()
            .ok_or_else(|| out_of_order("the BEFORE snapshot"))?;
        self.changed_after = perform_change(inputs, self.dir, before, &self.named, self.progress)?;
        Ok(())
    }

    /// The AFTER snapshot (a change that ran took it before any rollback).
    fn snapshot_after(&mut self) -> Result<()> {
        if self.changed_after.is_none() {
            self.reg.refresh()?;
            let after = snapshot::take_with(&self.inputs.surfaces, &self.named, self.progress)?;
            snapshot::write(&self.dir.join(SNAPSHOT_AFTER_FILE), &after)?;
        }
        Ok(())
    }

    /// The bad-input probes, their report, and what failed in them.
    fn probes(&mut self) -> Result<()> {
        let report = crate::probe::run(
            &self.inputs.gates,
            &HarnessOptions {
                exe: self.opts.exe.clone(),
                only: Vec::new(),
            },
            self.progress,
        )?;
        fsio::write_atomic(
            &self.dir.join(PROBE_REPORT_FILE),
            &canonical::to_bytes(&report)?,
        )?;
        self.probes_not_fail_closed = report
            .probes
            .iter()
            .filter(|p| !p.fail_closed)
            .map(|p| ProbeProblem {
                id: p.id.clone(),
                outcome: p.outcome.label().to_string(),
                reason: p.reason.clone(),
            })
            .collect();
        self.controls_failed = report
            .controls
            .iter()
            .filter(|c| !c.ok)
            .map(|c| ProbeProblem {
                id: c.id.clone(),
                outcome: "FAILED".to_string(),
                reason: c.detail.clone(),
            })
            .collect();
        Ok(())
    }

    /// Everything else, derived from the inputs and what was observed by
    /// [`derive()`], announcing each of its steps to `step`; then the check
    /// that the packet gives back the fold result the registry wrote.
    fn derive(&mut self, step: &dyn Fn(&str)) -> Result<()> {
        let (inventories, closing) = self
            .citations
            .take()
            .ok_or_else(|| out_of_order("the citations"))?;
        let observed = Observed {
            inventories,
            closing,
            fold_refusal: self.fold_refusal.clone(),
            import_pin: self.import_pin.clone(),
        };
        let (inputs, registry_dir) = (self.inputs, self.reg.location.as_path());
        let mut claimed = None;
        let mut claimer = |artifacts: &[ArtifactRecord]| -> Result<IdRangeRecord> {
            let ids = claim_ids(inputs, registry_dir, artifacts)?;
            claimed = Some(ids.clone());
            Ok(ids)
        };
        let derived = derive(inputs, self.dir, &observed, &mut claimer, step);
        self.state.claimed = claimed;
        let derived = derived?;
        // The registry wrote the fold result; the packet's own bytes must give
        // it back, byte for byte, or `verify --rerun` could never agree.
        if let (Some(written), Some(file)) = (&self.fold_bytes, &derived.mutation.fold_result) {
            let rederived = fsio::read_regular(&self.dir.join(file), evidence::ARTIFACT_LIMIT)?;
            if &rederived != written {
                return Err(Error::failed(format!(
                    "{file}: the fold result the registry wrote differs from the one the packet's reverse patch and after documents give"
                )));
            }
        }
        self.derived = Some(derived);
        Ok(())
    }

    /// Seals and verifies the packet, then binds the sealed tree hash to
    /// what this packet did to the registry (its claim, its fold):
    /// `verify --registry` checks it.
    fn seal(&mut self) -> Result<()> {
        let dir = self.dir;
        seal::set_packet_modes(dir)?;
        let sealed = seal::seal(dir, seal::SealOptions { force: false }, self.progress)?;
        let report = seal::verify(dir, self.progress)?;
        if !report.is_verified() {
            let first = report.first_problem();
            return Err(Error::failed(format!(
                "the freshly sealed packet does not verify ({first}); nothing was published"
            )));
        }
        let derived = self
            .derived
            .as_ref()
            .ok_or_else(|| out_of_order("the derivation"))?;
        let fold_sha = self.fold_bytes.as_deref().map(digest::sha256_hex);
        if derived.object_ids.is_some() || fold_sha.is_some() {
            let ids = derived
                .object_ids
                .as_ref()
                .map(|r| (r.first.as_str(), r.last.as_str()));
            let mut store = Store::open_with(&self.reg.location, RecordLoad::IdsAndPackets)?;
            self.state.bound = Some(store.bind(
                &self.inputs.spec.spec.packet.macro_name,
                &sealed.tree_sha256,
                ids,
                fold_sha.as_deref(),
            )?);
        }
        self.sealed = Some(sealed);
        Ok(())
    }

    /// What the run produced (its steps are filled in by [`run`]).
    fn summary(self) -> Result<RunSummary> {
        let derived = self.derived.ok_or_else(|| out_of_order("the derivation"))?;
        let sealed = self.sealed.ok_or_else(|| out_of_order("the seal"))?;
        let v = &derived.verdict;
        self.state.journal = derived.journal.clone();
        Ok(RunSummary {
            status: v.status.clone(),
            decision: v.decision.clone(),
            ready: v.scoping == Scoping::Ready,
            failures: v.failures.clone(),
            missing: v.missing.clone(),
            mutation: derived.mutation,
            object_ids: derived.object_ids,
            files: sealed.files,
            tree_sha256: sealed.tree_sha256,
            bound_state: self.state.bound,
            steps: Vec::new(),
            probes_not_fail_closed: self.probes_not_fail_closed,
            controls_failed: self.controls_failed,
        })
    }
}

/// Checks `out` can receive a packet; returns its parent directory. An
/// existing `out` is replaced only with `force`, and only if it is a packet
/// that verifies and holds nothing its seal does not list
/// (`seal::check_replaceable`) with a `manifest.json` of this format:
/// `--force` must never delete a spec,
/// a source tree or a registry by mistake. `out` may not be or overlap any
/// directory the run reads or writes.
fn prepare_out(
    out: &Path,
    force: bool,
    inputs: &Inputs,
    registry: Option<&Path>,
) -> Result<PathBuf> {
    let parent = fsio::check_out_parent(out, "--out")?;
    let name = out.file_name().ok_or_else(|| {
        Error::Usage(format!(
            "--out {}: give a directory name for the packet",
            out.display()
        ))
    })?;
    let target = parent.canonicalize().at(&parent)?.join(name);
    let mut read = vec![
        ("the spec directory", inputs.spec.dir.clone()),
        ("the source root", inputs.spec.source_root.clone()),
    ];
    if let Some(d) = registry.filter(|d| !d.to_str().is_some_and(registry::backend::is_url)) {
        read.push(("the registry", d.to_path_buf()));
    }
    for (what, dir) in read {
        if let Ok(dir) = dir.canonicalize()
            && (target.starts_with(&dir) || dir.starts_with(&target))
        {
            return Err(Error::refused(format!(
                "--out {} overlaps {what} ({}); write the packet elsewhere",
                out.display(),
                dir.display()
            )));
        }
    }
    if out.symlink_metadata().is_ok() {
        if !force {
            return Err(Error::refused(format!(
                "{} already exists; pass --force to replace it",
                out.display()
            )));
        }
        seal::check_replaceable(out, "run --force")?;
        if let Err(e) = PacketManifest::load(out) {
            return Err(Error::refused(format!(
                "--force replaces only a packet, and {} is not one ({e})",
                out.display()
            )));
        }
    }
    Ok(parent)
}

/// Moves the finished packet into place. Without `force` the rename refuses
/// to replace anything (a packet that appeared at `out` during the run is
/// not overwritten); with it the old packet and the new one are exchanged
/// atomically, so `out` always holds a whole packet, and the old one is
/// removed only afterwards.
fn publish(staging: tempfile::TempDir, out: &Path, force: bool) -> Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    let built = staging.keep();
    let io = |e: rustix::io::Errno| Error::io(out, e.into());
    // Packets are meant to be read by others: not the staging dir's 0700.
    std::fs::set_permissions(&built, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .at(&built)?;
    if force && out.symlink_metadata().is_ok() {
        renameat_with(CWD, &built, CWD, out, RenameFlags::EXCHANGE).map_err(io)?;
        // `built` now holds the old packet. Checked again before it is
        // deleted: a file added to it during the run is kept, not lost.
        if let Err(e) = seal::check_replaceable(&built, "run --force") {
            return Err(Error::refused(format!(
                "{} changed during the run, so it was not deleted: it is now {} ({e}); \
                 the new packet is in place",
                out.display(),
                built.display()
            )));
        }
        std::fs::remove_dir_all(&built).at(&built)?;
    } else {
        renameat_with(CWD, &built, CWD, out, RenameFlags::NOREPLACE).map_err(|e| {
            if e == rustix::io::Errno::EXIST {
                Error::refused(format!(
                    "{} appeared during the run; the new packet is kept in {}",
                    out.display(),
                    built.display()
                ))
            } else {
                io(e)
            }
        })?;
    }
    fsio::sync_dir(&fsio::parent_dir(out))
}

/// Performs the requested fold if the authorization names it exactly, the
/// rollback plan is complete and the registry says it is safe. Returns the
/// registry's reason when it refused an authorized, planned fold (the
/// other reasons are derived from the spec), and the fold result's bytes as
/// the registry wrote them when the fold was performed.
fn perform_fold(
    inputs: &Inputs,
    reg: &RunRegistry,
    dir: &Path,
) -> Result<(Option<String>, Option<Vec<u8>>)> {
    let registry_dir = reg.location.as_path();
    let Some(range) = inputs.spec.spec.run.fold else {
        return Ok((None, None));
    };
    if inputs
        .spec
        .spec
        .authorization
        .authorized_fold(range)
        .is_none()
        || !inputs.plan.complete
    {
        return Ok((None, None));
    }
    let store = Store::open_with(registry_dir, RecordLoad::IdsAndPackets)?;
    if let Some(r) = registry::fold_refusal(store.registry(), range) {
        return Ok((Some(format!("not safe: {}", r.message)), None));
    }
    drop(store);
    let mut store = Store::open_with(registry_dir, RecordLoad::IdsAndPackets)?;
    let outcome = store.fold(
        range,
        &FoldOptions {
            out_dir: dir.to_path_buf(),
            dry_run: false,
        },
    )?;
    drop(store);
    reg.refresh()?;
    write_after_documents(reg.documents_dir(), dir, range, &outcome.result)?;
    let bytes = fsio::read_regular(
        &dir.join(registry::result_file_name(range)),
        evidence::ARTIFACT_LIMIT,
    )?;
    Ok((None, Some(bytes)))
}

/// Rehearses and performs the requested governed change, when it is
/// authorized and the rollback plan is complete (otherwise nothing runs and
/// the packet says why). Returns the after snapshot when the real change ran.
fn perform_change(
    inputs: &Inputs,
    dir: &Path,
    before: &surface::Snapshot,
    named: &BTreeMap<String, PathBuf>,
    progress: &dyn Progress,
) -> Result<Option<surface::Snapshot>> {
    let Some(id) = &inputs.spec.spec.run.change else {
        return Ok(None);
    };
    let Some(c) = inputs.spec.spec.authorization.authorized_change(id) else {
        return Ok(None);
    };
    if !inputs.plan.complete {
        return Ok(None);
    }
    let spec_file = inputs.spec.dir.join(SPEC_FILE);
    let ctx = crate::change::Context {
        surfaces: &inputs.surfaces,
        cwd: &inputs.spec.dir,
        named,
        token: inputs.gates.token(),
        declared_production_mutation: inputs.spec.spec.flags.production_mutation,
        declared_read_write: inputs.spec.spec.flags.live_system_contact
            == super::spec::LiveContact::ReadWrite,
        spec_file: &spec_file,
    };
    crate::change::perform(c, &ctx, dir, before, progress)
}

/// Copies into the packet the after bytes of every document the fold
/// changed, so the fold result and its rollback rehearsal can be re-derived
/// offline from the packet alone (`verify --rerun`): reverse patch + after
/// bytes must give the before pins. Documents the fold did not change are
/// proven by their pins.
fn write_after_documents(
    documents_dir: &Path,
    dir: &Path,
    range: FoldRange,
    result: &registry::FoldResult,
) -> Result<()> {
    let after = dir.join(after_dir_name(range));
    std::fs::create_dir_all(&after).at(&after)?;
    for (doc, pin_after) in &result.pins.after {
        if result.pins.before.get(doc) == Some(pin_after) {
            continue;
        }
        let bytes = fsio::read_regular(&documents_dir.join(doc), evidence::ARTIFACT_LIMIT)?;
        if digest::sha256_hex(&bytes) != *pin_after {
            return Err(Error::failed(format!(
                "registry document {doc} changed after the fold (sha256 differs from the after pin)"
            )));
        }
        fsio::write_atomic(&after.join(doc), &bytes)?;
    }
    Ok(())
}

/// Claims one id per artifact, in path order, from the registry.
fn claim_ids(
    inputs: &Inputs,
    registry_dir: &Path,
    artifacts: &[ArtifactRecord],
) -> Result<IdRangeRecord> {
    let packet = inputs.spec.spec.packet.macro_name.clone();
    let records = artifacts
        .iter()
        .map(|a| NewRecord {
            kind: inputs.spec.spec.registry.object_kind.clone(),
            title: a.title.clone(),
            path: a.path.clone(),
            sha256: a.sha256.clone(),
        })
        .collect();
    // The fast way where it applies: the same ids, bytes and refusals as
    // `Store::claim`, without reading a large registry's records documents.
    let outcome =
        crate::registry::fast::claim(registry_dir, &packet, ClaimRequest::Records(records))?;
    Ok(IdRangeRecord {
        first: outcome.first_id,
        last: outcome.last_id,
        count: outcome.count,
        packet,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_steps_are_numbered_by_their_tables() {
        let names: Vec<&str> = std::iter::once(VALIDATE)
            .chain(OBSERVE.iter().map(|s| s.name))
            .chain(super::super::derive::step_names())
            .chain(SEAL.iter().map(|s| s.name))
            .collect();
        assert_eq!(names.len(), STEPS);
        assert_eq!(
            names,
            [
                "validate the spec",
                "snapshot surfaces (before)",
                "authorized mutation (if safe)",
                "snapshot surfaces (after)",
                "run the bad-input probes",
                "prove forbidden surfaces untouched",
                "surface inventories",
                "blocker map and decision packet",
                "check the rollback plan",
                "verdict",
                "claim artifact ids",
                "manifest, exit codes, README, index.html",
                "seal and verify",
            ]
        );
    }

    #[test]
    fn an_environment_password_goes_only_to_a_registry_named_on_the_command_line() {
        let dir = Path::new("spec");
        assert!(refuse_env_password_for_a_spec_url(false, true, dir).is_ok());
        assert!(refuse_env_password_for_a_spec_url(true, false, dir).is_ok());
        assert!(refuse_env_password_for_a_spec_url(false, false, dir).is_ok());
        let e = refuse_env_password_for_a_spec_url(true, true, dir).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit::REFUSED);
        assert!(e.to_string().contains("spec/packet.toml"), "{e}");
    }
}
