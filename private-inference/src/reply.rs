//! Steps 4 and 5 of the private path: decrypt the chunked reply, hand on text only from
//! authenticated chunks, and verify the enclave's receipt over exactly what arrived.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::{AsyncRead, AsyncReadExt, TryStreamExt};
use serde::Serialize;
use serde_json::Value;
use sotto_enclave_protocol::media::{ERROR_TRAILER, RECEIPT_TRAILER};
use sotto_enclave_protocol::Receipt;
use tokio::sync::mpsc;
use tokio_util::compat::TokioAsyncReadCompatExt;
use tokio_util::io::StreamReader;

use crate::error::{classify_bhttp, classify_io};
use crate::{AttestedEnclave, EnclaveIdentity, InferenceError};

/// What a reply stream yields.
#[derive(Debug)]
pub enum ReplyEvent {
    /// Authenticated text, shown provisionally until `Verified`.
    Text(String),
    /// The receipt verified: the reply is final.
    Verified(Box<VerifiedReply>),
}

/// A reply whose every chunk authenticated under the attested key and whose receipt verified.
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedReply {
    pub text: String,
    pub tool_calls: Option<Value>,
    pub finish_reason: Option<String>,
    pub model: String,
    pub receipt: Receipt,
    pub enclave: EnclaveIdentity,
    /// The relay the request went through.
    pub relay: String,
    /// How many bytes left the device for this request (the sealed request).
    pub request_bytes: usize,
    /// The sources of a web search, read from the content the receipt covers (`Some(empty)`:
    /// the enclave searched and found nothing usable; `None`: no search).
    pub citations: Option<Vec<sotto_enclave_protocol::search::Citation>>,
    /// Sources a reply named outside its signature (OpenGradient's web search): not shown.
    pub unsigned_citations: usize,
    /// The decrypted response body (JSON for non-streamed replies).
    #[serde(skip)]
    pub body: Vec<u8>,
    /// What the verification used, to check it again later (Sotto's wire; `None` on others).
    #[serde(skip)]
    pub proof: Option<crate::proof::ProofMaterial>,
    /// The same for a reply from one of OpenGradient's TEEs.
    #[serde(skip)]
    pub tee_proof: Option<crate::proof::TeeProofMaterial>,
}

/// The events of one reply. After any `Text`, an `Err` means: withdraw what was shown.
pub struct ReplyStream {
    pub(crate) rx: mpsc::Receiver<Result<ReplyEvent, InferenceError>>,
}

impl ReplyStream {
    pub async fn next(&mut self) -> Option<Result<ReplyEvent, InferenceError>> {
        self.rx.recv().await
    }

    /// Waits for the verified reply, ignoring provisional text.
    pub async fn verified(mut self) -> Result<VerifiedReply, InferenceError> {
        while let Some(event) = self.next().await {
            if let ReplyEvent::Verified(r) = event? {
                return Ok(*r);
            }
        }
        Err(InferenceError::Truncated)
    }
}

pub(crate) struct ReplyContext {
    pub sealed: crate::SealedRequest,
    pub enclave: Arc<AttestedEnclave>,
    pub relay: String,
    pub stall: Duration,
    pub limits: ReplyLimits,
}

/// How a large reply arrives: how much is accepted, and who hears how much has come.
#[derive(Clone)]
pub(crate) struct ReplyLimits {
    pub max_bytes: usize,
    /// Read a whole (non-streamed) body as a chat completion (not for image replies).
    pub chat: bool,
    /// The request asked for a web search, so the reply may name sources.
    pub sources: bool,
    /// Called with (bytes received, bytes announced by the enclave in the sealed head).
    pub progress: Option<Progress>,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        Self { max_bytes: MAX_REPLY, chat: true, sources: false, progress: None }
    }
}

/// Hears how much of a reply has arrived (authenticated bytes) and how much the enclave said
/// would come.
pub type Progress = Arc<dyn Fn(u64, Option<u64>) + Send + Sync>;

/// Reads the reply on its own task; the caller consumes events as they authenticate.
pub(crate) fn spawn(ctx: ReplyContext, answer: crate::transport::Answer) -> ReplyStream {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let body = StreamReader::new(answer.bytes_stream().map_err(std::io::Error::other)).compat();
        // A reply nobody listens to any more (the user stopped it) is dropped at once, and
        // with it the connection, so the enclave stops making it too.
        tokio::select! {
            () = tx.closed() => {}
            outcome = read(&ctx, body, &tx) => {
                if let Err(e) = outcome {
                    let _ = tx.send(Err(e)).await;
                }
            }
        }
    });
    ReplyStream { rx }
}

