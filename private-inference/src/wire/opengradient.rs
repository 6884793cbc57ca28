//! OpenGradient's wire, client side: discover a TEE in the registry, check it harder than
//! OpenGradient's own clients do (its attestation, fetched through the relay, must match the
//! registry's pcrHash and bind its signing key), seal the JSON request to its OHTTP key,
//! send it through the relay, hand on each streamed piece as soon as its chunk authenticates,
//! and verify the RSA-PSS receipt at the end (text already shown is withdrawn if it fails).

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use futures::StreamExt;
use serde_json::Value;
use sotto_attestation::{verify, Policy};
use sotto_enclave_protocol::opengradient::canonical::{build_inner_request, whole_output, InnerRequest, StreamedOutput};
use sotto_enclave_protocol::opengradient::ohttp::{seal_request, SealedRequest};
use sotto_enclave_protocol::opengradient::receipt::TeeReceipt;
use sotto_enclave_protocol::opengradient::registry::{pcr_hash, RegisteredTee};
use sotto_enclave_protocol::opengradient::{
    attestation_binding,    CHUNKED_RESPONSE_MEDIA, RELAY_ATTESTATION_PATH, RELAY_CHAT_PATH, REQUEST_MEDIA, RESPONSE_MEDIA, STREAM_HEADER, TEE_ID_HEADER,
};
use sotto_enclave_protocol::{Receipt, OPENGRADIENT_SCHEME};
use sotto_relay_config::{OpenGradientSpec, Profile};
use tokio::sync::mpsc;

use crate::ledger::Purpose;
use crate::transport::{read_limited, Answer};
use crate::attest::{ATTESTED_DEVELOPMENT, ATTESTED_HERE, KEYS_FROM_REGISTRY, PROVIDER_PROXY};
use crate::registry::Registry;
use crate::reply::MAX_REPLY;
use crate::transport::Transport;
use crate::{Clock, EnclaveIdentity, InferenceError, ReplyEvent, ReplyStream, VerifiedReply};

/// The bearer token for OpenGradient's relay, when one was given (`SOTTO_OG_TOKEN`, or what
/// `sotto og login` stored).
pub type TokenSource = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// Models OpenGradient's TEEs proxy to, as its SDK names them.
const SDK_MODELS: &[&str] = &[
    "gpt-4.1", "gpt-4.1-mini", "gpt-5", "gpt-5-mini", "o4-mini", "claude-sonnet-4-5", "claude-haiku-4-5",
    "claude-opus-4-5", "gemini-2.5-flash", "gemini-2.5-pro", "grok-4",
];

pub(crate) struct OpenGradientWire {
    spec: OpenGradientSpec,
    registry: Registry,
    roots: Vec<Vec<u8>>,
    token: TokenSource,
    stall: Duration,
    max_age: Duration,
}

/// A TEE chosen for one request, with what was checked about it.
struct ChosenTee {
    tee: RegisteredTee,
    identity: EnclaveIdentity,
}

impl OpenGradientWire {
    pub(crate) fn new(profile: &Profile, spec: OpenGradientSpec, token: TokenSource, ledger: Option<std::sync::Arc<dyn crate::ledger::LedgerSink>>) -> Result<Self, InferenceError> {
        let mut roots = Vec::new();
        for pem in &spec.attestation_roots_pem()? {
            roots.extend(sotto_attestation::pem_to_der(pem)?);
        }
        Ok(Self {
            registry: Registry::new(spec.clone(), profile.timeouts.first_byte, ledger)?,
            roots,
            token,
            stall: profile.timeouts.stall,
            max_age: Duration::from_secs(120),
            spec,
        })
    }

