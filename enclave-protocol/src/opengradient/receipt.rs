//! OpenGradient's receipt: `tee_signature` = RSA-PSS (SHA-256, MGF1-SHA-256, salt 32) over
//! keccak256(request hash ‖ output hash ‖ uint256 timestamp), where the request hash is
//! keccak256 of the canonical request and the output hash keccak256 of the signed output.
//! `tee_id` = keccak256 of the signing key's SubjectPublicKeyInfo DER.

use alloy_primitives::keccak256;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::pss::{BlindedSigningKey, Signature, VerifyingKey};
use rsa::signature::{RandomizedSigner, SignatureEncoding, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;

/// The receipt fields an OpenGradient reply carries (in the body or the final SSE event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeeReceipt {
    pub tee_id: String,
    /// keccak256 of the canonical request, hex without `0x`.
    pub request_hash: String,
    /// keccak256 of the signed output, hex without `0x`.
    pub output_hash: String,
    /// Unix seconds, as the enclave asserted.
    pub timestamp: u64,
    /// RSA-PSS signature, base64.
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TeeReceiptError {
    #[error("the reply carries no signature (`{0}` is missing), so it cannot be verified")]
    Missing(&'static str),
    #[error("the reply's `{0}` is not well-formed")]
    Malformed(&'static str),
    #[error("the registry's signing key is not an RSA public key")]
    BadKey,
    #[error("the reply names TEE {claimed}, but the key it must be signed with is TEE {expected}")]
    WrongTee { claimed: String, expected: String },
    #[error("the enclave signed a different request than the one sent")]
    RequestMismatch,
    #[error("the signed output differs from the reply received")]
    OutputMismatch,
    #[error("the RSA-PSS signature does not verify under the TEE's registered key")]
    BadSignature,
}

fn strip0x(s: &str) -> &str {
    s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s)
}

/// `0x` + keccak256 of a key's SPKI DER.
pub fn tee_id(spki_der: &[u8]) -> String {
    format!("0x{}", hex::encode(keccak256(spki_der)))
}

/// Compares two TEE ids, with or without `0x`, case-insensitively.
pub fn same_tee_id(a: &str, b: &str) -> bool {
    strip0x(a).eq_ignore_ascii_case(strip0x(b))
}

/// keccak256(request hash ‖ output hash ‖ uint256 timestamp).
fn message_hash(request_hash: &[u8; 32], output_hash: &[u8; 32], timestamp: u64) -> [u8; 32] {
    let mut m = Vec::with_capacity(96);
    m.extend_from_slice(request_hash);
    m.extend_from_slice(output_hash);
    m.extend_from_slice(&[0u8; 24]);
    m.extend_from_slice(&timestamp.to_be_bytes());
    keccak256(&m).0
}

fn hash32(hex_value: &str, name: &'static str) -> Result<[u8; 32], TeeReceiptError> {
    hex::decode(strip0x(hex_value))
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or(TeeReceiptError::Malformed(name))
}

impl TeeReceipt {
    /// Reads the `tee_*` fields of a reply body or final event.
    pub fn from_reply(body: &Value) -> Result<Self, TeeReceiptError> {
        let s = |k: &'static str| body.get(k).and_then(Value::as_str).map(String::from).ok_or(TeeReceiptError::Missing(k));
        let signature = s("tee_signature")?;
        let timestamp = match body.get("tee_timestamp") {
            Some(Value::Number(n)) => n.as_u64().ok_or(TeeReceiptError::Malformed("tee_timestamp"))?,
            Some(Value::String(t)) => t.trim().parse().map_err(|_| TeeReceiptError::Malformed("tee_timestamp"))?,
            Some(_) => return Err(TeeReceiptError::Malformed("tee_timestamp")),
            None => return Err(TeeReceiptError::Missing("tee_timestamp")),
        };
        Ok(Self {
            signature,
            request_hash: strip0x(&s("tee_request_hash")?).to_string(),
            output_hash: strip0x(&s("tee_output_hash")?).to_string(),
            timestamp,
            tee_id: s("tee_id")?,
        })
    }

    /// The `tee_*` fields to put on a reply.
    pub fn to_fields(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("tee_signature".into(), self.signature.clone().into());
        m.insert("tee_request_hash".into(), self.request_hash.clone().into());
        m.insert("tee_output_hash".into(), self.output_hash.clone().into());
        m.insert("tee_timestamp".into(), self.timestamp.into());
        m.insert("tee_id".into(), self.tee_id.clone().into());
        m
    }

    /// Checks the receipt as the SDK's `verify_response` does, in its order: the key keys the
    /// claimed TEE (and the expected one), the hashes are those of what was sent and received,
    /// and the signature verifies.
    pub fn verify(&self, signing_key_der: &[u8], expected_tee_id: &str, canonical_request: &[u8], output: &[u8]) -> Result<(), TeeReceiptError> {
        let key = RsaPublicKey::from_public_key_der(signing_key_der).map_err(|_| TeeReceiptError::BadKey)?;
        let der = key.to_public_key_der().map_err(|_| TeeReceiptError::BadKey)?;
        let key_tee = tee_id(der.as_bytes());
        if !same_tee_id(&self.tee_id, &key_tee) {
            return Err(TeeReceiptError::WrongTee { claimed: self.tee_id.clone(), expected: key_tee });
        }
        if !same_tee_id(&self.tee_id, expected_tee_id) {
            return Err(TeeReceiptError::WrongTee { claimed: self.tee_id.clone(), expected: expected_tee_id.to_string() });
        }
        let request_hash = keccak256(canonical_request).0;
        if request_hash != hash32(&self.request_hash, "tee_request_hash")? {
            return Err(TeeReceiptError::RequestMismatch);
        }
        let output_hash = keccak256(output).0;
        if output_hash != hash32(&self.output_hash, "tee_output_hash")? {
            return Err(TeeReceiptError::OutputMismatch);
        }
        let signature = B64
            .decode(self.signature.trim())
            .ok()
            .and_then(|s| Signature::try_from(s.as_slice()).ok())
            .ok_or(TeeReceiptError::Malformed("tee_signature"))?;
        VerifyingKey::<Sha256>::new(key)
            .verify(&message_hash(&request_hash, &output_hash, self.timestamp), &signature)
            .map_err(|_| TeeReceiptError::BadSignature)
    }
}

/// The enclave side: an RSA-2048 key born at start.
pub struct TeeSigner {
    key: BlindedSigningKey<Sha256>,
    spki_der: Vec<u8>,
}

impl TeeSigner {
    pub fn generate() -> Result<Self, rsa::Error> {
        let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)?;
        let spki_der = private
            .to_public_key()
            .to_public_key_der()
            .map_err(|_| rsa::Error::Internal)?
            .as_bytes()
            .to_vec();
        Ok(Self { key: BlindedSigningKey::new(private), spki_der })
    }

    /// The public key as the registry records it (SPKI DER).
    pub fn public_key_der(&self) -> &[u8] {
        &self.spki_der
    }

    pub fn tee_id(&self) -> String {
        tee_id(&self.spki_der)
    }

    /// Signs a reply: request and output given as the bytes the hashes cover.
    pub fn sign(&self, canonical_request: &[u8], output: &[u8], timestamp: u64) -> TeeReceipt {
        let request_hash = keccak256(canonical_request).0;
        let output_hash = keccak256(output).0;
        let signature = self.key.sign_with_rng(&mut rand::rngs::OsRng, &message_hash(&request_hash, &output_hash, timestamp));
        TeeReceipt {
            tee_id: self.tee_id(),
            request_hash: hex::encode(request_hash),
            output_hash: hex::encode(output_hash),
            timestamp,
            signature: B64.encode(signature.to_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn signer() -> &'static TeeSigner {
        static S: OnceLock<TeeSigner> = OnceLock::new();
        S.get_or_init(|| TeeSigner::generate().unwrap())
    }

    #[test]
    fn a_receipt_verifies_and_every_change_is_caught() {
        let s = signer();
        let r = s.sign(b"req", b"out", 1_700_000_000);
        let key = s.public_key_der();
        r.verify(key, &s.tee_id(), b"req", b"out").unwrap();
        // Without 0x, as the SDK's registry path sends it.
        r.verify(key, s.tee_id().trim_start_matches("0x"), b"req", b"out").unwrap();
        assert_eq!(r.verify(key, &s.tee_id(), b"req!", b"out"), Err(TeeReceiptError::RequestMismatch));
        assert_eq!(r.verify(key, &s.tee_id(), b"req", b"out!"), Err(TeeReceiptError::OutputMismatch));
        let mut later = r.clone();
        later.timestamp += 1;
        assert_eq!(later.verify(key, &s.tee_id(), b"req", b"out"), Err(TeeReceiptError::BadSignature));
        let other = tee_id(b"another key");
        assert!(matches!(r.verify(key, &other, b"req", b"out"), Err(TeeReceiptError::WrongTee { .. })));
        let mut renamed = r.clone();
        renamed.tee_id = other;
        assert!(matches!(renamed.verify(key, &s.tee_id(), b"req", b"out"), Err(TeeReceiptError::WrongTee { .. })));
        assert_eq!(r.verify(b"not a key", &s.tee_id(), b"req", b"out"), Err(TeeReceiptError::BadKey));
    }

    #[test]
    fn fields_round_trip_through_a_reply() {
        let r = signer().sign(b"a", b"b", 5);
        let body = Value::Object(r.to_fields());
        assert_eq!(TeeReceipt::from_reply(&body).unwrap(), r);
        assert_eq!(TeeReceipt::from_reply(&serde_json::json!({})), Err(TeeReceiptError::Missing("tee_signature")));
    }
}
