//! The harness: which classes a run selects, running every case, and the
//! report they make.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::gate::verdict::pass_token;
use crate::probe::spec::LoadedSpec;
use crate::progress::Progress;

use super::builtin;
use super::case::{Redactor, run_case};
use super::report::{ClassRecord, ProbeKind, ProbeRecord, ProbeReport, class_record, summarize};
use super::{USER_CLASS, fixture, user};

/// What the harness runs.
#[derive(Debug, Clone)]
pub struct HarnessOptions {
    /// The holdfast binary to attack (normally `std::env::current_exe()`).
    pub exe: PathBuf,
    /// Class ids to run (empty: all). Each must match a class.
    pub only: Vec<String>,
}

/// Checks `--only` values against the known classes; an empty selection or a
/// value that matches nothing is a usage error, never "nothing to do, passed".
pub fn select_classes(only: &[String], builtin: &[&str], has_user: bool) -> Result<Vec<String>> {
    select_configured(only, None, builtin, has_user)
}

/// [`select_classes`] within the selection of gates.toml's `[probes]
/// classes` (`configured`; `None`: every class): `--only` narrows it and
/// must name classes inside it.
pub fn select_configured(
    only: &[String],
    configured: Option<&[String]>,
    builtin: &[&str],
    has_user: bool,
) -> Result<Vec<String>> {
    let mut known: Vec<String> = builtin.iter().map(|s| s.to_string()).collect();
    if has_user {
        known.push(USER_CLASS.to_string());
    }
    if let Some(configured) = configured {
        if let Some((_, what)) =
            crate::probe::spec::class_selection_problem(configured, builtin, has_user)
        {
            return Err(Error::Usage(format!("probes.classes: {what}")));
        }
        for o in only {
            if known.contains(o) && !configured.contains(o) {
                return Err(Error::Usage(format!(
                    "--only {o}: not selected by [probes] classes in gates.toml ({}); --only can only narrow it",
                    configured.join(", ")
                )));
            }
        }
        known = configured.to_vec();
    }
    if only.is_empty() {
        return Ok(known);
    }
    let mut out = Vec::new();
    for o in only {
        if o.trim().is_empty() {
            return Err(Error::Usage(
                "--only: an empty class name matches nothing".into(),
            ));
        }
        if !known.contains(o) {
            let hint = if o == USER_CLASS {
                "the spec has no [[probe]]".to_string()
            } else {
                format!("known classes: {}", known.join(", "))
            };
            return Err(Error::Usage(format!(
                "--only {o}: matches no probe class ({hint})"
            )));
        }
        if !out.contains(o) {
            out.push(o.clone());
        }
    }
    Ok(out)
}

/// The classes a full run of `spec` selects (gates.toml's `[probes]
/// classes`, or every class): what a packet's recorded report must hold,
/// no more and no fewer.
pub fn configured_classes(spec: &LoadedSpec) -> Result<Vec<String>> {
    let table = builtin::table();
    let ids: Vec<&str> = table.iter().map(|c| c.id).collect();
    let mut selected = select_configured(
        &[],
        spec.spec.probes.classes.as_deref(),
        &ids,
        !spec.spec.probe.is_empty(),
    )?;
    selected.sort();
    Ok(selected)
}

/// Runs the harness: every selected class, every user probe. The report is
/// returned whatever the outcome; `all_fail_closed` says whether it passed.
pub fn run(
    spec: &LoadedSpec,
    opts: &HarnessOptions,
    progress: &dyn Progress,
) -> Result<ProbeReport> {
    let table = builtin::table();
    let ids: Vec<&str> = table.iter().map(|c| c.id).collect();
    let selected = select_configured(
        &opts.only,
        spec.spec.probes.classes.as_deref(),
        &ids,
        !spec.spec.probe.is_empty(),
    )?;
    harness(Some(spec), &selected, &opts.exe, progress)
}

