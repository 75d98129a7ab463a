//! The PostgreSQL backend: a registry in schema `holdfast` of a database.
//!
//! Three tables, created by `registry init` / `import` / `export`:
//! `holdfast.lock` (one row, the writers' mutex), `holdfast.files` (every
//! document, blob and the completion marker, by the same name the directory
//! backend gives the file) and `holdfast.log` (one row per history line).
//!
//! A store takes the registry with a session-level advisory lock (held
//! until it is dropped, so no writer comes between two of its
//! transactions) and `SELECT … FOR UPDATE` on the lock row inside a
//! transaction, and everything it writes goes into that transaction; [`Backend::durable`] commits it (the commit point) and
//! takes the lock again. So concurrent writers queue on the row lock and
//! never see each other's half, and a client killed mid-write or a server
//! crash leaves the last committed state: PostgreSQL's atomicity is the crash
//! safety. Every statement names its tables with the schema and the session
//! pins `search_path` to `pg_catalog`; a trigger or rule on the tables (which
//! could rewrite what holdfast stores) is refused.
//!
//! The URL must not carry a password: it comes from `PGPASSWORD` or a pgpass
//! file ([`fill_password`]; or is not needed, as over a trusted Unix socket),
//! never from a spec or a command line.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use postgres::{Client, NoTls};

use super::{Backend, Hold};
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

/// A registry in a PostgreSQL database.
#[derive(Debug)]
pub struct PgBackend {
    location: PathBuf,
    conn: Arc<Conn>,
}

struct Conn {
    client: Mutex<Client>,
    /// Log length at the last commit of this session, to notice a writer
    /// that came in between that commit and the lock taken again.
    committed_len: Mutex<Option<i64>>,
    /// Set when another writer changed the registry between two of this
    /// session's writes: every further write is refused.
    overtaken: Mutex<bool>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Conn")
    }
}

impl std::fmt::Debug for PgHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgHold")
    }
}

/// The open transaction holding the lock row; rolled back when dropped.
struct PgHold {
    conn: Arc<Conn>,
}

impl Hold for PgHold {}

impl Drop for PgHold {
    fn drop(&mut self) {
        if let Ok(mut c) = self.conn.client.lock() {
            // Nothing uncommitted is kept: whatever `durable` did not commit
            // was never promised to anyone.
            let _ = c.batch_execute("ROLLBACK");
            let _ = c.execute(
                "SELECT pg_catalog.pg_advisory_unlock($1)",
                &[&WRITER_LOCK_KEY],
            );
        }
    }
}

fn lock_client(conn: &Conn) -> MutexGuard<'_, Client> {
    conn.client.lock().unwrap_or_else(|e| e.into_inner())
}

const CREATE: &str = "CREATE SCHEMA IF NOT EXISTS holdfast;
CREATE TABLE IF NOT EXISTS holdfast.lock (id integer PRIMARY KEY CHECK (id = 1));
INSERT INTO holdfast.lock (id) VALUES (1) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS holdfast.files (name text PRIMARY KEY, bytes bytea NOT NULL);
CREATE TABLE IF NOT EXISTS holdfast.log (seq bigint PRIMARY KEY CHECK (seq > 0), line bytea NOT NULL);";

