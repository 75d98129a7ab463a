//! The governance registry: the canonical list of object ids that packets
//! claim and that authorized folds make canonical (docs/reference/registry.md).
//!
//! - [`model`]: ids, claims, records, revisions, and their JSON forms;
//! - [`check`](mod@check): the four invariant counts (pure);
//! - [`fold`]: fold and claim plans, the "is this fold safe?" question, the fold result (pure);
//! - [`patch`]: the reverse patch and the rollback rehearsal (pure);
//! - [`rederive`]: a fold result re-derived from a packet's bytes (pure);
//! - [`render`]: the Markdown documents (pure);
//! - [`history`]: content-addressed blobs and the hash-chained log;
//! - [`fast`]: claims that append to the records documents instead of rewriting them;
//! - [`store`]: the registry's operations: its lock, atomic multi-document writes and recovery;
//! - [`backend`]: where the bytes live, a directory or a PostgreSQL database, and `export` between them.

pub mod backend;
pub mod check;
pub mod fast;
pub mod fold;
pub mod history;
pub mod id;
pub mod model;
pub mod patch;
pub mod rederive;
pub mod render;
pub mod store;

pub use check::{CheckReport, Class, Counts, Problem, check};
pub use fold::{
    ClaimRequest, FoldPlan, FoldRefusal, FoldResult, RefusalReason, fold_refusal, patch_file_name,
    plan_claim, plan_fold, result_file_name,
};
pub use history::{HISTORY_DIR, LOG_FILE};
pub use id::IdFormat;
pub use model::{DOCUMENTS, Document, NewRecord, RecordLoad, Registry, RegistryFile, Revisions};
pub use patch::{Rehearsal, rehearse_rollback, reverse_patch};
pub use rederive::rederive_fold_result;
pub use store::{
    ClaimOutcome, DEFAULT_DIR, FoldOptions, FoldOutcome, HistoryReport, Inspection,
    RollbackOutcome, Store, import, init, inspect, inspect_file, read_log, verify_history,
};

/// Whether `rel` (a path relative to the registry directory, `/`-separated)
/// is a registry document, as opposed to history, lock or anything else.
/// A surface snapshot of the registry directory compares exactly these
/// files with a fold's pins.
pub fn is_document(rel: &str) -> bool {
    Document::from_name(rel).is_some()
}

#[cfg(test)]
mod test_support;
