//! Signing a sealed packet, and verifying a packet's signatures against a
//! trust file.
//!
//! The packet Statement has one subject per file `HASH_MANIFEST.txt` lists
//! (its path and sha256, taken from the manifest: signing re-hashes nothing
//! beyond the one `verify` pass) and the predicate
//! [`PACKET_PREDICATE_TYPE`], built by
//! [`packet_predicate`] from `manifest.json` and the tree hash.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use super::dsse::{self, Envelope, PAYLOAD_TYPE};
use super::keys::Signer;
use super::statement::{Statement, Subject, subject_differences};
use super::trust::{Role, Trust, TrustedKey};
use super::{
    ATTESTATION_FILE, AUTHORIZATION_PREDICATE_TYPE, PACKET_PREDICATE_TYPE, authorization, bundle,
};
use crate::digest;
use crate::error::{Error, Result, exit};
use crate::fsio;
use crate::packet::manifest::{MANIFEST_FILE, MANIFEST_LIMIT};
use crate::progress::Progress;
use crate::seal;

/// The predicate of a packet Statement, from `manifest.json` (as JSON) and
/// the tree hash: `role` (what the signer signs as: runner or reviewer),
/// `tree_sha256`, and, each only when the manifest has it, `format`,
/// `packet` (macro, status prefix, title, date), `status` and `decision`
/// (from `status.scoping_status` and `status.decision`),
/// `authorization_sha256` (sha256 of the canonical JSON of the manifest's
/// `authorization`), `flags`, `mutation`, `spec_pins` and `object_ids` (the
/// claimed ids). Nothing is invented: a field the manifest lacks is left out.
pub fn packet_predicate(manifest: &Value, tree_sha256: &str, role: Role) -> Value {
    let mut p = Map::new();
    p.insert("role".into(), Value::from(role.as_str()));
    p.insert("tree_sha256".into(), Value::from(tree_sha256));
    let mut copy = |key: &str, pointer: &str| {
        if let Some(v) = manifest.pointer(pointer).filter(|v| !v.is_null()) {
            p.insert(key.into(), v.clone());
        }
    };
    copy("format", "/format");
    copy("packet", "/packet");
    copy("status", "/status/scoping_status");
    copy("decision", "/status/decision");
    copy("flags", "/flags");
    copy("mutation", "/mutation");
    copy("spec_pins", "/spec_pins");
    copy("object_ids", "/object_ids");
    if let Some(a) = manifest.pointer("/authorization") {
        p.insert(
            "authorization_sha256".into(),
            Value::from(authorization::authorization_sha256(a)),
        );
    }
    Value::Object(p)
}

/// What [`sign`] did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SignSummary {
    /// The bundle written.
    pub file: PathBuf,
    /// The new envelope's line in it.
    pub line: usize,
    /// The signing key's id.
    pub key_id: String,
    /// The role signed as.
    pub role: Role,
    /// Number of subjects (packet files).
    pub subjects: usize,
    /// The packet's tree hash.
    pub tree_sha256: String,
}

/// The packet as its seal lists it: (path, sha256) per file, the tree hash,
/// and `manifest.json` parsed, its bytes checked against the listing.
struct Listed {
    files: Vec<(String, String)>,
    tree_sha256: String,
    manifest: Value,
}

fn read_listed(dir: &Path) -> Result<Listed> {
    let (entries, tree_sha256) = seal::read_listing(dir)?;
    let files: Vec<(String, String)> = entries.into_iter().map(|e| (e.path, e.sha256)).collect();
    let path = dir.join(MANIFEST_FILE);
    // A sealed directory that is not a run's packet has no manifest.json:
    // its predicate then holds only the role and the tree hash.
    let Some((_, listed)) = files.iter().find(|(p, _)| p == MANIFEST_FILE) else {
        return Ok(Listed {
            files,
            tree_sha256,
            manifest: Value::Object(Map::new()),
        });
    };
    let bytes = fsio::read_regular(&path, MANIFEST_LIMIT)?;
    if *listed != digest::sha256_hex(&bytes) {
        return Err(Error::failed(format!(
            "{}: not the bytes HASH_MANIFEST.txt lists",
            path.display()
        )));
    }
    let manifest = crate::canonical::parse_strict(&bytes, &path)?;
    Ok(Listed {
        files,
        tree_sha256,
        manifest,
    })
}

