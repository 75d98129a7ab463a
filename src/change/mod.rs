//! Governed changes: an authorized command (`kind = "change"`) with its
//! rollback command and, per surface, the parts it may change.
//!
//! A run that performs a change (`[run] change = "<id>"`):
//!
//! 1. **rehearses** it on a staging copy of every `files` surface (and a
//!    `CREATE DATABASE ... TEMPLATE` copy of every `postgres` surface it may
//!    change, dropped afterwards): the
//!    change, then its rollback, with a snapshot of the copies before,
//!    between and after, and a snapshot of the real surfaces afterwards.
//!    The rehearsal passes only when the copy was exact, the changed parts
//!    stay inside the declared set, the rolled-back copies equal the
//!    before snapshot digest for digest, both commands succeeded, and the
//!    real surfaces were not touched. Otherwise the real change is not run.
//! 2. runs the **real** change (stdin closed, deadline, process group
//!    killed) between the run's before and after snapshots;
//! 3. when it **fails** (non-zero exit, timeout, an escaped process, a part
//!    outside its set), runs the rollback and snapshots again:
//!    `ROLLED_BACK_EXACT` when every surface is back to its before digest.
//!
//! The command finds each `files` surface through the environment
//! variable [`root_env`]`(id)` (`HOLDFAST_ROOT_<ID>`: the id upper-cased,
//! every other character `_`), which points at the staging copy during the
//! rehearsal and at the real root afterwards, and the connection string of
//! each `postgres` surface it may change through [`pg_env`]`(id)`
//! (`HOLDFAST_PG_<ID>`, the copy, then the real database); `HOLDFAST_PHASE` says which
//! (`rehearsal-change`, `rehearsal-rollback`, `change`, `rollback`) and
//! `HOLDFAST_CHANGE` names the change. It runs in the spec directory.
//!
//! What was observed ([`ChangeRecord`], the snapshots) is primary evidence;
//! what it means ([`ChangeResult`]) is derived by [`derive_result`], which
//! `verify --rerun` runs again.

pub mod exec;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::authz::ChangeSpec;
use crate::error::{Error, IoContext, Result};
use crate::progress::Progress;
use crate::surface::snapshot::{self, Snapshot};
use crate::surface::spec::{SnapshotSpec, Table};
use crate::{canonical, fsio, surface};

/// What the change's commands did (primary evidence).
pub const RECORD_FILE: &str = "change-record.json";
/// What the change's evidence means (derived).
pub const RESULT_FILE: &str = "change-result.json";
/// The rehearsal's staging copies, before the change.
pub const REHEARSAL_BEFORE_FILE: &str = "change-rehearsal-before.json";
/// The rehearsal's staging copies, after the change.
pub const REHEARSAL_AFTER_FILE: &str = "change-rehearsal-after.json";
/// The rehearsal's staging copies, after the rollback.
pub const REHEARSAL_ROLLED_BACK_FILE: &str = "change-rehearsal-rolled-back.json";
/// The real surfaces after the rehearsal (must equal the before snapshot).
pub const AFTER_REHEARSAL_FILE: &str = "surface-snapshot-after-rehearsal.json";
/// The real surfaces after the rollback of a failed change.
pub const ROLLED_BACK_FILE: &str = "surface-snapshot-rolled-back.json";
/// Every file a change can add to a packet, primary evidence first.
pub const FILES: [&str; 7] = [
    RECORD_FILE,
    REHEARSAL_BEFORE_FILE,
    REHEARSAL_AFTER_FILE,
    REHEARSAL_ROLLED_BACK_FILE,
    AFTER_REHEARSAL_FILE,
    ROLLED_BACK_FILE,
    RESULT_FILE,
];
/// How many bytes of each stream's text the packet keeps.
pub const TEXT_CAP: usize = 4096;
/// What replaces the pass token in kept text.
pub const REDACTED: &str = "[REDACTED]";
/// `format` of [`ChangeRecord`].
pub const RECORD_FORMAT: &str = "holdfast-change-record/1";
/// `format` of [`ChangeResult`].
pub const RESULT_FORMAT: &str = "holdfast-change-result/1";
/// The status of a rollback that put every surface back.
pub const ROLLED_BACK_EXACT: &str = "ROLLED_BACK_EXACT";
/// The status of a rollback that did not.
pub const ROLLBACK_NOT_EXACT: &str = "ROLLBACK_NOT_EXACT";

/// The environment variable that gives a change the root of `files`
/// surface `id`: `HOLDFAST_ROOT_` and the id upper-cased, every character
/// that is not a letter or digit written `_`.
pub fn root_env(id: &str) -> String {
    let tail: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("HOLDFAST_ROOT_{tail}")
}

/// Which command of a change ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// The change, on the staging copies.
    RehearsalChange,
    /// The rollback, on the staging copies.
    RehearsalRollback,
    /// The change, on the real surfaces.
    Change,
    /// The rollback, on the real surfaces (after a failed change).
    Rollback,
}

impl Phase {
    /// The spelling in JSON and in `HOLDFAST_PHASE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::RehearsalChange => "rehearsal-change",
            Phase::RehearsalRollback => "rehearsal-rollback",
            Phase::Change => "change",
            Phase::Rollback => "rollback",
        }
    }
}

