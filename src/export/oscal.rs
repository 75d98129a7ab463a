//! `holdfast export PACKET --oscal OUT`: the packet's decision and blocker
//! map as NIST OSCAL (1.2.3) JSON, for compliance systems.
//!
//! - `assessment-results.json`: one result (the production decision), with
//!   an observation per boundary of the forbidden-surface proof, per probe
//!   class and per blocker, and a finding per boundary (satisfied when it
//!   held) and per blocker (not satisfied while open). Observations cite
//!   their evidence as back-matter resources: every packet file with its
//!   SHA-256.
//! - `plan-of-action-and-milestones.json`: one POA&M item per open blocker,
//!   saying what closes it.
//!
//! Everything is a pure function of the packet: dates are the packet's
//! date, and every UUID is name-based: the SHA-256 of the packet's tree
//! hash and the item's name, laid out as a version-5 UUID (RFC 9562 layout;
//! SHA-256 instead of SHA-1), so two exports of one packet are identical.
//! OSCAL tokens cannot hold `:`, so a blocker id becomes a target id with
//! every other character replaced by `_`; the id itself is kept in a prop.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Packet;
use crate::digest::sha256_hex;
use crate::error::Result;
use crate::gate::blocker::BlockerMap;
use crate::gate::{BLOCKER_MAP_FILE, DECISION_FILE, PROBE_REPORT_FILE};
use crate::packet::manifest::{MANIFEST_FILE, PacketManifest};
use crate::surface::proof::PROOF_FILE;

/// The OSCAL version the documents are written in.
pub const OSCAL_VERSION: &str = "1.2.3";
/// File name of the assessment results.
pub const RESULTS_FILE: &str = "assessment-results.json";
/// File name of the plan of action and milestones.
pub const POAM_FILE: &str = "plan-of-action-and-milestones.json";
/// Namespace of holdfast's props.
pub const NS: &str = "urn:holdfast:oscal";

