//! Keys for replicas: several gateways behind one relay must decrypt any sealed request and
//! sign receipts with the key the client attested, whichever replica answered the attestation.
//! They share keys, and a replica gets them only by proving what it is — the pattern of AWS KMS
//! releasing a key to a Nitro enclave whose attestation meets the key policy:
//!
//! 1. the replica asks the **key keeper** for a fresh nonce (stateless: the keeper's MAC over
//!    the time, so nobody can use up the keeper's memory by asking);
//! 2. it makes an X25519 key pair and has its attester sign a document over
//!    `SHA-256("sotto-key-release\0" ‖ public key)` and the nonce;
//! 3. the keeper verifies the document (chain to a trusted root, the nonce, its age, the
//!    binding) and that its measurements equal the policy's (here: pinned from the first replica
//!    that joined, PCR0–2 all required; in production, the key policy's PCRs), then seals the
//!    key set to that public key with HPKE and signs the answer with its own Ed25519 key;
//! 4. the replica accepts keys only from the keeper whose public key it was started with — a
//!    key that is part of its measured configuration, so a client's attestation also says which
//!    keeper holds the keys — and only a newer epoch than it has. It asks again every [`POLL`],
//!    so a rotation reaches every replica within a poll.
//!
//! Rotation loses no request: the keeper first hands out the next keys as *accepted* (every
//! replica decrypts with them, none advertises them), then after [`SETTLE`] makes them current,
//! keeping the old ones accepted for [`GRACE`]; one rotation at a time, the next only after
//! the grace period. A replica that has not heard from its keeper for [`GRACE`] drops every key
//! but the current one (it cannot be told of a revocation it does not hear).

pub mod keeper;
pub mod member;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
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
const BINDING_LABEL: &[u8] = b"sotto-key-release\0";

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

/// The key set sealed to the replica's public key, signed by the keeper.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseReply {
    pub enc: String,
    pub ciphertext: String,
    /// Ed25519 by the keeper's key over [`signed_message`], base64.
    pub signature: String,
}

/// What the keeper signs: this release's nonce and the replica's key, and the sealed key set.
fn signed_message(nonce: &[u8], public_key: &[u8], enc: &[u8], ciphertext: &[u8]) -> Vec<u8> {
    let mut m = INFO.to_vec();
    for part in [nonce, public_key, enc, ciphertext] {
        m.extend_from_slice(&(part.len() as u64).to_be_bytes());
        m.extend_from_slice(part);
    }
    m
}

pub(crate) type PrivateKey = <X25519HkdfSha256 as hpke::Kem>::PrivateKey;

/// A one-time key pair for one release.
pub(crate) fn key_pair() -> (PrivateKey, Vec<u8>) {
    let ikm: [u8; 32] = rand::random();
    let (sk, pk) = X25519HkdfSha256::derive_keypair(&ikm);
    (sk, pk.to_bytes().to_vec())
}

/// What the attestation binds: the public key's SHA-256, under a label of its own (a document
/// made for key release can never pass for one made for a client, nor the reverse).
pub(crate) fn binding(public_key: &[u8]) -> Vec<u8> {
    sotto_enclave_protocol::sha256(&[BINDING_LABEL, public_key].concat()).to_vec()
}

/// The keeper's signing key as hex (what a replica is started with).
pub fn keeper_public_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().to_bytes())
}

/// A keeper public key given as hex.
pub fn parse_keeper_key(hex_key: &str) -> Result<VerifyingKey, String> {
    hex::decode(hex_key.trim())
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .ok_or_else(|| "the key keeper's public key is not 32 bytes of hex (an Ed25519 key)".into())
}

pub(crate) fn seal(signer: &SigningKey, nonce: &[u8], public_key: &[u8], keys: &KeySet) -> Result<ReleaseReply, String> {
    let pk = <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(public_key).map_err(|_| "not an X25519 public key".to_string())?;
    let plaintext = serde_json::to_vec(keys).map_err(|e| e.to_string())?;
    let (enc, ciphertext) =
        hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(&OpModeS::Base, &pk, INFO, &plaintext, b"").map_err(|e| e.to_string())?;
    let enc = enc.to_bytes();
    let signature = signer.sign(&signed_message(nonce, public_key, &enc, &ciphertext));
    Ok(ReleaseReply { enc: B64.encode(enc), ciphertext: B64.encode(ciphertext), signature: B64.encode(signature.to_bytes()) })
}

/// Opens a release made for this nonce and key pair, if the expected keeper signed it.
pub(crate) fn open(keeper: &VerifyingKey, nonce: &[u8], sk: &PrivateKey, public_key: &[u8], reply: &ReleaseReply) -> Result<KeySet, String> {
    let enc_bytes = B64.decode(&reply.enc).map_err(|_| "the sealed key set is not base64")?;
    let ciphertext = B64.decode(&reply.ciphertext).map_err(|_| "the sealed key set is not base64")?;
    let signature = B64
        .decode(&reply.signature)
        .ok()
        .and_then(|s| <[u8; 64]>::try_from(s).ok())
        .map(|s| Signature::from_bytes(&s))
        .ok_or("the key set carries no readable signature")?;
    keeper
        .verify_strict(&signed_message(nonce, public_key, &enc_bytes, &ciphertext), &signature)
        .map_err(|_| "the key set is not signed by this replica's key keeper")?;
    let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(&enc_bytes).map_err(|_| "the sealed key set is damaged")?;
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
    fn a_key_set_opens_only_with_the_replicas_own_key_and_only_from_its_keeper() {
        let keys = KeySet { epoch: 1, current: KeyEntry { key_id: 3, seed: "ab".repeat(32) }, accepted: vec![] };
        let keeper = SigningKey::from_bytes(&[5; 32]);
        let expected = parse_keeper_key(&keeper_public_hex(&keeper)).unwrap();
        let nonce = [1u8; 40];
        let (sk, pk) = key_pair();
        let sealed = seal(&keeper, &nonce, &pk, &keys).unwrap();
        assert_eq!(open(&expected, &nonce, &sk, &pk, &sealed).unwrap(), keys);
        let (other, other_pk) = key_pair();
        assert!(open(&expected, &nonce, &other, &pk, &sealed).unwrap_err().contains("does not open"));
        // Signed for another key pair or another nonce: refused before anything is opened.
        assert!(open(&expected, &nonce, &sk, &other_pk, &sealed).unwrap_err().contains("not signed"));
        assert!(open(&expected, &[2u8; 40], &sk, &pk, &sealed).unwrap_err().contains("not signed"));
        // Whoever else answers at the keeper's address, sealing keys of its choosing to the
        // replica's key: refused (it would otherwise read every prompt).
        let impostor = SigningKey::from_bytes(&[6; 32]);
        let forged = seal(&impostor, &nonce, &pk, &keys).unwrap();
        assert!(open(&expected, &nonce, &sk, &pk, &forged).unwrap_err().contains("not signed"));
        let mut tampered = sealed.clone();
        let mut ct = B64.decode(&tampered.ciphertext).unwrap();
        ct[3] ^= 1;
        tampered.ciphertext = B64.encode(ct);
        assert!(open(&expected, &nonce, &sk, &pk, &tampered).is_err());
        assert!(parse_keeper_key("abcd").is_err());
    }
}
