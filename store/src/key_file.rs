//! `key.json`: how a store's random data key is protected. The data key itself is never on disk
//! in the clear — it is either in the OS keyring or wrapped (AES-256-GCM) under an Argon2id key
//! derived from the user's passphrase. Changing the passphrase rewrites only this file.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::kdf::{self, KdfParams, SecretKey};
use crate::vault::SecretVault;
use crate::StoreError;

const FORMAT: u32 = 1;

/// How the data key is protected.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "protection", rename_all = "snake_case")]
pub enum Protection {
    Keyring {
        account: String,
    },
    Passphrase {
        kdf: KdfParams,
        salt: String,
        nonce: String,
        wrapped_key: String,
    },
}

/// What unlocks a store.
pub enum Unlock<'a> {
    Passphrase(&'a str),
    Keyring(&'a dyn SecretVault),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyFile {
    format: u32,
    pub store_id: String,
    #[serde(flatten)]
    pub protection: Protection,
    /// Only in a key file staged by a passphrase change: the first 16 bytes (SQLCipher's salt,
    /// hex) of the database it belongs to, so it is promoted only beside that database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) db_salt: Option<String>,
}

impl KeyFile {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("key.json")
    }

    /// `Ok(None)` when there is no store in `dir` yet.
    pub fn load(dir: &Path) -> Result<Option<KeyFile>, StoreError> {
        Self::load_file(&Self::path(dir))
    }

    pub(crate) fn load_file(path: &Path) -> Result<Option<KeyFile>, StoreError> {
        let path = path.to_owned();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io("read", &path)(e)),
        };
        let file: KeyFile =
            serde_json::from_str(&text).map_err(|e| StoreError::KeyFile { path: path.clone(), problem: e.to_string() })?;
        if file.format != FORMAT {
            return Err(StoreError::KeyFile { path, problem: format!("format {} is not one this build reads", file.format) });
        }
        Ok(Some(file))
    }

    /// A new data key, protected as `unlock` says. Returns the file (not yet saved) and the key.
    pub fn create(unlock: &Unlock, kdf: KdfParams) -> Result<(KeyFile, SecretKey), StoreError> {
        let store_id = uuid::Uuid::new_v4().simple().to_string();
        let key = kdf::random_key();
        let protection = match unlock {
            Unlock::Passphrase(p) => wrap(&store_id, &key, p, kdf)?,
            Unlock::Keyring(vault) => {
                let account = format!("store-{store_id}");
                vault.put(&account, key.as_ref())?;
                // Read it back: some keyrings accept a write they cannot return.
                match vault.get(&account)? {
                    Some(k) if k == key.as_ref() => Protection::Keyring { account },
                    _ => return Err(StoreError::KeyringUnavailable("the keyring did not keep the key".into())),
                }
            }
        };
        Ok((KeyFile { format: FORMAT, store_id, protection, db_salt: None }, key))
    }

    /// The data key. A wrong passphrase is reported as such; nothing is half-opened.
    pub fn unlock(&self, unlock: &Unlock, dir: &Path) -> Result<SecretKey, StoreError> {
        let bad = |problem: &str| StoreError::KeyFile { path: Self::path(dir), problem: problem.into() };
        match (&self.protection, unlock) {
            (Protection::Passphrase { kdf: params, salt, nonce, wrapped_key }, Unlock::Passphrase(p)) => {
                let salt = B64.decode(salt).map_err(|_| bad("salt is not base64"))?;
                let nonce = B64.decode(nonce).map_err(|_| bad("nonce is not base64"))?;
                let wrapped = B64.decode(wrapped_key).map_err(|_| bad("wrapped key is not base64"))?;
                let kek = kdf::derive(p, &salt, *params).map_err(|e| bad(&e))?;
                let plain = kdf::open(&kek, &aad(&self.store_id), &nonce, &wrapped).ok_or(StoreError::WrongPassphrase)?;
                to_key(&plain).ok_or_else(|| bad("wrapped key has the wrong length"))
            }
            (Protection::Keyring { account }, Unlock::Keyring(vault)) => {
                let bytes = vault.get(account)?.ok_or_else(|| StoreError::KeyringKeyMissing(account.clone()))?;
                to_key(&Zeroizing::new(bytes)).ok_or_else(|| StoreError::KeyringKeyMissing(format!("{account} holds no 32-byte key")))
            }
            (Protection::Passphrase { .. }, Unlock::Keyring(_)) => Err(StoreError::PassphraseNeeded),
            (Protection::Keyring { .. }, Unlock::Passphrase(_)) => {
                Err(StoreError::KeyringUnavailable("this history's key is kept in the system keyring, not under a passphrase".into()))
            }
        }
    }

    /// A fresh data key for the same store, wrapped under `passphrase` (a passphrase change
    /// re-encrypts the database with it).
    pub fn with_new_key(&self, passphrase: &str, kdf: KdfParams) -> Result<(KeyFile, SecretKey), StoreError> {
        let key = kdf::random_key();
        let protection = wrap(&self.store_id, &key, passphrase, kdf)?;
        Ok((KeyFile { format: FORMAT, store_id: self.store_id.clone(), protection, db_salt: None }, key))
    }

    /// Writes atomically (temp file, fsync, rename): a crash never leaves a half-written key file,
    /// which would lose the whole history.
    pub fn save(&self, dir: &Path) -> Result<(), StoreError> {
        self.save_as(dir, "key.json")
    }

    /// [`KeyFile::save`] under another name in `dir` (a passphrase change stages the new one).
    pub(crate) fn save_as(&self, dir: &Path, name: &str) -> Result<(), StoreError> {
        let path = dir.join(name);
        let tmp = dir.join("key.json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(|e| StoreError::KeyFile { path: path.clone(), problem: e.to_string() })?;
        let mut f = std::fs::File::create(&tmp).map_err(StoreError::io("write", &tmp))?;
        f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(StoreError::io("write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(StoreError::io("replace", &path))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

fn wrap(store_id: &str, key: &SecretKey, passphrase: &str, params: KdfParams) -> Result<Protection, StoreError> {
    let salt = kdf::random_bytes::<16>();
    let kek = kdf::derive(passphrase, &salt, params).map_err(|problem| StoreError::KeyFile { path: "key.json".into(), problem })?;
    let (nonce, wrapped) = kdf::seal(&kek, &aad(store_id), key.as_ref());
    Ok(Protection::Passphrase { kdf: params, salt: B64.encode(salt), nonce: B64.encode(nonce), wrapped_key: B64.encode(wrapped) })
}

/// Binds a wrapped key to its store, so a key file copied from another store does not open this one.
fn aad(store_id: &str) -> Vec<u8> {
    format!("sotto-store-key/v1/{store_id}").into_bytes()
}

fn to_key(bytes: &[u8]) -> Option<SecretKey> {
    let arr: [u8; 32] = bytes.try_into().ok()?;
    Some(Zeroizing::new(arr))
}
