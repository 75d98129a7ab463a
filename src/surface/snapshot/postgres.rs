//! `postgres` snapshots: the schema and every table's rows of a PostgreSQL
//! database, read in one READ ONLY, REPEATABLE READ transaction.
//!
//! The session is refused unless the server itself reports
//! `transaction_read_only = on`, so no statement of the snapshot can write.
//! REPEATABLE READ gives one consistent view across all tables. Output
//! settings that change how values print (dates, time zone, intervals,
//! bytea, floats) are pinned for the transaction, so the same data always
//! gives the same bytes. Rows stream through `COPY ... TO STDOUT` in a stable
//! order (primary key, else every column's text in byte order), so memory
//! stays flat whatever the table size.
//!
//! Parts: `schema` (every table's definition: columns, types, defaults,
//! constraints, indexes) and `table:<schema>.<name>` (that table's definition
//! and rows), so a proof can say which table changed.

use std::collections::BTreeMap;
use std::io::Read;
use std::str::FromStr;
use std::time::Duration;

use postgres::config::Host;
use postgres::{Client, Config, NoTls};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Reading;
use crate::canonical;
use crate::digest;
use crate::error::{Error, Result};

/// Connect timeout used when the connection string sets none.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings pinned inside the snapshot's transaction so values print the
/// same way whatever the server's or role's defaults are.
const PINNED_SETTINGS: &str = "SET LOCAL datestyle = 'ISO, YMD'; \
     SET LOCAL timezone = 'UTC'; \
     SET LOCAL intervalstyle = 'iso_8601'; \
     SET LOCAL bytea_output = 'hex'; \
     SET LOCAL extra_float_digits = 1";

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

/// A connection inside a READ ONLY, REPEATABLE READ transaction. Dropping it
/// ends the transaction (nothing was written, so nothing is committed).
pub struct ReadOnlySession {
    client: Client,
    target: String,
    who: String,
}

/// Where a connection string points, without its password.
pub fn describe_target(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(|p| p.to_string()).collect();
    format!(
        "database {} as {} on {}{}",
        config.get_dbname().unwrap_or("(default)"),
        config.get_user().unwrap_or("(default)"),
        if hosts.is_empty() {
            "(default host)".to_string()
        } else {
            hosts.join(",")
        },
        if ports.is_empty() {
            String::new()
        } else {
            format!(" port {}", ports.join(","))
        }
    )
}

/// One line for a PostgreSQL error: the server's own message when it sent
/// one (e.g. "cannot execute INSERT in a read-only transaction"), else the
/// client's error with its causes.
pub fn pg_error(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    }
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}

/// Parses a connection string (the error never repeats the string: it may
/// hold a password).
pub fn parse_config(connection: &str) -> std::result::Result<Config, String> {
    Config::from_str(connection)
        .map_err(|e| format!("the PostgreSQL connection string is not valid: {e}"))
}

