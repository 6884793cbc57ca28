//! The inner (Binary HTTP) requests an enclave serves: `GET /v1/models`,
//! `POST /v1/chat/completions` (OpenAI-compatible, streamed as server-sent events or whole) and
//! `POST /v1/images/generations` (in `images::serve`).

use std::time::Duration;

use futures::{AsyncWrite, AsyncWriteExt, StreamExt};
use sha2::{Digest, Sha256};
use serde_json::{json, Value};
use sotto_enclave_protocol::{bhttp_stream, images, search};
use sotto_enclave_protocol::padding::{self, Style};

use crate::backend::{BackendEvent, ChatRequest};
use crate::client_link::Departure;
use crate::server::AppState;

/// How long one piece of a reply may wait for the client (or relay) to read: one that keeps its
/// connection open but stops reading would otherwise hold the reply, and its model, forever.
const SEND_STALL: Duration = Duration::from_secs(30);

/// Writes a Binary HTTP response into the OHTTP stream, one sealed chunk per piece, hashing
/// the content as it goes so the receipt covers exactly what was sent.
pub(crate) struct ReplyWriter<W> {
    out: W,
    content_hash: Sha256,
    pub(crate) pieces: u64,
    /// How content is padded (set by the head's content type).
    style: Style,
    /// The reply's HTTP status, once its head was sent (the receipt signs it).
    pub(crate) status: u16,
    padded: bool,
    /// Set when the client hangs up: the reply stops being made.
    departure: Departure,
    /// How long one piece may wait for the client to read ([`SEND_STALL`]).
    stall: Duration,
}

/// Padding is always on, except in a benchmark that measures what it costs: the development
/// gateway then sends bare chunks when `SOTTO_BENCH_UNPADDED_REPLIES=1` (and says so loudly).
fn padding_on() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        let off = std::env::var("SOTTO_BENCH_UNPADDED_REPLIES").is_ok_and(|v| v == "1");
        if off {
            tracing::warn!("SOTTO_BENCH_UNPADDED_REPLIES=1: replies are NOT padded (for measuring padding's cost only)");
        }
        !off
    })
}

impl<W: AsyncWrite + Unpin> ReplyWriter<W> {
    pub(crate) fn new(out: W, departure: Departure) -> Self {
        Self { out, content_hash: Sha256::new(), pieces: 0, style: Style::Whitespace, status: 0, padded: padding_on(), departure, stall: SEND_STALL }
    }

    /// SHA-256 of all content written so far.
    pub(crate) fn output_hash(&self) -> [u8; 32] {
        self.content_hash.clone().finalize().into()
    }

    async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let sent = tokio::time::timeout(self.stall, async {
            self.out.write_all(bytes).await?;
            self.out.flush().await
        });
        match sent.await {
            Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the client stopped reading the reply")),
            Ok(r) if r.is_ok() && self.departure.happened() => Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client left mid-reply")),
            Ok(r) => r,
        }
    }

    /// Each write below is one sealed chunk, padded to whole buckets (see `padding`).
    pub(crate) async fn head(&mut self, status: u16, content_type: &str) -> std::io::Result<()> {
        self.head_with(status, content_type, &[]).await
    }

    /// The head with further (sealed) header fields.
    pub(crate) async fn head_with(&mut self, status: u16, content_type: &str, extra: &[(&str, &[u8])]) -> std::io::Result<()> {
        self.style = if content_type == "text/event-stream" { Style::EventStream } else { Style::Whitespace };
        self.status = status;
        let mut headers = vec![("content-type", content_type.as_bytes())];
        headers.extend_from_slice(extra);
        let head = if self.padded { padding::head(status, &headers) } else { bhttp_stream::response_head(status, &headers) };
        self.send(&head).await
    }

    /// Large whitespace-tolerant content (an image reply) in 64 KiB pieces, padded to a size
    /// class (see `padding::large_pieces`), each piece made just before it is sent.
    pub(crate) async fn content_large(&mut self, data: &[u8]) -> std::io::Result<()> {
        if !self.padded {
            for slice in data.chunks(padding::LARGE_SLICE) {
                self.content(slice).await?;
            }
            return Ok(());
        }
        for i in 0..padding::large_pieces(data.len()) {
            let (chunk, padded) = padding::large_piece(data, i);
            self.content_hash.update(&padded);
            self.pieces += 1;
            self.send(&chunk).await?;
        }
        Ok(())
    }

    /// How many content bytes `content_large` sends for `len` bytes (padding included).
    pub(crate) fn large_len(&self, len: usize) -> usize {
        if self.padded { padding::large_pieces(len) * padding::LARGE_SLICE } else { len }
    }

    pub(crate) async fn content(&mut self, data: &[u8]) -> std::io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let (chunk, padded) = if self.padded { padding::content(data, self.style) } else { (bhttp_stream::content_chunk(data), data.to_vec()) };
        // The receipt covers exactly what is sent, padding included.
        self.content_hash.update(&padded);
        self.pieces += 1;
        self.send(&chunk).await
    }

    /// Ends the content, writes the trailer and the final (authenticated) OHTTP chunk.
    pub(crate) async fn finish(mut self, trailer: &[(&str, &[u8])]) -> std::io::Result<()> {
        let end = if self.padded { padding::end_and_trailer(trailer) } else { bhttp_stream::content_end_and_trailer(trailer) };
        self.send(&end).await?;
        self.out.close().await
    }
}