    /// Sends an OpenAI chat body; the reply streams as it authenticates.
    pub(crate) async fn chat(&self, transport: &Transport, clock: &dyn Clock, body: &[u8]) -> Result<ReplyStream, InferenceError> {
        let mut request: Value = serde_json::from_slice(body).map_err(|e| InferenceError::Seal(format!("the request is not JSON ({e})")))?;
        if request.get("model").and_then(Value::as_str).is_none_or(str::is_empty) {
            let model = self.spec.model.clone().ok_or_else(|| {
                InferenceError::Seal("OpenGradient's network needs a model: pass --model NAME (`sotto models` lists them)".into())
            })?;
            request["model"] = Value::String(model);
        }
        let stream = request.get("stream").and_then(Value::as_bool).unwrap_or(false);
        let inner = build_inner_request(&request, stream).map_err(|e| InferenceError::Seal(e.to_string()))?;
        let mut force = false;
        // One retry: when the TEE refuses its key, read the registry again and seal to the
        // new key, but only if the key really changed (a relay cannot buy a second copy).
        for _ in 0..2 {
            let chosen = self.choose(transport, clock, force).await?;
            let Some(key) = chosen.tee.ohttp.clone() else {
                return Err(InferenceError::Registry("the TEE has no OHTTP key".into()));
            };
            let sealed = seal_request(&key, &padded_json(&inner.wire))?;
            let answer = transport.post_with(RELAY_CHAT_PATH, REQUEST_MEDIA, &self.headers(&chosen.tee, stream), sealed.wire.clone(), Purpose::Chat).await?;
            let status = answer.status.as_u16();
            if (200..300).contains(&status) {
                let ctx = Context { sealed, inner, tee: chosen.tee, identity: chosen.identity, relay: answer.relay.clone(), stall: self.stall };
                return Ok(spawn(ctx, answer, stream));
            }
            let relay = answer.relay.clone();
            let detail = read_limited(answer, 4096, self.stall).await.map(|b| error_detail(&b)).unwrap_or_default();
            if status == 401 {
                return Err(InferenceError::LoginNeeded { relay });
            }
            if !force && status == 400 && detail.contains("key") {
                let fresh = self.registry.tees(true).await?;
                if fresh.iter().any(|t| t.tee_id == chosen.tee.tee_id && t.ohttp.as_ref() == Some(&key)) {
                    return Err(InferenceError::RelayRefused { relay, status, detail });
                }
                tracing::info!("the TEE's keys changed in the registry; sealing again");
                force = true;
                continue;
            }
            return Err(InferenceError::RelayRefused { relay, status, detail: plain_status(status, detail) });
        }
        Err(InferenceError::Seal("the TEE kept refusing the key the registry lists".into()))
    }

