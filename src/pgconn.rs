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

/// Largest pgpass file read (a password file is a few lines).
pub const PGPASS_LIMIT: u64 = 1 << 20;

/// The socket directories libpq builds use as their default; a Unix socket
/// in one of them matches a pgpass line for `localhost`, as libpq does with
/// its own default directory.
const DEFAULT_SOCKET_DIRS: [&str; 3] = ["/tmp", "/var/run/postgresql", "/run/postgresql"];

/// The password a pgpass file gives for a connection, libpq's way: the
/// first line whose `host:port:database:username` fields match (a field
/// that is exactly `*` matches anything), its fifth field the password.
/// `\:` and `\\` (any `\x`) escape a character; a line starting with `#` is
/// a comment; a trailing CR or LF is not part of a line; a line with fewer
/// than five fields matches nothing, and everything after the password's
/// first unescaped `:` is ignored. A line holding a NUL byte matches
/// nothing (libpq reads lines as C strings). Pure: the caller reads the file.
pub fn pgpass_lookup(
    text: &[u8],
    host: &str,
    port: &str,
    dbname: &str,
    user: &str,
) -> Option<Vec<u8>> {
    for raw in text.split(|&b| b == b'\n') {
        let mut end = raw.len();
        while end > 0 && (raw[end - 1] == b'\r' || raw[end - 1] == b'\n') {
            end -= 1;
        }
        let line = &raw[..end];
        if line.is_empty() || line[0] == b'#' || line.contains(&0) {
            continue;
        }
        let mut rest = Some(line);
        for field in [host, port, dbname, user] {
            rest = rest.and_then(|r| pgpass_field(r, field.as_bytes()));
        }
        if let Some(pw) = rest {
            return Some(pgpass_unescape(pw));
        }
    }
    None
}

/// libpq's `pwdfMatchesString`: whether the field at the start of `line`
/// matches `token`; the rest of the line after its `:` when it does.
fn pgpass_field<'a>(line: &'a [u8], token: &[u8]) -> Option<&'a [u8]> {
    if line.starts_with(b"*:") {
        return Some(&line[2..]);
    }
    let mut i = 0;
    let mut t = 0;
    while i < line.len() {
        let mut escaped = false;
        if line[i] == b'\\' {
            i += 1;
            escaped = true;
            if i == line.len() {
                return None;
            }
        }
        if line[i] == b':' && !escaped && t == token.len() {
            return Some(&line[i + 1..]);
        }
        if t == token.len() || line[i] != token[t] {
            return None;
        }
        i += 1;
        t += 1;
    }
    None
}

/// The password field: up to the first unescaped `:`, each `\x` made `x`
/// (a `\` that ends the line stays).
fn pgpass_unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() && field[i] != b':' {
        if field[i] == b'\\' && i + 1 < field.len() {
            i += 1;
        }
        out.push(field[i]);
        i += 1;
    }
    out
}

/// Writes `field` so that [`pgpass_lookup`] reads it back exactly (every
/// `\`, `:`, `*` and `#` escaped, so a host starting with `#` does not
/// make a comment; a newline cannot be written).
pub fn pgpass_escape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    for c in field.chars() {
        if matches!(c, '\\' | ':' | '*' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The host a pgpass line is matched against for `host` (libpq's rules: a
/// socket in the default directory is `localhost`, another socket directory
/// is its path).
fn pgpass_host(host: &postgres::config::Host) -> String {
    match host {
        postgres::config::Host::Tcp(name) => name.clone(),
        postgres::config::Host::Unix(dir) => {
            let s = dir.display().to_string();
            let trimmed = s.trim_end_matches('/');
            if DEFAULT_SOCKET_DIRS.contains(&trimmed) {
                "localhost".to_string()
            } else {
                s
            }
        }
    }
}

/// Where the pgpass file is: `PGPASSFILE` when set and not empty, else
/// `~/.pgpass` (none without a home directory).
pub fn pgpass_path() -> Option<std::path::PathBuf> {
    match std::env::var_os("PGPASSFILE") {
        Some(p) if !p.is_empty() => Some(p.into()),
        _ => std::env::home_dir().map(|h| h.join(".pgpass")),
    }
}

/// The bytes of the pgpass file at `path`, `None` when there is none.
/// Fails closed where libpq only warns and ignores the file: one that is
/// not a regular file, or that its group or others may access (the fix is
/// `chmod 600`), is an error naming it, never silently skipped.
pub fn read_pgpass(path: &std::path::Path) -> std::result::Result<Option<Vec<u8>>, String> {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{shown}: cannot open the password file: {e}")),
    };
    let meta = file
        .metadata()
        .map_err(|e| format!("{shown}: cannot stat the password file: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "{shown}: the password file is not a regular file; point PGPASSFILE at one"
        ));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{shown}: the password file has group or others access (mode {mode:04o}); run `chmod 600 {shown}` (libpq would ignore it; holdfast refuses)"
        ));
    }
    let mut bytes = Vec::new();
    file.take(PGPASS_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{shown}: cannot read the password file: {e}"))?;
    if bytes.len() as u64 > PGPASS_LIMIT {
        return Err(format!(
            "{shown}: the password file is larger than {PGPASS_LIMIT} bytes"
        ));
    }
    Ok(Some(bytes))
}

