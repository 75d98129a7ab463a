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

use super::evidence::{self, Identity};
use super::journal::{self, Journal, RerunArgs};
use super::manifest::{
    ArtifactRecord, BoundaryRecord, COMMANDS_FILE, ENVELOPE, EXIT_CODES_FILE, FORMAT,
    IdRangeRecord, MANIFEST_FILE, MutationRecord, PacketManifest, README_FILE, RERUN_FILE,
    SNAPSHOT_AFTER_FILE, SNAPSHOT_BEFORE_FILE, StatusRecord,
};
use super::spec::{LiveContact, LoadedSpec, SPEC_FILE};
use super::wire;
use crate::authz::{AuthorizedMutation, FoldRange};
use crate::error::{Error, IoContext, Result, exit};
use crate::gate::assemble::{GateFacts, GatesRequest};
use crate::gate::probe::HarnessOptions;
use crate::gate::verdict::{Scoping, verdict};
use crate::gate::{self, PLAN_FILE, PROBE_REPORT_FILE};
use crate::progress::Progress;
use crate::registry::{self, ClaimRequest, FoldOptions, NewRecord, RecordLoad, Store};
use crate::surface::proof::{FoldInput, ProofResult, SnapshotInput};
use crate::surface::snapshot::{self, Method};
use crate::{canonical, digest, fsio, seal, surface};

/// How many steps a run reports.
pub const STEPS: usize = 13;

