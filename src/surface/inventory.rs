//! The surface inventories: Table B (`production-surface-inventory.json`)
//! and Table C (`ci-deploy-surface-inventory.json`), in canonical JSON, and
//! their Markdown tables.
//!
//! Every citation is hashed against the source root while the inventory is
//! built; a hash given in the spec must match. Unknown surfaces are listed
//! with their derived-blocker facts, never with a guessed risk or gate.

use std::fmt::Write as _;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::citation::{self, Citation, CitationProblem, CitationProblemKind, CitationReport};
use super::facts::{DerivedFact, FactEvidence};
use super::snapshot::Method;
use super::spans::Seg;
use super::spec::{LoadedSpec, Status, Table};
use crate::error::{Error, IoContext, Result};
use crate::fsio;
use crate::model::fact::{ArtifactCitation, FactDetail, unknown_surface_id};
use crate::model::level::Level;
use crate::{canonical, digest};

/// The JSON file name of a table's inventory.
pub fn json_file_name(table: Table) -> &'static str {
    match table {
        Table::Production => "production-surface-inventory.json",
        Table::CiDeploy => "ci-deploy-surface-inventory.json",
    }
}

/// The Markdown file name of a table's inventory.
pub fn md_file_name(table: Table) -> &'static str {
    match table {
        Table::Production => "production-surface-inventory.md",
        Table::CiDeploy => "ci-deploy-surface-inventory.md",
    }
}

/// The heading of a table's inventory: "`<label>`: production surfaces" when
/// the spec names the table, "Production surfaces" otherwise.
pub fn title(table: Table, label: Option<&str>) -> String {
    let what = match table {
        Table::Production => "production surfaces",
        Table::CiDeploy => "CI and deploy surfaces",
    };
    match label {
        Some(l) => format!("{l}: {what}"),
        None => capitalized(what),
    }
}

/// `what` with its first letter upper-cased.
pub fn capitalized(what: &str) -> String {
    let mut c = what.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// One inventory table as written to the packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SurfaceInventory {
    /// `production` (Table B) or `ci-deploy` (Table C).
    pub table: Table,
    /// The table's heading.
    pub title: String,
    /// The name the spec gives the table (`[labels]` of surfaces.toml),
    /// when it gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The spec it was rendered from.
    pub spec: SpecRef,
    /// How many surfaces, known and unknown.
    pub counts: InventoryCounts,
    /// The surfaces, in spec order.
    pub surfaces: Vec<InventoryEntry>,
    /// One derived-blocker fact per unknown surface of this table.
    pub unknown_surfaces: Vec<DerivedFact>,
}

/// Which spec file an artifact came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpecRef {
    /// The spec's file name (no directory: artifacts carry no machine paths).
    pub file: String,
    /// sha256 of the spec's bytes.
    pub sha256: String,
}

/// Surface counts of one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryCounts {
    /// All surfaces in the table.
    pub surfaces: usize,
    /// Surfaces with status `known`.
    pub known: usize,
    /// Surfaces with status `unknown` (each a blocker).
    pub unknown: usize,
}

/// One row of an inventory table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryEntry {
    /// Surface id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Free-text kind.
    pub kind: String,
    /// `known` or `unknown`.
    pub status: Status,
    /// Mutation risk (absent when unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Level>,
    /// Required gate (absent when unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
    /// Free-text remark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The citations, each with the sha256 of its cited bytes.
    pub evidence: Vec<Citation>,
    /// How the proof reads this surface (`none`: declared only).
    pub snapshot: Method,
}

/// Builds both tables, hashing every citation under `source_root`. Fails on
/// the first bad citation (reporting how many more there are), so an
/// inventory with a stale or unreachable citation is never produced.
pub fn build(spec: &LoadedSpec, source_root: &Path) -> Result<Vec<SurfaceInventory>> {
    let root = citation::source_root(source_root)?;
    build_with(spec, &mut |_, _, path, lines| {
        citation::cite_file(&root, path, lines)
    })
}

