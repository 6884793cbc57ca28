//! Receipts: the enclave's signed statement that *this* output answered *this* request.
//!
//! The signed message is a fixed binary layout (no JSON canonicalisation questions):
//! `"sotto-receipt-v2\0" ‖ status u16 ‖ request_hash[32] ‖ output_hash[32] ‖ timestamp_ms u64 ‖
//! chunks u64 ‖ key_id[8] ‖ len(model) u16 ‖ model`, integers big-endian. `status` is the HTTP
//! status of the reply the enclave sent, so a stored error reply can never pass for an answer.
//! Version 1 (without the status) is no longer accepted.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::sha256;

const DOMAIN: &[u8] = b"sotto-receipt-v2\0";
/// The receipt version this code signs and checks.
pub const RECEIPT_VERSION: u32 = 2;

/// A receipt as it travels in the `sotto-receipt` trailer (JSON).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Receipt {
    pub version: u32,
    pub model: String,
    /// The HTTP status of the reply (signed from version 2 on).
    #[serde(default)]
    pub status: u16,
    /// SHA-256 of the Binary HTTP request the enclave decrypted, hex.
    pub request_hash: String,
    /// SHA-256 of the response content the enclave sent, hex.
    pub output_hash: String,
    pub timestamp_ms: u64,
    /// How many content pieces the reply was streamed in.
    pub chunks: u64,
    /// First 8 bytes of SHA-256 of the signing key, hex.
    pub key_id: String,
    /// Ed25519 signature, base64 (RSA-PSS for the OpenGradient scheme).
    pub signature: String,
    /// Empty for Sotto's Ed25519 receipt; [`OPENGRADIENT_SCHEME`] for an OpenGradient TEE's
    /// RSA-PSS signature over keccak256 hashes (`key_id` is then the TEE id, the hashes are
    /// keccak256, and the time was given in seconds).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scheme: String,
}

/// The `scheme` of receipts signed by OpenGradient's TEEs.
pub const OPENGRADIENT_SCHEME: &str = "opengradient-rsa-pss-keccak256";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("the enclave's receipt is missing")]
    Missing,
    #[error("the enclave's receipt is not well-formed: {0}")]
    Malformed(String),
    #[error("the receipt was signed by key {found}, not by the attested enclave key {expected}")]
    WrongKey { expected: String, found: String },
    #[error("the receipt's signature does not verify")]
    BadSignature,
    #[error("the receipt is for a different request than the one sent")]
    RequestMismatch,
    #[error("the receipt covers a different reply than the one received")]
    OutputMismatch,
    #[error("the receipt is for a reply with HTTP status {signed}, but the reply received has status {received}")]
    StatusMismatch { signed: u16, received: u16 },
    #[error("the receipt is of version {0}, which this version of Sotto does not accept (it expects {RECEIPT_VERSION})")]
    Version(u32),
}

/// The key id of a receipt-signing public key.
pub fn key_id(public_key: &[u8]) -> String {
    hex::encode(&sha256(public_key)[..8])
}

/// The enclave side: a key generated at start.
pub struct ReceiptSigner {
    key: SigningKey,
}

impl ReceiptSigner {
    pub fn generate() -> Self {
        Self {
            key: SigningKey::generate(&mut rand::rngs::OsRng),
        }
    }

