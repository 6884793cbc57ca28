//! Forwards to an OpenAI-compatible server (Ollama, llama.cpp's server, a cloud API). Inside a
//! real enclave this is how a provider outside the trust boundary would be reached; locally it
//! is a stand-in for one.

use std::collections::BTreeMap;

use eventsource_stream::Eventsource;
use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt};
use serde_json::{json, Value};

use super::{Backend, BackendError, BackendEvent, ChatRequest};
use crate::upstream_body::{self, read_prefix, BodyError};

pub struct OpenAiBackend {
    base_url: String,
    api_key: Option<String>,
    http: reqwest::Client,
}

impl OpenAiBackend {
    pub fn new(base_url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: std::env::var("SOTTO_UPSTREAM_API_KEY").ok().filter(|k| !k.is_empty()),
            http: reqwest::Client::builder().build()?,
        })
    }

    fn url(&self, path: &str) -> String {
        if self.base_url.ends_with("/v1") {
            format!("{}{}", self.base_url, path)
        } else {
            format!("{}/v1{}", self.base_url, path)
        }
    }

    fn authorise(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.api_key {
            Some(k) => req.bearer_auth(k),
            None => req,
        }
    }
}

/// Accumulates streamed tool-call fragments by index.
#[derive(Default)]
struct ToolCalls(BTreeMap<u64, Value>);

impl ToolCalls {
    fn absorb(&mut self, deltas: &[Value]) {
        for (i, d) in deltas.iter().enumerate() {
            // As the client does: a delta without an index is the call at its position.
            let index = d.get("index").and_then(Value::as_u64).unwrap_or(i as u64);
            let entry = self.0.entry(index).or_insert_with(|| {
                json!({"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
            });
            sotto_enclave_protocol::tool_calls::merge_delta(entry, d);
        }
    }
}

fn events_from_chunk(chunk: &Value, calls: &mut ToolCalls) -> Vec<BackendEvent> {
    let mut out = Vec::new();
    let Some(choice) = chunk.pointer("/choices/0") else {
        return out;
    };
    if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str) {
        if !text.is_empty() {
            out.push(BackendEvent::Text(text.to_string()));
        }
    }
    if let Some(deltas) = choice.pointer("/delta/tool_calls").and_then(Value::as_array) {
        calls.absorb(deltas);
    }
    if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
        if !calls.0.is_empty() {
            let all: Vec<Value> = std::mem::take(&mut calls.0).into_values().collect();
            out.push(BackendEvent::ToolCalls(Value::Array(all)));
        }
        out.push(BackendEvent::Done { finish_reason: reason.to_string() });
    }
    out
}

/// What an upstream error says, for the user: OpenAI's `error.message` when the body has one
/// (its first paragraph: engines append tracebacks), else the start of the body.
fn upstream_reason(body: &[u8]) -> String {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            ["/error/message", "/error", "/message", "/detail"].iter().find_map(|p| v.pointer(p).and_then(Value::as_str).map(String::from))
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let first = message.trim().split("\n\n").next().unwrap_or_default();
    first.split_whitespace().collect::<Vec<_>>().join(" ").chars().filter(|c| !c.is_control()).take(300).collect()
}

/// An upstream answer read whole, but never more than `limit` bytes (an error page or a model
/// list is small; anything else is refused before it fills the enclave's memory).
async fn read_capped(resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    upstream_body::read_capped(resp, limit).await.map_err(|e| match e {
        BodyError::Broke(e) => format!("the upstream answer could not be read: {e}"),
        BodyError::TooLarge => format!("the upstream answer is larger than {} KiB", limit / 1024),
    })
}

