//! Read-only snapshots of the surfaces: per surface a digest, per-part
//! digests (per file, per table) and a short description of what was read.
//!
//! A snapshot records the sha256 of the spec it was taken from and the
//! boundaries, so `prove` can refuse a BEFORE and an AFTER that do not
//! describe the same surfaces. A surface's digest is the sha256 of the
//! canonical JSON of its parts map, so it can be recomputed (and a hand-edited
//! snapshot detected) from the parts alone.

pub mod command;
pub mod files;
pub mod keyed;
pub mod postgres;

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::spans::Seg;
use super::spec::{LoadedSpec, Policy, SnapshotSpec, Status, Table, resolve_members};
use crate::canonical;
use crate::digest;
use crate::error::{Error, Result};
use crate::fsio;
use crate::model::level::Level;
use crate::progress::Progress;

pub use super::spec::Method;

/// File name of the surface snapshot taken before the mutation, in a packet.
pub const SNAPSHOT_BEFORE_FILE: &str = "surface-snapshot-before.json";
/// File name of the surface snapshot taken after the mutation, in a packet.
pub const SNAPSHOT_AFTER_FILE: &str = "surface-snapshot-after.json";
/// The `format` value of a snapshot file.
pub const SNAPSHOT_FORMAT: &str = "holdfast-snapshot/1";
/// Largest snapshot file `prove` reads.
pub const SNAPSHOT_LIMIT: u64 = 256 * 1024 * 1024;

/// A snapshot of every surface of a spec (`holdfast snapshot SPEC --out FILE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Always `holdfast-snapshot/1`.
    pub format: String,
    /// sha256 of the surfaces spec's bytes.
    pub spec_sha256: String,
    /// sha256 of the canonical JSON of `boundaries`.
    pub boundaries_sha256: String,
    /// The boundaries of the spec, with the surfaces each covers.
    pub boundaries: Vec<BoundaryRecord>,
    /// The spec's policy.
    pub policy: Policy,
    /// Per surface id, what was read.
    pub surfaces: BTreeMap<String, SurfaceSnapshot>,
}

/// A boundary as recorded in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BoundaryRecord {
    /// Boundary id.
    pub id: String,
    /// What is forbidden.
    pub title: String,
    /// The entries as written (ids or globs).
    pub surfaces: Vec<String>,
    /// The surface ids they matched when the snapshot was taken.
    pub covers: Vec<String>,
}

/// What was read of one surface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SurfaceSnapshot {
    /// How it was read.
    pub method: Method,
    /// Its inventory table.
    pub table: Table,
    /// Its status in the inventory.
    pub status: Status,
    /// Its mutation risk (absent when unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Level>,
    /// sha256 of the canonical JSON of `parts`; absent for method `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Per-part digests: relative file path, `mode:<path>`, `owner:<path>`,
    /// `stdout`, `schema`, `table:<schema>.<name>` (keyed digests for a
    /// sensitive surface).
    pub parts: BTreeMap<String, String>,
    /// What was read, in a few words.
    pub description: String,
    /// The command's exit code (method `command` only; always 0 when recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The database that was read (method `postgres` only, where it is
    /// required): `prove` refuses to compare snapshots of different targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<postgres::PgTarget>,
}

/// What a snapshot method read: parts, a description, maybe an exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// Per-part digests.
    pub parts: BTreeMap<String, String>,
    /// A short description of what was read.
    pub description: String,
    /// Exit code (commands only).
    pub exit_code: Option<i32>,
}

/// Why BEFORE and AFTER of one surface cannot be compared, when they read
/// different databases (or one of them records no target): `None` when
/// they can.
pub fn target_mismatch(before: &SurfaceSnapshot, after: &SurfaceSnapshot) -> Option<String> {
    match (&before.target, &after.target) {
        (None, None) => None,
        (Some(b), Some(a)) if b.same_database(a) => None,
        (Some(b), Some(a)) => Some(format!(
            "BEFORE read {}, AFTER read {}",
            b.describe(),
            a.describe()
        )),
        (b, _) => Some(format!(
            "only {} records which database it read",
            if b.is_some() { "BEFORE" } else { "AFTER" }
        )),
    }
}

/// The digest of a parts map: sha256 of its canonical JSON.
pub fn parts_digest(parts: &BTreeMap<String, String>) -> Result<String> {
    Ok(digest::sha256_hex(&canonical::to_bytes(parts)?))
}