/// Triggers and rules on holdfast's tables: either could make the database
/// store or return other bytes than holdfast wrote.
const PLANTED: &str = "SELECT c.relname::text, 'trigger ' || t.tgname::text
  FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'holdfast' AND NOT t.tgisinternal
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
LIMIT 1";

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
        client
            .batch_execute(
                "SET search_path = pg_catalog, pg_temp; SET row_security = off; \
                 SET bytea_output = 'hex'; SET client_encoding = 'UTF8'; \
                 SET idle_in_transaction_session_timeout = 0",
            )
            .map_err(|e| pg_io(&location, "setting up the session", &e))?;
        Ok(PgBackend {
            location,
            conn: Arc::new(Conn {
                client: Mutex::new(client),
                committed_len: Mutex::new(None),
                overtaken: Mutex::new(false),
            }),
        })
    }

    fn fail(&self, doing: &str, e: &postgres::Error) -> Error {
        pg_io(&self.location, doing, e)
    }

    fn client(&self) -> MutexGuard<'_, Client> {
        lock_client(&self.conn)
    }

    fn log_len(&self, c: &mut Client) -> Result<i64> {
        let row = c
            .query_one("SELECT count(*) FROM holdfast.log", &[])
            .map_err(|e| self.fail("counting the log", &e))?;
        Ok(row.get(0))
    }

    fn tables_exist(&self, c: &mut Client) -> Result<bool> {
        let row = c
            .query_one(
                "SELECT pg_catalog.to_regclass('holdfast.log') IS NOT NULL \
                   AND pg_catalog.to_regclass('holdfast.files') IS NOT NULL \
                   AND pg_catalog.to_regclass('holdfast.lock') IS NOT NULL",
                &[],
            )
            .map_err(|e| self.fail("looking for holdfast's tables", &e))?;
        Ok(row.get(0))
    }

    /// Refuses tables a trigger, rule or policy could make lie.
    fn refuse_planted(&self, c: &mut Client) -> Result<()> {
        let rows = c
            .query(PLANTED, &[])
            .map_err(|e| self.fail("checking holdfast's tables", &e))?;
        if let Some(r) = rows.first() {
            let table: String = r.get(0);
            let what: String = r.get(1);
            return Err(Error::refused(format!(
                "{}: table {SCHEMA}.{table} has a {what} that holdfast did not create; it could change what the registry stores, so nothing is read or written (drop it)",
                self.location.display()
            )));
        }
        Ok(())
    }

    /// BEGIN and the lock row, in the caller's client.
    fn begin_locked(&self, c: &mut Client) -> Result<()> {
        c.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            .map_err(|e| self.fail("starting a transaction", &e))?;
        c.query_one("SELECT id FROM holdfast.lock WHERE id = 1 FOR UPDATE", &[])
            .map_err(|e| self.fail("taking the registry's lock row", &e))?;
        self.refuse_planted(c)
    }

    fn check_not_overtaken(&self) -> Result<()> {
        if *self
            .conn
            .overtaken
            .lock()
            .unwrap_or_else(|e| e.into_inner())
        {
            return Err(Error::refused(format!(
                "{}: another writer changed the registry since this command's last write; nothing more was written (run the command again)",
                self.location.display()
            )));
        }
        Ok(())
    }
}

fn pg_io(location: &Path, doing: &str, e: &postgres::Error) -> Error {
    Error::io(
        location,
        std::io::Error::other(format!("{doing}: {}", pg_error(e))),
    )
}

impl Backend for PgBackend {
    fn root(&self) -> &Path {
        &self.location
    }

    fn dir(&self) -> Option<&Path> {
        None
    }

    fn is_registry(&self) -> Result<bool> {
        let mut c = self.client();
        if !self.tables_exist(&mut c)? {
            return Ok(false);
        }
        Ok(self.log_len(&mut c)? > 0)
    }

    fn prepare_create(&self) -> Result<()> {
        let mut c = self.client();
        c.batch_execute(CREATE)
            .map_err(|e| self.fail("creating holdfast's schema and tables", &e))?;
        self.refuse_planted(&mut c)?;
        let row = c
            .query_one(
                "SELECT (SELECT count(*) FROM holdfast.files) + (SELECT count(*) FROM holdfast.log)",
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
        let mut c = self.client();
        if !self.tables_exist(&mut c)? {
            return Err(Error::io(
                &self.location,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no registry here (create one with `holdfast registry init` or `holdfast registry import FILE`)",
                ),
            ));
        }
        c.execute(
            "SELECT pg_catalog.pg_advisory_lock($1)",
            &[&WRITER_LOCK_KEY],
        )
        .map_err(|e| self.fail("waiting for the registry's writer lock", &e))?;
        let hold = PgHold {
            conn: self.conn.clone(),
        };
        drop(c);
        let mut c = self.client();
        self.begin_locked(&mut c)?;
        drop(c);
        Ok(Box::new(hold))
    }