impl Backend for OpenAiBackend {
    fn models(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> {
        Box::pin(async move {
            let unavailable = |e: reqwest::Error| BackendError::Unavailable(format!("the upstream model server did not answer: {e}"));
            let resp = self.authorise(self.http.get(self.url("/models"))).send().await.map_err(unavailable)?;
            let bytes = read_capped(resp, 4 << 20).await.map_err(BackendError::Unavailable)?;
            let body: Value = serde_json::from_slice(&bytes).map_err(|e| BackendError::Unavailable(format!("the upstream model list is not JSON: {e}")))?;
            Ok(body["data"]
                .as_array()
                .map(|d| d.iter().filter_map(|m| m["id"].as_str().map(String::from)).collect())
                .unwrap_or_default())
        })
    }

    fn chat(&self, request: ChatRequest) -> BoxStream<'static, BackendEvent> {
        let mut body = request.body;
        body["stream"] = json!(true);
        let req = self.authorise(self.http.post(self.url("/chat/completions")).json(&body));
        let fut = async move {
            let resp = match req.send().await {
                Ok(r) if r.status().is_success() => r,
                Ok(r) => {
                    let status = r.status();
                    let body = read_prefix(r, 16 * 1024).await;
                    return stream::iter(vec![BackendEvent::Error(format!("the upstream model server answered {status}: {}", upstream_reason(&body)))]).boxed();
                }
                Err(e) => return stream::iter(vec![BackendEvent::Error(format!("the upstream model server did not answer: {}", e.without_url()))]).boxed(),
            };
            let mut calls = ToolCalls::default();
            let mut done = false;
            resp.bytes_stream()
                .eventsource()
                .map(move |event| match event {
                    Ok(ev) if ev.data.trim() == "[DONE]" => {
                        if done { vec![] } else { done = true; vec![BackendEvent::Done { finish_reason: "stop".into() }] }
                    }
                    Ok(ev) => match serde_json::from_str::<Value>(&ev.data) {
                        Ok(chunk) => {
                            let evs = events_from_chunk(&chunk, &mut calls);
                            if evs.iter().any(|e| matches!(e, BackendEvent::Done { .. })) { done = true; }
                            evs
                        }
                        Err(_) => vec![BackendEvent::Error("the upstream model server sent a malformed event".into())],
                    },
                    Err(e) => {
                        let why = match e {
                            eventsource_stream::EventStreamError::Transport(t) => t.without_url().to_string(),
                            other => other.to_string(),
                        };
                        vec![BackendEvent::Error(format!("the upstream model server broke off in the middle of the reply ({why})"))]
                    }
                })
                .flat_map(stream::iter)
                .take_while(|e| futures::future::ready(!matches!(e, BackendEvent::Abort)))
                .boxed()
        };
        stream::once(fut).flatten().boxed()
    }

    fn artifact_measurement(&self) -> [u8; 48] {
        sotto_attestation::measure(self.base_url.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upstream_error_is_told_by_its_message_without_the_traceback() {
        // llama-cpp-python 0.3.36's answer to `"temperature": "hot"` (scripts/real-engine).
        let body = br#"{"error":{"message":"1 validation error:\n  {'type': 'float_parsing', 'loc': ('body', 'temperature'), 'msg': 'Input should be a valid number'}\n\n  File \"/venv/llama_cpp/server/app.py\", line 376","type":"internal_server_error"}}"#;
        assert_eq!(upstream_reason(body), "1 validation error: {'type': 'float_parsing', 'loc': ('body', 'temperature'), 'msg': 'Input should be a valid number'}");
        assert_eq!(upstream_reason(b"<html>\n<h1>Bad Gateway</h1>"), "<html> <h1>Bad Gateway</h1>");
        assert_eq!(upstream_reason(&[b'x'; 1000]).len(), 300);
        assert_eq!(upstream_reason(b""), "");
        assert_eq!(upstream_reason(br#"{"error":"model not found"}"#), "model not found");
        assert_eq!(upstream_reason(br#"{"object":"error","message":"This model's maximum context length is 2048 tokens"}"#), "This model's maximum context length is 2048 tokens");
    }

    #[test]
    fn streamed_tool_call_fragments_are_joined() {
        let mut calls = ToolCalls::default();
        let a = json!({"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"run_python","arguments":"{\"co"}}]}}]});
        let b = json!({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"de\":1}"}}]},"finish_reason":"tool_calls"}]});
        assert!(events_from_chunk(&a, &mut calls).is_empty());
        let ev = events_from_chunk(&b, &mut calls);
        let BackendEvent::ToolCalls(all) = &ev[0] else { panic!("{ev:?}") };
        assert_eq!(all[0]["function"]["arguments"], "{\"code\":1}");
        assert_eq!(all[0]["id"], "c1");
        assert_eq!(ev[1], BackendEvent::Done { finish_reason: "tool_calls".into() });
    }

    #[test]
    fn parallel_calls_without_an_index_stay_apart() {
        let mut calls = ToolCalls::default();
        let both = json!({"choices":[{"delta":{"tool_calls":[
            {"id":"a","function":{"name":"one","arguments":"{\"a\":1}"}},
            {"id":"b","function":{"name":"two","arguments":"{\"b\":2}"}}
        ]},"finish_reason":"tool_calls"}]});
        let ev = events_from_chunk(&both, &mut calls);
        let BackendEvent::ToolCalls(all) = &ev[0] else { panic!("{ev:?}") };
        assert_eq!(all.as_array().unwrap().len(), 2);
        assert_eq!(all[1]["function"]["name"], "two");
        assert_eq!(all[1]["function"]["arguments"], "{\"b\":2}");
    }

    #[test]
    fn text_deltas_pass_through() {
        let mut calls = ToolCalls::default();
        let c = json!({"choices":[{"delta":{"content":"Hi"},"finish_reason":null}]});
        assert_eq!(events_from_chunk(&c, &mut calls), vec![BackendEvent::Text("Hi".into())]);
    }
}