/// How serving the inner request ended.
pub(crate) enum Outcome {
    /// A full reply was sent; it gets a receipt for `model`.
    Complete { model: String },
    /// The back-end failed after the reply began; no receipt, the error goes in the trailer.
    Failed { message: String },
    /// Test stand-in asked to cut the connection.
    Aborted,
}

pub(crate) async fn serve<W: AsyncWrite + Unpin>(
    state: &AppState,
    request: &bhttp::Message,
    w: &mut ReplyWriter<W>,
) -> std::io::Result<Outcome> {
    let method = request.control().method().unwrap_or_default();
    let path = request.control().path().unwrap_or_default();
    match (method, path) {
        (b"GET", b"/v1/models") => models(state, w).await,
        (b"POST", p) if p == images::PATH.as_bytes() => crate::images::serve::generate(state, request.content(), w).await,
        (b"POST", b"/v1/chat/completions") => {
            let coalesce = coalesce_window(request.header().get(padding::COALESCE_FIELD.as_bytes()));
            chat(state, request.content(), coalesce, w).await
        }
        _ => {
            let path = String::from_utf8_lossy(path).into_owned();
            json_reply(w, 404, &error_body(&format!("no such endpoint: {path}"))).await
        }
    }
}

pub(crate) fn error_body(message: &str) -> Value {
    json!({"error": {"message": message, "type": "invalid_request_error"}})
}

async fn json_reply<W: AsyncWrite + Unpin>(w: &mut ReplyWriter<W>, status: u16, body: &Value) -> std::io::Result<Outcome> {
    w.head(status, "application/json").await?;
    w.content(body.to_string().as_bytes()).await?;
    Ok(Outcome::Complete { model: String::new() })
}

async fn models<W: AsyncWrite + Unpin>(state: &AppState, w: &mut ReplyWriter<W>) -> std::io::Result<Outcome> {
    match state.backend.models().await {
        Ok(names) => {
            // What each chat model reads, so a client can tell the user before sending an image.
            let input = if state.backend.accepts_images() { json!(["text", "image"]) } else { json!(["text"]) };
            let mut data: Vec<Value> = names
                .iter()
                .map(|n| json!({"id": n, "object": "model", "owned_by": "sotto-enclave", "kind": "chat", "input": input}))
                .collect();
            // Image models say what they are: a trained model behind an API, or the demo painter.
            for m in state.images.iter().flat_map(|i| i.models()) {
                data.push(json!({"id": m.id, "object": "model", "owned_by": "sotto-enclave", "kind": "image", "description": m.description}));
            }
            json_reply(w, 200, &json!({"object": "list", "data": data})).await
        }
        Err(e) => json_reply(w, 502, &error_body(&e.to_string())).await,
    }
}

/// The coalescing window the client asked for (in its sealed request, so the relay never sees
/// it), capped at [`padding::MAX_COALESCE_MS`]; none when absent or unreadable.
fn coalesce_window(value: Option<&[u8]>) -> Duration {
    let ms = value
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_millis(ms.min(padding::MAX_COALESCE_MS))
}

