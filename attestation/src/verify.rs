use std::collections::BTreeMap;
use std::time::Duration;

use crate::chain::{certificate_sha256, verify_chain, verify_es384_with_leaf};
use crate::cose::Es384Envelope;
use crate::{AttestationDocument, AttestationError, MAX_DOCUMENT_LEN};

/// What a document must show to be accepted.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Trusted roots (DER). The chain must end at one of them.
    pub roots: Vec<Vec<u8>>,
    /// Each listed PCR must be reported with exactly this value.
    pub expected_pcrs: BTreeMap<u16, Vec<u8>>,
    /// The challenge the client sent, when it sent one.
    pub nonce: Option<Vec<u8>>,
    /// The `user_data` the enclave must have bound (e.g. hashes of the keys it offered).
    pub user_data: Option<Vec<u8>>,
    /// How old the document may be at `at`; `None` skips the age check (archived documents).
    pub max_age: Option<Duration>,
    /// The time of verification, since the Unix epoch (injectable for tests and archives).
    pub at: Duration,
}

/// A document that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedDocument {
    pub document: AttestationDocument,
    /// SHA-256 of the root that anchored the chain.
    pub root_sha256: String,
}

/// Clock skew tolerated for a document dated after `at`.
const FUTURE_SKEW: Duration = Duration::from_secs(5);

/// Verifies a COSE_Sign1 attestation document against `policy`.
///
/// Order matters for the reason reported: structure, algorithm, chain, signature, then the
/// claims (PCRs, nonce, age, binding). Nothing in the payload is trusted before the signature.
pub fn verify(cose: &[u8], policy: &Policy) -> Result<VerifiedDocument, AttestationError> {
    if cose.len() > MAX_DOCUMENT_LEN {
        return Err(AttestationError::Malformed(format!(
            "{} bytes is larger than any real document",
            cose.len()
        )));
    }
    let envelope = Es384Envelope::parse(cose)?;
    let document = AttestationDocument::from_cbor(envelope.payload())?;
    let intermediates = document.cabundle.get(1..).unwrap_or_default();
    let root_index = verify_chain(&document.certificate, intermediates, &policy.roots, policy.at)?;
    check_named_root(&document, &policy.roots[root_index])?;
    let (signed, signature) = envelope.signed_bytes();
    verify_es384_with_leaf(&document.certificate, &signed, signature)?;
    check_claims(&document, policy)?;
    Ok(VerifiedDocument {
        root_sha256: certificate_sha256(&policy.roots[root_index]),
        document,
    })
}

/// Nitro puts its root first in `cabundle`; a different certificate there (say, a look-alike
/// with the same name) means the document was re-packaged, even if the chain still builds.
fn check_named_root(doc: &AttestationDocument, root: &[u8]) -> Result<(), AttestationError> {
    match doc.cabundle.first() {
        Some(named) if named.as_slice() == root => Ok(()),
        Some(named) => Err(AttestationError::UntrustedChain(format!(
            "the document names a root with fingerprint {} that is not the trusted root {}",
            certificate_sha256(named),
            certificate_sha256(root)
        ))),
        None => Err(AttestationError::Malformed("`cabundle` is empty".into())),
    }
}

fn check_claims(doc: &AttestationDocument, policy: &Policy) -> Result<(), AttestationError> {
    for (index, expected) in &policy.expected_pcrs {
        let actual = doc.pcrs.get(index).ok_or(AttestationError::PcrMissing(*index))?;
        if actual != expected {
            return Err(AttestationError::PcrMismatch {
                index: *index,
                expected: hex::encode(expected),
                actual: hex::encode(actual),
            });
        }
    }
    if let Some(nonce) = &policy.nonce {
        if doc.nonce.as_ref() != Some(nonce) {
            return Err(AttestationError::NonceMismatch);
        }
    }
    if let Some(max_age) = policy.max_age {
        let issued = Duration::from_millis(doc.timestamp_ms);
        if issued > policy.at + FUTURE_SKEW {
            return Err(AttestationError::FromTheFuture {
                ahead_s: (issued - policy.at).as_secs(),
            });
        }
        let age = policy.at.saturating_sub(issued);
        if age > max_age {
            return Err(AttestationError::TooOld {
                age_s: age.as_secs(),
                max_s: max_age.as_secs(),
            });
        }
    }
    if let Some(user_data) = &policy.user_data {
        if doc.user_data.as_ref() != Some(user_data) {
            return Err(AttestationError::BindingMismatch);
        }
    }
    Ok(())
}
