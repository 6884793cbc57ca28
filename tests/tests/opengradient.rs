//! OpenGradient's network offline, end to end with real processes: `sotto stack up --flavor
//! opengradient` (Sotto's gateway in OpenGradient's wire format, the nginx relay on its paths,
//! the registry stand-in), the `sotto` CLI and the client library, and a proxy on the path.

use std::path::Path;

use serde_json::{json, Value};
use sotto_e2e::{hex, Attack, Proxy, Stack, StackSpec};
use sotto_private_inference::{ClientOptions, InferenceError, PrivateClient, ReplyEvent};

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn og_stack(replies: Option<Value>) -> Stack {
    let mut spec = StackSpec { opengradient: true, ..StackSpec::default() };
    if let Some(r) = replies {
        spec.replies = r;
    }
    Stack::start(spec)
}

fn og_profile(stack: &Stack) -> String {
    stack.og_profile.as_ref().expect("stack up printed its profile").display().to_string()
}

/// The stack's profile with extra lines in `[opengradient]` and another relay.
fn variant(stack: &Stack, relay: Option<&str>, extra: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(og_profile(stack)).unwrap();
    let mut text = text.replace("tee_type = 0\n", &format!("tee_type = 0\n{extra}\n"));
    if let Some(r) = relay {
        text = text.replace(&stack.relay_url, r);
    }
    let path = stack.home.path().join(format!("variant-{}.toml", rand_name()));
    std::fs::write(&path, text).unwrap();
    path
}

fn rand_name() -> String {
    format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos())
}

fn client(path: &Path) -> PrivateClient {
    PrivateClient::new(sotto_relay_config::Profile::load(path).unwrap(), ClientOptions::default()).unwrap()
}

fn ask(stream: bool) -> Value {
    json!({"model": "scripted", "messages": [{"role": "user", "content": "hello"}], "stream": stream})
}