impl ReadOnlySession {
    /// Connects (with a connect timeout, default 10 s) and opens the
    /// read-only transaction; refuses if the server does not report it
    /// read-only. `who` names the surface in errors.
    pub fn open(connection: &str, who: &str) -> Result<Self> {
        let mut config =
            parse_config(connection).map_err(|e| Error::Usage(format!("surface {who}: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        config.application_name("holdfast-snapshot");
        let target = describe_target(&config);
        let client = config.connect(NoTls).map_err(|e| {
            Error::failed(format!(
                "surface {who}: cannot connect to {target}: {}",
                pg_error(&e)
            ))
        })?;
        let mut s = ReadOnlySession {
            client,
            target,
            who: who.to_string(),
        };
        s.client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .map_err(|e| s.fail("BEGIN READ ONLY", e))?;
        let row = s
            .client
            .query_one("SHOW transaction_read_only", &[])
            .map_err(|e| s.fail("SHOW transaction_read_only", e))?;
        let value: String = row
            .try_get(0)
            .map_err(|e| s.fail("SHOW transaction_read_only", e))?;
        check_read_only(&value)
            .map_err(|why| Error::refused(format!("surface {}: {}: {why}", s.who, s.target)))?;
        s.client
            .batch_execute(PINNED_SETTINGS)
            .map_err(|e| s.fail("pinning output settings", e))?;
        Ok(s)
    }

    fn fail(&self, doing: &str, e: postgres::Error) -> Error {
        Error::failed(format!(
            "surface {}: {}: {doing}: {}",
            self.who,
            self.target,
            pg_error(&e)
        ))
    }

    /// Where the session is connected (no password).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Runs statements inside the read-only transaction (a write fails:
    /// that is the point). For checks and tests; the snapshot does not need it.
    pub fn batch_execute(&mut self, sql: &str) -> Result<()> {
        self.client
            .batch_execute(sql)
            .map_err(|e| self.fail("statement", e))
    }

    /// Reads the schema and every table of `schemas` (default: every
    /// non-system schema).
    pub fn read(&mut self, schemas: Option<&[String]>) -> Result<Reading> {
        let wanted: Vec<String> = schemas.map(<[String]>::to_vec).unwrap_or_default();
        if !wanted.is_empty() {
            let present = self
                .client
                .query(
                    "SELECT nspname::text FROM pg_namespace WHERE nspname = ANY($1::text[])",
                    &[&wanted],
                )
                .map_err(|e| self.fail("listing schemas", e))?;
            for w in &wanted {
                if !present.iter().any(|r| r.get::<_, String>(0) == *w) {
                    return Err(Error::failed(format!(
                        "surface {}: {}: schema {w:?} does not exist",
                        self.who, self.target
                    )));
                }
            }
        }
        let tables = self
            .client
            .query(
                "SELECT n.nspname::text, c.relname::text, c.oid::int8, \
                        format('%I.%I', n.nspname, c.relname), c.relkind::text \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p') \
                   AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
                   AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%' \
                   AND (cardinality($1::text[]) = 0 OR n.nspname = ANY($1::text[])) \
                 ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"",
                &[&wanted],
            )
            .map_err(|e| self.fail("listing tables", e))?;
        let mut parts = BTreeMap::new();
        let mut definitions = Vec::with_capacity(tables.len());
        let mut total_rows = 0u64;
        for t in &tables {
            let schema: String = t.get(0);
            let name: String = t.get(1);
            let oid: i64 = t.get(2);
            let qualified: String = t.get(3);
            let def = self.table_definition(oid, &schema, &name, t.get(4))?;
            let def_bytes = canonical::to_bytes(&def)?;
            let (rows_sha256, rows) = self.table_rows(&qualified, &def)?;
            total_rows += rows;
            let combined = format!(
                "{}  definition\n{rows_sha256}  rows\n",
                digest::sha256_hex(&def_bytes)
            );
            parts.insert(
                format!("table:{schema}.{name}"),
                digest::sha256_hex(combined.as_bytes()),
            );
            definitions.push(def);
        }
        parts.insert(
            "schema".to_string(),
            digest::sha256_hex(&canonical::to_bytes(&definitions)?),
        );
        Ok(Reading {
            parts,
            description: format!(
                "PostgreSQL {}: {} table(s), {total_rows} row(s){}, read in a READ ONLY REPEATABLE READ transaction",
                self.target,
                tables.len(),
                if wanted.is_empty() {
                    String::new()
                } else {
                    format!(" in schemas {wanted:?}")
                }
            ),
            exit_code: None,
        })
    }

    fn table_definition(
        &mut self,
        oid: i64,
        schema: &str,
        name: &str,
        relkind: String,
    ) -> Result<TableDef> {
        let columns = self
            .client
            .query(
                "SELECT a.attname::text, quote_ident(a.attname), format_type(a.atttypid, a.atttypmod), \
                        a.attnotnull, coalesce(pg_get_expr(d.adbin, d.adrelid), ''), \
                        a.attidentity::text, a.attgenerated::text, \
                        coalesce((SELECT collname::text FROM pg_collation WHERE oid = a.attcollation AND a.attcollation <> 0), '') \
                 FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped \
                 ORDER BY a.attnum",
                &[&oid],
            )
            .map_err(|e| self.fail("reading columns", e))?
            .iter()
            .map(|r| ColumnDef {
                name: r.get(0),
                quoted: r.get(1),
                data_type: r.get(2),
                not_null: r.get(3),
                default: r.get(4),
                identity: r.get(5),
                generated: r.get(6),
                collation: r.get(7),
            })
            .collect();
        let constraints = self
            .client
            .query(
                "SELECT conname::text, contype::text, pg_get_constraintdef(oid, true) \
                 FROM pg_constraint WHERE conrelid = $1::int8::oid ORDER BY conname COLLATE \"C\"",
                &[&oid],
            )
            .map_err(|e| self.fail("reading constraints", e))?
            .iter()
            .map(|r| ConstraintDef {
                name: r.get(0),
                kind: r.get(1),
                definition: r.get(2),
            })
            .collect();
        let indexes = self
            .client
            .query(
                "SELECT ic.relname::text, pg_get_indexdef(i.indexrelid) \
                 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
                 WHERE i.indrelid = $1::int8::oid ORDER BY ic.relname COLLATE \"C\"",
                &[&oid],
            )
            .map_err(|e| self.fail("reading indexes", e))?
            .iter()
            .map(|r| IndexDef {
                name: r.get(0),
                definition: r.get(1),
            })
            .collect();
        let primary_key = self
            .client
            .query(
                "SELECT quote_ident(a.attname) \
                 FROM pg_index i, unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord), pg_attribute a \
                 WHERE i.indrelid = $1::int8::oid AND i.indisprimary \
                   AND a.attrelid = i.indrelid AND a.attnum = k.attnum \
                 ORDER BY k.ord",
                &[&oid],
            )
            .map_err(|e| self.fail("reading the primary key", e))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok(TableDef {
            schema: schema.to_string(),
            name: name.to_string(),
            kind: relkind,
            columns,
            constraints,
            indexes,
            primary_key,
        })
    }

    /// sha256 of the table's rows in COPY text format, and the row count.
    fn table_rows(&mut self, qualified: &str, def: &TableDef) -> Result<(String, u64)> {
        let order: Vec<String> = if def.primary_key.is_empty() {
            // No key: order by every column's text, compared as bytes, which
            // every type supports and no locale can reorder.
            def.columns
                .iter()
                .map(|c| format!("{}::text COLLATE \"C\"", c.quoted))
                .collect()
        } else {
            def.primary_key.clone()
        };
        let order_by = if order.is_empty() {
            String::new()
        } else {
            format!(" ORDER BY {}", order.join(", "))
        };
        let sql = format!("COPY (SELECT * FROM ONLY {qualified}{order_by}) TO STDOUT");
        let who = self.who.clone();
        let target = self.target.clone();
        let mut reader = self.client.copy_out(sql.as_str()).map_err(|e| {
            Error::failed(format!(
                "surface {who}: {target}: reading {qualified}: {}",
                pg_error(&e)
            ))
        })?;
        let mut h = Sha256::new();
        let mut rows = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // The COPY reader wraps the server's error in an io::Error.
                    let why = e
                        .get_ref()
                        .and_then(|inner| inner.downcast_ref::<postgres::Error>())
                        .map_or_else(|| e.to_string(), pg_error);
                    return Err(Error::failed(format!(
                        "surface {who}: {target}: reading {qualified}: {why}"
                    )));
                }
            };
            // COPY text escapes newlines inside values: one line per row.
            rows += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            h.update(&buf[..n]);
        }
        Ok((hex::encode(h.finalize()), rows))
    }
}

