//! `postgres` snapshots: what makes a PostgreSQL database behave the way it
//! does (its catalog) and every table's rows, read in one READ ONLY,
//! REPEATABLE READ snapshot shared by several connections.
//!
//! The session runs no code the database's owner could have planted:
//!
//! - `search_path` is pinned to `pg_catalog, pg_temp` before anything else
//!   and checked; every relation and function holdfast names is qualified
//!   with `pg_catalog.`, and the operators it uses resolve in `pg_catalog`
//!   (`pg_temp` is never searched for functions or operators);
//! - rows are read with `COPY ... TO STDOUT` (text format): no user cast,
//!   operator or function is evaluated; a table is ordered by its primary
//!   key only when that key is built-in types with built-in operator classes,
//!   otherwise holdfast sorts the COPY lines by their bytes;
//! - `row_security = off`, so row-level security makes a read fail instead
//!   of silently hiding rows;
//! - every output setting that changes COPY text or deparsed definitions is
//!   pinned (DateStyle, IntervalStyle, TimeZone, extra_float_digits,
//!   bytea_output, standard_conforming_strings, quote_all_identifiers,
//!   lc_monetary, lc_numeric, client_encoding), so other session or role
//!   defaults never change a digest;
//! - `lock_timeout` and `statement_timeout` bound every statement on the
//!   server, and a read timeout bounds how long holdfast waits for any
//!   answer (a server that stops answering fails the snapshot, it never
//!   hangs it); TCP keepalives and `tcp_user_timeout` close dead links.
//!
//! The transaction is refused unless the server reports
//! `transaction_read_only = on`. With `parallel > 1` the first connection
//! exports its snapshot (`pg_export_snapshot()`) and the others import it
//! (`SET TRANSACTION SNAPSHOT`), so every connection sees the same data and
//! the digests do not depend on the parallelism.
//!
//! The snapshot records its target: the server's system identifier, the
//! database's name and oid (and the role, and whether it is a superuser),
//! so `prove` can refuse to compare two different databases.

mod batch;
mod catalog;
mod pool;
pub mod quote;
mod relations;
mod socket;
mod tap;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use futures_util::Stream;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Config, NoTls, Row};

use super::Reading;
use crate::canonical;
use crate::digest;
use crate::error::{Error, Result};
use crate::pgconn::parse_async_config;
pub use crate::pgconn::{parse_config, pg_error};

pub use crate::surface::spec::{
    DEFAULT_LOCK_TIMEOUT_SECONDS, DEFAULT_PAGES_PER_RANGE, DEFAULT_READ_TIMEOUT_SECONDS,
    DEFAULT_SORT_IN_HOLDFAST_BELOW, DEFAULT_STATEMENT_TIMEOUT_SECONDS, PgOptions, default_parallel,
};
pub use catalog::KINDS;
use pool::BufferPool;
use relations::RelationDef;
use tap::CopyTap;

/// A catalog row's attributes by column name (NULL as `None`).
type Attributes = BTreeMap<String, Option<String>>;
/// Catalog parts: part name -> the rows that give it.
type CatalogParts = BTreeMap<String, Vec<Attributes>>;
/// Column names and text rows of a query.
type TextRows = (Vec<String>, Vec<Vec<Option<String>>>);
/// Per relation, its rows digest and count once read.
type RowValues = Vec<Option<(String, u64)>>;
/// What one job read, by job index.
type RowResults = Vec<(usize, Result<JobRows>)>;

/// What one job read: a digest and row count (a whole table or one key
/// range), a whole table's digest (the last page range of a table read in
/// page ranges), or nothing yet (another page range).
enum JobRows {
    Digest(String, u64),
    /// The whole table's rows digest (the last page range of a table read
    /// in page ranges).
    Table(String, u64),
    /// A page range whose rows wait for the table's other ranges.
    Held,
}

/// The fewest pages (2 MiB) in one page range of a table with an integer
/// key read in page ranges: smaller ones would cost more statements than
/// they balance.
const KEYED_MIN_PAGES_PER_RANGE: u64 = 256;
/// Page ranges per connection a table with an integer key is cut into (at
/// least [`KEYED_MIN_PAGES_PER_RANGE`] each): enough that parsing one range
/// overlaps reading the next and the connections finish together (on the
/// 1,000,000-row benchmark table 8 gave 0.47 s, 4 gave 0.54 s).
const KEYED_RANGES_PER_CONNECTION: u64 = 8;
/// How many bytes a page range reads before it adds them to its table's
/// shared count of bytes held ([`UNKEYED_TABLE_LIMIT`]).
const HELD_STEP: usize = 1 << 20;
/// Tables whose key bounds one statement reads (see
/// `ReadOnlySession::key_bounds`): a statement's parameters and its plan
/// stay small.
const KEY_BOUNDS_PER_STATEMENT: usize = 100;
/// Connect timeout used when the connection string sets none.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest table without a usable key that holdfast sorts in memory (its
/// COPY text); a larger one fails the snapshot, naming the table.
pub const UNKEYED_TABLE_LIMIT: usize = 1 << 30;
/// Oids below this are the server's own objects (created by initdb).
pub const FIRST_NORMAL_OBJECT_ID: u32 = 16384;

/// Which database a `postgres` snapshot read, recorded in the snapshot so
/// `prove` can refuse to compare snapshots of two different databases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PgTarget {
    /// The server's (cluster's) system identifier, `pg_control_system()`, in decimal.
    pub system_identifier: String,
    /// The database's name.
    pub database: String,
    /// The database's oid.
    pub database_oid: u32,
    /// `server_version_num`.
    pub server_version: String,
    /// The role the snapshot connected as.
    pub role: String,
    /// Whether that role is a superuser (a least-privilege role is
    /// recommended: see the docs).
    pub superuser: bool,
    /// Every database read, by name (an every-database snapshot only;
    /// `database` is then the one the list was read from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub databases: Option<Vec<PgDatabase>>,
}

/// One database of an every-database snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PgDatabase {
    /// Its name.
    pub name: String,
    /// Its oid.
    pub oid: u32,
    /// sha256 of the canonical JSON of its parts (the `db:<name>` part);
    /// absent for `template0`, which accepts no connections and is not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl PgTarget {
    /// Whether two snapshots read the same database of the same server
    /// (the role may differ).
    /// An every-database snapshot compares only with another one of the
    /// same server (which databases it holds is in its parts).
    pub fn same_database(&self, other: &PgTarget) -> bool {
        self.system_identifier == other.system_identifier
            && self.databases.is_some() == other.databases.is_some()
            && (self.databases.is_some()
                || (self.database == other.database && self.database_oid == other.database_oid))
    }

    /// `database NAME (oid N) of server SYSID`, or `every database of
    /// server SYSID`.
    pub fn describe(&self) -> String {
        if self.databases.is_some() {
            return format!("every database of server {}", self.system_identifier);
        }
        format!(
            "database {:?} (oid {}) of server {}",
            self.database, self.database_oid, self.system_identifier
        )
    }
}

/// What a `postgres` read returns: the parts and the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgReading {
    /// Parts and description.
    pub reading: Reading,
    /// The database that was read.
    pub target: PgTarget,
}

/// Checks the value of `SHOW transaction_read_only`: only `on` is accepted.
pub fn check_read_only(value: &str) -> std::result::Result<(), String> {
    if value == "on" {
        Ok(())
    } else {
        Err(format!(
            "the session reports transaction_read_only = {value:?}, not \"on\"; refusing to read in a session that could write"
        ))
    }
}

/// Where a connection string points, without its password.
pub fn describe_target(config: &Config) -> String {
    let ports = config.get_ports();
    // A host and its port pair up by position; one port serves every host.
    let port_of = |i: usize| {
        ports
            .get(i)
            .or_else(|| (ports.len() == 1).then(|| &ports[0]))
            .copied()
            .unwrap_or(5432)
    };
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| match h {
            Host::Tcp(name) => name.clone(),
            // The socket file the client tries, so a wrong directory or
            // port shows at once.
            Host::Unix(path) => format!(
                "socket {}",
                path.join(format!(".s.PGSQL.{}", port_of(i))).display()
            ),
        })
        .collect();
    let tcp = config.get_hosts().iter().any(|h| matches!(h, Host::Tcp(_)));
    let ports: Vec<String> = ports.iter().map(|p| p.to_string()).collect();
    format!(
        "database {} as {} on {}{}",
        config.get_dbname().unwrap_or("(default)"),
        config.get_user().unwrap_or("(default)"),
        if hosts.is_empty() {
            "(no host given: add host=/run/postgresql for the local socket, or host=NAME)"
                .to_string()
        } else {
            hosts.join(",")
        },
        if ports.is_empty() || !tcp {
            String::new()
        } else {
            format!(" port {}", ports.join(","))
        }
    )
}

/// What to add to a server error so its cause and fix are plain.
fn hint(e: &postgres::Error, opts: &PgOptions) -> String {
    match e.as_db_error().map(|d| d.code().code()) {
        Some("55P03") => format!(
            " (a lock wait: another session holds a conflicting lock; waited lock_timeout_seconds = {})",
            opts.lock_timeout_seconds
        ),
        Some("57014") => format!(
            " (the statement ran longer than statement_timeout_seconds = {})",
            opts.statement_timeout_seconds
        ),
        Some("42501")
            if e.as_db_error()
                .is_some_and(|d| d.message().contains("row-level security")) =>
        {
            " (row_security is off so that a policy can never hide rows from the snapshot: \
             read as a role that bypasses row-level security, e.g. one with BYPASSRLS)"
                .to_string()
        }
        Some("42501") => " (the snapshot role lacks a privilege: see the docs for what it needs, \
             e.g. membership of pg_read_all_data)"
            .to_string(),
        _ => String::new(),
    }
}

/// The settings every connection pins before it reads anything.
pub fn session_settings(opts: &PgOptions) -> String {
    format!(
        "SET quote_all_identifiers = off; \
         SET search_path = pg_catalog, pg_temp; \
         SET row_security = off; \
         SET datestyle = 'ISO, YMD'; \
         SET intervalstyle = 'iso_8601'; \
         SET timezone = 'UTC'; \
         SET extra_float_digits = 1; \
         SET bytea_output = 'hex'; \
         SET standard_conforming_strings = on; \
         SET lc_monetary = 'C'; \
         SET lc_numeric = 'C'; \
         SET client_encoding = 'UTF8'; \
         SET lock_timeout = '{}s'; \
         SET statement_timeout = '{}s'; \
         SET idle_in_transaction_session_timeout = 0; \
         SET enable_sort = off; \
         SET constraint_exclusion = off; \
         SET jit = off; \
         SET ROLE NONE",
        opts.lock_timeout_seconds, opts.statement_timeout_seconds
    )
}

/// Activity of one connection, watched by the read timeout.
struct Slot {
    /// Milliseconds since the watch started when the current call began or
    /// last received bytes; `u64::MAX` when idle.
    busy_since: AtomicU64,
    /// Milliseconds since the watch started when the current call began;
    /// `u64::MAX` when idle.
    started: AtomicU64,
    /// What the call is doing (named in the timeout error).
    doing: Mutex<String>,
}

/// Why the watch gave up on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stall {
    /// No bytes from the server for the read timeout.
    Silent(String),
    /// Bytes still come, but one call has run past the statement timeout
    /// and the read timeout on top of it: the server did not end it (a
    /// link or proxy that trickles bytes), so holdfast does.
    Overran(String),
}

