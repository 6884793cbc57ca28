//! Interoperability with OpenGradient's own client code (the `opengradient` SDK's
//! `tee_ohttp.py`, `tee_verify.py` and `tee_ohttp_client.py`, installed by scripts/setup in
//! a pinned virtual environment): the same canonical bytes and hashes on a corpus, the SDK's
//! requests answered by Sotto's gateway and accepted by the SDK, and receipts signed the
//! gateway's way in Python verified by Sotto.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use sotto_e2e::{hex, Stack, StackSpec};
use sotto_enclave_protocol::opengradient::canonical::build_inner_request;
use sotto_enclave_protocol::opengradient::receipt::{TeeReceipt, TeeReceiptError};

/// Runs the SDK peer with `input` on stdin.
fn peer(command: &str, input: &Value) -> Value {
    let python = sotto_relay_config::sotto_cache().join("og-sdk-venv/bin/python");
    assert!(python.is_file(), "{} is missing: run scripts/setup (it installs OpenGradient's SDK for these tests)", python.display());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/opengradient_sdk_peer.py");
    let mut child = Command::new(python)
        .arg(script)
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the SDK peer starts");
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "peer failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("peer printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// keccak256 as hex (a TEE id is `0x` + keccak256 of its key, so the same function).
fn keccak_hex(b: &[u8]) -> String {
    sotto_enclave_protocol::opengradient::receipt::tee_id(b).trim_start_matches("0x").to_string()
}

fn corpus() -> Vec<Value> {
    let weather = json!({"type": "function", "function": {"name": "get_weather", "description": "Wetter für eine Stadt — «heute»",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 1e16}}, "required": ["city"]}}});
    vec![
        json!({"model": "gpt-4.1", "messages": [{"role": "user", "content": "Hello"}]}),
        json!({"model": "claude-haiku-4-5", "temperature": 0.7, "max_tokens": 200, "messages": [
            {"role": "system", "content": "Réponds en français, s'il te plaît.\n\t\"citations\" \\ ok"},
            {"role": "user", "content": "日本語で 😀 and \u{0001}\u{007f}\u{2028}"}]}),
        json!({"model": "m", "temperature": 1, "messages": [{"role": "developer", "content": "be brief"}, {"role": "user", "content": "x"}]}),
        json!({"model": "m", "temperature": "0.25", "messages": [{"role": "user", "content": "t"}]}),
        json!({"model": "m", "temperature": 1e-5, "stop": ["\n\n", "END"], "messages": [{"role": "user", "content": "floats"}]}),
        json!({"model": "m", "temperature": 0.30000000000000004, "max_tokens": 0, "stop": [], "messages": [{"role": "user", "content": "falsy"}]}),
        json!({"model": "gpt-5", "tools": [weather], "tool_choice": "auto", "messages": [
            {"role": "user", "content": "Weather in Zürich?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Zürich\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp_c\": -3.5}"},
            {"role": "assistant", "content": "It is −3.5 °C."}]}),
        json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "Summarise these"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "file", "file": {"filename": "report.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}},
            {"type": "input_audio", "filename": "memo.wav", "input_audio": {"data": "UklGRg=="}},
            {"type": "text", "text": ""},
            "bare string part"]}]}),
        json!({"model": "m", "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"b": 2, "a": [1.5, 2.0, 1e-7]}}}, "web_search": true, "messages": [{"role": "user", "content": "json"}]}),
        json!({"model": "m", "messages": [{"role": "function", "name": "f", "content": "r"}, {"role": "assistant", "content": ""}]}),
        json!({"model": "m", "messages": [{"role": "user", "content": 5}]}),
        json!({"model": "m", "messages": [{"role": "user", "content": null}]}),
        // Refused by both.
        json!({"model": "m", "messages": [{"role": "robot", "content": "?"}]}),
        json!({"messages": [{"role": "user", "content": "no model"}]}),
        json!({"model": "m", "tools": {"not": "a list"}, "messages": [{"role": "user", "content": "x"}]}),
    ]
}

