//! ed25519 key pairs in the files every tool reads: the private key as
//! PKCS#8 PEM (`NAME.key`, mode 0600), the public key as SubjectPublicKeyInfo
//! PEM (`NAME.pub`). `openssl pkey` reads both, and holdfast reads the keys
//! `openssl genpkey -algorithm ed25519` writes.
//!
//! A key id is the lowercase hex sha256 of the public key's SPKI DER bytes
//! (the bytes inside `NAME.pub`'s PEM armor), so anyone can recompute it with
//! `openssl pkey -pubin -in NAME.pub -outform DER | sha256sum`.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, KeypairBytes,
};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::Serialize;

use crate::digest;
use crate::error::{Error, IoContext, Result};
use crate::fsio;

/// Largest key file read.
const KEY_LIMIT: u64 = 64 * 1024;

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct GeneratedKey {
    /// The private key file (`NAME.key`, mode 0600).
    pub private_key: PathBuf,
    /// The public key file (`NAME.pub`).
    pub public_key: PathBuf,
    /// The key id (see [`key_id`]).
    pub key_id: String,
}

/// A private key loaded for signing, with its id.
pub struct Signer {
    /// The ed25519 signing key.
    pub key: SigningKey,
    /// Its key id.
    pub key_id: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        write!(f, "Signer {{ key_id: {} }}", self.key_id)
    }
}

/// The key id of a public key: lowercase hex sha256 of its SPKI DER.
pub fn key_id(key: &VerifyingKey) -> Result<String> {
    let der = key
        .to_public_key_der()
        .map_err(|e| Error::failed(format!("internal: cannot encode a public key: {e}")))?;
    Ok(digest::sha256_hex(der.as_bytes()))
}

/// The two file names of key pair `name`: `name.key` and `name.pub`.
pub fn pair_paths(name: &Path) -> (PathBuf, PathBuf) {
    let with = |ext: &str| {
        let mut s = name.as_os_str().to_owned();
        s.push(ext);
        PathBuf::from(s)
    };
    (with(".key"), with(".pub"))
}

/// Generates a key pair from the operating system's random source and writes
/// `NAME.key` (mode 0600) and `NAME.pub`, each atomically and never over an
/// existing file (refused, exit 5, when either exists).
pub fn generate(name: &Path) -> Result<GeneratedKey> {
    let (private_path, public_path) = pair_paths(name);
    for p in [&private_path, &public_path] {
        if p.symlink_metadata().is_ok() {
            return Err(Error::refused(format!(
                "{}: already exists; a key is never overwritten (choose another NAME)",
                p.display()
            )));
        }
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| {
        Error::io(
            "operating-system random source",
            std::io::Error::other(e.to_string()),
        )
    })?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    // PKCS#8 v1 (no embedded public key): the form `openssl genpkey` writes.
    let pem = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(LineEnding::LF)
    .map_err(|e| Error::failed(format!("internal: cannot encode the private key: {e}")))?;
    let verifying = key.verifying_key();
    let public_pem = verifying
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| Error::failed(format!("internal: cannot encode the public key: {e}")))?;
    write_new(&private_path, pem.as_bytes(), 0o600)?;
    if let Err(e) = write_new(&public_path, public_pem.as_bytes(), 0o644) {
        // Nothing half-written: the pair is both files or neither.
        let _ = std::fs::remove_file(&private_path);
        return Err(e);
    }
    Ok(GeneratedKey {
        private_key: private_path,
        public_key: public_path,
        key_id: key_id(&verifying)?,
    })
}

/// Writes a new file atomically with `mode`, failing if `path` exists
/// (the temporary file is linked into place, never renamed over a file).
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = fsio::parent_dir(path);
    // tempfile creates its file with mode 0600, so a private key is never
    // readable by anyone else, not even for an instant.
    let mut tmp = tempfile::Builder::new()
        .prefix(fsio::TEMP_PREFIX)
        .tempfile_in(&dir)
        .at(&dir)?;
    tmp.write_all(bytes).at(tmp.path())?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .at(tmp.path())?;
    tmp.as_file().sync_all().at(tmp.path())?;
    tmp.persist_noclobber(path).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            Error::refused(format!(
                "{}: already exists; a key is never overwritten",
                path.display()
            ))
        } else {
            Error::io(path, e.error)
        }
    })?;
    fsio::sync_dir(&dir)
}