/// One stream of one command, as the packet keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamRecord {
    /// sha256 of every byte read (before redaction).
    pub sha256: String,
    /// How many bytes were read.
    pub bytes: u64,
    /// The first [`TEXT_CAP`] bytes as text (invalid UTF-8 replaced), the
    /// pass token replaced by [`REDACTED`].
    pub text: String,
    /// More bytes were read than `text` keeps.
    pub truncated: bool,
    /// The stream reached its end (false: reading was stopped).
    pub complete: bool,
}

/// One command of a change and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecRecord {
    /// Which command.
    pub phase: Phase,
    /// Its argv, as authorized.
    pub argv: Vec<String>,
    /// Its exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// It ran past its deadline; its process group was killed.
    pub timed_out: bool,
    /// Its output stayed open after its process group was gone.
    pub escaped: bool,
    /// Why it could not be started.
    pub start_error: Option<String>,
    /// stdout.
    pub stdout: StreamRecord,
    /// stderr.
    pub stderr: StreamRecord,
}

impl ExecRecord {
    /// Why the command did not succeed, or `None` when it exited 0 in time
    /// with nothing left holding its output.
    pub fn failure(&self) -> Option<String> {
        if let Some(e) = &self.start_error {
            return Some(format!("could not start: {e}"));
        }
        if self.timed_out {
            return Some("ran past its deadline; its process group was killed".into());
        }
        if self.escaped {
            return Some(
                "its output stayed open after its process group ended: a process it started escaped the group"
                    .into(),
            );
        }
        match (self.exit_code, self.signal) {
            (Some(0), _) => None,
            (Some(c), _) => Some(format!("exited with code {c}")),
            (None, Some(s)) => Some(format!("killed by signal {s}")),
            (None, None) => Some("ended without an exit code".into()),
        }
    }
}

/// The rehearsal, as observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RehearsalRecord {
    /// The `files` surfaces copied to staging, in spec order.
    pub copied: Vec<String>,
    /// Why the rehearsal could not be made (then nothing ran).
    pub impossible: Option<String>,
    /// The rehearsal's commands: the change, then the rollback.
    pub runs: Vec<ExecRecord>,
}

/// `change-record.json`: what the change's commands did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeRecord {
    /// Always [`RECORD_FORMAT`].
    pub format: String,
    /// The change's id.
    pub change: String,
    /// The rehearsal on the staging copies.
    pub rehearsal: RehearsalRecord,
    /// The real commands: the change, and the rollback when it failed.
    pub real: Vec<ExecRecord>,
}

/// What the rehearsal shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RehearsalVerdict {
    /// Every check held: the real change may run.
    pub passed: bool,
    /// The surfaces copied to staging.
    pub copied: Vec<String>,
    /// Parts the change changed on the copies (`surface:part`).
    pub changed: Vec<String>,
    /// Of those, the parts outside the declared set.
    pub outside: Vec<String>,
    /// Parts that differ from the before snapshot after the rollback.
    pub not_restored: Vec<String>,
    /// Copied surfaces whose copy did not snapshot like the original.
    pub copy_differs: Vec<String>,
    /// Parts of the real surfaces that changed during the rehearsal.
    pub real_touched: Vec<String>,
    /// Every reason it did not pass, in words.
    pub problems: Vec<String>,
}

/// What the real change did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealVerdict {
    /// Exit 0 in time, and every changed part inside the declared set.
    pub succeeded: bool,
    /// Parts it changed (`surface:part`).
    pub changed: Vec<String>,
    /// Of those, the parts outside the declared set.
    pub outside: Vec<String>,
    /// Why it failed.
    pub failure: Option<String>,
}

/// What the rollback of a failed change did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackVerdict {
    /// [`ROLLED_BACK_EXACT`] or [`ROLLBACK_NOT_EXACT`].
    pub status: String,
    /// Why the rollback command did not succeed, if it did not.
    pub command_failure: Option<String>,
    /// Parts that differ from the before snapshot (`surface:part`).
    pub differs: Vec<String>,
}

/// `change-result.json`: what the change's evidence means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeResult {
    /// Always [`RESULT_FORMAT`].
    pub format: String,
    /// The change's id.
    pub change: String,
    /// The command and its rollback, as authorized.
    pub argv: Vec<String>,
    /// The rollback command.
    pub rollback: Vec<String>,
    /// The declared change set.
    pub may_change: BTreeMap<String, Vec<String>>,
    /// The rehearsal.
    pub rehearsal: RehearsalVerdict,
    /// The real change ran.
    pub performed: bool,
    /// What it did.
    pub real: Option<RealVerdict>,
    /// The rollback after a failure.
    pub rollback_result: Option<RollbackVerdict>,
    /// A surface of the production table changed (the derived
    /// `flags.production_mutation`).
    pub production_mutation: bool,
    /// Parts of the real surfaces (`surface:part`) that changed while the
    /// change's commands ran: during the rehearsal (a command that strayed
    /// from its copies) and the real change. Not empty exactly when the run
    /// wrote to live systems (the derived `flags.live_system_contact =
    /// "read-write"`).
    pub touched_real: Vec<String>,
}

impl ChangeResult {
    /// Why the packet must fail because of the change (a failed change and
    /// what its rollback did), or `None`.
    pub fn failure(&self) -> Option<String> {
        let real = self.real.as_ref()?;
        let why = real.failure.clone()?;
        let rb = match &self.rollback_result {
            Some(r) if r.status == ROLLED_BACK_EXACT => {
                format!("rolled back: {ROLLED_BACK_EXACT}")
            }
            Some(r) => format!(
                "rolled back: {} ({}{})",
                r.status,
                r.command_failure
                    .as_deref()
                    .map(|f| format!("the rollback {f}; "))
                    .unwrap_or_default(),
                if r.differs.is_empty() {
                    "no part differs".to_string()
                } else {
                    format!("differs: {}", r.differs.join(", "))
                }
            ),
            None => "no rollback recorded".into(),
        };
        Some(format!("change {} failed: {why}; {rb}", self.change))
    }
}

