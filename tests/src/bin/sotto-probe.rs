//! `sotto-probe`: sends one OpenAI-format chat body, exactly as given, through the private path
//! of the local stack (`sotto stack up`, found through SOTTO_HOME as the CLI finds it) and prints
//! what the client made of the answer as one JSON line: `verified`, `text`, `tool_calls`,
//! `finish_reason`, `events` (authenticated text pieces before the receipt) or `error`.
//!
//!   sotto-probe BODY.json        (or `-` for standard input)
//!
//! For checks of fields the CLI does not expose (stop sequences, tools) against a real engine;
//! `scripts/real-engine` uses it. Exit status 0 when the reply verified, 1 otherwise.

use std::io::Read;

use serde_json::{json, Value};
use sotto_private_inference::{ClientOptions, PrivateClient, ReplyEvent};

fn read_body(arg: &str) -> Result<Value, String> {
    let mut text = String::new();
    if arg == "-" {
        std::io::stdin().read_to_string(&mut text).map_err(|e| format!("standard input could not be read: {e}"))?;
    } else {
        text = std::fs::read_to_string(arg).map_err(|e| format!("{arg} could not be read: {e}"))?;
    }
    serde_json::from_str(&text).map_err(|e| format!("the body is not JSON: {e}"))
}

async fn probe(body: &Value) -> Value {
    let client = match sotto_core::profiles::load(None).map_err(|e| e.to_string()).and_then(|p| PrivateClient::new(p, ClientOptions::default()).map_err(|e| e.to_string())) {
        Ok(c) => c,
        Err(e) => return json!({"verified": false, "error": e}),
    };
    let mut stream = match client.chat(body).await {
        Ok(s) => s,
        Err(e) => return json!({"verified": false, "error": e.to_string()}),
    };
    let mut events = 0usize;
    while let Some(event) = stream.next().await {
        match event {
            Ok(ReplyEvent::Text(_)) => events += 1,
            Ok(ReplyEvent::Verified(reply)) => {
                return json!({"verified": true, "text": reply.text, "tool_calls": reply.tool_calls, "finish_reason": reply.finish_reason, "events": events});
            }
            Err(e) => return json!({"verified": false, "error": e.to_string(), "events": events}),
        }
    }
    json!({"verified": false, "error": "the reply ended without a receipt", "events": events})
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let Some(arg) = std::env::args().nth(1) else {
        eprintln!("usage: sotto-probe BODY.json (or - for standard input)");
        std::process::exit(2);
    };
    let body = match read_body(&arg) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let out = probe(&body).await;
    println!("{out}");
    std::process::exit(if out["verified"] == json!(true) { 0 } else { 1 });
}
