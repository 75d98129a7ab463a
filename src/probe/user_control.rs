//! Positive controls of user probes: each `[[probe]]` may name an
//! `accept_file`, a good input its gate must accept (exit 0). A gate that
//! refuses everything "fails closed" on every bad input; only its control
//! shows that it tells good from bad. A control that is refused counts as a
//! failed control (the report is then not all fail-closed); a probe without
//! one is reported as such, and fails its control when
//! `[probes] require_positive_control` is set.

use std::time::Duration;

use super::case::Redactor;
use super::spec::{DEFAULT_TIMEOUT_SECONDS, InputVia, LoadedSpec, UserProbe};
use super::{ControlRecord, ProbeKind, ProbeRecord, Spawn, USER_CLASS, run_command};
use crate::error::Result;
use crate::gate::facts::Outcome;

/// Largest accept file fed on standard input (as for the bad input).
const STDIN_LIMIT: u64 = 64 * 1024 * 1024;

/// The control id of the user probe `probe_id` (`user/<id>`, like the probe).
pub fn control_id(probe_id: &str) -> String {
    format!("{USER_CLASS}/{probe_id}")
}

/// The detail of a control that was required but not declared.
pub const NO_CONTROL_REQUIRED: &str = "no positive control: [probes] require_positive_control is set and this probe has no accept_file";

/// Runs the positive control of every user probe of `spec` that declares
/// one (and records a failed control for each that lacks one when the
/// policy requires it). `token` is searched for in their output like a
/// probe's; `r` redacts machine paths and the token.
pub(crate) fn controls(spec: &LoadedSpec, r: &Redactor, token: &str) -> Result<Vec<ControlRecord>> {
    let dir = spec
        .dir
        .canonicalize()
        .map_err(|e| crate::error::Error::io(&spec.dir, e))?;
    let default_timeout = spec
        .spec
        .probes
        .timeout_seconds
        .unwrap_or(DEFAULT_TIMEOUT_SECONDS);
    let mut out = Vec::new();
    for p in &spec.spec.probe {
        let Some(file) = &p.accept_file else {
            if spec.spec.probes.require_positive_control {
                out.push(ControlRecord {
                    id: control_id(&p.id),
                    command: vec![],
                    exit_code: None,
                    ok: false,
                    detail: NO_CONTROL_REQUIRED.to_string(),
                });
            }
            continue;
        };
        out.push(run_one(p, file, &dir, default_timeout, r, token));
    }
    Ok(out)
}

fn run_one(
    p: &UserProbe,
    file: &str,
    dir: &std::path::Path,
    default_timeout: u64,
    r: &Redactor,
    token: &str,
) -> ControlRecord {
    let mut shown: Vec<String> = p.command.iter().map(|a| r.apply(a)).collect();
    let failed = |shown: Vec<String>, detail: String| ControlRecord {
        id: control_id(&p.id),
        command: shown,
        exit_code: None,
        ok: false,
        detail,
    };
    let program = match p.command.first() {
        Some(first) if first.contains('/') => dir.join(first).into_os_string(),
        Some(first) => first.into(),
        None => "".into(),
    };
    let mut args: Vec<std::ffi::OsString> = p.command.iter().skip(1).map(Into::into).collect();
    let path = dir.join(file);
    let mut stdin = None;
    match p.input_via {
        InputVia::Argument => {
            shown.push(file.to_string());
            if !path.exists() {
                return failed(shown, format!("accept_file {file} does not exist"));
            }
            args.push(path.into_os_string());
        }
        InputVia::Stdin => match crate::fsio::read_regular(&path, STDIN_LIMIT) {
            Ok(bytes) => stdin = Some(bytes),
            Err(e) => {
                return failed(
                    shown,
                    format!("accept_file cannot be read: {}", r.apply(&e.to_string())),
                );
            }
        },
    }
    let ran = run_command(
        &Spawn {
            program,
            args,
            cwd: Some(dir.to_path_buf()),
            clear_env: false,
            env: vec![],
            stdin,
            timeout: Duration::from_secs(p.timeout_seconds.unwrap_or(default_timeout)),
        },
        token,
    );
    let ok = ran.exit_code == Some(0);
    let detail = if ok {
        String::new()
    } else {
        let why = if let Some(e) = &ran.spawn_error {
            format!("the gate could not be started: {}", r.apply(e))
        } else if ran.timed_out {
            "the gate ran out of time on the input it must accept".to_string()
        } else if let Some(code) = ran.exit_code {
            format!("the gate refused the input it must accept (exit {code})")
        } else {
            format!(
                "the gate was ended by signal {} on the input it must accept",
                ran.signal.unwrap_or(0)
            )
        };
        let line = String::from_utf8_lossy(&ran.stderr.head)
            .lines()
            .next()
            .map(|l| r.apply(l))
            .unwrap_or_default();
        if line.is_empty() {
            why
        } else {
            format!("{why}: {line}")
        }
    };
    ControlRecord {
        id: control_id(&p.id),
        command: shown,
        exit_code: ran.exit_code,
        ok,
        detail,
    }
}

/// The reason a user probe records when its positive control failed.
pub const CONTROL_FAILED: &str = "its positive control failed, so its refusal proves nothing (a gate that refuses the good input too cannot tell them apart)";

/// Marks every user probe whose positive control failed as not failing
/// closed (outcome `unexpected`): its refusal of the bad input says nothing
/// about the gate. `probes` and `controls` are one harness run's.
pub(crate) fn apply(probes: &mut [ProbeRecord], controls: &[ControlRecord]) {
    for p in probes.iter_mut().filter(|p| p.kind == ProbeKind::User) {
        if controls.iter().any(|c| c.id == p.id && !c.ok) {
            p.outcome = Outcome::Unexpected;
            p.fail_closed = false;
            p.reason = format!("{CONTROL_FAILED}: {}", p.reason);
        }
    }
}
