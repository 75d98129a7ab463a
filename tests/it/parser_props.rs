//! Every parser of outside input, fed arbitrary bytes and arbitrary
//! structured values: it never panics, and whatever it refuses it refuses
//! with an error of the documented exit code (3, malformed), never a
//! success it cannot support. (Through the library, so thousands of cases
//! run in seconds; `parsers_refuse_arbitrary_bytes_through_the_binary`
//! checks the same for the commands' own exit codes.)

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use assert_cmd::Command;
use proptest::prelude::*;
use serde_json::Value;

use holdfast::error::exit;

const MALFORMED: i32 = exit::MALFORMED;

/// `Ok`, or an error whose exit code is `code`; the message names `path`.
fn refused_as<T: std::fmt::Debug>(
    r: holdfast::Result<T>,
    code: i32,
    path: &Path,
) -> Result<(), TestCaseError> {
    if let Err(e) = r {
        prop_assert_eq!(e.exit_code(), code, "{}", e);
        let named = path.file_name().unwrap().to_string_lossy().into_owned();
        prop_assert!(
            e.to_string().contains(&named),
            "{} does not name {}",
            e,
            named
        );
        prop_assert!(
            !e.to_string().contains('\n'),
            "one line: {:?}",
            e.to_string()
        );
    }
    Ok(())
}

/// Arbitrary JSON values, nested a few levels, with keys from the artifacts'
/// own vocabulary so that some values get past the first checks.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("format".to_string()),
        Just("range".to_string()),
        Just("first".to_string()),
        Just("last".to_string()),
        Just("applied".to_string()),
        Just("pins".to_string()),
        Just("before".to_string()),
        Just("after".to_string()),
        Just("surfaces".to_string()),
        Just("parts".to_string()),
        Just("digest".to_string()),
        Just("probes".to_string()),
        Just("outcome".to_string()),
        Just("status_prefix".to_string()),
        Just("objects".to_string()),
        Just("claims".to_string()),
        "[a-z_]{1,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,20}".prop_map(Value::String),
        "[0-9a-f]{64}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Arbitrary TOML-looking text: table headers and `key = value` lines with
/// keys from the specs' vocabulary.
fn toml_text() -> impl Strategy<Value = String> {
    let header = prop_oneof![
        Just("[packet]".to_string()),
        Just("[authorization]".to_string()),
        Just("[[authorization.mutations]]".to_string()),
        Just("[flags]".to_string()),
        Just("[[surface]]".to_string()),
        Just("[surface.snapshot]".to_string()),
        Just("[[surface.evidence]]".to_string()),
        Just("[[boundary]]".to_string()),
        Just("[[probe]]".to_string()),
        Just("[probes]".to_string()),
        Just("[[blocker]]".to_string()),
        Just("[[option]]".to_string()),
        "\\[[a-z.]{1,10}\\]",
    ];
    let key = prop_oneof![
        Just("id"),
        Just("title"),
        Just("macro"),
        Just("date"),
        Just("text"),
        Just("scope"),
        Just("kind"),
        Just("range"),
        Just("method"),
        Just("root"),
        Just("argv"),
        Just("command"),
        Just("surfaces"),
        Just("path"),
        Just("lines"),
        Just("sha256"),
        Just("sensitive"),
        Just("key_env"),
        Just("timeout_seconds"),
        Just("status"),
        Just("risk"),
    ];
    let value = prop_oneof![
        ".{0,12}".prop_map(|s| format!("{s:?}")),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        prop::collection::vec(".{0,6}", 0..3).prop_map(|v| format!("{v:?}")),
        ".{0,12}",
    ];
    let line = prop_oneof![header, (key, value).prop_map(|(k, v)| format!("{k} = {v}")),];
    prop::collection::vec(line, 0..16).prop_map(|l| l.join("\n"))
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..512)
}

/// Bytes: arbitrary, or text in the shape the parser expects.
fn json_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        bytes(),
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        (json_value(), any::<prop::sample::Index>()).prop_map(|(v, at)| {
            // Truncated JSON.
            let b = serde_json::to_vec(&v).unwrap();
            let cut = at.index(b.len() + 1);
            b[..cut].to_vec()
        }),
    ]
}

fn toml_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![bytes(), toml_text().prop_map(String::into_bytes)]
}

