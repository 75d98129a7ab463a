//! `manifest.json`: what the packet says about itself, in one file the
//! README is rendered from and `verify --rerun` checks against.
//!
//! It holds the packet's identity, the authorization, the three flags, the
//! boundaries, what happened to the authorized mutation, the sha256 of every
//! spec input, the verdict, and the object-id map: each artifact with the
//! registry id claimed for it. The envelope files (this manifest, the README,
//! `index.html`, the exit codes and the two seal files) carry no id: they are pinned by the
//! packet's tree hash.

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::spec::{Flags, PacketMeta};
use crate::authz::Authorization;
use crate::error::Result;

/// File name of the manifest in a packet.
pub const MANIFEST_FILE: &str = "manifest.json";
/// File name of the README in a packet.
pub const README_FILE: &str = "README.md";
/// File name of the recorded exit codes.
pub const EXIT_CODES_FILE: &str = "exit_codes.json";
/// File name of the recompute-and-recheck script.
pub const COMMANDS_FILE: &str = "commands.sh";
/// File name of the probe re-run script.
pub const RERUN_FILE: &str = "RERUN.sh";
pub use crate::surface::snapshot::{SNAPSHOT_AFTER_FILE, SNAPSHOT_BEFORE_FILE};
/// The `format` value of a manifest.
pub const FORMAT: &str = "holdfast-packet/1";
/// Largest manifest `verify --rerun` reads.
pub const MANIFEST_LIMIT: u64 = 64 * 1024 * 1024;

/// Files every packet has that carry no registry id (they pin the others).
pub const ENVELOPE: [&str; 6] = [
    MANIFEST_FILE,
    README_FILE,
    super::html::INDEX_FILE,
    EXIT_CODES_FILE,
    crate::seal::MANIFEST_NAME,
    crate::seal::TREE_NAME,
];

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PacketManifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Macro, status prefix, title, date.
    pub packet: PacketMeta,
    /// What the run was authorized to do.
    pub authorization: Authorization,
    /// The three statements about what the run did.
    pub flags: Flags,
    /// The configured pass token, when it is not the default.
    pub pass_token: Option<String>,
    /// The forbidden action classes and the surfaces each covers.
    pub boundaries: Vec<BoundaryRecord>,
    /// What happened to the requested mutation.
    pub mutation: MutationRecord,
    /// Which registry the run folded and claimed ids in, in words.
    pub registry: String,
    /// sha256 of each spec input, by file name.
    pub spec_pins: BTreeMap<String, String>,
    /// The verdict.
    pub status: StatusRecord,
    /// Every artifact except the envelope, sorted by path, with its id.
    pub artifacts: Vec<ArtifactRecord>,
    /// The ids claimed for the artifacts; absent when none were claimed
    /// (a packet that is not READY claims no ids).
    pub object_ids: Option<IdRangeRecord>,
    /// The envelope files (no id; pinned by the tree hash).
    pub envelope: Vec<String>,
}

/// A boundary as the packet records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BoundaryRecord {
    /// Boundary id.
    pub id: String,
    /// What is forbidden.
    pub title: String,
    /// The surface ids it covers.
    pub surfaces: Vec<String>,
}

/// The requested mutation and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MutationRecord {
    /// What the spec asked for (`registry fold 442..461`), or none.
    pub requested: Option<String>,
    /// The authorization names exactly this mutation.
    pub authorized: bool,
    /// It was performed.
    pub performed: bool,
    /// Why it was not performed (empty when it was, or none was requested).
    pub skipped_reason: Option<String>,
    /// The fold result file, when a fold was performed.
    pub fold_result: Option<String>,
    /// The registry surface the mutation touches (for a change: the
    /// surfaces it may change, comma-separated).
    pub surface: Option<String>,
    /// The id of the governed change that was performed on the real
    /// surfaces (absent for a fold, or a change that was not performed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
    /// Why the performed mutation failed (a governed change that failed,
    /// and what its rollback did), absent when it did not fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_reason: Option<String>,
}

/// The verdict as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRecord {
    /// `<PREFIX>_READY`, `_INCOMPLETE` or `_FAILED`.
    pub scoping_status: String,
    /// `HOLD_PRODUCTION` unless production may pass.
    pub decision: String,
    /// The selected option, or `none`.
    pub selected: String,
    /// Why the status is FAILED.
    pub failures: Vec<String>,
    /// What is missing.
    pub missing: Vec<String>,
    /// Why production stays on hold.
    pub hold_reasons: Vec<String>,
    /// Options admissible now.
    pub admissible_now: Vec<String>,
    /// Forbidden surfaces only declared not contacted.
    pub declared_not_contacted: usize,
}

impl From<&crate::gate::verdict::Verdict> for StatusRecord {
    fn from(v: &crate::gate::verdict::Verdict) -> Self {
        StatusRecord {
            scoping_status: v.status.clone(),
            decision: v.decision.clone(),
            selected: v.selected.clone(),
            failures: v.failures.clone(),
            missing: v.missing.clone(),
            hold_reasons: v.hold_reasons.clone(),
            admissible_now: v.admissible_now.clone(),
            declared_not_contacted: v.declared_not_contacted,
        }
    }
}

/// One artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArtifactRecord {
    /// Path inside the packet.
    pub path: String,
    /// What it is.
    pub title: String,
    /// sha256 of its bytes.
    pub sha256: String,
    /// The registry id claimed for it, when ids were claimed.
    pub id: Option<String>,
}

/// A contiguous range of claimed ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdRangeRecord {
    /// First id, e.g. `TKT-OBJ-462`.
    pub first: String,
    /// Last id.
    pub last: String,
    /// Number of ids.
    pub count: u64,
    /// The packet name the claim was recorded under.
    pub packet: String,
}

impl PacketManifest {
    /// Reads `manifest.json` of the packet in `dir` strictly.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST_FILE);
        let bytes = crate::fsio::read_regular(&path, MANIFEST_LIMIT)?;
        Self::parse(&bytes, &path)
    }

    /// Parses manifest bytes strictly (`path` names them in errors) and
    /// checks the format.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self> {
        let m: PacketManifest = crate::canonical::from_slice_strict(bytes, path)?;
        if m.format != FORMAT {
            return Err(crate::Error::malformed(
                path,
                format!("format: expected {FORMAT:?}, found {:?}", m.format),
            ));
        }
        Ok(m)
    }
}