async fn chat<W: AsyncWrite + Unpin>(state: &AppState, body: &[u8], coalesce: Duration, w: &mut ReplyWriter<W>) -> std::io::Result<Outcome> {
    state.observations.chat_request();
    let Ok(mut body) = serde_json::from_slice::<Value>(body) else {
        return json_reply(w, 400, &error_body("the request body is not JSON")).await;
    };
    if !body.get("messages").is_some_and(Value::is_array) {
        return json_reply(w, 400, &error_body("`messages` must be an array")).await;
    }
    let model = match state.resolve_model(body.get("model").and_then(Value::as_str)).await {
        Ok(m) => m,
        Err(message) => return json_reply(w, 404, &error_body(&message)).await,
    };
    if sotto_enclave_protocol::search::requested(&body) {
        state.observations.search();
    }
    let citations = match crate::search::augment(state.search.as_deref(), &mut body, crate::search::Words::Typed).await {
        Ok(c) => c,
        Err(refusal) => return json_reply(w, refusal.status, &error_body(&refusal.message)).await,
    };
    let request = ChatRequest { body };
    let meta = ReplyMeta {
        id: format!("chatcmpl-{}", hex::encode(rand::random::<[u8; 12]>())),
        created: crate::now_ms() / 1000,
        model: model.clone(),
        citations,
    };
    let stream = request.stream();
    let events = state.backend.chat(request);
    let outcome = if stream { stream_reply(events, w, &meta, coalesce).await? } else { whole_reply(events, w, &meta).await? };
    Ok(match outcome {
        Outcome::Complete { .. } => Outcome::Complete { model },
        other => other,
    })
}

/// What every completion object of one reply carries.
struct ReplyMeta {
    id: String,
    created: u64,
    model: String,
    /// The sources of a web search, sent in the reply content so the receipt covers them.
    citations: Option<Vec<sotto_enclave_protocol::search::Citation>>,
}

fn sse(data: &Value) -> Vec<u8> {
    format!("data: {data}\n\n").into_bytes()
}

type Events = futures::stream::BoxStream<'static, BackendEvent>;

async fn stream_reply<W: AsyncWrite + Unpin>(
    mut events: Events,
    w: &mut ReplyWriter<W>,
    meta: &ReplyMeta,
    coalesce: Duration,
) -> std::io::Result<Outcome> {
    w.head(200, "text/event-stream").await?;
    let chunk = |delta: Value, finish: Value| {
        json!({"id": meta.id, "object": "chat.completion.chunk", "created": meta.created, "model": meta.model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    // The sources come first, before any of the answer that cites them, in an event of a fixed
    // size whatever they say.
    if let Some(citations) = &meta.citations {
        let wrap = |list: &[search::Citation]| {
            let mut first = chunk(json!({"role": "assistant"}), Value::Null);
            first[search::CITATIONS_FIELD] = json!(list);
            sse(&first)
        };
        let (_, event) = crate::search::fixed_size(citations.clone(), wrap, |d, n| padding::padded(d, Style::EventStream, n));
        w.content(&event).await?;
    }
    // Coalescing: text that arrives within `coalesce` of the first unsent token leaves as one
    // event, so the relay sees chunks on a timer instead of the model's token rhythm.
    let mut pending = String::new();
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let event = match deadline {
            Some(at) => match tokio::time::timeout_at(at, events.next()).await {
                Ok(event) => event,
                Err(_) => {
                    if !pending.is_empty() {
                        w.content(&sse(&chunk(json!({"content": std::mem::take(&mut pending)}), Value::Null))).await?;
                    }
                    deadline = None;
                    continue;
                }
            },
            None => events.next().await,
        };
        if let Some(BackendEvent::Text(t)) = &event {
            if !coalesce.is_zero() {
                deadline.get_or_insert_with(|| tokio::time::Instant::now() + coalesce);
                pending.push_str(t);
                continue;
            }
        }
        // Anything else first sends what was held back, in order, and not before its window
        // closes (so the end of the reply is not timed either).
        if !pending.is_empty() {
            if let Some(at) = deadline {
                tokio::time::sleep_until(at).await;
            }
            w.content(&sse(&chunk(json!({"content": std::mem::take(&mut pending)}), Value::Null))).await?;
            deadline = None;
        }
        match event {
            Some(BackendEvent::Text(t)) => w.content(&sse(&chunk(json!({"content": t}), Value::Null))).await?,
            Some(BackendEvent::ToolCalls(calls)) => {
                let calls = indexed(calls);
                w.content(&sse(&chunk(json!({"tool_calls": calls}), Value::Null))).await?
            }
            Some(BackendEvent::Done { finish_reason }) => {
                w.content(&sse(&chunk(json!({}), json!(finish_reason)))).await?;
                w.content(b"data: [DONE]\n\n").await?;
                return Ok(Outcome::Complete { model: meta.model.clone() });
            }
            Some(BackendEvent::Error(message)) => return Ok(Outcome::Failed { message }),
            Some(BackendEvent::Abort) => return Ok(Outcome::Aborted),
            None => return Ok(Outcome::Failed { message: "the model stopped without finishing its reply".into() }),
        }
    }
}

/// Streamed tool calls carry their position in the array (both wires).
pub(crate) fn indexed(calls: Value) -> Value {
    match calls {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, mut c)| {
                    if let Value::Object(o) = &mut c {
                        o.insert("index".into(), json!(i));
                    }
                    c
                })
                .collect(),
        ),
        other => other,
    }
}

