//! `verify --registry DIR`: the registry as an anchor of a packet.
//!
//! A packet agrees with itself; a forger who edits any file and recomputes
//! every hash gets a packet that agrees with itself too. What the forger
//! cannot recompute is the registry's history: after sealing, a run binds
//! its tree hash to its claim of ids and to its fold (`Op::Bind`, a state
//! of its own in the hash-chained log). This module checks a sealed packet
//! against that record, failing closed when:
//!
//! - the registry itself fails its check (history replay, documents,
//!   invariants);
//! - the registry binds no packet with this tree hash (it does not record
//!   this packet, or records another tree hash for the same claim or fold);
//! - the bound claim is not the packet's claimed ids, or a record of one of
//!   those ids names another packet, path or sha256 than the packet holds;
//! - the bound fold is not the packet's fold result.
//!
//! The check is pure over what it reads: the packet's seal listing and
//! manifest, the registry's log and current records.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::manifest::{MANIFEST_FILE, MANIFEST_LIMIT, PacketManifest};
use crate::error::{Error, Result, exit};
use crate::registry::history::{Entry, Op};
use crate::registry::{self, RecordLoad, Registry, Store};
use crate::{digest, fsio, seal};

/// What `verify --registry` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct AnchorReport {
    /// The packet's tree hash (sha256 of its `HASH_MANIFEST.txt`).
    pub tree_sha256: String,
    /// The registry state that binds this tree hash, when one does.
    pub bound_state: Option<u64>,
    /// The bound claim (`FIRST..LAST`), when the packet claimed ids.
    pub claim: Option<String>,
    /// Whether the binding names the packet's fold result.
    pub fold_bound: bool,
    /// Facts worth knowing that do not fail the check (a later rollback of the bound fold).
    pub notes: Vec<String>,
    /// Every reason the packet is not anchored (empty: it is).
    pub problems: Vec<String>,
}

impl AnchorReport {
    /// Whether the registry vouches for this packet.
    pub fn anchored(&self) -> bool {
        self.problems.is_empty() && self.bound_state.is_some()
    }

    /// 0 when anchored, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.anchored() {
            exit::OK
        } else {
            exit::FAILED
        }
    }
}

/// Checks the sealed packet in `packet_dir` against the registry in
/// `registry_dir`. Call it only for a packet whose seal verified; the
/// listing and the manifest are read again here, and the manifest's bytes
/// must hash to its listed sha256.
pub fn check(packet_dir: &Path, registry_dir: &Path) -> Result<AnchorReport> {
    let (listing, tree) = seal::read_listing(packet_dir)?;
    let listed: BTreeMap<&str, &str> = listing
        .iter()
        .map(|e| (e.path.as_str(), e.sha256.as_str()))
        .collect();
    let mpath = packet_dir.join(MANIFEST_FILE);
    let mbytes = fsio::read_regular(&mpath, MANIFEST_LIMIT)?;
    if listed.get(MANIFEST_FILE).copied() != Some(digest::sha256_hex(&mbytes).as_str()) {
        return Err(Error::failed(format!(
            "{}: its bytes are not the ones the seal lists",
            mpath.display()
        )));
    }
    let manifest = PacketManifest::parse(&mbytes, &mpath)?;
    let mut report = AnchorReport {
        tree_sha256: tree.clone(),
        bound_state: None,
        claim: None,
        fold_bound: false,
        notes: Vec::new(),
        problems: Vec::new(),
    };

    // The registry must pass its own check first: a registry whose history
    // was edited vouches for nothing.
    let history = registry::verify_history(registry_dir)?;
    if let Some(p) = history.problems.first() {
        report.problems.push(format!(
            "the registry fails its history check ({} problem(s)); first: {p}",
            history.problems.len()
        ));
        return Ok(report);
    }
    let inspection = registry::inspect(registry_dir)?;
    if !inspection.passes() {
        let why = inspection
            .error
            .clone()
            .or_else(|| inspection.drift.first().cloned())
            .or_else(|| inspection.stale.first().cloned())
            .or_else(|| {
                inspection
                    .report
                    .as_ref()
                    .map(|r| r.counts.summary().to_string())
            })
            .unwrap_or_default();
        report
            .problems
            .push(format!("the registry fails its check: {why}"));
        return Ok(report);
    }
    let store = Store::open_with(registry_dir, RecordLoad::Full)?;
    let fold_sha = match &manifest.mutation.fold_result {
        Some(file) => match listed.get(file.as_str()) {
            Some(sha) => Some((*sha).to_string()),
            None => {
                report.problems.push(format!(
                    "{MANIFEST_FILE}: mutation.fold_result names {file}, which the seal does not list"
                ));
                return Ok(report);
            }
        },
        None => None,
    };
    compare(
        &manifest,
        &listed,
        fold_sha.as_deref(),
        &tree,
        store.registry(),
        &store.log().entries,
        &mut report,
    );
    Ok(report)
}

