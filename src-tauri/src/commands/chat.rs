//! Chat: send a prompt (streaming authenticated text to the UI), stop, models, a reply's receipt.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use base64::Engine;
use sotto_core::chat::{exchange, ChatEnd, ChatTurn, ImagePart};
use sotto_core::proof::receipt_json;
use tauri::ipc::Channel;
use tauri::State;
use tokio_util::sync::CancellationToken;

use crate::error::{CommandError, CommandResult};
use crate::state::{lock, AppState};

#[derive(Deserialize)]
pub struct SendRequest {
    /// Chosen by the UI, so that it can stop this reply.
    request_id: String,
    conversation_id: Option<String>,
    prompt: String,
    model: Option<String>,
    /// Regenerate / edit and resend: this message and everything after it are deleted first.
    replace_from: Option<String>,
    /// Images (base64) sent as `image_url` parts, for a model that reads images.
    #[serde(default)]
    images: Vec<String>,
    /// The conversation's web search switch when the user changed it (remembered).
    #[serde(default)]
    web_search: Option<bool>,
    /// Start the conversation in this project (its name).
    #[serde(default)]
    project: Option<String>,
    /// What the user typed, without attached files' text: what a web search looks for.
    #[serde(default)]
    search_query: Option<String>,
}

#[derive(Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChatEvent {
    /// Authenticated text, provisional until the reply verifies.
    Text { piece: String },
}

#[derive(Serialize)]
pub struct SendResult {
    conversation_id: Option<String>,
    /// verified, development, failed or unfinished.
    status: &'static str,
    /// Why it failed or stopped, in plain words.
    reason: Option<String>,
    /// The verified text; empty when it failed.
    text: String,
    receipt: Option<Value>,
    warnings: Vec<String>,
    /// The memories that went with the request (the window shows them under the prompt).
    memories: Vec<sotto_core::store::Memory>,
    /// What of a project went with it, in one line.
    project: Option<String>,
    web_search: bool,
    /// Facts the reply proposes to keep; kept only if the user says so.
    proposed_memories: Vec<String>,
}

#[tauri::command]
pub async fn send_message(state: State<'_, AppState>, request: SendRequest, events: Channel<ChatEvent>) -> CommandResult<SendResult> {
    if request.prompt.trim().is_empty() {
        return Err(CommandError::Other("type a message first".into()));
    }
    let client = state.client()?;
    // Without a history (locked or unavailable) the exchange still happens, unrecorded.
    let store = state.store_connection().ok();
    if let (Some(store), Some(conversation), Some(from)) = (&store, &request.conversation_id, &request.replace_from) {
        store.delete_messages_from(conversation, from)?;
    }
    let images = request
        .images
        .iter()
        .map(|data| {
            base64::engine::general_purpose::STANDARD
                .decode(data.as_bytes())
                .ok()
                .and_then(ImagePart::sniff)
                .ok_or_else(|| CommandError::Other("an attached image is not a PNG, JPEG, GIF or WebP file; nothing was sent".into()))
        })
        .collect::<CommandResult<Vec<_>>>()?;
    let stop = CancellationToken::new();
    lock(&state.replies).insert(request.request_id.clone(), stop.clone());
    let turn = ChatTurn {
        conversation_id: request.conversation_id.clone().filter(|_| store.is_some()),
        prompt: request.prompt.clone(),
        model: request.model.clone(),
        max_tokens: None,
        no_stream: false,
        images,
        project: request.project.clone().filter(|p| !p.is_empty()),
        web_search: request.web_search,
        search_query: request.search_query.clone(),
        // The window shows which memories went under the prompt. OpenGradient's TEEs forward
        // the prompt to a third-party provider, so facts are never added to it.
        recall: !client.is_opengradient(),
    };
    // The history's connection is not shareable between threads, so the exchange runs on a
    // thread of its own from start to end.
    let stop_for_run = stop.clone();
    let outcome = super::blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| CommandError::Other(e.to_string()))?;
        let mut on_text = |piece: &str| {
            let _ = events.send(ChatEvent::Text { piece: piece.to_string() });
        };
        let outcome = runtime.block_on(exchange(&client, store.as_ref(), &turn, &mut on_text, &stop_for_run));
        Ok::<_, CommandError>((outcome, store.is_some()))
    })
    .await
    .and_then(|r| r);
    lock(&state.replies).remove(&request.request_id);
    let (outcome, stored) = outcome?;
    let outcome = outcome?;
    let mut warnings = outcome.warnings;
    if !stored {
        warnings.push("the history is not open, so this exchange is not stored".into());
    }
    let (status, reason, text, receipt) = match outcome.end {
        ChatEnd::Verified(reply) => {
            let status = if sotto_core::proof::is_development(&reply) { "development" } else { "verified" };
            (status, None, reply.text.clone(), Some(receipt_json(&reply)))
        }
        ChatEnd::Failed(e) => ("failed", Some(e.to_string()), String::new(), None),
        ChatEnd::Stopped => ("unfinished", Some("stopped before the end; never verified as a whole".into()), String::new(), None),
    };
    Ok(SendResult {
        conversation_id: outcome.conversation_id,
        status,
        reason,
        text,
        receipt,
        warnings,
        memories: outcome.memories,
        project: outcome.project.map(|p| p.summary()),
        web_search: outcome.web_search,
        proposed_memories: outcome.proposed_memories,
    })
}

#[tauri::command]
pub fn stop_reply(state: State<'_, AppState>, request_id: String) {
    if let Some(stop) = lock(&state.replies).get(&request_id) {
        stop.cancel();
    }
}

#[derive(Serialize)]
pub struct Models {
    models: Vec<String>,
    /// Models that make images, with what each one is (from the same signed list).
    image_models: Vec<sotto_core::private_inference::ModelInfo>,
    /// Chat models that read images too.
    sees_images: Vec<String>,
    /// The model list itself came through the private path with a verified receipt.
    receipt: Value,
}

#[tauri::command]
pub async fn list_models(state: State<'_, AppState>) -> CommandResult<Models> {
    let client = state.client()?;
    let (catalog, reply) = client.catalog().await?;
    let (images, chat): (Vec<_>, Vec<_>) = catalog.into_iter().partition(|m| m.kind == sotto_core::private_inference::ModelKind::Image);
    Ok(Models {
        sees_images: chat.iter().filter(|m| m.accepts_images).map(|m| m.id.clone()).collect(),
        models: chat.into_iter().map(|m| m.id).collect(),
        image_models: images,
        receipt: reply.as_ref().map(receipt_json).unwrap_or(Value::Null),
    })
}

/// A stored reply's whole receipt, including the exact request that left the device.
#[tauri::command]
pub fn get_receipt(state: State<'_, AppState>, conversation_id: String, message_uid: String) -> CommandResult<Value> {
    let conversation = state.with_store(|s| s.conversation(&conversation_id))?;
    let message = conversation
        .messages
        .into_iter()
        .find(|m| m.uid == message_uid)
        .ok_or_else(|| CommandError::Other("that reply is no longer in the history".into()))?;
    message.receipt.ok_or_else(|| CommandError::Other("this reply has no receipt: it was not verified".into()))
}
