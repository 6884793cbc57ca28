//! Time to first authenticated token through relay + gateway against time to first token from
//! the same back-end over plain HTTP on loopback; and attestation cold against cached. Then the
//! same model behind OpenGradient's wire (`stack up --flavor opengradient`): its time to first
//! shown token and to the verified reply against Sotto's wire, and registry discovery time.
//!
//! `cargo build --workspace --bins && cargo bench -p sotto-e2e --bench ttft --profile dev`
//! (the dev profile builds dependencies, the model included, at opt-level 3.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use futures::StreamExt;
use serde_json::{json, Value};
use sotto_core::stack::{Flavor, LocalStack, StackOptions};
use sotto_enclave_gateway::backend::{self, Backend, BackendEvent, ChatRequest};
use sotto_enclave_gateway::BackendSpec;
use sotto_private_inference::{ClientOptions, PrivateClient, ReplyEvent};

const RUNS: usize = 7;

fn request() -> Value {
    json!({"messages": [{"role": "user", "content": "Name three colours."}], "stream": true, "max_tokens": 8, "temperature": 0})
}

/// The same back-end served as plain OpenAI-style SSE over loopback, no OHTTP, no relay.
async fn plain_server(backend: Arc<dyn Backend>) -> String {
    async fn chat(State(b): State<Arc<dyn Backend>>, body: Bytes) -> Response {
        let body: Value = serde_json::from_slice(&body).unwrap();
        let events = b.chat(ChatRequest { body }).filter_map(|e| async move {
            match e {
                BackendEvent::Text(t) => Some(Ok::<_, std::io::Error>(Bytes::from(format!(
                    "data: {}\n\n",
                    json!({"choices": [{"delta": {"content": t}}]})
                )))),
                _ => None,
            }
        });
        Response::builder().header("content-type", "text/event-stream").body(Body::from_stream(events)).unwrap()
    }
    let app = axum::Router::new().route("/v1/chat/completions", axum::routing::post(chat)).with_state(backend);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    url
}

async fn plain_ttft(url: &str) -> Duration {
    let t = Instant::now();
    let resp = reqwest::Client::new().post(format!("{url}/v1/chat/completions")).json(&request()).send().await.unwrap();
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        if chunk.unwrap().windows(7).any(|w| w == b"content") {
            return t.elapsed();
        }
    }
    panic!("no token");
}

async fn private_ttft(client: &PrivateClient) -> (Duration, Duration) {
    let t = Instant::now();
    let mut stream = client.chat(&request()).await.unwrap();
    let mut first = None;
    while let Some(ev) = stream.next().await {
        match ev.unwrap() {
            ReplyEvent::Text(_) => {
                first.get_or_insert(t.elapsed());
            }
            ReplyEvent::Verified(_) => break,
        }
    }
    (first.expect("a token"), t.elapsed())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}


