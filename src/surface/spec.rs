//! `surfaces.toml`: the surfaces a run depends on (Tables B and C), how to
//! snapshot each one read-only, the boundaries (forbidden action classes and
//! the surfaces each covers), and the policy.
//!
//! Loading is strict: serde refuses unknown keys and bad values with their
//! line; [`LoadedSpec::parse`] then checks the rules serde cannot express
//! (unique ids, no invented risk or gate on an unknown surface, a gate on
//! every known one, boundaries that name real surfaces) and reports each with
//! the file, the key and the line. Nothing here touches the file system
//! beyond reading the spec itself: citations and snapshots are checked by
//! their own modules.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::citation::{LineRange, check_relative_path};
use super::spans::{Seg, locate};
use crate::digest;
use crate::error::{Error, Result};
use crate::fsio;
use crate::model::level::Level;
use crate::tomlio;

/// Default time a `command` snapshot may run before it is killed.
pub const DEFAULT_COMMAND_TIMEOUT_SECONDS: u64 = 60;
/// Longest `timeout_seconds` a `command` snapshot may ask for (one day).
pub const MAX_COMMAND_TIMEOUT_SECONDS: u64 = 86_400;

/// The whole `surfaces.toml` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SurfacesSpec {
    /// Optional rules that make the proof stricter.
    #[serde(default)]
    pub policy: Policy,
    /// The surfaces (`[[surface]]` tables), in the order the tables show them.
    #[serde(default, rename = "surface")]
    pub surfaces: Vec<SurfaceSpec>,
    /// The forbidden action classes (`[[boundary]]` tables).
    #[serde(default, rename = "boundary")]
    pub boundaries: Vec<BoundarySpec>,
    /// What the packet calls the two tables (absent: plain defaults).
    #[serde(default, skip_serializing_if = "TableLabels::is_empty")]
    pub labels: TableLabels,
}

/// The names a spec gives its two inventory tables, e.g. `production =
/// "Table B"`: the inventory heading becomes "Table B: production
/// surfaces". Absent, the packet says only "Production surfaces": a spec's
/// own words, never another spec's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TableLabels {
    /// The production table's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production: Option<String>,
    /// The CI/deploy table's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_deploy: Option<String>,
}

/// A label a packet shows as words: one line of 1 to 80 characters, with
/// no control characters and no Markdown markup characters.
pub fn check_label(l: &str) -> std::result::Result<(), String> {
    if l.trim().is_empty() || l.trim() != l {
        return Err(format!(
            "{l:?} must be words, without leading or trailing spaces"
        ));
    }
    if l.chars().count() > 80 {
        return Err("longer than 80 characters".into());
    }
    if let Some(c) = l
        .chars()
        .find(|c| c.is_control() || matches!(c, '`' | '*' | '|' | '<' | '>' | '[' | ']' | '\\'))
    {
        return Err(format!(
            "{c:?} is not allowed in a label (plain words only)"
        ));
    }
    Ok(())
}

impl TableLabels {
    /// Neither table is named.
    pub fn is_empty(&self) -> bool {
        self.production.is_none() && self.ci_deploy.is_none()
    }

    /// The name the spec gives `table`, if any.
    pub fn of(&self, table: Table) -> Option<&str> {
        match table {
            Table::Production => self.production.as_deref(),
            Table::CiDeploy => self.ci_deploy.as_deref(),
        }
    }
}

/// Optional rules that make the proof stricter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Mutation-risk levels for which a forbidden surface must be proven by a
    /// digest: such a surface with no snapshot method ("declared not
    /// contacted") becomes a blocker fact. Usually `["critical"]`.
    #[serde(default)]
    pub require_digest_for: Vec<Level>,
}

/// Which inventory table a surface belongs to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Table {
    /// Table B: production systems (databases, CMS, issue tracker, secrets, evidence store).
    Production,
    /// Table C: CI and deploy systems.
    CiDeploy,
}

impl Table {
    /// Both tables, in packet order.
    pub const ALL: [Table; 2] = [Table::Production, Table::CiDeploy];

    /// The spelling used in `surfaces.toml` and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Table::Production => "production",
            Table::CiDeploy => "ci-deploy",
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the surface's mutation risk and gate are established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Risk and gate are known and cited.
    Known,
    /// Not established: carries no risk or gate, and is a blocker.
    Unknown,
}

/// One surface (`[[surface]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SurfaceSpec {
    /// Unique id: letters, digits, `.`, `_`, `-` (used in blocker ids and boundaries).
    pub id: String,
    /// `production` (Table B) or `ci-deploy` (Table C).
    pub table: Table,
    /// Human name, e.g. "Production PostgreSQL".
    pub name: String,
    /// Free-text kind, e.g. `database`, `cms`, `ci`, `secrets`.
    pub kind: String,
    /// `known` or `unknown`.
    pub status: Status,
    /// Mutation risk; required when known, forbidden when unknown (never invented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Level>,
    /// The gate a mutation must pass; required when known, forbidden when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
    /// Free-text remark (for an unknown surface: what is not known and why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// One or more citations of the bytes this entry rests on.
    #[serde(default)]
    pub evidence: Vec<CitationSpec>,
    /// How to read the surface for the proof; absent means no snapshot
    /// (the proof can then only say "declared not contacted").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotTable>,
}

/// An evidence citation as written in the spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CitationSpec {
    /// Path relative to the source root, `/`-separated, no `..`.
    pub path: String,
    /// `N` or `N-M` (1-based, inclusive); absent cites the whole file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<LineRange>,
    /// sha256 of exactly the cited bytes; computed when absent, checked when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// What the cited bytes show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `[surface.snapshot]` as written: `method` and the keys of that method.
