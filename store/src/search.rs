//! Full-text search over every message (SQLite FTS5 inside the encrypted database, so the index
//! is encrypted with everything else).

use rusqlite::params;
use serde::Serialize;

use crate::store::Store;
use crate::StoreError;

/// Marks where a match starts in [`SearchHit::snippet`]. Control characters, because messages
/// are Markdown: `**` (or any printable mark) would be confused with the text's own emphasis.
pub const MATCH_START: char = '\u{2}';
/// Marks where a match ends in [`SearchHit::snippet`].
pub const MATCH_END: char = '\u{3}';

#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub conversation_id: String,
    pub conversation_title: String,
    pub message_uid: String,
    pub role: String,
    /// A few words around the match, each match between [`MATCH_START`] and [`MATCH_END`].
    pub snippet: String,
    pub created_ms: i64,
}

/// Turns what a person typed into an FTS5 query: every word must appear (each quoted, so
/// punctuation and FTS operators are taken literally), the last one as a prefix.
pub fn fts_query(text: &str) -> Result<String, StoreError> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return Err(StoreError::EmptySearch);
    }
    let last = words.len() - 1;
    Ok(words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let quoted = format!("\"{}\"", w.replace('"', "\"\""));
            if i == last {
                quoted + "*"
            } else {
                quoted
            }
        })
        .collect::<Vec<_>>()
        .join(" "))
}

impl Store {
    /// Newest matches first, at most `limit`. Newest-first lets FTS5 walk its index backwards
    /// and stop after `limit` rows, so a word found in most of 100,000 messages costs no more
    /// than a rare one (ranking by BM25 would score and snippet every match first).
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<SearchHit>, StoreError> {
        self.search_within(text, limit, None)
    }

    /// As [`Store::search`], within one project's conversations when `project_id` is given.
    pub(crate) fn search_within(&self, text: &str, limit: usize, project_id: Option<&str>) -> Result<Vec<SearchHit>, StoreError> {
        let query = fts_query(text)?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT m.conversation_id, c.title, m.uid, m.role,
                        snippet(messages_fts, 0, char(2), char(3), '…', 12), m.created_ms
                 FROM messages_fts
                 CROSS JOIN messages m ON m.id = messages_fts.rowid
                 CROSS JOIN conversations c ON c.id = m.conversation_id
                 WHERE messages_fts MATCH ?1 AND (?3 IS NULL OR c.project_id = ?3)
                 ORDER BY messages_fts.rowid DESC LIMIT ?2",
            )
            .map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map(params![query, limit as i64, project_id], |r| {
                Ok(SearchHit {
                    conversation_id: r.get(0)?,
                    conversation_title: r.get(1)?,
                    message_uid: r.get(2)?,
                    role: r.get(3)?,
                    snippet: r.get(4)?,
                    created_ms: r.get(5)?,
                })
            })
            .map_err(|e| self.sql_err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql_err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn words_are_quoted_and_the_last_is_a_prefix() {
        assert_eq!(fts_query("  quarterly  sales ").unwrap(), "\"quarterly\" \"sales\"*");
        assert_eq!(fts_query("say \"hi\" OR x-y").unwrap(), "\"say\" \"\"\"hi\"\"\" \"OR\" \"x-y\"*");
        assert!(fts_query("   ").is_err());
    }
}
