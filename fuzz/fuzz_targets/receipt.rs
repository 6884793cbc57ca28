//! A receipt (the `sotto-receipt` trailer's JSON) checked against a key, and the sources a
//! reply object may carry.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_enclave_protocol::{search, Receipt};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Receipt::from_json(data) {
        let _ = r.verify(&[7u8; 32], b"request", 200, data);
        let _ = r.verify_digests(&[7u8; 32], &[0; 32], 200, &[0; 32]);
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = search::citations_in(&v);
    }
});
