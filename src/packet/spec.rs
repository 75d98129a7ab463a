//! The run spec: `packet.toml` and the files it names.
//!
//! A spec is a directory. `packet.toml` holds what the packet states about
//! itself (macro, title, date, authorization, the three flags) and where
//! everything else is: the registry, the source root for citations, and the
//! files owned by the other modules (`surfaces.toml`, `gates.toml`, the
//! rollback plan). Paths are relative to the spec directory and may not leave
//! it, except the registry directory, which is the team's long-lived one.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::authz::{Authorization, Scope};
use crate::error::{Error, Result};

/// File name of the spec's main file inside the spec directory.
pub const SPEC_FILE: &str = "packet.toml";

/// `packet.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PacketSpec {
    /// What the packet is.
    pub packet: PacketMeta,
    /// What the run was authorized to do.
    pub authorization: Authorization,
    /// The three statements every packet makes about what the run did.
    pub flags: Flags,
    /// Where the governance registry is.
    pub registry: RegistrySource,
    /// Where the evidence the surfaces cite lives.
    pub source: Source,
    /// The other spec files.
    #[serde(default)]
    pub files: SpecFiles,
    /// What the run is asked to do beyond reading (checked against the authorization).
    #[serde(default)]
    pub run: RunRequest,
}

/// The mutation a run is asked to perform. The authorization says what is
/// allowed; this says what is wanted. A request the authorization does not
/// name exactly is refused, and the packet says so.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// `registry fold A..B`, performed only if authorized and safe.
    #[serde(default)]
    pub fold: Option<crate::authz::FoldRange>,
    /// The id of an authorized change (`kind = "change"`) to rehearse on a
    /// copy and then perform between the snapshots.
    #[serde(default)]
    pub change: Option<String>,
    /// Directories the run copies afresh for itself, by name: a `files`
    /// surface with root `@NAME` reads (and a change writes) the copy of
    /// the spec-relative directory given here, so the spec's own files are
    /// never changed (examples and rehearsals).
    #[serde(default)]
    pub working_copies: std::collections::BTreeMap<String, PathBuf>,
}

/// Identity of the packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PacketMeta {
    /// The macro name, e.g. `FIX7_P0_..._MACRO_2026_06_12`.
    #[serde(rename = "macro")]
    pub macro_name: String,
    /// Prefix of the statuses (`<prefix>_READY`, `<prefix>_INCOMPLETE`, ...).
    pub status_prefix: String,
    /// Human title (the README's heading).
    pub title: String,
    /// The run's date, `YYYY-MM-DD`: an input, never the clock, so packets are reproducible.
    pub date: String,
    /// The words the packet uses for its own fields (`[packet.labels]`);
    /// absent: plain defaults.
    #[serde(default, skip_serializing_if = "PacketLabels::is_empty")]
    pub labels: PacketLabels,
}

/// The names a spec gives the packet's fields in the README and the HTML
/// view, e.g. FIX7's `name = "Macro"`, `cutover = "REAL_RUN/cutover"`,
/// `mutation = "canonical mutation"`. Each absent one is a plain default
/// ("Run name", "Cutover", "mutation"), so a packet only carries the
/// vocabulary of its own spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PacketLabels {
    /// The label of `packet.macro`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The label of `flags.real_run_cutover`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cutover: Option<String>,
    /// What the performed mutation is called ("The only `<mutation>` is ...").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutation: Option<String>,
}

impl PacketLabels {
    /// No label is given.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.cutover.is_none() && self.mutation.is_none()
    }

    /// The label of the run's name (`packet.macro`).
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("Run name")
    }

    /// The label of the cutover flag.
    pub fn cutover(&self) -> &str {
        self.cutover.as_deref().unwrap_or("Cutover")
    }

    /// What a performed mutation is called.
    pub fn mutation(&self) -> &str {
        self.mutation.as_deref().unwrap_or("mutation")
    }
}

