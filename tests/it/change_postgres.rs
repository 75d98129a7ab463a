//! Governed changes on a real PostgreSQL server (started by `support/pg.rs`):
//! a migration is rehearsed on a `CREATE DATABASE ... TEMPLATE` copy, which
//! is dropped afterwards, then run on the real database and proven inside
//! its declared parts.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::pg;
use assert_cmd::Command;
use serde_json::Value;

fn seed(server: &pg::Server, db: &str) -> String {
    server.create_db(db);
    server
        .client(db)
        .batch_execute(
            "CREATE TABLE orders (id int PRIMARY KEY, total numeric(10,2));
             CREATE TABLE customers (id int PRIMARY KEY, name text);
             INSERT INTO orders VALUES (1, 9.99), (2, 20.00);
             INSERT INTO customers VALUES (1, 'alice'), (2, 'bob');",
        )
        .unwrap();
    server.conn(db)
}

fn digests(conn: &str) -> std::collections::BTreeMap<String, String> {
    holdfast::surface::snapshot::postgres::read(
        conn,
        &holdfast::surface::snapshot::postgres::PgOptions::default(),
        "db",
    )
    .unwrap()
    .reading
    .parts
}

fn psql(server: &pg::Server, sql: &str) -> String {
    format!(
        "{} \"$HOLDFAST_PG_SHOP_DB\" -X -q -v ON_ERROR_STOP=1 -c \"{sql}\"",
        server.bin().join("psql").display()
    )
}

/// A spec whose one surface is the database, and whose change runs `change`
/// and `rollback` (shell command lines) against it.
fn spec(conn: &str, change: &str, rollback: &str) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("spec");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/config-change");
    fs::create_dir_all(d.join("source")).unwrap();
    fs::create_dir_all(d.join("registry")).unwrap();
    fs::write(d.join("source/README.md"), "the shop database\n").unwrap();
    fs::copy(
        example.join("registry/registry-import.json"),
        d.join("registry/registry-import.json"),
    )
    .unwrap();
    fs::copy(
        example.join("production-rollback-rehearsal-plan.md"),
        d.join("production-rollback-rehearsal-plan.md"),
    )
    .unwrap();
    fs::write(
        d.join("gates.toml"),
        "[probes]\ntimeout_seconds = 60\nclasses = [\"tampered-artifact\"]\n",
    )
    .unwrap();
    let q = |s: &str| serde_json::to_string(s).unwrap();
    fs::write(
        d.join("packet.toml"),
        format!(
            r#"[packet]
macro = "T_MIGRATION"
status_prefix = "T_MIGRATION"
title = "test migration"
date = "2026-07-01"

[authorization]
text = "add a column to orders"
scope = "production"
[[authorization.mutations]]
kind = "change"
id = "add-note"
argv = ["sh", "-c", {}]
rollback = ["sh", "-c", {}]
timeout_seconds = 60
[authorization.mutations.may_change]
shop-db = ["schema", "table:public.orders"]

[flags]
production_mutation = true
real_run_cutover = false
live_system_contact = "read-write"

[run]
change = "add-note"

[registry]
import = "registry/registry-import.json"

[source]
root = "source"
"#,
            q(change),
            q(rollback)
        ),
    )
    .unwrap();
    fs::write(
        d.join("surfaces.toml"),
        format!(
            r#"[[surface]]
id = "shop-db"
table = "production"
name = "shop database"
kind = "database"
status = "known"
risk = "critical"
gate = "governed migration"
[[surface.evidence]]
path = "README.md"
[surface.snapshot]
method = "postgres"
connection = {}

[[boundary]]
id = "orders-migration-only"
title = "NO database change but the authorized orders migration"
surfaces = ["shop-db"]
"#,
            q(conn)
        ),
    )
    .unwrap();
    (t, d)
}

fn run(d: &Path) -> (Option<i32>, String, PathBuf) {
    let packet = d.parent().unwrap().join("packet");
    let out = Command::cargo_bin("holdfast")
        .unwrap()
        .arg("run")
        .arg(d)
        .arg("--out")
        .arg(&packet)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        packet,
    )
}

fn json(p: &Path, name: &str) -> Value {
    serde_json::from_slice(&fs::read(p.join(name)).unwrap()).unwrap()
}

/// The tests of this module run one at a time: each counts the rehearsal
/// copies left on the shared server, and another test's rehearsal in
/// progress would be counted too.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn rehearsal_copies_left(server: &pg::Server) -> i64 {
    server
        .client("postgres")
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'holdfast_rehearsal_%'",
            &[],
        )
        .unwrap()
        .get(0)
}

