//! The enclave's keys: an OHTTP key pair and a receipt-signing key, born at start.

use std::sync::{Arc, RwLock};

use ohttp::hpke::{Aead, Kdf, Kem};
use ohttp::{KeyConfig, SymmetricSuite};
use sotto_enclave_protocol::ReceiptSigner;

/// One generation of keys.
pub struct EnclaveKeys {
    pub key_id: u8,
    pub ohttp: ohttp::Server,
    pub key_config: Vec<u8>,
    pub receipts: ReceiptSigner,
}

impl EnclaveKeys {
    pub fn generate(key_id: u8) -> anyhow::Result<Self> {
        let config = KeyConfig::new(
            key_id,
            Kem::X25519Sha256,
            vec![
                SymmetricSuite::new(Kdf::HkdfSha256, Aead::Aes128Gcm),
                SymmetricSuite::new(Kdf::HkdfSha256, Aead::ChaCha20Poly1305),
            ],
        )?;
        let key_config = config.encode()?;
        Ok(Self {
            key_id,
            ohttp: ohttp::Server::new(config)?,
            key_config,
            receipts: ReceiptSigner::generate(),
        })
    }
}

/// The current keys; rotation swaps them and forgets the old ones at once.
pub struct KeyRing {
    current: RwLock<Arc<EnclaveKeys>>,
}

impl KeyRing {
    pub fn new() -> anyhow::Result<Self> {
        let first: u8 = rand::random();
        Ok(Self {
            current: RwLock::new(Arc::new(EnclaveKeys::generate(first)?)),
        })
    }

    pub fn current(&self) -> Arc<EnclaveKeys> {
        match self.current.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces both keys; requests sealed to the old key are refused from now on.
    pub fn rotate(&self) -> anyhow::Result<Arc<EnclaveKeys>> {
        let next = Arc::new(EnclaveKeys::generate(self.current().key_id.wrapping_add(1))?);
        match self.current.write() {
            Ok(mut k) => *k = next.clone(),
            Err(poisoned) => *poisoned.into_inner() = next.clone(),
        }
        Ok(next)
    }
}