/// Signs the sealed packet in `dir` as `role` (runner or reviewer) and
/// appends the envelope to its [`ATTESTATION_FILE`]. Refuses (exit 5) a
/// packet that does not verify against its seal, and a second identical
/// signature by the same key.
pub fn sign(
    dir: &Path,
    signer: &Signer,
    role: Role,
    progress: &dyn Progress,
) -> Result<SignSummary> {
    if role == Role::Approver {
        return Err(Error::Usage(
            "a packet is signed as runner or reviewer; an approver signs the spec (holdfast authorize)"
                .into(),
        ));
    }
    let report = seal::verify(dir, progress)?;
    if !report.is_verified() {
        return Err(Error::refused(format!(
            "{}: does not verify against its seal ({} problem(s)); only a sealed, verified packet is signed",
            dir.display(),
            report.problems.len()
        )));
    }
    let listed = read_listed(dir)?;
    if report.tree_sha256.as_deref() != Some(listed.tree_sha256.as_str()) {
        return Err(Error::refused(format!(
            "{}: HASH_MANIFEST.txt changed while it was being signed",
            dir.display()
        )));
    }
    let subjects: Vec<Subject> = listed
        .files
        .iter()
        .map(|(p, h)| Subject::sha256(p, h))
        .collect();
    let predicate = packet_predicate(&listed.manifest, &listed.tree_sha256, role);
    let n = subjects.len();
    let body = Statement::new(subjects, PACKET_PREDICATE_TYPE, predicate).to_bytes()?;
    let envelope = Envelope::sign(PAYLOAD_TYPE, &body, signer);
    let file = dir.join(ATTESTATION_FILE);
    refuse_repeat(&file, &envelope)?;
    let line = bundle::append(&file, &envelope)?;
    Ok(SignSummary {
        file,
        line,
        key_id: signer.key_id.clone(),
        role,
        subjects: n,
        tree_sha256: listed.tree_sha256,
    })
}

/// Refuses to append an envelope the bundle already holds (same key, same
/// payload: ed25519 signatures are deterministic).
pub(crate) fn refuse_repeat(file: &Path, envelope: &Envelope) -> Result<()> {
    if file.symlink_metadata().is_err() {
        return Ok(());
    }
    for l in bundle::read(file)? {
        if l.envelope == *envelope {
            return Err(Error::refused(format!(
                "{}:{}: already signed by key {} over these bytes",
                file.display(),
                l.number,
                envelope.signatures[0].keyid
            )));
        }
    }
    Ok(())
}

/// One problem `verify --trust` found, with the exit code it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct AttestProblem {
    /// The bundle line it is about, when it is about one.
    pub line: Option<usize>,
    /// What is wrong, one line.
    pub detail: String,
    /// 1 (not trusted, tampered) or 3 (malformed).
    pub exit_code: i32,
}

/// One valid signature by a trusted key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SignedBy {
    /// The bundle line.
    pub line: usize,
    /// `packet` or `authorization`.
    pub statement: &'static str,
    /// The key's label in the trust file.
    pub key: String,
    /// The key id.
    pub key_id: String,
    /// The role it signed as.
    pub role: Role,
}

/// What `verify --trust` found about a packet's signatures.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct AttestReport {
    /// True only when every signature is valid and by a trusted key in its
    /// role, a runner signed the packet, and an approver signed its
    /// authorization. Never true with any problem.
    pub trusted: bool,
    /// Every valid signature.
    pub signatures: Vec<SignedBy>,
    /// Everything wrong.
    pub problems: Vec<AttestProblem>,
}

