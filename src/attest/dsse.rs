//! DSSE (Dead Simple Signing Envelope) v1: the pre-authentication encoding,
//! the JSON envelope, signing and verifying with ed25519.
//!
//! A signature is `Sign(PAE(UTF8(payloadType), payload))` with
//! `PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`,
//! `LEN` the ASCII decimal byte length without leading zeros. The envelope
//! is `{"payload": base64(body), "payloadType": type, "signatures":
//! [{"keyid": id, "sig": base64(signature)}]}`.
//!
//! holdfast writes standard base64 with padding and reads standard or
//! URL-safe base64 (the protocol requires verifiers to accept both). It is
//! stricter than the envelope spec in one way, on purpose: an envelope with
//! a field it does not know, or a key twice, is refused rather than
//! ignored, so no signed-looking bytes can carry unsigned extras.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature as EdSignature, Signer as _, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::keys::Signer;
use crate::error::{Error, Result};

/// The payloadType of an in-toto Statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The DSSE v1 pre-authentication encoding of `payload_type` and `body`:
/// the exact bytes a signature covers.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let t = payload_type.as_bytes();
    let mut out = Vec::with_capacity(t.len() + body.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(t.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(t);
    out.push(b' ');
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(body);
    out
}

/// A DSSE JSON envelope, field for field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// base64 of the serialized body.
    pub payload: String,
    /// How to read the body.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// One or more signatures over `PAE(payloadType, body)`.
    pub signatures: Vec<Signature>,
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// Unauthenticated hint naming the key (holdfast's key id). Never used
    /// to decide anything: the signature is checked against the trusted keys.
    #[serde(default)]
    pub keyid: String,
    /// base64 of the 64-byte ed25519 signature.
    pub sig: String,
}

impl Envelope {
    /// Signs `body` as `payload_type` with one key.
    pub fn sign(payload_type: &str, body: &[u8], signer: &Signer) -> Envelope {
        let sig = signer.key.sign(&pae(payload_type, body));
        Envelope {
            payload: STANDARD.encode(body),
            payload_type: payload_type.to_string(),
            signatures: vec![Signature {
                keyid: signer.key_id.clone(),
                sig: STANDARD.encode(sig.to_bytes()),
            }],
        }
    }

    /// The envelope as one line of JSON (no line break; field order fixed,
    /// so the same envelope always gives the same bytes).
    pub fn to_line(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self)
            .map_err(|e| Error::failed(format!("internal: cannot serialize an envelope: {e}")))
    }

    /// Parses one line strictly: valid JSON, no duplicate key, no unknown
    /// field, at least one signature. `what` names the line in errors.
    pub fn parse(line: &[u8], what: &std::path::Path) -> Result<Envelope> {
        let env: Envelope = crate::canonical::from_slice_strict(line, what)?;
        if env.signatures.is_empty() {
            return Err(Error::malformed(what, "envelope has no signatures"));
        }
        Ok(env)
    }

    /// The decoded payload bytes.
    pub fn body(&self, what: &std::path::Path) -> Result<Vec<u8>> {
        decode_b64(&self.payload)
            .ok_or_else(|| Error::malformed(what, "payload is not valid base64"))
    }
}

/// Decodes standard or URL-safe base64; `None` when it is neither.
pub fn decode_b64(s: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(s)
        .or_else(|_| URL_SAFE.decode(s))
        .or_else(|_| URL_SAFE_NO_PAD.decode(s))
        .ok()
}

/// Decodes a signature's `sig` into an ed25519 signature; `None` when it is
/// not base64 of exactly 64 bytes.
pub fn decode_sig(sig: &Signature) -> Option<EdSignature> {
    let bytes = decode_b64(&sig.sig)?;
    let arr: [u8; 64] = bytes.try_into().ok()?;
    Some(EdSignature::from_bytes(&arr))
}