/// Gives `config` its password the way libpq finds one when the connection
/// string has none: `PGPASSWORD` when set and not empty, else the pgpass
/// file ([`pgpass_path`], read by [`read_pgpass`]) for the connection's
/// host, port, database and user (the user defaults to the login name and
/// the database to the user, as the client does). A connection string that
/// carries its own password is left as it is (callers that forbid one check
/// first). Every host of the connection must get the same answer from the
/// file: one password is sent to each of them, and a password meant for one
/// host is never sent to another.
pub fn fill_password(config: &mut Config) -> std::result::Result<(), String> {
    if config.get_password().is_some() {
        return Ok(());
    }
    if let Some(pw) = std::env::var_os("PGPASSWORD").filter(|p| !p.is_empty()) {
        config.password(std::os::unix::ffi::OsStrExt::as_bytes(pw.as_os_str()));
        return Ok(());
    }
    fill_password_from_pgpass(config)
}

/// [`fill_password`] without `PGPASSWORD`: only the pgpass file, whose
/// passwords each go to their own host. For connections a spec names
/// (the `postgres` surfaces), so that one password from the environment is
/// never sent to whichever server a spec points at.
pub fn fill_password_from_pgpass(config: &mut Config) -> std::result::Result<(), String> {
    if config.get_password().is_some() {
        return Ok(());
    }
    let Some(path) = pgpass_path() else {
        return Ok(());
    };
    let Some(text) = read_pgpass(&path)? else {
        return Ok(());
    };
    if let Some(pw) = lookup_for(config, &text)? {
        config.password(pw);
    }
    Ok(())
}