/// The three flags the packet must state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flags {
    /// Did the run mutate production? A scoping run must say `false`.
    pub production_mutation: bool,
    /// Did the run perform a REAL_RUN / cutover? A scoping run must say `false`.
    pub real_run_cutover: bool,
    /// Did the run contact live systems: `none`, `read-only` (snapshots), or
    /// `read-write` (a governed change changed parts of the real surfaces).
    /// Checked against the evidence: a `postgres` or `command` snapshot is
    /// at least read-only; a change's run is read-write exactly when it
    /// changed a part of a real surface.
    pub live_system_contact: LiveContact,
}

/// Live-system contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LiveContact {
    /// No live system was contacted.
    None,
    /// Live systems were only read, inside read-only sessions.
    ReadOnly,
    /// The run performed a governed change (`[run] change`) that changed
    /// parts of the real surfaces (derived from the snapshots).
    ReadWrite,
}

/// Where the registry comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrySource {
    /// The team's long-lived registry directory (an authorized fold changes it).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// The team's long-lived registry in a PostgreSQL database, as a
    /// `postgres://` or `postgresql://` URL without a password (the
    /// password comes from `PGPASSWORD` or a pgpass file, never from the
    /// spec; a URL that carries one is refused).
    #[serde(default)]
    pub url: Option<String>,
    /// A registry JSON file to import into a fresh working copy for this run
    /// (examples and rehearsals: the run changes only its own copy).
    #[serde(default)]
    pub import: Option<PathBuf>,
    /// The `kind` recorded for each artifact id the packet claims.
    #[serde(default = "default_object_kind")]
    pub object_kind: String,
}

fn default_object_kind() -> String {
    "packet-artifact".to_string()
}

/// The source tree citations point into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Directory, relative to the spec directory.
    pub root: PathBuf,
}

/// Names of the other spec files, relative to the spec directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpecFiles {
    /// Surfaces and boundaries.
    #[serde(default = "default_surfaces")]
    pub surfaces: PathBuf,
    /// Probes, blockers, decision options.
    #[serde(default = "default_gates")]
    pub gates: PathBuf,
    /// The rollback / rehearsal plan (Markdown).
    #[serde(default = "default_plan")]
    pub rollback_plan: PathBuf,
}

fn default_surfaces() -> PathBuf {
    "surfaces.toml".into()
}
fn default_gates() -> PathBuf {
    "gates.toml".into()
}
fn default_plan() -> PathBuf {
    "production-rollback-rehearsal-plan.md".into()
}

impl Default for SpecFiles {
    fn default() -> Self {
        SpecFiles {
            surfaces: default_surfaces(),
            gates: default_gates(),
            rollback_plan: default_plan(),
        }
    }
}

/// A loaded spec with every path resolved against the spec directory.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    /// The spec directory.
    pub dir: PathBuf,
    /// The parsed `packet.toml`.
    pub spec: PacketSpec,
    /// The raw bytes of `packet.toml` (pinned in the packet).
    pub bytes: Vec<u8>,
    /// Resolved source root.
    pub source_root: PathBuf,
    /// Resolved `surfaces.toml`.
    pub surfaces: PathBuf,
    /// Resolved `gates.toml`.
    pub gates: PathBuf,
    /// Resolved rollback plan.
    pub rollback_plan: PathBuf,
}

