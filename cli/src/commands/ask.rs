use std::io::IsTerminal;

use base64::Engine;
use serde_json::json;
use sotto_core::chat::{exchange, ChatEnd, ChatTurn, ImagePart};
use sotto_core::history::open_store;
use sotto_core::private_inference::{InferenceError, VerifiedReply};
use sotto_core::store::Store;
use tokio_util::sync::CancellationToken;

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
    /// Attach a file (repeatable): PDF, Word, Excel, OpenDocument, CSV/TSV, JSON, HTML, Markdown
    /// or text. It is read inside the sandbox and its text goes with the prompt, sealed; what
    /// will be sent is said on stderr first.
    #[arg(long = "attach", value_name = "FILE")]
    attach: Vec<std::path::PathBuf>,
    /// Ask in this project: its instructions and the relevant parts of its files go with the
    /// prompt (stderr says which), and the conversation joins it.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["ephemeral", "continue_id"])]
    project: Option<String>,
    /// Let the enclave search the web for this message and answer with sources its receipt
    /// covers. The conversation remembers it: later messages search too until --no-web-search.
    #[arg(long, conflicts_with = "no_web_search")]
    web_search: bool,
    /// Turn web search off for this conversation (remembered).
    #[arg(long)]
    no_web_search: bool,
    /// The prompt.
    prompt: String,
}

impl AskArgs {
    /// The switch this command sets, if any.
    fn web_search_switch(&self) -> Option<bool> {
        match (self.web_search, self.no_web_search) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }
}

/// Says on stderr whether this message will be searched for, and by whom.
fn preview_web_search(args: &AskArgs, store: Option<&Store>, opengradient: bool) {
    let remembered = || store.zip(args.continue_id.as_deref()).and_then(|(s, id)| s.conversation_web_search(id).ok()).unwrap_or(false);
    if !args.web_search_switch().unwrap_or_else(remembered) {
        return;
    }
    if opengradient {
        eprintln!("web search: on — OpenGradient's TEE searches the web for your whole message (attached files' text included) through its provider; the sources it returns are outside its signature, so Sotto does not show them");
    } else {
        eprintln!("web search: on — the enclave sends the words you typed (not attached files) to its search provider and fetches the pages it cites: the provider and those sites see the question and the fetches, not who asked; the sources come back covered by the receipt");
    }
}

/// Says on stderr what of a project and which memories go with the prompt (the exchange
/// assembles the same).
fn preview_context(args: &AskArgs, store: Option<&Store>, prompt: &str, recall: bool) -> Result<(), i32> {
    let safe = sotto_core::extract::terminal_safe;
    let fail = |e: sotto_core::store::StoreError| {
        eprintln!("error: {e}");
        crate::commands::history::code_for(&e)
    };
    let Some(store) = store else {
        if args.project.is_some() {
            eprintln!("error: --project needs the history, where projects are kept");
            return Err(exit::SETUP);
        }
        return Ok(());
    };
    let project_id = match (&args.project, &args.continue_id) {
        (Some(name), _) => Some(store.resolve_project(name).map_err(fail)?),
        (None, Some(id)) => store.conversation_project(id).map_err(fail)?,
        _ => None,
    };
    let project = match &project_id {
        Some(id) => Some(store.project_by_id(id).map_err(fail)?),
        None => None,
    };
    if let Some(p) = &project {
        eprintln!("{} — sent with your message, sealed to the enclave", safe(&sotto_core::projects::context(p, prompt).summary()));
    }
    let memories = if recall { sotto_core::memory::recall(store, prompt, project.as_ref()).map_err(fail)? } else { Vec::new() };
    if !memories.is_empty() {
        eprintln!("{} — sent with your message, sealed to the enclave", safe(&sotto_core::memory::summary(&memories)));
    }
    Ok(())
}

/// The most an attached image may weigh.
const MAX_IMAGE_BYTES: u64 = 20 << 20;