#[tokio::test(flavor = "multi_thread")]
async fn the_offline_network_answers_verified_replies_streamed_and_whole() {
    let stack = og_stack(None);
    assert!(stack.registry_url.as_deref().is_some_and(|u| u.starts_with("http://127.0.0.1:")));
    let p = og_profile(&stack);
    for extra in [&[][..], &["--no-stream"][..]] {
        let mut args = vec!["ask", "--profile", &p, "--json"];
        args.extend_from_slice(extra);
        args.push("Say hello");
        let out = stack.sotto(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(json["reply"], "Hello, private world.");
        let receipt = &json["receipt"];
        assert_eq!(receipt["scheme"], "opengradient-rsa-pss-keccak256");
        assert!(receipt["key_id"].as_str().unwrap().starts_with("0x"));
        assert_eq!(receipt["enclave"]["kind"], "opengradient-tee");
        assert!(receipt["enclave"]["checked"].as_str().unwrap().contains("attested on this device against a development root"), "{receipt}");
        assert!(receipt["enclave"]["tee_class"].as_str().unwrap().contains("third-party"));
        assert_eq!(receipt["measurements"].as_object().unwrap().len(), 3);
        assert_eq!(json["development_enclave"], true);
    }
    // What a person reads: the text, then what was checked and what kind of TEE it is.
    let out = stack.sotto(&["ask", "--profile", &p, "Say hello"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "Hello, private world.");
    let models = stack.sotto(&["models", "--profile", &p]);
    assert_eq!(models.status.code(), Some(0), "{}", stderr(&models));
    assert!(stderr(&models).contains("not signed"), "{}", stderr(&models));
}

#[tokio::test(flavor = "multi_thread")]
async fn streamed_text_is_handed_on_before_the_receipt_and_tool_calls_verify() {
    let replies = json!([
        {"chunks": [{"text": "one "}, {"text": "two "}, {"text": "three"}]},
        sotto_e2e::tool_calls(&[("run_python", json!({"code": "print(1)"})), ("list_files", json!({}))]),
    ]);
    let stack = og_stack(Some(replies));
    let c = client(stack.og_profile.as_ref().unwrap());
    let mut events = c.chat(&ask(true)).await.unwrap();
    let mut pieces = Vec::new();
    let verified = loop {
        match events.next().await.expect("an event").unwrap() {
            ReplyEvent::Text(t) => pieces.push(t),
            ReplyEvent::Verified(r) => break r,
        }
    };
    assert_eq!(pieces, vec!["one ", "two ", "three"]);
    assert_eq!(verified.text, "one two three");
    for stream in [true, false] {
        let reply = c.chat(&ask(stream)).await.unwrap().verified().await.unwrap();
        let calls = reply.tool_calls.expect("tool calls");
        assert_eq!(calls[1]["function"]["name"], "list_files", "stream={stream}");
        assert_eq!(reply.finish_reason.as_deref(), Some("tool_calls"));
        // The script alternates: the next request gets the text reply again.
        let _ = c.chat(&ask(stream)).await.unwrap().verified().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_or_cut_reply_is_refused_and_nothing_is_shown() {
    let stack = og_stack(None);
    // Byte 40 is inside the first sealed chunk (after the 32-byte nonce and its length).
    for attack in [Attack::FlipResponseByte(40), Attack::TruncateResponse(5)] {
        let proxy = Proxy::start(&stack.relay_url, attack.clone()).await;
        let profile = variant(&stack, Some(&proxy.url), "");
        let p = profile.display().to_string();
        let out = stack.sotto(&["ask", "--profile", &p, "Say hello"]);
        assert_eq!(out.status.code(), Some(3), "{attack:?}: {}", stderr(&out));
        assert!(!stdout(&out).contains("Hello"), "nothing unverified is shown: {}", stdout(&out));
        let why = stderr(&out);
        assert!(why.contains("altered") || why.contains("cut off"), "{attack:?}: {why}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_pcr_hash_pin_is_refused_before_anything_is_sent() {
    let stack = og_stack(None);
    let profile = variant(&stack, None, &format!("pcr_hash = \"0x{}\"", "11".repeat(32)));
    let out = stack.sotto(&["ask", "--profile", &profile.display().to_string(), "Say hello"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("pcrHash") && stderr(&out).contains("nothing was sent"), "{}", stderr(&out));
    assert_eq!(stack.chat_requests().await, 0);
    // The right pin passes.
    let listed = stack.registered_tee().await;
    let right = variant(&stack, None, &format!("pcr_hash = \"0x{}\"\ntee_id = \"{}\"", hex(&listed.pcr_hash), listed.tee_id));
    let out = stack.sotto(&["ask", "--profile", &right.display().to_string(), "Say hello"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tee_that_rotated_its_keys_is_followed_and_one_that_left_is_dropped() {
    let stack = og_stack(None);
    let profile = variant(&stack, None, "refresh_s = 1");
    let c = client(&profile);
    let first = c.chat(&ask(false)).await.unwrap().verified().await.unwrap();
    stack.rotate_keys().await;
    // Still inside the refresh interval: the TEE refuses the old key, the client reads the
    // registry again, sees new keys and seals to them.
    let after = c.chat(&ask(false)).await.unwrap().verified().await.unwrap();
    assert_ne!(first.receipt.key_id, after.receipt.key_id, "a new signing key means a new TEE id");
    stack.leave_registry().await;
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let e = c.chat(&ask(false)).await.err().expect("a TEE that left is not used");
    assert!(matches!(e, InferenceError::Registry(_)) && e.to_string().contains("no active TEE"), "{e}");
    assert!(e.before_sending());
}

#[tokio::test(flavor = "multi_thread")]
async fn relay_refusals_are_explained() {
    let stack = og_stack(None);
    for (code, words) in [(401, "sotto og login"), (402, "payment required"), (451, "legal reasons"), (500, "HTTP 500")] {
        let proxy = Proxy::start(&stack.relay_url, Attack::Status(code)).await;
        let profile = variant(&stack, Some(&proxy.url), "");
        let e = client(&profile).chat(&ask(true)).await.err().expect("refused");
        assert!(e.to_string().contains(words), "{code}: {e}");
    }
    assert_eq!(stack.chat_requests().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_attestation_through_the_relay_the_reply_says_keys_from_the_registry() {
    let stack = og_stack(None);
    let proxy = Proxy::start(&stack.relay_url, Attack::NoAttestation).await;
    let profile = variant(&stack, Some(&proxy.url), "");
    let reply = client(&profile).chat(&ask(true)).await.unwrap().verified().await.unwrap();
    assert!(reply.enclave.trust.starts_with("keys from the registry"), "{}", reply.enclave.trust);
    assert!(reply.enclave.checked_pcrs.is_empty());
    let out = stack.sotto(&["ask", "--profile", &profile.display().to_string(), "--json", "Say hello"]);
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["receipt"]["enclave"]["hardware_protected"], false);
    // A profile that requires the attestation refuses before anything is sent.
    let before = stack.chat_requests().await;
    let strict = variant(&stack, Some(&proxy.url), "require_attestation = true");
    let e = client(&strict).chat(&ask(true)).await.err().expect("refused");
    assert!(e.before_sending() && e.to_string().contains("require_attestation"), "{e}");
    assert_eq!(stack.chat_requests().await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_that_lists_nothing_or_garbage_is_refused_clearly() {
    use axum::routing::post;
    for (result, words) in [
        (format!("0x{}", hex(&sotto_enclave_protocol::opengradient::registry::encode_active_tees(&[]))), "no active TEE"),
        ("0xdeadbeef".to_string(), "cannot be read"),
    ] {
        let app = axum::Router::new().route("/", post(move || { let r = result.clone(); async move { axum::Json(json!({"jsonrpc": "2.0", "id": 1, "result": r})) } }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("og.toml");
        std::fs::write(&path, format!("name = \"x\"\n[[relays]]\nurl = \"http://127.0.0.1:9\"\n[opengradient]\nrpc_url = \"{url}\"\nregistry_address = \"0x{}\"\n", "00".repeat(20))).unwrap();
        let e = client(&path).chat(&ask(false)).await.err().expect("refused");
        assert!(e.before_sending() && e.to_string().contains(words), "{e}");
    }
}

/// `sotto og login` as a person runs it without a system keyring: the page posts the session
/// to the loopback listener, it is kept in the encrypted store (not in a plain file), and the
/// relay then gets its token as a bearer token.
#[tokio::test(flavor = "multi_thread")]
async fn og_login_keeps_the_session_encrypted_and_the_relay_gets_its_token() {
    use std::io::{BufRead, BufReader};
    let stack = og_stack(None);
    let env = [("SOTTO_PASSPHRASE", "correct horse battery staple")];
    let mut login = sotto_e2e::spawn_cli(stack.home.path(), &["og", "login", "--no-browser", "--app-url", "https://chat.example", "--timeout-s", "30"], &env);
    let stderr = login.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines.next().expect("login printed its address").unwrap();
        if let Some(u) = line.trim().strip_prefix("https://chat.example/cli-auth?") {
            break u.to_string();
        }
    };
    let redirect = url.split('&').find_map(|kv| kv.strip_prefix("redirect_uri=")).unwrap().replace("%3A", ":").replace("%2F", "/");
    let token = "og-access-token-7f3a9c";
    let bundle = json!({"type": "opengradient-cli-auth", "access_token": token, "refresh_token": "r", "expires_at": 4_000_000_000u64, "user": {"email": "ada@example.org"}});
    let answer = reqwest::Client::new().post(&redirect).json(&bundle).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let out = login.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("logged in as ada@example.org"));
    // Not in any plain file under SOTTO_HOME.
    for entry in sotto_e2e::files_under(stack.home.path()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()), "the token is in plain text in {}", entry.display());
    }
    let status = sotto_e2e::cli_with(stack.home.path(), &["og", "status"], &env);
    assert!(stdout(&status).contains("logged in as ada@example.org"), "{}", stdout(&status));
    let proxy = Proxy::start(&stack.relay_url, Attack::None).await;
    let profile = variant(&stack, Some(&proxy.url), "");
    let out = sotto_e2e::cli_with(stack.home.path(), &["ask", "--profile", &profile.display().to_string(), "Say hello"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(proxy.exchanges()[0].authorization.as_deref(), Some(format!("Bearer {token}").as_str()));
    // The ledger says that request carried the account token (the relay sees it).
    let ledger: Value = serde_json::from_slice(&sotto_e2e::cli_with(stack.home.path(), &["ledger", "--json"], &env).stdout).unwrap();
    let chats: Vec<&Value> = ledger.as_array().unwrap().iter().filter(|e| e["purpose"] == "chat").collect();
    assert!(!chats.is_empty() && chats.iter().all(|e| e["credential"] == true), "{ledger:#}");
    // SOTTO_OG_TOKEN wins for scripts; logout forgets the stored one.
    let env2 = [("SOTTO_PASSPHRASE", env[0].1), ("SOTTO_OG_TOKEN", "script-token")];
    let out = sotto_e2e::cli_with(stack.home.path(), &["ask", "--profile", &profile.display().to_string(), "Say hello"], &env2);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(proxy.exchanges()[1].authorization.as_deref(), Some("Bearer script-token"));
    let out = sotto_e2e::cli_with(stack.home.path(), &["og", "logout"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let status = sotto_e2e::cli_with(stack.home.path(), &["og", "status"], &env);
    assert!(stdout(&status).contains("not logged in"), "{}", stdout(&status));
}

fn stderr_of(o: &std::process::Output) -> String {
    stderr(o)
}

/// Issue 16: a reply from an OpenGradient TEE keeps its RSA-PSS receipt and what it covers, and
/// `history verify` checks it again offline (saying what was checked about the TEE at the time).
#[tokio::test(flavor = "multi_thread")]
async fn an_opengradient_reply_checks_again_offline() {
    let stack = og_stack(None);
    let p = og_profile(&stack);
    let env = [("SOTTO_PASSPHRASE", "e2e passphrase")];
    let out = sotto_e2e::cli_with(stack.home.path(), &["ask", "--profile", &p, "--json", "Say hello"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = serde_json::from_slice::<Value>(&out.stdout).unwrap()["conversation_id"].as_str().unwrap().to_string();
    let verify = sotto_e2e::cli_with(stack.home.path(), &["history", "verify", "--json", &id], &env);
    assert_eq!(verify.status.code(), Some(0), "{}{}", stdout(&verify), stderr(&verify));
    let checks: Value = serde_json::from_slice(&verify.stdout).unwrap();
    let detail = checks[0]["detail"].as_str().unwrap();
    assert!(detail.contains("RSA-PSS receipt verified again") && detail.contains("attested on this device"), "{detail}");
}
