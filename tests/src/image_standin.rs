//! A **stand-in** for an OpenAI-compatible image API (`POST /v1/images/generations`), so the
//! gateway's `openai:` image back-end meets real HTTP, including an image service's failures.
//! What it does depends on a word in the prompt:
//!
//! | word | answer |
//! | --- | --- |
//! | `policy` | 400 with `code: content_policy_violation` |
//! | `busy` | 429 rate limited |
//! | `crash` | 500 with an HTML body |
//! | `slow` | nothing for 60 s (the gateway's timeout ends it) |
//! | `garbled` | 200 whose `b64_json` is not base64 |
//! | `smaller` | 200 with an image of 256×256 whatever was asked |
//! | anything else | 200 with `n` solid PNGs of the size asked, their colour from the prompt |

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

pub struct ImageStandin {
    pub url: String,
    /// Every request body it received.
    pub requests: Arc<Mutex<Vec<Value>>>,
}

impl ImageStandin {
    pub async fn start() -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new().route("/v1/images/generations", axum::routing::post(generate)).with_state(requests.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, requests }
    }
}

/// A solid PNG.
pub fn solid_png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut w = encoder.write_header().expect("PNG header");
    let pixels: Vec<u8> = (0..width * height).flat_map(|_| rgb).collect();
    w.write_image_data(&pixels).expect("PNG data");
    w.finish().expect("PNG end");
    out
}

async fn generate(State(seen): State<Arc<Mutex<Vec<Value>>>>, Json(body): Json<Value>) -> Response {
    seen.lock().unwrap().push(body.clone());
    let prompt = body["prompt"].as_str().unwrap_or_default().to_lowercase();
    let error = |status: StatusCode, message: &str, code: &str| {
        (status, Json(json!({"error": {"message": message, "type": "invalid_request_error", "code": code}}))).into_response()
    };
    if prompt.contains("policy") {
        return error(StatusCode::BAD_REQUEST, "Your request was rejected as a result of our safety system.", "content_policy_violation");
    }
    if prompt.contains("busy") {
        return error(StatusCode::TOO_MANY_REQUESTS, "Rate limit reached for images per minute.", "rate_limit_exceeded");
    }
    if prompt.contains("crash") {
        return (StatusCode::INTERNAL_SERVER_ERROR, "<html><body>Internal Server Error</body></html>").into_response();
    }
    if prompt.contains("slow") {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    }
    let (w, h) = body["size"]
        .as_str()
        .and_then(|s| s.split_once('x'))
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .unwrap_or((1024, 1024));
    let (w, h) = if prompt.contains("smaller") { (256, 256) } else { (w, h) };
    let n = body["n"].as_u64().unwrap_or(1);
    let colour = [prompt.len() as u8, 90, 160];
    let data: Vec<Value> = (0..n)
        .map(|i| {
            let b64 = if prompt.contains("garbled") {
                "this is *not* base64!".to_string()
            } else {
                base64::engine::general_purpose::STANDARD.encode(solid_png(w, h, [colour[0], colour[1], colour[2].wrapping_add(i as u8 * 40)]))
            };
            json!({"b64_json": b64, "revised_prompt": body["prompt"]})
        })
        .collect();
    Json(json!({"created": 1, "data": data})).into_response()
}
