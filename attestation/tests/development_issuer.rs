//! Documents from the development issuer verify with the same verifier as real hardware, and
//! only against their own root.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sotto_attestation::issuer::DevelopmentIssuer;
use sotto_attestation::{measure, verify, AttestationDocument, AttestationError, Policy};

fn document(now: SystemTime, nonce: &[u8], user_data: &[u8]) -> AttestationDocument {
    let mut pcrs = BTreeMap::new();
    for i in 0..16u16 {
        pcrs.insert(i, vec![0u8; 48]);
    }
    pcrs.insert(0, measure(b"binary").to_vec());
    AttestationDocument {
        module_id: "dev-enclave".into(),
        digest: "SHA384".into(),
        timestamp_ms: now.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64,
        pcrs,
        certificate: vec![],
        cabundle: vec![],
        public_key: None,
        user_data: Some(user_data.to_vec()),
        nonce: Some(nonce.to_vec()),
    }
}

fn policy(issuer: &DevelopmentIssuer, now: SystemTime) -> Policy {
    let mut expected = BTreeMap::new();
    expected.insert(0, measure(b"binary").to_vec());
    Policy {
        roots: vec![issuer.root_der().to_vec()],
        expected_pcrs: expected,
        nonce: Some(b"n1".to_vec()),
        user_data: Some(b"keys".to_vec()),
        max_age: Some(Duration::from_secs(60)),
        at: now.duration_since(UNIX_EPOCH).unwrap(),
    }
}

#[test]
fn issued_documents_verify_against_their_root_only() {
    let now = SystemTime::now();
    let issuer = DevelopmentIssuer::generate(now).unwrap();
    let cose = issuer.issue(document(now, b"n1", b"keys"), now).unwrap();
    let ok = verify(&cose, &policy(&issuer, now)).unwrap();
    assert_eq!(ok.document.module_id, "dev-enclave");

    let other = DevelopmentIssuer::generate(now).unwrap();
    let mut p = policy(&issuer, now);
    p.roots = vec![other.root_der().to_vec()];
    assert!(matches!(verify(&cose, &p), Err(AttestationError::UntrustedChain(_))));
}

#[test]
fn issued_documents_are_refused_for_wrong_binding_nonce_age_and_date() {
    let now = SystemTime::now();
    let issuer = DevelopmentIssuer::generate(now).unwrap();

    let cose = issuer.issue(document(now, b"n1", b"other keys"), now).unwrap();
    assert_eq!(verify(&cose, &policy(&issuer, now)).unwrap_err(), AttestationError::BindingMismatch);

    let cose = issuer.issue(document(now, b"n0", b"keys"), now).unwrap();
    assert_eq!(verify(&cose, &policy(&issuer, now)).unwrap_err(), AttestationError::NonceMismatch);

    let old = now - Duration::from_secs(300);
    let cose = issuer.issue(document(old, b"n1", b"keys"), now).unwrap();
    assert!(matches!(verify(&cose, &policy(&issuer, now)), Err(AttestationError::TooOld { .. })));

    let future = now + Duration::from_secs(300);
    let cose = issuer.issue(document(future, b"n1", b"keys"), now).unwrap();
    assert!(matches!(verify(&cose, &policy(&issuer, now)), Err(AttestationError::FromTheFuture { .. })));

    let later = now + Duration::from_secs(4 * 3600);
    let cose = issuer.issue(document(now, b"n1", b"keys"), now).unwrap();
    let mut p = policy(&issuer, later);
    p.max_age = None;
    assert!(matches!(verify(&cose, &p), Err(AttestationError::CertificateExpired(_))));
}

#[test]
fn a_tampered_issued_document_is_refused() {
    let now = SystemTime::now();
    let issuer = DevelopmentIssuer::generate(now).unwrap();
    let cose = issuer.issue(document(now, b"n1", b"keys"), now).unwrap();
    let mut flipped = cose.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert_eq!(verify(&flipped, &policy(&issuer, now)).unwrap_err(), AttestationError::BadSignature);
}
