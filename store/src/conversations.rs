//! Conversations and their messages, including replies that are still streaming.

use std::time::{Duration, Instant};

use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use crate::store::{now_ms, Store, IdMatch};
use crate::StoreError;

/// How often a streaming reply's text is saved: often enough that a crash loses at most this
/// much, rarely enough that saving does not slow the stream (each save is a synced commit).
pub const DRAFT_SAVE_INTERVAL: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// A user's message, stored before it was sent.
    Sent,
    /// A reply still arriving (or whose writer is still running).
    Streaming,
    /// A reply whose receipt verified against a hardware enclave's attestation.
    Verified,
    /// A reply whose receipt verified, from a development (not hardware-protected) enclave.
    Development,
    /// A reply that failed verification; its text was withdrawn and is not kept.
    Failed,
    /// A reply cut short (stopped, or Sotto closed): the text so far, never verified as a whole.
    Unfinished,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Streaming => "streaming",
            Self::Verified => "verified",
            Self::Development => "development",
            Self::Failed => "failed",
            Self::Unfinished => "unfinished",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "sent" => Self::Sent,
            "streaming" => Self::Streaming,
            "verified" => Self::Verified,
            "development" => Self::Development,
            "failed" => Self::Failed,
            _ => Self::Unfinished,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ConversationSummary {
    pub id: String,
    pub title: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub messages: i64,
    /// The project it belongs to, if any.
    pub project_id: Option<String>,
    /// Whether its requests ask the enclave to search the web.
    pub web_search: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub uid: String,
    pub role: String,
    pub content: String,
    pub status: MessageStatus,
    pub status_detail: Option<String>,
    pub model: Option<String>,
    pub receipt: Option<serde_json::Value>,
    pub created_ms: i64,
    pub completed_ms: Option<i64>,
    /// Came from an archive: its status and receipt were not checked on this device.
    pub imported: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Conversation {
    #[serde(flatten)]
    pub summary: ConversationSummary,
    pub messages: Vec<Message>,
}

/// A reply being received. Its text is saved now and then so that a crash leaves it marked
/// unfinished instead of silently lost.
pub struct ReplyDraft {
    uid: String,
    conversation_id: String,
    text: String,
    saved_len: usize,
    last_save: Option<Instant>,
}

impl ReplyDraft {
    pub fn uid(&self) -> &str {
        &self.uid
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// How a reply ended.
pub enum ReplyOutcome {
    /// `proof`: what the verification used, kept to check it again later (see `proofs`).
    Verified { text: String, model: String, receipt: serde_json::Value, development: bool, proof: Option<serde_json::Value> },
    /// Verification failed: the text is dropped, the reason kept.
    Failed { reason: String },
    /// Cut short: the text so far is kept and marked unfinished.
    Unfinished { reason: String },
}

const SUMMARY_SQL: &str = "SELECT c.id, c.title, c.created_ms, c.updated_ms,
        (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id), c.project_id, c.web_search FROM conversations c";

fn summary_from(r: &Row) -> rusqlite::Result<ConversationSummary> {
    Ok(ConversationSummary {
        id: r.get(0)?,
        title: r.get(1)?,
        created_ms: r.get(2)?,
        updated_ms: r.get(3)?,
        messages: r.get(4)?,
        project_id: r.get(5)?,
        web_search: r.get(6)?,
    })
}

fn message_from(r: &Row) -> rusqlite::Result<Message> {
    let receipt: Option<String> = r.get(6)?;
    Ok(Message {
        uid: r.get(0)?,
        role: r.get(1)?,
        content: r.get(2)?,
        status: MessageStatus::parse(&r.get::<_, String>(3)?),
        status_detail: r.get(4)?,
        model: r.get(5)?,
        receipt: receipt.and_then(|t| serde_json::from_str(&t).ok()),
        created_ms: r.get(7)?,
        completed_ms: r.get(8)?,
        imported: r.get(9)?,
    })
}

fn new_uid() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A one-line title from the first words of the first message.
pub fn title_from(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut title: String = line.chars().take(60).collect();
    if line.chars().count() > 60 {
        title.push('…');
    }
    if title.is_empty() {
        "Untitled".into()
    } else {
        title
    }
}

impl Store {
    pub fn new_conversation(&self, title: &str) -> Result<String, StoreError> {
        let id = new_uid();
        let now = now_ms();
        self.conn
            .execute("INSERT INTO conversations (id, title, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?3)", params![id, title, now])
            .map_err(|e| self.sql_err(e))?;
        Ok(id)
    }

    /// Newest first.
    pub fn list_conversations(&self) -> Result<Vec<ConversationSummary>, StoreError> {
        let mut stmt = self.conn.prepare(&format!("{SUMMARY_SQL} ORDER BY c.updated_ms DESC, c.rowid DESC")).map_err(|e| self.sql_err(e))?;
        let rows = stmt.query_map([], summary_from).map_err(|e| self.sql_err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql_err(e))
    }

    /// The full id of the one conversation whose id starts with `prefix`.
    pub fn resolve_conversation(&self, prefix: &str) -> Result<String, StoreError> {
        match self.id_by_prefix("conversations", "id", prefix)? {
            IdMatch::One(id) => Ok(id),
            IdMatch::None => Err(StoreError::NoConversation(prefix.into())),
            IdMatch::Many => Err(StoreError::AmbiguousConversation(prefix.into())),
        }
    }

    pub fn conversation(&self, id_or_prefix: &str) -> Result<Conversation, StoreError> {
        let id = self.resolve_conversation(id_or_prefix)?;
        let summary = self
            .conn
            .query_row(&format!("{SUMMARY_SQL} WHERE c.id = ?1"), [&id], summary_from)
            .map_err(|e| self.sql_err(e))?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT uid, role, content, status, status_detail, model, receipt, created_ms, completed_ms, imported
                 FROM messages WHERE conversation_id = ?1 ORDER BY id",
            )
            .map_err(|e| self.sql_err(e))?;
        let messages = stmt.query_map([&id], message_from).map_err(|e| self.sql_err(e))?.collect::<Result<_, _>>().map_err(|e| self.sql_err(e))?;
        Ok(Conversation { summary, messages })
    }

    /// Turns web search on or off for a conversation; later requests in it obey.
    pub fn set_conversation_web_search(&self, id_or_prefix: &str, on: bool) -> Result<(), StoreError> {
        let id = self.resolve_conversation(id_or_prefix)?;
        self.conn.execute("UPDATE conversations SET web_search = ?2 WHERE id = ?1", params![id, on]).map_err(|e| self.sql_err(e))?;
        Ok(())
    }

    pub fn conversation_web_search(&self, id_or_prefix: &str) -> Result<bool, StoreError> {
        let id = self.resolve_conversation(id_or_prefix)?;
        self.conn.query_row("SELECT web_search FROM conversations WHERE id = ?1", [&id], |r| r.get(0)).map_err(|e| self.sql_err(e))
    }

    pub fn rename_conversation(&self, id_or_prefix: &str, title: &str) -> Result<(), StoreError> {
        let id = self.resolve_conversation(id_or_prefix)?;
        self.conn.execute("UPDATE conversations SET title = ?2 WHERE id = ?1", params![id, title]).map_err(|e| self.sql_err(e))?;
        // The old title's page image must not linger in the log either.
        self.checkpoint_after_delete()
    }

    /// Deletes a conversation and everything in it, for real: freed pages are zeroed
    /// (`secure_delete`), the search index drops its tokens (FTS5 `secure-delete`), and the
    /// write-ahead log holding the old pages is emptied.
    pub fn delete_conversation(&self, id_or_prefix: &str) -> Result<String, StoreError> {
        let id = self.resolve_conversation(id_or_prefix)?;
        self.atomically(|tx| {
            tx.execute("DELETE FROM conversations WHERE id = ?1", [&id])?;
            // The ledger keeps that requests were made, not which conversation they were for.
            tx.execute("UPDATE network_ledger SET conversation_id = NULL WHERE conversation_id = ?1", [&id])
        })?;
        self.checkpoint_after_delete()?;
        Ok(id)
    }

    /// Deletes a message and every later one of its conversation (regenerate, edit and resend),
    /// for real, as [`Store::delete_conversation`] does. Returns how many were deleted.
    pub fn delete_messages_from(&self, conversation_id: &str, message_uid: &str) -> Result<usize, StoreError> {
        let n = self
            .conn
            .execute(
                "DELETE FROM messages WHERE conversation_id = ?1
                   AND id >= (SELECT id FROM messages WHERE uid = ?2 AND conversation_id = ?1)",
                [conversation_id, message_uid],
            )
            .map_err(|e| self.sql_err(e))?;
        if n == 0 {
            return Err(StoreError::NoMessage(message_uid.to_string()));
        }
        self.checkpoint_after_delete()?;
        Ok(n)
    }

    /// Stores a user's message. Durable when this returns (a synced commit), so it is safe to
    /// show it as sent.
    pub fn add_user_message(&self, conversation_id: &str, text: &str) -> Result<String, StoreError> {
        self.insert_message(conversation_id, "user", text, crate::MessageStatus::Sent, None)
    }

    fn insert_message(&self, conversation_id: &str, role: &str, text: &str, status: MessageStatus, model: Option<&str>) -> Result<String, StoreError> {
        let uid = new_uid();
        let now = now_ms();
        let completed = (status != MessageStatus::Streaming).then_some(now);
        self.atomically(|tx| {
            tx.prepare_cached(
                "INSERT INTO messages (uid, conversation_id, role, content, status, model, writer_pid, created_ms, completed_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![uid, conversation_id, role, text, status.as_str(), model, std::process::id(), now, completed])?;
            tx.prepare_cached("UPDATE conversations SET updated_ms = ?2 WHERE id = ?1")?.execute(params![conversation_id, now])
        })?;
        Ok(uid)
    }

    /// Starts a reply: stored at once as `streaming`, so a crash leaves a trace of it.
    pub fn begin_reply(&self, conversation_id: &str, model: Option<&str>) -> Result<ReplyDraft, StoreError> {
        let uid = self.insert_message(conversation_id, "assistant", "", MessageStatus::Streaming, model)?;
        Ok(ReplyDraft { uid, conversation_id: conversation_id.into(), text: String::new(), saved_len: 0, last_save: None })
    }

    /// Adds streamed text; saves the draft when the last save is older than [`DRAFT_SAVE_INTERVAL`].
    pub fn extend_reply(&self, draft: &mut ReplyDraft, piece: &str) -> Result<(), StoreError> {
        draft.text.push_str(piece);
        let due = draft.last_save.is_none_or(|t| t.elapsed() >= DRAFT_SAVE_INTERVAL);
        if due && draft.text.len() > draft.saved_len {
            self.conn
                .execute("UPDATE messages SET content = ?2 WHERE uid = ?1", params![draft.uid, draft.text])
                .map_err(|e| self.sql_err(e))?;
            draft.saved_len = draft.text.len();
            draft.last_save = Some(Instant::now());
        }
        Ok(())
    }

    pub fn finish_reply(&self, draft: ReplyDraft, outcome: ReplyOutcome) -> Result<(), StoreError> {
        let (content, status, detail, model, receipt, proof) = match outcome {
            ReplyOutcome::Verified { text, model, receipt, development, proof } => {
                let status = if development { MessageStatus::Development } else { MessageStatus::Verified };
                (text, status, None, Some(model), Some(receipt.to_string()), proof.map(|p| p.to_string()))
            }
            ReplyOutcome::Failed { reason } => (String::new(), MessageStatus::Failed, Some(reason), None, None, None),
            ReplyOutcome::Unfinished { reason } => (draft.text.clone(), MessageStatus::Unfinished, Some(reason), None, None, None),
        };
        let now = now_ms();
        self.atomically(|tx| {
            tx.execute(
                "UPDATE messages SET content = ?2, status = ?3, status_detail = ?4, model = coalesce(?5, model),
                     receipt = ?6, completed_ms = ?7 WHERE uid = ?1",
                params![draft.uid, content, status.as_str(), detail, model, receipt, now],
            )?;
            tx.execute("UPDATE conversations SET updated_ms = ?2 WHERE id = ?1", params![draft.conversation_id, now])?;
            if let Some(proof) = &proof {
                tx.execute("INSERT OR REPLACE INTO proofs (message_uid, material) VALUES (?1, ?2)", params![draft.uid, proof])?;
            }
            Ok(())
        })
    }

    /// What a reply's verification used (stored with it), to check it again.
    pub fn proof(&self, message_uid: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let text: Option<String> = self
            .conn
            .query_row("SELECT material FROM proofs WHERE message_uid = ?1", [message_uid], |r| r.get(0))
            .optional()
            .map_err(|e| self.sql_err(e))?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Tampered { path: Self::db_path(self.dir()), detail: format!("a stored proof is not JSON ({e})") }))
            .transpose()
    }

    /// Replies left `streaming` by a process that is no longer running (a crash, a kill) are
    /// marked unfinished, keeping the text saved so far.
    pub(crate) fn recover_interrupted_replies(&self) -> Result<usize, StoreError> {
        let mut stmt = self.conn.prepare("SELECT uid, writer_pid FROM messages WHERE status = 'streaming'").map_err(|e| self.sql_err(e))?;
        let rows: Vec<(String, Option<i64>)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(|e| self.sql_err(e))?.collect::<Result<_, _>>().map_err(|e| self.sql_err(e))?;
        let mut recovered = 0;
        for (uid, pid) in rows {
            if pid.is_some_and(process_is_running) {
                continue;
            }
            recovered += self
                .conn
                .execute(
                    "UPDATE messages SET status = 'unfinished', status_detail = 'Sotto closed before this reply finished', completed_ms = ?2 WHERE uid = ?1",
                    params![uid, now_ms()],
                )
                .map_err(|e| self.sql_err(e))?;
        }
        Ok(recovered)
    }

    /// The verified turns of a conversation, as OpenAI-format messages for a follow-up request.
    /// Failed and unfinished replies are left out: the model only sees what was verified.
    pub fn chat_context(&self, id_or_prefix: &str) -> Result<(String, Vec<serde_json::Value>), StoreError> {
        let c = self.conversation(id_or_prefix)?;
        let turns = c
            .messages
            .iter()
            // Imported turns were never checked here: they are shown, labelled, but not sent.
            .filter(|m| !m.imported && matches!(m.status, MessageStatus::Sent | MessageStatus::Verified | MessageStatus::Development))
            .map(|m| serde_json::json!({"role": m.role, "content": m.content}))
            .collect();
        Ok((c.summary.id, turns))
    }
}

#[cfg(unix)]
fn process_is_running(pid: i64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    if pid <= 0 {
        return false;
    }
    // Signal 0 checks existence only. EPERM means it exists but belongs to someone else.
    // SAFETY: kill with signal 0 sends nothing; it has no memory-safety preconditions.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_is_running(_pid: i64) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use crate::{KdfParams, MessageStatus, Store, StoreError, Unlock};

    /// A full disk (SQLite told it may not grow) refuses the write in words and keeps every
    /// earlier message; once there is room again, writing works.
    #[test]
    fn a_full_disk_refuses_the_write_in_words_and_loses_nothing_saved() {
        let tmp = tempfile::tempdir().unwrap();
        let open = || Store::open_or_create(tmp.path(), &Unlock::Passphrase("p"), KdfParams::insecure_for_tests()).unwrap();
        let store = open();
        let id = store.new_conversation("t").unwrap();
        store.add_user_message(&id, "kept before the disk filled").unwrap();
        let pages: i64 = store.conn.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
        store.conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(())).unwrap();
        let big = "x".repeat(1 << 20);
        let e = store.add_user_message(&id, &big).unwrap_err();
        assert!(matches!(e, StoreError::DiskFull { .. }), "{e:?}");
        assert!(e.to_string().contains("is full") && e.to_string().contains("nothing saved before is lost"), "{e}");
        drop(store);
        let store = open();
        let messages = store.conversation(&id).unwrap().messages;
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].content, "kept before the disk filled");
        store.add_user_message(&id, "room again").unwrap();
    }

    #[test]
    fn a_reply_left_streaming_by_a_dead_process_is_marked_unfinished_with_its_saved_text() {
        let tmp = tempfile::tempdir().unwrap();
        let open = || Store::open_or_create(tmp.path(), &Unlock::Passphrase("p"), KdfParams::insecure_for_tests()).unwrap();
        let store = open();
        let id = store.new_conversation("t").unwrap();
        store.add_user_message(&id, "question").unwrap();
        let mut live = store.begin_reply(&id, None).unwrap();
        store.extend_reply(&mut live, "still ").unwrap();
        let mut dead = store.begin_reply(&id, None).unwrap();
        store.extend_reply(&mut dead, "partial answer").unwrap();
        // The second draft's writer has exited.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        store.conn.execute("UPDATE messages SET writer_pid = ?1 WHERE uid = ?2", rusqlite::params![gone, dead.uid()]).unwrap();
        drop(store);

        let store = open();
        let m = store.conversation(&id).unwrap().messages;
        assert_eq!(m[1].status, MessageStatus::Streaming, "this process still runs, so its reply is left alone");
        assert_eq!(m[2].status, MessageStatus::Unfinished);
        assert_eq!(m[2].content, "partial answer");
        assert!(m[2].status_detail.as_deref().unwrap().contains("closed"));
    }

    #[test]
    fn drafts_are_saved_at_most_every_interval() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(tmp.path(), &Unlock::Passphrase("p"), KdfParams::insecure_for_tests()).unwrap();
        let id = store.new_conversation("t").unwrap();
        let mut d = store.begin_reply(&id, None).unwrap();
        store.extend_reply(&mut d, "a").unwrap();
        store.extend_reply(&mut d, "b").unwrap();
        let saved = |s: &Store| s.conversation(&id).unwrap().messages[0].content.clone();
        assert_eq!(saved(&store), "a", "the first piece is saved at once, the next waits");
        std::thread::sleep(super::DRAFT_SAVE_INTERVAL);
        store.extend_reply(&mut d, "c").unwrap();
        assert_eq!(saved(&store), "abc");
    }
}
