//! Image Studio's gallery: each generation with the verified reply that carried its images
//! (exactly the bytes the receipt covers), what its check used, and per image a thumbnail.
//! Like everything else here it lives only inside the encrypted database.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use crate::store::{now_ms, IdMatch, Store};
use crate::StoreError;

/// One image of a generation, without its pixels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageOutput {
    pub index: u32,
    pub width: u32,
    pub height: u32,
    /// SHA-256 of the PNG, hex.
    pub sha256: String,
}

/// A generation as the gallery lists it (no pixels, no reply bytes).
#[derive(Debug, Clone, Serialize)]
pub struct GalleryEntry {
    pub id: String,
    pub prompt: String,
    /// `{size, n, seed, style, model}` as asked.
    pub settings: serde_json::Value,
    pub model: String,
    pub receipt: serde_json::Value,
    pub created_ms: u64,
    pub outputs: Vec<ImageOutput>,
}

/// What is stored for a new generation.
pub struct NewGeneration {
    pub prompt: String,
    pub settings: serde_json::Value,
    pub model: String,
    pub receipt: serde_json::Value,
    /// What the check used (the proof material, its reply bytes left out: they are `reply`).
    pub material: Option<String>,
    /// The verified reply content.
    pub reply: Vec<u8>,
    /// Each image and its thumbnail (PNG).
    pub outputs: Vec<(ImageOutput, Vec<u8>)>,
}

const ENTRY_SQL: &str = "SELECT uid, prompt, settings, model, receipt, created_ms FROM image_generations";

fn entry_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<GalleryEntry> {
    let settings: String = r.get(2)?;
    let receipt: String = r.get(4)?;
    Ok(GalleryEntry {
        id: r.get(0)?,
        prompt: r.get(1)?,
        settings: serde_json::from_str(&settings).unwrap_or_default(),
        model: r.get(3)?,
        receipt: serde_json::from_str(&receipt).unwrap_or_default(),
        created_ms: r.get::<_, i64>(5)? as u64,
        outputs: Vec::new(),
    })
}

impl Store {
    /// Stores a generation and its thumbnails in one transaction; returns its id.
    pub fn add_generation(&self, g: &NewGeneration) -> Result<String, StoreError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        self.atomically(|tx| {
            tx.execute(
                "INSERT INTO image_generations (uid, prompt, settings, model, receipt, material, reply, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![id, g.prompt, g.settings.to_string(), g.model, g.receipt.to_string(), g.material, g.reply, now_ms()],
            )?;
            for (o, thumbnail) in &g.outputs {
                tx.execute(
                    "INSERT INTO image_outputs (generation_uid, idx, width, height, sha256, thumbnail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![id, o.index, o.width, o.height, o.sha256, thumbnail],
                )?;
            }
            Ok(())
        })?;
        Ok(id)
    }

    /// Generations, newest first, `limit` from `offset`.
    pub fn gallery(&self, limit: usize, offset: usize) -> Result<Vec<GalleryEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("{ENTRY_SQL} ORDER BY created_ms DESC, rowid DESC LIMIT ?1 OFFSET ?2"))
            .map_err(|e| self.sql_err(e))?;
        let rows = stmt.query_map(params![limit as i64, offset as i64], entry_from).map_err(|e| self.sql_err(e))?;
        let mut entries: Vec<GalleryEntry> = rows.collect::<Result<_, _>>().map_err(|e| self.sql_err(e))?;
        for e in &mut entries {
            e.outputs = self.outputs_of(&e.id)?;
        }
        Ok(entries)
    }

    /// How many generations the gallery holds.
    pub fn gallery_len(&self) -> Result<usize, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM image_generations", [], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
            .map_err(|e| self.sql_err(e))
    }

    fn outputs_of(&self, id: &str) -> Result<Vec<ImageOutput>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT idx, width, height, sha256 FROM image_outputs WHERE generation_uid = ?1 ORDER BY idx")
            .map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map([id], |r| Ok(ImageOutput { index: r.get(0)?, width: r.get(1)?, height: r.get(2)?, sha256: r.get(3)? }))
            .map_err(|e| self.sql_err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql_err(e))
    }

    /// The full id of the one generation whose id starts with `prefix`.
    pub fn resolve_generation(&self, prefix: &str) -> Result<String, StoreError> {
        match self.id_by_prefix("image_generations", "uid", prefix)? {
            IdMatch::One(id) => Ok(id),
            IdMatch::None => Err(StoreError::NoImage(prefix.into())),
            IdMatch::Many => Err(StoreError::AmbiguousImage(prefix.into())),
        }
    }

    /// One generation (by id or its first characters).
    pub fn generation(&self, id_or_prefix: &str) -> Result<GalleryEntry, StoreError> {
        let id = self.resolve_generation(id_or_prefix)?;
        let mut entry = self.conn.query_row(&format!("{ENTRY_SQL} WHERE uid = ?1"), [&id], entry_from).map_err(|e| self.sql_err(e))?;
        entry.outputs = self.outputs_of(&id)?;
        Ok(entry)
    }

    /// The verified reply of a generation and what its check used.
    pub fn generation_reply(&self, id: &str) -> Result<(Vec<u8>, Option<String>), StoreError> {
        self.conn
            .query_row("SELECT reply, material FROM image_generations WHERE uid = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(|e| self.sql_err(e))?
            .ok_or_else(|| StoreError::NoImage(id.into()))
    }

    /// One image's thumbnail (PNG).
    pub fn thumbnail(&self, id: &str, index: u32) -> Result<Vec<u8>, StoreError> {
        self.conn
            .query_row("SELECT thumbnail FROM image_outputs WHERE generation_uid = ?1 AND idx = ?2", params![id, index], |r| r.get(0))
            .optional()
            .map_err(|e| self.sql_err(e))?
            .ok_or_else(|| StoreError::NoImage(format!("{id} #{}", index + 1)))
    }

    /// Deletes a generation, its images and thumbnails for real (zeroed pages, emptied log).
    pub fn delete_generation(&self, id_or_prefix: &str) -> Result<String, StoreError> {
        let id = self.resolve_generation(id_or_prefix)?;
        self.atomically(|tx| tx.execute("DELETE FROM image_generations WHERE uid = ?1", [&id]))?;
        self.checkpoint_after_delete()?;
        Ok(id)
    }
}
