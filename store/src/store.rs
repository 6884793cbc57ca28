//! Opening, creating and re-keying a store: a folder holding `key.json` and `history.db`.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use zeroize::Zeroizing;

use crate::kdf::{KdfParams, SecretKey};
use crate::key_file::{KeyFile, Protection, Unlock};
use crate::lock::FolderLock;
use crate::{schema, StoreError};

/// An open, unlocked store.
pub struct Store {
    pub(crate) conn: Connection,
    dir: PathBuf,
    // Kept so that a second connection can be opened (a reply streaming while the app lists).
    key: SecretKey,
    /// A delete's checkpoint could not complete; it is retried when any connection to the store
    /// made from this one (`reopen`) closes, as that may be the reader that held it.
    checkpoint_owed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    _lock: Option<FolderLock>,
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
        if dir.exists() {
            recover_if_alone(dir)?;
        }
        match KeyFile::load(dir)? {
            Some(kf) => Self::open_with(dir, &kf, unlock),
            None => Self::create(dir, unlock, kdf),
        }
    }

    /// Opens an existing store; `NoStore` when there is none.
    pub fn open(dir: &Path, unlock: &Unlock) -> Result<Store, StoreError> {
        if dir.exists() {
            recover_if_alone(dir)?;
        }
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

    /// Changes the passphrase *and* the data key: the whole database is re-encrypted under a
    /// fresh key, so an old `key.json` with the old passphrase opens nothing written from now
    /// on. Every other connection to the store must be closed first (the write-ahead log is
    /// emptied and switched off while the copy is made; a busy log is an error, nothing changes).
    ///
    /// Crash-safe: the re-encrypted copy and the new key file are staged beside the old ones and
    /// swapped in by two renames; [`finish_interrupted_rekey`] completes or undoes a half-done one.
    pub fn change_passphrase(dir: &Path, old: &str, new: &str, kdf: KdfParams) -> Result<(), StoreError> {
        if let Some(problem) = crate::passphrase_problem(new) {
            return Err(StoreError::WeakPassphrase(problem));
        }
        // The folder to itself for the whole change: no connection anywhere, none opening.
        let _alone = FolderLock::exclusive(dir)?;
        finish_interrupted_rekey(dir)?;
        let kf = KeyFile::load(dir)?.ok_or_else(|| StoreError::NoStore(dir.to_owned()))?;
        let old_key = kf.unlock(&Unlock::Passphrase(old), dir)?;
        let (mut next, new_key) = kf.with_new_key(new, kdf)?;
        let staged = dir.join(REKEY_DB);
        remove_if_present(&staged)?;
        let source = Self::connect_locked(dir, &old_key, None, Default::default())?;
        let expected = source.census()?;
        source.export_rekeyed(&staged, &new_key)?;
        // The copy must open with the new key and hold everything before anything is swapped.
        if census_of(&staged, &new_key)? != expected {
            remove_if_present(&staged)?;
            return Err(StoreError::Unsupported("the re-encrypted copy did not match the history; nothing was changed".into()));
        }
        std::fs::File::open(&staged).and_then(|f| f.sync_all()).map_err(StoreError::io("write", &staged))?;
        next.db_salt = Some(hex::encode(file_salt(&staged)?));
        next.save_as(dir, REKEY_KEY_FILE)?;
        let db = Self::db_path(dir);
        for leftover in ["history.db-wal", "history.db-shm"] {
            if dir.join(leftover).exists() {
                return Err(StoreError::Unsupported(format!("{leftover} is still there, so another program has the history open; nothing was changed")));
            }
        }
        std::fs::rename(&staged, &db).map_err(StoreError::io("replace", &db))?;
        sync_dir(dir);
        finish_interrupted_rekey(dir)
    }

    /// How many rows the tables that matter hold, and the schema version: a copy must match.
    fn census(&self) -> Result<Vec<i64>, StoreError> {
        census_on(&self.conn).map_err(|e| self.sql_err(e))
    }

    /// Writes the whole database, encrypted under `key`, to `to`, after checking that the
    /// write-ahead log is empty and switching it off (so no page under the old key stays in it).
    fn export_rekeyed(self, to: &Path, key: &SecretKey) -> Result<(), StoreError> {
        let busy = || StoreError::Unsupported("another connection to the history is open; close it and try again (nothing was changed)".into());
        if !self.checkpoint()? {
            return Err(busy());
        }
        // Leaving WAL mode needs the database to itself, so this also proves nobody else has it open.
        self.conn.busy_timeout(std::time::Duration::ZERO).map_err(|e| self.sql_err(e))?;
        let mode = self.conn.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get::<_, String>(0));
        if !mode.is_ok_and(|m| m.eq_ignore_ascii_case("delete")) {
            return Err(busy());
        }
        let version: i64 = self.conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(|e| self.sql_err(e))?;
        let target = to.to_str().ok_or_else(|| StoreError::Unsupported(format!("{} is not a UTF-8 path", to.display())))?;
        let attach = Zeroizing::new(format!("ATTACH DATABASE '{}' AS rekeyed KEY \"x'{}'\";", target.replace('\'', "''"), hex::encode(key.as_ref())));
        self.conn.execute_batch(&attach).map_err(|e| self.sql_err(e))?;
        let copied = self
            .conn
            .query_row("SELECT sqlcipher_export('rekeyed')", [], |_| Ok(()))
            .and_then(|()| self.conn.execute_batch(&format!("PRAGMA rekeyed.user_version = {version};")));
        let detached = self.conn.execute_batch("DETACH DATABASE rekeyed;");
        copied.and(detached).map_err(|e| self.sql_err(e))
    }

    fn connect(dir: &Path, key: &SecretKey) -> Result<Store, StoreError> {
        Self::connect_locked(dir, key, Some(FolderLock::shared(dir)?), Default::default())
    }

    /// `lock`: the shared lock this connection holds (none when the caller holds the folder
    /// exclusively, during a passphrase change).
    fn connect_locked(
        dir: &Path,
        key: &SecretKey,
        lock: Option<FolderLock>,
        checkpoint_owed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Result<Store, StoreError> {
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
        let store = Store { conn, dir: dir.to_owned(), key: key.clone(), checkpoint_owed, _lock: lock };
        // What a delete left in the log while another connection held it (or before a crash)
        // goes now, when nothing else holds it.
        let _ = store.checkpoint();
        Ok(store)
    }

    /// Another connection to the same store, for work that runs beside this one (SQLite's WAL
    /// lets it read while the other writes).
    pub fn reopen(&self) -> Result<Store, StoreError> {
        Self::connect_locked(&self.dir, &self.key, Some(FolderLock::shared(&self.dir)?), self.checkpoint_owed.clone())
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

    /// The one id in `table.column` (internal names, never user input) that starts with `prefix`
    /// (hex only), or that none or several do. Conversations, generations and memories share it.
    pub(crate) fn id_by_prefix(&self, table: &str, column: &str, prefix: &str) -> Result<IdMatch, StoreError> {
        let clean = prefix.trim().to_ascii_lowercase();
        if clean.is_empty() || !clean.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(IdMatch::None);
        }
        let sql = format!("SELECT {column} FROM {table} WHERE {column} >= ?1 AND {column} < ?1 || 'g' LIMIT 2");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.sql_err(e))?;
        let ids: Vec<String> =
            stmt.query_map([&clean], |r| r.get(0)).map_err(|e| self.sql_err(e))?.collect::<Result<_, _>>().map_err(|e| self.sql_err(e))?;
        Ok(match ids.as_slice() {
            [one] => IdMatch::One(one.clone()),
            [] => IdMatch::None,
            _ => IdMatch::Many,
        })
    }

    pub(crate) fn sql_err(&self, e: rusqlite::Error) -> StoreError {
        StoreError::from_sqlite(&Self::db_path(&self.dir), e)
    }

    /// Moves the write-ahead log into the database and empties it (after deletes, so old page
    /// images do not linger in the log). False when another connection kept it from completing
    /// (SQLite then reports the log as busy, or only part of it copied back).
    pub fn checkpoint(&self) -> Result<bool, StoreError> {
        let (busy, log, copied): (i64, i64, i64) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| self.sql_err(e))?;
        Ok(busy == 0 && log == copied)
    }

    /// After a delete: empties the log now, or, when another connection holds it, as soon as
    /// this one closes.
    pub(crate) fn checkpoint_after_delete(&self) -> Result<(), StoreError> {
        if !self.checkpoint()? {
            tracing::warn!("another connection holds the history's log; it is emptied when this one closes");
            self.checkpoint_owed.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        use std::sync::atomic::Ordering;
        if self.checkpoint_owed.load(Ordering::Relaxed) {
            match self.checkpoint() {
                Ok(true) => self.checkpoint_owed.store(false, Ordering::Relaxed),
                _ => tracing::warn!("the history's write-ahead log could not be emptied yet; the next close or start empties it"),
            }
        }
    }
}

