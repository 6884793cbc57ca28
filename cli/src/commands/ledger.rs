//! `sotto ledger`: what left this device — every network request Sotto made, from the history.

use sotto_core::history::open_store;
use sotto_core::store::StoreError;

use crate::exit;

#[derive(clap::Args)]
pub struct LedgerArgs {
    /// Only requests since this time: an RFC 3339 time (2026-12-01T10:00:00Z) or a duration
    /// ago (30m, 2h, 7days).
    #[arg(long)]
    since: Option<String>,
    #[arg(long)]
    json: bool,
}

pub fn run(args: LedgerArgs) -> i32 {
    let since = match args.since.as_deref().map(parse_since).transpose() {
        Ok(s) => s.unwrap_or(0),
        Err(e) => {
            eprintln!("error: --since: {e}");
            return exit::USAGE;
        }
    };
    let records = match open_store(false, &mut super::history::ask_passphrase).and_then(|s| s.network_ledger(since)) {
        Ok(r) => r,
        Err(StoreError::NoStore(_)) => Vec::new(),
        Err(e) => {
            eprintln!("error: {e}");
            return super::history::code_for(&e);
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&records).unwrap_or_default());
        return exit::OK;
    }
    if records.is_empty() {
        eprintln!("no network requests recorded{}", if since > 0 { " in that time" } else { "" });
        return exit::OK;
    }
    println!("{:<20}  {:<22}  {:<12}  {:>9}  {:>9}  {:<6}  {}", "time (UTC)", "to", "purpose", "sent", "received", "status", "conversation");
    for r in &records {
        let at = std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_millis(r.at_ms)).unwrap_or(std::time::UNIX_EPOCH);
        let when = humantime::format_rfc3339_seconds(at).to_string();
        let purpose = match (r.user_content, r.credential) {
            (true, true) => format!("{} (sealed, +token)", r.purpose),
            (true, false) => format!("{} (sealed)", r.purpose),
            (false, true) => format!("{} (+token)", r.purpose),
            (false, false) => r.purpose.clone(),
        };
        let status = if r.status == 0 { "—".to_string() } else { r.status.to_string() };
        let conversation = r.conversation_id.as_deref().map(super::history::short).unwrap_or_default();
        println!("{:<20}  {:<22}  {:<12}  {:>9}  {:>9}  {:<6}  {}", when.trim_end_matches('Z').replace('T', " "), r.host, purpose, r.bytes_sent, r.bytes_received, status, conversation);
    }
    let (sent, received): (u64, u64) = records.iter().fold((0, 0), |(s, r), e| (s + e.bytes_sent, r + e.bytes_received));
    let tokens = records.iter().filter(|r| r.credential).count();
    let note = if tokens > 0 { format!("; {tokens} carried your OpenGradient account token (+token), which its server sees") } else { String::new() };
    eprintln!("{} requests: {sent} bytes sent, {received} bytes received (HTTP bodies); your messages went sealed (HPKE) to the enclave's key{note}", records.len());
    exit::OK
}

fn parse_since(text: &str) -> Result<u64, String> {
    let at = match humantime::parse_rfc3339_weak(text) {
        Ok(t) => t,
        Err(_) => {
            let ago = humantime::parse_duration(text).map_err(|e| format!("`{text}` is neither a time nor a duration ({e})"))?;
            std::time::SystemTime::now().checked_sub(ago).ok_or_else(|| format!("`{text}` reaches before 1970"))?
        }
    };
    Ok(at.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0))
}
