//! The reverse patch of a fold and the rollback rehearsal.
//!
//! The reverse patch is one unified diff per changed document, from the
//! after bytes to the before bytes, with `--- a/NAME` / `+++ b/NAME` headers
//! (names relative to the registry directory, documents in name order), so
//! GNU `patch -p1` run in the registry directory applies it. The diffs are
//! made and applied with the `diffy` crate.
//!
//! The rehearsal is a pure function of the patch bytes, the after bytes of
//! every document and the before pins: apply, hash, compare. A fold runs it
//! before it writes anything; `verify --rerun` can run it again later.

use std::collections::{BTreeMap, BTreeSet};

use diffy::patch_set::{FileOperation, ParseOptions, PatchSet};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::digest::sha256_hex;

/// What the rehearsal did, in words (recorded in the fold result).
pub const REHEARSAL_METHOD: &str = "reverse patch applied to a staging copy of the after bytes (in memory, before the live registry is written); sha256 compared with the before pins";

/// The reverse patch turning `after` into `before`, for every document whose
/// bytes differ. Both maps are keyed by document name; a name missing from
/// either side is treated as empty bytes (documents are never created or
/// deleted by a fold, so that does not occur in practice).
pub fn reverse_patch<B: AsRef<[u8]>>(
    after: &BTreeMap<String, B>,
    before: &BTreeMap<String, B>,
) -> Vec<u8> {
    let names: BTreeSet<&String> = after.keys().chain(before.keys()).collect();
    let mut out = Vec::new();
    for name in names {
        let a = after.get(name).map_or(&[][..], |b| b.as_ref());
        let b = before.get(name).map_or(&[][..], |b| b.as_ref());
        if a == b {
            continue;
        }
        let patch = diffy::DiffOptions::new()
            .set_original_filename(format!("a/{name}"))
            .set_modified_filename(format!("b/{name}"))
            .create_patch_bytes(a, b);
        out.extend_from_slice(&patch.to_bytes());
    }
    out
}

/// One document of a rehearsal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RehearsedDocument {
    /// The before pin the result must equal.
    pub expected: String,
    /// sha256 of the rehearsed bytes (absent when the patch could not be applied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub got: Option<String>,
    /// Whether the patch has a section for this document.
    pub patched: bool,
}

/// The outcome of a rollback rehearsal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rehearsal {
    /// True only when every document's rehearsed bytes hash to its before pin.
    pub byte_exact: bool,
    /// How the rehearsal was done.
    pub method: String,
    /// Per document: expected pin, rehearsed sha256, whether it was patched.
    pub documents: BTreeMap<String, RehearsedDocument>,
    /// The first reason the rehearsal could not be completed, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Rehearsal {
    /// One line naming the first document that did not come back, or the error.
    pub fn failure(&self) -> Option<String> {
        if self.byte_exact {
            return None;
        }
        if let Some(e) = &self.error {
            return Some(e.clone());
        }
        self.documents
            .iter()
            .find(|(_, d)| d.got.as_deref() != Some(d.expected.as_str()))
            .map(|(name, d)| {
                format!(
                    "{name}: rehearsed bytes hash to {}, the before pin is {}",
                    d.got.as_deref().unwrap_or("nothing"),
                    d.expected
                )
            })
    }
}

/// Splits a multi-document patch into per-document patches keyed by name,
/// checking every section modifies one known document in place.
fn parse_sections<'a>(
    patch: &'a [u8],
    known: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, diffy::Patch<'a, [u8]>>, String> {
    let mut out = BTreeMap::new();
    if patch.is_empty() {
        return Ok(out);
    }
    for (i, section) in PatchSet::parse_bytes(patch, ParseOptions::unidiff()).enumerate() {
        let section = section.map_err(|e| format!("reverse patch section {}: {e}", i + 1))?;
        let FileOperation::Modify { original, modified } = section.operation().strip_prefix(1)
        else {
            return Err(format!(
                "reverse patch section {}: creates, deletes or renames a file; a rollback only modifies documents",
                i + 1
            ));
        };
        if original != modified {
            return Err(format!(
                "reverse patch section {}: names two different files",
                i + 1
            ));
        }
        let name = String::from_utf8(original.into_owned())
            .map_err(|_| format!("reverse patch section {}: file name is not UTF-8", i + 1))?;
        if !known.contains_key(&name) {
            return Err(format!(
                "reverse patch section {}: {name:?} is not a pinned document",
                i + 1
            ));
        }
        let Some(text) = section.patch().as_text() else {
            return Err(format!(
                "reverse patch section {}: binary patches are not accepted",
                i + 1
            ));
        };
        if out.insert(name.clone(), text.clone()).is_some() {
            return Err(format!("reverse patch: {name} has two sections"));
        }
    }
    Ok(out)
}

