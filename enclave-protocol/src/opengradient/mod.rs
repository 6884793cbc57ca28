//! OpenGradient's network, as its own clients (the `opengradient` SDK, OpenGradient Chat) and
//! its enclaves (`tee-gateway`) speak it. Shared by Sotto's client wire and by the gateway's
//! OpenGradient flavour, so both sides use one definition of every byte.
//!
//! - [`ohttp`]: RFC 9458 requests (JSON inside, not Binary HTTP), single-shot or chunked replies.
//! - [`canonical`]: the request and output the enclave signs, built the Python way ([`pyjson`]).
//! - [`receipt`]: RSA-PSS over keccak256 hashes; `tee_id`.
//! - [`registry`]: the TEE registry's `getActiveTEEs` ABI.

pub mod canonical;
pub mod ohttp;
pub mod pyjson;
pub mod receipt;
pub mod registry;

/// Where a relay takes sealed requests (`{relay}/api/v1/chat/ohttp`).
pub const RELAY_CHAT_PATH: &str = "/api/v1/chat/ohttp";
/// Where Sotto asks a relay for a TEE's attestation document (`X-TEE-ID` names the TEE).
pub const RELAY_ATTESTATION_PATH: &str = "/api/v1/tee/attestation";
pub const REQUEST_MEDIA: &str = "message/ohttp-req";
pub const RESPONSE_MEDIA: &str = "message/ohttp-res";
pub const CHUNKED_RESPONSE_MEDIA: &str = "message/ohttp-chunked-res";
pub const TEE_ID_HEADER: &str = "x-tee-id";
pub const STREAM_HEADER: &str = "x-ohttp-stream";
/// `tee_type` of LLM proxies in the registry.
pub const TEE_TYPE_LLM_PROXY: u8 = 0;

/// What an OpenGradient TEE's attestation document binds in `user_data`: multihash SHA-256
/// (0x12 0x20 ‖ digest) of its TLS certificate, then of its signing key's DER (nitriding's layout).
pub fn attestation_binding(tls_certificate: &[u8], signing_key_der: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(68);
    for part in [tls_certificate, signing_key_der] {
        out.extend_from_slice(&[0x12, 0x20]);
        out.extend_from_slice(&crate::sha256(part));
    }
    out
}
