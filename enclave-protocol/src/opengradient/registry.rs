//! The on-chain TEE registry's ABI (`getActiveTEEs(uint8)`), decoded with `alloy-sol-types`.
//!
//! Two layouts are deployed: the registry the SDK reads, whose `TEEInfo` ends with an
//! `OhttpConfig`, and the older one without it. Replies are decoded as the first and, failing
//! that, as the second (whose TEEs then carry no OHTTP key and are not usable privately);
//! anything else is refused with a reason.

use alloy_primitives::{Address, Bytes, FixedBytes, U256};
use alloy_sol_types::{sol, SolCall};

use super::ohttp::KeyConfig;
use super::receipt::tee_id;

sol! {
    struct OhttpConfig {
        uint8 keyId;
        uint16 kemId;
        uint16 kdfId;
        uint16 aeadId;
        bytes publicKey;
        bytes keyConfig;
        uint256 registeredAt;
    }

    struct TEEInfo {
        address owner;
        address paymentAddress;
        string endpoint;
        bytes publicKey;
        bytes tlsCertificate;
        bytes32 pcrHash;
        uint8 teeType;
        bool enabled;
        uint256 registeredAt;
        uint256 lastHeartbeatAt;
        OhttpConfig ohttpConfig;
    }

    function getActiveTEEs(uint8 teeType) external view returns (TEEInfo[] memory);
}

mod legacy {
    alloy_sol_types::sol! {
        struct TEEInfo {
            address owner;
            address paymentAddress;
            string endpoint;
            bytes publicKey;
            bytes tlsCertificate;
            bytes32 pcrHash;
            uint8 teeType;
            bool enabled;
            uint256 registeredAt;
            uint256 lastHeartbeatAt;
        }

        function getActiveTEEs(uint8 teeType) external view returns (TEEInfo[] memory);
    }
}

/// One TEE as the registry lists it, in the form the client uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredTee {
    /// `0x` + keccak256 of the signing key's DER.
    pub tee_id: String,
    pub endpoint: String,
    /// RSA signing key, SPKI DER.
    pub signing_key_der: Vec<u8>,
    pub tls_certificate: Vec<u8>,
    /// keccak256(PCR0 ‖ PCR1 ‖ PCR2).
    pub pcr_hash: [u8; 32],
    pub tee_type: u8,
    pub enabled: bool,
    pub last_heartbeat_at: u64,
    /// None when the TEE registered no OHTTP key.
    pub ohttp: Option<KeyConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the TEE registry's answer cannot be read: {0}")]
pub struct RegistryDecodeError(pub String);

/// The calldata of `getActiveTEEs(tee_type)`.
pub fn get_active_tees_calldata(tee_type: u8) -> Vec<u8> {
    getActiveTEEsCall { teeType: tee_type }.abi_encode()
}

fn saturating_u64(v: U256) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// Decodes the return data of `getActiveTEEs`, strictly (a layout variant or trailing garbage is
/// an error, not a guess).
pub fn decode_active_tees(data: &[u8]) -> Result<Vec<RegisteredTee>, RegistryDecodeError> {
    // A layout is accepted only if it accounts for every byte: the older layout would
    // otherwise "decode" a damaged reply of the newer one by ignoring its tail.
    if let Ok(tees) = getActiveTEEsCall::abi_decode_returns_validate(data) {
        if getActiveTEEsCall::abi_encode_returns(&tees) == data {
            return Ok(tees.into_iter().map(from_current).collect());
        }
    }
    match legacy::getActiveTEEsCall::abi_decode_returns_validate(data) {
        Ok(tees) if legacy::getActiveTEEsCall::abi_encode_returns(&tees) == data => {
            Ok(tees.into_iter().map(from_legacy).collect())
        }
        Ok(_) => Err(RegistryDecodeError("it has bytes that belong to no known record layout".into())),
        Err(e) => Err(RegistryDecodeError(format!("it is not a list of TEE records in either known layout ({e})"))),
    }
}

fn from_current(t: TEEInfo) -> RegisteredTee {
    let c = &t.ohttpConfig;
    let ohttp = (!c.publicKey.is_empty()).then(|| KeyConfig {
        key_id: c.keyId,
        kem_id: c.kemId,
        kdf_id: c.kdfId,
        aead_id: c.aeadId,
        public_key: c.publicKey.to_vec(),
    });
    RegisteredTee {
        tee_id: tee_id(&t.publicKey),
        endpoint: t.endpoint,
        signing_key_der: t.publicKey.to_vec(),
        tls_certificate: t.tlsCertificate.to_vec(),
        pcr_hash: t.pcrHash.0,
        tee_type: t.teeType,
        enabled: t.enabled,
        last_heartbeat_at: saturating_u64(t.lastHeartbeatAt),
        ohttp,
    }
}

