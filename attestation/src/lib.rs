//! Attestation documents in the AWS Nitro Enclaves format.
//!
//! A document is a COSE_Sign1 (ES384) over a CBOR map that names the enclave image's
//! measurements (PCRs), a certificate chain to the hardware vendor's root, and the data the
//! enclave chose to bind (`user_data`, `nonce`, `public_key`). [`verify`] checks all of it at an
//! injected time; [`issuer`] (feature `issuer`) makes such documents for the development enclave.

mod chain;
mod cose;
mod document;
mod error;
#[cfg(feature = "issuer")]
pub mod issuer;
mod pcr;
mod verify;

pub use chain::{certificate_sha256, pem_to_der};
pub use document::AttestationDocument;
pub use error::AttestationError;
pub use pcr::{extend_pcr, measure, measure_file, PCR_LEN};
pub use verify::{verify, Policy, VerifiedDocument};

/// The largest document accepted; real ones are about 4.5 KiB.
pub const MAX_DOCUMENT_LEN: usize = 64 * 1024;
