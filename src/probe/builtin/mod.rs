//! The built-in bad-input classes: what each attacks, and the bad copies of
//! the fixture it runs the real binary on.
//!
//! The classes live in one file per family, by the gate they attack:
//! [`packet`] (the seal), [`inputs`] (JSON and TOML readers), [`gates`]
//! (blockers, decision, plan, selection, bypasses), [`surface`] (proof and
//! citations) and [`registry`] (invariants, folds, rollbacks, revisions).
//! Each family declares its classes (`classes()`) next to their builders,
//! so a new class is added in one place; [`table`] gathers them.
//!
//! A class whose probes are not written yet (`build: None`) is listed with
//! the command it will attack and reported NOT RUN, which fails the harness:
//! a class that did not run never counts as passed.

mod gates;
mod inputs;
mod packet;
mod registry;
mod surface;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use super::case::{Case, Redactor, tree_digest};
use super::fixture::{CLOSING, Fixture, good_plan};
use super::report::{ControlRecord, ProbeKind};
use super::{Spawn, exec};
use crate::error::{IoContext, Result};
use crate::gate::blocker::Status;
use crate::gate::citation::BlockerEvidence;
use crate::gate::facts::Outcome;
use crate::gate::facts_file::UnknownSurface;
use crate::gate::{PLAN_FILE, SPEC_FILE, plan};
use crate::seal::{MANIFEST_NAME, TREE_NAME};
use crate::{digest, seal};

/// Builds the bad inputs of a class.
type Builder = fn(&Fixture) -> Result<Vec<CaseSpec>>;

/// An unknown-surface fact for a probe's facts file, citing (as every
/// derived fact must) a source file by path and a well-formed sha256.
fn unknown_surface(surface: &str, name: &str) -> UnknownSurface {
    UnknownSurface {
        surface: surface.into(),
        name: name.into(),
        evidence: vec![BlockerEvidence::Source(crate::gate::citation::Citation {
            path: "docs/unknown.md".into(),
            lines: None,
            sha256: Some(digest::sha256_hex(b"unknown\n")),
        })],
    }
}

/// A built-in class.
pub(crate) struct ClassDef {
    pub id: &'static str,
    pub title: &'static str,
    /// The holdfast subcommand it attacks.
    pub gate: &'static [&'static str],
    /// A flag the subcommand must offer (for gates that are a flag).
    pub flag: Option<&'static str>,
    /// Controls that must pass before its probes mean anything.
    pub controls: &'static [&'static str],
    /// `None`: its probes are not written yet (reported NOT RUN).
    pub build: Option<Builder>,
}

/// A built-in class, for listing (`holdfast probe --list`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ClassInfo {
    /// Class id.
    pub id: String,
    /// One-line title.
    pub title: String,
    /// The gate command it attacks.
    pub gate: String,
    /// Whether its probes exist in this build (otherwise it reports NOT RUN).
    pub implemented: bool,
}

/// Every built-in class, for listing.
pub fn class_table() -> Vec<ClassInfo> {
    table()
        .iter()
        .map(|c| ClassInfo {
            id: c.id.to_string(),
            title: c.title.to_string(),
            gate: gate_text(c),
            implemented: c.build.is_some(),
        })
        .collect()
}

fn gate_text(c: &ClassDef) -> String {
    let mut s = format!("holdfast {}", c.gate.join(" "));
    if let Some(f) = c.flag {
        s.push(' ');
        s.push_str(f);
    }
    s
}

const MANY: &[&str] = &[
    "verify-good-packet",
    "verdict-good-evidence",
    "gates-select-good-spec",
    "plan-check-good-plan",
    "probe-user-only",
];

/// A class attacking a subcommand without a required flag.
fn class(
    id: &'static str,
    title: &'static str,
    gate: &'static [&'static str],
    controls: &'static [&'static str],
    build: Builder,
) -> ClassDef {
    ClassDef {
        id,
        title,
        gate,
        flag: None,
        controls,
        build: Some(build),
    }
}

