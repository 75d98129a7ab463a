//! What a run is authorized to do: the free-text authorization a human
//! signed off, and its machine-readable scope.
//!
//! holdfast is read-only by default: the only mutation a run may perform is
//! one listed here, and only under its condition ("if safe"). Selecting a
//! production decision option also needs an authorization that names it; a
//! scoping authorization can name none.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The authorization of a run (the `[authorization]` table of a spec, or a
/// stand-alone TOML file given to `holdfast prove --authorization`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// The authorization as granted, word for word (shown in the packet README).
    pub text: String,
    /// `scoping` (look, do not act; no decision option may be selected) or
    /// `production` (may select the options named in `select`).
    pub scope: Scope,
    /// The only mutations the run may perform. Empty: read-only.
    #[serde(default)]
    pub mutations: Vec<AuthorizedMutation>,
    /// Decision option ids this authorization allows selecting. Must be empty
    /// for a scoping authorization.
    #[serde(default)]
    pub select: Vec<String>,
}

/// The kind of authority granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read-only scoping: inventory, prove, probe; never select an option.
    Scoping,
    /// May select the decision options it names.
    Production,
}

/// One authorized mutation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AuthorizedMutation {
    /// `registry fold A..B`, performed only when every safety invariant holds
    /// (`if_safe`, which must be true: holdfast never folds unsafely).
    RegistryFold {
        /// Id of the surface (in the surface inventory) that is the registry.
        surface: String,
        /// The id range, as `A..B` with numbers (e.g. `442..461`).
        range: FoldRange,
        /// Perform only if every invariant holds. Must be `true`.
        if_safe: bool,
    },
    /// A governed change: a command, its rollback command, and per surface
    /// the parts it may change. It is rehearsed (change, then rollback) on
    /// a copy of every `files` surface before the real system is touched,
    /// and rolled back when it fails. A surface not named in `may_change`
    /// may not change at all.
    Change(ChangeSpec),
}

/// An authorized change (`kind = "change"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeSpec {
    /// The change's id (`[run] change` names it): lower-case letters,
    /// digits and `-`.
    pub id: String,
    /// The command, as an argv (no shell unless written, e.g. `sh -c`).
    /// It finds each `files` surface through `HOLDFAST_ROOT_<ID>`.
    pub argv: Vec<String>,
    /// The command that undoes it, as an argv.
    pub rollback: Vec<String>,
    /// The deadline of each command, in seconds (1 to 3600; default 60).
    #[serde(default = "default_change_timeout")]
    pub timeout_seconds: u64,
    /// Per surface id, the parts the change may change: path globs for a
    /// `files` surface (`*` stays in one directory, `**` crosses them),
    /// `schema` and `table:<schema>.<name>` for a `postgres` surface,
    /// `stdout` for a `command` surface.
    pub may_change: std::collections::BTreeMap<String, Vec<String>>,
}

fn default_change_timeout() -> u64 {
    60
}

/// Largest `timeout_seconds` a change may declare.
pub const CHANGE_TIMEOUT_MAX: u64 = 3600;

impl ChangeSpec {
    /// Whether `part` of surface `surface` is inside the declared change set.
    pub fn may_change(&self, surface: &str, part: &str) -> bool {
        self.may_change.get(surface).is_some_and(|globs| {
            globs
                .iter()
                .any(|g| crate::model::glob::compile_glob(g).is_ok_and(|m| m.is_match(part)))
        })
    }

    /// Checks the rules serde cannot express; `at` is the key path.
    fn validate(&self, at: &str) -> std::result::Result<(), String> {
        let id_ok = !self.id.is_empty()
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            return Err(format!(
                "{at}.id: {:?} must be lower-case letters, digits and '-'",
                self.id
            ));
        }
        for (key, argv) in [("argv", &self.argv), ("rollback", &self.rollback)] {
            if argv.first().is_none_or(|p| p.is_empty()) {
                return Err(format!("{at}.{key}: give the program and its arguments"));
            }
            if argv.iter().any(|a| a.contains('\0')) {
                return Err(format!("{at}.{key}: an argument contains a NUL byte"));
            }
        }
        if !(1..=CHANGE_TIMEOUT_MAX).contains(&self.timeout_seconds) {
            return Err(format!(
                "{at}.timeout_seconds: must be 1 to {CHANGE_TIMEOUT_MAX}"
            ));
        }
        if self.may_change.is_empty() {
            return Err(format!(
                "{at}.may_change: name at least one surface and the parts the change may change"
            ));
        }
        for (surface, globs) in &self.may_change {
            if globs.is_empty() {
                return Err(format!(
                    "{at}.may_change.{surface}: name at least one part (or leave the surface out: then it may not change)"
                ));
            }
            for g in globs {
                crate::model::glob::compile_glob(g)
                    .map_err(|e| format!("{at}.may_change.{surface}: {e}"))?;
            }
        }
        Ok(())
    }
}

