//! One chat exchange, as every front end runs it: store the prompt, seal and send the request,
//! hand on authenticated text as it arrives, then record how the reply ended.

use serde_json::{json, Value};
use sotto_private_inference::{ledger, InferenceError, PrivateClient, ReplyEvent, VerifiedReply};
use sotto_store::{Store, StoreError};
use tokio_util::sync::CancellationToken;

use crate::history::Recorder;

/// What to send.
#[derive(Debug, Clone, Default)]
pub struct ChatTurn {
    /// Continue this stored conversation (its verified turns are sent too); `None` starts one.
    pub conversation_id: Option<String>,
    pub prompt: String,
    pub model: Option<String>,
    pub max_tokens: Option<u32>,
    /// Ask for the whole reply at once instead of a stream (it is verified the same way).
    pub no_stream: bool,
    /// Start the conversation in this project (by name); a conversation already in one stays there.
    pub project: Option<String>,
    /// Web search for this conversation: `Some` switches it (and it is remembered), `None`
    /// keeps what the conversation had (off for a new one).
    pub web_search: Option<bool>,
    /// What a search looks for: the words the user typed, without attached files' text (which
    /// must not reach a search provider). `None`: the prompt.
    pub search_query: Option<String>,
    /// Add the relevant memories (only for a front end that shows the user which went).
    pub recall: bool,
    /// Images sent with the prompt as OpenAI `image_url` parts (data URLs), for models that
    /// read images. They are sealed with the rest, so the receipt's request hash covers them;
    /// the history keeps the text.
    pub images: Vec<ImagePart>,
}

/// An image attached to a prompt.
#[derive(Debug, Clone)]
pub struct ImagePart {
    pub media_type: &'static str,
    pub bytes: Vec<u8>,
}