/// Every part that differs between two snapshots, as `surface:part`
/// (`surface:*` for a surface present in one only), sorted.
pub fn diff(before: &Snapshot, after: &Snapshot) -> Vec<(String, String)> {
    let ids: BTreeSet<&String> = before
        .surfaces
        .keys()
        .chain(after.surfaces.keys())
        .collect();
    let mut out = Vec::new();
    for id in ids {
        match (before.surfaces.get(id), after.surfaces.get(id)) {
            (Some(b), Some(a)) => {
                let parts: BTreeSet<&String> = b.parts.keys().chain(a.parts.keys()).collect();
                for p in parts {
                    if b.parts.get(p) != a.parts.get(p) {
                        out.push((id.clone(), p.clone()));
                    }
                }
                if (b.digest != a.digest && b.parts == a.parts) || b.method != a.method {
                    out.push((id.clone(), "*".into()));
                }
            }
            _ => out.push((id.clone(), "*".into())),
        }
    }
    out.sort();
    out.dedup();
    out
}

fn spelled(parts: &[(String, String)]) -> Vec<String> {
    parts.iter().map(|(s, p)| format!("{s}:{p}")).collect()
}

/// The parts of `changed` outside the change's declared set.
pub fn outside(c: &ChangeSpec, changed: &[(String, String)]) -> Vec<(String, String)> {
    changed
        .iter()
        .filter(|(s, p)| !c.may_change(s, p))
        .cloned()
        .collect()
}

/// Whether any changed part belongs to a surface of the production table.
pub fn touches_production(surfaces: &surface::LoadedSpec, changed: &[(String, String)]) -> bool {
    changed.iter().any(|(id, _)| {
        surfaces
            .spec
            .surfaces
            .iter()
            .any(|s| &s.id == id && s.table == Table::Production)
    })
}

/// What a rehearsal copies, by surface id: every `files` surface's root (as
/// the spec resolves it; `@NAME` roots through `named`) and every
/// `postgres` surface the change may change (copied from a template); or
/// why the change cannot be rehearsed: a surface it may change that is
/// neither (a `command` surface, say) cannot be copied. A pure function of
/// the spec.
pub fn copies(
    surfaces: &surface::LoadedSpec,
    named: &BTreeMap<String, PathBuf>,
    c: &ChangeSpec,
) -> std::result::Result<Vec<(String, Target)>, String> {
    let base = surfaces.base_dir();
    let mut out = Vec::new();
    for (s, snap) in surfaces.spec.surfaces.iter().zip(&surfaces.snapshots) {
        let target = match snap {
            SnapshotSpec::Files { root, .. } => match root.strip_prefix('@') {
                Some(name) => named.get(name).cloned().map(Target::Dir),
                None => Some(Target::Dir(base.join(root))),
            },
            // A database the change may change is copied with
            // CREATE DATABASE ... TEMPLATE; the others are only read.
            SnapshotSpec::Postgres {
                connection,
                connection_env,
                options,
            } if c.may_change.contains_key(&s.id) && !options.all_databases => {
                Some(Target::Database {
                    connection: connection.clone(),
                    connection_env: connection_env.clone(),
                })
            }
            _ => None,
        };
        let copyable = match target {
            Some(t) => {
                out.push((s.id.clone(), t));
                true
            }
            None => false,
        };
        if !copyable && c.may_change.contains_key(&s.id) {
            let why = match snap {
                SnapshotSpec::Files { root, .. } => {
                    format!("its root {root:?} is a directory only the run knows")
                }
                SnapshotSpec::Postgres { .. } => {
                    "it reads every database of the server (all_databases = true): only one database \
                     can be copied from a template"
                        .to_string()
                }
                other => format!("it is read by method {}", other.method().as_str()),
            };
            return Err(format!(
                "change {} may change surface {}, which cannot be copied ({why}): the change cannot be rehearsed on a copy",
                c.id, s.id
            ));
        }
    }
    Ok(out)
}

/// What a rehearsal copies of one surface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A `files` surface's root directory.
    Dir(PathBuf),
    /// A `postgres` surface's database (its connection string, inline or
    /// the name of the variable holding it).
    Database {
        /// The connection string, inline.
        connection: Option<String>,
        /// The variable holding it.
        connection_env: Option<String>,
    },
}

/// The environment variable that gives a change the connection string of
/// `postgres` surface `id` (`HOLDFAST_PG_<ID>`, spelled like [`root_env`]).
pub fn pg_env(id: &str) -> String {
    root_env(id).replacen("HOLDFAST_ROOT_", "HOLDFAST_PG_", 1)
}

/// A database copied from a template for a rehearsal; dropped (with
/// `FORCE`) when this goes out of scope, whatever happened in between.
struct DbCopy {
    admin: String,
    name: String,
}

/// Connects with `connection`, taking a missing password from the pgpass
/// file as a `postgres` surface does (never from `PGPASSWORD`, which would
/// go to whatever server a spec names).
fn connect(connection: &str) -> std::result::Result<postgres::Client, String> {
    let mut config = crate::pgconn::parse_config(connection)?;
    crate::pgconn::fill_password_from_pgpass(&mut config)?;
    config
        .connect(postgres::NoTls)
        .map_err(|e| snapshot::postgres::pg_error(&e))
}