/// Options of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The holdfast binary the probe harness attacks (the running one).
    pub exe: PathBuf,
    /// Replace an existing `--out` directory.
    pub force: bool,
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
#[derive(Debug, Clone, Serialize)]
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
    /// Every step with its exit code.
    pub steps: Vec<journal::Step>,
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
    steps.step(1, STEPS, "validate the spec");
    let inputs = Inputs::load(spec_dir)?;
    let parent = prepare_out(out, opts.force, &inputs)?;
    let staging = tempfile::Builder::new()
        .prefix(".holdfast-run-")
        .tempdir_in(&parent)
        .at(&parent)?;

    let working_copy;
    let (registry_dir, live_registry) =
        match (inputs.spec.registry_import()?, inputs.spec.registry_dir()) {
            (Some(file), _) => {
                working_copy = tempfile::Builder::new()
                    .prefix("holdfast-registry-")
                    .tempdir()
                    .map_err(|e| Error::io(std::env::temp_dir(), e))?;
                let d = working_copy.path().join("registry");
                registry::import(&d, &file)?;
                (d, false)
            }
            (None, Some(d)) => (d, true),
            (None, None) => {
                return Err(Error::malformed(
                    spec_dir.join(SPEC_FILE),
                    "registry: give `dir` or `import`",
                ));
            }
        };

    let mut state = RunState::default();
    match build(
        &inputs,
        staging.path(),
        &registry_dir,
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

/// What a run did to the registry so far (for the error path).
#[derive(Debug, Default)]
struct RunState {
    journal: Journal,
    folded: Option<String>,
    claimed: Option<IdRangeRecord>,
}

/// Adds `more` to an error's message, keeping its kind (and exit code).
fn annotate(e: Error, more: &str) -> Error {
    match e {
        Error::Io { path, source } => Error::Io {
            path,
            source: std::io::Error::new(source.kind(), format!("{source}{more}")),
        },
        Error::Malformed { path, what } => Error::Malformed {
            path,
            what: format!("{what}{more}"),
        },
        Error::Refused { what } => Error::Refused {
            what: format!("{what}{more}"),
        },
        Error::Failed { what } => Error::Failed {
            what: format!("{what}{more}"),
        },
        Error::Usage(what) => Error::Usage(format!("{what}{more}")),
    }
}

/// Steps 2 to 13 in the staging directory `dir`.
fn build(
    inputs: &Inputs,
    dir: &Path,
    registry_dir: &Path,
    opts: &RunOptions,
    steps: &dyn StepReporter,
    progress: &dyn Progress,
    state: &mut RunState,
) -> Result<RunSummary> {
    let named: BTreeMap<String, PathBuf> =
        [("registry".to_string(), registry_dir.to_path_buf())].into();

    // 2. Snapshot before.
    steps.step(2, STEPS, "snapshot surfaces (before)");
    let before = snapshot::take_with(&inputs.surfaces, &named, progress)?;
    let before_bytes = snapshot::write(&dir.join(SNAPSHOT_BEFORE_FILE), &before)?;
    state.journal.record(
        "snapshot-before",
        format!(
            "holdfast snapshot {} --out {SNAPSHOT_BEFORE_FILE}",
            inputs.surfaces_name()
        ),
        exit::OK,
        exit::OK,
    );

    // 3. The authorized mutation, only if it is authorized and safe.
    steps.step(3, STEPS, "authorized mutation (if safe)");
    let (mutation, fold_file) = perform_fold(inputs, registry_dir, dir, &mut state.journal)?;
    state.folded = fold_file.clone();

    // 4. Snapshot after.
    steps.step(4, STEPS, "snapshot surfaces (after)");
    let after = snapshot::take_with(&inputs.surfaces, &named, progress)?;
    let after_bytes = snapshot::write(&dir.join(SNAPSHOT_AFTER_FILE), &after)?;
    state.journal.record(
        "snapshot-after",
        format!(
            "holdfast snapshot {} --out {SNAPSHOT_AFTER_FILE}",
            inputs.surfaces_name()
        ),
        exit::OK,
        exit::OK,
    );

    // 5. The forbidden-surface proof.
    steps.step(5, STEPS, "prove forbidden surfaces untouched");
    let folds = match &fold_file {
        Some(f) => vec![FoldInput::read(&dir.join(f))?],
        None => Vec::new(),
    };
    let proof = surface::proof::prove(
        &SnapshotInput {
            file: SNAPSHOT_BEFORE_FILE.to_string(),
            sha256: digest::sha256_hex(&before_bytes),
            snapshot: before,
        },
        &SnapshotInput {
            file: SNAPSHOT_AFTER_FILE.to_string(),
            sha256: digest::sha256_hex(&after_bytes),
            snapshot: after,
        },
        &inputs.spec.spec.authorization,
        &folds,
    )?;
    surface::proof::write(dir, &proof)?;
    let fold_arg = fold_file
        .as_deref()
        .map(|f| format!(" --fold-result {f}"))
        .unwrap_or_default();
    state.journal.record(
        "prove",
        format!(
            "holdfast prove {SNAPSHOT_BEFORE_FILE} {SNAPSHOT_AFTER_FILE} --authorization <[authorization] of {SPEC_FILE}>{fold_arg} --out ."
        ),
        exit::OK,
        if proof.result == ProofResult::Proven { exit::OK } else { exit::FAILED },
    );

    // 6. The bad-input probes.
    steps.step(6, STEPS, "run the bad-input probes");
    let report = gate::probe::run(
        &inputs.gates,
        &HarnessOptions {
            exe: opts.exe.clone(),
            only: Vec::new(),
        },
        progress,
    )?;
    fsio::write_atomic(&dir.join(PROBE_REPORT_FILE), &canonical::to_bytes(&report)?)?;
    state.journal.record(
        "probe",
        format!("holdfast probe {} --out .", inputs.gates_name()),
        exit::OK,
        if report.all_fail_closed {
            exit::OK
        } else {
            exit::FAILED
        },
    );

    // 7. Tables B and C, hashed in step 1.
    steps.step(7, STEPS, "surface inventories");
    for (name, bytes) in surface::inventory::render_files(&inputs.inventories)? {
        fsio::write_atomic(&dir.join(name), &bytes)?;
    }
    state.journal.record(
        "surfaces",
        format!(
            "holdfast surfaces {} --source {} --out .",
            inputs.surfaces_name(),
            inputs.spec.spec.source.root.display()
        ),
        exit::OK,
        exit::OK,
    );

    // 8. Blocker map and decision packet.
    steps.step(8, STEPS, "blocker map and decision packet");
    let assembled = gate::assemble::assemble(&GatesRequest {
        spec: &inputs.gates,
        facts: Some(GateFacts {
            derived: wire::derived_inputs(&inputs.surfaces, &inputs.inventories, Some(&proof))?,
            proof: Some(wire::proof_facts(&proof)),
        }),
        probe_report: Some(report),
        plan: Some(inputs.plan.clone()),
        closing_checks: Some(inputs.closing.clone()),
        authorization: Some(inputs.spec.spec.authorization.clone()),
        select: None,
    })?;
    gate::assemble::write(dir, &assembled)?;
    state.journal.record(
        "gates",
        format!(
            "holdfast gates {} --source {} --out .",
            inputs.gates_name(),
            inputs.spec.spec.source.root.display()
        ),
        exit::OK,
        exit::OK,
    );

    // 9. The rollback plan, as checked in step 1.
    steps.step(9, STEPS, "check the rollback plan");
    fsio::write_atomic(&dir.join(PLAN_FILE), &inputs.plan_bytes)?;
    state.journal.record(
        "plan",
        format!("holdfast plan check {PLAN_FILE}"),
        exit::OK,
        if inputs.plan.complete {
            exit::OK
        } else {
            exit::FAILED
        },
    );

    // 10. The verdict, from the artifacts just written.
    steps.step(10, STEPS, "verdict");
    let design_args =
        if inputs.gates.spec.probe.is_empty() && inputs.gates.spec.probes.pass_token.is_none() {
            RerunArgs::None
        } else {
            RerunArgs::NeedsSpec
        };
    fsio::write_atomic_mode(
        &dir.join(COMMANDS_FILE),
        journal::commands_sh(design_args).as_bytes(),
        0o755,
    )?;
    fsio::write_atomic_mode(
        &dir.join(RERUN_FILE),
        journal::rerun_sh(PROBE_REPORT_FILE, design_args).as_bytes(),
        0o755,
    )?;
    let token = inputs.gates.spec.probes.pass_token.clone();
    let identity = Identity {
        status_prefix: &inputs.spec.spec.packet.status_prefix,
        pass_token: token.as_deref(),
        authorization: &inputs.spec.spec.authorization,
        mutation_refused: mutation.skipped_reason.as_deref(),
    };
    // Sealed and verified are asserted here and proven in step 13: a packet
    // that does not verify is never published.
    let v = verdict(&evidence::collect(dir, identity, true, true)?);
    let ready = v.scoping == Scoping::Ready;

    // 11. One registry id per artifact, for a READY packet only.
    steps.step(11, STEPS, "claim artifact ids");
    let mut artifacts = list_artifacts(dir)?;
    let object_ids = if ready {
        let ids = claim_ids(inputs, registry_dir, &mut artifacts, &mut state.journal)?;
        state.claimed = Some(ids.clone());
        Some(ids)
    } else {
        None
    };

    // 12. manifest.json, exit_codes.json, README.md.
    steps.step(12, STEPS, "manifest, exit codes, README");
    let manifest = PacketManifest {
        format: FORMAT.to_string(),
        packet: inputs.spec.spec.packet.clone(),
        authorization: inputs.spec.spec.authorization.clone(),
        flags: inputs.spec.spec.flags.clone(),
        pass_token: token.clone(),
        boundaries: inputs.boundaries(),
        mutation: mutation.clone(),
        registry: inputs.registry_description(),
        spec_pins: inputs.pins.clone(),
        status: StatusRecord::from(&v),
        artifacts,
        object_ids: object_ids.clone(),
        envelope: ENVELOPE.iter().map(|s| s.to_string()).collect(),
    };
    fsio::write_atomic(&dir.join(MANIFEST_FILE), &canonical::to_bytes(&manifest)?)?;
    fsio::write_atomic(
        &dir.join(EXIT_CODES_FILE),
        &canonical::value_to_bytes(&state.journal.exit_codes_json()),
    )?;
    let readme = super::readme::render(dir)?;
    fsio::write_atomic(&dir.join(README_FILE), &readme)?;

    // 13. Seal and verify (publishing is the caller's last step).
    steps.step(13, STEPS, "seal and verify");
    seal::set_packet_modes(dir)?;
    let sealed = seal::seal(dir, seal::SealOptions { force: false }, progress)?;
    let report = seal::verify(dir, progress)?;
    if !report.is_verified() {
        let first = report
            .problems
            .first()
            .map(|p| format!("{}: {}", p.path, p.detail))
            .unwrap_or_default();
        return Err(Error::failed(format!(
            "the freshly sealed packet does not verify ({first}); nothing was published"
        )));
    }
    Ok(RunSummary {
        status: v.status.clone(),
        decision: v.decision.clone(),
        ready,
        failures: v.failures.clone(),
        missing: v.missing.clone(),
        mutation,
        object_ids,
        files: sealed.files,
        tree_sha256: sealed.tree_sha256,
        steps: Vec::new(),
    })
}

/// Every spec input, loaded and cross-checked.
struct Inputs {
    spec: LoadedSpec,
    surfaces: surface::LoadedSpec,
    gates: gate::spec::LoadedSpec,
    plan: gate::plan::PlanReport,
    plan_bytes: Vec<u8>,
    inventories: Vec<surface::SurfaceInventory>,
    closing: gate::blocker::ClosingChecks,
    pins: BTreeMap<String, String>,
}

impl Inputs {
    fn load(spec_dir: &Path) -> Result<Self> {
        let spec = LoadedSpec::load(spec_dir)?;
        let surfaces = surface::LoadedSpec::load(&spec.surfaces)?;
        let gates = gate::spec::LoadedSpec::load(&spec.gates)?;
        let plan_bytes = fsio::read_regular(&spec.rollback_plan, gate::plan::PLAN_LIMIT)?;
        let plan_text = std::str::from_utf8(&plan_bytes).map_err(|e| {
            let (line, col) = crate::tomlio::line_col(&plan_bytes, e.valid_up_to());
            Error::malformed(
                &spec.rollback_plan,
                format!("line {line}, column {col}: not valid UTF-8"),
            )
        })?;
        let plan = gate::plan::check(plan_text);
        // Every citation is hashed now: a stale or escaping one stops the
        // run before any registry write.
        let inventories = surface::inventory::build(&surfaces, &spec.source_root)?;
        let closing = gate::assemble::check_closing(&gates, &spec.source_root)?;
        let spec_file = spec_dir.join(SPEC_FILE);
        let token = gate::verdict::pass_token(gates.spec.probes.pass_token.as_deref());
        gate::verdict::check_status_prefix(&spec.spec.packet.status_prefix, token)
            .map_err(|why| Error::malformed(&spec_file, format!("packet.status_prefix: {why}")))?;
        for (i, m) in spec.spec.authorization.mutations.iter().enumerate() {
            let AuthorizedMutation::RegistryFold { surface: id, .. } = m;
            let at = format!("authorization.mutations[{i}].surface");
            let Some(pos) = surfaces.spec.surfaces.iter().position(|s| &s.id == id) else {
                return Err(Error::malformed(
                    &spec_file,
                    format!("{at}: {id:?} is not a surface of {}", surfaces.file_name()),
                ));
            };
            match surfaces.snapshots.get(pos) {
                Some(surface::spec::SnapshotSpec::Files { root, .. }) if root == "@registry" => {}
                _ => {
                    return Err(Error::malformed(
                        &spec_file,
                        format!(
                            "{at}: surface {id:?} must be snapshot with method = \"files\" and \
                             root = \"@registry\", so the proof can match the fold's pins"
                        ),
                    ));
                }
            }
        }
        // A command may reach anything; a postgres snapshot reads a live
        // database. Either way "no live contact" cannot be stated.
        if let Some(m) = surfaces
            .snapshots
            .iter()
            .map(|s| s.method())
            .find(|m| matches!(m, Method::Postgres | Method::Command))
            && spec.spec.flags.live_system_contact == LiveContact::None
        {
            return Err(Error::malformed(
                &spec_file,
                format!(
                    "flags.live_system_contact: a {} snapshot may read a live system; say \"read-only\"",
                    m.as_str()
                ),
            ));
        }
        let mut pins = BTreeMap::new();
        let rel = |p: &Path| p.display().to_string();
        let files = &spec.spec.files;
        pins.insert(SPEC_FILE.to_string(), digest::sha256_hex(&spec.bytes));
        pins.insert(rel(&files.surfaces), surfaces.sha256.clone());
        let gates_bytes = fsio::read_regular(&gates.path, crate::tomlio::SPEC_LIMIT)?;
        pins.insert(rel(&files.gates), digest::sha256_hex(&gates_bytes));
        pins.insert(rel(&files.rollback_plan), digest::sha256_hex(&plan_bytes));
        if let (Some(import), Some(rel_import)) =
            (spec.registry_import()?, &spec.spec.registry.import)
        {
            let bytes = fsio::read_regular(&import, evidence::ARTIFACT_LIMIT)?;
            pins.insert(rel(rel_import), digest::sha256_hex(&bytes));
        }
        Ok(Inputs {
            spec,
            surfaces,
            gates,
            plan,
            plan_bytes,
            inventories,
            closing,
            pins,
        })
    }

    fn surfaces_name(&self) -> String {
        self.spec.spec.files.surfaces.display().to_string()
    }

    fn gates_name(&self) -> String {
        self.spec.spec.files.gates.display().to_string()
    }

    /// Which registry the run used, in words (no machine path).
    fn registry_description(&self) -> String {
        match &self.spec.spec.registry.import {
            Some(f) => format!(
                "a working copy imported from {} for this run (the team's registry is not changed)",
                f.display()
            ),
            None => "the team's long-lived registry (registry.dir of packet.toml)".to_string(),
        }
    }

    fn boundaries(&self) -> Vec<BoundaryRecord> {
        let members: BTreeMap<String, Vec<String>> =
            self.surfaces.boundary_members().into_iter().collect();
        self.surfaces
            .spec
            .boundaries
            .iter()
            .map(|b| BoundaryRecord {
                id: b.id.clone(),
                title: b.title.clone(),
                surfaces: members.get(&b.id).cloned().unwrap_or_default(),
            })
            .collect()
    }
}

/// Checks `out` can receive a packet; returns its parent directory. An
/// existing `out` is replaced only with `force`, and only if it is a packet
/// that verifies and holds nothing its seal does not list
/// (`seal::check_replaceable`) with a `manifest.json` of this format:
/// `--force` must never delete a spec,
/// a source tree or a registry by mistake. `out` may not be or overlap any
/// directory the run reads or writes.
fn prepare_out(out: &Path, force: bool, inputs: &Inputs) -> Result<PathBuf> {
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
    if let Some(d) = inputs.spec.registry_dir() {
        read.push(("the registry", d));
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
/// rollback plan is complete and the registry says it is safe. Returns what
/// happened and the fold result's file name inside the packet.
fn perform_fold(
    inputs: &Inputs,
    registry_dir: &Path,
    dir: &Path,
    journal: &mut Journal,
) -> Result<(MutationRecord, Option<String>)> {
    let Some(range) = inputs.spec.spec.run.fold else {
        return Ok((
            MutationRecord {
                requested: None,
                authorized: false,
                performed: false,
                skipped_reason: None,
                fold_result: None,
                surface: None,
            },
            None,
        ));
    };
    let command = format!("holdfast registry fold {range} --out .");
    let auth = &inputs.spec.spec.authorization;
    let surface = auth.authorized_fold(range).map(|m| match m {
        AuthorizedMutation::RegistryFold { surface, .. } => surface.clone(),
    });
    let mut record = MutationRecord {
        requested: Some(format!("registry fold {range}")),
        authorized: surface.is_some(),
        performed: false,
        skipped_reason: None,
        fold_result: None,
        surface: surface.clone(),
    };
    let refusal = if surface.is_none() {
        Some(format!(
            "registry fold {range} is outside the authorization (it names {})",
            authorized_folds(inputs)
        ))
    } else if !inputs.plan.complete {
        Some(format!(
            "the rollback plan is incomplete ({}); no mutation without one",
            inputs.plan.problems.join("; ")
        ))
    } else {
        let store = Store::open_with(registry_dir, RecordLoad::IdsAndPackets)?;
        registry::fold_refusal(store.registry(), range).map(|r| format!("not safe: {}", r.message))
    };
    if let Some(why) = refusal {
        journal.record("fold", command, exit::OK, exit::REFUSED);
        record.skipped_reason = Some(why);
        return Ok((record, None));
    }
    let mut store = Store::open_with(registry_dir, RecordLoad::IdsAndPackets)?;
    let outcome = store.fold(
        range,
        &FoldOptions {
            out_dir: dir.to_path_buf(),
            dry_run: false,
        },
    )?;
    drop(store);
    journal.record("fold", command, exit::OK, exit::OK);
    write_after_documents(registry_dir, dir, range, &outcome.result)?;
    record.performed = true;
    record.fold_result = Some(registry::result_file_name(range));
    let file = record.fold_result.clone();
    Ok((record, file))
}

fn authorized_folds(inputs: &Inputs) -> String {
    let folds: Vec<String> = inputs
        .spec
        .spec
        .authorization
        .mutations
        .iter()
        .map(|m| match m {
            AuthorizedMutation::RegistryFold { range, .. } => format!("registry fold {range}"),
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

/// Copies into the packet the after bytes of every document the fold
/// changed, so the rollback rehearsal can be re-run offline from the packet
/// alone (`verify --rerun`): reverse patch + after bytes must give the
/// before pins. Documents the fold did not change are proven by their pins.
fn write_after_documents(
    registry_dir: &Path,
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
        let bytes = fsio::read_regular(&registry_dir.join(doc), evidence::ARTIFACT_LIMIT)?;
        if digest::sha256_hex(&bytes) != *pin_after {
            return Err(Error::failed(format!(
                "registry document {doc} changed after the fold (sha256 differs from the after pin)"
            )));
        }
        fsio::write_atomic(&after.join(doc), &bytes)?;
    }
    Ok(())
}

/// Every file in the packet except the envelope, sorted, with its sha256 and title.
fn list_artifacts(dir: &Path) -> Result<Vec<ArtifactRecord>> {
    let (entries, _) = seal::compute_manifest(dir, &crate::progress::NoProgress)?;
    Ok(entries
        .into_iter()
        .filter(|e| !ENVELOPE.contains(&e.path.as_str()))
        .map(|e| ArtifactRecord {
            title: super::readme::artifact_title(&e.path),
            path: e.path,
            sha256: e.sha256,
            id: None,
        })
        .collect())
}

/// Claims one id per artifact, in path order, and writes them into `artifacts`.
fn claim_ids(
    inputs: &Inputs,
    registry_dir: &Path,
    artifacts: &mut [ArtifactRecord],
    journal: &mut Journal,
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
    let mut store = Store::open(registry_dir)?;
    let outcome = store.claim(&packet, ClaimRequest::Records(records))?;
    let first = store
        .registry()
        .format
        .parse(&outcome.first_id)
        .map_err(|e| Error::failed(format!("registry returned an unreadable id: {e}")))?;
    for (i, a) in artifacts.iter_mut().enumerate() {
        a.id = Some(store.registry().format.format(first + i as u64));
    }
    journal.record(
        "claim",
        format!("holdfast registry claim --packet {packet} --ids <one record per artifact>"),
        exit::OK,
        exit::OK,
    );
    Ok(IdRangeRecord {
        first: outcome.first_id,
        last: outcome.last_id,
        count: outcome.count,
        packet,
    })
}
