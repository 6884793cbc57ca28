//! The gateway in OpenGradient's wire format (`--wire opengradient`), as its `tee-gateway`
//! serves it: `POST /v1/ohttp` (RFC 9458, JSON inside, single-shot or chunked replies as the
//! inner `stream` flag asks, one SSE event per chunk, the signed event last before
//! `data: [DONE]`), `GET /enclave/attestation?nonce=HEX` (base64 Nitro-format document whose
//! `user_data` binds the signing key). Unlike OpenGradient's gateway it puts no cost or
//! moderation headers on the outer response and seals its errors: the relay sees ciphertext.

use std::sync::{Arc, RwLock};

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sotto_enclave_protocol::opengradient::canonical::{canonical_from_wire, whole_output, InnerRequest, StreamedOutput};
use sotto_enclave_protocol::opengradient::ohttp::{ChunkedWriter, GatewayKey, OhttpError, OpenedRequest};
use sotto_enclave_protocol::opengradient::receipt::TeeSigner;
use sotto_enclave_protocol::opengradient::registry::{pcr_hash, RegisteredTee};
use sotto_enclave_protocol::opengradient::{attestation_binding, pyjson, CHUNKED_RESPONSE_MEDIA, RESPONSE_MEDIA, TEE_TYPE_LLM_PROXY};
use sotto_enclave_protocol::padding::{self, Style};
use tokio::sync::mpsc;

use crate::backend::{BackendEvent, ChatRequest};
use crate::inner::indexed;
use crate::server::AppState;

/// One generation of the TEE's keys: OHTTP (X25519) and receipt signing (RSA-2048).
pub struct TeeKeys {
    pub ohttp: GatewayKey,
    pub signer: TeeSigner,
}

/// The TEE's keys (rotatable) and what the registry says about it.
pub struct OpenGradientTee {
    keys: RwLock<Arc<TeeKeys>>,
    /// Where the relay reaches this TEE, as the registry records it.
    pub endpoint: String,
    pub pcr_hash: [u8; 32],
    /// Whether the registry stand-in lists this TEE (tests make it leave).
    pub listed: std::sync::atomic::AtomicBool,
}

fn generate() -> anyhow::Result<Arc<TeeKeys>> {
    Ok(Arc::new(TeeKeys { ohttp: GatewayKey::generate(1), signer: TeeSigner::generate()? }))
}

impl OpenGradientTee {
    pub fn new(endpoint: String, pcrs: &std::collections::BTreeMap<u16, Vec<u8>>) -> anyhow::Result<Self> {
        let pcr = |i: u16| pcrs.get(&i).cloned().unwrap_or_default();
        Ok(Self {
            keys: RwLock::new(generate()?),
            endpoint,
            pcr_hash: pcr_hash(&pcr(0), &pcr(1), &pcr(2)),
            listed: std::sync::atomic::AtomicBool::new(true),
        })
    }

    pub fn current(&self) -> Arc<TeeKeys> {
        match self.keys.read() {
            Ok(k) => k.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// New keys (OpenGradient's TEEs keep key id 1 across rotations).
    pub fn rotate(&self) -> anyhow::Result<()> {
        let next = generate()?;
        match self.keys.write() {
            Ok(mut k) => *k = next,
            Err(p) => *p.into_inner() = next,
        }
        Ok(())
    }

    /// The registry record of this TEE with its current keys.
    pub fn record(&self) -> RegisteredTee {
        let keys = self.current();
        RegisteredTee {
            tee_id: keys.signer.tee_id(),
            endpoint: self.endpoint.clone(),
            signing_key_der: keys.signer.public_key_der().to_vec(),
            tls_certificate: Vec::new(),
            pcr_hash: self.pcr_hash,
            tee_type: TEE_TYPE_LLM_PROXY,
            enabled: true,
            last_heartbeat_at: crate::now_ms() / 1000,
            ohttp: Some(keys.ohttp.config.clone()),
        }
    }
}

fn plain_error(status: StatusCode, message: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], json!({"error": message}).to_string()).into_response()
}