/// Applies `patch` to `after` (document name → bytes) and returns the new
/// bytes of every document the patch touches (the others stay as they are).
/// Errors name the document.
pub fn apply_patch<B: AsRef<[u8]>>(
    patch: &[u8],
    after: &BTreeMap<String, B>,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let known: BTreeMap<String, String> =
        after.keys().map(|k| (k.clone(), String::new())).collect();
    let sections = parse_sections(patch, &known)?;
    let mut out = BTreeMap::new();
    for (name, p) in &sections {
        let bytes = after.get(name).map_or(&[][..], |b| b.as_ref());
        let result = diffy::apply_bytes(bytes, p)
            .map_err(|e| format!("{name}: reverse patch does not apply: {e}"))?;
        out.insert(name.clone(), result);
    }
    Ok(out)
}

/// Re-runs a rollback rehearsal: applies `patch` to the after bytes of every
/// document and compares each result's sha256 with its before pin.
///
/// `byte_exact` is true only if every pinned document is given, every patch
/// section names a pinned document and applies, and every result equals its
/// pin. Pure: a packet's `verify --rerun` calls it with the bytes it holds.
pub fn rehearse_rollback<B: AsRef<[u8]>>(
    patch: &[u8],
    after: &BTreeMap<String, B>,
    before_pins: &BTreeMap<String, String>,
) -> Rehearsal {
    rehearse_rollback_known(patch, after, before_pins, &BTreeMap::new())
}

