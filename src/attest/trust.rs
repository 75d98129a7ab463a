//! The trust file: which public keys the verifier trusts, and for what.
//! It belongs to whoever verifies, never to the spec or the packet: a file
//! inside the spec or packet being checked is refused.
//!
//! ```toml
//! [[key]]
//! role = "approver"          # approver | runner | reviewer
//! public_key = "alice.pub"   # SPKI PEM, relative to this file
//! name = "alice"             # optional label for reports
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature as EdSignature, VerifyingKey};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{dsse, keys};
use crate::error::{Error, IoContext, Result};

/// What a trusted key may sign.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May sign authorizations (`holdfast authorize`).
    Approver,
    /// May sign packets (`holdfast sign`, `run --sign`).
    Runner,
    /// May co-sign packets as a reviewer.
    Reviewer,
}

impl Role {
    /// The role's word in files and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Approver => "approver",
            Role::Runner => "runner",
            Role::Reviewer => "reviewer",
        }
    }
}

/// The trust file as written (`TRUST.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustFile {
    /// One table per trusted key and role.
    pub key: Vec<TrustEntry>,
}

/// One `[[key]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustEntry {
    /// What this key may sign.
    pub role: Role,
    /// The public key file (SubjectPublicKeyInfo PEM), relative to the trust file.
    pub public_key: PathBuf,
    /// A label for reports (defaults to the file name).
    #[serde(default)]
    pub name: Option<String>,
}

/// A trusted key, loaded.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// Its key id.
    pub key_id: String,
    /// The label for reports.
    pub name: String,
    /// The public key.
    pub key: VerifyingKey,
    /// Every role the trust file grants it.
    pub roles: BTreeSet<Role>,
    /// The public key file.
    pub path: PathBuf,
}

/// A loaded trust file.
#[derive(Debug, Clone)]
pub struct Trust {
    /// The trust file.
    pub path: PathBuf,
    /// Its keys, one per distinct public key.
    pub keys: Vec<TrustedKey>,
}

impl Trust {
    /// Loads and checks a trust file and every key it names.
    pub fn load(path: &Path) -> Result<Trust> {
        let file: TrustFile = crate::tomlio::load(path)?;
        if file.key.is_empty() {
            return Err(Error::malformed(path, "no [[key]] table: trusts nothing"));
        }
        let base = crate::fsio::parent_dir(path);
        let mut keys: Vec<TrustedKey> = Vec::new();
        for (i, e) in file.key.iter().enumerate() {
            let kp = base.join(&e.public_key);
            let vk = keys::load_public(&kp)?;
            let id = keys::key_id(&vk)?;
            let name = e.name.clone().unwrap_or_else(|| {
                e.public_key
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| id[..16].to_string())
            });
            match keys.iter_mut().find(|k| k.key_id == id) {
                Some(k) => {
                    if !k.roles.insert(e.role) {
                        return Err(Error::malformed(
                            path,
                            format!(
                                "key[{i}]: {} is already trusted as {}",
                                e.public_key.display(),
                                e.role.as_str()
                            ),
                        ));
                    }
                }
                None => keys.push(TrustedKey {
                    key_id: id,
                    name,
                    key: vk,
                    roles: BTreeSet::from([e.role]),
                    path: kp,
                }),
            }
        }
        Ok(Trust {
            path: path.to_path_buf(),
            keys,
        })
    }

    /// The trusted key whose signature `sig` is over `PAE(payload_type,
    /// body)`, if any. Every key is tried: the envelope's keyid is a hint
    /// and decides nothing.
    pub fn signer_of(
        &self,
        payload_type: &str,
        body: &[u8],
        sig: &EdSignature,
    ) -> Option<&TrustedKey> {
        self.keys
            .iter()
            .find(|k| dsse::verify(&k.key, payload_type, body, sig))
    }

    /// The trusted key with this id, if any (for naming it in a report).
    pub fn by_id(&self, key_id: &str) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| k.key_id == key_id)
    }

    /// Refuses (exit 5) a trust file, or a key file it names, that lies
    /// inside `dir` (the spec or packet being checked): what is checked
    /// may never name whom to trust.
    pub fn refuse_inside(&self, dir: &Path, what: &str) -> Result<()> {
        let dir = dir.canonicalize().at(dir)?;
        let files = std::iter::once(&self.path).chain(self.keys.iter().map(|k| &k.path));
        for f in files {
            let real = f.canonicalize().at(f)?;
            if real.starts_with(&dir) {
                return Err(Error::refused(format!(
                    "{}: is inside the {what} {}; trust must come from outside what it checks",
                    f.display(),
                    dir.display()
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_keys_merges_roles_and_refuses_repeats() {
        let d = tempfile::tempdir().unwrap();
        let a = keys::generate(&d.path().join("alice")).unwrap();
        let t = d.path().join("trust.toml");
        std::fs::write(
            &t,
            "[[key]]\nrole = \"approver\"\npublic_key = \"alice.pub\"\n\
             [[key]]\nrole = \"reviewer\"\npublic_key = \"alice.pub\"\n",
        )
        .unwrap();
        let trust = Trust::load(&t).unwrap();
        assert_eq!(trust.keys.len(), 1);
        assert_eq!(trust.keys[0].key_id, a.key_id);
        assert_eq!(trust.keys[0].name, "alice");
        assert_eq!(trust.keys[0].roles.len(), 2);
        std::fs::write(
            &t,
            "[[key]]\nrole = \"runner\"\npublic_key = \"alice.pub\"\n\
             [[key]]\nrole = \"runner\"\npublic_key = \"alice.pub\"\n",
        )
        .unwrap();
        assert_eq!(Trust::load(&t).unwrap_err().exit_code(), 3);
        std::fs::write(&t, "[[key]]\nrole = \"boss\"\npublic_key = \"alice.pub\"\n").unwrap();
        assert_eq!(Trust::load(&t).unwrap_err().exit_code(), 3);
        std::fs::write(&t, "key = []\n").unwrap();
        assert_eq!(Trust::load(&t).unwrap_err().exit_code(), 3);
    }

    #[test]
    fn a_trust_file_inside_the_checked_dir_is_refused() {
        let d = tempfile::tempdir().unwrap();
        keys::generate(&d.path().join("alice")).unwrap();
        let t = d.path().join("trust.toml");
        std::fs::write(
            &t,
            "[[key]]\nrole = \"runner\"\npublic_key = \"alice.pub\"\n",
        )
        .unwrap();
        let trust = Trust::load(&t).unwrap();
        assert_eq!(
            trust
                .refuse_inside(d.path(), "spec")
                .unwrap_err()
                .exit_code(),
            5
        );
        let other = tempfile::tempdir().unwrap();
        assert!(trust.refuse_inside(other.path(), "spec").is_ok());
    }
}
