//! A man in the middle between the client and the relay, for attacks on the path.

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use futures::StreamExt;

#[derive(Clone, Debug)]
pub enum Attack {
    /// Forward faithfully.
    None,
    /// Flip one bit of the sealed reply at this byte offset of the response body.
    FlipResponseByte(usize),
    /// Answer every attestation request with the first attestation seen (a replay).
    ReplayAttestation,
    /// Put another OHTTP key into the attestation bundle (key substitution).
    SwapKeyConfig,
    /// Answer attestation requests with an endless-looking 4 MiB body.
    HugeAttestation,
    /// Forward the reply but drop its last N bytes (a stream cut before its final chunk).
    TruncateResponse(usize),
    /// Answer every request that is not an attestation with this status (a relay's refusal).
    Status(u16),
    /// Answer attestation requests with 404, as a relay that offers none.
    NoAttestation,
    /// Answer every request that is not an attestation with `307` to this URL (a relay, or
    /// anyone on an http:// path, trying to send the sealed request straight to the gateway).
    RedirectTo(String),
    /// Answer every sealed request with the gateway's "unknown key" problem, although the
    /// enclave's key did not change (a relay trying to obtain a second sealed copy).
    ForgeKeyProblem,
    /// Answer sealed requests with a 500 whose body trickles a byte a second, forever.
    TrickleErrorBody,
    /// Answer attestation requests with a body that trickles a byte a second, forever.
    TrickleAttestation,
    /// Forward the sealed reply faithfully but in pieces of N bytes with a pause between, as a
    /// network may cut it anywhere (inside a chunk's length prefix too).
    Fragment(usize),
}

/// A body that never ends: one byte a second.
fn trickle() -> Body {
    let ticks = futures::stream::unfold((), |()| async {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        Some((Ok::<_, std::io::Error>(Bytes::from_static(b" ")), ()))
    });
    Body::from_stream(ticks)
}

struct ProxyState {
    upstream: String,
    attack: Attack,
    captured: Mutex<Option<Bytes>>,
    http: reqwest::Client,
    seen: Arc<Mutex<Vec<Exchange>>>,
    all: Arc<Mutex<Vec<Observed>>>,
}

/// Any request the proxy passed on whole (attestations included): what a relay's side of the
/// network carries, in HTTP body bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Observed {
    pub method: String,
    /// Without the query.
    pub path: String,
    pub sent: usize,
    pub received: usize,
}

/// What the proxy saw of one sealed exchange (not attestations): what a relay sees.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub request: Vec<u8>,
    pub response: Vec<u8>,
    /// The client's `Authorization` header, if it sent one.
    pub authorization: Option<String>,
}

pub struct Proxy {
    pub url: String,
    seen: Arc<Mutex<Vec<Exchange>>>,
    all: Arc<Mutex<Vec<Observed>>>,
}

impl Proxy {
    pub async fn start(upstream: &str, attack: Attack) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let all = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_string(),
            attack,
            captured: Mutex::new(None),
            http: reqwest::Client::new(),
            seen: seen.clone(),
            all: all.clone(),
        });
        let app = axum::Router::new().fallback(forward).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, seen, all }
    }

    /// The sealed exchanges forwarded so far (recorded when forwarding faithfully).
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.seen.lock().unwrap().clone()
    }

    /// Every request passed on whole so far (with `Attack::None`, all of them).
    pub fn observed(&self) -> Vec<Observed> {
        self.all.lock().unwrap().clone()
    }
}

/// The lengths of the plaintexts of a chunked OHTTP response's sealed chunks, as a relay can
/// read them from the framing (`nonce ‖ (varint len ‖ sealed)* ‖ 0 ‖ sealed final`), for a
/// response nonce of `nonce_len` bytes and a 16-byte AEAD tag.
pub fn chunk_plaintext_lengths(body: &[u8], nonce_len: usize) -> Option<Vec<usize>> {
    let mut at = nonce_len;
    let mut out = Vec::new();
    loop {
        let (v, len) = sotto_enclave_protocol::varint::read(body.get(at..)?)?;
        let v = usize::try_from(v).ok()?;
        at += len;
        if v == 0 {
            out.push(body.len().checked_sub(at)?.checked_sub(16)?);
            return Some(out);
        }
        out.push(v.checked_sub(16)?);
        at += v;
    }
}

