//! PostgreSQL snapshots of a whole server (`all_databases = true`), and a
//! server that stalls in the middle of a COPY. The every-database tests use
//! a server of their own: the shared one holds other tests' databases,
//! created, locked and dropped while they run.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::pg;
use assert_cmd::Command;
use holdfast::surface::snapshot::postgres::{self as hpg, PgOptions};

fn every_database() -> PgOptions {
    PgOptions {
        all_databases: true,
        ..PgOptions::default()
    }
}

fn seed(server: &pg::Server, db: &str) {
    server.create_db(db);
    server
        .client(db)
        .batch_execute(
            "CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL);
             CREATE TABLE events (kind text);
             INSERT INTO accounts VALUES (1, 'alice'), (2, 'bob');
             INSERT INTO events VALUES ('fold'), ('claim');",
        )
        .unwrap();
}

fn changed(
    before: &std::collections::BTreeMap<String, String>,
    after: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// A surfaces.toml with one postgres surface and `extra` settings.
fn write_spec(dir: &Path, conn_env: &str, extra: &str) {
    fs::write(dir.join("evidence.txt"), "the production server\n").unwrap();
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
{extra}

[[boundary]]
id = "no-production-mutation"
title = "NO production PG mutation"
surfaces = ["prod-pg"]
"#
        ),
    )
    .unwrap();
}

fn snapshot(dir: &Path, env: &str, conn: &str, out: &str) -> assert_cmd::assert::Assert {
    Command::cargo_bin("holdfast")
        .unwrap()
        .env(env, conn)
        .arg("snapshot")
        .arg(dir.join("surfaces.toml"))
        .arg("--out")
        .arg(dir.join(out))
        .assert()
}

#[test]
fn every_database_of_the_server_is_read_and_each_change_names_its_database() {
    let server = pg::Server::start();
    seed(&server, "app");
    seed(&server, "billing");
    let conn = server.conn("postgres");
    let a = hpg::read(&conn, &every_database(), "srv").unwrap();
    let b = hpg::read(&conn, &every_database(), "srv").unwrap();
    assert_eq!(a, b, "two reads of an unchanged server are equal");
    for part in [
        "databases",
        "role:postgres",
        "db:app",
        "db:app/database",
        "db:app/table:public.accounts",
        "db:billing/table:public.events",
        "db:postgres",
        "db:template1",
    ] {
        assert!(
            a.reading.parts.contains_key(part),
            "{part}: {:?}",
            a.reading.parts.keys()
        );
    }
    assert!(
        !a.reading
            .parts
            .keys()
            .any(|k| k.starts_with("db:template0")),
        "template0 accepts no connections: only its pg_database row is read"
    );
    assert!(
        !a.reading.parts.keys().any(|k| k.contains("/role:")),
        "roles are cluster-wide parts, read once"
    );
    let dbs = a.target.databases.clone().unwrap();
    let names: Vec<&str> = dbs.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        ["app", "billing", "postgres", "template0", "template1"]
    );
    for d in &dbs {
        let part = a.reading.parts.get(&format!("db:{}", d.name));
        assert_eq!(
            d.digest.as_ref(),
            part,
            "{}: the digest recorded is its part",
            d.name
        );
        assert_eq!(d.digest.is_none(), d.name == "template0", "{}", d.name);
    }
    let desc = &a.reading.description;
    assert!(
        desc.contains("every database (4 read; not read: template0")
            && desc.contains("4 table(s), 8 row(s)"),
        "{desc}"
    );
    // The target is the server: an every-database snapshot never compares
    // with a one-database snapshot of the same server.
    let one = hpg::read(&conn, &PgOptions::default(), "srv").unwrap();
    assert!(a.target.same_database(&b.target));
    assert!(!a.target.same_database(&one.target));
    assert!(a.target.describe().starts_with("every database of server "));

    // A row changed in one database names that database and that table.
    server
        .client("billing")
        .batch_execute("DELETE FROM events WHERE kind = 'claim'")
        .unwrap();
    let c = hpg::read(&conn, &every_database(), "srv").unwrap();
    assert_eq!(
        changed(&a.reading.parts, &c.reading.parts),
        ["db:billing", "db:billing/table:public.events"]
    );
    // A new database, and a change to template0's row, are seen too.
    server
        .client("postgres")
        .batch_execute("CREATE DATABASE late")
        .unwrap();
    server
        .client("postgres")
        .batch_execute("ALTER DATABASE template0 CONNECTION LIMIT 3")
        .unwrap();
    let d = hpg::read(&conn, &every_database(), "srv").unwrap();
    let ch = changed(&c.reading.parts, &d.reading.parts);
    assert!(ch.contains(&"databases".to_string()), "{ch:?}");
    assert!(ch.contains(&"db:late".to_string()), "{ch:?}");
    assert!(!ch.iter().any(|k| k.starts_with("db:app")), "{ch:?}");
}

