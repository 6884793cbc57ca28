use std::io::IsTerminal;

use serde_json::json;
use sotto_core::history::{open_store, Recorder};
use sotto_core::private_inference::{InferenceError, ReplyEvent, VerifiedReply};
use sotto_core::store::Store;

use super::ConnectArgs;
use crate::exit;
use crate::output::{proof_line, receipt_json, Provisional};

#[derive(clap::Args)]
pub struct AskArgs {
    #[command(flatten)]
    connect: ConnectArgs,
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
    /// Do not store this exchange in the history.
    #[arg(long, conflicts_with = "continue_id")]
    ephemeral: bool,
    /// Continue a stored conversation (its id, or the start of it): its verified turns are sent too.
    #[arg(long = "continue", value_name = "ID")]
    continue_id: Option<String>,
    /// The prompt.
    prompt: String,
}

pub fn run(args: AskArgs) -> i32 {
    let client = match args.connect.client() {
        Ok(c) => c,
        Err(e) => return finish_error(&args, &e, None, None),
    };
    let store = history(&args);
    if args.continue_id.is_some() && store.is_none() {
        return exit::SETUP;
    }
    let (mut recorder, messages) = match store.as_ref().map(|s| Recorder::start(s, args.continue_id.as_deref(), &args.prompt)) {
        Some(Ok((r, m))) => (Some(r), m),
        Some(Err(e)) if args.continue_id.is_some() => {
            eprintln!("error: {e}");
            return crate::commands::history::code_for(&e);
        }
        Some(Err(e)) => {
            eprintln!("note: this exchange is not stored: {e}");
            (None, vec![json!({"role": "user", "content": args.prompt})])
        }
        None => (None, vec![json!({"role": "user", "content": args.prompt})]),
    };
    let mut request = json!({"messages": messages, "stream": !args.no_stream});
    if let Some(m) = &args.model {
        request["model"] = json!(m);
    }
    if let Some(n) = args.max_tokens {
        request["max_tokens"] = json!(n);
    }
    // Stream to a terminal; a script only ever receives text whose receipt verified.
    let live = std::io::stdout().is_terminal() && !args.json;
    super::runtime().block_on(async {
        let mut shown = Provisional::new();
        let outcome = tokio::select! {
            outcome = receive(&client, &request, live, &mut shown, &mut recorder) => outcome,
            _ = tokio::signal::ctrl_c() => Err(Stop::Interrupted),
        };
        match outcome {
            Ok(reply) => {
                let stored = recorder.as_mut().map(|r| (r.verified(&reply), r.conversation_id().to_owned()));
                let conversation = match stored {
                    Some((Ok(()), id)) => Some(id),
                    Some((Err(e), _)) => {
                        eprintln!("warning: the reply verified but could not be stored: {e}");
                        None
                    }
                    None => None,
                };
                finish_ok(&args, &reply, live, conversation.as_deref())
            }
            Err(Stop::Failed(e)) => {
                if let Some(r) = recorder.as_mut() {
                    warn_unstored(r.failed(&e.to_string()));
                }
                finish_error(&args, &e, live.then_some(&mut shown), recorder.as_ref().map(|r| r.conversation_id()))
            }
            Err(Stop::Interrupted) => {
                if let Some(r) = recorder.as_mut() {
                    warn_unstored(r.stopped("stopped before the end"));
                }
                if shown.has_text() {
                    shown.withdraw("stopped before the end; the reply was never verified as a whole");
                }
                exit::INTERRUPTED
            }
        }
    })
}

enum Stop {
    Failed(InferenceError),
    Interrupted,
}

/// Receives the reply, showing (and recording) authenticated text as it arrives.
async fn receive(
    client: &sotto_core::private_inference::PrivateClient,
    request: &serde_json::Value,
    live: bool,
    shown: &mut Provisional,
    recorder: &mut Option<Recorder<'_>>,
) -> Result<VerifiedReply, Stop> {
    let mut stream = client.chat(request).await.map_err(Stop::Failed)?;
    let mut warned = false;
    while let Some(event) = stream.next().await {
        match event.map_err(Stop::Failed)? {
            ReplyEvent::Text(t) => {
                if live {
                    shown.show(&t);
                }
                if let Some(Err(e)) = recorder.as_mut().map(|r| r.text(&t)) {
                    if !std::mem::replace(&mut warned, true) {
                        eprintln!("warning: the reply could not be saved as it arrived: {e}");
                    }
                }
            }
            ReplyEvent::Verified(reply) => return Ok(*reply),
        }
    }
    Err(Stop::Failed(InferenceError::Truncated))
}

fn warn_unstored(result: Result<(), sotto_core::store::StoreError>) {
    if let Err(e) = result {
        eprintln!("warning: the outcome could not be stored: {e}");
    }
}

/// The history store, unless `--ephemeral`. When it cannot be opened the exchange still goes
/// ahead, and stderr says it is not stored (with `--continue` that is an error).
fn history(args: &AskArgs) -> Option<Store> {
    if args.ephemeral {
        return None;
    }
    match open_store(true, &mut crate::commands::history::ask_passphrase) {
        Ok(s) => Some(s),
        Err(e) if args.continue_id.is_some() => {
            eprintln!("error: --continue needs the history: {e}");
            None
        }
        Err(e) => {
            eprintln!("note: this exchange is not stored: {e}");
            None
        }
    }
}

fn finish_ok(args: &AskArgs, reply: &VerifiedReply, live: bool, conversation: Option<&str>) -> i32 {
    if args.json {
        let out = json!({
            "conversation_id": conversation,
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

fn finish_error(args: &AskArgs, e: &InferenceError, shown: Option<&mut Provisional>, conversation: Option<&str>) -> i32 {
    if args.json {
        println!("{}", json!({"verified": false, "error": e.to_string(), "sent": !e.before_sending(), "conversation_id": conversation}));
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