impl Drop for DbCopy {
    fn drop(&mut self) {
        if let Ok(mut c) = connect(&self.admin) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// Creates `CREATE DATABASE <copy> TEMPLATE <original>` for surface `id`;
/// returns the copy (dropped on drop) and its connection string. The name
/// is derived from the surface and database, so a packet stays
/// reproducible; a template with other sessions cannot be copied, and then
/// the rehearsal is impossible (the error says so).
fn copy_database(id: &str, connection: &str) -> std::result::Result<(DbCopy, String), String> {
    if connection.contains("://") {
        return Err(
            "give the connection string in key=value form, so a copy can be named in it".into(),
        );
    }
    let config = snapshot::postgres::parse_config(connection)?;
    let original = config
        .get_dbname()
        .ok_or("the connection string names no dbname")?
        .to_string();
    let name = format!(
        "holdfast_rehearsal_{}",
        &crate::digest::sha256_hex(format!("{id}\0{original}").as_bytes())[..16]
    );
    let admin = format!("{connection} dbname=postgres application_name=holdfast-rehearsal");
    let mut client =
        connect(&admin).map_err(|e| format!("cannot connect to create the copy: {e}"))?;
    let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
    client
        .batch_execute(&format!(
            "CREATE DATABASE \"{name}\" TEMPLATE \"{}\"",
            original.replace('"', "\"\"")
        ))
        .map_err(|e| {
            format!(
                "CREATE DATABASE ... TEMPLATE {original} failed: {}",
                snapshot::postgres::pg_error(&e)
            )
        })?;
    let copy_conn = format!("{connection} dbname={name}");
    Ok((DbCopy { admin, name }, copy_conn))
}

fn resolve_connection(
    id: &str,
    connection: &Option<String>,
    connection_env: &Option<String>,
) -> std::result::Result<String, String> {
    match (connection, connection_env) {
        (Some(c), _) => Ok(c.clone()),
        (None, Some(var)) => std::env::var(var)
            .map_err(|_| format!("surface {id}: environment variable {var} is not set")),
        (None, None) => Err(format!("surface {id}: no connection given")),
    }
}

/// Copies the directory `from` to `to` (created), files, directories and
/// permissions; refuses links and special files: a link could lead the
/// rehearsal out of its copy onto the real system.
pub fn copy_tree(from: &Path, to: &Path) -> std::result::Result<(), String> {
    for entry in walkdir::WalkDir::new(from).sort_by_file_name() {
        let entry = entry.map_err(|e| format!("cannot walk the root: {e}"))?;
        let rel = entry
            .path()
            .strip_prefix(from)
            .map_err(|_| "a path outside the root".to_string())?;
        let dest = to.join(rel);
        let ft = entry.file_type();
        if ft.is_dir() {
            std::fs::create_dir_all(&dest).map_err(|e| format!("{}: {e}", rel.display()))?;
        } else if ft.is_file() {
            std::fs::copy(entry.path(), &dest).map_err(|e| format!("{}: {e}", rel.display()))?;
        } else {
            return Err(format!(
                "{} is a link or special file, which a copy cannot reproduce safely",
                rel.display()
            ));
        }
    }
    Ok(())
}

fn stream(c: &exec::Captured, token: &str) -> StreamRecord {
    StreamRecord {
        sha256: c.sha256.clone(),
        bytes: c.bytes,
        text: redact(&String::from_utf8_lossy(&c.head), token),
        truncated: c.bytes > c.head.len() as u64,
        complete: c.complete,
    }
}

/// `text` with every occurrence of the pass token replaced by [`REDACTED`].
pub fn redact(text: &str, token: &str) -> String {
    if token.is_empty() {
        text.to_string()
    } else {
        text.replace(token, REDACTED)
    }
}

/// What a change run needs to know besides the change.
pub struct Context<'a> {
    /// The surfaces spec.
    pub surfaces: &'a surface::LoadedSpec,
    /// The spec directory (the commands' working directory).
    pub cwd: &'a Path,
    /// Directories only the run knows (`@registry`).
    pub named: &'a BTreeMap<String, PathBuf>,
    /// The pass token to redact.
    pub token: &'a str,
    /// The declared `flags.production_mutation`.
    pub declared_production_mutation: bool,
    /// Whether `flags.live_system_contact` says `read-write`.
    pub declared_read_write: bool,
    /// `packet.toml`, for errors.
    pub spec_file: &'a Path,
}

fn run_one(
    c: &ChangeSpec,
    phase: Phase,
    targets: &[(String, String)],
    ctx: &Context<'_>,
) -> ExecRecord {
    let argv = match phase {
        Phase::RehearsalChange | Phase::Change => &c.argv,
        Phase::RehearsalRollback | Phase::Rollback => &c.rollback,
    };
    let mut env: Vec<(String, String)> = targets.to_vec();
    env.push(("HOLDFAST_PHASE".into(), phase.as_str().into()));
    env.push(("HOLDFAST_CHANGE".into(), c.id.clone()));
    let o = exec::execute(
        argv,
        ctx.cwd,
        &env,
        Duration::from_secs(c.timeout_seconds),
        TEXT_CAP,
    );
    ExecRecord {
        phase,
        argv: argv.clone(),
        exit_code: o.exit_code,
        signal: o.signal,
        timed_out: o.timed_out,
        escaped: o.escaped,
        start_error: o.start_error,
        stdout: stream(&o.stdout, ctx.token),
        stderr: stream(&o.stderr, ctx.token),
    }
}

/// Rehearses the change on staging copies and, when the rehearsal passes,
/// performs it on the real surfaces (and rolls it back when it fails).
/// Writes [`RECORD_FILE`] and the snapshots into the packet directory
/// `dir`; `before` is the run's before snapshot. `Err` when the rehearsal
/// contradicts `flags.production_mutation` (nothing real was run) or a
/// snapshot cannot be taken. Returns the after snapshot when the real
/// change ran (it is taken before any rollback, and written as the run's
/// after snapshot), `None` when it did not.
pub fn perform(
    c: &ChangeSpec,
    ctx: &Context<'_>,
    dir: &Path,
    before: &Snapshot,
    progress: &dyn Progress,
) -> Result<Option<Snapshot>> {
    let mut record = ChangeRecord {
        format: RECORD_FORMAT.into(),
        change: c.id.clone(),
        rehearsal: RehearsalRecord {
            copied: Vec::new(),
            impossible: None,
            runs: Vec::new(),
        },
        real: Vec::new(),
    };
    let write_record = |r: &ChangeRecord| -> Result<()> {
        fsio::write_atomic(&dir.join(RECORD_FILE), &canonical::to_bytes(r)?)
    };
    let copies = match copies(ctx.surfaces, ctx.named, c) {
        Ok(list) => list,
        Err(why) => {
            record.rehearsal.impossible = Some(why);
            return write_record(&record).map(|()| None);
        }
    };
    record.rehearsal.copied = copies.iter().map(|(id, _)| id.clone()).collect();
    let staging = tempfile::Builder::new()
        .prefix("holdfast-rehearsal-")
        .tempdir()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let mut staged = Vec::new();
    let mut staged_dbs: Vec<(String, String)> = Vec::new();
    let mut db_copies = Vec::new();
    let mut real_env: Vec<(String, String)> = Vec::new();
    for (i, (id, target)) in copies.iter().enumerate() {
        let copied = match target {
            Target::Dir(root) => {
                let to = staging.path().join(i.to_string());
                copy_tree(root, &to).map(|()| {
                    staged.push((id.clone(), to));
                })
            }
            Target::Database {
                connection,
                connection_env,
            } => resolve_connection(id, connection, connection_env).and_then(|conn| {
                let (copy, copy_conn) = copy_database(id, &conn)?;
                db_copies.push(copy);
                staged_dbs.push((id.clone(), copy_conn));
                real_env.push((pg_env(id), conn));
                Ok(())
            }),
        };
        if let Err(why) = copied {
            record.rehearsal.impossible = Some(format!(
                "surface {id} cannot be copied for the rehearsal: {why}"
            ));
            return write_record(&record).map(|()| None);
        }
    }
    let staged_map: BTreeMap<String, PathBuf> = staged.iter().cloned().collect();
    let staged_conns: BTreeMap<String, String> = staged_dbs.iter().cloned().collect();
    let mut staged_env: Vec<(String, String)> = staged
        .iter()
        .map(|(id, dir)| (root_env(id), dir.display().to_string()))
        .collect();
    staged_env.extend(staged_dbs.iter().map(|(id, c)| (pg_env(id), c.clone())));
    let snap_copies = |name: &str| -> Result<Snapshot> {
        let s = snapshot::take_rooted_with(
            ctx.surfaces,
            ctx.named,
            &staged_map,
            &staged_conns,
            progress,
        )?;
        snapshot::write(&dir.join(name), &s)?;
        Ok(s)
    };
    let reh_before = snap_copies(REHEARSAL_BEFORE_FILE)?;
    record
        .rehearsal
        .runs
        .push(run_one(c, Phase::RehearsalChange, &staged_env, ctx));
    let reh_after = snap_copies(REHEARSAL_AFTER_FILE)?;
    record
        .rehearsal
        .runs
        .push(run_one(c, Phase::RehearsalRollback, &staged_env, ctx));
    let reh_rolled = snap_copies(REHEARSAL_ROLLED_BACK_FILE)?;
    drop(staging);
    drop(db_copies);
    let real_after_reh = snapshot::take_with(ctx.surfaces, ctx.named, progress)?;
    snapshot::write(&dir.join(AFTER_REHEARSAL_FILE), &real_after_reh)?;
    let verdict = rehearsal_verdict(
        c,
        &record.rehearsal,
        before,
        Some(&RehearsalSnapshots {
            before: &reh_before,
            after: &reh_after,
            rolled_back: &reh_rolled,
            real_after: &real_after_reh,
        }),
    );
    if !verdict.passed {
        return write_record(&record).map(|()| None);
    }
    let changed = diff(&reh_before, &reh_after);
    let production = touches_production(ctx.surfaces, &changed);
    if production != ctx.declared_production_mutation {
        return Err(Error::malformed(
            ctx.spec_file,
            format!(
                "flags.production_mutation: says {}, but the rehearsal shows change {} {}; the real change was not run",
                ctx.declared_production_mutation,
                c.id,
                if production {
                    "changes a production surface"
                } else {
                    "changes no production surface"
                }
            ),
        ));
    }
    // The rehearsal changed parts of the copies (it passed, so it changed
    // some): run for real, the change writes to the live surfaces.
    if !ctx.declared_read_write {
        return Err(Error::malformed(
            ctx.spec_file,
            format!(
                "flags.live_system_contact: the rehearsal shows change {} changes {}, so running it writes to the real surfaces; say \"read-write\"; the real change was not run",
                c.id,
                spelled(&changed).join(", ")
            ),
        ));
    }
    for (id, target) in &copies {
        if let Target::Dir(root) = target {
            let abs = root.canonicalize().at(root)?;
            real_env.push((root_env(id), abs.display().to_string()));
        }
    }
    let real_roots = real_env;
    let run = run_one(c, Phase::Change, &real_roots, ctx);
    let ran_ok = run.failure().is_none();
    record.real.push(run);
    // The run's after snapshot is taken by the caller; the failure test
    // needs it now, so it is taken here and handed over.
    let after = snapshot::take_with(ctx.surfaces, ctx.named, progress)?;
    snapshot::write(
        &dir.join(crate::surface::snapshot::SNAPSHOT_AFTER_FILE),
        &after,
    )?;
    let out = outside(c, &diff(before, &after));
    if !ran_ok || !out.is_empty() {
        record
            .real
            .push(run_one(c, Phase::Rollback, &real_roots, ctx));
        let rolled = snapshot::take_with(ctx.surfaces, ctx.named, progress)?;
        snapshot::write(&dir.join(ROLLED_BACK_FILE), &rolled)?;
    }
    write_record(&record)?;
    Ok(Some(after))
}

/// The rehearsal's snapshots.
pub struct RehearsalSnapshots<'a> {
    /// The copies before the change.
    pub before: &'a Snapshot,
    /// The copies after the change.
    pub after: &'a Snapshot,
    /// The copies after the rollback.
    pub rolled_back: &'a Snapshot,
    /// The real surfaces after the rehearsal.
    pub real_after: &'a Snapshot,
}