/// The class table, sorted by id: every family's classes.
pub(crate) fn table() -> Vec<ClassDef> {
    let mut t: Vec<ClassDef> = [
        packet::classes(),
        inputs::classes(),
        gates::classes(),
        registry::classes(),
        surface::classes(),
    ]
    .into_iter()
    .flatten()
    .collect();
    t.sort_by(|a, b| a.id.cmp(b.id));
    t
}

/// One bad input of a built-in class.
pub(crate) struct CaseSpec {
    name: String,
    input: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    expect: Vec<i32>,
    must_not_exist: Vec<PathBuf>,
    must_keep: Vec<PathBuf>,
}

fn cs(name: &str, input: &str, args: Vec<String>, expect: &[i32]) -> CaseSpec {
    CaseSpec {
        name: name.to_string(),
        input: input.to_string(),
        args,
        env: vec![],
        expect: expect.to_vec(),
        must_not_exist: vec![],
        must_keep: vec![],
    }
}

impl CaseSpec {
    fn nothing_at(mut self, p: PathBuf) -> Self {
        self.must_not_exist.push(p);
        self
    }
    /// The refusal must leave everything under `p` byte for byte as it is
    /// when the case is built.
    fn keep(mut self, p: PathBuf) -> Self {
        self.must_keep.push(p);
        self
    }
    fn env(mut self, vars: Vec<(String, String)>) -> Self {
        self.env = vars;
        self
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn verify(d: &Path) -> Vec<String> {
    vec!["verify".into(), s(d)]
}

fn rd(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).at(p)
}

fn wr(p: &Path, b: &[u8]) -> Result<()> {
    std::fs::write(p, b).at(p)
}

fn rm(p: &Path) -> Result<()> {
    if p.is_dir() {
        std::fs::remove_dir_all(p).at(p)
    } else {
        std::fs::remove_file(p).at(p)
    }
}

fn link(target: &Path, at: &Path) -> Result<()> {
    std::os::unix::fs::symlink(target, at).at(at)
}

// ---- JSON and TOML inputs -------------------------------------------------

fn json_bytes<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    crate::canonical::to_bytes(v)
}

/// The good evidence as a JSON value.
fn evidence(fx: &Fixture) -> Result<Value> {
    serde_json::to_value(&fx.evidence_value)
        .map_err(|e| crate::Error::failed(format!("internal: {e}")))
}

/// Evidence that must not pass: the packet is not sealed.
fn failing_evidence(fx: &Fixture) -> Result<Value> {
    let mut e = evidence(fx)?;
    e["sealed"] = json!(false);
    Ok(e)
}

fn verdict_case(
    fx: &Fixture,
    name: &str,
    what: &str,
    bytes: &[u8],
    expect: &[i32],
) -> Result<CaseSpec> {
    let d = fx.case_dir(name)?;
    let p = d.join("evidence.json");
    wr(&p, bytes)?;
    Ok(cs(name, what, vec!["verdict".into(), s(&p)], expect))
}

/// `holdfast gates` selecting the option on a mutated copy of the spec.
fn gates_case(
    fx: &Fixture,
    name: &str,
    what: &str,
    expect: &[i32],
    mutate: impl FnOnce(&Path) -> Result<()>,
) -> Result<CaseSpec> {
    let spec = fx.spec_copy(name)?;
    mutate(&spec)?;
    let out = spec.with_file_name("out");
    Ok(cs(name, what, fx.gates_select(&spec, &out), expect).nothing_at(out))
}

fn spec_toml(fx: &Fixture, edit: impl FnOnce(&mut crate::probe::spec::GateSpec)) -> Result<String> {
    let mut v = fx.spec_value.clone();
    edit(&mut v);
    fx.toml(&v)
}

fn sparse(p: &Path, len: u64) -> Result<()> {
    let f = std::fs::File::create(p).at(p)?;
    f.set_len(len).at(p)
}

