//! The PostgreSQL backend: a registry in schema `holdfast` of a database.
//!
//! Four tables, created by `registry init` / `import` / `export`:
//! `holdfast.lock` (one row, the writers' mutex), `holdfast.files` (every
//! document, blob and the completion marker, by the same name the directory
//! backend gives the file), `holdfast.log` (one row per history line) and
//! `holdfast.parts`: the records documents (`objects.json`, `objects.md`)
//! are kept as consecutive parts (name, start offset, bytes) instead of one
//! `files` row, so a claim inserts a row instead of rewriting the document;
//! read back, the parts are the document's bytes. An append merges the
//! trailing parts as they accumulate (see [`MERGE_AT_PARTS`]), so their number
//! stays small however many claims were made. A registry made before the
//! parts table existed has none, and its claims take the full way.
//!
//! A store takes the registry with a session-level advisory lock (held
//! until it is dropped, so no writer comes between two of its
//! transactions) and `SELECT … FOR UPDATE` on the lock row inside a
//! transaction, and everything it writes goes into that transaction;
//! [`Backend::durable`] commits it (the commit point), and the lock row is
//! taken again before the store's next read or write, where a writer that
//! came in anyway is noticed. So concurrent writers queue on the row lock
//! and never see each other's half, and a client killed mid-write or a
//! server crash leaves the last committed state: PostgreSQL's atomicity is
//! the crash safety. Every statement names its tables with the schema and
//! the session pins `search_path` to `pg_catalog`; a trigger or rule on the
//! tables (which could rewrite what holdfast stores) is refused.
//!
//! A write waits on the lock row for as long as the transaction lasts, so a
//! transaction is kept to few round trips: inside it, the writes of up to
//! [`BATCH_BYTES`] are not sent one by one but kept in order and sent as one
//! multi-statement query when the transaction commits (or before a read
//! that must see them; a document written whole is read back from memory).
//! Their bytes go as hex inside `pg_catalog.decode`, so no setting of the
//! session changes what is stored. A write larger than [`BATCH_ITEM_BYTES`]
//! is sent at once instead (after the kept ones), its bytes as a binary
//! parameter: lexing hex costs the server more than a round trip. Every
//! other statement is sent with its parameter types given, which spares the
//! round trip of preparing it.
//!
//! New tables store their bytes compressed with lz4 where the server has it
//! (PostgreSQL 14 and later, built with lz4): the default, pglz, compresses
//! and decompresses several times slower, and every write and every full
//! read of the registry pays for it.
//!
//! The URL must not carry a password: it comes from `PGPASSWORD` or a pgpass
//! file ([`fill_password`]; or is not needed, as over a trusted Unix socket),
//! never from a spec or a command line.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use postgres::error::SqlState;
use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls, SimpleQueryMessage};

use super::{Backend, Hold, ReadAhead};
use crate::error::{Error, Result};
use crate::pgconn::{fill_password, parse_config, pg_error};
use crate::registry::history::LOG_FILE;

/// Key of the session-level advisory lock a store holds from open to
/// drop, so that no other writer comes in between two of its transactions
/// (a fold and its undo). Released by the server when the session ends,
/// however it ends.
const WRITER_LOCK_KEY: i64 = 0x686f_6c64_6661_7374; // "holdfast"

/// The schema holdfast's tables live in.
pub const SCHEMA: &str = "holdfast";

/// Writes inside a transaction are kept and sent together until their
/// bytes reach this much.
pub const BATCH_BYTES: usize = 4 << 20;

/// A single write larger than this is not kept but sent at once, its bytes
/// as a binary parameter: the server lexes a string literal at about
/// 100 MB/s, so a megabyte of hex costs it more than the round trip it
/// spares (measured: 47 ms to lex the 5.4 MB of hex of a 2.7 MB document).
pub const BATCH_ITEM_BYTES: usize = 16 << 10;

/// A registry in a PostgreSQL database.
#[derive(Debug)]
pub struct PgBackend {
    location: PathBuf,
    session: Arc<Mutex<Session>>,
}

/// Where the session stands with the registry's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tx {
    /// Not held: every statement commits on its own.
    Idle,
    /// Held, inside a transaction that has the lock row.
    Open,
    /// Held (the advisory lock) after a commit: the next statement first
    /// begins a transaction and takes the lock row again.
    Committed,
    /// Committed and let go at once ([`Backend::finish`]) while the hold
    /// is still alive: nothing more may be written through it.
    Released,
}

/// Writes of the open transaction not yet sent to the server.
#[derive(Debug, Default)]
struct Pending {
    /// The statements, in order, `;`-terminated.
    sql: String,
    /// Documents written whole by these statements: a read is answered
    /// from here.
    whole: HashMap<String, Vec<u8>>,
    /// Names these statements change otherwise: a read sends them first.
    dirty: HashSet<String>,
    /// Whether they append to the log.
    log: bool,
    /// Per in-place append, the name and where its parts must end: checked
    /// when they are sent (in order, one row each).
    ends: Vec<(String, i64)>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.sql.is_empty()
    }

    fn touches(&self, rel: &str) -> bool {
        self.dirty.contains(rel) || (rel == LOG_FILE && self.log)
    }
}

/// What one [`Backend::read_ahead`] round trip brought back, answered from
/// memory until the transaction it was read in ends. Only read while the
/// registry is held (so no holdfast writer changes these rows meanwhile);
/// a name this session writes leaves it at once, so an answer from here is
/// what the server would give at the moment of the read-ahead.
#[derive(Debug, Default)]
struct Ahead {
    /// Per name: the bytes of its `files` row, or `None` when it has
    /// neither a `files` row nor parts (a name kept as parts is not here).
    files: HashMap<String, Option<Vec<u8>>>,
    /// Per name asked about only: whether it exists (as a `files` row or
    /// as parts).
    present: HashMap<String, bool>,
    /// Per name: its [`Backend::fingerprint`].
    fingerprints: HashMap<String, Option<String>>,
    /// How many of the log's last lines were asked for, and those that came
    /// (oldest first; fewer when the log is shorter).
    log_tail: Option<(usize, Vec<Vec<u8>>)>,
}

impl Ahead {
    /// Forgets what it knows of `rel`, which is being written.
    fn forget(&mut self, rel: &str) {
        self.files.remove(rel);
        self.present.remove(rel);
        self.fingerprints.remove(rel);
    }
}

struct Session {
    client: Client,
    tx: Tx,
    /// Log length at the last commit of this session, to notice a writer
    /// that came in between that commit and the lock row taken again.
    committed_len: i64,
    /// Set when another writer changed the registry between two of this
    /// session's writes, or a sent batch failed: every further write is
    /// refused.
    overtaken: bool,
    /// Whether `holdfast.parts` exists.
    has_parts: bool,
    pending: Pending,
    /// What the last read-ahead of the open transaction brought back.
    ahead: Ahead,
    /// The read-ahead query, prepared once per session (per shape: with or
    /// without the parts table) with a generic plan: planning its four
    /// branches cost the server more than running them, twice a claim.
    ahead_statements: HashMap<bool, postgres::Statement>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Session")
    }
}

impl std::fmt::Debug for PgHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgHold")
    }
}

/// The registry held by one session; its open transaction is rolled back
/// and the advisory lock released when dropped.
struct PgHold {
    session: Arc<Mutex<Session>>,
}

impl Hold for PgHold {}