#[test]
fn a_database_the_role_cannot_read_fails_the_snapshot_naming_it() {
    let server = pg::Server::start();
    seed(&server, "app");
    seed(&server, "vault");
    let conn = server.conn("postgres");
    let mut admin = server.client("postgres");

    // A database that accepts no connections (other than template0).
    admin
        .batch_execute("ALTER DATABASE vault ALLOW_CONNECTIONS false")
        .unwrap();
    let e = hpg::read(&conn, &every_database(), "srv").unwrap_err();
    assert_eq!(e.exit_code(), 1);
    let m = e.to_string();
    assert!(
        m.contains("surface srv")
            && m.contains("database \"vault\"")
            && m.contains("allows no connections"),
        "{m}"
    );
    // The CLI writes nothing.
    let d = tempfile::tempdir().unwrap();
    write_spec(d.path(), "HOLDFAST_TEST_PG_SERVER", "all_databases = true");
    snapshot(d.path(), "HOLDFAST_TEST_PG_SERVER", &conn, "snap.json")
        .code(1)
        .stderr(predicates::str::contains("database \"vault\""));
    assert!(!d.path().join("snap.json").exists());

    // A database the role has no CONNECT privilege on.
    admin
        .batch_execute(
            "ALTER DATABASE vault ALLOW_CONNECTIONS true;
             REVOKE CONNECT ON DATABASE vault FROM PUBLIC;
             CREATE ROLE hf_reader LOGIN BYPASSRLS;
             GRANT pg_read_all_data TO hf_reader;",
        )
        .unwrap();
    let reader = conn.replace("user=postgres", "user=hf_reader");
    let e = hpg::read(&reader, &every_database(), "srv").unwrap_err();
    let m = e.to_string();
    assert!(
        m.contains("database vault as hf_reader") && m.contains("permission denied for database"),
        "{m}"
    );
    snapshot(d.path(), "HOLDFAST_TEST_PG_SERVER", &reader, "snap.json")
        .code(1)
        .stderr(predicates::str::contains("database vault"));
    assert!(!d.path().join("snap.json").exists());

    // With the privilege back, the least-privilege role reads the whole server.
    admin
        .batch_execute("GRANT CONNECT ON DATABASE vault TO hf_reader")
        .unwrap();
    snapshot(d.path(), "HOLDFAST_TEST_PG_SERVER", &reader, "snap.json").success();
    let v: serde_json::Value =
        serde_json::from_slice(&fs::read(d.path().join("snap.json")).unwrap()).unwrap();
    let s = &v["surfaces"]["prod-pg"];
    assert_eq!(s["target"]["role"], "hf_reader");
    assert!(
        s["parts"]["db:vault/table:public.accounts"].is_string(),
        "{s}"
    );
    assert_eq!(
        s["target"]["databases"].as_array().map(Vec::len),
        Some(5),
        "{s}"
    );
}

#[test]
fn a_surface_reading_every_database_cannot_be_rehearsed_on_a_copy() {
    let d = tempfile::tempdir().unwrap();
    write_spec(d.path(), "HOLDFAST_TEST_PG_UNUSED", "all_databases = true");
    let spec = holdfast::surface::LoadedSpec::load(&d.path().join("surfaces.toml")).unwrap();
    let change = holdfast::authz::ChangeSpec {
        id: "c".into(),
        argv: vec!["true".into()],
        rollback: vec!["true".into()],
        timeout_seconds: 60,
        may_change: [("prod-pg".to_string(), vec!["db:app/table:*".to_string()])].into(),
    };
    let e = holdfast::change::copies(&spec, &Default::default(), &change).unwrap_err();
    assert!(e.contains("prod-pg") && e.contains("all_databases"), "{e}");
}

// ---------------------------------------------------------------------------
// A server that stalls in the middle of a COPY.
// ---------------------------------------------------------------------------

/// A TCP proxy in front of the server's Unix socket. It forwards everything
/// until the client has sent a `COPY ... TO STDOUT` and 64 KiB of the
/// answer have gone back; then it stops forwarding (`trickle: None`: the
/// server, blocked on a full socket, stops answering) or forwards `n` bytes
/// every `every` (a link that never quite stops). Dropping it releases the
/// connections.
struct Proxy {
    port: u16,
    release: Arc<AtomicBool>,
    stalled: Arc<AtomicUsize>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.release.store(true, Ordering::SeqCst);
    }
}