/// What the rehearsal shows (pure): see the module docs for the checks.
pub fn rehearsal_verdict(
    c: &ChangeSpec,
    rec: &RehearsalRecord,
    real_before: &Snapshot,
    snaps: Option<&RehearsalSnapshots<'_>>,
) -> RehearsalVerdict {
    let mut v = RehearsalVerdict {
        passed: false,
        copied: rec.copied.clone(),
        changed: Vec::new(),
        outside: Vec::new(),
        not_restored: Vec::new(),
        copy_differs: Vec::new(),
        real_touched: Vec::new(),
        problems: Vec::new(),
    };
    if let Some(why) = &rec.impossible {
        v.problems
            .push(format!("the rehearsal is impossible: {why}"));
        return v;
    }
    let Some(s) = snaps else {
        v.problems
            .push("the rehearsal's snapshots are missing".into());
        return v;
    };
    for (i, phase) in [Phase::RehearsalChange, Phase::RehearsalRollback]
        .into_iter()
        .enumerate()
    {
        match rec.runs.get(i) {
            Some(r) if r.phase == phase => {
                if let Some(f) = r.failure() {
                    let what = if phase == Phase::RehearsalChange {
                        "the change"
                    } else {
                        "the rollback"
                    };
                    v.problems.push(format!("{what} on the copy {f}"));
                }
            }
            _ => v
                .problems
                .push(format!("no {} run is recorded", phase.as_str())),
        }
    }
    for id in &rec.copied {
        // A TEMPLATE copy is another database: its own name, oid, owner and
        // ACL (the `database` part, and so the digest over all parts) differ
        // by construction; every other part must be equal.
        let view = |snap: &Snapshot| {
            snap.surfaces.get(id).map(|x| {
                if x.method == crate::surface::Method::Postgres {
                    let mut parts = x.parts.clone();
                    parts.remove("database");
                    (x.method, None, parts)
                } else {
                    (x.method, x.digest.clone(), x.parts.clone())
                }
            })
        };
        if view(s.before) != view(real_before) {
            v.copy_differs.push(id.clone());
        }
    }
    if !v.copy_differs.is_empty() {
        v.problems.push(format!(
            "the staging copy of {} does not snapshot like the original",
            v.copy_differs.join(", ")
        ));
    }
    let changed = diff(s.before, s.after);
    v.outside = spelled(&outside(c, &changed));
    v.changed = spelled(&changed);
    if !v.outside.is_empty() {
        v.problems.push(format!(
            "on the copy the change changed part(s) outside its declared set: {}",
            v.outside.join(", ")
        ));
    }
    if v.changed.is_empty() {
        v.problems
            .push("on the copy the change changed nothing: there is nothing to roll back, and no evidence it does what it says".into());
    }
    v.not_restored = spelled(&diff(s.before, s.rolled_back));
    if !v.not_restored.is_empty() {
        v.problems.push(format!(
            "after the rollback the copy differs from the before snapshot: {}",
            v.not_restored.join(", ")
        ));
    }
    v.real_touched = spelled(&diff(real_before, s.real_after));
    if !v.real_touched.is_empty() {
        v.problems.push(format!(
            "the real surfaces changed during the rehearsal (the command does not keep to {}): {}",
            "its HOLDFAST_ROOT_* directories",
            v.real_touched.join(", ")
        ));
    }
    v.passed = v.problems.is_empty();
    v
}