/// A name-based UUID for `name` in the packet `tree` (see the module docs).
pub fn uuid(tree: &str, name: &str) -> String {
    let h = sha256_hex(format!("{tree}\0{name}").as_bytes());
    let mut b = hex::decode(&h[..32]).unwrap_or_else(|_| vec![0; 16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// An OSCAL token from any id: letters, digits, `.`, `-`, `_`, starting
/// with a letter or `_`.
pub fn token(id: &str) -> String {
    let mut t: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !t
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
    {
        t.insert(0, '_');
    }
    t
}

/// A prop, or nothing when the value is blank (OSCAL refuses blank values).
fn prop(name: &str, value: &str) -> Option<Value> {
    let v = value.trim();
    (!v.is_empty()).then(|| json!({"name": name, "ns": NS, "value": v}))
}

fn props(list: &[(&str, &str)]) -> Value {
    Value::Array(list.iter().filter_map(|(n, v)| prop(n, v)).collect())
}

/// Non-blank text (OSCAL markup fields must not be empty).
fn text(s: &str, fallback: &str) -> String {
    let t = s.trim();
    if t.is_empty() {
        fallback.to_string()
    } else {
        t.to_string()
    }
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The two documents (file name to canonical JSON bytes).
pub fn documents(packet: &Packet) -> Result<BTreeMap<String, Vec<u8>>> {
    let m: PacketManifest = packet.json(MANIFEST_FILE)?;
    let proof: Value = packet.json(PROOF_FILE)?;
    let map: BlockerMap = packet.json(BLOCKER_MAP_FILE)?;
    let decision: Value = packet.json(DECISION_FILE)?;
    let probes: Value = packet.json(PROBE_REPORT_FILE)?;
    let tree = &packet.tree_sha256;
    let when = format!("{}T00:00:00Z", m.packet.date);
    let u = |name: &str| uuid(tree, name);
    let resource = |file: &str| format!("#{}", u(&format!("file:{file}")));

    // Every packet file, with its SHA-256, as a back-matter resource.
    let resources: Vec<Value> = packet
        .files
        .iter()
        .map(|(path, bytes)| {
            json!({
                "uuid": u(&format!("file:{path}")),
                "title": path,
                "rlinks": [{
                    "href": path,
                    "hashes": [{"algorithm": "SHA-256", "value": sha256_hex(bytes)}]
                }]
            })
        })
        .collect();
    let evidence = |file: &str, what: &str| {
        json!({
            "href": resource(file),
            "description": format!("{what} (`{file}`, pinned by its SHA-256 in the back matter)")
        })
    };

    let mut observations = Vec::new();
    let mut findings = Vec::new();
    for b in arr(&proof, "boundaries") {
        let id = s(b, "id");
        let holds = b.get("holds") == Some(&Value::Bool(true));
        let cells: Vec<String> = arr(b, "surfaces")
            .iter()
            .map(|c| format!("{}: {}", s(c, "surface"), s(c, "status")))
            .collect();
        let obs = u(&format!("observation:boundary:{id}"));
        observations.push(json!({
            "uuid": obs,
            "title": text(s(b, "title"), id),
            "description": format!("Forbidden-surface proof of boundary `{id}`: {}.", if cells.is_empty() { "no surface".to_string() } else { cells.join("; ") }),
            "props": props(&[("boundary-id", id)]),
            "methods": ["TEST"],
            "types": ["control-objective"],
            "collected": when,
            "relevant-evidence": [evidence(PROOF_FILE, "the forbidden-surface proof")]
        }));
        findings.push(json!({
            "uuid": u(&format!("finding:boundary:{id}")),
            "title": format!("Boundary {}", text(s(b, "title"), id)),
            "description": format!("The boundary {}.", if holds { "held: no surface it covers changed except as authorized" } else { "did NOT hold" }),
            "props": props(&[("boundary-id", id)]),
            "target": {
                "type": "objective-id",
                "target-id": token(&format!("boundary-{id}")),
                "status": {"state": if holds { "satisfied" } else { "not-satisfied" }}
            },
            "related-observations": [{"observation-uuid": obs}]
        }));
    }
    for c in arr(&probes, "classes") {
        let id = s(c, "id");
        observations.push(json!({
            "uuid": u(&format!("observation:probe-class:{id}")),
            "title": text(s(c, "title"), id),
            "description": format!(
                "Bad-input probe class `{id}` against `{}`: {} of {} probes failed closed; result {}.",
                s(c, "gate"),
                c["fail_closed"].as_u64().unwrap_or(0),
                c["probes"].as_u64().unwrap_or(0),
                s(c, "result")
            ),
            "props": props(&[("probe-class", id), ("outcome", s(c, "result"))]),
            "methods": ["TEST"],
            "collected": when,
            "relevant-evidence": [evidence(PROBE_REPORT_FILE, "the probe report")]
        }));
    }
    let mut poam_items = Vec::new();
    let mut poam_observations = Vec::new();
    for b in &map.blockers {
        let open = b.counts_open();
        let severity = serde_json::to_value(b.severity)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let obs = u(&format!("observation:blocker:{}", b.id));
        let observation = json!({
            "uuid": obs,
            "title": text(&b.title, &b.id),
            "description": format!("Blocker `{}` on surface `{}` ({severity}): {}. Closes when: {}.", b.id, b.surface, if open { "open" } else { "closed" }, text(&b.closes_when, "not stated")),
            "props": props(&[("blocker-id", &b.id), ("severity", &severity), ("surface", &b.surface)]),
            "methods": ["EXAMINE"],
            "types": ["finding"],
            "collected": when,
            "relevant-evidence": [evidence(BLOCKER_MAP_FILE, "the blocker map")]
        });
        observations.push(observation.clone());
        findings.push(json!({
            "uuid": u(&format!("finding:blocker:{}", b.id)),
            "title": format!("Blocker {}", b.id),
            "description": text(&b.title, &b.id),
            "props": props(&[("blocker-id", &b.id), ("severity", &severity)]),
            "target": {
                "type": "objective-id",
                "target-id": token(&format!("blocker-{}", b.id)),
                "status": {"state": if open { "not-satisfied" } else { "satisfied" }}
            },
            "related-observations": [{"observation-uuid": obs}]
        }));
        if open {
            poam_observations.push(observation);
            poam_items.push(json!({
                "uuid": u(&format!("poam-item:{}", b.id)),
                "title": text(&b.title, &b.id),
                "description": format!("Open production blocker `{}` ({severity}) on surface `{}`. Closes when: {}.", b.id, b.surface, text(&b.closes_when, "not stated")),
                "props": props(&[("blocker-id", &b.id), ("severity", &severity), ("closes-when", &b.closes_when)]),
                "related-observations": [{"observation-uuid": obs}]
            }));
        }
    }

    let options: Vec<String> = arr(&decision, "options")
        .iter()
        .map(|o| {
            let why = arr(o, "unmet")
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; ");
            if o.get("admissible") == Some(&Value::Bool(true)) {
                format!("- `{}`: admissible now", s(o, "id"))
            } else {
                format!("- `{}`: not admissible ({why})", s(o, "id"))
            }
        })
        .collect();
    let metadata = |kind: &str| {
        json!({
            "title": format!("{} of {}", kind, text(&m.packet.title, &m.packet.macro_name)),
            "last-modified": when,
            "version": tree,
            "oscal-version": OSCAL_VERSION,
            "props": props(&[
                ("packet-tree-sha256", tree),
                ("scoping-status", &m.status.scoping_status),
                ("production-decision", &m.status.decision),
            ]),
            "remarks": "Exported by holdfast from a packet whose seal verified. The packet, not this document, is the evidence: verify it with `holdfast verify PACKET --rerun`."
        })
    };
    let plan_resource = u("resource:assessment-plan");
    let mut back_matter = resources.clone();
    back_matter.push(json!({
        "uuid": plan_resource,
        "title": "The run's gate spec, standing for the assessment plan",
        "description": "holdfast has no OSCAL assessment plan: the packet's carried spec (spec/gates.toml and spec/surfaces.toml) says what was assessed and how.",
        "rlinks": [{"href": "spec/gates.toml"}, {"href": "spec/surfaces.toml"}]
    }));
    let results = json!({
        "assessment-results": {
            "uuid": u("assessment-results"),
            "metadata": metadata("Assessment results"),
            "import-ap": {"href": format!("#{plan_resource}")},
            "results": [{
                "uuid": u("result"),
                "title": format!("Production decision: {}", m.status.decision),
                "description": format!(
                    "Scoping status `{}`; production decision `{}` (selected: {}).\n\nOptions:\n\n{}",
                    m.status.scoping_status, m.status.decision, m.status.selected, options.join("\n")
                ),
                "start": when,
                "end": when,
                "props": props(&[
                    ("scoping-status", &m.status.scoping_status),
                    ("production-decision", &m.status.decision),
                    ("selected-option", &m.status.selected),
                ]),
                "reviewed-controls": {
                    "control-selections": [{
                        "description": "The packet's boundaries (forbidden action classes) and production blockers, as objectives.",
                        "include-all": {}
                    }]
                },
                "observations": observations,
                "findings": findings
            }],
            "back-matter": {"resources": back_matter}
        }
    });
    let mut poam = json!({
        "plan-of-action-and-milestones": {
            "uuid": u("poam"),
            "metadata": metadata("Plan of action and milestones"),
            "system-id": {"identifier-type": NS, "id": m.packet.macro_name},
            "poam-items": poam_items,
            "back-matter": {"resources": resources}
        }
    });
    if !poam_observations.is_empty() {
        poam["plan-of-action-and-milestones"]["observations"] = Value::Array(poam_observations);
    }
    let mut out = BTreeMap::new();
    out.insert(
        RESULTS_FILE.to_string(),
        crate::canonical::value_to_bytes(&results),
    );
    out.insert(
        POAM_FILE.to_string(),
        crate::canonical::value_to_bytes(&poam),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_stable_and_shaped_as_oscal_requires() {
        let a = uuid("t", "x");
        assert_eq!(a, uuid("t", "x"));
        assert_ne!(a, uuid("t", "y"));
        let b: Vec<char> = a.chars().collect();
        assert_eq!(a.len(), 36);
        assert_eq!(b[14], '5');
        assert!(matches!(b[19], '8' | '9' | 'a' | 'b'));
    }

    #[test]
    fn tokens_keep_what_oscal_allows() {
        assert_eq!(
            token("unknown-surface:ci-seal-scope"),
            "unknown-surface_ci-seal-scope"
        );
        assert_eq!(token("1abc"), "_1abc");
    }
}
