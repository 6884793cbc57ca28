//! Where a store's data key can be kept: the operating system's keyring (Secret Service,
//! macOS Keychain, Windows Credential Manager).

use crate::StoreError;

/// A place that keeps small secrets by name. The OS keyring in the app; an in-memory map in tests.
pub trait SecretVault {
    fn put(&self, account: &str, secret: &[u8]) -> Result<(), StoreError>;
    /// `Ok(None)` when there is no such entry.
    fn get(&self, account: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn delete(&self, account: &str) -> Result<(), StoreError>;
}

/// The operating system's keyring, under the service name `sotto`.
pub struct OsKeyring;

pub const KEYRING_SERVICE: &str = "sotto";

impl OsKeyring {
    /// Whether a keyring can be used at all: `SOTTO_KEYRING=off` turns it off (servers, tests),
    /// and a desktop without a Secret Service has none.
    pub fn available() -> Result<Self, StoreError> {
        if std::env::var("SOTTO_KEYRING").is_ok_and(|v| v == "off" || v == "0") {
            return Err(StoreError::KeyringUnavailable("turned off by SOTTO_KEYRING".into()));
        }
        match keyring::Entry::store_status() {
            Ok(()) => Ok(OsKeyring),
            Err(e) => Err(StoreError::KeyringUnavailable(e.to_string())),
        }
    }

    fn entry(account: &str) -> Result<keyring::Entry, StoreError> {
        keyring::Entry::new(KEYRING_SERVICE, account).map_err(|e| StoreError::KeyringUnavailable(e.to_string()))
    }
}

impl SecretVault for OsKeyring {
    fn put(&self, account: &str, secret: &[u8]) -> Result<(), StoreError> {
        Self::entry(account)?.set_secret(secret).map_err(|e| StoreError::KeyringUnavailable(e.to_string()))
    }

    fn get(&self, account: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match Self::entry(account)?.get_secret() {
            Ok(s) => Ok(Some(s)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(StoreError::KeyringUnavailable(e.to_string())),
        }
    }

    fn delete(&self, account: &str) -> Result<(), StoreError> {
        match Self::entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(StoreError::KeyringUnavailable(e.to_string())),
        }
    }
}

/// An in-memory vault, for tests and for callers that hold the key some other way.
#[derive(Default)]
pub struct MemoryVault {
    entries: std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>,
}

impl SecretVault for MemoryVault {
    fn put(&self, account: &str, secret: &[u8]) -> Result<(), StoreError> {
        self.lock().insert(account.to_owned(), secret.to_vec());
        Ok(())
    }

    fn get(&self, account: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().get(account).cloned())
    }

    fn delete(&self, account: &str) -> Result<(), StoreError> {
        self.lock().remove(account);
        Ok(())
    }
}

impl MemoryVault {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Vec<u8>>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