fn read_snapshot(dir: &Path, name: &str) -> Result<Option<Snapshot>> {
    if dir.join(name).exists() {
        Ok(Some(snapshot::read(&dir.join(name))?.0))
    } else {
        Ok(None)
    }
}

/// Derives [`ChangeResult`] from the packet directory `dir` (the record and
/// the snapshots) and the spec, and writes [`RESULT_FILE`]. Fails closed
/// when the recorded evidence is inconsistent with itself or the spec:
/// commands other than the authorized ones, a real run after a failed
/// rehearsal, a missing or surplus rollback, a pass token in kept text.
pub fn derive_result(
    c: &ChangeSpec,
    surfaces: &surface::LoadedSpec,
    names: &[String],
    dir: &Path,
    token: &str,
) -> Result<ChangeResult> {
    // Only which names exist matters here, not where they were.
    let named: BTreeMap<String, PathBuf> = names
        .iter()
        .map(|n| (n.clone(), PathBuf::from(n)))
        .collect();
    let path = dir.join(RECORD_FILE);
    let rec: ChangeRecord = canonical::read_strict(&path, crate::fsio::ARTIFACT_LIMIT)?;
    let bad = |what: String| Error::failed(format!("{RECORD_FILE}: {what}"));
    if rec.format != RECORD_FORMAT || rec.change != c.id {
        return Err(bad(format!(
            "not the record of change {:?} in format {RECORD_FORMAT}",
            c.id
        )));
    }
    for r in rec.rehearsal.runs.iter().chain(&rec.real) {
        let want = match r.phase {
            Phase::RehearsalChange | Phase::Change => &c.argv,
            Phase::RehearsalRollback | Phase::Rollback => &c.rollback,
        };
        if &r.argv != want {
            return Err(bad(format!(
                "the {} command {:?} is not the authorized one",
                r.phase.as_str(),
                r.argv
            )));
        }
        if !token.is_empty() && (r.stdout.text.contains(token) || r.stderr.text.contains(token)) {
            return Err(bad(format!(
                "the kept output of {} holds the pass token unredacted",
                r.phase.as_str()
            )));
        }
    }
    // The spec decides what is copied, and whether a copy is possible at all.
    match copies(surfaces, &named, c) {
        Err(why) if rec.rehearsal.impossible.as_deref() != Some(why.as_str()) => {
            return Err(bad(format!(
                "the spec makes the rehearsal impossible ({why}), the record says otherwise"
            )));
        }
        Ok(list)
            if list
                .iter()
                .map(|(id, _)| id)
                .ne(rec.rehearsal.copied.iter()) =>
        {
            return Err(bad("copied: not the files surfaces of the spec".into()));
        }
        _ => {}
    }
    let (before, _) = snapshot::read(&dir.join(crate::surface::snapshot::SNAPSHOT_BEFORE_FILE))?;
    let (after, _) = snapshot::read(&dir.join(crate::surface::snapshot::SNAPSHOT_AFTER_FILE))?;
    let reh = [
        read_snapshot(dir, REHEARSAL_BEFORE_FILE)?,
        read_snapshot(dir, REHEARSAL_AFTER_FILE)?,
        read_snapshot(dir, REHEARSAL_ROLLED_BACK_FILE)?,
        read_snapshot(dir, AFTER_REHEARSAL_FILE)?,
    ];
    let ran = rec.rehearsal.impossible.is_none();
    if reh.iter().any(|s| s.is_some() != ran) || (!ran && !rec.rehearsal.runs.is_empty()) {
        return Err(bad(
            "the rehearsal's snapshots and runs do not match whether it was made".into(),
        ));
    }
    let snaps = match &reh {
        [Some(b), Some(a), Some(r), Some(ra)] => Some(RehearsalSnapshots {
            before: b,
            after: a,
            rolled_back: r,
            real_after: ra,
        }),
        _ => None,
    };
    let rehearsal = rehearsal_verdict(c, &rec.rehearsal, &before, snaps.as_ref());
    let rolled = read_snapshot(dir, ROLLED_BACK_FILE)?;
    let mut result = ChangeResult {
        format: RESULT_FORMAT.into(),
        change: c.id.clone(),
        argv: c.argv.clone(),
        rollback: c.rollback.clone(),
        may_change: c.may_change.clone(),
        performed: !rec.real.is_empty(),
        real: None,
        rollback_result: None,
        production_mutation: false,
        touched_real: rehearsal.real_touched.clone(),
        rehearsal,
    };
    if !result.rehearsal.passed {
        if result.performed || rolled.is_some() {
            return Err(bad(
                "the real change is recorded as run, but the rehearsal did not pass".into(),
            ));
        }
        result.production_mutation = touches_production(surfaces, &diff(&before, &after));
        return Ok(result);
    }
    let Some(run) = rec.real.first().filter(|r| r.phase == Phase::Change) else {
        return Err(bad(
            "the rehearsal passed, yet no real change run is recorded".into(),
        ));
    };
    let changed = diff(&before, &after);
    let out = outside(c, &changed);
    let failure = match (run.failure(), out.is_empty()) {
        (Some(f), true) => Some(format!("the command {f}")),
        (Some(f), false) => Some(format!(
            "the command {f}, and it changed part(s) outside its declared set: {}",
            spelled(&out).join(", ")
        )),
        (None, false) => Some(format!(
            "it changed part(s) outside its declared set: {}",
            spelled(&out).join(", ")
        )),
        (None, true) => None,
    };
    let rollback = rec.real.get(1).filter(|r| r.phase == Phase::Rollback);
    if failure.is_some() != rollback.is_some()
        || failure.is_some() != rolled.is_some()
        || rec.real.len() != 1 + usize::from(failure.is_some())
    {
        return Err(bad(
            "a rollback is recorded exactly when the real change failed, and it is not so here"
                .into(),
        ));
    }
    if let (Some(rb), Some(rolled)) = (rollback, &rolled) {
        let differs = spelled(&diff(&before, rolled));
        let command_failure = rb.failure();
        result.rollback_result = Some(RollbackVerdict {
            status: if differs.is_empty() && command_failure.is_none() {
                ROLLED_BACK_EXACT.into()
            } else {
                ROLLBACK_NOT_EXACT.into()
            },
            command_failure,
            differs,
        });
    }
    result.production_mutation = touches_production(surfaces, &changed);
    result.touched_real.extend(spelled(&changed));
    result.touched_real.sort();
    result.touched_real.dedup();
    result.real = Some(RealVerdict {
        succeeded: failure.is_none(),
        changed: spelled(&changed),
        outside: spelled(&out),
        failure,
    });
    Ok(result)
}

