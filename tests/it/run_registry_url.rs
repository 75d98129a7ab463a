//! `holdfast run` on a registry in PostgreSQL (tests/it/support/pg.rs, a
//! real server): `[registry] url` of packet.toml or `--registry URL`. The
//! run claims and folds on the server exactly as on a directory (the same
//! packet, byte for byte, and the same documents); a password in the spec
//! is refused before anything is written; the password comes from
//! PGPASSWORD or a pgpass file, and a pgpass file others may read is
//! refused naming it; no packet file ever holds the password.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::support::{copy_tree, example, holdfast, pg, replace};

const MACRO: &str =
    "FIX7_P0_PRODUCTION_READINESS_SURFACE_SCOPING_AND_GOVERNANCE_LANE_MACRO_2026_06_12";
const IMPORT_LINE: &str = "import = \"registry/registry-import.json\"";

/// `holdfast ARGS…` with no password from this process's environment and
/// no pgpass file but `pgpass` (a path that need not exist).
fn hf(args: &[&str], pgpass: &Path, password: Option<&str>) -> Output {
    let mut c = holdfast();
    c.args(args)
        .env_remove("PGPASSWORD")
        .env("PGPASSFILE", pgpass);
    if let Some(pw) = password {
        c.env("PGPASSWORD", pw);
    }
    c.output().unwrap()
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh root with the FIX7 spec in `root/spec`, its registry line
/// replaced by `registry`.
fn spec_in(name: &str, registry: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("run-registry-url-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    copy_tree(&example(), &root.join("spec"));
    replace(&root.join("spec/packet.toml"), &[(IMPORT_LINE, registry)]);
    root
}

fn import_file(root: &Path) -> String {
    root.join("spec/registry/registry-import.json")
        .display()
        .to_string()
}

/// Every file of a packet, by relative path.
fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().strip_prefix(dir).unwrap().display().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn show(location: &str, pgpass: &Path, password: Option<&str>) -> Value {
    let out = hf(
        &["--json", "registry", "--registry", location, "show"],
        pgpass,
        password,
    );
    serde_json::from_str(&ok(out, "registry show")).unwrap()
}

fn log_len(location: &str, pgpass: &Path, password: Option<&str>) -> usize {
    let out = hf(
        &["--json", "registry", "--registry", location, "log"],
        pgpass,
        password,
    );
    let v: Value = serde_json::from_str(&ok(out, "registry log")).unwrap();
    v.as_array()
        .or_else(|| v["entries"].as_array())
        .map(|a| a.len())
        .unwrap_or_else(|| panic!("registry log --json: {v}"))
}

/// Whether the registry at `location` holds a claim by the FIX7 packet.
fn claimed_by_fix7(v: &Value) -> bool {
    v.to_string().contains(MACRO)
}

/// The same spec, once on a directory registry and once with
/// `--registry URL` on PostgreSQL (both imported from the same file): every
/// packet file is the same, byte for byte, and so is every registry
/// document; `verify --registry URL` anchors the PostgreSQL packet. Then a
/// spec naming the database in `[registry] url` gives a READY packet whose
/// claim is on the server.
#[test]
fn a_run_on_postgres_claims_and_folds_as_on_a_directory() {
    let server = pg::shared();
    let root = spec_in("same", "dir = \"../reg\"");
    let nopass = root.join("no-pgpass");
    let spec = root.join("spec").display().to_string();
    let reg = root.join("reg").display().to_string();
    let import = import_file(&root);
    server.create_db("run_url_same");
    let url = server.url("run_url_same");
    for location in [&reg, &url] {
        ok(
            hf(
                &["registry", "--registry", location, "import", &import],
                &nopass,
                None,
            ),
            "import",
        );
    }
    let on_dir = root.join("on-dir").display().to_string();
    let on_pg = root.join("on-pg").display().to_string();
    ok(
        hf(&["run", &spec, "--out", &on_dir], &nopass, None),
        "run on the directory",
    );
    let stdout = ok(
        hf(
            &["run", &spec, "--out", &on_pg, "--registry", &url],
            &nopass,
            None,
        ),
        "run on PostgreSQL",
    );
    assert!(stdout.contains("_READY"), "{stdout}");
    let (a, b) = (files_of(Path::new(&on_dir)), files_of(Path::new(&on_pg)));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same files"
    );
    for (name, bytes) in &a {
        assert!(b[name] == *bytes, "{name} differs between the backends");
    }
    // The registries hold the same documents after the fold and the claim.
    let on_server = crate::registry_postgres::pg_docs(&server, "run_url_same");
    for doc in holdfast::registry::DOCUMENTS {
        assert!(
            on_server[doc.name()] == std::fs::read(root.join("reg").join(doc.name())).unwrap(),
            "{} differs between the backends",
            doc.name()
        );
    }
    assert!(claimed_by_fix7(&show(&url, &nopass, None)));
    ok(
        hf(&["verify", &on_pg, "--registry", &url], &nopass, None),
        "verify --registry URL",
    );
    ok(
        hf(
            &["registry", "--registry", &url, "verify-history"],
            &nopass,
            None,
        ),
        "verify-history",
    );

    // `[registry] url` in packet.toml: the same run, the URL from the spec.
    server.create_db("run_url_spec");
    let url2 = server.url("run_url_spec");
    let root2 = spec_in("spec-url", &format!("url = \"{url2}\""));
    let spec2 = root2.join("spec").display().to_string();
    ok(
        hf(
            &[
                "registry",
                "--registry",
                &url2,
                "import",
                &import_file(&root2),
            ],
            &nopass,
            None,
        ),
        "import",
    );
    let out2 = root2.join("packet").display().to_string();
    let stdout = ok(
        hf(&["run", &spec2, "--out", &out2], &nopass, None),
        "run with registry.url",
    );
    assert!(stdout.contains("_READY"), "{stdout}");
    assert!(claimed_by_fix7(&show(&url2, &nopass, None)));
    let manifest = std::fs::read_to_string(root2.join("packet/manifest.json")).unwrap();
    assert!(
        manifest.contains("registry.url of packet.toml"),
        "{manifest}"
    );
    ok(
        hf(&["verify", &out2, "--registry", &url2], &nopass, None),
        "verify --registry URL",
    );
    // The packet alone re-derives itself, its packet.toml with the URL.
    ok(
        hf(&["verify", &out2, "--rerun"], &nopass, None),
        "verify --rerun",
    );
    let carried = std::fs::read_to_string(root2.join("packet/spec/packet.toml")).unwrap();
    assert!(carried.contains(&format!("url = \"{url2}\"")), "{carried}");
}

/// A password in `registry.url` is refused naming packet.toml and the key,
/// never repeated, before anything is written; on the command line too.
#[test]
fn a_password_in_the_registry_url_is_refused_and_nothing_is_written() {
    let server = pg::shared();
    server.create_db("run_url_pw");
    let url = server.url("run_url_pw");
    let with_pw = url.replacen(
        "postgresql://postgres@",
        "postgresql://postgres:hunter2@",
        1,
    );
    assert_ne!(with_pw, url);
    let root = spec_in("pw", &format!("url = \"{with_pw}\""));
    let nopass = root.join("no-pgpass");
    ok(
        hf(
            &[
                "registry",
                "--registry",
                &url,
                "import",
                &import_file(&root),
            ],
            &nopass,
            None,
        ),
        "import",
    );
    let before = log_len(&url, &nopass, None);
    let spec = root.join("spec").display().to_string();
    let out = root.join("packet").display().to_string();
    let r = hf(&["run", &spec, "--out", &out], &nopass, None);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("packet.toml")
            && stderr.contains("registry.url")
            && stderr.contains("password"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(!Path::new(&out).exists());
    // The command line: `--registry` with a password is refused as well.
    replace(
        &root.join("spec/packet.toml"),
        &[(&format!("url = \"{with_pw}\""), &format!("url = \"{url}\""))],
    );
    let r = hf(
        &["run", &spec, "--out", &out, "--registry", &with_pw],
        &nopass,
        None,
    );
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_ne!(r.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("carries a password"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(!Path::new(&out).exists());
    assert_eq!(
        log_len(&url, &nopass, None),
        before,
        "the registry was written"
    );
    assert!(!claimed_by_fix7(&show(&url, &nopass, None)));
}

/// The password from a pgpass file, on a server that requires it (SCRAM for
/// this role): a file with mode 0644 is refused naming it and `chmod 600`,
/// and nothing is written; with 0600 the run connects and gives a READY
/// packet, none of whose files holds the password.
#[test]
fn the_password_comes_from_a_pgpass_file_that_only_its_owner_may_read() {
    const ROLE: &str = "holdfast_pgpass";
    const PW: &str = "s3cret:pass\\word";
    let server = pg::shared();
    {
        // A new role is a part of every database's snapshot.
        let _cluster = crate::surface_postgres::cluster_write();
        server.require_password(ROLE, PW);
    }
    server
        .client("postgres")
        .batch_execute(&format!("CREATE DATABASE run_url_pgpass OWNER {ROLE}"))
        .unwrap();
    let url = server.url("run_url_pgpass").replacen(
        "postgresql://postgres@",
        &format!("postgresql://{ROLE}@"),
        1,
    );
    let root = spec_in("pgpass", &format!("url = \"{url}\""));
    let nopass = root.join("no-pgpass");
    let spec = root.join("spec").display().to_string();
    let out = root.join("packet").display().to_string();
    // Without a password the server refuses: the test proves something.
    let r = hf(
        &[
            "registry",
            "--registry",
            &url,
            "import",
            &import_file(&root),
        ],
        &nopass,
        None,
    );
    assert_ne!(r.status.code(), Some(0));
    // PGPASSWORD is one way in.
    ok(
        hf(
            &[
                "registry",
                "--registry",
                &url,
                "import",
                &import_file(&root),
            ],
            &nopass,
            Some(PW),
        ),
        "import with PGPASSWORD",
    );
    let before = log_len(&url, &nopass, Some(PW));

    let pgpass = root.join("pgpass");
    let esc = holdfast::pgconn::pgpass_escape;
    std::fs::write(
        &pgpass,
        format!(
            "# holdfast test\n{}:5432:run_url_pgpass:{ROLE}:{}\n",
            esc(&server.socket_dir().display().to_string()),
            esc(PW)
        ),
    )
    .unwrap();
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = hf(&["run", &spec, "--out", &out], &pgpass, None);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains(&pgpass.display().to_string()) && stderr.contains("chmod 600"),
        "{stderr}"
    );
    // Past the step lines of what ran before the refusal, one line says why.
    let said: Vec<&str> = stderr
        .lines()
        .filter(|l| !(l.starts_with('[') && l.contains("] ")))
        .collect();
    assert_eq!(said.len(), 1, "one line: {stderr}");
    assert!(!Path::new(&out).exists());
    assert_eq!(log_len(&url, &nopass, Some(PW)), before);

    // PGPASSWORD never goes to a server that packet.toml names (a spec may
    // be written by the agent it governs): refused, nothing written.
    let r = hf(&["run", &spec, "--out", &out], &nopass, Some(PW));
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("registry.url comes from the spec and PGPASSWORD is set")
            && stderr.contains("--registry"),
        "{stderr}"
    );
    assert!(!Path::new(&out).exists());
    assert_eq!(log_len(&url, &nopass, Some(PW)), before);

    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let stdout = ok(
        hf(&["run", &spec, "--out", &out], &pgpass, None),
        "run with pgpass",
    );
    assert!(stdout.contains("_READY"), "{stdout}");
    assert!(claimed_by_fix7(&show(&url, &pgpass, None)));
    for (name, bytes) in files_of(Path::new(&out)) {
        for needle in [PW, "s3cret"] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{name} holds the password"
            );
        }
    }

    // A `postgres` surface without a password in its connection string
    // takes it from the pgpass file too, never from PGPASSWORD.
    let surfaces = root.join("surfaces.toml");
    std::fs::write(root.join("evidence.txt"), "the database\n").unwrap();
    std::fs::write(
        &surfaces,
        "[[surface]]\nid = \"db\"\ntable = \"production\"\nname = \"DB\"\nkind = \"database\"\n\
         status = \"known\"\nrisk = \"critical\"\ngate = \"DBA\"\n[[surface.evidence]]\n\
         path = \"evidence.txt\"\n[surface.snapshot]\nmethod = \"postgres\"\n\
         connection_env = \"HOLDFAST_TEST_PGPASS_CONN\"\n\n[[boundary]]\nid = \"no-production-mutation\"\n\
         title = \"NO production PG mutation\"\nsurfaces = [\"db\"]\n",
    )
    .unwrap();
    let conn = format!(
        "host={} dbname=run_url_pgpass user={ROLE} connect_timeout=10",
        server.socket_dir().display()
    );
    let snapshot = |pgpass: &Path, password: Option<&str>| {
        let mut c = holdfast();
        c.arg("snapshot")
            .arg(&surfaces)
            .arg("--out")
            .arg(root.join("snap.json"))
            .env("HOLDFAST_TEST_PGPASS_CONN", &conn)
            .env_remove("PGPASSWORD")
            .env("PGPASSFILE", pgpass);
        if let Some(pw) = password {
            c.env("PGPASSWORD", pw);
        }
        c.output().unwrap()
    };
    let r = snapshot(&nopass, Some(PW));
    assert_ne!(
        r.status.code(),
        Some(0),
        "PGPASSWORD was used for a surface"
    );
    assert!(!root.join("snap.json").exists());
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o640)).unwrap();
    let r = snapshot(&pgpass, None);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("surface db") && stderr.contains("chmod 600"),
        "{stderr}"
    );
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    ok(snapshot(&pgpass, None), "snapshot with pgpass");
    let snap = std::fs::read(root.join("snap.json")).unwrap();
    assert!(!snap.windows(6).any(|w| w == b"s3cret"));
}