/// How [`build_with`] learns the sha256 of one citation: surface index,
/// citation index, path and line range give the cited bytes' hash.
pub type CitationHasher<'a> = dyn FnMut(
        usize,
        usize,
        &str,
        Option<citation::LineRange>,
    ) -> std::result::Result<citation::Cited, citation::CiteError>
    + 'a;

/// Builds both tables with `hash` answering for every citation: the source
/// tree at run time ([`build`]), the hashes a packet recorded when
/// `verify --rerun` re-derives the inventories offline. Everything but the
/// hashes comes from the surfaces spec, so an inventory edited by hand
/// cannot survive re-derivation.
pub fn build_with(
    spec: &LoadedSpec,
    hash: &mut CitationHasher<'_>,
) -> Result<Vec<SurfaceInventory>> {
    let mut errors: Vec<Error> = Vec::new();
    let mut entries: Vec<(Table, InventoryEntry)> = Vec::new();
    for (i, s) in spec.spec.surfaces.iter().enumerate() {
        let mut evidence = Vec::with_capacity(s.evidence.len());
        for (j, c) in s.evidence.iter().enumerate() {
            let field = |f: &'static str| {
                [
                    Seg::Key("surface"),
                    Seg::Index(i),
                    Seg::Key("evidence"),
                    Seg::Index(j),
                    Seg::Key(f),
                ]
            };
            let key = spec.surface_key(i, &format!("evidence[{j}]"));
            match hash(i, j, &c.path, c.lines) {
                Ok(cited) => {
                    if let Some(given) = &c.sha256
                        && *given != cited.sha256
                    {
                        errors.push(Error::failed(format!(
                                "{}: {}: {key}.sha256: stale citation: {} hashes to {}, the spec records {given}",
                                spec.path.display(),
                                spec.where_(&field("sha256")),
                                location(&c.path, c.lines),
                                cited.sha256
                            )));
                        continue;
                    }
                    evidence.push(Citation {
                        path: c.path.clone(),
                        lines: c.lines,
                        sha256: cited.sha256,
                        note: c.note.clone(),
                    });
                }
                Err(e) => {
                    let at = spec.where_(&field(if e.kind == CitationProblemKind::PastEnd {
                        "lines"
                    } else {
                        "path"
                    }));
                    let msg = format!("{}: {key}: {e}", at);
                    errors.push(match e.kind {
                        CitationProblemKind::OutOfRoot => Error::malformed(&spec.path, msg),
                        CitationProblemKind::Unreadable => {
                            Error::io(&spec.path, std::io::Error::other(msg))
                        }
                        _ => Error::failed(format!("{}: {msg}", spec.path.display())),
                    });
                }
            }
        }
        entries.push((
            s.table,
            InventoryEntry {
                id: s.id.clone(),
                name: s.name.clone(),
                kind: s.kind.clone(),
                status: s.status,
                risk: s.risk,
                gate: s.gate.clone(),
                note: s.note.clone(),
                evidence,
                snapshot: spec.snapshots.get(i).map_or(Method::None, |sp| sp.method()),
            },
        ));
    }
    if let Some(first) = first_of(errors) {
        return Err(first);
    }
    let unknown: Vec<DerivedFact> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, (_, e))| unknown_surface(spec, i, e))
        .collect();
    Ok(Table::ALL
        .iter()
        .map(|&table| {
            let surfaces: Vec<InventoryEntry> = entries
                .iter()
                .filter(|(t, _)| *t == table)
                .map(|(_, e)| e.clone())
                .collect();
            let unknown_surfaces: Vec<DerivedFact> = unknown
                .iter()
                .filter(|f| surfaces.iter().any(|s| s.id == f.surface))
                .cloned()
                .collect();
            let known = surfaces
                .iter()
                .filter(|s| s.status == Status::Known)
                .count();
            SurfaceInventory {
                table,
                title: title(table, spec.spec.labels.of(table)),
                label: spec.spec.labels.of(table).map(str::to_string),
                spec: SpecRef {
                    file: spec.file_name(),
                    sha256: spec.sha256.clone(),
                },
                counts: InventoryCounts {
                    surfaces: surfaces.len(),
                    known,
                    unknown: surfaces.len() - known,
                },
                surfaces,
                unknown_surfaces,
            }
        })
        .collect())
}

