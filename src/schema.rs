//! JSON Schemas for every file a user writes or a packet contains.
//!
//! The schemas are generated from the Rust types (schemars), so they cannot
//! drift from the parser; the committed copies under `schemas/` are checked
//! against the generated ones by a test (`UPDATE_SCHEMAS=1 cargo test` rewrites them).

use schemars::JsonSchema;

use serde_json::Value;

use crate::canonical;

/// One published schema: its file name under `schemas/` and its bytes.
#[derive(Debug, Clone)]
pub struct Published {
    /// File name under `schemas/`, e.g. `surfaces.schema.json`.
    pub file: &'static str,
    /// Canonical JSON bytes of the schema.
    pub bytes: Vec<u8>,
}

/// Base of every published schema's `$id` (a URN: the schemas are
/// published in the repository, not at an address).
pub const ID_BASE: &str = "urn:holdfast:schema:";

/// The pattern of a sha256 field: 64 lowercase hex digits.
pub const SHA256_PATTERN: &str = "^[0-9a-f]{64}$";

/// The patterns of id fields, each the same rule the parser enforces (so a
/// schema refuses what holdfast would refuse).
pub mod ids {
    /// A registry object id: the prefix (ASCII letters, digits, `-`, `_`,
    /// starting with a letter or digit, not ending with `-`, at most 32),
    /// `-`, then 1 to 18 digits (`TKT-OBJ-442`). Claims are ranges of these.
    pub const OBJECT: &str = "^[A-Za-z0-9]([A-Za-z0-9_-]{0,30}[A-Za-z0-9_])?-[0-9]{1,18}$";
    /// A declared blocker id or user probe id: 1 to 64 letters, digits, `.`,
    /// `_`, `-`, starting with a letter or digit (`BLK-CI-SEAL`).
    pub const DECLARED: &str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";
    /// Any blocker id: a declared one, or a derived `<kind>:<key>` whose key
    /// parts are not empty (`unknown-surface:prod-secrets`).
    pub const BLOCKER: &str = "^([A-Za-z0-9][A-Za-z0-9._-]{0,63}|(unknown-surface|stale-citation|changed-forbidden-surface|declared-only-critical-surface|fail-open-probe|impossible-rehearsal):[^:]+(:[^:]+)*)$";
    /// A probe class id (and a control id): lower-case words joined by `-`
    /// (`tampered-artifact`, `user`).
    pub const PROBE_CLASS: &str = "^[a-z0-9]+(-[a-z0-9]+)*$";
    /// A probe id, `<class>/<name>` (`tampered-artifact/flip-byte`).
    pub const PROBE: &str = "^[a-z0-9]+(-[a-z0-9]+)*/[A-Za-z0-9][A-Za-z0-9._-]*$";
    /// A surface or boundary id: letters, digits, `.`, `_`, `-`.
    pub const SURFACE: &str = "^[A-Za-z0-9._-]+$";
    /// Surface ids joined by `, ` (the surfaces a change may change).
    pub const SURFACE_LIST: &str = "^[A-Za-z0-9._-]+(, [A-Za-z0-9._-]+)*$";
    /// A decision option id: upper-case words joined by `_`
    /// (`PROCEED_TO_REHEARSAL`).
    pub const OPTION: &str = "^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$";
    /// An authorized change's id: lower-case letters, digits and `-`.
    pub const CHANGE: &str = "^[a-z0-9-]+$";
}