impl Drop for PgHold {
    fn drop(&mut self) {
        let mut s = lock_session(&self.session);
        // Nothing uncommitted is kept: whatever `durable` did not commit
        // was never promised to anyone.
        s.pending = Pending::default();
        s.ahead = Ahead::default();
        if s.tx != Tx::Released {
            let in_transaction = s.tx == Tx::Open;
            release(&mut s.client, in_transaction);
        }
        s.tx = Tx::Idle;
    }
}

/// Rolls back the open transaction (when there is one) and releases the
/// writers' advisory lock, in one round trip; errors are the session's end
/// anyway (the server releases both when it goes).
fn release(client: &mut Client, in_transaction: bool) {
    let rollback = if in_transaction { "ROLLBACK; " } else { "" };
    let _ = client.simple_query(&format!("{rollback}{}", unlock_sql()));
}

/// The statement that releases the writers' advisory lock (one row).
fn unlock_sql() -> String {
    format!("SELECT pg_catalog.pg_advisory_unlock({WRITER_LOCK_KEY})")
}

/// The log's length, from the last row of a simple query ending in
/// [`LOG_LEN`].
fn log_len_row(rows: &[&postgres::SimpleQueryRow]) -> Result<i64> {
    rows.last()
        .and_then(|r| r.get(0))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::failed("internal: the log's length did not come back"))
}

/// Locks holdfast's tables for the rest of the transaction in a mode that
/// lets readers and autovacuum in but makes `CREATE TRIGGER`, `CREATE
/// RULE`, `ALTER TABLE` (row security, inheritance, a new foreign key
/// referencing them) and `DROP` wait until it ends: so what [`PLANTED`]
/// finds is what the transaction's writes go through.
fn lock_tables_sql(has_parts: bool) -> &'static str {
    if has_parts {
        "LOCK TABLE holdfast.files, holdfast.log, holdfast.parts IN ROW EXCLUSIVE MODE"
    } else {
        "LOCK TABLE holdfast.files, holdfast.log IN ROW EXCLUSIVE MODE"
    }
}

/// What [`MAYBE_PLANTED`] said, from the rows of a simple query whose
/// second last statement it is (the last: [`LOG_LEN`]); a missing or odd
/// row says yes, so [`PLANTED`] is asked.
fn maybe_planted_row(rows: &[&postgres::SimpleQueryRow]) -> bool {
    rows.len() < 2 || rows[rows.len() - 2].get(0) != Some("f")
}

fn lock_session(session: &Mutex<Session>) -> MutexGuard<'_, Session> {
    session.lock().unwrap_or_else(|e| e.into_inner())
}

const CREATE: &str = "CREATE SCHEMA IF NOT EXISTS holdfast;
CREATE TABLE IF NOT EXISTS holdfast.lock (id integer PRIMARY KEY CHECK (id = 1));
INSERT INTO holdfast.lock (id) VALUES (1) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS holdfast.files (name text PRIMARY KEY, bytes bytea NOT NULL);
CREATE TABLE IF NOT EXISTS holdfast.log (seq bigint PRIMARY KEY CHECK (seq > 0), line bytea NOT NULL);
CREATE TABLE IF NOT EXISTS holdfast.parts (name text NOT NULL, start bigint NOT NULL CHECK (start >= 0), bytes bytea NOT NULL, PRIMARY KEY (name, start));";

/// Triggers (also the internal ones a foreign key referencing a table adds:
/// holdfast's own tables have none, and a cascade from them runs whatever
/// trigger the referencing table has), rules, row security, tables that
/// inherit from holdfast's or that they are partitions of (a `DELETE` or
/// `UPDATE` reaches those, and their triggers) and a table of holdfast's
/// replaced by another kind of relation: any could make the database store
/// or return other bytes than holdfast wrote.
const PLANTED: &str = "SELECT c.relname::text, 'trigger ' || t.tgname::text
  FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'holdfast'
UNION ALL
SELECT c.relname::text, 'rule ' || r.rulename::text
  FROM pg_catalog.pg_rewrite r
  JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'holdfast' AND c.relkind = 'r'
UNION ALL
SELECT c.relname::text, 'row security'
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'holdfast' AND c.relrowsecurity
UNION ALL
SELECT c.relname::text, CASE WHEN i.inhrelid = c.oid THEN 'parent table'
                            ELSE 'table inheriting from it' END
  FROM pg_catalog.pg_inherits i
  JOIN pg_catalog.pg_class c ON c.oid = i.inhparent OR c.oid = i.inhrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'holdfast'
UNION ALL
SELECT c.relname::text, 'relation kind ' || c.relkind::text
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'holdfast' AND c.relname IN ('lock', 'files', 'log', 'parts') AND c.relkind <> 'r'
LIMIT 1";

/// Whether [`PLANTED`] can find anything: the flags `pg_class` keeps for a
/// table with (or that once had) a trigger, a rule or row security, and a
/// table of holdfast's that is not a plain table. One catalog, so it costs
/// the server a third of [`PLANTED`], which every writer pays while it holds
/// the registry; only when this says so is [`PLANTED`] asked which.
const MAYBE_PLANTED: &str = "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'holdfast'
   AND (c.relhastriggers OR c.relhasrules OR c.relrowsecurity
        OR c.relhassubclass OR c.relispartition
        OR (c.relname IN ('lock', 'files', 'log', 'parts') AND c.relkind <> 'r')))";

/// Whether holdfast's three first tables exist, and its parts table.
const TABLES: &str = "SELECT pg_catalog.to_regclass('holdfast.log') IS NOT NULL \
   AND pg_catalog.to_regclass('holdfast.files') IS NOT NULL \
   AND pg_catalog.to_regclass('holdfast.lock') IS NOT NULL, \
   pg_catalog.to_regclass('holdfast.parts') IS NOT NULL";

/// The log's length (its rows are numbered 1, 2, … without gaps).
const LOG_LEN: &str = "SELECT coalesce(max(seq), 0) FROM holdfast.log";

/// The two halves of [`Backend::fingerprint`] of the name `name` (an SQL
/// expression: a parameter, a literal or a column), as two text columns:
/// its `files` row and its parts. A row's xmin is the transaction that
/// wrote that version of it: any UPDATE or INSERT gives a new one, which no
/// client can set.
fn fingerprint_sql(name: &str) -> String {
    format!(
        "(SELECT 'whole ' || xmin::text || ' ' || octet_length(bytes)::text \
            FROM holdfast.files WHERE name = {name}), \
         (SELECT 'parts ' || count(*)::text || ' ' || sum(octet_length(bytes))::text || ' ' || \
                 md5(string_agg(start::text || ':' || xmin::text, ',' ORDER BY start)) \
            FROM holdfast.parts WHERE name = {name} HAVING count(*) > 0)"
    )
}

/// The fingerprint from the halves [`fingerprint_sql`] gives: one of them,
/// never both (a name both whole and in parts has none).
fn fingerprint_of(whole: Option<String>, parts: Option<String>) -> Option<String> {
    match (whole, parts) {
        (Some(w), None) => Some(w),
        (None, Some(p)) => Some(p),
        _ => None,
    }
}

