//! PostgreSQL snapshots against a real server (started by `support/pg.rs`
//! on a temporary data directory and a private Unix socket).

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use assert_cmd::Command;
use holdfast::surface::snapshot::postgres::{PgOptions, ReadOnlySession};
use support::pg;

fn read(
    conn: &str,
    schemas: Option<&[String]>,
    who: &str,
) -> holdfast::error::Result<holdfast::surface::snapshot::Reading> {
    let opts = PgOptions {
        schemas: schemas.map(<[String]>::to_vec),
        ..PgOptions::default()
    };
    holdfast::surface::snapshot::postgres::read(conn, &opts, who).map(|r| r.reading)
}

fn parts(conn: &str) -> BTreeMap<String, String> {
    read(conn, None, "db").unwrap().parts
}

/// A database with a keyed table, a table without a key, and types whose
/// text form depends on session settings.
fn seed(server: &pg::Server, db: &str) -> String {
    server.create_db(db);
    server
        .client(db)
        .batch_execute(
            "CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL, balance numeric(12,2), \
                 opened timestamptz, ratio double precision, blob bytea, tags jsonb);
             CREATE INDEX accounts_name ON accounts (name);
             CREATE TABLE events (kind text, at date, payload json);
             INSERT INTO accounts VALUES
               (2, 'bob', 10.50, '2026-06-12 10:00:00+02', 0.1, '\\x00ff', '{\"b\": 1, \"a\": [1, 2]}'),
               (1, 'alice', 99.99, '2026-01-01 00:00:00+00', 1e-7, NULL, NULL);
             INSERT INTO events VALUES ('fold', '2026-06-12', '{\"x\": 1}'), ('claim', NULL, NULL), ('fold', '2026-06-11', NULL);",
        )
        .unwrap();
    server.conn(db)
}

#[test]
fn snapshot_is_stable_across_two_reads_and_lists_every_table() {
    let server = pg::shared();
    let conn = seed(&server, "stable");
    let a = read(&conn, None, "db").unwrap();
    let b = read(&conn, None, "db").unwrap();
    assert_eq!(a, b);
    for part in [
        "database",
        "schema",
        "schema:public",
        "role:postgres",
        "extension:plpgsql",
        "table:public.accounts",
        "table:public.events",
    ] {
        assert!(a.parts.contains_key(part), "{part}: {:?}", a.parts.keys());
    }
    assert_eq!(
        a.parts.keys().filter(|k| k.starts_with("table:")).count(),
        2,
        "built-in tables (information_schema's) are not parts: {:?}",
        a.parts.keys()
    );
    assert!(
        a.description.contains("2 table(s), 5 row(s)"),
        "{}",
        a.description
    );
    assert!(a.description.contains("READ ONLY"), "{}", a.description);
}

#[test]
fn a_row_update_changes_that_tables_digest_only() {
    let server = pg::shared();
    let conn = seed(&server, "updated");
    let before = parts(&conn);
    server
        .client("updated")
        .batch_execute("UPDATE accounts SET balance = 10.51 WHERE id = 2")
        .unwrap();
    let after = parts(&conn);
    assert_ne!(
        before["table:public.accounts"],
        after["table:public.accounts"]
    );
    assert_eq!(before["table:public.events"], after["table:public.events"]);
    assert_eq!(before["schema"], after["schema"]);
}

#[test]
fn an_insert_changes_that_tables_digest_only() {
    let server = pg::shared();
    let conn = seed(&server, "inserted");
    let before = parts(&conn);
    server
        .client("inserted")
        .batch_execute("INSERT INTO events VALUES ('claim', NULL, NULL)")
        .unwrap();
    let after = parts(&conn);
    assert_ne!(before["table:public.events"], after["table:public.events"]);
    assert_eq!(
        before["table:public.accounts"],
        after["table:public.accounts"]
    );
    assert_eq!(before["schema"], after["schema"]);
}

