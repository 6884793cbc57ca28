//! The real AWS Nitro documents in shared/test-vectors verify against the real AWS root at their
//! own timestamps, and every negative vector fails for the right reason.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use sotto_attestation::{pem_to_der, verify, AttestationError, Policy};

fn vectors_dir() -> PathBuf {
    std::env::var_os("SOTTO_TEST_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/test-vectors"))
        .join("nitro")
}

fn aws_root() -> Vec<Vec<u8>> {
    let pem = std::fs::read_to_string(vectors_dir().join("aws-nitro-root-g1.pem")).unwrap();
    pem_to_der(&pem).unwrap()
}

fn vectors() -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(vectors_dir().join("vectors.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["vectors"].as_array().unwrap().clone()
}

/// A hex field of vectors.json; long values are abbreviated there with a trailing "...", and
/// then only their prefix is known (checked by `prefix_matches`).
fn hex_field(v: &serde_json::Value, key: &str) -> Option<Vec<u8>> {
    let s = v.get(key)?.as_str()?;
    (!s.ends_with("...")).then(|| hex::decode(s).unwrap())
}

fn prefix_matches(v: &serde_json::Value, key: &str, actual: Option<&Vec<u8>>) -> bool {
    match v.get(key).and_then(|s| s.as_str()) {
        None => actual.is_none(),
        Some(s) => actual.is_some_and(|a| hex::encode(a).starts_with(s.trim_end_matches("..."))),
    }
}

/// The policy a careful client would use for this vector: its PCRs, nonce and user_data.
fn policy_for(v: &serde_json::Value) -> Policy {
    let mut pcrs = BTreeMap::new();
    for (i, key) in [(0u16, "PCR0"), (1, "PCR1"), (2, "PCR2"), (8, "PCR8")] {
        if let Some(value) = hex_field(v, key) {
            pcrs.insert(i, value);
        }
    }
    Policy {
        roots: aws_root(),
        expected_pcrs: pcrs,
        nonce: hex_field(v, "nonce"),
        user_data: hex_field(v, "user_data"),
        max_age: Some(Duration::from_secs(60)),
        at: Duration::from_millis(v["verify_at_unix_ms"].as_u64().unwrap()),
    }
}

fn doc(file: &str) -> Vec<u8> {
    std::fs::read(vectors_dir().join(file)).unwrap()
}

#[test]
fn the_shipped_root_is_the_published_aws_root() {
    let shipped = pem_to_der(sotto_relay_config_root()).unwrap();
    assert_eq!(shipped, aws_root());
    assert_eq!(
        sotto_attestation::certificate_sha256(&shipped[0]),
        "641A0321A3E244EFE456463195D606317ED7CDCC3C1756E09893F3C68F79BB5B"
    );
}

fn sotto_relay_config_root() -> &'static str {
    include_str!("../../relay-config/aws-nitro-root-g1.pem")
}

#[test]
fn every_valid_vector_verifies_and_every_invalid_one_fails() {
    let mut checked = 0;
    for v in vectors() {
        let file = v["file"].as_str().unwrap();
        let result = verify(&doc(file), &policy_for(&v));
        match v["expect"].as_str().unwrap() {
            "valid" => {
                let ok = result.unwrap_or_else(|e| panic!("{file} should verify: {e}"));
                assert_eq!(ok.document.module_id, v["module_id"].as_str().unwrap());
                assert!(prefix_matches(&v, "user_data", ok.document.user_data.as_ref()), "{file}");
                assert!(prefix_matches(&v, "nonce", ok.document.nonce.as_ref()), "{file}");
                assert_eq!(ok.root_sha256, "641A0321A3E244EFE456463195D606317ED7CDCC3C1756E09893F3C68F79BB5B");
            }
            _ => assert!(result.is_err(), "{file} must be refused"),
        }
        checked += 1;
    }
    assert!(checked >= 24, "only {checked} vectors found");
}

fn refuse(file: &str) -> AttestationError {
    let v = vectors().into_iter().find(|v| v["file"] == file).unwrap();
    verify(&doc(file), &policy_for(&v)).unwrap_err()
}

