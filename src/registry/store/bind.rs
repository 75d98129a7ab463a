//! A bind: a sealed packet's tree hash recorded against its claim and its
//! fold, as a state of its own that changes no document, so the registry
//! names exactly one packet for each. The rule ([`check_bind`]) is pure:
//! the store's `bind` and the history replay both ask it.

use super::Store;
use crate::error::{Error, Result};
use crate::registry::history::{Entry, Op};
use crate::registry::model::Registry;

impl Store {
    /// Binds a sealed packet's tree hash to its claim (`ids`, first and
    /// last id) and its fold (`fold_result_sha256`, a fold result an earlier
    /// fold recorded), as one state of its own that changes no document. A
    /// claim or a fold is bound at most once, so the registry names exactly
    /// one packet for each (see [`check_bind`]). Returns the new state number.
    pub fn bind(
        &mut self,
        packet: &str,
        tree_sha256: &str,
        ids: Option<(&str, &str)>,
        fold_result_sha256: Option<&str>,
    ) -> Result<u64> {
        let op = Op::Bind {
            packet: packet.to_string(),
            tree_sha256: tree_sha256.to_string(),
            first: ids.map(|(f, _)| f.to_string()),
            last: ids.map(|(_, l)| l.to_string()),
            fold_result_sha256: fold_result_sha256.map(str::to_string),
        };
        check_bind(&self.registry, &self.log.entries, &op)
            .map_err(|why| Error::refused(format!("bind: {why}; nothing written")))?;
        let placeholder = Registry::empty(self.registry.format.clone());
        let next = std::mem::replace(&mut self.registry, placeholder);
        self.commit(next, Vec::new(), op, &[])?;
        Ok(self.state())
    }
}

/// Whether `op`, a [`Op::Bind`], may follow the state `reg` whose history
/// is `earlier`: its tree hash is a sha256; it binds a claim, a fold or
/// both; the claim is one `reg` holds for this packet, exactly; the fold
/// result is one an earlier fold recorded; and neither was bound before.
/// The reason when it may not. Pure; the store's `bind` and the history
/// replay both ask it.
pub fn check_bind(reg: &Registry, earlier: &[Entry], op: &Op) -> std::result::Result<(), String> {
    let Op::Bind {
        packet,
        tree_sha256,
        first,
        last,
        fold_result_sha256,
    } = op
    else {
        return Err("internal: not a bind".into());
    };
    if !super::id::is_sha256_hex(tree_sha256) {
        return Err(format!("tree hash {tree_sha256:?} is not 64 lowercase hex"));
    }
    super::model::check_packet_name("packet", packet)?;
    let claim = match (first, last) {
        (Some(f), Some(l)) => Some((f, l)),
        (None, None) => None,
        _ => return Err("a bound claim needs both its first and its last id".into()),
    };
    if claim.is_none() && fold_result_sha256.is_none() {
        return Err("nothing to bind: no claim and no fold".into());
    }
    if let Some((f, l)) = claim {
        let (fnum, lnum) = (reg.format.parse(f)?, reg.format.parse(l)?);
        if !reg
            .claims
            .iter()
            .any(|c| c.packet == *packet && c.first == fnum && c.last == lnum)
        {
            return Err(format!("the registry holds no claim {f}..{l} by {packet}"));
        }
    }
    if let Some(sha) = fold_result_sha256
        && !earlier
            .iter()
            .any(|e| matches!(&e.op, Op::Fold { result_sha256, .. } if result_sha256 == sha))
    {
        return Err(format!(
            "no fold of this history recorded the fold result {sha}"
        ));
    }
    for e in earlier {
        if let Op::Bind {
            first: bf,
            last: bl,
            fold_result_sha256: bfold,
            ..
        } = &e.op
        {
            if claim.is_some() && (bf, bl) == (first, last) {
                return Err(format!(
                    "the claim {}..{} is already bound (state {})",
                    first.as_deref().unwrap_or(""),
                    last.as_deref().unwrap_or(""),
                    e.seq
                ));
            }
            if fold_result_sha256.is_some() && bfold == fold_result_sha256 {
                return Err(format!("the fold is already bound (state {})", e.seq));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::digest::sha256_hex;
    use crate::error::exit;
    use crate::registry::fold::ClaimRequest;
    use crate::registry::store;
    use crate::registry::test_support::{opts, range, seed_fixture, snapshot};

    #[test]
    fn bind_changes_no_document_binds_once_and_replays() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("reg");
        let mut store = store::import(&dir, &seed_fixture()).unwrap();
        let out = store.fold(range(442, 461), &opts(tmp.path())).unwrap();
        let result_path = out.result_path.clone().unwrap();
        let fold_sha = sha256_hex(&std::fs::read(&result_path).unwrap());
        let claim = store.claim("FIX7", ClaimRequest::Count(3)).unwrap();
        let docs = snapshot(&dir);
        let tree = sha256_hex(b"tree");
        let ids = Some((claim.first_id.as_str(), claim.last_id.as_str()));
        let state = store.bind("FIX7", &tree, ids, Some(&fold_sha)).unwrap();
        assert_eq!(state, 4);
        assert_eq!(snapshot(&dir), docs, "a bind writes no document");
        // Neither the claim nor the fold can be bound a second time, to any tree.
        for (ids, fold) in [(ids, None), (None, Some(fold_sha.as_str()))] {
            let other = sha256_hex(b"other");
            let err = store.bind("FIX7", &other, ids, fold).unwrap_err();
            assert_eq!(err.exit_code(), exit::REFUSED, "{err}");
            assert!(err.to_string().contains("already bound"), "{err}");
        }
        // A claim the registry does not hold, a fold no state recorded, a claim
        // of another packet, nothing at all, a tree hash that is not one.
        type Refusal<'a> = (
            &'a str,
            &'a str,
            Option<(&'a str, &'a str)>,
            Option<&'a str>,
            &'a str,
        );
        let refusals: [Refusal<'_>; 5] = [
            (
                "FIX7",
                &tree,
                Some(("TKT-OBJ-900", "TKT-OBJ-901")),
                None,
                "holds no claim",
            ),
            ("FIX7", &tree, None, Some(&tree), "no fold of this history"),
            ("FIX8", &tree, ids, None, "holds no claim"),
            ("FIX7", &tree, None, None, "nothing to bind"),
            ("FIX7", "abc", ids, None, "not 64 lowercase hex"),
        ];
        for (packet, t, ids, fold, why) in refusals {
            let err = store.bind(packet, t, ids, fold).unwrap_err();
            assert_eq!(err.exit_code(), exit::REFUSED, "{err}");
            assert!(err.to_string().contains(why), "{why}: {err}");
        }
        drop(store);
        let report = store::verify_history(&dir).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(report.states, 4);
    }

    #[test]
    fn a_bind_after_a_fold_leaves_its_rollback_possible() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("reg");
        let mut store = store::import(&dir, &seed_fixture()).unwrap();
        let before = snapshot(&dir);
        let out = store.fold(range(442, 461), &opts(tmp.path())).unwrap();
        let result_path = out.result_path.clone().unwrap();
        let fold_sha = sha256_hex(&std::fs::read(&result_path).unwrap());
        store
            .bind("FIX7", &sha256_hex(b"tree"), None, Some(&fold_sha))
            .unwrap();
        store.rollback(&result_path).unwrap();
        assert_eq!(snapshot(&dir), before);
        drop(store);
        let report = store::verify_history(&dir).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }
}
