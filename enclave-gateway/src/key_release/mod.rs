//! Keys for replicas: several gateways behind one relay must decrypt any sealed request and
//! sign receipts with the key the client attested, whichever replica answered the attestation.
//! They share keys, and a replica gets them only by proving what it is — the pattern of AWS KMS
//! releasing a key to a Nitro enclave whose attestation meets the key policy:
//!
//! 1. the replica asks the **key keeper** for a fresh nonce;
//! 2. it makes an X25519 key pair and has its attester sign a document over
//!    `SHA-256(public key)` and the nonce;
//! 3. the keeper verifies the document (chain to a trusted root, the nonce, its age, the
//!    binding) and that its measurements equal the policy's (here: pinned from the first replica
//!    that joined; in production, the key policy's PCRs), then seals the key set to that public
//!    key with HPKE;
//! 4. only that replica can open it. It asks again every [`POLL`], so a rotation reaches every
//!    replica within a poll.
//!
//! Rotation loses no request: the keeper first hands out the next keys as *accepted* (every
//! replica decrypts with them, none advertises them), then after [`SETTLE`] makes them current,
//! keeping the old ones accepted for [`GRACE`].

pub mod keeper;
pub mod member;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How often a replica asks for the current key set.
pub const POLL: Duration = Duration::from_millis(500);
/// How long next keys are accepted everywhere before they become current (several polls).
pub const SETTLE: Duration = Duration::from_secs(2);
/// How long previous keys stay accepted after a rotation (a client's cached attestation).
pub const GRACE: Duration = Duration::from_secs(60);
/// How old a replica's document may be.
pub const MAX_DOCUMENT_AGE: Duration = Duration::from_secs(30);

const INFO: &[u8] = b"sotto key release v1";

/// One generation of keys, as its seed (the keys are derived from it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    pub key_id: u8,
    /// 32 bytes, hex.
    pub seed: String,
}

/// What the keeper releases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySet {
    pub epoch: u64,
    pub current: KeyEntry,
    /// Also accepted for decryption: the next keys while a rotation settles, the previous during
    /// the grace period.
    pub accepted: Vec<KeyEntry>,
}

/// A replica's request: its attestation over its one-time public key and the keeper's nonce.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseRequest {
    /// Hex.
    pub nonce: String,
    /// The attestation document (COSE), base64.
    pub document: String,
    /// X25519, base64.
    pub public_key: String,
}

/// The key set sealed to the replica's public key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseReply {
    pub enc: String,
    pub ciphertext: String,
}

pub(crate) type PrivateKey = <X25519HkdfSha256 as hpke::Kem>::PrivateKey;

/// A one-time key pair for one release.
pub(crate) fn key_pair() -> (PrivateKey, Vec<u8>) {
    let ikm: [u8; 32] = rand::random();
    let (sk, pk) = X25519HkdfSha256::derive_keypair(&ikm);
    (sk, pk.to_bytes().to_vec())
}

/// What the attestation binds: the public key's SHA-256.
pub(crate) fn binding(public_key: &[u8]) -> Vec<u8> {
    sotto_enclave_protocol::sha256(public_key).to_vec()
}

pub(crate) fn seal(public_key: &[u8], keys: &KeySet) -> Result<ReleaseReply, String> {
    let pk = <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(public_key).map_err(|_| "not an X25519 public key".to_string())?;
    let plaintext = serde_json::to_vec(keys).map_err(|e| e.to_string())?;
    let (enc, ciphertext) =
        hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(&OpModeS::Base, &pk, INFO, &plaintext, b"").map_err(|e| e.to_string())?;
    Ok(ReleaseReply { enc: B64.encode(enc.to_bytes()), ciphertext: B64.encode(ciphertext) })
}

pub(crate) fn open(sk: &PrivateKey, reply: &ReleaseReply) -> Result<KeySet, String> {
    let enc = B64.decode(&reply.enc).map_err(|_| "the sealed key set is not base64")?;
    let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(&enc).map_err(|_| "the sealed key set is damaged")?;
    let ciphertext = B64.decode(&reply.ciphertext).map_err(|_| "the sealed key set is not base64")?;
    let plaintext = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(&OpModeR::Base, sk, &enc, INFO, &ciphertext, b"")
        .map_err(|_| "the key set does not open with this replica's key".to_string())?;
    serde_json::from_slice(&plaintext).map_err(|e| format!("the key set is not readable ({e})"))
}

/// The seed's bytes.
pub(crate) fn seed_bytes(entry: &KeyEntry) -> Result<[u8; 32], String> {
    hex::decode(&entry.seed).ok().and_then(|v| <[u8; 32]>::try_from(v).ok()).ok_or_else(|| "a released key is not 32 bytes of hex".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_set_opens_only_with_the_replicas_own_key() {
        let keys = KeySet { epoch: 1, current: KeyEntry { key_id: 3, seed: "ab".repeat(32) }, accepted: vec![] };
        let (sk, pk) = key_pair();
        let sealed = seal(&pk, &keys).unwrap();
        assert_eq!(open(&sk, &sealed).unwrap(), keys);
        let (other, _) = key_pair();
        assert!(open(&other, &sealed).unwrap_err().contains("does not open"));
        let mut tampered = sealed.clone();
        let mut ct = B64.decode(&tampered.ciphertext).unwrap();
        ct[3] ^= 1;
        tampered.ciphertext = B64.encode(ct);
        assert!(open(&sk, &tampered).is_err());
    }
}