#[test]
fn canonical_bytes_and_request_hashes_equal_the_sdks_on_a_corpus() {
    let bodies = corpus();
    let theirs = peer("canonical", &Value::Array(bodies.clone()));
    for (body, sdk) in bodies.iter().zip(theirs.as_array().unwrap()) {
        match (build_inner_request(body, false), sdk.get("error")) {
            (Ok(ours), None) => {
                let bytes = ours.canonical_bytes();
                assert_eq!(String::from_utf8(bytes.clone()).unwrap(), sdk["canonical"].as_str().unwrap(), "body {body}");
                assert_eq!(keccak_hex(&bytes), sdk["request_hash"].as_str().unwrap());
            }
            (Err(_), Some(_)) => {}
            (ours, theirs) => panic!("disagreement on {body}: ours {ours:?}, SDK {theirs:?}"),
        }
    }
}

#[test]
fn receipts_signed_as_the_gateway_signs_verify_here_and_one_changed_byte_fails() {
    let body = corpus()[6].clone();
    let inner = build_inner_request(&body, false).unwrap();
    let output = "It is −3.5 °C in Zürich.";
    let signed = peer("sign", &json!({"canonical": inner.canonical, "output": output, "timestamp": 1_790_000_000u64}));
    let key = (0..signed["signing_key_der"].as_str().unwrap().len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&signed["signing_key_der"].as_str().unwrap()[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>();
    let receipt = TeeReceipt::from_reply(&signed).unwrap();
    let tee_id = signed["tee_id"].as_str().unwrap();
    receipt.verify(&key, tee_id, &inner.canonical_bytes(), output.as_bytes()).unwrap();
    // One changed byte anywhere: the output, the request, the signature.
    assert_eq!(receipt.verify(&key, tee_id, &inner.canonical_bytes(), "It is −3.6 °C in Zürich.".as_bytes()), Err(TeeReceiptError::OutputMismatch));
    let mut request = inner.canonical_bytes();
    request[10] ^= 1;
    assert_eq!(receipt.verify(&key, tee_id, &request, output.as_bytes()), Err(TeeReceiptError::RequestMismatch));
    let mut forged = receipt.clone();
    let mut sig = forged.signature.into_bytes();
    sig[5] = if sig[5] == b'A' { b'B' } else { b'A' };
    forged.signature = String::from_utf8(sig).unwrap();
    assert!(matches!(forged.verify(&key, tee_id, &inner.canonical_bytes(), output.as_bytes()), Err(TeeReceiptError::BadSignature | TeeReceiptError::Malformed(_))));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sdks_requests_are_answered_by_sottos_gateway_and_accepted_by_the_sdk() {
    let replies = json!([
        {"chunks": [{"text": "Grüße "}, {"text": "aus "}, {"text": "Zürich 😀"}]},
        sotto_e2e::tool_calls(&[("get_weather", json!({"city": "Zürich"}))]),
    ]);
    let stack = Stack::start(StackSpec { replies, opengradient: true, ..StackSpec::default() });
    let tee = stack.registered_tee().await;
    let key = tee.ohttp.clone().unwrap();
    // The SDK's registry path sends X-TEE-ID without 0x; the browser with it.
    for (i, (stream, tee_id)) in [(false, tee.tee_id.clone()), (true, tee.tee_id.trim_start_matches("0x").to_string())].into_iter().enumerate() {
        let tee_json = json!({"tee_id": tee_id, "endpoint": tee.endpoint, "signing_key_der": hex(&tee.signing_key_der), "key_id": key.key_id,
            "ohttp_public_key": hex(&key.public_key), "pcr_hash": format!("0x{}", hex(&tee.pcr_hash))});
        for (j, body) in [corpus()[1].clone(), corpus()[7].clone()].into_iter().enumerate() {
            let mut body = body;
            body["model"] = json!("scripted");
            let got = peer("chat", &json!({"relay": stack.relay_url, "tee": tee_json, "body": body, "stream": stream}));
            assert!(got.get("error").is_none(), "stream={stream}: {got}");
            if (i * 2 + j) % 2 == 0 {
                assert_eq!(got["content"], "Grüße aus Zürich 😀", "{got}");
            } else {
                // A tool-call reply: the SDK verified json.dumps(tool_calls, sort_keys=True).
                let calls: Value = serde_json::from_str(got["content"].as_str().unwrap()).unwrap();
                assert_eq!(calls[0]["function"]["name"], "get_weather", "{got}");
            }
            if stream {
                assert!(got["frames"].as_u64().unwrap() >= 3, "{got}");
            }
        }
    }
}