/// Runs exactly the classes `selected` (built-in ids, and `user` for the
/// spec's probes) against `exe`. Without a spec the token is the default
/// and `user` cannot be selected.
pub(crate) fn harness(
    spec: Option<&LoadedSpec>,
    selected: &[String],
    exe: &Path,
    progress: &dyn Progress,
) -> Result<ProbeReport> {
    let token = spec.map_or(pass_token(None), LoadedSpec::token).to_string();
    let table = builtin::table();

    let work = tempfile::Builder::new()
        .prefix("holdfast-probe-")
        .tempdir()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let exe = exe.canonicalize().map_err(|e| Error::io(exe, e))?;
    let work_root = work
        .path()
        .canonicalize()
        .map_err(|e| Error::io(work.path(), e))?;
    let mut pairs = vec![
        (work_root.display().to_string(), "<work>".into()),
        (work.path().display().to_string(), "<work>".into()),
        (exe.display().to_string(), "holdfast".into()),
        (token.clone(), "<pass token>".into()),
    ];
    if let Some(spec) = spec {
        let spec_dir = spec
            .dir
            .canonicalize()
            .map_err(|e| Error::io(&spec.dir, e))?;
        pairs.push((spec_dir.display().to_string(), "<spec>".into()));
    }
    let redactor = Redactor::new(pairs);

    let builtin_selected: Vec<&builtin::ClassDef> = table
        .iter()
        .filter(|c| selected.iter().any(|s| s == c.id))
        .collect();
    let (mut cases, mut controls) = if builtin_selected.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let fx = fixture::Fixture::build(&work_root, &exe, &token)?;
        builtin::cases(&builtin_selected, &fx, &exe, &redactor, &token)?
    };
    if selected.iter().any(|s| s == USER_CLASS) {
        let Some(spec) = spec else {
            return Err(Error::Usage(
                "user probes need the spec that declares them".into(),
            ));
        };
        cases.extend(user::cases(spec, &redactor)?);
        controls.extend(super::user_control::controls(spec, &redactor, &token)?);
        controls.sort_by(|a, b| a.id.cmp(&b.id));
    }

    progress.start_counting("probing", "probes", cases.len() as u64);
    let mut probes: Vec<ProbeRecord> = cases
        .par_iter()
        .map(|c| {
            let rec = run_case(c, &token, &redactor);
            progress.advance(0);
            rec
        })
        .collect();
    progress.finish();
    probes.sort_by(|a, b| a.id.cmp(&b.id));
    super::user_control::apply(&mut probes, &controls);

    let mut classes: Vec<ClassRecord> = Vec::new();
    for id in selected {
        let (title, gate, kind) = match table.iter().find(|c| c.id == id) {
            Some(c) => (
                c.title.to_string(),
                format!("holdfast {}", c.gate.join(" ")),
                ProbeKind::Builtin,
            ),
            None => (
                "user gate probes from gates.toml".to_string(),
                "user commands".to_string(),
                ProbeKind::User,
            ),
        };
        classes.push(class_record(id, title, kind, gate, &probes));
    }
    classes.sort_by(|a, b| a.id.cmp(&b.id));

    let (summary, all_fail_closed) = summarize(classes.len(), &probes, &controls);
    Ok(ProbeReport {
        custom_pass_token: spec.is_some_and(|s| {
            s.spec.probes.pass_token.is_some()
                && s.spec.probes.pass_token.as_deref() != Some(pass_token(None))
        }),
        classes,
        controls,
        probes,
        summary,
        all_fail_closed,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::gate::facts::Outcome;
    use crate::probe::case::{Case, classify, tree_digest};
    use crate::probe::exec::{Ran, Spawn};

    fn case(kind: ProbeKind, expected: Vec<i32>) -> Case {
        Case {
            id: "c/p".into(),
            class: "c".into(),
            kind,
            input: "bad".into(),
            spawn: Spawn {
                program: "x".into(),
                args: vec![],
                cwd: None,
                clear_env: true,
                env: vec![],
                stdin: None,
                timeout: Duration::from_secs(2),
            },
            shown: vec![],
            stdin_shown: None,
            expected_exit: expected,
            timeout_counts: false,
            must_not_exist: vec![],
            must_keep: vec![],
            not_run: None,
        }
    }

    fn ran(code: Option<i32>) -> Ran {
        Ran {
            exit_code: code,
            ..Ran::default()
        }
    }

    #[test]
    fn classification_never_calls_a_bad_run_fail_closed() {
        let b = case(ProbeKind::Builtin, vec![1]);
        assert_eq!(classify(&ran(Some(1)), &b, None).0, Outcome::FailClosed);
        assert_eq!(classify(&ran(Some(0)), &b, None).0, Outcome::FailOpen);
        assert_eq!(classify(&ran(Some(3)), &b, None).0, Outcome::Unexpected);
        assert_eq!(classify(&ran(Some(101)), &b, None).0, Outcome::Crashed);
        assert_eq!(
            classify(&ran(Some(1)), &b, Some("it wrote out")).0,
            Outcome::Unexpected
        );
        let mut leak = ran(Some(1));
        leak.stderr.token_found = true;
        assert_eq!(classify(&leak, &b, None).0, Outcome::FailOpen);
        let mut sig = ran(None);
        sig.signal = Some(9);
        assert_eq!(classify(&sig, &b, None).0, Outcome::Crashed);
        let mut t = ran(None);
        t.timed_out = true;
        assert_eq!(classify(&t, &b, None).0, Outcome::Timeout);
        let mut spawn = ran(None);
        spawn.spawn_error = Some("no such file".into());
        assert_eq!(classify(&spawn, &b, None).0, Outcome::NotRun);

        let u = case(ProbeKind::User, vec![]);
        assert_eq!(classify(&ran(Some(101)), &u, None).0, Outcome::FailClosed);
        assert_eq!(classify(&ran(Some(127)), &u, None).0, Outcome::NotRun);
        assert_eq!(classify(&ran(Some(2)), &u, None).0, Outcome::FailClosed);
    }

    #[test]
    fn a_selection_that_matches_nothing_is_an_error() {
        let ids = ["a", "b"];
        assert_eq!(select_classes(&[], &ids, false).unwrap(), vec!["a", "b"]);
        assert_eq!(
            select_classes(&[], &ids, true).unwrap(),
            vec!["a", "b", "user"]
        );
        assert_eq!(
            select_classes(&["b".into()], &ids, false).unwrap(),
            vec!["b"]
        );
        for bad in ["", "zzz", "user"] {
            let e = select_classes(&[bad.to_string()], &ids, false).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}: {e}");
        }
    }

    #[test]
    fn only_narrows_the_configured_selection() {
        let ids = ["a", "b", "c"];
        let conf = vec!["c".to_string(), "a".to_string()];
        let sel = |only: &[&str], user: bool| {
            let only: Vec<String> = only.iter().map(|s| s.to_string()).collect();
            select_configured(&only, Some(&conf), &ids, user)
        };
        assert_eq!(sel(&[], false).unwrap(), vec!["c", "a"]);
        assert_eq!(sel(&["a"], false).unwrap(), vec!["a"]);
        let e = sel(&["b"], false).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("--only b: not selected"), "{e}");
        assert_eq!(sel(&["zzz"], false).unwrap_err().exit_code(), 2);
        // A configured list without `user` while probes exist is refused.
        assert_eq!(sel(&[], true).unwrap_err().exit_code(), 2);
        let empty: Vec<String> = vec![];
        assert!(select_configured(&[], Some(&empty), &ids, false).is_err());
    }

    #[test]
    fn a_tree_digest_changes_with_any_write_under_it() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("t");
        assert_eq!(tree_digest(&root).unwrap(), "absent");
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::write(root.join("a/x"), b"1").unwrap();
        let first = tree_digest(&root).unwrap();
        assert_eq!(tree_digest(&root).unwrap(), first);
        std::fs::write(root.join("a/x"), b"2").unwrap();
        let second = tree_digest(&root).unwrap();
        assert_ne!(second, first);
        std::fs::create_dir(root.join("b")).unwrap();
        assert_ne!(tree_digest(&root).unwrap(), second);
        std::fs::remove_dir(root.join("b")).unwrap();
        assert_eq!(tree_digest(&root).unwrap(), second);
        assert_ne!(tree_digest(&root.join("a/x")).unwrap(), second);
    }

    #[test]
    fn redaction_replaces_longest_first() {
        let r = Redactor::new(vec![
            ("/base/w".into(), "<work>".into()),
            ("/base/w/bin/holdfast".into(), "holdfast".into()),
        ]);
        assert_eq!(
            r.apply("/base/w/bin/holdfast: /base/w/x"),
            "holdfast: <work>/x"
        );
    }
}