    fn read(&self, rel: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        let mut c = self.client();
        let too_long = || {
            Error::malformed(
                self.path(rel),
                format!("longer than the {limit} bytes holdfast reads"),
            )
        };
        if rel == LOG_FILE {
            let rows = c
                .query("SELECT line FROM holdfast.log ORDER BY seq", &[])
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
        let row = c
            .query_opt("SELECT bytes FROM holdfast.files WHERE name = $1", &[&rel])
            .map_err(|e| self.fail(&format!("reading {rel}"), &e))?;
        match row {
            None => Ok(None),
            Some(r) => {
                let b: Vec<u8> = r.get(0);
                if b.len() as u64 > limit {
                    return Err(too_long());
                }
                Ok(Some(b))
            }
        }
    }

    fn exists(&self, rel: &str) -> Result<bool> {
        let mut c = self.client();
        if rel == LOG_FILE {
            return Ok(self.log_len(&mut c)? > 0);
        }
        let row = c
            .query_opt("SELECT 1 FROM holdfast.files WHERE name = $1", &[&rel])
            .map_err(|e| self.fail(&format!("looking for {rel}"), &e))?;
        Ok(row.is_some())
    }

    fn write(&self, rel: &str, bytes: &[u8], read_only: bool) -> Result<()> {
        self.check_not_overtaken()?;
        let mut c = self.client();
        let sql = if read_only {
            "INSERT INTO holdfast.files (name, bytes) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"
        } else {
            "INSERT INTO holdfast.files (name, bytes) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET bytes = EXCLUDED.bytes"
        };
        c.execute(sql, &[&rel, &bytes])
            .map_err(|e| self.fail(&format!("writing {rel}"), &e))?;
        Ok(())
    }

    fn append_log(&self, record: &[u8]) -> Result<()> {
        self.check_not_overtaken()?;
        let line = record.strip_suffix(b"\n").unwrap_or(record);
        let mut c = self.client();
        c.execute(
            "INSERT INTO holdfast.log (seq, line) \
             SELECT coalesce(max(seq), 0) + 1, $1 FROM holdfast.log",
            &[&line],
        )
        .map_err(|e| self.fail("appending to the log", &e))?;
        Ok(())
    }

    fn truncate_log(&self, _len: u64) -> Result<()> {
        // Rows are whole: a transaction cannot leave a torn line.
        Err(Error::malformed(
            self.path(LOG_FILE),
            "a log row does not end a line (rows are written whole; edited by hand?)",
        ))
    }

    fn remove_leftovers(&self) -> Result<()> {
        Ok(())
    }

    fn durable(&self) -> Result<()> {
        self.check_not_overtaken()?;
        let mut c = self.client();
        let len = self.log_len(&mut c)?;
        c.batch_execute("COMMIT")
            .map_err(|e| self.fail("committing the write", &e))?;
        *self
            .conn
            .committed_len
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(len);
        // The store keeps the registry for its next write (a fold's undo):
        // the session's advisory lock kept other writers out; the row lock
        // is taken again, and a writer that came in anyway is noticed.
        self.begin_locked(&mut c)?;
        if self.log_len(&mut c)? != len {
            *self
                .conn
                .overtaken
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = true;
        }
        Ok(())
    }

    fn list(&self) -> Result<Vec<String>> {
        let mut c = self.client();
        let rows = c
            .query("SELECT name FROM holdfast.files ORDER BY name", &[])
            .map_err(|e| self.fail("listing the registry", &e))?;
        let mut out: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        if self.log_len(&mut c)? > 0 {
            out.push(LOG_FILE.to_string());
        }
        out.sort();
        Ok(out)
    }
}