    fn headers(&self, tee: &RegisteredTee, stream: bool) -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("accept", if stream { CHUNKED_RESPONSE_MEDIA } else { RESPONSE_MEDIA }.to_string()),
            (TEE_ID_HEADER, tee.tee_id.clone()),
        ];
        if stream {
            h.push((STREAM_HEADER, "true".into()));
        }
        if let Some(token) = (self.token)() {
            h.push(("authorization", format!("Bearer {token}")));
        }
        h
    }

    /// The pinned TEE, or one of the usable ones, checked.
    async fn choose(&self, transport: &Transport, clock: &dyn Clock, force: bool) -> Result<ChosenTee, InferenceError> {
        let tee = pick(self.registry.tees(force).await?)?;
        match self.check(transport, clock, &tee).await {
            Ok(identity) => Ok(ChosenTee { tee, identity }),
            // The TEE may have rotated its keys since the listing was read: its attestation
            // then binds a key the cached listing does not have. Read the registry again, once.
            Err(InferenceError::Attestation(_)) if !force => {
                let tee = pick(self.registry.tees(true).await?)?;
                let identity = self.check(transport, clock, &tee).await?;
                Ok(ChosenTee { tee, identity })
            }
            Err(e) => Err(e),
        }
    }

    /// Fetches the TEE's attestation through the relay and verifies it; a relay that offers
    /// none leaves the registry's word, and the reply says so.
    async fn check(&self, transport: &Transport, clock: &dyn Clock, tee: &RegisteredTee) -> Result<EnclaveIdentity, InferenceError> {
        let nonce: [u8; 32] = rand::random();
        let path = format!("{RELAY_ATTESTATION_PATH}?nonce={}", hex::encode(nonce));
        let answer = transport.get_with(&path, &[(TEE_ID_HEADER, tee.tee_id.clone())], Purpose::Attestation).await?;
        let status = answer.status.as_u16();
        let mut identity = EnclaveIdentity {
            kind: "opengradient-tee".into(),
            module_id: tee.endpoint.clone(),
            pcrs: Default::default(),
            checked_pcrs: vec![],
            root_sha256: String::new(),
            document_timestamp_ms: 0,
            ohttp_key_id: tee.ohttp.as_ref().map_or(0, |k| k.key_id),
            receipt_key_id: tee.tee_id.clone(),
            relay: answer.relay.clone(),
            trust: KEYS_FROM_REGISTRY.into(),
            tee_class: PROVIDER_PROXY.into(),
        };
        if matches!(status, 404 | 405 | 501) {
            if self.spec.require_attestation {
                return Err(InferenceError::Bundle(format!(
                    "relay {} offers no attestation for this TEE, and the profile requires one (require_attestation)",
                    answer.relay
                )));
            }
            return Ok(identity);
        }
        let relay = answer.relay.clone();
        let body = read_limited(answer, 256 * 1024, self.stall).await?;
        if status != 200 {
            return Err(InferenceError::RelayRefused { relay, status, detail: error_detail(&body) });
        }
        let doc = decode_document(&body)?;
        let at = clock.now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let policy = Policy {
            roots: self.roots.clone(),
            expected_pcrs: Default::default(),
            nonce: Some(nonce.to_vec()),
            user_data: Some(attestation_binding(&tee.tls_certificate, &tee.signing_key_der)),
            max_age: Some(self.max_age),
            at,
        };
        let verified = verify(&doc, &policy)?;
        let pcrs = &verified.document.pcrs;
        let (Some(p0), Some(p1), Some(p2)) = (pcrs.get(&0), pcrs.get(&1), pcrs.get(&2)) else {
            return Err(InferenceError::Bundle("the TEE's attestation lacks PCR0–2".into()));
        };
        let measured = pcr_hash(p0, p1, p2);
        if measured != tee.pcr_hash {
            return Err(InferenceError::Bundle(format!(
                "the TEE's attested code (pcrHash 0x{}) is not what the registry lists (0x{})",
                hex::encode(measured),
                hex::encode(tee.pcr_hash)
            )));
        }
        identity.pcrs = pcrs.iter().filter(|(i, _)| **i <= 2).map(|(i, v)| (*i, hex::encode(v))).collect();
        identity.checked_pcrs = vec![0, 1, 2];
        let aws = verified.root_sha256.eq_ignore_ascii_case(sotto_relay_config::AWS_NITRO_ROOT_G1_SHA256);
        identity.root_sha256 = verified.root_sha256;
        identity.document_timestamp_ms = verified.document.timestamp_ms;
        identity.trust = if aws { ATTESTED_HERE } else { ATTESTED_DEVELOPMENT }.into();
        if let Some(m) = Some(&verified.document.module_id).filter(|m| !m.is_empty()) {
            identity.module_id = format!("{} ({m})", tee.endpoint);
        }
        Ok(identity)
    }

    pub(crate) async fn discover(&self) -> Result<usize, InferenceError> {
        Ok(self.registry.tees(true).await?.len())
    }

    /// The models to offer: the profile's default first (what a request naming none gets),
    /// then those OpenGradient's SDK names. The network publishes no list through its TEEs,
    /// so this one is not signed by a TEE.
    pub(crate) fn models(&self) -> Vec<String> {
        let default = self.spec.model.clone();
        let mut names: Vec<String> = default.iter().cloned().collect();
        names.extend(SDK_MODELS.iter().map(|m| m.to_string()).filter(|m| Some(m) != default.as_ref()));
        names
    }
}

