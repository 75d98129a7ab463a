//! Signed evidence: keys, DSSE envelopes over in-toto Statements, and the
//! trust file a verifier holds.
//!
//! Re-deriving a packet proves it agrees with itself; a signature says who
//! made it and who approved what it was allowed to do. holdfast signs with
//! ed25519 keys ([`keys`]), wraps each in-toto Statement v1 ([`statement`])
//! in a DSSE envelope ([`dsse`]), and stores the envelopes as JSON Lines next
//! to the seal files: [`ATTESTATION_FILE`] in a packet (not listed in
//! `HASH_MANIFEST.txt`, so `sha256sum -c` still passes) and
//! [`AUTHORIZATION_FILE`] in a spec directory. Which keys count, and for
//! what, is said only by the verifier's trust file ([`trust`]), never by the
//! spec or the packet. [`packet`] signs and verifies packets,
//! [`authorization`] signs and checks a spec's authorization.
//!
//! No cryptography is written here: ed25519, PKCS#8 and SPKI are
//! `ed25519-dalek`'s, base64 is `base64`'s, randomness is `getrandom`'s.

pub mod authorization;
pub mod bundle;
pub mod dsse;
pub mod keys;
pub mod packet;
pub mod predicate;
pub mod statement;
pub mod trust;

pub use crate::seal::ATTESTATION_FILE;

/// The spec's signed authorization (JSON Lines, one DSSE envelope a line),
/// at the spec directory's root.
pub const AUTHORIZATION_FILE: &str = "authorization.intoto.jsonl";

/// predicateType of a holdfast packet Statement. Versioned: a change to the
/// predicate's fields or their meaning gets a new version.
pub const PACKET_PREDICATE_TYPE: &str = "https://holdfast.dev/attestation/packet/v1";

/// predicateType of a holdfast authorization Statement.
pub const AUTHORIZATION_PREDICATE_TYPE: &str = "https://holdfast.dev/attestation/authorization/v1";

/// Largest attestation or authorization bundle read (a 100,000-file packet's
/// envelope is a few tens of MiB).
pub const BUNDLE_LIMIT: u64 = 512 * 1024 * 1024;
