//! PostgreSQL snapshots against a real server (started by `support/pg.rs`
//! on a temporary data directory and a private Unix socket).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::RwLock;

use crate::support::pg;
use assert_cmd::Command;
use holdfast::surface::snapshot::postgres::{PgOptions, ReadOnlySession};

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

/// Roles are cluster-wide parts of every database's snapshot: tests that
/// change them hold this for writing, tests that compare whole snapshots
/// for reading.
static CLUSTER: RwLock<()> = RwLock::new(());

fn cluster_read() -> std::sync::RwLockReadGuard<'static, ()> {
    CLUSTER.read().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn cluster_write() -> std::sync::RwLockWriteGuard<'static, ()> {
    CLUSTER.write().unwrap_or_else(|e| e.into_inner())
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
    let _cluster = cluster_read();
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
    let _cluster = cluster_read();
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
        // The message names the socket file the client tried (issue 16).
        .stderr(predicates::str::contains(format!(
            "surface prod-pg: cannot connect to database x as postgres on socket {}: ",
            d.path().join("no-socket-here/.s.PGSQL.5432").display()
        )));
    assert!(!d.path().join("snap.json").exists());
    // The snapshot opens its socket itself and never picks among servers.
    for option in [
        "target_session_attrs=read-write",
        "load_balance_hosts=random",
    ] {
        Command::cargo_bin("holdfast")
            .unwrap()
            .env(
                "HOLDFAST_TEST_PG_NOTHING",
                format!("host=/nonexistent dbname=x user=postgres {option}"),
            )
            .arg("snapshot")
            .arg(d.path().join("surfaces.toml"))
            .arg("--out")
            .arg(d.path().join("snap.json"))
            .assert()
            .failure()
            .stderr(predicates::str::contains(
                "surface prod-pg: the connection string sets target_session_attrs or load_balance_hosts",
            ));
        assert!(!d.path().join("snap.json").exists());
    }
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

// ---------------------------------------------------------------------------
// A database owner who plants code, and a careful SRE's failure modes.
// ---------------------------------------------------------------------------

fn read_with(conn: &str, opts: &PgOptions) -> holdfast::error::Result<BTreeMap<String, String>> {
    holdfast::surface::snapshot::postgres::read(conn, opts, "db").map(|r| r.reading.parts)
}

/// `public.pwn(what)` records `what` in `public.pwned` through dblink: a
/// write that escapes the snapshot's read-only transaction, as a planted
/// function would (the server runs it as the superuser holdfast connects as).
const PWN: &str = "CREATE EXTENSION dblink;
    CREATE TABLE public.pwned (what text);
    CREATE FUNCTION public.pwn(what text) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM public.dblink_exec(
        pg_catalog.concat('dbname=', pg_catalog.current_database(), ' user=postgres host=',
                          pg_catalog.current_setting('unix_socket_directories')),
        pg_catalog.format('INSERT INTO public.pwned VALUES (%L)', what));
    END $$;";