/// One of the usable TEEs, at random (as OpenGradient's clients choose).
fn pick(tees: Vec<RegisteredTee>) -> Result<RegisteredTee, InferenceError> {
    let n = tees.len().max(1);
    tees.into_iter().nth(rand::random::<usize>() % n).ok_or_else(|| InferenceError::Registry("the registry lists no usable TEE".into()))
}

/// The attestation endpoint answers base64 text (or, from some relays, raw CBOR).
fn decode_document(body: &[u8]) -> Result<Vec<u8>, InferenceError> {
    use base64::Engine;
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    match base64::engine::general_purpose::STANDARD.decode(trimmed) {
        Ok(doc) => Ok(doc),
        Err(_) if body.first() == Some(&0xd2) || body.first() == Some(&0x84) => Ok(body.to_vec()),
        Err(_) => Err(InferenceError::Bundle("the attestation answer is neither base64 nor CBOR".into())),
    }
}

/// The JSON request with trailing spaces up to its size bucket (JSON ignores them; the
/// enclave signs the canonical request, not these bytes).
fn padded_json(wire: &[u8]) -> Vec<u8> {
    use sotto_enclave_protocol::padding::{padded, request_bucket, Style};
    padded(wire, Style::Whitespace, request_bucket(wire.len()) - wire.len())
}

fn error_detail(body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let detail = parsed
        .as_ref()
        .and_then(|v| v.get("detail").or_else(|| v.get("error")).or_else(|| v.pointer("/error/message")))
        .map(|d| d.as_str().map(String::from).unwrap_or_else(|| d.to_string()));
    detail.unwrap_or_else(|| String::from_utf8_lossy(body).to_string()).chars().take(200).collect()
}

fn plain_status(status: u16, detail: String) -> String {
    let why = match status {
        402 => "payment required: the relay's account cannot pay for this request",
        429 => "too many requests: try again later",
        451 => "the provider refused this request for legal reasons",
        _ => "",
    };
    match (why.is_empty(), detail.is_empty()) {
        (true, _) => detail,
        (false, true) => why.to_string(),
        (false, false) => format!("{why} ({detail})"),
    }
}

struct Context {
    sealed: SealedRequest,
    inner: InnerRequest,
    tee: RegisteredTee,
    identity: EnclaveIdentity,
    relay: String,
    stall: Duration,
}

type Tx = mpsc::Sender<Result<ReplyEvent, InferenceError>>;

/// However it trickles, a reply ends within this time.
const REPLY_DEADLINE: Duration = Duration::from_secs(30 * 60);

fn spawn(ctx: Context, response: Answer, stream: bool) -> ReplyStream {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let read = async {
            if stream {
                read_stream(&ctx, response, &tx).await
            } else {
                read_single(&ctx, response).await
            }
        };
        let result = tokio::time::timeout(REPLY_DEADLINE, read)
            .await
            .unwrap_or(Err(InferenceError::Stalled { secs: REPLY_DEADLINE.as_secs() }));
        let _ = tx.send(result.map(|r| ReplyEvent::Verified(Box::new(r)))).await;
    });
    ReplyStream { rx }
}

/// The inner body: the bare reply, or the `{status, body}` envelope older gateways used.
fn unwrap_envelope(decoded: Value) -> Result<Value, InferenceError> {
    match decoded {
        Value::Object(ref o) if o.get("status").is_some_and(Value::is_u64) && o.get("body").is_some_and(Value::is_object) => {
            let status = u16::try_from(o["status"].as_u64().unwrap_or(0)).unwrap_or(u16::MAX);
            let body = o["body"].clone();
            if status >= 400 {
                return Err(InferenceError::EnclaveStatus { status, message: error_detail(body.to_string().as_bytes()) });
            }
            Ok(body)
        }
        Value::Object(ref o) if o.get("error").is_some() && o.get("choices").is_none() => {
            Err(InferenceError::Enclave(error_detail(decoded.to_string().as_bytes())))
        }
        Value::Object(_) => Ok(decoded),
        _ => Err(InferenceError::Malformed("the TEE's reply is not a JSON object".into())),
    }
}