/// [`rehearse_rollback`], taking the sha256 of after bytes the caller has
/// already hashed (`known`, by document name): a document the patch does
/// not touch comes back as its after bytes, so its known hash is its
/// rehearsed hash. A fold uses this not to hash a million records twice.
pub fn rehearse_rollback_known<B: AsRef<[u8]>>(
    patch: &[u8],
    after: &BTreeMap<String, B>,
    before_pins: &BTreeMap<String, String>,
    known: &BTreeMap<String, String>,
) -> Rehearsal {
    let mut documents: BTreeMap<String, RehearsedDocument> = before_pins
        .iter()
        .map(|(name, pin)| {
            (
                name.clone(),
                RehearsedDocument {
                    expected: pin.clone(),
                    got: None,
                    patched: false,
                },
            )
        })
        .collect();
    let fail = |documents, error: String| Rehearsal {
        byte_exact: false,
        method: REHEARSAL_METHOD.to_string(),
        documents,
        error: Some(error),
    };
    if let Some(extra) = after.keys().find(|k| !before_pins.contains_key(*k)) {
        return fail(
            documents,
            format!("{extra}: has after bytes but no before pin"),
        );
    }
    let sections = match parse_sections(patch, before_pins) {
        Ok(s) => s,
        Err(e) => return fail(documents, e),
    };
    let mut error = None;
    for (name, doc) in documents.iter_mut() {
        let Some(bytes) = after.get(name) else {
            error.get_or_insert_with(|| format!("{name}: no after bytes given"));
            continue;
        };
        let bytes = bytes.as_ref();
        match sections.get(name) {
            Some(p) => {
                doc.patched = true;
                match diffy::apply_bytes(bytes, p) {
                    Ok(result) => doc.got = Some(sha256_hex(&result)),
                    Err(e) => {
                        error.get_or_insert_with(|| {
                            format!("{name}: reverse patch does not apply: {e}")
                        });
                    }
                }
            }
            None => {
                doc.got = Some(match known.get(name) {
                    Some(sha) => sha.clone(),
                    None => sha256_hex(bytes),
                })
            }
        }
    }
    let all_equal = documents
        .values()
        .all(|d| d.got.as_deref() == Some(d.expected.as_str()));
    Rehearsal {
        byte_exact: error.is_none() && all_equal,
        method: REHEARSAL_METHOD.to_string(),
        documents,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::registry::fold::plan_fold;
    use crate::registry::model::Registry;
    use crate::registry::test_support::{build, range, shape, staged_end};

    fn docs(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    fn pins(d: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, String> {
        d.iter().map(|(k, v)| (k.clone(), sha256_hex(v))).collect()
    }

    fn pair() -> (BTreeMap<String, Vec<u8>>, BTreeMap<String, Vec<u8>>) {
        let before = docs(&[
            ("a.md", "one\ntwo\nthree\n"),
            ("b.json", "{\n  \"max\": 441\n}\n"),
            ("c.md", "same\n"),
        ]);
        let after = docs(&[
            ("a.md", "one\n2\nthree\nfour\n"),
            ("b.json", "{\n  \"max\": 461\n}\n"),
            ("c.md", "same\n"),
        ]);
        (before, after)
    }

    #[test]
    fn patch_has_git_style_headers_and_skips_unchanged_documents() {
        let (before, after) = pair();
        let p = String::from_utf8(reverse_patch(&after, &before)).unwrap();
        assert!(p.starts_with("--- a/a.md\n+++ b/a.md\n@@"), "{p}");
        assert!(p.contains("--- a/b.json\n+++ b/b.json\n"), "{p}");
        assert!(!p.contains("c.md"), "{p}");
        assert!(p.contains("-  \"max\": 461\n+  \"max\": 441\n"), "{p}");
    }

    #[test]
    fn rehearsal_restores_every_document() {
        let (before, after) = pair();
        let p = reverse_patch(&after, &before);
        let r = rehearse_rollback(&p, &after, &pins(&before));
        assert!(r.byte_exact, "{r:?}");
        assert!(r.documents["a.md"].patched && !r.documents["c.md"].patched);
        let mut applied = after.clone();
        applied.extend(apply_patch(&p, &after).unwrap());
        assert_eq!(applied, before);
        assert!(!apply_patch(&p, &after).unwrap().contains_key("c.md"));
    }

    #[test]
    fn rehearsal_fails_when_anything_is_off() {
        let (before, after) = pair();
        let p = reverse_patch(&after, &before);
        let good = pins(&before);

        // A tampered pin.
        let mut bad_pins = good.clone();
        bad_pins.insert("c.md".into(), "0".repeat(64));
        let r = rehearse_rollback(&p, &after, &bad_pins);
        assert!(!r.byte_exact);
        assert!(r.failure().unwrap().contains("c.md"), "{r:?}");

        // After bytes that are not the fold's after bytes.
        let mut other = after.clone();
        other.insert("b.json".into(), b"{\n  \"max\": 999\n}\n".to_vec());
        let r = rehearse_rollback(&p, &other, &good);
        assert!(!r.byte_exact);
        assert!(r.failure().unwrap().contains("b.json"), "{r:?}");

        // A missing document.
        let mut missing = after.clone();
        missing.remove("a.md");
        let r = rehearse_rollback(&p, &missing, &good);
        assert!(!r.byte_exact && r.error.unwrap().contains("a.md"));

        // A patch naming an unknown file.
        let evil = b"--- a/../etc/passwd\n+++ b/../etc/passwd\n@@ -1 +1 @@\n-x\n+y\n";
        let r = rehearse_rollback(evil, &after, &good);
        assert!(!r.byte_exact && r.error.unwrap().contains("not a pinned document"));

        // An empty patch restores nothing.
        let r = rehearse_rollback(b"", &after, &good);
        assert!(!r.byte_exact && r.error.is_none());

        // Garbage.
        let r = rehearse_rollback(b"@@ nonsense\n", &after, &good);
        assert!(!r.byte_exact);
    }

    #[test]
    fn gnu_patch_applies_the_reverse_patch() {
        let (before, after) = pair();
        let p = reverse_patch(&after, &before);
        let dir = tempfile::tempdir().unwrap();
        for (k, v) in &after {
            std::fs::write(dir.path().join(k), v).unwrap();
        }
        std::fs::write(dir.path().join("r.patch"), &p).unwrap();
        let out = std::process::Command::new("patch")
            .args(["-p1", "--batch", "--forward", "-i", "r.patch"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        for (k, v) in &before {
            assert_eq!(&std::fs::read(dir.path().join(k)).unwrap(), v, "{k}");
        }
    }

    fn rendered(reg: &Registry) -> BTreeMap<String, Vec<u8>> {
        let objects = crate::registry::model::objects_json_bytes(reg).unwrap();
        let sha = sha256_hex(&objects);
        BTreeMap::from([
            (
                "index.md".to_string(),
                crate::registry::render::index_md(reg),
            ),
            ("objects.json".to_string(), objects),
            (
                "objects.md".to_string(),
                crate::registry::render::objects_md(reg),
            ),
            (
                "registry.json".to_string(),
                crate::registry::model::registry_json_bytes(reg, &sha).unwrap(),
            ),
            (
                "registry.md".to_string(),
                crate::registry::render::registry_md(reg, &sha),
            ),
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Pure: the reverse patch of any valid fold turns every after
        /// document back into its before bytes.
        #[test]
        fn reverse_patch_of_any_valid_fold_is_byte_exact((cmax, staged, titles) in shape(), pick in 0usize..4) {
            let reg = build(cmax, &staged, &titles);
            let j = pick % staged.len();
            let plan = plan_fold(&reg, range(cmax + 1, staged_end(&reg, j))).unwrap();
            let before = rendered(&reg);
            let mut after_reg = reg.clone();
            plan.apply(&mut after_reg, &reg.revisions.bumped());
            let after = rendered(&after_reg);
            prop_assert_eq!(&after["objects.json"], &before["objects.json"]);
            let patch = reverse_patch(&after, &before);
            let pins: BTreeMap<String, String> = before.iter().map(|(k, v)| (k.clone(), sha256_hex(v))).collect();
            let r = rehearse_rollback(&patch, &after, &pins);
            prop_assert!(r.byte_exact, "{:?}", r);
            let mut restored = after.clone();
            restored.extend(apply_patch(&patch, &after).unwrap());
            prop_assert_eq!(restored, before);
        }

    }
}