///
/// One flat table (rather than a tagged union) so that every misspelt or
/// misplaced key is reported on its own line; [`LoadedSpec`] turns it into a
/// [`SnapshotSpec`] and refuses keys that belong to another method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotTable {
    /// `files`, `command`, `postgres` or `none`.
    pub method: Method,
    /// files: the directory, relative to the spec file's directory (or absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// files: globs (relative to `root`; `*` stays within a directory, `**`
    /// crosses them) selecting the files; absent means every file. Each must
    /// select at least one file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<Vec<String>>,
    /// files: globs of files to leave out (e.g. an append-only history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<Vec<String>>,
    /// command: program and arguments; no shell unless you write `sh -c`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argv: Option<Vec<String>>,
    /// command: working directory, relative to the spec file's directory (default: that directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// command: seconds before the command is killed and the snapshot fails (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// postgres: a libpq-style connection string (`host=... dbname=...` or a
    /// URL). Prefer `connection_env` when it holds a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// postgres: name of an environment variable holding the connection string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_env: Option<String>,
    /// postgres: schemas to read (default: every schema but the system ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schemas: Option<Vec<String>>,
    /// files: also pin each file's owner and group (numeric uid:gid; default
    /// false: ownership differs between machines and checkouts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<bool>,
    /// files, command: the surface holds secrets; its digests are keyed
    /// (HMAC-SHA256 under `key_env` or `key_file`), so the packet never
    /// publishes a plain hash that would confirm a guessed secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitive: Option<bool>,
    /// files, command (with `sensitive = true`): name of an environment
    /// variable holding the key (at least 16 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_env: Option<String>,
    /// files, command (with `sensitive = true`): a file holding the key (its
    /// exact bytes, at least 16), relative to the spec file's directory or
    /// absolute. Keep it out of the spec directory and the packet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// postgres: seconds a statement waits for another session's lock
    /// before the snapshot fails (`lock_timeout`, default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_timeout_seconds: Option<u64>,
    /// postgres: seconds one statement may run on the server
    /// (`statement_timeout`, default 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement_timeout_seconds: Option<u64>,
    /// postgres: seconds holdfast waits for any answer from the server
    /// before the snapshot fails (default 120).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_timeout_seconds: Option<u64>,
    /// postgres: connections reading tables in parallel, sharing one
    /// exported snapshot (default: the number of cores, at most 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<u64>,
    /// postgres: read every database of the server, not only the
    /// connection's (default false). The database list is read through the
    /// connection's database; a database that cannot be read fails the
    /// snapshot, naming it (template0, which accepts no connections, is the
    /// one exception: only its catalog row is read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_databases: Option<bool>,
}

/// A validated snapshot method with exactly its own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotSpec {
    /// A directory's files (optionally filtered by globs): a digest per file.
    Files {
        /// The directory, relative to the spec file's directory (or absolute).
        root: String,
        /// Include globs; `None` selects every file.
        include: Option<Vec<String>>,
        /// Exclude globs.
        exclude: Vec<String>,
        /// Also pin each file's owner and group.
        owner: bool,
        /// Where the key of a sensitive surface comes from (`None`: not sensitive).
        key: Option<KeySource>,
    },
    /// A declared read-only command: the digest of its stdout.
    Command {
        /// Program and arguments.
        argv: Vec<String>,
        /// Working directory, relative to the spec's directory.
        cwd: Option<String>,
        /// Seconds before the command is killed.
        timeout_seconds: u64,
        /// Where the key of a sensitive surface comes from (`None`: not sensitive).
        key: Option<KeySource>,
    },
    /// A PostgreSQL database read in a READ ONLY transaction.
    Postgres {
        /// The connection string, given inline.
        connection: Option<String>,
        /// The environment variable holding the connection string.
        connection_env: Option<String>,
        /// Schemas, timeouts and parallelism.
        options: PgOptions,
    },
    /// No snapshot: the surface can only be declared not contacted.
    None,
}

impl SnapshotSpec {
    /// The method it uses.
    pub fn method(&self) -> Method {
        match self {
            SnapshotSpec::Files { .. } => Method::Files,
            SnapshotSpec::Command { .. } => Method::Command,
            SnapshotSpec::Postgres { .. } => Method::Postgres,
            SnapshotSpec::None => Method::None,
        }
    }
}

/// Where the key of a sensitive surface comes from. The key itself is read
/// only when the surface is snapshotted, and never recorded anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// An environment variable, by name.
    Env(String),
    /// A file, as the spec wrote it (relative to the spec's directory, or absolute).
    File(String),
}

/// A forbidden action class and the surfaces it covers (`[[boundary]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BoundarySpec {
    /// Unique id, e.g. `no-production-mutation`.
    pub id: String,
    /// What is forbidden, as the packet README says it.
    pub title: String,
    /// Surface ids, or globs over ids (`prod-*`); each must match a surface.
    pub surfaces: Vec<String>,
}

/// A parsed and validated `surfaces.toml`, with what errors need to cite it.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    /// The file it was read from (named in errors).
    pub path: PathBuf,
    /// sha256 of the file's bytes (recorded in snapshots and inventories).
    pub sha256: String,
    /// The content.
    pub spec: SurfacesSpec,
    /// Per surface (spec order), its validated snapshot method.
    pub snapshots: Vec<SnapshotSpec>,
    text: String,
}

