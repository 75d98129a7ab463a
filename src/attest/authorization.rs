//! The signed authorization: an approver signs a Statement whose subjects
//! are every file of the spec directory (byte for byte) and whose predicate
//! is the `[authorization]` table of `packet.toml`, canonicalized. The
//! envelope goes to [`AUTHORIZATION_FILE`] in the spec directory; changing
//! any spec file afterwards invalidates it.
//!
//! `run --trust` checks it before anything runs ([`check_spec`]), and the
//! packet carries it in its attestation bundle ([`carry`]), where `verify
//! --trust` binds it to the packet: the predicate's authorization must be
//! the packet's, and every spec file the packet pins (`spec_pins`) must be
//! a signed subject with the same sha256 ([`packet_differences`]).

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use super::dsse::{Envelope, PAYLOAD_TYPE};
use super::keys::Signer;
use super::packet::{check_signatures, first_difference, refuse_repeat};
use super::statement::{Statement, Subject, subject_differences};
use super::trust::{Role, Trust};
use super::{ATTESTATION_FILE, AUTHORIZATION_FILE, AUTHORIZATION_PREDICATE_TYPE, bundle};
use crate::canonical;
use crate::digest;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::seal;

/// sha256 of the canonical JSON of an authorization value.
pub fn authorization_sha256(authorization: &Value) -> String {
    digest::sha256_hex(&canonical::value_to_bytes(authorization))
}

/// The predicate of an authorization Statement: `authorization` (the
/// table, as JSON) and `authorization_sha256` (its canonical JSON's sha256).
pub fn authorization_predicate(authorization: &Value) -> Value {
    let mut p = Map::new();
    p.insert("authorization".into(), authorization.clone());
    p.insert(
        "authorization_sha256".into(),
        Value::from(authorization_sha256(authorization)),
    );
    Value::Object(p)
}

/// Every regular file of the spec directory but [`AUTHORIZATION_FILE`],
/// as (path relative to `dir`, sha256), sorted by path. A link, a special
/// file or a hostile name anywhere is refused: the approver signs bytes.
pub fn spec_files(dir: &Path, progress: &dyn Progress) -> Result<Vec<(String, String)>> {
    let scan = seal::scan(dir)?;
    if let Some(odd) = scan.oddities.first() {
        return Err(Error::malformed(
            dir,
            format!("cannot be authorized: {odd}"),
        ));
    }
    let rels: Vec<String> = scan
        .files
        .into_iter()
        .filter(|r| r != AUTHORIZATION_FILE)
        .collect();
    let hashes = seal::hash_tree(dir, &rels, progress);
    rels.into_iter()
        .zip(hashes)
        .map(|(r, h)| h.map(|d| (r, d.sha256)))
        .collect()
}

/// The `[authorization]` table of `DIR/packet.toml` (loaded and validated
/// like `run` does), as JSON.
fn spec_authorization(dir: &Path) -> Result<Value> {
    let spec = crate::packet::spec::LoadedSpec::load(dir)?;
    serde_json::to_value(&spec.spec.authorization)
        .map_err(|e| Error::failed(format!("internal: authorization is not JSON: {e}")))
}

/// What [`authorize`] did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AuthorizeSummary {
    /// The bundle written.
    pub file: PathBuf,
    /// The new envelope's line.
    pub line: usize,
    /// The approver key's id.
    pub key_id: String,
    /// Number of spec files signed.
    pub subjects: usize,
    /// sha256 of the canonical authorization.
    pub authorization_sha256: String,
}

