//! Model back-ends. Each turns a chat request into a stream of [`BackendEvent`]s; the gateway
//! frames, seals and signs whatever they produce.

mod embedded;
mod openai;
mod scripted;

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde_json::Value;

use crate::BackendSpec;

pub use embedded::EmbeddedBackend;
pub use openai::OpenAiBackend;
pub use scripted::ScriptedBackend;

/// An OpenAI-format chat request, kept as JSON so upstreams see every field the client sent.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub body: Value,
}

impl ChatRequest {
    pub fn model(&self) -> Option<&str> {
        self.body.get("model").and_then(Value::as_str)
    }

    pub fn stream(&self) -> bool {
        self.body.get("stream").and_then(Value::as_bool).unwrap_or(false)
    }

    pub fn max_tokens(&self) -> Option<u64> {
        self.body
            .get("max_completion_tokens")
            .or_else(|| self.body.get("max_tokens"))
            .and_then(Value::as_u64)
    }

    /// `(role, text)` of each message; non-text parts are dropped.
    pub fn turns(&self) -> Vec<(String, String)> {
        let Some(messages) = self.body.get("messages").and_then(Value::as_array) else {
            return Vec::new();
        };
        messages
            .iter()
            .map(|m| {
                let role = m.get("role").and_then(Value::as_str).unwrap_or("user").to_string();
                let content = match m.get("content") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(parts)) => parts
                        .iter()
                        .filter_map(|p| p.get("text").and_then(Value::as_str))
                        .collect::<Vec<_>>()
                        .join("\n"),
                    _ => String::new(),
                };
                (role, content)
            })
            .collect()
    }
}

/// What a back-end produces, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum BackendEvent {
    /// A piece of the reply text.
    Text(String),
    /// OpenAI-format tool calls (the whole array).
    ToolCalls(Value),
    /// The reply is complete.
    Done { finish_reason: String },
    /// The back-end failed; the message is shown to the user (after authentication).
    Error(String),
    /// Test stand-in only: end the connection without closing the stream.
    Abort,
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{0}")]
    Unavailable(String),
}

pub trait Backend: Send + Sync {
    /// The model names this back-end serves.
    fn models(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>>;
    /// Whether its models read images (OpenAI `image_url` parts) besides text.
    fn accepts_images(&self) -> bool {
        false
    }
    /// The reply, as events; the stream ends after `Done`, `Error` or `Abort`.
    fn chat(&self, request: ChatRequest) -> BoxStream<'static, BackendEvent>;
    /// PCR2: the measurement of the model file, the script, or the upstream's address,
    /// computed once at load.
    fn artifact_measurement(&self) -> [u8; 48];
}

/// Builds the back-end a spec names.
pub fn build(spec: &BackendSpec) -> anyhow::Result<Arc<dyn Backend>> {
    Ok(match spec {
        BackendSpec::Embedded { model_path } => Arc::new(EmbeddedBackend::load(model_path)?),
        BackendSpec::Scripted { script } => Arc::new(ScriptedBackend::load(script)?),
        BackendSpec::OpenAi { base_url } => Arc::new(OpenAiBackend::new(base_url)?),
    })
}
