//! `holdfast probe SPEC`, `holdfast probe --rerun DESIGN_JSON [--spec GATES]`

use std::path::{Path, PathBuf};

use holdfast::Error;
use holdfast::error::exit;
use holdfast::gate::{PROBE_REPORT_FILE, facts::Outcome};
use holdfast::probe::spec::LoadedSpec;
use holdfast::probe::{self, HarnessOptions, ProbeReport, RerunOptions};

use crate::output::{Output, one_line};
use crate::progress_bar::Bar;

/// Arguments of `holdfast probe`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The gate spec: a gates.toml file, or a spec directory holding one.
    #[arg(required_unless_present_any = ["list", "rerun"], conflicts_with = "rerun")]
    pub spec: Option<PathBuf>,
    /// Write production-bad-input-design.json into this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run only this class (repeatable); `user` selects the spec's own probes.
    #[arg(long, value_name = "CLASS", conflicts_with = "rerun")]
    pub only: Vec<String>,
    /// List the built-in classes and exit.
    #[arg(long, conflicts_with = "rerun")]
    pub list: bool,
    /// Re-run exactly the classes recorded in a production-bad-input-design.json; exit 0 only if every probe fails closed again and the probe ids are the recorded ones.
    #[arg(long, value_name = "DESIGN_JSON")]
    pub rerun: Option<PathBuf>,
    /// With --rerun: the gate spec the design was recorded with (needed for user probes or a custom pass token).
    #[arg(long = "spec", value_name = "GATES", requires = "rerun")]
    pub rerun_spec: Option<PathBuf>,
}

/// Refuses an `--out` whose report would overwrite `design`, the design
/// being re-run (checked before anything runs).
fn check_out(dir: &Path, design: &Path) -> Result<(), Error> {
    let target = dir.join(PROBE_REPORT_FILE);
    if let (Ok(t), Ok(d)) = (target.canonicalize(), design.canonicalize())
        && t == d
    {
        return Err(Error::Usage(format!(
            "--out {}: would overwrite the design being re-run; give another directory",
            dir.display()
        )));
    }
    Ok(())
}

/// Writes the report into `dir` as production-bad-input-design.json.
fn write_report(dir: &Path, report: &ProbeReport) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let bytes = holdfast::canonical::to_bytes(report)?;
    holdfast::fsio::write_atomic(&dir.join(PROBE_REPORT_FILE), &bytes)
}

/// The failing probes and controls, and the summary line.
fn print_report(report: &ProbeReport) {
    for p in report.probes.iter().filter(|p| !p.fail_closed) {
        say!(
            "{:<11} {}: {}",
            p.outcome.label(),
            p.id,
            one_line(&p.reason)
        );
    }
    for c in report.controls.iter().filter(|c| !c.ok) {
        say!(
            "CONTROL     {}: good input refused: {}",
            c.id,
            one_line(&c.detail)
        );
    }
    for p in report
        .probes
        .iter()
        .filter(|p| p.fail_closed && p.outcome == Outcome::Timeout)
    {
        say!(
            "{:<11} {}: {}",
            p.outcome.label(),
            p.id,
            one_line(&p.reason)
        );
    }
    let s = &report.summary;
    say!(
        "probe: {} class(es), {} probe(s): {} fail-closed, {} fail-open, {} timeout, {} crashed, {} not run, {} unexpected; pass token leaked by {}; {} control(s) failed",
        s.classes,
        s.probes,
        s.fail_closed,
        s.fail_open,
        s.timeout,
        s.crashed,
        s.not_run,
        s.unexpected,
        s.token_leaked,
        s.controls_failed
    );
}

fn rerun(
    out: &Output,
    design: PathBuf,
    spec: Option<PathBuf>,
    dir: Option<PathBuf>,
) -> Result<i32, Error> {
    let exe = std::env::current_exe().map_err(|e| Error::io("holdfast (current executable)", e))?;
    if let Some(dir) = &dir {
        check_out(dir, &design)?;
    }
    let r = probe::rerun(
        &design,
        &RerunOptions {
            exe,
            spec,
            user_probes_as_recorded: false,
        },
        &Bar::new(),
    )?;
    if let Some(dir) = &dir {
        write_report(dir, &r.report)?;
    }
    if out.json {
        out.print_json(&r)?;
    } else {
        print_report(&r.report);
        for p in &r.problems {
            say!("RERUN       {}", one_line(p));
        }
        say!(
            "rerun of {}: {} recorded class(es), {} probe(s) re-run: {}{}",
            design.display(),
            r.classes.len(),
            r.report.probes.len(),
            if r.passed { "passed" } else { "FAILED" },
            if r.byte_identical {
                "; the same bytes as recorded"
            } else {
                ""
            }
        );
    }
    if r.passed {
        Ok(exit::OK)
    } else {
        eprintln!(
            "holdfast: probe --rerun FAILED: {} problem(s); first: {}",
            r.problems.len(),
            r.problems.first().map_or(String::new(), |p| one_line(p))
        );
        Ok(exit::FAILED)
    }
}

pub fn run(out: &Output, args: Args) -> Result<i32, Error> {
    if args.list {
        let table = probe::class_table();
        if out.json {
            out.print_json(&table)?;
        } else {
            for c in &table {
                let state = if c.implemented {
                    ""
                } else {
                    "  (not in this build: NOT RUN)"
                };
                say!("{:<32} {:<26} {}{state}", c.id, c.gate, c.title);
            }
        }
        return Ok(exit::OK);
    }
    if let Some(design) = args.rerun {
        return rerun(out, design, args.rerun_spec, args.out);
    }
    let Some(spec_path) = args.spec else {
        return Err(Error::Usage(
            "probe: give the gate spec (gates.toml or its directory)".into(),
        ));
    };
    let spec = LoadedSpec::load(&spec_path)?;
    let exe = std::env::current_exe().map_err(|e| Error::io("holdfast (current executable)", e))?;
    let report = probe::run(
        &spec,
        &HarnessOptions {
            exe,
            only: args.only,
        },
        &Bar::new(),
    )?;
    if let Some(dir) = &args.out {
        write_report(dir, &report)?;
    }
    let code = if report.all_fail_closed {
        exit::OK
    } else {
        exit::FAILED
    };
    if out.json {
        out.print_json(&report)?;
    } else {
        print_report(&report);
    }
    if code != exit::OK {
        let s = &report.summary;
        eprintln!(
            "holdfast: probe harness FAILED: {} of {} probe(s) did not fail closed",
            s.probes - s.fail_closed,
            s.probes
        );
    }
    Ok(code)
}
