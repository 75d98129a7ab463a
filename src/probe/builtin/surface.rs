//! Classes that attack the surface gates: `prove` on changed, forged or
//! mismatched snapshots, boundaries and globs that match nothing, and
//! `verify --source` on stale citations.

use super::*;

const PROVE: &[&str] = &["prove-untouched"];
const SURF: &[&str] = &["surfaces-good-spec", "prove-untouched"];

/// The classes of this family, each with the builder of its bad inputs.
pub(super) fn classes() -> Vec<ClassDef> {
    vec![
        class(
            "boundary-matches-nothing",
            "a boundary or pattern that matches no surface or file",
            &["prove"],
            SURF,
            boundary_nothing,
        ),
        class(
            "changed-forbidden-surface",
            "a forbidden surface changed between snapshots",
            &["prove"],
            PROVE,
            changed_surface,
        ),
        ClassDef {
            id: "stale-evidence-citation",
            title: "a surface citation whose bytes changed in the source",
            gate: &["verify"],
            flag: Some("--source"),
            controls: &["verify-source-fresh", "surfaces-good-spec"],
            build: Some(stale_citation),
        },
    ]
}

// ---- surfaces, snapshots, the proof, verify --source ----------------------

fn snapshot(fx: &Fixture, spec: &Path, out: &Path) -> Result<()> {
    fx.run_ok(&["snapshot".into(), s(spec), "--out".into(), s(out)])
}

fn prove(before: &Path, after: &Path, auth: &Path, out: &Path) -> Vec<String> {
    vec![
        "prove".into(),
        s(before),
        s(after),
        "--authorization".into(),
        s(auth),
        "--out".into(),
        s(out),
    ]
}

fn edit_text(p: &Path, from: &str, to: &str) -> Result<()> {
    let text = std::fs::read_to_string(p).at(p)?;
    if !text.contains(from) {
        return Err(crate::Error::failed(format!(
            "internal: fixture {} has no {from:?} to replace",
            p.display()
        )));
    }
    wr(p, text.replacen(from, to, 1).as_bytes())
}

fn json_file(p: &Path) -> Result<Value> {
    serde_json::from_slice(&rd(p)?).map_err(|e| crate::Error::malformed(p, e.to_string()))
}

type Change<'a> = &'a dyn Fn(&Path) -> Result<()>;

pub(super) fn changed_surface(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    // Snapshot, change the surface, snapshot again, and ask for the proof.
    let case = |name: &str, what: &str, change: Change| -> Result<(CaseSpec, PathBuf)> {
        let d = fx.surf_copy(name)?;
        let spec = d.join("surfaces.toml");
        let before = d.with_file_name("before.json");
        snapshot(fx, &spec, &before)?;
        change(&d)?;
        let after = d.with_file_name("after.json");
        snapshot(fx, &spec, &after)?;
        let out = d.with_file_name("out");
        let args = prove(&before, &after, &fx.auth_scoping, &out);
        Ok((cs(name, what, args, &[1]), d))
    };
    let mut v = vec![
        case(
            "changed-file",
            "a file of a forbidden surface changed",
            &|d| wr(&d.join("data/x.txt"), b"x CHANGED\n"),
        )?
        .0,
        case(
            "same-size-change",
            "a file changed to other bytes of the same length",
            &|d| wr(&d.join("data/x.txt"), b"X data\n"),
        )?
        .0,
        case("added-file", "a file added to a forbidden surface", &|d| {
            wr(&d.join("data/new.txt"), b"new\n")
        })?
        .0,
        case(
            "removed-file",
            "a file removed from a forbidden surface",
            &|d| rm(&d.join("data/y.txt")),
        )?
        .0,
    ];
    // A scoping authorization that claims a fold on the surface, with no
    // fold result to match the change against.
    let (mut c, d) = case(
        "mutation-without-fold-result",
        "a change claimed as an authorized fold, with no fold result",
        &|d| wr(&d.join("data/x.txt"), b"folded?\n"),
    )?;
    let auth = d.with_file_name("auth.toml");
    wr(
        &auth,
        b"text = \"scoping with a fold\"\nscope = \"scoping\"\n[[mutations]]\nkind = \"registry-fold\"\nsurface = \"files-a\"\nrange = \"1..2\"\nif_safe = true\n",
    )?;
    if let Some(i) = c.args.iter().position(|a| a == "--authorization") {
        c.args[i + 1] = s(&auth);
    }
    v.push(c);

    // The after snapshot's digest edited back to the before digest.
    let d = fx.surf_copy("forged-digest")?;
    let spec = d.join("surfaces.toml");
    let (before, after) = (
        d.with_file_name("before.json"),
        d.with_file_name("after.json"),
    );
    snapshot(fx, &spec, &before)?;
    wr(&d.join("data/x.txt"), b"x CHANGED\n")?;
    snapshot(fx, &spec, &after)?;
    let b = json_file(&before)?;
    let mut a = json_file(&after)?;
    a["surfaces"]["files-a"]["digest"] = b["surfaces"]["files-a"]["digest"].clone();
    wr(&after, &json_bytes(&a)?)?;
    let out = d.with_file_name("out");
    v.push(
        cs(
            "forged-digest",
            "the after snapshot's digest edited to equal the before digest",
            prove(&before, &after, &fx.auth_scoping, &out),
            &[3],
        )
        .nothing_at(out),
    );

    // Snapshots of two different specs compared as if of one.
    let d = fx.surf_copy("mixed-specs")?;
    let before = d.with_file_name("before.json");
    snapshot(fx, &d.join("surfaces.toml"), &before)?;
    edit_text(
        &d.join("surfaces.toml"),
        "NO production mutation",
        "NO prod mutation",
    )?;
    let after = d.with_file_name("after.json");
    snapshot(fx, &d.join("surfaces.toml"), &after)?;
    let out = d.with_file_name("out");
    v.push(
        cs(
            "mixed-specs",
            "before and after snapshots taken from different specs",
            prove(&before, &after, &fx.auth_scoping, &out),
            &[5],
        )
        .nothing_at(out),
    );
    Ok(v)
}