/// The census of the database at `path` opened read-only with `key` (nothing is created or
/// changed), after SQLCipher's own check of every page.
fn census_of(path: &Path, key: &SecretKey) -> Result<Vec<i64>, StoreError> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| StoreError::from_sqlite(path, e))?;
    let pragma = Zeroizing::new(format!("PRAGMA cipher_log_level = NONE; PRAGMA key = \"x'{}'\";", hex::encode(key.as_ref())));
    conn.execute_batch(&pragma).map_err(|e| StoreError::from_sqlite(path, e))?;
    let problems: Vec<String> = conn
        .prepare("PRAGMA cipher_integrity_check")
        .and_then(|mut s| s.query_map([], |r| r.get::<_, String>(0))?.collect())
        .map_err(|e| StoreError::from_sqlite(path, e))?;
    if !problems.is_empty() {
        return Err(StoreError::Tampered { path: path.to_owned(), detail: problems.join("; ") });
    }
    census_on(&conn).map_err(|e| StoreError::from_sqlite(path, e))
}

fn census_on(conn: &Connection) -> rusqlite::Result<Vec<i64>> {
    let mut out = vec![conn.pragma_query_value(None, "user_version", |r| r.get(0))?];
    for table in ["conversations", "messages", "attachments", "images", "agent_steps", "settings", "proofs", "network_ledger", "image_generations", "image_outputs", "projects", "project_files", "memories"] {
        out.push(conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?);
    }
    Ok(out)
}

