//! Classes that attack the governance registry: registries whose
//! invariants are broken (given to `check`, `check --file`, `import`,
//! `fold` and `claim`), folds outside the range the registry or the run's
//! authorization allows, rollbacks against live bytes changed since the
//! fold, and old revisions or earlier fold results presented as current.
//!
//! Every bad input is built from the fixture's good registry (made by the
//! binary, see [`Fixture::prepare_registry`]), each case on its own copy,
//! and every refusal must leave that copy byte for byte as it was.

use super::*;
use crate::probe::fixture::{FOLD, FOLD_RESULT, NEXT_FOLD, fold_authorization, registry_args};
use crate::registry::history::{Op, get_blob, parse_log};
use crate::registry::model::{ClaimDoc, ClaimState, ObjectDoc, RegistryFile, parse_import};
use crate::registry::store::create;
use crate::registry::{Class, Document, LOG_FILE, check};

const REG_INVARIANT: &[&str] = &[
    "registry-check-good",
    "registry-check-file-good",
    "registry-import-good",
    "registry-claim-good",
    "registry-fold-good",
];
const REG_FOLD: &[&str] = &["registry-fold-good", "registry-fold-authorized"];
const REG_ROLLBACK: &[&str] = &["registry-rollback-good", "registry-check-folded"];
const REG_REVISION: &[&str] = &[
    "registry-check-folded",
    "registry-claim-good",
    "registry-fold-next",
    "registry-rollback-good",
];

/// The classes of this family, each with the builder of its bad inputs.
pub(super) fn classes() -> Vec<ClassDef> {
    vec![
        class(
            "registry-collision",
            "registry invariant break: an id issued twice, or claims that intersect",
            &["registry", "check"],
            REG_INVARIANT,
            registry_collision,
        ),
        class(
            "registry-orphan",
            "registry invariant break: a record no claim covers, or a claimed id without a record",
            &["registry", "check"],
            REG_INVARIANT,
            registry_orphan,
        ),
        class(
            "registry-gap",
            "registry invariant break: a hole in the id sequence",
            &["registry", "check"],
            REG_INVARIANT,
            registry_gap,
        ),
        class(
            "registry-overlap",
            "registry invariant break: a claim's state disagrees with the canonical body",
            &["registry", "check"],
            REG_INVARIANT,
            registry_overlap,
        ),
        class(
            "rollback-changed-live-bytes",
            "a rollback against live bytes changed since the fold",
            &["registry", "rollback"],
            REG_ROLLBACK,
            rollback_changed_live,
        ),
        class(
            "old-revision-as-current",
            "an old registry revision or an earlier fold result presented as current",
            &["registry", "rollback"],
            REG_REVISION,
            old_revision,
        ),
        ClassDef {
            id: "fold-outside-authorized-range",
            title: "a fold of a range the registry or the authorization does not allow",
            gate: &["registry", "fold"],
            flag: Some("--authorization"),
            controls: REG_FOLD,
            build: Some(fold_outside_range),
        },
    ]
}

/// `TKT-OBJ-NNN`.
fn id(n: u64) -> String {
    format!("TKT-OBJ-{n:03}")
}

fn internal(what: String) -> crate::Error {
    crate::Error::failed(format!("internal: {what}"))
}

/// A copy of the live registry `from` for one case (`<case>/registry`).
fn reg_copy(fx: &Fixture, name: &str, from: &Path) -> Result<PathBuf> {
    let d = fx.case_dir(name)?.join("registry");
    super::super::fixture::copy_tree(from, &d)?;
    Ok(d)
}

/// Replaces the first `from` in the file at `p` with `to` (an error if the
/// fixture has no `from`: the bad input would not be what it says).
fn edit(p: &Path, from: &str, to: &str) -> Result<()> {
    let text = std::fs::read_to_string(p).at(p)?;
    if !text.contains(from) {
        return Err(internal(format!(
            "fixture {} has no {from:?} to replace",
            p.display()
        )));
    }
    wr(p, text.replacen(from, to, 1).as_bytes())
}

