//! `holdfast probe SPEC`

use std::path::PathBuf;

use holdfast::Error;
use holdfast::error::exit;
use holdfast::gate::probe::{self, HarnessOptions};
use holdfast::gate::spec::LoadedSpec;
use holdfast::gate::{PROBE_REPORT_FILE, facts::Outcome};

use crate::output::{Output, one_line};
use crate::progress_bar::Bar;

/// Arguments of `holdfast probe`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The gate spec: a gates.toml file, or a spec directory holding one.
    #[arg(required_unless_present = "list")]
    pub spec: Option<PathBuf>,
    /// Write production-bad-input-design.json into this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run only this class (repeatable); `user` selects the spec's own probes.
    #[arg(long, value_name = "CLASS")]
    pub only: Vec<String>,
    /// List the built-in classes and exit.
    #[arg(long)]
    pub list: bool,
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
                println!("{:<32} {:<26} {}{state}", c.id, c.gate, c.title);
            }
        }
        return Ok(exit::OK);
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
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let bytes = holdfast::canonical::to_bytes(&report)?;
        holdfast::fsio::write_atomic(&dir.join(PROBE_REPORT_FILE), &bytes)?;
    }
    let code = if report.all_fail_closed {
        exit::OK
    } else {
        exit::FAILED
    };
    if out.json {
        out.print_json(&report)?;
    } else {
        for p in report.probes.iter().filter(|p| !p.fail_closed) {
            println!(
                "{:<11} {}: {}",
                p.outcome.label(),
                p.id,
                one_line(&p.reason)
            );
        }
        for c in report.controls.iter().filter(|c| !c.ok) {
            println!(
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
            println!(
                "{:<11} {}: {}",
                p.outcome.label(),
                p.id,
                one_line(&p.reason)
            );
        }
        let s = &report.summary;
        println!(
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