/// An inclusive range of registry id numbers, written `A..B` (e.g. `442..461`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FoldRange {
    /// First id number in the range.
    pub first: u64,
    /// Last id number in the range (inclusive).
    pub last: u64,
}

impl FoldRange {
    /// Number of ids in the range.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Never true: a range holds at least one id. (Here for clippy's sake.)
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `n` is inside the range.
    pub fn contains(&self, n: u64) -> bool {
        self.first <= n && n <= self.last
    }
}

impl fmt::Display for FoldRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.first, self.last)
    }
}

impl FromStr for FoldRange {
    type Err = String;

    /// Parses `A..B` with `1 <= A <= B`; plain decimal numbers only.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (a, b) = s
            .split_once("..")
            .ok_or_else(|| format!("range {s:?}: expected A..B, e.g. 442..461"))?;
        let parse = |t: &str| -> std::result::Result<u64, String> {
            if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
                return Err(format!("range {s:?}: {t:?} is not a positive whole number"));
            }
            t.parse::<u64>()
                .map_err(|_| format!("range {s:?}: {t:?} is too large"))
        };
        let (first, last) = (parse(a)?, parse(b)?);
        if first == 0 {
            return Err(format!("range {s:?}: ids start at 1"));
        }
        if first > last {
            return Err(format!("range {s:?}: start {first} is after end {last}"));
        }
        Ok(FoldRange { first, last })
    }
}

impl Serialize for FoldRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FoldRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for FoldRange {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FoldRange".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[1-9][0-9]*\\.\\.[1-9][0-9]*$",
            "description": "Inclusive id-number range A..B with 1 <= A <= B."
        })
    }
}

