//! The development enclave's measurements, computed as nitro-cli does for an image: PCR0 over
//! the gateway binary, PCR1 over its configuration, PCR2 over the model (or script) it serves.

use std::collections::BTreeMap;
use std::path::Path;

use sotto_attestation::{measure, measure_file, PCR_LEN};

/// The PCRs a document reports: 0–2 measured, the rest zero as on an enclave without them.
/// `artifact` is PCR2 as the back-end measured it at load.
pub fn compute(binary: &Path, config: &[u8], artifact: [u8; PCR_LEN]) -> std::io::Result<BTreeMap<u16, Vec<u8>>> {
    let mut pcrs: BTreeMap<u16, Vec<u8>> = (0..16).map(|i| (i, vec![0u8; PCR_LEN])).collect();
    pcrs.insert(0, measure_file(binary)?.to_vec());
    pcrs.insert(1, measure(config).to_vec());
    pcrs.insert(2, artifact.to_vec());
    Ok(pcrs)
}

/// The subset written to `measurements.json` (what a profile expects).
pub fn published(pcrs: &BTreeMap<u16, Vec<u8>>) -> sotto_relay_config::Measurements {
    sotto_relay_config::Measurements(pcrs.iter().filter(|(i, _)| **i <= 2).map(|(i, v)| (*i, v.clone())).collect())
}