/// Whether a boundary entry is a glob rather than a plain id.
pub fn is_pattern(entry: &str) -> bool {
    entry.contains(['*', '?', '[', '{'])
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The surface ids a boundary entry matches, in `ids` order. Errors when the
/// entry is a glob that does not compile.
pub fn entry_matches<'a>(
    entry: &str,
    ids: &[&'a str],
) -> std::result::Result<Vec<&'a str>, String> {
    if !is_pattern(entry) {
        return Ok(ids.iter().copied().filter(|id| *id == entry).collect());
    }
    let glob = globset::GlobBuilder::new(entry)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("{entry:?} is not a valid glob: {e}"))?
        .compile_matcher();
    Ok(ids.iter().copied().filter(|id| glob.is_match(id)).collect())
}

impl LoadedSpec {
    /// Reads, parses and validates `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = fsio::read_regular(path, tomlio::SPEC_LIMIT)?;
        Self::parse(&bytes, path)
    }

    /// Parses and validates `bytes`, naming `path` in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self> {
        let spec: SurfacesSpec = tomlio::parse(bytes, path)?;
        // tomlio::parse already refused non-UTF-8 input.
        let text = String::from_utf8_lossy(bytes).into_owned();
        let mut loaded = LoadedSpec {
            path: path.to_path_buf(),
            sha256: digest::sha256_hex(bytes),
            spec,
            snapshots: Vec::new(),
            text,
        };
        loaded.snapshots = loaded.validate()?;
        Ok(loaded)
    }

    /// The bytes the spec was parsed from (a packet carries them in `spec/`).
    pub fn bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    /// The directory relative paths in the spec (snapshot roots, cwd) start from.
    pub fn base_dir(&self) -> PathBuf {
        fsio::parent_dir(&self.path)
    }

    /// The spec's file name alone (recorded in artifacts instead of a
    /// machine-specific path).
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "surfaces.toml".to_string())
    }

    /// A malformed-input error at `segs`, naming the file, line, column and `key`.
    pub(crate) fn error_at(&self, segs: &[Seg<'_>], key: &str, what: impl fmt::Display) -> Error {
        Error::malformed(&self.path, format!("{}: {key}: {what}", self.where_(segs)))
    }

    /// `line L, column C` of `segs` (or of the file start when it cannot be found).
    pub(crate) fn where_(&self, segs: &[Seg<'_>]) -> String {
        let at = locate(&self.text, segs).unwrap_or(0);
        let (line, col) = tomlio::line_col(self.text.as_bytes(), at);
        format!("line {line}, column {col}")
    }

    /// The key path of a surface's field, for messages: `surface[2].gate (id "x")`.
    pub(crate) fn surface_key(&self, index: usize, field: &str) -> String {
        let id = self.spec.surfaces.get(index).map_or("", |s| s.id.as_str());
        if field.is_empty() {
            format!("surface[{index}] (id {id:?})")
        } else {
            format!("surface[{index}].{field} (id {id:?})")
        }
    }

    /// The surfaces each boundary covers (validated: never empty).
    pub fn boundary_members(&self) -> Vec<(String, Vec<String>)> {
        let ids: Vec<&str> = self.spec.surfaces.iter().map(|s| s.id.as_str()).collect();
        self.spec
            .boundaries
            .iter()
            .map(|b| {
                (
                    b.id.clone(),
                    resolve_members(&b.surfaces, &ids).unwrap_or_default(),
                )
            })
            .collect()
    }

    fn validate(&self) -> Result<Vec<SnapshotSpec>> {
        let spec = &self.spec;
        if spec.surfaces.is_empty() {
            return Err(Error::malformed(
                &self.path,
                "line 1, column 1: surface: no [[surface]] table; an inventory needs at least one surface",
            ));
        }
        for (key, label) in [
            ("production", &spec.labels.production),
            ("ci_deploy", &spec.labels.ci_deploy),
        ] {
            if let Some(l) = label
                && let Err(why) = check_label(l)
            {
                return Err(self.error_at(
                    &[Seg::Key("labels"), Seg::Key(key)],
                    &format!("labels.{key}"),
                    why,
                ));
            }
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut snapshots = Vec::with_capacity(spec.surfaces.len());
        for (i, s) in spec.surfaces.iter().enumerate() {
            let at = |field: &'static str| [Seg::Key("surface"), Seg::Index(i), Seg::Key(field)];
            if !valid_id(&s.id) {
                return Err(self.error_at(
                    &at("id"),
                    &format!("surface[{i}].id"),
                    format!(
                        "{:?} is not a valid id (letters, digits, '.', '_', '-')",
                        s.id
                    ),
                ));
            }
            if let Some(first) = seen.insert(s.id.as_str(), i) {
                let first_at =
                    self.where_(&[Seg::Key("surface"), Seg::Index(first), Seg::Key("id")]);
                return Err(self.error_at(
                    &at("id"),
                    &format!("surface[{i}].id"),
                    format!(
                        "duplicate surface id {:?} (first defined at {first_at})",
                        s.id
                    ),
                ));
            }
            for (field, value) in [("name", &s.name), ("kind", &s.kind)] {
                if value.trim().is_empty() {
                    return Err(self.error_at(
                        &at(field),
                        &self.surface_key(i, field),
                        "must not be empty",
                    ));
                }
            }
            match s.status {
                Status::Known => {
                    if s.risk.is_none() {
                        return Err(self.error_at(
                            &at("risk"),
                            &self.surface_key(i, "risk"),
                            "missing: a known surface must state its mutation risk (low, medium, high, critical)",
                        ));
                    }
                    if s.gate.as_deref().is_none_or(|g| g.trim().is_empty()) {
                        return Err(self.error_at(
                            &at("gate"),
                            &self.surface_key(i, "gate"),
                            "missing: a known surface must name its required gate",
                        ));
                    }
                }
                Status::Unknown => {
                    for (field, present) in [("risk", s.risk.is_some()), ("gate", s.gate.is_some())]
                    {
                        if present {
                            return Err(self.error_at(
                                &at(field),
                                &self.surface_key(i, field),
                                format!("an unknown surface must not carry a {field}: it stays unknown and becomes a blocker, never a guess"),
                            ));
                        }
                    }
                }
            }
            if s.evidence.is_empty() {
                return Err(self.error_at(
                    &at("evidence"),
                    &self.surface_key(i, "evidence"),
                    "missing: every surface needs at least one [[surface.evidence]] citation",
                ));
            }
            for (j, c) in s.evidence.iter().enumerate() {
                let seg = |field: &'static str| {
                    [
                        Seg::Key("surface"),
                        Seg::Index(i),
                        Seg::Key("evidence"),
                        Seg::Index(j),
                        Seg::Key(field),
                    ]
                };
                let key = |field: &str| self.surface_key(i, &format!("evidence[{j}].{field}"));
                if let Err(why) = check_relative_path(&c.path) {
                    return Err(self.error_at(&seg("path"), &key("path"), why));
                }
                if let Some(h) = &c.sha256
                    && !crate::seal::is_sha256_hex(h)
                {
                    return Err(self.error_at(
                        &seg("sha256"),
                        &key("sha256"),
                        "expected 64 lowercase hex digits",
                    ));
                }
            }
            snapshots.push(match &s.snapshot {
                Some(t) => self.validate_snapshot(i, t)?,
                None => SnapshotSpec::None,
            });
        }
        self.validate_boundaries()?;
        Ok(snapshots)
    }

    /// The key source of a sensitive surface: `sensitive = true` needs
    /// exactly one of `key_env` and `key_file` (a sensitive surface without
    /// a key must never fall back to plain digests), and neither may be
    /// given without it.
    fn key_source(
        &self,
        seg: &dyn Fn(&'static str) -> [Seg<'static>; 4],
        key: &dyn Fn(&str) -> String,
        t: &SnapshotTable,
    ) -> Result<Option<KeySource>> {
        let sensitive = t.sensitive.unwrap_or(false);
        let at = |field: &'static str, what: &str| self.error_at(&seg(field), &key(field), what);
        match (&t.key_env, &t.key_file) {
            (Some(_), _) | (_, Some(_)) if !sensitive => {
                let field = if t.key_env.is_some() {
                    "key_env"
                } else {
                    "key_file"
                };
                Err(at(
                    field,
                    "only a sensitive surface has a key: add sensitive = true",
                ))
            }
            _ if !sensitive => Ok(None),
            (Some(_), Some(_)) => Err(at("key_file", "give exactly one of key_env and key_file")),
            (None, None) => Err(at(
                "sensitive",
                "a sensitive surface needs a key: give key_env (an environment variable) or key_file",
            )),
            (Some(v), None) if v.trim().is_empty() => {
                Err(at("key_env", "must name an environment variable"))
            }
            (None, Some(f)) if f.trim().is_empty() => Err(at("key_file", "must name a file")),
            (Some(v), None) => Ok(Some(KeySource::Env(v.clone()))),
            (None, Some(f)) => Ok(Some(KeySource::File(f.clone()))),
        }
    }

    fn validate_snapshot(&self, i: usize, t: &SnapshotTable) -> Result<SnapshotSpec> {
        let seg = |field: &'static str| {
            [
                Seg::Key("surface"),
                Seg::Index(i),
                Seg::Key("snapshot"),
                Seg::Key(field),
            ]
        };
        let key = |field: &str| self.surface_key(i, &format!("snapshot.{field}"));
        let own: &[&str] = match t.method {
            Method::Files => &[
                "root",
                "include",
                "exclude",
                "owner",
                "sensitive",
                "key_env",
                "key_file",
            ],
            Method::Command => &[
                "argv",
                "cwd",
                "timeout_seconds",
                "sensitive",
                "key_env",
                "key_file",
            ],
            Method::Postgres => &[
                "connection",
                "connection_env",
                "schemas",
                "lock_timeout_seconds",
                "statement_timeout_seconds",
                "read_timeout_seconds",
                "parallel",
                "all_databases",
            ],
            Method::None => &[],
        };
        let present = [
            ("root", t.root.is_some()),
            ("include", t.include.is_some()),
            ("exclude", t.exclude.is_some()),
            ("argv", t.argv.is_some()),
            ("cwd", t.cwd.is_some()),
            ("timeout_seconds", t.timeout_seconds.is_some()),
            ("connection", t.connection.is_some()),
            ("connection_env", t.connection_env.is_some()),
            ("schemas", t.schemas.is_some()),
            ("owner", t.owner.is_some()),
            ("sensitive", t.sensitive.is_some()),
            ("key_env", t.key_env.is_some()),
            ("key_file", t.key_file.is_some()),
            ("lock_timeout_seconds", t.lock_timeout_seconds.is_some()),
            (
                "statement_timeout_seconds",
                t.statement_timeout_seconds.is_some(),
            ),
            ("read_timeout_seconds", t.read_timeout_seconds.is_some()),
            ("parallel", t.parallel.is_some()),
            ("all_databases", t.all_databases.is_some()),
        ];
        for (field, is_there) in present {
            if is_there && !own.contains(&field) {
                return Err(self.error_at(
                    &seg(field),
                    &key(field),
                    format!(
                        "not a setting of method {:?} (its settings: {})",
                        t.method.as_str(),
                        if own.is_empty() {
                            "none".to_string()
                        } else {
                            own.join(", ")
                        }
                    ),
                ));
            }
        }
        let key_src = self.key_source(&seg, &key, t)?;
        match t.method {
            Method::Files => {
                let root = t.root.clone().unwrap_or_default();
                if root.trim().is_empty() {
                    return Err(self.error_at(
                        &seg("root"),
                        &key("root"),
                        "missing: method \"files\" needs the directory to read",
                    ));
                }
                if let Some(inc) = &t.include
                    && inc.is_empty()
                {
                    return Err(self.error_at(
                        &seg("include"),
                        &key("include"),
                        "is empty: it would select no file (leave it out to select every file)",
                    ));
                }
                let exclude = t.exclude.clone().unwrap_or_default();
                for (field, globs) in [
                    ("include", t.include.as_deref().unwrap_or(&[])),
                    ("exclude", exclude.as_slice()),
                ] {
                    for g in globs {
                        if let Err(e) = crate::model::glob::compile_glob(g) {
                            return Err(self.error_at(&seg(field), &key(field), e));
                        }
                    }
                }
                Ok(SnapshotSpec::Files {
                    root,
                    include: t.include.clone(),
                    exclude,
                    owner: t.owner.unwrap_or(false),
                    key: key_src,
                })
            }
            Method::Command => {
                let argv = t.argv.clone().unwrap_or_default();
                if argv.first().is_none_or(|a| a.is_empty()) {
                    return Err(self.error_at(
                        &seg("argv"),
                        &key("argv"),
                        "must name a program: [\"prog\", \"arg\", ...]",
                    ));
                }
                if t.cwd.as_deref().is_some_and(|c| c.trim().is_empty()) {
                    return Err(self.error_at(&seg("cwd"), &key("cwd"), "must not be empty"));
                }
                let timeout_seconds = t.timeout_seconds.unwrap_or(DEFAULT_COMMAND_TIMEOUT_SECONDS);
                if timeout_seconds == 0 || timeout_seconds > MAX_COMMAND_TIMEOUT_SECONDS {
                    return Err(self.error_at(
                        &seg("timeout_seconds"),
                        &key("timeout_seconds"),
                        format!("{timeout_seconds} is out of range; expected 1..={MAX_COMMAND_TIMEOUT_SECONDS}"),
                    ));
                }
                Ok(SnapshotSpec::Command {
                    argv,
                    cwd: t.cwd.clone(),
                    timeout_seconds,
                    key: key_src,
                })
            }
            Method::Postgres => {
                match (&t.connection, &t.connection_env) {
                    (Some(_), Some(_)) | (None, None) => {
                        return Err(self.error_at(
                            &seg("connection"),
                            &key("connection"),
                            "give exactly one of connection and connection_env",
                        ));
                    }
                    (Some(c), None) if c.trim().is_empty() => {
                        return Err(self.error_at(
                            &seg("connection"),
                            &key("connection"),
                            "must not be empty",
                        ));
                    }
                    (None, Some(e)) if e.trim().is_empty() => {
                        return Err(self.error_at(
                            &seg("connection_env"),
                            &key("connection_env"),
                            "must name an environment variable",
                        ));
                    }
                    _ => {}
                }
                if let Some(s) = &t.schemas
                    && (s.is_empty() || s.iter().any(|n| n.is_empty()))
                {
                    return Err(self.error_at(
                        &seg("schemas"),
                        &key("schemas"),
                        "must list schema names (leave it out to read every non-system schema)",
                    ));
                }
                let bounded = |field: &'static str, v: Option<u64>, max: u64, default: u64| match v
                {
                    None => Ok(default),
                    Some(n) if (1..=max).contains(&n) => Ok(n),
                    Some(n) => Err(self.error_at(
                        &seg(field),
                        &key(field),
                        format!("{n} is out of range (1 to {max})"),
                    )),
                };
                let week = 7 * 24 * 3600;
                let options = PgOptions {
                    schemas: t.schemas.clone(),
                    lock_timeout_seconds: bounded(
                        "lock_timeout_seconds",
                        t.lock_timeout_seconds,
                        week,
                        DEFAULT_LOCK_TIMEOUT_SECONDS,
                    )?,
                    statement_timeout_seconds: bounded(
                        "statement_timeout_seconds",
                        t.statement_timeout_seconds,
                        week,
                        DEFAULT_STATEMENT_TIMEOUT_SECONDS,
                    )?,
                    read_timeout_seconds: bounded(
                        "read_timeout_seconds",
                        t.read_timeout_seconds,
                        week,
                        DEFAULT_READ_TIMEOUT_SECONDS,
                    )?,
                    parallel: usize::try_from(bounded(
                        "parallel",
                        t.parallel,
                        64,
                        default_parallel() as u64,
                    )?)
                    .unwrap_or(1),
                    sort_in_holdfast_below: DEFAULT_SORT_IN_HOLDFAST_BELOW,
                    pages_per_range: DEFAULT_PAGES_PER_RANGE,
                    all_databases: t.all_databases.unwrap_or(false),
                };
                Ok(SnapshotSpec::Postgres {
                    connection: t.connection.clone(),
                    connection_env: t.connection_env.clone(),
                    options,
                })
            }
            Method::None => Ok(SnapshotSpec::None),
        }
    }

    fn validate_boundaries(&self) -> Result<()> {
        let ids: Vec<&str> = self.spec.surfaces.iter().map(|s| s.id.as_str()).collect();
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, b) in self.spec.boundaries.iter().enumerate() {
            let at = |field: &'static str| [Seg::Key("boundary"), Seg::Index(i), Seg::Key(field)];
            if !valid_id(&b.id) {
                return Err(self.error_at(
                    &at("id"),
                    &format!("boundary[{i}].id"),
                    format!(
                        "{:?} is not a valid id (letters, digits, '.', '_', '-')",
                        b.id
                    ),
                ));
            }
            if let Some(first) = seen.insert(b.id.as_str(), i) {
                let first_at =
                    self.where_(&[Seg::Key("boundary"), Seg::Index(first), Seg::Key("id")]);
                return Err(self.error_at(
                    &at("id"),
                    &format!("boundary[{i}].id"),
                    format!(
                        "duplicate boundary id {:?} (first defined at {first_at})",
                        b.id
                    ),
                ));
            }
            if b.title.trim().is_empty() {
                return Err(self.error_at(
                    &at("title"),
                    &format!("boundary[{i}].title (id {:?})", b.id),
                    "must not be empty",
                ));
            }
            let key = format!("boundary[{i}].surfaces (id {:?})", b.id);
            if b.surfaces.is_empty() {
                return Err(self.error_at(
                    &at("surfaces"),
                    &key,
                    "is empty: a boundary must cover at least one surface",
                ));
            }
            for entry in &b.surfaces {
                match entry_matches(entry, &ids) {
                    Err(e) => return Err(self.error_at(&at("surfaces"), &key, e)),
                    Ok(m) if m.is_empty() && is_pattern(entry) => {
                        return Err(self.error_at(
                            &at("surfaces"),
                            &key,
                            format!("pattern {entry:?} matches no surface"),
                        ));
                    }
                    Ok(m) if m.is_empty() => {
                        return Err(self.error_at(
                            &at("surfaces"),
                            &key,
                            format!("{entry:?} names no surface of this spec"),
                        ));
                    }
                    Ok(_) => {}
                }
            }
        }
        Ok(())
    }
}

