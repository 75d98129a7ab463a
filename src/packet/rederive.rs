//! `verify --rerun`, the re-derivation: every derived file of the packet is
//! derived again, by the very function a run derives it with
//! ([`super::derive::derive`]), from the inputs the packet carries in
//! `spec/` and its primary evidence, in a private directory, and compared
//! byte for byte with the packet's file. A file that differs is named with
//! its first differing JSON pointer or line.
//!
//! Primary evidence is taken as recorded (see `docs/packet-layout.md`): the
//! two snapshots, the probe report, the citation hashes of the inventories,
//! the closing checks of the blocker map, the fold's reverse patch, after
//! documents and the pins of unkept documents, the registry's refusal of a
//! fold, the registry import pin and the claimed ids. Cross-checks tie the
//! primary evidence to the inputs: the snapshots were taken from the
//! carried `surfaces.toml` and list exactly its surfaces and methods, and
//! the probe report holds exactly the classes the carried `gates.toml`
//! selects.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use super::derive::{Observed, derive};
use super::evidence;
use super::inputs::{self, Inputs, SPEC_DIR};
use super::layout::{self, FileKind};
use super::manifest::{PacketManifest, SNAPSHOT_AFTER_FILE, SNAPSHOT_BEFORE_FILE};
use super::model::Packet;
use super::rerun::RerunReport;
use crate::error::{Error, Result};
use crate::gate::blocker::{BlockerMap, ClosingChecks, Kind};
use crate::gate::citation::CitationState;
use crate::gate::{BLOCKER_MAP_FILE, PROBE_REPORT_FILE};
use crate::probe::ProbeReport;
use crate::registry;
use crate::surface::citation::{CitationProblemKind, CiteError, Cited};
use crate::surface::inventory::{SurfaceInventory, json_file_name};
use crate::surface::snapshot;
use crate::surface::spec::Table;
use crate::{fsio, seal};

/// Files of a packet that are never derived: the seal and the signatures.
pub fn is_seal_or_signature(path: &str) -> bool {
    super::layout::kind_of(path) == Some(super::layout::FileKind::Seal)
}

/// Adds the re-derivation checks to `report`: `derived` (every derived
/// file, byte for byte) and `inputs` (the cross-checks).
pub fn check(packet: &Packet, m: &PacketManifest, spec: Option<&Path>, report: &mut RerunReport) {
    let loaded = inputs::load_carried(packet);
    let (inputs, _spec_copy) = match loaded {
        Ok(x) => x,
        Err(e) => {
            report.push(
                "derived",
                false,
                format!("the packet's inputs cannot be loaded from {SPEC_DIR}/: {e}"),
            );
            return;
        }
    };
    if let Some(spec) = spec {
        match compare_spec(&inputs, spec) {
            Ok(problems) if problems.is_empty() => report.push(
                "spec",
                true,
                format!("{SPEC_DIR}/ carries {} byte for byte", spec.display()),
            ),
            Ok(problems) => {
                for p in problems {
                    report.push("spec", false, p);
                }
            }
            Err(e) => report.push("spec", false, e.to_string()),
        }
    }
    match rederive(packet, m, &inputs) {
        Ok((files, problems)) if problems.is_empty() => report.push(
            "derived",
            true,
            format!(
                "{files} files derived again from {SPEC_DIR}/ and the primary evidence, byte for byte"
            ),
        ),
        Ok((_, problems)) => {
            for p in problems {
                report.push("derived", false, p);
            }
        }
        Err(e) => report.push(
            "derived",
            false,
            format!("the packet cannot be re-derived from its inputs and primary evidence: {e}"),
        ),
    }
    match cross_check(packet, &inputs) {
        Ok(problems) if problems.is_empty() => report.push(
            "inputs",
            true,
            "the snapshots were taken from the carried surfaces.toml; the probe report holds the classes gates.toml selects",
        ),
        Ok(problems) => {
            for p in problems {
                report.push("inputs", false, p);
            }
        }
        Err(e) => report.push("inputs", false, e.to_string()),
    }
}