// ---- invariant breaks -------------------------------------------------------

/// A registry whose invariant `class` is broken in one way.
struct Broken {
    name: &'static str,
    what: &'static str,
    file: RegistryFile,
}

fn object(n: u64, packet: &str) -> ObjectDoc {
    ObjectDoc {
        id: id(n),
        kind: "evidence".into(),
        packet: packet.into(),
        path: format!("evidence/{n}.json"),
        sha256: digest::sha256_hex(format!("other {n}").as_bytes()),
        title: String::new(),
    }
}

fn staged(packet: &str, first: u64, last: u64) -> ClaimDoc {
    ClaimDoc {
        first: id(first),
        last: id(last),
        packet: packet.into(),
        state: ClaimState::Staged,
    }
}

fn broken(
    fx: &Fixture,
    name: &'static str,
    what: &'static str,
    edit: impl FnOnce(&mut RegistryFile),
) -> Broken {
    let mut file = fx.reg_value.clone();
    edit(&mut file);
    file.objects.sort_by(|a, b| a.id.cmp(&b.id));
    Broken { name, what, file }
}

fn remove_object(f: &mut RegistryFile, n: u64) {
    f.objects.retain(|o| o.id != id(n));
}

/// Checks, in-process, that `b` parses and breaks `class` and nothing else,
/// so that a refusal can only be that invariant's; its bytes.
fn only_breaks(b: &Broken, class: Class) -> Result<Vec<u8>> {
    let bytes = json_bytes(&b.file)?;
    let reg = parse_import(&bytes, Path::new(b.name))?;
    let c = check(&reg).counts;
    let counts = [
        (Class::Collision, c.collision),
        (Class::Orphan, c.orphan),
        (Class::Gap, c.gap),
        (Class::Overlap, c.overlap),
    ];
    if counts.iter().any(|(k, n)| (*k == class) != (*n > 0)) {
        return Err(internal(format!(
            "bad registry {} breaks {} instead of {} alone",
            b.name,
            c.summary(),
            class.word()
        )));
    }
    Ok(bytes)
}

/// Each broken registry as a file (`check --file`, `import`) and as a live
/// registry whose recorded state breaks the invariant, its history intact
/// (as a buggy or older writer would leave it; `check`, `fold`, `claim`).
fn invariant_cases(fx: &Fixture, class: Class, variants: Vec<Broken>) -> Result<Vec<CaseSpec>> {
    let mut v = Vec::new();
    for b in variants {
        let bytes = only_breaks(&b, class)?;
        let (name, what) = (b.name, b.what);

        let d = fx.case_dir(&format!("{name}-check-file"))?;
        let file = d.join("registry.json");
        wr(&file, &bytes)?;
        v.push(cs(
            &format!("{name}-check-file"),
            &format!("{what}: a registry file given to check --file"),
            vec!["registry".into(), "check".into(), "--file".into(), s(&file)],
            &[1],
        ));

        let d = fx.case_dir(&format!("{name}-import"))?;
        let file = d.join("registry.json");
        wr(&file, &bytes)?;
        let target = d.join("imported");
        v.push(
            cs(
                &format!("{name}-import"),
                &format!("{what}: a registry file given to import"),
                registry_args(&target, &["import", &s(&file)]),
                &[5],
            )
            .nothing_at(target),
        );

        let reg = parse_import(&bytes, &file)?;
        let live = |suffix: &str| -> Result<PathBuf> {
            let dir = fx.case_dir(&format!("{name}-{suffix}"))?.join("registry");
            create(
                &crate::registry::backend::dir::DirBackend::new(&dir),
                &reg,
                Op::Import {
                    source_sha256: digest::sha256_hex(&bytes),
                },
            )?;
            Ok(dir)
        };
        let dir = live("live-check")?;
        v.push(
            cs(
                &format!("{name}-live-check"),
                &format!("{what}: a live registry, history intact, given to check"),
                registry_args(&dir, &["check"]),
                &[1],
            )
            .keep(dir),
        );
        let dir = live("live-fold")?;
        let out = dir.with_file_name("out");
        v.push(
            cs(
                &format!("{name}-live-fold"),
                &format!("{what}: a live registry, history intact, asked to fold {FOLD}"),
                registry_args(&dir, &["fold", FOLD, "--out", &s(&out)]),
                &[5],
            )
            .keep(dir)
            .nothing_at(out),
        );
        let dir = live("live-claim")?;
        v.push(
            cs(
                &format!("{name}-live-claim"),
                &format!("{what}: a live registry, history intact, asked for a claim"),
                registry_args(&dir, &["claim", "--packet", "PKT9", "--count", "1"]),
                &[5],
            )
            .keep(dir),
        );
    }
    Ok(v)
}