    /// The signer whose key is this seed (replicas that were released the same keys sign alike).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self { key: SigningKey::from_bytes(seed) }
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Signs for a request and an output given by their SHA-256 (the enclave hashes a reply as
    /// it streams, so it never holds the whole of it), and the reply's HTTP status.
    pub fn sign(&self, model: &str, status: u16, request_hash: [u8; 32], output_hash: [u8; 32], chunks: u64, timestamp_ms: u64) -> Result<Receipt, ReceiptError> {
        let mut receipt = Receipt {
            version: RECEIPT_VERSION,
            model: model.to_string(),
            status,
            request_hash: hex::encode(request_hash),
            output_hash: hex::encode(output_hash),
            timestamp_ms,
            chunks,
            key_id: key_id(&self.public_key()),
            signature: String::new(),
            scheme: String::new(),
        };
        let message = receipt.signed_message()?;
        receipt.signature = B64.encode(self.key.sign(&message).to_bytes());
        Ok(receipt)
    }
}

fn hash32(hex_value: &str, name: &str) -> Result<[u8; 32], ReceiptError> {
    hex::decode(hex_value)
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or_else(|| ReceiptError::Malformed(format!("`{name}` is not a 32-byte hex hash")))
}

impl Receipt {
    pub fn from_json(bytes: &[u8]) -> Result<Self, ReceiptError> {
        serde_json::from_slice(bytes).map_err(|e| ReceiptError::Malformed(e.to_string()))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    fn signed_message(&self) -> Result<Vec<u8>, ReceiptError> {
        let key_id = hex::decode(&self.key_id)
            .ok()
            .filter(|k| k.len() == 8)
            .ok_or_else(|| ReceiptError::Malformed("`key_id` is not 8 hex bytes".into()))?;
        let model_len = u16::try_from(self.model.len())
            .map_err(|_| ReceiptError::Malformed("`model` is too long".into()))?;
        let mut m = Vec::with_capacity(128 + self.model.len());
        m.extend_from_slice(DOMAIN);
        m.extend_from_slice(&self.status.to_be_bytes());
        m.extend_from_slice(&hash32(&self.request_hash, "request_hash")?);
        m.extend_from_slice(&hash32(&self.output_hash, "output_hash")?);
        m.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        m.extend_from_slice(&self.chunks.to_be_bytes());
        m.extend_from_slice(&key_id);
        m.extend_from_slice(&model_len.to_be_bytes());
        m.extend_from_slice(self.model.as_bytes());
        Ok(m)
    }

    /// Checks the signature with the attested key and that the receipt covers exactly the
    /// request sent and the reply received (its status and its content).
    pub fn verify(&self, public_key: &[u8], request: &[u8], status: u16, output: &[u8]) -> Result<(), ReceiptError> {
        self.verify_digests(public_key, &sha256(request), status, &sha256(output))
    }

    /// As [`Receipt::verify`], given the SHA-256 of the request and of the reply's content (a
    /// proof without the conversation's text carries only these).
    pub fn verify_digests(&self, public_key: &[u8], request_sha256: &[u8; 32], status: u16, output_sha256: &[u8; 32]) -> Result<(), ReceiptError> {
        if self.version != RECEIPT_VERSION {
            return Err(ReceiptError::Version(self.version));
        }
        let expected = key_id(public_key);
        if self.key_id != expected {
            return Err(ReceiptError::WrongKey {
                expected,
                found: self.key_id.clone(),
            });
        }
        let key = <[u8; 32]>::try_from(public_key)
            .ok()
            .and_then(|k| VerifyingKey::from_bytes(&k).ok())
            .ok_or_else(|| ReceiptError::Malformed("the attested receipt key is not Ed25519".into()))?;
        let signature = B64
            .decode(&self.signature)
            .ok()
            .and_then(|s| Signature::from_slice(&s).ok())
            .ok_or_else(|| ReceiptError::Malformed("`signature` is not a base64 Ed25519 signature".into()))?;
        // Strict: no malleable or small-order-key signatures.
        key.verify_strict(&self.signed_message()?, &signature)
            .map_err(|_| ReceiptError::BadSignature)?;
        if self.status != status {
            return Err(ReceiptError::StatusMismatch { signed: self.status, received: status });
        }
        if &hash32(&self.request_hash, "request_hash")? != request_sha256 {
            return Err(ReceiptError::RequestMismatch);
        }
        if &hash32(&self.output_hash, "output_hash")? != output_sha256 {
            return Err(ReceiptError::OutputMismatch);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed() -> (ReceiptSigner, Receipt) {
        let s = ReceiptSigner::generate();
        let r = s.sign("m", 200, sha256(b"request"), sha256(b"output"), 3, 1_700_000_000_000).unwrap();
        (s, r)
    }

    #[test]
    fn a_receipt_verifies_for_its_request_and_output() {
        let (s, r) = signed();
        let back = Receipt::from_json(r.to_json().as_bytes()).unwrap();
        back.verify(&s.public_key(), b"request", 200, b"output").unwrap();
    }

    #[test]
    fn any_change_is_detected() {
        let (s, r) = signed();
        let pk = s.public_key();
        assert_eq!(r.verify(&pk, b"request", 200, b"outpuT"), Err(ReceiptError::OutputMismatch));
        assert_eq!(r.verify(&pk, b"requesT", 200, b"output"), Err(ReceiptError::RequestMismatch));
        let mut t = r.clone();
        t.timestamp_ms += 1;
        assert_eq!(t.verify(&pk, b"request", 200, b"output"), Err(ReceiptError::BadSignature));
        let mut t = r.clone();
        t.chunks = 2;
        assert_eq!(t.verify(&pk, b"request", 200, b"output"), Err(ReceiptError::BadSignature));
        let mut t = r.clone();
        t.model = "other".into();
        assert_eq!(t.verify(&pk, b"request", 200, b"output"), Err(ReceiptError::BadSignature));
        let other = ReceiptSigner::generate();
        assert!(matches!(r.verify(&other.public_key(), b"request", 200, b"output"), Err(ReceiptError::WrongKey { .. })));
        let mut t = r.clone();
        t.signature = "!!".into();
        assert!(matches!(t.verify(&pk, b"request", 200, b"output"), Err(ReceiptError::Malformed(_))));
        assert!(Receipt::from_json(b"{}").is_err());
    }

    #[test]
    fn the_reply_status_is_signed() {
        let (s, r) = signed();
        let pk = s.public_key();
        // An error reply cannot be passed off under an answer's receipt, nor the other way round.
        assert_eq!(r.verify(&pk, b"request", 502, b"output"), Err(ReceiptError::StatusMismatch { signed: 200, received: 502 }));
        let mut t = r.clone();
        t.status = 502;
        assert_eq!(t.verify(&pk, b"request", 502, b"output"), Err(ReceiptError::BadSignature));
        let mut t = r.clone();
        t.version = 1;
        assert_eq!(t.verify(&pk, b"request", 200, b"output"), Err(ReceiptError::Version(1)));
    }

    #[test]
    fn the_signed_layout_is_pinned() {
        // A fixed key and receipt, so an independent verifier can check its encoding against this.
        let s = ReceiptSigner { key: SigningKey::from_bytes(&[7; 32]) };
        let r = s.sign("m", 200, [1; 32], [2; 32], 3, 4).unwrap();
        let message = r.signed_message().unwrap();
        let expected = [
            b"sotto-receipt-v2\0".as_slice(),
            &200u16.to_be_bytes(),
            &[1; 32],
            &[2; 32],
            &4u64.to_be_bytes(),
            &3u64.to_be_bytes(),
            &hex::decode(&r.key_id).unwrap(),
            &1u16.to_be_bytes(),
            b"m",
        ]
        .concat();
        assert_eq!(message, expected);
        assert_eq!(r.key_id, key_id(&s.public_key()));
        r.verify(&s.public_key(), &[], 200, &[]).unwrap_err();
    }

    #[test]
    fn a_model_name_too_long_to_sign_is_an_error_not_an_unsigned_receipt() {
        let s = ReceiptSigner::generate();
        let long = "m".repeat(70_000);
        assert!(matches!(s.sign(&long, 200, [0; 32], [0; 32], 1, 1), Err(ReceiptError::Malformed(_))));
    }
}
