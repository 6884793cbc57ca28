//! `sotto history …`: the encrypted conversation history.

use std::io::IsTerminal;
use std::path::PathBuf;

use sotto_core::history::{export_messages, open_store, PassphrasePrompt};
use sotto_core::store::{Conversation, KdfParams, MessageStatus, Store, StoreError, MATCH_END, MATCH_START};

use crate::exit;

#[derive(clap::Subcommand)]
pub enum HistoryCommand {
    /// List conversations, newest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a conversation (its id, or the start of it).
    Show {
        id: String,
        #[arg(long)]
        json: bool,
        /// Also save it, with each reply's receipt, as FILE.md or FILE.pdf.
        #[arg(long)]
        export: Option<PathBuf>,
    },
    /// Search every message.
    Search {
        #[arg(long)]
        json: bool,
        /// Most results.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Words to find (all must match; the last may be the start of a word).
        #[arg(required = true)]
        text: Vec<String>,
    },
    /// Write the whole history to one encrypted archive (passphrase from SOTTO_ARCHIVE_PASSPHRASE,
    /// else asked for).
    Export { file: PathBuf },
    /// Add the conversations of an archive made by `history export` (nothing here is replaced).
    Import { file: PathBuf },
    /// Delete a conversation for good.
    Delete { id: String },
    /// Change the passphrase that protects the history (old from SOTTO_PASSPHRASE, new from
    /// SOTTO_NEW_PASSPHRASE, else both asked for).
    Passphrase,
    /// Check stored replies again, offline: attestation as of its time against the root and
    /// measurements kept, key binding, receipt signature, both hashes. Exit 0 when every reply
    /// verifies, 3 when any does not.
    Verify {
        /// Conversations (ids or their start); none: the whole history.
        ids: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Write a self-contained proof of a conversation's replies (or of one) that anyone can check
    /// with `sotto proof verify` (format: docs/proof-format.md).
    Proof {
        id: String,
        /// Only this message (1 = the conversation's first message). With --include-text the
        /// request it answers is included, and that request carries the earlier turns too.
        #[arg(long)]
        message: Option<usize>,
        /// Also put the request and reply themselves in the proof (without it: hashes only,
        /// nothing readable).
        #[arg(long)]
        include_text: bool,
        #[arg(short = 'o', long = "output", value_name = "FILE.json")]
        output: PathBuf,
    },
}

pub fn run(command: HistoryCommand) -> i32 {
    let result = match command {
        HistoryCommand::List { json } => or_empty(json, "no history yet", with_store(|s| list(s, json))),
        HistoryCommand::Show { id, json, export } => with_store(|s| show(s, &id, json, export.as_deref())),
        HistoryCommand::Search { json, limit, text } => {
            or_empty(json, "no history yet, so nothing matches", with_store(|s| search(s, &text.join(" "), limit, json)))
        }
        HistoryCommand::Export { file } => with_store(|s| export(s, &file)),
        HistoryCommand::Import { file } => import(&file),
        HistoryCommand::Delete { id } => with_store(|s| {
            let id = s.delete_conversation(&id)?;
            eprintln!("deleted conversation {}", short(&id));
            Ok(())
        }),
        HistoryCommand::Passphrase => change_passphrase(),
        HistoryCommand::Verify { ids, json } => return verify(&ids, json),
        HistoryCommand::Proof { id, message, include_text, output } => with_store(|s| write_proof(s, &id, message, include_text, &output)),
    };
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {e}");
            code_for(&e)
        }
    }
}

fn verify(ids: &[String], json: bool) -> i32 {
    let checks = match open_store(false, &mut ask_passphrase).and_then(|s| sotto_core::recheck::recheck_history(&s, ids)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return code_for(&e);
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&checks).unwrap_or_default());
    } else {
        for c in &checks {
            let mark = match c.verdict {
                "verified" => "✓ verified",
                "failed" => "✗ failed",
                _ => "– not checkable",
            };
            println!("{}  message {:>3}  {mark}: {}", short(&c.conversation_id), c.message, c.detail);
        }
        let good = checks.iter().filter(|c| c.passed()).count();
        eprintln!("{good} of {} replies verified again, offline", checks.len());
    }
    if checks.iter().all(|c| c.passed()) {
        exit::OK
    } else {
        exit::CHECK_FAILED
    }
}

