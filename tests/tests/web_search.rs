//! Web search inside the enclave, end to end through the real stack: the switch is remembered
//! per conversation and obeyed mid-conversation, the sources come back covered by the receipt
//! (one changed byte of a source is refused), the gateway's provider fetches and quotes real
//! pages over HTTP, and a provider's failures are said in plain words.

use base64::Engine;
use serde_json::{json, Value};
use sotto_e2e::{cli_with, Attack, Proxy, SearchStandin, Stack, StackSpec};

const PASS: (&str, &str) = ("SOTTO_PASSPHRASE", "e2e passphrase");
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ask(stack: &Stack, extra: &[&str], prompt: &str) -> (Option<i32>, Value, String) {
    sotto_e2e::ask_json(stack, extra, prompt, &[PASS])
}

async fn searches(stack: &Stack) -> u64 {
    stack.observations().await["searches"].as_u64().unwrap()
}

fn cited_stack(search: Option<String>, env: Vec<(String, String)>) -> Stack {
    Stack::start(StackSpec {
        replies: json!([{"chunks": [{"text": "Edmund Hillary and Tenzing Norgay reached the summit on 29 May 1953 [1]."}]}]),
        search,
        env,
        ..Default::default()
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn sources_are_covered_by_the_receipt_and_the_switch_is_obeyed_mid_conversation() {
    let stack = cited_stack(None, Vec::new());
    let (code, first, err) = ask(&stack, &["--web-search"], "Who first climbed Mount Everest?");
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("web search: on"), "the user is told before sending: {err}");
    assert_eq!(first["request"]["web_search"], true, "the flag is in the exact request sealed: {}", first["request"]);
    let citations = first["citations"].as_array().expect("citations");
    assert!(!citations.is_empty());
    assert_eq!(citations[0]["index"], 1);
    assert_eq!(citations[0]["url"], "https://search-standin.sotto.invalid/everest-1953");
    assert!(citations[0]["title"].as_str().unwrap().contains("search stand-in"), "the stand-in is named: {}", citations[0]);
    assert!(citations[0]["quote"].as_str().unwrap().contains("Tenzing Norgay"), "{}", citations[0]);
    assert_eq!(first["receipt"]["citations"], first["citations"], "the stored receipt keeps them");
    assert_eq!(first["searched"], true);
    assert_eq!(first["request"]["web_search_query"], "Who first climbed Mount Everest?");
    assert_eq!(searches(&stack).await, 1);

    // Remembered: the next message in the conversation searches too, without the flag.
    let id = first["conversation_id"].as_str().unwrap().to_string();
    let (code, second, err) = ask(&stack, &["--continue", &id], "And when was that?");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(second["request"]["web_search"], true);
    assert_eq!(searches(&stack).await, 2);

    // Turned off mid-conversation: no flag is sent, the enclave searches nothing, no sources.
    let (code, third, err) = ask(&stack, &["--continue", &id, "--no-web-search"], "Thanks. Who led the expedition?");
    assert_eq!(code, Some(0), "{err}");
    assert!(third["request"].get("web_search").is_none(), "{}", third["request"]);
    assert_eq!(third["citations"], json!([]));
    assert_eq!(searches(&stack).await, 2, "no search after the switch went off");
    let (_, fourth, _) = ask(&stack, &["--continue", &id], "One more question about Everest?");
    assert!(fourth["request"].get("web_search").is_none(), "off is remembered too");
    assert_eq!(searches(&stack).await, 2);
    // A conversation that never asked searches nothing.
    let (_, other, _) = ask(&stack, &[], "Who first climbed Mount Everest?");
    assert!(other["request"].get("web_search").is_none());
    assert_eq!(searches(&stack).await, 2);

    // The stored reply checks again offline, sources included.
    let home = stack.home.path();
    let verify = cli_with(home, &["history", "verify", &id], &[PASS]);
    assert_eq!(verify.status.code(), Some(0), "{}{}", text(&verify.stdout), text(&verify.stderr));

    // A proof file with the text: its sources verify anywhere; one changed byte of a source is refused.
    let proof = home.join("search-proof.json");
    let out = cli_with(home, &["history", "proof", &id, "--message", "2", "--include-text", "-o", proof.to_str().unwrap()], &[PASS]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let empty = tempfile::tempdir().unwrap();
    let verify_file = |path: &std::path::Path| {
        let out = cli_with(empty.path(), &["proof", "verify", "--json", path.to_str().unwrap()], &[]);
        (out.status.code(), serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null))
    };
    let (code, verdict) = verify_file(&proof);
    assert_eq!(code, Some(0), "{verdict}");
    assert_eq!(verdict[0]["citations"], first["citations"], "the proof's sources are those shown");

    let mut file: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    let mut reply = B64.decode(file["exchanges"][0]["reply"].as_str().unwrap()).unwrap();
    let at = reply.windows(12).position(|w| w == b"everest-1953").expect("the source's address is in the signed bytes");
    reply[at] = b'E';
    file["exchanges"][0]["reply"] = json!(B64.encode(&reply));
    let changed = home.join("changed-source.json");
    std::fs::write(&changed, file.to_string()).unwrap();
    let (code, verdict) = verify_file(&changed);
    assert_eq!(code, Some(3), "{verdict}");
    assert!(verdict[0]["detail"].as_str().unwrap().contains("reply's bytes do not match"), "{verdict}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_search_provider_is_called_from_the_enclave_and_its_failures_are_plain() {
    let provider = SearchStandin::start().await;
    let env = vec![
        ("SOTTO_SEARCH_API_KEY".to_string(), "gateway-key-123".to_string()),
        ("SOTTO_SEARCH_TIMEOUT_S".to_string(), "3".to_string()),
        // The stand-in provider and its pages are on this machine, over http: allowed for tests only.
        ("SOTTO_SEARCH_ALLOW_LOCAL".to_string(), "1".to_string()),
    ];
    let stack = cited_stack(Some(format!("brave:{}", provider.url)), env);

    let (code, answer, err) = ask(&stack, &["--web-search"], "How old is the lighthouse of Alexandria?");
    assert_eq!(code, Some(0), "{err}");
    let citations = answer["citations"].as_array().unwrap();
    assert_eq!(citations.len(), 2, "{citations:?}");
    assert_eq!(citations[0]["title"], "The Pharos of Alexandria", "markup is taken out of titles");
    let quote = citations[0]["quote"].as_str().unwrap();
    assert!(quote.contains("third century BC"), "the fetched page is quoted: {quote}");
    assert!(!quote.contains("pagescript-marker"), "scripts are not text");
    assert_eq!(citations[1]["quote"], "Lighthouses guided ships into harbours at night.", "a page that cannot be fetched is quoted from its summary");
    let queries = provider.queries.lock().unwrap().clone();
    assert_eq!(queries.len(), 1);
    assert_eq!(queries[0].0, "How old is the lighthouse of Alexandria?");
    assert_eq!(queries[0].1.as_deref(), Some("gateway-key-123"), "the key is the gateway's");
    // The key never reaches the device.
    let home_files = sotto_e2e::files_under(stack.home.path());
    for f in home_files.iter().filter(|f| !f.ends_with("gateway.log")) {
        let bytes = std::fs::read(f).unwrap_or_default();
        assert!(!bytes.windows(15).any(|w| w == b"gateway-key-123"), "the search key is in {}", f.display());
    }

    for (query, said) in [
        ("busy lighthouse facts", "the search provider is busy"),
        ("crash lighthouse facts", "the search provider answered HTTP 500"),
        ("garbled lighthouse facts", "the search provider's answer is not JSON"),
        ("slow lighthouse facts", "did not answer within 3 s"),
    ] {
        let (code, failed, err) = ask(&stack, &["--web-search"], query);
        assert_eq!(code, Some(1), "{query}: {failed} {err}");
        assert!(err.contains("web search failed") && err.contains(said), "{query}: {err}");
        assert_eq!(failed["verified"], false);
    }
    let (code, empty, err) = ask(&stack, &["--web-search"], "nothing at all");
    assert_eq!(code, Some(0), "no results is an answer, not an error: {err}");
    assert_eq!(empty["citations"], json!([]));
    assert_eq!(empty["searched"], true);

    // An attached file's text goes to the enclave, sealed, but never to the search provider.
    let folder = tempfile::tempdir().unwrap();
    let notes = folder.path().join("notes.txt");
    std::fs::write(&notes, "confidential-attachment-marker about the lighthouse\n").unwrap();
    let before = provider.queries.lock().unwrap().len();
    let (code, attached, err) = ask(&stack, &["--web-search", "--attach", notes.to_str().unwrap()], "Tell me about the Pharos");
    assert_eq!(code, Some(0), "{err}");
    assert!(attached["request"].to_string().contains("confidential-attachment-marker"), "the file goes to the enclave");
    let queries = provider.queries.lock().unwrap().clone();
    assert_eq!(queries.len(), before + 1);
    assert_eq!(queries[before].0, "Tell me about the Pharos", "only the typed words are searched for");
}

/// What the relay sees of a searched reply: its sources take a fixed number of bytes, so two
/// searches with different sources seal to the same sizes.
#[tokio::test(flavor = "multi_thread")]
async fn the_relay_cannot_size_the_sources() {
    let stack = cited_stack(None, Vec::new());
    let proxy = Proxy::start(&stack.relay_url, Attack::None).await;
    let profile = stack.home.path().join("proxied.toml");
    stack.write_profile(&profile, &[proxy.url.clone()], None);
    let p = profile.to_str().unwrap();
    let mut sizes = Vec::new();
    for (prompt, expect) in [("Who first climbed Mount Everest?", 1), ("Tell me about the Eiffel Tower, Paris, Gustave Eiffel and the lighthouse of Alexandria", 2)] {
        let out = cli_with(stack.home.path(), &["ask", "--profile", p, "--json", "--web-search", prompt], &[PASS]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(answer["citations"].as_array().unwrap().len() >= expect, "{answer}");
        let response = proxy.exchanges().last().expect("the sealed exchange").response.clone();
        sizes.push(sotto_e2e::chunk_plaintext_lengths(&response, 16).expect("chunked framing"));
    }
    assert_ne!(sizes[0].len(), 0);
    assert_eq!(sizes[0], sizes[1], "different sources, the same sealed chunk sizes");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_without_search_says_so_and_opengradient_sources_outside_the_signature_are_not_shown() {
    let stack = cited_stack(Some("off".into()), Vec::new());
    let (code, _, err) = ask(&stack, &["--web-search"], "Who first climbed Mount Everest?");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("does not offer web search"), "{err}");

    let og = Stack::start(StackSpec { opengradient: true, ..Default::default() });
    let profile = og.og_profile.as_ref().expect("stack up printed its profile").display().to_string();
    let out = cli_with(og.home.path(), &["ask", "--profile", &profile, "--json", "--web-search", "Who first climbed Mount Everest?"], &[PASS]);
    let (code, answer, err) = (out.status.code(), serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null), text(&out.stderr));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("outside its signature"), "{err}");
    assert_eq!(answer["request"]["web_search"], true, "the flag passes through to OpenGradient's own search");
    assert_eq!(answer["citations"], json!([]), "unsigned sources are never shown as verified");
    assert!(answer["unsigned_citations_not_shown"].as_u64().unwrap() > 0, "{answer}");
}
