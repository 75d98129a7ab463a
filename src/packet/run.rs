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
use super::journal::{self, Journal};
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
    // 1. Every input, before anything is touched.
    steps.step(1, STEPS, "validate the spec");
    let inputs = Inputs::load(spec_dir)?;
    let parent = prepare_out(out, opts.force)?;
    let staging = tempfile::Builder::new()
        .prefix(".holdfast-run-")
        .tempdir_in(&parent)
        .at(&parent)?;
    let dir = staging.path();
    let mut journal = Journal::default();

    let working_copy;
    let registry_dir = match (inputs.spec.registry_import()?, inputs.spec.registry_dir()) {
        (Some(file), _) => {
            working_copy = tempfile::Builder::new()
                .prefix("holdfast-registry-")
                .tempdir()
                .map_err(|e| Error::io(std::env::temp_dir(), e))?;
            let d = working_copy.path().join("registry");
            registry::import(&d, &file)?;
            d
        }
        (None, Some(d)) => d,
        (None, None) => {
            return Err(Error::malformed(
                spec_dir.join(SPEC_FILE),
                "registry: give `dir` or `import`",
            ));
        }
    };
    let named: BTreeMap<String, PathBuf> = [("registry".to_string(), registry_dir.clone())].into();

    // 2. Snapshot before.
    steps.step(2, STEPS, "snapshot surfaces (before)");
    let before = snapshot::take_with(&inputs.surfaces, &named, progress)?;
    let before_bytes = snapshot::write(&dir.join(SNAPSHOT_BEFORE_FILE), &before)?;
    journal.record(
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
    let (mutation, fold_file) = perform_fold(&inputs, &registry_dir, dir, &mut journal)?;

    // 4. Snapshot after.
    steps.step(4, STEPS, "snapshot surfaces (after)");
    let after = snapshot::take_with(&inputs.surfaces, &named, progress)?;
    let after_bytes = snapshot::write(&dir.join(SNAPSHOT_AFTER_FILE), &after)?;
    journal.record(
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
    journal.record(
        "prove",
        format!(
            "holdfast prove {SNAPSHOT_BEFORE_FILE} {SNAPSHOT_AFTER_FILE} --authorization {SPEC_FILE}{fold_arg} --out ."
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

    // 7. Tables B and C with every citation hashed.
    steps.step(7, STEPS, "surface inventories");
    let inventories = surface::inventory::build(&inputs.surfaces, &inputs.spec.source_root)?;
    for (name, bytes) in surface::inventory::render_files(&inventories)? {
        fsio::write_atomic(&dir.join(name), &bytes)?;
    }
    journal.record(
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
    let closing = gate::assemble::check_closing(&inputs.gates, &inputs.spec.source_root)?;
    let assembled = gate::assemble::assemble(&GatesRequest {
        spec: &inputs.gates,
        facts: Some(GateFacts {
            derived: wire::derived_inputs(&inputs.surfaces, &inventories, Some(&proof))?,
            proof: Some(wire::proof_facts(&proof)),
        }),
        probe_report: Some(report),
        plan: Some(inputs.plan.clone()),
        closing_checks: Some(closing),
        authorization: Some(inputs.spec.spec.authorization.clone()),
        select: None,
    })?;
    gate::assemble::write(dir, &assembled)?;
    journal.record(
        "gates",
        format!(
            "holdfast gates {} --source {} --out .",
            inputs.gates_name(),
            inputs.spec.spec.source.root.display()
        ),
        exit::OK,
        exit::OK,
    );

    // 9. The rollback plan, as checked.
    steps.step(9, STEPS, "check the rollback plan");
    fsio::write_atomic(&dir.join(PLAN_FILE), &inputs.plan_bytes)?;
    journal.record(
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
    fsio::write_atomic_mode(
        &dir.join(COMMANDS_FILE),
        journal::commands_sh().as_bytes(),
        0o755,
    )?;
    fsio::write_atomic_mode(
        &dir.join(RERUN_FILE),
        journal::rerun_sh(PROBE_REPORT_FILE).as_bytes(),
        0o755,
    )?;
    let token = inputs.gates.spec.probes.pass_token.clone();
    let identity = Identity {
        status_prefix: &inputs.spec.spec.packet.status_prefix,
        pass_token: token.as_deref(),
        authorization: &inputs.spec.spec.authorization,
    };
    // Sealed and verified are asserted here and proven in step 13: a packet
    // that does not verify is never published.
    let v = verdict(&evidence::collect(dir, identity, true, true)?);
    let ready = v.scoping == Scoping::Ready;

    // 11. One registry id per artifact, for a READY packet only.
    steps.step(11, STEPS, "claim artifact ids");
    let mut artifacts = list_artifacts(dir)?;
    let object_ids = if ready {
        Some(claim_ids(
            &inputs,
            &registry_dir,
            &mut artifacts,
            &mut journal,
        )?)
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
        spec_pins: inputs.pins.clone(),
        status: StatusRecord::from(&v),
        artifacts,
        object_ids: object_ids.clone(),
        envelope: ENVELOPE.iter().map(|s| s.to_string()).collect(),
    };
    fsio::write_atomic(&dir.join(MANIFEST_FILE), &canonical::to_bytes(&manifest)?)?;
    fsio::write_atomic(
        &dir.join(EXIT_CODES_FILE),
        &canonical::value_to_bytes(&journal.exit_codes_json()),
    )?;
    let readme = super::readme::render(dir)?;
    fsio::write_atomic(&dir.join(README_FILE), &readme)?;

    // 13. Seal, verify, publish.
    steps.step(13, STEPS, "seal and verify");
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
    publish(staging, out)?;
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
        steps: journal.steps,
    })
}

/// Every spec input, loaded and cross-checked.
struct Inputs {
    spec: LoadedSpec,
    surfaces: surface::LoadedSpec,
    gates: gate::spec::LoadedSpec,
    plan: gate::plan::PlanReport,
    plan_bytes: Vec<u8>,
    pins: BTreeMap<String, String>,
}

impl Inputs {
    fn load(spec_dir: &Path) -> Result<Self> {
        let spec = LoadedSpec::load(spec_dir)?;
        let surfaces = surface::LoadedSpec::load(&spec.surfaces)?;
        let gates = gate::spec::LoadedSpec::load(&spec.gates)?;
        let plan_bytes = fsio::read_regular(&spec.rollback_plan, crate::tomlio::SPEC_LIMIT)?;
        let plan = gate::plan::check_file(&spec.rollback_plan)?;
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
        let reads_live = surfaces
            .snapshots
            .iter()
            .any(|s| s.method() == Method::Postgres);
        if reads_live && spec.spec.flags.live_system_contact == LiveContact::None {
            return Err(Error::malformed(
                &spec_file,
                "flags.live_system_contact: a postgres snapshot reads a live system; say \"read-only\"",
            ));
        }
        let mut pins = BTreeMap::new();
        pins.insert(SPEC_FILE.to_string(), digest::sha256_hex(&spec.bytes));
        pins.insert(surfaces.file_name(), surfaces.sha256.clone());
        let gates_bytes = fsio::read_regular(&gates.path, crate::tomlio::SPEC_LIMIT)?;
        pins.insert(name_of(&gates.path), digest::sha256_hex(&gates_bytes));
        pins.insert(
            name_of(&spec.rollback_plan),
            digest::sha256_hex(&plan_bytes),
        );
        Ok(Inputs {
            spec,
            surfaces,
            gates,
            plan,
            plan_bytes,
            pins,
        })
    }

    fn surfaces_name(&self) -> String {
        name_of(&self.spec.surfaces)
    }

    fn gates_name(&self) -> String {
        name_of(&self.spec.gates)
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

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Checks `out` can receive a packet; returns its parent directory.
fn prepare_out(out: &Path, force: bool) -> Result<PathBuf> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(Error::io(
            &parent,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "--out: parent directory does not exist",
            ),
        ));
    }
    if out.symlink_metadata().is_ok() && !force {
        return Err(Error::refused(format!(
            "{} already exists; pass --force to replace it",
            out.display()
        )));
    }
    Ok(parent)
}

/// Moves the finished packet into place (replacing an old one with --force).
fn publish(staging: tempfile::TempDir, out: &Path) -> Result<()> {
    let built = staging.keep();
    if out.symlink_metadata().is_ok() {
        let parent = out
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let old = tempfile::Builder::new()
            .prefix(".holdfast-old-")
            .tempdir_in(&parent)
            .at(&parent)?;
        let old_path = old.path().join("packet");
        std::fs::rename(out, &old_path).at(out)?;
        std::fs::rename(&built, out).at(out)?;
        drop(old);
    } else {
        std::fs::rename(&built, out).at(out)?;
    }
    fsio::sync_dir(
        out.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    )
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
