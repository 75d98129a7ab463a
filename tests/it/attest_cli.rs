//! Signed packets and signed authorizations through the real binary on a
//! real FIX7 packet: keys openssl reads (and openssl keys holdfast signs
//! with), `verify --trust` accepting only what a runner and an approver
//! signed, and failing closed on every attack we could think of.
//!
//! Keys are generated in the tests, never committed.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::sync::OnceLock;

use crate::support::{copy_tree, example, holdfast};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use predicates::prelude::*;
use proptest::prelude::*;
use serde_json::Value;

/// One signed FIX7 setup, built once: keys alice (approver), bob (runner),
/// carol (reviewer), mallory (not trusted); an approved spec; a packet run
/// with `--trust --sign`. Tests work on copies.
struct Base {
    root: PathBuf,
}

impl Base {
    fn keys(&self) -> PathBuf {
        self.root.join("keys")
    }
    fn key(&self, name: &str) -> PathBuf {
        self.keys().join(format!("{name}.key"))
    }
    fn trust(&self) -> PathBuf {
        self.keys().join("trust.toml")
    }
    fn spec(&self) -> PathBuf {
        self.root.join("spec")
    }
    fn packet(&self) -> PathBuf {
        self.root.join("packet")
    }
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("attest-base-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("keys")).unwrap();
        let b = Base { root };
        for name in ["alice", "bob", "carol", "mallory"] {
            holdfast()
                .args(["key", "generate"])
                .arg(b.keys().join(name))
                .assert()
                .success();
        }
        fs::write(
            b.trust(),
            "[[key]]\nrole = \"approver\"\npublic_key = \"alice.pub\"\n\
             [[key]]\nrole = \"runner\"\npublic_key = \"bob.pub\"\n\
             [[key]]\nrole = \"reviewer\"\npublic_key = \"carol.pub\"\n",
        )
        .unwrap();
        copy_tree(&example(), &b.spec());
        holdfast()
            .arg("authorize")
            .arg(b.spec())
            .arg("--key")
            .arg(b.key("alice"))
            .assert()
            .success();
        holdfast()
            .arg("run")
            .arg(b.spec())
            .arg("--out")
            .arg(b.packet())
            .arg("--trust")
            .arg(b.trust())
            .arg("--sign")
            .arg(b.key("bob"))
            .assert()
            .success();
        b
    })
}

/// A fresh copy of the signed packet.
fn packet_copy() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("packet");
    copy_tree(&base().packet(), &p);
    (t, p)
}

fn verify_trust(packet: &Path) -> assert_cmd::assert::Assert {
    holdfast()
        .arg("verify")
        .arg(packet)
        .arg("--trust")
        .arg(base().trust())
        .assert()
}

fn bundle(packet: &Path) -> PathBuf {
    packet.join("packet.intoto.jsonl")
}