/// Whether `exe` offers the subcommand (and flag) a class attacks.
fn available(exe: &Path, c: &ClassDef) -> bool {
    let mut args: Vec<std::ffi::OsString> = c.gate.iter().map(Into::into).collect();
    args.push("--help".into());
    let ran = exec::run(
        &Spawn {
            program: exe.as_os_str().to_owned(),
            args,
            cwd: None,
            clear_env: true,
            env: vec![],
            stdin: None,
            timeout: Duration::from_secs(30),
        },
        "",
    );
    ran.exit_code == Some(0)
        && c.flag
            .is_none_or(|f| String::from_utf8_lossy(&ran.stdout.head).contains(f))
}

fn shown(args: &[String], r: &Redactor) -> Vec<String> {
    std::iter::once("holdfast".to_string())
        .chain(args.iter().map(|a| r.apply(a)))
        .collect()
}

/// The cases of the selected classes, and the controls they rest on.
pub(crate) fn cases(
    selected: &[&ClassDef],
    fx: &Fixture,
    exe: &Path,
    r: &Redactor,
    token: &str,
) -> Result<(Vec<Case>, Vec<ControlRecord>)> {
    let spawn = |args: &[String], env: Vec<(String, String)>| Spawn {
        program: exe.as_os_str().to_owned(),
        args: args.iter().map(Into::into).collect(),
        cwd: None,
        clear_env: true,
        env,
        stdin: None,
        timeout: super::BUILTIN_TIMEOUT,
    };
    let needs = |prefix: &str| {
        selected
            .iter()
            .any(|c| c.build.is_some() && c.controls.iter().any(|k| k.starts_with(prefix)))
    };
    if needs("registry-") {
        // Made by the binary; if a step fails, the registry controls fail
        // and the classes resting on them are NOT RUN.
        let _ = fx.prepare_registry();
    }
    let mut controls: Vec<ControlRecord> = Vec::new();
    for (id, args) in fx.controls() {
        if !selected
            .iter()
            .any(|c| c.build.is_some() && c.controls.contains(&id))
        {
            continue;
        }
        let ran = exec::run(&spawn(&args, vec![]), token);
        controls.push(ControlRecord {
            id: id.to_string(),
            command: shown(&args, r),
            exit_code: ran.exit_code,
            ok: ran.exit_code == Some(0),
            detail: if ran.exit_code == Some(0) {
                String::new()
            } else {
                r.apply(
                    String::from_utf8_lossy(&ran.stderr.head)
                        .lines()
                        .next()
                        .unwrap_or("did not exit"),
                )
            },
        });
    }
    controls.sort_by(|a, b| a.id.cmp(&b.id));

    let mut out = Vec::new();
    for c in selected {
        let not_run = |why: String, name: &str, input: &str, args: Vec<String>| Case {
            id: format!("{}/{name}", c.id),
            class: c.id.to_string(),
            kind: ProbeKind::Builtin,
            input: input.to_string(),
            spawn: spawn(&args, vec![]),
            shown: shown(&args, r),
            stdin_shown: None,
            expected_exit: vec![],
            timeout_counts: false,
            must_not_exist: vec![],
            must_keep: vec![],
            not_run: Some(why),
        };
        let gate_args: Vec<String> = c.gate.iter().map(|s| s.to_string()).collect();
        if !available(exe, c) {
            out.push(not_run(
                format!(
                    "the gate command `{}` is not available in this build",
                    gate_text(c)
                ),
                "not-run",
                c.title,
                gate_args,
            ));
            continue;
        }
        let Some(build) = c.build else {
            out.push(not_run(
                format!(
                    "no probe of this class is implemented in this build (gate: `{}`)",
                    gate_text(c)
                ),
                "not-run",
                c.title,
                gate_args,
            ));
            continue;
        };
        let failed: Vec<&ControlRecord> = controls
            .iter()
            .filter(|k| c.controls.contains(&k.id.as_str()) && !k.ok)
            .collect();
        // A class resting on a control that does not exist has no control:
        // its refusals would prove nothing, so it does not run.
        if let Some(missing) = c
            .controls
            .iter()
            .find(|id| !controls.iter().any(|k| k.id == **id))
        {
            out.push(not_run(
                format!("its control {missing} is not defined in this build"),
                "not-run",
                c.title,
                gate_args,
            ));
            continue;
        }
        if c.controls.is_empty() {
            out.push(not_run(
                "it names no control, so a refusal would prove nothing".into(),
                "not-run",
                c.title,
                gate_args,
            ));
            continue;
        }
        fx.set_class(c.id);
        let specs = match build(fx) {
            Ok(v) => v,
            Err(e) => {
                out.push(not_run(
                    format!(
                        "the bad inputs of this class could not be built: {}",
                        r.apply(&e.to_string())
                    ),
                    "not-run",
                    c.title,
                    gate_args,
                ));
                continue;
            }
        };
        for spec in specs {
            let args = spec.args;
            let mut keep_error = None;
            let must_keep = spec
                .must_keep
                .into_iter()
                .filter_map(|p| match tree_digest(&p) {
                    Ok(d) => Some((p, d)),
                    Err(e) => {
                        keep_error.get_or_insert(e.to_string());
                        None
                    }
                })
                .collect();
            let mut case = Case {
                id: format!("{}/{}", c.id, spec.name),
                class: c.id.to_string(),
                kind: ProbeKind::Builtin,
                input: spec.input,
                spawn: spawn(&args, spec.env.clone()),
                shown: {
                    let mut v: Vec<String> = spec
                        .env
                        .iter()
                        .map(|(k, val)| r.apply(&format!("{k}={val}")))
                        .collect();
                    v.extend(shown(&args, r));
                    v
                },
                stdin_shown: None,
                expected_exit: spec.expect,
                timeout_counts: false,
                must_not_exist: spec.must_not_exist,
                must_keep,
                not_run: keep_error
                    .map(|e| format!("the bytes it must keep could not be read: {}", r.apply(&e))),
            };
            if let Some(k) = failed.first() {
                case.not_run = Some(format!(
                    "control {} failed (the good input was refused, so a refusal proves nothing): {}",
                    k.id, k.detail
                ));
            }
            out.push(case);
        }
    }
    Ok((out, controls))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_class_without_probes_is_not_run() {
        // A gate that exists (its --help exits 0) but a class with no probes
        // written yet: NOT RUN, never an empty pass.
        let work = tempfile::tempdir().unwrap();
        let exe = work.path().join("gate");
        std::fs::write(&exe, "#!/bin/sh\nexit 0\n").unwrap();
        let mut perm = std::fs::metadata(&exe).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&exe, perm).unwrap();
        let fx = Fixture::build(work.path(), &exe, "GO_LIVE_APPROVED").unwrap();
        let def = ClassDef {
            id: "future-class",
            title: "a class of the future",
            gate: &["registry", "check"],
            flag: None,
            controls: &[],
            build: None,
        };
        let (cases, controls) = cases(
            &[&def],
            &fx,
            &exe,
            &Redactor::new(vec![]),
            "GO_LIVE_APPROVED",
        )
        .unwrap();
        assert!(controls.is_empty());
        assert_eq!(cases.len(), 1);
        let why = cases[0].not_run.as_deref().unwrap();
        assert!(
            why.contains("no probe of this class is implemented"),
            "{why}"
        );
    }

    #[test]
    fn every_implemented_class_rests_on_controls_that_exist() {
        let work = tempfile::tempdir().unwrap();
        // No binary is needed to list the controls; the surface fixture
        // steps fail quietly here, as they would make the controls fail.
        let fx = Fixture::build(
            work.path(),
            Path::new("/nonexistent/holdfast"),
            "GO_LIVE_APPROVED",
        )
        .unwrap();
        let ids: Vec<&str> = fx.controls().iter().map(|(id, _)| *id).collect();
        let table = table();
        assert!(
            table.windows(2).all(|w| w[0].id < w[1].id),
            "sorted, unique ids"
        );
        for c in &table {
            if c.build.is_some() {
                assert!(!c.controls.is_empty(), "{} has no control", c.id);
                for k in c.controls {
                    assert!(ids.contains(k), "{}: control {k} is not defined", c.id);
                }
            }
        }
    }
}