fn in_file(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    fs::write(&p, bytes).unwrap();
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn hash_manifests_and_tree_files_never_panic_and_never_verify(
        manifest in prop_oneof![
            bytes(),
            prop::collection::vec("[0-9a-f]{0,66}  ?[ -~]{0,12}", 0..6)
                .prop_map(|l| (l.join("\n") + "\n").into_bytes()),
        ],
        tree in bytes(),
    ) {
        let _ = holdfast::seal::parse_tree(&tree);
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("a.txt"), "a").unwrap();
        fs::write(d.path().join(holdfast::seal::MANIFEST_NAME), &manifest).unwrap();
        fs::write(d.path().join(holdfast::seal::TREE_NAME), &tree).unwrap();
        let r = holdfast::seal::verify(d.path(), &holdfast::progress::NoProgress).unwrap();
        prop_assert!(!r.is_verified(), "arbitrary seal files verified: {:?}", r);
        prop_assert!([1, 3, 4].contains(&r.exit_code()));
    }

    #[test]
    fn strict_json_artifacts_are_refused_as_malformed(input in json_input()) {
        let d = tempfile::tempdir().unwrap();
        let p = in_file(d.path(), "artifact.json", &input);
        refused_as(holdfast::canonical::parse_strict(&input, &p), MALFORMED, &p)?;
        refused_as(holdfast::gate::verdict::Evidence::parse(&input, &p), MALFORMED, &p)?;
        refused_as(
            holdfast::probe::ProbeReport::parse(&input, &p, holdfast::gate::verdict::pass_token(None)),
            MALFORMED,
            &p,
        )?;
        refused_as(holdfast::registry::model::parse_import(&input, &p), MALFORMED, &p)?;
        refused_as(holdfast::registry::model::parse_registry_json(&input, &p), MALFORMED, &p)?;
        refused_as(holdfast::registry::history::parse_log(&input, &p), MALFORMED, &p)?;
        refused_as(
            holdfast::canonical::from_slice_strict::<holdfast::registry::FoldResult>(&input, &p),
            MALFORMED,
            &p,
        )?;
        refused_as(holdfast::surface::proof::FoldInput::read(&p), MALFORMED, &p)?;
        refused_as(holdfast::surface::snapshot::read(&p), MALFORMED, &p)?;
        refused_as(
            holdfast::gate::assemble::GateFacts::load(&p, holdfast::gate::verdict::pass_token(None)),
            MALFORMED,
            &p,
        )?;
    }

    #[test]
    fn toml_specs_are_refused_as_malformed(input in toml_input()) {
        let d = tempfile::tempdir().unwrap();
        let p = in_file(d.path(), "spec.toml", &input);
        refused_as(holdfast::surface::spec::LoadedSpec::parse(&input, &p), MALFORMED, &p)?;
        refused_as(holdfast::probe::load::parse(&input, &p), MALFORMED, &p)?;
        refused_as(
            holdfast::tomlio::parse::<holdfast::packet::spec::PacketSpec>(&input, &p),
            MALFORMED,
            &p,
        )?;
        refused_as(holdfast::authz::Authorization::load(&p), MALFORMED, &p)?;
    }

    #[test]
    fn reverse_patches_never_panic_and_never_rehearse_byte_exact(
        patch in prop_oneof![
            bytes(),
            prop::collection::vec(
                prop_oneof![
                    Just("--- a/registry.json".to_string()),
                    Just("+++ b/registry.json".to_string()),
                    Just("--- a/../x".to_string()),
                    "@@ -[0-9]{1,2}(,[0-9]{1,2})? \\+[0-9]{1,2}(,[0-9]{1,2})? @@",
                    "[ +-][ -~]{0,10}",
                    Just("\\ No newline at end of file".to_string()),
                ],
                0..10,
            )
            .prop_map(|l| (l.join("\n") + "\n").into_bytes()),
        ],
    ) {
        let mut after = BTreeMap::new();
        after.insert("registry.json".to_string(), b"{\n  \"a\": 2\n}\n".to_vec());
        let mut pins = BTreeMap::new();
        pins.insert(
            "registry.json".to_string(),
            holdfast::digest::sha256_hex(b"{\n  \"a\": 1\n}\n"),
        );
        let _ = holdfast::registry::patch::apply_patch(&patch, &after);
        let r = holdfast::registry::rehearse_rollback(&patch, &after, &pins);
        // Only a patch that really turns the after bytes into the before
        // bytes rehearses byte-exact; check it did.
        if r.byte_exact {
            let out = holdfast::registry::patch::apply_patch(&patch, &after).unwrap();
            prop_assert_eq!(
                holdfast::digest::sha256_hex(&out["registry.json"]),
                pins["registry.json"].clone()
            );
        }
    }

    #[test]
    fn rollback_plans_never_panic(text in ".{0,400}") {
        let r = holdfast::gate::plan::check(&text);
        let _ = format!("{r:?}");
    }
}

/// The commands that read these files exit with the documented code on
/// arbitrary bytes, write nothing, and never print a success word.
#[test]
fn parsers_refuse_arbitrary_bytes_through_the_binary() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 12,
        ..ProptestConfig::default()
    });
    runner
        .run(&json_input(), |input| {
            let d = tempfile::tempdir().unwrap();
            let p = in_file(d.path(), "x.json", &input);
            let out = d.path().join("out");
            for args in [
                vec!["verdict".into(), p.display().to_string()],
                vec!["probe".into(), "--rerun".into(), p.display().to_string()],
                vec![
                    "registry".into(),
                    "check".into(),
                    "--file".into(),
                    p.display().to_string(),
                ],
                vec![
                    "registry".into(),
                    "import".into(),
                    p.display().to_string(),
                    "--registry".into(),
                    out.display().to_string(),
                ],
            ] {
                let o = Command::cargo_bin("holdfast")
                    .unwrap()
                    .args(&args)
                    .output()
                    .unwrap();
                let code = o.status.code();
                prop_assert!(
                    code == Some(MALFORMED) || (args[0] == "registry" && code == Some(1)),
                    "{:?}: exit {:?}: {}",
                    args,
                    code,
                    String::from_utf8_lossy(&o.stderr)
                );
                prop_assert!(!out.exists(), "{:?} wrote {}", args, out.display());
                let stdout = String::from_utf8_lossy(&o.stdout);
                prop_assert!(!stdout.contains(holdfast::gate::verdict::pass_token(None)));
            }
            Ok(())
        })
        .unwrap();
}