/// The first error, with "(and N more)" when there were several.
fn first_of(mut errors: Vec<Error>) -> Option<Error> {
    if errors.is_empty() {
        return None;
    }
    let more = errors.len() - 1;
    let first = errors.remove(0);
    if more == 0 {
        return Some(first);
    }
    let suffix = format!(" (and {more} more citation problem(s))");
    Some(match first {
        Error::Malformed { path, what } => Error::Malformed {
            path,
            what: what + &suffix,
        },
        Error::Failed { what } => Error::Failed {
            what: what + &suffix,
        },
        Error::Io { path, source } => {
            Error::io(path, std::io::Error::other(format!("{source}{suffix}")))
        }
        other => other,
    })
}

fn location(path: &str, lines: Option<citation::LineRange>) -> String {
    match lines {
        Some(r) => format!("{path}:{r}"),
        None => path.to_string(),
    }
}

/// Escapes a value for a Markdown table cell (one line, no column breaks).
fn cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// The Markdown rendering of one table (deterministic: same inventory, same bytes).
pub fn render_markdown(inv: &SurfaceInventory) -> String {
    let mut out = String::new();
    let c = inv.counts;
    let _ = writeln!(out, "# {}\n", inv.title);
    let _ = writeln!(
        out,
        "Rendered by holdfast from `{}` (sha256 `{}`). {} surface(s): {} known, {} UNKNOWN.\n",
        cell(&inv.spec.file),
        inv.spec.sha256,
        c.surfaces,
        c.known,
        c.unknown
    );
    out.push_str(
        "| id | name | kind | status | mutation risk | required gate | evidence | snapshot |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    for s in &inv.surfaces {
        let (status, risk, gate) = match s.status {
            Status::Known => (
                "known",
                s.risk.map_or("-", Level::as_str).to_string(),
                s.gate.as_deref().map_or("-".to_string(), cell),
            ),
            Status::Unknown => ("UNKNOWN", "UNKNOWN".to_string(), "UNKNOWN".to_string()),
        };
        let evidence: Vec<String> = s
            .evidence
            .iter()
            .map(|c| {
                format!(
                    "`{}` (sha256 `{}`)",
                    cell(&c.location()),
                    &c.sha256[..c.sha256.len().min(12)]
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} |",
            cell(&s.id),
            cell(&s.name),
            cell(&s.kind),
            status,
            risk,
            gate,
            evidence.join("<br>"),
            s.snapshot.as_str()
        );
    }
    if !inv.unknown_surfaces.is_empty() {
        out.push_str("\n## Unknown surfaces (blockers, not guesses)\n\n");
        for f in &inv.unknown_surfaces {
            let _ = writeln!(out, "- `{}`: {}", cell(&f.id), cell(&f.title));
        }
    }
    out
}

/// The four inventory files (two JSON, two Markdown) as (name, bytes), in a
/// fixed order.
pub fn render_files(inventories: &[SurfaceInventory]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::with_capacity(inventories.len() * 2);
    for inv in inventories {
        files.push((
            json_file_name(inv.table).to_string(),
            canonical::to_bytes(inv)?,
        ));
        files.push((
            md_file_name(inv.table).to_string(),
            render_markdown(inv).into_bytes(),
        ));
    }
    Ok(files)
}

/// Writes rendered files into `out` (created if missing), each atomically.
pub fn write_files(out: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    std::fs::create_dir_all(out).at(out)?;
    for (name, bytes) in files {
        fsio::write_atomic(&out.join(name), bytes)?;
    }
    Ok(())
}

/// Re-checks every citation recorded in the packet's inventories
/// (`production-surface-inventory.json`, `ci-deploy-surface-inventory.json`)
/// against the source tree `source`. Every problem is reported, never only
/// the first. `Err` only when `source` is not a readable directory.
pub fn verify_citations(packet: &Path, source: &Path) -> Result<CitationReport> {
    let root = citation::source_root(source)?;
    let mut report = CitationReport::default();
    for table in Table::ALL {
        let name = json_file_name(table);
        report.inventories.push(name.to_string());
        let path = packet.join(name);
        let (inv, sha256) = match read_inventory(&path, table) {
            Ok(read) => read,
            Err((kind, detail, sha256)) => {
                report.problems.push(CitationProblem {
                    kind,
                    inventory: name.to_string(),
                    surface: String::new(),
                    evidence_index: None,
                    citation: String::new(),
                    detail,
                    recorded: None,
                    inventory_sha256: sha256,
                    at: None,
                });
                continue;
            }
        };
        for (si, s) in inv.surfaces.iter().enumerate() {
            for (i, c) in s.evidence.iter().enumerate() {
                report.citations_checked += 1;
                match citation::check(&root, c) {
                    Ok(()) => report.citations_fresh += 1,
                    Err(e) => report.problems.push(CitationProblem {
                        kind: e.kind,
                        inventory: name.to_string(),
                        surface: s.id.clone(),
                        evidence_index: Some(i),
                        citation: c.location(),
                        detail: e.detail,
                        recorded: Some(c.clone()),
                        inventory_sha256: Some(sha256.clone()),
                        at: Some(format!("/surfaces/{si}/evidence/{i}")),
                    }),
                }
            }
        }
    }
    Ok(report)
}

/// Reads an inventory strictly: the inventory and the sha256 of its bytes,
/// or the problem, its detail and (when the bytes were read) their sha256.
#[allow(clippy::type_complexity)]
fn read_inventory(
    path: &Path,
    table: Table,
) -> std::result::Result<(SurfaceInventory, String), (CitationProblemKind, String, Option<String>)>
{
    match path.symlink_metadata() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err((
                CitationProblemKind::MissingInventory,
                "not in the packet; nothing to re-check is not a pass".into(),
                None,
            ));
        }
        _ => {}
    }
    let bytes = fsio::read_regular(path, citation::INVENTORY_LIMIT).map_err(|e| match e {
        Error::Io { .. } => (CitationProblemKind::Unreadable, e.to_string(), None),
        other => (
            CitationProblemKind::MalformedInventory,
            other.to_string(),
            None,
        ),
    })?;
    let sha256 = digest::sha256_hex(&bytes);
    let malformed = |detail: String| {
        (
            CitationProblemKind::MalformedInventory,
            detail,
            Some(sha256.clone()),
        )
    };
    let inv: SurfaceInventory =
        canonical::from_slice_strict(&bytes, path).map_err(|e| malformed(e.to_string()))?;
    if inv.table != table {
        return Err(malformed(format!(
            "{}: table is {:?}, expected {:?}",
            path.display(),
            inv.table.as_str(),
            table.as_str()
        )));
    }
    for s in &inv.surfaces {
        for (i, c) in s.evidence.iter().enumerate() {
            if !crate::seal::is_sha256_hex(&c.sha256) {
                return Err(malformed(format!(
                    "{}: surface {:?} evidence[{i}].sha256: expected 64 lowercase hex digits",
                    path.display(),
                    s.id
                )));
            }
        }
    }
    Ok((inv, sha256))
}