/// SQLCipher's per-file salt: the first 16 bytes of the database.
fn file_salt(path: &Path) -> Result<[u8; 16], StoreError> {
    let mut salt = [0u8; 16];
    std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut salt)).map_err(StoreError::io("read", path))?;
    Ok(salt)
}

/// Finishes an interrupted passphrase change, but only when nothing else has the folder open
/// (then no change can be under way).
fn recover_if_alone(dir: &Path) -> Result<(), StoreError> {
    match FolderLock::exclusive(dir) {
        Ok(_alone) => finish_interrupted_rekey(dir),
        Err(_) => Ok(()),
    }
}

/// Where a passphrase change stages the re-encrypted database and the new key file.
const REKEY_DB: &str = "history.db.rekey";
const REKEY_KEY_FILE: &str = "key.json.next";

/// Completes or undoes a passphrase change that was interrupted. The database is swapped in
/// first, the key file second: a staged key file beside a staged database means the swap never
/// began (the old store is intact, the staged files go); a staged key file alone means the
/// database is already the new one, so the new key file must follow it.
pub(crate) fn finish_interrupted_rekey(dir: &Path) -> Result<(), StoreError> {
    let (staged_db, staged_key) = (dir.join(REKEY_DB), dir.join(REKEY_KEY_FILE));
    if staged_key.exists() && !staged_db.exists() {
        // Promote the staged key only beside the database it was made for (by its salt);
        // anything else means the swap never happened, and the current key still opens it.
        let next = KeyFile::load_file(&staged_key).ok().flatten();
        let current = file_salt(&Store::db_path(dir)).ok().map(hex::encode);
        if next.and_then(|k| k.db_salt).is_some_and(|salt| Some(salt) == current) {
            let key = KeyFile::path(dir);
            std::fs::rename(&staged_key, &key).map_err(StoreError::io("replace", &key))?;
            sync_dir(dir);
            return Ok(());
        }
    }
    remove_if_present(&staged_key)?;
    remove_if_present(&staged_db)?;
    remove_if_present(&dir.join(format!("{REKEY_DB}-journal")))
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::io("remove", path)(e)),
        _ => Ok(()),
    }
}

pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
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

/// What an id prefix matched.
pub(crate) enum IdMatch {
    One(String),
    None,
    Many,
}