pub(super) fn boundary_nothing(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let mut v = Vec::new();
    let members = "surfaces = [\"files-a\"]";
    for (name, what, edit, via_snapshot) in [
        (
            "glob-matches-nothing",
            "a boundary whose glob matches no surface",
            "surfaces = [\"nothing-*\"]",
            false,
        ),
        (
            "id-matches-nothing",
            "a boundary naming a surface that does not exist",
            "surfaces = [\"ghost\"]",
            true,
        ),
        (
            "empty-list",
            "a boundary with an empty surface list",
            "surfaces = []",
            true,
        ),
        (
            "one-entry-matches-nothing",
            "a boundary with one entry that matches nothing",
            "surfaces = [\"files-a\", \"ghost-*\"]",
            true,
        ),
    ] {
        let d = fx.surf_copy(name)?;
        let spec = d.join("surfaces.toml");
        edit_text(&spec, members, edit)?;
        if via_snapshot {
            let out = d.with_file_name("snapshot.json");
            let args = vec!["snapshot".into(), s(&spec), "--out".into(), s(&out)];
            v.push(cs(name, what, args, &[3]).nothing_at(out));
        } else {
            v.push(cs(name, what, vec!["surfaces".into(), s(&spec)], &[3]));
        }
    }
    let d = fx.surf_copy("include-selects-nothing")?;
    let spec = d.join("surfaces.toml");
    edit_text(
        &spec,
        "root = \"data\"",
        "root = \"data\"\ninclude = [\"*.nothing\"]",
    )?;
    let out = d.with_file_name("snapshot.json");
    let args = vec!["snapshot".into(), s(&spec), "--out".into(), s(&out)];
    v.push(
        cs(
            "include-selects-nothing",
            "a files snapshot whose include glob selects nothing",
            args,
            &[3],
        )
        .nothing_at(out),
    );

    let d = fx.surf_copy("no-boundary")?;
    let spec = d.join("surfaces.toml");
    let text = std::fs::read_to_string(&spec).at(&spec)?;
    let cut = text.find("[[boundary]]").unwrap_or(text.len());
    wr(&spec, &text.as_bytes()[..cut])?;
    let (before, after) = (
        d.with_file_name("before.json"),
        d.with_file_name("after.json"),
    );
    snapshot(fx, &spec, &before)?;
    snapshot(fx, &spec, &after)?;
    let args = prove(&before, &after, &fx.auth_scoping, &d.with_file_name("out"));
    v.push(cs(
        "no-boundary",
        "a proof of a spec with no boundary at all",
        args,
        &[1],
    ));
    Ok(v)
}

type SourceChange<'a> = &'a dyn Fn(&Path, &Path) -> Result<()>;

pub(super) fn stale_citation(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    // A copy of the source and of the sealed inventories, one changed.
    let case = |name: &str, what: &str, change: SourceChange| -> Result<CaseSpec> {
        let src = fx.surf_copy(name)?;
        let packet = src.with_file_name("packet");
        crate::probe::fixture::copy_tree(&fx.surf_packet, &packet)?;
        change(&src, &packet)?;
        let args = vec!["verify".into(), s(&packet), "--source".into(), s(&src)];
        Ok(cs(name, what, args, &[1]))
    };
    let mut v = vec![
        case(
            "changed-lines",
            "a cited line changed in the source",
            &|src, _| wr(&src.join("docs/a.md"), b"line one\nline 2\nline three\n"),
        )?,
        case(
            "deleted-file",
            "the cited file deleted from the source",
            &|src, _| rm(&src.join("docs/a.md")),
        )?,
        case(
            "past-the-end",
            "the cited file cut short of the cited lines",
            &|src, _| wr(&src.join("docs/a.md"), b"line one\n"),
        )?,
        case(
            "link-out",
            "the cited file replaced by a link to an identical file outside the source",
            &|src, _| {
                let real = src.with_file_name("outside-a.md");
                std::fs::copy(src.join("docs/a.md"), &real).at(&real)?;
                rm(&src.join("docs/a.md"))?;
                link(&real, &src.join("docs/a.md"))
            },
        )?,
        case(
            "inventory-removed",
            "the inventory removed and the packet resealed, leaving nothing to re-check",
            &|_, packet| {
                rm(&packet.join("production-surface-inventory.json"))?;
                seal::seal(
                    packet,
                    seal::SealOptions { force: true },
                    &crate::progress::NoProgress,
                )
                .map(|_| ())
            },
        )?,
    ];
    let d = fx.surf_copy("given-sha-mismatch")?;
    let spec = d.join("surfaces.toml");
    let pinned = format!("lines = \"1-2\"\nsha256 = \"{}\"", "0".repeat(64));
    edit_text(&spec, "lines = \"1-2\"", &pinned)?;
    v.push(cs(
        "given-sha-mismatch",
        "a citation whose given sha256 does not match the cited bytes",
        vec!["surfaces".into(), s(&spec)],
        &[1],
    ));
    Ok(v)
}
