use std::time::Duration;

use pki_types::{CertificateDer, UnixTime};
use sha2::{Digest, Sha256};
use webpki::{EndEntityCert, KeyUsage};

use crate::AttestationError;

/// The signature algorithms a Nitro chain uses (P-384; P-256 accepted for intermediates).
static CHAIN_ALGORITHMS: &[&dyn pki_types::SignatureVerificationAlgorithm] = &[
    webpki::ring::ECDSA_P384_SHA384,
    webpki::ring::ECDSA_P384_SHA256,
    webpki::ring::ECDSA_P256_SHA256,
    webpki::ring::ECDSA_P256_SHA384,
];

/// SHA-256 of a certificate's DER, upper-case hex (the form AWS publishes).
pub fn certificate_sha256(der: &[u8]) -> String {
    hex::encode_upper(Sha256::digest(der))
}

/// Every certificate in a PEM text, as DER.
pub fn pem_to_der(pem: &str) -> Result<Vec<Vec<u8>>, AttestationError> {
    use pki_types::pem::PemObject;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.map(|c| c.to_vec()))
        .collect();
    let certs = certs.map_err(|e| AttestationError::UntrustedChain(format!("a trust root is not PEM ({e:?})")))?;
    if certs.is_empty() {
        return Err(AttestationError::UntrustedChain("a trust root file holds no certificate".into()));
    }
    Ok(certs)
}

/// Verifies `leaf` through `intermediates` to one of `roots` at `at`, and returns the index of the
/// root that anchored it.
pub(crate) fn verify_chain(
    leaf: &[u8],
    intermediates: &[Vec<u8>],
    roots: &[Vec<u8>],
    at: Duration,
) -> Result<usize, AttestationError> {
    let leaf_der = CertificateDer::from(leaf);
    let ee = EndEntityCert::try_from(&leaf_der)
        .map_err(|e| AttestationError::Malformed(format!("the enclave certificate cannot be parsed ({e})")))?;
    let inter: Vec<CertificateDer<'_>> =
        intermediates.iter().map(|c| CertificateDer::from(c.as_slice())).collect();
    let mut last_error = None;
    for (index, root) in roots.iter().enumerate() {
        let root_der = CertificateDer::from(root.as_slice());
        let anchor = webpki::anchor_from_trusted_cert(&root_der)
            .map_err(|e| AttestationError::UntrustedChain(format!("a trust root cannot be parsed ({e})")))?;
        let anchors = [anchor];
        let result = ee.verify_for_usage(
            CHAIN_ALGORITHMS,
            &anchors,
            &inter,
            UnixTime::since_unix_epoch(at),
            // Nitro leaves carry no extended key usage; refuse one made for another purpose.
            KeyUsage::required_if_present(ID_KP_OCSP_SIGNING),
            None,
            None,
        );
        match result {
            Ok(_) => return Ok(index),
            Err(e) => last_error = Some(e),
        }
    }
    Err(match last_error {
        Some(webpki::Error::CertExpired { .. }) => {
            AttestationError::CertificateExpired("a certificate in the chain has expired".into())
        }
        Some(webpki::Error::CertNotValidYet { .. }) => {
            AttestationError::CertificateExpired("a certificate in the chain is not yet valid".into())
        }
        Some(e) => AttestationError::UntrustedChain(describe(&e)),
        None => AttestationError::UntrustedChain("no trust root is configured".into()),
    })
}

// An EKU OID no enclave certificate should carry (id-kp-OCSPSigning); with
// `required_if_present` a leaf without EKU passes and one with a different EKU is refused.
const ID_KP_OCSP_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x09];

fn describe(e: &webpki::Error) -> String {
    match e {
        webpki::Error::UnknownIssuer => {
            "it is issued by a root this profile does not trust".into()
        }
        webpki::Error::InvalidSignatureForPublicKey => {
            "a certificate's signature does not verify under the roots this profile trusts".into()
        }
        other => format!("{other:?}"),
    }
}

/// Verifies a raw r‖s ES384 signature over `message` with the leaf certificate's key.
pub(crate) fn verify_es384_with_leaf(
    leaf: &[u8],
    message: &[u8],
    raw_signature: &[u8],
) -> Result<(), AttestationError> {
    let signature = p384::ecdsa::Signature::from_slice(raw_signature)
        .map_err(|_| AttestationError::BadSignature)?;
    let der = signature.to_der();
    let leaf_der = CertificateDer::from(leaf);
    let ee = EndEntityCert::try_from(&leaf_der)
        .map_err(|e| AttestationError::Malformed(format!("the enclave certificate cannot be parsed ({e})")))?;
    ee.verify_signature(webpki::ring::ECDSA_P384_SHA384, message, der.as_bytes())
        .map_err(|_| AttestationError::BadSignature)
}

#[cfg(all(test, feature = "issuer"))]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, PKCS_ECDSA_P384_SHA384};

    /// A root and a leaf it signed, the leaf with the given extended key usages.
    fn chain(eku: Vec<ExtendedKeyUsagePurpose>) -> (Vec<u8>, Vec<u8>) {
        let root_key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).unwrap();
        let mut root = CertificateParams::new(Vec::<String>::new()).unwrap();
        root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let root_der = root.self_signed(&root_key).unwrap().der().to_vec();
        let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).unwrap();
        let mut leaf = CertificateParams::new(Vec::<String>::new()).unwrap();
        leaf.extended_key_usages = eku;
        let leaf_der = leaf.signed_by(&leaf_key, &Issuer::from_params(&root, &root_key)).unwrap().der().to_vec();
        (root_der, leaf_der)
    }

    fn now() -> Duration {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap()
    }

    #[test]
    fn a_leaf_without_extended_key_usage_is_accepted() {
        let (root, leaf) = chain(vec![]);
        assert_eq!(verify_chain(&leaf, &[], &[root], now()), Ok(0));
    }

    #[test]
    fn a_leaf_made_for_another_purpose_is_refused() {
        let (root, leaf) = chain(vec![ExtendedKeyUsagePurpose::ServerAuth]);
        assert!(matches!(verify_chain(&leaf, &[], &[root], now()), Err(AttestationError::UntrustedChain(_))));
    }
}