fn lines(packet: &Path) -> Vec<Value> {
    fs::read_to_string(bundle(packet))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn write_lines(packet: &Path, lines: &[Value]) {
    let mut s = String::new();
    for l in lines {
        s.push_str(&serde_json::to_string(l).unwrap());
        s.push('\n');
    }
    fs::write(bundle(packet), s).unwrap();
}

fn payload(env: &Value) -> Value {
    let bytes = STANDARD.decode(env["payload"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Index of the line holding the packet (not the authorization) statement.
fn packet_line(lines: &[Value]) -> usize {
    lines
        .iter()
        .position(|l| payload(l)["predicateType"] == "https://holdfast.dev/attestation/packet/v1")
        .unwrap()
}

/// The DSSE pre-authentication encoding, written out here from the spec
/// (not taken from the library) so the test checks the library against it.
fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

fn reseal(packet: &Path) {
    holdfast()
        .arg("seal")
        .arg(packet)
        .arg("--force")
        .assert()
        .success();
}

#[test]
fn signed_fix7_packet_is_trusted_and_still_passes_sha256sum() {
    let b = base();
    verify_trust(&b.packet())
        .success()
        .stdout(predicate::str::contains("trusted: signed by"))
        .stdout(predicate::str::contains("runner (bob)"))
        .stdout(predicate::str::contains("approver (alice)"));
    let st = StdCommand::new("sha256sum")
        .args(["-c", "--quiet", "HASH_MANIFEST.txt"])
        .current_dir(b.packet())
        .status()
        .unwrap();
    assert!(st.success());
    // The bundle is not listed, and plain verify says signatures were not checked.
    let manifest = fs::read_to_string(b.packet().join("HASH_MANIFEST.txt")).unwrap();
    assert!(!manifest.contains("packet.intoto.jsonl"));
    holdfast()
        .arg("verify")
        .arg(b.packet())
        .assert()
        .success()
        .stdout(predicate::str::contains("NOT checked against any trust"))
        .stdout(predicate::str::contains("trusted:").not());
    let out = holdfast()
        .args(["--json", "verify"])
        .arg(b.packet())
        .arg("--trust")
        .arg(b.trust())
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["attestation"]["trusted"], true);
    assert_eq!(v["signatures_checked"], true);
}

#[test]
fn statement_is_in_toto_v1_over_exactly_the_listed_files() {
    let b = base();
    let ls = lines(&b.packet());
    assert_eq!(ls.len(), 2, "authorization carried, then the runner's");
    let env = &ls[packet_line(&ls)];
    assert_eq!(env["payloadType"], "application/vnd.in-toto+json");
    let st = payload(env);
    assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
    let manifest = fs::read_to_string(b.packet().join("HASH_MANIFEST.txt")).unwrap();
    let listed: Vec<(String, String)> = manifest
        .lines()
        .map(|l| {
            let (h, p) = l.split_once("  ").unwrap();
            (p.to_string(), h.to_string())
        })
        .collect();
    let subjects: Vec<(String, String)> = st["subject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["digest"]["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(subjects, listed);
    let tree = fs::read_to_string(b.packet().join("packet_tree.sha256")).unwrap();
    let pred = &st["predicate"];
    assert!(tree.starts_with(pred["tree_sha256"].as_str().unwrap()));
    let m: Value =
        serde_json::from_slice(&fs::read(b.packet().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(pred["status"], m["status"]["scoping_status"]);
    assert_eq!(pred["decision"], m["status"]["decision"]);
    assert_eq!(pred["flags"], m["flags"]);
    assert_eq!(pred["mutation"], m["mutation"]);
    assert_eq!(pred["spec_pins"], m["spec_pins"]);
    assert_eq!(pred["object_ids"], m["object_ids"]);
    assert_eq!(pred["role"], "runner");
}

#[test]
fn openssl_reads_holdfast_keys_and_verifies_the_signature_over_the_pae() {
    let b = base();
    let t = tempfile::tempdir().unwrap();
    let ok = |args: &[&str]| {
        let o = StdCommand::new("openssl").args(args).output().unwrap();
        assert!(
            o.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    };
    let key = b.key("bob");
    let public = b.keys().join("bob.pub");
    ok(&["pkey", "-in", key.to_str().unwrap(), "-noout"]);
    let der = ok(&[
        "pkey",
        "-pubin",
        "-in",
        public.to_str().unwrap(),
        "-outform",
        "DER",
    ]);
    // The key id is the sha256 of the SPKI DER.
    let id = holdfast::digest::sha256_hex(&der);
    let ls = lines(&b.packet());
    let env = &ls[packet_line(&ls)];
    assert_eq!(env["signatures"][0]["keyid"], id.as_str());
    let body = STANDARD.decode(env["payload"].as_str().unwrap()).unwrap();
    let sig = STANDARD
        .decode(env["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    let pae_file = t.path().join("pae.bin");
    let sig_file = t.path().join("sig.bin");
    fs::write(&pae_file, pae("application/vnd.in-toto+json", &body)).unwrap();
    fs::write(&sig_file, &sig).unwrap();
    let verify = |pae: &Path| {
        StdCommand::new("openssl")
            .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
            .arg(&public)
            .arg("-rawin")
            .arg("-in")
            .arg(pae)
            .arg("-sigfile")
            .arg(&sig_file)
            .output()
            .unwrap()
    };
    let o = verify(&pae_file);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    // And openssl rejects it over other bytes, so the check above can fail.
    let other = t.path().join("other.bin");
    fs::write(&other, pae("application/json", &body)).unwrap();
    assert!(!verify(&other).status.success());
}

#[test]
fn a_key_made_by_openssl_signs_with_holdfast() {
    let b = base();
    let (t, p) = packet_copy();
    let key = t.path().join("dave.key");
    let public = t.path().join("dave.pub");
    let st = StdCommand::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let st = StdCommand::new("openssl")
        .args(["pkey", "-in"])
        .arg(&key)
        .args(["-pubout", "-out"])
        .arg(&public)
        .status()
        .unwrap();
    assert!(st.success());
    holdfast()
        .arg("sign")
        .arg(&p)
        .arg("--key")
        .arg(&key)
        .args(["--role", "reviewer"])
        .assert()
        .success();
    let trust = t.path().join("trust.toml");
    fs::write(
        &trust,
        format!(
            "[[key]]\nrole = \"approver\"\npublic_key = \"{}\"\n\
             [[key]]\nrole = \"runner\"\npublic_key = \"{}\"\n\
             [[key]]\nrole = \"reviewer\"\npublic_key = \"dave.pub\"\n",
            b.keys().join("alice.pub").display(),
            b.keys().join("bob.pub").display()
        ),
    )
    .unwrap();
    holdfast()
        .arg("verify")
        .arg(&p)
        .arg("--trust")
        .arg(&trust)
        .assert()
        .success()
        .stdout(predicate::str::contains("reviewer (dave)"));
}

#[test]
fn key_generate_never_overwrites_and_creates_0600() {
    let t = tempfile::tempdir().unwrap();
    let name = t.path().join("k");
    holdfast()
        .args(["key", "generate"])
        .arg(&name)
        .assert()
        .success()
        .stdout(predicate::str::is_match("key [0-9a-f]{64} written").unwrap());
    let key = t.path().join("k.key");
    let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let before = fs::read(&key).unwrap();
    holdfast()
        .args(["key", "generate"])
        .arg(&name)
        .assert()
        .code(5)
        .stderr(predicate::str::contains("never overwritten"));
    assert_eq!(fs::read(&key).unwrap(), before);
    // Only the pub exists: still refused, and no key file is created.
    fs::remove_file(&key).unwrap();
    holdfast()
        .args(["key", "generate"])
        .arg(&name)
        .assert()
        .code(5);
    assert!(!key.exists());
}

#[test]
fn a_readable_private_key_is_refused_and_nothing_is_written() {
    let b = base();
    let (t, p) = packet_copy();
    let key = t.path().join("bob.key");
    fs::copy(b.key("bob"), &key).unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let before = fs::read(bundle(&p)).unwrap();
    holdfast()
        .arg("sign")
        .arg(&p)
        .arg("--key")
        .arg(&key)
        .assert()
        .code(5)
        .stderr(predicate::str::contains("chmod 600"));
    assert_eq!(fs::read(bundle(&p)).unwrap(), before);
}

#[test]
fn no_signature_fails_with_trust() {
    let (_t, p) = packet_copy();
    fs::remove_file(bundle(&p)).unwrap();
    verify_trust(&p)
        .code(1)
        .stderr(predicate::str::contains("no signature"));
    // Plain verify still passes, and says the packet is unsigned.
    holdfast()
        .arg("verify")
        .arg(&p)
        .assert()
        .success()
        .stdout(predicate::str::contains("unsigned"));
}

#[test]
fn a_key_the_trust_file_does_not_list_is_reported_not_trusted() {
    let b = base();
    let (_t, p) = packet_copy();
    holdfast()
        .arg("sign")
        .arg(&p)
        .arg("--key")
        .arg(b.key("mallory"))
        .assert()
        .success();
    verify_trust(&p)
        .code(1)
        .stderr(predicate::str::contains("does not list"))
        .stdout(predicate::str::contains("trusted:").not());
}

#[test]
fn a_signature_by_the_wrong_key_under_a_trusted_keyid_fails() {
    let b = base();
    let (t, p) = packet_copy();
    // mallory signs; her envelope is then relabelled with bob's keyid.
    let other = t.path().join("other");
    copy_tree(&p, &other);
    fs::remove_file(bundle(&other)).unwrap();
    holdfast()
        .arg("sign")
        .arg(&other)
        .arg("--key")
        .arg(b.key("mallory"))
        .assert()
        .success();
    let mut ls = lines(&p);
    let i = packet_line(&ls);
    let forged = &lines(&other)[0];
    ls[i]["signatures"][0]["sig"] = forged["signatures"][0]["sig"].clone();
    write_lines(&p, &ls);
    verify_trust(&p)
        .code(1)
        .stderr(predicate::str::contains("does not verify with bob's key"));
}

#[test]
fn an_edited_payload_fails() {
    let (_t, p) = packet_copy();
    let mut ls = lines(&p);
    let i = packet_line(&ls);
    let mut st = payload(&ls[i]);
    st["predicate"]["decision"] = Value::from("PRODUCTION_GO");
    ls[i]["payload"] = Value::from(STANDARD.encode(serde_json::to_vec(&st).unwrap()));
    write_lines(&p, &ls);
    verify_trust(&p)
        .code(1)
        .stderr(predicate::str::contains("does not verify"));
}

#[test]
fn a_signature_over_other_bytes_fails() {
    let (_t, p) = packet_copy();
    let mut ls = lines(&p);
    let i = packet_line(&ls);
    // Put the authorization's signature on the packet's payload.
    let j = 1 - i;
    ls[i]["signatures"] = ls[j]["signatures"].clone();
    write_lines(&p, &ls);
    verify_trust(&p).code(1);
}

#[test]
fn a_packet_file_changed_after_signing_fails_even_when_resealed() {
    let (_t, p) = packet_copy();
    let f = p.join("production-blocker-map.md");
    let mut bytes = fs::read(&f).unwrap();
    bytes.extend_from_slice(b"\nall clear\n");
    fs::write(&f, &bytes).unwrap();
    verify_trust(&p).code(1);
    let out = holdfast()
        .args(["--json", "verify"])
        .arg(&p)
        .arg("--trust")
        .arg(base().trust())
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["attestation"]["trusted"], false, "{v}");
    assert_eq!(v["status"], "TAMPERED");
    reseal(&p);
    verify_trust(&p).code(1).stderr(predicate::str::contains(
        "subject production-blocker-map.md: signed sha256",
    ));
}

#[test]
fn a_file_added_or_removed_and_resealed_fails_on_the_subject_list() {
    let (_t, p) = packet_copy();
    fs::write(p.join("extra-evidence.json"), b"{}\n").unwrap();
    reseal(&p);
    verify_trust(&p).code(1).stderr(predicate::str::contains(
        "file extra-evidence.json is listed but not a signed subject",
    ));
    let (_t2, q) = packet_copy();
    fs::remove_file(q.join("production-blocker-map.md")).unwrap();
    reseal(&q);
    verify_trust(&q).code(1).stderr(predicate::str::contains(
        "subject production-blocker-map.md is signed but not in the packet",
    ));
}

#[test]
fn a_wrong_payload_type_fails() {
    let (_t, p) = packet_copy();
    let mut ls = lines(&p);
    let i = packet_line(&ls);
    ls[i]["payloadType"] = Value::from("application/json");
    write_lines(&p, &ls);
    verify_trust(&p)
        .code(1)
        .stderr(predicate::str::contains("payloadType"));
}

#[test]
fn malformed_envelopes_exit_3() {
    let base_line = fs::read_to_string(bundle(&base().packet())).unwrap();
    let first = base_line.lines().next().unwrap().to_string();
    let cases: Vec<(&str, String)> = vec![
        ("truncated", base_line[..base_line.len() - 40].to_string()),
        ("no final newline", base_line.trim_end().to_string()),
        (
            "extra field",
            format!("{}\n", first.replacen('{', "{\"x\":1,", 1)),
        ),
        (
            "duplicate key",
            format!(
                "{}\n",
                first.replacen('{', "{\"payloadType\":\"application/vnd.in-toto+json\",", 1)
            ),
        ),
        (
            "bad base64 payload",
            format!(
                "{}\n",
                first.replacen("\"payload\":\"", "\"payload\":\"!!", 1)
            ),
        ),
        (
            "bad base64 sig",
            format!("{}\n", first.replacen("\"sig\":\"", "\"sig\":\"%%", 1)),
        ),
        ("not json", "hello\n".to_string()),
        ("empty line", format!("{first}\n\n")),
    ];
    for (what, text) in cases {
        let (_t, p) = packet_copy();
        fs::write(bundle(&p), text).unwrap();
        verify_trust(&p)
            .code(3)
            .stdout(predicate::str::contains("trusted:").not());
        let _ = what;
    }
}

#[test]
fn a_validly_signed_payload_that_is_not_a_statement_exits_3() {
    let b = base();
    let (_t, p) = packet_copy();
    let signer = holdfast::attest::keys::load_signer(&b.key("bob")).unwrap();
    let env = holdfast::attest::dsse::Envelope::sign(
        holdfast::attest::dsse::PAYLOAD_TYPE,
        b"{\"_type\": 1,",
        &signer,
    );
    let mut text = fs::read(bundle(&p)).unwrap();
    text.extend_from_slice(&env.to_line().unwrap());
    text.push(b'\n');
    fs::write(bundle(&p), text).unwrap();
    verify_trust(&p).code(3);
}

#[test]
fn a_reviewer_key_signing_as_runner_fails() {
    let b = base();
    let (_t, p) = packet_copy();
    holdfast()
        .arg("sign")
        .arg(&p)
        .arg("--key")
        .arg(b.key("carol"))
        .args(["--role", "runner"])
        .assert()
        .success();
    verify_trust(&p).code(1).stderr(predicate::str::contains(
        "carol is trusted as reviewer only, but signed as runner",
    ));
    // Signing as reviewer is fine and is appended, not rewritten.
    let (_t2, q) = packet_copy();
    let before = fs::read(bundle(&q)).unwrap();
    holdfast()
        .arg("sign")
        .arg(&q)
        .arg("--key")
        .arg(b.key("carol"))
        .args(["--role", "reviewer"])
        .assert()
        .success();
    let after = fs::read(bundle(&q)).unwrap();
    assert!(after.starts_with(&before) && after.len() > before.len());
    verify_trust(&q)
        .success()
        .stdout(predicate::str::contains("reviewer (carol)"));
}

#[test]
fn a_packet_signed_only_by_a_reviewer_is_not_trusted() {
    let b = base();
    let (_t, p) = packet_copy();
    let ls = lines(&p);
    let i = packet_line(&ls);
    write_lines(&p, &[ls[1 - i].clone()]);
    holdfast()
        .arg("sign")
        .arg(&p)
        .arg("--key")
        .arg(b.key("carol"))
        .args(["--role", "reviewer"])
        .assert()
        .success();
    verify_trust(&p)
        .code(1)
        .stderr(predicate::str::contains("no valid runner signature"));
}

#[test]
fn without_the_carried_authorization_the_packet_is_not_trusted() {
    let (_t, p) = packet_copy();
    let ls = lines(&p);
    let i = packet_line(&ls);
    write_lines(&p, &[ls[i].clone()]);
    verify_trust(&p)
        .code(1)
        .stderr(predicate::str::contains("not signed by an approver"));
}

#[test]
fn a_trust_file_inside_the_packet_is_refused() {
    let b = base();
    let (_t, p) = packet_copy();
    fs::copy(b.keys().join("bob.pub"), p.join("bob.pub")).unwrap();
    fs::write(
        p.join("trust.toml"),
        "[[key]]\nrole = \"runner\"\npublic_key = \"bob.pub\"\n",
    )
    .unwrap();
    holdfast()
        .arg("verify")
        .arg(&p)
        .arg("--trust")
        .arg(p.join("trust.toml"))
        .assert()
        .code(5)
        .stderr(predicate::str::contains("trust must come from outside"));
}

/// A copy of the approved spec, its registry import kept inside (the
/// example works on a fresh working copy each run).
fn spec_copy() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let s = t.path().join("spec");
    copy_tree(&base().spec(), &s);
    (t, s)
}

fn run_trusted(spec: &Path, out: &Path, trust: &Path) -> assert_cmd::assert::Assert {
    holdfast()
        .arg("run")
        .arg(spec)
        .arg("--out")
        .arg(out)
        .arg("--trust")
        .arg(trust)
        .arg("--sign")
        .arg(base().key("bob"))
        .assert()
}

#[test]
fn run_refuses_a_spec_changed_after_approval_before_anything_runs() {
    let (t, s) = spec_copy();
    let out = t.path().join("packet");
    let gates = s.join("gates.toml");
    let mut g = fs::read(&gates).unwrap();
    g.extend_from_slice(b"\n# edited after approval\n");
    fs::write(&gates, g).unwrap();
    run_trusted(&s, &out, &base().trust())
        .code(5)
        .stderr(predicate::str::contains(
            "the spec changed since it was approved",
        ));
    assert!(!out.exists());
}

#[test]
fn run_refuses_an_unapproved_spec_and_an_authorization_signed_by_a_runner() {
    let b = base();
    let (t, s) = spec_copy();
    let out = t.path().join("packet");
    fs::remove_file(s.join("authorization.intoto.jsonl")).unwrap();
    run_trusted(&s, &out, &b.trust())
        .code(5)
        .stderr(predicate::str::contains("holdfast authorize"));
    holdfast()
        .arg("authorize")
        .arg(&s)
        .arg("--key")
        .arg(b.key("bob"))
        .assert()
        .success();
    run_trusted(&s, &out, &b.trust())
        .code(5)
        .stderr(predicate::str::contains("bob, who is not an approver"));
    assert!(!out.exists());
}

#[test]
fn run_refuses_a_spec_that_names_its_own_trust() {
    let b = base();
    let (t, s) = spec_copy();
    let out = t.path().join("packet");
    // The spec ships its own key and a trust file naming it.
    fs::copy(b.keys().join("mallory.pub"), s.join("mallory.pub")).unwrap();
    fs::write(
        s.join("trust.toml"),
        "[[key]]\nrole = \"approver\"\npublic_key = \"mallory.pub\"\n",
    )
    .unwrap();
    run_trusted(&s, &out, &s.join("trust.toml"))
        .code(5)
        .stderr(predicate::str::contains("trust must come from outside"));
    assert!(!out.exists());
}

#[test]
fn a_packet_run_from_a_spec_changed_after_approval_is_not_trusted() {
    let b = base();
    let (t, s) = spec_copy();
    let out = t.path().join("packet");
    let plan = s.join("production-rollback-rehearsal-plan.md");
    let mut g = fs::read(&plan).unwrap();
    g.extend_from_slice(b"\nEdited after approval.\n");
    fs::write(&plan, g).unwrap();
    // Run without --trust (so it is not refused), signed by the runner.
    holdfast()
        .arg("run")
        .arg(&s)
        .arg("--out")
        .arg(&out)
        .arg("--sign")
        .arg(b.key("bob"))
        .assert()
        .success();
    // The stale approval is not carried, so nothing approved this packet.
    verify_trust(&out)
        .code(1)
        .stderr(predicate::str::contains("not signed by an approver"));
    // Carried by hand (a forger reusing the old approval), it does not bind.
    let stale = fs::read(s.join("authorization.intoto.jsonl")).unwrap();
    let mut bundle_bytes = fs::read(bundle(&out)).unwrap();
    bundle_bytes.extend_from_slice(&stale);
    fs::write(bundle(&out), bundle_bytes).unwrap();
    verify_trust(&out).code(1).stderr(predicate::str::contains(
        "spec file production-rollback-rehearsal-plan.md: approved with sha256",
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Flipping any byte of any packet file, or of the bundle, never leaves
    /// `verify --trust` at exit 0.
    #[test]
    fn flipping_any_byte_is_never_trusted(file_pick in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let (_t, p) = packet_copy();
        let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&p)
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_file())
            .map(|e| e.into_path())
            .collect();
        files.sort();
        let f = file_pick.get(&files).clone();
        let mut bytes = fs::read(&f).unwrap();
        prop_assume!(!bytes.is_empty());
        let i = at.index(bytes.len());
        bytes[i] ^= 1 << bit;
        fs::write(&f, &bytes).unwrap();
        let code = holdfast()
            .arg("verify")
            .arg(&p)
            .arg("--trust")
            .arg(base().trust())
            .output()
            .unwrap()
            .status
            .code();
        prop_assert_ne!(code, Some(0), "{} byte {} bit {}", f.display(), i, bit);
    }
}

/// The Python securesystemslib / in-toto-attestation stack verifies
/// holdfast's envelopes and parses their Statements. Needs a Python with
/// `securesystemslib[crypto]` and `in-toto-attestation` installed, named by
/// `HOLDFAST_INTEROP_PYTHON` (`.ci/run` makes one in a virtualenv); without
/// it the test says so and checks nothing.
#[test]
fn python_securesystemslib_verifies_holdfast_envelopes() {
    let Some(python) = std::env::var_os("HOLDFAST_INTEROP_PYTHON") else {
        eprintln!("SKIPPED: set HOLDFAST_INTEROP_PYTHON to a python with securesystemslib");
        return;
    };
    let b = base();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/verify_bundle.py");
    let run = |bundle: &Path, who: &str| -> String {
        let public = b.keys().join(format!("{who}.pub"));
        let key = holdfast::attest::keys::load_public(&public).unwrap();
        let id = holdfast::attest::keys::key_id(&key).unwrap();
        let o = StdCommand::new(&python)
            .arg(&script)
            .arg(bundle)
            .arg(&public)
            .arg(&id)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let ls = lines(&b.packet());
    let i = packet_line(&ls) + 1;
    let a = 3 - i;
    let bob = run(&bundle(&b.packet()), "bob");
    assert!(
        bob.contains(&format!(
            "{i} verified https://holdfast.dev/attestation/packet/v1"
        )),
        "{bob}"
    );
    assert!(bob.contains(&format!("{a} not-verified")), "{bob}");
    let alice = run(&bundle(&b.packet()), "alice");
    assert!(
        alice.contains(&format!(
            "{a} verified https://holdfast.dev/attestation/authorization/v1"
        )),
        "{alice}"
    );
    // An edited payload is rejected by them too.
    let (_t, p) = packet_copy();
    let mut ls = lines(&p);
    let mut st = payload(&ls[i - 1]);
    st["predicate"]["decision"] = Value::from("PRODUCTION_GO");
    ls[i - 1]["payload"] = Value::from(STANDARD.encode(serde_json::to_vec(&st).unwrap()));
    write_lines(&p, &ls);
    let bob = run(&bundle(&p), "bob");
    assert!(bob.contains(&format!("{i} not-verified")), "{bob}");
}

#[test]
fn the_bundle_is_a_seal_file_not_an_extra_but_a_link_in_its_place_fails() {
    let (_t, p) = packet_copy();
    holdfast().arg("verify").arg(&p).assert().success();
    fs::remove_file(bundle(&p)).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", bundle(&p)).unwrap();
    holdfast()
        .arg("verify")
        .arg(&p)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("packet.intoto.jsonl"));
    verify_trust(&p).code(predicate::ne(0));
}

#[test]
fn a_signed_packet_still_re_derives() {
    holdfast()
        .arg("verify")
        .arg(base().packet())
        .arg("--rerun")
        .arg("--trust")
        .arg(base().trust())
        .assert()
        .success()
        .stdout(predicate::str::contains("re-derived"))
        .stdout(predicate::str::contains("trusted: signed by"));
}

#[test]
fn signed_predicates_match_their_published_schemas() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let schema = |name: &str| {
        let v: Value = serde_json::from_slice(&fs::read(root.join(name)).unwrap()).unwrap();
        jsonschema::validator_for(&v).unwrap()
    };
    let packet = schema("packet-predicate.schema.json");
    let auth = schema("authorization-predicate.schema.json");
    let ls = lines(&base().packet());
    let i = packet_line(&ls);
    let p = payload(&ls[i])["predicate"].clone();
    let a = payload(&ls[1 - i])["predicate"].clone();
    assert!(packet.is_valid(&p), "{p}");
    assert!(auth.is_valid(&a), "{a}");
    // The schemas can fail: an unknown field, or the other predicate.
    let mut extra = p.clone();
    extra["verdict"] = Value::from("PASS");
    assert!(!packet.is_valid(&extra));
    assert!(!packet.is_valid(&a));
    assert!(!auth.is_valid(&p));
}

#[test]
fn a_spec_approved_again_after_a_change_yields_a_trusted_packet() {
    let b = base();
    let (t, s) = spec_copy();
    let out = t.path().join("packet");
    let plan = s.join("production-rollback-rehearsal-plan.md");
    let mut g = fs::read(&plan).unwrap();
    g.extend_from_slice(b"\nReviewed again.\n");
    fs::write(&plan, g).unwrap();
    run_trusted(&s, &out, &b.trust()).code(5);
    holdfast()
        .arg("authorize")
        .arg(&s)
        .arg("--key")
        .arg(b.key("alice"))
        .assert()
        .success();
    assert_eq!(
        fs::read_to_string(s.join("authorization.intoto.jsonl"))
            .unwrap()
            .lines()
            .count(),
        2,
        "the old approval stays: nothing is rewritten"
    );
    run_trusted(&s, &out, &b.trust())
        .success()
        .stdout(predicate::str::contains(
            "carried 1 signed authorization(s)",
        ))
        .stdout(predicate::str::contains("signed "));
    verify_trust(&out).success();
}

#[test]
fn a_runner_cannot_swap_a_carried_spec_file_under_the_approval() {
    let b = base();
    let (_t, p) = packet_copy();
    let carried = p.join("spec/gates.toml");
    assert!(
        carried.exists(),
        "the packet carries its inputs under spec/"
    );
    let mut g = fs::read(&carried).unwrap();
    g.extend_from_slice(b"\n# swapped by the runner\n");
    fs::write(&carried, g).unwrap();
    reseal(&p);
    // Keep only the carried approval; the runner signs the new bytes.
    let ls = lines(&p);
    let i = packet_line(&ls);
    write_lines(&p, &[ls[1 - i].clone()]);
    holdfast()
        .arg("sign")
        .arg(&p)
        .arg("--key")
        .arg(b.key("bob"))
        .assert()
        .success();
    verify_trust(&p).code(1).stderr(predicate::str::contains(
        "spec file gates.toml: approved with sha256",
    ));
}
