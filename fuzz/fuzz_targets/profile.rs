//! A profile (TOML) and a measurements file (nitro-cli JSON), as a user or a download gives them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_relay_config::{Measurements, Profile};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = Profile::parse_structure(text, std::path::Path::new("/nonexistent/fuzz.toml"));
    let _ = Measurements::parse(text);
});
