//! A run's inputs: `packet.toml` and the files it names, read once, parsed,
//! cross-checked, and kept byte for byte so the packet can carry them in
//! `spec/` and `verify --rerun` can re-derive the packet from them alone.

use std::collections::BTreeMap;
use std::path::Path;

use super::manifest::BoundaryRecord;
use super::spec::{LiveContact, LoadedSpec, SPEC_FILE};
use crate::authz::AuthorizedMutation;
use crate::error::{Error, Result};
use crate::gate::blocker::ClosingChecks;
use crate::surface::SurfaceInventory;
use crate::surface::snapshot::Method;
use crate::{digest, fsio, gate, surface};

/// The folder of a packet that carries the run's inputs, byte for byte.
pub const SPEC_DIR: &str = "spec";

/// Every spec input, loaded and cross-checked. Reading needs only the spec
/// files: the source tree and the registry are observed separately.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// `packet.toml`, parsed, with its paths resolved.
    pub spec: LoadedSpec,
    /// `surfaces.toml`.
    pub surfaces: surface::LoadedSpec,
    /// `gates.toml`.
    pub gates: crate::probe::spec::LoadedSpec,
    /// The rollback plan, checked.
    pub plan: gate::plan::PlanReport,
    /// The rollback plan's bytes.
    pub plan_bytes: Vec<u8>,
    /// Every input file by its path relative to the spec directory (`/`
    /// separated), with the bytes that were parsed: what `spec/` carries.
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Inputs {
    /// Reads and cross-checks the spec in `spec_dir`. Each file is read
    /// once: the bytes parsed are the bytes carried and pinned.
    pub fn load(spec_dir: &Path) -> Result<Self> {
        // A scaffold's TODO markers first: "fill this in" says more than
        // the parse error a placeholder value would give.
        let spec_file = spec_dir.join(SPEC_FILE);
        if let Ok(bytes) = fsio::read_regular(&spec_file, crate::tomlio::SPEC_LIMIT) {
            refuse_todo(&spec_file, &bytes)?;
        }
        let spec = LoadedSpec::load(spec_dir)?;
        let surfaces = surface::LoadedSpec::load(&spec.surfaces)?;
        let gates_bytes = fsio::read_regular(&spec.gates, crate::tomlio::SPEC_LIMIT)?;
        let gates = crate::probe::spec::LoadedSpec {
            spec: crate::probe::load::parse(&gates_bytes, &spec.gates)?,
            dir: fsio::parent_dir(&spec.gates),
            path: spec.gates.clone(),
        };
        let plan_bytes = fsio::read_regular(&spec.rollback_plan, gate::plan::PLAN_LIMIT)?;
        let plan_text = std::str::from_utf8(&plan_bytes).map_err(|e| {
            let (line, col) = crate::tomlio::line_col(&plan_bytes, e.valid_up_to());
            Error::malformed(
                &spec.rollback_plan,
                format!("line {line}, column {col}: not valid UTF-8"),
            )
        })?;
        let plan = gate::plan::check(plan_text);
        refuse_todo(&spec.surfaces, surfaces.bytes())?;
        refuse_todo(&spec.gates, &gates_bytes)?;
        let token = gate::verdict::pass_token(gates.spec.probes.pass_token.as_deref());
        // Every TOML input already refuses the default pass token; a token
        // gates.toml configures is refused in the other inputs here.
        if token != gate::verdict::pass_token(None) {
            refuse_token(&spec_file, &spec.bytes, token)?;
            refuse_token(&spec.surfaces, surfaces.bytes(), token)?;
        }
        gate::verdict::check_status_prefix(&spec.spec.packet.status_prefix, token)
            .map_err(|why| Error::malformed(&spec_file, format!("packet.status_prefix: {why}")))?;
        check_mutation_surfaces(&spec, &surfaces, &spec_file)?;
        check_live_contact(&spec, &surfaces, &spec_file)?;
        let rel = |p: &Path| p.to_string_lossy().replace('\\', "/");
        let f = &spec.spec.files;
        let mut files = BTreeMap::new();
        files.insert(SPEC_FILE.to_string(), spec.bytes.clone());
        for (key, path, bytes) in [
            ("files.surfaces", &f.surfaces, surfaces.bytes().to_vec()),
            ("files.gates", &f.gates, gates_bytes),
            ("files.rollback_plan", &f.rollback_plan, plan_bytes.clone()),
        ] {
            let name = rel(path);
            if let Some(prev) = files.insert(name.clone(), bytes.clone())
                && prev != bytes
            {
                return Err(Error::malformed(
                    &spec_file,
                    format!("{key}: {name} names a file another key of packet.toml names"),
                ));
            }
        }
        Ok(Inputs {
            spec,
            surfaces,
            gates,
            plan,
            plan_bytes,
            files,
        })
    }

    /// The sha256 of every carried input by its relative path, plus
    /// `extra` (the registry import file's pin, which the packet records
    /// but does not carry).
    pub fn pins(&self, extra: Option<&(String, String)>) -> BTreeMap<String, String> {
        let mut pins: BTreeMap<String, String> = self
            .files
            .iter()
            .map(|(name, bytes)| (name.clone(), digest::sha256_hex(bytes)))
            .collect();
        if let Some((name, sha)) = extra {
            pins.insert(name.clone(), sha.clone());
        }
        pins
    }

    /// The name `surfaces.toml` has in the spec (as recorded in commands).
    pub fn surfaces_name(&self) -> String {
        self.spec.spec.files.surfaces.display().to_string()
    }

    /// The name `gates.toml` has in the spec.
    pub fn gates_name(&self) -> String {
        self.spec.spec.files.gates.display().to_string()
    }

    /// Which registry the run used, in words (no machine path, no URL),
    /// as packet.toml names it: a `holdfast run --registry` override is not
    /// recorded (the packet's bytes do not depend on where the registry is
    /// kept; `verify --registry` names the registry that binds it).
    pub fn registry_description(&self) -> String {
        match (
            &self.spec.spec.registry.import,
            &self.spec.spec.registry.url,
        ) {
            (Some(f), _) => format!(
                "a working copy imported from {} for this run (the team's registry is not changed)",
                f.display()
            ),
            (None, Some(_)) => {
                "the team's long-lived registry (registry.url of packet.toml)".to_string()
            }
            (None, None) => {
                "the team's long-lived registry (registry.dir of packet.toml)".to_string()
            }
        }
    }

    /// The boundaries with the surface ids each covers.
    pub fn boundaries(&self) -> Vec<BoundaryRecord> {
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

    /// Writes the carried inputs under `dir/spec/`.
    pub fn write_carried(&self, dir: &Path) -> Result<()> {
        for (name, bytes) in &self.files {
            let path = dir.join(SPEC_DIR).join(name);
            let parent = fsio::parent_dir(&path);
            std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
            fsio::write_atomic(&path, bytes)?;
        }
        Ok(())
    }
}

/// Refuses a spec file that still holds a `TODO` marker outside a comment
/// (what `holdfast init` leaves for a person to fill in).
fn refuse_todo(path: &Path, bytes: &[u8]) -> Result<()> {
    let text = String::from_utf8_lossy(bytes);
    match super::init::first_todo(&text) {
        None => Ok(()),
        Some((line, found)) => Err(Error::malformed(
            path,
            format!(
                "line {line}: still holds a TODO marker from `holdfast init` ({found}); replace it with a real value (the comment above it says what)"
            ),
        )),
    }
}

/// Refuses a TOML input whose keys or values spell `token` (the pass
/// token gates.toml configures); the message never repeats the token.
fn refuse_token(path: &Path, bytes: &[u8], token: &str) -> Result<()> {
    let raw: serde_json::Value = crate::tomlio::parse(bytes, path)?;
    match gate::verdict::find_token_claim(&raw, token, &[]) {
        None => Ok(()),
        Some(at) => Err(Error::malformed(
            path,
            format!(
                "{at}: contains the pass token configured in gates.toml; an input may not claim it"
            ),
        )),
    }
}

/// What a run observes of the source tree: every citation of the
/// inventories hashed, and every closing citation of the blockers checked.
/// Both are primary evidence; a stale or escaping citation stops the run
/// before any registry write.
pub fn observe_citations(inputs: &Inputs) -> Result<(Vec<SurfaceInventory>, ClosingChecks)> {
    let inventories = surface::inventory::build(&inputs.surfaces, &inputs.spec.source_root)?;
    let closing =
        gate::assemble::check_closing(&inputs.gates.spec.blocker, &inputs.spec.source_root)?;
    Ok((inventories, closing))
}

/// The registry import file's pin, when the spec imports one.
pub fn import_pin(inputs: &Inputs) -> Result<Option<(String, String)>> {
    match (
        inputs.spec.registry_import()?,
        &inputs.spec.spec.registry.import,
    ) {
        (Some(file), Some(rel)) => {
            let bytes = fsio::read_regular(&file, super::evidence::ARTIFACT_LIMIT)?;
            Ok(Some((
                rel.display().to_string(),
                digest::sha256_hex(&bytes),
            )))
        }
        _ => Ok(None),
    }
}

/// Every authorized mutation names a registry surface snapshot with root
/// `@registry`, so the proof can match the fold's pins.
fn check_mutation_surfaces(
    spec: &LoadedSpec,
    surfaces: &surface::LoadedSpec,
    spec_file: &Path,
) -> Result<()> {
    let mut envs: BTreeMap<String, &str> = BTreeMap::new();
    for s in &surfaces.spec.surfaces {
        if let Some(other) = envs.insert(crate::change::root_env(&s.id), &s.id)
            && spec.spec.authorization.changes().next().is_some()
        {
            return Err(Error::malformed(
                spec_file,
                format!(
                    "surfaces {other:?} and {:?} would share the variable {} a change finds its root in; rename one",
                    s.id,
                    crate::change::root_env(&s.id)
                ),
            ));
        }
    }
    for (i, m) in spec.spec.authorization.mutations.iter().enumerate() {
        let id = match m {
            AuthorizedMutation::RegistryFold { surface, .. } => surface,
            AuthorizedMutation::Change(c) => {
                for id in c.may_change.keys() {
                    if !surfaces.spec.surfaces.iter().any(|s| &s.id == id) {
                        return Err(Error::malformed(
                            spec_file,
                            format!(
                                "authorization.mutations[{i}].may_change: {id:?} is not a surface of {}",
                                surfaces.file_name()
                            ),
                        ));
                    }
                }
                continue;
            }
        };
        let at = format!("authorization.mutations[{i}].surface");
        let Some(pos) = surfaces.spec.surfaces.iter().position(|s| &s.id == id) else {
            return Err(Error::malformed(
                spec_file,
                format!("{at}: {id:?} is not a surface of {}", surfaces.file_name()),
            ));
        };
        match surfaces.snapshots.get(pos) {
            Some(surface::spec::SnapshotSpec::Files { root, .. }) if root == "@registry" => {}
            _ => {
                return Err(Error::malformed(
                    spec_file,
                    format!(
                        "{at}: surface {id:?} must be snapshot with method = \"files\" and \
                         root = \"@registry\", so the proof can match the fold's pins"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A command may reach anything; a postgres snapshot reads a live database.
/// Either way "no live contact" cannot be stated.
fn check_live_contact(
    spec: &LoadedSpec,
    surfaces: &surface::LoadedSpec,
    spec_file: &Path,
) -> Result<()> {
    if let Some(m) = surfaces
        .snapshots
        .iter()
        .map(|s| s.method())
        .find(|m| matches!(m, Method::Postgres | Method::Command))
        && spec.spec.flags.live_system_contact == LiveContact::None
    {
        return Err(Error::malformed(
            spec_file,
            format!(
                "flags.live_system_contact: a {} snapshot may read a live system; say \"read-only\"",
                m.as_str()
            ),
        ));
    }
    Ok(())
}

/// Loads the inputs a packet carries in `spec/`, by writing them to a
/// private directory (the loaders resolve paths against a spec directory).
/// Nothing outside the packet is read; `spec/` may hold nothing but the
/// files `packet.toml` names.
pub fn load_carried(packet: &super::model::Packet) -> Result<(Inputs, tempfile::TempDir)> {
    let work = tempfile::Builder::new()
        .prefix("holdfast-spec-")
        .tempdir()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let prefix = format!("{SPEC_DIR}/");
    let carried: Vec<&str> = packet.paths().filter(|p| p.starts_with(&prefix)).collect();
    if carried.is_empty() {
        return Err(Error::malformed(
            packet.dir().join(SPEC_DIR),
            "the packet carries no spec/ folder: it cannot be re-derived (packets made before the spec was carried must be made again)",
        ));
    }
    for path in &carried {
        let dest = work.path().join(&path[prefix.len()..]);
        let parent = fsio::parent_dir(&dest);
        std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        fsio::write_atomic(&dest, packet.bytes(path)?)?;
    }
    let inputs = Inputs::load(work.path()).map_err(|e| {
        Error::malformed(
            packet.dir().join(SPEC_DIR),
            e.to_string()
                .replace(&work.path().display().to_string(), SPEC_DIR),
        )
    })?;
    if let Some(extra) = carried
        .iter()
        .find(|p| !inputs.files.contains_key(&p[prefix.len()..]))
    {
        return Err(Error::malformed(
            packet.dir().join(extra),
            "spec/ carries a file that packet.toml does not name",
        ));
    }
    Ok((inputs, work))
}
