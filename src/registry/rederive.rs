//! A fold result re-derived from the bytes a packet keeps, offline.
//!
//! A packet keeps, for a performed fold, the reverse patch and the after
//! bytes of every document the fold changed. From them alone the before
//! bytes come back (the patch applied to the after bytes), and so does
//! nearly every figure of the fold result: the range, the canonical max
//! before and after, the claims made canonical, the next free id, the
//! revisions, the pins of the changed documents, the `objects[]` pins (each
//! `registry.json` pins its `objects.json`), JSON validity and the rollback
//! rehearsal. The invariant counts are zero by construction: a fold is only
//! ever performed when `check` passes before and after it.
//!
//! What cannot come back is the pin of a document the fold did not change
//! whose bytes the packet does not hold (`objects.md`): it is taken as
//! recorded, and must be the same before and after. That is the fold
//! result's only primary evidence; everything else is derived, so a fold
//! result edited by hand (collisions, another canonical max, a rehearsal
//! that was not byte-exact) never survives [`rederive_fold_result`].

use std::collections::BTreeMap;
use std::path::Path;

use super::check::Counts;
use super::fold::{BeforeAfter, FoldResult, NextFree, PatchRef, RangeIds};
use super::model::{ClaimState, DOCUMENTS, Document, Header, claim_doc, parse_registry_json};
use super::patch::{apply_patch, rehearse_rollback_known};
use crate::authz::FoldRange;
use crate::digest::sha256_hex;
use crate::error::{Error, Result};

/// Re-derives the fold result of `range` from the reverse patch and the
/// after bytes of the documents the fold changed (`after`, by document
/// name). `recorded` supplies only the pins of unchanged documents the
/// packet does not hold. `file` names the fold result in errors.
pub fn rederive_fold_result(
    file: &Path,
    range: FoldRange,
    recorded: &FoldResult,
    patch: &[u8],
    after: &BTreeMap<String, Vec<u8>>,
) -> Result<FoldResult> {
    let bad = |what: String| Error::malformed(file, what);
    if let Some(doc) = after.keys().find(|d| Document::from_name(d).is_none()) {
        return Err(bad(format!(
            "{doc:?} has after bytes but is not a registry document"
        )));
    }
    let registry_json = Document::RegistryJson.name();
    let Some(after_registry) = after.get(registry_json) else {
        return Err(bad(format!(
            "a fold changes {registry_json}, and its after bytes are missing"
        )));
    };
    // Before bytes of each changed document: the patch applied to its after bytes.
    let restored = apply_patch(patch, after).map_err(|e| {
        bad(format!(
            "the reverse patch does not restore the before bytes: {e}"
        ))
    })?;
    let before: BTreeMap<String, Vec<u8>> = after
        .iter()
        .map(|(doc, bytes)| (doc.clone(), restored.get(doc).unwrap_or(bytes).clone()))
        .collect();
    let header_after = parse_registry_json(after_registry, &file.join(registry_json))?;
    let header_before = parse_registry_json(&before[registry_json], &file.join(registry_json))?;

    let mut pins_before = BTreeMap::new();
    let mut pins_after = BTreeMap::new();
    for d in DOCUMENTS {
        let name = d.name().to_string();
        let (b, a) = match (before.get(&name), after.get(&name)) {
            (Some(b), Some(a)) => (sha256_hex(b), sha256_hex(a)),
            _ if d == Document::ObjectsJson => (
                header_before.objects_file.sha256.clone(),
                header_after.objects_file.sha256.clone(),
            ),
            // Unchanged and not kept: the recorded pin, the same on both sides.
            _ => {
                let pin = recorded.pins.before.get(&name).cloned().ok_or_else(|| {
                    bad(format!(
                        "pins.before: no pin for the registry document {name}"
                    ))
                })?;
                (pin.clone(), pin)
            }
        };
        pins_before.insert(name.clone(), b);
        pins_after.insert(name, a);
    }
    let objects = Document::ObjectsJson.name();
    let fmt = &header_after.format;
    let known: BTreeMap<String, String> = pins_after
        .iter()
        .filter(|(d, _)| !after.contains_key(*d))
        .map(|(d, p)| (d.clone(), p.clone()))
        .collect();
    let mut rehearse_after: BTreeMap<String, &[u8]> =
        known.keys().map(|d| (d.clone(), &[][..])).collect();
    for (d, b) in after {
        rehearse_after.insert(d.clone(), b.as_slice());
    }
    let rehearsal = rehearse_rollback_known(patch, &rehearse_after, &pins_before, &known);
    let next_free = next_free(&header_after);
    Ok(FoldResult {
        range: RangeIds {
            first: range.first,
            last: range.last,
            first_id: fmt.format(range.first),
            last_id: fmt.format(range.last),
        },
        applied: true,
        canonical_max: BeforeAfter {
            before: header_before.canonical_max,
            after: header_after.canonical_max,
        },
        claims_folded: header_after
            .claims
            .iter()
            .filter(|c| {
                c.state == ClaimState::Folded
                    && header_before.claims.iter().any(|b| {
                        b.first == c.first && b.last == c.last && b.state == ClaimState::Staged
                    })
            })
            .map(|c| claim_doc(fmt, c))
            .collect(),
        next_free: NextFree {
            number: next_free,
            id: fmt.format(next_free),
        },
        invariants: BeforeAfter {
            before: Counts::default(),
            after: Counts::default(),
        },
        json_valid: true,
        objects_unchanged: pins_before[objects] == pins_after[objects],
        objects_sha256: BeforeAfter {
            before: pins_before[objects].clone(),
            after: pins_after[objects].clone(),
        },
        pins: BeforeAfter {
            before: pins_before,
            after: pins_after,
        },
        revisions_before: header_before.revisions,
        revisions_after: header_after.revisions,
        reverse_patch: PatchRef {
            file: super::fold::patch_file_name(range),
            sha256: sha256_hex(patch),
        },
        rollback_rehearsal: rehearsal,
    })
}

/// One past the highest id a valid registry has issued. Every record of a
/// registry that passes `check` lies inside a claim or the canonical body,
/// so the claims and the canonical max give it without the records.
fn next_free(h: &Header) -> u64 {
    let top_claim = h.claims.iter().map(|c| c.last).max().unwrap_or(0);
    h.canonical_max.max(top_claim).saturating_add(1)
}
