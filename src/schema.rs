//! JSON Schemas for every file a user writes or a packet contains.
//!
//! The schemas are generated from the Rust types (schemars), so they cannot
//! drift from the parser; the committed copies under `schemas/` are checked
//! against the generated ones by a test (`UPDATE_SCHEMAS=1 cargo test` rewrites them).

use schemars::JsonSchema;

use crate::canonical;

/// One published schema: its file name under `schemas/` and its bytes.
#[derive(Debug, Clone)]
pub struct Published {
    /// File name under `schemas/`, e.g. `surfaces.schema.json`.
    pub file: &'static str,
    /// Canonical JSON bytes of the schema.
    pub bytes: Vec<u8>,
}

/// Canonical JSON bytes of the schema of `T`.
pub fn schema_bytes<T: JsonSchema>() -> Vec<u8> {
    let schema = schemars::schema_for!(T);
    canonical::value_to_bytes(schema.as_value())
}

/// Every schema holdfast publishes. Each module adds its own types here.
pub fn all() -> Vec<Published> {
    vec![
        Published {
            file: "packet.schema.json",
            bytes: schema_bytes::<crate::packet::spec::PacketSpec>(),
        },
        Published {
            file: "packet-manifest.schema.json",
            bytes: schema_bytes::<crate::packet::manifest::PacketManifest>(),
        },
        Published {
            file: "authorization.schema.json",
            bytes: schema_bytes::<crate::authz::Authorization>(),
        },
        Published {
            file: "registry-import.schema.json",
            bytes: schema_bytes::<crate::registry::RegistryFile>(),
        },
        Published {
            file: "registry-claim-records.schema.json",
            bytes: schema_bytes::<Vec<crate::registry::NewRecord>>(),
        },
        Published {
            file: "registry-document.schema.json",
            bytes: schema_bytes::<crate::registry::model::RegistryDoc>(),
        },
        Published {
            file: "fold-result.schema.json",
            bytes: schema_bytes::<crate::registry::FoldResult>(),
        },
        Published {
            file: "surfaces.schema.json",
            bytes: schema_bytes::<crate::surface::SurfacesSpec>(),
        },
        Published {
            file: "surface-inventory.schema.json",
            bytes: schema_bytes::<crate::surface::SurfaceInventory>(),
        },
        Published {
            file: "surface-snapshot.schema.json",
            bytes: schema_bytes::<crate::surface::Snapshot>(),
        },
        Published {
            file: "forbidden-surface-proof.schema.json",
            bytes: schema_bytes::<crate::surface::Proof>(),
        },
        Published {
            file: "gates.schema.json",
            bytes: schema_bytes::<crate::gate::spec::GateSpec>(),
        },
        Published {
            file: "evidence.schema.json",
            bytes: schema_bytes::<crate::gate::verdict::Evidence>(),
        },
        Published {
            file: "gate-facts.schema.json",
            bytes: schema_bytes::<crate::gate::assemble::GateFacts>(),
        },
        Published {
            file: "production-bad-input-design.schema.json",
            bytes: schema_bytes::<crate::gate::probe::ProbeReport>(),
        },
        Published {
            file: "production-blocker-map.schema.json",
            bytes: schema_bytes::<crate::gate::blocker::BlockerMap>(),
        },
        Published {
            file: "next-production-decision-packet.schema.json",
            bytes: schema_bytes::<crate::gate::decision::DecisionPacket>(),
        },
        Published {
            file: "trust.schema.json",
            bytes: schema_bytes::<crate::attest::trust::TrustFile>(),
        },
        Published {
            file: "packet-predicate.schema.json",
            bytes: schema_bytes::<crate::attest::predicate::PacketPredicate>(),
        },
        Published {
            file: "authorization-predicate.schema.json",
            bytes: schema_bytes::<crate::attest::predicate::AuthorizationPredicate>(),
        },
    ]
}