impl AttestReport {
    /// 0 when trusted; otherwise the worst problem's exit code (at least 1).
    pub fn exit_code(&self) -> i32 {
        let worst = self
            .problems
            .iter()
            .fold(exit::OK, |a, p| exit::worst(a, p.exit_code));
        if self.trusted {
            worst
        } else {
            exit::worst(worst, exit::FAILED)
        }
    }

    fn push(&mut self, line: Option<usize>, exit_code: i32, detail: impl Into<String>) {
        self.problems.push(AttestProblem {
            line,
            detail: detail.into(),
            exit_code,
        });
    }
}

/// What [`check_signatures`] found: the decoded body (None when the
/// payloadType is wrong or the payload is not base64), the trusted keys
/// with a valid signature, and every other signature as (exit code, problem).
pub(crate) type Checked<'t> = (Option<Vec<u8>>, Vec<&'t TrustedKey>, Vec<(i32, String)>);

/// The trusted keys that signed `env`, each signature checked over the
/// exact payload; every signature that is not a valid one by a trusted key
/// is a problem.
pub(crate) fn check_signatures<'t>(env: &Envelope, trust: &'t Trust, what: &Path) -> Checked<'t> {
    let mut problems = Vec::new();
    if env.payload_type != PAYLOAD_TYPE {
        problems.push((
            exit::FAILED,
            format!(
                "payloadType is {:?}, expected {PAYLOAD_TYPE:?}",
                env.payload_type
            ),
        ));
        return (None, Vec::new(), problems);
    }
    let body = match env.body(what) {
        Ok(b) => b,
        Err(e) => {
            problems.push((exit::MALFORMED, e.to_string()));
            return (None, Vec::new(), problems);
        }
    };
    let mut signers: Vec<&TrustedKey> = Vec::new();
    for (i, s) in env.signatures.iter().enumerate() {
        let Some(sig) = dsse::decode_sig(s) else {
            problems.push((
                exit::MALFORMED,
                format!("signature {i}: sig is not base64 of a 64-byte ed25519 signature"),
            ));
            continue;
        };
        match trust.signer_of(PAYLOAD_TYPE, &body, &sig) {
            Some(k) if s.keyid.is_empty() || s.keyid == k.key_id => {
                if !signers.iter().any(|x| x.key_id == k.key_id) {
                    signers.push(k);
                }
            }
            Some(k) => problems.push((
                exit::FAILED,
                format!(
                    "signature {i}: made by {} but its keyid names {}",
                    k.name, s.keyid
                ),
            )),
            None => match trust.by_id(&s.keyid) {
                Some(k) => problems.push((
                    exit::FAILED,
                    format!(
                        "signature {i}: does not verify with {}'s key over this payload (bad signature or edited payload)",
                        k.name
                    ),
                )),
                None => problems.push((
                    exit::FAILED,
                    format!(
                        "signature {i}: by a key the trust file does not list (keyid {:?}); not trusted",
                        s.keyid
                    ),
                )),
            },
        }
    }
    (Some(body), signers, problems)
}

