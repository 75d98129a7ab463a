//! `holdfast registry …`: the governance registry.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use holdfast::Error;
use holdfast::authz::{Authorization, FoldRange};
use holdfast::cli_output::{HistoryOutput, LogLine, RegistryCheckOutput, RegistrySummary};
use holdfast::error::exit;
use holdfast::registry::{
    self, ClaimRequest, DOCUMENTS, FoldOptions, NewRecord, RecordLoad, Store, fold::check_records,
    model::registry_file_bytes,
};

use crate::output::{Output, one_line};

/// Arguments of `holdfast registry`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The registry: a directory [default: .holdfast/registry], or a PostgreSQL database as a postgres:// or postgresql:// URL (no password in it: PGPASSWORD or a pgpass file). Accepted before or after the subcommand's own arguments.
    #[arg(long, global = true, value_name = "DIR|URL")]
    pub registry: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Sub,
}

/// The registry subcommands.
#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Create an empty registry (ids PREFIX-NNN).
    Init(InitArgs),
    /// Create a registry from an existing registry JSON, keeping its ids, canonical max and revisions.
    Import(ImportArgs),
    /// Show the registry: id format, canonical body, next free id, claims, revisions.
    Show(ShowArgs),
    /// Show the history: one line per state, each chained to the one before.
    Log,
    /// Take the next N free ids as one staged claim and record their objects.
    Claim(ClaimArgs),
    /// Check the four invariants (collision, orphan, gap, overlap), JSON validity and hand edits.
    Check(CheckArgs),
    /// Make a range of staged claims canonical, if every safety condition holds.
    Fold(FoldArgs),
    /// Undo a fold with its reverse patch, if the registry has not changed since.
    Rollback(RollbackArgs),
    /// Prove that no state of the history was rewritten.
    VerifyHistory,
    /// Copy the whole registry (documents, revisions, history) to a new registry on any backend.
    Export(ExportArgs),
}

/// Arguments of `registry export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Where the copy goes: a new (or empty) directory, or a postgres:// URL.
    #[arg(long, value_name = "DIR|URL")]
    pub to: PathBuf,
}

/// Arguments of `registry init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Id prefix (ASCII letters, digits, '-' and '_').
    #[arg(long)]
    pub prefix: String,
    /// Digits per id (1 to 18).
    #[arg(long)]
    pub width: u32,
}

/// Arguments of `registry import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The registry JSON to import (docs/reference/registry.md, "Import
    /// format"), or a registry directory written by `registry export`, whose
    /// whole history is copied (it must pass verify-history).
    pub file: PathBuf,
}

/// Arguments of `registry show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Print the whole registry, records included, in the import format (JSON).
    #[arg(long)]
    pub export: bool,
}

/// Arguments of `registry claim`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["count", "ids"])))]
pub struct ClaimArgs {
    /// The packet taking the ids.
    #[arg(long)]
    pub packet: String,
    /// Number of ids to take (each recorded as `reserved`).
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = parse_count)]
    pub count: Option<u64>,
    /// A JSON array with one record per id: {"kind", "title", "path", "sha256"}.
    #[arg(long, value_name = "FILE")]
    pub ids: Option<PathBuf>,
}

/// Arguments of `registry check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Check a registry JSON in the import format instead of the registry directory.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// Arguments of `registry fold`.
#[derive(Debug, clap::Args)]
pub struct FoldArgs {
    /// The range, as numbers (442..461) or ids (TKT-OBJ-442..TKT-OBJ-461).
    #[arg(value_name = "A..B", allow_hyphen_values = true)]
    pub range: String,
    /// Where to write the fold result and the reverse patch.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Check, plan and rehearse only; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The run's authorization (TOML); the fold is refused unless it names a registry-fold of exactly this range.
    #[arg(long, value_name = "FILE")]
    pub authorization: Option<PathBuf>,
}

/// Arguments of `registry rollback`.
#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// The fold result (governance-fold-A-B-result.json); its reverse patch must be next to it.
    pub fold_result: PathBuf,
}