/// Loads a private key for signing. Refuses (exit 5) a key file that group
/// or others may access in any way, or that is a link; a file that is not a
/// PKCS#8 PEM ed25519 key is malformed (exit 3).
pub fn load_signer(path: &Path) -> Result<Signer> {
    let file: File = digest::open_regular(path)?;
    let meta = file.metadata().at(path)?;
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::refused(format!(
            "{}: private key has mode {mode:04o}: group or others can access it; run chmod 600 {}",
            path.display(),
            path.display()
        )));
    }
    let text = read_text(file, path)?;
    let key = SigningKey::from_pkcs8_pem(&text).map_err(|e| {
        Error::malformed(
            path,
            format!("not an unencrypted PKCS#8 PEM ed25519 private key: {e}"),
        )
    })?;
    let key_id = key_id(&key.verifying_key())?;
    Ok(Signer { key, key_id })
}

/// Loads a public key (SubjectPublicKeyInfo PEM, ed25519).
pub fn load_public(path: &Path) -> Result<VerifyingKey> {
    let file = digest::open_regular(path)?;
    let text = read_text(file, path)?;
    VerifyingKey::from_public_key_pem(&text).map_err(|e| {
        Error::malformed(
            path,
            format!("not a SubjectPublicKeyInfo PEM ed25519 public key: {e}"),
        )
    })
}

fn read_text(file: File, path: &Path) -> Result<String> {
    let mut bytes = Vec::new();
    file.take(KEY_LIMIT + 1).read_to_end(&mut bytes).at(path)?;
    if bytes.len() as u64 > KEY_LIMIT {
        return Err(Error::malformed(
            path,
            format!("is over the limit of {KEY_LIMIT} bytes for a key file"),
        ));
    }
    String::from_utf8(bytes).map_err(|_| Error::malformed(path, "is not UTF-8 text (PEM)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_writes_a_pair_that_loads_back_with_the_same_id() {
        let d = tempfile::tempdir().unwrap();
        let g = generate(&d.path().join("alice")).unwrap();
        assert_eq!(g.key_id.len(), 64);
        let mode = std::fs::metadata(&g.private_key).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let s = load_signer(&g.private_key).unwrap();
        assert_eq!(s.key_id, g.key_id);
        let p = load_public(&g.public_key).unwrap();
        assert_eq!(key_id(&p).unwrap(), g.key_id);
        let again = generate(&d.path().join("alice")).unwrap_err();
        assert_eq!(again.exit_code(), 5, "{again}");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 2);
    }

    #[test]
    fn two_keys_differ() {
        let d = tempfile::tempdir().unwrap();
        let a = generate(&d.path().join("a")).unwrap();
        let b = generate(&d.path().join("b")).unwrap();
        assert_ne!(a.key_id, b.key_id);
    }

    #[test]
    fn readable_private_key_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let g = generate(&d.path().join("k")).unwrap();
        for mode in [0o640, 0o604, 0o610] {
            std::fs::set_permissions(&g.private_key, std::fs::Permissions::from_mode(mode))
                .unwrap();
            let e = load_signer(&g.private_key).unwrap_err();
            assert_eq!(e.exit_code(), 5, "{e}");
            assert!(e.to_string().contains("chmod 600"), "{e}");
        }
    }

    #[test]
    fn garbage_key_is_malformed() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.key");
        write_new(
            &p,
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            0o600,
        )
        .unwrap();
        assert_eq!(load_signer(&p).unwrap_err().exit_code(), 3);
        let q = d.path().join("x.pub");
        write_new(&q, b"hello", 0o644).unwrap();
        assert_eq!(load_public(&q).unwrap_err().exit_code(), 3);
    }
}