/// Verifies every envelope of the packet's [`ATTESTATION_FILE`] against
/// `trust`; `seal` is the packet's seal report (a packet that fails its
/// seal is never trusted, whatever its signatures say). Returns `Err` only
/// for a refusal (the trust file or a key inside the packet) or an I/O
/// failure; every other defect is a problem in the report.
pub fn verify(dir: &Path, trust: &Trust, seal: &seal::VerifyReport) -> Result<AttestReport> {
    trust.refuse_inside(dir, "packet")?;
    let mut report = AttestReport::default();
    if !seal.is_verified() {
        report.push(
            None,
            exit::FAILED,
            format!(
                "the packet does not verify against its seal ({} problem(s)): not trusted",
                seal.problems.len()
            ),
        );
    }
    let file = dir.join(ATTESTATION_FILE);
    if file.symlink_metadata().is_err() {
        report.push(
            None,
            exit::FAILED,
            format!("no signature: {ATTESTATION_FILE} not found in the packet"),
        );
        return Ok(report);
    }
    let lines = match bundle::read(&file) {
        Ok(l) => l,
        Err(e @ Error::Io { .. }) => return Err(e),
        Err(e) => {
            report.push(None, e.exit_code(), e.to_string());
            return Ok(report);
        }
    };
    let listed = match read_listed(dir) {
        Ok(l) => l,
        Err(e @ Error::Io { .. }) => return Err(e),
        Err(e) => {
            report.push(None, e.exit_code(), e.to_string());
            return Ok(report);
        }
    };
    for l in &lines {
        check_line(l, &file, trust, &listed, &mut report);
    }
    let runner = report.signatures.iter().any(|s| s.role == Role::Runner);
    let approver = report.signatures.iter().any(|s| s.role == Role::Approver);
    if !runner {
        report.push(
            None,
            exit::FAILED,
            "no valid runner signature over this packet",
        );
    }
    if !approver {
        report.push(
            None,
            exit::FAILED,
            "its authorization is not signed by an approver key of the trust file",
        );
    }
    report.trusted = report.problems.is_empty();
    Ok(report)
}

/// Subject differences reported one by one per envelope; the rest are counted.
const SHOWN_DIFFERENCES: usize = 20;

fn check_line(
    l: &bundle::Line,
    file: &Path,
    trust: &Trust,
    listed: &Listed,
    report: &mut AttestReport,
) {
    let what = bundle::line_name(file, l.number);
    let line = Some(l.number);
    let (body, signers, problems) = check_signatures(&l.envelope, trust, &what);
    let failed = !problems.is_empty();
    for (code, p) in problems {
        report.push(line, code, p);
    }
    let Some(body) = body else { return };
    if failed || signers.is_empty() {
        return;
    }
    let statement = match Statement::parse(&body, &what) {
        Ok(s) => s,
        Err(e) => {
            report.push(line, e.exit_code(), e.to_string());
            return;
        }
    };
    let before = report.problems.len();
    let (kind, role) = match statement.predicate_type.as_str() {
        PACKET_PREDICATE_TYPE => {
            let role = match statement.predicate.get("role").and_then(Value::as_str) {
                Some("runner") => Role::Runner,
                Some("reviewer") => Role::Reviewer,
                other => {
                    report.push(
                        line,
                        exit::FAILED,
                        format!("predicate role {other:?} is not runner or reviewer"),
                    );
                    return;
                }
            };
            let diffs = subject_differences(&statement.subject, &listed.files);
            for d in diffs.iter().take(SHOWN_DIFFERENCES) {
                report.push(line, exit::FAILED, d.clone());
            }
            if diffs.len() > SHOWN_DIFFERENCES {
                report.push(
                    line,
                    exit::FAILED,
                    format!(
                        "and {} more subject difference(s)",
                        diffs.len() - SHOWN_DIFFERENCES
                    ),
                );
            }
            let expected = packet_predicate(&listed.manifest, &listed.tree_sha256, role);
            if statement.predicate != expected {
                report.push(
                    line,
                    exit::FAILED,
                    format!(
                        "predicate does not agree with manifest.json and the tree hash: {}",
                        first_difference(&statement.predicate, &expected)
                    ),
                );
            }
            ("packet", role)
        }
        AUTHORIZATION_PREDICATE_TYPE => {
            for d in authorization::packet_differences(&statement, &listed.manifest, &listed.files)
            {
                report.push(line, exit::FAILED, d);
            }
            ("authorization", Role::Approver)
        }
        other => {
            report.push(
                line,
                exit::FAILED,
                format!("unknown predicateType {other:?}"),
            );
            return;
        }
    };
    for k in &signers {
        if !k.roles.contains(&role) {
            let roles: Vec<&str> = k.roles.iter().map(|r| r.as_str()).collect();
            report.push(
                line,
                exit::FAILED,
                format!(
                    "{} is trusted as {} only, but signed as {}",
                    k.name,
                    roles.join(", "),
                    role.as_str()
                ),
            );
        }
    }
    if report.problems.len() == before {
        for k in signers {
            report.signatures.push(SignedBy {
                line: l.number,
                statement: kind,
                key: k.name.clone(),
                key_id: k.key_id.clone(),
                role,
            });
        }
    }
}