/// Whether a call that began at `started` and last received bytes at
/// `busy_since` (milliseconds; `u64::MAX` when idle) has stalled at `now`:
/// silent for longer than `read`, or running longer than `statement` +
/// `read`. A pure function, so the rule is tested without a server.
fn stall_kind(now: u64, started: u64, busy_since: u64, read: u64, statement: u64) -> Option<bool> {
    if busy_since == u64::MAX || started == u64::MAX {
        return None;
    }
    if now.saturating_sub(busy_since) > read {
        Some(false)
    } else if now.saturating_sub(started) > statement.saturating_add(read) {
        Some(true)
    } else {
        None
    }
}

/// The read timeout's view of every connection of one snapshot.
struct Watch {
    start: Instant,
    slots: Mutex<Vec<Arc<Slot>>>,
}

impl Watch {
    fn new() -> Arc<Watch> {
        Arc::new(Watch {
            start: Instant::now(),
            slots: Mutex::new(Vec::new()),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    fn slot(self: &Arc<Self>) -> SlotHandle {
        let slot = Arc::new(Slot {
            busy_since: AtomicU64::new(u64::MAX),
            started: AtomicU64::new(u64::MAX),
            doing: Mutex::new(String::new()),
        });
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(slot.clone());
        SlotHandle {
            watch: self.clone(),
            slot,
        }
    }

    /// The first connection that has stalled (see [`stall_kind`]), and what it was doing.
    fn stalled(&self, read: Duration, statement: Duration) -> Option<Stall> {
        let now = self.now_ms();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.iter().find_map(|s| {
            let kind = stall_kind(
                now,
                s.started.load(Ordering::SeqCst),
                s.busy_since.load(Ordering::SeqCst),
                ms(read),
                ms(statement),
            )?;
            let doing = s.doing.lock().unwrap_or_else(|e| e.into_inner()).clone();
            Some(if kind {
                Stall::Overran(doing)
            } else {
                Stall::Silent(doing)
            })
        })
    }
}

struct SlotHandle {
    watch: Arc<Watch>,
    slot: Arc<Slot>,
}

impl SlotHandle {
    fn begin(&self, doing: &str) {
        *self.slot.doing.lock().unwrap_or_else(|e| e.into_inner()) = doing.to_string();
        self.slot
            .started
            .store(self.watch.now_ms(), Ordering::SeqCst);
        self.tick();
    }
    fn tick(&self) {
        self.slot
            .busy_since
            .store(self.watch.now_ms(), Ordering::SeqCst);
    }
    fn end(&self) {
        self.slot.busy_since.store(u64::MAX, Ordering::SeqCst);
        self.slot.started.store(u64::MAX, Ordering::SeqCst);
    }
}

/// A blocking PostgreSQL client on a runtime of its own: `tokio_postgres`
/// driven by one current-thread runtime per connection.
///
/// Why not the `postgres` crate's blocking client: it enters its runtime
/// once per COPY message, and a COPY sends one message per row, so a
/// 1,000,000-row table cost a million runtime entries (the largest share of
/// holdfast's CPU in a profile). Here a whole COPY is one `block_on` and its
/// rows are handed to the caller from inside it.
pub struct Client {
    runtime: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
    /// The connection's [`CopyTap`]: COPY rows arrive through it.
    rows: tap::Rows,
}

/// One step of reading a COPY: rows the tap took, a row the client parsed
/// (only without the tap's framing), the end, or the client's error.
enum CopyStep<Row> {
    Taken,
    Parsed(Row),
    Done,
    Failed(postgres::Error),
}

impl Client {
    /// Connects (the connection's task runs on the client's runtime,
    /// whenever a call waits on it) through a [`CopyTap`] on a socket
    /// holdfast opens itself (see [`socket`]).
    fn connect(config: &Config) -> std::result::Result<Client, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the client's runtime: {e}"))?;
        // With sslmode=require the server's first answer is one byte, not
        // a message; the tap then passes bytes on without reading them.
        let framing = matches!(config.get_ssl_mode(), SslMode::Disable | SslMode::Prefer);
        let (client, connection, rows) = runtime.block_on(socket::connect(config, |socket| {
            let (tap, rows) = CopyTap::new(socket, framing);
            async move {
                let (client, connection) = config
                    .connect_raw(tap, NoTls)
                    .await
                    .map_err(|e| pg_error(&e))?;
                Ok((client, connection, rows))
            }
        }))?;
        runtime.spawn(async move {
            // Its error also ends every pending call, which reports it.
            let _ = connection.await;
        });
        Ok(Client {
            runtime,
            client,
            rows,
        })
    }

    /// Runs statements (simple query protocol).
    pub fn batch_execute(&mut self, sql: &str) -> std::result::Result<(), postgres::Error> {
        self.runtime.block_on(self.client.batch_execute(sql))
    }

    /// Runs a query, returning its rows.
    pub fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> std::result::Result<Vec<Row>, postgres::Error> {
        self.runtime.block_on(self.client.query(sql, params))
    }

    /// Runs a query that returns exactly one row.
    pub fn query_one(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> std::result::Result<Row, postgres::Error> {
        self.runtime.block_on(self.client.query_one(sql, params))
    }

    /// Runs a `COPY ... TO STDOUT`, handing its rows to `each` as they
    /// arrive, in order, many rows at a time (the tap takes them off the
    /// socket: see [`tap`]); stops at the first error of `each`, which is
    /// returned inside. The bytes handed over, concatenated, are the COPY's
    /// text.
    fn copy_each<E>(
        &mut self,
        sql: &str,
        mut each: impl FnMut(&[u8]) -> std::result::Result<(), E>,
    ) -> std::result::Result<std::result::Result<(), E>, postgres::Error> {
        let client = &self.client;
        let rows = &self.rows;
        self.runtime.block_on(async move {
            let _disarm = rows.arm();
            let stream = client.copy_out(sql).await?;
            let mut stream = std::pin::pin!(stream);
            let mut chunk: Vec<u8> = Vec::new();
            let mut ended = false;
            loop {
                let step = std::future::poll_fn(|cx| {
                    if rows.take(&mut chunk, cx) {
                        return std::task::Poll::Ready(CopyStep::Taken);
                    }
                    if ended {
                        return std::task::Poll::Ready(CopyStep::Done);
                    }
                    // The tap took every row before the client saw the
                    // COPY end, so after the end only `take` is asked.
                    stream.as_mut().poll_next(cx).map(|next| match next {
                        Some(Ok(row)) => CopyStep::Parsed(row),
                        Some(Err(e)) => CopyStep::Failed(e),
                        None => {
                            ended = true;
                            if rows.take(&mut chunk, cx) {
                                CopyStep::Taken
                            } else {
                                CopyStep::Done
                            }
                        }
                    })
                })
                .await;
                let r = match step {
                    CopyStep::Taken => {
                        let r = each(&chunk);
                        chunk.clear();
                        r
                    }
                    CopyStep::Parsed(row) => each(&row),
                    CopyStep::Done => return Ok(Ok(())),
                    CopyStep::Failed(e) => return Err(e),
                };
                if let Err(e) = r {
                    return Ok(Err(e));
                }
            }
        })
    }
}

/// A connection inside a READ ONLY, REPEATABLE READ transaction with the
/// pinned settings. Dropping it ends the transaction (nothing was written,
/// so nothing is committed).
pub struct ReadOnlySession {
    client: Client,
    target: String,
    who: String,
    opts: PgOptions,
    slot: SlotHandle,
}

/// Applies holdfast's connection defaults: the password (from the pgpass
/// file, when the string has none), connect timeout, keepalives, a
/// TCP user timeout, the application name.
fn prepare_config(connection: &str, opts: &PgOptions, who: &str) -> Result<Config> {
    let mut config =
        parse_async_config(connection).map_err(|e| Error::Usage(format!("surface {who}: {e}")))?;
    // The socket is opened by holdfast (see `socket`), which does not
    // choose among servers: a string asking it to is refused up front.
    if !socket::supported(&config) {
        return Err(Error::Usage(format!(
            "surface {who}: the connection string sets target_session_attrs or load_balance_hosts, \
             which the postgres snapshot does not support (it reads the one server it connects to \
             first, in a read-only transaction): remove them"
        )));
    }
    // A connection string without a password takes one from the pgpass
    // file, as libpq would (a file others may read is refused); not from
    // PGPASSWORD, which would go to whatever server the spec names.
    crate::pgconn::fill_password_from_pgpass(&mut config)
        .map_err(|e| Error::refused(format!("surface {who}: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    let read_timeout = Duration::from_secs(opts.read_timeout_seconds);
    config.keepalives(true);
    if config.get_keepalives_idle() > Duration::from_secs(30) {
        config.keepalives_idle(Duration::from_secs(30));
    }
    if config.get_keepalives_interval().is_none() {
        config.keepalives_interval(Duration::from_secs(10));
    }
    if config.get_keepalives_retries().is_none() {
        config.keepalives_retries(3);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(read_timeout);
    }
    config.application_name("holdfast-snapshot");
    Ok(config)
}

/// Whether `id` looks like what `pg_export_snapshot()` returns (hex digits
/// and dashes), so it can be written into `SET TRANSACTION SNAPSHOT`.
pub fn is_snapshot_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

impl ReadOnlySession {
    /// Connects with the default options and opens the read-only
    /// transaction; refuses if the server does not report it read-only.
    /// `who` names the surface in errors.
    pub fn open(connection: &str, who: &str) -> Result<Self> {
        let opts = PgOptions::default();
        let config = prepare_config(connection, &opts, who)?;
        Self::open_with(&config, &opts, who, &Watch::new(), None)
    }

    fn open_with(
        config: &Config,
        opts: &PgOptions,
        who: &str,
        watch: &Arc<Watch>,
        import: Option<&str>,
    ) -> Result<Self> {
        let target = describe_target(config);
        let slot = watch.slot();
        slot.begin("connecting");
        let client = Client::connect(config);
        slot.end();
        let client = client.map_err(|e| {
            Error::failed(format!("surface {who}: cannot connect to {target}: {e}"))
        })?;
        let mut s = ReadOnlySession {
            client,
            target,
            who: who.to_string(),
            opts: opts.clone(),
            slot,
        };
        let settings = session_settings(opts);
        s.call("pinning the session settings", |c| {
            c.batch_execute(&settings)
        })?;
        s.call("BEGIN READ ONLY", |c| {
            c.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        })?;
        if let Some(id) = import {
            if !is_snapshot_id(id) {
                return Err(Error::failed(format!(
                    "surface {who}: the server exported a snapshot id holdfast does not recognise: {id:?}"
                )));
            }
            let sql = format!("SET TRANSACTION SNAPSHOT '{id}'");
            s.call("importing the exported snapshot", |c| c.batch_execute(&sql))?;
        }
        let row = s.call("checking the session", |c| {
            c.query_one(
                "SELECT pg_catalog.current_setting('transaction_read_only'), \
                        pg_catalog.current_setting('search_path'), \
                        pg_catalog.current_setting('row_security'), \
                        pg_catalog.current_setting('transaction_isolation')",
                &[],
            )
        })?;
        let get = |i: usize| -> String { row.try_get::<_, String>(i).unwrap_or_default() };
        check_read_only(&get(0))
            .map_err(|why| Error::refused(format!("surface {}: {}: {why}", s.who, s.target)))?;
        let (path, rls, iso) = (get(1), get(2), get(3));
        if path != "pg_catalog, pg_temp" || rls != "off" || iso != "repeatable read" {
            return Err(Error::refused(format!(
                "surface {}: {}: the session did not keep its pinned settings (search_path = {path:?}, \
                 row_security = {rls:?}, transaction_isolation = {iso:?}); refusing to read",
                s.who, s.target
            )));
        }
        Ok(s)
    }

    fn fail(&self, doing: &str, e: &postgres::Error) -> Error {
        Error::failed(format!(
            "surface {}: {}: {doing}: {}{}",
            self.who,
            self.target,
            pg_error(e),
            hint(e, &self.opts)
        ))
    }

    /// Runs one client call with the read timeout watching it.
    fn call<T>(
        &mut self,
        doing: &str,
        f: impl FnOnce(&mut Client) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        self.slot.begin(doing);
        let r = f(&mut self.client);
        self.slot.end();
        r.map_err(|e| self.fail(doing, &e))
    }

    /// Where the session is connected (no password).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Runs statements inside the read-only transaction (a write fails:
    /// that is the point). For checks and tests; the snapshot does not need it.
    pub fn batch_execute(&mut self, sql: &str) -> Result<()> {
        self.call("statement", |c| c.batch_execute(sql))
    }

    fn read_target(&mut self) -> Result<PgTarget> {
        let row = self.call("reading the server's identity (pg_control_system(), pg_database, pg_roles)", |c| {
            c.query_one(
                "SELECT s.system_identifier, d.oid, d.datname::pg_catalog.text, r.rolname::pg_catalog.text, r.rolsuper, \
                        pg_catalog.current_setting('server_version_num') \
                 FROM pg_catalog.pg_control_system() s, pg_catalog.pg_database d, pg_catalog.pg_roles r \
                 WHERE d.datname = pg_catalog.current_database() AND r.rolname = CURRENT_USER",
                &[],
            )
        })?;
        let bad = |e: postgres::Error| self.fail("reading the server's identity", &e);
        let sysid: i64 = row.try_get(0).map_err(bad)?;
        Ok(PgTarget {
            system_identifier: (sysid as u64).to_string(),
            database_oid: row.try_get(1).map_err(bad)?,
            database: row.try_get(2).map_err(bad)?,
            role: row.try_get(3).map_err(bad)?,
            superuser: row.try_get(4).map_err(bad)?,
            server_version: row.try_get(5).map_err(bad)?,
            databases: None,
        })
    }

    /// Runs a catalog query whose columns are all text, returning column names and rows.
    fn text_rows(
        &mut self,
        doing: &str,
        sql: &str,
        schemas: Option<&Vec<String>>,
    ) -> Result<TextRows> {
        let rows = self.call(doing, |c| match schemas {
            Some(s) => c.query(sql, &[s]),
            None => c.query(sql, &[]),
        })?;
        let mut names = Vec::new();
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            if names.is_empty() {
                names = r.columns().iter().map(|c| c.name().to_string()).collect();
            }
            let mut vals = Vec::with_capacity(r.len());
            for i in 0..r.len() {
                vals.push(
                    r.try_get::<_, Option<String>>(i)
                        .map_err(|e| self.fail(doing, &e))?,
                );
            }
            out.push(vals);
        }
        Ok((names, out))
    }

    /// Streams a COPY TO STDOUT into `sink`, chunk by chunk.
    fn copy_out(
        &mut self,
        doing: &str,
        sql: &str,
        mut sink: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        self.slot.begin(doing);
        // The clock is read once per chunk: a chunk is what arrived since
        // the last one (many rows, not one: see `tap`), so this is cheap.
        let slot = &self.slot;
        let r = self.client.copy_each(sql, |chunk| {
            slot.tick();
            sink(chunk)
        });
        self.slot.end();
        match r {
            Ok(inner) => inner,
            Err(e) => Err(self.fail(doing, &e)),
        }
    }

    /// Reads one key range of a ranged table: (sha256 of its COPY lines, row count).
    fn range_rows(
        &mut self,
        rel: &RelationDef,
        lo: Option<i64>,
        hi: Option<i64>,
        width: usize,
    ) -> Result<(String, u64)> {
        let doing = format!("reading {} (key range {lo:?}..{hi:?})", rel.part());
        let estimate =
            u64::try_from(rel.bytes.max(0)).unwrap_or(0) / u64::try_from(width.max(1)).unwrap_or(1);
        if let Some(key) = rel.key_position()
            && estimate < self.opts.sort_in_holdfast_below
        {
            let sql = rel.range_copy_sql_unordered(lo, hi);
            let mut all: Vec<u8> = Vec::with_capacity(relations::first_capacity(estimate));
            let (who, part) = (self.who.clone(), rel.part());
            self.copy_out(&doing, &sql, |chunk| {
                if all.len() + chunk.len() > UNKEYED_TABLE_LIMIT {
                    return Err(Error::failed(format!(
                        "surface {who}: {part}: a key range's COPY text exceeds {} MiB, the most holdfast \
                         sorts in memory, although the table and its TOAST are small enough to sort it \
                         (its values compress that well); such a table cannot be snapshotted yet",
                        UNKEYED_TABLE_LIMIT >> 20
                    )));
                }
                all.extend_from_slice(chunk);
                Ok(())
            })?;
            return key_sorted_digest(all, key).map_err(|why| {
                Error::failed(format!("surface {}: {}: {why}", self.who, rel.part()))
            });
        }
        let sql = rel.range_copy_sql(lo, hi);
        let mut h = Sha256::new();
        let mut rows = 0u64;
        self.copy_out(&doing, &sql, |chunk| {
            rows += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
            h.update(chunk);
            Ok(())
        })?;
        Ok((hex::encode(h.finalize()), rows))
    }

    /// Reads one page range of a page-split table (see
    /// [`RelationDef::page_split`] and [`RelationDef::keyed_page_split`]):
    /// its COPY lines, to be sorted with the other ranges'. `held` counts
    /// the bytes of the table's ranges read so far, against
    /// [`UNKEYED_TABLE_LIMIT`]; the buffer comes from `pool`.
    fn page_lines(
        &mut self,
        rel: &RelationDef,
        lo: Option<i64>,
        hi: Option<i64>,
        held: &AtomicUsize,
        pool: &BufferPool,
    ) -> Result<Vec<u8>> {
        let doing = format!("reading {} (pages {lo:?}..{hi:?})", rel.part());
        let keyed = rel.ranged();
        let sql = if keyed {
            rel.keyed_page_copy_sql(lo, hi)
        } else {
            rel.page_copy_sql(lo, hi)
        };
        let mut all: Vec<u8> = pool.take(rel.pages_capacity(lo, hi));
        let (who, part) = (self.who.clone(), rel.part());
        let sort_below = self.opts.sort_in_holdfast_below;
        // Bytes not yet added to `held`: added a MiB at a time, not once per
        // row (the counter is shared by the connections).
        let mut unheld = 0usize;
        self.copy_out(&doing, &sql, |chunk| {
            unheld += chunk.len();
            if unheld >= HELD_STEP {
                held.fetch_add(std::mem::take(&mut unheld), Ordering::SeqCst);
            }
            if held.load(Ordering::SeqCst) + unheld > UNKEYED_TABLE_LIMIT {
                return Err(Error::failed(if keyed {
                    format!(
                        "surface {who}: {part}: its rows' COPY text exceeds {} MiB, the most holdfast sorts \
                         in memory, although the table and its TOAST take less than {} MiB (its values \
                         compress that well), so holdfast read it in page ranges to sort it in memory; \
                         such a table cannot be snapshotted yet",
                        UNKEYED_TABLE_LIMIT >> 20,
                        sort_below >> 20
                    )
                } else {
                    format!(
                        "surface {who}: {part} has no primary key of built-in types and its rows exceed {} MiB, \
                         the most holdfast sorts in memory; give it a primary key",
                        UNKEYED_TABLE_LIMIT >> 20
                    )
                }));
            }
            all.extend_from_slice(chunk);
            Ok(())
        })?;
        held.fetch_add(unheld, Ordering::SeqCst);
        Ok(all)
    }

    /// The key's minimum and maximum of each ranged table among
    /// `relations` (`None`: not ranged, or no rows), and its true size in
    /// [`RelationDef::pages`] and [`RelationDef::bytes`]: one statement per
    /// [`KEY_BOUNDS_PER_STATEMENT`] tables, so that a database of many
    /// tables does not wait a round trip per table before it reads rows.
    fn key_bounds(&mut self, relations: &mut [RelationDef]) -> Result<Vec<Option<(i64, i64)>>> {
        let mut bounds = vec![None; relations.len()];
        let ranged: Vec<usize> = (0..relations.len())
            .filter(|&i| relations[i].has_rows() && relations[i].ranged())
            .collect();
        for chunk in ranged.chunks(KEY_BOUNDS_PER_STATEMENT) {
            let mut branches = Vec::with_capacity(chunk.len());
            let mut names = Vec::with_capacity(chunk.len());
            for &i in chunk {
                // Numbered by the branches written, so the parameters
                // always follow each other.
                let Some(sql) = relations[i].key_bounds_sql(i, branches.len() + 1) else {
                    continue;
                };
                branches.push(sql);
                names.push(relations[i].qualified());
            }
            let doing = match chunk {
                [i] => format!("reading the key range of {}", relations[*i].part()),
                _ => format!("reading the key ranges of {} tables", chunk.len()),
            };
            let sql = branches.join(" UNION ALL ");
            let params: Vec<&(dyn ToSql + Sync)> =
                names.iter().map(|n| n as &(dyn ToSql + Sync)).collect();
            let rows = self.call(&doing, |c| c.query(sql.as_str(), &params))?;
            if rows.len() != branches.len() {
                return Err(Error::failed(format!(
                    "surface {}: {doing}: {} rows for {} tables",
                    self.who,
                    rows.len(),
                    branches.len()
                )));
            }
            // Each table answers once: with the row count, every table.
            let mut answered: Vec<usize> = Vec::with_capacity(chunk.len());
            for row in rows {
                let tag: i32 = row.try_get(0).map_err(|e| self.fail(&doing, &e))?;
                let i = usize::try_from(tag)
                    .ok()
                    .filter(|i| chunk.contains(i) && !answered.contains(i))
                    .ok_or_else(|| {
                        Error::failed(format!(
                            "surface {}: {doing}: an unknown or repeated tag {tag}",
                            self.who
                        ))
                    })?;
                answered.push(i);
                let min: Option<i64> = row.try_get(1).map_err(|e| self.fail(&doing, &e))?;
                let max: Option<i64> = row.try_get(2).map_err(|e| self.fail(&doing, &e))?;
                relations[i].pages = row.try_get(3).map_err(|e| self.fail(&doing, &e))?;
                relations[i].bytes = row.try_get(4).map_err(|e| self.fail(&doing, &e))?;
                bounds[i] = min.zip(max);
            }
        }
        Ok(bounds)
    }

    /// Reads one relation's rows: (sha256 of its COPY lines in order, row count).
    fn relation_rows(&mut self, rel: &RelationDef) -> Result<(String, u64)> {
        let (sql, sort) = rel
            .copy_sql()
            .map_err(|why| Error::failed(format!("surface {}: {why}", self.who)))?;
        let doing = format!("reading {}", rel.part());
        if !sort {
            let mut h = Sha256::new();
            let mut rows = 0u64;
            self.copy_out(&doing, &sql, |chunk| {
                // COPY text escapes newlines inside values: one line per row.
                rows += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
                h.update(chunk);
                Ok(())
            })?;
            return Ok((hex::encode(h.finalize()), rows));
        }
        let mut all: Vec<u8> = Vec::with_capacity(rel.pages_capacity(None, None));
        let (who, part) = (self.who.clone(), rel.part());
        let why = if rel.plannable {
            "has no primary key of built-in types"
        } else {
            "has an index or statistics object with expressions (so the server is never asked to plan \
             a query on it: planning would evaluate them)"
        };
        let fix = if rel.plannable {
            "give it a primary key"
        } else {
            "drop that index or statistics object, or leave its schema out of `schemas`"
        };
        self.copy_out(&doing, &sql, |chunk| {
            if all.len() + chunk.len() > UNKEYED_TABLE_LIMIT {
                return Err(Error::failed(format!(
                    "surface {who}: {part} {why} and its rows exceed {} MiB, the most holdfast sorts in \
                     memory; {fix}",
                    UNKEYED_TABLE_LIMIT >> 20
                )));
            }
            all.extend_from_slice(chunk);
            Ok(())
        })?;
        Ok(sorted_lines_digest(&all))
    }

    fn sequence_value(&mut self, rel: &RelationDef) -> Result<(String, u64)> {
        let sql = format!(
            "SELECT last_value::pg_catalog.text, is_called::pg_catalog.text FROM {}",
            quote::sql_qualified(&rel.schema, &rel.name)
        );
        let row = self.call(&format!("reading {}", rel.part()), |c| {
            c.query_one(sql.as_str(), &[])
        })?;
        let a: String = row
            .try_get(0)
            .map_err(|e| self.fail("reading a sequence", &e))?;
        let b: String = row
            .try_get(1)
            .map_err(|e| self.fail("reading a sequence", &e))?;
        Ok((digest::sha256_hex(format!("{a}\t{b}\n").as_bytes()), 0))
    }

    /// Reads every relation definition of the covered schemas.
    fn relations(&mut self, schemas: &Vec<String>, version: u32) -> Result<Vec<RelationDef>> {
        let rows = self.call("listing relations", |c| {
            c.query(relations::RELATIONS_SQL, &[schemas])
        })?;
        let mut rels: Vec<(u32, RelationDef)> = Vec::with_capacity(rows.len());
        let bad = |s: &Self, e: postgres::Error| s.fail("listing relations", &e);
        for r in &rows {
            let mut attributes = BTreeMap::new();
            for i in relations::RELATION_FIXED_COLUMNS..r.len() {
                attributes.insert(
                    r.columns()[i].name().to_string(),
                    r.try_get::<_, Option<String>>(i)
                        .map_err(|e| bad(self, e))?,
                );
            }
            let pages: i64 = r.try_get(4).map_err(|e| bad(self, e))?;
            rels.push((
                r.try_get(0).map_err(|e| bad(self, e))?,
                RelationDef {
                    schema: r.try_get(1).map_err(|e| bad(self, e))?,
                    name: r.try_get(2).map_err(|e| bad(self, e))?,
                    kind: r.try_get(3).map_err(|e| bad(self, e))?,
                    pages,
                    bytes: pages.saturating_mul(8192),
                    columns: Vec::new(),
                    constraints: Vec::new(),
                    indexes: Vec::new(),
                    primary_key: Vec::new(),
                    attributes,
                    key_is_builtin: true,
                    key_is_integer: true,
                    plannable: true,
                },
            ));
        }
        let index: BTreeMap<u32, usize> = rels
            .iter()
            .enumerate()
            .map(|(i, (oid, _))| (*oid, i))
            .collect();
        let mut each = |s: &mut Self,
                        doing: &str,
                        sql: &str,
                        f: &mut dyn FnMut(
            &mut RelationDef,
            &postgres::Row,
        ) -> std::result::Result<(), postgres::Error>|
         -> Result<()> {
            let rows = s.call(doing, |c| c.query(sql, &[schemas]))?;
            for r in &rows {
                let oid: u32 = r.try_get(0).map_err(|e| s.fail(doing, &e))?;
                if let Some(&i) = index.get(&oid) {
                    f(&mut rels[i].1, r).map_err(|e| s.fail(doing, &e))?;
                }
            }
            Ok(())
        };
        each(
            self,
            "reading columns",
            relations::COLUMNS_SQL,
            &mut |rel, r| {
                rel.columns.push(relations::ColumnDef {
                    name: r.try_get(1)?,
                    data_type: r.try_get(2)?,
                    not_null: r.try_get(3)?,
                    default: r.try_get(4)?,
                    identity: r.try_get(5)?,
                    generated: r.try_get(6)?,
                    collation: r.try_get(7)?,
                    acl: r.try_get(8)?,
                    options: r.try_get(9)?,
                    fdw_options: r.try_get(10)?,
                });
                Ok(())
            },
        )?;
        each(
            self,
            "reading constraints",
            relations::CONSTRAINTS_SQL,
            &mut |rel, r| {
                rel.constraints.push(relations::ConstraintDef {
                    name: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    definition: r.try_get(3)?,
                    validated: r.try_get(4)?,
                });
                Ok(())
            },
        )?;
        each(
            self,
            "reading indexes",
            relations::INDEXES_SQL,
            &mut |rel, r| {
                rel.indexes.push(relations::IndexDef {
                    name: r.try_get(1)?,
                    definition: r.try_get(2)?,
                    valid: r.try_get(3)?,
                    clustered: r.try_get(4)?,
                    options: r.try_get(5)?,
                });
                Ok(())
            },
        )?;
        each(
            self,
            "reading primary keys",
            relations::PRIMARY_KEYS_SQL,
            &mut |rel, r| {
                rel.primary_key.push(r.try_get(1)?);
                let builtin: bool = r.try_get(2)?;
                rel.key_is_builtin &= builtin;
                let integer: bool = r.try_get(3)?;
                rel.key_is_integer &= integer;
                Ok(())
            },
        )?;
        each(
            self,
            "reading which relations have index or statistics expressions",
            if version < 140000 {
                relations::UNPLANNABLE_SQL_BEFORE_14
            } else {
                relations::UNPLANNABLE_SQL
            },
            &mut |rel, _| {
                rel.plannable = false;
                Ok(())
            },
        )?;
        Ok(rels.into_iter().map(|(_, r)| r).collect())
    }

    /// Reads every catalog kind into parts: part name -> the rows that name it.
    fn catalog(&mut self, schemas: &Vec<String>, version: u32) -> Result<CatalogParts> {
        let mut parts: CatalogParts = BTreeMap::new();
        for k in KINDS {
            let sql = match k.sql_before_15 {
                Some(old) if version < 150000 => old,
                _ => k.sql,
            };
            let doing = format!("reading {} ({})", k.prefix, k.catalog);
            let (names, rows) = self.text_rows(&doing, sql, k.filtered.then_some(schemas))?;
            for row in rows {
                let mut identity = Vec::new();
                let mut attributes = BTreeMap::new();
                for (name, v) in names.iter().zip(row) {
                    if name.starts_with("qi_") || name.starts_with("id_") {
                        identity.push((name.as_str(), v));
                    } else {
                        attributes.insert(name.clone(), v);
                    }
                }
                let ident: Vec<(&str, Option<&str>)> =
                    identity.iter().map(|(n, v)| (*n, v.as_deref())).collect();
                parts
                    .entry(catalog::row_part(k.prefix, &ident))
                    .or_default()
                    .push(attributes);
            }
        }
        Ok(parts)
    }

    /// Digests the bytes of every large object, per object.
    fn large_object_data(&mut self) -> Result<BTreeMap<String, String>> {
        let mut hashers: BTreeMap<String, Sha256> = BTreeMap::new();
        let mut pending: Vec<u8> = Vec::new();
        let line_into = |line: &[u8], hashers: &mut BTreeMap<String, Sha256>| {
            let oid_end = line.iter().position(|&b| b == b'\t').unwrap_or(line.len());
            let oid = String::from_utf8_lossy(&line[..oid_end]).into_owned();
            hashers.entry(oid).or_default().update(line);
        };
        self.copy_out(
            "reading large objects (pg_largeobject)",
            "COPY (SELECT loid, pageno, data FROM pg_catalog.pg_largeobject ORDER BY loid, pageno) TO STDOUT",
            |chunk| {
                pending.extend_from_slice(chunk);
                let mut start = 0;
                while let Some(nl) = pending[start..].iter().position(|&b| b == b'\n') {
                    line_into(&pending[start..=start + nl], &mut hashers);
                    start += nl + 1;
                }
                pending.drain(..start);
                Ok(())
            },
        )?;
        Ok(hashers
            .into_iter()
            .map(|(oid, h)| (oid, hex::encode(h.finalize())))
            .collect())
    }

    fn export_snapshot(&mut self) -> Result<String> {
        let row = self.call("exporting the snapshot (pg_export_snapshot())", |c| {
            c.query_one("SELECT pg_catalog.pg_export_snapshot()", &[])
        })?;
        row.try_get(0)
            .map_err(|e| self.fail("exporting the snapshot", &e))
    }
}

impl Drop for ReadOnlySession {
    fn drop(&mut self) {
        // Nothing was written; ending the transaction explicitly just frees
        // the snapshot on the server sooner. A failure cannot be acted on.
        let _ = self.client.batch_execute("ROLLBACK");
    }
}

/// sha256 of the lines of `copy` (each with its `\n`) sorted by their
/// bytes, and the number of lines.
pub fn sorted_lines_digest(copy: &[u8]) -> (String, u64) {
    sorted_buffers_digest(&[copy])
}

/// [`sorted_lines_digest`] of the lines of several COPY streams together
/// (the page ranges of one table, each a run of whole lines): the same
/// digest as their concatenation's, in any order and any split.
pub fn sorted_buffers_digest<B: AsRef<[u8]>>(copies: &[B]) -> (String, u64) {
    let mut lines: Vec<&[u8]> = copies
        .iter()
        .flat_map(|c| c.as_ref().split_inclusive(|&b| b == b'\n'))
        .collect();
    lines.sort_unstable();
    let mut h = Sha256::new();
    for l in &lines {
        h.update(l);
    }
    (hex::encode(h.finalize()), lines.len() as u64)
}

/// Adds one page range's rows to its table's (`of` ranges in all); once
/// they are all there, takes them out, for the caller to hash outside the
/// lock and free.
fn last_range<T>(table: &Mutex<Vec<T>>, range: T, of: usize) -> Option<Vec<T>> {
    let mut parts = table.lock().unwrap_or_else(|e| e.into_inner());
    parts.push(range);
    (parts.len() >= of).then(|| std::mem::take(&mut *parts))
}

/// One unit of row reading: a whole table (`of == 1`) or range `range` of
/// its `of` key ranges (`pages`: page ranges).
struct Job {
    relation: usize,
    range: usize,
    of: usize,
    lo: Option<i64>,
    hi: Option<i64>,
    pages: bool,
    weight: i64,
}

/// The rows digest of a table read in key ranges: sha256 over one line per
/// range, `<index>\t<sha256 of its COPY lines>\t<rows>\n`, in key order;
/// and the total row count.
pub fn ranges_digest(ranges: &[(usize, String, u64)]) -> (String, u64) {
    let mut h = Sha256::new();
    let mut total = 0u64;
    for (k, sha, rows) in ranges {
        h.update(format!("{k}\t{sha}\t{rows}\n").as_bytes());
        total += rows;
    }
    (hex::encode(h.finalize()), total)
}

/// sha256 of COPY lines sorted by the integer in field `key` (0-based; the
/// fields are tab-separated, a tab inside a value is escaped), and the line
/// count: the bytes a server `ORDER BY` of a unique integer key would give
/// (the rows of a page-range read cut into one key range, hashed the same way).
pub fn key_sorted_digest(copy: Vec<u8>, key: usize) -> std::result::Result<(String, u64), String> {
    KeyedRows::digest(&[KeyedRows::parse(copy, key, &[(None, None)])?])
}

/// The rows of one page range of a ranged table read in page ranges (see
/// [`RelationDef::keyed_page_split`]): its COPY bytes and, per key range
/// (as [`relations::key_ranges`] gives them), its lines in key order.
pub(crate) struct KeyedRows {
    bytes: Vec<u8>,
    /// Per key range: (key, start, end) of each line in `bytes`.
    ranges: Vec<Vec<(i64, u32, u32)>>,
}

impl KeyedRows {
    /// Parses a COPY stream (whole lines; the integer key in field `key`)
    /// into the key ranges `ranges` (in order, the first unbounded below,
    /// the last above), each sorted by key.
    pub fn parse(
        bytes: Vec<u8>,
        key: usize,
        ranges: &[relations::Bounds],
    ) -> std::result::Result<KeyedRows, String> {
        let too_big = || "a page range's rows exceed 4 GiB".to_string();
        u32::try_from(bytes.len()).map_err(|_| too_big())?;
        let his: Vec<i64> = ranges
            .iter()
            .take(ranges.len().saturating_sub(1))
            .map(|(_, hi)| hi.ok_or("internal: a key range before the last is unbounded above"))
            .collect::<std::result::Result<_, _>>()?;
        let mut out: Vec<Vec<(i64, u32, u32)>> = vec![Vec::new(); his.len() + 1];
        if let [only] = out.as_mut_slice() {
            // About 70 bytes a line; sized once, not grown by doubling.
            only.reserve(bytes.len() / 64);
        }
        // The key range of the line before: lines stored in key order
        // mostly stay in it, which spares the search.
        let mut range = 0;
        keyed_lines(&bytes, key, |k, start, end| {
            let inside =
                (range == 0 || his[range - 1] <= k) && his.get(range).is_none_or(|hi| k < *hi);
            if !inside {
                range = his.partition_point(|hi| *hi <= k);
            }
            // Offsets fit: the whole buffer's length does.
            out[range].push((k, start as u32, end as u32));
        })?;
        for r in &mut out {
            // Already in order when the table is stored in key order, and
            // checking costs less than sorting sorted lines.
            if !r.is_sorted_by_key(|(k, _, _)| *k) {
                r.sort_unstable_by_key(|(k, _, _)| *k);
            }
        }
        Ok(KeyedRows { bytes, ranges: out })
    }

    /// Its COPY bytes, to reuse the buffer once the table is hashed.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The rows digest of the table from all its page ranges' rows: per key
    /// range, the lines of every page range sorted by key and hashed, then
    /// [`ranges_digest`] over the ranges (one range's digest alone when
    /// there is one); the same bytes as reading each key range on its own
    /// (a test checks it).
    pub fn digest(parts: &[KeyedRows]) -> std::result::Result<(String, u64), String> {
        use rayon::prelude::*;
        let n = parts.first().map_or(0, |p| p.ranges.len());
        if parts.iter().any(|p| p.ranges.len() != n) {
            return Err("internal: page ranges cut into different key ranges".into());
        }
        let hashed: Vec<(usize, String, u64)> = (0..n)
            .into_par_iter()
            .map(|r| {
                // The page ranges in the order of their first key here, so
                // that a table stored in key order needs no sort.
                let mut order: Vec<usize> = (0..parts.len())
                    .filter(|&p| !parts[p].ranges[r].is_empty())
                    .collect();
                order.sort_unstable_by_key(|&p| parts[p].ranges[r][0].0);
                let runs = order.iter().map(|&p| (p, parts[p].ranges[r].as_slice()));
                let mut h = Sha256::new();
                let count = if strictly_ascending(runs.clone().map(|(_, lines)| lines)) {
                    // Each part's lines are in order and the parts follow
                    // each other: hashed as they are, nothing is merged.
                    hash_spans(
                        &mut h,
                        parts,
                        runs.flat_map(|(p, lines)| lines.iter().map(move |&(_, a, b)| (p, a, b))),
                    )
                } else {
                    // (key, page range, start, end) of each line.
                    let mut lines: Vec<(i64, usize, u32, u32)> = runs
                        .flat_map(|(p, lines)| lines.iter().map(move |&(k, a, b)| (k, p, a, b)))
                        .collect();
                    lines.sort_unstable_by_key(|l| l.0);
                    if lines.windows(2).any(|w| w[0].0 == w[1].0) {
                        return Err("two rows share a primary key value".to_string());
                    }
                    hash_spans(&mut h, parts, lines.iter().map(|&(_, p, a, b)| (p, a, b)))
                };
                Ok((r, hex::encode(h.finalize()), count))
            })
            .collect::<std::result::Result<_, _>>()?;
        Ok(match hashed.as_slice() {
            [(_, sha, rows)] => (sha.clone(), *rows),
            _ => ranges_digest(&hashed),
        })
    }
}

/// Whether the keys of `runs` (each a page range's lines of one key
/// range, sorted) are strictly ascending from the first line of the first
/// run to the last of the last: then they are already in key order and no
/// two rows share a key.
fn strictly_ascending<'a>(runs: impl Iterator<Item = &'a [(i64, u32, u32)]>) -> bool {
    let mut last: Option<i64> = None;
    for lines in runs {
        for &(k, _, _) in lines {
            if last.is_some_and(|l| l >= k) {
                return false;
            }
            last = Some(k);
        }
    }
    true
}

/// Hashes the lines `(part, start, end)` in the order given into `h`;
/// lines next to each other in one part's buffer are hashed as one span
/// (a table stored in key order is a few long spans). Returns the number
/// of lines.
fn hash_spans(
    h: &mut Sha256,
    parts: &[KeyedRows],
    lines: impl Iterator<Item = (usize, u32, u32)>,
) -> u64 {
    let mut count = 0u64;
    let mut span: Option<(usize, u32, u32)> = None;
    for (p, a, b) in lines {
        count += 1;
        span = match span {
            Some((sp, sa, sb)) if sp == p && sb == a => Some((sp, sa, b)),
            Some((sp, sa, sb)) => {
                h.update(&parts[sp].bytes[sa as usize..sb as usize]);
                Some((p, a, b))
            }
            None => Some((p, a, b)),
        };
    }
    if let Some((sp, sa, sb)) = span {
        h.update(&parts[sp].bytes[sa as usize..sb as usize]);
    }
    count
}

/// Hands `each` every line of one COPY stream: the integer in field `key`
/// (0-based; fields are tab-separated, a tab or newline inside a value is
/// escaped), and the line's start and end (with its `\n`). `memchr` finds
/// the separators: this runs over every byte of a table, and no list of
/// the lines is built in between.
fn keyed_lines(
    copy: &[u8],
    key: usize,
    mut each: impl FnMut(i64, usize, usize),
) -> std::result::Result<(), String> {
    let mut start = 0;
    while start < copy.len() {
        let end = memchr::memchr(b'\n', &copy[start..]).map_or(copy.len(), |i| start + i + 1);
        let line = &copy[start..end];
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let field =
            nth_field(body, key).ok_or_else(|| format!("a COPY line has no field {}", key + 1))?;
        let k = parse_key(field)
            .ok_or_else(|| "a key value in COPY output is not an integer".to_string())?;
        each(k, start, end);
        start = end;
    }
    Ok(())
}

/// Field `n` (0-based) of a tab-separated line.
fn nth_field(line: &[u8], n: usize) -> Option<&[u8]> {
    let mut rest = line;
    for _ in 0..n {
        let tab = memchr::memchr(b'\t', rest)?;
        rest = &rest[tab + 1..];
    }
    Some(&rest[..memchr::memchr(b'\t', rest).unwrap_or(rest.len())])
}

/// An integer as the server's integer output functions write it: an
/// optional `-` and decimal digits, within `i64` (`None` otherwise: no `+`,
/// no spaces, no empty digits).
fn parse_key(field: &[u8]) -> Option<i64> {
    let (negative, digits) = match field {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, field),
    };
    if digits.is_empty() {
        return None;
    }
    // Accumulated below zero, so i64::MIN fits.
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_sub(i64::from(d - b'0'))?;
    }
    if negative { Some(v) } else { v.checked_neg() }
}

/// The digest of a relation part: its definition and its rows.
fn relation_digest(def_sha256: &str, rows_sha256: &str) -> String {
    digest::sha256_hex(format!("{def_sha256}  definition\n{rows_sha256}  rows\n").as_bytes())
}

/// What an every-database snapshot does not read.
pub const NOT_READ_SERVER: &str = "not read: the contents of template0, role passwords, subscriptions, \
     tablespaces, collations, text search configurations, operator classes and families, statistics objects, \
     comments, the server's configuration files";

/// What the snapshot does not read, said in its description and the docs.
pub const NOT_READ: &str = "not read: other databases of the server, role passwords, subscriptions, \
     tablespaces, collations, text search configurations, operator classes and families, statistics objects, \
     comments, the server's configuration files";

/// Reads a `postgres` surface: connect, read everything, end the
/// transaction. Fails (never hangs) when the server stops answering for
/// `read_timeout_seconds`.
pub fn read(connection: &str, opts: &PgOptions, who: &str) -> Result<PgReading> {
    let config = prepare_config(connection, opts, who)?;
    let watch = Watch::new();
    let (tx, rx) = mpsc::channel();
    {
        let (config, opts, owner, watch) =
            (config.clone(), opts.clone(), who.to_string(), watch.clone());
        // A detached thread: if the server stops answering, it stays blocked
        // on its socket and the snapshot fails here without waiting for it.
        std::thread::Builder::new()
            .name("holdfast-pg".into())
            .spawn(move || {
                let _ = tx.send(if opts.all_databases {
                    read_server(&config, &opts, &owner, &watch)
                } else {
                    read_inner(&config, &opts, &owner, &watch).map(|r| r.reading)
                });
            })
            .map_err(|e| Error::failed(format!("surface {who}: cannot start the reader: {e}")))?;
    }
    let read_limit = Duration::from_secs(opts.read_timeout_seconds);
    let statement_limit = Duration::from_secs(opts.statement_timeout_seconds);
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(result) => return result,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Error::failed(format!(
                    "surface {who}: the reader stopped without an answer"
                )));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                match watch.stalled(read_limit, statement_limit) {
                    Some(Stall::Silent(doing)) => {
                        return Err(Error::failed(format!(
                            "surface {who}: {}: no answer from the server for {} s while {doing} \
                         (read_timeout_seconds); the snapshot is abandoned",
                            describe_target(&config),
                            opts.read_timeout_seconds
                        )));
                    }
                    Some(Stall::Overran(doing)) => {
                        return Err(Error::failed(format!(
                            "surface {who}: {}: still {doing} after statement_timeout_seconds = {} plus \
                         read_timeout_seconds = {}: the server did not end the statement (its answer \
                         trickles in), so holdfast does; the snapshot is abandoned",
                            describe_target(&config),
                            opts.statement_timeout_seconds,
                            opts.read_timeout_seconds
                        )));
                    }
                    None => {}
                }
            }
        }
    }
}