/// Derives the packet again in a private directory; returns how many
/// files were compared and every difference.
fn rederive(packet: &Packet, m: &PacketManifest, inputs: &Inputs) -> Result<(usize, Vec<String>)> {
    let work = tempfile::Builder::new()
        .prefix("holdfast-rederive-")
        .tempdir()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let w = work.path();
    inputs.write_carried(w)?;
    packet.write_subset(w, |p| layout::kind_of(p) == Some(FileKind::Primary))?;
    // The fold result as recorded: only its pins of unkept documents are
    // primary, and derive replaces it with the one the bytes give.
    if let Some(range) = inputs.spec.spec.run.fold {
        let result = registry::result_file_name(range);
        packet.write_subset(w, |p| p == result)?;
    }
    let observed = Observed {
        inventories: recorded_inventories(packet, inputs)?,
        closing: recorded_closing(packet, inputs)?,
        fold_refusal: m.mutation.skipped_reason.clone(),
        import_pin: import_pin(m, inputs),
    };
    let recorded_ids = m.object_ids.clone();
    let mut claimer = |_: &[super::manifest::ArtifactRecord]| {
        recorded_ids.clone().ok_or_else(|| {
            Error::failed(
                "the evidence makes the packet READY, but manifest.json records no claimed ids",
            )
        })
    };
    // Errors name the packet's files, not the private copy.
    derive(inputs, w, &observed, &mut claimer, &|_| {})
        .map_err(|e| rename_paths(e, w, packet.dir()))?;
    compare(packet, w)
}

/// The registry import pin as recorded (the import file is not carried).
fn import_pin(m: &PacketManifest, inputs: &Inputs) -> Option<(String, String)> {
    let rel = inputs
        .spec
        .spec
        .registry
        .import
        .as_ref()?
        .display()
        .to_string();
    m.spec_pins.get(&rel).map(|sha| (rel, sha.clone()))
}

/// The inventories rebuilt from the carried `surfaces.toml`, taking each
/// citation's hash from the packet's recorded inventory: only the hash is
/// primary; a citation the recorded inventory does not hold with the same
/// path and lines has no hash, and the re-derivation fails.
fn recorded_inventories(packet: &Packet, inputs: &Inputs) -> Result<Vec<SurfaceInventory>> {
    let mut hashes: BTreeMap<String, Vec<crate::surface::citation::Citation>> = BTreeMap::new();
    for table in Table::ALL {
        let inv: SurfaceInventory = packet.json(json_file_name(table))?;
        for s in inv.surfaces {
            hashes.insert(s.id, s.evidence);
        }
    }
    let ids: Vec<String> = inputs
        .surfaces
        .spec
        .surfaces
        .iter()
        .map(|s| s.id.clone())
        .collect();
    crate::surface::inventory::build_with(&inputs.surfaces, &mut |i, j, path, lines| {
        let recorded = ids
            .get(i)
            .and_then(|id| hashes.get(id))
            .and_then(|e| e.get(j))
            .filter(|c| c.path == path && c.lines == lines);
        match recorded {
            Some(c) => Ok(Cited {
                sha256: c.sha256.clone(),
                bytes: 0,
            }),
            None => Err(CiteError {
                kind: CitationProblemKind::MalformedInventory,
                detail: format!(
                    "{path}: the packet's inventory records no hash for this citation of surfaces.toml"
                ),
            }),
        }
    })
}

/// The closing checks as the packet's blocker map recorded them, for the
/// carried `gates.toml`'s blockers: a blocker whose recorded closing
/// citations are not exactly the spec's gets "not checked" (so it counts
/// as open, and the map re-derived from it differs from an edited one).
fn recorded_closing(packet: &Packet, inputs: &Inputs) -> Result<ClosingChecks> {
    let map: BlockerMap = packet.json(BLOCKER_MAP_FILE)?;
    Ok(inputs
        .gates
        .spec
        .blocker
        .iter()
        .map(|b| {
            let recorded = map
                .blockers
                .iter()
                .find(|e| e.id == b.id && e.kind == Kind::Declared)
                .filter(|e| {
                    e.closing_evidence.len() == b.closing_evidence.len()
                        && e.closing_evidence
                            .iter()
                            .zip(&b.closing_evidence)
                            .all(|(r, c)| &r.citation == c)
                });
            let checks = match recorded {
                Some(e) => e.closing_evidence.iter().map(|c| c.check.clone()).collect(),
                None => vec![CitationState::NotChecked; b.closing_evidence.len()],
            };
            (b.id.clone(), checks)
        })
        .collect())
}

