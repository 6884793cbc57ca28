use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ProfileError;

/// One PCR value: 48 bytes (SHA-384) for Nitro enclaves.
pub type Pcr = Vec<u8>;

/// Expected measurements, indexed by PCR number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Measurements(pub BTreeMap<u16, Pcr>);

/// The file `nitro-cli build-enclave` prints and the development gateway writes:
/// `{"Measurements": {"HashAlgorithm": "Sha384 { ... }", "PCR0": "…", …}}`.
#[derive(Serialize, Deserialize)]
struct NitroCliFile {
    #[serde(rename = "Measurements")]
    measurements: BTreeMap<String, String>,
}

/// Parses a PCR given as hex, as on the command line (`--expect-pcr 0=ab…`) or in a profile.
pub fn parse_pcr_hex(hex_value: &str) -> Result<Pcr, String> {
    let bytes = hex::decode(hex_value.trim())
        .map_err(|e| format!("`{hex_value}` is not hexadecimal ({e})"))?;
    if bytes.len() != 48 && bytes.len() != 32 && bytes.len() != 64 {
        return Err(format!(
            "a PCR is 48 bytes (96 hex digits) for SHA-384, got {} bytes",
            bytes.len()
        ));
    }
    Ok(bytes)
}

impl Measurements {
    /// Reads a measurements file in the nitro-cli format.
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError::Measurements {
            path: path.to_owned(),
            problem: format!(
                "cannot be read ({e}); if this is the local profile, start the stack with `sotto stack up`"
            ),
        })?;
        Self::parse(&text).map_err(|problem| ProfileError::Measurements {
            path: path.to_owned(),
            problem,
        })
    }

    /// Parses the nitro-cli JSON format.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: NitroCliFile = serde_json::from_str(text)
            .map_err(|e| format!("not a nitro-cli measurements file: {e}"))?;
        let mut out = BTreeMap::new();
        for (key, value) in file.measurements {
            let Some(index) = key.strip_prefix("PCR") else {
                continue; // HashAlgorithm and any future informational keys
            };
            let index: u16 = index
                .parse()
                .map_err(|_| format!("`{key}` is not a PCR name"))?;
            out.insert(index, parse_pcr_hex(&value).map_err(|e| format!("{key}: {e}"))?);
        }
        if out.is_empty() {
            return Err("it lists no PCR values".into());
        }
        Ok(Self(out))
    }

    /// Writes the nitro-cli JSON format.
    pub fn to_json(&self) -> String {
        let mut map = BTreeMap::new();
        map.insert(
            "HashAlgorithm".to_string(),
            "Sha384 { ... }".to_string(),
        );
        for (index, value) in &self.0 {
            map.insert(format!("PCR{index}"), hex::encode(value));
        }
        let file = NitroCliFile { measurements: map };
        serde_json::to_string_pretty(&file).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_nitro_cli_format() {
        let mut m = BTreeMap::new();
        m.insert(0, vec![1u8; 48]);
        m.insert(2, vec![2u8; 48]);
        let m = Measurements(m);
        assert_eq!(Measurements::parse(&m.to_json()).unwrap(), m);
    }

    #[test]
    fn rejects_short_and_non_hex_values() {
        let short = r#"{"Measurements":{"PCR0":"abcd"}}"#;
        assert!(Measurements::parse(short).unwrap_err().contains("48 bytes"));
        let bad = r#"{"Measurements":{"PCR0":"zz"}}"#;
        assert!(Measurements::parse(bad).unwrap_err().contains("hexadecimal"));
        assert!(Measurements::parse("{}").is_err());
    }
}
