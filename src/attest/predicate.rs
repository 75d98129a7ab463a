//! The shapes of holdfast's two predicates, for their published JSON
//! Schemas (`schemas/packet-predicate.schema.json`,
//! `schemas/authorization-predicate.schema.json`). The predicates are built
//! by [`super::packet::packet_predicate`] and
//! [`super::authorization::authorization_predicate`]; a test checks that
//! what they build matches these schemas.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::trust::Role;
use crate::authz::Authorization;
use crate::packet::manifest::{IdRangeRecord, MutationRecord};
use crate::packet::spec::{Flags, PacketMeta};

/// Predicate of `https://holdfast.dev/attestation/packet/v1`. Every field
/// but `role` and `tree_sha256` is copied from the packet's `manifest.json`,
/// and only when the manifest has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PacketPredicate {
    /// What the signer signs as: runner or reviewer.
    pub role: Role,
    /// sha256 of `HASH_MANIFEST.txt` (the packet's tree hash).
    pub tree_sha256: String,
    /// `manifest.json` `format`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// `manifest.json` `packet`: macro, status prefix, title, date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packet: Option<PacketMeta>,
    /// `manifest.json` `status.scoping_status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `manifest.json` `status.decision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// sha256 of the canonical JSON of `manifest.json` `authorization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_sha256: Option<String>,
    /// `manifest.json` `flags`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<Flags>,
    /// `manifest.json` `mutation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutation: Option<MutationRecord>,
    /// `manifest.json` `spec_pins`: sha256 of each spec input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_pins: Option<BTreeMap<String, String>>,
    /// `manifest.json` `object_ids`: the claimed ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_ids: Option<IdRangeRecord>,
}

/// Predicate of `https://holdfast.dev/attestation/authorization/v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationPredicate {
    /// The `[authorization]` table of `packet.toml`.
    pub authorization: Authorization,
    /// sha256 of its canonical JSON.
    pub authorization_sha256: String,
}
