//! A **stand-in** for a web search API in the Brave Search format (`GET /res/v1/web/search`)
//! and for the pages it finds, so the gateway's `brave:` provider meets real HTTP — pages to
//! fetch and parse, and a provider's failures. What it does depends on a word in the query:
//!
//! | word | answer |
//! | --- | --- |
//! | `busy` | 429 rate limited |
//! | `crash` | 500 with an HTML body |
//! | `slow` | nothing for 60 s (the gateway's timeout ends it) |
//! | `garbled` | 200 that is not JSON |
//! | `nothing` | 200 with no `web` section (no results) |
//! | anything else | two results: `/page/lighthouse` (HTML) and `/page/missing` (404, so its snippet is quoted) |

use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

pub struct SearchStandin {
    pub url: String,
    /// Every query it received, with the key header it came with.
    pub queries: Arc<Mutex<Vec<(String, Option<String>)>>>,
}

#[derive(Clone)]
struct Shared {
    base: String,
    queries: Arc<Mutex<Vec<(String, Option<String>)>>>,
}

impl SearchStandin {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let queries = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared { base: url.clone(), queries: queries.clone() };
        let app = axum::Router::new()
            .route("/res/v1/web/search", axum::routing::get(search))
            .route("/page/{name}", axum::routing::get(page))
            .with_state(shared);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, queries }
    }
}

async fn search(State(s): State<Shared>, headers: HeaderMap, Query(q): Query<std::collections::HashMap<String, String>>) -> Response {
    let query = q.get("q").cloned().unwrap_or_default();
    let key = headers.get("x-subscription-token").and_then(|v| v.to_str().ok()).map(String::from);
    s.queries.lock().unwrap().push((query.clone(), key));
    let lower = query.to_lowercase();
    if lower.contains("busy") {
        return (StatusCode::TOO_MANY_REQUESTS, Json(json!({"type": "ErrorResponse", "error": {"code": "RATE_LIMITED"}}))).into_response();
    }
    if lower.contains("crash") {
        return (StatusCode::INTERNAL_SERVER_ERROR, "<html><body>Internal error</body></html>").into_response();
    }
    if lower.contains("slow") {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    }
    if lower.contains("garbled") {
        return (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "{\"web\": {\"results\": [").into_response();
    }
    if lower.contains("nothing") {
        return Json(json!({"type": "search", "query": {"original": query}})).into_response();
    }
    Json(json!({
        "type": "search",
        "web": {"results": [
            {"title": "The <strong>Pharos</strong> of Alexandria", "url": format!("{}/page/lighthouse", s.base), "description": "An ancient <strong>lighthouse</strong>."},
            {"title": "A page that is gone", "url": format!("{}/page/missing", s.base), "description": "Lighthouses guided ships into harbours at night."},
        ]}
    }))
    .into_response()
}

async fn page(Path(name): Path<String>) -> Response {
    match name.as_str() {
        "lighthouse" => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<html><head><title>Pharos</title><script>var tracking = 'pagescript-marker';</script></head><body>\
             <nav>Home</nav><h1>The Pharos</h1><p>The lighthouse of Alexandria was built in the third century BC \
             on the island of Pharos.</p><p>It stood for over a thousand years.</p></body></html>",
        )
            .into_response(),
        _ => (StatusCode::NOT_FOUND, "gone").into_response(),
    }
}