/// The id pattern of property `prop` of the type `def` (a `$defs` name, or
/// the root schema's title), if it holds an id.
fn id_pattern(def: &str, prop: &str) -> Option<&'static str> {
    use ids::*;
    Some(match (def, prop) {
        (_, "first_id" | "last_id" | "canonical_max_id" | "next_free") => OBJECT,
        ("ClaimDoc" | "IdRangeRecord" | "Op", "first" | "last") => OBJECT,
        ("ObjectDoc" | "NextFree" | "ArtifactRecord" | "NewRecordDoc", "id") => OBJECT,
        ("BlockerSpec" | "UserProbe", "id") => DECLARED,
        ("BlockerEntry" | "BlockerFact" | "DerivedFact", "id") => BLOCKER,
        (_, "requires_closed" | "open_blockers") => BLOCKER,
        ("ProbeRecord" | "ProbeFact" | "ProbeProblem", "id") => PROBE,
        ("FailOpenProbe", "probe") => PROBE,
        ("ProbeRecord", "class") => PROBE_CLASS,
        ("ClassRecord" | "ClassInfo" | "ControlRecord", "id") => PROBE_CLASS,
        ("ProbesConfig", "classes") => PROBE_CLASS,
        // A change's surfaces, joined by `, `.
        ("MutationRecord", "surface") => SURFACE_LIST,
        (_, "surface" | "boundary") => SURFACE,
        (
            "InventoryEntry" | "SurfaceSpec" | "BoundarySpec" | "BoundaryRecord"
            | "BoundaryVerdict",
            "id",
        ) => SURFACE,
        ("OptionFact" | "OptionRecord" | "OptionSpec", "id") => OPTION,
        ("AuthorizedMutation" | "ChangeSpec", "id") => CHANGE,
        _ => return None,
    })
}

/// Adds the id patterns of [`id_pattern`] to the root schema and every
/// definition (a string, a nullable string, or an array of strings). A
/// field whose description says it may be empty accepts `""` too.
fn id_patterns(schema: &mut Value) {
    let title = schema
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    id_props(&title, schema);
    if let Some(defs) = schema.get_mut("$defs").and_then(Value::as_object_mut) {
        for (name, d) in defs.iter_mut() {
            id_props(name, d);
        }
    }
}

fn id_props(def: &str, v: &mut Value) {
    if let Some(props) = v.get_mut("properties").and_then(Value::as_object_mut) {
        for (name, p) in props.iter_mut() {
            if let Some(pattern) = id_pattern(def, name) {
                pattern_on_strings(p, pattern);
            }
        }
    }
    // Enums of objects (`oneOf` variants) carry their own properties.
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(alts) = v.get_mut(key).and_then(Value::as_array_mut) {
            for a in alts {
                id_props(def, a);
            }
        }
    }
}

fn pattern_on_strings(p: &mut Value, pattern: &str) {
    let Some(o) = p.as_object_mut() else { return };
    let is_string = match o.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
        _ => false,
    };
    if is_string {
        let may_be_empty = o
            .get("description")
            .and_then(Value::as_str)
            .is_some_and(|d| d.contains("empty"));
        let pattern = if may_be_empty {
            format!("^({})?$", &pattern[1..pattern.len() - 1])
        } else {
            pattern.to_string()
        };
        o.insert("pattern".into(), Value::from(pattern));
    } else if o.get("type") == Some(&Value::from("array"))
        && let Some(items) = o.get_mut("items")
    {
        pattern_on_strings(items, pattern);
    }
}

/// Canonical JSON bytes of the schema of `T`, made strict (see [`strict`]).
pub fn schema_bytes<T: JsonSchema>() -> Vec<u8> {
    let schema = schemars::schema_for!(T);
    canonical::value_to_bytes(schema.as_value())
}

/// Canonical JSON bytes of the schema of `T` as published under `file`.
pub fn published_bytes<T: JsonSchema>(file: &str) -> Vec<u8> {
    let schema = schemars::schema_for!(T);
    let mut v = schema.as_value().clone();
    strict(&mut v, file);
    canonical::value_to_bytes(&v)
}

/// The entry of `file`, generated from `T` (the file name is spelled once).
fn publish<T: JsonSchema>(file: &'static str) -> Published {
    Published {
        file,
        bytes: published_bytes::<T>(file),
    }
}