#[tokio::main]
async fn main() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("stack");
    let profile = home.path().join("bench.toml");
    let (relay, gateway, admin) = sotto_e2e::free_ports();
    std::fs::write(&profile, format!(
        "name = \"bench\"\n[[relays]]\nurl = \"http://127.0.0.1:{relay}\"\n[enclave]\nkind = \"development\"\ntrust_roots = [\"{d}/dev-root.pem\"]\nmeasurements_file = \"{d}/measurements.json\"\n[local_stack]\ngateway_listen = \"127.0.0.1:{}\"\nadmin_listen = \"127.0.0.1:{}\"\n",
        gateway, admin, d = dir.display())).unwrap();
    let stack = match LocalStack::start(&StackOptions { flavor: Default::default(), profile: Some(profile.clone()), backend: "embedded".into(), dir }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skipped: {e}");
            return;
        }
    };
    let spec = BackendSpec::Embedded { model_path: sotto_embedded_model::default_model_path() };
    let backend = tokio::task::spawn_blocking(move || backend::build(&spec)).await.unwrap().unwrap();
    let plain = plain_server(backend).await;
    let client = PrivateClient::new(sotto_relay_config::Profile::load(&profile).unwrap(), ClientOptions::default()).unwrap();

    let t = Instant::now();
    client.attested().await.unwrap();
    let cold = t.elapsed();
    let t = Instant::now();
    for _ in 0..1000 {
        client.attested().await.unwrap();
    }
    let cached = t.elapsed() / 1000;
    println!("attestation through the relay: cold {:.2} ms (GET + verify), cached {:.2} µs", ms(cold), cached.as_secs_f64() * 1e6);

    // Warm both paths once (page cache, connection pools), then alternate.
    plain_ttft(&plain).await;
    private_ttft(&client).await;
    let (mut p, mut q, mut whole) = (vec![], vec![], vec![]);
    for _ in 0..RUNS {
        p.push(plain_ttft(&plain).await);
        let (first, all) = private_ttft(&client).await;
        q.push(first);
        whole.push(all);
    }
    let (p, q) = (median(p), median(q));
    println!("time to first token, plain HTTP on loopback:        median {:.1} ms over {RUNS}", ms(p));
    println!("time to first authenticated token, relay + gateway: median {:.1} ms over {RUNS}", ms(q));
    println!("ratio private / plain: {:.3} (target <= 1.2)", ms(q) / ms(p));
    let local_whole = median(whole);
    println!("whole verified reply (8 tokens, receipt checked):   median {:.1} ms", ms(local_whole));
    drop(stack);
    opengradient_wire(home.path(), q, local_whole).await;
}

/// The same embedded model behind OpenGradient's wire, relay paths and registry stand-in.
async fn opengradient_wire(home: &std::path::Path, local_first: Duration, local_whole: Duration) {
    let dir = home.join("og-stack");
    let profile = home.join("og-bench.toml");
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (relay, gateway, admin) = sotto_e2e::free_ports();
    let registry = held.local_addr().unwrap().port();
    drop(held);
    std::fs::write(&profile, format!(
        "name = \"bench-og\"\n[[relays]]\nurl = \"http://127.0.0.1:{relay}\"\n[enclave]\nkind = \"development\"\ntrust_roots = [\"{d}/dev-root.pem\"]\nmeasurements_file = \"{d}/measurements.json\"\n[local_stack]\ngateway_listen = \"127.0.0.1:{gateway}\"\nadmin_listen = \"127.0.0.1:{admin}\"\nregistry_listen = \"127.0.0.1:{registry}\"\n",
        d = dir.display())).unwrap();
    let stack = match LocalStack::start(&StackOptions { flavor: Flavor::OpenGradient, profile: Some(profile), backend: "embedded".into(), dir }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("OpenGradient wire skipped: {e}");
            return;
        }
    };
    let og_profile = stack.profile_file.clone().expect("the stack wrote its profile");
    let client = PrivateClient::new(sotto_relay_config::Profile::load(&og_profile).unwrap(), ClientOptions::default()).unwrap();
    let mut discovery = vec![];
    for _ in 0..RUNS {
        let t = Instant::now();
        client.discover().await.expect("an OpenGradient profile").unwrap();
        discovery.push(t.elapsed());
    }
    println!("OpenGradient registry discovery (eth_call getActiveTEEs + ABI decode): median {:.2} ms over {RUNS}", ms(median(discovery)));
    private_ttft(&client).await;
    let (mut first, mut whole) = (vec![], vec![]);
    for _ in 0..RUNS {
        let (f, w) = private_ttft(&client).await;
        first.push(f);
        whole.push(w);
    }
    let (f, w) = (median(first), median(whole));
    println!("OpenGradient wire, first shown (authenticated) token: median {:.1} ms; verified reply {:.1} ms (each request fetches and verifies the TEE's attestation through the relay)", ms(f), ms(w));
    println!("ratio OpenGradient wire / Sotto wire: first token {:.3}, verified reply {:.3}", ms(f) / ms(local_first), ms(w) / ms(local_whole));
    drop(stack);
}
