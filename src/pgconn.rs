//! PostgreSQL connection helpers shared by every module that talks to a
//! server (the `postgres` snapshot, the registry's PostgreSQL backend): one
//! parse of a connection string that never repeats it, and one line for an
//! error. At the bottom of the module order, so neither user reaches up.

use std::str::FromStr;

use postgres::Config;

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

/// [`parse_config`] for the asynchronous client (`tokio_postgres`), which
/// the `postgres` snapshot drives on a runtime of its own: the same parser
/// and the same message.
pub fn parse_async_config(connection: &str) -> std::result::Result<tokio_postgres::Config, String> {
    tokio_postgres::Config::from_str(connection)
        .map_err(|e| format!("the PostgreSQL connection string is not valid: {e}"))
}