pub(super) fn registry_collision(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let variants = vec![
        broken(fx, "duplicate-record", "TKT-OBJ-100 issued twice", |f| {
            let mut twin = object(100, "PKT9");
            twin.title = "a second record for the same id".into();
            f.objects.push(twin);
        }),
        broken(
            fx,
            "intersecting-claims",
            "PKT7's claim 461..463 intersects PKT6's 442..461",
            |f| {
                f.claims.push(staged("PKT7", 461, 463));
                f.objects.extend([object(462, "PKT7"), object(463, "PKT7")]);
            },
        ),
    ];
    invariant_cases(fx, Class::Collision, variants)
}

pub(super) fn registry_orphan(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let variants = vec![
        broken(
            fx,
            "uncovered-record",
            "a record TKT-OBJ-470 that no claim or canonical body covers",
            |f| f.objects.push(object(470, "PKT9")),
        ),
        broken(
            fx,
            "claimed-without-record",
            "TKT-OBJ-450, claimed by PKT6, has no record",
            |f| remove_object(f, 450),
        ),
    ];
    invariant_cases(fx, Class::Orphan, variants)
}

pub(super) fn registry_gap(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let variants = vec![
        broken(
            fx,
            "hole-in-body",
            "TKT-OBJ-100 inside the canonical body has no record",
            |f| remove_object(f, 100),
        ),
        broken(
            fx,
            "unclaimed-ids",
            "442..444 between the canonical body and PKT6's claim (now 445..461) are unclaimed",
            |f| {
                f.claims[1] = staged("PKT6", 445, 461);
                for n in 442..=444 {
                    remove_object(f, n);
                }
            },
        ),
    ];
    invariant_cases(fx, Class::Gap, variants)
}

pub(super) fn registry_overlap(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let variants = vec![
        broken(
            fx,
            "staged-inside-body",
            "canonical_max 445 while PKT6's 442..461 is still staged",
            |f| f.canonical_max = 445,
        ),
        broken(
            fx,
            "folded-past-body",
            "PKT6's 442..461 marked folded while canonical_max is 441",
            |f| f.claims[1].state = ClaimState::Folded,
        ),
    ];
    invariant_cases(fx, Class::Overlap, variants)
}

// ---- folds outside the allowed range ----------------------------------------

