//! A real PostgreSQL server for tests: initdb on a temporary data directory,
//! listening only on a Unix socket inside it, started once and shared by the
//! tests of a binary that run at the same time, stopped (and its directory
//! removed) when the last of them drops its handle, even when a test panics.
//!
//! When the server binaries are missing the tests FAIL with a message saying
//! how to install them: a database test that silently passes proves nothing.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, Weak};

/// A running server. Dropping it stops the server.
pub struct Server {
    bin: PathBuf,
    data: PathBuf,
    sock: PathBuf,
    as_postgres: bool,
    // Dropped last: removes the data directory after the server stopped.
    _dir: tempfile::TempDir,
}

/// The highest-versioned `/usr/lib/postgresql/*/bin` holding `initdb`, else
/// the directory of an `initdb` on PATH.
pub fn find_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p).find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
    })
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn run(as_postgres: bool, program: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    let out = cmd
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{} {:?} failed: {}{}",
        program.display(),
        args,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Server {
    /// initdb + pg_ctl start. Panics (failing the test) when anything is missing.
    pub fn start() -> Server {
        let bin = find_bin().unwrap_or_else(|| {
            panic!(
                "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or on PATH; \
                 install them (apt-get install postgresql; .ci/run does this) to run the PostgreSQL tests"
            )
        });
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("holdfast-pg-")
            .tempdir()
            .unwrap();
        if as_postgres {
            // initdb refuses to run as root; the postgres user must own the directory.
            let id = |flag: &str| -> u32 {
                let out = Command::new("id")
                    .args([flag, "postgres"])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "running as root but there is no postgres user to run the server as"
                );
                String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
            };
            std::os::unix::fs::chown(dir.path(), Some(id("-u")), Some(id("-g"))).unwrap();
        }
        let data = dir.path().join("data");
        let sock = dir.path().join("sock");
        let log = dir.path().join("log");
        run(as_postgres, Path::new("mkdir"), &[sock.to_str().unwrap()]);
        run(
            as_postgres,
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "-N",
            ],
        );
        let opts = format!("-k {} -c listen_addresses='' -c fsync=off", sock.display());
        run(
            as_postgres,
            &bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        Server {
            bin,
            data,
            sock,
            as_postgres,
            _dir: dir,
        }
    }

    /// A connection string for database `db` as the superuser.
    pub fn conn(&self, db: &str) -> String {
        format!(
            "host={} dbname={db} user=postgres connect_timeout=10",
            self.sock.display()
        )
    }

    /// A `postgresql://` URL for database `db` as the superuser, over the
    /// server's Unix socket (the socket directory percent-encoded as the host).
    pub fn url(&self, db: &str) -> String {
        let host: String = self
            .sock
            .display()
            .to_string()
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        format!("postgresql://postgres@{host}/{db}?connect_timeout=10")
    }

    /// `pg_ctl restart -m immediate`: the server stops without a checkpoint
    /// (as on a crash) and starts again, recovering from its WAL.
    pub fn restart_immediate(&self) {
        let opts = format!(
            "-k {} -c listen_addresses='' -c fsync=off",
            self.sock.display()
        );
        let log = self.data.parent().unwrap().join("log");
        run(
            self.as_postgres,
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &opts,
                "-m",
                "immediate",
                "-w",
                "-t",
                "60",
                "restart",
            ],
        );
    }

    /// A read-write client (for setting up and changing test data).
    pub fn client(&self, db: &str) -> postgres::Client {
        postgres::Client::connect(&self.conn(db), postgres::NoTls).unwrap()
    }

    /// Creates a fresh database `db` (each test uses its own).
    pub fn create_db(&self, db: &str) {
        self.client("postgres")
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .unwrap();
    }

    /// The server's Unix socket (for tests that put something between it
    /// and holdfast).
    pub fn socket(&self) -> PathBuf {
        self.sock.join(".s.PGSQL.5432")
    }

    /// Directory of the server binaries (pg_dump etc.).
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The directory of the server's Unix socket (a URL's host).
    pub fn socket_dir(&self) -> &Path {
        &self.sock
    }

    /// Creates the login role `role` with `password` and makes the server
    /// require that password (SCRAM) from it on the Unix socket: a line
    /// before the trust lines of pg_hba.conf, then a reload. Every other
    /// role keeps trust. Returns once a connection as `role` without the
    /// password is refused.
    pub fn require_password(&self, role: &str, password: &str) {
        static HBA: Mutex<()> = Mutex::new(());
        let _g = HBA.lock().unwrap_or_else(|e| e.into_inner());
        let mut c = self.client("postgres");
        c.batch_execute(&format!(
            "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN \
             CREATE ROLE {role} LOGIN; END IF; END$$; \
             SET password_encryption = 'scram-sha-256'; \
             ALTER ROLE {role} PASSWORD '{password}'"
        ))
        .unwrap();
        let hba = self.data.join("pg_hba.conf");
        let line = format!("local all {role} scram-sha-256\n");
        let text = std::fs::read_to_string(&hba).unwrap();
        if !text.contains(&line) {
            std::fs::write(&hba, format!("{line}{text}")).unwrap();
            c.batch_execute("SELECT pg_reload_conf()").unwrap();
        }
        let without = format!(
            "host={} dbname=postgres user={role} connect_timeout=10",
            self.sock.display()
        );
        for _ in 0..100 {
            if postgres::Client::connect(&without, postgres::NoTls).is_err() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the server still lets {role} in without a password after the reload");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"));
            c
        } else {
            Command::new(self.bin.join("pg_ctl"))
        };
        let _ = cmd
            .args([
                "-D",
                self.data.to_str().unwrap_or(""),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .output();
    }
}

static SHARED: Mutex<Weak<Server>> = Mutex::new(Weak::new());

/// The shared server, started if no running test holds it.
pub fn shared() -> Arc<Server> {
    let mut g = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = g.upgrade() {
        return s;
    }
    let s = Arc::new(Server::start());
    *g = Arc::downgrade(&s);
    s
}