impl Drop for ReadOnlySession {
    fn drop(&mut self) {
        // Nothing was written; ending the transaction explicitly just frees
        // the snapshot on the server sooner. A failure cannot be acted on.
        let _ = self.client.batch_execute("ROLLBACK");
    }
}

/// One table's definition, as digested.
#[derive(Debug, Serialize)]
struct TableDef {
    schema: String,
    name: String,
    kind: String,
    columns: Vec<ColumnDef>,
    constraints: Vec<ConstraintDef>,
    indexes: Vec<IndexDef>,
    primary_key: Vec<String>,
}

#[derive(Debug, Serialize)]
struct ColumnDef {
    name: String,
    #[serde(skip)]
    quoted: String,
    data_type: String,
    not_null: bool,
    default: String,
    identity: String,
    generated: String,
    collation: String,
}

#[derive(Debug, Serialize)]
struct ConstraintDef {
    name: String,
    kind: String,
    definition: String,
}

#[derive(Debug, Serialize)]
struct IndexDef {
    name: String,
    definition: String,
}

/// Reads a `postgres` surface: connect, read everything, end the transaction.
pub fn read(connection: &str, schemas: Option<&[String]>, who: &str) -> Result<Reading> {
    let mut session = ReadOnlySession::open(connection, who)?;
    session.read(schemas)
}

#[cfg(test)]
mod tests {
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
    fn a_bad_connection_string_is_a_usage_error() {
        let e = ReadOnlySession::open("host=x port=notaport", "pg")
            .err()
            .unwrap();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("surface pg"), "{e}");
    }
}