impl LoadedSpec {
    /// Loads and validates `DIR/packet.toml`.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(SPEC_FILE);
        let bytes = crate::fsio::read_regular(&path, crate::tomlio::SPEC_LIMIT)?;
        let spec: PacketSpec = crate::tomlio::parse(&bytes, &path)?;
        spec.validate(&path)?;
        let inside = |key: &str, rel: &Path| -> Result<PathBuf> {
            if let Err(e) = plain_relative(rel) {
                // `surfaces --source` takes any directory; a run takes its
                // evidence only from inside the spec, so the spec alone says
                // what the packet cites.
                let fix = if key == "source.root" {
                    "; `holdfast run` reads evidence only from inside the spec directory (unlike `holdfast surfaces --source`, which takes any directory): copy the evidence into the spec directory and name it there, e.g. root = \"source\""
                } else {
                    "; move the file into the spec directory and give its relative path"
                };
                return Err(Error::malformed(
                    &path,
                    format!(
                        "{key}: {} must be a relative path inside the spec directory{fix} ({e})",
                        rel.display().to_string().escape_debug()
                    ),
                ));
            }
            Ok(dir.join(rel))
        };
        Ok(LoadedSpec {
            source_root: inside("source.root", &spec.source.root)?,
            surfaces: inside("files.surfaces", &spec.files.surfaces)?,
            gates: inside("files.gates", &spec.files.gates)?,
            rollback_plan: inside("files.rollback_plan", &spec.files.rollback_plan)?,
            dir: dir.to_path_buf(),
            bytes,
            spec,
        })
    }

    /// The registry import file, resolved (must be inside the spec directory).
    pub fn registry_import(&self) -> Result<Option<PathBuf>> {
        match &self.spec.registry.import {
            None => Ok(None),
            Some(rel) if is_plain_relative(rel) => Ok(Some(self.dir.join(rel))),
            Some(rel) => Err(Error::malformed(
                self.dir.join(SPEC_FILE),
                format!(
                    "registry.import: {} must be a relative path inside the spec directory",
                    rel.display()
                ),
            )),
        }
    }

    /// The long-lived registry directory, resolved against the spec directory when relative.
    pub fn registry_dir(&self) -> Option<PathBuf> {
        self.spec.registry.dir.as_ref().map(|d| self.dir.join(d))
    }

    /// The long-lived registry's location as the registry backends take it
    /// ([`crate::registry::backend::open`]): `registry.dir` resolved, or
    /// `registry.url`; `None` for a spec that imports a working copy.
    pub fn registry_location(&self) -> Option<PathBuf> {
        self.registry_dir()
            .or_else(|| self.spec.registry.url.as_ref().map(PathBuf::from))
    }
}

/// True for a plain relative path ([`crate::model::path::RelPath`]): not
/// `a//b`, `a/./b` or `a/` either, which `Path::components()` would fold.
pub fn is_plain_relative(p: &Path) -> bool {
    plain_relative(p).is_ok()
}

/// [`crate::model::path::RelPath::parse_os`] of a path from packet.toml.
pub fn plain_relative(p: &Path) -> std::result::Result<(), crate::model::path::PathError> {
    crate::model::path::RelPath::parse_os(p.as_os_str()).map(|_| ())
}

/// The surfaces spec `path` names: the file itself, or for a spec
/// directory (as `probe` and `gates` accept) the file its `packet.toml`
/// names in `files.surfaces` (default `surfaces.toml`).
pub fn surfaces_file(path: &Path) -> Result<std::path::PathBuf> {
    if !path.is_dir() {
        return Ok(path.to_path_buf());
    }
    let packet = path.join(SPEC_FILE);
    let mut name = std::path::PathBuf::from("surfaces.toml");
    if packet.is_file() {
        let bytes = crate::fsio::read_regular(&packet, crate::tomlio::SPEC_LIMIT)?;
        let raw: serde_json::Value = crate::tomlio::parse(&bytes, &packet)?;
        if let Some(v) = raw.pointer("/files/surfaces") {
            let Some(s) = v.as_str().filter(|s| is_plain_relative(Path::new(s))) else {
                return Err(crate::Error::malformed(
                    &packet,
                    "files.surfaces: expected a relative path inside the spec directory",
                ));
            };
            name = s.into();
        }
    }
    let file = path.join(&name);
    if !file.is_file() {
        return Err(crate::Error::malformed(
            path,
            format!(
                "a spec directory without {}; give the surfaces spec file (surfaces.toml) or a directory holding one",
                name.display()
            ),
        ));
    }
    Ok(file)
}