/// `--registry` cannot replace a spec's working copy (`registry.import`):
/// refused (exit 2) before anything runs.
#[test]
fn registry_on_the_command_line_is_refused_for_a_spec_that_imports() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("run-registry-url-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let spec = example().display().to_string();
    let out = root.join("packet").display().to_string();
    let reg = root.join("reg").display().to_string();
    let r = hf(
        &["run", &spec, "--out", &out, "--registry", &reg],
        &root.join("no-pgpass"),
        None,
    );
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--registry") && stderr.contains("registry.import"),
        "{stderr}"
    );
    assert!(!Path::new(&out).exists() && !Path::new(&reg).exists());
}

/// A governed change may not change the `@registry` surface when the
/// registry is a database (its commands could not reach it): refused
/// (exit 3) before anything runs or connects.
#[test]
fn a_change_of_the_registry_surface_is_refused_on_postgres() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("run-registry-url-change-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let spec = root.join("spec");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/config-change"),
        &spec,
    );
    replace(
        &spec.join("packet.toml"),
        &[(
            IMPORT_LINE,
            "url = \"postgresql://nobody@%2Fno-such-socket/reg\"",
        )],
    );
    replace(
        &spec.join("surfaces.toml"),
        &[("root = \"@config\"", "root = \"@registry\"")],
    );
    let out = root.join("packet").display().to_string();
    let r = hf(
        &["run", &spec.display().to_string(), "--out", &out],
        &root.join("no-pgpass"),
        None,
    );
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("packet.toml")
            && stderr.contains("run.change")
            && stderr.contains("service-config")
            && stderr.contains("PostgreSQL"),
        "{stderr}"
    );
    assert!(!Path::new(&out).exists());
}