async fn read_single(ctx: &Context, response: Answer) -> Result<VerifiedReply, InferenceError> {
    let sealed = read_limited(response, MAX_REPLY, ctx.stall).await?;
    let plaintext = ctx.sealed.open_single(&sealed)?;
    let decoded: Value = serde_json::from_slice(&plaintext).map_err(|_| InferenceError::Malformed("the TEE's reply is not JSON".into()))?;
    let body = unwrap_envelope(decoded)?;
    let output = whole_output(&body);
    let message = body.pointer("/choices/0/message");
    let reply = Finished {
        text: message.map(|m| sotto_enclave_protocol::opengradient::canonical::content_text(m.get("content"))).unwrap_or_default(),
        // Tool calls are signed only when the reply finished with them (as the SDK checks).
        tool_calls: message
            .and_then(|m| m.get("tool_calls"))
            .filter(|c| c.is_array())
            .filter(|_| body.pointer("/choices/0/finish_reason").and_then(Value::as_str) == Some("tool_calls"))
            .cloned(),
        final_frame: body.clone(),
        output,
        pieces: 1,
        body: plaintext,
    };
    finish(ctx, reply)
}

async fn read_stream(ctx: &Context, response: Answer, tx: &Tx) -> Result<VerifiedReply, InferenceError> {
    let mut reader = ctx.sealed.chunked_reader();
    let mut body = std::pin::pin!(response.bytes_stream());
    let mut assembled = StreamedOutput::default();
    let mut sse = SseLines::default();
    let mut final_frame: Option<Value> = None;
    let mut kept = Vec::new();
    let mut pieces = 0u64;
    loop {
        let next = tokio::time::timeout(ctx.stall, body.next()).await.map_err(|_| InferenceError::Stalled { secs: ctx.stall.as_secs() })?;
        let (bytes, done) = match next {
            Some(Ok(b)) => (b.to_vec(), false),
            Some(Err(_)) => return Err(InferenceError::Truncated),
            None => (Vec::new(), true),
        };
        for chunk in reader.push(&bytes, done)? {
            if kept.len() + chunk.len() > MAX_REPLY {
                return Err(InferenceError::Malformed(format!("the reply is larger than {} MiB", MAX_REPLY >> 20)));
            }
            kept.extend_from_slice(&chunk);
            pieces += 1;
            for event in sse.push(&chunk) {
                if let Some(message) = event.get("error") {
                    let message = message.as_str().map(String::from).unwrap_or_else(|| message.to_string());
                    return Err(InferenceError::Enclave(message));
                }
                let text = assembled.absorb(&event);
                if event.get("tee_signature").is_some_and(Value::is_string) || event.get("tee_output_hash").is_some_and(Value::is_string) {
                    final_frame = Some(event);
                }
                if !text.is_empty() && tx.send(Ok(ReplyEvent::Text(text))).await.is_err() {
                    return Err(InferenceError::Truncated); // nobody is listening any more
                }
            }
        }
        if done {
            break;
        }
    }
    let final_frame = final_frame.ok_or(InferenceError::Receipt(sotto_enclave_protocol::ReceiptError::Missing))?;
    let finish_reason = final_frame.pointer("/choices/0/finish_reason").and_then(Value::as_str).map(String::from);
    let by_tools = finish_reason.as_deref() == Some("tool_calls") && assembled.tool_calls().is_some();
    let reply = Finished {
        output: assembled.signed_output(finish_reason.as_deref()),
        tool_calls: assembled.tool_calls().filter(|_| by_tools),
        // When the receipt covers the tool calls, text beside them is not signed: drop it.
        text: if by_tools { String::new() } else { assembled.text },
        final_frame,
        pieces,
        body: kept,
    };
    finish(ctx, reply)
}

