//! Export and import of the whole history as one encrypted archive.
//!
//! An archive is itself a SQLCipher database (so it is authenticated page by page) holding copies
//! of the content tables. Its key is Argon2id(passphrase, salt) where the salt is SQLCipher's own
//! per-file salt: the first 16 bytes of the file, the only bytes stored in the clear. Settings are
//! not exported — they belong to a machine. Import merges: what is already here is kept.

use std::path::Path;

use rusqlite::params;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::kdf::{self, KdfParams};
use crate::store::{now_ms, Store};
use crate::StoreError;

/// The archive's Argon2id cost is fixed (there is nowhere in the clear to record it).
const ARCHIVE_KDF: KdfParams = KdfParams { memory_kib: 64 * 1024, passes: 3, lanes: 1 };
const ARCHIVE_FORMAT: i64 = 1;

/// Each exported table and the columns carried over (local row ids and writer pids are not).
const TABLES: &[(&str, &str)] = &[
    ("conversations", "id, title, created_ms, updated_ms"),
    ("messages", "uid, conversation_id, role, content, status, status_detail, model, receipt, created_ms, completed_ms"),
    ("attachments", "uid, message_uid, name, media_type, bytes, created_ms"),
    ("images", "uid, conversation_id, prompt, model, media_type, bytes, receipt, created_ms"),
    ("agent_steps", "uid, conversation_id, run_id, step, tool, input, output, files, duration_ms, sent_bytes, created_ms"),
    // Image Studio's gallery (archives written before it lack these tables; import skips them).
    ("image_generations", "uid, prompt, settings, model, receipt, material, reply, created_ms"),
    ("image_outputs", "generation_uid, idx, width, height, sha256, thumbnail"),
];

/// Rows per table: written (export) or added (import; rows already present are skipped).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ArchiveCounts {
    pub conversations: usize,
    pub messages: usize,
    pub attachments: usize,
    pub images: usize,
    pub agent_steps: usize,
    /// Image Studio generations (their images and thumbnails go with them).
    pub image_generations: usize,
}

impl ArchiveCounts {
    fn set(&mut self, table: &str, n: usize) {
        match table {
            "conversations" => self.conversations = n,
            "messages" => self.messages = n,
            "attachments" => self.attachments = n,
            "images" => self.images = n,
            "agent_steps" => self.agent_steps = n,
            "image_generations" => self.image_generations = n,
            _ => {}
        }
    }
}

fn key_spec(passphrase: &str, salt: &[u8; 16]) -> Result<Zeroizing<String>, StoreError> {
    let key = kdf::derive(passphrase, salt, ARCHIVE_KDF).map_err(|problem| StoreError::KeyFile { path: "archive".into(), problem })?;
    // SQLCipher's raw key form with an explicit salt: x'<64 hex key><32 hex salt>'.
    Ok(Zeroizing::new(format!("x'{}{}'", hex::encode(key.as_ref()), hex::encode(salt))))
}

fn path_text(path: &Path) -> Result<String, StoreError> {
    let abs = std::path::absolute(path).map_err(StoreError::io("resolve", path))?;
    abs.to_str().map(str::to_owned).ok_or_else(|| StoreError::Io {
        action: "use",
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path is not valid UTF-8"),
    })
}

impl Store {
    pub fn export_archive(&self, path: &Path, passphrase: &str) -> Result<ArchiveCounts, StoreError> {
        if path.exists() {
            return Err(StoreError::AlreadyExists(path.to_owned()));
        }
        let key = key_spec(passphrase, &kdf::random_bytes::<16>())?;
        self.conn.execute("ATTACH DATABASE ?1 AS archive KEY ?2", params![path_text(path)?, key.as_str()]).map_err(|e| self.sql_err(e))?;
        let result = self.copy_into_archive();
        let _ = self.conn.execute_batch("DETACH DATABASE archive");
        if result.is_err() {
            let _ = std::fs::remove_file(path);
        }
        result
    }

    fn copy_into_archive(&self) -> Result<ArchiveCounts, StoreError> {
        self.atomically(|tx| {
            tx.execute_batch("CREATE TABLE archive.archive_info (format INTEGER NOT NULL, created_ms INTEGER NOT NULL, app TEXT NOT NULL)")?;
            tx.execute(
                "INSERT INTO archive.archive_info VALUES (?1, ?2, ?3)",
                params![ARCHIVE_FORMAT, now_ms(), concat!("sotto ", env!("CARGO_PKG_VERSION"))],
            )?;
            let mut counts = ArchiveCounts::default();
            for (table, cols) in TABLES {
                tx.execute_batch(&format!("CREATE TABLE archive.{table} AS SELECT {cols} FROM main.{table} ORDER BY rowid"))?;
                let n: i64 = tx.query_row(&format!("SELECT count(*) FROM archive.{table}"), [], |r| r.get(0))?;
                counts.set(table, n as usize);
            }
            Ok(counts)
        })
    }

