//! Opening, creating and re-keying a store: a folder holding `key.json` and `history.db`.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use zeroize::Zeroizing;

use crate::kdf::{KdfParams, SecretKey};
use crate::key_file::{KeyFile, Protection, Unlock};
use crate::{schema, StoreError};

/// An open, unlocked store.
pub struct Store {
    pub(crate) conn: Connection,
    dir: PathBuf,
    // Kept so that a second connection can be opened (a reply streaming while the app lists).
    key: SecretKey,
}

impl Store {
    pub fn db_path(dir: &Path) -> PathBuf {
        dir.join("history.db")
    }

    /// How the store in `dir` is protected, or `None` when there is none yet.
    pub fn protection(dir: &Path) -> Result<Option<Protection>, StoreError> {
        Ok(KeyFile::load(dir)?.map(|k| k.protection))
    }

    /// Opens the store in `dir`, creating it (protected as `unlock` says) when there is none.
    pub fn open_or_create(dir: &Path, unlock: &Unlock, kdf: KdfParams) -> Result<Store, StoreError> {
        match KeyFile::load(dir)? {
            Some(kf) => Self::open_with(dir, &kf, unlock),
            None => Self::create(dir, unlock, kdf),
        }
    }

    /// Opens an existing store; `NoStore` when there is none.
    pub fn open(dir: &Path, unlock: &Unlock) -> Result<Store, StoreError> {
        let kf = KeyFile::load(dir)?.ok_or_else(|| StoreError::NoStore(dir.to_owned()))?;
        Self::open_with(dir, &kf, unlock)
    }

    fn create(dir: &Path, unlock: &Unlock, kdf: KdfParams) -> Result<Store, StoreError> {
        let db = Self::db_path(dir);
        if db.exists() {
            // Never start over on top of a database whose key file went missing.
            return Err(StoreError::KeyFile { path: KeyFile::path(dir), problem: format!("missing, but {} exists", db.display()) });
        }
        create_private_dir(dir)?;
        let (kf, key) = KeyFile::create(unlock, kdf)?;
        // The key file first: a crash before the database exists leaves a store that opens empty.
        kf.save(dir)?;
        Self::connect(dir, &key)
    }

    fn open_with(dir: &Path, kf: &KeyFile, unlock: &Unlock) -> Result<Store, StoreError> {
        let key = kf.unlock(unlock, dir)?;
        let store = Self::connect(dir, &key)?;
        store.recover_interrupted_replies()?;
        Ok(store)
    }

    /// Re-wraps the data key under a new passphrase. The database file is not rewritten.
    pub fn change_passphrase(dir: &Path, old: &str, new: &str, kdf: KdfParams) -> Result<(), StoreError> {
        let kf = KeyFile::load(dir)?.ok_or_else(|| StoreError::NoStore(dir.to_owned()))?;
        kf.rewrap(old, new, kdf, dir)?.save(dir)
    }

    fn connect(dir: &Path, key: &SecretKey) -> Result<Store, StoreError> {
        let path = Self::db_path(dir);
        let mut conn = Connection::open(&path).map_err(|e| StoreError::from_sqlite(&path, e))?;
        // SQLCipher would print its own messages to stderr; Sotto reports failures itself.
        conn.execute_batch("PRAGMA cipher_log_level = NONE;").map_err(|e| StoreError::from_sqlite(&path, e))?;
        let pragma = Zeroizing::new(format!("PRAGMA key = \"x'{}'\";", hex::encode(key.as_ref())));
        conn.execute_batch(&pragma).map_err(|e| StoreError::from_sqlite(&path, e))?;
        // The first read authenticates page 1 (a wrong key or changed bytes fail here).
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0))
            .map_err(|e| StoreError::from_sqlite(&path, e))?;
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA temp_store = MEMORY;
             PRAGMA secure_delete = ON;
             PRAGMA busy_timeout = 5000;
             PRAGMA cache_size = -16384;",
        )
        .map_err(|e| StoreError::from_sqlite(&path, e))?;
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(|e| StoreError::from_sqlite(&path, e))?;
        if found > schema::latest() as i64 {
            return Err(StoreError::TooNew { found: found as usize, known: schema::latest() });
        }
        schema::migrations().to_latest(&mut conn).map_err(|e| match e {
            rusqlite_migration::Error::RusqliteError { err, .. } => StoreError::from_sqlite(&path, err),
            other => StoreError::Unsupported(format!("the history schema could not be updated: {other}")),
        })?;
        Ok(Store { conn, dir: dir.to_owned(), key: key.clone() })
    }

    /// Another connection to the same store, for work that runs beside this one (SQLite's WAL
    /// lets it read while the other writes).
    pub fn reopen(&self) -> Result<Store, StoreError> {
        Self::connect(&self.dir, &self.key)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `f` in one transaction (or inside the caller's, when a [`Store::batch`] is open).
    pub(crate) fn atomically<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        if !self.conn.is_autocommit() {
            return f(&self.conn).map_err(|e| self.sql_err(e));
        }
        let tx = self.conn.unchecked_transaction().map_err(|e| self.sql_err(e))?;
        let value = f(&tx).map_err(|e| self.sql_err(e))?;
        tx.commit().map_err(|e| self.sql_err(e))?;
        Ok(value)
    }

    /// Many writes as one commit (imports, benchmarks): all of them land, or none.
    pub fn batch<T>(&self, f: impl FnOnce(&Store) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.sql_err(e))?;
        let value = f(self)?;
        tx.commit().map_err(|e| self.sql_err(e))?;
        Ok(value)
    }

    pub(crate) fn sql_err(&self, e: rusqlite::Error) -> StoreError {
        StoreError::from_sqlite(&Self::db_path(&self.dir), e)
    }

    /// Moves the write-ahead log into the database and empties it (after deletes, so old page
    /// images do not linger in the log).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).map_err(|e| self.sql_err(e))
    }
}

fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(StoreError::io("create", dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(StoreError::io("restrict", dir))?;
    }
    Ok(())
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