/// Every file of `derived` and of `packet` (seal and signatures aside)
/// must be in both with the same bytes.
fn compare(packet: &Packet, derived: &Path) -> Result<(usize, Vec<String>)> {
    let (entries, _) = seal::compute_manifest(derived, &crate::progress::NoProgress)?;
    let want: BTreeSet<String> = entries
        .into_iter()
        .map(|e| e.path)
        .filter(|p| !is_seal_or_signature(p))
        .collect();
    let have: BTreeSet<String> = packet
        .paths()
        .filter(|p| !is_seal_or_signature(p))
        .map(str::to_string)
        .collect();
    let mut problems = Vec::new();
    for p in have.difference(&want) {
        problems.push(format!(
            "{p}: in the packet, but the inputs and primary evidence derive no such file"
        ));
    }
    for p in want.difference(&have) {
        problems.push(format!(
            "{p}: derived from the inputs and primary evidence, but missing from the packet"
        ));
    }
    for p in have.intersection(&want) {
        let a = packet.bytes(p)?;
        let b = fsio::read_regular(&derived.join(p), evidence::ARTIFACT_LIMIT)?;
        if a != b.as_slice() {
            problems.push(format!("{p}: {}", describe_difference(p, a, &b)));
        }
    }
    Ok((want.len(), problems))
}

/// Where `recorded` first differs from `derived`: a JSON pointer for JSON
/// files that parse, a line number otherwise.
pub fn describe_difference(path: &str, recorded: &[u8], derived: &[u8]) -> String {
    if path.ends_with(".json")
        && let (Ok(a), Ok(b)) = (
            serde_json::from_slice::<Value>(recorded),
            serde_json::from_slice::<Value>(derived),
        )
        && let Some((at, was, is)) = first_json_difference(&a, &b, String::new())
    {
        return format!(
            "differs from what the inputs and primary evidence derive at {} (recorded {}, derived {})",
            if at.is_empty() { "/" } else { at.as_str() },
            short(&was),
            short(&is)
        );
    }
    let line = first_line_difference(recorded, derived);
    format!("differs from what the inputs and primary evidence derive, from line {line}")
}

fn short(v: &Option<Value>) -> String {
    match v {
        None => "nothing".to_string(),
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > 60 {
                format!("{}…", s.chars().take(60).collect::<String>())
            } else {
                s
            }
        }
    }
}

/// The first JSON pointer (RFC 6901) where `a` and `b` differ, with both values.
fn first_json_difference(
    a: &Value,
    b: &Value,
    at: String,
) -> Option<(String, Option<Value>, Option<Value>)> {
    let esc = |k: &str| k.replace('~', "~0").replace('/', "~1");
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let here = format!("{at}/{}", esc(k));
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => {
                        if let Some(d) = first_json_difference(p, q, here) {
                            return Some(d);
                        }
                    }
                    (p, q) => return Some((here, p.cloned(), q.cloned())),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                let here = format!("{at}/{i}");
                match (x.get(i), y.get(i)) {
                    (Some(p), Some(q)) => {
                        if let Some(d) = first_json_difference(p, q, here) {
                            return Some(d);
                        }
                    }
                    (p, q) => return Some((here, p.cloned(), q.cloned())),
                }
            }
            None
        }
        _ if a == b => None,
        _ => Some((at, Some(a.clone()), Some(b.clone()))),
    }
}

/// 1-based number of the first line where `a` and `b` differ.
fn first_line_difference(a: &[u8], b: &[u8]) -> usize {
    let (mut la, mut lb) = (a.split(|&c| c == b'\n'), b.split(|&c| c == b'\n'));
    let mut n = 0;
    loop {
        n += 1;
        match (la.next(), lb.next()) {
            (Some(x), Some(y)) if x == y => continue,
            _ => return n,
        }
    }
}

/// The cross-checks between primary evidence and the carried inputs.
fn cross_check(packet: &Packet, inputs: &Inputs) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let surfaces = &inputs.surfaces;
    let spec_name = format!("{SPEC_DIR}/{}", inputs.surfaces_name());
    let expected: BTreeMap<&str, snapshot::Method> = surfaces
        .spec
        .surfaces
        .iter()
        .zip(&surfaces.snapshots)
        .map(|(s, sp)| (s.id.as_str(), sp.method()))
        .collect();
    for name in [SNAPSHOT_BEFORE_FILE, SNAPSHOT_AFTER_FILE] {
        let snap: snapshot::Snapshot = packet.json(name)?;
        if snap.spec_sha256 != surfaces.sha256 {
            problems.push(format!(
                "{name}: taken from a surfaces spec with sha256 {}, but {spec_name} has sha256 {}",
                snap.spec_sha256, surfaces.sha256
            ));
        }
        let got: BTreeMap<&str, snapshot::Method> = snap
            .surfaces
            .iter()
            .map(|(id, s)| (id.as_str(), s.method))
            .collect();
        if got != expected {
            let missing: Vec<&str> = expected
                .keys()
                .filter(|k| !got.contains_key(*k))
                .copied()
                .collect();
            let extra: Vec<&str> = got
                .keys()
                .filter(|k| !expected.contains_key(*k))
                .copied()
                .collect();
            problems.push(format!(
                "{name}: its surfaces and methods are not those of {spec_name} (missing: {}; not in the spec: {}; or a method differs)",
                list_or_none(&missing),
                list_or_none(&extra)
            ));
        }
    }
    let token = inputs.gates.token();
    let report = ProbeReport::parse(
        packet.bytes(PROBE_REPORT_FILE)?,
        &packet.dir().join(PROBE_REPORT_FILE),
        token,
    )?;
    let recorded: Vec<String> = {
        let mut c: Vec<String> = report.classes.iter().map(|c| c.id.clone()).collect();
        c.sort();
        c
    };
    let selected = crate::probe::configured_classes(&inputs.gates)?;
    if recorded != selected {
        let missing: Vec<&str> = selected
            .iter()
            .filter(|c| !recorded.contains(c))
            .map(String::as_str)
            .collect();
        let extra: Vec<&str> = recorded
            .iter()
            .filter(|c| !selected.contains(c))
            .map(String::as_str)
            .collect();
        problems.push(format!(
            "{PROBE_REPORT_FILE}: its probe classes are not the ones {SPEC_DIR}/{} selects (missing: {}; not selected: {})",
            inputs.gates_name(),
            list_or_none(&missing),
            list_or_none(&extra)
        ));
    }
    Ok(problems)
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

