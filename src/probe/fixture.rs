//! The good inputs the built-in classes make bad copies of: two sealed
//! packets, a gate spec with its source tree, plan, facts and probe report,
//! authorizations, and an evidence file that earns the pass token. Built in
//! the harness's temporary directory, so the harness needs nothing but the
//! binary (a packet's RERUN.sh can run it offline).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::authz::{Authorization, Scope};
use crate::error::{IoContext, Result};
use crate::gate::assemble::GateFacts;
use crate::gate::blocker::{BlockerSpec, Status};
use crate::gate::citation::Citation;
use crate::gate::decision::OptionSpec;
use crate::gate::facts::{
    BlockerFact, GateName, OptionFact, Outcome, ProbeFact, ProofFact, ProofFacts,
};
use crate::gate::facts_file::DerivedInputs;
use crate::gate::verdict::{Evidence, pass_token};
use crate::gate::{PLAN_FILE, SPEC_FILE, plan};
use crate::model::level::Level;
use crate::model::proof::ProofStatus;
use crate::probe::spec::{GateSpec, InputVia, ProbesConfig, UserProbe};
use crate::probe::{Actual, ClassRecord, Expected, ProbeKind, ProbeRecord, ProbeReport, Summary};
use crate::progress::NoProgress;
use crate::registry::model::{ClaimDoc, ClaimState, ImportRevisions, ObjectDoc, RegistryFile};
use crate::{canonical, digest, seal};

/// The surfaces spec of the surface classes: one forbidden files surface
/// with a cited document, under one boundary.
pub(crate) const SURFACES_TOML: &str = r#"[[surface]]
id = "files-a"
table = "production"
name = "Probe fixture files"
kind = "files"
status = "known"
risk = "high"
gate = "fixture gate"
[[surface.evidence]]
path = "docs/a.md"
lines = "1-2"
[surface.snapshot]
method = "files"
root = "data"

[[boundary]]
id = "no-production-mutation"
title = "NO production mutation"
surfaces = ["files-a"]
"#;

/// The fold the registry fixture's authorization names (the seed's range).
pub(crate) const FOLD: &str = "442..461";
/// The staged claim after it (PKT7), a safe fold once `FOLD` is folded.
pub(crate) const NEXT_FOLD: &str = "462..466";
/// The fold result of `FOLD`, as `registry fold` names it.
pub(crate) const FOLD_RESULT: &str = "governance-fold-442-461-result.json";

/// The option the good spec and the production authorization agree on.
pub(crate) const OPTION: &str = "PROCEED";
/// The declared blocker of the good spec.
pub(crate) const BLOCKER: &str = "BLK-CI";
/// The closing evidence of that blocker, relative to the source tree.
pub(crate) const CLOSING: &str = "evidence/closing.txt";

/// Paths and good values of the fixture.
pub(crate) struct Fixture {
    pub work: PathBuf,
    pub exe: PathBuf,
    pub token: String,
    /// A sealed packet that verifies.
    pub good: PathBuf,
    /// Another sealed packet with the same file names and other bytes.
    pub other: PathBuf,
    /// Files outside the packets with the same bytes as some inside.
    pub outside: PathBuf,
    /// A spec directory (gates.toml, plan, facts, probe report, source tree).
    pub spec: PathBuf,
    pub spec_value: GateSpec,
    pub facts_value: GateFacts,
    pub report_value: ProbeReport,
    pub auth_production: PathBuf,
    pub auth_scoping: PathBuf,
    /// Evidence that earns the pass token.
    pub evidence: PathBuf,
    pub evidence_value: Evidence,
    /// A spec with one user probe that fails closed.
    pub userspec: PathBuf,
    /// A surfaces spec directory (surfaces.toml, cited docs/, snapshot data/).
    pub surf: PathBuf,
    /// Its inventories, sealed (for `verify --source`).
    pub surf_packet: PathBuf,
    /// Two snapshots of `surf` with nothing changed in between.
    pub surf_before: PathBuf,
    /// See `surf_before`.
    pub surf_after: PathBuf,
    /// The good registry in the import format: canonical body 1..441,
    /// PKT6's staged claim 442..461 (the seed's shape).
    pub reg_json: PathBuf,
    /// Its value, for bad copies.
    pub reg_value: RegistryFile,
    /// A live registry (made by [`Fixture::prepare_registry`]): `reg_json`
    /// imported, then PKT7 claims 462..466 with records and PKT8 467..468
    /// (three states).
    pub reg: PathBuf,
    /// `reg` after the fold of `FOLD` (four states).
    pub reg_folded: PathBuf,
    /// The directory holding that fold's result and reverse patch.
    pub fold1: PathBuf,
    /// A scoping authorization naming the registry fold of `FOLD`.
    pub auth_fold: PathBuf,
    /// The class whose cases are being built (names their directories).
    class: Mutex<String>,
}

