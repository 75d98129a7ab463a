//! One path-validation function (`holdfast::model::path::RelPath::parse`)
//! behind every place that takes a relative path from outside: a manifest
//! line, a citation, a path in packet.toml, a registry record (claim and
//! fold result). The same bad spellings go to each, and each refuses every
//! one of them with the same error kind, named in its message.

use std::path::Path;

use holdfast::model::path::{PathError, RelPath};

/// Bad spellings and the kind each must be refused with.
fn bad() -> Vec<(&'static str, PathError)> {
    vec![
        ("", PathError::Empty),
        ("/etc/passwd", PathError::Absolute),
        ("../x", PathError::ParentDir),
        ("dir/../x", PathError::ParentDir),
        ("./x", PathError::CurDir),
        ("a/./b", PathError::CurDir),
        ("a//b", PathError::EmptyComponent),
        ("a/", PathError::EmptyComponent),
        ("a\nb", PathError::Control('\n')),
        ("a\u{1b}b", PathError::Control('\u{1b}')),
        ("a\\b", PathError::Backslash),
    ]
}

#[test]
fn the_model_gives_each_spelling_its_kind() {
    for (p, kind) in bad() {
        assert_eq!(RelPath::parse(p), Err(kind), "{p:?}");
    }
    assert!(RelPath::parse("dir/file.txt").is_ok());
}

#[test]
fn a_manifest_line_refuses_them_with_the_same_kind() {
    for (p, kind) in bad() {
        let (_, why) = holdfast::seal::check_listed_path(p).unwrap_err();
        assert!(why.contains(&kind.to_string()), "{p:?}: {why}");
    }
    assert!(holdfast::seal::check_listed_path("dir/file.txt").is_ok());
}

#[test]
fn a_citation_refuses_them_with_the_same_kind() {
    for (p, kind) in bad() {
        let why = holdfast::surface::citation::check_relative_path(p).unwrap_err();
        assert!(why.contains(&kind.to_string()), "{p:?}: {why}");
    }
    assert!(holdfast::surface::citation::check_relative_path("dir/file.txt").is_ok());
}

#[test]
fn a_packet_toml_path_refuses_them_with_the_same_kind() {
    // `Path::components()` folds `a//b`, `a/./b` and `a/` into `a/b`: the
    // spec's paths are not read through it any more.
    for (p, kind) in bad() {
        assert_eq!(
            holdfast::packet::spec::plain_relative(Path::new(p)),
            Err(kind),
            "{p:?}"
        );
        assert!(!holdfast::packet::spec::is_plain_relative(Path::new(p)));
    }
    use std::os::unix::ffi::OsStrExt;
    let not_utf8 = Path::new(std::ffi::OsStr::from_bytes(b"a\xffb"));
    assert_eq!(
        holdfast::packet::spec::plain_relative(not_utf8),
        Err(PathError::NotUtf8)
    );
    assert!(holdfast::packet::spec::plain_relative(Path::new("dir/file.txt")).is_ok());
}

#[test]
fn a_registry_record_refuses_them_with_the_same_kind() {
    // A record's path may be empty (the object has no file); every other bad
    // spelling is refused, in a claim and in a fold result alike.
    for (p, kind) in bad().into_iter().filter(|(p, _)| !p.is_empty()) {
        let r = holdfast::registry::NewRecord {
            kind: "table".into(),
            title: "t".into(),
            path: p.into(),
            sha256: "0".repeat(64),
        };
        let why = holdfast::registry::model::check_new_record("ids[0]", &r).unwrap_err();
        assert!(why.contains(&kind.to_string()), "{p:?}: {why}");
        assert!(why.starts_with("ids[0].path: "), "{why}");
    }
}