/// `POST /v1/ohttp`.
pub async fn ohttp(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let Some(tee) = state.opengradient.as_ref() else {
        return plain_error(StatusCode::NOT_FOUND, "not an OpenGradient gateway");
    };
    let keys = tee.current();
    let opened = match keys.ohttp.open_request(&body) {
        Ok(o) => o,
        // The client reads the registry again and retries once when the key changed.
        Err(OhttpError::WrongKeyId { .. } | OhttpError::Tampered | OhttpError::Suite { .. }) => {
            return plain_error(StatusCode::BAD_REQUEST, "malformed encapsulated request (unknown key)");
        }
        Err(_) => return plain_error(StatusCode::BAD_REQUEST, "malformed encapsulated request"),
    };
    state.observations.chat_request();
    let inner = match canonical_from_wire(&opened.plaintext) {
        Ok(i) => i,
        Err(e) => return sealed_single(&opened, &json!({"status": 400, "body": {"error": e.to_string()}})),
    };
    let model = match state.resolve_model(inner.canonical.get("model").and_then(Value::as_str)).await {
        Ok(m) => m,
        Err(message) => return sealed_single(&opened, &json!({"status": 404, "body": {"error": message}})),
    };
    let mut request_body: Value = serde_json::from_slice(&opened.plaintext).unwrap_or(Value::Null);
    // OpenGradient's gateway searches itself and returns its sources *outside* the signature;
    // this stand-in does the same (with the search stand-in), so the client's handling is tested.
    let citations = match crate::search::augment(state.search.as_deref(), &mut request_body, crate::search::Words::LastMessage).await {
        Ok(c) => c.map(|list| json!(list.iter().map(|c| json!({"title": c.title, "url": c.url})).collect::<Vec<_>>())),
        Err(r) => return sealed_single(&opened, &json!({"status": r.status, "body": {"error": r.message}})),
    };
    let events = state.backend.chat(ChatRequest { body: request_body });
    let meta = Meta { id: format!("chatcmpl-{}", hex::encode(rand::random::<[u8; 12]>())), created: crate::now_ms() / 1000, model, citations };
    if inner.stream {
        stream_reply(keys, opened, inner, meta, events)
    } else {
        whole_reply(&keys, &opened, &inner, &meta, events).await
    }
}

struct Meta {
    id: String,
    created: u64,
    model: String,
    /// Unsigned sources of a web search (OpenGradient's format).
    citations: Option<Value>,
}

fn sealed_single(opened: &OpenedRequest, body: &Value) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, RESPONSE_MEDIA)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from(opened.seal_single(&padding::pad_to(padding::CHUNK_BUCKET, |n| {
            padding::padded(pyjson::dumps_sorted(body).as_bytes(), Style::Whitespace, n)
        }))))
        .unwrap_or_else(|_| plain_error(StatusCode::INTERNAL_SERVER_ERROR, "cannot build the response"))
}

fn with_receipt(mut body: Map<String, Value>, keys: &TeeKeys, inner: &InnerRequest, output: &str) -> Value {
    let receipt = keys.signer.sign(&inner.canonical_bytes(), output.as_bytes(), crate::now_ms() / 1000);
    body.extend(receipt.to_fields());
    Value::Object(body)
}

async fn whole_reply(keys: &TeeKeys, opened: &OpenedRequest, inner: &InnerRequest, meta: &Meta, mut events: futures::stream::BoxStream<'static, BackendEvent>) -> Response {
    let mut text = String::new();
    let mut calls = None;
    let finish = loop {
        match events.next().await {
            Some(BackendEvent::Text(t)) => text.push_str(&t),
            Some(BackendEvent::ToolCalls(c)) => calls = Some(c),
            Some(BackendEvent::Done { finish_reason }) => break finish_reason,
            Some(BackendEvent::Error(message)) => return sealed_single(opened, &json!({"status": 502, "body": {"error": message}})),
            // A test stand-in's cut connection: end without a well-formed reply.
            Some(BackendEvent::Abort) | None => return plain_error(StatusCode::BAD_GATEWAY, "the model stopped without finishing its reply"),
        }
    };
    let mut message = json!({"role": "assistant", "content": text});
    if let Some(c) = calls {
        message["tool_calls"] = c;
    }
    let mut body = json!({"id": meta.id, "object": "chat.completion", "created": meta.created, "model": meta.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}]});
    let output = whole_output(&body);
    if let Some(c) = &meta.citations {
        body["choices"][0]["message"]["citations"] = c.clone();
    }
    let Value::Object(map) = body else { return plain_error(StatusCode::INTERNAL_SERVER_ERROR, "unreachable") };
    sealed_single(opened, &with_receipt(map, keys, inner, &output))
}

