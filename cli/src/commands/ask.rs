use std::io::IsTerminal;

use serde_json::json;
use sotto_core::private_inference::{InferenceError, ReplyEvent, VerifiedReply};

use super::ProfileArgs;
use crate::exit;
use crate::output::{proof_line, receipt_json, Provisional};

#[derive(clap::Args)]
pub struct AskArgs {
    #[command(flatten)]
    profile: ProfileArgs,
    /// Relay URL to use instead of the profile's (repeatable; tried in order).
    #[arg(long = "relay")]
    relays: Vec<String>,
    /// Expected measurement N=HEX, replacing the profile's value for PCR N (repeatable).
    #[arg(long = "expect-pcr")]
    pcrs: Vec<String>,
    /// Model to ask (default: the enclave's first).
    #[arg(long)]
    model: Option<String>,
    /// Ask for the whole reply at once instead of a stream.
    #[arg(long)]
    no_stream: bool,
    /// Print one JSON object with the reply and its receipt.
    #[arg(long)]
    json: bool,
    /// Most tokens to generate.
    #[arg(long)]
    max_tokens: Option<u32>,
    /// Also save the verified exchange, with its receipt summary, as FILE.md or FILE.pdf.
    #[arg(long)]
    export: Option<std::path::PathBuf>,
    /// The prompt.
    prompt: String,
}

pub fn run(args: AskArgs) -> i32 {
    let client = match super::client(&args.profile, &args.relays, &args.pcrs) {
        Ok(c) => c,
        Err(e) => return finish_error(&args, &e, None),
    };
    let mut request = json!({
        "messages": [{"role": "user", "content": args.prompt}],
        "stream": !args.no_stream,
    });
    if let Some(m) = &args.model {
        request["model"] = json!(m);
    }
    if let Some(n) = args.max_tokens {
        request["max_tokens"] = json!(n);
    }
    // Stream to a terminal; a script only ever receives text whose receipt verified.
    let live = std::io::stdout().is_terminal() && !args.json;
    super::runtime().block_on(async {
        let mut stream = match client.chat(&request).await {
            Ok(s) => s,
            Err(e) => return finish_error(&args, &e, None),
        };
        let mut shown = Provisional::new();
        while let Some(event) = stream.next().await {
            match event {
                Ok(ReplyEvent::Text(t)) if live => shown.show(&t),
                Ok(ReplyEvent::Text(_)) => {}
                Ok(ReplyEvent::Verified(reply)) => return finish_ok(&args, &reply, live),
                Err(e) => return finish_error(&args, &e, live.then_some(&mut shown)),
            }
        }
        finish_error(&args, &InferenceError::Truncated, live.then_some(&mut shown))
    })
}

fn finish_ok(args: &AskArgs, reply: &VerifiedReply, live: bool) -> i32 {
    if args.json {
        let out = json!({
            "reply": reply.text,
            "verified": true,
            "model": reply.model,
            "finish_reason": reply.finish_reason,
            "tool_calls": reply.tool_calls,
            "development_enclave": reply.enclave.kind == "development",
            "relay": reply.relay,
            "request_bytes": reply.request_bytes,
            "receipt": receipt_json(reply),
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else if live {
        println!();
        eprintln!("{}", proof_line(reply));
    } else {
        println!("{}", reply.text);
        if reply.enclave.kind == "development" {
            eprintln!("note: development enclave — not hardware-protected");
        }
    }
    match &args.export {
        Some(path) => match crate::output::export_exchange(path, &args.prompt, reply) {
            Ok(()) => {
                eprintln!("saved {}", path.display());
                exit::OK
            }
            Err(e) => {
                eprintln!("error: the reply verified, but {} could not be written: {e}", path.display());
                exit::SETUP
            }
        },
        None => exit::OK,
    }
}

fn finish_error(args: &AskArgs, e: &InferenceError, shown: Option<&mut Provisional>) -> i32 {
    if args.json {
        println!("{}", json!({"verified": false, "error": e.to_string(), "sent": !e.before_sending()}));
    }
    match shown {
        // The notice replaces the withdrawn text and already says why.
        Some(p) if p.has_text() => {
            p.withdraw(&e.to_string());
            exit::for_error(e)
        }
        _ => exit::report(e),
    }
}