/// The largest reply kept (it is held in memory to hash it for the receipt).
pub(crate) const MAX_REPLY: usize = 64 << 20;

pub(crate) async fn within<T, E>(limit: Duration, f: impl std::future::Future<Output = Result<T, E>>, map: impl FnOnce(E) -> InferenceError) -> Result<T, InferenceError> {
    match tokio::time::timeout(limit, f).await {
        Err(_) => Err(InferenceError::Stalled { secs: limit.as_secs() }),
        Ok(r) => r.map_err(map),
    }
}

pub(crate) async fn read<R: AsyncRead + Send + 'static>(
    ctx: &ReplyContext,
    body: R,
    tx: &mpsc::Sender<Result<ReplyEvent, InferenceError>>,
) -> Result<(), InferenceError> {
    let decrypted = ctx.sealed.open(Box::pin(body))?;
    read_opened(ctx, decrypted, tx).await
}

/// Reads the decrypted Binary HTTP response: head, content (streamed events or a whole body),
/// trailer, then the receipt over exactly what arrived.
pub(crate) async fn read_opened(
    ctx: &ReplyContext,
    decrypted: crate::seal::BodyReader,
    tx: &mpsc::Sender<Result<ReplyEvent, InferenceError>>,
) -> Result<(), InferenceError> {
    // No declared length beyond what a reply may carry reaches the Binary HTTP reader.
    let mut decrypted = crate::bhttp_guard::LengthGuard::new(decrypted, ctx.limits.max_bytes);
    let mut content = Vec::new();
    let mut assembled = Assembled::default();
    let (status, trailer) = {
        let mut msg = <bhttp::Message as bhttp::stream::AsyncReadMessage>::async_read(&mut decrypted);
        let header = within(ctx.stall, msg.header(), classify_bhttp).await?;
        let status = header.control().status().map(|s| s.code()).unwrap_or(0);
        let streaming = status == 200 && header.get(b"content-type") == Some(b"text/event-stream".as_slice());
        let announced = header
            .get(sotto_enclave_protocol::images::CONTENT_BYTES_FIELD.as_bytes())
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > ctx.limits.max_bytes as u64) {
            return Err(InferenceError::Malformed(format!("the reply would be larger than {} MiB", ctx.limits.max_bytes >> 20)));
        }
        let mut body = msg.body().map_err(classify_bhttp)?;
        let mut sse = SseBuffer::default();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = within(ctx.stall, body.read(&mut buf), |e| classify_io(&e)).await?;
            if n == 0 {
                break;
            }
            if content.len() + n > ctx.limits.max_bytes {
                return Err(InferenceError::Malformed(format!("the reply is larger than {} MiB", ctx.limits.max_bytes >> 20)));
            }
            content.extend_from_slice(&buf[..n]);
            if let Some(progress) = &ctx.limits.progress {
                progress(content.len() as u64, announced);
            }
            if streaming {
                for data in sse.push(&buf[..n]) {
                    if let Some(text) = assembled.absorb_event(&data)? {
                        if tx.send(Ok(ReplyEvent::Text(text))).await.is_err() {
                            return Ok(()); // nobody is listening any more
                        }
                    }
                }
            }
        }
        let trailer = within(ctx.stall, msg.trailer(), classify_bhttp).await?;
        (status, trailer)
    };
    // The stream must close with OHTTP's authenticated final chunk; after the message only
    // padding may come (zero bytes, RFC 9292 §3.8), read in pieces and never more than a reply.
    let mut padding = 0usize;
    let mut piece = [0u8; 4096];
    loop {
        let n = within(ctx.stall, decrypted.read(&mut piece), |e| classify_io(&e)).await?;
        if n == 0 {
            break;
        }
        padding += n;
        if piece[..n].iter().any(|b| *b != 0) {
            return Err(InferenceError::Tampered);
        }
        if padding > ctx.limits.max_bytes {
            return Err(InferenceError::Malformed(format!("the reply is padded beyond {} MiB", ctx.limits.max_bytes >> 20)));
        }
    }
    // The body is read: its ledger entry is written now, before anyone hears the reply ended.
    drop(decrypted);
    if let Some(message) = trailer.get(ERROR_TRAILER.as_bytes()) {
        return Err(InferenceError::Enclave(String::from_utf8_lossy(message).into_owned()));
    }
    let receipt_json = trailer
        .get(RECEIPT_TRAILER.as_bytes())
        .ok_or(sotto_enclave_protocol::ReceiptError::Missing)?;
    let receipt = Receipt::from_json(receipt_json)?;
    receipt.verify(&ctx.enclave.receipt_public_key, &ctx.sealed.plaintext, status, &content)?;
    if status != 200 {
        return Err(InferenceError::EnclaveStatus { status, message: error_message(&content) });
    }
    if assembled.events == 0 && ctx.limits.chat {
        assembled.absorb_whole(&content)?;
    }
    let tool_calls = assembled.tool_calls();
    if assembled.citations.is_some() && !ctx.limits.sources {
        return Err(InferenceError::Malformed("the reply names sources, but no web search was asked for".into()));
    }
    let reply = VerifiedReply {
        citations: assembled.citations,
        unsigned_citations: 0,
        text: assembled.text,
        tool_calls,
        finish_reason: assembled.finish_reason,
        model: if assembled.model.is_empty() { receipt.model.clone() } else { assembled.model },
        receipt: receipt.clone(),
        enclave: ctx.enclave.identity.clone(),
        relay: ctx.relay.clone(),
        request_bytes: ctx.sealed.ciphertext.len(),
        proof: ctx.enclave.evidence.clone().map(|attestation| crate::proof::ProofMaterial {
            attestation,
            request: ctx.sealed.plaintext.clone(),
            reply_status: status,
            reply: content.clone(),
            receipt,
        }),
        tee_proof: None,
        body: content,
    };
    let _ = tx.send(Ok(ReplyEvent::Verified(Box::new(reply)))).await;
    Ok(())
}

