//! The committed schemas under `schemas/` are exactly the generated ones.
//! `UPDATE_SCHEMAS=1 cargo test --test it schemas::` rewrites them.

use std::path::Path;

#[test]
fn committed_schemas_match_the_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let published = holdfast::schema::all();
    let mut expected: Vec<String> = Vec::new();
    for p in &published {
        let path = dir.join(p.file);
        expected.push(p.file.to_string());
        if update {
            std::fs::write(&path, &p.bytes).unwrap();
            continue;
        }
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run UPDATE_SCHEMAS=1 cargo test --test it schemas::",
                path.display()
            )
        });
        assert!(
            on_disk == p.bytes,
            "{} is stale; run UPDATE_SCHEMAS=1 cargo test --test it schemas::",
            p.file
        );
        assert!(serde_json::from_slice::<serde_json::Value>(&on_disk).is_ok());
    }
    let mut present: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    present.sort();
    expected.sort();
    assert_eq!(present, expected, "schemas/ holds files no type publishes");
}
