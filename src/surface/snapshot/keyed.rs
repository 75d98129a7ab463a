//! Keyed digests for sensitive surfaces.
//!
//! A plain sha256 of a secrets file, published in a packet, lets anyone who
//! holds the packet confirm a guessed secret offline. A surface marked
//! `sensitive = true` therefore records HMAC-SHA256 digests under a key the
//! operator supplies (an environment variable or a key file) and holdfast
//! never stores. The proof still works offline: the before and after
//! snapshots are taken with the same key, and equal keyed digests mean equal
//! bytes. Whoever takes the snapshots needs the key; whoever verifies the
//! packet or the proof does not; whoever has the key can confirm guesses,
//! so it must be kept like the secrets themselves.
//!
//! Each part is keyed over a label, the part's name and the sha256 of what
//! was read (`HMAC(key, "holdfast-keyed-part/1" 0 label 0 name 0 sha256)`),
//! so two files with the same bytes do not show the same digest either.

use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::fsio;
use crate::surface::spec::KeySource;

/// The shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 16;
/// The longest key file read, in bytes.
const MAX_KEY_BYTES: u64 = 4096;

/// A key, read when the surface is snapshotted; never printed or stored.
#[derive(Clone)]
pub struct Key(Hmac<Sha256>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

impl Key {
    /// A key from bytes; refused when shorter than [`MIN_KEY_BYTES`].
    pub fn new(bytes: Vec<u8>) -> std::result::Result<Self, String> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(format!(
                "the key is {} byte(s); a sensitive surface needs at least {MIN_KEY_BYTES}",
                bytes.len()
            ));
        }
        <Hmac<Sha256> as KeyInit>::new_from_slice(&bytes)
            .map(Key)
            .map_err(|e| format!("the key cannot be used: {e}"))
    }

    /// The keyed digest of one part: `label` says what kind of part
    /// (`file`, `mode`, `owner`, `stdout`), `name` which one, `sha256` the
    /// plain digest of what was read (never published itself).
    pub fn part(&self, label: &str, name: &str, sha256: &[u8]) -> String {
        let mut mac = self.0.clone();
        mac.update(b"holdfast-keyed-part/1\0");
        mac.update(label.as_bytes());
        mac.update(b"\0");
        mac.update(name.as_bytes());
        mac.update(b"\0");
        mac.update(sha256);
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Reads the key `src` names. `base` resolves a relative key file;
/// `err_at(field, what)` points an error at the spec key. An unset or empty
/// variable, a short key, or a key file that is not a regular file fails
/// closed (a sensitive surface is never digested without its key); a key
/// file that cannot be read is an I/O error.
pub fn load(
    src: &KeySource,
    base: &Path,
    err_at: &dyn Fn(&'static str, String) -> Error,
) -> Result<Key> {
    match src {
        KeySource::Env(var) => {
            let value = std::env::var_os(var).unwrap_or_default();
            if value.is_empty() {
                return Err(err_at(
                    "key_env",
                    format!(
                        "environment variable {var} is not set: a sensitive surface is never \
                         digested without its key"
                    ),
                ));
            }
            Key::new(std::os::unix::ffi::OsStrExt::as_bytes(value.as_os_str()).to_vec())
                .map_err(|e| err_at("key_env", format!("{var}: {e}")))
        }
        KeySource::File(f) => {
            let path = base.join(f);
            let bytes = match fsio::read_regular(&path, MAX_KEY_BYTES) {
                Ok(b) => b,
                Err(Error::Io { path, source }) => {
                    // Still an I/O error (exit 4), naming the spec key too.
                    let at = err_at("key_file", format!("cannot read the key: {source}"));
                    return Err(Error::io(
                        path,
                        std::io::Error::new(source.kind(), at.to_string()),
                    ));
                }
                Err(e) => return Err(err_at("key_file", e.to_string())),
            };
            Key::new(bytes).map_err(|e| err_at("key_file", format!("{f}: {e}")))
        }
    }
}

/// [`load`] for a surface that may or may not be sensitive.
pub fn load_opt(
    src: Option<&KeySource>,
    base: &Path,
    err_at: &dyn Fn(&'static str, String) -> Error,
) -> Result<Option<Key>> {
    src.map(|s| load(s, base, err_at)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_depend_on_key_label_name_and_bytes_and_never_show_the_key() {
        let k = Key::new(vec![7u8; 32]).unwrap();
        let h = [1u8; 32];
        let a = k.part("file", "a", &h);
        assert_eq!(a.len(), 64);
        assert_eq!(a, k.part("file", "a", &h), "deterministic");
        assert_ne!(a, k.part("file", "b", &h));
        assert_ne!(a, k.part("mode", "a", &h));
        assert_ne!(a, k.part("file", "a", &[2u8; 32]));
        assert_ne!(a, Key::new(vec![8u8; 32]).unwrap().part("file", "a", &h));
        assert_eq!(format!("{k:?}"), "Key(<redacted>)");
        assert!(Key::new(vec![1; 15]).is_err());
    }

    #[test]
    fn missing_or_short_keys_fail_closed() {
        let err_at = |field: &'static str, what: String| {
            Error::malformed("s.toml", format!("{field}: {what}"))
        };
        let d = tempfile::tempdir().unwrap();
        let e = load(
            &KeySource::Env("HOLDFAST_TEST_NO_SUCH_KEY_VARIABLE".into()),
            d.path(),
            &err_at,
        )
        .unwrap_err();
        assert!(e.to_string().contains("is not set"), "{e}");
        assert_eq!(e.exit_code(), 3);
        std::fs::write(d.path().join("short"), b"abc").unwrap();
        let e = load(&KeySource::File("short".into()), d.path(), &err_at).unwrap_err();
        assert!(e.to_string().contains("at least 16"), "{e}");
        let e = load(&KeySource::File("missing".into()), d.path(), &err_at).unwrap_err();
        assert_eq!(e.exit_code(), 4, "{e}");
        std::fs::write(d.path().join("good"), [9u8; 32]).unwrap();
        assert!(load(&KeySource::File("good".into()), d.path(), &err_at).is_ok());
    }
}