/// True when `sig` is a valid signature by `key` over `PAE(payload_type,
/// body)`. Strict verification: rejects small-order keys and non-canonical
/// signatures, so a signature cannot be altered into another valid one.
pub fn verify(key: &VerifyingKey, payload_type: &str, body: &[u8], sig: &EdSignature) -> bool {
    key.verify_strict(&pae(payload_type, body), sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn pae_matches_the_dsse_test_vector() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    fn signer() -> Signer {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let key_id = super::super::keys::key_id(&key.verifying_key()).unwrap();
        Signer { key, key_id }
    }

    #[test]
    fn sign_then_verify_and_any_change_fails() {
        let s = signer();
        let env = Envelope::sign(PAYLOAD_TYPE, b"{}", &s);
        let line = env.to_line().unwrap();
        let back = Envelope::parse(&line, Path::new("x")).unwrap();
        assert_eq!(back, env);
        let body = back.body(Path::new("x")).unwrap();
        let sig = decode_sig(&back.signatures[0]).unwrap();
        let vk = s.key.verifying_key();
        assert!(verify(&vk, PAYLOAD_TYPE, &body, &sig));
        assert!(!verify(&vk, PAYLOAD_TYPE, b"{ }", &sig));
        assert!(!verify(&vk, "application/json", &body, &sig));
        let other = ed25519_dalek::SigningKey::from_bytes(&[8u8; 32]).verifying_key();
        assert!(!verify(&other, PAYLOAD_TYPE, &body, &sig));
    }

    #[test]
    fn strict_parsing_refuses_extra_duplicate_and_empty() {
        let p = Path::new("x");
        let extra = br#"{"payload":"e30=","payloadType":"t","signatures":[{"sig":"AA=="}],"x":1}"#;
        assert_eq!(Envelope::parse(extra, p).unwrap_err().exit_code(), 3);
        let dup = br#"{"payload":"e30=","payload":"e30=","payloadType":"t","signatures":[{"sig":"AA=="}]}"#;
        assert_eq!(Envelope::parse(dup, p).unwrap_err().exit_code(), 3);
        let none = br#"{"payload":"e30=","payloadType":"t","signatures":[]}"#;
        assert_eq!(Envelope::parse(none, p).unwrap_err().exit_code(), 3);
        let sig_extra =
            br#"{"payload":"e30=","payloadType":"t","signatures":[{"sig":"AA==","role":"x"}]}"#;
        assert_eq!(Envelope::parse(sig_extra, p).unwrap_err().exit_code(), 3);
        let ok = br#"{"payload":"e30=","payloadType":"t","signatures":[{"sig":"AA=="}]}"#;
        assert!(Envelope::parse(ok, p).is_ok());
    }

    proptest::proptest! {
        /// Arbitrary bytes never panic the parsers: an envelope line, a
        /// bundle, a Statement are each either parsed or refused.
        #[test]
        fn parsers_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let p = Path::new("x");
            let _ = Envelope::parse(&bytes, p);
            let _ = super::super::bundle::parse(&bytes, p);
            let _ = super::super::statement::Statement::parse(&bytes, p);
        }

        /// Flipping any bit of a signed envelope line never leaves a valid
        /// signature by the key over a payload of the right type, unless the
        /// flip is in the unauthenticated keyid or leaves the line
        /// unparseable.
        #[test]
        fn flipping_any_bit_of_a_line_breaks_the_signature(at in 0usize..4096, bit in 0u8..8) {
            let s = signer();
            let env = Envelope::sign(PAYLOAD_TYPE, br#"{"_type":"https://in-toto.io/Statement/v1"}"#, &s);
            let mut line = env.to_line().unwrap();
            let i = at % line.len();
            line[i] ^= 1 << bit;
            if let Ok(e) = Envelope::parse(&line, Path::new("x")) {
                let vk = s.key.verifying_key();
                let still = e.payload_type == PAYLOAD_TYPE
                    && e.body(Path::new("x")).ok().zip(decode_sig(&e.signatures[0])).is_some_and(
                        |(body, sig)| verify(&vk, &e.payload_type, &body, &sig),
                    );
                if still {
                    // Only the keyid hint may change without breaking it.
                    proptest::prop_assert_ne!(&e.signatures[0].keyid, &env.signatures[0].keyid);
                    proptest::prop_assert_eq!(&e.payload, &env.payload);
                    proptest::prop_assert_eq!(&e.signatures[0].sig, &env.signatures[0].sig);
                }
            }
        }
    }

    #[test]
    fn base64_accepts_both_alphabets_and_nothing_else() {
        assert_eq!(decode_b64("+/8=").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(decode_b64("-_8=").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(decode_b64("-_8").unwrap(), vec![0xfb, 0xff]);
        assert!(decode_b64("not base64!").is_none());
        assert!(
            decode_sig(&Signature {
                keyid: String::new(),
                sig: "AA==".into()
            })
            .is_none()
        );
    }
}
