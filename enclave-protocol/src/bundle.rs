//! The attestation bundle: a Nitro-format document plus the two keys it binds.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::sha256;

/// What `GET /attestation?nonce=HEX` returns (JSON).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AttestationBundle {
    /// `aws-nitro` for hardware, `development` for the local development enclave.
    pub format: String,
    /// The COSE_Sign1 attestation document, base64.
    pub document: String,
    /// The OHTTP key configuration (RFC 9458 §3), base64.
    pub ohttp_key_config: String,
    /// The Ed25519 public key that signs receipts, base64.
    pub receipt_public_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("the attestation bundle is not valid JSON: {0}")]
    Json(String),
    #[error("the attestation bundle's `{0}` is not base64")]
    Base64(&'static str),
}

/// The decoded parts of a bundle.
pub struct BundleParts {
    pub document: Vec<u8>,
    pub ohttp_key_config: Vec<u8>,
    pub receipt_public_key: Vec<u8>,
}

impl AttestationBundle {
    pub fn new(format: &str, document: &[u8], key_config: &[u8], receipt_key: &[u8]) -> Self {
        Self {
            format: format.into(),
            document: B64.encode(document),
            ohttp_key_config: B64.encode(key_config),
            receipt_public_key: B64.encode(receipt_key),
        }
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, BundleError> {
        serde_json::from_slice(bytes).map_err(|e| BundleError::Json(e.to_string()))
    }

    pub fn decode(&self) -> Result<BundleParts, BundleError> {
        let d = |s: &str, name| B64.decode(s).map_err(|_| BundleError::Base64(name));
        Ok(BundleParts {
            document: d(&self.document, "document")?,
            ohttp_key_config: d(&self.ohttp_key_config, "ohttp_key_config")?,
            receipt_public_key: d(&self.receipt_public_key, "receipt_public_key")?,
        })
    }
}

/// The `user_data` an enclave puts in its document to bind the keys it offers:
/// `SHA-256(OHTTP key config) ‖ SHA-256(receipt public key)`.
pub fn binding_user_data(key_config: &[u8], receipt_public_key: &[u8]) -> Vec<u8> {
    let mut out = sha256(key_config).to_vec();
    out.extend_from_slice(&sha256(receipt_public_key));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_changes_with_either_key() {
        let a = binding_user_data(b"config", b"key");
        assert_eq!(a.len(), 64);
        assert_ne!(a, binding_user_data(b"config2", b"key"));
        assert_ne!(a, binding_user_data(b"config", b"key2"));
    }

    #[test]
    fn bundles_round_trip_and_reject_bad_base64() {
        let b = AttestationBundle::new("development", b"doc", b"cfg", b"pk");
        let json = serde_json::to_vec(&b).unwrap();
        let back = AttestationBundle::from_json(&json).unwrap();
        assert_eq!(back.decode().unwrap().ohttp_key_config, b"cfg");
        let mut bad = back.clone();
        bad.document = "***".into();
        assert!(matches!(bad.decode(), Err(BundleError::Base64("document"))));
        assert!(AttestationBundle::from_json(b"{").is_err());
    }
}