/// The ids the entries of a boundary cover: every match of every entry,
/// deduplicated, in `ids` order.
pub fn resolve_members(
    entries: &[String],
    ids: &[&str],
) -> std::result::Result<Vec<String>, String> {
    let mut hit = vec![false; ids.len()];
    for e in entries {
        for m in entry_matches(e, ids)? {
            if let Some(pos) = ids.iter().position(|id| *id == m) {
                hit[pos] = true;
            }
        }
    }
    Ok(ids
        .iter()
        .zip(hit)
        .filter(|(_, h)| *h)
        .map(|(id, _)| (*id).to_string())
        .collect())
}

// ---- the snapshot method and the settings of a postgres snapshot ----------

/// How a surface is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// A tree of files: a digest per file.
    Files,
    /// A read-only command: the digest of its stdout.
    Command,
    /// A PostgreSQL database: schema and per-table digests.
    Postgres,
    /// Not read: the surface can only be declared not contacted.
    None,
}

impl Method {
    /// The spelling used in TOML and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Files => "files",
            Method::Command => "command",
            Method::Postgres => "postgres",
            Method::None => "none",
        }
    }
}

/// Default `lock_timeout`: how long a statement waits for another
/// session's lock before the snapshot fails.
pub const DEFAULT_LOCK_TIMEOUT_SECONDS: u64 = 10;
/// Default `statement_timeout`: the longest one statement (one table's
/// COPY) may run on the server.
pub const DEFAULT_STATEMENT_TIMEOUT_SECONDS: u64 = 3600;
/// Default read timeout: the longest holdfast waits for any answer from
/// the server (a connection, a row, a reply) before the snapshot fails.
pub const DEFAULT_READ_TIMEOUT_SECONDS: u64 = 120;
/// Default of `PgOptions::sort_in_holdfast_below`: 256 MiB (held in memory
/// with 16 bytes per row to sort them).
pub const DEFAULT_SORT_IN_HOLDFAST_BELOW: u64 = 256 << 20;
/// Default of `PgOptions::pages_per_range`: 4096 pages (32 MiB of 8 KiB pages).
pub const DEFAULT_PAGES_PER_RANGE: u64 = 4096;
/// How a `postgres` surface is read (the `[surface.snapshot]` settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// Schemas whose objects are read (`None`: every schema).
    pub schemas: Option<Vec<String>>,
    /// `lock_timeout`, seconds.
    pub lock_timeout_seconds: u64,
    /// `statement_timeout`, seconds.
    pub statement_timeout_seconds: u64,
    /// How long to wait for any answer from the server, seconds.
    pub read_timeout_seconds: u64,
    /// Connections reading in parallel (1 = one connection).
    pub parallel: usize,
    /// A table with an integer key whose size (`pg_table_size`)
    /// is below this many bytes is read in storage order (in page ranges,
    /// PostgreSQL 14 and later) and sorted by its key inside holdfast
    /// (cheaper for the server than an index scan); of a larger one, each
    /// key range below this size is read so, and a larger range in key
    /// order. Either way the lines come out in key order, so this never
    /// changes a digest (a test checks it).
    pub sort_in_holdfast_below: u64,
    /// Pages per range when a table without a built-in primary key is read
    /// in page (`ctid`) ranges over several connections; a table of fewer
    /// than twice this many pages (`relpages`) is read whole. Its lines are
    /// sorted together either way, so this never changes a digest (a test
    /// checks it).
    pub pages_per_range: u64,
    /// Read every database of the server (`all_databases = true`): the
    /// database list is read through the connection's database, then each
    /// database in turn; one that cannot be read fails the snapshot.
    pub all_databases: bool,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            schemas: None,
            lock_timeout_seconds: DEFAULT_LOCK_TIMEOUT_SECONDS,
            statement_timeout_seconds: DEFAULT_STATEMENT_TIMEOUT_SECONDS,
            read_timeout_seconds: DEFAULT_READ_TIMEOUT_SECONDS,
            parallel: default_parallel(),
            sort_in_holdfast_below: DEFAULT_SORT_IN_HOLDFAST_BELOW,
            pages_per_range: DEFAULT_PAGES_PER_RANGE,
            all_databases: false,
        }
    }
}