async fn whole_reply<W: AsyncWrite + Unpin>(mut events: Events, w: &mut ReplyWriter<W>, meta: &ReplyMeta) -> std::io::Result<Outcome> {
    let mut text = String::new();
    let mut pieces = 0u64;
    let mut tool_calls = None;
    let finish = loop {
        match events.next().await {
            Some(BackendEvent::Text(t)) => {
                text.push_str(&t);
                pieces += 1;
            }
            Some(BackendEvent::ToolCalls(c)) => tool_calls = Some(c),
            Some(BackendEvent::Done { finish_reason }) => break finish_reason,
            Some(BackendEvent::Error(message)) => {
                return json_reply(w, 502, &error_body(&message)).await;
            }
            Some(BackendEvent::Abort) => return Ok(Outcome::Aborted),
            None => return json_reply(w, 502, &error_body("the model stopped without finishing its reply")).await,
        }
    };
    let mut message = json!({"role": "assistant", "content": text});
    if let Some(calls) = tool_calls {
        message["tool_calls"] = calls;
    }
    let body = json!({"id": meta.id, "object": "chat.completion", "created": meta.created, "model": meta.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"completion_tokens": pieces}});
    let mut bytes = body.to_string().into_bytes();
    // The sources, when there are some, take a fixed number of bytes of the body.
    if let Some(citations) = &meta.citations {
        let wrap = |list: &[search::Citation]| format!(",\"{}\":{}", search::CITATIONS_FIELD, json!(list)).into_bytes();
        let (_, part) = crate::search::fixed_size(citations.clone(), wrap, |d, n| padding::padded(d, Style::Whitespace, n));
        bytes.pop(); // the closing brace, put back after the sources
        bytes.extend_from_slice(&part);
        bytes.push(b'}');
    }
    w.head(200, "application/json").await?;
    w.content(&bytes).await?;
    Ok(Outcome::Complete { model: meta.model.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client_link::ClientLink;
    use tokio_util::compat::TokioAsyncWriteCompatExt;

    /// A client (or relay) that keeps the connection open but stops reading: the piece that
    /// cannot be delivered ends the reply after the stall, instead of holding it forever.
    #[tokio::test]
    async fn a_client_that_stops_reading_ends_the_reply() {
        let (to_client, _open_but_never_read) = tokio::io::duplex(1024);
        let (link, departure) = ClientLink::new(to_client.compat_write());
        let mut w = ReplyWriter::new(link, departure);
        w.stall = Duration::from_millis(200);
        w.head(200, "application/json").await.expect("the head fits the pipe");
        // Without the stall the write waits forever: the outer limit makes that a failure.
        let e = tokio::time::timeout(Duration::from_secs(10), w.content(&vec![b' '; 64 * 1024]))
            .await
            .expect("the reply must end, not wait forever")
            .expect_err("the content cannot be delivered");
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
    }

    /// A client that hung up ends the reply at the next piece, with no panic under the writer.
    #[tokio::test]
    async fn a_client_that_hung_up_ends_the_reply() {
        let (to_client, client) = tokio::io::duplex(1024);
        drop(client);
        let (link, departure) = ClientLink::new(to_client.compat_write());
        let mut w = ReplyWriter::new(link, departure);
        let e = w.head(200, "application/json").await.expect_err("nobody is there");
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
}
