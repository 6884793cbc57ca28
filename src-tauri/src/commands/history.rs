//! The sidebar: stored conversations, opening one, rename, delete, search.

use serde::Serialize;
use serde_json::Value;
use sotto_core::recheck::ReplyCheck;
use sotto_core::store::{Conversation, ConversationSummary, SearchHit};
use tauri::State;

use crate::error::CommandResult;
use crate::state::AppState;

#[tauri::command]
pub fn list_conversations(state: State<'_, AppState>) -> CommandResult<Vec<ConversationSummary>> {
    state.with_store(|s| s.list_conversations())
}

#[derive(Serialize)]
pub struct MessageView {
    uid: String,
    role: String,
    content: String,
    status: &'static str,
    detail: Option<String>,
    model: Option<String>,
    created_ms: i64,
    /// The receipt without the request it covers (that comes with `get_receipt`).
    receipt: Option<Value>,
}

#[derive(Serialize)]
pub struct ConversationView {
    id: String,
    title: String,
    messages: Vec<MessageView>,
    /// Whether its requests ask the enclave to search the web (remembered).
    web_search: bool,
    /// The project it belongs to, by name.
    project: Option<String>,
}

#[tauri::command]
pub fn open_conversation(state: State<'_, AppState>, id: String) -> CommandResult<ConversationView> {
    let c: Conversation = state.with_store(|s| s.conversation(&id))?;
    let messages = c
        .messages
        .into_iter()
        .map(|m| MessageView {
            // An imported reply's status was never checked here: it says so instead.
            status: if m.imported { "imported" } else { m.status.as_str() },
            detail: if m.imported {
                Some(format!("From an imported archive (marked “{}” there). Its receipt was not checked on this device, and it is not sent with new messages.", m.status.as_str()))
            } else {
                m.status_detail
            },
            uid: m.uid,
            role: m.role,
            content: m.content,
            model: m.model,
            created_ms: m.created_ms,
            receipt: m.receipt.map(|mut r| {
                if let Some(o) = r.as_object_mut() {
                    o.remove("sent_request");
                }
                r
            }),
        })
        .collect();
    let project = match &c.summary.project_id {
        Some(id) => Some(state.with_store(|s| s.project_name(id))?),
        None => None,
    };
    Ok(ConversationView { id: c.summary.id, title: c.summary.title, messages, web_search: c.summary.web_search, project })
}

#[tauri::command]
pub fn rename_conversation(state: State<'_, AppState>, id: String, title: String) -> CommandResult<()> {
    let title = title.trim();
    if title.is_empty() {
        return Err(crate::error::CommandError::Other("a conversation needs a name".into()));
    }
    state.with_store(|s| s.rename_conversation(&id, title))
}

#[tauri::command]
pub fn delete_conversation(state: State<'_, AppState>, id: String) -> CommandResult<()> {
    state.with_store(|s| s.delete_conversation(&id)).map(|_| ())
}

#[tauri::command]
pub fn search_history(state: State<'_, AppState>, text: String) -> CommandResult<Vec<SearchHit>> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    state.with_store(|s| s.search(&text, 50))
}

/// Checks one stored reply again, offline, from what was kept with it.
#[tauri::command]
pub async fn recheck_reply(state: State<'_, AppState>, conversation_id: String, message_uid: String) -> CommandResult<ReplyCheck> {
    let store = state.store_connection()?;
    Ok(super::blocking(move || sotto_core::recheck::recheck_uid(&store, &conversation_id, &message_uid)).await??)
}

/// Checks every stored reply again, offline.
#[tauri::command]
pub async fn recheck_history(state: State<'_, AppState>) -> CommandResult<Vec<ReplyCheck>> {
    let store = state.store_connection()?;
    Ok(super::blocking(move || sotto_core::recheck::recheck_history(&store, &[])).await??)
}

/// What left this device since `since_ms`: every request Sotto made, from the ledger.
#[tauri::command]
pub fn network_activity(state: State<'_, AppState>, since_ms: u64) -> CommandResult<Vec<sotto_core::store::NetworkRecord>> {
    state.with_store(|s| s.network_ledger(since_ms))
}