/// The text of a reply, read from its decrypted content exactly as it was when it arrived
/// (server-sent events, or one JSON completion): a re-check compares it with what was stored.
pub(crate) fn text_of(content: &[u8]) -> String {
    assemble(content).text
}

/// The sources a reply's decrypted content names (a re-check compares them with those kept),
/// read as strictly as when the reply arrived.
pub(crate) fn citations_of(content: &[u8]) -> Result<Option<Vec<sotto_enclave_protocol::search::Citation>>, InferenceError> {
    let (assembled, problem) = absorb_all(content);
    problem.map(|()| assembled.citations)
}

fn assemble(content: &[u8]) -> Assembled {
    absorb_all(content).0
}

/// A reply's content (events, or one whole body) taken in; with the first problem found, if any.
fn absorb_all(content: &[u8]) -> (Assembled, Result<(), InferenceError>) {
    let mut assembled = Assembled::default();
    let mut problem = Ok(());
    let mut note = |r: Result<_, InferenceError>| {
        if let (Err(e), true) = (r, problem.is_ok()) {
            problem = Err(e);
        }
    };
    for data in SseBuffer::default().push(content) {
        note(assembled.absorb_event(&data).map(|_| ()));
    }
    if assembled.events == 0 {
        note(assembled.absorb_whole(content).map(|_| ()));
    }
    (assembled, problem)
}

fn error_message(content: &[u8]) -> String {
    serde_json::from_slice::<Value>(content)
        .ok()
        .and_then(|v| v.pointer("/error/message").and_then(Value::as_str).map(String::from))
        .unwrap_or_else(|| String::from_utf8_lossy(content).chars().take(300).collect())
}

/// Splits server-sent events; yields the `data` of each complete event.
#[derive(Default)]
struct SseBuffer {
    pending: Vec<u8>,
}

impl SseBuffer {
    fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = self.pending.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = self.pending.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&event);
            let data: Vec<&str> = text
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if !data.is_empty() {
                out.push(data.join("\n"));
            }
        }
        out
    }
}

/// The reply put together from streamed chunks or from a whole JSON body.
#[derive(Default)]
struct Assembled {
    text: String,
    model: String,
    finish_reason: Option<String>,
    calls: BTreeMap<u64, Value>,
    events: usize,
    citations: Option<Vec<sotto_enclave_protocol::search::Citation>>,
}

