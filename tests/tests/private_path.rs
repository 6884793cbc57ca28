//! The private path end to end with real processes: `sotto stack up` (gateway process + nginx
//! relay), the `sotto` CLI and the client library, and a proxy that attacks the path.

use std::sync::Arc;

use serde_json::json;
use sotto_e2e::{Attack, Proxy, Stack, StackSpec};
use sotto_private_inference::{ClientOptions, FixedOffsetClock, InferenceError, PrivateClient, ReplyEvent};

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn client(stack: &Stack, options: ClientOptions) -> PrivateClient {
    PrivateClient::new(stack.load_profile(&stack.profile), options).unwrap()
}

/// A client whose only relay is `proxy` (which sits in front of the stack's relay).
fn client_through(stack: &Stack, proxy: &Proxy) -> PrivateClient {
    let mut profile = stack.load_profile(&stack.profile);
    profile.relays[0].url = proxy.url.parse().unwrap();
    PrivateClient::new(profile, ClientOptions::default()).unwrap()
}

/// Through `proxy`, a chat fails at attestation for `reason`, and no prompt reaches the enclave.
async fn refused_before_sending(stack: &Stack, proxy: &Proxy, reason: &str) {
    let e = client_through(stack, proxy).chat(&ask()).await.err().expect("the attack must be refused");
    assert!(e.before_sending() && e.to_string().contains(reason), "{e}");
    assert_eq!(stack.chat_requests().await, 0);
}

fn ask() -> serde_json::Value {
    json!({"messages": [{"role": "user", "content": "hello"}], "stream": true})
}

