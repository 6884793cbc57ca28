//! Who vouches for this enclave. Both attesters return a Nitro-format COSE_Sign1 document.

mod development;
#[cfg(feature = "nsm")]
mod nsm;

pub use development::DevelopmentAttester;
#[cfg(feature = "nsm")]
pub use nsm::NsmAttester;

#[derive(Debug, thiserror::Error)]
#[error("attestation failed: {0}")]
pub struct AttestError(pub String);

/// Produces an attestation document binding `user_data` and answering `nonce`.
pub trait Attester: Send + Sync {
    /// `aws-nitro` or `development`, as the bundle's `format` says.
    fn format(&self) -> &'static str;
    fn attest(&self, user_data: &[u8], nonce: &[u8]) -> Result<Vec<u8>, AttestError>;
}
