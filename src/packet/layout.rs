//! The packet layout: every file a packet can hold, named once, with its
//! kind. `docs/packet-layout.md` is the reader's version of this table, and
//! a test keeps the two in step.

use super::inputs::SPEC_DIR;
use super::manifest::{
    COMMANDS_FILE, EXIT_CODES_FILE, MANIFEST_FILE, README_FILE, RERUN_FILE, SNAPSHOT_AFTER_FILE,
    SNAPSHOT_BEFORE_FILE,
};
use crate::gate::{
    BLOCKER_MAP_FILE, BLOCKER_MAP_MD_FILE, DECISION_FILE, DECISION_MD_FILE, PLAN_FILE,
    PROBE_REPORT_FILE,
};
use crate::seal::{MANIFEST_NAME, TREE_NAME};
use crate::surface::inventory::{json_file_name, md_file_name};
use crate::surface::proof::PROOF_FILE;
use crate::surface::spec::Table;

/// What a packet file is, which decides how `verify --rerun` treats it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A run input carried byte for byte under `spec/`.
    Input,
    /// What the run observed; taken as recorded (something outside the
    /// packet vouches for it: a signature, the registry, `--source`).
    Primary,
    /// A pure function of the inputs and the primary evidence; derived
    /// again and compared byte for byte.
    Derived,
    /// The seal and the signatures: never derived, never listed in the seal.
    Seal,
}

/// The fixed files of a packet, with their kind and title.
pub const FIXED: &[(&str, FileKind, &str)] = &[
    (MANIFEST_FILE, FileKind::Derived, "Packet manifest"),
    (README_FILE, FileKind::Derived, "Packet README"),
    (
        super::html::INDEX_FILE,
        FileKind::Derived,
        "Packet view for a browser",
    ),
    (EXIT_CODES_FILE, FileKind::Derived, "Recorded exit codes"),
    (
        COMMANDS_FILE,
        FileKind::Derived,
        "Recompute hashes and re-run every check",
    ),
    (
        RERUN_FILE,
        FileKind::Derived,
        "Re-run the bad-input probe harness",
    ),
    (
        SNAPSHOT_BEFORE_FILE,
        FileKind::Primary,
        "Read-only surface snapshot before the mutation",
    ),
    (
        SNAPSHOT_AFTER_FILE,
        FileKind::Primary,
        "Read-only surface snapshot after the mutation",
    ),
    (
        PROBE_REPORT_FILE,
        FileKind::Primary,
        "Production bad-input design and probe results",
    ),
    (PROOF_FILE, FileKind::Derived, "Forbidden-surface proof"),
    (
        crate::change::RECORD_FILE,
        FileKind::Primary,
        "Governed change: exit codes and output of its commands",
    ),
    (
        crate::change::REHEARSAL_BEFORE_FILE,
        FileKind::Primary,
        "Governed change rehearsal: staging copies before the change",
    ),
    (
        crate::change::REHEARSAL_AFTER_FILE,
        FileKind::Primary,
        "Governed change rehearsal: staging copies after the change",
    ),
    (
        crate::change::REHEARSAL_ROLLED_BACK_FILE,
        FileKind::Primary,
        "Governed change rehearsal: staging copies after the rollback",
    ),
    (
        crate::change::AFTER_REHEARSAL_FILE,
        FileKind::Primary,
        "Read-only surface snapshot after the rehearsal (real surfaces)",
    ),
    (
        crate::change::ROLLED_BACK_FILE,
        FileKind::Primary,
        "Read-only surface snapshot after the rollback of a failed change",
    ),
    (
        crate::change::RESULT_FILE,
        FileKind::Derived,
        "Governed change result: rehearsal, change set, rollback",
    ),
    (
        PLAN_FILE,
        FileKind::Derived,
        "Production rollback / rehearsal plan",
    ),
    (
        BLOCKER_MAP_FILE,
        FileKind::Derived,
        "Production blocker map",
    ),
    (
        BLOCKER_MAP_MD_FILE,
        FileKind::Derived,
        "Production blocker map (Markdown)",
    ),
    (
        DECISION_FILE,
        FileKind::Derived,
        "Next production decision packet",
    ),
    (
        DECISION_MD_FILE,
        FileKind::Derived,
        "Next production decision packet (Markdown)",
    ),
    (
        MANIFEST_NAME,
        FileKind::Seal,
        "Hash manifest (sha256sum -c)",
    ),
    (TREE_NAME, FileKind::Seal, "Tree hash (sha256sum -c)"),
];

