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
}

struct ProxyState {
    upstream: String,
    attack: Attack,
    captured: Mutex<Option<Bytes>>,
    http: reqwest::Client,
}

pub struct Proxy {
    pub url: String,
}

impl Proxy {
    pub async fn start(upstream: &str, attack: Attack) -> Self {
        let state = Arc::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_string(),
            attack,
            captured: Mutex::new(None),
            http: reqwest::Client::new(),
        });
        let app = axum::Router::new().fallback(forward).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url }
    }
}

async fn forward(State(s): State<Arc<ProxyState>>, req: Request) -> Response {
    let path = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
    let method = req.method().clone();
    let content_type = req.headers().get("content-type").cloned();
    let body = axum::body::to_bytes(req.into_body(), usize::MAX).await.unwrap_or_default();
    let is_attestation = path.starts_with("/attestation");

    if is_attestation && matches!(s.attack, Attack::HugeAttestation) {
        return Response::builder().header("content-type", "application/json").body(Body::from(vec![b'['; 4 << 20])).unwrap();
    }
    if is_attestation && matches!(s.attack, Attack::ReplayAttestation) {
        let captured = s.captured.lock().unwrap().clone();
        if let Some(old) = captured {
            return Response::builder().header("content-type", "application/json").body(Body::from(old)).unwrap();
        }
    }
    let mut out = s.http.request(method, format!("{}{}", s.upstream, path)).body(body);
    if let Some(ct) = content_type {
        out = out.header("content-type", ct);
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
        return builder.body(Body::from(bytes)).unwrap();
    }
    let flip_at = match s.attack {
        Attack::FlipResponseByte(at) => Some(at),
        _ => None,
    };
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