/// `e` with paths inside `from` spelled inside `to` instead.
fn rename_paths(e: Error, from: &Path, to: &Path) -> Error {
    let (from, to) = (from.display().to_string(), to.display().to_string());
    e.rewrite(
        |p| p.display().to_string().replace(&from, &to).into(),
        |t| t.replace(&from, &to),
    )
}

/// Compares the carried inputs with the run's own spec: a directory with
/// `packet.toml` (every input), or `gates.toml` / its directory (that file
/// alone). The carried inputs are what re-derivation starts from; the
/// person who holds the original spec can vouch for them this way.
fn compare_spec(inputs: &Inputs, spec: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    if spec.is_dir() && spec.join(super::spec::SPEC_FILE).is_file() {
        let theirs = Inputs::load(spec)?;
        for (name, bytes) in &inputs.files {
            match theirs.files.get(name) {
                None => problems.push(format!(
                    "{SPEC_DIR}/{name}: not an input of the spec in {}",
                    spec.display()
                )),
                Some(b) if b != bytes => problems.push(format!(
                    "{SPEC_DIR}/{name}: {}",
                    describe_difference(name, bytes, b).replace(
                        "what the inputs and primary evidence derive",
                        &format!("{}", spec.join(name).display())
                    )
                )),
                Some(_) => {}
            }
        }
        for name in theirs
            .files
            .keys()
            .filter(|n| !inputs.files.contains_key(*n))
        {
            problems.push(format!(
                "{}: an input of the spec the packet does not carry",
                spec.join(name).display()
            ));
        }
        return Ok(problems);
    }
    let file = if spec.is_dir() {
        spec.join(crate::gate::SPEC_FILE)
    } else {
        spec.to_path_buf()
    };
    let theirs = fsio::read_regular(&file, crate::tomlio::SPEC_LIMIT)?;
    let name = inputs.gates_name();
    if inputs.files.get(&name) != Some(&theirs) {
        problems.push(format!(
            "{SPEC_DIR}/{name} differs from {}: the packet was not derived from that gate spec",
            file.display()
        ));
    }
    Ok(problems)
}

/// The primary evidence a re-derivation takes as recorded, in words, with
/// what can vouch for each (see `docs/packet-layout.md`).
pub fn as_recorded(m: &PacketManifest) -> Vec<String> {
    let mut out = vec![
        "snapshot digests (surface-snapshot-before.json, surface-snapshot-after.json): as recorded, not re-read; a signature vouches for them".to_string(),
        "probe outcomes (production-bad-input-design.json): as recorded; the built-in classes were re-run above".to_string(),
        "citation hashes (the inventories) and closing checks (the blocker map): as recorded; re-check them with --source DIR".to_string(),
        format!("inputs ({SPEC_DIR}/): as carried; compare them with the run's spec with --spec DIR, or trust a signature"),
    ];
    if m.mutation.performed {
        out.push(
            "the fold's after documents and the pins of documents it did not change: as recorded; the registry's history vouches for them".to_string(),
        );
    }
    if m.mutation.skipped_reason.is_some() {
        out.push("why the mutation was not performed: as recorded".to_string());
    }
    if m.object_ids.is_some() {
        out.push(
            "claimed ids (manifest.json object_ids): as recorded; the registry vouches for them"
                .to_string(),
        );
    }
    out
}