fn pwned(server: &pg::Server, db: &str) -> Vec<String> {
    server
        .client(db)
        .query("SELECT what FROM public.pwned ORDER BY what", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn changed(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[test]
fn lookalike_functions_and_operators_never_run_and_cannot_redirect_rows() {
    // Compares snapshots, which hold the cluster's roles: no test may add
    // one meanwhile.
    let _cluster = cluster_read();
    let server = pg::shared();
    let db = "lookalike";
    server.create_db(db);
    let mut c = server.client(db);
    c.batch_execute(PWN).unwrap();
    c.batch_execute(
        "CREATE TABLE public.t (id int PRIMARY KEY, v text);
         CREATE TABLE public.frozen (id int PRIMARY KEY, v text);
         INSERT INTO public.t VALUES (1, 'a'), (2, 'b');
         INSERT INTO public.frozen VALUES (1, 'a'), (2, 'b');
         -- The old session called format('%I.%I', nspname, relname): this
         -- exact-signature lookalike would point every table at the frozen copy.
         CREATE FUNCTION public.format(text, name, name) RETURNS text LANGUAGE plpgsql AS $$
           BEGIN PERFORM public.pwn('format'); RETURN 'public.frozen'; END $$;
         CREATE FUNCTION public.quote_ident(text) RETURNS text LANGUAGE plpgsql AS $$
           BEGIN PERFORM public.pwn('quote_ident'); RETURN 'frozen'; END $$;
         CREATE FUNCTION public.format_type(oid, integer) RETURNS text LANGUAGE plpgsql AS $$
           BEGIN PERFORM public.pwn('format_type'); RETURN pg_catalog.format_type($1, $2); END $$;
         CREATE FUNCTION public.pg_get_expr(pg_node_tree, oid) RETURNS text LANGUAGE plpgsql AS $$
           BEGIN PERFORM public.pwn('pg_get_expr'); RETURN pg_catalog.pg_get_expr($1, $2); END $$;
         CREATE FUNCTION public.pg_get_indexdef(oid) RETURNS text LANGUAGE plpgsql AS $$
           BEGIN PERFORM public.pwn('pg_get_indexdef'); RETURN pg_catalog.pg_get_indexdef($1); END $$;
         CREATE FUNCTION public.pg_get_constraintdef(oid, boolean) RETURNS text LANGUAGE plpgsql AS $$
           BEGIN PERFORM public.pwn('pg_get_constraintdef'); RETURN pg_catalog.pg_get_constraintdef($1, $2); END $$;
         CREATE FUNCTION public.pg_get_userbyid(oid) RETURNS name LANGUAGE plpgsql AS $$
           BEGIN PERFORM public.pwn('pg_get_userbyid'); RETURN pg_catalog.pg_get_userbyid($1); END $$;
         CREATE FUNCTION public.current_setting(text) RETURNS text LANGUAGE plpgsql AS $$
           BEGIN PERFORM public.pwn('current_setting'); RETURN pg_catalog.current_setting($1); END $$;
         CREATE FUNCTION public.current_database() RETURNS name LANGUAGE plpgsql AS $$
           BEGIN PERFORM public.pwn('current_database'); RETURN pg_catalog.current_database(); END $$;
         CREATE FUNCTION public.pg_export_snapshot() RETURNS text LANGUAGE plpgsql AS $$
           BEGIN PERFORM public.pwn('pg_export_snapshot'); RETURN pg_catalog.pg_export_snapshot(); END $$;
         CREATE FUNCTION public.name_eq(name, name) RETURNS boolean LANGUAGE plpgsql AS $$
           BEGIN PERFORM public.pwn('operator'); RETURN pg_catalog.nameeq($1, $2); END $$;
         CREATE OPERATOR public.= (leftarg = name, rightarg = name, function = public.name_eq);
         CREATE FUNCTION public.name_text_eq(name, text) RETURNS boolean LANGUAGE plpgsql AS $$
           BEGIN PERFORM public.pwn('operator'); RETURN pg_catalog.nameeqtext($1, $2); END $$;
         CREATE OPERATOR public.= (leftarg = name, rightarg = text, function = public.name_text_eq);
         -- Every later session of this database finds public's lookalikes first.
         ALTER DATABASE lookalike SET search_path = public, pg_catalog;",
    )
    .unwrap();
    // Control: the planted code works when a session resolves names through public.
    server
        .client(db)
        .batch_execute("SELECT format_type(23, -1)")
        .unwrap();
    assert_eq!(pwned(&server, db), ["format_type"]);
    server
        .client(db)
        .batch_execute("DELETE FROM public.pwned")
        .unwrap();

    let conn = server.conn(db);
    let opts = PgOptions {
        parallel: 2,
        ..PgOptions::default()
    };
    let before = read_with(&conn, &opts).unwrap();
    server
        .client(db)
        .batch_execute("DELETE FROM public.t WHERE id = 2")
        .unwrap();
    let after = read_with(&conn, &opts).unwrap();
    assert_eq!(
        pwned(&server, db),
        Vec::<String>::new(),
        "no planted function ran"
    );
    let diff = changed(&before, &after);
    assert!(diff.contains(&"table:public.t".to_string()), "{diff:?}");
    assert!(
        !diff.contains(&"table:public.frozen".to_string()),
        "{diff:?}"
    );
}

#[test]
fn a_user_cast_with_side_effects_is_never_called() {
    // Compares snapshots, which hold the cluster's roles: no test may add
    // one meanwhile.
    let _cluster = cluster_read();
    let server = pg::shared();
    let db = "usercast";
    server.create_db(db);
    let mut c = server.client(db);
    c.batch_execute(PWN).unwrap();
    c.batch_execute(
        "CREATE TYPE public.mood AS ENUM ('sad', 'ok');
         CREATE FUNCTION public.mood_text(public.mood) RETURNS text LANGUAGE plpgsql AS $$
           BEGIN PERFORM public.pwn('cast'); RETURN pg_catalog.textin(pg_catalog.enum_out($1)); END $$;
         CREATE CAST (public.mood AS text) WITH FUNCTION public.mood_text(public.mood);
         CREATE TABLE public.feelings (m public.mood, n int);
         CREATE TABLE public.keyed_moods (m public.mood PRIMARY KEY, n int);
         INSERT INTO public.feelings VALUES ('ok', 1), ('sad', 2), ('ok', 3);
         INSERT INTO public.keyed_moods VALUES ('ok', 1), ('sad', 2);",
    )
    .unwrap();
    // Control: ordering by the text of the column (what the old session did) runs the cast.
    c.batch_execute("SELECT * FROM public.feelings ORDER BY m::text")
        .unwrap();
    assert!(!pwned(&server, db).is_empty());
    c.batch_execute("DELETE FROM public.pwned").unwrap();

    let conn = server.conn(db);
    let before = parts(&conn);
    c.batch_execute("UPDATE public.feelings SET n = 4 WHERE n = 3")
        .unwrap();
    let after = parts(&conn);
    assert_eq!(
        pwned(&server, db),
        Vec::<String>::new(),
        "the cast never ran"
    );
    assert_eq!(changed(&before, &after), ["table:public.feelings"]);
}

#[test]
fn row_level_security_fails_the_read_instead_of_hiding_rows() {
    let _cluster = cluster_write();
    let server = pg::shared();
    let db = "rls";
    server.create_db(db);
    let mut c = server.client(db);
    c.batch_execute(PWN).unwrap();
    c.batch_execute(
        "DROP ROLE IF EXISTS hf_reader;
         CREATE ROLE hf_reader LOGIN;
         GRANT pg_read_all_data TO hf_reader;
         CREATE TABLE public.secrets (id int PRIMARY KEY, v text);
         INSERT INTO public.secrets VALUES (1, 'visible'), (2, 'hidden');
         -- A policy whose check is planted code, run as the superuser who wrote it.
         CREATE FUNCTION public.only_visible(text) RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER AS $$
           BEGIN PERFORM public.pwn('policy'); RETURN $1 = 'visible'; END $$;
         ALTER TABLE public.secrets ENABLE ROW LEVEL SECURITY;
         CREATE POLICY only_visible ON public.secrets USING (public.only_visible(v));",
    )
    .unwrap();
    let reader = format!(
        "{} user=hf_reader",
        server.conn(db).replace("user=postgres", "")
    );
    let e = read(&reader, None, "db").unwrap_err().to_string();
    assert!(
        e.contains("row-level security") && e.contains("public.secrets") && e.contains("BYPASSRLS"),
        "{e}"
    );
    assert_eq!(
        pwned(&server, db),
        Vec::<String>::new(),
        "the policy never ran"
    );

    // A role that bypasses RLS reads the true rows, and is recorded as no superuser.
    c.batch_execute("ALTER ROLE hf_reader BYPASSRLS").unwrap();
    let r =
        holdfast::surface::snapshot::postgres::read(&reader, &PgOptions::default(), "db").unwrap();
    assert_eq!(r.target.role, "hf_reader");
    assert!(!r.target.superuser);
    assert!(!r.reading.description.contains("a superuser"));
    let before = r.reading.parts;
    c.batch_execute("UPDATE public.secrets SET v = 'changed' WHERE id = 2")
        .unwrap();
    let after = read(&reader, None, "db").unwrap().parts;
    assert_eq!(changed(&before, &after), ["table:public.secrets"]);
    assert_eq!(pwned(&server, db), Vec::<String>::new());
    let su =
        holdfast::surface::snapshot::postgres::read(&server.conn(db), &PgOptions::default(), "db")
            .unwrap();
    assert!(su.target.superuser);
    assert!(
        su.reading.description.contains("a superuser"),
        "{}",
        su.reading.description
    );
    c.batch_execute("DROP OWNED BY hf_reader; REVOKE pg_read_all_data FROM hf_reader")
        .unwrap();
    server
        .client("postgres")
        .batch_execute("DROP ROLE hf_reader")
        .ok();
}

#[test]
fn a_lock_held_by_another_session_fails_the_snapshot_within_its_timeout() {
    let server = pg::shared();
    let conn = seed(&server, "locked");
    let mut holder = server.client("locked");
    holder
        .batch_execute("BEGIN; LOCK TABLE public.events IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let opts = PgOptions {
        lock_timeout_seconds: 1,
        ..PgOptions::default()
    };
    let t0 = std::time::Instant::now();
    let e = read_with(&conn, &opts).unwrap_err();
    let took = t0.elapsed();
    holder.batch_execute("ROLLBACK").unwrap();
    assert_eq!(e.exit_code(), 1);
    let m = e.to_string();
    assert!(
        m.contains("lock timeout") && m.contains("lock wait") && m.contains("table:public.events"),
        "{m}"
    );
    assert!(took < std::time::Duration::from_secs(15), "took {took:?}");
}

#[test]
fn a_server_that_stops_answering_fails_the_snapshot_within_the_read_timeout() {
    // A listener that accepts and never says a word (a hung server or proxy).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        std::thread::sleep(std::time::Duration::from_secs(8));
        drop(stream);
    });
    let opts = PgOptions {
        read_timeout_seconds: 2,
        ..PgOptions::default()
    };
    let t0 = std::time::Instant::now();
    let e = read_with(
        &format!("host=127.0.0.1 port={port} dbname=x user=postgres connect_timeout=60"),
        &opts,
    )
    .unwrap_err();
    let took = t0.elapsed();
    assert_eq!(e.exit_code(), 1);
    let m = e.to_string();
    assert!(
        m.contains("no answer from the server for 2 s") && m.contains("read_timeout_seconds"),
        "{m}"
    );
    assert!(took < std::time::Duration::from_secs(6), "took {took:?}");
    held.join().unwrap();
}

#[test]
fn digests_do_not_depend_on_the_parallelism() {
    let _cluster = cluster_read();
    let server = pg::shared();
    let db = "parallel";
    server.create_db(db);
    let mut sql = String::new();
    for i in 0..7 {
        if i % 2 == 0 {
            sql.push_str(&format!(
                "CREATE TABLE public.t{i} (id int PRIMARY KEY, v text);"
            ));
        } else {
            sql.push_str(&format!("CREATE TABLE public.t{i} (id int, v text);"));
        }
        sql.push_str(&format!(
            "INSERT INTO public.t{i} SELECT g, md5((g * {i})::text) FROM generate_series(1, {}) g ORDER BY random();",
            1000 * (i + 1)
        ));
    }
    // Read in key ranges (its key spans more than one range); a generated
    // column is in its rows whichever way they are read.
    sql.push_str(
        "CREATE TABLE public.wide (id bigint PRIMARY KEY, v text, g text GENERATED ALWAYS AS (v || '!') STORED);
         INSERT INTO public.wide SELECT g * 3 - 100000, md5(g::text) FROM generate_series(1, 70000) g ORDER BY random();",
    );
    server.client(db).batch_execute(&sql).unwrap();
    // relpages, which decides the page ranges (VACUUM runs outside a transaction).
    server.client(db).batch_execute("VACUUM ANALYZE").unwrap();
    let conn = server.conn(db);
    let one = read_with(
        &conn,
        &PgOptions {
            parallel: 1,
            ..PgOptions::default()
        },
    )
    .unwrap();
    for n in [2, 3, 8] {
        let p = read_with(
            &conn,
            &PgOptions {
                parallel: n,
                ..PgOptions::default()
            },
        )
        .unwrap();
        assert_eq!(one, p, "parallel = {n}");
        // Tables with an integer key read in many page ranges, their lines
        // sorted by key and cut into key ranges inside holdfast.
        for per in [1, 7] {
            let paged = read_with(
                &conn,
                &PgOptions {
                    parallel: n,
                    pages_per_range: per,
                    ..PgOptions::default()
                },
            )
            .unwrap();
            assert_eq!(one, paged, "parallel = {n}, {per} page(s) per range");
        }
    }
    // Sorting key ranges inside holdfast or asking the server for key order
    // gives the same bytes.
    let server_ordered = read_with(
        &conn,
        &PgOptions {
            sort_in_holdfast_below: 0,
            ..PgOptions::default()
        },
    )
    .unwrap();
    assert_eq!(one, server_ordered);
    assert_eq!(one.keys().filter(|k| k.starts_with("table:")).count(), 8);
    // A change in any range is seen, and only in that table.
    for id in [-99997, 10001, 109997] {
        let before = read_with(&conn, &PgOptions::default()).unwrap();
        server
            .client(db)
            .batch_execute(&format!("UPDATE public.wide SET v = 'x' WHERE id = {id}"))
            .unwrap();
        let after = read_with(&conn, &PgOptions::default()).unwrap();
        assert_eq!(changed(&before, &after), ["table:public.wide"], "id {id}");
    }
    let r = read(&conn, None, "db").unwrap();
    assert!(
        r.description.contains("8 table(s), 98000 row(s)"),
        "{}",
        r.description
    );
}

#[test]
fn other_session_defaults_change_nothing() {
    let _cluster = cluster_read();
    let server = pg::shared();
    let db = "defaults";
    server.create_db(db);
    server
        .client(db)
        .batch_execute(
            "CREATE SCHEMA other;
             CREATE TABLE other.accounts (id int);
             CREATE TABLE public.accounts (id int PRIMARY KEY, price money, at timestamptz, d date,
                 span interval, r real, f double precision, b bytea, s text, n numeric);
             CREATE VIEW public.v AS SELECT id, price, 'it''s'::text AS q FROM public.accounts WHERE s = E'a\\\\b';
             CREATE TABLE public.loose (c bpchar, at timestamp);
             INSERT INTO public.accounts VALUES
               (1, 12.5, '2026-06-12 10:00:00+02', '2026-06-12', '1 day 02:03:04', 0.1, 1e-7, '\\x00ff', E'a\\\\b', 1234.5),
               (2, -3, '1999-12-31 23:59:59+00', '1999-01-02', '-1 mon', 3.4e38, 1.0/3, '\\x', 'x', 0.000001);
             INSERT INTO public.loose VALUES ('a ', '2026-01-01 12:00'), ('a', '2026-01-01 12:00');",
        )
        .unwrap();
    let conn = server.conn(db);
    let plain = parts(&conn);
    let odd = format!(
        "{conn} options='-c search_path=other,public -c quote_all_identifiers=on -c lc_monetary=C.UTF-8 \
         -c lc_numeric=C.UTF-8 -c DateStyle=SQL,DMY -c IntervalStyle=postgres_verbose \
         -c TimeZone=Asia/Kathmandu -c extra_float_digits=-3 -c bytea_output=escape \
         -c standard_conforming_strings=off -c row_security=on -c statement_timeout=1'"
    );
    // Control: the odd defaults do reach a session that does not pin them
    // (without the 1 ms statement timeout, which a loaded machine would hit
    // on the control query itself; the snapshot below still gets it).
    let control = odd.replace(" -c statement_timeout=1", "");
    assert_ne!(control, odd);
    let mut c = postgres::Client::connect(&control, postgres::NoTls).unwrap();
    let style: String = c.query_one("SHOW DateStyle", &[]).unwrap().get(0);
    assert_eq!(style, "SQL, DMY");
    drop(c);
    assert_eq!(parts(&odd), plain);

    // Database defaults are the database's behaviour: only the database part changes.
    server
        .client(db)
        .batch_execute(
            "ALTER DATABASE defaults SET DateStyle = 'SQL, DMY';
             ALTER DATABASE defaults SET search_path = other, public;
             ALTER DATABASE defaults SET quote_all_identifiers = on",
        )
        .unwrap();
    assert_eq!(changed(&plain, &parts(&conn)), ["database"]);
}

#[test]
fn rows_equal_after_text_keep_one_order() {
    let server = pg::shared();
    let mut got = Vec::new();
    for (db, rows) in [
        ("pad_a", "('a ', 1), ('a', 1), ('b', 2)"),
        ("pad_b", "('b', 2), ('a', 1), ('a ', 1)"),
        ("pad_c", "('a', 1), ('a', 1), ('b', 2)"),
    ] {
        server.create_db(db);
        server
            .client(db)
            .batch_execute(&format!(
                "CREATE TABLE public.pad (c bpchar, n int); INSERT INTO public.pad VALUES {rows};"
            ))
            .unwrap();
        got.push(parts(&server.conn(db))["table:public.pad"].clone());
    }
    assert_eq!(got[0], got[1], "same rows, another storage order");
    assert_ne!(got[0], got[2], "'a ' and 'a' are different rows");
}

#[test]
fn dotted_names_get_distinct_parts() {
    // Compares snapshots, which hold the cluster's roles: no test may add
    // one meanwhile.
    let _cluster = cluster_read();
    let server = pg::shared();
    let db = "dotted";
    server.create_db(db);
    server
        .client(db)
        .batch_execute(
            "CREATE SCHEMA a; CREATE SCHEMA \"a.b\";
             CREATE TABLE a.\"b.c\" (id int); CREATE TABLE \"a.b\".c (id int);
             INSERT INTO a.\"b.c\" VALUES (1);",
        )
        .unwrap();
    let before = parts(&server.conn(db));
    assert!(
        before.contains_key("table:a.\"b.c\""),
        "{:?}",
        before.keys()
    );
    assert!(
        before.contains_key("table:\"a.b\".c"),
        "{:?}",
        before.keys()
    );
    server
        .client(db)
        .batch_execute("INSERT INTO \"a.b\".c VALUES (2)")
        .unwrap();
    assert_eq!(
        changed(&before, &parts(&server.conn(db))),
        ["table:\"a.b\".c"]
    );
}

#[test]
fn prove_refuses_snapshots_of_two_different_databases() {
    let server = pg::shared();
    let one = seed(&server, "target_one");
    let two = seed(&server, "target_two");
    let d = tempfile::tempdir().unwrap();
    write_spec(d.path(), "HOLDFAST_TEST_PG_TARGET");
    for (conn, out) in [(&one, "before.json"), (&two, "after.json")] {
        Command::cargo_bin("holdfast")
            .unwrap()
            .env("HOLDFAST_TEST_PG_TARGET", conn)
            .arg("snapshot")
            .arg(d.path().join("surfaces.toml"))
            .arg("--out")
            .arg(d.path().join(out))
            .assert()
            .success();
    }
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
    prove("after.json")
        .code(5)
        .stderr(predicates::str::contains("different targets"))
        .stderr(predicates::str::contains("\"target_one\""))
        .stderr(predicates::str::contains("\"target_two\""));
    assert!(!d.path().join("proof").exists(), "nothing written");
    // A postgres snapshot without its target is malformed, not a wildcard.
    let mut v: serde_json::Value =
        serde_json::from_slice(&fs::read(d.path().join("after.json")).unwrap()).unwrap();
    assert_eq!(v["surfaces"]["prod-pg"]["target"]["database"], "target_two");
    v["surfaces"]["prod-pg"]
        .as_object_mut()
        .unwrap()
        .remove("target");
    fs::write(
        d.path().join("untargeted.json"),
        serde_json::to_vec(&v).unwrap(),
    )
    .unwrap();
    prove("untargeted.json")
        .code(3)
        .stderr(predicates::str::contains(
            "target: missing for method postgres",
        ));
}

/// Every object kind that changes how the database behaves: one change
/// each, and the part that must name it.
const COVERAGE_SETUP: &str = "
    CREATE ROLE cov_r1; CREATE ROLE cov_r2;
    CREATE EXTENSION dblink;
    CREATE TABLE public.t (id int PRIMARY KEY, v text, w int);
    CREATE TABLE public.u (id int);
    CREATE TABLE public.parent (id int);
    CREATE SCHEMA s2;
    CREATE FUNCTION public.f(int) RETURNS int LANGUAGE sql AS 'SELECT $1';
    CREATE FUNCTION public.trg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
    CREATE TRIGGER t_trg BEFORE INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION public.trg();
    CREATE POLICY p ON public.t USING (true);
    CREATE RULE r AS ON INSERT TO public.u DO ALSO NOTHING;
    CREATE SEQUENCE public.seq;
    CREATE VIEW public.v AS SELECT id FROM public.t;
    CREATE MATERIALIZED VIEW public.mv AS SELECT id FROM public.t;
    CREATE TABLE public.parted (k int) PARTITION BY RANGE (k);
    CREATE TABLE public.part1 PARTITION OF public.parted FOR VALUES FROM (0) TO (10);
    CREATE DOMAIN public.d AS int CHECK (VALUE > 0);
    CREATE TYPE public.e AS ENUM ('a', 'b');
    CREATE FOREIGN DATA WRAPPER w;
    CREATE SERVER srv FOREIGN DATA WRAPPER w;
    CREATE USER MAPPING FOR cov_r1 SERVER srv OPTIONS (user 'x');
    SET client_min_messages = error;
    CREATE PUBLICATION pub FOR TABLE public.t;
    SELECT lo_create(4242);
    CREATE FUNCTION public.evt() RETURNS event_trigger LANGUAGE plpgsql AS 'BEGIN END';
    CREATE EVENT TRIGGER et ON ddl_command_start EXECUTE FUNCTION public.evt();";

const COVERAGE: &[(&str, &str)] = &[
    ("GRANT SELECT ON public.t TO cov_r1", "table:public.t"),
    ("GRANT SELECT (v) ON public.t TO cov_r2", "table:public.t"),
    ("GRANT USAGE ON SCHEMA s2 TO cov_r1", "schema:s2"),
    (
        "ALTER DEFAULT PRIVILEGES IN SCHEMA s2 GRANT SELECT ON TABLES TO cov_r1",
        "default-privileges:postgres.s2.tables",
    ),
    (
        "ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO cov_r2",
        "default-privileges:postgres.functions",
    ),
    ("ALTER TABLE public.u OWNER TO cov_r1", "table:public.u"),
    ("ALTER SCHEMA s2 OWNER TO cov_r2", "schema:s2"),
    (
        "ALTER TABLE public.u ENABLE ROW LEVEL SECURITY",
        "table:public.u",
    ),
    (
        "ALTER TABLE public.u FORCE ROW LEVEL SECURITY",
        "table:public.u",
    ),
    (
        "ALTER POLICY p ON public.t USING (id > 0)",
        "policy:public.t.p",
    ),
    (
        "CREATE POLICY p2 ON public.t AS RESTRICTIVE USING (w > 0)",
        "policy:public.t.p2",
    ),
    (
        "ALTER TABLE public.t DISABLE TRIGGER t_trg",
        "trigger:public.t.t_trg",
    ),
    (
        "CREATE TRIGGER u_trg AFTER UPDATE ON public.u FOR EACH ROW EXECUTE FUNCTION public.trg()",
        "trigger:public.u.u_trg",
    ),
    (
        "CREATE OR REPLACE FUNCTION public.f(int) RETURNS int LANGUAGE sql AS 'SELECT $1 + 1'",
        "function:public.f(integer)",
    ),
    (
        "ALTER FUNCTION public.f(int) SECURITY DEFINER",
        "function:public.f(integer)",
    ),
    (
        "REVOKE EXECUTE ON FUNCTION public.f(int) FROM PUBLIC",
        "function:public.f(integer)",
    ),
    (
        "CREATE OR REPLACE RULE r AS ON INSERT TO public.u DO INSTEAD NOTHING",
        "rule:public.u.r",
    ),
    ("ALTER TABLE public.u DISABLE RULE r", "rule:public.u.r"),
    ("ALTER EVENT TRIGGER et DISABLE", "event-trigger:et"),
    (
        "ALTER SEQUENCE public.seq INCREMENT BY 5",
        "sequence:public.seq",
    ),
    ("SELECT nextval('public.seq')", "sequence:public.seq"),
    (
        "CREATE OR REPLACE VIEW public.v AS SELECT id, v FROM public.t",
        "view:public.v",
    ),
    (
        "ALTER VIEW public.v SET (security_barrier = true)",
        "view:public.v",
    ),
    (
        "REFRESH MATERIALIZED VIEW public.mv WITH NO DATA",
        "matview:public.mv",
    ),
    ("ALTER TABLE public.u SET UNLOGGED", "table:public.u"),
    (
        "ALTER TABLE public.t REPLICA IDENTITY FULL",
        "table:public.t",
    ),
    (
        "ALTER TABLE public.t SET (fillfactor = 50)",
        "table:public.t",
    ),
    (
        "ALTER TABLE public.parted DETACH PARTITION public.part1; \
      ALTER TABLE public.parted ATTACH PARTITION public.part1 FOR VALUES FROM (0) TO (20)",
        "table:public.part1",
    ),
    (
        "ALTER TABLE public.u INHERIT public.parent",
        "table:public.u",
    ),
    (
        "ALTER TABLE public.t ALTER COLUMN w SET DEFAULT 3",
        "table:public.t",
    ),
    (
        "ALTER TABLE public.t ADD CONSTRAINT w_pos CHECK (w > 0) NOT VALID",
        "table:public.t",
    ),
    (
        "ALTER TABLE public.t VALIDATE CONSTRAINT w_pos",
        "table:public.t",
    ),
    (
        "ALTER DOMAIN public.d ADD CONSTRAINT d_max CHECK (VALUE < 100)",
        "type:public.d",
    ),
    ("ALTER TYPE public.e ADD VALUE 'c'", "type:public.e"),
    ("ALTER TYPE public.e OWNER TO cov_r1", "type:public.e"),
    ("CREATE EXTENSION hstore", "extension:hstore"),
    (
        "ALTER PUBLICATION pub ADD TABLE ONLY public.parent",
        "publication:pub",
    ),
    (
        "ALTER PUBLICATION pub SET (publish = 'insert')",
        "publication:pub",
    ),
    (
        "ALTER SERVER srv OPTIONS (ADD host 'h')",
        "foreign-server:srv",
    ),
    (
        "GRANT USAGE ON FOREIGN SERVER srv TO cov_r2",
        "foreign-server:srv",
    ),
    (
        "ALTER USER MAPPING FOR cov_r1 SERVER srv OPTIONS (SET user 'y')",
        "user-mapping:srv.cov_r1",
    ),
    (
        "ALTER FOREIGN DATA WRAPPER w OPTIONS (ADD debug 'on')",
        "foreign-data-wrapper:w",
    ),
    ("SELECT lo_put(4242, 0, '\\x01')", "large-object:4242"),
    (
        "GRANT SELECT ON LARGE OBJECT 4242 TO cov_r1",
        "large-object:4242",
    ),
    ("ALTER DATABASE coverage SET work_mem = '8MB'", "database"),
    (
        "ALTER ROLE cov_r2 IN DATABASE coverage SET work_mem = '9MB'",
        "database",
    ),
    ("ALTER DATABASE coverage CONNECTION LIMIT 50", "database"),
    ("ALTER ROLE cov_r1 CREATEDB", "role:cov_r1"),
    ("GRANT cov_r1 TO cov_r2", "role:cov_r2"),
    ("ALTER ROLE cov_r1 SET work_mem = '4MB'", "role:cov_r1"),
    (
        "CREATE TABLE information_schema.stash (id int)",
        "table:information_schema.stash",
    ),
    (
        "INSERT INTO information_schema.stash VALUES (1)",
        "table:information_schema.stash",
    ),
    (
        "CREATE CAST (public.e AS int) WITH INOUT",
        "cast:(public.e AS integer)",
    ),
    (
        "CREATE OPERATOR public.=== (leftarg = int, rightarg = int, function = int4eq)",
        "operator:public.===(integer,integer)",
    ),
    (
        "CREATE FUNCTION public.agg_step(int, int) RETURNS int LANGUAGE sql AS 'SELECT $1 + $2'; \
      CREATE AGGREGATE public.total(int) (sfunc = public.agg_step, stype = int)",
        "function:public.total(integer)",
    ),
    (
        "GRANT USAGE ON LANGUAGE plpgsql TO cov_r1",
        "language:plpgsql",
    ),
    ("UPDATE public.t SET v = 'x'", "table:public.t"),
];

#[test]
fn every_object_kind_is_covered_by_a_named_part() {
    let _cluster = cluster_write();
    let server = pg::shared();
    let db = "coverage";
    server.create_db(db);
    server
        .client("postgres")
        .batch_execute("DROP ROLE IF EXISTS cov_r2; DROP ROLE IF EXISTS cov_r1")
        .ok();
    server.client(db).batch_execute(COVERAGE_SETUP).unwrap();
    server
        .client(db)
        .batch_execute("INSERT INTO public.t VALUES (1, 'a', 1)")
        .unwrap();
    let conn = server.conn(db);
    let mut before = parts(&conn);
    let mut missed = Vec::new();
    for (change, part) in COVERAGE {
        server
            .client(db)
            .batch_execute(change)
            .unwrap_or_else(|e| panic!("{change}: {e:?}"));
        let after = parts(&conn);
        let diff = changed(&before, &after);
        if !diff.iter().any(|p| p == part) {
            missed.push(format!("{change}: expected {part}, changed {diff:?}"));
        }
        before = after;
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
    // The roles are cluster-wide: leave none behind for the other tests.
    let mut c = server.client(db);
    c.batch_execute("DROP EVENT TRIGGER et; DROP OWNED BY cov_r1, cov_r2 CASCADE")
        .unwrap();
    drop(c);
    let mut pg = server.client("postgres");
    for sql in [
        "DROP DATABASE coverage WITH (FORCE)",
        "DROP ROLE cov_r2",
        "DROP ROLE cov_r1",
    ] {
        pg.batch_execute(sql).unwrap();
    }
}

/// Planning a query on a table evaluates the constant parts of its index
/// expressions, index predicates and statistics expressions (the relcache
/// runs them through `eval_const_expressions`), so an owner's function
/// declared IMMUTABLE would run in the snapshot session, as its role, when
/// holdfast asks for `COPY (SELECT ... ORDER BY key)` or a key's min and
/// max. Such tables are read with a plain `COPY table TO STDOUT`, which
/// plans nothing; a materialized view, which can only be read through a
/// query, fails closed.
#[test]
fn planner_evaluated_index_and_statistics_expressions_never_run() {
    // Compares snapshots, which hold the cluster's roles: no test may add
    // one meanwhile.
    let _cluster = cluster_read();
    let server = pg::shared();
    let db = "plannerexprs";
    server.create_db(db);
    let mut c = server.client(db);
    c.batch_execute(PWN).unwrap();
    c.batch_execute(
        "CREATE FUNCTION public.sneaky(what text, n int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
           BEGIN PERFORM public.pwn(what); RETURN n; END $$;
         CREATE TABLE public.by_expr (id int PRIMARY KEY, v text);
         CREATE INDEX by_expr_i ON public.by_expr ((public.sneaky('index expression', 1) + id));
         CREATE TABLE public.by_pred (id bigint PRIMARY KEY, v text);
         CREATE INDEX by_pred_i ON public.by_pred (v) WHERE public.sneaky('index predicate', 1) > 0;
         CREATE TABLE public.by_stats (id int PRIMARY KEY, v text);
         CREATE STATISTICS by_stats_s ON (public.sneaky('statistics', 1) + id), v FROM public.by_stats;
         INSERT INTO public.by_expr SELECT g, 'e' || g FROM pg_catalog.generate_series(1, 300000) g;
         INSERT INTO public.by_pred SELECT g, 'p' || g FROM pg_catalog.generate_series(1, 3) g;
         INSERT INTO public.by_stats SELECT g, 's' || g FROM pg_catalog.generate_series(1, 3) g;
         ANALYZE;",
    )
    .unwrap();
    // Control: a planned query on each table runs the planted function.
    for t in ["by_expr", "by_pred", "by_stats"] {
        server
            .client(db)
            .batch_execute(&format!(
                "SELECT * FROM public.{t} WHERE id > 1 ORDER BY id"
            ))
            .unwrap();
    }
    let ran = pwned(&server, db);
    for what in ["index expression", "index predicate", "statistics"] {
        assert!(ran.iter().any(|w| w == what), "control {what}: {ran:?}");
    }
    c.batch_execute("DELETE FROM public.pwned").unwrap();

    let conn = server.conn(db);
    let before = read_with(&conn, &PgOptions::default()).unwrap();
    assert_eq!(pwned(&server, db), Vec::<String>::new(), "nothing ran");
    // The digests are those of the rows: a change shows, in that table only.
    // (The UPDATE computes the index expression itself, in the owner's session.)
    c.batch_execute(
        "UPDATE public.by_expr SET v = 'changed' WHERE id = 200000; DELETE FROM public.pwned",
    )
    .unwrap();
    let after = read_with(
        &conn,
        &PgOptions {
            parallel: 1,
            ..PgOptions::default()
        },
    )
    .unwrap();
    assert_eq!(pwned(&server, db), Vec::<String>::new(), "nothing ran");
    assert_eq!(changed(&before, &after), ["table:public.by_expr"]);

    // A materialized view can only be read through a planned query: one
    // with such an index fails closed, and nothing runs.
    c.batch_execute(
        "CREATE MATERIALIZED VIEW public.mv AS SELECT id, v FROM public.by_pred;
         CREATE INDEX mv_i ON public.mv ((public.sneaky('matview index', 1) + id));
         DELETE FROM public.pwned;",
    )
    .unwrap();
    let e = read_with(&conn, &PgOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("matview:public.mv") && e.contains("expressions"),
        "{e}"
    );
    assert_eq!(pwned(&server, db), Vec::<String>::new(), "nothing ran");
}

/// A table without a built-in key is read in page (`ctid`) ranges over the
/// connections when it is large; its lines are sorted together, so the
/// digest is that of one whole `COPY table TO STDOUT`, whatever the split,
/// the parallelism and the table's size (0, 1 or many pages), generated
/// and dropped columns included. Lookalike `tid` operators planted in
/// `public` (preferred by the database's search_path) never run.
#[test]
fn page_ranges_give_the_whole_tables_digest_whatever_the_split() {
    let _cluster = cluster_read();
    let server = pg::shared();
    let db = "paged";
    server.create_db(db);
    server
        .client(db)
        .batch_execute(&format!(
            "{PWN}
             CREATE FUNCTION public.tid_ge(a tid, b tid) RETURNS boolean LANGUAGE plpgsql AS $$
               BEGIN PERFORM public.pwn('tid >='); RETURN pg_catalog.tidge(a, b); END $$;
             CREATE FUNCTION public.tid_lt(a tid, b tid) RETURNS boolean LANGUAGE plpgsql AS $$
               BEGIN PERFORM public.pwn('tid <'); RETURN pg_catalog.tidlt(a, b); END $$;
             CREATE OPERATOR public.>= (LEFTARG = tid, RIGHTARG = tid, FUNCTION = public.tid_ge);
             CREATE OPERATOR public.< (LEFTARG = tid, RIGHTARG = tid, FUNCTION = public.tid_lt);
             ALTER DATABASE paged SET search_path = public, pg_catalog;
             CREATE TABLE public.none (v text);
             CREATE TABLE public.one (v text, n int);
             INSERT INTO public.one VALUES ('a', 1), ('a', 1), (NULL, 2);
             CREATE TABLE public.many (gone int, v text, n int, twice int GENERATED ALWAYS AS (n * 2) STORED);
             INSERT INTO public.many (gone, v, n)
               SELECT g, pg_catalog.md5(g::text), g % 1000 FROM pg_catalog.generate_series(1, 20000) g
               ORDER BY pg_catalog.random();
             INSERT INTO public.many (v, n) SELECT v, n FROM public.many WHERE n < 10;
             ALTER TABLE public.many DROP COLUMN gone;
             CREATE TABLE public.keyed (id text PRIMARY KEY);
             INSERT INTO public.keyed VALUES ('x'), ('y');
             CREATE TABLE public.ikeyed (id bigint PRIMARY KEY, v text, g text GENERATED ALWAYS AS (v || '.') STORED);
             INSERT INTO public.ikeyed (id, v)
               SELECT g * 7 - 70000, pg_catalog.md5(g::text) FROM pg_catalog.generate_series(1, 20000) g
               ORDER BY pg_catalog.random();"
        ))
        .unwrap();
    // relpages, which decides the split (VACUUM runs outside a transaction).
    server.client(db).batch_execute("VACUUM ANALYZE").unwrap();
    let pages: Vec<(String, i32)> = server
        .client(db)
        .query(
            "SELECT relname::text, relpages FROM pg_class WHERE relname IN ('none', 'one', 'many') ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(pages[0].0, "many");
    assert!(pages[0].1 > 100, "many pages: {pages:?}");
    assert_eq!((pages[1].1, pages[2].1), (0, 1), "{pages:?}");
    let conn = server.conn(db);
    let with = |parallel: usize, pages_per_range: u64| {
        read_with(
            &conn,
            &PgOptions {
                parallel,
                pages_per_range,
                ..PgOptions::default()
            },
        )
        .unwrap()
    };
    // Never split: one plain COPY per table.
    let whole = with(1, u64::MAX);
    for parallel in [1, 2, 4] {
        for per in [1, 7] {
            assert_eq!(
                with(parallel, per),
                whole,
                "parallel {parallel}, {per} page(s) per range"
            );
        }
    }
    // The table with an integer key, read in page ranges above, gives the
    // bytes of its key ranges read in key order by the server.
    let server_ordered = read_with(
        &conn,
        &PgOptions {
            sort_in_holdfast_below: 0,
            ..PgOptions::default()
        },
    )
    .unwrap();
    assert_eq!(server_ordered, whole);
    assert!(pwned(&server, db).is_empty(), "{:?}", pwned(&server, db));
    // A change in any page is seen, in that table only.
    for (sql, n) in [
        (
            "UPDATE public.many SET v = 'x' WHERE n = 500 AND v < '4'",
            "many",
        ),
        (
            "DELETE FROM public.many WHERE ctid = (SELECT max(ctid) FROM public.many)",
            "many",
        ),
        (
            "DELETE FROM public.one WHERE ctid = (SELECT min(ctid) FROM public.one)",
            "one",
        ),
        ("UPDATE public.ikeyed SET v = 'x' WHERE id = 777", "ikeyed"),
        (
            "DELETE FROM public.ikeyed WHERE ctid = (SELECT max(ctid) FROM public.ikeyed)",
            "ikeyed",
        ),
    ] {
        let before = with(2, 1);
        server.client(db).batch_execute(sql).unwrap();
        assert_eq!(
            changed(&before, &with(2, 1)),
            [format!("table:public.{n}")],
            "{sql}"
        );
    }
    assert!(pwned(&server, db).is_empty(), "{:?}", pwned(&server, db));
}

/// The key bounds of many keyed tables are read a hundred tables per
/// statement: each table is cut into the key ranges of its own bounds (its
/// part is the one it has in a database of its own), and a change in any
/// of them (in the first, a middle and the last statement) is named, the
/// others untouched.
#[test]
fn many_keyed_tables_are_each_bounded_and_read() {
    let server = pg::shared();
    // Keys spread over more than one key range, the spread different per
    // table, so that bounds read for the wrong table give other ranges.
    let table = |i: usize| {
        format!(
            "CREATE TABLE public.k{i} (id bigint PRIMARY KEY, v text);\
             INSERT INTO public.k{i} SELECT g * {m} - 50, md5(g::text) FROM generate_series(1, {n}) g ORDER BY random();",
            m = 70_000 * (i + 1),
            n = 3 + i % 5
        )
    };
    let db = "many_keyed";
    server.create_db(db);
    let mut sql: String = (0..230).map(table).collect();
    sql.push_str("CREATE TABLE public.empty_keyed (id int PRIMARY KEY);");
    server.client(db).batch_execute(&sql).unwrap();
    let conn = server.conn(db);
    let before = parts(&conn);
    for i in 0..230 {
        assert!(before.contains_key(&format!("table:public.k{i}")), "k{i}");
    }
    assert!(before.contains_key("table:public.empty_keyed"));
    assert_eq!(parts(&conn), before, "two reads differ");
    for i in [0, 99, 100, 150, 229] {
        let alone = format!("keyed_alone_{i}");
        server.create_db(&alone);
        server.client(&alone).batch_execute(&table(i)).unwrap();
        let part = format!("table:public.k{i}");
        assert_eq!(parts(&server.conn(&alone))[&part], before[&part], "{part}");
    }
    server
        .client(db)
        .batch_execute(&format!(
            "UPDATE public.k0 SET v = 'x' WHERE id = {}; \
             UPDATE public.k150 SET v = 'x' WHERE id = {}; \
             DELETE FROM public.k229 WHERE id = {};",
            70_000 - 50,
            70_000 * 151 - 50,
            70_000 * 230 * 2 - 50
        ))
        .unwrap();
    let after = parts(&conn);
    assert_eq!(
        changed(&before, &after),
        vec!["table:public.k0", "table:public.k150", "table:public.k229"]
    );
}

/// A host that takes the socket but not the session (a server shutting
/// down, another service on the port) moves the snapshot on to the next
/// host of the connection string, as `tokio_postgres` does; with only that
/// host, the error says what went wrong.
#[test]
fn a_host_that_accepts_and_hangs_up_falls_through_to_the_next() {
    let server = pg::shared();
    let fake = tempfile::tempdir().unwrap();
    let listener =
        std::os::unix::net::UnixListener::bind(fake.path().join(".s.PGSQL.5432")).unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            drop(s);
        }
    });
    let both = format!(
        "host={},{} dbname=postgres user=postgres connect_timeout=10",
        fake.path().display(),
        server.socket_dir().display()
    );
    let mut session = ReadOnlySession::open(&both, "db").expect("the second host is tried");
    session.batch_execute("SELECT 1").unwrap();
    let only = format!(
        "host={} dbname=postgres user=postgres connect_timeout=10",
        fake.path().display()
    );
    let e = ReadOnlySession::open(&only, "db")
        .err()
        .expect("no server there");
    assert!(
        e.to_string()
            .contains("error communicating with the server")
            || e.to_string().contains("connection closed"),
        "{e}"
    );
}
