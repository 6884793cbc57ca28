//! The contract between Sotto's client (`private-inference`) and the enclave gateway.
//!
//! - [`bundle`]: what `GET /attestation?nonce=…` returns, and how `user_data` binds its keys.
//! - [`receipt`]: the signed statement closing every reply.
//! - [`bhttp_stream`]: writing a Binary HTTP response piece by piece, so each piece can be
//!   sealed into its own chunked-OHTTP chunk as soon as it exists.
//! - [`images`]: image generation's request and reply.
//! - [`media`]: media types, paths, trailer names.
//! - [`search`]: web search inside the enclave, and the sources its receipt covers.
//! - [`padding`]: every sealed chunk and request padded to size buckets (the relay sees sizes).
//! - [`opengradient`]: OpenGradient's wire (OHTTP with JSON inside, RSA-PSS receipts, registry ABI).

pub mod bhttp_stream;
pub mod bundle;
pub mod images;
pub mod media;
pub mod opengradient;
pub mod padding;
pub mod receipt;
pub mod search;
pub mod tool_calls;
pub mod varint;

pub use bundle::{binding_user_data, AttestationBundle, BundleError};
pub use receipt::{Receipt, ReceiptError, ReceiptSigner, OPENGRADIENT_SCHEME};

/// SHA-256, the hash used for request and output hashes.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}