fn proxy(server: &pg::Server, trickle: Option<(usize, Duration)>) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let release = Arc::new(AtomicBool::new(false));
    let stalled = Arc::new(AtomicUsize::new(0));
    let socket = server.socket();
    let (rel, st) = (release.clone(), stalled.clone());
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(up) = UnixStream::connect(&socket) else {
                return;
            };
            let copying = Arc::new(AtomicBool::new(false));
            // Client to server: watch for the COPY.
            {
                let (mut from, mut to) = (client.try_clone().unwrap(), up.try_clone().unwrap());
                let (copying, rel) = (copying.clone(), rel.clone());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    let mut seen: Vec<u8> = Vec::new();
                    while !rel.load(Ordering::SeqCst) {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        seen.extend_from_slice(&buf[..n]);
                        if seen.windows(9).any(|w| w == b"TO STDOUT") {
                            copying.store(true, Ordering::SeqCst);
                        }
                        let keep = seen.len().saturating_sub(16);
                        seen.drain(..keep);
                        if to.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                });
            }
            // Server to client: stall 64 KiB into the COPY's answer.
            let (mut from, mut to) = (up, client);
            let (rel, st) = (rel.clone(), st.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut after_copy = 0usize;
                while !rel.load(Ordering::SeqCst) {
                    let n = match from.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    if copying.load(Ordering::SeqCst) {
                        after_copy += n;
                    }
                    if after_copy < 64 * 1024 {
                        if to.write_all(&buf[..n]).is_err() {
                            return;
                        }
                        continue;
                    }
                    st.fetch_add(1, Ordering::SeqCst);
                    match trickle {
                        None => {
                            while !rel.load(Ordering::SeqCst) {
                                std::thread::sleep(Duration::from_millis(20));
                            }
                            return;
                        }
                        Some((step, every)) => {
                            for piece in buf[..n].chunks(step) {
                                if rel.load(Ordering::SeqCst) || to.write_all(piece).is_err() {
                                    return;
                                }
                                std::thread::sleep(every);
                            }
                        }
                    }
                }
            });
        }
    });
    Proxy {
        port,
        release,
        stalled,
    }
}

/// A database with a table whose COPY text is a few megabytes.
fn big(server: &pg::Server, db: &str) -> String {
    server.create_db(db);
    server
        .client(db)
        .batch_execute(
            "CREATE TABLE public.big (n int, v text);
             INSERT INTO public.big SELECT g, pg_catalog.repeat('x', 40) FROM pg_catalog.generate_series(1, 100000) g;",
        )
        .unwrap();
    format!("host=127.0.0.1 dbname={db} user=postgres connect_timeout=10")
}

#[test]
fn a_server_that_stalls_mid_copy_fails_the_snapshot_within_the_read_timeout_and_writes_nothing() {
    let server = pg::shared();
    let base = big(&server, "stall_mid_copy");
    let p = proxy(&server, None);
    let conn = format!("{base} port={}", p.port);
    let d = tempfile::tempdir().unwrap();
    write_spec(
        d.path(),
        "HOLDFAST_TEST_PG_STALL",
        "read_timeout_seconds = 2\nparallel = 1",
    );
    let t0 = Instant::now();
    let out = snapshot(d.path(), "HOLDFAST_TEST_PG_STALL", &conn, "snap.json").code(1);
    let took = t0.elapsed();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        p.stalled.load(Ordering::SeqCst) > 0,
        "the proxy stalled the COPY"
    );
    assert!(
        stderr.contains("no answer from the server for 2 s while reading table:public.big")
            && stderr.contains("read_timeout_seconds")
            && stderr.contains("database stall_mid_copy"),
        "{stderr}"
    );
    assert!(!stderr.contains("written"), "no success word: {stderr}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(!d.path().join("snap.json").exists(), "nothing written");
}

#[test]
fn a_copy_that_only_trickles_is_ended_by_holdfast_after_its_statement_timeout() {
    let server = pg::shared();
    let base = big(&server, "trickle_mid_copy");
    let p = proxy(&server, Some((64, Duration::from_millis(20))));
    let opts = PgOptions {
        statement_timeout_seconds: 1,
        read_timeout_seconds: 2,
        parallel: 1,
        ..PgOptions::default()
    };
    let t0 = Instant::now();
    let e = hpg::read(&format!("{base} port={}", p.port), &opts, "db").unwrap_err();
    let took = t0.elapsed();
    assert!(
        p.stalled.load(Ordering::SeqCst) > 0,
        "the proxy trickled the COPY"
    );
    assert_eq!(e.exit_code(), 1);
    let m = e.to_string();
    assert!(
        m.contains("still reading table:public.big after statement_timeout_seconds = 1")
            && m.contains("holdfast does"),
        "{m}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

/// A database owner can make every session that connects to their database
/// switch role (`ALTER DATABASE ... SET role`): a superuser's snapshot would
/// then read, and record itself, as the owner. The session resets the role
/// to the one it logged in as.
#[test]
fn a_database_default_role_does_not_change_who_reads() {
    let server = pg::Server::start();
    seed(&server, "owned");
    server
        .client("postgres")
        .batch_execute(
            "CREATE ROLE hf_owner NOLOGIN; ALTER DATABASE owned OWNER TO hf_owner; \
             ALTER DATABASE owned SET role = 'hf_owner'",
        )
        .unwrap();
    // Control: an ordinary session in that database runs as the owner.
    let who: String = server
        .client("owned")
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(who, "hf_owner");
    let r = hpg::read(&server.conn("owned"), &PgOptions::default(), "db").unwrap();
    assert_eq!(r.target.role, "postgres");
    assert!(r.target.superuser);
}