#[test]
fn a_schema_change_changes_that_tables_digest_and_the_schema() {
    let server = pg::shared();
    let conn = seed(&server, "altered");
    let before = parts(&conn);
    server
        .client("altered")
        .batch_execute("CREATE INDEX events_kind ON events (kind)")
        .unwrap();
    let after_index = parts(&conn);
    assert_ne!(
        before["table:public.events"],
        after_index["table:public.events"]
    );
    assert_ne!(before["schema"], after_index["schema"]);
    assert_eq!(
        before["table:public.accounts"],
        after_index["table:public.accounts"]
    );
    server
        .client("altered")
        .batch_execute("ALTER TABLE accounts ALTER COLUMN name TYPE varchar(40)")
        .unwrap();
    let after_type = parts(&conn);
    assert_ne!(
        after_index["table:public.accounts"],
        after_type["table:public.accounts"]
    );
    assert_eq!(
        after_index["table:public.events"],
        after_type["table:public.events"]
    );
    server
        .client("altered")
        .batch_execute("CREATE TABLE audit (id int)")
        .unwrap();
    let after_table = parts(&conn);
    assert!(after_table.contains_key("table:public.audit"));
    assert_ne!(after_type["schema"], after_table["schema"]);
}

#[test]
fn rows_are_digested_in_key_order_not_storage_order() {
    let server = pg::shared();
    let (a, b) = ("order_a", "order_b");
    for (db, rows) in [(a, "(2, 'y'), (1, 'x')"), (b, "(1, 'x'), (2, 'y')")] {
        server.create_db(db);
        server
            .client(db)
            .batch_execute(&format!(
                "CREATE TABLE keyed (id int PRIMARY KEY, v text); INSERT INTO keyed VALUES {rows};
                 CREATE TABLE loose (v text, n int); INSERT INTO loose SELECT v, id FROM keyed;"
            ))
            .unwrap();
    }
    let (pa, pb) = (parts(&server.conn(a)), parts(&server.conn(b)));
    assert_eq!(pa["table:public.keyed"], pb["table:public.keyed"]);
    assert_eq!(pa["table:public.loose"], pb["table:public.loose"]);
}

