//! Loading gates.toml against this build: [`parse`] and
//! [`LoadedSpec::load`] check a `[probes] classes` selection against the
//! built-in class table, which sits above the spec's types (the fixture the
//! classes attack is built from them).

use std::path::Path;

use crate::error::Result;
use crate::gate::SPEC_FILE;
use crate::probe::builtin;
use crate::probe::spec::{GateSpec, LoadedSpec, parse_with};
use crate::{fsio, tomlio};

/// The ids of this build's built-in classes.
fn builtin_ids() -> Vec<&'static str> {
    builtin::table().iter().map(|c| c.id).collect()
}

/// Parses gates.toml bytes (named `path` in errors) and validates them,
/// `[probes] classes` against this build's classes.
pub fn parse(bytes: &[u8], path: &Path) -> Result<GateSpec> {
    parse_with(bytes, path, &builtin_ids())
}

impl LoadedSpec {
    /// Loads `path`: a gates.toml file, or a spec directory holding one.
    pub fn load(path: &Path) -> Result<LoadedSpec> {
        let file = if path.is_dir() {
            path.join(SPEC_FILE)
        } else {
            path.to_path_buf()
        };
        let bytes = fsio::read_regular(&file, tomlio::SPEC_LIMIT)?;
        let spec = parse(&bytes, &file)?;
        let dir = fsio::parent_dir(&file);
        Ok(LoadedSpec {
            path: file,
            dir,
            spec,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::verdict::pass_token;
    use crate::probe::spec::*;

    pub(crate) const GOOD: &str = r#"
[probes]
timeout_seconds = 5

[[probe]]
id = "gate-a"
command = ["./gate.sh", "--check"]
input_file = "bad/a.json"

[[blocker]]
id = "BLK-1"
title = "CI scope unknown"
surface = "ci"
severity = "critical"
status = "closed"
closes_when = "CI scope proven"
closing_evidence = [{ path = "docs/ci.md", lines = "1-2", sha256 = "0000000000000000000000000000000000000000000000000000000000000000" }]

[[option]]
id = "PROCEED"
title = "Proceed to rehearsal"
requires_closed = ["BLK-1", "unknown-surface:ci"]
requires_gates = ["probes"]
"#;

    fn err(text: &str) -> String {
        let e = parse(text.as_bytes(), Path::new("spec/gates.toml")).unwrap_err();
        assert_eq!(e.exit_code(), 3, "{e}");
        e.to_string()
    }

    #[test]
    fn the_init_example_parses() {
        let text = example();
        assert!(text.contains(&format!("# pass_token = \"{}\"", pass_token(None))));
        let s = parse(text.as_bytes(), Path::new("gates.toml")).unwrap();
        assert_eq!((s.blocker.len(), s.option.len()), (1, 1));
    }

    #[test]
    fn the_example_parses() {
        let s = parse(GOOD.as_bytes(), Path::new("gates.toml")).unwrap();
        assert_eq!(s.probe.len(), 1);
        assert_eq!(s.blocker[0].closing_evidence.len(), 1);
        assert_eq!(s.option[0].requires_closed.len(), 2);
        assert!(parse(b"", Path::new("gates.toml")).is_ok());
    }

    #[test]
    fn unknown_keys_are_refused_with_file_and_line() {
        let e = err(&format!("force = true\n{GOOD}"));
        assert!(
            e.starts_with("spec/gates.toml: line 1") && e.contains("force"),
            "{e}"
        );
        let e = err(&GOOD.replace(
            "timeout_seconds = 5",
            "timeout_seconds = 5\nallow_fail_open = true",
        ));
        assert!(e.contains("allow_fail_open"), "{e}");
    }

    #[test]
    fn the_pass_token_in_any_value_is_refused_without_being_echoed() {
        let t = pass_token(None);
        let e = err(&GOOD.replace("CI scope unknown", &format!("{t} granted")));
        assert!(
            e.contains("blocker[0].title: contains the pass token"),
            "{e}"
        );
        assert!(!e.contains(t), "{e}");
        // An escape in a TOML string is still the token once parsed.
        let escaped = t.replace('_', "\\u005F");
        let e = err(&GOOD.replace("CI scope unknown", &escaped));
        assert!(e.contains("contains the pass token"), "{e}");
        // The configured token may be spelled where it is configured.
        let ok = GOOD.replace(
            "timeout_seconds = 5",
            "timeout_seconds = 5\npass_token = \"GO_LIVE_APPROVED\"",
        );
        assert!(parse(ok.as_bytes(), Path::new("g")).is_ok());
        let e = err(&ok.replace("CI scope unknown", "GO_LIVE_APPROVED"));
        assert!(e.contains("contains the pass token"), "{e}");
        // A user probe's command and stdin are attack input for the user's gate.
        let attack = GOOD
            .replace("\"--check\"]", &format!("\"--claim={t}\"]"))
            .replace(
                "input_file = \"bad/a.json\"",
                &format!("stdin_text = \"{t}\""),
            );
        assert!(parse(attack.as_bytes(), Path::new("g")).is_ok());
        let e = err(&GOOD.replace(
            "id = \"gate-a\"",
            &format!("id = \"gate-a\"\ntitle = \"{t}\""),
        ));
        assert!(e.contains("probe[0].title"), "{e}");
    }

    #[test]
    fn bad_values_are_refused_with_the_key_named() {
        let cases: Vec<(String, &str)> = vec![
            (GOOD.replace("[\"./gate.sh\", \"--check\"]", "[]"), "probe[0].command"),
            (GOOD.replace("surface = \"ci\"", "surface = \"\""), "blocker[0].surface"),
            (GOOD.replace("\"BLK-1\", \"unknown", "\"\", \"unknown"), "option[0].requires_closed[0]"),
            (GOOD.replace("\"BLK-1\", \"unknown", "\"BLK-2\", \"unknown"), "option[0].requires_closed[0]"),
            (GOOD.replace("\"unknown-surface:ci\"", "\"made-up:ci\""), "option[0].requires_closed[1]"),
            (GOOD.replace("\"unknown-surface:ci\"", "\"changed-surface:ci\""), "option[0].requires_closed[1]"),
            (GOOD.replace("\"unknown-surface:ci\"", "\"changed-forbidden-surface:ci\""), "option[0].requires_closed[1]"),
            (GOOD.replace(", sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"", ""), "blocker[0].closing_evidence[0].sha256"),
            (GOOD.replace("docs/ci.md", "../ci.md"), "blocker[0].closing_evidence[0].path"),
            (GOOD.replace("id = \"PROCEED\"", "id = \"HOLD_PRODUCTION\""), "option[0].id"),
            (GOOD.replace("id = \"PROCEED\"", "id = \"proceed\""), "option[0].id"),
            (GOOD.replace("timeout_seconds = 5", "timeout_seconds = 0"), "probes.timeout_seconds"),
            (GOOD.replace("timeout_seconds = 5", "pass_token = \"HOLD_PRODUCTION\""), "probes.pass_token"),
            (GOOD.replace("input_file = \"bad/a.json\"", "input_file = \"bad/a.json\"\nexit_codes = [0]"), "probe[0].exit_codes"),
            (GOOD.replace("requires_gates = [\"probes\"]", "requires_gates = [\"probes\", \"probes\"]"), "option[0].requires_gates"),
        ];
        for (text, key) in cases {
            let e = err(&text);
            assert!(e.contains(key), "expected {key} in: {e}");
        }
        let e = err(&GOOD.replace("status = \"closed\"", "status = \"READY\""));
        assert!(e.contains("line") && e.contains("READY"), "{e}");
        let e = err(&GOOD.replace(
            "requires_gates = [\"probes\"]",
            "requires_gates = [\"vibes\"]",
        ));
        assert!(e.contains("vibes"), "{e}");
    }

    #[test]
    fn a_class_selection_is_checked_with_its_line() {
        let ok = GOOD.replace(
            "timeout_seconds = 5",
            "timeout_seconds = 5\nclasses = [\"tampered-artifact\", \"user\"]",
        );
        let s = parse(ok.as_bytes(), Path::new("g")).unwrap();
        assert_eq!(
            s.probes.classes.as_deref(),
            Some(&["tampered-artifact".to_string(), "user".to_string()][..])
        );
        let no_probe = |classes: &str| format!("[probes]\nclasses = {classes}\n");
        for (text, want) in [
            (
                no_probe("[\"tampered-artifact\", \"nope\"]"),
                "line 2, column 33: probes.classes[1]: \"nope\" is not a probe class",
            ),
            (
                no_probe("[]"),
                "line 2, column 11: probes.classes: an empty selection never passes",
            ),
            (
                no_probe("[\"bypass\", \"bypass\"]"),
                "line 2, column 22: probes.classes[1]: \"bypass\" is listed twice",
            ),
            (
                no_probe("[\"user\"]"),
                "probes.classes[0]: \"user\" selects the spec's [[probe]] entries, and it has none",
            ),
            (
                GOOD.replace(
                    "timeout_seconds = 5",
                    "timeout_seconds = 5\nclasses = [\"bypass\"]",
                ),
                "line 4, column 11: probes.classes: the spec has [[probe]] entries but the selection leaves out \"user\"",
            ),
        ] {
            let e = err(&text);
            assert!(e.starts_with("spec/gates.toml: "), "{e}");
            assert!(e.contains(want), "expected {want:?} in: {e}");
        }
        // The same rules for a spec built in code.
        let mut spec = GateSpec::default();
        spec.probes.classes = Some(vec![]);
        let e = validate(&spec, Path::new("g"), &builtin_ids()).unwrap_err();
        assert!(
            e.to_string().contains("probes.classes: an empty selection"),
            "{e}"
        );
    }

    #[test]
    fn deep_nesting_and_huge_files_are_bounded() {
        let deep = format!("x = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let e = parse(deep.as_bytes(), Path::new("gates.toml")).unwrap_err();
        assert_eq!(e.exit_code(), 3, "{e}");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join(SPEC_FILE);
        let file = std::fs::File::create(&f).unwrap();
        file.set_len(tomlio::SPEC_LIMIT + 1).unwrap();
        let e = LoadedSpec::load(dir.path()).unwrap_err();
        assert!(e.to_string().contains("over the limit"), "{e}");
    }
}
