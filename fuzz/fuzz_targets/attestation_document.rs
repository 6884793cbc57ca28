//! A Nitro attestation document (COSE_Sign1 over CBOR, an X.509 chain inside): parsed and
//! verified against the AWS Nitro root, as a client does with what an enclave sends. Checked at
//! the document's own time (its leaf certificate lives three hours), so inputs near the real
//! vectors get past the chain's validity into the signature and the claims.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sotto_attestation::{verify, AttestationDocument, Policy};

fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let pem = include_str!("../../../shared/test-vectors/nitro/aws-nitro-root-g1.pem");
        let roots = sotto_attestation::pem_to_der(pem).expect("the pinned root");
        Policy { roots, expected_pcrs: Default::default(), nonce: None, user_data: None, max_age: None, at: std::time::Duration::from_secs(1_700_000_000) }
    })
}

/// The `timestamp` the payload claims (CBOR: the text "timestamp", then a 64-bit integer),
/// found by scanning — the harness must not depend on the parser it tests.
fn claimed_time(data: &[u8]) -> Option<std::time::Duration> {
    const KEY: &[u8] = b"\x69timestamp\x1b";
    let at = data.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let ms = u64::from_be_bytes(data.get(at..at + 8)?.try_into().ok()?);
    Some(std::time::Duration::from_millis(ms.saturating_add(1000)))
}

fuzz_target!(|data: &[u8]| {
    match claimed_time(data) {
        Some(at) => {
            let _ = verify(data, &Policy { at, ..policy().clone() });
        }
        None => {
            let _ = verify(data, policy());
        }
    }
    let _ = AttestationDocument::from_cbor(data);
});