/// The database list of an every-database snapshot: every database of the
/// server, template0 included (its row is digested even though its contents
/// cannot be read), by name in byte order.
pub const DATABASES_SQL: &str = "SELECT d.oid, d.datname::pg_catalog.text, d.datallowconn, \
       (pg_catalog.to_jsonb(d) OPERATOR(pg_catalog.-) 'datfrozenxid' OPERATOR(pg_catalog.-) 'datminmxid')::pg_catalog.text \
     FROM pg_catalog.pg_database d ORDER BY d.datname COLLATE \"C\"";

/// The one database an every-database snapshot does not read: it accepts
/// no connections by design (`datallowconn = false`), so no change can be
/// made in it without first making it connectable, which its row (in the
/// `databases` part) shows.
pub const UNREAD_TEMPLATE: &str = "template0";

/// Why an every-database snapshot cannot read database `name`, when it
/// cannot: it allows no connections and is not template0. A pure function
/// of its row, so the rule is tested without a server.
pub fn unreadable_database(name: &str, oid: u32, allow_connections: bool) -> Option<String> {
    (!allow_connections && name != UNREAD_TEMPLATE).then(|| {
        format!(
            "database {name:?} (oid {oid}) allows no connections (datallowconn = false), so its contents \
             cannot be read; the surface reads every database of the server (all_databases = true) and \
             skips none: allow connections to it (ALTER DATABASE ... ALLOW_CONNECTIONS true), or give it \
             a surface of its own"
        )
    })
}

