//! OpenGradient's wire from both ends: a gateway opening a sealed request (and reading its JSON
//! canonically), a client reading a chunked response and a TEE's receipt fields.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sotto_enclave_protocol::opengradient::canonical::canonical_from_wire;
use sotto_enclave_protocol::opengradient::ohttp::{seal_request, GatewayKey, SealedRequest};
use sotto_enclave_protocol::opengradient::receipt::TeeReceipt;

fn gateway() -> &'static GatewayKey {
    static KEY: OnceLock<GatewayKey> = OnceLock::new();
    KEY.get_or_init(|| GatewayKey::generate(1))
}

thread_local! {
    // One sealed request serves every input (sealing costs a key agreement).
    static SEALED: Option<SealedRequest> = seal_request(&gateway().config, b"{}").ok();
}

fuzz_target!(|data: &[u8]| {
    let key = gateway();
    let _ = key.open_request(data);
    let _ = canonical_from_wire(data);
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = TeeReceipt::from_reply(&v);
    }
    SEALED.with(|sealed| {
        if let Some(sealed) = sealed {
            let mut reader = sealed.chunked_reader();
            let half = data.len() / 2;
            let _ = reader.push(&data[..half], false).and_then(|_| reader.push(&data[half..], true));
            let _ = sealed.open_single(data);
        }
    });
});
