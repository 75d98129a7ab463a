//! The `--json` output of every command, as types: the CLI prints these
//! and nothing else on stdout with `--json`, and each has a published
//! schema (see [`COMMANDS`], which maps every command to the schemas of
//! what it may print). A command that fails prints
//! [`crate::schema::shapes::ErrorOutput`] instead (`cli-error.schema.json`).
//!
//! The types that a command prints as they are (a snapshot, a proof, a
//! probe report) live in their own modules; the ones here only wrap them
//! with the status and exit code the command reports.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::attest::packet::AttestReport;
use crate::gate::blocker;
use crate::gate::verdict::Verdict;
use crate::packet::anchor::AnchorReport;
use crate::packet::rerun::RerunReport;
use crate::registry::{self, Store};
use crate::seal::VerifyReport;
use crate::surface::{CitationReport, SurfacesSummary};

/// One leaf command of the CLI and the schemas of what it prints with
/// `--json` on success or on a domain failure (a failing check that is
/// still a report). Every command may also print `cli-error.schema.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandOutput {
    /// The command as typed after `holdfast`, e.g. `registry fold`.
    pub command: &'static str,
    /// File names under `schemas/`.
    pub schemas: &'static [&'static str],
}

/// The schema of what every command prints with `--json` when it fails
/// (bad input, I/O, refusal, usage).
pub const ERROR_SCHEMA: &str = "cli-error.schema.json";

/// Every leaf command and its `--json` output schemas. A test reads the
/// command list from the CLI's own help and fails when a command is
/// missing here, or here but not in the CLI.
pub const COMMANDS: &[CommandOutput] = &[
    CommandOutput {
        command: "run",
        schemas: &["cli-run.schema.json"],
    },
    CommandOutput {
        command: "seal",
        schemas: &["cli-seal.schema.json"],
    },
    CommandOutput {
        command: "verify",
        schemas: &["cli-verify.schema.json"],
    },
    CommandOutput {
        command: "registry init",
        schemas: &["cli-registry-summary.schema.json"],
    },
    CommandOutput {
        command: "registry import",
        // A registry directory written by `registry export` is copied whole.
        schemas: &[
            "cli-registry-summary.schema.json",
            "cli-registry-export.schema.json",
        ],
    },
    CommandOutput {
        command: "registry export",
        schemas: &["cli-registry-export.schema.json"],
    },
    CommandOutput {
        command: "registry show",
        // `--export` prints the registry in the import format.
        schemas: &[
            "cli-registry-summary.schema.json",
            "registry-import.schema.json",
        ],
    },
    CommandOutput {
        command: "registry log",
        schemas: &["cli-registry-log.schema.json"],
    },
    CommandOutput {
        command: "registry claim",
        schemas: &["cli-registry-claim.schema.json"],
    },
    CommandOutput {
        command: "registry check",
        schemas: &["cli-registry-check.schema.json"],
    },
    CommandOutput {
        command: "registry fold",
        schemas: &["cli-registry-fold.schema.json"],
    },
    CommandOutput {
        command: "registry rollback",
        schemas: &["cli-registry-rollback.schema.json"],
    },
    CommandOutput {
        command: "registry verify-history",
        schemas: &["cli-registry-verify-history.schema.json"],
    },
    CommandOutput {
        command: "surfaces",
        schemas: &["cli-surfaces.schema.json"],
    },
    CommandOutput {
        command: "snapshot",
        schemas: &["surface-snapshot.schema.json"],
    },
    CommandOutput {
        command: "prove",
        schemas: &["forbidden-surface-proof.schema.json"],
    },
    CommandOutput {
        command: "probe",
        // A run, `--list`, `--rerun`.
        schemas: &[
            "production-bad-input-design.schema.json",
            "cli-probe-list.schema.json",
            "cli-probe-rerun.schema.json",
        ],
    },
    CommandOutput {
        command: "gates",
        schemas: &["cli-gates.schema.json"],
    },
    CommandOutput {
        command: "verdict",
        schemas: &["cli-verdict.schema.json"],
    },
    CommandOutput {
        command: "plan check",
        schemas: &["cli-plan-check.schema.json"],
    },
    CommandOutput {
        command: "init",
        schemas: &["cli-init.schema.json"],
    },
    CommandOutput {
        command: "export",
        schemas: &["cli-export.schema.json"],
    },
    CommandOutput {
        command: "key generate",
        schemas: &["cli-key-generate.schema.json"],
    },
    CommandOutput {
        command: "sign",
        schemas: &["cli-sign.schema.json"],
    },
    CommandOutput {
        command: "authorize",
        schemas: &["cli-authorize.schema.json"],
    },
];