/// sha256 of the canonical JSON of the boundaries.
pub fn boundaries_digest(b: &[BoundaryRecord]) -> Result<String> {
    Ok(digest::sha256_hex(&canonical::to_bytes(b)?))
}

/// Takes a snapshot of every surface of `spec`, in spec order. Any surface
/// that cannot be read fails the whole snapshot: nothing partial is returned.
pub fn take(spec: &LoadedSpec, progress: &dyn Progress) -> Result<Snapshot> {
    take_with(spec, &BTreeMap::new(), progress)
}

/// [`take`], resolving a `files` root written `@NAME` to `named[NAME]`.
/// `holdfast run` names the directories only it knows, such as `@registry`
/// (the registry the run folds, which may be a fresh working copy).
pub fn take_with(
    spec: &LoadedSpec,
    named: &BTreeMap<String, std::path::PathBuf>,
    progress: &dyn Progress,
) -> Result<Snapshot> {
    take_rooted(spec, named, &BTreeMap::new(), progress)
}

/// [`take_with`], reading the `files` surface with id `ID` under
/// `roots[ID]` instead of its spec root (a governed change's rehearsal
/// snapshots its staging copies this way). The snapshot records the root as
/// the spec writes it, so a copy that is exact snapshots byte for byte like
/// the original.
pub fn take_rooted(
    spec: &LoadedSpec,
    named: &BTreeMap<String, std::path::PathBuf>,
    roots: &BTreeMap<String, std::path::PathBuf>,
    progress: &dyn Progress,
) -> Result<Snapshot> {
    take_rooted_with(spec, named, roots, &BTreeMap::new(), progress)
}

/// [`take_rooted`], also reading the `postgres` surface with id `ID`
/// through the connection string `conns[ID]` (a rehearsal's template copy).
pub fn take_rooted_with(
    spec: &LoadedSpec,
    named: &BTreeMap<String, std::path::PathBuf>,
    roots: &BTreeMap<String, std::path::PathBuf>,
    conns: &BTreeMap<String, String>,
    progress: &dyn Progress,
) -> Result<Snapshot> {
    let base = spec.base_dir();
    let mut surfaces = BTreeMap::new();
    for (i, s) in spec.spec.surfaces.iter().enumerate() {
        let key = |field: &str| spec.surface_key(i, &format!("snapshot.{field}"));
        let err_at = |field: &'static str, what: String| {
            spec.error_at(
                &[
                    Seg::Key("surface"),
                    Seg::Index(i),
                    Seg::Key("snapshot"),
                    Seg::Key(field),
                ],
                &key(field),
                what,
            )
        };
        let snap_spec = spec.snapshots.get(i).unwrap_or(&SnapshotSpec::None);
        let method = snap_spec.method();
        let mut target = None;
        let reading = match snap_spec {
            SnapshotSpec::None => None,
            SnapshotSpec::Files {
                root,
                include,
                exclude,
                owner,
                key,
            } => Some(files::read(
                &match root.strip_prefix('@') {
                    _ if roots.contains_key(&s.id) => roots[&s.id].clone(),
                    Some(name) => named.get(name).cloned().ok_or_else(|| {
                        err_at(
                            "root",
                            format!(
                                "{root:?} names a directory only `holdfast run` knows \
                                 (known here: {})",
                                if named.is_empty() {
                                    "none".to_string()
                                } else {
                                    named
                                        .keys()
                                        .map(|k| format!("@{k}"))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                }
                            ),
                        )
                    })?,
                    None => base.join(root),
                },
                root,
                include.as_deref(),
                exclude,
                files::Pin {
                    owner: *owner,
                    key: keyed::load_opt(key.as_ref(), &base, &err_at)?.as_ref(),
                },
                progress,
                &err_at,
            )?),
            SnapshotSpec::Command {
                argv,
                cwd,
                timeout_seconds,
                key,
            } => Some(command::read(
                &base,
                argv,
                cwd.as_deref(),
                *timeout_seconds,
                keyed::load_opt(key.as_ref(), &base, &err_at)?.as_ref(),
                &s.id,
            )?),
            SnapshotSpec::Postgres {
                connection,
                connection_env,
                options,
            } => {
                let (conn, field) = match (connection, connection_env) {
                    _ if conns.contains_key(&s.id) => (conns[&s.id].clone(), "connection"),
                    (Some(c), _) => (c.clone(), "connection"),
                    (None, Some(var)) => (
                        std::env::var(var).map_err(|_| {
                            err_at(
                                "connection_env",
                                format!("environment variable {var} is not set (or not UTF-8)"),
                            )
                        })?,
                        "connection_env",
                    ),
                    (None, None) => return Err(err_at("connection", "no connection given".into())),
                };
                postgres::parse_config(&conn).map_err(|e| err_at(field, e))?;
                let r = postgres::read(&conn, options, &s.id)?;
                target = Some(r.target);
                Some(r.reading)
            }
        };
        let snap = match reading {
            None => SurfaceSnapshot {
                method,
                table: s.table,
                status: s.status,
                risk: s.risk,
                digest: None,
                parts: BTreeMap::new(),
                description: "not read: no snapshot method; can only be declared not contacted"
                    .into(),
                exit_code: None,
                target: None,
            },
            Some(r) => SurfaceSnapshot {
                method,
                table: s.table,
                status: s.status,
                risk: s.risk,
                digest: Some(parts_digest(&r.parts)?),
                parts: r.parts,
                description: r.description,
                exit_code: r.exit_code,
                target,
            },
        };
        surfaces.insert(s.id.clone(), snap);
    }
    let ids: Vec<&str> = spec.spec.surfaces.iter().map(|s| s.id.as_str()).collect();
    let mut boundaries = Vec::with_capacity(spec.spec.boundaries.len());
    for b in &spec.spec.boundaries {
        boundaries.push(BoundaryRecord {
            id: b.id.clone(),
            title: b.title.clone(),
            surfaces: b.surfaces.clone(),
            covers: resolve_members(&b.surfaces, &ids)
                .map_err(|e| Error::malformed(&spec.path, e))?,
        });
    }
    Ok(Snapshot {
        format: SNAPSHOT_FORMAT.into(),
        spec_sha256: spec.sha256.clone(),
        boundaries_sha256: boundaries_digest(&boundaries)?,
        boundaries,
        policy: spec.spec.policy.clone(),
        surfaces,
    })
}