/// The password the pgpass `text` gives for every host of `config` (the
/// same for all of them, or an error).
fn lookup_for(config: &mut Config, text: &[u8]) -> std::result::Result<Option<Vec<u8>>, String> {
    let user = match config.get_user() {
        Some(u) => u.to_string(),
        None => {
            let u = whoami::username()
                .map_err(|e| format!("cannot tell the login name to look up a password: {e}"))?;
            // Connect as the very user the password was looked up for.
            config.user(&u);
            u
        }
    };
    let dbname = config.get_dbname().unwrap_or(&user).to_string();
    let ports = config.get_ports();
    let port_of = |i: usize| {
        ports
            .get(i)
            .or_else(|| ports.first())
            .copied()
            .unwrap_or(5432)
            .to_string()
    };
    let mut hosts: Vec<String> = config.get_hosts().iter().map(pgpass_host).collect();
    if hosts.is_empty() {
        hosts = config
            .get_hostaddrs()
            .iter()
            .map(|a| a.to_string())
            .collect();
    }
    let mut found: Option<Option<Vec<u8>>> = None;
    for (i, host) in hosts.iter().enumerate() {
        let pw = pgpass_lookup(text, host, &port_of(i), &dbname, &user);
        match &found {
            None => found = Some(pw),
            Some(prev) if *prev == pw => {}
            Some(_) => {
                return Err(
                    "the password file gives the connection's hosts different passwords (or one none); name one host per connection"
                        .to_string(),
                );
            }
        }
    }
    Ok(found.flatten())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn look(text: &str, h: &str, p: &str, d: &str, u: &str) -> Option<String> {
        pgpass_lookup(text.as_bytes(), h, p, d, u).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn the_first_matching_line_gives_the_password() {
        let text = "# comment\n\
                    db.example:5432:app:ro:first\n\
                    db.example:5432:app:ro:second\n";
        assert_eq!(
            look(text, "db.example", "5432", "app", "ro").as_deref(),
            Some("first")
        );
        assert_eq!(look(text, "db.example", "5433", "app", "ro"), None);
        assert_eq!(look(text, "db.example", "5432", "app", "rw"), None);
        assert_eq!(look(text, "other", "5432", "app", "ro"), None);
        assert_eq!(look(text, "db.example", "5432", "ap", "ro"), None);
        assert_eq!(look(text, "db.example", "5432", "appx", "ro"), None);
    }

    #[test]
    fn a_star_field_matches_anything_but_only_as_a_whole_field() {
        let text = "*:*:app:*:pw\n";
        assert_eq!(look(text, "h", "1", "app", "u").as_deref(), Some("pw"));
        assert_eq!(look(text, "h", "1", "other", "u"), None);
        // `a*` is a literal, not a pattern; `\*` is a literal star.
        assert_eq!(look("a*:*:*:*:pw\n", "abc", "1", "d", "u"), None);
        assert_eq!(
            look("a*:*:*:*:pw\n", "a*", "1", "d", "u").as_deref(),
            Some("pw")
        );
        assert_eq!(look("\\*:*:*:*:pw\n", "h", "1", "d", "u"), None);
        assert_eq!(
            look("\\*:*:*:*:pw\n", "*", "1", "d", "u").as_deref(),
            Some("pw")
        );
    }

    #[test]
    fn escapes_comments_and_line_ends_follow_libpq() {
        let text = "h\\:x:1:d:u\\\\v:p\\:w\\\\d:ignored\r\n";
        assert_eq!(
            look(text, "h:x", "1", "d", "u\\v").as_deref(),
            Some("p:w\\d")
        );
        // A comment is a line starting with `#`, not a `#` later on.
        assert_eq!(look("#h:1:d:u:pw\n", "#h", "1", "d", "u"), None);
        assert_eq!(
            look("h:1:d:u:p#w\n", "h", "1", "d", "u").as_deref(),
            Some("p#w")
        );
        // Four fields are no line; an empty fifth is an empty password.
        assert_eq!(look("h:1:d:u\n", "h", "1", "d", "u"), None);
        assert_eq!(look("h:1:d:u:\n", "h", "1", "d", "u").as_deref(), Some(""));
        // The last line needs no newline; a trailing `\` stays.
        assert_eq!(
            look("x\nh:1:d:u:pw\\", "h", "1", "d", "u").as_deref(),
            Some("pw\\")
        );
        // A NUL byte makes the line match nothing.
        assert_eq!(
            look("h:1:d:u:p\0w\nh:1:d:u:ok\n", "h", "1", "d", "u").as_deref(),
            Some("ok")
        );
        // An escaped field end does not end the field.
        assert_eq!(look("h\\:1:d:u:pw\n", "h", "1", "d", "u"), None);
    }

    #[test]
    fn sockets_in_a_default_directory_are_localhost() {
        use postgres::config::Host;
        assert_eq!(
            pgpass_host(&Host::Unix("/var/run/postgresql".into())),
            "localhost"
        );
        assert_eq!(pgpass_host(&Host::Unix("/tmp/".into())), "localhost");
        assert_eq!(pgpass_host(&Host::Unix("/srv/pg".into())), "/srv/pg");
        assert_eq!(pgpass_host(&Host::Tcp("db".into())), "db");
    }

    #[test]
    fn hosts_that_disagree_get_no_password() {
        let mut c = parse_config("host=a,b port=1 dbname=d user=u").unwrap();
        let text = b"a:1:d:u:pa\n";
        assert!(
            lookup_for(&mut c, text)
                .unwrap_err()
                .contains("different passwords")
        );
        let text = b"a:1:d:u:same\nb:1:d:u:same\n";
        assert_eq!(lookup_for(&mut c, text).unwrap(), Some(b"same".to_vec()));
        // The database defaults to the user.
        let mut c = parse_config("host=a port=1 user=u").unwrap();
        assert_eq!(
            lookup_for(&mut c, b"a:1:u:u:pw\n").unwrap(),
            Some(b"pw".to_vec())
        );
    }

    #[test]
    fn a_pgpass_file_others_may_read_is_refused_naming_it() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("pgpass");
        std::fs::write(&f, "*:*:*:*:pw\n").unwrap();
        for mode in [0o644, 0o640, 0o604, 0o610] {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = read_pgpass(&f).unwrap_err();
            assert!(
                e.contains(&f.display().to_string()) && e.contains("chmod 600"),
                "{e}"
            );
        }
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_pgpass(&f).unwrap().unwrap(), b"*:*:*:*:pw\n");
        assert_eq!(read_pgpass(&d.path().join("absent")).unwrap(), None);
        let e = read_pgpass(d.path()).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
    }

    fn field() -> impl Strategy<Value = String> {
        // Anything but a line break, escapes and separators included.
        "[^\r\n\u{0}]{0,12}"
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_yield_a_password_from_a_line(
            text in proptest::collection::vec(any::<u8>(), 0..400),
            host in field(), port in field(), db in field(), user in field(),
        ) {
            if let Some(pw) = pgpass_lookup(&text, &host, &port, &db, &user) {
                // A password is never longer than the text it came from and
                // never spans a line.
                prop_assert!(pw.len() <= text.len());
                prop_assert!(!pw.contains(&b'\n'));
            }
        }

        #[test]
        fn an_escaped_line_gives_back_exactly_its_password(
            host in field(), port in field(), db in field(), user in field(),
            pw in field(), noise in field(),
        ) {
            let line = [&host, &port, &db, &user, &pw]
                .iter()
                .map(|f| pgpass_escape(f))
                .collect::<Vec<_>>()
                .join(":");
            // A comment and a line for another user before it change nothing.
            let text = format!("#{noise}\n{}:*:*:{}x:other\n{line}\n",
                pgpass_escape(&host), pgpass_escape(&user));
            let got = pgpass_lookup(text.as_bytes(), &host, &port, &db, &user);
            prop_assert_eq!(got, Some(pw.into_bytes()));
        }

        #[test]
        fn wildcards_match_every_connection(
            host in field(), port in field(), db in field(), user in field(),
        ) {
            let got = pgpass_lookup(b"*:*:*:*:pw", &host, &port, &db, &user);
            prop_assert_eq!(got, Some(b"pw".to_vec()));
        }
    }
}