impl Authorization {
    /// Checks the rules serde cannot express; `path` names the file in errors.
    pub fn validate(&self, path: &Path) -> Result<()> {
        if self.text.trim().is_empty() {
            return Err(Error::malformed(
                path,
                "authorization.text: must not be empty",
            ));
        }
        if self.scope == Scope::Scoping && !self.select.is_empty() {
            return Err(Error::malformed(
                path,
                "authorization.select: a scoping authorization cannot select a decision option",
            ));
        }
        for (i, m) in self.mutations.iter().enumerate() {
            match m {
                AuthorizedMutation::RegistryFold {
                    if_safe, surface, ..
                } => {
                    if !if_safe {
                        return Err(Error::malformed(
                            path,
                            format!(
                                "authorization.mutations[{i}].if_safe: must be true; holdfast never folds unsafely"
                            ),
                        ));
                    }
                    if surface.trim().is_empty() {
                        return Err(Error::malformed(
                            path,
                            format!("authorization.mutations[{i}].surface: must name a surface"),
                        ));
                    }
                }
                AuthorizedMutation::Change(c) => {
                    c.validate(&format!("authorization.mutations[{i}]"))
                        .map_err(|what| Error::malformed(path, what))?;
                    if self.changes().filter(|o| o.id == c.id).count() > 1 {
                        return Err(Error::malformed(
                            path,
                            format!(
                                "authorization.mutations[{i}].id: change {:?} is named twice",
                                c.id
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Loads a stand-alone authorization TOML file and validates it.
    pub fn load(path: &Path) -> Result<Self> {
        let a: Authorization = crate::tomlio::load(path)?;
        a.validate(path)?;
        Ok(a)
    }

    /// The authorized registry fold for `range`, if any.
    pub fn authorized_fold(&self, range: FoldRange) -> Option<&AuthorizedMutation> {
        self.mutations.iter().find(|m| match m {
            AuthorizedMutation::RegistryFold { range: r, .. } => *r == range,
            AuthorizedMutation::Change(_) => false,
        })
    }

    /// Every authorized change, in order.
    pub fn changes(&self) -> impl Iterator<Item = &ChangeSpec> {
        self.mutations.iter().filter_map(|m| match m {
            AuthorizedMutation::Change(c) => Some(c),
            AuthorizedMutation::RegistryFold { .. } => None,
        })
    }

    /// The authorized change with id `id`, if any.
    pub fn authorized_change(&self, id: &str) -> Option<&ChangeSpec> {
        self.changes().find(|c| c.id == id)
    }

    /// Refuses (exit 5) unless `argv` is, argument for argument, the argv
    /// of the authorized change `id`: an agent's command runs only when it
    /// is exactly what was authorized. `path` names the spec in the message.
    pub fn require_change_argv(
        &self,
        id: Option<&str>,
        argv: &[String],
        path: &Path,
    ) -> Result<()> {
        let shown = format!("{argv:?}");
        let Some(id) = id else {
            return Err(Error::refused(format!(
                "command {shown}: {} requests no change ([run] change); nothing run",
                path.display()
            )));
        };
        match self.authorized_change(id) {
            Some(c) if c.argv == argv => Ok(()),
            Some(c) => Err(Error::refused(format!(
                "command {shown} is not the argv of the authorized change {id:?} ({:?}); nothing run",
                c.argv
            ))),
            None => Err(Error::refused(format!(
                "command {shown}: the authorization in {} names no change {id:?}; nothing run",
                path.display()
            ))),
        }
    }

    /// Refuses (exit 5) unless this authorization names a registry fold of
    /// exactly `range`. A fold is the one mutation a run may perform, and
    /// only the one it was authorized for: a range that is merely safe for
    /// the registry, or that overlaps the authorized one, is not authorized.
    /// `path` names the authorization in the message.
    pub fn require_fold(&self, range: FoldRange, path: &Path) -> Result<()> {
        if self.authorized_fold(range).is_some() {
            return Ok(());
        }
        let named: Vec<String> = self
            .mutations
            .iter()
            .filter_map(|m| match m {
                AuthorizedMutation::RegistryFold { range, .. } => Some(range.to_string()),
                AuthorizedMutation::Change(_) => None,
            })
            .collect();
        let names = if named.is_empty() {
            "no registry fold (it authorizes no mutation)".to_string()
        } else {
            format!("only the registry fold of {}", named.join(", "))
        };
        Err(Error::refused(format!(
            "fold {range}: the authorization {} names {names}; nothing written",
            path.display()
        )))
    }

    /// Whether this authorization allows selecting decision option `id`.
    pub fn allows_selecting(&self, id: &str) -> bool {
        self.scope == Scope::Production && self.select.iter().any(|s| s == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Authorization> {
        let p = Path::new("auth.toml");
        let a: Authorization = crate::tomlio::parse(text.as_bytes(), p)?;
        a.validate(p)?;
        Ok(a)
    }

    #[test]
    fn ranges_parse_strictly() {
        assert_eq!(
            "442..461".parse::<FoldRange>(),
            Ok(FoldRange {
                first: 442,
                last: 461
            })
        );
        assert_eq!("7..7".parse::<FoldRange>().map(|r| r.len()), Ok(1));
        for bad in [
            "461..442", "0..3", "a..b", "442-461", "..4", "4..", "+1..2", "1..2..3", " 1..2",
        ] {
            assert!(bad.parse::<FoldRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn seed_authorization_parses() {
        let a = parse(
            r#"
text = "GPT-delegated production-readiness SCOPING ONLY (+ canonical fold 442..461 if safe)."
scope = "scoping"
[[mutations]]
kind = "registry-fold"
surface = "governance-registry"
range = "442..461"
if_safe = true
"#,
        )
        .unwrap();
        let r = FoldRange {
            first: 442,
            last: 461,
        };
        assert!(a.authorized_fold(r).is_some());
        assert!(
            a.authorized_fold(FoldRange {
                first: 442,
                last: 462
            })
            .is_none()
        );
        assert!(!a.allows_selecting("HOLD_PRODUCTION"));
    }

    #[test]
    fn only_the_exact_authorized_fold_range_is_allowed() {
        let p = Path::new("auth.toml");
        let a = parse(
            "text = \"x\"\nscope = \"scoping\"\n[[mutations]]\nkind = \"registry-fold\"\nsurface = \"r\"\nrange = \"442..461\"\nif_safe = true\n",
        )
        .unwrap();
        let r = |s: &str| s.parse::<FoldRange>().unwrap();
        assert!(a.require_fold(r("442..461"), p).is_ok());
        for other in ["442..466", "442..450", "443..461", "462..466"] {
            let e = a.require_fold(r(other), p).unwrap_err();
            assert_eq!(e.exit_code(), 5);
            assert!(
                e.to_string().contains(&format!("fold {other}"))
                    && e.to_string().contains("only the registry fold of 442..461"),
                "{e}"
            );
        }
        let read_only = parse("text = \"x\"\nscope = \"scoping\"\n").unwrap();
        let e = read_only.require_fold(r("442..461"), p).unwrap_err();
        assert!(e.to_string().contains("authorizes no mutation"), "{e}");
    }

    #[test]
    fn unsafe_or_contradictory_authorizations_are_refused() {
        let e = parse("text = \"x\"\nscope = \"scoping\"\nselect = [\"GO\"]\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("scoping authorization cannot select"),
            "{e}"
        );
        let e = parse(
            "text = \"x\"\nscope = \"scoping\"\n[[mutations]]\nkind = \"registry-fold\"\nsurface = \"r\"\nrange = \"1..2\"\nif_safe = false\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("if_safe"), "{e}");
        let e = parse("text = \"x\"\nscope = \"scoping\"\n[[mutations]]\nkind = \"delete-prod\"\n")
            .unwrap_err();
        assert!(e.to_string().contains("line"), "{e}");
        let e = parse("text = \"x\"\nscope = \"admin\"\n").unwrap_err();
        assert!(e.to_string().contains("admin"), "{e}");
    }

    const CHANGE: &str = "text = \"x\"\nscope = \"production\"\n[[mutations]]\nkind = \"change\"\nid = \"raise-pool\"\nargv = [\"sh\", \"c.sh\"]\nrollback = [\"sh\", \"r.sh\"]\n[mutations.may_change]\ncfg = [\"app.toml\", \"conf.d/*.toml\"]\n";

    #[test]
    fn a_change_parses_and_matches_its_parts_by_glob() {
        let a = parse(CHANGE).unwrap();
        let c = a.authorized_change("raise-pool").unwrap();
        assert_eq!(c.timeout_seconds, 60);
        assert!(c.may_change("cfg", "app.toml"));
        assert!(c.may_change("cfg", "conf.d/a.toml"));
        assert!(
            !c.may_change("cfg", "conf.d/x/a.toml"),
            "* stays in one directory"
        );
        assert!(!c.may_change("cfg", "logging.toml"));
        assert!(
            !c.may_change("secrets", "app.toml"),
            "an unnamed surface may not change"
        );
        assert!(a.authorized_fold("1..2".parse().unwrap()).is_none());
    }

    #[test]
    fn only_the_exact_argv_of_the_requested_change_may_run() {
        let a = parse(CHANGE).unwrap();
        let p = Path::new("packet.toml");
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(
            a.require_change_argv(Some("raise-pool"), &v(&["sh", "c.sh"]), p)
                .is_ok()
        );
        for (id, argv) in [
            (Some("raise-pool"), v(&["sh", "c.sh", "x"])),
            (Some("raise-pool"), v(&["sh"])),
            (Some("raise-pool"), v(&["sh", "r.sh"])),
            (Some("other"), v(&["sh", "c.sh"])),
            (None, v(&["sh", "c.sh"])),
        ] {
            let e = a.require_change_argv(id, &argv, p).unwrap_err();
            assert_eq!(e.exit_code(), 5, "{e}");
            assert!(e.to_string().contains("nothing run"), "{e}");
        }
    }

    #[test]
    fn bad_changes_are_refused_naming_the_key() {
        for (from, to, key) in [
            ("id = \"raise-pool\"", "id = \"Raise Pool\"", ".id"),
            ("argv = [\"sh\", \"c.sh\"]", "argv = []", ".argv"),
            (
                "rollback = [\"sh\", \"r.sh\"]",
                "rollback = [\"\"]",
                ".rollback",
            ),
            (
                "cfg = [\"app.toml\", \"conf.d/*.toml\"]",
                "cfg = []",
                "may_change.cfg",
            ),
            (
                "cfg = [\"app.toml\", \"conf.d/*.toml\"]",
                "cfg = [\"a[\"]",
                "may_change.cfg",
            ),
            (
                "[mutations.may_change]\ncfg = [\"app.toml\", \"conf.d/*.toml\"]\n",
                "may_change = {}\n",
                "may_change",
            ),
            (
                "rollback = [\"sh\", \"r.sh\"]",
                "rollback = [\"sh\", \"r.sh\"]\ntimeout_seconds = 0",
                "timeout_seconds",
            ),
        ] {
            let text = CHANGE.replace(from, to);
            assert_ne!(text, CHANGE, "{from}");
            let e = parse(&text).unwrap_err();
            assert_eq!(e.exit_code(), 3, "{e}");
            assert!(e.to_string().contains(key), "{key}: {e}");
        }
        let twice = format!(
            "{CHANGE}{}",
            &CHANGE[CHANGE.find("[[mutations]]").unwrap()..]
        );
        assert!(
            parse(&twice)
                .unwrap_err()
                .to_string()
                .contains("named twice")
        );
    }
}