#[test]
fn a_migration_inside_its_parts_is_matched_after_a_template_rehearsal() {
    let _serial = serial();
    let server = pg::shared();
    let conn = seed(&server, "chg_matched");
    let (_t, d) = spec(
        &conn,
        &psql(&server, "ALTER TABLE orders ADD COLUMN note text"),
        &psql(&server, "ALTER TABLE orders DROP COLUMN note"),
    );
    let before = digests(&conn);
    let (code, stderr, packet) = run(&d);
    assert_eq!(code, Some(0), "{stderr}");
    let proof = json(&packet, "forbidden-surface-proof.json");
    let s = &proof["surfaces"][0];
    assert_eq!(s["status"], "AUTHORIZED_CHANGE_MATCHED", "{s}");
    let after = digests(&conn);
    assert_ne!(before["schema"], after["schema"]);
    assert_eq!(
        before["table:public.customers"],
        after["table:public.customers"]
    );
    let result = json(&packet, "change-result.json");
    assert_eq!(result["rehearsal"]["passed"], true, "{result}");
    assert_eq!(
        result["rehearsal"]["copied"],
        serde_json::json!(["shop-db"])
    );
    assert_eq!(
        rehearsal_copies_left(&server),
        0,
        "the template copy was not dropped"
    );
    Command::cargo_bin("holdfast")
        .unwrap()
        .args(["verify", "--rerun"])
        .arg(&packet)
        .assert()
        .success();
}

#[test]
fn a_migration_that_also_updates_customers_is_stopped_at_the_rehearsal() {
    let _serial = serial();
    let server = pg::shared();
    let conn = seed(&server, "chg_outside");
    let (_t, d) = spec(
        &conn,
        &psql(
            &server,
            "ALTER TABLE orders ADD COLUMN note text; UPDATE customers SET name = 'mallory'",
        ),
        &psql(&server, "ALTER TABLE orders DROP COLUMN note"),
    );
    let before = digests(&conn);
    let (code, stderr, packet) = run(&d);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("shop-db:table:public.customers"),
        "{stderr}"
    );
    assert_eq!(digests(&conn), before, "the real database changed");
    assert_eq!(json(&packet, "change-result.json")["performed"], false);
    assert_eq!(rehearsal_copies_left(&server), 0);
}

#[test]
fn a_rollback_that_forgets_a_column_fails_the_rehearsal() {
    let _serial = serial();
    let server = pg::shared();
    let conn = seed(&server, "chg_forgets");
    let (_t, d) = spec(
        &conn,
        &psql(
            &server,
            "ALTER TABLE orders ADD COLUMN note text; ALTER TABLE orders ADD COLUMN tag text",
        ),
        &psql(&server, "ALTER TABLE orders DROP COLUMN note"),
    );
    let before = digests(&conn);
    let (code, stderr, _packet) = run(&d);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("after the rollback the copy differs from the before snapshot"),
        "{stderr}"
    );
    assert_eq!(digests(&conn), before);
    assert_eq!(rehearsal_copies_left(&server), 0);
}

#[test]
fn a_migration_that_fails_on_the_real_database_is_rolled_back_exactly() {
    let _serial = serial();
    let server = pg::shared();
    let conn = seed(&server, "chg_fails");
    let change = format!(
        "{} && if [ \"$HOLDFAST_PHASE\" = change ]; then exit 4; fi",
        psql(&server, "ALTER TABLE orders ADD COLUMN note text")
    );
    let (_t, d) = spec(
        &conn,
        &change,
        &psql(&server, "ALTER TABLE orders DROP COLUMN note"),
    );
    let before = digests(&conn);
    let (code, stderr, packet) = run(&d);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("ROLLED_BACK_EXACT"), "{stderr}");
    assert_eq!(
        json(&packet, "change-result.json")["rollback_result"]["status"],
        "ROLLED_BACK_EXACT"
    );
    assert_eq!(digests(&conn), before);
}

#[test]
fn a_database_with_other_sessions_cannot_be_rehearsed_and_is_not_changed() {
    let _serial = serial();
    let server = pg::shared();
    let conn = seed(&server, "chg_busy");
    let (_t, d) = spec(
        &conn,
        &psql(&server, "ALTER TABLE orders ADD COLUMN note text"),
        &psql(&server, "ALTER TABLE orders DROP COLUMN note"),
    );
    let _other_session = server.client("chg_busy");
    let before = digests(&conn);
    let (code, stderr, packet) = run(&d);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("the rehearsal is impossible"), "{stderr}");
    assert!(stderr.contains("TEMPLATE chg_busy failed"), "{stderr}");
    assert_eq!(digests(&conn), before);
    assert_eq!(
        json(&packet, "change-record.json")["rehearsal"]["runs"],
        serde_json::json!([])
    );
    // The impossible rehearsal is a blocker derived from the record, and
    // production stays on hold.
    let map = json(&packet, "production-blocker-map.json");
    let blocker = map["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["kind"] == "impossible-rehearsal")
        .unwrap_or_else(|| panic!("no impossible-rehearsal blocker: {map}"));
    assert_eq!(blocker["status"], "open");
    assert!(
        blocker["title"]
            .as_str()
            .unwrap()
            .contains("TEMPLATE chg_busy failed"),
        "{blocker}"
    );
    assert_eq!(
        json(&packet, "manifest.json")["status"]["decision"],
        "HOLD_PRODUCTION"
    );
    // Nothing touched the real database: the contact is not read-write.
    assert_eq!(
        json(&packet, "change-result.json")["touched_real"],
        serde_json::json!([])
    );
}