/// Writes a snapshot as canonical JSON, atomically.
pub fn write(path: &Path, snapshot: &Snapshot) -> Result<Vec<u8>> {
    let bytes = canonical::to_bytes(snapshot)?;
    fsio::write_atomic(path, &bytes)?;
    Ok(bytes)
}

/// Reads a snapshot file strictly and checks it is internally consistent
/// (format, hex digests, each digest recomputed from its parts, the
/// boundaries' digest), so a hand-edited snapshot cannot pass for a real one.
/// Returns the snapshot and the sha256 of the file's bytes.
pub fn read(path: &Path) -> Result<(Snapshot, String)> {
    let bytes = fsio::read_regular(path, SNAPSHOT_LIMIT)?;
    let snap: Snapshot = canonical::from_slice_strict(&bytes, path)?;
    validate(&snap).map_err(|what| Error::malformed(path, what))?;
    refuse_pass_token(&snap, path)?;
    Ok((snap, digest::sha256_hex(&bytes)))
}

/// Refuses an input (read from `path`) whose values or keys spell the
/// default pass token, however the file escaped it: what `prove` reads
/// becomes the proof, and only the verdict may produce the token.
pub(crate) fn refuse_pass_token<T: Serialize>(value: &T, path: &Path) -> Result<()> {
    let v = serde_json::to_value(value).map_err(|e| Error::malformed(path, e.to_string()))?;
    let token = crate::gate::verdict::pass_token(None);
    match crate::model::token::find_token_claim(&v, token, &[]) {
        Some(at) => Err(Error::malformed(
            path,
            format!("{at}: contains the pass token; an input may not claim it"),
        )),
        None => Ok(()),
    }
}

