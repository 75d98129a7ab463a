//! The registry on PostgreSQL, against a real server (tests/it/support/pg.rs):
//! the same commands give the same bytes as on a directory, concurrent
//! writers never share an id, a killed client or a crashed server leaves
//! a recorded state, `export` moves a registry between backends with its
//! history, and a forged or tampered history fails closed.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::pg;

const DOCS: [&str; 5] = [
    "index.md",
    "objects.json",
    "objects.md",
    "registry.json",
    "registry.md",
];

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_holdfast")
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/registry-seed.json")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `holdfast registry --registry LOCATION ARGS…` in `cwd`.
fn reg(cwd: &Path, location: &str, args: &[&str]) -> Run {
    let out = Command::new(bin())
        .current_dir(cwd)
        .arg("registry")
        .args(["--registry", location])
        .args(args)
        .env_remove("PGPASSWORD")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok(cwd: &Path, location: &str, args: &[&str]) -> String {
    let r = reg(cwd, location, args);
    assert_eq!(
        r.code, 0,
        "{location} {args:?}\nstdout: {}\nstderr: {}",
        r.stdout, r.stderr
    );
    r.stdout
}

fn ok_json(cwd: &Path, location: &str, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    // `--json` is a global flag of `holdfast`, given before `registry`.
    let out = Command::new(bin())
        .current_dir(cwd)
        .arg("--json")
        .arg("registry")
        .args(["--registry", location])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{location} {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A fresh database for one test, and its URL.
fn database(server: &pg::Server, name: &str) -> String {
    server.create_db(name);
    server.url(name)
}

/// The documents of a PostgreSQL registry, as stored: a `files` row, or
/// the consecutive parts a claim appended (`holdfast.parts`).
/// The five documents as a PostgreSQL registry holds them: whole in
/// `holdfast.files`, or (the records documents) as consecutive parts.
pub(crate) fn pg_docs(server: &pg::Server, db: &str) -> BTreeMap<String, Vec<u8>> {
    let mut c = server.client(db);
    DOCS.iter()
        .map(|d| {
            let whole = c
                .query_opt("SELECT bytes FROM holdfast.files WHERE name = $1", &[d])
                .unwrap();
            let bytes = match whole {
                Some(row) => row.get::<_, Vec<u8>>(0),
                None => {
                    let mut out = Vec::new();
                    for row in c
                        .query(
                            "SELECT start, bytes FROM holdfast.parts WHERE name = $1 ORDER BY start",
                            &[d],
                        )
                        .unwrap()
                    {
                        assert_eq!(row.get::<_, i64>(0), out.len() as i64, "{d}: parts follow each other");
                        out.extend_from_slice(row.get::<_, &[u8]>(1));
                    }
                    assert!(!out.is_empty(), "{d} is stored nowhere");
                    out
                }
            };
            (d.to_string(), bytes)
        })
        .collect()
}

fn dir_docs(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    DOCS.iter()
        .map(|d| (d.to_string(), std::fs::read(dir.join(d)).unwrap()))
        .collect()
}

/// The history lines as `registry log --json` shows them.
fn log_of(cwd: &Path, location: &str) -> Value {
    ok_json(cwd, location, &["log"])
}

/// The same sequence of commands on a directory and on PostgreSQL: every
/// output file, document and log line is the same, byte for byte.
#[test]
fn the_same_commands_give_the_same_bytes_on_both_backends() {
    let server = pg::shared();
    let url = database(&server, "reg_same");
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    let dir = w.join("dirreg");
    let d = dir.to_str().unwrap();
    let seed = fixture();
    let seed = seed.to_str().unwrap();
    for (loc, out) in [(d, "out-dir"), (url.as_str(), "out-pg")] {
        ok(w, loc, &["import", seed]);
        ok(w, loc, &["check"]);
        let folded = ok(w, loc, &["fold", "442..461", "--out", out]);
        assert!(
            folded.contains("canonical max 441 -> 461, next free TKT-OBJ-462"),
            "{loc}: {folded}"
        );
        ok(w, loc, &["claim", "--packet", "NEXT", "--count", "3"]);
        ok(w, loc, &["check"]);
        ok(w, loc, &["verify-history"]);
    }
    for f in [
        "governance-fold-442-461-result.json",
        "governance-fold-442-461.reverse.patch",
    ] {
        let a = std::fs::read(w.join("out-dir").join(f)).unwrap();
        let b = std::fs::read(w.join("out-pg").join(f)).unwrap();
        assert!(a == b, "{f} differs between the backends");
    }
    assert_eq!(dir_docs(&dir), pg_docs(&server, "reg_same"));
    assert_eq!(log_of(w, d), log_of(w, &url));
    let (sd, sp) = (ok_json(w, d, &["show"]), ok_json(w, &url, &["show"]));
    for k in ["state", "next_free", "canonical_max", "claims", "revisions"] {
        assert_eq!(sd[k], sp[k], "show: {k}");
    }

    // A rollback on PostgreSQL restores the fold's before documents.
    let result = w.join("out-pg/governance-fold-442-461-result.json");
    let r = reg(w, &url, &["rollback", result.to_str().unwrap()]);
    // The claim after the fold changed the registry: refused on both.
    let rd = reg(
        w,
        d,
        &[
            "rollback",
            w.join("out-dir/governance-fold-442-461-result.json")
                .to_str()
                .unwrap(),
        ],
    );
    assert_eq!((r.code, rd.code), (5, 5), "{}\n{}", r.stderr, rd.stderr);
    assert_eq!(
        r.stderr.replace(&url, "REG"),
        rd.stderr.replace(d, "REG"),
        "the refusal is the same"
    );
    assert_eq!(dir_docs(&dir), pg_docs(&server, "reg_same"));
}

/// A claim on PostgreSQL appends the new records as parts of the records
/// documents instead of rewriting them; the documents read back are the
/// directory's byte for byte, and a part edited, deleted or moved by hand is
/// refused by `check`, `verify-history` and the next claim.
#[test]
fn claims_append_parts_and_a_tampered_part_fails_closed() {
    let server = pg::shared();
    let url = database(&server, "reg_parts");
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    let dir = w.join("dirreg");
    let d = dir.to_str().unwrap();
    let seed = fixture();
    for loc in [d, url.as_str()] {
        ok(w, loc, &["import", seed.to_str().unwrap()]);
        for (i, n) in [3, 1, 2].iter().enumerate() {
            ok(
                w,
                loc,
                &[
                    "claim",
                    "--packet",
                    &format!("P{i}"),
                    "--count",
                    &n.to_string(),
                ],
            );
        }
    }
    assert_eq!(dir_docs(&dir), pg_docs(&server, "reg_parts"));
    assert_eq!(log_of(w, d), log_of(w, &url));
    ok(w, &url, &["verify-history"]);
    let mut c = server.client("reg_parts");
    let parts: i64 = c
        .query_one(
            "SELECT count(*) FROM holdfast.parts WHERE name = 'objects.json'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(parts >= 2, "the claims appended parts ({parts})");
    let whole: i64 = c
        .query_one(
            "SELECT count(*) FROM holdfast.files WHERE name IN ('objects.json', 'objects.md')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(whole, 0, "a document is kept one way only");
    let stored = pg_docs(&server, "reg_parts");
    // One byte of the last part changed, the length kept.
    c.batch_execute(
        "UPDATE holdfast.parts SET bytes = overlay(bytes PLACING '\\x58'::bytea FROM 2) \
          WHERE name = 'objects.md' AND start = (SELECT max(start) FROM holdfast.parts WHERE name = 'objects.md')",
    )
    .unwrap();
    assert_ne!(pg_docs(&server, "reg_parts"), stored);
    let edited = pg_docs(&server, "reg_parts");
    let r = reg(w, &url, &["check"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let cl = reg(w, &url, &["claim", "--packet", "X", "--count", "1"]);
    assert_eq!(cl.code, 5, "{}", cl.stderr);
    assert!(cl.stderr.contains("objects.md"), "{}", cl.stderr);
    assert_eq!(pg_docs(&server, "reg_parts"), edited, "nothing written");
    let fix = stored["objects.md"].clone();
    c.execute("DELETE FROM holdfast.parts WHERE name = 'objects.md'", &[])
        .unwrap();
    c.execute(
        "INSERT INTO holdfast.parts (name, start, bytes) VALUES ('objects.md', 0, $1)",
        &[&fix],
    )
    .unwrap();
    ok(w, &url, &["check"]);
    // The last part deleted: the document cut short.
    let (start, tail): (i64, Vec<u8>) = {
        let r = c
            .query_one(
                "SELECT start, bytes FROM holdfast.parts WHERE name = 'objects.json' ORDER BY start DESC LIMIT 1",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    c.execute(
        "DELETE FROM holdfast.parts WHERE name = 'objects.json' AND start = $1",
        &[&start],
    )
    .unwrap();
    let r = reg(w, &url, &["check"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert_ne!(
        reg(w, &url, &["claim", "--packet", "X", "--count", "1"]).code,
        0
    );
    // Put back one byte off: the parts no longer follow each other.
    c.execute(
        "INSERT INTO holdfast.parts (name, start, bytes) VALUES ('objects.json', $1, $2)",
        &[&(start + 1), &tail],
    )
    .unwrap();
    let r = reg(w, &url, &["check"]);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("do not follow each other"),
        "{}",
        r.stderr
    );
    assert_ne!(
        reg(w, &url, &["claim", "--packet", "X", "--count", "1"]).code,
        0
    );
    c.execute(
        "UPDATE holdfast.parts SET start = $1 WHERE name = 'objects.json' AND start = $2",
        &[&start, &(start + 1)],
    )
    .unwrap();
    ok(w, &url, &["check"]);
    ok(w, &url, &["verify-history"]);
    // And a claim after the repair is the directory's again.
    for loc in [d, url.as_str()] {
        ok(w, loc, &["claim", "--packet", "after", "--count", "2"]);
    }
    assert_eq!(dir_docs(&dir), pg_docs(&server, "reg_parts"));

    // An export leaves the copy ready for fast claims: its first claim
    // appends parts too.
    let url2 = database(&server, "reg_parts_export");
    ok(w, d, &["export", "--to", &url2]);
    for loc in [d, url2.as_str()] {
        ok(w, loc, &["claim", "--packet", "exported", "--count", "1"]);
    }
    assert_eq!(dir_docs(&dir), pg_docs(&server, "reg_parts_export"));
    let mut c2 = server.client("reg_parts_export");
    let whole: i64 = c2
        .query_one(
            "SELECT count(*) FROM holdfast.files WHERE name = 'objects.json'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(whole, 0, "the first claim after the export appended");
    ok(w, &url2, &["verify-history"]);
}

/// `export` directory -> PostgreSQL -> directory keeps every document, log
/// line and head hash; the copies pass check and verify-history.
#[test]
fn export_round_trip_keeps_the_history_byte_for_byte() {
    let server = pg::shared();
    let url = database(&server, "reg_export");
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    let a = w.join("a");
    let a_s = a.to_str().unwrap();
    ok(w, a_s, &["import", fixture().to_str().unwrap()]);
    ok(w, a_s, &["claim", "--packet", "P1", "--count", "5"]);
    ok(w, a_s, &["fold", "442..466", "--out", "o1"]);
    ok(w, a_s, &["claim", "--packet", "P2", "--count", "2"]);
    let head = ok_json(w, a_s, &["verify-history"])["head"].clone();

    let out = ok(w, a_s, &["export", "--to", &url]);
    assert!(out.contains("verify-history passes on both"), "{out}");
    assert_eq!(ok_json(w, &url, &["verify-history"])["head"], head);
    ok(w, &url, &["check"]);
    assert_eq!(dir_docs(&a), pg_docs(&server, "reg_export"));

    // A second export into a database that holds a registry is refused.
    let r = reg(w, a_s, &["export", "--to", &url]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr.contains("already holds a registry"),
        "{}",
        r.stderr
    );

    // And back to a directory, by `import DIR` from the other side.
    let b = w.join("b");
    let b_s = b.to_str().unwrap();
    ok(w, &url, &["export", "--to", b_s]);
    assert_eq!(ok_json(w, b_s, &["verify-history"])["head"], head);
    ok(w, b_s, &["check"]);
    let files = |root: &Path| -> BTreeMap<PathBuf, Vec<u8>> {
        walkdir::WalkDir::new(root)
            .into_iter()
            .map(|e| e.unwrap())
            // The lock and the claim cache belong to the directory, not to
            // the registry: export leaves both out.
            .filter(|e| {
                e.file_type().is_file()
                    && e.file_name() != "lock"
                    && e.file_name() != "claim-cache.json"
            })
            .map(|e| {
                (
                    e.path().strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    };
    assert!(
        files(&a) == files(&b),
        "the round trip changed a stored file"
    );
    let c = w.join("c");
    ok(w, c.to_str().unwrap(), &["import", b_s]);
    assert!(files(&a) == files(&c));

    // The copy on PostgreSQL is a live registry: it takes the next claim.
    let claimed = ok_json(w, &url, &["claim", "--packet", "P3", "--count", "1"]);
    assert_eq!(claimed["first_id"], "TKT-OBJ-469");
}

/// Replaces the head state of the directory registry `dir` by `model`,
/// consistently (blobs, documents, log line, marker), its operation kept.
fn forge_head(dir: &Path, model: &holdfast::registry::Registry) {
    use holdfast::registry::backend::dir::DirBackend;
    use holdfast::registry::history::{Entry, encode, put_blob};
    let docs = holdfast::registry::store::render_all(model).unwrap();
    let log_path = dir.join("history/log.jsonl");
    let text = std::fs::read_to_string(&log_path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut entry: Entry = serde_json::from_str(lines.last().unwrap()).unwrap();
    for d in holdfast::registry::DOCUMENTS {
        let sha = put_blob(&DirBackend::new(dir), &docs[d.index()]).unwrap();
        entry.documents.get_mut(d.name()).unwrap().sha256 = sha;
        let path = dir.join(d.name());
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, &docs[d.index()]).unwrap();
    }
    let line = encode(&entry).unwrap();
    *lines.last_mut().unwrap() = String::from_utf8(line.clone()).unwrap();
    std::fs::write(&log_path, lines.join("\n") + "\n").unwrap();
    std::fs::write(
        dir.join("history/complete"),
        format!("{}\n", holdfast::digest::sha256_hex(&line)),
    )
    .unwrap();
}

/// Copies a directory registry's stored files into holdfast's tables as
/// rows, bypassing holdfast (what a database owner could do).
fn plant_rows(server: &pg::Server, db: &str, dir: &Path) {
    let mut c = server.client(db);
    c.batch_execute(
        "DELETE FROM holdfast.files; DELETE FROM holdfast.parts; DELETE FROM holdfast.log",
    )
    .unwrap();
    for e in walkdir::WalkDir::new(dir) {
        let e = e.unwrap();
        let rel = e
            .path()
            .strip_prefix(dir)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        if !e.file_type().is_file() || rel == "history/lock" {
            continue;
        }
        let bytes = std::fs::read(e.path()).unwrap();
        if rel == "history/log.jsonl" {
            for (i, line) in bytes
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .enumerate()
            {
                c.execute(
                    "INSERT INTO holdfast.log (seq, line) VALUES ($1, $2)",
                    &[&(i as i64 + 1), &line],
                )
                .unwrap();
            }
        } else {
            c.execute(
                "INSERT INTO holdfast.files (name, bytes) VALUES ($1, $2)",
                &[&rel, &bytes],
            )
            .unwrap();
        }
    }
}

/// A forged history (documents and log changed consistently, the operation
/// not matching) is named by verify-history on PostgreSQL, and a tampered
/// export directory is refused before anything is written.
#[test]
fn a_forged_history_fails_closed_on_postgres_and_in_an_export() {
    let server = pg::shared();
    let url = database(&server, "reg_forged");
    let clean = database(&server, "reg_forged_target");
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    ok(w, &url, &["import", fixture().to_str().unwrap()]);
    ok(w, &url, &["claim", "--packet", "FIX7", "--count", "2"]);
    let exported = w.join("exported");
    let e_s = exported.to_str().unwrap();
    ok(w, &url, &["export", "--to", e_s]);

    let mut forged = holdfast::registry::Store::open(&exported)
        .unwrap()
        .registry()
        .clone();
    forged.objects[0].title = "forged".into();
    forge_head(&exported, &forged);
    // One state at a time looks fine: only the replay sees the forgery.
    ok(w, e_s, &["check"]);
    let r = reg(w, e_s, &["export", "--to", &clean]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr.contains("does not pass verify-history")
            && r.stderr.contains(
                "state 2 (claim TKT-OBJ-462..TKT-OBJ-463 (2 ids) by FIX7): forged or altered"
            ),
        "{}",
        r.stderr
    );
    let mut c = server.client("reg_forged_target");
    let untouched: bool = c
        .query_one("SELECT to_regnamespace('holdfast') IS NULL", &[])
        .unwrap()
        .get(0);
    assert!(untouched, "a refused export created holdfast's schema");
    let r = reg(w, &clean, &["import", e_s]);
    assert_eq!(r.code, 5, "{}", r.stderr);

    // The same forgery planted in the database's rows.
    plant_rows(&server, "reg_forged", &exported);
    ok(w, &url, &["check"]);
    let r = reg(w, &url, &["verify-history"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "state 2 (claim TKT-OBJ-462..TKT-OBJ-463 (2 ids) by FIX7): forged or altered"
        ),
        "{}",
        r.stderr
    );

    // A document row edited by hand is drift: reported, every write refused.
    c = server.client("reg_forged");
    c.execute(
        "UPDATE holdfast.files SET bytes = bytes || '\\x0a'::bytea WHERE name = 'index.md'",
        &[],
    )
    .unwrap();
    let r = reg(w, &url, &["claim", "--packet", "X", "--count", "1"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("index.md"), "{}", r.stderr);
    let r = reg(w, &url, &["check"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
}

/// Locations PostgreSQL refuses: a password in the URL (never echoed),
/// a trigger planted on holdfast's tables, a second init.
#[test]
fn bad_postgres_locations_fail_closed() {
    let server = pg::shared();
    let url = database(&server, "reg_bad");
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    let with_pw = url.replacen("postgres@", "postgres:hunter2@", 1);
    let r = reg(w, &with_pw, &["init", "--prefix", "T", "--width", "3"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("PGPASSWORD"), "{}", r.stderr);
    assert!(!r.stderr.contains("hunter2") && !r.stdout.contains("hunter2"));

    let r = reg(w, &url, &["show"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("no registry here"), "{}", r.stderr);

    ok(w, &url, &["init", "--prefix", "T", "--width", "3"]);
    let r = reg(w, &url, &["init", "--prefix", "T", "--width", "3"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr.contains("already holds a registry"),
        "{}",
        r.stderr
    );

    let mut c = server.client("reg_bad");
    c.batch_execute(
        "CREATE FUNCTION public.evil() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.bytes := ''::bytea; RETURN NEW; END $$;
         CREATE TRIGGER evil BEFORE INSERT OR UPDATE ON holdfast.files FOR EACH ROW EXECUTE FUNCTION public.evil();",
    )
    .unwrap();
    let before: i64 = c
        .query_one("SELECT count(*) FROM holdfast.log", &[])
        .unwrap()
        .get(0);
    let r = reg(w, &url, &["claim", "--packet", "P", "--count", "1"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("trigger evil"), "{}", r.stderr);
    let after: i64 = c
        .query_one("SELECT count(*) FROM holdfast.log", &[])
        .unwrap()
        .get(0);
    assert_eq!(before, after);
    c.batch_execute("DROP TRIGGER evil ON holdfast.files")
        .unwrap();
    ok(w, &url, &["claim", "--packet", "P", "--count", "1"]);
    // A rule, row security, or a view in a table's place: each refused and
    // named, nothing written; undone, claims go on.
    for (plant, named, undo) in [
        (
            "CREATE RULE quiet AS ON INSERT TO holdfast.log DO INSTEAD NOTHING",
            "rule quiet",
            "DROP RULE quiet ON holdfast.log",
        ),
        (
            "ALTER TABLE holdfast.files ENABLE ROW LEVEL SECURITY",
            "row security",
            "ALTER TABLE holdfast.files DISABLE ROW LEVEL SECURITY",
        ),
        (
            "ALTER TABLE holdfast.parts RENAME TO parts_kept; \
             CREATE VIEW holdfast.parts AS SELECT * FROM holdfast.parts_kept",
            "relation kind v",
            "DROP VIEW holdfast.parts; ALTER TABLE holdfast.parts_kept RENAME TO parts",
        ),
        // A foreign key's cascade from a part a claim deletes runs the
        // referencing table's triggers inside holdfast's transaction.
        (
            "CREATE TABLE public.shadow (name text, start bigint, \
               FOREIGN KEY (name, start) REFERENCES holdfast.parts ON DELETE CASCADE)",
            "trigger RI_ConstraintTrigger",
            "DROP TABLE public.shadow",
        ),
        // A DELETE or UPDATE of a table reaches the tables inheriting from it.
        (
            "CREATE TABLE public.child () INHERITS (holdfast.parts)",
            "table inheriting from it",
            "DROP TABLE public.child",
        ),
    ] {
        c.batch_execute(plant).unwrap();
        let before: i64 = c
            .query_one("SELECT count(*) FROM holdfast.log", &[])
            .unwrap()
            .get(0);
        let r = reg(w, &url, &["claim", "--packet", "P", "--count", "1"]);
        assert_eq!(r.code, 5, "{plant}: {}", r.stderr);
        assert!(r.stderr.contains(named), "{plant}: {}", r.stderr);
        let after: i64 = c
            .query_one("SELECT count(*) FROM holdfast.log", &[])
            .unwrap()
            .get(0);
        assert_eq!(before, after, "{plant}");
        c.batch_execute(undo).unwrap();
        ok(w, &url, &["claim", "--packet", "P", "--count", "1"]);
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The successful `claim --json` outputs of a worker (its stdout also
/// holds the JSON of failed commands; a kill may tear the last one).
fn claims_of(stdout: &[u8]) -> Vec<Value> {
    serde_json::Deserializer::from_slice(stdout)
        .into_iter::<Value>()
        .map_while(Result::ok)
        .filter(|v| v.get("first_id").is_some())
        .collect()
}

fn id_number(v: &Value) -> u64 {
    v.as_str()
        .unwrap()
        .rsplit('-')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Every claim in `claims` (from `claim --json`) is in the registry's
/// claims, with its packet; the registry passes check and verify-history.
fn assert_claims_present(w: &Path, url: &str, claims: &[Value]) -> Value {
    ok(w, url, &["check"]);
    ok(w, url, &["verify-history"]);
    let show = ok_json(w, url, &["show"]);
    let have: Vec<(u64, u64, String)> = show["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                id_number(&c["first"]),
                id_number(&c["last"]),
                c["packet"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for c in claims {
        let want = (
            id_number(&c["first_id"]),
            id_number(&c["last_id"]),
            c["packet"].as_str().unwrap().to_string(),
        );
        assert!(
            have.contains(&want),
            "claim {want:?} returned success but is missing"
        );
    }
    show
}

/// 8 processes x 50 claims at once: 400 disjoint claims, contiguous from 1.
#[test]
fn concurrent_claims_on_postgres_never_share_an_id() {
    let server = pg::shared();
    let url = database(&server, "reg_concurrent");
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    ok(w, &url, &["init", "--prefix", "CC", "--width", "6"]);
    let workers: Vec<_> = (0..8)
        .map(|k| {
            let script = format!(
                "for i in $(seq 50); do {} --json registry --registry {} claim --packet W{k} --count {} || exit 1; done",
                shell_quote(bin()),
                shell_quote(&url),
                1 + k % 3
            );
            Command::new("sh")
                .arg("-c")
                .arg(script)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut all = Vec::new();
    let mut total = 0;
    for (k, child) in workers.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "worker {k}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let claims = claims_of(&out.stdout);
        assert_eq!(claims.len(), 50, "worker {k}");
        total += 50 * (1 + k as u64 % 3);
        all.extend(claims);
    }
    let mut ranges: Vec<(u64, u64)> = all
        .iter()
        .map(|c| (id_number(&c["first_id"]), id_number(&c["last_id"])))
        .collect();
    ranges.sort();
    let mut next = 1;
    for (first, last) in &ranges {
        assert_eq!(
            *first, next,
            "ids issued twice or skipped at {first}..{last}"
        );
        next = last + 1;
    }
    assert_eq!(next - 1, total);
    assert_eq!(ranges.len(), 400);
    assert_claims_present(w, &url, &all);
}

/// Claims racing folds: both stay safe, every successful claim is there.
#[test]
fn claims_racing_a_fold_leave_both_safe() {
    let server = pg::shared();
    let url = database(&server, "reg_race");
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    ok(w, &url, &["import", fixture().to_str().unwrap()]);
    let script = format!(
        "for i in $(seq 30); do {} --json registry --registry {} claim --packet RACE --count 2 || exit 1; done",
        shell_quote(bin()),
        shell_quote(&url)
    );
    let claimer = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = ok(w, &url, &["fold", "442..461", "--out", "fold"]);
    assert!(out.contains("canonical max 441 -> 461"), "{out}");
    let done = claimer.wait_with_output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let claims = claims_of(&done.stdout);
    assert_eq!(claims.len(), 30);
    let show = assert_claims_present(w, &url, &claims);
    assert_eq!(show["canonical_max"], 461);
    assert_eq!(id_number(&show["next_free"]), 462 + 60);
}

/// Clients SIGKILLed at random moments of their claims: nothing partial,
/// every claim that returned success is there.
#[test]
fn a_client_killed_mid_write_leaves_nothing_partial() {
    let server = pg::shared();
    let url = database(&server, "reg_killed");
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    ok(w, &url, &["init", "--prefix", "K", "--width", "6"]);
    let mut seen = Vec::new();
    let mut window = 60u64;
    let mut killed = 0;
    for round in 0..24u64 {
        // Long enough to outlast the longest sleep below (about 0.9 s)
        // however fast claims are, so every round is killed mid-loop.
        let script = format!(
            "for i in $(seq 40); do {} --json registry --registry {} claim --packet R{round} --count 3 || exit 1; done",
            shell_quote(bin()),
            shell_quote(&url)
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(5 + (round * 37) % window));
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status();
        let out = child.wait_with_output().unwrap();
        if !out.status.success() {
            killed += 1;
        }
        let claims = claims_of(&out.stdout);
        // Window adapts to the machine: grows while nothing got through.
        if claims.is_empty() {
            window = (window * 2).min(20_000);
        }
        seen.extend(claims);
        assert_claims_present(w, &url, &seen);
    }
    assert!(killed >= 12, "only {killed} rounds were killed");
    assert!(!seen.is_empty(), "no claim ever got through");
}

/// `pg_ctl restart -m immediate` during a claim load: afterwards every claim
/// that returned success is present and verify-history passes.
#[test]
fn a_server_crash_during_claims_loses_no_acknowledged_claim() {
    // A server of its own: the shared one serves other tests meanwhile.
    let server = pg::Server::start();
    let url = database(&server, "reg_crash");
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    ok(w, &url, &["init", "--prefix", "S", "--width", "6"]);
    let workers: Vec<_> = (0..4)
        .map(|k| {
            // Failures while the server is down are expected: keep going.
            let script = format!(
                "for i in $(seq 40); do {} --json registry --registry {} claim --packet W{k} --count 2; done; exit 0",
                shell_quote(bin()),
                shell_quote(&url)
            );
            Command::new("sh")
                .arg("-c")
                .arg(script)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Restart once some claims are in.
    let mut client = server.client("reg_crash");
    for _ in 0..600 {
        let n: i64 = client
            .query_one("SELECT count(*) FROM holdfast.log", &[])
            .unwrap()
            .get(0);
        if n > 10 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(client);
    server.restart_immediate();
    let mut all = Vec::new();
    let mut failures = 0;
    for child in workers {
        let out = child.wait_with_output().unwrap();
        failures += String::from_utf8_lossy(&out.stderr)
            .matches("holdfast:")
            .count();
        all.extend(claims_of(&out.stdout));
    }
    assert!(all.len() > 10, "{} claims got through", all.len());
    let _ = failures;
    assert_claims_present(w, &url, &all);
    // And it is still a working registry.
    ok(w, &url, &["claim", "--packet", "AFTER", "--count", "1"]);
}

/// A name, its bytes, whether it exists, its fingerprint.
type Answer = (String, Option<Vec<u8>>, bool, Option<String>);

/// What one backend answers for every kind of read of `names`.
fn answers(b: &dyn holdfast::registry::backend::Backend, names: &[&str]) -> Vec<Answer> {
    names
        .iter()
        .map(|n| {
            (
                n.to_string(),
                b.read(n, 1 << 30).unwrap(),
                b.exists(n).unwrap(),
                b.fingerprint(n).unwrap(),
            )
        })
        .collect()
}

/// A read-ahead (one round trip for many reads) gives exactly what the
/// reads themselves give, also after this session writes some of the
/// names, appends to the log or appends to a records document; what it
/// read never outlives the hold; `finish` commits and lets go at once.
#[test]
fn a_read_ahead_answers_what_the_reads_would() {
    use holdfast::registry::backend::{Backend, ReadAhead, postgres::PgBackend};
    let server = pg::shared();
    let url = database(&server, "reg_read_ahead");
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    ok(w, &url, &["init", "--prefix", "RA", "--width", "4"]);
    for p in ["A", "B"] {
        ok(w, &url, &["claim", "--packet", p, "--count", "3"]);
    }
    let names = [
        "registry.json",
        "objects.json",
        "objects.md",
        "history/complete",
        "history/claim-cache.json",
        "history/blobs/0000000000000000000000000000000000000000000000000000000000000000",
    ];
    let other = PgBackend::connect(&url).unwrap();
    let b = PgBackend::connect(&url).unwrap();
    let truth = answers(&other, &names);
    let tail = other.last_log_lines(16).unwrap();
    {
        let _hold = b.lock().unwrap();
        b.read_ahead(&ReadAhead {
            read: &names,
            fingerprints: &["objects.json", "objects.md", "registry.json"],
            log_tail: 16,
            ..ReadAhead::default()
        })
        .unwrap();
        assert_eq!(answers(&b, &names), truth);
        for n in [1, 2, 3, 16] {
            assert_eq!(
                b.last_log_lines(n).unwrap(),
                other.last_log_lines(n).unwrap(),
                "{n}"
            );
        }
        assert_eq!(b.last_log_lines(16).unwrap(), tail);
        // A limit still holds for what was read ahead.
        assert!(b.read("registry.json", 3).is_err());

        // Written by this session: read back as written, not as read ahead.
        b.write("registry.json", b"{}\n", false).unwrap();
        b.write(names[5], b"a blob\n", true).unwrap();
        b.append_log(b"{\"not\":\"a state\"}\n").unwrap();
        let md_len = truth[2].1.as_ref().unwrap().len() as u64;
        b.append_at("objects.md", md_len, b"| appended |\n")
            .unwrap();
        assert_eq!(b.read("registry.json", 1 << 20).unwrap().unwrap(), b"{}\n");
        assert!(b.exists(names[5]).unwrap());
        assert_eq!(b.read(names[5], 1 << 20).unwrap().unwrap(), b"a blob\n");
        let mut md = truth[2].1.clone().unwrap();
        md.extend_from_slice(b"| appended |\n");
        assert_eq!(b.read("objects.md", 1 << 30).unwrap().unwrap(), md);
        assert_eq!(
            b.last_log_lines(1).unwrap().unwrap(),
            vec![b"{\"not\":\"a state\"}".to_vec()]
        );
        let prints = b.fingerprints(&["objects.md", "objects.json"]).unwrap();
        assert_ne!(
            prints[0], truth[2].3,
            "the append gave objects.md a new fingerprint"
        );
        assert_eq!(prints[1], truth[1].3, "objects.json is as it was");
        assert_eq!(prints[0], b.fingerprint("objects.md").unwrap());
        // Nothing committed: dropping the hold rolls it all back.
    }
    assert_eq!(answers(&other, &names), truth);
    assert_eq!(other.last_log_lines(16).unwrap(), tail);
    {
        let _hold = b.lock().unwrap();
        // What the last hold read ahead is gone with it.
        other
            .write("history/complete", b"changed by another session\n", false)
            .unwrap();
        assert_eq!(
            b.read("history/complete", 1 << 20).unwrap().unwrap(),
            b"changed by another session\n"
        );
        // Asked for existence only: answered, and a read still gets the bytes.
        b.read_ahead(&ReadAhead {
            exists: &names,
            ..ReadAhead::default()
        })
        .unwrap();
        let mut now = truth.clone();
        now[3].1 = Some(b"changed by another session\n".to_vec());
        now[3].3 = b.fingerprint("history/complete").unwrap();
        assert_eq!(answers(&b, &names), now);
        assert!(!b.exists(names[5]).unwrap());
        b.write(names[5], b"a blob\n", true).unwrap();
        assert!(b.exists(names[5]).unwrap(), "written after the read-ahead");
        b.finish().unwrap();
        // Let go: the other session takes the registry without waiting.
        let other_hold = other.lock().unwrap();
        assert!(
            other.exists(names[5]).unwrap(),
            "finish committed the write"
        );
        drop(other_hold);
        assert!(
            b.write("registry.json", b"{}\n", false).is_err(),
            "nothing is written through a hold that was let go"
        );
    }
    assert_ne!(
        other.read("registry.json", 1 << 20).unwrap().unwrap(),
        b"{}\n"
    );
}

/// What the lock's check of planted triggers, rules and row security sees
/// is what the writes go through: while a writer holds the registry, such a
/// change (and a foreign key referencing a table) waits for it to end.
#[test]
fn nothing_is_planted_while_a_writer_holds_the_registry() {
    use holdfast::registry::backend::{Backend, postgres::PgBackend};
    let server = pg::shared();
    let url = database(&server, "reg_plant_race");
    let tmp = tempfile::tempdir().unwrap();
    ok(
        tmp.path(),
        &url,
        &["init", "--prefix", "PR", "--width", "3"],
    );
    ok(
        tmp.path(),
        &url,
        &["claim", "--packet", "A", "--count", "2"],
    );
    let b = PgBackend::connect(&url).unwrap();
    let mut c = server.client("reg_plant_race");
    c.batch_execute(
        "CREATE FUNCTION public.evil() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
    )
    .unwrap();
    for ddl in [
        "CREATE TRIGGER evil BEFORE INSERT ON holdfast.files FOR EACH ROW EXECUTE FUNCTION public.evil()",
        "CREATE RULE quiet AS ON INSERT TO holdfast.log DO INSTEAD NOTHING",
        "ALTER TABLE holdfast.files ENABLE ROW LEVEL SECURITY",
        "CREATE TABLE public.shadow (name text, start bigint, \
           FOREIGN KEY (name, start) REFERENCES holdfast.parts ON DELETE CASCADE)",
    ] {
        let hold = b.lock().unwrap();
        let r = c.batch_execute(&format!("SET lock_timeout = '300ms'; BEGIN; {ddl}; COMMIT"));
        let _ = c.batch_execute("ROLLBACK; RESET lock_timeout");
        let e = r.expect_err(ddl);
        assert_eq!(
            e.code(),
            Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE),
            "{ddl}: {e}"
        );
        drop(hold);
        // Once the writer is gone, it goes through (and is undone).
        c.batch_execute(&format!("BEGIN; {ddl}; ROLLBACK")).unwrap();
    }
}

/// The parts of `name`, as (start, length), in order.
fn part_layout(c: &mut postgres::Client, name: &str) -> Vec<(i64, i32)> {
    c.query(
        "SELECT start, octet_length(bytes) FROM holdfast.parts WHERE name = $1 ORDER BY start",
        &[&name],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// Every claim appends a part to each records document; the parts are
/// merged from the end as they accumulate, so what reads or fingerprints a
/// document (twice a claim) stays small however many claims were made.
/// The bytes are the same after every merge; parts with a gap between
/// them (a hand edit) are never merged over the gap.
#[test]
fn in_place_appends_keep_a_documents_parts_few() {
    use holdfast::registry::backend::{Backend, ReadAhead, postgres::PgBackend};
    let server = pg::shared();
    let url = database(&server, "reg_merge");
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    ok(w, &url, &["init", "--prefix", "MG", "--width", "4"]);
    ok(w, &url, &["claim", "--packet", "A", "--count", "1"]);
    let b = PgBackend::connect(&url).unwrap();
    let mut c = server.client("reg_merge");
    let mut doc = b.read("objects.md", 1 << 30).unwrap().unwrap();
    let mut most = 0;
    // Sizes that repeat, that shrink one by one (the worst case for a
    // merge by size alone) and that grow; half of the appends know the
    // number of parts from a read-ahead, half do not.
    let sizes: Vec<usize> = (0..60)
        .map(|i| 1 + (i * 37) % 300)
        .chain((0..60).map(|i| 400 - i))
        .chain((0..40).map(|i| 10 + i * 25))
        .collect();
    for (i, &size) in sizes.iter().enumerate() {
        let tail: Vec<u8> = (0..size).map(|k| b'a' + ((i + k) % 26) as u8).collect();
        let _hold = b.lock().unwrap();
        if i % 2 == 0 {
            b.read_ahead(&ReadAhead {
                fingerprints: &["objects.md"],
                ..ReadAhead::default()
            })
            .unwrap();
        }
        b.append_at("objects.md", doc.len() as u64, &tail).unwrap();
        b.finish().unwrap();
        doc.extend_from_slice(&tail);
        let layout = part_layout(&mut c, "objects.md");
        most = most.max(layout.len());
        let mut at = 0;
        for (start, len) in &layout {
            assert_eq!(
                *start, at,
                "after append {i}: parts follow each other: {layout:?}"
            );
            at += *len as i64;
        }
        assert_eq!(at, doc.len() as i64, "after append {i}");
        if i % 16 == 0 {
            assert_eq!(
                b.read("objects.md", 1 << 30).unwrap().unwrap(),
                doc,
                "after append {i}"
            );
        }
    }
    assert_eq!(b.read("objects.md", 1 << 30).unwrap().unwrap(), doc);
    assert!(
        most <= 20,
        "{} appends left up to {most} parts",
        sizes.len()
    );
    assert!(most >= 3, "the appends were kept as parts ({most})");

    // A gap between the last two parts (moved by hand): an append larger
    // than the whole document (which would absorb every part) merges
    // nothing over it, and the read still reports it.
    let layout = part_layout(&mut c, "objects.md");
    let &(last, _) = layout.last().unwrap();
    c.execute(
        "UPDATE holdfast.parts SET start = start + 1 WHERE name = 'objects.md' AND start = $1",
        &[&last],
    )
    .unwrap();
    let gapped = part_layout(&mut c, "objects.md");
    let mut end = gapped.last().map(|(s, l)| s + *l as i64).unwrap();
    for big in [2 * end as usize, 1, 1] {
        let tail = vec![b'x'; big];
        let _hold = b.lock().unwrap();
        b.append_at("objects.md", end as u64, &tail)
            .unwrap_or_else(|e| panic!("{e}"));
        b.finish().unwrap();
        end += big as i64;
    }
    let after = part_layout(&mut c, "objects.md");
    assert!(
        after.iter().any(|&(s, _)| s == last + 1),
        "the part after the gap was not merged away: {after:?}"
    );
    assert!(after.iter().all(|&(s, _)| s != last), "{after:?}");
    let e = b.read("objects.md", 1 << 30).unwrap_err().to_string();
    assert!(e.contains("do not follow each other"), "{e}");
    // Read ahead, such parts are not put together either: the read says so.
    {
        let _hold = b.lock().unwrap();
        b.read_ahead(&ReadAhead {
            read: &["objects.md"],
            ..ReadAhead::default()
        })
        .unwrap();
        let e = b.read("objects.md", 1 << 30).unwrap_err().to_string();
        assert!(e.contains("do not follow each other"), "{e}");
    }
    let r = reg(w, &url, &["check"]);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);

    // A middle part moved back by one: an overlap before it and a gap
    // after it, of the same size (so the lengths still add up). An append
    // that would absorb every part merges nothing over them either.
    let layout = part_layout(&mut c, "objects.md");
    assert!(layout.len() >= 3, "{layout:?}");
    c.execute("DELETE FROM holdfast.parts WHERE name = 'objects.md'", &[])
        .unwrap();
    let mut at = 0i64;
    for (i, piece) in [&b"AAAA"[..], b"BBBB", b"CCCC"].iter().enumerate() {
        let start = if i == 1 { at - 1 } else { at };
        c.execute(
            "INSERT INTO holdfast.parts (name, start, bytes) VALUES ('objects.md', $1, $2)",
            &[&start, piece],
        )
        .unwrap();
        at += piece.len() as i64;
    }
    let before = part_layout(&mut c, "objects.md");
    {
        let _hold = b.lock().unwrap();
        b.append_at("objects.md", at as u64, &[b'y'; 64]).unwrap();
        b.finish().unwrap();
    }
    let after = part_layout(&mut c, "objects.md");
    assert_eq!(
        &after[..before.len()],
        &before[..],
        "nothing merged over the overlap"
    );
    let e = b.read("objects.md", 1 << 30).unwrap_err().to_string();
    assert!(e.contains("do not follow each other"), "{e}");
}

/// Through the command line, as claims make them: a records document's
/// parts grow by one a claim while it has few, and are merged once it has
/// [`MERGE_AT_PARTS`] (the number the claim's read-ahead counted, kept
/// across its later read-aheads).
#[test]
fn claims_merge_parts_only_once_a_document_has_several() {
    use holdfast::registry::backend::postgres::MERGE_AT_PARTS;
    let server = pg::shared();
    let url = database(&server, "reg_merge_cli");
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    ok(w, &url, &["init", "--prefix", "MC", "--width", "4"]);
    let mut c = server.client("reg_merge_cli");
    let mut counts = Vec::new();
    for i in 0..(2 * MERGE_AT_PARTS + 4) {
        ok(
            w,
            &url,
            &["claim", "--packet", &format!("P{i}"), "--count", "2"],
        );
        counts.push(part_layout(&mut c, "objects.md").len() as u64);
    }
    let first_fast = counts
        .iter()
        .position(|&n| n >= 2)
        .expect("claims appended parts");
    let growing = &counts[first_fast..];
    let until = growing
        .iter()
        .position(|&n| n >= MERGE_AT_PARTS)
        .expect("reached the limit");
    assert!(
        growing[..=until].windows(2).all(|p| p[1] == p[0] + 1),
        "one part more a claim until {MERGE_AT_PARTS}: {counts:?}"
    );
    assert!(
        growing[until + 1..].iter().all(|&n| n <= MERGE_AT_PARTS),
        "merged from then on: {counts:?}"
    );
    ok(w, &url, &["check"]);
    ok(w, &url, &["verify-history"]);
}

/// An import file of `claims` folded claims of one id each, with their
/// records: a `registry.json` of about 130 bytes per claim.
fn many_claims_import(claims: u64) -> String {
    let id = |n: u64| format!("MC-{n:05}");
    let claim_docs: Vec<Value> = (1..=claims)
        .map(|n| {
            serde_json::json!({"first": id(n), "last": id(n), "packet": format!("P{n}"), "state": "folded"})
        })
        .collect();
    let objects: Vec<Value> = (1..=claims)
        .map(|n| {
            serde_json::json!({
                "id": id(n), "kind": "evidence", "packet": format!("P{n}"),
                "path": format!("objects/{n}.json"), "sha256": format!("{n:064x}"),
                "title": format!("object {n}"),
            })
        })
        .collect();
    serde_json::json!({
        "canonical_max": claims,
        "claims": claim_docs,
        "document_revisions": {"index.md": 1, "registry.json": 1, "registry.md": 1},
        "id_prefix": "MC",
        "id_width": 5,
        "objects": objects,
    })
    .to_string()
}

/// A registry whose `registry.json` is large: a claim appends it in place
/// after the claims it keeps (on PostgreSQL as parts, sent and stored from
/// where it changes); every document stays the directory's byte for byte,
/// and the history replays.
#[test]
fn a_large_registry_json_is_appended_in_place_on_both_backends() {
    let server = pg::shared();
    let url = database(&server, "reg_big_json");
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    let import = w.join("import.json");
    std::fs::write(&import, many_claims_import(700)).unwrap();
    let dir = w.join("dirreg");
    let d = dir.to_str().unwrap();
    for loc in [d, url.as_str()] {
        ok(w, loc, &["import", import.to_str().unwrap()]);
    }
    let json_len = std::fs::read(dir.join("registry.json")).unwrap().len();
    assert!(json_len > 64 << 10, "registry.json is {json_len} bytes");
    let inode = |name: &str| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(dir.join(name)).unwrap().ino()
    };
    for (i, n) in [2, 1, 3, 1].iter().enumerate() {
        let before = (inode("registry.json"), inode("registry.md"));
        for loc in [d, url.as_str()] {
            let packet = format!("N{i}");
            ok(
                w,
                loc,
                &["claim", "--packet", &packet, "--count", &n.to_string()],
            );
        }
        assert_eq!(
            dir_docs(&dir),
            pg_docs(&server, "reg_big_json"),
            "after claim {i}"
        );
        // On the directory too: the same file, appended to (a whole write
        // is a new file renamed into place, as registry.md's is). The first
        // claim after the import may take the full way.
        if i > 0 {
            assert_eq!(inode("registry.json"), before.0, "after claim {i}");
        }
        assert_ne!(inode("registry.md"), before.1, "after claim {i}");
    }
    let mut c = server.client("reg_big_json");
    let whole: i64 = c
        .query_one(
            "SELECT count(*) FROM holdfast.files WHERE name = 'registry.json'",
            &[],
        )
        .unwrap()
        .get(0);
    let parts = part_layout(&mut c, "registry.json");
    assert_eq!(whole, 0, "registry.json was appended to: {parts:?}");
    assert!(parts.len() >= 2, "{parts:?}");
    assert!(
        parts.iter().skip(1).all(|&(_, len)| len < 4096),
        "only what changed was stored again: {parts:?}"
    );
    for loc in [d, url.as_str()] {
        ok(w, loc, &["check"]);
        ok(w, loc, &["verify-history"]);
    }
    assert_eq!(log_of(w, d), log_of(w, &url));
    // A fold writes it whole again, the same on both.
    let out_dir = w.join("fold-dir");
    let out_pg = w.join("fold-pg");
    ok(
        w,
        d,
        &["fold", "701..707", "--out", out_dir.to_str().unwrap()],
    );
    ok(
        w,
        &url,
        &["fold", "701..707", "--out", out_pg.to_str().unwrap()],
    );
    assert_eq!(dir_docs(&dir), pg_docs(&server, "reg_big_json"));
    ok(
        w,
        &url,
        &["claim", "--packet", "after-fold", "--count", "1"],
    );
    ok(w, d, &["claim", "--packet", "after-fold", "--count", "1"]);
    assert_eq!(dir_docs(&dir), pg_docs(&server, "reg_big_json"));
    ok(w, &url, &["check"]);
}