pub(super) fn fold_outside_range(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    // The live registry: canonical body 1..441; staged PKT6 442..461, PKT7
    // 462..466, PKT8 467..468. The authorization names 442..461.
    let other_range = fold_authorization("442..466", "scoping (+ fold 442..466 if safe)")?;
    let read_only = fx.toml(&crate::authz::Authorization {
        text: "scoping only".into(),
        scope: crate::authz::Scope::Scoping,
        mutations: vec![],
        select: vec![],
    })?;
    let good = String::from_utf8_lossy(&rd(&fx.auth_fold)?).into_owned();
    let unsafe_fold = good.replace("if_safe = true", "if_safe = false");
    let unknown_key = format!("any_range = true\n{good}");
    // (name, input, range, authorization text (None: no --authorization;
    // Some(None): a file that does not exist), extra flags, expected code)
    type Row<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Option<Option<&'a str>>,
        &'a [&'a str],
        i32,
    );
    let rows: Vec<Row> = vec![
        (
            "wrong-start",
            "462..466: whole staged claim PKT7, but not starting at canonical_max + 1 (442)",
            NEXT_FOLD,
            None,
            &[],
            5,
        ),
        (
            "cuts-staged-claim",
            "442..450: cuts PKT6's staged claim 442..461",
            "442..450",
            None,
            &[],
            5,
        ),
        (
            "beyond-staged-claims",
            "442..470: reaches past the last staged claim (468)",
            "442..470",
            None,
            &[],
            5,
        ),
        (
            "into-canonical-body",
            "441..461: reaches into the canonical body",
            "441..461",
            None,
            &[],
            5,
        ),
        (
            "reversed",
            "461..442: a range that runs backwards",
            "461..442",
            None,
            &[],
            2,
        ),
        (
            "reversed-ids",
            "TKT-OBJ-461..TKT-OBJ-442: backwards, as ids",
            "TKT-OBJ-461..TKT-OBJ-442",
            None,
            &[],
            2,
        ),
        (
            "zero-start",
            "0..461: ids start at 1",
            "0..461",
            None,
            &[],
            2,
        ),
        (
            "beyond-id-width",
            "442..1000: past the 3-digit id width",
            "442..1000",
            None,
            &[],
            2,
        ),
        (
            "wrong-prefix",
            "XYZ-442..XYZ-461: ids of another registry",
            "XYZ-442..XYZ-461",
            None,
            &[],
            2,
        ),
        (
            "unauthorized-union",
            "442..466: safe for the registry (PKT6 + PKT7), but the authorization names 442..461",
            "442..466",
            Some(Some(good.as_str())),
            &[],
            5,
        ),
        (
            "unauthorized-union-ids",
            "TKT-OBJ-442..TKT-OBJ-466 under an authorization naming 442..461",
            "TKT-OBJ-442..TKT-OBJ-466",
            Some(Some(good.as_str())),
            &[],
            5,
        ),
        (
            "unauthorized-dry-run",
            "a dry run of 442..466 under an authorization naming 442..461",
            "442..466",
            Some(Some(good.as_str())),
            &["--dry-run"],
            5,
        ),
        (
            "authorization-names-another-range",
            "442..461 under an authorization naming only 442..466",
            FOLD,
            Some(Some(other_range.as_str())),
            &[],
            5,
        ),
        (
            "read-only-authorization",
            "442..461 under an authorization with no mutation",
            FOLD,
            Some(Some(read_only.as_str())),
            &[],
            5,
        ),
        (
            "authorization-if-unsafe",
            "an authorization with if_safe = false",
            FOLD,
            Some(Some(unsafe_fold.as_str())),
            &[],
            3,
        ),
        (
            "authorization-unknown-key",
            "an authorization with an unknown key (any_range = true)",
            FOLD,
            Some(Some(unknown_key.as_str())),
            &[],
            3,
        ),
        (
            "authorization-missing",
            "an authorization file that does not exist",
            FOLD,
            Some(None),
            &[],
            4,
        ),
    ];
    let mut v = Vec::new();
    for (name, what, range, auth, extra, code) in rows {
        let reg = reg_copy(fx, name, &fx.reg)?;
        let out = reg.with_file_name("out");
        let mut args = vec!["fold", range];
        let auth_path = reg.with_file_name("authorization.toml");
        let auth_arg = s(&auth_path);
        if let Some(text) = auth {
            if let Some(text) = text {
                wr(&auth_path, text.as_bytes())?;
            }
            args.extend(["--authorization", auth_arg.as_str()]);
        }
        args.extend(extra.iter().copied());
        let out_arg = s(&out);
        args.extend(["--out", out_arg.as_str()]);
        v.push(
            cs(name, what, registry_args(&reg, &args), &[code])
                .keep(reg)
                .nothing_at(out),
        );
    }
    Ok(v)
}

