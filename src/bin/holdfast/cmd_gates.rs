//! `holdfast gates SPEC --out DIR`

use std::path::PathBuf;

use holdfast::Error;
use holdfast::cli_output::GatesOutput;
use holdfast::error::exit;
use holdfast::gate::assemble::{self, GateFacts, GatesRequest};
use holdfast::gate::plan;
use holdfast::probe::ProbeReport;
use holdfast::probe::spec::LoadedSpec;

use crate::output::Output;

/// Arguments of `holdfast gates`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The gate spec: a gates.toml file, or a spec directory holding one.
    pub spec: PathBuf,
    /// Directory to write the blocker map and the decision packet into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Facts blockers are derived from, and the forbidden-surface proof (JSON).
    #[arg(long, value_name = "FILE")]
    pub facts: Option<PathBuf>,
    /// The probe harness report (production-bad-input-design.json).
    #[arg(long, value_name = "FILE")]
    pub probe_report: Option<PathBuf>,
    /// The rollback plan (default: production-rollback-rehearsal-plan.md next to the spec).
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Source tree to check closing-evidence citations against.
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,
    /// Authorization TOML file (needed to select an option).
    #[arg(long, value_name = "FILE")]
    pub authorization: Option<PathBuf>,
    /// Select this decision option (needs a production authorization naming it).
    #[arg(long, value_name = "OPTION")]
    pub select: Option<String>,
}

pub fn run(out: &Output, args: Args) -> Result<i32, Error> {
    let spec = LoadedSpec::load(&args.spec)?;
    let token = spec.token().to_string();
    let authorization = args
        .authorization
        .as_deref()
        .map(|p| assemble::load_authorization(p, &token))
        .transpose()?;
    let facts = args
        .facts
        .as_deref()
        .map(|p| GateFacts::load(p, &token))
        .transpose()?;
    let probe_report = args
        .probe_report
        .as_deref()
        .map(|p| ProbeReport::load(p, &token).and_then(|r| r.findings()))
        .transpose()?;
    let plan_path = args.plan.clone().or_else(|| spec.default_plan());
    let plan = plan_path.as_deref().map(plan::check_file).transpose()?;
    let closing_checks = args
        .source
        .as_deref()
        .map(|s| assemble::check_closing(&spec.spec.blocker, s))
        .transpose()?;
    let result = assemble::assemble(&GatesRequest {
        blockers: &spec.spec.blocker,
        options: &spec.spec.option,
        derived: facts.as_ref().map(GateFacts::facts).unwrap_or_default(),
        proof: facts.and_then(|f| f.proof),
        probes: probe_report,
        plan,
        closing_checks,
        authorization,
        select: args.select,
    })?;
    let files = assemble::write(&args.out, &result)?;
    let d = &result.decision;
    if out.json {
        out.print_json(&GatesOutput {
            files: files.iter().map(|f| f.display().to_string()).collect(),
            blockers: result.map.counts.clone(),
            default: d.default.clone(),
            admissible_now: d.admissible_now.clone(),
            selected: d.selected.clone(),
        })?;
    } else {
        let c = &result.map.counts;
        say!(
            "blockers: {} ({} open, {} closed; {} marked closed count as open)",
            c.total,
            c.open,
            c.closed,
            c.closed_without_evidence
        );
        say!("default: {}", d.default);
        say!("admissible now: {}", d.admissible_now.join(", "));
        say!("selected: {}", d.selected);
        say!("wrote {} file(s) to {}", files.len(), args.out.display());
    }
    Ok(exit::OK)
}