fn parse_count(s: &str) -> Result<u64, String> {
    match s.parse::<i128>() {
        Ok(n) if n >= 1 => u64::try_from(n).map_err(|_| format!("{s} is too large")),
        Ok(_) => Err(format!(
            "{s}: the count must be a whole number of at least 1"
        )),
        Err(_) => Err(format!("{s:?} is not a whole number")),
    }
}

pub fn run(out: &Output, args: Args) -> Result<i32, Error> {
    let dir = args
        .registry
        .unwrap_or_else(|| PathBuf::from(registry::DEFAULT_DIR));
    match args.command {
        Sub::Init(a) => init(out, &dir, a),
        Sub::Import(a) => import(out, &dir, a),
        Sub::Show(a) => show(out, &dir, a),
        Sub::Log => log(out, &dir),
        Sub::Claim(a) => claim(out, &dir, a),
        Sub::Check(a) => check(out, &dir, a),
        Sub::Fold(a) => fold(out, &dir, a),
        Sub::Rollback(a) => rollback(out, &dir, a),
        Sub::VerifyHistory => verify_history(out, &dir),
        Sub::Export(a) => export(out, &dir, &a.to),
    }
}

fn print_summary(s: &RegistrySummary) {
    say!("registry {} (state {})", s.registry, s.state);
    say!(
        "  ids:            {}-{} ({} digits)",
        s.id_prefix,
        "N".repeat(s.id_width as usize),
        s.id_width
    );
    match &s.canonical_max_id {
        Some(id) => say!(
            "  canonical body: {}-{:0w$}..{id} (max {})",
            s.id_prefix,
            1,
            s.canonical_max,
            w = s.id_width as usize
        ),
        None => say!("  canonical body: empty"),
    }
    say!("  next free id:   {}", s.next_free);
    say!("  records:        {}", s.records);
    let staged = s
        .claims
        .iter()
        .filter(|c| c.state == registry::model::ClaimState::Staged)
        .count();
    say!("  claims:         {} ({} staged)", s.claims.len(), staged);
    for c in s
        .claims
        .iter()
        .filter(|c| c.state == registry::model::ClaimState::Staged)
    {
        say!("    staged {}..{} by {}", c.first, c.last, c.packet);
    }
    let revs: Vec<String> = DOCUMENTS
        .iter()
        .map(|d| format!("{} {}", d.name(), s.revisions.get(*d)))
        .collect();
    say!("  revisions:      {}", revs.join(", "));
}

fn init(out: &Output, dir: &Path, a: InitArgs) -> Result<i32, Error> {
    let store = registry::init(dir, &a.prefix, a.width)?;
    let s = RegistrySummary::of(&store);
    if out.json {
        out.print_json(&s)?;
    } else {
        say!("initialized an empty registry in {}", dir.display());
        print_summary(&s);
    }
    Ok(exit::OK)
}

fn export(out: &Output, from: &Path, to: &Path) -> Result<i32, Error> {
    let done = registry::backend::export::export(from, to)?;
    if out.json {
        out.print_json(&done)?;
    } else {
        say!(
            "exported {} to {}: {} states, {} stored files, head {}; verify-history passes on both",
            from.display(),
            to.display(),
            done.states,
            done.copied,
            done.head.as_deref().unwrap_or("-")
        );
    }
    Ok(exit::OK)
}

fn import(out: &Output, dir: &Path, a: ImportArgs) -> Result<i32, Error> {
    if a.file.is_dir() {
        return export(out, &a.file, dir);
    }
    let store = registry::import(dir, &a.file)?;
    let s = RegistrySummary::of(&store);
    if out.json {
        out.print_json(&s)?;
    } else {
        say!("imported {} into {}", a.file.display(), dir.display());
        print_summary(&s);
    }
    Ok(exit::OK)
}

