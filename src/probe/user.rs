//! User probes: the `[[probe]]` entries of gates.toml, turned into runs of
//! the user's own gate commands.

use std::time::Duration;

use super::case::{Case, Redactor};
use super::report::ProbeKind;
use super::{Spawn, USER_CLASS};
use crate::error::Result;
use crate::probe::spec::{DEFAULT_TIMEOUT_SECONDS, InputVia, LoadedSpec};

/// Largest input file a user probe feeds on standard input.
const STDIN_LIMIT: u64 = 64 * 1024 * 1024;

/// One case per user probe. A probe whose input cannot be read is a case
/// that is not run (and so fails the harness), not an error of the whole run.
pub(crate) fn cases(spec: &LoadedSpec, r: &Redactor) -> Result<Vec<Case>> {
    let default_timeout = spec
        .spec
        .probes
        .timeout_seconds
        .unwrap_or(DEFAULT_TIMEOUT_SECONDS);
    // Absolute, so that a relative program path means the same thing in the
    // child (which runs in this directory) as here.
    let dir = spec
        .dir
        .canonicalize()
        .map_err(|e| crate::error::Error::io(&spec.dir, e))?;
    let mut out = Vec::new();
    for p in &spec.spec.probe {
        let mut not_run = None;
        let program = match p.command.first() {
            Some(first) if first.contains('/') => dir.join(first).into_os_string(),
            Some(first) => first.into(),
            None => "".into(),
        };
        let mut args: Vec<std::ffi::OsString> = p.command.iter().skip(1).map(Into::into).collect();
        let mut shown: Vec<String> = p.command.iter().map(|a| r.apply(a)).collect();
        let mut stdin = p.stdin_text.as_ref().map(|t| t.as_bytes().to_vec());
        let mut stdin_shown = p
            .stdin_text
            .as_ref()
            .map(|t| format!("text ({} bytes)", t.len()));
        let mut input = match (&p.input_file, p.input_via) {
            (Some(f), InputVia::Argument) => format!("file {f} (as the last argument)"),
            (Some(f), InputVia::Stdin) => format!("file {f} (on standard input)"),
            (None, _) if stdin.is_some() => "text on standard input".to_string(),
            (None, _) => "no input file".to_string(),
        };
        if !p.title.is_empty() {
            input = format!("{}: {input}", p.title);
        }
        // A program named by a path: say which file is missing, and how
        // the path is read.
        if let Some(first) = p.command.first().filter(|f| f.contains('/'))
            && !dir.join(first).is_file()
        {
            not_run = Some(format!(
                "command {first} does not exist (a first word with a '/' is relative to the spec directory)"
            ));
        }
        if let Some(f) = &p.input_file {
            let path = dir.join(f);
            match p.input_via {
                InputVia::Argument => {
                    if !path.exists() {
                        not_run = Some(format!("input file {f} does not exist"));
                    }
                    args.push(path.into_os_string());
                    shown.push(f.clone());
                }
                InputVia::Stdin => match crate::fsio::read_regular(&path, STDIN_LIMIT) {
                    Ok(bytes) => {
                        stdin_shown = Some(format!("file {f} ({} bytes)", bytes.len()));
                        stdin = Some(bytes);
                    }
                    Err(e) => {
                        not_run = Some(format!(
                            "input file cannot be read: {}",
                            r.apply(&e.to_string())
                        ))
                    }
                },
            }
        }
        out.push(Case {
            id: format!("{USER_CLASS}/{}", p.id),
            class: USER_CLASS.to_string(),
            kind: ProbeKind::User,
            input,
            spawn: Spawn {
                program,
                args,
                cwd: Some(dir.clone()),
                clear_env: false,
                env: vec![],
                stdin,
                timeout: Duration::from_secs(p.timeout_seconds.unwrap_or(default_timeout)),
            },
            shown,
            stdin_shown,
            expected_exit: p.exit_codes.clone(),
            timeout_counts: p.timeout_is_fail_closed,
            must_not_exist: vec![],
            must_keep: vec![],
            not_run,
        });
    }
    Ok(out)
}