impl PacketSpec {
    /// Rules TOML types cannot express. `path` names `packet.toml` in errors.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let bad = |key: &str, what: &str| Err(Error::malformed(path, format!("{key}: {what}")));
        let m = &self.packet;
        for (key, label) in [
            ("name", &m.labels.name),
            ("cutover", &m.labels.cutover),
            ("mutation", &m.labels.mutation),
        ] {
            if let Some(l) = label
                && let Err(why) = crate::surface::spec::check_label(l)
            {
                return Err(Error::malformed(
                    path,
                    format!("packet.labels.{key}: {why}"),
                ));
            }
        }
        if !is_status_word(&m.macro_name) {
            return bad(
                "packet.macro",
                "expected upper-case letters, digits and underscores",
            );
        }
        if !is_status_word(&m.status_prefix) {
            return bad(
                "packet.status_prefix",
                "expected upper-case letters, digits and underscores",
            );
        }
        if m.title.trim().is_empty() {
            return bad("packet.title", "must not be empty");
        }
        if !is_date(&m.date) {
            return bad("packet.date", "expected a date YYYY-MM-DD");
        }
        self.authorization.validate(path)?;
        if self.authorization.scope == Scope::Scoping {
            if self.flags.production_mutation {
                return bad(
                    "flags.production_mutation",
                    "a scoping run cannot mutate production",
                );
            }
            if self.flags.real_run_cutover {
                return bad(
                    "flags.real_run_cutover",
                    "a scoping run cannot perform a REAL_RUN or cutover",
                );
            }
        }
        let given = [
            self.registry.dir.is_some(),
            self.registry.url.is_some(),
            self.registry.import.is_some(),
        ];
        match given.iter().filter(|g| **g).count() {
            1 => {}
            0 => {
                return bad(
                    "registry",
                    "give `dir` or `url` (the team's registry) or `import` (a working copy)",
                );
            }
            _ => {
                return bad("registry", "give only one of `dir`, `url` and `import`");
            }
        }
        if let Some(url) = &self.registry.url {
            check_registry_url(url)
                .map_err(|why| Error::malformed(path, format!("registry.url: {why}")))?;
        }
        for (name, from) in &self.run.working_copies {
            if name == "registry"
                || name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return bad(
                    &format!("run.working_copies.{name}"),
                    "a name is lower-case letters, digits and '-', and not \"registry\"",
                );
            }
            if !is_plain_relative(from) {
                return bad(
                    &format!("run.working_copies.{name}"),
                    "must be a relative path inside the spec directory",
                );
            }
        }
        if self.run.fold.is_some() && self.run.change.is_some() {
            return bad(
                "run",
                "give either `fold` or `change`: a run performs one mutation",
            );
        }
        // A run with a change: whether it writes to live systems is derived
        // from what the change touches (the rehearsal predicts it, the
        // snapshots show it), and a contradicting value fails then. A run
        // without one performs no command that could write.
        if self.run.change.is_none() && self.flags.live_system_contact == LiveContact::ReadWrite {
            return bad(
                "flags.live_system_contact",
                "\"read-write\" is for a run that performs a change ([run] change); say \"none\" or \"read-only\"",
            );
        }
        if self.registry.object_kind.trim().is_empty() {
            return bad("registry.object_kind", "must not be empty");
        }
        Ok(())
    }
}

/// Why `url` cannot be `registry.url`: not a `postgres://` /
/// `postgresql://` URL, not a valid one, or one carrying a password (the
/// spec is carried into every packet, and a password may never be). The
/// reason never repeats the URL.
pub fn check_registry_url(url: &str) -> std::result::Result<(), String> {
    if !crate::registry::backend::is_url(url) {
        return Err(
            "expected a postgres:// or postgresql:// URL (a registry directory is `dir`)".into(),
        );
    }
    let config = crate::pgconn::parse_config(url)?;
    if config.get_password().is_some() {
        return Err("the URL carries a password; a spec never holds one (it is carried into the packet): remove it and give it in PGPASSWORD or a pgpass file (PGPASSFILE or ~/.pgpass, mode 0600)".into());
    }
    Ok(())
}

/// `[A-Z0-9_]+`, starting with a letter: the shape of macro names and statuses.
pub fn is_status_word(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// `YYYY-MM-DD`, a real calendar date (leap years included).
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r.clone()]
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| s[r].parse().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[packet]
macro = "FIX7_P0_SCOPING_MACRO_2026_06_12"
status_prefix = "FIX7_P0_SCOPING"
title = "FIX7 P0 scoping"
date = "2026-06-12"