// ---- rollbacks against changed live bytes ------------------------------------

type Change<'a> = &'a dyn Fn(&Path) -> Result<()>;

/// A copy of the folded registry and of its fold result, `change` applied
/// to the registry, then `registry rollback` of that fold.
fn rollback_case(fx: &Fixture, name: &str, what: &str, change: Change) -> Result<CaseSpec> {
    let reg = reg_copy(fx, name, &fx.reg_folded)?;
    let fold = reg.with_file_name("fold");
    super::super::fixture::copy_tree(&fx.fold1, &fold)?;
    change(&reg)?;
    Ok(cs(
        name,
        what,
        registry_args(&reg, &["rollback", &s(&fold.join(FOLD_RESULT))]),
        &[5],
    )
    .keep(reg))
}

pub(super) fn rollback_changed_live(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let claim = |reg: &Path| {
        fx.run_ok(&registry_args(
            reg,
            &["claim", "--packet", "LATE", "--count", "2"],
        ))
    };
    Ok(vec![
        rollback_case(
            fx,
            "claimed-after-fold",
            "a claim (through holdfast) changed every document since the fold",
            &claim,
        )?,
        rollback_case(
            fx,
            "registry-md-edited",
            "registry.md edited by hand since the fold",
            &|reg| {
                let p = reg.join("registry.md");
                let mut b = rd(&p)?;
                b.extend_from_slice(b"\nedited by hand\n");
                wr(&p, &b)
            },
        )?,
        rollback_case(
            fx,
            "fold-undone-by-hand",
            "registry.json's canonical_max set back to 441 by hand",
            &|reg| {
                edit(
                    &reg.join("registry.json"),
                    "\"canonical_max\": 461",
                    "\"canonical_max\": 441",
                )
            },
        )?,
        rollback_case(
            fx,
            "record-edited",
            "a record's title in objects.json edited by hand",
            &|reg| {
                edit(
                    &reg.join("objects.json"),
                    "PKT7 evidence 1",
                    "PKT7 evidence one",
                )
            },
        )?,
        rollback_case(
            fx,
            "index-emptied",
            "index.md emptied since the fold",
            &|reg| wr(&reg.join("index.md"), b""),
        )?,
    ])
}

// ---- old revisions and earlier fold results -----------------------------------

/// The bytes `doc` had in state `seq` of the registry in `reg`.
fn old_bytes(reg: &Path, seq: u64, doc: Document) -> Result<Vec<u8>> {
    let log_path = reg.join(LOG_FILE);
    let log = parse_log(&rd(&log_path)?, &log_path)?;
    if log.entries.len() < seq as usize + 2 {
        return Err(internal(format!(
            "state {seq} is not older than the one before the head of {}",
            reg.display()
        )));
    }
    let entry = log
        .entries
        .iter()
        .find(|e| e.seq == seq)
        .ok_or_else(|| internal(format!("no state {seq} in {}", log_path.display())))?;
    get_blob(
        &crate::registry::backend::dir::DirBackend::new(reg),
        entry.pin(doc),
    )
}

/// Puts the bytes of state `seq` back into `docs` of `reg`.
fn restore_old(reg: &Path, seq: u64, docs: &[Document]) -> Result<()> {
    for d in docs {
        let bytes = old_bytes(reg, seq, *d)?;
        wr(&reg.join(d.name()), &bytes)?;
    }
    Ok(())
}

