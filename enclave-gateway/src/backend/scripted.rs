//! A test stand-in that replays a script, so tests of streaming, tool calls, errors, stalls and
//! truncation are deterministic. Not a model: it is named `scripted` wherever it appears.
//!
//! Script (JSON): `{"model": "scripted", "replies": [REPLY, …]}`; request N gets
//! `replies[N % len]`. A REPLY is
//! `{"chunks": [{"text": "…", "delay_ms": 20}, …], "tool_calls": [...], "error": "…",
//!   "stall_after": 2, "truncate_after": 2, "finish_reason": "stop"}` — all optional.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt};
use serde::Deserialize;
use serde_json::Value;

use super::{Backend, BackendError, BackendEvent, ChatRequest};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Script {
    #[serde(default = "default_model")]
    model: String,
    /// Whether the stand-in says its model reads images (for tests of image attachments).
    #[serde(default)]
    accepts_images: bool,
    replies: Vec<Reply>,
}

fn default_model() -> String {
    "scripted".into()
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Reply {
    #[serde(default)]
    chunks: Vec<Chunk>,
    tool_calls: Option<Value>,
    error: Option<String>,
    stall_after: Option<usize>,
    truncate_after: Option<usize>,
    finish_reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Chunk {
    text: String,
    #[serde(default)]
    delay_ms: u64,
}

pub struct ScriptedBackend {
    script: Script,
    measurement: [u8; 48],
    next: AtomicUsize,
}

impl ScriptedBackend {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let raw = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("cannot read script {}: {e}", path.display()))?;
        let script: Script = serde_json::from_slice(&raw)
            .map_err(|e| anyhow::anyhow!("script {} is not valid: {e}", path.display()))?;
        if script.replies.is_empty() {
            anyhow::bail!("script {} has no replies", path.display());
        }
        Ok(Self { script, measurement: sotto_attestation::measure(&raw), next: AtomicUsize::new(0) })
    }
}

enum Step {
    Emit(BackendEvent, Duration),
    Stall,
}

fn steps(reply: Reply) -> Vec<Step> {
    let mut out = Vec::new();
    for (i, chunk) in reply.chunks.into_iter().enumerate() {
        if reply.stall_after == Some(i) {
            out.push(Step::Stall);
            return out;
        }
        if reply.truncate_after == Some(i) {
            out.push(Step::Emit(BackendEvent::Abort, Duration::ZERO));
            return out;
        }
        out.push(Step::Emit(BackendEvent::Text(chunk.text), Duration::from_millis(chunk.delay_ms)));
    }
    if reply.stall_after.is_some() {
        out.push(Step::Stall);
        return out;
    }
    if reply.truncate_after.is_some() {
        out.push(Step::Emit(BackendEvent::Abort, Duration::ZERO));
        return out;
    }
    if let Some(calls) = reply.tool_calls {
        out.push(Step::Emit(BackendEvent::ToolCalls(calls), Duration::ZERO));
    }
    let end = match reply.error {
        Some(e) => BackendEvent::Error(e),
        None => BackendEvent::Done {
            finish_reason: reply.finish_reason.unwrap_or_else(|| "stop".into()),
        },
    };
    out.push(Step::Emit(end, Duration::ZERO));
    out
}

impl Backend for ScriptedBackend {
    fn models(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> {
        let name = self.script.model.clone();
        Box::pin(async move { Ok(vec![name]) })
    }

    fn accepts_images(&self) -> bool {
        self.script.accepts_images
    }

    fn chat(&self, _request: ChatRequest) -> BoxStream<'static, BackendEvent> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let reply = self.script.replies[n % self.script.replies.len()].clone();
        stream::iter(steps(reply))
            .then(|step| async move {
                match step {
                    Step::Emit(event, delay) => {
                        // tokio rounds even a zero sleep up to its next 1 ms tick.
                        if !delay.is_zero() {
                            tokio::time::sleep(delay).await;
                        }
                        event
                    }
                    Step::Stall => futures::future::pending().await,
                }
            })
            .boxed()
    }

    fn artifact_measurement(&self) -> [u8; 48] {
        self.measurement
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(json: &str) -> Vec<BackendEvent> {
        let r: Reply = serde_json::from_str(json).unwrap();
        steps(r)
            .into_iter()
            .map(|s| match s {
                Step::Emit(e, _) => e,
                Step::Stall => BackendEvent::Text("<stall>".into()),
            })
            .collect()
    }

    #[test]
    fn scripts_become_events() {
        let ev = reply(r#"{"chunks":[{"text":"a"},{"text":"b"}]}"#);
        assert_eq!(ev, vec![
            BackendEvent::Text("a".into()),
            BackendEvent::Text("b".into()),
            BackendEvent::Done { finish_reason: "stop".into() }
        ]);
        let ev = reply(r#"{"chunks":[{"text":"a"},{"text":"b"}],"truncate_after":1}"#);
        assert_eq!(ev, vec![BackendEvent::Text("a".into()), BackendEvent::Abort]);
        let ev = reply(r#"{"chunks":[{"text":"a"}],"stall_after":1}"#);
        assert_eq!(ev.last().unwrap(), &BackendEvent::Text("<stall>".into()));
        let ev = reply(r#"{"error":"quota"}"#);
        assert_eq!(ev, vec![BackendEvent::Error("quota".into())]);
    }
}