/// The consistency rules of [`read`], as a pure function.
pub fn validate(snap: &Snapshot) -> std::result::Result<(), String> {
    if snap.format != SNAPSHOT_FORMAT {
        return Err(format!(
            "format: {:?} is not {SNAPSHOT_FORMAT:?}",
            snap.format
        ));
    }
    if !crate::seal::is_sha256_hex(&snap.spec_sha256) {
        return Err("spec_sha256: expected 64 lowercase hex digits".into());
    }
    let bd = boundaries_digest(&snap.boundaries).map_err(|e| e.to_string())?;
    if bd != snap.boundaries_sha256 {
        return Err(format!(
            "boundaries_sha256: recorded {}, the boundaries hash to {bd}",
            snap.boundaries_sha256
        ));
    }
    for (id, s) in &snap.surfaces {
        match (&s.target, s.method) {
            (None, Method::Postgres) => {
                return Err(format!(
                    "surfaces.{id}.target: missing for method postgres (which database was read); take the snapshot again"
                ));
            }
            (Some(_), m) if m != Method::Postgres => {
                return Err(format!(
                    "surfaces.{id}.target: only method postgres records a target, not {}",
                    m.as_str()
                ));
            }
            (Some(t), _)
                if t.system_identifier.is_empty()
                    || !t.system_identifier.bytes().all(|b| b.is_ascii_digit()) =>
            {
                return Err(format!(
                    "surfaces.{id}.target.system_identifier: expected decimal digits"
                ));
            }
            _ => {}
        }
        for (part, hex) in &s.parts {
            if !crate::seal::is_sha256_hex(hex) {
                return Err(format!(
                    "surfaces.{id}.parts.{part}: expected 64 lowercase hex digits"
                ));
            }
        }
        match (&s.digest, s.method) {
            (None, Method::None) if s.parts.is_empty() => {}
            (None, Method::None) => {
                return Err(format!("surfaces.{id}: method none but parts recorded"));
            }
            (None, m) => {
                return Err(format!(
                    "surfaces.{id}.digest: missing for method {}",
                    m.as_str()
                ));
            }
            (Some(_), Method::None) => {
                return Err(format!("surfaces.{id}.digest: method none has no digest"));
            }
            (Some(d), _) => {
                let actual = parts_digest(&s.parts).map_err(|e| e.to_string())?;
                if *d != actual {
                    return Err(format!(
                        "surfaces.{id}.digest: recorded {d}, its parts hash to {actual}"
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;
    use std::fs;

    const SPEC: &str = r#"
[[surface]]
id = "registry"
table = "production"
name = "Governance registry"
kind = "registry"
status = "known"
risk = "high"
gate = "authorized fold"
[[surface.evidence]]
path = "surfaces.toml"
[surface.snapshot]
method = "files"
root = "reg"
exclude = ["history/**"]

[[surface]]
id = "cms"
table = "production"
name = "CMS"
kind = "cms"
status = "known"
risk = "critical"
gate = "editor"
[[surface.evidence]]
path = "surfaces.toml"

[[boundary]]
id = "no-mutation"
title = "NO production mutation"
surfaces = ["*"]
"#;

    fn setup() -> (tempfile::TempDir, LoadedSpec) {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("reg/history")).unwrap();
        fs::write(d.path().join("reg/registry.json"), "{}\n").unwrap();
        fs::write(d.path().join("reg/history/1"), "x").unwrap();
        fs::write(d.path().join("surfaces.toml"), SPEC).unwrap();
        let spec = LoadedSpec::load(&d.path().join("surfaces.toml")).unwrap();
        (d, spec)
    }

    #[test]
    fn snapshot_is_deterministic_and_self_consistent() {
        let (d, spec) = setup();
        let a = take(&spec, &NoProgress).unwrap();
        let b = take(&spec, &NoProgress).unwrap();
        assert_eq!(
            canonical::to_bytes(&a).unwrap(),
            canonical::to_bytes(&b).unwrap()
        );
        validate(&a).unwrap();
        let reg = &a.surfaces["registry"];
        assert_eq!(
            reg.parts.keys().collect::<Vec<_>>(),
            ["mode:registry.json", "registry.json"]
        );
        assert_eq!(a.surfaces["cms"].method, Method::None);
        assert_eq!(a.surfaces["cms"].digest, None);
        assert_eq!(a.boundaries[0].covers, ["registry", "cms"]);
        let p = d.path().join("snap.json");
        let bytes = write(&p, &a).unwrap();
        let (back, sha) = read(&p).unwrap();
        assert_eq!(back, a);
        assert_eq!(sha, digest::sha256_hex(&bytes));
    }

    #[test]
    fn tampered_snapshots_are_refused() {
        let (_d, spec) = setup();
        let a = take(&spec, &NoProgress).unwrap();
        let mut t = a.clone();
        t.surfaces
            .get_mut("registry")
            .unwrap()
            .parts
            .insert("registry.json".into(), "0".repeat(64));
        assert!(validate(&t).unwrap_err().contains("parts hash to"));
        let mut t = a.clone();
        t.boundaries[0].covers.pop();
        assert!(validate(&t).unwrap_err().contains("boundaries_sha256"));
        let mut t = a.clone();
        t.format = "x".into();
        assert!(validate(&t).is_err());
        let mut t = a;
        t.surfaces.get_mut("cms").unwrap().digest = Some("0".repeat(64));
        assert!(validate(&t).is_err());
    }
}