/// The first top-level predicate key where `a` and `b` differ, for a message.
pub(crate) fn first_difference(a: &Value, b: &Value) -> String {
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                if a.get(k) != b.get(k) {
                    return format!("field {k} differs");
                }
            }
            "no difference".into()
        }
        _ => "predicate is not an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::keys;
    use crate::progress::NoProgress;

    #[test]
    fn predicate_copies_only_what_the_manifest_has() {
        let m = serde_json::json!({
            "format": "holdfast-packet/1",
            "status": {"scoping_status": "X_READY", "decision": "HOLD_PRODUCTION"},
            "object_ids": null,
            "authorization": {"text": "t"}
        });
        let p = packet_predicate(&m, "ab", Role::Runner);
        let keys: Vec<&String> = p.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            vec![
                "authorization_sha256",
                "decision",
                "format",
                "role",
                "status",
                "tree_sha256"
            ]
        );
        assert_eq!(p["status"], "X_READY");
        assert_eq!(
            p["authorization_sha256"],
            authorization::authorization_sha256(&serde_json::json!({"text": "t"}))
        );
        let bare = packet_predicate(&Value::Object(Map::new()), "ab", Role::Reviewer);
        assert_eq!(bare.as_object().unwrap().len(), 2);
    }

    #[test]
    fn a_plain_sealed_dir_signs_and_verifies_but_is_not_trusted_without_approval() {
        let d = tempfile::tempdir().unwrap();
        let pk = d.path().join("pkt");
        std::fs::create_dir(&pk).unwrap();
        std::fs::write(pk.join("a.txt"), b"a\n").unwrap();
        seal::seal(&pk, seal::SealOptions::default(), &NoProgress).unwrap();
        let kdir = d.path().join("keys");
        std::fs::create_dir(&kdir).unwrap();
        keys::generate(&kdir.join("bob")).unwrap();
        std::fs::write(
            kdir.join("trust.toml"),
            "[[key]]\nrole = \"runner\"\npublic_key = \"bob.pub\"\n",
        )
        .unwrap();
        let signer = keys::load_signer(&kdir.join("bob.key")).unwrap();
        let s = sign(&pk, &signer, Role::Runner, &NoProgress).unwrap();
        assert_eq!((s.line, s.subjects), (1, 1));
        assert!(seal::verify(&pk, &NoProgress).unwrap().is_verified());
        let trust = Trust::load(&kdir.join("trust.toml")).unwrap();
        let sealed = seal::verify(&pk, &NoProgress).unwrap();
        let r = verify(&pk, &trust, &sealed).unwrap();
        assert!(!r.trusted);
        assert_eq!(r.signatures.len(), 1);
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert!(r.problems[0].detail.contains("not signed by an approver"));
        assert_eq!(r.exit_code(), 1);
        // Approver cannot sign a packet; a tampered packet is not signed.
        assert_eq!(
            sign(&pk, &signer, Role::Approver, &NoProgress)
                .unwrap_err()
                .exit_code(),
            2
        );
        std::fs::write(pk.join("a.txt"), b"b\n").unwrap();
        assert_eq!(
            sign(&pk, &signer, Role::Reviewer, &NoProgress)
                .unwrap_err()
                .exit_code(),
            5
        );
    }
}
