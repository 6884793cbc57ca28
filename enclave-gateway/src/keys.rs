//! The enclave's keys: an OHTTP key pair and a receipt-signing key. A lone gateway makes its
//! own at start; a replica is released them by the key keeper (see `key_release`), so every
//! replica behind one relay decrypts and signs alike.

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

fn suites() -> Vec<SymmetricSuite> {
    vec![SymmetricSuite::new(Kdf::HkdfSha256, Aead::Aes128Gcm), SymmetricSuite::new(Kdf::HkdfSha256, Aead::ChaCha20Poly1305)]
}

impl EnclaveKeys {
    pub fn generate(key_id: u8) -> anyhow::Result<Self> {
        Self::derive(key_id, &rand::random())
    }

    /// The keys a 32-byte seed stands for (both derived from it, each under its own label).
    pub fn derive(key_id: u8, seed: &[u8; 32]) -> anyhow::Result<Self> {
        let ikm = sotto_enclave_protocol::sha256(&[b"sotto-ohttp-key\0".as_slice(), seed].concat());
        let config = KeyConfig::derive(key_id, Kem::X25519Sha256, suites(), &ikm)?;
        let key_config = config.encode()?;
        let receipt_seed = sotto_enclave_protocol::sha256(&[b"sotto-receipt-key\0".as_slice(), seed].concat());
        Ok(Self { key_id, ohttp: ohttp::Server::new(config)?, key_config, receipts: ReceiptSigner::from_seed(&receipt_seed) })
    }
}

/// The keys a gateway holds: the current ones (attested and advertised) and, while a rotation
/// settles, others it still accepts — the next keys before any replica advertises them, the
/// previous ones for a grace period after — so no request sealed to either is refused.
pub struct KeyRing {
    // One lock for both: a request never sees the new current keys with the old accepted ones.
    keys: RwLock<Generation>,
}

struct Generation {
    current: Arc<EnclaveKeys>,
    accepted: Vec<Arc<EnclaveKeys>>,
}

impl KeyRing {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self::with(Arc::new(EnclaveKeys::generate(rand::random())?), Vec::new()))
    }

    pub fn with(current: Arc<EnclaveKeys>, accepted: Vec<Arc<EnclaveKeys>>) -> Self {
        Self { keys: RwLock::new(Generation { current, accepted }) }
    }

    /// Looks at the keys under the read lock (nothing is copied but what `look` returns).
    fn read<T>(&self, look: impl FnOnce(&Generation) -> T) -> T {
        match self.keys.read() {
            Ok(k) => look(&k),
            Err(poisoned) => look(&poisoned.into_inner()),
        }
    }

    fn write(&self, change: impl FnOnce(&mut Generation)) {
        match self.keys.write() {
            Ok(mut k) => change(&mut k),
            Err(poisoned) => change(&mut poisoned.into_inner()),
        }
    }

    pub fn current(&self) -> Arc<EnclaveKeys> {
        self.read(|k| k.current.clone())
    }

    /// The keys a request sealed to `key_id` is opened with, if this gateway holds them.
    pub fn for_request(&self, key_id: u8) -> Option<Arc<EnclaveKeys>> {
        self.read(|keys| std::iter::once(&keys.current).chain(&keys.accepted).find(|k| k.key_id == key_id).cloned())
    }

    /// Installs released keys (a replica's view of the keeper's state), both at once.
    pub fn install(&self, current: Arc<EnclaveKeys>, accepted: Vec<Arc<EnclaveKeys>>) {
        self.write(|k| *k = Generation { current, accepted });
    }

    /// Keeps only the current keys; whether there were others.
    pub fn drop_accepted(&self) -> bool {
        let mut had = false;
        self.write(|k| had = !std::mem::take(&mut k.accepted).is_empty());
        had
    }

    /// A lone gateway's rotation: new keys at once; requests sealed to the old key are refused
    /// from now on (the client re-attests once).
    pub fn rotate(&self) -> anyhow::Result<Arc<EnclaveKeys>> {
        let next = Arc::new(EnclaveKeys::generate(self.current().key_id.wrapping_add(1))?);
        let installed = next.clone();
        self.write(|k| *k = Generation { current: installed, accepted: Vec::new() });
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_keys_and_another_seed_others() {
        let seed = [9u8; 32];
        let (a, b) = (EnclaveKeys::derive(4, &seed).unwrap(), EnclaveKeys::derive(4, &seed).unwrap());
        assert_eq!(a.key_config, b.key_config);
        assert_eq!(a.receipts.public_key(), b.receipts.public_key());
        let c = EnclaveKeys::derive(4, &[8u8; 32]).unwrap();
        assert_ne!(a.key_config, c.key_config);
        assert_ne!(a.receipts.public_key(), c.receipts.public_key());
    }

    #[test]
    fn requests_open_with_the_current_or_an_accepted_key_only() {
        let ring = KeyRing::with(Arc::new(EnclaveKeys::derive(1, &[1; 32]).unwrap()), vec![Arc::new(EnclaveKeys::derive(2, &[2; 32]).unwrap())]);
        assert_eq!(ring.for_request(1).unwrap().key_id, 1);
        assert_eq!(ring.for_request(2).unwrap().key_id, 2);
        assert!(ring.for_request(3).is_none());
        assert!(ring.drop_accepted());
        assert!(ring.for_request(2).is_none(), "dropped");
        assert_eq!(ring.for_request(1).unwrap().key_id, 1, "the current keys stay");
        assert!(!ring.drop_accepted());
    }
}