/// The fields of a bind state.
struct Bound<'a> {
    packet: &'a str,
    tree: &'a str,
    first: Option<&'a str>,
    last: Option<&'a str>,
    fold: Option<&'a str>,
}

/// The bind fields of `e`, when it is a bind.
fn bind_of(e: &Entry) -> Option<Bound<'_>> {
    match &e.op {
        Op::Bind {
            packet,
            tree_sha256,
            first,
            last,
            fold_result_sha256,
        } => Some(Bound {
            packet,
            tree: tree_sha256,
            first: first.as_deref(),
            last: last.as_deref(),
            fold: fold_result_sha256.as_deref(),
        }),
        _ => None,
    }
}

/// The comparison itself (pure): the packet's manifest and seal listing
/// against the registry's records and history.
fn compare(
    manifest: &PacketManifest,
    listed: &BTreeMap<&str, &str>,
    fold_sha: Option<&str>,
    tree: &str,
    reg: &Registry,
    entries: &[Entry],
    report: &mut AnchorReport,
) {
    let ids = manifest.object_ids.as_ref();
    let packet = ids.map_or(manifest.packet.macro_name.as_str(), |i| i.packet.as_str());
    let Some(bound) = entries
        .iter()
        .find(|e| bind_of(e).is_some_and(|b| b.tree == tree))
    else {
        // Say whether the registry binds the same claim or fold to another
        // tree hash (an altered packet), or does not know the packet at all.
        let other = entries.iter().filter_map(bind_of).find(|b| {
            ids.is_some_and(|i| {
                b.first == Some(i.first.as_str()) && b.last == Some(i.last.as_str())
            }) || (fold_sha.is_some() && b.fold == fold_sha)
        });
        report.problems.push(match other {
            Some(b) => format!(
                "the registry binds this packet's claim or fold to tree hash {}, not to this packet's {tree}: the packet was altered after it was sealed, or is another packet",
                b.tree
            ),
            None => format!(
                "the registry does not record this packet: no state binds tree hash {tree} (packet {packet}{})",
                ids.map(|i| format!(", ids {}..{}", i.first, i.last))
                    .unwrap_or_default()
            ),
        });
        return;
    };
    report.bound_state = Some(bound.seq);
    let Some(Bound {
        packet: bpacket,
        first: bfirst,
        last: blast,
        fold: bfold,
        ..
    }) = bind_of(bound)
    else {
        return;
    };
    if bpacket != packet {
        report.problems.push(format!(
            "state {}: the binding names packet {bpacket}, the packet calls itself {packet}",
            bound.seq
        ));
    }
    // The claim.
    match (ids, bfirst.zip(blast)) {
        (None, None) => {}
        (Some(i), Some((f, l))) if i.first == f && i.last == l => {
            report.claim = Some(format!("{f}..{l}"));
            check_records(manifest, listed, reg, report);
        }
        (Some(i), Some((f, l))) => report.problems.push(format!(
            "{MANIFEST_FILE}: object_ids {}..{}, but the registry binds this tree hash to the claim {f}..{l} (state {})",
            i.first, i.last, bound.seq
        )),
        (Some(i), None) => report.problems.push(format!(
            "{MANIFEST_FILE}: object_ids {}..{}, but the registry binds this tree hash to no claim (state {})",
            i.first, i.last, bound.seq
        )),
        (None, Some((f, l))) => report.problems.push(format!(
            "{MANIFEST_FILE}: no object_ids, but the registry binds this tree hash to the claim {f}..{l} (state {})",
            bound.seq
        )),
    }
    // The fold.
    match (fold_sha, bfold) {
        (None, None) => {}
        (Some(p), Some(b)) if p == b => {
            report.fold_bound = true;
            let fold_at = entries.iter().position(
                |e| matches!(&e.op, Op::Fold { result_sha256, .. } if result_sha256 == p),
            );
            match fold_at {
                Some(j) if entries[j].seq < bound.seq => {
                    if let Some(r) = entries[j + 1..].iter().find(|e| {
                        matches!(&e.op, Op::Rollback { fold_result_sha256, .. } if fold_result_sha256 == p)
                    }) {
                        report.notes.push(format!(
                            "the packet's fold (state {}) was rolled back at state {}",
                            entries[j].seq, r.seq
                        ));
                    }
                }
                _ => report.problems.push(format!(
                    "no fold before state {} recorded the packet's fold result (sha256 {p})",
                    bound.seq
                )),
            }
        }
        (Some(p), b) => report.problems.push(format!(
            "{}: sha256 {p}, but the registry binds this tree hash to {} (state {})",
            manifest.mutation.fold_result.as_deref().unwrap_or("fold result"),
            b.map_or("no fold".to_string(), |b| format!("the fold result {b}")),
            bound.seq
        )),
        (None, Some(b)) => report.problems.push(format!(
            "{MANIFEST_FILE}: no fold result, but the registry binds this tree hash to the fold result {b} (state {})",
            bound.seq
        )),
    }
}