fn show(out: &Output, dir: &Path, a: ShowArgs) -> Result<i32, Error> {
    let load = if a.export {
        RecordLoad::Full
    } else {
        RecordLoad::IdsAndPackets
    };
    let store = Store::open_with(dir, load)?;
    if a.export {
        let bytes = registry_file_bytes(store.registry())?;
        use std::io::Write;
        std::io::stdout()
            .write_all(&bytes)
            .map_err(|e| Error::io("stdout", e))?;
        return Ok(exit::OK);
    }
    let s = RegistrySummary::of(&store);
    if out.json {
        out.print_json(&s)?;
    } else {
        print_summary(&s);
    }
    Ok(exit::OK)
}

fn log(out: &Output, dir: &Path) -> Result<i32, Error> {
    let log = registry::read_log(dir)?;
    if out.json {
        let lines: Vec<LogLine> = log
            .entries
            .iter()
            .zip(&log.hashes)
            .map(|(entry, sha256)| LogLine {
                sha256: sha256.clone(),
                entry: entry.clone(),
            })
            .collect();
        out.print_json(&lines)?;
    } else {
        for (e, h) in log.entries.iter().zip(&log.hashes) {
            let revs: Vec<String> = e
                .documents
                .iter()
                .map(|(k, v)| format!("{k} r{}", v.revision))
                .collect();
            say!(
                "#{} {} [{}] {}",
                e.seq,
                &h[..12],
                revs.join(", "),
                e.op.describe()
            );
        }
    }
    Ok(exit::OK)
}

fn claim(out: &Output, dir: &Path, a: ClaimArgs) -> Result<i32, Error> {
    let request = match (a.count, &a.ids) {
        (Some(n), None) => ClaimRequest::Count(n),
        (None, Some(file)) => {
            let records: Vec<NewRecord> = holdfast::canonical::read_strict(file, 1 << 30)?;
            if records.is_empty() {
                return Err(Error::malformed(
                    file,
                    "holds no records; a claim takes at least one id",
                ));
            }
            check_records(&records, file)?;
            ClaimRequest::Records(records)
        }
        _ => {
            return Err(Error::Usage(
                "claim: give exactly one of --count N and --ids FILE".into(),
            ));
        }
    };
    let outcome = registry::fast::claim(dir, &a.packet, request)?;
    if out.json {
        out.print_json(&outcome)?;
    } else {
        say!(
            "claimed {}..{} ({} ids) for {} as one staged claim (state {})",
            outcome.first_id,
            outcome.last_id,
            outcome.count,
            outcome.packet,
            outcome.state
        );
    }
    Ok(exit::OK)
}

fn check(out: &Output, dir: &Path, a: CheckArgs) -> Result<i32, Error> {
    let (what, inspection) = match &a.file {
        Some(f) => (f.display().to_string(), registry::inspect_file(f)?),
        None => (dir.display().to_string(), registry::inspect(dir)?),
    };
    // An old revision presented as current also fails the format check (its
    // revisions are not the current state's); it is reported as what it is.
    let code = if !inspection.json_valid {
        exit::MALFORMED
    } else if !inspection.stale.is_empty() {
        exit::FAILED
    } else if !inspection.format_valid {
        exit::MALFORMED
    } else if inspection.passes() {
        exit::OK
    } else {
        exit::FAILED
    };
    if out.json {
        out.print_json(&RegistryCheckOutput {
            status: if code == exit::OK { "passed" } else { "failed" }.to_string(),
            exit_code: code,
            inspection: inspection.clone(),
        })?;
    }
    for d in &inspection.stale {
        eprintln!("stale: {}", one_line(d));
    }
    for d in &inspection.drift {
        eprintln!("drift: {}", one_line(d));
    }
    if let Some(e) = &inspection.error {
        eprintln!("invalid: {}", one_line(e));
    }
    if let Some(r) = &inspection.report {
        for p in &r.problems {
            eprintln!(
                "{}: {} [{}]",
                p.class.word(),
                one_line(&p.message),
                p.ids.join(", ")
            );
        }
    }
    let counts = inspection
        .report
        .as_ref()
        .map_or_else(|| "counts not computed".to_string(), |r| r.counts.summary());
    if code == exit::OK {
        if !out.json {
            say!("check {what}: passed: {counts}; JSON valid; ids and format valid; no hand edits");
        }
    } else {
        let valid = |b: bool| if b { "valid" } else { "invalid" };
        eprintln!(
            "holdfast: check {what}: failed: {counts}; JSON {}; ids and format {}; {} hand-edited document(s); {} old revision(s) presented as current",
            valid(inspection.json_valid),
            valid(inspection.format_valid),
            inspection.drift.len(),
            inspection.stale.len()
        );
    }
    Ok(code)
}

