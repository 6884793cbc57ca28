//! Time to first authenticated token through relay + gateway against time to first token from
//! the same back-end over plain HTTP on loopback; and attestation cold against cached. Then the
//! same model behind OpenGradient's wire (`stack up --flavor opengradient`): its time to first
//! shown token and to the verified reply against Sotto's wire, and registry discovery time.
//!
//! Last, what hiding sizes and timing from the relay costs: bytes on the wire and time to first
//! token with replies unpadded (a development-gateway switch for this measurement only), padded,
//! and padded with token coalescing at 50 and 250 ms, counted by a TCP proxy in front of the relay.
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

use sotto_e2e::{median, ms};


#[tokio::main]
async fn main() {
    let home = tempfile::tempdir().unwrap();
    let (profile, dir) = sotto_e2e::bench_profile(home.path());
    let stack = match LocalStack::start(&StackOptions { flavor: Default::default(), profile: Some(profile.clone()), backend: "embedded".into(), images: "demo".into(), search: "off".into(), replicas: 1, dir }) {
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
    padding_cost(home.path()).await;
}

fn write_profile(path: &std::path::Path, dir: &std::path::Path, relay_url: &str, gateway: u16, admin: u16) {
    std::fs::write(path, format!(
        "name = \"bench\"\n[[relays]]\nurl = \"{relay_url}\"\n[enclave]\nkind = \"development\"\ntrust_roots = [\"{d}/dev-root.pem\"]\nmeasurements_file = \"{d}/measurements.json\"\n[local_stack]\ngateway_listen = \"127.0.0.1:{gateway}\"\nadmin_listen = \"127.0.0.1:{admin}\"\n",
        d = dir.display())).unwrap();
}

/// Bytes each way through it, as the relay's side of the network sees them.
#[derive(Clone, Default)]
struct Counted {
    up: Arc<std::sync::atomic::AtomicU64>,
    down: Arc<std::sync::atomic::AtomicU64>,
}

/// A TCP forwarder in front of the relay that counts what passes.
async fn counting_proxy(upstream: String) -> (String, Counted) {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    async fn pump(mut from: tokio::net::tcp::OwnedReadHalf, mut to: tokio::net::tcp::OwnedWriteHalf, n: Arc<std::sync::atomic::AtomicU64>) {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(k) = from.read(&mut buf).await {
            if k == 0 || to.write_all(&buf[..k]).await.is_err() {
                break;
            }
            n.fetch_add(k as u64, Ordering::Relaxed);
        }
        let _ = to.shutdown().await;
    }
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let counted = Counted::default();
    let c = counted.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = l.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else { continue };
            // As nginx does (tcp_nodelay on): small sealed chunks go out at once.
            let _ = (client.set_nodelay(true), server.set_nodelay(true));
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::spawn(pump(cr, sw, c.up.clone()));
            tokio::spawn(pump(sr, cw, c.down.clone()));
        }
    });
    (url, counted)
}

/// The same exchange with replies unpadded, padded, and padded with coalescing: both stacks run
/// side by side and the four set-ups take turns, so drift in the model's speed hits all alike.
async fn padding_cost(home: &std::path::Path) {
    use std::sync::atomic::Ordering;
    const ROUNDS: usize = 21;
    let mut setups = Vec::new();
    let mut stacks = Vec::new();
    for (label, unpadded, windows) in [("unpadded replies", true, &[0u64][..]), ("padded", false, &[0, 50, 250][..])] {
        if unpadded {
            std::env::set_var("SOTTO_BENCH_UNPADDED_REPLIES", "1");
        } else {
            std::env::remove_var("SOTTO_BENCH_UNPADDED_REPLIES");
        }
        let dir = home.join(format!("pad-stack-{unpadded}"));
        let (relay, gateway, admin) = sotto_e2e::free_ports();
        let stack_profile = home.join(format!("pad-stack-{unpadded}.toml"));
        write_profile(&stack_profile, &dir, &format!("http://127.0.0.1:{relay}"), gateway, admin);
        let stack = match LocalStack::start(&StackOptions { flavor: Default::default(), profile: Some(stack_profile), backend: "embedded".into(), images: "demo".into(), search: "off".into(), replicas: 1, dir: dir.clone() }) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("padding cost skipped: {e}");
                return;
            }
        };
        stacks.push(stack);
        for &window in windows {
            // A proxy per set-up, so each one's bytes are its own.
            let (proxy, counted) = counting_proxy(format!("127.0.0.1:{relay}")).await;
            let client_profile = home.join(format!("pad-client-{unpadded}-{window}.toml"));
            write_profile(&client_profile, &dir, &proxy, gateway, admin);
            let options = ClientOptions { coalesce: Duration::from_millis(window), ..ClientOptions::default() };
            let client = PrivateClient::new(sotto_relay_config::Profile::load(&client_profile).unwrap(), options).unwrap();
            private_ttft(&client).await; // attests; the rounds below reuse the key
            let name = if window == 0 { label.to_string() } else { format!("{label}, coalescing {window} ms") };
            setups.push((name, client, counted, Vec::new(), Vec::new(), Vec::new(), Vec::new()));
        }
    }
    std::env::remove_var("SOTTO_BENCH_UNPADDED_REPLIES");
    for _ in 0..ROUNDS {
        for (_, client, counted, first, whole, up, down) in setups.iter_mut() {
            let (u0, d0) = (counted.up.load(Ordering::Relaxed), counted.down.load(Ordering::Relaxed));
            let (f, w) = private_ttft(client).await;
            first.push(f);
            whole.push(w);
            up.push(counted.up.load(Ordering::Relaxed) - u0);
            down.push(counted.down.load(Ordering::Relaxed) - d0);
        }
    }
    println!("what the relay sees per exchange (8-token streamed reply, median of {ROUNDS}, set-ups interleaved; bytes are HTTP on the wire, both ways):");
    for (name, _, _, first, whole, mut up, mut down) in setups {
        up.sort();
        down.sort();
        println!(
            "  {name:<32} request {:>5} B, reply {:>5} B; first token {:>6.1} ms, verified reply {:>6.1} ms",
            up[ROUNDS / 2], down[ROUNDS / 2], ms(median(first)), ms(median(whole))
        );
    }
    drop(stacks);
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
    let stack = match LocalStack::start(&StackOptions { flavor: Flavor::OpenGradient, profile: Some(profile), backend: "embedded".into(), images: "demo".into(), search: "off".into(), replicas: 1, dir }) {
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
