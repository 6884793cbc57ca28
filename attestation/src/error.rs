/// Why an attestation document was refused, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestationError {
    #[error("the attestation document is not well-formed: {0}")]
    Malformed(String),
    #[error("the attestation document is signed with {0}, but only ES384 is accepted")]
    UnsupportedAlgorithm(String),
    #[error("the enclave's certificate chain does not lead to a trusted root: {0}")]
    UntrustedChain(String),
    #[error("the enclave's certificate is not valid at the time checked ({0})")]
    CertificateExpired(String),
    #[error("the attestation document's signature does not verify: it was altered or not made by the enclave's key")]
    BadSignature,
    #[error("measurement PCR{index} differs from the expected value: expected {expected}, the enclave reports {actual}")]
    PcrMismatch {
        index: u16,
        expected: String,
        actual: String,
    },
    #[error("measurement PCR{0} is expected but the enclave does not report it")]
    PcrMissing(u16),
    #[error("the attestation answers a different challenge (nonce mismatch): it may be a replayed document")]
    NonceMismatch,
    #[error("the attestation document is {age_s} s old, more than the {max_s} s allowed")]
    TooOld { age_s: u64, max_s: u64 },
    #[error("the attestation document is dated {ahead_s} s in the future")]
    FromTheFuture { ahead_s: u64 },
    #[error("the enclave's attestation does not bind the keys it offered (user_data mismatch): another key may have been substituted")]
    BindingMismatch,
}
