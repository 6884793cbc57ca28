//! Proofs that outlive the moment: stored replies check again offline (`history verify`), and a
//! proof file (`history proof`) checks anywhere (`proof verify`), failing with the right reason
//! when any byte of it changes.

use base64::Engine;
use serde_json::{json, Value};
use sotto_e2e::{Attack, Proxy};
use sotto_e2e::{cli_with, Stack, StackSpec};

const PASS: (&str, &str) = ("SOTTO_PASSPHRASE", "e2e passphrase");
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn sotto(stack: &Stack, args: &[&str]) -> std::process::Output {
    cli_with(stack.home.path(), args, &[PASS])
}

fn ask(stack: &Stack, profile: &str, extra: &[&str], prompt: &str) -> (Option<i32>, Value) {
    let mut args = vec!["ask", "--profile", profile, "--json"];
    args.extend_from_slice(extra);
    args.push(prompt);
    let out = sotto(stack, &args);
    (out.status.code(), serde_json::from_slice(&out.stdout).unwrap_or(Value::Null))
}

/// The independent verifier in `tests/peers/proof_verifier.py`, written from the format document
/// alone (Python `cryptography`, its own CBOR reader): exit code and what it printed.
fn independent_verdict(path: &std::path::Path) -> (Option<i32>, String) {
    let python = sotto_relay_config::sotto_cache().join("og-sdk-venv/bin/python");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/proof_verifier.py");
    let out = std::process::Command::new(&python).arg(script).arg(path).output().unwrap_or_else(|e| panic!("{} ({e}); run scripts/setup", python.display()));
    (out.status.code(), format!("{}{}", text(&out.stdout), text(&out.stderr)))
}

/// `proof verify` on a file, from a home with no store at all.
fn verify_file(path: &std::path::Path) -> (Option<i32>, Value) {
    let empty = tempfile::tempdir().unwrap();
    let out = cli_with(empty.path(), &["proof", "verify", "--json", path.to_str().unwrap()], &[]);
    assert!(!empty.path().join("store").exists(), "proof verify must not need or create a store");
    (out.status.code(), serde_json::from_slice(&out.stdout).unwrap_or_else(|_| json!({"stderr": text(&out.stderr)})))
}