/// One SSE event, padded with a comment line so its sealed chunk fills whole buckets.
fn sse(event: &Value) -> Vec<u8> {
    pad_event(format!("data: {}\n\n", pyjson::dumps_sorted(event)).as_bytes())
}

fn pad_event(data: &[u8]) -> Vec<u8> {
    padding::pad_to(padding::CHUNK_BUCKET, |n| padding::padded(data, Style::EventStream, n))
}

/// Seals each event into its own chunk as it is produced; the signed event goes last before
/// the final chunk (`data: [DONE]`), as OpenGradient's gateway does.
fn stream_reply(keys: Arc<TeeKeys>, opened: OpenedRequest, inner: InnerRequest, meta: Meta, mut events: futures::stream::BoxStream<'static, BackendEvent>) -> Response {
    let (tx, rx) = mpsc::channel::<Result<Vec<u8>, std::io::Error>>(64);
    let (mut writer, nonce) = opened.chunked_writer();
    tokio::spawn(async move {
        let _ = tx.send(Ok(nonce)).await;
        let chunk = |delta: Value, finish: Value| {
            json!({"id": meta.id, "object": "chat.completion.chunk", "created": meta.created, "model": meta.model,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        };
        let mut signed = StreamedOutput::default();
        let mut send = |w: &mut ChunkedWriter, event: &Value| {
            signed.absorb(event);
            w.chunk(&sse(event))
        };
        let mut first = true;
        while let Some(event) = events.next().await {
            let bytes = match event {
                BackendEvent::Text(t) => {
                    let mut delta = json!({"content": t});
                    if std::mem::take(&mut first) {
                        delta["role"] = json!("assistant");
                    }
                    send(&mut writer, &chunk(delta, Value::Null))
                }
                BackendEvent::ToolCalls(calls) => send(&mut writer, &chunk(json!({"tool_calls": indexed(calls)}), Value::Null)),
                BackendEvent::Done { finish_reason } => {
                    let output = signed.signed_output(Some(&finish_reason));
                    let Value::Object(mut map) = chunk(json!({}), json!(finish_reason)) else { break };
                    if let Some(c) = &meta.citations {
                        map.insert("citations".into(), c.clone());
                    }
                    let last = writer.chunk(&sse(&with_receipt(map, &keys, &inner, &output)));
                    let _ = tx.send(Ok(last)).await;
                    let _ = tx.send(Ok(writer.finish(&pad_event(b"data: [DONE]\n\n")))).await;
                    return;
                }
                BackendEvent::Error(message) => {
                    let _ = tx.send(Ok(writer.finish(&sse(&json!({"error": message}))))).await;
                    return;
                }
                BackendEvent::Abort => return,
            };
            if tx.send(Ok(bytes)).await.is_err() {
                return;
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, CHUNKED_RESPONSE_MEDIA)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from_stream(tokio_stream_from(rx)))
        .unwrap_or_else(|_| plain_error(StatusCode::INTERNAL_SERVER_ERROR, "cannot build the response"))
}

fn tokio_stream_from(mut rx: mpsc::Receiver<Result<Vec<u8>, std::io::Error>>) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[derive(Deserialize)]
pub struct NonceQuery {
    nonce: Option<String>,
}

/// `GET /enclave/attestation?nonce=HEX`: a base64 document binding the signing key.
pub async fn attestation(State(state): State<Arc<AppState>>, Query(q): Query<NonceQuery>) -> Response {
    let Some(tee) = state.opengradient.as_ref() else {
        return plain_error(StatusCode::NOT_FOUND, "not an OpenGradient gateway");
    };
    let nonce = match q.nonce.as_deref().map(hex::decode) {
        Some(Ok(n)) if !n.is_empty() && n.len() <= 64 => n,
        _ => return plain_error(StatusCode::BAD_REQUEST, "nonce must be 1 to 64 bytes of hex"),
    };
    state.observations.attestation();
    let keys = tee.current();
    let user_data = attestation_binding(&[], keys.signer.public_key_der());
    match state.attester.attest(&user_data, &nonce) {
        Ok(doc) => {
            use base64::Engine;
            let text = base64::engine::general_purpose::STANDARD.encode(doc);
            ([(header::CONTENT_TYPE, "text/plain"), (header::CACHE_CONTROL, "no-store")], text).into_response()
        }
        Err(e) => plain_error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}