/// The kind of the packet file at `path` (relative, `/`-separated), or
/// `None` for a file no packet holds.
pub fn kind_of(path: &str) -> Option<FileKind> {
    if let Some((_, k, _)) = FIXED.iter().find(|(p, _, _)| *p == path) {
        return Some(*k);
    }
    if path.starts_with(&format!("{SPEC_DIR}/")) {
        return Some(FileKind::Input);
    }
    if path == crate::seal::ATTESTATION_FILE {
        return Some(FileKind::Seal);
    }
    if Table::ALL
        .iter()
        .any(|t| path == json_file_name(*t) || path == md_file_name(*t))
    {
        return Some(FileKind::Derived);
    }
    if let Some(rest) = path.strip_prefix("governance-fold-") {
        if rest.ends_with("-result.json") && !rest.contains('/') {
            return Some(FileKind::Derived);
        }
        if rest.ends_with(".reverse.patch") && !rest.contains('/') {
            return Some(FileKind::Primary);
        }
        if let Some((dir, doc)) = rest.split_once("-after/")
            && !dir.contains('/')
            && crate::registry::is_document(doc)
        {
            return Some(FileKind::Primary);
        }
    }
    None
}

/// A one-line title for a packet file, by its path (used in the manifest
/// and in the registry records of the artifacts' ids).
pub fn title(path: &str, labels: &crate::surface::spec::TableLabels) -> String {
    if let Some((_, _, t)) = FIXED.iter().find(|(p, _, _)| *p == path) {
        return t.to_string();
    }
    for table in Table::ALL {
        let what = match table {
            Table::Production => "production surface inventory",
            Table::CiDeploy => "CI/deploy surface inventory",
        };
        // The spec's own name for the table, when it gives one.
        let name = match labels.of(table) {
            Some(l) => format!("{l}: {what}"),
            None => crate::surface::inventory::capitalized(what),
        };
        if path == json_file_name(table) {
            return name.to_string();
        }
        if path == md_file_name(table) {
            return format!("{name} (Markdown)");
        }
    }
    if path.starts_with("governance-fold-") {
        if path.ends_with("-result.json") {
            return "Governance fold result".to_string();
        }
        if path.ends_with(".reverse.patch") {
            return "Reverse patch of the governance fold (GNU patch applies it)".to_string();
        }
        if let Some((_, doc)) = path.split_once("-after/") {
            return format!("Registry document {doc} after the fold");
        }
    }
    if let Some(input) = path.strip_prefix(&format!("{SPEC_DIR}/")) {
        return format!("Run input {input}");
    }
    format!("Packet file {path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_titles_use_the_spec_s_table_names_or_plain_words() {
        let none = crate::surface::spec::TableLabels::default();
        assert_eq!(
            title("production-surface-inventory.json", &none),
            "Production surface inventory"
        );
        let named = crate::surface::spec::TableLabels {
            production: Some("Table B".into()),
            ci_deploy: Some("Table C".into()),
        };
        assert_eq!(
            title("production-surface-inventory.json", &named),
            "Table B: production surface inventory"
        );
        assert_eq!(
            title("ci-deploy-surface-inventory.md", &named),
            "Table C: CI/deploy surface inventory (Markdown)"
        );
    }

    #[test]
    fn every_kind_is_named_and_unknown_files_have_none() {
        assert_eq!(kind_of("manifest.json"), Some(FileKind::Derived));
        assert_eq!(kind_of("spec/packet.toml"), Some(FileKind::Input));
        assert_eq!(
            kind_of("governance-fold-442-461-after/registry.json"),
            Some(FileKind::Primary)
        );
        assert_eq!(
            kind_of("governance-fold-442-461-after/history/x"),
            None,
            "only registry documents are after bytes"
        );
        assert_eq!(
            kind_of("governance-fold-442-461-result.json"),
            Some(FileKind::Derived)
        );
        assert_eq!(kind_of("packet.intoto.jsonl"), Some(FileKind::Seal));
        assert_eq!(kind_of("planted.json"), None);
    }

    #[test]
    fn the_reader_s_page_lists_every_fixed_file() {
        let page = include_str!("../../docs/packet-layout.md");
        for (name, _, _) in FIXED {
            assert!(
                page.contains(&format!("`{name}`")),
                "docs/packet-layout.md does not list {name}"
            );
        }
    }
}