/// The prompt with each attachment's text (read in the sandbox), and the attached images; the
/// preview goes to stderr.
fn with_attachments(args: &AskArgs) -> Result<(String, Vec<ImagePart>), i32> {
    if args.attach.is_empty() {
        return Ok((args.prompt.clone(), Vec::new()));
    }
    let mut runtime = None;
    let password = std::env::var("SOTTO_PDF_PASSWORD").ok().filter(|p| !p.is_empty());
    let limits = sotto_core::extract::ExtractLimits::default();
    let (mut read, mut images) = (Vec::new(), Vec::new());
    for file in &args.attach {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| file.display().to_string());
        let shown = sotto_core::extract::terminal_safe(&name);
        if let Some(image) = image_at(file) {
            eprintln!("attaching {shown}: {} image, {} KiB — sent with your message, sealed to the enclave", image.media_type, image.bytes.len() / 1024);
            images.push(image);
            continue;
        }
        if runtime.is_none() {
            runtime = Some(super::sandbox::load(false).map_err(|e| {
                eprintln!("error: the attachments cannot be read without the sandbox: {e}");
                exit::SETUP
            })?);
        }
        let Some(rt) = runtime.as_ref() else { return Err(exit::SETUP) };
        match super::runtime().block_on(sotto_core::extract::extract(rt, file, password.as_deref(), &limits)) {
            Ok(e) => {
                eprintln!("attaching {} — sent with your message, sealed to the enclave", sotto_core::extract::terminal_safe(&e.summary(&name)));
                read.push((name, e));
            }
            Err(e) => {
                eprintln!("error: {}; nothing was sent", sotto_core::extract::terminal_safe(&e.to_string()));
                return Err(super::extract::code_for(&e));
            }
        }
    }
    Ok((sotto_core::extract::compose(&args.prompt, &read), images))
}

/// An attached file that is a PNG, JPEG, GIF or WebP image (by its first bytes), whole.
fn image_at(file: &std::path::Path) -> Option<ImagePart> {
    let mut f = std::fs::File::open(file).ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(&mut f, MAX_IMAGE_BYTES + 1), &mut bytes).ok()?;
    if bytes.len() as u64 > MAX_IMAGE_BYTES {
        return None;
    }
    ImagePart::sniff(bytes)
}

/// Images go only to a model that reads them; otherwise nothing is sent and the user is told.
fn check_model_sees_images(client: &sotto_core::private_inference::PrivateClient, args: &AskArgs, images: &[ImagePart]) -> Result<(), i32> {
    if images.is_empty() {
        return Ok(());
    }
    let catalog = match super::runtime().block_on(client.catalog()) {
        Ok((catalog, _)) => catalog,
        Err(e) => return Err(exit::report(&e)),
    };
    let chat = catalog.iter().filter(|m| m.kind == sotto_core::private_inference::ModelKind::Chat);
    let target = match &args.model {
        Some(name) => chat.clone().find(|m| &m.id == name),
        None => chat.clone().next(),
    };
    match target {
        Some(m) if m.accepts_images => Ok(()),
        Some(m) => {
            eprintln!("error: the model {} cannot see images, so nothing was sent; leave the image out or choose a model that reads images", m.id);
            Err(exit::SETUP)
        }
        None => Ok(()),
    }
}

pub fn run(args: AskArgs) -> i32 {
    // Attachments are read first: a file that cannot be read stops the request before anything is sent.
    let (prompt, images) = match with_attachments(&args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let store = history(&args);
    if args.continue_id.is_some() && store.is_none() {
        return exit::SETUP;
    }

    let client = match args.connect.client(store.as_ref()) {
        Ok(c) => c,
        Err(e) => return finish_error(&args, &e, None, None),
    };
    if let Err(code) = check_model_sees_images(&client, &args, &images) {
        return code;
    }
    // A project's and the memories' share of the request is said before anything is sent.
    if let Err(code) = preview_context(&args, store.as_ref(), &prompt, !client.is_opengradient()) {
        return code;
    }
    preview_web_search(&args, store.as_ref(), client.is_opengradient());
    let turn = ChatTurn {
        conversation_id: args.continue_id.clone(),
        prompt,
        model: args.model.clone(),
        max_tokens: args.max_tokens,
        no_stream: args.no_stream,
        images,
        project: args.project.clone(),
        web_search: args.web_search_switch(),
        // The typed prompt, not the attachments' text, is what a search looks for.
        search_query: Some(args.prompt.clone()),
        // This command says which memories go before sending. OpenGradient's TEEs forward the
        // prompt to a third-party provider, so facts are never added to it unasked.
        recall: !client.is_opengradient(),
    };
    // Stream to a terminal; a script only ever receives text whose receipt verified.
    let live = std::io::stdout().is_terminal() && !args.json;
    super::runtime().block_on(async {
        let stop = CancellationToken::new();
        let on_interrupt = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_interrupt.cancel();
            }
        });
        let mut shown = Provisional::new();
        let exchanged = {
            let mut on_text = |t: &str| {
                if live {
                    shown.show(t);
                }
            };
            exchange(&client, store.as_ref(), &turn, &mut on_text, &stop).await
        };
        let outcome = match exchanged {
            Ok(o) => o,
            Err(e) => {
                eprintln!("error: {e}");
                return crate::commands::history::code_for(&e);
            }
        };
        for w in &outcome.warnings {
            eprintln!("warning: {w}");
        }
        let conversation = outcome.conversation_id.as_deref();
        match outcome.end {
            ChatEnd::Verified(reply) => {
                let code = finish_ok(&args, &reply, live, conversation, &outcome.sent, &outcome.proposed_memories);
                propose(&outcome.proposed_memories);
                code
            }
            ChatEnd::Failed(e) => finish_error(&args, &e, live.then_some(&mut shown), conversation),
            ChatEnd::Stopped => {
                if shown.has_text() {
                    shown.withdraw("stopped before the end; the reply was never verified as a whole");
                }
                exit::INTERRUPTED
            }
        }
    })
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