fn from_legacy(t: legacy::TEEInfo) -> RegisteredTee {
    RegisteredTee {
        tee_id: tee_id(&t.publicKey),
        endpoint: t.endpoint,
        signing_key_der: t.publicKey.to_vec(),
        tls_certificate: t.tlsCertificate.to_vec(),
        pcr_hash: t.pcrHash.0,
        tee_type: t.teeType,
        enabled: t.enabled,
        last_heartbeat_at: saturating_u64(t.lastHeartbeatAt),
        ohttp: None,
    }
}

/// The registry stand-in's side: encodes records as `getActiveTEEs` returns them.
pub fn encode_active_tees(tees: &[RegisteredTee]) -> Vec<u8> {
    let infos: Vec<TEEInfo> = tees
        .iter()
        .map(|t| {
            let c = t.ohttp.clone();
            TEEInfo {
                owner: Address::ZERO,
                paymentAddress: Address::ZERO,
                endpoint: t.endpoint.clone(),
                publicKey: Bytes::from(t.signing_key_der.clone()),
                tlsCertificate: Bytes::from(t.tls_certificate.clone()),
                pcrHash: FixedBytes(t.pcr_hash),
                teeType: t.tee_type,
                enabled: t.enabled,
                registeredAt: U256::from(t.last_heartbeat_at),
                lastHeartbeatAt: U256::from(t.last_heartbeat_at),
                ohttpConfig: OhttpConfig {
                    keyId: c.as_ref().map_or(0, |c| c.key_id),
                    kemId: c.as_ref().map_or(0, |c| c.kem_id),
                    kdfId: c.as_ref().map_or(0, |c| c.kdf_id),
                    aeadId: c.as_ref().map_or(0, |c| c.aead_id),
                    publicKey: Bytes::from(c.as_ref().map(|c| c.public_key.clone()).unwrap_or_default()),
                    keyConfig: Bytes::from(c.as_ref().map(KeyConfig::encode).unwrap_or_default()),
                    registeredAt: U256::from(t.last_heartbeat_at),
                },
            }
        })
        .collect();
    getActiveTEEsCall::abi_encode_returns(&infos)
}

/// The 4-byte selector of `getActiveTEEs(uint8)`.
pub const GET_ACTIVE_TEES_SELECTOR: [u8; 4] = getActiveTEEsCall::SELECTOR;

/// keccak256(PCR0 ‖ PCR1 ‖ PCR2), as the registry records a TEE's code.
pub fn pcr_hash(pcr0: &[u8], pcr1: &[u8], pcr2: &[u8]) -> [u8; 32] {
    alloy_primitives::keccak256([pcr0, pcr1, pcr2].concat()).0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tee(ohttp: bool) -> RegisteredTee {
        RegisteredTee {
            tee_id: tee_id(b"key"),
            endpoint: "https://tee.example".into(),
            signing_key_der: b"key".to_vec(),
            tls_certificate: vec![1, 2],
            pcr_hash: [9; 32],
            tee_type: 0,
            enabled: true,
            last_heartbeat_at: 77,
            ohttp: ohttp.then(|| KeyConfig { key_id: 1, kem_id: 0x20, kdf_id: 1, aead_id: 3, public_key: vec![5; 32] }),
        }
    }

    #[test]
    fn the_selector_is_the_registrys() {
        assert_eq!(hex::encode(GET_ACTIVE_TEES_SELECTOR), "4b6014da");
        assert_eq!(&get_active_tees_calldata(0)[..4], &GET_ACTIVE_TEES_SELECTOR);
    }

    #[test]
    fn records_round_trip_and_a_missing_key_reads_as_none() {
        let data = encode_active_tees(&[tee(true), tee(false)]);
        assert_eq!(decode_active_tees(&data).unwrap(), vec![tee(true), tee(false)]);
        assert_eq!(decode_active_tees(&encode_active_tees(&[])).unwrap(), vec![]);
    }

    #[test]
    fn the_older_layout_decodes_without_keys() {
        let old = legacy::TEEInfo {
            owner: Address::ZERO,
            paymentAddress: Address::ZERO,
            endpoint: "e".into(),
            publicKey: Bytes::from_static(b"k"),
            tlsCertificate: Bytes::new(),
            pcrHash: FixedBytes([1; 32]),
            teeType: 0,
            enabled: true,
            registeredAt: U256::from(1),
            lastHeartbeatAt: U256::from(2),
        };
        let data = legacy::getActiveTEEsCall::abi_encode_returns(&vec![old]);
        let got = decode_active_tees(&data).unwrap();
        assert_eq!(got.len(), 1);
        assert!(got[0].ohttp.is_none());
    }

    #[test]
    fn garbage_is_refused_not_guessed() {
        for bad in [&b""[..], &[0u8; 31][..], &[0xff; 64][..]] {
            assert!(decode_active_tees(bad).is_err());
        }
        let mut data = encode_active_tees(&[tee(true)]);
        data.truncate(data.len() - 64);
        assert!(decode_active_tees(&data).is_err());
    }
}