/// The read-ahead query (see [`Backend::read_ahead`]): `$1` names to
/// read, `$2` names to fingerprint, `$3` how many log lines, `$4` names
/// whose existence only is asked; rows of (kind, name, bytes, flag, text,
/// text), `has_parts`: whether `holdfast.parts` exists. The parts of a
/// name to read come as rows of their own (kind 4, the start as text),
/// put together as [`PgBackend::read_parts`] does.
fn read_ahead_sql(has_parts: bool) -> String {
    let in_parts = if has_parts {
        "EXISTS (SELECT 1 FROM holdfast.parts p WHERE p.name = n.name)"
    } else {
        "false"
    };
    format!(
        "SELECT 0, n.name, f.bytes, {in_parts}, NULL::text, NULL::text \
           FROM pg_catalog.unnest($1::text[]) AS n(name) \
           LEFT JOIN holdfast.files f ON f.name = n.name \
         UNION ALL \
         SELECT 3, n.name, NULL, \
                EXISTS (SELECT 1 FROM holdfast.files f WHERE f.name = n.name) OR {in_parts}, \
                NULL, NULL \
           FROM pg_catalog.unnest($4::text[]) AS n(name) \
         UNION ALL \
         SELECT 1, n.name, NULL, false, {} FROM pg_catalog.unnest($2::text[]) AS n(name) \
         UNION ALL \
         SELECT 2, NULL, l.line, false, l.seq::text, NULL \
           FROM (SELECT seq, line FROM holdfast.log ORDER BY seq DESC LIMIT $3) AS l{}",
        if has_parts {
            fingerprint_sql("n.name")
        } else {
            "NULL::text, NULL::text".to_string()
        },
        if has_parts {
            " UNION ALL \
             SELECT 4, p.name, p.bytes, false, p.start::text, NULL \
               FROM holdfast.parts p WHERE p.name = ANY ($1::text[])"
        } else {
            ""
        }
    )
}

/// A part at least this long is never merged into another (see
/// `merge_tail_sql`): a merge rewrites at most about twice this many
/// bytes, and such parts are at most one per this many bytes of the
/// document.
pub const MERGE_FREEZE_BYTES: i64 = 4 << 20;

/// An in-place append merges the document's trailing parts (see
/// `merge_tail_sql`) once it has this many parts, or when their number
/// is not known.
pub const MERGE_AT_PARTS: u64 = 8;

/// The number of parts a [`Backend::fingerprint`] of a name kept as parts
/// counts (`parts <count> <bytes> <md5>`); `None` for a name kept whole.
fn parts_count(fingerprint: &str) -> Option<u64> {
    fingerprint
        .strip_prefix("parts ")?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

/// The statement that keeps a records document's parts few, run after each
/// in-place append (`name`: a [`name_literal`]): without it every claim
/// adds a part, and what reads or fingerprints the document (twice a claim)
/// grows with the number of claims ever made.
///
/// Parts are merged from the end, as a binary counter carries: the
/// trailing parts are absorbed into one while each is not in a higher
/// power-of-two size class than the total of those after it, and is
/// shorter than [`MERGE_FREEZE_BYTES`]. So the size classes of the parts
/// after the last frozen one strictly decrease: at most one part per class
/// (about 30), and each byte is copied once per class it climbs, so a
/// claim's share of the merging stays proportional to its own records.
/// `msb(a) > msb(b)` is `a > b AND (a # b) > b` (exact, no logarithms).
/// Only when each part to merge starts where the one before it ends (the
/// check [`PgBackend::read_parts`] makes) is anything merged: a gap or an
/// overlap is left for a read to report. The bytes are the same after.
fn merge_tail_sql(name: &str) -> String {
    format!(
        "WITH w AS (SELECT start, octet_length(bytes)::bigint AS len, \
                (sum(octet_length(bytes)) OVER (ORDER BY start DESC \
                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING))::bigint AS after, \
                lag(start + octet_length(bytes)) OVER (ORDER BY start) AS prev_end \
               FROM holdfast.parts WHERE name = {name}), \
              kept AS (SELECT coalesce(max(start), -1) AS at FROM w \
                WHERE after IS NOT NULL \
                  AND (len >= {MERGE_FREEZE_BYTES} OR (len > after AND (len # after) > after))), \
              tail AS (SELECT min(w.start) AS first, count(*) AS n \
                         FROM w, kept WHERE w.start > kept.at), \
              merging AS (SELECT first FROM tail WHERE n > 1 AND NOT EXISTS \
                (SELECT 1 FROM w WHERE w.start > tail.first \
                    AND w.prev_end IS DISTINCT FROM w.start)), \
              whole AS (SELECT pg_catalog.string_agg(p.bytes, ''::bytea ORDER BY p.start) AS bytes \
                          FROM holdfast.parts p, merging \
                         WHERE p.name = {name} AND p.start >= merging.first), \
              gone AS (DELETE FROM holdfast.parts p USING merging \
                        WHERE p.name = {name} AND p.start > merging.first) \
         UPDATE holdfast.parts p SET bytes = whole.bytes FROM merging, whole \
          WHERE p.name = {name} AND p.start = merging.first AND whole.bytes IS NOT NULL; "
    )
}

/// Why parts are not a document (see [`join_parts`]).
#[derive(Debug, PartialEq, Eq)]
enum PartsProblem {
    /// A part starts at `start`, not at `end`, where the parts before it end.
    Gap { start: i64, end: usize },
    /// They hold more than the limit.
    TooLong,
}

/// The document that `parts` (start and bytes, in order of start) make
/// when each starts where the ones before it end, from 0, and they hold at
/// most `limit` bytes: the one check of a document kept as parts, for a
/// read and for a read-ahead alike.
fn join_parts<'a>(
    parts: impl IntoIterator<Item = (i64, &'a [u8])>,
    limit: u64,
) -> std::result::Result<Vec<u8>, PartsProblem> {
    let mut out = Vec::new();
    for (start, bytes) in parts {
        if start != out.len() as i64 {
            return Err(PartsProblem::Gap {
                start,
                end: out.len(),
            });
        }
        out.extend_from_slice(bytes);
        if out.len() as u64 > limit {
            return Err(PartsProblem::TooLong);
        }
    }
    Ok(out)
}

/// `rel` as a string literal of a batched statement. Names are holdfast's
/// own (`objects.json`, `history/blobs/<sha256>`, …); anything but those
/// characters is refused rather than quoted.
fn name_literal(rel: &str) -> Result<String> {
    let plain = !rel.is_empty()
        && rel
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'/' | b'-' | b'_'));
    if !plain {
        return Err(Error::failed(format!(
            "internal: {rel:?} is not a name holdfast stores"
        )));
    }
    Ok(format!("'{rel}'"))
}

/// `bytes` as an expression of a batched statement: hex digits only, so
/// no setting (`standard_conforming_strings`, `bytea_output`) changes them.
fn bytes_literal(bytes: &[u8]) -> String {
    format!("pg_catalog.decode('{}', 'hex')", hex::encode(bytes))
}

/// The rows of a simple query's statements, in order.
fn simple_rows(messages: &[SimpleQueryMessage]) -> Vec<&postgres::SimpleQueryRow> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn pg_io(location: &Path, doing: &str, e: &postgres::Error) -> Error {
    Error::io(
        location,
        std::io::Error::other(format!("{doing}: {}", pg_error(e))),
    )
}

fn no_registry(location: &Path) -> Error {
    Error::io(
        location,
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no registry here (create one with `holdfast registry init` or `holdfast registry import FILE`)",
        ),
    )
}