/// The published schema of gates.toml: the derived one, with the names
/// `[probes] classes` may hold in this build (its built-in classes and
/// `user`) as the items' `enum`.
fn gates_schema_bytes() -> Vec<u8> {
    let file = "gates.schema.json";
    let schema = schemars::schema_for!(crate::probe::spec::GateSpec);
    let mut v = schema.as_value().clone();
    let mut names: Vec<String> = crate::probe::class_table()
        .into_iter()
        .map(|c| c.id)
        .collect();
    names.push(crate::probe::USER_CLASS.to_string());
    names.sort();
    if let Some(items) = v.pointer_mut("/$defs/ProbesConfig/properties/classes/items")
        && let Some(items) = items.as_object_mut()
    {
        items.insert("enum".into(), Value::from(names));
    }
    strict(&mut v, file);
    canonical::value_to_bytes(&v)
}

/// Makes a generated schema acceptable to strict validators (Ajv's strict
/// mode): an `$id`; only standard formats (schemars' integer formats
/// `uint`, `uint64`, `int32`, ... become `minimum`/`maximum` bounds); a
/// `^[0-9a-f]{64}$` pattern on every sha256 field (a property named
/// `sha256`, `*_sha256`, `digest`, `pin_before`/`pin_after`,
/// `found_before`/`found_after`, `key_id`, `head`, the values of
/// `spec_pins` and `pins` maps; `^([0-9a-f]{64})?$` where the field's
/// description says it may be empty); and the pattern of every id field
/// (see [`ids`]).
pub fn strict(schema: &mut Value, file: &str) {
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("$id".into(), Value::from(format!("{ID_BASE}{file}")));
    }
    // Definitions referenced by a hash-named property hold hashes.
    let mut hash_defs = Vec::new();
    collect_hash_defs(schema, &mut hash_defs);
    if let Some(defs) = schema.get_mut("$defs").and_then(Value::as_object_mut) {
        for name in &hash_defs {
            if let Some(d) = defs.get_mut(name) {
                hash_strings(d);
            }
        }
    }
    id_patterns(schema);
    walk(schema);
    if file.starts_with(CLI_OUTPUT_PREFIX) {
        close_objects(schema);
    }
}

/// The file-name prefix of the schemas of the CLI's `--json` output.
const CLI_OUTPUT_PREFIX: &str = "cli-";