#[tokio::test(flavor = "multi_thread")]
async fn streamed_and_whole_replies_verify() {
    let stack = Stack::start(StackSpec::default());
    let p = stack.profile.to_str().unwrap().to_string();
    for extra in [&[][..], &["--no-stream"][..]] {
        let mut args = vec!["ask", "--profile", &p, "--json"];
        args.extend_from_slice(extra);
        args.push("Say hello");
        let out = stack.sotto(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(json["reply"], "Hello, private world.");
        assert_eq!(json["verified"], true);
        assert_eq!(json["model"], "scripted");
        let receipt = &json["receipt"];
        for key in ["request_hash", "output_hash", "signature", "key_id", "timestamp_ms"] {
            assert!(!receipt[key].is_null(), "receipt lacks {key}: {receipt}");
        }
        assert_eq!(receipt["enclave"]["kind"], "development");
        assert_eq!(receipt["measurements"].as_object().unwrap().len(), 3);
    }
    // Plain output (no terminal): the reply only, after it verified.
    let out = stack.sotto(&["ask", "--profile", &p, "Say hello"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out).trim(), "Hello, private world.");
    assert!(stderr(&out).contains("not hardware-protected"));

    // The chat model, then the image model with what it is.
    let out = stack.sotto(&["models", "--profile", &p]);
    assert_eq!(stdout(&out).trim(), "scripted\nsotto-demo-images  (images: local demo generator — not a trained model)");
    let out = stack.sotto(&["models", "--profile", &p, "--json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["models"], serde_json::json!(["scripted"]), "`models` lists the chat models");
    assert_eq!(json["catalog"][1]["kind"], "image");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_library_streams_authenticated_text_then_the_verified_reply() {
    let stack = Stack::start(StackSpec::default());
    let c = client(&stack, ClientOptions::default());
    let mut stream = c.chat(&ask()).await.unwrap();
    let mut pieces = Vec::new();
    let verified = loop {
        match stream.next().await.unwrap().unwrap() {
            ReplyEvent::Text(t) => pieces.push(t),
            ReplyEvent::Verified(r) => break r,
        }
    };
    assert_eq!(pieces, vec!["Hello", ", private", " world."]);
    assert_eq!(verified.text, "Hello, private world.");
    assert_eq!(verified.receipt.chunks, 5, "three text chunks, the finish chunk and [DONE]");
}

/// A network may cut the sealed reply anywhere, inside a chunk's length prefix too (the `ohttp`
/// reader alone then fails such a reply); cut into pieces of 1, 2, 3 and 7 bytes, every reply
/// still opens and verifies.
#[tokio::test(flavor = "multi_thread")]
async fn a_reply_cut_into_tiny_pieces_on_the_way_still_verifies() {
    let stack = Stack::start(StackSpec::default());
    for size in [1, 2, 3, 7] {
        let proxy = Proxy::start(&stack.relay_url, Attack::Fragment(size)).await;
        let c = client_through(&stack, &proxy);
        let mut stream = c.chat(&ask()).await.unwrap();
        let verified = loop {
            match stream.next().await.expect("a reply").unwrap_or_else(|e| panic!("pieces of {size}: {e}")) {
                ReplyEvent::Text(_) => {}
                ReplyEvent::Verified(r) => break r,
            }
        };
        assert_eq!(verified.text, "Hello, private world.", "pieces of {size}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flipped_byte_in_the_reply_shows_nothing_and_exits_3() {
    let stack = Stack::start(StackSpec::default());
    let p = stack.profile.to_str().unwrap().to_string();
    // Offset 60 lies inside the first sealed chunk (after the 16-byte response nonce).
    let proxy = Proxy::start(&stack.relay_url, Attack::FlipResponseByte(60)).await;
    let out = stack.sotto(&["ask", "--profile", &p, "--relay", &proxy.url, "Say hello"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "nothing may be shown");
    assert!(stderr(&out).contains("altered"), "{}", stderr(&out));
    assert_eq!(stack.chat_requests().await, 1, "the request did reach the enclave; its reply was refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_final_chunk_withdraws_text_already_shown() {
    let stack = Stack::start(StackSpec::default());
    // Flip a byte past the first text chunks (their sizes vary with ids and timestamps), and
    // look for a reply that streamed text and then failed: the caller must withdraw it.
    let mut withdrew = false;
    for at in (300..900).step_by(40) {
        let proxy = Proxy::start(&stack.relay_url, Attack::FlipResponseByte(at)).await;
        let c = client_through(&stack, &proxy);
        let mut stream = c.chat(&ask()).await.unwrap();
        let mut shown = 0;
        let mut failed = None;
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(ReplyEvent::Text(_)) => shown += 1,
                Ok(ReplyEvent::Verified(_)) => break,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if shown > 0 {
            if let Some(e) = failed {
                assert!(matches!(e, InferenceError::Tampered), "{e}");
                withdrew = true;
                break;
            }
        }
    }
    assert!(withdrew, "some flipped byte must fail after text was handed on");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_expected_pcr_refuses_before_any_prompt_is_sent() {
    let stack = Stack::start(StackSpec::default());
    let p = stack.profile.to_str().unwrap().to_string();
    let wrong = format!("0={}", "ab".repeat(48));
    let out = stack.sotto(&["ask", "--profile", &p, "--expect-pcr", &wrong, "secret prompt"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("PCR0 differs"), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(stack.chat_requests().await, 0);
    // Only attestation GETs reached the gateway: no POST at all.
    let obs = stack.observations().await;
    assert!(obs["requests"].as_array().unwrap().iter().all(|r| r["method"] == "GET"), "{obs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_root_refuses_before_any_prompt_is_sent() {
    let stack = Stack::start(StackSpec::default());
    let foreign = sotto_attestation::issuer::DevelopmentIssuer::generate(std::time::SystemTime::now()).unwrap();
    let root = stack.home.path().join("foreign-root.pem");
    std::fs::write(&root, foreign.root_pem()).unwrap();
    let profile = stack.home.path().join("foreign.toml");
    stack.write_profile(&profile, std::slice::from_ref(&stack.relay_url), Some(&root));
    let out = stack.sotto(&["ask", "--profile", profile.to_str().unwrap(), "secret prompt"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("trusted root"), "{}", stderr(&out));
    assert_eq!(stack.chat_requests().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_and_future_documents_are_refused_before_any_prompt_is_sent() {
    let stack = Stack::start(StackSpec::default());
    let cases = [
        (4 * 3600, "expired"),   // past the leaf certificate's life
        (600, "old"),            // within it, but older than max_document_age_s
        (-30, "future"),         // dated after the client's clock
    ];
    for (offset_s, word) in cases {
        let c = client(&stack, ClientOptions { clock: Arc::new(FixedOffsetClock { offset_s }), ..Default::default() });
        let e = c.chat(&ask()).await.err().unwrap_or_else(|| panic!("{word} must fail"));
        assert!(e.before_sending(), "{e}");
        assert!(e.to_string().contains(word), "{word}: {e}");
    }
    assert_eq!(stack.chat_requests().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_attestation_is_refused_before_any_prompt_is_sent() {
    let stack = Stack::start(StackSpec::default());
    let proxy = Proxy::start(&stack.relay_url, Attack::ReplayAttestation).await;
    // The attacker captured an attestation answered for another challenge.
    reqwest::get(format!("{}/attestation?nonce=00112233", proxy.url)).await.unwrap();
    refused_before_sending(&stack, &proxy, "nonce mismatch").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_substituted_key_is_refused_before_any_prompt_is_sent() {
    let stack = Stack::start(StackSpec::default());
    let proxy = Proxy::start(&stack.relay_url, Attack::SwapKeyConfig).await;
    refused_before_sending(&stack, &proxy, "user_data mismatch").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_stream_is_a_clear_error() {
    let replies = json!([{"chunks": [{"text": "one"}, {"text": "two"}, {"text": "three"}], "truncate_after": 2}]);
    let stack = Stack::start(StackSpec { replies, ..Default::default() });
    let c = client(&stack, ClientOptions::default());
    let e = c.chat(&ask()).await.unwrap().verified().await.unwrap_err();
    assert!(matches!(e, InferenceError::Truncated), "{e}");
    let p = stack.profile.to_str().unwrap().to_string();
    let out = stack.sotto(&["ask", "--profile", &p, "hello"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("cut off"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_stream_is_a_clear_error() {
    let replies = json!([{"chunks": [{"text": "one"}, {"text": "two"}], "stall_after": 1}]);
    let stack = Stack::start(StackSpec { replies, stall_s: 2, ..Default::default() });
    let c = client(&stack, ClientOptions::default());
    let mut stream = c.chat(&ask()).await.unwrap();
    // The first piece arrives although the enclave then stalls: the relay streams, it does not
    // buffer the reply.
    match stream.next().await.unwrap() {
        Ok(ReplyEvent::Text(t)) => assert_eq!(t, "one"),
        other => panic!("expected the first piece before the stall, got {other:?}"),
    }
    let e = stream.next().await.unwrap().unwrap_err();
    assert!(matches!(e, InferenceError::Stalled { secs: 2 }), "{e}");
    assert!(e.to_string().contains("stopped sending"));
}

/// A user who stops a reply (the client drops it) stops it in the enclave too: the reply, and
/// the model's work on it, end then and not a minute later when the model would have finished.
#[tokio::test(flavor = "multi_thread")]
async fn a_reply_the_client_abandons_stops_in_the_enclave() {
    // The model answers one word, then thinks for a minute.
    let chunks = json!([{"text": "Well"}, {"text": ", then.", "delay_ms": 60_000}]);
    let stack = Stack::start(StackSpec { replies: json!([{"chunks": chunks}]), stall_s: 120, ..Default::default() });
    let c = client(&stack, ClientOptions::default());
    let mut stream = c.chat(&ask()).await.unwrap();
    assert!(matches!(stream.next().await, Some(Ok(ReplyEvent::Text(_)))));
    assert_eq!(stack.observations().await["replies_in_progress"], 1);
    drop(stream);
    let mut waited = 0;
    while stack.observations().await["replies_in_progress"] != 0 {
        assert!(waited < 200, "the enclave still makes a reply nobody reads");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn key_rotation_mid_session_re_attests_and_succeeds() {
    let stack = Stack::start(StackSpec::default());
    let c = client(&stack, ClientOptions::default());
    let first = c.chat(&ask()).await.unwrap().verified().await.unwrap();
    let again = c.chat(&ask()).await.unwrap().verified().await.unwrap();
    assert_eq!(stack.observations().await["attestations"], 1, "the verified key is cached");
    stack.rotate_keys().await;
    let after = c.chat(&ask()).await.unwrap().verified().await.unwrap();
    assert_eq!(after.text, "Hello, private world.");
    assert_ne!(after.enclave.ohttp_key_id, first.enclave.ohttp_key_id);
    assert_ne!(after.receipt.key_id, again.receipt.key_id);
    assert_eq!(stack.observations().await["attestations"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_second_relay_is_used_when_the_first_is_down() {
    let stack = Stack::start(StackSpec::default());
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let profile = stack.home.path().join("two-relays.toml");
    stack.write_profile(&profile, &[dead, stack.relay_url.clone()], None);
    let out = stack.sotto(&["ask", "--profile", profile.to_str().unwrap(), "--json", "hello"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(json["relay"].as_str().unwrap().contains(&stack.relay_port().to_string()));

    // All relays down: a plain message that suggests starting the stack.
    let profile = stack.home.path().join("no-relays.toml");
    stack.write_profile(&profile, &["http://127.0.0.1:9".to_string()], None);
    let out = stack.sotto(&["ask", "--profile", profile.to_str().unwrap(), "hello"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("sotto stack up"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_never_receives_the_clients_address() {
    let stack = Stack::start(StackSpec::default());
    let client_ip: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let c = client(&stack, ClientOptions { local_address: Some(client_ip), ..Default::default() });
    c.chat(&ask()).await.unwrap().verified().await.unwrap();
    // A client that volunteers identifying headers: the relay must not pass them on.
    let nosy = reqwest::Client::builder().local_address(client_ip).build().unwrap();
    let r = nosy
        .get(format!("{}/attestation?nonce=0102", stack.relay_url))
        .header("X-Forwarded-For", "127.0.0.2")
        .header("Forwarded", "for=127.0.0.2")
        .header("Cookie", "session=client-secret")
        .header("User-Agent", "client-browser/1.0")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    let obs = stack.observations().await;
    let requests = obs["requests"].as_array().unwrap();
    assert!(requests.len() >= 3, "{obs}");
    for r in requests {
        let peer = r["peer"].as_str().unwrap();
        assert!(peer.starts_with("127.0.0.1:"), "the gateway saw peer {peer}");
        let text = r.to_string();
        for leak in ["127.0.0.2", "client-secret", "client-browser", "forwarded"] {
            assert!(!text.to_lowercase().contains(leak), "the gateway received `{leak}`: {text}");
        }
    }
}

/// A stand-in for a cloud model provider (OpenAI-compatible, streaming), for the `openai`
/// back-end: what a real enclave would forward to outside its trust boundary.
async fn cloud_provider_stand_in() -> String {
    use axum::routing::{get, post};
    async fn chat() -> axum::response::Response {
        let events = [
            r#"{"choices":[{"delta":{"role":"assistant","content":"From"},"finish_reason":null}]}"#,
            r#"{"choices":[{"delta":{"content":" upstream."},"finish_reason":null}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#,
            "[DONE]",
        ];
        let body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
        axum::response::Response::builder().header("content-type", "text/event-stream").body(body.into()).unwrap()
    }
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", get(|| async { axum::Json(json!({"data": [{"id": "stand-in-large"}]})) }));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openai_back_end_forwards_and_the_reply_verifies() {
    let upstream = cloud_provider_stand_in().await;
    let stack = Stack::start(StackSpec { backend: Some(format!("openai:{upstream}")), ..Default::default() });
    let p = stack.profile.to_str().unwrap().to_string();
    let out = stack.sotto(&["ask", "--profile", &p, "--json", "--model", "stand-in-large", "hello"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["reply"], "From upstream.");
    assert_eq!(json["model"], "stand-in-large");
    let out = stack.sotto(&["models", "--profile", &p]);
    assert_eq!(stdout(&out).lines().next(), Some("stand-in-large"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_verified_exchange_exports_as_markdown_and_pdf_with_its_receipt() {
    let stack = Stack::start(StackSpec::default());
    let p = stack.profile.to_str().unwrap().to_string();
    let md = stack.home.path().join("exchange.md");
    let pdf = stack.home.path().join("exchange.pdf");
    for target in [&md, &pdf] {
        let out = stack.sotto(&["ask", "--profile", &p, "--export", target.to_str().unwrap(), "Say hello"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.contains("Hello, private world."), "{text}");
    assert!(text.contains("development enclave") && text.contains("output hash"), "{text}");
    let out = std::process::Command::new("pdftotext").arg(&pdf).arg("-").output().unwrap();
    let pdf_text = String::from_utf8_lossy(&out.stdout);
    assert!(pdf_text.contains("Hello, private world.") && pdf_text.contains("Receipt"), "{pdf_text}");

    let out = stack.sotto(&["ask", "--profile", &p, "--export", "/nonexistent-dir/x.pdf", "Say hello"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("could not be written"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_undecryptable_request_asks_the_client_to_re_attest() {
    let stack = Stack::start(StackSpec::default());
    let c = client(&stack, ClientOptions::default());
    let key_id = c.attested().await.unwrap().identity.ohttp_key_id;
    // The current key id, then bytes no key opens (as after a restart that reused the id).
    let mut body = vec![key_id, 0x00, 0x20, 0x00, 0x01, 0x00, 0x01];
    body.extend_from_slice(&[0x5a; 80]);
    let r = reqwest::Client::new()
        .post(format!("{}/gateway", stack.relay_url))
        .header("content-type", "message/ohttp-chunked-req")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    assert!(r.text().await.unwrap().contains("ohttp-key"));
    assert_eq!(stack.chat_requests().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_attestation_answer_is_refused_without_reading_it_all() {
    let stack = Stack::start(StackSpec::default());
    let proxy = Proxy::start(&stack.relay_url, Attack::HugeAttestation).await;
    refused_before_sending(&stack, &proxy, "larger than").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_stack_on_the_same_ports_is_refused_and_the_first_keeps_working() {
    let stack = Stack::start(StackSpec::default());
    let p = stack.profile.to_str().unwrap().to_string();
    let root = stack.home.path().join("stack/dev-root.pem");
    let before = std::fs::read(&root).unwrap();
    let script = stack.home.path().join("script.json");
    let out = stack.sotto(&["stack", "up", "--profile", &p, "--backend", &format!("scripted:{}", script.display())]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already in use"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&root).unwrap(), before, "the running stack's root must not be replaced");
    let out = stack.sotto(&["ask", "--profile", &p, "hello"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_stack_ends_with_the_process_that_started_it_even_when_that_is_killed() {
    let mut stack = Stack::start(StackSpec::default());
    let (gateway, admin) = stack.gateway_ports();
    let ports = [stack.relay_port(), gateway, admin];
    let answers = |port: u16| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
    assert!(ports.iter().all(|&p| answers(p)), "the stack is up");
    stack.kill_hard();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ports.iter().any(|&p| answers(p)) {
        assert!(std::time::Instant::now() < deadline, "the relay or the gateway outlived `sotto stack up` (ports {ports:?})");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A clock the test moves forward.
struct SteppedClock(std::sync::atomic::AtomicU64);

impl sotto_private_inference::Clock for SteppedClock {
    fn now(&self) -> std::time::SystemTime {
        std::time::SystemTime::now() + std::time::Duration::from_secs(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_verified_key_is_reused_only_until_the_cache_expires() {
    let stack = Stack::start(StackSpec::default());
    let mut profile = stack.load_profile(&stack.profile);
    profile.enclave.key_cache = std::time::Duration::from_secs(60);
    let clock = Arc::new(SteppedClock(0.into()));
    let c = PrivateClient::new(profile, ClientOptions { clock: clock.clone(), ..Default::default() }).unwrap();
    c.chat(&ask()).await.unwrap().verified().await.unwrap();
    clock.0.store(30, std::sync::atomic::Ordering::SeqCst);
    c.chat(&ask()).await.unwrap().verified().await.unwrap();
    assert_eq!(stack.observations().await["attestations"], 1, "within the cache time the key is reused");
    // Past the cache time (still within the document age limit): attest afresh.
    clock.0.store(90, std::sync::atomic::Ordering::SeqCst);
    c.chat(&ask()).await.unwrap().verified().await.unwrap();
    assert_eq!(stack.observations().await["attestations"], 2);
}

/// Audit finding 3: a redirect would re-send the sealed request to the address it names (here
/// the gateway itself, which would then see the user's address). It is never followed.
#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_from_the_relay_is_not_followed_and_nothing_reaches_its_target() {
    let stack = Stack::start(StackSpec::default());
    let (gateway_port, _) = stack.gateway_ports();
    let proxy = Proxy::start(&stack.relay_url, Attack::RedirectTo(format!("http://127.0.0.1:{gateway_port}/gateway"))).await;
    let profile = stack.home.path().join("redirect.toml");
    stack.write_profile(&profile, &[proxy.url.clone()], None);
    let out = stack.sotto(&["ask", "--profile", profile.to_str().unwrap(), "Say hello"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("307"), "{}", stderr(&out));
    assert_eq!(stack.chat_requests().await, 0, "the sealed request reached the gateway directly");
    let seen = stack.observations().await;
    assert!(!seen.to_string().contains("\"/gateway\""), "the gateway saw the request: {seen}");
}

/// Audit finding 1: what the relay sees of sizes. Through a proxy that reads the chunked
/// framing, every sealed chunk's plaintext is a multiple of 64 bytes (256 here), and prompts of
/// 5 and 50 characters seal to requests of equal size.
#[tokio::test(flavor = "multi_thread")]
async fn the_relay_sees_only_padded_chunk_and_request_sizes() {
    let replies = json!([{"chunks": [{"text": "a"}, {"text": "longer token"}, {"text": " and a much longer piece of text than a token"}]}]);
    let stack = Stack::start(StackSpec { replies, ..Default::default() });
    let proxy = Proxy::start(&stack.relay_url, Attack::None).await;
    let profile = stack.home.path().join("watched.toml");
    stack.write_profile(&profile, &[proxy.url.clone()], None);
    let p = profile.to_str().unwrap();
    for (prompt, stream) in [("short", true), (&"x".repeat(50)[..], true), ("short", false)] {
        let mut args = vec!["ask", "--profile", p];
        if !stream {
            args.push("--no-stream");
        }
        args.push(prompt);
        let out = stack.sotto(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let seen = proxy.exchanges();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].request.len(), seen[1].request.len(), "a 5- and a 50-character prompt seal to the same size");
    for (i, e) in seen.iter().enumerate() {
        // AES-128-GCM, the suite the client picks: a 16-byte response nonce.
        let lengths = sotto_e2e::chunk_plaintext_lengths(&e.response, 16).expect("chunked framing");
        assert!(lengths.len() >= 3, "{lengths:?}");
        for len in &lengths {
            assert_eq!(len % 64, 0, "exchange {i}: a sealed chunk of {len} bytes is not padded ({lengths:?})");
        }
    }
}

/// Audit finding 1 (timing): with coalescing on, the enclave holds streamed text and seals it in
/// bursts, so the relay sees fewer chunks than tokens, and the reply is still whole and verified.
#[tokio::test(flavor = "multi_thread")]
async fn coalescing_sends_tokens_in_bursts_the_relay_cannot_time() {
    let tokens = ["One", " two", " three", " four", " five", " six", " seven", " eight"];
    let chunks: Vec<_> = tokens.iter().map(|t| json!({"text": t, "delay_ms": 40})).collect();
    let replies = json!([{"chunks": chunks}, {"chunks": chunks}]);
    let stack = Stack::start(StackSpec { replies, ..Default::default() });
    let proxy = Proxy::start(&stack.relay_url, Attack::None).await;
    let profile = stack.home.path().join("watched.toml");
    stack.write_profile(&profile, &[proxy.url.clone()], None);
    let p = profile.to_str().unwrap();
    for coalesce in ["0", "1000"] {
        let out = stack.sotto(&["ask", "--profile", p, "--coalesce-ms", coalesce, "count"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains(&tokens.concat()), "the whole reply arrives");
    }
    let seen = proxy.exchanges();
    let count = |i: usize| sotto_e2e::chunk_plaintext_lengths(&seen[i].response, 16).expect("chunked framing").len();
    let (each, bursts) = (count(0), count(1));
    assert!(each >= tokens.len() + 2, "one chunk per token without coalescing ({each})");
    assert!(bursts + tokens.len() - 2 <= each, "coalesced into bursts: {bursts} chunks against {each}");
    let too_long = stack.sotto(&["ask", "--profile", p, "--coalesce-ms", "5000", "count"]);
    assert_eq!(too_long.status.code(), Some(2), "a window over 1000 ms is refused by the command line");
}

/// Audit finding 7: a relay that forges the "unknown key" problem gets no second sealed copy of
/// the request: the client re-attests, sees the enclave's key did not change, and stops.
#[tokio::test(flavor = "multi_thread")]
async fn a_forged_key_problem_does_not_buy_a_second_sealed_copy() {
    let stack = Stack::start(StackSpec::default());
    let proxy = Proxy::start(&stack.relay_url, Attack::ForgeKeyProblem).await;
    let profile = stack.home.path().join("forging.toml");
    stack.write_profile(&profile, &[proxy.url.clone()], None);
    let out = stack.sotto(&["ask", "--profile", profile.to_str().unwrap(), "hello"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("still attests the same key"), "{}", stderr(&out));
    assert_eq!(proxy.exchanges().len(), 1, "the sealed request left the device once");
    assert_eq!(stack.observations().await["attestations"], 2, "it did check the key again");
}

/// Audit finding 7: error bodies and attestation answers are read with a time limit, so a relay
/// that trickles bytes forever cannot hang the app.
#[tokio::test(flavor = "multi_thread")]
async fn answers_that_trickle_forever_end_with_a_plain_error() {
    let stack = Stack::start(StackSpec { stall_s: 2, ..Default::default() });
    for (attack, said) in [(Attack::TrickleErrorBody, "answered HTTP 500"), (Attack::TrickleAttestation, "stopped sending for 2 s")] {
        let proxy = Proxy::start(&stack.relay_url, attack).await;
        let profile = stack.home.path().join("trickle.toml");
        stack.write_profile(&profile, &[proxy.url.clone()], None);
        let started = std::time::Instant::now();
        let out = stack.sotto(&["ask", "--profile", profile.to_str().unwrap(), "hello"]);
        // The harness kills a command after a minute: without the limit it never ends.
        assert!(out.status.code().is_some_and(|c| c != 0), "{}", stderr(&out));
        assert!(stderr(&out).contains(said), "{}", stderr(&out));
        assert!(started.elapsed() < std::time::Duration::from_secs(60));
    }
}