/// The default number of connections: the machine's cores, at most 4.
pub fn default_parallel() -> usize {
    std::thread::available_parallelism()
        .map(std::num::NonZeroUsize::get)
        .unwrap_or(1)
        .clamp(1, 4)
}

#[cfg(test)]
pub(crate) mod tests_support {
    //! A valid spec other modules' tests start from.

    /// Two surfaces (one unknown) and one boundary.
    pub(crate) const GOOD: &str = r#"
[policy]
require_digest_for = ["critical"]

[[surface]]
id = "prod-pg"
table = "production"
name = "Production PostgreSQL"
kind = "database"
status = "known"
risk = "critical"
gate = "DBA sign-off"
[[surface.evidence]]
path = "deploy/db.tf"
lines = "1-2"
[surface.snapshot]
method = "postgres"
connection_env = "PROD_PG"

[[surface]]
id = "ci-seal-scope"
table = "ci-deploy"
name = "CI seal-vs-bytes scope"
kind = "ci"
status = "unknown"
note = "which bytes CI seals is not documented"
[[surface.evidence]]
path = "ci/pipeline.yml"

[[boundary]]
id = "no-production-mutation"
title = "NO production mutation"
surfaces = ["prod-*"]
"#;
}

#[cfg(test)]
mod tests {
    use super::tests_support::GOOD;
    use super::*;

