//! `sotto attest verify` on the real AWS Nitro documents.

use std::path::PathBuf;

use base64::Engine;

fn vectors() -> PathBuf {
    std::env::var_os("SOTTO_TEST_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/test-vectors"))
        .join("nitro")
}

fn sotto(args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    sotto_e2e::cli(home.path(), args)
}

fn doc(name: &str) -> String {
    vectors().join(name).to_string_lossy().into_owned()
}

const DOC17_AT: &str = "1722455771.686";

#[test]
fn a_real_document_verifies_at_its_own_time_with_the_shipped_aws_root() {
    let out = sotto(&["attest", "verify", &doc("doc-17.cbor"), "--at", DOC17_AT, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["valid"], true);
    assert_eq!(json["root_sha256"], "641A0321A3E244EFE456463195D606317ED7CDCC3C1756E09893F3C68F79BB5B");
    assert_eq!(json["nonce"], "0000000000000000000000000000000000000001");
}

#[test]
fn base64_documents_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let b64 = dir.path().join("doc.b64");
    let raw = std::fs::read(vectors().join("doc-17.cbor")).unwrap();
    std::fs::write(&b64, base64::engine::general_purpose::STANDARD.encode(raw)).unwrap();
    let out = sotto(&["attest", "verify", b64.to_str().unwrap(), "--at", DOC17_AT]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid attestation document"));
}

#[test]
fn failures_exit_3_with_the_reason() {
    let cases: [(&str, &[&str], &str); 5] = [
        ("N02_signature_byte_flipped.cbor", &[], "signature does not verify"),
        ("N06_protected_alg_es512.cbor", &[], "ES512"),
        ("N04_truncated_cbor.cbor", &[], "not well-formed"),
        ("doc-17.cbor", &["--pcr", "0=000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"], "PCR0 differs"),
        ("doc-17.cbor", &["--nonce", "ff"], "nonce mismatch"),
    ];
    for (file, extra, reason) in cases {
        let d = doc(file);
        let mut args = vec!["attest", "verify", &d, "--at", DOC17_AT];
        args.extend_from_slice(extra);
        let out = sotto(&args);
        assert_eq!(out.status.code(), Some(3), "{file}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(reason), "{file}: {err}");
    }
    // Today, every real document has expired.
    let out = sotto(&["attest", "verify", &doc("doc-17.cbor")]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid at the time checked"));
}