/// `holdfast verify --json`: the seal check and whatever else was asked
/// (citations, re-derivation, signatures).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VerifyOutput {
    /// `VERIFIED`, or the first failure: the seal's status, a citation
    /// status, `RERUN_FAILED` or `NOT_TRUSTED`.
    pub status: String,
    /// The exit code of the command.
    pub exit_code: i32,
    /// The seal check.
    #[serde(flatten)]
    pub report: VerifyReport,
    /// The citation check (`--source`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub citations: Option<CitationReport>,
    /// The re-derivation (`--rerun`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerun: Option<RerunReport>,
    /// False without `--trust`: no signature was checked against any trust.
    pub signatures_checked: bool,
    /// The signature check (`--trust`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation: Option<AttestReport>,
    /// The registry anchor check (`--registry`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_anchor: Option<AnchorReport>,
}

/// `registry init`, `import` and `show --json`: the registry at a glance.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RegistrySummary {
    /// The registry directory.
    pub registry: String,
    /// Its state number.
    pub state: u64,
    /// The id prefix.
    pub id_prefix: String,
    /// Digits per id.
    pub id_width: u32,
    /// The highest canonical id number (0: none).
    pub canonical_max: u64,
    /// The highest canonical id (absent when the canonical body is empty).
    pub canonical_max_id: Option<String>,
    /// The next free id.
    pub next_free: String,
    /// Number of object records.
    pub records: u64,
    /// Every claim.
    pub claims: Vec<registry::model::ClaimDoc>,
    /// The documents' revisions.
    pub revisions: registry::Revisions,
    /// sha256 of every document.
    pub pins: BTreeMap<String, String>,
}

impl RegistrySummary {
    /// The summary of an open registry.
    pub fn of(store: &Store) -> Self {
        let reg = store.registry();
        let f = &reg.format;
        RegistrySummary {
            registry: store.dir().display().to_string(),
            state: store.state(),
            id_prefix: f.prefix().to_string(),
            id_width: f.width(),
            canonical_max: reg.canonical_max,
            canonical_max_id: (reg.canonical_max > 0).then(|| f.format(reg.canonical_max)),
            next_free: f.format(reg.next_free()),
            records: reg.objects.len() as u64,
            claims: reg
                .claims
                .iter()
                .map(|c| registry::model::claim_doc(f, c))
                .collect(),
            revisions: reg.revisions,
            pins: store.pins(),
        }
    }
}

/// One state of `registry log --json` (the output is an array of these).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LogLine {
    /// sha256 of the state's log line.
    pub sha256: String,
    /// The state.
    #[serde(flatten)]
    pub entry: registry::history::Entry,
}

/// `registry check --json`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RegistryCheckOutput {
    /// `passed` or `failed`.
    pub status: String,
    /// The exit code of the command.
    pub exit_code: i32,
    /// What the check saw.
    #[serde(flatten)]
    pub inspection: registry::Inspection,
}

/// `registry verify-history --json`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HistoryOutput {
    /// `verified` or `failed`.
    pub status: String,
    /// The exit code of the command.
    pub exit_code: i32,
    /// What the check saw.
    #[serde(flatten)]
    pub report: registry::HistoryReport,
}

/// `holdfast surfaces --json`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SurfacesOutput {
    /// The files were written (`--out` was given).
    pub written: bool,
    /// The files written (or that would be written), in order.
    pub files: Vec<String>,
    /// Per table (`B`, `C`): the inventory's counts.
    pub counts: BTreeMap<String, crate::surface::inventory::InventoryCounts>,
    /// The derived-blocker facts for unknown surfaces.
    pub unknown_surfaces: Vec<crate::surface::facts::DerivedFact>,
}

impl SurfacesOutput {
    /// The output of a `surfaces` run (`written`: `--out` was given).
    pub fn of(summary: &SurfacesSummary, written: bool) -> Self {
        SurfacesOutput {
            written,
            files: summary.files.clone(),
            counts: summary
                .inventories
                .iter()
                .map(|i| (i.table.as_str().to_string(), i.counts))
                .collect(),
            unknown_surfaces: summary.unknown_surfaces.clone(),
        }
    }
}

/// `holdfast gates --json`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GatesOutput {
    /// The files written.
    pub files: Vec<String>,
    /// The blocker counts.
    pub blockers: blocker::Counts,
    /// The default decision option.
    pub default: String,
    /// The options admissible now.
    pub admissible_now: Vec<String>,
    /// The selected option (`none`).
    pub selected: String,
}

/// `holdfast verdict --json`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VerdictOutput {
    /// The exit code of the command (per `--require`).
    pub exit_code: i32,
    /// The verdict.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// `holdfast init --json`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct InitOutput {
    /// The files written.
    pub files: Vec<String>,
}
