//! Names on the wire.

/// Chunked OHTTP request and response media types (draft-ietf-ohai-chunked-ohttp).
pub const CHUNKED_REQUEST: &str = "message/ohttp-chunked-req";
pub const CHUNKED_RESPONSE: &str = "message/ohttp-chunked-res";

/// The problem type a gateway returns when a request was sealed to a key it no longer holds
/// (RFC 9458 §5.3); the client re-attests and retries.
pub const PROBLEM_OHTTP_KEY: &str = "https://iana.org/assignments/http-problem-types#ohttp-key";
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The inner (Binary HTTP) trailer that carries the enclave's receipt.
pub const RECEIPT_TRAILER: &str = "sotto-receipt";
/// The inner trailer that carries an error the enclave met after the reply began.
pub const ERROR_TRAILER: &str = "sotto-error";

/// The authority the inner requests name (the enclave, not any real host).
pub const INNER_AUTHORITY: &str = "enclave.sotto";