/// Closes every object schema that lists its properties and says nothing
/// of others (`additionalProperties: false`). The types of files a user
/// writes and of packet artifacts are closed by `deny_unknown_fields`,
/// which the parser enforces too; the `--json` outputs are only ever
/// printed, so their schemas are closed here: a script validating an
/// output learns of a field it does not know rather than ignoring it.
/// Maps (`additionalProperties` given) and variants combined with
/// `allOf`/`oneOf` beside properties (flattened enums) are left as they
/// are, since closing them would refuse the variant's own fields.
fn close_objects(v: &mut Value) {
    match v {
        Value::Object(o) => {
            let combined = COMBINATORS.iter().any(|k| o.contains_key(*k));
            let has_properties = o.contains_key("properties");
            if has_properties && !o.contains_key("additionalProperties") && !combined {
                o.insert("additionalProperties".into(), Value::from(false));
            }
            for (key, x) in o.iter_mut() {
                match x {
                    // Variants merged with the object's own properties
                    // (a flattened enum) each see only part of the fields:
                    // they stay open, what they hold is closed.
                    Value::Array(variants)
                        if has_properties && COMBINATORS.contains(&key.as_str()) =>
                    {
                        for variant in variants {
                            if let Value::Object(vo) = variant {
                                vo.values_mut().for_each(close_objects);
                            }
                        }
                    }
                    _ => close_objects(x),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// The keywords that combine subschemas.
const COMBINATORS: [&str; 3] = ["allOf", "oneOf", "anyOf"];

fn is_hash_name(name: &str) -> bool {
    name == "sha256"
        || name.ends_with("_sha256")
        || matches!(
            name,
            "digest"
                | "pin_before"
                | "pin_after"
                | "found_before"
                | "found_after"
                | "key_id"
                | "head"
        )
}

fn collect_hash_defs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if let Some(props) = o.get("properties").and_then(Value::as_object) {
                for (name, p) in props {
                    if (is_hash_name(name) || name == "pins")
                        && let Some(r) = p.get("$ref").and_then(Value::as_str)
                        && let Some(def) = r.strip_prefix("#/$defs/")
                    {
                        out.push(def.to_string());
                    }
                }
            }
            o.values().for_each(|x| collect_hash_defs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_hash_defs(x, out)),
        _ => {}
    }
}

/// Adds the sha256 pattern to a string schema (or to the string values of
/// a map schema), and to the string properties of an object schema.
fn hash_strings(v: &mut Value) {
    let Some(o) = v.as_object_mut() else { return };
    if let Some(props) = o.get_mut("properties").and_then(Value::as_object_mut) {
        for p in props.values_mut() {
            hash_field(p);
        }
    }
    if let Some(ap) = o.get_mut("additionalProperties") {
        hash_field(ap);
    }
}

fn hash_field(v: &mut Value) {
    let Some(o) = v.as_object_mut() else { return };
    let is_string = match o.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
        _ => false,
    };
    if is_string {
        let may_be_empty = o
            .get("description")
            .and_then(Value::as_str)
            .is_some_and(|d| d.contains("or empty"));
        let pattern = if may_be_empty {
            "^([0-9a-f]{64})?$"
        } else {
            SHA256_PATTERN
        };
        o.insert("pattern".into(), Value::from(pattern));
    } else if o.get("type") == Some(&Value::from("object")) {
        hash_strings(v);
    }
}

/// The formats JSON Schema 2020-12 defines.
const STANDARD_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

fn walk(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(f) = o.get("format").and_then(Value::as_str).map(str::to_string)
                && !STANDARD_FORMATS.contains(&f.as_str())
            {
                o.remove("format");
                let (min, max): (Option<i64>, Option<u64>) = match f.as_str() {
                    "uint8" => (Some(0), Some(u8::MAX.into())),
                    "uint16" => (Some(0), Some(u16::MAX.into())),
                    "uint32" => (Some(0), Some(u32::MAX.into())),
                    "uint" | "uint64" => (Some(0), None),
                    "int8" => (Some(i8::MIN.into()), Some(i8::MAX as u64)),
                    "int16" => (Some(i16::MIN.into()), Some(i16::MAX as u64)),
                    "int32" => (Some(i32::MIN.into()), Some(i32::MAX as u64)),
                    _ => (None, None),
                };
                if let Some(min) = min {
                    o.entry("minimum").or_insert(Value::from(min));
                }
                if let Some(max) = max {
                    o.entry("maximum").or_insert(Value::from(max));
                }
            }
            if let Some(props) = o.get_mut("properties").and_then(Value::as_object_mut) {
                for (name, p) in props.iter_mut() {
                    if is_hash_name(name) {
                        hash_field(p);
                    }
                    if (name == "spec_pins" || name == "pins")
                        && let Some(ap) = p.get_mut("additionalProperties")
                    {
                        hash_field(ap);
                    }
                }
            }
            o.values_mut().for_each(walk);
        }
        Value::Array(a) => a.iter_mut().for_each(walk),
        _ => {}
    }
}

/// Shapes of files and outputs that are written without a Rust type of
/// their own: described here so they can be published and checked (a
/// test parses the real files into these types, unknown fields refused).
pub mod shapes {
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    /// `exit_codes.json` of a packet.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct ExitCodesFile {
        /// Every step got its expected exit code.
        pub all_as_expected: bool,
        /// Every step of the run, in order.
        pub commands: Vec<ExitCodeStep>,
    }

    /// One step of `exit_codes.json`.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct ExitCodeStep {
        /// Step name.
        pub step: String,
        /// The equivalent command.
        pub command: String,
        /// The exit code the step must have.
        pub expected_exit: i32,
        /// The exit code it had.
        pub actual_exit: i32,
        /// They agree.
        pub as_expected: bool,
    }

    /// What every command prints on stdout with `--json` when it fails.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct ErrorOutput {
        /// The error.
        pub error: ErrorBody,
    }

    /// The error of [`ErrorOutput`].
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct ErrorBody {
        /// The one-line message (also printed on stderr).
        pub message: String,
        /// The exit code (1 to 5).
        pub exit_code: i32,
    }
}