pub(super) fn old_revision(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    // The folded registry's history: 1 import, 2 claim PKT7, 3 claim PKT8,
    // 4 fold 442..461 (the head). State 3 is what an interrupted write may
    // leave (finished, not refused); states 1 and 2 are old revisions.
    let all = crate::registry::DOCUMENTS;
    let rj = [Document::RegistryJson];
    let mut v = Vec::new();
    let mut stale = |name: &str,
                     what: &str,
                     seq: u64,
                     docs: &[Document],
                     args: &[&str],
                     code: i32|
     -> Result<()> {
        let reg = reg_copy(fx, name, &fx.reg_folded)?;
        restore_old(&reg, seq, docs)?;
        let fold = reg.with_file_name("fold");
        super::super::fixture::copy_tree(&fx.fold1, &fold)?;
        let out = reg.with_file_name("out");
        let args: Vec<String> = args
            .iter()
            .map(|a| match *a {
                "<result>" => s(&fold.join(FOLD_RESULT)),
                "<out>" => s(&out),
                a => a.to_string(),
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        v.push(
            cs(name, what, registry_args(&reg, &args), &[code])
                .keep(reg)
                .nothing_at(out),
        );
        Ok(())
    };
    let json1 = "registry.json of state 1 (the import) copied back as the live one";
    stale("old-registry-json-check", json1, 1, &rj, &["check"], 1)?;
    stale(
        "old-registry-json-claim",
        json1,
        1,
        &rj,
        &["claim", "--packet", "PKT9", "--count", "1"],
        5,
    )?;
    stale(
        "old-registry-json-fold",
        json1,
        1,
        &rj,
        &["fold", NEXT_FOLD, "--out", "<out>"],
        5,
    )?;
    stale(
        "old-registry-json-rollback",
        json1,
        1,
        &rj,
        &["rollback", "<result>"],
        5,
    )?;
    stale(
        "old-registry-md-check",
        "registry.md of state 2 copied back as the live one",
        2,
        &[Document::RegistryMd],
        &["check"],
        1,
    )?;
    let state2 = "every document of state 2 (before PKT8's claim and the fold) copied back";
    stale("old-state-check", state2, 2, &all, &["check"], 1)?;
    stale(
        "old-state-fold",
        state2,
        2,
        &all,
        &["fold", NEXT_FOLD, "--out", "<out>"],
        5,
    )?;
    stale(
        "old-state-verify-history",
        "every document of state 1 copied back",
        1,
        &all,
        &["verify-history"],
        1,
    )?;

    // Earlier fold results: the live registry moved on since that fold.
    let mut earlier =
        |name: &str, what: &str, steps: &dyn Fn(&Path, &Path) -> Result<()>| -> Result<()> {
            let reg = reg_copy(fx, name, &fx.reg_folded)?;
            let fold = reg.with_file_name("fold");
            super::super::fixture::copy_tree(&fx.fold1, &fold)?;
            steps(&reg, &fold.join(FOLD_RESULT))?;
            v.push(
                cs(
                    name,
                    what,
                    registry_args(&reg, &["rollback", &s(&fold.join(FOLD_RESULT))]),
                    &[5],
                )
                .keep(reg),
            );
            Ok(())
        };
    earlier(
        "earlier-fold-result",
        "the result of fold 442..461 after a later fold of 462..466",
        &|reg, _| {
            let out = reg.with_file_name("next");
            fx.run_ok(&registry_args(reg, &["fold", NEXT_FOLD, "--out", &s(&out)]))
        },
    )?;
    earlier(
        "replayed-rollback",
        "the same fold result rolled back a second time",
        &|reg, result| fx.run_ok(&registry_args(reg, &["rollback", &s(result)])),
    )?;
    earlier(
        "older-result-same-range",
        "the result of an earlier fold of 442..461, after a rollback and a new fold of the same range",
        &|reg, result| {
            fx.run_ok(&registry_args(reg, &["rollback", &s(result)]))?;
            let out = reg.with_file_name("refold");
            fx.run_ok(&registry_args(reg, &["fold", FOLD, "--out", &s(&out)]))
        },
    )?;
    Ok(v)
}
