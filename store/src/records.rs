//! The other things Sotto keeps: attachments, generated images, agent steps and settings.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use crate::store::{now_ms, Store};
use crate::StoreError;

#[derive(Debug, Clone, Serialize)]
pub struct Attachment {
    pub uid: String,
    pub name: String,
    pub media_type: String,
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageRecord {
    pub conversation_id: Option<String>,
    pub prompt: String,
    pub model: Option<String>,
    pub media_type: String,
    #[serde(skip)]
    pub bytes: Vec<u8>,
    pub receipt: Option<serde_json::Value>,
}

/// One step of an agent run: the tool, what went in and came out, what it made, how long it
/// took, and the exact bytes that were sent to the model for it.
#[derive(Debug, Clone, Serialize)]
pub struct AgentStepRecord {
    pub conversation_id: Option<String>,
    pub run_id: String,
    pub step: i64,
    pub tool: String,
    pub input: String,
    pub output: String,
    pub files: Vec<String>,
    pub duration_ms: i64,
    #[serde(skip)]
    pub sent_bytes: Option<Vec<u8>>,
}

fn uid() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Store {
    pub fn add_attachment(&self, message_uid: &str, name: &str, media_type: &str, bytes: &[u8]) -> Result<String, StoreError> {
        let id = uid();
        self.conn
            .execute(
                "INSERT INTO attachments (uid, message_uid, name, media_type, bytes, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, message_uid, name, media_type, bytes, now_ms()],
            )
            .map_err(|e| self.sql_err(e))?;
        Ok(id)
    }

    pub fn attachments(&self, message_uid: &str) -> Result<Vec<Attachment>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT uid, name, media_type, bytes FROM attachments WHERE message_uid = ?1 ORDER BY created_ms, uid")
            .map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map([message_uid], |r| Ok(Attachment { uid: r.get(0)?, name: r.get(1)?, media_type: r.get(2)?, bytes: r.get(3)? }))
            .map_err(|e| self.sql_err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql_err(e))
    }

    pub fn add_image(&self, image: &ImageRecord) -> Result<String, StoreError> {
        let id = uid();
        self.conn
            .execute(
                "INSERT INTO images (uid, conversation_id, prompt, model, media_type, bytes, receipt, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    id,
                    image.conversation_id,
                    image.prompt,
                    image.model,
                    image.media_type,
                    image.bytes,
                    image.receipt.as_ref().map(|r| r.to_string()),
                    now_ms()
                ],
            )
            .map_err(|e| self.sql_err(e))?;
        Ok(id)
    }

    pub fn record_agent_step(&self, s: &AgentStepRecord) -> Result<String, StoreError> {
        let id = uid();
        let files = serde_json::to_string(&s.files).unwrap_or_else(|_| "[]".into());
        self.conn
            .execute(
                "INSERT INTO agent_steps (uid, conversation_id, run_id, step, tool, input, output, files, duration_ms, sent_bytes, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![id, s.conversation_id, s.run_id, s.step, s.tool, s.input, s.output, files, s.duration_ms, s.sent_bytes, now_ms()],
            )
            .map_err(|e| self.sql_err(e))?;
        Ok(id)
    }

    pub fn agent_steps(&self, run_id: &str) -> Result<Vec<AgentStepRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT conversation_id, run_id, step, tool, input, output, files, duration_ms, sent_bytes
                 FROM agent_steps WHERE run_id = ?1 ORDER BY step",
            )
            .map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map([run_id], |r| {
                let files: String = r.get(6)?;
                Ok(AgentStepRecord {
                    conversation_id: r.get(0)?,
                    run_id: r.get(1)?,
                    step: r.get(2)?,
                    tool: r.get(3)?,
                    input: r.get(4)?,
                    output: r.get(5)?,
                    files: serde_json::from_str(&files).unwrap_or_default(),
                    duration_ms: r.get(7)?,
                    sent_bytes: r.get(8)?,
                })
            })
            .map_err(|e| self.sql_err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql_err(e))
    }

    pub fn setting(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let text: Option<String> =
            self.conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0)).optional().map_err(|e| self.sql_err(e))?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    pub fn set_setting(&self, key: &str, value: &serde_json::Value) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value.to_string()],
            )
            .map_err(|e| self.sql_err(e))?;
        Ok(())
    }
}