#[tokio::test(flavor = "multi_thread")]
async fn stored_replies_check_again_offline_and_a_proof_checks_anywhere() {
    let replies = json!([
        {"chunks": [{"text": "Streamed "}, {"text": "answer."}]},
        {"chunks": [{"text": "Whole answer."}]},
        {"chunks": [{"text": "This one is tampered with."}]},
    ]);
    let stack = Stack::start(StackSpec { replies, ..Default::default() });
    let p = stack.profile.to_str().unwrap();
    let (code, streamed) = ask(&stack, p, &[], "first question");
    assert_eq!(code, Some(0), "{streamed}");
    let id = streamed["conversation_id"].as_str().unwrap().to_string();
    let (code, _) = ask(&stack, p, &["--no-stream", "--continue", &id], "second question");
    assert_eq!(code, Some(0));
    // A reply whose bytes were changed on the way is stored as failed.
    let proxy = Proxy::start(&stack.relay_url, Attack::FlipResponseByte(200)).await;
    let tampering = stack.home.path().join("tampering.toml");
    stack.write_profile(&tampering, &[proxy.url.clone()], None);
    let (code, _) = ask(&stack, tampering.to_str().unwrap(), &[], "third question");
    assert_eq!(code, Some(3));

    // With the stack gone (no network at all), the history checks again.
    let good_id = id.clone();
    let home = stack.home.path().to_owned();
    drop(proxy);
    let out = cli_with(&home, &["history", "verify", "--json"], &[PASS]);
    assert_eq!(out.status.code(), Some(3), "a failed reply makes the whole check fail: {}", text(&out.stderr));
    let checks: Value = serde_json::from_slice(&out.stdout).unwrap();
    let verdicts: Vec<&str> = checks.as_array().unwrap().iter().map(|c| c["verdict"].as_str().unwrap()).collect();
    assert_eq!(verdicts.iter().filter(|v| **v == "verified").count(), 2, "{checks:#}");
    assert_eq!(verdicts.iter().filter(|v| **v == "failed").count(), 1, "{checks:#}");
    let out = cli_with(&home, &["history", "verify", &good_id[..8]], &[PASS]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("development enclave"), "{}", text(&out.stdout));

    // A proof of the conversation, hashes only, then with the text.
    let hashes = home.join("hashes.json");
    let out = cli_with(&home, &["history", "proof", &good_id, "-o", hashes.to_str().unwrap()], &[PASS]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&hashes).unwrap();
    assert!(!written.contains("first question") && !written.contains("answer"), "no readable text without --include-text");
    let (code, verdict) = verify_file(&hashes);
    assert_eq!(code, Some(0), "{verdict}");
    assert_eq!(verdict.as_array().unwrap().len(), 2);
    assert_eq!(verdict[0]["hardware_protected"], false, "a development enclave is never called hardware-protected");
    assert_eq!(verdict[0]["text_checked"], false);

    let full = home.join("full.json");
    let out = cli_with(&home, &["history", "proof", &good_id, "--message", "2", "--include-text", "-o", full.to_str().unwrap()], &[PASS]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (code, verdict) = verify_file(&full);
    assert_eq!((code, verdict[0]["text_checked"].clone()), (Some(0), json!(true)), "{verdict}");
    // Someone else's verifier, written from docs/proof-format.md alone, agrees.
    for file in [&hashes, &full] {
        let (code, said) = independent_verdict(file);
        assert_eq!(code, Some(0), "{said}");
        assert!(said.contains("verified (development enclave)"), "{said}");
    }

    // One changed byte in any field fails, with the right reason.
    let original: Value = serde_json::from_str(&std::fs::read_to_string(&full).unwrap()).unwrap();
    let flip_b64 = |v: &Value, at: usize| {
        let mut bytes = B64.decode(v.as_str().unwrap()).unwrap();
        let i = at.min(bytes.len() - 1);
        bytes[i] ^= 1;
        json!(B64.encode(bytes))
    };
    let flip_hex = |v: &Value| {
        let s = v.as_str().unwrap();
        json!(format!("{}{}", if s.starts_with('0') { '1' } else { '0' }, &s[1..]))
    };
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        ("reply text", Box::new(move |e: &mut Value| e["reply"] = flip_b64(&e["reply"], 40)), "reply's bytes do not match"),
        ("request hash", Box::new(move |e: &mut Value| e["request_sha256"] = flip_hex(&e["request_sha256"])), "different request"),
        ("receipt signature", Box::new(move |e: &mut Value| e["receipt"]["signature"] = flip_b64(&e["receipt"]["signature"], 5)), "signature does not verify"),
        ("attestation document", Box::new(move |e: &mut Value| {
            let mut bundle: Value = serde_json::from_slice(&B64.decode(e["attestation"]["bundle"].as_str().unwrap()).unwrap()).unwrap();
            bundle["document"] = flip_b64(&bundle["document"], 300);
            e["attestation"]["bundle"] = json!(B64.encode(bundle.to_string()));
        }), "attestation does not check out"),
        ("a PCR", Box::new(move |e: &mut Value| e["attestation"]["expected_pcrs"]["0"] = flip_hex(&e["attestation"]["expected_pcrs"]["0"])), "PCR0"),
    ];
    for (field, edit, reason) in cases {
        let mut changed = original.clone();
        edit(&mut changed["exchanges"][0]);
        let path = home.join("changed.json");
        std::fs::write(&path, changed.to_string()).unwrap();
        let (code, verdict) = verify_file(&path);
        assert_eq!(code, Some(3), "{field}: {verdict}");
        let detail = verdict[0]["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(reason), "{field}: expected “{reason}” in “{detail}”");
        let (code, said) = independent_verdict(&path);
        assert_eq!(code, Some(3), "the independent verifier also refuses a changed {field}: {said}");
    }
    let (code, verdict) = verify_file(&home.join("does-not-exist.json"));
    assert_eq!(code, Some(1), "{verdict}");

    // The reader's own expected measurement: the right one passes, another fails.
    let pcr0 = original["exchanges"][0]["attestation"]["expected_pcrs"]["0"].as_str().unwrap().to_string();
    let empty = tempfile::tempdir().unwrap();
    let right = cli_with(empty.path(), &["proof", "verify", full.to_str().unwrap(), "--expect-pcr", &format!("0={pcr0}")], &[]);
    assert_eq!(right.status.code(), Some(0), "{}", text(&right.stdout));
    let wrong = cli_with(empty.path(), &["proof", "verify", full.to_str().unwrap(), "--expect-pcr", &format!("0={}", "ab".repeat(48))], &[]);
    assert_eq!(wrong.status.code(), Some(3), "{}", text(&wrong.stdout));
    assert!(text(&wrong.stdout).contains("not the"), "{}", text(&wrong.stdout));
    // A proof file is never overwritten.
    let again = cli_with(&home, &["history", "proof", &good_id, "-o", full.to_str().unwrap()], &[PASS]);
    assert_ne!(again.status.code(), Some(0));
}

/// "What left this device": after asks (streamed and whole), a model list, an agent run and a
/// refused attestation, the ledger holds exactly what a proxy in front of the relay carried —
/// the same requests, to the same place, with the same bytes each way — and nothing else.
#[tokio::test(flavor = "multi_thread")]
async fn the_ledger_matches_what_the_network_carried() {
    let replies = json!([
        {"chunks": [{"text": "First."}]},
        {"chunks": [{"text": "Second."}]},
        {"chunks": [{"text": "The agent is done."}]},
    ]);
    let stack = Stack::start(StackSpec { replies, ..Default::default() });
    let watched = Proxy::start(&stack.relay_url, Attack::None).await;
    let swapping = Proxy::start(&stack.relay_url, Attack::SwapKeyConfig).await;
    let (through, refused) = (stack.home.path().join("through.toml"), stack.home.path().join("refused.toml"));
    stack.write_profile(&through, &[watched.url.clone()], None);
    stack.write_profile(&refused, &[swapping.url.clone()], None);
    let (p, q) = (through.to_str().unwrap(), refused.to_str().unwrap());

    let (code, first) = ask(&stack, p, &[], "one");
    assert_eq!(code, Some(0), "{first}");
    assert!(first["request"].to_string().contains("\"one\""), "ask --json prints the sealed request: {first}");
    let id = first["conversation_id"].as_str().unwrap().to_string();
    assert_eq!(ask(&stack, p, &["--no-stream", "--continue", &id], "two").0, Some(0));
    assert_eq!(sotto(&stack, &["models", "--profile", p]).status.code(), Some(0));
    let workspace = tempfile::tempdir().unwrap();
    let agent = sotto(&stack, &["agent", "run", "--profile", p, "--workspace", workspace.path().to_str().unwrap(), "--json", "Say you are done"]);
    assert_eq!(agent.status.code(), Some(0), "{}", text(&agent.stderr));
    let agent_run: Value = serde_json::from_slice(&agent.stdout).unwrap();
    assert_eq!(ask(&stack, q, &[], "never sent").0, Some(3), "a substituted key is refused");
    // The agent's verified answer checks again offline like any reply.
    let agent_conversation = agent_run["conversation_id"].as_str().expect("the agent run is stored");
    let verify = sotto(&stack, &["history", "verify", agent_conversation]);
    assert_eq!(verify.status.code(), Some(0), "{}{}", text(&verify.stdout), text(&verify.stderr));

    let out = sotto(&stack, &["ledger", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ledger: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let host = |url: &str| url.trim_start_matches("http://").trim_end_matches('/').to_string();
    let mut recorded: Vec<(String, sotto_e2e::Observed)> = ledger
        .iter()
        .map(|e| {
            let o = sotto_e2e::Observed {
                method: e["method"].as_str().unwrap().into(),
                path: e["path"].as_str().unwrap().into(),
                sent: e["bytes_sent"].as_u64().unwrap() as usize,
                received: e["bytes_received"].as_u64().unwrap() as usize,
            };
            (e["host"].as_str().unwrap().to_string(), o)
        })
        .collect();
    let mut carried: Vec<(String, sotto_e2e::Observed)> = watched
        .observed()
        .into_iter()
        .map(|o| (host(&watched.url), o))
        .chain(swapping.observed().into_iter().map(|o| (host(&swapping.url), o)))
        .collect();
    recorded.sort();
    carried.sort();
    assert_eq!(recorded, carried, "the ledger and the network disagree");
    // 4 chat requests (2 asks, the agent's one step) + 1 model list + their attestations, and
    // the refused attestation.
    assert!(recorded.iter().any(|(h, o)| *h == host(&swapping.url) && o.method == "GET"), "the refused attestation is recorded");
    let chats: Vec<&Value> = ledger.iter().filter(|e| e["purpose"] == "chat").collect();
    assert_eq!(chats.len(), 3, "{ledger:#?}");
    assert!(chats.iter().all(|e| e["user_content"] == true));
    assert!(ledger.iter().filter(|e| e["purpose"] != "chat").all(|e| e["user_content"] == false));
    assert!(chats.iter().any(|e| e["conversation_id"] == id.as_str()), "requests carry their conversation");
    let text_out = sotto(&stack, &["ledger", "--since", "1h"]);
    assert!(text(&text_out.stdout).contains("chat (sealed)"), "{}", text(&text_out.stdout));
}

/// The ledger is complete only if nothing else sends: the client's requests leave through the
/// transport and the registry reader alone (both record a ticket). The enclave gateway's own
/// forwarding to a model server runs inside the enclave, not on this device.
#[test]
fn nothing_on_the_device_sends_http_except_through_the_ledgered_paths() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let allowed = [
        "private-inference/src/transport.rs",
        "private-inference/src/registry.rs",
        "private-inference/src/ledger.rs",
        "private-inference/src/error.rs",
        "enclave-gateway/src/backend/openai.rs",
        // The enclave's own call to an image service (inside the enclave, not on the device).
        "enclave-gateway/src/images/upstream.rs",
        // The enclave's own web search and page fetches (inside the enclave, not on the device).
        "enclave-gateway/src/search/brave.rs",
        "enclave-gateway/src/search/public_address.rs",
        // Reads the answers of the three above (a response body; it sends nothing).
        "enclave-gateway/src/upstream_body.rs",
        // A replica's key release and the rotation it forwards to the key keeper (enclave side).
        "enclave-gateway/src/key_release/member.rs",
        "enclave-gateway/src/server.rs",
        // Only its tests use reqwest (to play the browser posting to the loopback listener);
        // its token refresh goes through `ledger::post_direct`.
        "core/src/opengradient_login.rs",
        // Probes of the local stack's own loopback ports: a connection, no bytes.
        "core/src/stack/mod.rs",
        "src-tauri/src/commands/startup.rs",
    ];
    let mut offenders = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !["target", "node_modules", ".git", "tests", "benches", "shared", "ui"].contains(&name.as_str()) {
                    dirs.push(path);
                }
            } else if name.ends_with(".rs") {
                let rel = path.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let sends = ["reqwest::", "hyper::client", "ureq::", "TcpStream::connect", "UdpSocket::bind"].iter().any(|n| text.contains(n));
                if sends && !allowed.contains(&rel.as_str()) {
                    offenders.push(rel);
                }
            }
        }
    }
    assert!(offenders.is_empty(), "these send outside the ledger: {offenders:?}");
}