async fn forward(State(s): State<Arc<ProxyState>>, req: Request) -> Response {
    let path = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
    let method = req.method().clone();
    // Everything but the hop's own headers goes on, as a relay's client sent it.
    let headers: Vec<(String, axum::http::HeaderValue)> = req
        .headers()
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "host" | "content-length" | "connection" | "transfer-encoding"))
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let body = axum::body::to_bytes(req.into_body(), usize::MAX).await.unwrap_or_default();
    let is_attestation = path.starts_with("/attestation") || path.starts_with("/api/v1/tee/attestation");

    if is_attestation && matches!(s.attack, Attack::NoAttestation) {
        return Response::builder().status(404).body(Body::empty()).unwrap();
    }
    if is_attestation && matches!(s.attack, Attack::TrickleAttestation) {
        return Response::builder().header("content-type", "application/json").body(trickle()).unwrap();
    }
    if !is_attestation && matches!(s.attack, Attack::TrickleErrorBody) {
        return Response::builder().status(500).header("content-type", "text/plain").body(trickle()).unwrap();
    }
    if !is_attestation && matches!(s.attack, Attack::ForgeKeyProblem) {
        s.seen.lock().unwrap().push(Exchange { request: body.to_vec(), response: Vec::new(), authorization: None });
        let problem = serde_json::json!({"type": sotto_enclave_protocol::media::PROBLEM_OHTTP_KEY, "title": "key identifier unknown"});
        return Response::builder().status(422).header("content-type", "application/problem+json").body(Body::from(problem.to_string())).unwrap();
    }
    if let (false, Attack::RedirectTo(target)) = (is_attestation, &s.attack) {
        return Response::builder().status(307).header("location", target.as_str()).body(Body::empty()).unwrap();
    }
    if let (false, Attack::Status(code)) = (is_attestation, &s.attack) {
        let body = serde_json::json!({"detail": format!("refused with {code}")}).to_string();
        return Response::builder().status(*code).header("content-type", "application/json").body(Body::from(body)).unwrap();
    }
    if is_attestation && matches!(s.attack, Attack::HugeAttestation) {
        return Response::builder().header("content-type", "application/json").body(Body::from(vec![b'['; 4 << 20])).unwrap();
    }
    if is_attestation && matches!(s.attack, Attack::ReplayAttestation) {
        let captured = s.captured.lock().unwrap().clone();
        if let Some(old) = captured {
            return Response::builder().header("content-type", "application/json").body(Body::from(old)).unwrap();
        }
    }
    let sent = body.clone();
    let authorization = headers.iter().find(|(k, _)| k == "authorization").and_then(|(_, v)| v.to_str().ok()).map(String::from);
    let mut out = s.http.request(method.clone(), format!("{}{}", s.upstream, path)).body(body);
    for (k, v) in headers {
        out = out.header(k, v);
    }
    let upstream = match out.send().await {
        Ok(r) => r,
        Err(_) => return Response::builder().status(502).body(Body::empty()).unwrap(),
    };
    let status = upstream.status();
    let ct = upstream.headers().get("content-type").cloned();
    let mut builder = Response::builder().status(status);
    if let Some(ct) = ct {
        builder = builder.header("content-type", ct);
    }
    if is_attestation {
        let bytes = upstream.bytes().await.unwrap_or_default();
        let bytes = match s.attack {
            Attack::ReplayAttestation => {
                s.captured.lock().unwrap().get_or_insert(bytes.clone());
                bytes
            }
            Attack::SwapKeyConfig => swap_key(&bytes),
            _ => bytes,
        };
        s.all.lock().unwrap().push(observed(&method, &path, sent.len(), bytes.len()));
        return builder.body(Body::from(bytes)).unwrap();
    }
    let flip_at = match s.attack {
        Attack::FlipResponseByte(at) => Some(at),
        _ => None,
    };
    if matches!(s.attack, Attack::None) {
        let bytes = upstream.bytes().await.unwrap_or_default();
        s.all.lock().unwrap().push(observed(&method, &path, sent.len(), bytes.len()));
        s.seen.lock().unwrap().push(Exchange { request: sent.to_vec(), response: bytes.to_vec(), authorization });
        return builder.body(Body::from(bytes)).unwrap();
    }
    if let Attack::TruncateResponse(n) = s.attack {
        let bytes = upstream.bytes().await.unwrap_or_default();
        let keep = bytes.len().saturating_sub(n);
        return builder.body(Body::from(bytes.slice(..keep))).unwrap();
    }
    if let Attack::Fragment(size) = s.attack {
        let bytes = upstream.bytes().await.unwrap_or_default();
        let pieces: Vec<Bytes> = bytes.chunks(size.max(1)).map(Bytes::copy_from_slice).collect();
        let paced = futures::stream::iter(pieces).then(|piece| async move {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            Ok::<_, std::io::Error>(piece)
        });
        return builder.body(Body::from_stream(paced)).unwrap();
    }
    let mut seen = 0usize;
    let stream = upstream.bytes_stream().map(move |chunk| {
        chunk.map(|c| {
            let mut v = c.to_vec();
            if let Some(at) = flip_at {
                if at >= seen && at < seen + v.len() {
                    v[at - seen] ^= 0x01;
                }
            }
            seen += v.len();
            Bytes::from(v)
        })
    });
    builder.body(Body::from_stream(stream)).unwrap()
}

fn observed(method: &axum::http::Method, path: &str, sent: usize, received: usize) -> Observed {
    let path = path.split('?').next().unwrap_or_default().to_string();
    Observed { method: method.to_string(), path, sent, received }
}

fn swap_key(bundle: &[u8]) -> Bytes {
    use base64::Engine;
    let mut json: serde_json::Value = serde_json::from_slice(bundle).unwrap();
    let config = ohttp::KeyConfig::new(
        7,
        ohttp::hpke::Kem::X25519Sha256,
        vec![ohttp::SymmetricSuite::new(ohttp::hpke::Kdf::HkdfSha256, ohttp::hpke::Aead::Aes128Gcm)],
    )
    .unwrap();
    json["ohttp_key_config"] = base64::engine::general_purpose::STANDARD.encode(config.encode().unwrap()).into();
    Bytes::from(json.to_string())
}
