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