[authorization]
text = "SCOPING ONLY (+ canonical fold 442..461 if safe)."
scope = "scoping"
[[authorization.mutations]]
kind = "registry-fold"
surface = "governance-registry"
range = "442..461"
if_safe = true

[flags]
production_mutation = false
real_run_cutover = false
live_system_contact = "none"

[registry]
import = "registry/registry-import.json"

[source]
root = "source"
"#;

    fn load(text: &str) -> Result<LoadedSpec> {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(SPEC_FILE), text).unwrap();
        LoadedSpec::load(d.path())
    }

    #[test]
    fn good_spec_loads_with_defaults() {
        let s = load(GOOD).unwrap();
        assert_eq!(s.spec.files, SpecFiles::default());
        assert_eq!(s.spec.registry.object_kind, "packet-artifact");
        assert!(s.surfaces.ends_with("surfaces.toml"));
    }

    #[test]
    fn each_rule_fails_closed_naming_the_key() {
        let cases = [
            (
                GOOD.replace("date = \"2026-06-12\"", "date = \"2026-13-01\""),
                "packet.date",
            ),
            (
                GOOD.replace(
                    "status_prefix = \"FIX7_P0_SCOPING\"",
                    "status_prefix = \"fix7\"",
                ),
                "packet.status_prefix",
            ),
            (
                GOOD.replace("production_mutation = false", "production_mutation = true"),
                "flags.production_mutation",
            ),
            (
                GOOD.replace("real_run_cutover = false", "real_run_cutover = true"),
                "flags.real_run_cutover",
            ),
            (
                GOOD.replace("import = \"registry/registry-import.json\"", ""),
                "registry",
            ),
            (
                GOOD.replace("root = \"source\"", "root = \"../elsewhere\""),
                "source.root",
            ),
            (
                GOOD.replace("root = \"source\"", "root = \"/etc\""),
                "source.root",
            ),
            (GOOD.replace("[source]", "[source]\nroot2 = 1"), "root2"),
            (
                GOOD.replace(
                    "live_system_contact = \"none\"",
                    "live_system_contact = \"some\"",
                ),
                "some",
            ),
        ];
        for (text, key) in cases {
            let e = load(&text).unwrap_err().to_string();
            assert!(e.contains("packet.toml") && e.contains(key), "{key}: {e}");
        }
    }

    #[test]
    fn a_registry_url_is_a_postgres_url_without_a_password() {
        let with =
            |registry: &str| GOOD.replace("import = \"registry/registry-import.json\"", registry);
        let s = load(&with("url = \"postgresql://holdfast@db.example/registry\"")).unwrap();
        assert_eq!(
            s.registry_location(),
            Some(PathBuf::from("postgresql://holdfast@db.example/registry"))
        );
        for (registry, why) in [
            (
                "url = \"postgres://holdfast:hunter2@db.example/r\"",
                "carries a password",
            ),
            (
                "url = \"postgres://holdfast@db.example/r?password=hunter2\"",
                "carries a password",
            ),
            ("url = \"/srv/registry\"", "expected a postgres://"),
            ("url = \"postgres://db.example:notaport/r\"", "not valid"),
            (
                "url = \"postgres://u:hunter2@db.example:notaport/r\"",
                "not valid",
            ),
            (
                "url = \"postgres://u:hunter2@db.example/r?sslmode=hunter2\"",
                "not valid",
            ),
            (
                "url = \"postgres://h/r\"\ndir = \"reg\"",
                "only one of `dir`, `url` and `import`",
            ),
        ] {
            let e = load(&with(registry)).unwrap_err().to_string();
            assert!(
                e.contains("packet.toml") && e.contains(why) && !e.contains("hunter2"),
                "{registry}: {e}"
            );
            if why != "only one of `dir`, `url` and `import`" {
                assert!(e.contains("registry.url"), "{e}");
            }
        }
    }

    #[test]
    fn dates_are_checked() {
        assert!(is_date("2026-06-12"));
        for bad in [
            "2026-6-12",
            "2026-06-32",
            "2026-00-01",
            "20260612",
            "2026-06-1x",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
    }
}
