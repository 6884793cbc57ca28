//! A reply body as a relay delivers it: chunked OHTTP (RFC 9458 + the chunked draft), decrypted
//! and read by the client exactly as for a real request.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sotto_private_inference::fuzzing::chunked_reply(data));