fn write_proof(store: &Store, id: &str, message: Option<usize>, include_text: bool, output: &std::path::Path) -> Result<(), StoreError> {
    let file = sotto_core::recheck::proof_file(store, id, message, include_text).map_err(|e| match e {
        sotto_core::recheck::ProofExportError::Store(e) => e,
        other => StoreError::Unsupported(other.to_string()),
    })?;
    let text = serde_json::to_string_pretty(&file).map_err(|e| StoreError::Unsupported(e.to_string()))?;
    write_private(output, text.as_bytes()).map_err(|source| StoreError::Io { action: "write", path: output.to_owned(), source })?;
    let what = if include_text { "with the request and reply text" } else { "hashes only, no text" };
    eprintln!("wrote {} ({} exchange(s), {what}, {} bytes); check it anywhere with `sotto proof verify {}`", output.display(), file.exchanges.len(), text.len(), output.display());
    Ok(())
}

/// The first characters of an id (ids from an archive may be short or not ASCII).
pub fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

/// The history for a command (created first when `create`). For a listing, a history that does
/// not exist yet lists nothing: `Err(OK)` after printing an empty list. Other failures are said.
pub fn store_for(create: bool, listing: bool) -> Result<Store, i32> {
    match open_store(create, &mut ask_passphrase) {
        Ok(s) => Ok(s),
        Err(StoreError::NoStore(_)) if listing => {
            println!("[]");
            Err(exit::OK)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(code_for(&e))
        }
    }
}

/// Changed or unreadable bytes are a failed check; everything else is a set-up problem.
pub fn code_for(e: &StoreError) -> i32 {
    match e {
        StoreError::Tampered { .. } | StoreError::ArchiveUnreadable(_) => exit::CHECK_FAILED,
        _ => exit::SETUP,
    }
}

/// Listing or searching a history that does not exist yet finds nothing; it is not an error.
fn or_empty(json: bool, note: &str, result: Result<(), StoreError>) -> Result<(), StoreError> {
    match result {
        Err(StoreError::NoStore(_)) => {
            if json {
                println!("[]");
            } else {
                eprintln!("{note}");
            }
            Ok(())
        }
        other => other,
    }
}

fn with_store(f: impl FnOnce(&Store) -> Result<(), StoreError>) -> Result<(), StoreError> {
    f(&open_store(false, &mut ask_passphrase)?)
}

/// Asks on the terminal; `None` when there is none (scripts, CI).
pub fn ask_passphrase(kind: PassphrasePrompt) -> Option<String> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    match kind {
        PassphrasePrompt::Existing => rpassword::prompt_password("Passphrase for Sotto's history: ").ok(),
        PassphrasePrompt::New => {
            eprintln!("No system keyring here: choose a passphrase to encrypt Sotto's history.");
            new_passphrase("New passphrase: ")
        }
    }
}

/// Asks twice; `None` if the two differ or are empty.
fn new_passphrase(prompt: &str) -> Option<String> {
    let first = rpassword::prompt_password(prompt).ok()?;
    let again = rpassword::prompt_password("Again: ").ok()?;
    if first != again {
        eprintln!("The passphrases differ.");
        return None;
    }
    if let Some(problem) = sotto_core::store::passphrase_problem(&first) {
        eprintln!("{problem}.");
        return None;
    }
    Some(first)
}

fn when(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string().replace('T', " ").replace('Z', " UTC")
}