impl ImagePart {
    /// PNG, JPEG, GIF or WebP, told by the first bytes (nothing of the image is decoded here).
    pub fn sniff(bytes: Vec<u8>) -> Option<Self> {
        let media_type = match bytes.as_slice() {
            [0x89, b'P', b'N', b'G', ..] => "image/png",
            [0xff, 0xd8, 0xff, ..] => "image/jpeg",
            [b'G', b'I', b'F', b'8', ..] => "image/gif",
            [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "image/webp",
            _ => return None,
        };
        Some(Self { media_type, bytes })
    }

    fn part(&self) -> Value {
        use base64::Engine;
        let data = base64::engine::general_purpose::STANDARD.encode(&self.bytes);
        json!({"type": "image_url", "image_url": {"url": format!("data:{};base64,{data}", self.media_type)}})
    }
}

/// How an exchange ended.
#[derive(Debug)]
pub enum ChatEnd {
    Verified(Box<VerifiedReply>),
    /// A check failed or the request could not be delivered: nothing of the reply is kept.
    Failed(InferenceError),
    /// The user stopped it: the text so far is kept, marked unfinished.
    Stopped,
}

#[derive(Debug)]
pub struct ChatOutcome {
    /// The stored conversation (`None` when nothing was stored).
    pub conversation_id: Option<String>,
    pub end: ChatEnd,
    /// The exact request body that was sealed and sent.
    pub sent: Vec<u8>,
    /// Store problems that did not stop the exchange.
    pub warnings: Vec<String>,
    /// What of a project went with the request.
    pub project: Option<crate::projects::ProjectContext>,
    /// The memories that went with it.
    pub memories: Vec<sotto_store::Memory>,
    /// Whether the request asked the enclave to search the web.
    pub web_search: bool,
    /// Facts the reply proposes to keep (its `[remember: …]` lines); kept only if the user agrees.
    pub proposed_memories: Vec<String>,
}

/// Runs one exchange. `on_text` receives authenticated text (provisional until the end).
/// Fails only when `turn.conversation_id` names a conversation that cannot be continued.
pub async fn exchange(
    client: &PrivateClient,
    store: Option<&Store>,
    turn: &ChatTurn,
    on_text: &mut (dyn FnMut(&str) + Send),
    stop: &CancellationToken,
) -> Result<ChatOutcome, StoreError> {
    let mut warnings = Vec::new();
    // A project that does not exist stops the exchange before anything is stored or sent.
    if let (Some(store), Some(name)) = (store, &turn.project) {
        store.resolve_project(name)?;
    }
    let (mut recorder, messages) = match store.map(|s| Recorder::start(s, turn.conversation_id.as_deref(), &turn.prompt)) {
        Some(Ok((r, m))) => (Some(r), m),
        Some(Err(e)) if turn.conversation_id.is_some() => return Err(e),
        Some(Err(e)) => {
            warnings.push(format!("this exchange is not stored: {e}"));
            (None, vec![json!({"role": "user", "content": turn.prompt})])
        }
        None => (None, vec![json!({"role": "user", "content": turn.prompt})]),
    };
    let (project, memories, invite) = match (store, recorder.as_ref()) {
        (Some(store), Some(r)) => {
            let (project, record) = project_context(store, r.conversation_id(), turn)?;
            let invite = turn.recall && crate::memory::enabled(store, record.as_ref()).unwrap_or(false);
            let memories = match invite {
                true => crate::memory::recall(store, &turn.prompt, record.as_ref()).unwrap_or_else(|e| {
                    warnings.push(format!("memories could not be read: {e}"));
                    Vec::new()
                }),
                false => Vec::new(),
            };
            (project, memories, invite)
        }
        _ => (None, Vec::new(), false),
    };
    let web_search = match (store, recorder.as_ref()) {
        (Some(store), Some(r)) => web_search_switch(store, r.conversation_id(), turn.web_search, &mut warnings),
        _ => turn.web_search.unwrap_or(false),
    };
    // Web pages may carry injected instructions: a turn that searches is not asked to propose memories.
    let invite = invite && !web_search;
    let system: Vec<String> = project
        .iter()
        .filter_map(|p| p.message["content"].as_str().map(String::from))
        .chain(crate::memory::message_part(&memories))
        .chain(invite.then(|| crate::memory::PROPOSAL_INSTRUCTION.to_string()))
        .collect();
    let messages = match system.is_empty() {
        true => messages,
        false => std::iter::once(json!({"role": "system", "content": system.join("\n\n")})).chain(messages).collect(),
    };
    let messages = with_images(messages, &turn.images);
    let sent = request_body(&messages, turn, web_search);
    let conversation = recorder.as_ref().map(|r| r.conversation_id().to_owned());
    let end = ledger::in_conversation(conversation, async {
        tokio::select! {
            end = receive(client, &sent, on_text, &mut recorder, &mut warnings) => end,
            _ = stop.cancelled() => ChatEnd::Stopped,
        }
    })
    .await;
    if let Some(r) = recorder.as_mut() {
        let stored = match &end {
            ChatEnd::Verified(reply) => r.verified_with_request(reply, &sent),
            ChatEnd::Failed(e) => r.failed(&e.to_string()),
            ChatEnd::Stopped => r.stopped("stopped before the end"),
        };
        if let Err(e) = stored {
            warnings.push(format!("the outcome could not be stored: {e}"));
        }
    }
    let proposed_memories = match (&end, store, invite) {
        (ChatEnd::Verified(reply), Some(store), true) => crate::memory::proposals(&reply.text, &store.memories().unwrap_or_default()),
        _ => Vec::new(),
    };
    Ok(ChatOutcome {
        conversation_id: recorder.map(|r| r.conversation_id().to_owned()),
        end,
        sent,
        warnings,
        project,
        memories,
        web_search,
        proposed_memories,
    })
}

/// The conversation's web search switch: set (and remembered) when the turn says, else as it was.
fn web_search_switch(store: &Store, conversation: &str, wanted: Option<bool>, warnings: &mut Vec<String>) -> bool {
    match wanted {
        Some(on) => {
            if let Err(e) = store.set_conversation_web_search(conversation, on) {
                warnings.push(format!("the web search switch could not be saved: {e}"));
            }
            on
        }
        None => store.conversation_web_search(conversation).unwrap_or(false),
    }
}

/// The project of this exchange: the one named (a new conversation joins it), else the one the
/// continued conversation belongs to. Its context is assembled for this prompt.
type ProjectShare = (Option<crate::projects::ProjectContext>, Option<sotto_store::Project>);

fn project_context(store: &Store, conversation: &str, turn: &ChatTurn) -> Result<ProjectShare, StoreError> {
    let id = match &turn.project {
        Some(name) => {
            let id = store.resolve_project(name)?;
            if turn.conversation_id.is_none() {
                store.set_conversation_project(conversation, Some(&id))?;
            }
            Some(id)
        }
        None => store.conversation_project(conversation)?,
    };
    match id {
        Some(id) => {
            let project = store.project_by_id(&id)?;
            Ok((Some(crate::projects::context(&project, &turn.prompt)), Some(project)))
        }
        None => Ok((None, None)),
    }
}

/// The last (new) user message as text and image parts, when there are images.
fn with_images(mut messages: Vec<Value>, images: &[ImagePart]) -> Vec<Value> {
    if images.is_empty() {
        return messages;
    }
    if let Some(last) = messages.last_mut() {
        let text = last["content"].as_str().unwrap_or_default().to_string();
        let mut parts = vec![json!({"type": "text", "text": text})];
        parts.extend(images.iter().map(ImagePart::part));
        last["content"] = Value::Array(parts);
    }
    messages
}

fn request_body(messages: &[Value], turn: &ChatTurn, web_search: bool) -> Vec<u8> {
    let mut request = json!({"messages": messages, "stream": !turn.no_stream});
    // Only ever `true`: a request without the field searches nothing, on every wire.
    if web_search {
        request[sotto_enclave_protocol::search::WEB_SEARCH_FIELD] = json!(true);
        // Only typed words: a regenerated or edited message carries its files' text too.
        let query = turn.search_query.as_deref().map(str::trim).filter(|q| !q.is_empty()).unwrap_or_else(|| crate::extract::typed_part(&turn.prompt));
        request[sotto_enclave_protocol::search::WEB_SEARCH_QUERY_FIELD] = json!(query);
    }
    if let Some(m) = turn.model.as_deref().filter(|m| !m.is_empty()) {
        request["model"] = json!(m);
    }
    if let Some(n) = turn.max_tokens {
        request["max_tokens"] = json!(n);
    }
    // Serialising a Value built from strings cannot fail.
    serde_json::to_vec(&request).unwrap_or_default()
}

async fn receive(
    client: &PrivateClient,
    body: &[u8],
    on_text: &mut (dyn FnMut(&str) + Send),
    recorder: &mut Option<Recorder<'_>>,
    warnings: &mut Vec<String>,
) -> ChatEnd {
    let mut stream = match client.chat_bytes(body).await {
        Ok(s) => s,
        Err(e) => return ChatEnd::Failed(e),
    };
    while let Some(event) = stream.next().await {
        match event {
            Ok(ReplyEvent::Text(t)) => {
                on_text(&t);
                if let Some(Err(e)) = recorder.as_mut().map(|r| r.text(&t)) {
                    if warnings.is_empty() {
                        warnings.push(format!("the reply could not be saved as it arrived: {e}"));
                    }
                }
            }
            Ok(ReplyEvent::Verified(reply)) => return ChatEnd::Verified(reply),
            Err(e) => return ChatEnd::Failed(e),
        }
    }
    ChatEnd::Failed(InferenceError::Truncated)
}