/// Every schema holdfast publishes. Each module adds its own types here.
pub fn all() -> Vec<Published> {
    vec![
        publish::<shapes::ExitCodesFile>("exit-codes.schema.json"),
        publish::<shapes::ErrorOutput>("cli-error.schema.json"),
        publish::<crate::seal::SealSummary>("cli-seal.schema.json"),
        publish::<crate::export::ExportSummary>("cli-export.schema.json"),
        publish::<crate::packet::run::RunSummary>("cli-run.schema.json"),
        publish::<crate::cli_output::VerifyOutput>("cli-verify.schema.json"),
        publish::<crate::cli_output::RegistrySummary>("cli-registry-summary.schema.json"),
        publish::<Vec<crate::cli_output::LogLine>>("cli-registry-log.schema.json"),
        publish::<crate::registry::backend::export::ExportOutcome>(
            "cli-registry-export.schema.json",
        ),
        publish::<crate::registry::store::ClaimOutcome>("cli-registry-claim.schema.json"),
        publish::<crate::cli_output::RegistryCheckOutput>("cli-registry-check.schema.json"),
        publish::<crate::registry::store::FoldOutcome>("cli-registry-fold.schema.json"),
        publish::<crate::registry::store::RollbackOutcome>("cli-registry-rollback.schema.json"),
        publish::<crate::cli_output::HistoryOutput>("cli-registry-verify-history.schema.json"),
        publish::<crate::cli_output::SurfacesOutput>("cli-surfaces.schema.json"),
        publish::<Vec<crate::probe::ClassInfo>>("cli-probe-list.schema.json"),
        publish::<crate::probe::RerunReport>("cli-probe-rerun.schema.json"),
        publish::<crate::cli_output::GatesOutput>("cli-gates.schema.json"),
        publish::<crate::cli_output::VerdictOutput>("cli-verdict.schema.json"),
        publish::<crate::gate::plan::PlanReport>("cli-plan-check.schema.json"),
        publish::<crate::cli_output::InitOutput>("cli-init.schema.json"),
        publish::<crate::attest::keys::GeneratedKey>("cli-key-generate.schema.json"),
        publish::<crate::attest::packet::SignSummary>("cli-sign.schema.json"),
        publish::<crate::attest::authorization::AuthorizeSummary>("cli-authorize.schema.json"),
        publish::<crate::packet::spec::PacketSpec>("packet.schema.json"),
        publish::<crate::packet::manifest::PacketManifest>("packet-manifest.schema.json"),
        publish::<crate::authz::Authorization>("authorization.schema.json"),
        publish::<crate::registry::RegistryFile>("registry-import.schema.json"),
        publish::<Vec<crate::registry::NewRecord>>("registry-claim-records.schema.json"),
        publish::<crate::registry::model::RegistryDoc>("registry-document.schema.json"),
        publish::<crate::registry::FoldResult>("fold-result.schema.json"),
        publish::<crate::surface::SurfacesSpec>("surfaces.schema.json"),
        publish::<crate::surface::SurfaceInventory>("surface-inventory.schema.json"),
        publish::<crate::surface::Snapshot>("surface-snapshot.schema.json"),
        publish::<crate::surface::Proof>("forbidden-surface-proof.schema.json"),
        Published {
            file: "gates.schema.json",
            bytes: gates_schema_bytes(),
        },
        publish::<crate::gate::verdict::Evidence>("evidence.schema.json"),
        publish::<crate::gate::assemble::GateFacts>("gate-facts.schema.json"),
        publish::<crate::probe::ProbeReport>("production-bad-input-design.schema.json"),
        publish::<crate::gate::blocker::BlockerMap>("production-blocker-map.schema.json"),
        publish::<crate::gate::decision::DecisionPacket>(
            "next-production-decision-packet.schema.json",
        ),
        publish::<crate::attest::trust::TrustFile>("trust.schema.json"),
        publish::<crate::attest::predicate::PacketPredicate>("packet-predicate.schema.json"),
        publish::<crate::attest::predicate::AuthorizationPredicate>(
            "authorization-predicate.schema.json",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_blocker_id_pattern_admits_an_id_of_every_derived_kind() {
        // A kind left out would make a blocker map holding its id fail the
        // map's own schema (impossible-rehearsal once was). The ids are
        // built by the one id scheme, one per kind: a new kind fails to
        // compile here until it is given one.
        use crate::model::fact::{self, FactKind};
        let pattern =
            jsonschema::validator_for(&json!({"type": "string", "pattern": ids::BLOCKER})).unwrap();
        for kind in FactKind::ALL {
            let id = match kind {
                FactKind::UnknownSurface => fact::unknown_surface_id("prod-secrets"),
                FactKind::StaleCitation => fact::stale_citation_id("ci", "src/a.rs", Some("3-4")),
                FactKind::ChangedForbiddenSurface => {
                    fact::changed_forbidden_surface_id("no-prod", "prod-pg")
                }
                FactKind::DeclaredOnlyCriticalSurface => {
                    fact::declared_only_critical_surface_id("no-prod", "prod-pg")
                }
                FactKind::FailOpenProbe => fact::fail_open_probe_id("tampered-artifact/flip-byte"),
                FactKind::ImpossibleRehearsal => fact::impossible_rehearsal_id("migrate-42"),
            };
            assert!(
                pattern.is_valid(&json!(id)),
                "{id} does not match ids::BLOCKER"
            );
        }
        for bad in ["changed-surface:prod-pg", "unknown-surface:", "BLK CI"] {
            assert!(!pattern.is_valid(&json!(bad)), "{bad} matched ids::BLOCKER");
        }
    }

    #[test]
    fn close_objects_closes_records_and_leaves_maps_and_variants_open() {
        let mut v = json!({
            "type": "object",
            "properties": {
                "record": {"type": "object", "properties": {"a": {"type": "string"}}},
                "map": {"type": "object", "additionalProperties": {"type": "string"}},
                "either": {"properties": {"k": {}}, "oneOf": [{"properties": {"x": {}}}]},
            },
        });
        close_objects(&mut v);
        assert_eq!(v["additionalProperties"], json!(false));
        assert_eq!(
            v["properties"]["record"]["additionalProperties"],
            json!(false)
        );
        assert_eq!(
            v["properties"]["map"]["additionalProperties"],
            json!({"type": "string"})
        );
        assert!(
            v["properties"]["either"]
                .get("additionalProperties")
                .is_none()
        );
        // A variant merged with the object's own properties sees only part
        // of the fields: it stays open.
        assert!(
            v["properties"]["either"]["oneOf"][0]
                .get("additionalProperties")
                .is_none()
        );
        // A variant of a plain combination is a whole record: closed.
        let mut tagged = json!({"oneOf": [{"type": "object", "properties": {"tag": {}}}]});
        close_objects(&mut tagged);
        assert_eq!(tagged["oneOf"][0]["additionalProperties"], json!(false));
    }

    #[test]
    fn only_cli_output_schemas_are_closed_by_strict() {
        let open = || json!({"type": "object", "properties": {"a": {"type": "string"}}});
        let mut cli = open();
        strict(&mut cli, "cli-seal.schema.json");
        assert_eq!(cli["additionalProperties"], json!(false));
        let mut artifact = open();
        strict(&mut artifact, "packet.schema.json");
        assert!(artifact.get("additionalProperties").is_none());
    }
}
