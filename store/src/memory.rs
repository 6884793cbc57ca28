//! Memory: facts the user chose to keep, stored encrypted like everything else and found again
//! for each request on this device (FTS5 with BM25 over the facts' words), never sent whole.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use crate::store::{now_ms, IdMatch, Store};
use crate::StoreError;

/// The setting that turns memory off everywhere.
const MEMORY_SETTING: &str = "memory_enabled";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Memory {
    pub id: String,
    pub text: String,
    pub created_ms: u64,
}

/// Words too common to say anything about relevance.
const STOP_WORDS: &[&str] = &[
    "the", "and", "for", "are", "but", "not", "you", "your", "with", "what", "when", "where", "who", "how", "why", "which", "this",
    "that", "these", "those", "there", "have", "has", "had", "was", "were", "will", "would", "should", "could", "can", "does", "did",
    "from", "about", "into", "than", "then", "them", "they", "their", "our", "out", "all", "any", "some", "just", "also", "its",
    "tell", "please", "give", "make", "like", "know", "want",
];

/// An FTS5 query matching any of the meaningful words of `text` (each quoted: no operators).
fn any_word_query(text: &str) -> Option<String> {
    let mut words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .collect();
    words.sort();
    words.dedup();
    (!words.is_empty()).then(|| words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(" OR "))
}

impl Store {
    /// Keeps a fact; one already kept (same words, any case) is not kept twice: its id is returned.
    pub fn add_memory(&self, text: &str) -> Result<String, StoreError> {
        let existing: Option<String> = self
            .conn
            .query_row("SELECT uid FROM memories WHERE lower(text) = lower(?1)", [text.trim()], |r| r.get(0))
            .optional()
            .map_err(|e| self.sql_err(e))?;
        if let Some(id) = existing {
            return Ok(id);
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        self.conn
            .execute("INSERT INTO memories (uid, text, created_ms) VALUES (?1, ?2, ?3)", params![id, text.trim(), now_ms()])
            .map_err(|e| self.sql_err(e))?;
        Ok(id)
    }

    /// Every memory, newest first.
    pub fn memories(&self) -> Result<Vec<Memory>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT uid, text, created_ms FROM memories ORDER BY id DESC").map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map([], |r| Ok(Memory { id: r.get(0)?, text: r.get(1)?, created_ms: r.get::<_, i64>(2)? as u64 }))
            .map_err(|e| self.sql_err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql_err(e))
    }

    fn resolve_memory(&self, prefix: &str) -> Result<String, StoreError> {
        match self.id_by_prefix("memories", "uid", prefix)? {
            IdMatch::One(id) => Ok(id),
            // A prefix of several is not one memory: give more of its id.
            IdMatch::None | IdMatch::Many => Err(StoreError::NoMemory(prefix.into())),
        }
    }

    pub fn edit_memory(&self, id_or_prefix: &str, text: &str) -> Result<(), StoreError> {
        let id = self.resolve_memory(id_or_prefix)?;
        self.conn.execute("UPDATE memories SET text = ?2 WHERE uid = ?1", params![id, text.trim()]).map_err(|e| self.sql_err(e))?;
        self.checkpoint_after_delete()
    }

    /// Deletes a memory for real (zeroed pages, its words gone from the index, the log emptied).
    pub fn delete_memory(&self, id_or_prefix: &str) -> Result<String, StoreError> {
        let id = self.resolve_memory(id_or_prefix)?;
        self.conn.execute("DELETE FROM memories WHERE uid = ?1", [&id]).map_err(|e| self.sql_err(e))?;
        self.checkpoint_after_delete()?;
        Ok(id)
    }

    /// The memories most relevant to `text` (BM25 over their words), at most `limit`.
    pub fn relevant_memories(&self, text: &str, limit: usize) -> Result<Vec<Memory>, StoreError> {
        let Some(query) = any_word_query(text) else { return Ok(Vec::new()) };
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT m.uid, m.text, m.created_ms FROM memories_fts JOIN memories m ON m.id = memories_fts.rowid
                 WHERE memories_fts MATCH ?1 ORDER BY bm25(memories_fts) LIMIT ?2",
            )
            .map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map(params![query, limit as i64], |r| Ok(Memory { id: r.get(0)?, text: r.get(1)?, created_ms: r.get::<_, i64>(2)? as u64 }))
            .map_err(|e| self.sql_err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql_err(e))
    }

    /// Whether requests carry memories (on unless turned off).
    pub fn memory_enabled(&self) -> Result<bool, StoreError> {
        Ok(self.setting(MEMORY_SETTING)?.and_then(|v| v.as_bool()).unwrap_or(true))
    }

    pub fn set_memory_enabled(&self, on: bool) -> Result<(), StoreError> {
        self.set_setting(MEMORY_SETTING, &serde_json::json!(on))
    }
}

#[cfg(test)]
mod tests {
    use super::any_word_query;

    #[test]
    fn queries_keep_meaningful_words_quoted() {
        assert_eq!(any_word_query("What is my dog called?").as_deref(), Some("\"called\" OR \"dog\""));
        assert_eq!(any_word_query("a an it"), None);
        assert_eq!(any_word_query("\"rm\" OR NEAR(x)").as_deref(), Some("\"near\""));
    }
}