#[test]
fn a_write_inside_the_snapshot_session_fails() {
    let server = pg::shared();
    let conn = seed(&server, "writes");
    let mut session = ReadOnlySession::open(&conn, "db").unwrap();
    for sql in [
        "INSERT INTO public.events VALUES ('x', NULL, NULL)",
        "UPDATE public.accounts SET name = 'mallory'",
        "DELETE FROM public.events",
        "CREATE TABLE public.sneaky (id int)",
    ] {
        let e = session.batch_execute(sql).unwrap_err().to_string();
        assert!(e.contains("read-only transaction"), "{sql}: {e}");
        // The failed statement aborts the transaction; open a fresh session for the next one.
        session = ReadOnlySession::open(&conn, "db").unwrap();
    }
    drop(session);
    let mut c = server.client("writes");
    let n: i64 = c
        .query_one("SELECT count(*) FROM events", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
    let name: String = c
        .query_one("SELECT name FROM accounts WHERE id = 1", &[])
        .unwrap()
        .get(0);
    assert_eq!(name, "alice");
}

#[test]
fn a_connection_string_to_nothing_fails_closed() {
    let empty = tempfile::tempdir().unwrap();
    let to_nothing = format!(
        "host={} dbname=x user=postgres connect_timeout=3",
        empty.path().display()
    );
    let e = read(&to_nothing, None, "prod-pg").unwrap_err();
    assert_eq!(e.exit_code(), 1);
    let m = e.to_string();
    assert!(
        m.contains("surface prod-pg") && m.contains("cannot connect"),
        "{m}"
    );
    let e = read(
        "host=127.0.0.1 port=1 dbname=x user=postgres connect_timeout=3",
        None,
        "prod-pg",
    )
    .unwrap_err();
    assert!(e.to_string().contains("cannot connect"), "{e}");
}

#[test]
fn a_missing_schema_fails_closed() {
    let server = pg::shared();
    let conn = seed(&server, "schemas");
    let only_public = read(&conn, Some(&["public".to_string()]), "db").unwrap();
    assert_eq!(only_public.parts, parts(&conn));
    let e = read(&conn, Some(&["nope".to_string()]), "db").unwrap_err();
    assert!(
        e.to_string().contains("schema \"nope\" does not exist"),
        "{e}"
    );
}

fn write_spec(dir: &Path, conn_env: &str) {
    fs::write(dir.join("evidence.txt"), "the production database\n").unwrap();
    fs::write(
        dir.join("surfaces.toml"),
        format!(
            r#"[[surface]]
id = "prod-pg"
table = "production"
name = "Production PostgreSQL"
kind = "database"
status = "known"
risk = "critical"
gate = "DBA sign-off"
[[surface.evidence]]
path = "evidence.txt"
[surface.snapshot]
method = "postgres"
connection_env = "{conn_env}"

[[boundary]]
id = "no-production-mutation"
title = "NO production PG mutation"
surfaces = ["prod-pg"]
"#
        ),
    )
    .unwrap();
    fs::write(
        dir.join("auth.toml"),
        "text = \"scoping only\"\nscope = \"scoping\"\n",
    )
    .unwrap();
}

#[test]
fn cli_snapshot_and_prove_name_the_changed_table() {
    let server = pg::shared();
    let conn = seed(&server, "cli");
    let d = tempfile::tempdir().unwrap();
    write_spec(d.path(), "HOLDFAST_TEST_PG");
    let snap = |out: &str| {
        Command::cargo_bin("holdfast")
            .unwrap()
            .env("HOLDFAST_TEST_PG", &conn)
            .arg("snapshot")
            .arg(d.path().join("surfaces.toml"))
            .arg("--out")
            .arg(d.path().join(out))
            .assert()
            .success();
        fs::read(d.path().join(out)).unwrap()
    };
    let before = snap("before.json");
    assert_eq!(before, snap("again.json"), "two reads give the same bytes");
    let text = String::from_utf8(before).unwrap();
    assert!(
        !text.contains(&conn),
        "the connection string stays out of the snapshot"
    );
    let prove = |after: &str| {
        Command::cargo_bin("holdfast")
            .unwrap()
            .arg("prove")
            .arg(d.path().join("before.json"))
            .arg(d.path().join(after))
            .arg("--authorization")
            .arg(d.path().join("auth.toml"))
            .arg("--out")
            .arg(d.path().join("proof"))
            .assert()
    };
    prove("again.json")
        .success()
        .stdout(predicates::str::contains("prod-pg UNTOUCHED"));
    server
        .client("cli")
        .batch_execute("DELETE FROM events WHERE kind = 'claim'")
        .unwrap();
    snap("after.json");
    let out = prove("after.json").code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("NOT_PROVEN") && stderr.contains("table:public.events"),
        "{stderr}"
    );
    let proof: serde_json::Value = serde_json::from_slice(
        &fs::read(d.path().join("proof/forbidden-surface-proof.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(proof["result"], "NOT_PROVEN");
    assert_eq!(proof["surfaces"][0]["status"], "CHANGED");
    assert_eq!(
        proof["surfaces"][0]["changed_parts"],
        serde_json::json!(["table:public.events"])
    );
}

#[test]
fn cli_snapshot_to_nothing_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    write_spec(d.path(), "HOLDFAST_TEST_PG_NOTHING");
    let nowhere = format!(
        "host={} dbname=x user=postgres connect_timeout=3",
        d.path().join("no-socket-here").display()
    );
    Command::cargo_bin("holdfast")
        .unwrap()
        .env("HOLDFAST_TEST_PG_NOTHING", nowhere)
        .arg("snapshot")
        .arg(d.path().join("surfaces.toml"))
        .arg("--out")
        .arg(d.path().join("snap.json"))
        .assert()
        .code(1)
        .stderr(predicates::str::contains("surface prod-pg: cannot connect"));
    assert!(!d.path().join("snap.json").exists());
    // An unset variable is a spec problem, named with its line.
    Command::cargo_bin("holdfast")
        .unwrap()
        .env_remove("HOLDFAST_TEST_PG_NOTHING")
        .arg("snapshot")
        .arg(d.path().join("surfaces.toml"))
        .arg("--out")
        .arg(d.path().join("snap.json"))
        .assert()
        .code(3)
        .stderr(predicates::str::contains(
            "line 13, column 1: surface[0].snapshot.connection_env",
        ));
}