/// The part name prefix of database `name`'s parts in an every-database
/// snapshot: `db:<name>/` (the name quoted like any part component).
pub fn database_prefix(name: &str) -> String {
    format!("db:{}/", quote::part_ident(name))
}

/// Reads every database of the server: the list through the connection's
/// own database, then each database in its own snapshot, one after
/// another. Its parts are `databases` (every database's `pg_database` row),
/// `db:<name>` (the digest of that database's parts), `db:<name>/<part>` (a
/// part of one database) and the cluster-wide `role:` parts. A database that
/// cannot be read fails the whole snapshot, naming it; only template0 is not
/// read (see [`UNREAD_TEMPLATE`]).
fn read_server(
    config: &Config,
    opts: &PgOptions,
    who: &str,
    watch: &Arc<Watch>,
) -> Result<PgReading> {
    let (mut target, list) = {
        let mut main = ReadOnlySession::open_with(config, opts, who, watch, None)?;
        let target = main.read_target()?;
        let doing = "listing databases (pg_database)";
        let rows = main.call(doing, |c| c.query(DATABASES_SQL, &[]))?;
        let mut list: Vec<(u32, String, bool, String)> = Vec::with_capacity(rows.len());
        for r in &rows {
            let bad = |e: postgres::Error| main.fail(doing, &e);
            list.push((
                r.try_get(0).map_err(bad)?,
                r.try_get(1).map_err(bad)?,
                r.try_get(2).map_err(bad)?,
                r.try_get(3).map_err(bad)?,
            ));
        }
        (target, list)
    };
    // Every database must be readable before anything is read.
    for (oid, name, allow, _) in &list {
        if let Some(why) = unreadable_database(name, *oid, *allow) {
            return Err(Error::failed(format!("surface {who}: {why}")));
        }
    }
    let mut parts = BTreeMap::new();
    let mut listing = Sha256::new();
    for (_, _, _, row) in &list {
        listing.update(row.as_bytes());
        listing.update(b"\n");
    }
    parts.insert("databases".to_string(), hex::encode(listing.finalize()));
    let mut databases = Vec::with_capacity(list.len());
    let mut roles_taken = false;
    let (mut n_tables, mut n_rows) = (0u64, 0u64);
    for (oid, name, allow, _) in &list {
        if !allow {
            // template0 (unreadable_database refused any other).
            databases.push(PgDatabase {
                name: name.clone(),
                oid: *oid,
                digest: None,
            });
            continue;
        }
        let mut one = config.clone();
        one.dbname(name);
        let DatabaseReading {
            reading: r,
            tables,
            rows,
        } = read_inner(&one, opts, who, watch)?;
        if r.target.system_identifier != target.system_identifier || r.target.database_oid != *oid {
            return Err(Error::failed(format!(
                "surface {who}: database {name:?} was listed with oid {oid} on server {} but read as {}: \
                 it was dropped and created again, or the connection reached another server, while the \
                 snapshot ran",
                target.system_identifier,
                r.target.describe()
            )));
        }
        n_tables += tables;
        n_rows += rows;
        let mut own = BTreeMap::new();
        for (k, v) in r.reading.parts {
            if k.starts_with("role:") {
                // Cluster-wide: kept once, from the first database read.
                if !roles_taken {
                    parts.insert(k, v);
                }
            } else {
                own.insert(k, v);
            }
        }
        roles_taken = true;
        let digest = super::parts_digest(&own)?;
        let prefix = database_prefix(name);
        parts.insert(prefix.trim_end_matches('/').to_string(), digest.clone());
        for (k, v) in own {
            parts.insert(format!("{prefix}{k}"), v);
        }
        databases.push(PgDatabase {
            name: name.clone(),
            oid: *oid,
            digest: Some(digest),
        });
    }
    let n_read = databases.iter().filter(|d| d.digest.is_some()).count();
    let unread: Vec<&str> = databases
        .iter()
        .filter(|d| d.digest.is_none())
        .map(|d| d.name.as_str())
        .collect();
    let description = format!(
        "PostgreSQL server {}: every database ({n_read} read{}), {n_tables} table(s), {n_rows} row(s), \
         each database in its own READ ONLY REPEATABLE READ transaction as {}{}; {NOT_READ_SERVER}",
        target.system_identifier,
        if unread.is_empty() {
            String::new()
        } else {
            format!(
                "; not read: {} (accepts no connections; its pg_database row is read)",
                unread.join(", ")
            )
        },
        target.role,
        if target.superuser {
            " (a superuser: a least-privilege role is recommended)"
        } else {
            ""
        }
    );
    target.databases = Some(databases);
    Ok(PgReading {
        reading: Reading {
            parts,
            description,
            exit_code: None,
        },
        target,
    })
}