/// The unknown-surface fact of the inventory row `entry`, which is
/// `surface[index]` of `spec`: the surface's own citations (path, lines and
/// the sha256 the inventory recorded) and the spec's `status = "unknown"`.
/// `None` for a known surface.
pub fn unknown_surface(
    spec: &LoadedSpec,
    index: usize,
    entry: &InventoryEntry,
) -> Option<DerivedFact> {
    if entry.status != super::spec::Status::Unknown {
        return None;
    }
    let table = spec
        .spec
        .surfaces
        .get(index)
        .map(|s| s.table.to_string())
        .unwrap_or_default();
    let mut evidence = vec![FactEvidence::Artifact(ArtifactCitation {
        file: spec.file_name(),
        sha256: spec.sha256.clone(),
        at: format!("surface[{index}].status"),
        value: Some("unknown".into()),
    })];
    evidence.extend(entry.evidence.iter().cloned().map(FactEvidence::Source));
    Some(DerivedFact {
        id: unknown_surface_id(&entry.id),
        surface: entry.id.clone(),
        detail: FactDetail::UnknownSurface { name: None },
        title: format!(
            "{} ({table}) is UNKNOWN: its mutation risk and required gate are not established{}",
            entry.name,
            entry
                .note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ),
        evidence,
    })
}