/// Facts the reply proposes are only offered: nothing is kept unless the user adds it.
fn propose(facts: &[String]) {
    for fact in facts {
        let fact = sotto_core::extract::terminal_safe(fact);
        eprintln!("the model suggests remembering: “{fact}” — nothing is kept unless you run: sotto memory add -- '{}'", fact.replace('\'', "'\\''"));
    }
}

fn finish_ok(args: &AskArgs, reply: &VerifiedReply, live: bool, conversation: Option<&str>, sent: &[u8], proposed: &[String]) -> i32 {
    if args.json {
        let out = json!({
            "conversation_id": conversation,
            // The exact JSON body that was sealed (what the ledger's chat request carried).
            "request": serde_json::from_slice::<serde_json::Value>(sent).unwrap_or_else(|_| json!(String::from_utf8_lossy(sent))),
            // The same, byte for byte (the request hash in the receipt is over the sealed message
            // that carries these bytes).
            "request_base64": base64::engine::general_purpose::STANDARD.encode(sent),
            "reply": reply.text,
            // The sources of a web search, exactly as the receipt covers them.
            "citations": reply.citations.clone().unwrap_or_default(),
            // Whether the enclave searched (it may have found nothing usable).
            "searched": reply.citations.is_some(),
            "unsigned_citations_not_shown": reply.unsigned_citations,
            // Facts the reply proposes to keep (not kept: `sotto memory add` keeps one).
            "proposed_memories": proposed,
            "verified": true,
            "model": reply.model,
            "finish_reason": reply.finish_reason,
            "tool_calls": reply.tool_calls,
            "development_enclave": sotto_core::proof::is_development(reply),
            "relay": reply.relay,
            "request_bytes": reply.request_bytes,
            "receipt": receipt_json(reply),
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else if live {
        println!();
        print_sources(reply, &mut std::io::stdout());
        eprintln!("{}", proof_line(reply));
    } else {
        println!("{}", sotto_core::memory::without_proposals(&reply.text));
        print_sources(reply, &mut std::io::stderr());
        if sotto_core::proof::is_development(reply) {
            eprintln!("note: development enclave — not hardware-protected");
        }
    }
    match &args.export {
        Some(path) => match crate::output::export_exchange(path, &args.prompt, reply, conversation) {
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

/// The verified sources under the reply (web text: made safe for a terminal).
fn print_sources(reply: &VerifiedReply, out: &mut dyn std::io::Write) {
    let safe = sotto_core::extract::terminal_safe;
    let citations = reply.citations.as_deref().unwrap_or_default();
    if reply.citations.is_some() && citations.is_empty() {
        let _ = writeln!(out, "\nThe enclave searched the web and found nothing usable.");
    }
    if !citations.is_empty() {
        let _ = writeln!(out, "\nSources (covered by the receipt):");
        for c in citations {
            let _ = writeln!(out, "[{}] {} — {}\n    “{}”", c.index, safe(&c.title), safe(&c.url), safe(&c.quote));
        }
    }
    if reply.unsigned_citations > 0 {
        let _ = writeln!(out, "note: OpenGradient named {} sources outside its signature; they are not shown", reply.unsigned_citations);
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