struct Finished {
    text: String,
    tool_calls: Option<Value>,
    final_frame: Value,
    output: String,
    pieces: u64,
    body: Vec<u8>,
}

/// Verifies the receipt exactly as the SDK does and builds the verified reply.
fn finish(ctx: &Context, f: Finished) -> Result<VerifiedReply, InferenceError> {
    let tee_receipt = TeeReceipt::from_reply(&f.final_frame)?;
    let canonical = ctx.inner.canonical_bytes();
    tee_receipt.verify(&ctx.tee.signing_key_der, &ctx.tee.tee_id, &canonical, f.output.as_bytes())?;
    let tee_proof = crate::proof::TeeProofMaterial {
        scheme: OPENGRADIENT_SCHEME.into(),
        receipt: tee_receipt.clone(),
        signing_key: ctx.tee.signing_key_der.clone(),
        pcr_hash: hex::encode(ctx.tee.pcr_hash),
        canonical_request: canonical,
        output: f.output.as_bytes().to_vec(),
        checked_then: ctx.identity.trust.clone(),
    };
    let model = f.final_frame.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
    let receipt = Receipt {
        version: 1,
        model: model.clone(),
        // OpenGradient's TEEs sign no status.
        status: 0,
        request_hash: tee_receipt.request_hash,
        output_hash: tee_receipt.output_hash,
        timestamp_ms: tee_receipt.timestamp.saturating_mul(1000),
        chunks: f.pieces,
        key_id: tee_receipt.tee_id,
        signature: tee_receipt.signature,
        scheme: OPENGRADIENT_SCHEME.into(),
    };
    Ok(VerifiedReply {
        text: f.text,
        tool_calls: f.tool_calls,
        finish_reason: f.final_frame.pointer("/choices/0/finish_reason").and_then(Value::as_str).map(String::from),
        model,
        receipt,
        enclave: ctx.identity.clone(),
        relay: ctx.relay.clone(),
        request_bytes: ctx.sealed.wire.len(),
        body: f.body,
        proof: None,
        tee_proof: Some(tee_proof),
        // OpenGradient's TEEs do not sign the sources of a web search: they are not kept.
        citations: None,
        unsigned_citations: unsigned_citations(&f.final_frame),
    })
}

/// How many sources a reply names outside the signature (OpenGradient's `citations`, on the
/// final frame or in the message).
fn unsigned_citations(frame: &Value) -> usize {
    [frame.get("citations"), frame.pointer("/choices/0/message/citations")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .map(Vec::len)
        .sum()
}

/// Server-sent events split across chunks; yields each `data:` JSON object.
#[derive(Default)]
struct SseLines {
    pending: String,
}

impl SseLines {
    fn push(&mut self, bytes: &[u8]) -> Vec<Value> {
        self.pending.push_str(&String::from_utf8_lossy(bytes));
        let mut out = Vec::new();
        while let Some(end) = self.pending.find('\n') {
            let line: String = self.pending.drain(..=end).collect();
            let Some(data) = line.trim().strip_prefix("data:") else { continue };
            let data = data.trim();
            if data.is_empty() || data == "[DONE]" {
                continue;
            }
            if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(data) {
                out.push(v);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_lines_split_anywhere_are_reassembled() {
        let mut s = SseLines::default();
        assert!(s.push(b"data: {\"a\"").is_empty());
        assert_eq!(s.push(b": 1}\n\ndata: [DONE]\n\n"), vec![serde_json::json!({"a": 1})]);
    }

    #[test]
    fn an_error_envelope_is_an_error_and_a_bare_reply_passes() {
        assert!(unwrap_envelope(serde_json::json!({"status": 402, "body": {"error": "pay"}})).is_err());
        assert!(unwrap_envelope(serde_json::json!({"error": "boom"})).is_err());
        assert!(unwrap_envelope(serde_json::json!({"status": 200, "body": {"choices": []}})).is_ok());
        assert!(unwrap_envelope(serde_json::json!([])).is_err());
    }

}
