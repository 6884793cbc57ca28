//! How replies and proofs are shown.

use std::io::Write;

use serde_json::json;
use sotto_core::private_inference::{EnclaveIdentity, VerifiedReply};

/// The proof that goes with a reply, as `--json` prints it.
pub fn receipt_json(reply: &VerifiedReply) -> serde_json::Value {
    let r = &reply.receipt;
    json!({
        "enclave": enclave_json(&reply.enclave),
        "measurements": reply.enclave.checked_pcrs.iter()
            .map(|i| (format!("PCR{i}"), json!(reply.enclave.pcrs.get(i).cloned().unwrap_or_default())))
            .collect::<serde_json::Map<_, _>>(),
        "request_hash": r.request_hash,
        "output_hash": r.output_hash,
        "timestamp_ms": r.timestamp_ms,
        "chunks": r.chunks,
        "key_id": r.key_id,
        "signature": r.signature,
        "model": r.model,
    })
}

fn enclave_json(e: &EnclaveIdentity) -> serde_json::Value {
    json!({
        "kind": e.kind,
        "hardware_protected": e.kind != "development",
        "module_id": e.module_id,
        "root_sha256": e.root_sha256,
        "attested_at_ms": e.document_timestamp_ms,
        "ohttp_key_id": e.ohttp_key_id,
        "receipt_key_id": e.receipt_key_id,
    })
}

/// The one-line summary printed after a verified reply on a terminal.
pub fn proof_line(reply: &VerifiedReply) -> String {
    let who = if reply.enclave.kind == "development" {
        "development enclave — not hardware-protected".to_string()
    } else {
        format!("{} enclave {}", reply.enclave.kind, reply.enclave.module_id)
    };
    let model = if reply.model.is_empty() { String::new() } else { format!(" · model {}", reply.model) };
    format!(
        "✓ verified · {who}{model} · PCRs {} match · receipt {} · via {}",
        reply.enclave.checked_pcrs.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(","),
        &reply.receipt.output_hash[..16.min(reply.receipt.output_hash.len())],
        reply.relay
    )
}

/// Text shown provisionally on a terminal, erasable if the final check fails.
pub struct Provisional {
    shown: String,
}

impl Provisional {
    pub fn new() -> Self {
        Self { shown: String::new() }
    }

    pub fn show(&mut self, text: &str) {
        self.shown.push_str(text);
        print!("{text}");
        let _ = std::io::stdout().flush();
    }

    pub fn has_text(&self) -> bool {
        !self.shown.is_empty()
    }

    /// Erases everything shown (counting wrapped lines) and says why.
    pub fn withdraw(&mut self, reason: &str) {
        let width = terminal_size::terminal_size().map(|(w, _)| w.0 as usize).unwrap_or(80).max(1);
        let rows: usize = self
            .shown
            .split('\n')
            .map(|line| line.chars().count().max(1).div_ceil(width))
            .sum();
        let mut out = std::io::stdout();
        if rows > 1 {
            let _ = write!(out, "\x1b[{}A", rows - 1);
        }
        let _ = write!(out, "\r\x1b[J");
        let _ = out.flush();
        self.shown.clear();
        eprintln!("⚠ reply withdrawn: {reason}");
    }
}

/// One line a person can read about a reply's proof.
pub fn receipt_summary(reply: &VerifiedReply) -> String {
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_millis(reply.receipt.timestamp_ms);
    let pcrs = reply.enclave.checked_pcrs.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
    format!(
        "enclave `{}` ({}), PCRs {pcrs} match the profile, model `{}`, request hash `{}…`, output hash `{}…`, signed {} by key `{}`, via {}",
        reply.enclave.module_id,
        if reply.enclave.kind == "development" { "development, not hardware-protected" } else { reply.enclave.kind.as_str() },
        reply.model,
        &reply.receipt.request_hash[..16.min(reply.receipt.request_hash.len())],
        &reply.receipt.output_hash[..16.min(reply.receipt.output_hash.len())],
        humantime::format_rfc3339_seconds(when),
        reply.receipt.key_id,
        reply.relay,
    )
}

/// Saves a prompt and its verified reply as Markdown or PDF (by the file's extension).
pub fn export_exchange(path: &std::path::Path, prompt: &str, reply: &VerifiedReply) -> Result<(), String> {
    use sotto_core::documents::{conversation_markdown, render, ExportMessage, ExportStatus, FontSet, RenderOptions};
    let status = if reply.enclave.kind == "development" { ExportStatus::Development } else { ExportStatus::Verified };
    let messages = [
        ExportMessage { role: "user".into(), text: prompt.into(), status: ExportStatus::Sent, receipt_summary: None },
        ExportMessage { role: "assistant".into(), text: reply.text.clone(), status, receipt_summary: Some(receipt_summary(reply)) },
    ];
    let title: String = prompt.chars().take(60).collect();
    let md = conversation_markdown(&format!("Sotto: {title}"), &messages);
    let bytes = match path.extension().and_then(|e| e.to_str()) {
        Some("md") => md.into_bytes(),
        Some("pdf") => {
            let fonts = FontSet::load_default().map_err(|e| e.to_string())?;
            render(&md, &fonts, &RenderOptions::default()).map_err(|e| e.to_string())?
        }
        _ => return Err("use a .md or .pdf file name".into()),
    };
    std::fs::write(path, bytes).map_err(|e| e.to_string())
}
