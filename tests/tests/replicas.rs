//! Gateways that scale out: `sotto stack up --replicas 3` runs three gateway processes behind
//! the one relay, released shared keys by a key keeper after each proved its attestation. A
//! client works whichever replica answers its attestation and whichever its sealed request;
//! a rotation under load loses no request; a replica killed mid-stream fails only the replies
//! it was streaming (never shown verified), and the others carry on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sotto_e2e::{Stack, StackSpec};
use sotto_private_inference::{ClientOptions, InferenceError, PrivateClient, ReplyEvent};

fn replicated(replies: Value) -> Stack {
    Stack::start(StackSpec { replies, replicas: Some(3), ..Default::default() })
}

fn replica_file(stack: &Stack, k: usize) -> Value {
    let path = stack.home.path().join("stack").join("replicas").join(k.to_string()).join("process.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

async fn chat_requests(admin: &str) -> u64 {
    let v: Value = reqwest::get(format!("http://{admin}/admin/observations")).await.unwrap().json().await.unwrap();
    v["chat_requests"].as_u64().unwrap()
}

/// `n` streamed requests shared by `k` clients (each attests once); the result of each.
async fn run(stack: &Stack, k: usize, n: usize) -> Vec<Result<String, InferenceError>> {
    run_until(stack, k, n, None).await
}

/// As [`run`], stopping at `deadline` when one is given (the same clients all along, so they
/// keep the key they attested).
async fn run_until(stack: &Stack, k: usize, n: usize, deadline: Option<Instant>) -> Vec<Result<String, InferenceError>> {
    run_profile(stack.load_profile(&stack.profile), k, n, deadline).await
}

/// As [`run_until`], with the given profile (its timeouts, say).
async fn run_profile(profile: sotto_relay_config::Profile, k: usize, n: usize, deadline: Option<Instant>) -> Vec<Result<String, InferenceError>> {
    let left = Arc::new(std::sync::atomic::AtomicUsize::new(n));
    let mut tasks = Vec::new();
    for _ in 0..k {
        let (profile, left) = (profile.clone(), left.clone());
        tasks.push(tokio::spawn(async move {
            let client = PrivateClient::new(profile, ClientOptions::default()).unwrap();
            let mut out = Vec::new();
            while deadline.is_none_or(|d| Instant::now() < d)
                && left.fetch_update(std::sync::atomic::Ordering::SeqCst, std::sync::atomic::Ordering::SeqCst, |x| x.checked_sub(1)).is_ok()
            {
                let body = json!({"messages": [{"role": "user", "content": "hello"}], "stream": true});
                let result = async {
                    let mut stream = client.chat(&body).await?;
                    while let Some(ev) = stream.next().await {
                        if let ReplyEvent::Verified(r) = ev? {
                            return Ok(r.text);
                        }
                    }
                    Err(InferenceError::Truncated)
                }
                .await;
                out.push(result);
            }
            out
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn three_replicas_serve_every_request_verified_and_a_rotation_loses_none() {
    let stack = replicated(json!([{"chunks": [{"text": "Hello"}, {"text": ", private"}, {"text": " world."}]}]));
    let results = run(&stack, 6, 90).await;
    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failed.is_empty(), "{} of {} failed: {failed:?}", failed.len(), results.len());
    assert!(results.iter().all(|r| r.as_deref().ok() == Some("Hello, private world.")));
    // Round robin: every replica served some of them.
    for k in 0..3 {
        let admin = replica_file(&stack, k)["admin"].as_str().unwrap().to_string();
        assert!(chat_requests(&admin).await > 0, "replica {k} served nothing");
    }

    // A rotation under load: requests sealed to the old key, the next or the new one all open.
    let admin0 = replica_file(&stack, 0)["admin"].as_str().unwrap().to_string();
    let rotating = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let r = reqwest::Client::new().post(format!("http://{admin0}/admin/rotate-keys")).send().await.unwrap();
        assert!(r.status().is_success(), "{:?}", r.text().await);
    });
    let profile = stack.load_profile(&stack.profile);
    let before = PrivateClient::new(profile.clone(), ClientOptions::default()).unwrap().attested().await.unwrap().identity.ohttp_key_id;
    // Long enough to span the next keys being accepted and then made current (the clients keep
    // the key they attested before the rotation all along).
    let results = run_until(&stack, 6, usize::MAX, Some(Instant::now() + Duration::from_millis(3500))).await;
    assert!(results.len() > 100, "{} requests", results.len());
    rotating.await.unwrap();
    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failed.is_empty(), "a rotation lost {} of {} requests: {failed:?}", failed.len(), results.len());
    // Once settled, new clients attest the new key, whichever replica answers.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for _ in 0..3 {
        let after = PrivateClient::new(profile.clone(), ClientOptions::default()).unwrap().attested().await.unwrap().identity.ohttp_key_id;
        assert_ne!(after, before, "the new keys are current on every replica");
    }
}

/// The model server behind the replicas stalls on some replies, under load: those end as
/// "stalled" when the client's stall timeout passes (never verified, never waited on for
/// ever), and the rest verify meanwhile.
#[tokio::test(flavor = "multi_thread")]
async fn a_back_end_stalling_under_load_fails_only_the_stalled_replies() {
    let good = json!({"chunks": [{"text": "Hello"}, {"text": " there."}]});
    let stalls = json!({"chunks": [{"text": "Hel"}, {"text": "lo"}], "stall_after": 1});
    // Every third reply of each replica stalls after its first piece.
    let stack = replicated(json!([good, good, stalls]));
    let mut profile = stack.load_profile(&stack.profile);
    profile.timeouts.stall = Duration::from_secs(2);
    let results = run_profile(profile, 6, 60, None).await;
    let stalled = results.iter().filter(|r| matches!(r, Err(InferenceError::Stalled { .. }))).count();
    let verified = results.iter().filter(|r| r.as_deref().ok() == Some("Hello there.")).count();
    assert_eq!(stalled + verified, results.len(), "only stalls may fail: {results:?}");
    assert!(stalled >= 10 && verified >= 30, "{stalled} stalled, {verified} verified");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_killed_mid_stream_fails_only_its_own_replies_and_the_others_carry_on() {
    let slow: Vec<Value> = (0..10).map(|i| json!({"text": format!("w{i} "), "delay_ms": 80})).collect();
    let stack = replicated(json!([{"chunks": slow}]));
    let victim = replica_file(&stack, 1)["pid"].as_u64().unwrap();
    let killer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        std::process::Command::new("kill").args(["-9", &victim.to_string()]).status().unwrap();
    });
    let results = run(&stack, 6, 6).await;
    killer.await.unwrap();
    let failed: Vec<&InferenceError> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    // Six replies in flight over three replicas: the killed one was streaming about two.
    assert!(!failed.is_empty() && failed.len() <= 3, "{failed:?}");
    for e in &failed {
        assert!(matches!(e, InferenceError::Truncated | InferenceError::Tampered | InferenceError::RelayRefused { .. }), "a cut reply is refused as such: {e:?}");
    }
    assert!(results.iter().filter_map(|r| r.as_ref().ok()).all(|t| t.starts_with("w0 w1") && t.trim_end().ends_with("w9")));
    // Recovery: new requests go to the replicas that are left.
    let start = Instant::now();
    let after = run(&stack, 4, 24).await;
    assert!(after.iter().all(|r| r.is_ok()), "{:?}", after.iter().filter_map(|r| r.as_ref().err()).collect::<Vec<_>>());
    assert!(start.elapsed() < Duration::from_secs(15), "recovered in {:?}", start.elapsed());
}

/// The relay restarted under load: replies it was carrying end as errors (never verified), and
/// once it is back, new requests verify again.
#[tokio::test(flavor = "multi_thread")]
async fn a_relay_restarted_mid_stream_fails_only_what_it_carried() {
    let slow: Vec<Value> = (0..10).map(|i| json!({"text": format!("w{i} "), "delay_ms": 80})).collect();
    let stack = replicated(json!([{"chunks": slow}]));
    let relay_dir = stack.home.path().join("stack").join("relay");
    let pid = std::fs::read_to_string(relay_dir.join("nginx.pid")).unwrap().trim().to_string();
    let dir = relay_dir.clone();
    let restarter = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        // The master and its worker, at once, as a crash would.
        std::process::Command::new("pkill").args(["-9", "-P", &pid]).status().unwrap();
        std::process::Command::new("kill").args(["-9", &pid]).status().unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The same relay again, as a supervisor would start it.
        let nginx = sotto_core::stack::nginx_binary().unwrap();
        let _ = std::fs::remove_file(dir.join("nginx.pid"));
        std::process::Command::new(nginx)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("relay.conf"))
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    });
    let results = run(&stack, 6, 6).await;
    let mut relay = restarter.await.unwrap();
    let failed: Vec<&InferenceError> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(!failed.is_empty(), "the relay went away mid-stream");
    for e in &failed {
        assert!(matches!(e, InferenceError::Truncated | InferenceError::Tampered | InferenceError::RelayUnreachable { .. }), "{e:?}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = run(&stack, 3, 6).await;
    // Stop the restarted relay, its worker included (it runs as another user and outlives a
    // master that is gone).
    let master = relay.id().to_string();
    let workers = std::process::Command::new("pgrep").args(["-P", &master]).output().unwrap();
    std::process::Command::new("kill").args(["-QUIT", &master]).status().unwrap();
    let _ = relay.wait();
    for w in String::from_utf8_lossy(&workers.stdout).split_whitespace() {
        let _ = std::process::Command::new("kill").args(["-9", w]).status();
    }
    assert!(after.iter().all(|r| r.is_ok()), "{:?}", after.iter().filter_map(|r| r.as_ref().err()).collect::<Vec<_>>());
}