#[test]
fn negative_vectors_fail_for_the_right_reason() {
    assert_eq!(refuse("doc-09.cbor"), AttestationError::BadSignature);
    assert_eq!(refuse("doc-16.cbor"), AttestationError::BadSignature);
    assert_eq!(refuse("N01_payload_byte_flipped.cbor"), AttestationError::BadSignature);
    assert_eq!(refuse("N02_signature_byte_flipped.cbor"), AttestationError::BadSignature);
    let fake_root = refuse("N03_cabundle_fake_root_same_subject.cbor");
    assert!(
        matches!(&fake_root, AttestationError::UntrustedChain(m) if m.contains("not the trusted root")),
        "{fake_root}"
    );
    assert!(matches!(refuse("N04_truncated_cbor.cbor"), AttestationError::Malformed(_)));
    // PCR0 changed inside the signed payload: the signature catches it before the claims.
    assert_eq!(refuse("N05_pcr0_changed.cbor"), AttestationError::BadSignature);
    assert!(matches!(
        refuse("N06_protected_alg_es512.cbor"),
        AttestationError::UnsupportedAlgorithm(a) if a.contains("ES512")
    ));
}

fn doc17_policy() -> Policy {
    let v = vectors().into_iter().find(|v| v["file"] == "doc-17.cbor").unwrap();
    policy_for(&v)
}

#[test]
fn a_valid_document_is_refused_outside_its_certificates_lifetime() {
    let mut p = doc17_policy();
    p.max_age = None;
    p.at += Duration::from_secs(4 * 3600);
    assert!(matches!(verify(&doc("doc-17.cbor"), &p), Err(AttestationError::CertificateExpired(_))));
    let mut p = doc17_policy();
    p.max_age = None;
    p.at -= Duration::from_secs(3600);
    assert!(matches!(verify(&doc("doc-17.cbor"), &p), Err(AttestationError::CertificateExpired(_))));
}

#[test]
fn a_valid_document_is_refused_for_wrong_claims() {
    let mut p = doc17_policy();
    p.expected_pcrs.insert(0, vec![0xAA; 48]);
    assert!(matches!(verify(&doc("doc-17.cbor"), &p), Err(AttestationError::PcrMismatch { index: 0, .. })));

    let mut p = doc17_policy();
    p.expected_pcrs.insert(9, vec![0; 48]);
    p.expected_pcrs.insert(31, vec![0; 48]);
    assert!(matches!(verify(&doc("doc-17.cbor"), &p), Err(AttestationError::PcrMissing(31))));

    let mut p = doc17_policy();
    p.nonce = Some(b"another challenge".to_vec());
    assert_eq!(verify(&doc("doc-17.cbor"), &p).unwrap_err(), AttestationError::NonceMismatch);

    let mut p = doc17_policy();
    p.user_data = Some(vec![0; 64]);
    assert_eq!(verify(&doc("doc-17.cbor"), &p).unwrap_err(), AttestationError::BindingMismatch);

    let mut p = doc17_policy();
    p.at += Duration::from_secs(600);
    assert!(matches!(verify(&doc("doc-17.cbor"), &p), Err(AttestationError::TooOld { .. })));
}

#[test]
fn a_foreign_root_is_refused() {
    let mut p = doc17_policy();
    let other = include_str!("data/foreign-root.pem");
    p.roots = pem_to_der(other).unwrap();
    assert!(matches!(verify(&doc("doc-17.cbor"), &p), Err(AttestationError::UntrustedChain(_))));
}

#[test]
fn garbage_never_panics() {
    let p = doc17_policy();
    let real = doc("doc-17.cbor");
    for len in [0, 1, 5, 100, 1000, real.len() - 1] {
        assert!(verify(&real[..len], &p).is_err());
    }
    assert!(verify(&vec![0xff; 70_000], &p).is_err());
    for i in (0..real.len()).step_by(97) {
        let mut m = real.clone();
        m[i] ^= 0x80;
        let _ = verify(&m, &p); // must return, not panic
    }
}