/// Every unknown-surface fact of the inventories (Tables B and C), in
/// table and spec order, as the inventories record them.
pub fn unknown_surfaces(inventories: &[SurfaceInventory]) -> Vec<DerivedFact> {
    inventories
        .iter()
        .flat_map(|i| i.unknown_surfaces.iter().cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fact::FactKind;
    use crate::surface::citation::Citation;
    use crate::surface::spec::tests_support::GOOD;
    use std::fs;
    use std::path::Path;

    fn setup(spec_text: &str) -> (tempfile::TempDir, LoadedSpec) {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("deploy")).unwrap();
        fs::create_dir_all(d.path().join("ci")).unwrap();
        fs::write(d.path().join("deploy/db.tf"), "a\nb\nc\n").unwrap();
        fs::write(d.path().join("ci/pipeline.yml"), "steps: []\n").unwrap();
        let p = d.path().join("surfaces.toml");
        fs::write(&p, spec_text).unwrap();
        let spec = LoadedSpec::load(&p).unwrap();
        (d, spec)
    }

    #[test]
    fn both_tables_are_built_with_hashes_and_unknown_facts() {
        let (d, spec) = setup(GOOD);
        let inv = build(&spec, d.path()).unwrap();
        assert_eq!(inv.len(), 2);
        assert_eq!(inv[0].table, Table::Production);
        assert_eq!(
            inv[0].surfaces[0].evidence[0].sha256,
            crate::digest::sha256_hex(b"a\nb\n")
        );
        assert_eq!(
            inv[0].counts,
            InventoryCounts {
                surfaces: 1,
                known: 1,
                unknown: 0
            }
        );
        assert!(inv[0].unknown_surfaces.is_empty());
        assert_eq!(inv[1].counts.unknown, 1);
        assert_eq!(inv[1].unknown_surfaces[0].surface, "ci-seal-scope");
        assert_eq!(inv[1].surfaces[0].risk, None);
        let files = render_files(&inv).unwrap();
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "production-surface-inventory.json",
                "production-surface-inventory.md",
                "ci-deploy-surface-inventory.json",
                "ci-deploy-surface-inventory.md"
            ]
        );
        let md = String::from_utf8(files[3].1.clone()).unwrap();
        assert!(
            md.contains(
                "| `ci-seal-scope` | CI seal-vs-bytes scope | ci | UNKNOWN | UNKNOWN | UNKNOWN |"
            ),
            "{md}"
        );
        // Round trip through the strict reader verify uses.
        let back: SurfaceInventory =
            canonical::from_slice_strict(&files[0].1, Path::new("x")).unwrap();
        assert_eq!(back, inv[0]);
    }

    #[test]
    fn a_given_hash_that_does_not_match_fails_naming_the_line() {
        let text = GOOD.replace(
            "lines = \"1-2\"",
            &format!("lines = \"1-2\"\nsha256 = \"{}\"", "0".repeat(64)),
        );
        let (d, spec) = setup(&text);
        let e = build(&spec, d.path()).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        let m = e.to_string();
        assert!(
            m.contains("surfaces.toml: line 16,") && m.contains("stale citation"),
            "{m}"
        );
        let right = crate::digest::sha256_hex(b"a\nb\n");
        let (d, spec) = setup(&GOOD.replace(
            "lines = \"1-2\"",
            &format!("lines = \"1-2\"\nsha256 = \"{right}\""),
        ));
        assert!(build(&spec, d.path()).is_ok());
    }

    #[test]
    fn bad_citations_fail_closed_with_their_class() {
        let (d, spec) = setup(&GOOD.replace("lines = \"1-2\"", "lines = \"3-4\""));
        let e = build(&spec, d.path()).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(
            e.to_string().contains("past the end") && e.to_string().contains("line 15"),
            "{e}"
        );
        let (d, spec) =
            setup(&GOOD.replace("path = \"deploy/db.tf\"", "path = \"deploy/none.tf\""));
        let e = build(&spec, d.path()).unwrap_err();
        assert!(
            e.to_string().contains("missing cited file") && e.to_string().contains("line 14"),
            "{e}"
        );
        let (d, spec) = setup(&GOOD.replace("path = \"deploy/db.tf\"", "path = \"deploy/link\""));
        std::os::unix::fs::symlink("/etc/hostname", d.path().join("deploy/link")).unwrap();
        let e = build(&spec, d.path()).unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert!(e.to_string().contains("outside the source root"), "{e}");
        fs::remove_file(d.path().join("ci/pipeline.yml")).unwrap();
        let e = build(&spec, d.path()).unwrap_err();
        assert!(e.to_string().contains("and 1 more"), "{e}");
    }

    #[test]
    fn markdown_cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }

    #[test]
    fn unknown_surfaces_become_facts_with_their_evidence() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("deploy")).unwrap();
        std::fs::create_dir_all(d.path().join("ci")).unwrap();
        std::fs::write(d.path().join("deploy/db.tf"), "a\nb\nc\n").unwrap();
        std::fs::write(d.path().join("ci/pipeline.yml"), "steps: []\n").unwrap();
        let spec = LoadedSpec::parse(
            crate::surface::spec::tests_support::GOOD.as_bytes(),
            Path::new("s/surfaces.toml"),
        )
        .unwrap();
        let inv = crate::surface::inventory::build(&spec, d.path()).unwrap();
        let facts = unknown_surfaces(&inv);
        assert_eq!(facts.len(), 1);
        let f = &facts[0];
        assert_eq!(f.id, "unknown-surface:ci-seal-scope");
        assert_eq!(f.kind(), FactKind::UnknownSurface);
        assert_eq!(
            f.evidence[0],
            FactEvidence::Artifact(ArtifactCitation {
                file: "surfaces.toml".into(),
                sha256: spec.sha256.clone(),
                at: "surface[1].status".into(),
                value: Some("unknown".into()),
            })
        );
        assert_eq!(
            f.evidence[1],
            FactEvidence::Source(Citation {
                path: "ci/pipeline.yml".into(),
                lines: None,
                sha256: digest::sha256_hex(b"steps: []\n"),
                note: None,
            }),
            "{f:?}"
        );
        // The evidence serializes tagged, and reads back strictly.
        let json = canonical::to_bytes(f).unwrap();
        let text = String::from_utf8(json.clone()).unwrap();
        assert!(text.contains("\"kind\":\"source\"") || text.contains("\"kind\": \"source\""));
        let back: DerivedFact = canonical::from_slice_strict(&json, Path::new("f")).unwrap();
        assert_eq!(&back, f);
        let mut v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        v["evidence"][1]["extra"] = true.into();
        assert!(serde_json::from_value::<DerivedFact>(v).is_err());
    }
}
