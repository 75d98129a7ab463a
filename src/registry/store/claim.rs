//! A claim: the next free ids taken by one packet as one staged claim,
//! with their records, written as one state by the full way (every document
//! rendered and replaced); and the claim cache that lets the next claim take
//! the [`fast`](crate::registry::fast) way instead.

use serde::Serialize;

use super::recover::{load_model, recover};
use super::{Store, doc_path, render_all};
use crate::digest::sha256_hex;
use crate::error::{Error, Result};
use crate::registry::backend::Backend;
use crate::registry::check::check;
use crate::registry::fold::{ClaimRequest, plan_claim};
use crate::registry::history::Op;
use crate::registry::model::{
    DOCUMENTS, Document, RecordLoad, Registry, parse_objects_bytes, to_canonical_bytes,
};

/// What `claim` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ClaimOutcome {
    /// The claiming packet.
    pub packet: String,
    /// First id taken.
    pub first_id: String,
    /// Last id taken.
    pub last_id: String,
    /// Number of ids taken.
    pub count: u64,
    /// The registry's state number after the claim.
    pub state: u64,
}

impl Store {
    /// Claims the next free ids for `packet` as one staged claim with their records.
    pub fn claim(&mut self, packet: &str, request: ClaimRequest) -> Result<ClaimOutcome> {
        if self.load != RecordLoad::Full {
            // The records documents are rewritten: every field is needed.
            self.registry.objects = parse_objects_bytes(
                &self.docs[Document::ObjectsJson.index()],
                &doc_path(&*self.b, Document::ObjectsJson),
                &self.registry.format,
                self.registry.objects.len() as u64,
                RecordLoad::Full,
            )?;
            self.load = RecordLoad::Full;
        }
        let records_blob = match &request {
            ClaimRequest::Records(r) => Some(to_canonical_bytes(r)?),
            ClaimRequest::Count(_) => None,
        };
        let plan = plan_claim(&self.registry, packet, request)?;
        let next_rev = self.log.high_water().bumped();
        let mut next = self.registry.clone_header();
        next.objects = std::mem::take(&mut self.registry.objects);
        let claim = plan.claim.clone();
        let old_len = next.objects.len();
        plan.apply(&mut next, &next_rev);
        let give_back = |store: &mut Store, mut next: Registry| {
            next.objects.truncate(old_len);
            store.registry.objects = next.objects;
        };
        let after = check(&next);
        if !after.passes() {
            give_back(self, next);
            return Err(Error::refused(format!(
                "claim: the registry would fail check after it ({}); nothing written",
                after.counts.summary()
            )));
        }
        let docs = match render_all(&next) {
            Ok(d) => d,
            Err(e) => {
                give_back(self, next);
                return Err(e);
            }
        };
        let f = &next.format;
        let op = Op::Claim {
            packet: packet.to_string(),
            first: f.format(claim.first),
            last: f.format(claim.last),
            count: claim.last - claim.first + 1,
            records_sha256: records_blob.as_deref().map(sha256_hex),
        };
        let outcome = ClaimOutcome {
            packet: packet.to_string(),
            first_id: f.format(claim.first),
            last_id: f.format(claim.last),
            count: claim.last - claim.first + 1,
            state: self.state() + 1,
        };
        let changes = DOCUMENTS.iter().copied().zip(docs).collect();
        let artifacts: Vec<&[u8]> = records_blob.as_deref().into_iter().collect();
        self.commit(next, changes, op, &artifacts)?;
        // So that the next claim need not read the records documents.
        super::fast::save_cache(&*self.b, &self.registry, &self.docs);
        Ok(outcome)
    }
}

/// Leaves the claim cache (see [`fast`](super::fast)) for the registry on
/// `b` as it is, so its first claim need not read the records documents
/// (after `export`, which does not copy the cache). Reads, hashes and
/// parses every document; writes nothing but the cache, and nothing at all
/// when a document is not the head's.
pub(crate) fn refresh_claim_cache(b: &dyn Backend) -> Result<()> {
    let _lock = b.lock()?;
    let mut rec = recover(b, Some(RecordLoad::Full))?;
    if !rec.drift.is_empty() || !rec.stale.is_empty() {
        return Ok(());
    }
    let reg = load_model(b, &mut rec, RecordLoad::Full)?;
    super::fast::save_cache(b, &reg, &rec.docs);
    Ok(())
}