/// The derived-blocker fact of a change whose rehearsal was impossible, read
/// from the packet's [`RECORD_FILE`] in `dir` and citing its
/// `rehearsal.impossible` (pinned by the file's sha256); `None` when the
/// record is absent or the rehearsal was made. `derive_result` has already
/// checked that the spec makes the rehearsal impossible exactly when the
/// record says so, so a forger cannot drop the fact by editing the record.
pub fn impossible_rehearsal(
    c: &ChangeSpec,
    dir: &Path,
) -> Result<Option<crate::gate::citation::GateFact>> {
    let path = dir.join(RECORD_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let bytes = fsio::read_regular(&path, crate::fsio::ARTIFACT_LIMIT)?;
    let rec: ChangeRecord = canonical::from_slice_strict(&bytes, &path)?;
    let Some(why) = rec.rehearsal.impossible else {
        return Ok(None);
    };
    Ok(Some(crate::gate::facts_file::impossible_rehearsal(
        &c.id,
        c.may_change.keys().cloned().collect::<Vec<_>>().join(", "),
        &why,
        vec![crate::gate::citation::BlockerEvidence::Artifact(
            crate::model::fact::ArtifactCitation {
                file: RECORD_FILE.to_string(),
                sha256: crate::digest::sha256_hex(&bytes),
                at: "/rehearsal/impossible".into(),
                value: Some(why.clone()),
            },
        )],
    )))
}

/// The README's line about the governed change of the packet in `dir`
/// (rendered from `change-result.json`), or `None` when it has none.
pub fn readme_line(dir: &Path) -> Result<Option<String>> {
    if !dir.join(RESULT_FILE).is_file() {
        return Ok(None);
    }
    let r: ChangeResult =
        canonical::read_strict(&dir.join(RESULT_FILE), crate::fsio::ARTIFACT_LIMIT)?;
    let h = &r.rehearsal;
    let rehearsal = if h.passed {
        format!(
            "rehearsed on a staging copy of {} first: it changed {}, its rollback restored every digest",
            h.copied.join(", "),
            h.changed.join(", ")
        )
    } else {
        format!(
            "its rehearsal on a copy did NOT pass ({})",
            h.problems.join("; ")
        )
    };
    let real = match (&r.real, &r.rollback_result) {
        (None, _) => "the real change was NOT run".to_string(),
        (Some(v), _) if v.succeeded => format!(
            "then run on the real surfaces: changed {}, every part inside its declared set",
            v.changed.join(", ")
        ),
        (Some(v), rb) => format!(
            "then run on the real surfaces and FAILED ({}); rolled back: {}",
            v.failure.as_deref().unwrap_or("failed"),
            rb.as_ref()
                .map_or("no rollback recorded".to_string(), |rb| {
                    if rb.differs.is_empty() {
                        rb.status.clone()
                    } else {
                        format!("{} (differs: {})", rb.status, rb.differs.join(", "))
                    }
                })
        ),
    };
    Ok(Some(format!(
        "Governed change {} (`{}`, rollback `{}`; `{RESULT_FILE}`) — {rehearsal}; {real}.",
        r.change,
        r.argv.join(" "),
        r.rollback.join(" ")
    )))
}

/// Writes `change-result.json` into `dir`.
pub fn write_result(dir: &Path, r: &ChangeResult) -> Result<()> {
    fsio::write_atomic(&dir.join(RESULT_FILE), &canonical::to_bytes(r)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_env_names_are_shell_words() {
        assert_eq!(root_env("service-config"), "HOLDFAST_ROOT_SERVICE_CONFIG");
        assert_eq!(root_env("a.b_c9"), "HOLDFAST_ROOT_A_B_C9");
    }

    #[test]
    fn redaction_replaces_every_token() {
        assert_eq!(redact("xTOKyTOK", "TOK"), "x[REDACTED]y[REDACTED]");
        assert_eq!(redact("x", ""), "x");
    }

    fn rec(phase: Phase, code: i32) -> ExecRecord {
        let s = StreamRecord {
            sha256: String::new(),
            bytes: 0,
            text: String::new(),
            truncated: false,
            complete: true,
        };
        ExecRecord {
            phase,
            argv: vec!["x".into()],
            exit_code: Some(code),
            signal: None,
            timed_out: false,
            escaped: false,
            start_error: None,
            stdout: s.clone(),
            stderr: s,
        }
    }

    #[test]
    fn a_command_fails_unless_it_exits_zero_in_time_alone() {
        assert_eq!(rec(Phase::Change, 0).failure(), None);
        assert!(rec(Phase::Change, 2).failure().unwrap().contains("code 2"));
        let mut r = rec(Phase::Change, 0);
        r.escaped = true;
        assert!(r.failure().unwrap().contains("escaped"));
        r.timed_out = true;
        assert!(r.failure().unwrap().contains("deadline"));
    }
}