    pub fn import_archive(&self, path: &Path, passphrase: &str) -> Result<ArchiveCounts, StoreError> {
        let unreadable = || StoreError::ArchiveUnreadable(path.to_owned());
        let mut salt = [0u8; 16];
        let mut f = std::fs::File::open(path).map_err(StoreError::io("open", path))?;
        std::io::Read::read_exact(&mut f, &mut salt).map_err(|_| unreadable())?;
        let key = key_spec(passphrase, &salt)?;
        self.conn
            .execute("ATTACH DATABASE ?1 AS archive KEY ?2", params![path_text(path)?, key.as_str()])
            .map_err(|e| archive_error(path, e))?;
        let result = self.merge_archive().map_err(|e| archive_error(path, e));
        let _ = self.conn.execute_batch("DETACH DATABASE archive");
        let counts = result?;
        self.recover_interrupted_replies()?;
        Ok(counts)
    }

    fn merge_archive(&self) -> Result<ArchiveCounts, rusqlite::Error> {
        let format: i64 = self.conn.query_row("SELECT format FROM archive.archive_info", [], |r| r.get(0))?;
        if format != ARCHIVE_FORMAT {
            return Err(rusqlite::Error::IntegralValueOutOfRange(0, format));
        }
        let tx = self.conn.unchecked_transaction()?;
        // An archive adds whole conversations; it never adds rows to one that is already here.
        // So conversations go in last (`main.conversations` meanwhile lists only those already
        // here), and foreign keys are checked at commit.
        tx.execute_batch("PRAGMA defer_foreign_keys = ON;")?;
        let mut counts = ArchiveCounts::default();
        for (table, cols) in TABLES.iter().rev() {
            let present: bool = tx.query_row("SELECT count(*) > 0 FROM archive.sqlite_master WHERE type = 'table' AND name = ?1", [table], |r| r.get(0))?;
            if !present {
                continue;
            }
            let (extra_col, extra_val) = if matches!(*table, "messages" | "images") { (", imported", ", 1") } else { ("", "") };
            // Only rows of conversations that are new here; never a child of a row already here.
            let scope = match *table {
                "conversations" => "",
                "messages" => "WHERE conversation_id NOT IN (SELECT id FROM main.conversations) AND role IN ('user', 'assistant')",
                "attachments" => {
                    "WHERE message_uid IN (SELECT uid FROM archive.messages WHERE conversation_id NOT IN (SELECT id FROM main.conversations))
                       AND message_uid NOT IN (SELECT uid FROM main.messages)"
                }
                "agent_steps" => {
                    "WHERE (conversation_id IS NULL OR conversation_id NOT IN (SELECT id FROM main.conversations))
                       AND run_id NOT IN (SELECT run_id FROM main.agent_steps)"
                }
                // A generation comes whole or not at all (`INSERT OR IGNORE` keeps one already here).
                "image_generations" => "",
                "image_outputs" => "WHERE generation_uid NOT IN (SELECT uid FROM main.image_generations)",
                _ => "WHERE conversation_id IS NULL OR conversation_id NOT IN (SELECT id FROM main.conversations)",
            };
            let n = tx.execute(
                &format!("INSERT OR IGNORE INTO main.{table} ({cols}{extra_col}) SELECT {cols}{extra_val} FROM archive.{table} {scope} ORDER BY rowid"),
                [],
            )?;
            counts.set(table, n);
        }
        tx.commit()?;
        Ok(counts)
    }
}

/// Wrong passphrase and "not an archive" look the same to SQLCipher (page 1 does not
/// authenticate); a later page that does not authenticate means the archive was changed.
fn archive_error(path: &Path, e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseCorrupt => {
            StoreError::Tampered { path: path.to_owned(), detail: "a page of the archive failed its integrity check".into() }
        }
        rusqlite::Error::IntegralValueOutOfRange(_, format) => {
            StoreError::Unsupported(format!("{} is a Sotto archive of format {format}, which this build does not read", path.display()))
        }
        rusqlite::Error::SqliteFailure(f, ref m)
            if f.code == rusqlite::ErrorCode::NotADatabase || m.as_deref().is_some_and(|m| m.contains("no such table")) =>
        {
            StoreError::ArchiveUnreadable(path.to_owned())
        }
        other => StoreError::Database(other),
    }
}