/// Signs the spec in `dir` for an approver and appends the envelope to
/// `DIR/`[`AUTHORIZATION_FILE`].
pub fn authorize(dir: &Path, signer: &Signer, progress: &dyn Progress) -> Result<AuthorizeSummary> {
    let auth = spec_authorization(dir)?;
    let files = spec_files(dir, progress)?;
    let subjects: Vec<Subject> = files.iter().map(|(p, h)| Subject::sha256(p, h)).collect();
    let body = Statement::new(
        subjects,
        AUTHORIZATION_PREDICATE_TYPE,
        authorization_predicate(&auth),
    )
    .to_bytes()?;
    let envelope = Envelope::sign(PAYLOAD_TYPE, &body, signer);
    let file = dir.join(AUTHORIZATION_FILE);
    refuse_repeat(&file, &envelope)?;
    let line = bundle::append(&file, &envelope)?;
    Ok(AuthorizeSummary {
        file,
        line,
        key_id: signer.key_id.clone(),
        subjects: files.len(),
        authorization_sha256: authorization_sha256(&auth),
    })
}

/// Who approved a spec.
#[derive(Debug, Clone, Serialize)]
pub struct SpecApproval {
    /// The approver keys (trust-file labels) with a valid signature over
    /// the spec as it is.
    pub approvers: Vec<String>,
}

/// Checks, before a run, that the spec in `dir` as it is now is approved:
/// some envelope of `DIR/`[`AUTHORIZATION_FILE`] is validly signed by an
/// approver key of `trust`, its subjects are exactly the spec's files and
/// its predicate is the spec's authorization. Refused (exit 5) otherwise,
/// naming the first reason; also refused when the trust file or a key lies
/// inside the spec (a spec never names its own trusted keys).
pub fn check_spec(dir: &Path, trust: &Trust, progress: &dyn Progress) -> Result<SpecApproval> {
    trust.refuse_inside(dir, "spec")?;
    let file = dir.join(AUTHORIZATION_FILE);
    let refuse = |why: String| {
        Error::refused(format!(
            "{}: the authorization is not approved: {why}",
            dir.display()
        ))
    };
    if file.symlink_metadata().is_err() {
        return Err(refuse(format!(
            "no {AUTHORIZATION_FILE}; an approver runs holdfast authorize {} --key KEY",
            dir.display()
        )));
    }
    let lines = bundle::read(&file).map_err(|e| refuse(e.to_string()))?;
    let auth = spec_authorization(dir)?;
    let files = spec_files(dir, progress)?;
    let expected = authorization_predicate(&auth);
    let mut approvers: Vec<String> = Vec::new();
    let mut first_problem: Option<String> = None;
    for l in &lines {
        let what = bundle::line_name(&file, l.number);
        let mut note = |p: String| {
            first_problem.get_or_insert_with(|| format!("line {}: {p}", l.number));
        };
        let (body, signers, problems) = check_signatures(&l.envelope, trust, &what);
        if let Some((_, p)) = problems.into_iter().next() {
            note(p);
            continue;
        }
        let Some(body) = body else { continue };
        let signers: Vec<_> = signers
            .into_iter()
            .filter(|k| {
                let ok = k.roles.contains(&Role::Approver);
                if !ok {
                    note(format!("signed by {}, who is not an approver", k.name));
                }
                ok
            })
            .collect();
        if signers.is_empty() {
            continue;
        }
        let statement = match Statement::parse(&body, &what) {
            Ok(s) => s,
            Err(e) => {
                note(e.to_string());
                continue;
            }
        };
        if statement.predicate_type != AUTHORIZATION_PREDICATE_TYPE {
            note(format!(
                "predicateType {:?} is not an authorization",
                statement.predicate_type
            ));
            continue;
        }
        if let Some(d) = subject_differences(&statement.subject, &files)
            .into_iter()
            .next()
        {
            note(format!("the spec changed since it was approved: {d}"));
            continue;
        }
        if statement.predicate != expected {
            note(format!(
                "the signed authorization is not packet.toml's: {}",
                first_difference(&statement.predicate, &expected)
            ));
            continue;
        }
        for k in signers {
            if !approvers.contains(&k.name) {
                approvers.push(k.name.clone());
            }
        }
    }
    if approvers.is_empty() {
        return Err(refuse(
            first_problem.unwrap_or_else(|| "no approver signature".into()),
        ));
    }
    Ok(SpecApproval { approvers })
}