/// A complete plan (every section filled in).
pub(crate) fn good_plan() -> String {
    let mut s = String::from("# Rollback plan (probe fixture)\n\n");
    for name in plan::SECTIONS {
        s.push_str(&format!("## {name}\n\n- done for the fixture\n\n"));
    }
    s
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).at(d)?;
    }
    std::fs::write(path, bytes).at(path)
}

/// Copies a directory tree of regular files.
pub(crate) fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).at(to)?;
    for entry in std::fs::read_dir(from).at(from)? {
        let entry = entry.at(from)?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if entry.file_type().at(&src)?.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).at(&src)?;
        }
    }
    Ok(())
}

fn packet(dir: &Path, flavour: &str) -> Result<()> {
    write(
        &dir.join("README.md"),
        format!("# Probe fixture packet ({flavour})\n").as_bytes(),
    )?;
    write(
        &dir.join("manifest.json"),
        &canonical::to_bytes(&serde_json::json!({"fixture": flavour, "files": 4}))?,
    )?;
    write(
        &dir.join("evidence/inventory.json"),
        &canonical::to_bytes(&serde_json::json!({"surfaces": [flavour]}))?,
    )?;
    write(
        &dir.join("evidence/deep/notes.txt"),
        format!("notes of the {flavour} packet\n").as_bytes(),
    )?;
    seal::seal(dir, seal::SealOptions { force: false }, &NoProgress)?;
    Ok(())
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn toml_text<T: serde::Serialize>(value: &T) -> Result<String> {
    toml::to_string(value).map_err(|e| {
        crate::Error::failed(format!(
            "internal: fixture is not representable as TOML: {e}"
        ))
    })
}

impl Fixture {
    /// Builds every good input under `work`.
    pub(crate) fn build(work: &Path, exe: &Path, token: &str) -> Result<Fixture> {
        let custom = token != pass_token(None);
        let good = work.join("good");
        let other = work.join("other");
        packet(&good, "good")?;
        packet(&other, "other")?;
        let outside = work.join("outside");
        std::fs::create_dir_all(outside.join("deep")).at(&outside)?;
        std::fs::copy(good.join("README.md"), outside.join("README.md")).at(&outside)?;
        std::fs::copy(
            good.join("evidence/deep/notes.txt"),
            outside.join("deep/notes.txt"),
        )
        .at(&outside)?;
        std::fs::copy(
            good.join(seal::MANIFEST_NAME),
            outside.join(seal::MANIFEST_NAME),
        )
        .at(&outside)?;

        let spec = work.join("spec");
        let closing = b"CI scope reviewed\nseal covers the bytes\n";
        write(&spec.join("source").join(CLOSING), closing)?;
        let spec_value = GateSpec {
            probes: ProbesConfig {
                pass_token: custom.then(|| token.to_string()),
                timeout_seconds: None,
                classes: None,
                require_positive_control: false,
            },
            probe: vec![],
            blocker: vec![BlockerSpec {
                id: BLOCKER.into(),
                title: "CI seal scope".into(),
                surface: "ci".into(),
                severity: Level::Critical,
                status: Status::Closed,
                evidence: vec![],
                closes_when: "the CI seal scope is proven".into(),
                closing_evidence: vec![Citation {
                    path: CLOSING.into(),
                    lines: Some("1-2".into()),
                    sha256: Some(digest::sha256_hex(closing)),
                }],
            }],
            option: vec![OptionSpec {
                id: OPTION.into(),
                title: "Proceed".into(),
                description: String::new(),
                requires_closed: vec![BLOCKER.into()],
                requires_gates: GateName::ALL.to_vec(),
            }],
        };
        write(&spec.join(SPEC_FILE), toml_text(&spec_value)?.as_bytes())?;
        write(&spec.join(PLAN_FILE), good_plan().as_bytes())?;
        let proof = ProofFacts {
            entries: vec![ProofFact {
                boundary: "production-mutation".into(),
                surface: "pg".into(),
                result: ProofStatus::Untouched,
            }],
            boundary_errors: vec![],
        };
        let facts_value = GateFacts {
            derived: DerivedInputs::default(),
            proof: Some(proof.clone()),
        };
        write(
            &spec.join("facts.json"),
            &canonical::to_bytes(&facts_value)?,
        )?;
        let probe = ProbeRecord {
            id: "tampered-artifact/flip-byte".into(),
            class: "tampered-artifact".into(),
            kind: ProbeKind::Builtin,
            input: "one byte changed".into(),
            command: vec!["holdfast".into(), "verify".into(), "<work>/p".into()],
            stdin: None,
            expected: Expected {
                outcome: Outcome::FailClosed,
                exit_codes: vec![1],
                timeout_seconds: 60,
                timeout_counts_as_fail_closed: false,
            },
            actual: Some(Actual {
                exit_code: Some(1),
                signal: None,
                timed_out: false,
                token_in_stdout: false,
                token_in_stderr: false,
                stderr_first_line: "changed: README.md".into(),
            }),
            outcome: Outcome::FailClosed,
            fail_closed: true,
            reason: "exit 1".into(),
        };
        let report_value = ProbeReport {
            custom_pass_token: custom,
            classes: vec![ClassRecord {
                id: "tampered-artifact".into(),
                title: "tampered artifact".into(),
                kind: ProbeKind::Builtin,
                gate: "holdfast verify".into(),
                probes: 1,
                fail_closed: 1,
                result: Outcome::FailClosed,
            }],
            controls: vec![],
            probes: vec![probe],
            summary: Summary {
                classes: 1,
                probes: 1,
                fail_closed: 1,
                ..Summary::default()
            },
            all_fail_closed: true,
        };
        write(
            &spec.join("probe-report.json"),
            &canonical::to_bytes(&report_value)?,
        )?;

        let auth_production = work.join("auth-production.toml");
        write(
            &auth_production,
            toml_text(&Authorization {
                text: "production: may select PROCEED".into(),
                scope: Scope::Production,
                mutations: vec![],
                select: vec![OPTION.into()],
            })?
            .as_bytes(),
        )?;
        let auth_scoping = work.join("auth-scoping.toml");
        write(
            &auth_scoping,
            toml_text(&Authorization {
                text: "scoping only".into(),
                scope: Scope::Scoping,
                mutations: vec![],
                select: vec![],
            })?
            .as_bytes(),
        )?;

        let evidence_value = Evidence {
            status_prefix: "PROBE_FIXTURE".into(),
            pass_token: custom.then(|| token.to_string()),
            missing_artifacts: vec![],
            sealed: true,
            verified: true,
            probes: Some(vec![ProbeFact {
                id: "tampered-artifact/flip-byte".into(),
                outcome: Outcome::FailClosed,
                token_leaked: false,
                timeout_counts_as_fail_closed: false,
            }]),
            proof: Some(proof),
            rollback_plan_problems: Some(vec![]),
            blockers: vec![BlockerFact {
                id: BLOCKER.into(),
                open: false,
            }],
            options: vec![OptionFact {
                id: OPTION.into(),
                requires_closed: vec![BLOCKER.into()],
                requires_gates: GateName::ALL.to_vec(),
            }],
            authorization: Authorization {
                text: "production: may select PROCEED".into(),
                scope: Scope::Production,
                mutations: vec![],
                select: vec![OPTION.into()],
            },
            selected: Some(OPTION.into()),
            mutation_refused: None,
            mutation_problems: vec![],
            mutation_failed: None,
        };
        let evidence = work.join("evidence.json");
        write(&evidence, &canonical::to_bytes(&evidence_value)?)?;

        let userspec = work.join("userspec");
        write(
            &userspec.join("not-a-packet.txt"),
            b"a file, not a packet directory\n",
        )?;
        let user_value = GateSpec {
            probes: ProbesConfig {
                pass_token: custom.then(|| token.to_string()),
                timeout_seconds: Some(60),
                classes: None,
                require_positive_control: false,
            },
            probe: vec![UserProbe {
                id: "verify-a-file".into(),
                title: String::new(),
                command: vec![exe.display().to_string(), "verify".into()],
                input_file: Some("not-a-packet.txt".into()),
                input_via: InputVia::Argument,
                stdin_text: None,
                expect: Default::default(),
                exit_codes: vec![3],
                timeout_seconds: None,
                timeout_is_fail_closed: false,
                accept_file: None,
            }],
            blocker: vec![],
            option: vec![],
        };
        write(
            &userspec.join(SPEC_FILE),
            toml_text(&user_value)?.as_bytes(),
        )?;

        let surf = work.join("surf");
        write(&surf.join("surfaces.toml"), SURFACES_TOML.as_bytes())?;
        write(&surf.join("docs/a.md"), b"line one\nline two\nline three\n")?;
        write(&surf.join("data/x.txt"), b"x data\n")?;
        write(&surf.join("data/y.txt"), b"y data\n")?;

        let reg_value = good_registry();
        let reg_json = work.join("registry-good.json");
        write(&reg_json, &canonical::to_bytes(&reg_value)?)?;
        let auth_fold = work.join("auth-fold.toml");
        write(
            &auth_fold,
            fold_authorization(FOLD, "scoping (+ canonical fold 442..461 if safe)")?.as_bytes(),
        )?;

        let fx = Fixture {
            work: work.to_path_buf(),
            exe: exe.to_path_buf(),
            token: token.to_string(),
            good,
            other,
            outside,
            spec,
            spec_value,
            facts_value,
            report_value,
            auth_production,
            auth_scoping,
            evidence,
            evidence_value,
            userspec,
            surf_packet: work.join("surf-packet"),
            surf_before: work.join("surf-before.json"),
            surf_after: work.join("surf-after.json"),
            surf,
            reg_json,
            reg_value,
            reg: work.join("reg"),
            reg_folded: work.join("reg-folded"),
            fold1: work.join("fold1"),
            auth_fold,
            class: Mutex::new(String::new()),
        };
        // Made by the binary under test; if a step fails, the controls that
        // use these files fail, and the classes resting on them are NOT RUN.
        let _ = fx.prepare_surfaces();
        Ok(fx)
    }

    fn prepare_surfaces(&self) -> Result<()> {
        let spec = s(&self.surf.join("surfaces.toml"));
        for out in [&self.surf_before, &self.surf_after] {
            self.run_ok(&["snapshot".into(), spec.clone(), "--out".into(), s(out)])?;
        }
        self.run_ok(&[
            "surfaces".into(),
            spec,
            "--out".into(),
            s(&self.surf_packet),
        ])?;
        seal::seal(
            &self.surf_packet,
            seal::SealOptions { force: false },
            &NoProgress,
        )?;
        Ok(())
    }

    /// Builds the live registries with the binary (only when a selected
    /// class needs them): `reg`, `reg_folded` with `fold1`, and the
    /// registries the controls write to. If a step fails, the controls
    /// resting on them fail, and their classes are NOT RUN.
    pub(crate) fn prepare_registry(&self) -> Result<()> {
        let reg = |dir: &Path, args: &[&str]| -> Result<()> {
            let mut v: Vec<String> = vec!["registry".into(), "--registry".into(), s(dir)];
            v.extend(args.iter().map(|a| a.to_string()));
            self.run_ok(&v)
        };
        let ids = self.work.join("pkt7-ids.json");
        let records: Vec<crate::registry::NewRecord> = (1..=5)
            .map(|i| crate::registry::NewRecord {
                kind: "evidence".into(),
                title: format!("PKT7 evidence {i}"),
                path: format!("evidence/pkt7-{i}.json"),
                sha256: digest::sha256_hex(format!("pkt7 {i}").as_bytes()),
            })
            .collect();
        write(&ids, &canonical::to_bytes(&records)?)?;
        reg(&self.reg, &["import", &s(&self.reg_json)])?;
        reg(&self.reg, &["claim", "--packet", "PKT7", "--ids", &s(&ids)])?;
        reg(&self.reg, &["claim", "--packet", "PKT8", "--count", "2"])?;
        copy_tree(&self.reg, &self.reg_folded)?;
        reg(&self.reg_folded, &["fold", FOLD, "--out", &s(&self.fold1)])?;
        for (dir, from) in [
            ("control-fold", &self.reg),
            ("control-fold-auth", &self.reg),
            ("control-fold-next", &self.reg_folded),
            ("control-claim", &self.reg_folded),
            ("control-rollback", &self.reg_folded),
        ] {
            copy_tree(from, &self.work.join(dir))?;
        }
        copy_tree(&self.fold1, &self.work.join("control-rollback-fold"))
    }

    /// Runs the binary (empty environment) for a fixture step; an error
    /// unless it exits 0.
    pub(crate) fn run_ok(&self, args: &[String]) -> Result<()> {
        let ran = crate::probe::exec::run(
            &crate::probe::exec::Spawn {
                program: self.exe.as_os_str().to_owned(),
                args: args.iter().map(Into::into).collect(),
                cwd: None,
                clear_env: true,
                env: vec![],
                stdin: None,
                timeout: crate::probe::BUILTIN_TIMEOUT,
            },
            &self.token,
        );
        if ran.exit_code == Some(0) {
            return Ok(());
        }
        let why = String::from_utf8_lossy(&ran.stderr.head)
            .lines()
            .next()
            .unwrap_or("no message")
            .to_string();
        Err(crate::Error::failed(format!(
            "fixture step `holdfast {}` exited {:?}: {why}",
            args.first().map(String::as_str).unwrap_or(""),
            ran.exit_code
        )))
    }

    /// A copy of the surfaces spec directory for one case (`<case>/surf`).
    pub(crate) fn surf_copy(&self, name: &str) -> Result<PathBuf> {
        let d = self.case_dir(name)?.join("surf");
        copy_tree(&self.surf, &d)?;
        Ok(d)
    }

    /// Sets the class whose cases are built next.
    pub(crate) fn set_class(&self, class: &str) {
        if let Ok(mut c) = self.class.lock() {
            *c = class.to_string();
        }
    }

    /// A fresh, empty directory for one case: `cases/<class>/<name>`, the
    /// same path whatever else is selected, so reports are reproducible.
    pub(crate) fn case_dir(&self, name: &str) -> Result<PathBuf> {
        let class = self.class.lock().map(|c| c.clone()).unwrap_or_default();
        let base = self.work.join("cases").join(class);
        let mut d = base.join(name);
        let mut n = 2;
        while d.exists() {
            d = base.join(format!("{name}-{n}"));
            n += 1;
        }
        std::fs::create_dir_all(&d).at(&d)?;
        Ok(d)
    }

    /// A copy of the good packet for one case.
    pub(crate) fn packet_copy(&self, name: &str) -> Result<PathBuf> {
        let d = self.case_dir(name)?.join("packet");
        copy_tree(&self.good, &d)?;
        Ok(d)
    }

    /// A copy of the good spec directory for one case.
    pub(crate) fn spec_copy(&self, name: &str) -> Result<PathBuf> {
        let d = self.case_dir(name)?.join("spec");
        copy_tree(&self.spec, &d)?;
        Ok(d)
    }

    /// Writes `bytes` to `path` (creating directories).
    pub(crate) fn put(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        write(path, bytes)
    }

    /// TOML text of a value (for mutated specs and authorizations).
    pub(crate) fn toml<T: serde::Serialize>(&self, value: &T) -> Result<String> {
        toml_text(value)
    }

    /// The arguments of `holdfast gates` selecting the option on `spec`,
    /// with every good input taken from `spec` and output to `out`.
    pub(crate) fn gates_select(&self, spec: &Path, out: &Path) -> Vec<String> {
        vec![
            "gates".into(),
            spec.display().to_string(),
            "--facts".into(),
            spec.join("facts.json").display().to_string(),
            "--probe-report".into(),
            spec.join("probe-report.json").display().to_string(),
            "--source".into(),
            spec.join("source").display().to_string(),
            "--authorization".into(),
            self.auth_production.display().to_string(),
            "--select".into(),
            OPTION.into(),
            "--out".into(),
            out.display().to_string(),
        ]
    }

    /// The controls: each good input and the arguments that must exit 0.
    pub(crate) fn controls(&self) -> Vec<(&'static str, Vec<String>)> {
        vec![
            ("verify-good-packet", vec!["verify".into(), s(&self.good)]),
            (
                "verdict-good-evidence",
                vec!["verdict".into(), s(&self.evidence)],
            ),
            (
                "gates-select-good-spec",
                self.gates_select(&self.spec, &self.work.join("control-gates-out")),
            ),
            (
                "plan-check-good-plan",
                vec!["plan".into(), "check".into(), s(&self.spec.join(PLAN_FILE))],
            ),
            (
                "probe-user-only",
                vec![
                    "probe".into(),
                    s(&self.userspec),
                    "--only".into(),
                    "user".into(),
                ],
            ),
            (
                "surfaces-good-spec",
                vec!["surfaces".into(), s(&self.surf.join("surfaces.toml"))],
            ),
            (
                "prove-untouched",
                vec![
                    "prove".into(),
                    s(&self.surf_before),
                    s(&self.surf_after),
                    "--authorization".into(),
                    s(&self.auth_scoping),
                    "--out".into(),
                    s(&self.work.join("control-prove-out")),
                ],
            ),
            (
                "verify-source-fresh",
                vec![
                    "verify".into(),
                    s(&self.surf_packet),
                    "--source".into(),
                    s(&self.surf),
                ],
            ),
            ("registry-check-good", registry_args(&self.reg, &["check"])),
            (
                "registry-check-folded",
                registry_args(&self.reg_folded, &["check"]),
            ),
            (
                "registry-check-file-good",
                registry_args(&self.reg, &["check", "--file", &s(&self.reg_json)]),
            ),
            (
                "registry-import-good",
                registry_args(
                    &self.work.join("control-import"),
                    &["import", &s(&self.reg_json)],
                ),
            ),
            (
                "registry-claim-good",
                registry_args(
                    &self.work.join("control-claim"),
                    &["claim", "--packet", "PKT9", "--count", "1"],
                ),
            ),
            (
                "registry-fold-good",
                registry_args(
                    &self.work.join("control-fold"),
                    &[
                        "fold",
                        FOLD,
                        "--out",
                        &s(&self.work.join("control-fold-out")),
                    ],
                ),
            ),
            (
                "registry-fold-authorized",
                registry_args(
                    &self.work.join("control-fold-auth"),
                    &[
                        "fold",
                        FOLD,
                        "--authorization",
                        &s(&self.auth_fold),
                        "--out",
                        &s(&self.work.join("control-fold-auth-out")),
                    ],
                ),
            ),
            (
                "registry-fold-next",
                registry_args(
                    &self.work.join("control-fold-next"),
                    &[
                        "fold",
                        NEXT_FOLD,
                        "--out",
                        &s(&self.work.join("control-fold-next-out")),
                    ],
                ),
            ),
            (
                "registry-rollback-good",
                registry_args(
                    &self.work.join("control-rollback"),
                    &[
                        "rollback",
                        &s(&self.work.join("control-rollback-fold").join(FOLD_RESULT)),
                    ],
                ),
            ),
        ]
    }
}

/// `holdfast registry --registry DIR ARGS...`.
pub(crate) fn registry_args(dir: &Path, args: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = vec!["registry".into(), "--registry".into(), s(dir)];
    v.extend(args.iter().map(|a| a.to_string()));
    v
}

/// A scoping authorization whose one mutation is the registry fold of `range`.
pub(crate) fn fold_authorization(range: &str, text: &str) -> Result<String> {
    let range = range
        .parse()
        .map_err(|e: String| crate::Error::failed(format!("internal: {e}")))?;
    toml_text(&Authorization {
        text: text.into(),
        scope: Scope::Scoping,
        mutations: vec![crate::authz::AuthorizedMutation::RegistryFold {
            surface: "governance-registry".into(),
            range,
            if_safe: true,
        }],
        select: vec![],
    })
}

/// The good registry in the import format: the seed's shape (canonical
/// body TKT-OBJ-001..441 folded, PKT6 staged 442..461, revisions 23/23/115).
pub(crate) fn good_registry() -> RegistryFile {
    let id = |n: u64| format!("TKT-OBJ-{n:03}");
    let claim = |packet: &str, first: u64, last: u64, state: ClaimState| ClaimDoc {
        first: id(first),
        last: id(last),
        packet: packet.into(),
        state,
    };
    let object = |n: u64, packet: &str| ObjectDoc {
        id: id(n),
        kind: "evidence".into(),
        packet: packet.into(),
        path: format!("evidence/{n}.json"),
        sha256: digest::sha256_hex(n.to_string().as_bytes()),
        title: String::new(),
    };
    RegistryFile {
        canonical_max: 441,
        claims: vec![
            claim("PKT1-5", 1, 441, ClaimState::Folded),
            claim("PKT6", 442, 461, ClaimState::Staged),
        ],
        document_revisions: ImportRevisions {
            index_md: 115,
            objects_json: None,
            objects_md: None,
            registry_json: 23,
            registry_md: 23,
        },
        format: None,
        id_prefix: "TKT-OBJ".into(),
        id_width: 3,
        objects: (1..=461)
            .map(|n| object(n, if n <= 441 { "PKT1-5" } else { "PKT6" }))
            .collect(),
    }
}