impl PgBackend {
    /// Connects to the database `url` names (`postgres://` or
    /// `postgresql://`; a Unix socket as a percent-encoded host). A URL
    /// carrying a password is refused (exit 2) and the message never
    /// repeats the URL; the password comes from `PGPASSWORD` or the pgpass
    /// file (one its group or others may access is refused, exit 5).
    pub fn connect(url: &str) -> Result<PgBackend> {
        let mut config = parse_config(url).map_err(Error::Usage)?;
        if config.get_password().is_some() {
            return Err(Error::Usage(
                "the registry URL carries a password; give it in PGPASSWORD (or a trusted socket) instead, never on a command line or in a spec"
                    .to_string(),
            ));
        }
        // From PGPASSWORD or the pgpass file, never from the URL.
        fill_password(&mut config).map_err(Error::refused)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(30));
        }
        let location = PathBuf::from(url);
        let mut client = config
            .connect(NoTls)
            .map_err(|e| pg_io(&location, "connecting", &e))?;
        let setup = format!(
            "SET search_path = pg_catalog, pg_temp; SET row_security = off; \
             SET bytea_output = 'hex'; SET client_encoding = 'UTF8'; \
             SET standard_conforming_strings = on; \
             SET idle_in_transaction_session_timeout = 0; {TABLES}; \
             SELECT pg_catalog.set_config('plan_cache_mode', 'force_generic_plan', false) \
              WHERE pg_catalog.current_setting('server_version_num')::integer >= 120000"
        );
        let messages = client
            .simple_query(&setup)
            .map_err(|e| pg_io(&location, "setting up the session", &e))?;
        let has_parts = simple_rows(&messages)
            .first()
            .and_then(|r| r.get(1))
            .is_some_and(|v| v == "t");
        Ok(PgBackend {
            location,
            session: Arc::new(Mutex::new(Session {
                client,
                tx: Tx::Idle,
                committed_len: 0,
                overtaken: false,
                has_parts,
                pending: Pending::default(),
                ahead: Ahead::default(),
                ahead_statements: HashMap::new(),
            })),
        })
    }

    fn fail(&self, doing: &str, e: &postgres::Error) -> Error {
        pg_io(&self.location, doing, e)
    }

    fn session(&self) -> MutexGuard<'_, Session> {
        lock_session(&self.session)
    }

    /// The session, ready for a statement: inside the transaction again
    /// when the registry is held and its last one committed.
    fn ready(&self) -> Result<MutexGuard<'_, Session>> {
        let mut s = self.session();
        if s.tx == Tx::Committed {
            self.begin_again(&mut s)?;
        }
        Ok(s)
    }

    /// After a commit, under the advisory lock: a transaction with the lock
    /// row again, and whether a writer came in since the commit.
    fn begin_again(&self, s: &mut Session) -> Result<()> {
        let sql = format!(
            "BEGIN ISOLATION LEVEL READ COMMITTED; \
             SELECT id FROM holdfast.lock WHERE id = 1 FOR UPDATE; {}; {MAYBE_PLANTED}; {LOG_LEN}",
            lock_tables_sql(s.has_parts)
        );
        let messages = s
            .client
            .simple_query(&sql)
            .map_err(|e| self.fail("taking the registry's lock row", &e))?;
        s.tx = Tx::Open;
        s.ahead = Ahead::default();
        let rows = simple_rows(&messages);
        if let Err(e) = self.refuse_planted(s, maybe_planted_row(&rows)) {
            // Refused once, refused for good: nothing more is written
            // through this session (a caller that swallowed the refusal,
            // as the cache's save does, must not write on).
            s.overtaken = true;
            return Err(e);
        }
        if log_len_row(&rows)? != s.committed_len {
            s.overtaken = true;
        }
        Ok(())
    }

    /// Asks [`PLANTED`] when [`MAYBE_PLANTED`] said `maybe`, and refuses
    /// what it finds.
    fn refuse_planted(&self, s: &mut Session, maybe: bool) -> Result<()> {
        if !maybe {
            return Ok(());
        }
        let messages = s
            .client
            .simple_query(PLANTED)
            .map_err(|e| self.fail("checking holdfast's tables", &e))?;
        self.refuse_planted_rows(&simple_rows(&messages))
    }

    /// Refuses tables a trigger, rule or policy could make lie, given the
    /// rows of [`PLANTED`].
    fn refuse_planted_rows(&self, rows: &[&postgres::SimpleQueryRow]) -> Result<()> {
        if let Some(r) = rows.first() {
            let table = r.get(0).unwrap_or("?");
            let what = r.get(1).unwrap_or("?");
            return Err(Error::refused(format!(
                "{}: table {SCHEMA}.{table} has a {what} that holdfast did not create; it could change what the registry stores, so nothing is read or written (drop it)",
                self.location.display()
            )));
        }
        Ok(())
    }

    fn check_not_overtaken(&self, s: &Session) -> Result<()> {
        if s.tx == Tx::Released {
            return Err(Error::failed(format!(
                "internal: {}: a write after the registry was let go; nothing more was written",
                self.location.display()
            )));
        }
        if s.overtaken {
            return Err(Error::refused(format!(
                "{}: another writer changed the registry since this command's last write, or a write failed; nothing more was written (run the command again)",
                self.location.display()
            )));
        }
        Ok(())
    }

    /// Sends the kept writes (see the module docs) and checks where each
    /// in-place append ended. A failure leaves the transaction to be rolled
    /// back and refuses every further write.
    fn flush(&self, s: &mut Session) -> Result<()> {
        self.flush_then(s, "", 0).map(|_| ())
    }

    /// [`PgBackend::flush`], then the statements `then` (each returning
    /// one row) in the same round trip: their rows, as text.
    fn flush_then(
        &self,
        s: &mut Session,
        then: &str,
        then_rows: usize,
    ) -> Result<Vec<Vec<Option<String>>>> {
        if s.pending.is_empty() && then.is_empty() {
            return Ok(Vec::new());
        }
        let pending = std::mem::take(&mut s.pending);
        let messages = match s.client.simple_query(&format!("{}{then}", pending.sql)) {
            Ok(m) => m,
            Err(e) => {
                s.overtaken = true;
                s.ahead = Ahead::default();
                return Err(self.fail("writing the registry", &e));
            }
        };
        let rows = simple_rows(&messages);
        if rows.len() != pending.ends.len() + then_rows {
            s.overtaken = true;
            return Err(Error::failed(format!(
                "internal: {} in-place appends and {then_rows} other rows were asked for, {} came back",
                pending.ends.len(),
                rows.len()
            )));
        }
        let (ends, then_rows) = rows.split_at(pending.ends.len());
        let then_rows = then_rows
            .iter()
            .map(|r| (0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            .collect();
        for (row, (rel, keep)) in ends.iter().zip(&pending.ends) {
            let end: Option<i64> = row.get(0).and_then(|v| v.parse().ok());
            if end != Some(*keep) {
                s.overtaken = true;
                return Err(Error::failed(format!(
                    "internal: {rel}: cannot keep {keep} bytes of its parts (they end at {})",
                    end.map_or("?".to_string(), |e| e.to_string())
                )));
            }
        }
        Ok(then_rows)
    }

    /// The kept writes, then the [fingerprint](Backend::fingerprint) of
    /// each of `rels`, in one round trip.
    fn flush_and_fingerprint(&self, s: &mut Session, rels: &[&str]) -> Result<Vec<Option<String>>> {
        let mut sql = String::new();
        for rel in rels {
            let _ = write!(sql, "SELECT {}; ", fingerprint_sql(&name_literal(rel)?));
        }
        let rows = self.flush_then(s, &sql, rels.len())?;
        Ok(rows
            .into_iter()
            .map(|mut r| {
                let whole = r.get_mut(0).and_then(Option::take);
                let parts = r.get_mut(1).and_then(Option::take);
                fingerprint_of(whole, parts)
            })
            .collect())
    }

    /// Stores the tables' bytes compressed with lz4 from now on, where the
    /// server has it; a server without it keeps its default (nothing else
    /// changes: what is stored is decompressed to the same bytes).
    fn prefer_lz4(s: &mut Session) {
        let in_tx = s.tx == Tx::Open;
        let alter = "ALTER TABLE holdfast.files ALTER COLUMN bytes SET COMPRESSION lz4; \
                     ALTER TABLE holdfast.parts ALTER COLUMN bytes SET COMPRESSION lz4; \
                     ALTER TABLE holdfast.log ALTER COLUMN line SET COMPRESSION lz4";
        let sql = if in_tx {
            format!("SAVEPOINT holdfast_lz4; {alter}; RELEASE SAVEPOINT holdfast_lz4")
        } else {
            alter.to_string()
        };
        if s.client.batch_execute(&sql).is_err() && in_tx {
            let _ = s.client.batch_execute(
                "ROLLBACK TO SAVEPOINT holdfast_lz4; RELEASE SAVEPOINT holdfast_lz4",
            );
        }
    }

    /// Whether a write goes into the batch: inside the held transaction,
    /// and small enough to be cheaper as hex than as a round trip of its own.
    fn batching(s: &Session, len: usize) -> bool {
        s.tx == Tx::Open && len <= BATCH_ITEM_BYTES
    }

    /// Sends the batch first when it has grown to [`BATCH_BYTES`].
    fn bound_batch(&self, s: &mut Session) -> Result<()> {
        if s.pending.sql.len() > 2 * BATCH_BYTES {
            self.flush(s)?;
        }
        Ok(())
    }

    fn log_len(&self, s: &mut Session) -> Result<i64> {
        let row = s
            .client
            .query_typed_one(LOG_LEN, &[])
            .map_err(|e| self.fail("counting the log", &e))?;
        Ok(row.get(0))
    }

    /// The bytes of `rel` kept as parts, `None` when it has none.
    fn read_parts(&self, s: &mut Session, rel: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        if !s.has_parts {
            return Ok(None);
        }
        let rows = s
            .client
            .query_typed(
                "SELECT start, bytes FROM holdfast.parts WHERE name = $1 ORDER BY start",
                &[(&rel, Type::TEXT)],
            )
            .map_err(|e| self.fail(&format!("reading {rel}"), &e))?;
        if rows.is_empty() {
            return Ok(None);
        }
        let parts = rows
            .iter()
            .map(|r| (r.get::<_, i64>(0), r.get::<_, &[u8]>(1)));
        match join_parts(parts, limit) {
            Ok(out) => Ok(Some(out)),
            Err(PartsProblem::Gap { start, end }) => Err(Error::malformed(
                self.path(rel),
                format!(
                    "its parts in {SCHEMA}.parts do not follow each other (a part starts at {start}, the parts before end at {end}); edited by hand?"
                ),
            )),
            Err(PartsProblem::TooLong) => Err(Error::malformed(
                self.path(rel),
                format!("longer than the {limit} bytes holdfast reads"),
            )),
        }
    }

    /// Deletes the rows of `rel` from `holdfast.<table>` (`files` or `parts`).
    fn delete_named(&self, s: &mut Session, doing: &str, table: &str, rel: &str) -> Result<u64> {
        let sql = match table {
            "files" => "DELETE FROM holdfast.files WHERE name = $1",
            _ => "DELETE FROM holdfast.parts WHERE name = $1",
        };
        self.exec(s, doing, sql, &[(&rel, Type::TEXT)])
    }

    /// [`Backend::durable`], and with `release` also [`Backend::finish`]:
    /// the kept writes, the log's length, the commit and (`release`) the
    /// advisory lock's release, in one round trip.
    fn commit(&self, release: bool) -> Result<()> {
        let mut s = self.session();
        s.ahead = Ahead::default();
        let unlock = unlock_sql();
        match s.tx {
            // Not held: every statement committed on its own.
            Tx::Idle | Tx::Released => return Ok(()),
            // Nothing written since the last commit.
            Tx::Committed => {
                // Let go only when the server says so; else the hold, when
                // it drops, releases the lock.
                if release && s.client.simple_query(&unlock).is_ok() {
                    s.tx = Tx::Released;
                }
                return Ok(());
            }
            Tx::Open => {}
        }
        self.check_not_overtaken(&s)?;
        if !s.pending.ends.is_empty() {
            self.flush(&mut s)?;
        }
        let sql = if release {
            format!("{}{LOG_LEN}; COMMIT; {unlock}", s.pending.sql)
        } else {
            format!("{}{LOG_LEN}; COMMIT", s.pending.sql)
        };
        s.pending = Pending::default();
        let messages = match s.client.simple_query(&sql) {
            Ok(m) => m,
            Err(e) => {
                s.overtaken = true;
                return Err(self.fail("committing the write", &e));
            }
        };
        let rows = simple_rows(&messages);
        let len_rows = if release {
            &rows[..rows.len().saturating_sub(1)]
        } else {
            &rows[..]
        };
        s.committed_len = log_len_row(len_rows)?;
        // The store keeps the registry for its next write (a fold's undo):
        // the session's advisory lock keeps other writers out; the lock row
        // is taken again before the next statement ([`PgBackend::ready`]).
        // Released, the hold has nothing left to let go of.
        s.tx = if release { Tx::Released } else { Tx::Committed };
        Ok(())
    }

    /// A typed statement that returns no rows.
    fn exec(
        &self,
        s: &mut Session,
        doing: &str,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<u64> {
        s.client
            .execute_typed(sql, params)
            .map_err(|e| self.fail(doing, &e))
    }
}

impl Backend for PgBackend {
    fn root(&self) -> &Path {
        &self.location
    }

    fn dir(&self) -> Option<&Path> {
        None
    }

    fn is_registry(&self) -> Result<bool> {
        let mut s = self.ready()?;
        if s.tx == Tx::Idle {
            // One round trip; outside a transaction a missing table only
            // fails its own statement.
            let sql = format!("{TABLES}; SELECT EXISTS (SELECT 1 FROM holdfast.log)");
            return match s.client.simple_query(&sql) {
                Ok(messages) => {
                    let rows = simple_rows(&messages);
                    Ok(rows.first().and_then(|r| r.get(0)) == Some("t")
                        && rows.get(1).and_then(|r| r.get(0)) == Some("t"))
                }
                Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(false),
                Err(e) => Err(self.fail("looking for holdfast's tables", &e)),
            };
        }
        let row = s
            .client
            .query_typed_one(TABLES, &[])
            .map_err(|e| self.fail("looking for holdfast's tables", &e))?;
        if !row.get::<_, bool>(0) {
            return Ok(false);
        }
        if s.pending.log {
            return Ok(true);
        }
        let row = s
            .client
            .query_typed_one("SELECT EXISTS (SELECT 1 FROM holdfast.log)", &[])
            .map_err(|e| self.fail("reading the log", &e))?;
        Ok(row.get(0))
    }

    fn prepare_create(&self) -> Result<()> {
        let mut s = self.ready()?;
        s.client
            .batch_execute(CREATE)
            .map_err(|e| self.fail("creating holdfast's schema and tables", &e))?;
        s.has_parts = true;
        Self::prefer_lz4(&mut s);
        let messages = s
            .client
            .simple_query(PLANTED)
            .map_err(|e| self.fail("checking holdfast's tables", &e))?;
        self.refuse_planted_rows(&simple_rows(&messages))?;
        let row = s
            .client
            .query_typed_one(
                "SELECT (SELECT count(*) FROM holdfast.files) + (SELECT count(*) FROM holdfast.log) \
                   + (SELECT count(*) FROM holdfast.parts)",
                &[],
            )
            .map_err(|e| self.fail("looking at holdfast's tables", &e))?;
        let n: i64 = row.get(0);
        if n > 0 {
            return Err(Error::refused(format!(
                "{} already holds a registry (schema {SCHEMA} is not empty); nothing written",
                self.location.display()
            )));
        }
        Ok(())
    }

    fn lock(&self) -> Result<Box<dyn Hold>> {
        let mut s = self.session();
        // One round trip: the tables, the advisory lock (a session lock,
        // kept past this transaction's end), the lock row, planted rules.
        let sql = format!(
            "BEGIN ISOLATION LEVEL READ COMMITTED; {TABLES}; \
             SELECT pg_catalog.pg_advisory_lock({WRITER_LOCK_KEY}); \
             SELECT id FROM holdfast.lock WHERE id = 1 FOR UPDATE; {}; {MAYBE_PLANTED}; {LOG_LEN}",
            lock_tables_sql(s.has_parts)
        );
        let messages = match s.client.simple_query(&sql) {
            Ok(m) => m,
            Err(e) => {
                release(&mut s.client, true);
                if e.code() == Some(&SqlState::UNDEFINED_TABLE) {
                    return Err(no_registry(&self.location));
                }
                return Err(self.fail("taking the registry's writer lock", &e));
            }
        };
        s.tx = Tx::Open;
        s.overtaken = false;
        s.pending = Pending::default();
        s.ahead = Ahead::default();
        let hold = PgHold {
            session: self.session.clone(),
        };
        let rows = simple_rows(&messages);
        // TABLES, the advisory lock, the lock row, the tables' lock (no
        // row), MAYBE_PLANTED, LOG_LEN.
        let maybe = maybe_planted_row(&rows);
        let mut checked = || -> Result<()> {
            if rows.first().and_then(|r| r.get(0)) != Some("t") {
                return Err(no_registry(&self.location));
            }
            s.has_parts = rows.first().and_then(|r| r.get(1)) == Some("t");
            s.committed_len = log_len_row(&rows)?;
            self.refuse_planted(&mut s, maybe)
        };
        let checked = checked();
        // The hold takes the session when it drops: let it go first.
        drop(s);
        checked.map(|()| Box::new(hold) as Box<dyn Hold>)
    }

    fn read(&self, rel: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        let mut s = self.ready()?;
        let too_long = || {
            Error::malformed(
                self.path(rel),
                format!("longer than the {limit} bytes holdfast reads"),
            )
        };
        if let Some(b) = s.pending.whole.get(rel) {
            if b.len() as u64 > limit {
                return Err(too_long());
            }
            return Ok(Some(b.clone()));
        }
        if s.pending.touches(rel) {
            self.flush(&mut s)?;
        }
        if let Some(known) = s.ahead.files.get(rel) {
            return match known {
                Some(b) if b.len() as u64 > limit => Err(too_long()),
                Some(b) => Ok(Some(b.clone())),
                None => Ok(None),
            };
        }
        if rel == LOG_FILE {
            let rows = s
                .client
                .query_typed("SELECT line FROM holdfast.log ORDER BY seq", &[])
                .map_err(|e| self.fail("reading the log", &e))?;
            if rows.is_empty() {
                return Ok(None);
            }
            let mut out = Vec::new();
            for r in rows {
                let line: &[u8] = r.get(0);
                out.extend_from_slice(line);
                out.push(b'\n');
                if out.len() as u64 > limit {
                    return Err(too_long());
                }
            }
            return Ok(Some(out));
        }
        let row = s
            .client
            .query_typed_opt(
                "SELECT bytes FROM holdfast.files WHERE name = $1",
                &[(&rel, Type::TEXT)],
            )
            .map_err(|e| self.fail(&format!("reading {rel}"), &e))?;
        match row {
            None => self.read_parts(&mut s, rel, limit),
            Some(r) => {
                let b: Vec<u8> = r.get(0);
                if b.len() as u64 > limit {
                    return Err(too_long());
                }
                Ok(Some(b))
            }
        }
    }

    fn last_log_lines(&self, n: usize) -> Result<Option<Vec<Vec<u8>>>> {
        let mut s = self.ready()?;
        if s.pending.log {
            self.flush(&mut s)?;
        }
        if let Some((asked, lines)) = &s.ahead.log_tail
            && n <= *asked
        {
            if lines.is_empty() || n == 0 {
                return Ok(None);
            }
            return Ok(Some(lines[lines.len().saturating_sub(n)..].to_vec()));
        }
        let limit = i64::try_from(n).unwrap_or(i64::MAX);
        let rows = s
            .client
            .query_typed(
                "SELECT line FROM holdfast.log ORDER BY seq DESC LIMIT $1",
                &[(&limit, Type::INT8)],
            )
            .map_err(|e| self.fail("reading the log", &e))?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut lines: Vec<Vec<u8>> = rows.iter().map(|r| r.get::<_, Vec<u8>>(0)).collect();
        lines.reverse();
        Ok(Some(lines))
    }

    fn exists(&self, rel: &str) -> Result<bool> {
        let mut s = self.ready()?;
        if s.pending.whole.contains_key(rel) {
            return Ok(true);
        }
        if s.pending.touches(rel) {
            self.flush(&mut s)?;
        }
        if let Some(known) = s.ahead.files.get(rel) {
            return Ok(known.is_some());
        }
        if let Some(known) = s.ahead.present.get(rel) {
            return Ok(*known);
        }
        if rel == LOG_FILE {
            return Ok(self.log_len(&mut s)? > 0);
        }
        let sql = if s.has_parts {
            "SELECT EXISTS (SELECT 1 FROM holdfast.files WHERE name = $1) \
                 OR EXISTS (SELECT 1 FROM holdfast.parts WHERE name = $1)"
        } else {
            "SELECT EXISTS (SELECT 1 FROM holdfast.files WHERE name = $1)"
        };
        let row = s
            .client
            .query_typed_one(sql, &[(&rel, Type::TEXT)])
            .map_err(|e| self.fail(&format!("looking for {rel}"), &e))?;
        Ok(row.get(0))
    }

    fn write(&self, rel: &str, bytes: &[u8], read_only: bool) -> Result<()> {
        let mut s = self.ready()?;
        self.check_not_overtaken(&s)?;
        s.ahead.forget(rel);
        let as_parts = !read_only
            && !bytes.is_empty()
            && (rel == "objects.json" || rel == "objects.md")
            && s.has_parts;
        // A records document is kept as parts, the closing `\n]\n` of
        // `objects.json` a part of its own: a claim then deletes that
        // small part and inserts its records, never rewriting the rest.
        let closing = b"\n]\n";
        let split =
            if rel == "objects.json" && bytes.len() > closing.len() && bytes.ends_with(closing) {
                bytes.len() - closing.len()
            } else {
                bytes.len()
            };
        if Self::batching(&s, bytes.len()) {
            let name = name_literal(rel)?;
            let has_parts = s.has_parts;
            let p = &mut s.pending;
            if as_parts {
                let _ = write!(
                    p.sql,
                    "DELETE FROM holdfast.files WHERE name = {name}; \
                     DELETE FROM holdfast.parts WHERE name = {name}; "
                );
                for (start, part) in [(0, &bytes[..split]), (split, &bytes[split..])] {
                    if !part.is_empty() {
                        let _ = write!(
                            p.sql,
                            "INSERT INTO holdfast.parts (name, start, bytes) VALUES ({name}, {start}, {}); ",
                            bytes_literal(part)
                        );
                    }
                }
                p.whole.insert(rel.to_string(), bytes.to_vec());
                p.dirty.remove(rel);
            } else if read_only {
                let _ = write!(
                    p.sql,
                    "INSERT INTO holdfast.files (name, bytes) VALUES ({name}, {}) ON CONFLICT (name) DO NOTHING; ",
                    bytes_literal(bytes)
                );
                // What is stored may be an earlier row of the same name: a
                // read asks the server.
                p.dirty.insert(rel.to_string());
            } else {
                let _ = write!(
                    p.sql,
                    "INSERT INTO holdfast.files (name, bytes) VALUES ({name}, {}) \
                     ON CONFLICT (name) DO UPDATE SET bytes = EXCLUDED.bytes; ",
                    bytes_literal(bytes)
                );
                if has_parts {
                    let _ = write!(p.sql, "DELETE FROM holdfast.parts WHERE name = {name}; ");
                }
                p.whole.insert(rel.to_string(), bytes.to_vec());
                p.dirty.remove(rel);
            }
            return self.bound_batch(&mut s);
        }
        // The kept writes go first only where their order matters: those of
        // the same name (a later send would overwrite this one), and a
        // records document's parts. Writes of different names inside the
        // one transaction commit together, whatever their order.
        if as_parts || s.pending.touches(rel) || s.pending.whole.contains_key(rel) {
            self.flush(&mut s)?;
        }
        let doing = format!("writing {rel}");
        if as_parts {
            self.delete_named(&mut s, &doing, "files", rel)?;
            self.delete_named(&mut s, &doing, "parts", rel)?;
            for (start, part) in [(0, &bytes[..split]), (split, &bytes[split..])] {
                if part.is_empty() {
                    continue;
                }
                self.exec(
                    &mut s,
                    &doing,
                    "INSERT INTO holdfast.parts (name, start, bytes) VALUES ($1, $2, $3)",
                    &[
                        (&rel, Type::TEXT),
                        (&(start as i64), Type::INT8),
                        (&part, Type::BYTEA),
                    ],
                )?;
            }
            return Ok(());
        }
        // Written whole: any parts it was kept as go in the same statement.
        let sql = if read_only {
            "INSERT INTO holdfast.files (name, bytes) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"
        } else if s.has_parts {
            "WITH gone AS (DELETE FROM holdfast.parts WHERE name = $1) \
             INSERT INTO holdfast.files (name, bytes) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET bytes = EXCLUDED.bytes"
        } else {
            "INSERT INTO holdfast.files (name, bytes) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET bytes = EXCLUDED.bytes"
        };
        self.exec(
            &mut s,
            &doing,
            sql,
            &[(&rel, Type::TEXT), (&bytes, Type::BYTEA)],
        )?;
        Ok(())
    }

    fn append_log(&self, record: &[u8]) -> Result<()> {
        let mut s = self.ready()?;
        self.check_not_overtaken(&s)?;
        s.ahead.log_tail = None;
        let line = record.strip_suffix(b"\n").unwrap_or(record);
        const APPEND: &str = "INSERT INTO holdfast.log (seq, line) \
             SELECT coalesce(max(seq), 0) + 1, $1 FROM holdfast.log";
        if Self::batching(&s, line.len()) {
            let sql = APPEND.replace("$1", &bytes_literal(line));
            s.pending.sql.push_str(&sql);
            s.pending.sql.push_str("; ");
            s.pending.log = true;
            return self.bound_batch(&mut s);
        }
        self.flush(&mut s)?;
        self.exec(
            &mut s,
            "appending to the log",
            APPEND,
            &[(&line, Type::BYTEA)],
        )?;
        Ok(())
    }

    fn truncate_log(&self, _len: u64) -> Result<()> {
        // Rows are whole: a transaction cannot leave a torn line.
        Err(Error::malformed(
            self.path(LOG_FILE),
            "a log row does not end a line (rows are written whole; edited by hand?)",
        ))
    }

    fn remove_leftovers(&self, _deep: bool) -> Result<()> {
        Ok(())
    }

    fn durable(&self) -> Result<()> {
        self.commit(false)
    }

    fn finish(&self) -> Result<()> {
        self.commit(true)
    }

    fn list(&self) -> Result<Vec<String>> {
        let mut s = self.ready()?;
        self.flush(&mut s)?;
        let rows = s
            .client
            .query_typed("SELECT name FROM holdfast.files ORDER BY name", &[])
            .map_err(|e| self.fail("listing the registry", &e))?;
        let mut out: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        if s.has_parts {
            let rows = s
                .client
                .query_typed("SELECT DISTINCT name FROM holdfast.parts", &[])
                .map_err(|e| self.fail("listing the registry", &e))?;
            out.extend(rows.iter().map(|r| r.get::<_, String>(0)));
        }
        out.retain(|n| n != crate::registry::fast::CACHE_FILE);
        if self.log_len(&mut s)? > 0 {
            out.push(LOG_FILE.to_string());
        }
        out.sort();
        Ok(out)
    }

    fn fingerprint(&self, rel: &str) -> Result<Option<String>> {
        let mut s = self.ready()?;
        if !s.has_parts {
            return Ok(None);
        }
        if s.pending.touches(rel) || s.pending.whole.contains_key(rel) {
            return Ok(self.flush_and_fingerprint(&mut s, &[rel])?.pop().flatten());
        }
        if let Some(known) = s.ahead.fingerprints.get(rel) {
            return Ok(known.clone());
        }
        let row = s
            .client
            .query_typed_one(
                &format!("SELECT {}", fingerprint_sql("$1")),
                &[(&rel, Type::TEXT)],
            )
            .map_err(|e| self.fail(&format!("looking at {rel}"), &e))?;
        Ok(fingerprint_of(row.get(0), row.get(1)))
    }

    fn fingerprints(&self, rels: &[&str]) -> Result<Vec<Option<String>>> {
        let mut s = self.ready()?;
        if !s.has_parts {
            return Ok(vec![None; rels.len()]);
        }
        self.flush_and_fingerprint(&mut s, rels)
    }

    fn read_ahead(&self, what: &ReadAhead<'_>) -> Result<()> {
        let mut s = self.ready()?;
        if s.tx != Tx::Open {
            // Not held: another writer may change any row between two
            // statements, so every read asks the server when it is made.
            return Ok(());
        }
        // What the kept writes change is not read ahead: those reads are
        // answered from the kept writes, or send them first.
        let unwritten = |names: &[&str]| -> Vec<String> {
            names
                .iter()
                .filter(|n| {
                    **n != LOG_FILE && !s.pending.touches(n) && !s.pending.whole.contains_key(**n)
                })
                .map(|n| n.to_string())
                .collect()
        };
        let reads = unwritten(what.read);
        let exists = unwritten(what.exists);
        let fingerprints = if s.has_parts {
            unwritten(what.fingerprints)
        } else {
            Vec::new()
        };
        let log_tail = if s.pending.log { 0 } else { what.log_tail };
        let limit = i64::try_from(log_tail).unwrap_or(i64::MAX);
        let shape = s.has_parts;
        let statement = match s.ahead_statements.get(&shape) {
            Some(st) => st.clone(),
            None => {
                let st = s
                    .client
                    .prepare_typed(
                        &read_ahead_sql(shape),
                        &[
                            Type::TEXT_ARRAY,
                            Type::TEXT_ARRAY,
                            Type::INT8,
                            Type::TEXT_ARRAY,
                        ],
                    )
                    .map_err(|e| self.fail("reading the registry", &e))?;
                s.ahead_statements.insert(shape, st.clone());
                st
            }
        };
        let rows = s
            .client
            .query(&statement, &[&reads, &fingerprints, &limit, &exists])
            .map_err(|e| self.fail("reading the registry", &e))?;
        // Fingerprints read ahead earlier in this transaction still answer
        // (a name written since was forgotten): an in-place append after a
        // later read-ahead still knows how many parts it has.
        let mut ahead = Ahead {
            fingerprints: std::mem::take(&mut s.ahead.fingerprints),
            ..Ahead::default()
        };
        let mut log: Vec<(i64, Vec<u8>)> = Vec::new();
        // Names kept as parts (no `files` row), and the parts of each.
        let mut kept_as_parts: Vec<String> = Vec::new();
        let mut parts: HashMap<String, Vec<(i64, Vec<u8>)>> = HashMap::new();
        for r in &rows {
            let kind: i32 = r.get(0);
            match kind {
                0 => {
                    let name: String = r.get(1);
                    let bytes: Option<Vec<u8>> = r.get(2);
                    let in_parts: bool = r.get(3);
                    if bytes.is_some() || !in_parts {
                        ahead.files.insert(name, bytes);
                    } else {
                        kept_as_parts.push(name);
                    }
                }
                4 => {
                    let name: String = r.get(1);
                    let start: Option<i64> =
                        r.get::<_, Option<String>>(4).and_then(|v| v.parse().ok());
                    let (Some(start), Some(bytes)) = (start, r.get::<_, Option<Vec<u8>>>(2)) else {
                        return Err(Error::failed(
                            "internal: a part read ahead came back without its start",
                        ));
                    };
                    parts.entry(name).or_default().push((start, bytes));
                }
                3 => {
                    let name: String = r.get(1);
                    ahead.present.insert(name, r.get(3));
                }
                1 => {
                    let name: String = r.get(1);
                    ahead
                        .fingerprints
                        .insert(name, fingerprint_of(r.get(4), r.get(5)));
                }
                2 => {
                    let seq: Option<String> = r.get(4);
                    let line: Option<Vec<u8>> = r.get(2);
                    let (Some(seq), Some(line)) = (seq.and_then(|v| v.parse().ok()), line) else {
                        return Err(Error::failed(
                            "internal: a log line read ahead came back without its number",
                        ));
                    };
                    log.push((seq, line));
                }
                _ => {
                    return Err(Error::failed(format!(
                        "internal: a read-ahead row of kind {kind}"
                    )));
                }
            }
        }
        // Parts that follow each other from 0 are the document; any other
        // layout is left to the read, which reports it.
        for name in kept_as_parts {
            let Some(mut list) = parts.remove(&name) else {
                continue;
            };
            list.sort_by_key(|(start, _)| *start);
            let list = list.iter().map(|(start, bytes)| (*start, bytes.as_slice()));
            if let Ok(doc) = join_parts(list, u64::MAX) {
                ahead.files.insert(name, Some(doc));
            }
        }
        if log_tail > 0 {
            log.sort_by_key(|(seq, _)| *seq);
            ahead.log_tail = Some((log_tail, log.into_iter().map(|(_, l)| l).collect()));
        }
        s.ahead = ahead;
        Ok(())
    }

    fn append_at(&self, rel: &str, keep: u64, tail: &[u8]) -> Result<()> {
        let mut s = self.ready()?;
        self.check_not_overtaken(&s)?;
        // Few parts (as the read-ahead counted them): merging waits, so
        // that it runs once every few claims and copies more at a time.
        let few_parts = s
            .ahead
            .fingerprints
            .get(rel)
            .and_then(|f| f.as_deref())
            .and_then(parts_count)
            .is_some_and(|n| n < MERGE_AT_PARTS);
        s.ahead.forget(rel);
        let keep = i64::try_from(keep)
            .map_err(|_| Error::failed(format!("internal: {rel}: offset {keep} too large")))?;
        let name = name_literal(rel)?;
        // A document kept whole becomes its first part, cut at `keep`;
        // parts at or after `keep` go, the one across it is cut, and the
        // parts must then end at `keep` (checked when sent).
        let mut sql = format!(
            "INSERT INTO holdfast.parts (name, start, bytes) \
               SELECT name, 0, substring(bytes FROM 1 FOR {keep}) FROM holdfast.files \
                WHERE name = {name} AND octet_length(bytes) >= {keep}; \
             DELETE FROM holdfast.files WHERE name = {name} AND octet_length(bytes) >= {keep}; \
             DELETE FROM holdfast.parts WHERE name = {name} AND start >= {keep}; \
             UPDATE holdfast.parts SET bytes = substring(bytes FROM 1 FOR ({keep} - start)::integer) \
              WHERE name = {name} AND start < {keep} AND start + octet_length(bytes) > {keep}; \
             SELECT coalesce(max(start + octet_length(bytes)), 0) FROM holdfast.parts WHERE name = {name}; "
        );
        if !tail.is_empty() {
            let _ = write!(
                sql,
                "INSERT INTO holdfast.parts (name, start, bytes) VALUES ({name}, {keep}, {}); ",
                bytes_literal(tail)
            );
        }
        if !few_parts {
            sql.push_str(&merge_tail_sql(&name));
        }
        s.pending.sql.push_str(&sql);
        s.pending.ends.push((rel.to_string(), keep));
        s.pending.whole.remove(rel);
        s.pending.dirty.insert(rel.to_string());
        if s.tx != Tx::Open || tail.len() > BATCH_BYTES {
            self.flush(&mut s)?;
        }
        self.bound_batch(&mut s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_holdfasts_own_names_go_into_a_batched_statement() {
        assert_eq!(name_literal("objects.json").unwrap(), "'objects.json'");
        assert_eq!(
            name_literal("history/blobs/ab12.delta").unwrap(),
            "'history/blobs/ab12.delta'"
        );
        for bad in ["", "a'b", "a\\b", "a b", "a;b", "é", "a\nb", "a\0b"] {
            assert!(name_literal(bad).is_err(), "{bad:?} was let through");
        }
    }

    #[test]
    fn parts_are_a_document_only_when_each_follows_the_ones_before() {
        let ok = [(0, &b"ab"[..]), (2, b""), (2, b"cd")];
        assert_eq!(join_parts(ok, 4), Ok(b"abcd".to_vec()));
        assert_eq!(join_parts(ok, 3), Err(PartsProblem::TooLong));
        assert_eq!(
            join_parts([(0, &b"ab"[..]), (3, b"c")], 10),
            Err(PartsProblem::Gap { start: 3, end: 2 })
        );
        assert_eq!(
            join_parts([(1, &b"ab"[..])], 10),
            Err(PartsProblem::Gap { start: 1, end: 0 })
        );
        assert_eq!(join_parts([], 0), Ok(Vec::new()));
    }

    #[test]
    fn the_number_of_parts_comes_from_a_parts_fingerprint_only() {
        assert_eq!(parts_count("parts 12 3400 0123abcd"), Some(12));
        assert_eq!(parts_count("parts 1 0 ff"), Some(1));
        for other in ["whole 733 12", "parts", "parts x 1 ff", "parts -1 1 ff", ""] {
            assert_eq!(parts_count(other), None, "{other:?}");
        }
    }

    #[test]
    fn batched_bytes_are_hex_digits_only() {
        let lit = bytes_literal(b"'\\\x00\xff;");
        assert_eq!(lit, "pg_catalog.decode('275c00ff3b', 'hex')");
        assert_eq!(bytes_literal(b""), "pg_catalog.decode('', 'hex')");
    }
}