fn fold(out: &Output, dir: &Path, a: FoldArgs) -> Result<i32, Error> {
    // Plain number ranges are checked before the registry is even opened.
    let numeric = a.range.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if numeric {
        a.range.parse::<FoldRange>().map_err(Error::Usage)?;
    }
    let authorization = match &a.authorization {
        Some(p) => Some((Authorization::load(p)?, p)),
        None => None,
    };
    if numeric && let (Some((auth, p)), Ok(range)) = (&authorization, a.range.parse()) {
        auth.require_fold(range, p)?;
    }
    let mut store = Store::open_with(dir, RecordLoad::IdsAndPackets)?;
    let range = store
        .registry()
        .format
        .parse_range(&a.range)
        .map_err(Error::Usage)?;
    if let Some((auth, p)) = &authorization {
        auth.require_fold(range, p)?;
    }
    let outcome = store.fold(
        range,
        &FoldOptions {
            out_dir: a.out.clone(),
            dry_run: a.dry_run,
        },
    )?;
    let r = &outcome.result;
    if out.json {
        out.print_json(&outcome)?;
        return Ok(exit::OK);
    }
    let head = if a.dry_run {
        "dry run, nothing written: the fold of"
    } else {
        "folded"
    };
    say!(
        "{head} {}..{}: canonical max {} -> {}, next free {}",
        r.range.first_id,
        r.range.last_id,
        r.canonical_max.before,
        r.canonical_max.after,
        r.next_free.id
    );
    say!(
        "  invariants after: {}; JSON valid: {}; objects[] unchanged: {}",
        r.invariants.after.summary(),
        r.json_valid,
        r.objects_unchanged
    );
    say!(
        "  rollback rehearsal: {}",
        if r.rollback_rehearsal.byte_exact {
            "byte-exact"
        } else {
            "NOT byte-exact"
        }
    );
    let revs: Vec<String> = DOCUMENTS
        .iter()
        .map(|d| format!("{} {}", d.name(), r.revisions_after.get(*d)))
        .collect();
    say!("  revisions after: {}", revs.join(", "));
    if let (Some(rp), Some(pp)) = (&outcome.result_path, &outcome.patch_path) {
        say!("  wrote {} and {}", rp.display(), pp.display());
    }
    Ok(exit::OK)
}

fn rollback(out: &Output, dir: &Path, a: RollbackArgs) -> Result<i32, Error> {
    let mut store = Store::open_with(dir, RecordLoad::IdsAndPackets)?;
    let outcome = store.rollback(&a.fold_result)?;
    if out.json {
        out.print_json(&outcome)?;
    } else {
        say!(
            "rolled back the fold of {}..{}: every document equals the fold's before pin (state {})",
            outcome.range.first_id,
            outcome.range.last_id,
            outcome.state
        );
    }
    Ok(exit::OK)
}

fn verify_history(out: &Output, dir: &Path) -> Result<i32, Error> {
    let report = registry::verify_history(dir)?;
    let code = if report.problems.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    };
    if out.json {
        out.print_json(&HistoryOutput {
            status: if code == exit::OK {
                "verified"
            } else {
                "failed"
            }
            .to_string(),
            exit_code: code,
            report: report.clone(),
        })?;
    }
    if code == exit::OK {
        if !out.json {
            say!(
                "history of {} verified: {} states, {} blobs, head {}",
                dir.display(),
                report.states,
                report.blobs_checked,
                report.head.as_deref().unwrap_or("-")
            );
        }
    } else {
        for p in &report.problems {
            eprintln!("history: {}", one_line(p));
        }
        eprintln!(
            "holdfast: history of {} failed: {} problem(s)",
            dir.display(),
            report.problems.len()
        );
    }
    Ok(code)
}