fn print_json(value: &impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

fn list(store: &Store, json: bool) -> Result<(), StoreError> {
    let all = store.list_conversations()?;
    if json {
        print_json(&all);
    } else if all.is_empty() {
        eprintln!("no conversations yet");
    } else {
        for c in all {
            println!("{}  {}  {:>3} messages  {}", short(&c.id), when(c.updated_ms), c.messages, c.title);
        }
    }
    Ok(())
}

fn show(store: &Store, id: &str, json: bool, export: Option<&std::path::Path>) -> Result<(), StoreError> {
    let c = store.conversation(id)?;
    if json {
        print_json(&c);
    } else {
        print_conversation(&c);
    }
    if let Some(path) = export {
        crate::output::write_conversation(path, &c.summary.title, &export_messages(&c.messages), Some(&c.summary.id)).map_err(|e| StoreError::Io { action: "write", path: path.to_owned(), source: std::io::Error::other(e) })?;
        eprintln!("saved {}", path.display());
    }
    Ok(())
}

fn print_conversation(c: &Conversation) {
    println!("{}  {}  (started {})", short(&c.summary.id), c.summary.title, when(c.summary.created_ms));
    for m in &c.messages {
        let who = if m.role == "user" { "you" } else { "sotto" };
        let detail = m.status_detail.as_deref().unwrap_or("");
        let status = match m.status {
            _ if m.imported => format!(" · ↧ imported (marked {} there; not checked here, not sent again)", m.status.as_str()),
            MessageStatus::Sent => String::new(),
            MessageStatus::Verified => " · ✓ verified".into(),
            MessageStatus::Development => " · ✓ verified (development enclave, not hardware-protected)".into(),
            MessageStatus::Failed => format!(" · ✗ failed: {detail} (text withdrawn)"),
            MessageStatus::Unfinished => format!(" · … unfinished: {detail}"),
            MessageStatus::Streaming => " · still arriving".into(),
        };
        let model = m.model.as_deref().filter(|s| !s.is_empty()).map(|s| format!(" · model {s}")).unwrap_or_default();
        println!("\n{who} · {}{status}{model}", when(m.created_ms));
        for line in m.content.lines() {
            println!("  {line}");
        }
    }
}

fn search(store: &Store, text: &str, limit: usize, json: bool) -> Result<(), StoreError> {
    let hits = store.search(text, limit)?;
    if json {
        print_json(&hits);
    } else if hits.is_empty() {
        eprintln!("nothing matches “{text}”");
    } else {
        for h in hits {
            let who = if h.role == "user" { "you" } else { "sotto" };
            let snippet = h.snippet.replace('\n', " ").replace(MATCH_START, "[").replace(MATCH_END, "]");
            println!("{}  {}\n  {who}: {snippet}", short(&h.conversation_id), h.conversation_title);
        }
    }
    Ok(())
}

/// SOTTO_ARCHIVE_PASSPHRASE, else asked on the terminal (twice when making an archive).
fn archive_passphrase(new: bool) -> Result<String, StoreError> {
    if let Some(p) = std::env::var("SOTTO_ARCHIVE_PASSPHRASE").ok().filter(|p| !p.is_empty()) {
        return Ok(p);
    }
    let asked = if !std::io::stdin().is_terminal() {
        None
    } else if new {
        new_passphrase("Passphrase for the archive: ")
    } else {
        rpassword::prompt_password("Passphrase of the archive: ").ok()
    };
    asked.ok_or_else(|| StoreError::Unsupported("the archive needs a passphrase: set SOTTO_ARCHIVE_PASSPHRASE or run in a terminal".into()))
}

fn export(store: &Store, file: &std::path::Path) -> Result<(), StoreError> {
    let pass = archive_passphrase(true)?;
    let n = store.export_archive(file, &pass)?;
    eprintln!(
        "wrote {} ({} conversations, {} messages, {} attachments, {} images, {} agent steps, {} Image Studio generations), encrypted",
        file.display(),
        n.conversations,
        n.messages,
        n.attachments,
        n.images,
        n.agent_steps,
        n.image_generations
    );
    Ok(())
}

fn import(file: &std::path::Path) -> Result<(), StoreError> {
    if !file.exists() {
        return Err(StoreError::Io { action: "open", path: file.to_owned(), source: std::io::ErrorKind::NotFound.into() });
    }
    let pass = archive_passphrase(false)?;
    let store = open_store(true, &mut ask_passphrase)?;
    let n = store.import_archive(file, &pass)?;
    eprintln!("added {} conversations and {} messages from {} (already present: skipped)", n.conversations, n.messages, file.display());
    Ok(())
}

fn change_passphrase() -> Result<(), StoreError> {
    let dir = sotto_core::history::store_dir();
    let old = std::env::var("SOTTO_PASSPHRASE")
        .ok()
        .filter(|p| !p.is_empty())
        .or_else(|| ask_passphrase(PassphrasePrompt::Existing))
        .ok_or(StoreError::PassphraseNeeded)?;
    let new = std::env::var("SOTTO_NEW_PASSPHRASE")
        .ok()
        .filter(|p| !p.is_empty())
        .or_else(|| std::io::stdin().is_terminal().then(|| new_passphrase("New passphrase: ")).flatten())
        .ok_or_else(|| StoreError::Unsupported("set SOTTO_NEW_PASSPHRASE or run in a terminal".into()))?;
    Store::change_passphrase(&dir, &old, &new, KdfParams::default())?;
    eprintln!("passphrase changed; the history was re-encrypted under a new key, so an old copy of key.json no longer opens it");
    Ok(())
}

/// A new file only the user can read (a proof may hold the conversation); never overwrites.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}
