//! OpenGradient's registry answer: `getActiveTEEs` ABI data, decoded strictly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_enclave_protocol::opengradient::registry::decode_active_tees;

fuzz_target!(|data: &[u8]| {
    let _ = decode_active_tees(data);
});