impl Assembled {
    /// Takes one streamed chunk; returns its text, if any.
    fn absorb_event(&mut self, data: &str) -> Result<Option<String>, InferenceError> {
        if data.trim() == "[DONE]" {
            return Ok(None);
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|e| InferenceError::Malformed(format!("a streamed chunk is not JSON ({e})")))?;
        self.events += 1;
        self.absorb_citations(&chunk)?;
        if let Some(m) = chunk.get("model").and_then(Value::as_str) {
            self.model = m.to_string();
        }
        let choice = chunk.pointer("/choices/0").cloned().unwrap_or(Value::Null);
        if let Some(r) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(r.to_string());
        }
        if let Some(calls) = choice.pointer("/delta/tool_calls").and_then(Value::as_array) {
            for (i, c) in calls.iter().enumerate() {
                let index = c.get("index").and_then(Value::as_u64).unwrap_or(i as u64);
                sotto_enclave_protocol::tool_calls::merge_delta(self.calls.entry(index).or_insert_with(|| Value::Object(Default::default())), c);
            }
        }
        let text = choice.pointer("/delta/content").and_then(Value::as_str).unwrap_or_default();
        if text.is_empty() {
            return Ok(None);
        }
        self.text.push_str(text);
        Ok(Some(text.to_string()))
    }

    /// Sources come once per reply, before any of the answer: in the first streamed chunk, or
    /// in the whole body.
    fn absorb_citations(&mut self, object: &Value) -> Result<(), InferenceError> {
        if let Some(list) = sotto_enclave_protocol::search::citations_in(object).map_err(InferenceError::Malformed)? {
            if self.citations.is_some() || self.events > 1 {
                return Err(InferenceError::Malformed("the reply names its sources after its first part".into()));
            }
            self.citations = Some(list);
        }
        Ok(())
    }

    fn absorb_whole(&mut self, content: &[u8]) -> Result<(), InferenceError> {
        let Ok(body) = serde_json::from_slice::<Value>(content) else { return Ok(()) };
        self.absorb_citations(&body)?;
        if let Some(m) = body.get("model").and_then(Value::as_str) {
            self.model = m.to_string();
        }
        if let Some(t) = body.pointer("/choices/0/message/content").and_then(Value::as_str) {
            self.text = t.to_string();
        }
        if let Some(Value::Array(calls)) = body.pointer("/choices/0/message/tool_calls") {
            for (i, c) in calls.iter().enumerate() {
                self.calls.insert(i as u64, c.clone());
            }
        }
        self.finish_reason = body.pointer("/choices/0/finish_reason").and_then(Value::as_str).map(String::from);
        Ok(())
    }

    fn tool_calls(&self) -> Option<Value> {
        (!self.calls.is_empty()).then(|| Value::Array(self.calls.values().cloned().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_call_pieces_are_joined_into_one_call() {
        let mut a = Assembled::default();
        let first = r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"run_python","arguments":"{\"co"}}]}}]}"#;
        let rest = r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"de\": 1}"}}]}}]}"#;
        a.absorb_event(first).unwrap();
        a.absorb_event(rest).unwrap();
        let calls = a.tool_calls().unwrap();
        assert_eq!(calls[0]["id"], "c1");
        assert_eq!(calls[0]["function"]["name"], "run_python");
        assert_eq!(calls[0]["function"]["arguments"], "{\"code\": 1}");
    }

    #[test]
    fn sse_events_split_across_reads_are_reassembled() {
        let mut b = SseBuffer::default();
        assert!(b.push(b"data: {\"a\"").is_empty());
        assert_eq!(b.push(b":1}\n\ndata: [DONE]\n\n"), vec!["{\"a\":1}".to_string(), "[DONE]".to_string()]);
    }

    #[test]
    fn sources_come_once_and_first() {
        let sources = r#"{"choices":[{"delta":{"role":"assistant"}}],"citations":[{"index":1,"title":"T","url":"https://a.example/","quote":"q"}]}"#;
        let text = r#"{"choices":[{"delta":{"content":"hi"}}]}"#;
        let mut a = Assembled::default();
        a.absorb_event(sources).unwrap();
        a.absorb_event(text).unwrap();
        assert_eq!(a.citations.as_ref().unwrap()[0].url, "https://a.example/");
        assert!(a.absorb_event(sources).is_err(), "twice");
        let mut late = Assembled::default();
        late.absorb_event(text).unwrap();
        assert!(late.absorb_event(sources).is_err(), "after the answer began");
    }

    #[test]
    fn a_malformed_chunk_is_an_error_not_a_panic() {
        let mut a = Assembled::default();
        assert!(a.absorb_event("{not json").is_err());
        assert_eq!(a.absorb_event(r#"{"choices":[{"delta":{"content":"hi"}}]}"#).unwrap(), Some("hi".into()));
        assert_eq!(a.absorb_event(r#"{"choices":[]}"#).unwrap(), None);
    }
}

/// A reply whose chunks all authenticate but whose receipt is forged (a misbehaving enclave, or
/// one whose receipt key is not the attested one): text already handed on must be withdrawn.
#[cfg(test)]
mod receipt_tests {
    use super::*;
    use futures::AsyncWriteExt;
    use ohttp::hpke::{Aead, Kdf, Kem};
    use sotto_enclave_protocol::bhttp_stream::{content_chunk, content_end_and_trailer, response_head};
    use sotto_enclave_protocol::ReceiptSigner;

    async fn reply_signed_by(signer: &ReceiptSigner, attested: &ReceiptSigner) -> (Vec<String>, Result<(), InferenceError>) {
        reply_with(signer, attested, b"").await
    }

    /// One exchange with a test enclave: a request sealed for `path`, answered with the chunks
    /// `message` makes from the request's plaintext (each written as one OHTTP chunk); the
    /// context to read the answer with (receipts checked against `receipt_key`) and its bytes.
    async fn exchange(path: &str, receipt_key: &ReceiptSigner, limits: ReplyLimits, message: impl FnOnce(&[u8]) -> Vec<Vec<u8>>) -> (ReplyContext, Vec<u8>) {
        let config = ohttp::KeyConfig::new(1, Kem::X25519Sha256, vec![ohttp::SymmetricSuite::new(Kdf::HkdfSha256, Aead::Aes128Gcm)]).unwrap();
        let key_config = config.encode().unwrap();
        let server = ohttp::Server::new(config).unwrap();
        let sealed = crate::seal_request(&key_config, "POST", path, &[], b"{}").await.unwrap();
        let mut request = server.decapsulate_stream(futures::io::Cursor::new(sealed.ciphertext.clone()));
        let mut plaintext = Vec::new();
        futures::AsyncReadExt::read_to_end(&mut request, &mut plaintext).await.unwrap();
        let mut wire = Vec::new();
        {
            let mut w = request.response(futures::io::AllowStdIo::new(&mut wire)).unwrap();
            for chunk in message(&plaintext) {
                w.write_all(&chunk).await.unwrap();
            }
            w.close().await.unwrap();
        }
        let enclave = Arc::new(AttestedEnclave::unattested(key_config, receipt_key.public_key().to_vec()));
        (ReplyContext { sealed, enclave, relay: "r".into(), stall: Duration::from_secs(5), limits }, wire)
    }

    /// A streamed reply of `sent` events whose receipt covers `signed`; `sources`: the request
    /// asked for a search.
    async fn events_reply(sent: &[&str], signed: &[&str], sources: bool) -> Result<VerifiedReply, InferenceError> {
        let sse = |events: &[&str]| events.iter().map(|e| format!("data: {e}\n\n")).collect::<String>().into_bytes();
        let signer = ReceiptSigner::generate();
        let limits = ReplyLimits { sources, ..ReplyLimits::default() };
        let (ctx, wire) = exchange("/v1/chat/completions", &signer, limits, |plaintext| {
            let hash = sotto_enclave_protocol::sha256;
            let receipt = signer.sign("m", 200, hash(plaintext), hash(&sse(signed)), 1, 0).unwrap().to_json();
            vec![
                response_head(200, &[("content-type", b"text/event-stream")]),
                content_chunk(&sse(sent)),
                content_end_and_trailer(&[(RECEIPT_TRAILER, receipt.as_bytes())]),
            ]
        })
        .await;
        let (tx, mut rx) = mpsc::channel(16);
        read(&ctx, futures::io::Cursor::new(wire), &tx).await?;
        drop(tx);
        while let Some(event) = rx.recv().await {
            if let ReplyEvent::Verified(r) = event? {
                return Ok(*r);
            }
        }
        Err(InferenceError::Truncated)
    }

    #[tokio::test]
    async fn sources_count_only_when_the_receipt_covers_them_and_a_search_was_asked_for() {
        let sources = r#"{"choices":[{"delta":{"role":"assistant"}}],"citations":[{"index":1,"title":"Everest","url":"https://a.example/everest","quote":"Hillary and Tenzing"}]}"#;
        let changed = sources.replace("everest\"", "Everest\"");
        let text = r#"{"choices":[{"delta":{"content":"1953 [1]"}}]}"#;
        let ok = events_reply(&[sources, text], &[sources, text], true).await.unwrap();
        assert_eq!(ok.citations.unwrap()[0].quote, "Hillary and Tenzing");
        // One changed byte of a source that the receipt does not cover.
        let e = events_reply(&[&changed, text], &[sources, text], true).await.unwrap_err();
        assert!(matches!(e, InferenceError::Receipt(sotto_enclave_protocol::ReceiptError::OutputMismatch)), "{e}");
        // Sources in a reply to a request that asked for no search.
        let e = events_reply(&[sources, text], &[sources, text], false).await.unwrap_err();
        assert!(e.to_string().contains("no web search was asked for"), "{e}");
        // Sources after the answer began.
        let e = events_reply(&[text, sources], &[text, sources], true).await.unwrap_err();
        assert!(e.to_string().contains("after its first part"), "{e}");
    }

    /// A reply signed by `signer`, with `trailing` sealed after the Binary HTTP message.
    async fn reply_with(signer: &ReceiptSigner, attested: &ReceiptSigner, trailing: &[u8]) -> (Vec<String>, Result<(), InferenceError>) {
        reply_in_pieces(signer, attested, trailing, usize::MAX).await
    }

    /// The same, each OHTTP chunk carrying at most `piece` bytes of the message (a relay or an
    /// enclave may cut anywhere, inside a field or a length).
    async fn reply_in_pieces(signer: &ReceiptSigner, attested: &ReceiptSigner, trailing: &[u8], piece: usize) -> (Vec<String>, Result<(), InferenceError>) {
        let (ctx, wire) = exchange("/v1/chat/completions", attested, ReplyLimits::default(), |plaintext| {
            let event = b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n".to_vec();
            let hash = sotto_enclave_protocol::sha256;
            let receipt = signer.sign("m", 200, hash(plaintext), hash(&event), 1, 0).unwrap().to_json();
            let message = [
                response_head(200, &[("content-type", b"text/event-stream")]),
                content_chunk(&event),
                content_end_and_trailer(&[(RECEIPT_TRAILER, receipt.as_bytes())]),
            ];
            let mut chunks = if piece == usize::MAX { message.to_vec() } else { message.concat().chunks(piece).map(<[u8]>::to_vec).collect() };
            if !trailing.is_empty() {
                chunks.push(trailing.to_vec());
            }
            chunks
        })
        .await;
        let (tx, mut rx) = mpsc::channel(16);
        let result = read(&ctx, futures::io::Cursor::new(wire), &tx).await;
        drop(tx);
        let mut shown = Vec::new();
        while let Some(Ok(ReplyEvent::Text(t))) = rx.recv().await {
            shown.push(t);
        }
        (shown, result)
    }

    #[tokio::test]
    async fn a_receipt_from_another_key_fails_after_the_text_was_handed_on() {
        let attested = ReceiptSigner::generate();
        let (shown, result) = reply_signed_by(&attested, &attested).await;
        assert_eq!(shown, vec!["hi"]);
        assert!(result.is_ok());

        let impostor = ReceiptSigner::generate();
        let (shown, result) = reply_signed_by(&impostor, &attested).await;
        assert_eq!(shown, vec!["hi"], "the text was authenticated and handed on first");
        let err = result.unwrap_err();
        assert!(matches!(err, InferenceError::Receipt(sotto_enclave_protocol::ReceiptError::WrongKey { .. })), "{err}");
    }

    /// An image reply carrying `content`, whose receipt signs `signed` (the same bytes, or others).
    async fn image_reply(content: &[u8], signed: &[u8]) -> Result<VerifiedReply, InferenceError> {
        let key = ReceiptSigner::generate();
        let (ctx, wire) = exchange("/v1/images/generations", &key, ReplyLimits::default(), |plaintext| {
            let hash = sotto_enclave_protocol::sha256;
            let receipt = key.sign("m", 200, hash(plaintext), hash(signed), 1, 0).unwrap().to_json();
            vec![
                response_head(200, &[("content-type", b"application/json")]),
                content_chunk(content),
                content_end_and_trailer(&[(RECEIPT_TRAILER, receipt.as_bytes())]),
            ]
        })
        .await;
        let (tx, mut rx) = mpsc::channel(16);
        read(&ctx, futures::io::Cursor::new(wire), &tx).await?;
        drop(tx);
        match rx.recv().await {
            Some(Ok(ReplyEvent::Verified(r))) => Ok(*r),
            other => panic!("no verified reply: {other:?}"),
        }
    }

    fn image_body(png: &[u8], claimed_sha: &str, size: (u32, u32)) -> Vec<u8> {
        use base64::Engine;
        serde_json::json!({"created": 1, "model": "m", "seed": 1, "data": [{
            "b64_json": base64::engine::general_purpose::STANDARD.encode(png),
            "width": size.0, "height": size.1, "sha256": claimed_sha,
        }]})
        .to_string()
        .into_bytes()
    }

    fn tiny_png(side: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = png::Encoder::new(&mut out, side, side);
        e.set_color(png::ColorType::Grayscale);
        let mut w = e.write_header().unwrap();
        w.write_image_data(&vec![128; (side * side) as usize]).unwrap();
        w.finish().unwrap();
        out
    }

    fn request(size: &str) -> sotto_enclave_protocol::images::ImageRequest {
        serde_json::from_value(serde_json::json!({"prompt": "p", "size": size, "n": 1})).unwrap()
    }

    #[tokio::test]
    async fn an_image_reply_is_kept_only_when_its_receipt_covers_these_very_pixels() {
        let png = tiny_png(256);
        let sha = hex::encode(sotto_enclave_protocol::sha256(&png));
        let good = image_body(&png, &sha, (256, 256));
        let reply = image_reply(&good, &good).await.unwrap();
        let images = crate::images::check_images(&request("256x256"), reply).unwrap();
        assert_eq!(images.images[0].png, png);

        // A receipt over other bytes (one changed byte of the image data): refused whole.
        let mut other = good.clone();
        let at = other.len() / 2;
        other[at] ^= 0x01;
        let err = image_reply(&good, &other).await.unwrap_err();
        assert!(matches!(err, InferenceError::Receipt(_)), "{err}");

        // The enclave signed what it sent, but the image is not the one its hash names.
        let lying = image_body(&tiny_png(256), &"00".repeat(32), (256, 256));
        let reply = image_reply(&lying, &lying).await.unwrap();
        let err = crate::images::check_images(&request("256x256"), reply).unwrap_err();
        assert!(err.to_string().contains("do not match the hash"), "{err}");

        // An image of another size than asked.
        let reply = image_reply(&good, &good).await.unwrap();
        let err = crate::images::check_images(&request("512x512"), reply).unwrap_err();
        assert!(err.to_string().contains("256×256, not the 512×512"), "{err}");
    }

    #[tokio::test]
    async fn authenticated_bytes_after_the_message_are_refused() {
        let attested = ReceiptSigner::generate();
        let (_, result) = reply_with(&attested, &attested, b"smuggled").await;
        assert!(matches!(result, Err(InferenceError::Tampered)), "{result:?}");
        let (_, result) = reply_with(&attested, &attested, &[0, 0, 0, 1]).await;
        assert!(matches!(result, Err(InferenceError::Tampered)), "{result:?}");
    }

    /// Found by fuzzing: handed part of a field, the `bhttp` reader answered Pending without
    /// asking to be polled again, so a reply cut inside a field waited for the stall timeout
    /// (seconds, then "stalled"). Every cut must read straight through.
    #[tokio::test]
    async fn a_reply_cut_anywhere_reads_through_without_waiting() {
        let attested = ReceiptSigner::generate();
        for piece in [1, 2, 3, 5, 7, 64] {
            let (texts, result) = reply_in_pieces(&attested, &attested, b"", piece).await;
            assert!(result.is_ok(), "pieces of {piece}: {result:?}");
            assert_eq!(texts.concat(), "hi");
        }
    }

    /// Another implementation may pad its message with zeros (RFC 9292 §3.8): still the reply.
    #[tokio::test]
    async fn zero_padding_after_the_message_is_accepted() {
        let attested = ReceiptSigner::generate();
        let (texts, result) = reply_with(&attested, &attested, &[0; 9000]).await;
        assert!(result.is_ok(), "{result:?}");
        assert!(!texts.is_empty());
    }
}
