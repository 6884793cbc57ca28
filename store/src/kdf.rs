//! Passphrase → key with Argon2id, and AES-256-GCM sealing of small secrets under that key.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Argon2id cost. The default is RFC 9106's second recommendation (64 MiB, 3 passes), single lane
/// because the `argon2` crate computes lanes one after another anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub passes: u32,
    pub lanes: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        Self { memory_kib: 64 * 1024, passes: 3, lanes: 1 }
    }
}

impl KdfParams {
    /// Cheap parameters for tests only: the format is the same, the cost is not.
    pub fn insecure_for_tests() -> Self {
        Self { memory_kib: 64, passes: 1, lanes: 1 }
    }

    /// Refuses costs a key file could use to make opening hang or exhaust memory.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.memory_kib > 4 * 1024 * 1024 || self.passes > 64 || self.lanes == 0 || self.lanes > 16 {
            return Err(format!("Argon2id cost out of range ({self:?})"));
        }
        Ok(())
    }
}

/// 32 key bytes that are wiped from memory when dropped.
pub type SecretKey = Zeroizing<[u8; 32]>;

pub fn derive(passphrase: &str, salt: &[u8], params: KdfParams) -> Result<SecretKey, String> {
    params.check()?;
    let p = argon2::Params::new(params.memory_kib, params.passes, params.lanes, Some(32)).map_err(|e| e.to_string())?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p);
    let mut out = Zeroizing::new([0u8; 32]);
    argon.hash_password_into(passphrase.as_bytes(), salt, out.as_mut()).map_err(|e| e.to_string())?;
    Ok(out)
}

pub fn random_key() -> SecretKey {
    let mut k = Zeroizing::new([0u8; 32]);
    rand::Rng::fill(&mut rand::thread_rng(), k.as_mut());
    k
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::Rng::fill(&mut rand::thread_rng(), &mut b[..]);
    b
}

/// AES-256-GCM with a fresh random nonce; `aad` binds the ciphertext to its context.
pub fn seal(key: &SecretKey, aad: &[u8], plaintext: &[u8]) -> ([u8; 12], Vec<u8>) {
    let nonce = random_bytes::<12>();
    let cipher = Aes256Gcm::new((&**key).into());
    let ct = cipher
        .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad })
        .expect("AES-GCM encryption of a small buffer cannot fail");
    (nonce, ct)
}

/// `None` when the key is wrong or the bytes were changed.
pub fn open(key: &SecretKey, aad: &[u8], nonce: &[u8], ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let nonce: [u8; 12] = nonce.try_into().ok()?;
    let cipher = Aes256Gcm::new((&**key).into());
    cipher.decrypt(&Nonce::from(nonce), Payload { msg: ciphertext, aad }).ok().map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_passphrase_and_salt_give_the_same_key_and_others_do_not() {
        let p = KdfParams::insecure_for_tests();
        let a = derive("correct horse", b"0123456789abcdef", p).unwrap();
        assert_eq!(*a, *derive("correct horse", b"0123456789abcdef", p).unwrap());
        assert_ne!(*a, *derive("correct horsf", b"0123456789abcdef", p).unwrap());
        assert_ne!(*a, *derive("correct horse", b"0123456789abcdeg", p).unwrap());
    }

    #[test]
    fn sealed_bytes_open_only_with_the_same_key_context_and_bytes() {
        let k = random_key();
        let (nonce, mut ct) = seal(&k, b"ctx", b"secret");
        assert_eq!(open(&k, b"ctx", &nonce, &ct).unwrap().as_slice(), b"secret");
        assert!(open(&k, b"other", &nonce, &ct).is_none());
        assert!(open(&random_key(), b"ctx", &nonce, &ct).is_none());
        ct[0] ^= 1;
        assert!(open(&k, b"ctx", &nonce, &ct).is_none());
    }

    #[test]
    fn absurd_costs_are_refused() {
        let p = KdfParams { memory_kib: u32::MAX, passes: 1, lanes: 1 };
        assert!(derive("x", b"0123456789abcdef", p).is_err());
    }
}