    fn parse(text: &str) -> Result<LoadedSpec> {
        LoadedSpec::parse(text.as_bytes(), Path::new("spec/surfaces.toml"))
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn the_example_loads_and_boundaries_resolve() {
        let s = parse(GOOD).unwrap();
        assert_eq!(s.spec.surfaces.len(), 2);
        assert_eq!(s.spec.policy.require_digest_for, vec![Level::Critical]);
        assert_eq!(
            s.boundary_members(),
            vec![(
                "no-production-mutation".to_string(),
                vec!["prod-pg".to_string()]
            )]
        );
        assert_eq!(s.sha256, digest::sha256_hex(GOOD.as_bytes()));
        assert_eq!(s.base_dir(), PathBuf::from("spec"));
    }

    #[test]
    fn unknown_key_names_file_key_and_line() {
        let e = err(&GOOD.replace("kind = \"database\"", "kind = \"database\"\nowner = \"x\""));
        assert!(e.starts_with("spec/surfaces.toml: line 10,"), "{e}");
        assert!(e.contains("owner"), "{e}");
    }

    #[test]
    fn unknown_key_in_snapshot_table_is_refused() {
        let e = err(&GOOD.replace(
            "connection_env = \"PROD_PG\"",
            "connection_env = \"PROD_PG\"\npasword = \"x\"",
        ));
        assert!(
            e.starts_with("spec/surfaces.toml: line 19, column 1:") && e.contains("pasword"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_ids_name_both_lines() {
        let e = err(&GOOD.replace("id = \"ci-seal-scope\"", "id = \"prod-pg\""));
        assert!(
            e.starts_with("spec/surfaces.toml: line 21, column 1: surface[1].id:"),
            "{e}"
        );
        assert!(
            e.contains("duplicate surface id \"prod-pg\"") && e.contains("line 6"),
            "{e}"
        );
    }

    #[test]
    fn unknown_risk_level_names_the_line() {
        let e = err(&GOOD.replace("risk = \"critical\"", "risk = \"severe\""));
        assert!(e.starts_with("spec/surfaces.toml: line 11,"), "{e}");
        assert!(e.contains("severe"), "{e}");
    }

    #[test]
    fn missing_gate_on_known_surface_is_refused() {
        let e = err(&GOOD.replace("gate = \"DBA sign-off\"\n", ""));
        assert!(e.contains("surface[0].gate (id \"prod-pg\")"), "{e}");
        assert!(e.contains("must name its required gate"), "{e}");
        assert!(e.starts_with("spec/surfaces.toml: line "), "{e}");
        let e = err(&GOOD.replace("risk = \"critical\"\n", ""));
        assert!(
            e.contains("surface[0].risk") && e.contains("mutation risk"),
            "{e}"
        );
    }

    #[test]
    fn invented_risk_or_gate_on_unknown_surface_is_refused() {
        let e = err(&GOOD.replace(
            "status = \"unknown\"",
            "status = \"unknown\"\nrisk = \"low\"",
        ));
        assert!(
            e.starts_with("spec/surfaces.toml: line 26, column 1: surface[1].risk"),
            "{e}"
        );
        assert!(e.contains("never a guess"), "{e}");
        let e = err(&GOOD.replace(
            "status = \"unknown\"",
            "status = \"unknown\"\ngate = \"someone\"",
        ));
        assert!(
            e.contains("surface[1].gate") && e.contains("line 26"),
            "{e}"
        );
    }

    #[test]
    fn boundary_naming_nothing_is_refused() {
        let e = err(&GOOD.replace("surfaces = [\"prod-*\"]", "surfaces = [\"stage-*\"]"));
        assert!(
            e.contains("boundary[0].surfaces") && e.contains("matches no surface"),
            "{e}"
        );
        assert!(e.contains("line 33"), "{e}");
        let e = err(&GOOD.replace("surfaces = [\"prod-*\"]", "surfaces = [\"prod-pgx\"]"));
        assert!(e.contains("names no surface"), "{e}");
        let e = err(&GOOD.replace("surfaces = [\"prod-*\"]", "surfaces = []"));
        assert!(e.contains("is empty"), "{e}");
    }

    #[test]
    fn citation_and_snapshot_shapes_are_checked() {
        let e = err(&GOOD.replace("path = \"deploy/db.tf\"", "path = \"../etc/passwd\""));
        assert!(
            e.contains("evidence[0].path") && e.contains("line 14"),
            "{e}"
        );
        let e = err(&GOOD.replace("lines = \"1-2\"", "lines = \"5-2\""));
        assert!(e.contains("line 15") && e.contains("5-2"), "{e}");
        let e = err(&GOOD.replace("lines = \"1-2\"", "lines = \"1-2\"\nsha256 = \"ABC\""));
        assert!(
            e.contains("evidence[0].sha256") && e.contains("64 lowercase hex"),
            "{e}"
        );
        let e = err(&GOOD.replace(
            "connection_env = \"PROD_PG\"",
            "connection = \"host=x\"\nconnection_env = \"PROD_PG\"",
        ));
        assert!(e.contains("exactly one of connection"), "{e}");
        let e = err(&GOOD.replace(
            "method = \"postgres\"\nconnection_env = \"PROD_PG\"",
            "method = \"command\"\nargv = []",
        ));
        assert!(e.contains("snapshot.argv") && e.contains("line 18"), "{e}");
        let e = err(&GOOD.replace(
            "method = \"postgres\"\nconnection_env = \"PROD_PG\"",
            "method = \"files\"\nroot = \"r\"\ninclude = []",
        ));
        assert!(
            e.contains("snapshot.include") && e.contains("select no file"),
            "{e}"
        );
        let e = err(&GOOD.replace("method = \"postgres\"", "method = \"ftp\""));
        assert!(e.contains("ftp") && e.contains("line 17"), "{e}");
        let e = err(&GOOD.replace(
            "connection_env = \"PROD_PG\"",
            "connection_env = \"PROD_PG\"\nargv = [\"ls\"]",
        ));
        assert!(
            e.contains("line 19")
                && e.contains("snapshot.argv")
                && e.contains("not a setting of method \"postgres\""),
            "{e}"
        );
        let e = err(&GOOD.replace(
            "method = \"postgres\"\nconnection_env = \"PROD_PG\"",
            "method = \"files\"",
        ));
        assert!(e.contains("snapshot.root") && e.contains("missing"), "{e}");
    }

    #[test]
    fn missing_evidence_and_empty_spec_are_refused() {
        let e = err(&GOOD.replace("[[surface.evidence]]\npath = \"ci/pipeline.yml\"\n", ""));
        assert!(
            e.contains("surface[1].evidence") && e.contains("at least one"),
            "{e}"
        );
        let e = err("");
        assert!(e.contains("no [[surface]]"), "{e}");
    }

    #[test]
    fn globs_do_not_cross_directories_and_ids_stay_exact() {
        let ids = ["prod-pg", "prod-cms", "ci"];
        assert_eq!(
            entry_matches("prod-*", &ids).unwrap(),
            vec!["prod-pg", "prod-cms"]
        );
        assert_eq!(entry_matches("ci", &ids).unwrap(), vec!["ci"]);
        assert!(entry_matches("c", &ids).unwrap().is_empty());
        assert_eq!(
            resolve_members(&["ci".into(), "prod-*".into(), "prod-pg".into()], &ids).unwrap(),
            vec!["prod-pg", "prod-cms", "ci"]
        );
    }

    #[test]
    fn postgres_timeouts_and_parallelism_have_defaults_and_bounds() {
        let s = parse(GOOD).unwrap();
        let SnapshotSpec::Postgres { options, .. } = &s.snapshots[0] else {
            panic!("the example's first surface is postgres")
        };
        assert_eq!(options.lock_timeout_seconds, DEFAULT_LOCK_TIMEOUT_SECONDS);
        assert_eq!(
            options.statement_timeout_seconds,
            DEFAULT_STATEMENT_TIMEOUT_SECONDS
        );
        assert_eq!(options.read_timeout_seconds, DEFAULT_READ_TIMEOUT_SECONDS);
        assert_eq!(options.parallel, default_parallel());
        let s = parse(&GOOD.replace(
            "connection_env = \"PROD_PG\"",
            "connection_env = \"PROD_PG\"\nlock_timeout_seconds = 2\nstatement_timeout_seconds = 30\n\
             read_timeout_seconds = 40\nparallel = 3",
        ))
        .unwrap();
        let SnapshotSpec::Postgres { options, .. } = &s.snapshots[0] else {
            panic!("postgres")
        };
        assert_eq!(
            (
                options.lock_timeout_seconds,
                options.statement_timeout_seconds,
                options.read_timeout_seconds,
                options.parallel
            ),
            (2, 30, 40, 3)
        );
        for (key, bad) in [
            ("lock_timeout_seconds", "0"),
            ("statement_timeout_seconds", "604801"),
            ("read_timeout_seconds", "0"),
            ("parallel", "65"),
        ] {
            let e = err(&GOOD.replace(
                "connection_env = \"PROD_PG\"",
                &format!("connection_env = \"PROD_PG\"\n{key} = {bad}"),
            ));
            assert!(
                e.contains(&format!("snapshot.{key}")) && e.contains("out of range"),
                "{e}"
            );
        }
        // A postgres setting on another method is refused.
        let e = err(&GOOD.replace(
            "method = \"postgres\"\nconnection_env = \"PROD_PG\"",
            "method = \"command\"\nargv = [\"x\"]\nparallel = 2",
        ));
        assert!(
            e.contains("snapshot.parallel") && e.contains("not a setting"),
            "{e}"
        );
    }
}