/// One database's reading and its counts.
struct DatabaseReading {
    reading: PgReading,
    tables: u64,
    rows: u64,
}

fn read_inner(
    config: &Config,
    opts: &PgOptions,
    who: &str,
    watch: &Arc<Watch>,
) -> Result<DatabaseReading> {
    let mut main = ReadOnlySession::open_with(config, opts, who, watch, None)?;
    let target = main.read_target()?;
    let version: u32 = target.server_version.parse().unwrap_or(0);
    let schemas: Vec<String> = opts.schemas.clone().unwrap_or_default();
    if !schemas.is_empty() {
        let (_, present) = main.text_rows(
            "listing schemas",
            "SELECT n.nspname::pg_catalog.text FROM pg_catalog.pg_namespace n WHERE n.nspname = ANY($1::pg_catalog.text[])",
            Some(&schemas),
        )?;
        for w in &schemas {
            if !present
                .iter()
                .any(|r| r.first().and_then(|v| v.as_deref()) == Some(w.as_str()))
            {
                return Err(Error::failed(format!(
                    "surface {who}: {}: schema {w:?} does not exist",
                    main.target
                )));
            }
        }
    }
    let mut relations = main.relations(&schemas, version)?;
    // Jobs: a whole table, one key range of a table with an integer key, or
    // one page range of a large table without a built-in key.
    let mut jobs: Vec<Job> = Vec::new();
    // Ranged tables read in page ranges: their key ranges, by relation.
    let mut keyed_pages: BTreeMap<usize, Vec<relations::Bounds>> = BTreeMap::new();
    let key_bounds = main.key_bounds(&mut relations)?;
    for (i, (rel, bounds)) in relations.iter().zip(key_bounds).enumerate() {
        if !rel.has_rows() {
            continue;
        }
        let estimate = u64::try_from(rel.bytes.max(0)).unwrap_or(u64::MAX);
        let (ranges, pages) = match bounds {
            Some((min, max))
                if rel.keyed_page_split(version) && estimate < opts.sort_in_holdfast_below =>
            {
                keyed_pages.insert(i, relations::key_ranges(min, max));
                // Several ranges per connection, so that parsing one overlaps
                // reading the next and the connections end together.
                let per = opts.pages_per_range.min(
                    (u64::try_from(rel.pages.max(0)).unwrap_or(0)
                        / (KEYED_RANGES_PER_CONNECTION * opts.parallel.max(1) as u64))
                        .max(KEYED_MIN_PAGES_PER_RANGE),
                );
                (relations::page_ranges(rel.pages, per), true)
            }
            Some((min, max)) => (relations::key_ranges(min, max), false),
            None if rel.page_split(version) => {
                let r = relations::page_ranges(rel.pages, opts.pages_per_range);
                let split = r.len() > 1;
                (r, split)
            }
            None => (vec![(None, None)], false),
        };
        let n = ranges.len();
        for (k, (lo, hi)) in ranges.into_iter().enumerate() {
            jobs.push(Job {
                relation: i,
                range: k,
                of: n,
                lo,
                hi,
                pages,
                weight: rel.pages / i64::try_from(n).unwrap_or(1),
            });
        }
    }
    // A page-split table's lines are held in memory together: their bytes
    // so far, per relation, against UNKEYED_TABLE_LIMIT.
    let held: Vec<AtomicUsize> = relations.iter().map(|_| AtomicUsize::new(0)).collect();
    // The parsed page ranges of each table with an integer key read so,
    // and the lines of each page range of a table without one, until the
    // table's last range is read: then it is hashed and its buffers go
    // back to `pool` for the next tables' ranges.
    let keyed_parts: Vec<Mutex<Vec<KeyedRows>>> =
        relations.iter().map(|_| Mutex::new(Vec::new())).collect();
    let paged_parts: Vec<Mutex<Vec<Vec<u8>>>> =
        relations.iter().map(|_| Mutex::new(Vec::new())).collect();
    let pool = BufferPool::default();
    // Largest first; the order only schedules, the digests do not depend on it.
    jobs.sort_by_key(|j| (std::cmp::Reverse(j.weight), j.relation, j.range));
    let workers = opts.parallel.clamp(1, 64).min(jobs.len().max(1));
    let snapshot_id = if workers > 1 {
        Some(main.export_snapshot()?)
    } else {
        None
    };
    // What only the first connection reads: the catalog, large objects'
    // bytes, sequence values. The other connections start on the rows at
    // once (they share its snapshot), so this overlaps their reading.
    let first_reads = |main: &mut ReadOnlySession| -> Result<(CatalogParts, RowValues)> {
        let mut catalog = main.catalog(&schemas, version)?;
        if catalog.keys().any(|k| k.starts_with("large-object:")) {
            for (oid, sha) in main.large_object_data()? {
                if let Some(rows) = catalog.get_mut(&format!("large-object:{oid}")) {
                    for r in rows.iter_mut() {
                        r.insert("data_sha256".into(), Some(sha.clone()));
                    }
                }
            }
        }
        let mut values: Vec<Option<(String, u64)>> = vec![None; relations.len()];
        for (i, rel) in relations.iter().enumerate() {
            if rel.kind == "S" {
                values[i] = Some(main.sequence_value(rel)?);
            }
        }
        Ok((catalog, values))
    };

    // Rows: every connection takes the next job, largest first.
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<RowResults> = Mutex::new(Vec::new());
    let work = |s: &mut ReadOnlySession| {
        while !failed.load(Ordering::SeqCst) {
            let n = next.fetch_add(1, Ordering::SeqCst);
            let Some(job) = jobs.get(n) else { break };
            let rel = &relations[job.relation];
            let r = if let (true, Some(key_ranges)) = (job.pages, keyed_pages.get(&job.relation)) {
                // Parsed and bucketed here, while the other connections read.
                s.page_lines(rel, job.lo, job.hi, &held[job.relation], &pool)
                    .and_then(|bytes| {
                        let key = rel.key_position().ok_or_else(|| {
                            Error::failed(format!(
                                "internal: surface {who}: {} has no key column",
                                rel.part()
                            ))
                        })?;
                        KeyedRows::parse(bytes, key, key_ranges).map_err(|why| {
                            Error::failed(format!("surface {who}: {}: {why}", rel.part()))
                        })
                    })
                    .and_then(|rows| {
                        // The connection that parses a table's last range
                        // hashes the table, while the others read on.
                        let Some(parts) = last_range(&keyed_parts[job.relation], rows, job.of)
                        else {
                            return Ok(JobRows::Held);
                        };
                        let digest = KeyedRows::digest(&parts);
                        pool.give(parts.into_iter().map(KeyedRows::into_bytes));
                        let (sha, n) = digest.map_err(|why| {
                            Error::failed(format!("surface {who}: {}: {why}", rel.part()))
                        })?;
                        Ok(JobRows::Table(sha, n))
                    })
            } else if job.pages {
                s.page_lines(rel, job.lo, job.hi, &held[job.relation], &pool)
                    .map(|lines| {
                        // As above: the connection that reads a table's
                        // last range sorts and hashes its lines.
                        let Some(parts) = last_range(&paged_parts[job.relation], lines, job.of)
                        else {
                            return JobRows::Held;
                        };
                        let (sha, n) = sorted_buffers_digest(&parts);
                        pool.give(parts);
                        JobRows::Table(sha, n)
                    })
            } else if rel.ranged() {
                s.range_rows(rel, job.lo, job.hi, job.of)
                    .map(|(d, n)| JobRows::Digest(d, n))
            } else {
                s.relation_rows(rel).map(|(d, n)| JobRows::Digest(d, n))
            };
            if r.is_err() {
                failed.store(true, Ordering::SeqCst);
            }
            results
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((n, r));
        }
    };
    let first = std::thread::scope(|scope| {
        for _ in 1..workers {
            let id = snapshot_id.clone();
            scope.spawn(|| {
                let id = id;
                batch::mark_current_thread();
                // A connection that cannot join only makes the read slower.
                if let Ok(mut s) =
                    ReadOnlySession::open_with(config, opts, who, watch, id.as_deref())
                {
                    work(&mut s);
                }
            });
        }
        // On a thread of its own too, so that the scheduling hint leaves
        // the caller's thread as it was.
        let main_reads = scope.spawn(|| {
            batch::mark_current_thread();
            let first = first_reads(&mut main);
            if first.is_err() {
                failed.store(true, Ordering::SeqCst);
            } else {
                work(&mut main);
            }
            first
        });
        main_reads.join().unwrap_or_else(|_| {
            Err(Error::failed(format!(
                "internal: surface {who}: the first connection's reading thread panicked"
            )))
        })
    });
    let (catalog, mut values) = first?;
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(n, _)| *n);
    // Per relation, its key ranges' digests in key order.
    let mut ranged: BTreeMap<usize, Vec<(usize, String, u64)>> = BTreeMap::new();
    for (n, r) in results {
        let job = &jobs[n];
        match r? {
            JobRows::Table(sha, rows) => values[job.relation] = Some((sha, rows)),
            JobRows::Held => {}
            JobRows::Digest(sha, rows) if job.of == 1 => {
                values[job.relation] = Some((sha, rows));
            }
            JobRows::Digest(sha, rows) => ranged
                .entry(job.relation)
                .or_default()
                .push((job.range, sha, rows)),
        }
    }
    for (i, mut parts) in ranged {
        parts.sort_by_key(|(k, _, _)| *k);
        values[i] = Some(ranges_digest(&parts));
    }

    let mut parts = BTreeMap::new();
    let mut tables = Vec::new();
    let (mut total_rows, mut n_tables) = (0u64, 0usize);
    let empty = digest::sha256_hex(b"");
    for (i, rel) in relations.iter().enumerate() {
        let def_sha = digest::sha256_hex(&canonical::to_bytes(rel)?);
        let rows_sha = match &values[i] {
            Some((sha, n)) => {
                total_rows += n;
                sha.clone()
            }
            None if rel.has_rows() => {
                return Err(Error::failed(format!(
                    "surface {who}: {} was not read",
                    rel.part()
                )));
            }
            None => empty.clone(),
        };
        if rel.part_kind() == "table" {
            n_tables += 1;
            tables.push(rel);
        }
        parts.insert(rel.part(), relation_digest(&def_sha, &rows_sha));
    }
    parts.insert(
        "schema".to_string(),
        digest::sha256_hex(&canonical::to_bytes(&tables)?),
    );
    let n_catalog = catalog.len();
    for (name, mut rows) in catalog {
        let mut encoded: Vec<Vec<u8>> = Vec::with_capacity(rows.len());
        for r in rows.drain(..) {
            encoded.push(canonical::to_bytes(&r)?);
        }
        encoded.sort();
        let mut h = Sha256::new();
        for e in &encoded {
            h.update(e);
            h.update(b"\n");
        }
        if parts
            .insert(name.clone(), hex::encode(h.finalize()))
            .is_some()
        {
            return Err(Error::failed(format!(
                "surface {who}: two objects give the part name {name:?}"
            )));
        }
    }
    let description = format!(
        "PostgreSQL {}: {n_tables} table(s), {total_rows} row(s), {} other relation(s), {n_catalog} catalog object(s){}, \
         read in a READ ONLY REPEATABLE READ transaction as {}{}; {NOT_READ}",
        main.target,
        relations.len() - n_tables,
        if schemas.is_empty() {
            String::new()
        } else {
            format!(" in schemas {schemas:?}")
        },
        target.role,
        if target.superuser {
            " (a superuser: a least-privilege role is recommended)"
        } else {
            ""
        }
    );
    Ok(DatabaseReading {
        reading: PgReading {
            reading: Reading {
                parts,
                description,
                exit_code: None,
            },
            target,
        },
        tables: n_tables as u64,
        rows: total_rows,
    })
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn only_on_is_read_only() {
        assert!(check_read_only("on").is_ok());
        for v in ["off", "", "ON ", "true"] {
            assert!(check_read_only(v).unwrap_err().contains("refusing"), "{v}");
        }
    }

    #[test]
    fn targets_never_show_the_password() {
        let c = Config::from_str("host=db.example port=5433 dbname=app user=ro password=hunter2")
            .unwrap();
        let d = describe_target(&c);
        assert_eq!(d, "database app as ro on db.example port 5433");
        let c = Config::from_str("postgresql://ro:hunter2@db.example/app").unwrap();
        assert!(!describe_target(&c).contains("hunter2"));
    }

    #[test]
    fn a_socket_target_names_the_socket_file_it_tries() {
        let c = Config::from_str("host=/run/postgresql port=5433 dbname=app user=ro").unwrap();
        assert_eq!(
            describe_target(&c),
            "database app as ro on socket /run/postgresql/.s.PGSQL.5433"
        );
        let c = Config::from_str("host=/tmp dbname=app").unwrap();
        assert!(describe_target(&c).ends_with("on socket /tmp/.s.PGSQL.5432"));
        let c = Config::from_str("dbname=app").unwrap();
        assert!(describe_target(&c).contains("no host given: add host=/run/postgresql"));
    }

    #[test]
    fn a_bad_connection_string_is_a_usage_error() {
        let e = ReadOnlySession::open("host=x port=notaport", "pg")
            .err()
            .unwrap();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("surface pg"), "{e}");
    }

    #[test]
    fn sorted_lines_ignore_storage_order() {
        let a = sorted_lines_digest(b"b\t1\na  \t2\na\t3\n");
        let b = sorted_lines_digest(b"a\t3\nb\t1\na  \t2\n");
        assert_eq!(a, b);
        assert_eq!(a.1, 3);
        // bpchar padding is part of the bytes: different rows stay different.
        assert_ne!(a, sorted_lines_digest(b"b\t1\na\t2\na\t3\n"));
        assert_eq!(sorted_lines_digest(b"").1, 0);
    }

    #[test]
    fn page_ranges_sorted_together_give_the_whole_tables_digest() {
        let whole = sorted_lines_digest(b"b\t1\na\t2\nb\t1\nc\t\\N\n");
        let split: [&[u8]; 4] = [b"c\t\\N\n", b"", b"b\t1\n", b"a\t2\nb\t1\n"];
        assert_eq!(sorted_buffers_digest(&split), whole);
        assert_eq!(whole.1, 4);
        // A duplicate row counts: dropping one copy changes the digest.
        let fewer: [&[u8]; 2] = [b"c\t\\N\n", b"a\t2\nb\t1\n"];
        assert_ne!(sorted_buffers_digest(&fewer), whole);
        assert_eq!(
            sorted_buffers_digest::<&[u8]>(&[]),
            sorted_lines_digest(b"")
        );
    }

    /// The digest of a keyed table, computed the plain way: per key range,
    /// its lines sorted by key and hashed, a shared key an error.
    fn plain_keyed_digest(
        lines: &[(i64, Vec<u8>)],
        ranges: &[relations::Bounds],
    ) -> Option<(String, u64)> {
        let mut hashed = Vec::new();
        for (r, (lo, hi)) in ranges.iter().enumerate() {
            let mut mine: Vec<&(i64, Vec<u8>)> = lines
                .iter()
                .filter(|(k, _)| lo.is_none_or(|lo| *k >= lo) && hi.is_none_or(|hi| *k < hi))
                .collect();
            mine.sort_by_key(|l| l.0);
            if mine.windows(2).any(|w| w[0].0 == w[1].0) {
                return None;
            }
            let mut h = Sha256::new();
            for l in &mine {
                h.update(&l.1);
            }
            hashed.push((r, hex::encode(h.finalize()), mine.len() as u64));
        }
        Some(match hashed.as_slice() {
            [(_, sha, n)] => (sha.clone(), *n),
            _ => ranges_digest(&hashed),
        })
    }

    proptest::proptest! {
        /// Sorted, nearly sorted or scattered keys (extremes and shared
        /// keys included), cut into page ranges handed over in either
        /// order: the digest is the plain one, or a shared key fails.
        #[test]
        fn a_split_keyed_table_digests_as_its_lines_sorted_by_key(
            keys in proptest::collection::vec(proptest::prop_oneof![
                -20i64..20, proptest::strategy::Just(i64::MIN), proptest::strategy::Just(i64::MAX),
                proptest::arbitrary::any::<i64>()
            ], 0..40),
            widths in proptest::collection::vec(0usize..3, 40),
            cuts in proptest::collection::vec(proptest::arbitrary::any::<proptest::sample::Index>(), 0..6),
            his in proptest::collection::btree_set(proptest::prop_oneof![-20i64..20, proptest::arbitrary::any::<i64>()], 0..4),
            swaps in proptest::collection::vec(proptest::arbitrary::any::<proptest::sample::Index>(), 0..10),
        ) {
            let mut keys = keys;
            if swaps.len() % 2 == 0 {
                keys.sort_unstable();
            }
            for s in &swaps {
                if !keys.is_empty() {
                    let i = s.index(keys.len());
                    let j = (i + 1) % keys.len();
                    keys.swap(i, j);
                }
            }
            let lines: Vec<(i64, Vec<u8>)> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| (*k, format!("{k}\t{}\n", "x".repeat(widths[i % 40])).into_bytes()))
                .collect();
            let his: Vec<i64> = his.into_iter().collect();
            let ranges: Vec<relations::Bounds> = (0..=his.len())
                .map(|r| ((r > 0).then(|| his[r - 1]), his.get(r).copied()))
                .collect();
            let mut at: Vec<usize> = cuts.iter().map(|c| c.index(lines.len() + 1)).collect();
            at.extend([0, lines.len()]);
            at.sort_unstable();
            at.dedup();
            if at.len() == 1 {
                at.push(0);
            }
            let mut parts: Vec<KeyedRows> = at
                .windows(2)
                .map(|w| {
                    let bytes: Vec<u8> = lines[w[0]..w[1]].iter().flat_map(|l| l.1.clone()).collect();
                    KeyedRows::parse(bytes, 0, &ranges).unwrap()
                })
                .collect();
            if cuts.len() % 2 == 1 {
                parts.reverse();
            }
            match (KeyedRows::digest(&parts), plain_keyed_digest(&lines, &ranges)) {
                (Ok(got), Some(want)) => proptest::prop_assert_eq!(got, want),
                (Err(e), None) => proptest::prop_assert!(e.contains("share"), "{}", e),
                (got, want) => proptest::prop_assert!(false, "got {:?}, want {:?}", got, want),
            }
        }
    }

    #[test]
    fn page_ranges_in_key_order_are_hashed_as_they_are_and_shared_keys_still_fail() {
        let whole = (KeyedRows::digest(&[KeyedRows::parse(
            b"1\ta\n2\tb\n3\tc\n4\td\n".to_vec(),
            0,
            &[(None, None)],
        )
        .unwrap()]))
        .unwrap();
        let parse = |b: &[u8]| KeyedRows::parse(b.to_vec(), 0, &[(None, None)]).unwrap();
        // Two runs, handed over in either order: the digest of the whole.
        for parts in [
            vec![parse(b"1\ta\n2\tb\n"), parse(b"3\tc\n4\td\n")],
            vec![parse(b"3\tc\n4\td\n"), parse(b"1\ta\n2\tb\n")],
            vec![parse(b"4\td\n1\ta\n"), parse(b"3\tc\n2\tb\n")],
        ] {
            assert_eq!(KeyedRows::digest(&parts).unwrap(), whole);
        }
        assert_eq!(whole.1, 4);
        // A key shared between two runs that otherwise follow each other,
        // inside one run, or between interleaved runs.
        for parts in [
            vec![parse(b"1\ta\n2\tb\n"), parse(b"2\tc\n4\td\n")],
            vec![parse(b"1\ta\n1\tb\n"), parse(b"3\tc\n")],
            vec![parse(b"1\ta\n3\tb\n"), parse(b"2\tc\n3\td\n")],
        ] {
            assert!(KeyedRows::digest(&parts).unwrap_err().contains("share"));
        }
    }

    #[test]
    fn key_sorting_gives_key_order_bytes() {
        let copy = b"10\tb\n-2\ta\\tb\n3\tc\n";
        let (sha, n) = key_sorted_digest(copy.to_vec(), 0).unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            sha,
            hex::encode(Sha256::digest(b"-2\ta\\tb\n3\tc\n10\tb\n"))
        );
        let (sha2, _) = key_sorted_digest(b"x\t3\ny\t1\n".to_vec(), 1).unwrap();
        assert_eq!(sha2, hex::encode(Sha256::digest(b"y\t1\nx\t3\n")));
        assert!(
            key_sorted_digest(b"a\tb\n".to_vec(), 0)
                .unwrap_err()
                .contains("not an integer")
        );
        assert!(
            key_sorted_digest(b"1\n".to_vec(), 1)
                .unwrap_err()
                .contains("no field 2")
        );
        assert!(
            key_sorted_digest(b"1\ta\n1\tb\n".to_vec(), 0)
                .unwrap_err()
                .contains("share")
        );
        assert_eq!(key_sorted_digest(b"".to_vec(), 0).unwrap().1, 0);
        // The last line may lack its newline; a key in the middle is found.
        let mut lines = Vec::new();
        keyed_lines(b"a\t-7\tz\nb\t8", 1, |k, a, b| lines.push((k, a, b))).unwrap();
        assert_eq!(lines, vec![(-7, 0, 7), (8, 7, 10)]);
    }

    #[test]
    fn key_parsing_takes_exactly_the_servers_integer_output() {
        for ok in [
            "0",
            "-0",
            "7",
            "-12",
            "9223372036854775807",
            "-9223372036854775808",
        ] {
            assert_eq!(parse_key(ok.as_bytes()), ok.parse().ok(), "{ok}");
        }
        for bad in [
            "",
            "-",
            "+1",
            " 1",
            "1 ",
            "1.0",
            "9223372036854775808",
            "-9223372036854775809",
            "0x1",
            "\\N",
        ] {
            assert_eq!(parse_key(bad.as_bytes()), None, "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn key_parsing_agrees_with_the_standard_parser_on_any_bytes(field in proptest::collection::vec(
            proptest::prop_oneof![proptest::num::u8::ANY, proptest::sample::select(b"-0123456789".to_vec())], 0..24)) {
            let std = std::str::from_utf8(&field).ok().filter(|t| !t.starts_with('+')).and_then(|t| t.parse::<i64>().ok());
            proptest::prop_assert_eq!(parse_key(&field), std);
        }

        #[test]
        fn page_ranges_of_a_keyed_table_digest_as_its_key_ranges_read_alone(
            keys in proptest::collection::btree_set(-300i64..300, 0..120),
            bounds in (-400i64..400, 0u8..6),
            splits in proptest::collection::vec(0usize..200, 0..4),
            shuffle in 0i64..4,
        ) {
            let (min, step) = (bounds.0, i64::from(bounds.1) * 37 + 1);
            // Ranges as key_ranges gives them: the first open below, the last above.
            let n = usize::from(bounds.1) + 1;
            let ranges: Vec<(Option<i64>, Option<i64>)> = (0..n)
                .map(|k| {
                    let k = k as i64;
                    ((k > 0).then(|| min + k * step), (k < n as i64 - 1).then(|| min + (k + 1) * step))
                })
                .collect();
            // Descending (each buffer a run of keys, the runs in reverse),
            // or scattered so that the buffers' keys interleave.
            let mut order: Vec<i64> = keys.iter().rev().copied().collect();
            if shuffle > 0 {
                order.sort_by_key(|k| ((k + 300) * (2 * shuffle + 1) * 7919 % 601, *k));
            }
            let lines: Vec<String> = order.iter().map(|k| format!("x{k}\t{k}\n")).collect();
            let all = lines.concat().into_bytes();
            // Cut the stream at line ends into several buffers.
            let ends: Vec<usize> = all.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1).collect();
            let mut cuts: Vec<usize> = splits.iter().filter_map(|s| ends.get(*s).copied()).collect();
            cuts.sort_unstable();
            cuts.dedup();
            let mut buffers = Vec::new();
            let mut at = 0;
            for c in cuts.into_iter().chain([all.len()]) {
                buffers.push(all[at..c].to_vec());
                at = c;
            }
            let per_range: Vec<(usize, String, u64)> = ranges
                .iter()
                .enumerate()
                .map(|(k, (lo, hi))| {
                    let part: Vec<u8> = lines
                        .iter()
                        .zip(order.iter())
                        .filter(|(_, key)| lo.is_none_or(|lo| **key >= lo) && hi.is_none_or(|hi| **key < hi))
                        .flat_map(|(l, _)| l.bytes())
                        .collect();
                    let (sha, rows) = key_sorted_digest(part, 1).unwrap();
                    (k, sha, rows)
                })
                .collect();
            let expected = if n == 1 {
                (per_range[0].1.clone(), per_range[0].2)
            } else {
                ranges_digest(&per_range)
            };
            let parsed: Vec<KeyedRows> = buffers.into_iter().map(|b| KeyedRows::parse(b, 1, &ranges).unwrap()).collect();
            proptest::prop_assert_eq!(KeyedRows::digest(&parsed).unwrap(), expected);
        }
    }

    #[test]
    fn a_call_stalls_when_silent_or_when_it_overruns_its_statement_timeout() {
        let idle = u64::MAX;
        // Idle connections never stall.
        assert_eq!(stall_kind(1_000_000, idle, idle, 10, 10), None);
        // Silent for longer than the read timeout.
        assert_eq!(stall_kind(1_000, 0, 100, 500, 10_000), Some(false));
        assert_eq!(stall_kind(600, 0, 100, 500, 10_000), None);
        // Bytes keep coming, but the call runs past statement + read.
        assert_eq!(stall_kind(10_601, 0, 10_600, 500, 10_000), Some(true));
        assert_eq!(stall_kind(10_500, 0, 10_400, 500, 10_000), None);
    }

    #[test]
    fn only_template0_may_refuse_connections() {
        assert_eq!(unreadable_database("template0", 4, false), None);
        assert_eq!(unreadable_database("app", 16384, true), None);
        let why = unreadable_database("app", 16384, false).unwrap();
        assert!(
            why.contains("\"app\" (oid 16384)") && why.contains("skips none"),
            "{why}"
        );
        assert_eq!(database_prefix("app"), "db:app/");
        assert_eq!(database_prefix("a/b"), "db:\"a/b\"/");
    }

    #[test]
    fn snapshot_ids_are_checked_before_use() {
        assert!(is_snapshot_id("00000003-0000001B-1"));
        for bad in ["", "x'; DROP", "1' ", &"a".repeat(65)] {
            assert!(!is_snapshot_id(bad), "{bad}");
        }
    }

    #[test]
    fn the_session_pins_search_path_and_row_security_first() {
        let s = session_settings(&PgOptions::default());
        // quote_all_identifiers first: it changes how search_path is stored.
        assert!(s.starts_with(
            "SET quote_all_identifiers = off; SET search_path = pg_catalog, pg_temp; SET row_security = off;"
        ));
        for needle in [
            "datestyle",
            "intervalstyle",
            "timezone",
            "extra_float_digits",
            "bytea_output",
            "standard_conforming_strings",
            "quote_all_identifiers",
            "lc_monetary",
            "lc_numeric",
            "client_encoding",
            "lock_timeout = '10s'",
            "statement_timeout = '3600s'",
        ] {
            assert!(s.contains(needle), "{needle}");
        }
    }

    #[test]
    fn targets_compare_by_server_and_database_not_role() {
        let t = PgTarget {
            system_identifier: "7".into(),
            database: "app".into(),
            database_oid: 16384,
            server_version: "150000".into(),
            role: "a".into(),
            superuser: false,
            databases: None,
        };
        let mut u = t.clone();
        u.role = "b".into();
        u.superuser = true;
        assert!(t.same_database(&u));
        for change in [
            |x: &mut PgTarget| x.system_identifier = "8".into(),
            |x: &mut PgTarget| x.database = "app2".into(),
            |x: &mut PgTarget| x.database_oid = 1,
        ] {
            let mut v = t.clone();
            change(&mut v);
            assert!(!t.same_database(&v));
        }
        // Every database of a server: another such snapshot of the same
        // server compares (whatever database listed it), a one-database one
        // never does.
        let mut all = t.clone();
        all.databases = Some(vec![]);
        let mut all2 = all.clone();
        all2.database = "postgres".into();
        all2.database_oid = 5;
        assert!(all.same_database(&all2));
        assert!(!all.same_database(&t) && !t.same_database(&all));
        all2.system_identifier = "8".into();
        assert!(!all.same_database(&all2));
    }
}