/// Where an authorization Statement carried in a packet disagrees with the
/// packet: its authorization must be the packet's (`manifest.json`, as
/// JSON), and every spec file the packet pins (`spec_pins`) or carries
/// (under `spec/` in `files`, the packet's listing) must be a signed subject
/// with the same sha256. A packet that pins and carries no spec file cannot
/// be bound to any approval.
pub fn packet_differences(
    statement: &Statement,
    manifest: &Value,
    files: &[(String, String)],
) -> Vec<String> {
    let mut out = Vec::new();
    match manifest.pointer("/authorization") {
        Some(auth) => {
            let expected = authorization_predicate(auth);
            if statement.predicate != expected {
                out.push(format!(
                    "signed authorization is not the packet's: {}",
                    first_difference(&statement.predicate, &expected)
                ));
            }
        }
        None => out.push("manifest.json has no authorization to compare".into()),
    }
    let mut bound: Vec<(String, String)> = Vec::new();
    if let Some(pins) = manifest.pointer("/spec_pins").and_then(Value::as_object) {
        for (name, sha) in pins {
            bound.push((name.clone(), sha.as_str().unwrap_or("").to_string()));
        }
    }
    for (path, sha) in files {
        if let Some(rel) = path.strip_prefix(CARRIED_SPEC_DIR) {
            bound.push((rel.to_string(), sha.clone()));
        }
    }
    if bound.is_empty() {
        out.push(
            "the packet pins and carries no spec file: the authorization cannot be bound to it"
                .into(),
        );
    }
    bound.sort();
    bound.dedup();
    for (name, sha) in &bound {
        let signed = statement
            .subject
            .iter()
            .find(|s| s.name == *name)
            .and_then(|s| s.digest.get("sha256"));
        match signed {
            Some(a) if a == sha => {}
            Some(a) => out.push(format!(
                "spec file {name}: approved with sha256 {a}, the packet was run from {sha}"
            )),
            None => out.push(format!(
                "spec file {name} the packet pins is not among the approved files"
            )),
        }
    }
    out
}

/// Where a packet carries its run's inputs (`spec/<path in the spec dir>`).
const CARRIED_SPEC_DIR: &str = "spec/";

/// What [`carry`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Carried {
    /// Envelopes added to the packet's bundle.
    pub added: usize,
    /// Envelopes left behind: not an authorization over the spec's files as
    /// they are (approvals of an earlier version of the spec), or already
    /// in the packet.
    pub skipped: usize,
}

/// Copies into the packet's [`ATTESTATION_FILE`] every envelope of the
/// spec's [`AUTHORIZATION_FILE`] whose payload is an authorization
/// Statement over exactly the spec's files as they are now (signatures are
/// not checked here: that is the verifier's job, with its trust file). An
/// approval of an earlier version of the spec stays behind, so a spec
/// approved again after a change yields a packet carrying only the approval
/// that covers it.
pub fn carry(spec_dir: &Path, packet_dir: &Path, progress: &dyn Progress) -> Result<Carried> {
    let from = spec_dir.join(AUTHORIZATION_FILE);
    let mut carried = Carried::default();
    if from.symlink_metadata().is_err() {
        return Ok(carried);
    }
    let lines = bundle::read(&from)?;
    let files = spec_files(spec_dir, progress)?;
    let to = packet_dir.join(ATTESTATION_FILE);
    for l in lines {
        let what = bundle::line_name(&from, l.number);
        let current = l
            .envelope
            .body(&what)
            .and_then(|b| Statement::parse(&b, &what))
            .is_ok_and(|s| {
                s.predicate_type == AUTHORIZATION_PREDICATE_TYPE
                    && subject_differences(&s.subject, &files).is_empty()
            });
        let present = to.symlink_metadata().is_ok()
            && bundle::read(&to)?.iter().any(|x| x.envelope == l.envelope);
        if current && !present {
            bundle::append(&to, &l.envelope)?;
            carried.added += 1;
        } else {
            carried.skipped += 1;
        }
    }
    Ok(carried)
}
