//! How replies and proofs are shown.

use std::io::Write;

use sotto_core::private_inference::VerifiedReply;

pub use sotto_core::proof::receipt_json;

/// The one-line summary printed after a verified reply on a terminal.
pub fn proof_line(reply: &VerifiedReply) -> String {
    let model = if reply.model.is_empty() { String::new() } else { format!(" · model {}", reply.model) };
    let receipt = &reply.receipt.output_hash[..16.min(reply.receipt.output_hash.len())];
    if reply.enclave.kind == "opengradient-tee" {
        // Say what was checked and what kind of TEE it is: OpenGradient's forward the prompt.
        let checked = if reply.enclave.trust == sotto_core::private_inference::ATTESTED_HERE {
            format!("attested on this device (PCRs {} → the registry's pcrHash)", pcr_list(reply))
        } else if reply.enclave.trust == sotto_core::private_inference::ATTESTED_DEVELOPMENT {
            format!("attested on this device against a development root — not hardware-protected (PCRs {} → pcrHash)", pcr_list(reply))
        } else {
            "keys from the registry (attestation not available through this relay)".to_string()
        };
        return format!(
            "✓ verified · OpenGradient TEE {}{model} · {checked} · RSA-PSS receipt {receipt} · via {}\n  note: {}",
            short(&reply.receipt.key_id),
            reply.relay,
            reply.enclave.tee_class
        );
    }
    let who = if sotto_core::proof::is_development(reply) {
        "development enclave — not hardware-protected".to_string()
    } else {
        format!("{} enclave {}", reply.enclave.kind, reply.enclave.module_id)
    };
    format!("✓ verified · {who}{model} · PCRs {} match · receipt {receipt} · via {}", pcr_list(reply), reply.relay)
}

fn pcr_list(reply: &VerifiedReply) -> String {
    reply.enclave.checked_pcrs.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

fn short(id: &str) -> String {
    id.chars().take(14).collect::<String>() + "…"
}

/// Text shown provisionally on a terminal, erasable if the final check fails.
pub struct Provisional {
    shown: String,
}

impl Provisional {
    pub fn new() -> Self {
        Self { shown: String::new() }
    }

    /// Model text may carry escape sequences (a web page's, repeated): shown made safe.
    pub fn show(&mut self, text: &str) {
        let text = sotto_core::extract::terminal_safe(text);
        self.shown.push_str(&text);
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

/// Saves a prompt and its verified reply as Markdown or PDF (by the file's extension).
pub fn export_exchange(path: &std::path::Path, prompt: &str, reply: &VerifiedReply, conversation_id: Option<&str>) -> Result<(), String> {
    use sotto_core::documents::{ExportMessage, ExportStatus};
    let status = if sotto_core::proof::is_development(reply) { ExportStatus::Development } else { ExportStatus::Verified };
    let messages = [
        ExportMessage { role: "user".into(), text: prompt.into(), status: ExportStatus::Sent, receipt_summary: None },
        ExportMessage { role: "assistant".into(), text: reply.text.clone(), status, receipt_summary: Some(sotto_core::proof::receipt_summary(&receipt_json(reply))) },
    ];
    let title: String = prompt.chars().take(60).collect();
    write_conversation(path, &title, &messages, conversation_id)
}

/// Writes a conversation with its receipts as FILE.md or FILE.pdf (by the extension).
pub fn write_conversation(path: &std::path::Path, title: &str, messages: &[sotto_core::documents::ExportMessage], conversation_id: Option<&str>) -> Result<(), String> {
    use sotto_core::documents::{conversation_markdown, render, FontSet, RenderOptions};
    let md = conversation_markdown(&format!("Sotto: {title}"), messages, conversation_id);
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