/// Every claimed artifact's record: issued to this packet, with the
/// packet's path and the sha256 its seal lists.
fn check_records(
    manifest: &PacketManifest,
    listed: &BTreeMap<&str, &str>,
    reg: &Registry,
    report: &mut AnchorReport,
) {
    let Some(ids) = &manifest.object_ids else {
        return;
    };
    let with_id: Vec<_> = manifest
        .artifacts
        .iter()
        .filter(|a| a.id.is_some())
        .collect();
    if with_id.len() as u64 != ids.count {
        report.problems.push(format!(
            "{MANIFEST_FILE}: {} artifacts carry an id, object_ids.count is {}",
            with_id.len(),
            ids.count
        ));
    }
    for a in with_id {
        let Some(id) = a.id.as_deref() else { continue };
        let at = format!("{MANIFEST_FILE}: artifact {} ({id})", a.path);
        let Ok(n) = reg.format.parse(id) else {
            report
                .problems
                .push(format!("{at}: not an id of this registry"));
            continue;
        };
        let Ok(k) = reg.objects.binary_search_by_key(&n, |o| o.number) else {
            report
                .problems
                .push(format!("{at}: the registry has no record of it"));
            continue;
        };
        let o = &reg.objects[k];
        if o.packet != ids.packet {
            report.problems.push(format!(
                "{at}: the registry issued it to {}, not to {}",
                o.packet, ids.packet
            ));
        }
        if o.path != a.path {
            report
                .problems
                .push(format!("{at}: the registry records the path {}", o.path));
        }
        let sealed = listed.get(a.path.as_str()).copied().unwrap_or("");
        if o.sha256 != a.sha256 || o.sha256 != sealed {
            report.problems.push(format!(
                "{at}: the registry records sha256 {}, the packet holds {}",
                o.sha256,
                if sealed.is_empty() {
                    "no such file"
                } else {
                    sealed
                }
            ));
        }
    }
}
