//! A Nitro attestation document (COSE_Sign1 over CBOR, an X.509 chain inside): parsed and
//! verified against the AWS Nitro root, as a client does with what an enclave sends.
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

fuzz_target!(|data: &[u8]| {
    let _ = verify(data, policy());
    let _ = AttestationDocument::from_cbor(data);
});
