//! A conversation as Markdown (for export as `.md`, or through [`crate::render`] as PDF), with
//! each reply's verification status and receipt summary.

/// How a reply was proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportStatus {
    /// The user's own message.
    Sent,
    /// Verified against a hardware enclave.
    Verified,
    /// Verified against the development enclave (not hardware-protected).
    Development,
    /// Failed verification; its text was never shown.
    Failed(String),
    /// A reply that came from an imported archive: shown, but its proof was never checked here.
    Imported,
}

pub struct ExportMessage {
    pub role: String,
    pub text: String,
    pub status: ExportStatus,
    /// e.g. "enclave sotto-dev-…, PCRs 0,1,2 match, output hash 18767444…, 2026-11-23 16:40 UTC"
    pub receipt_summary: Option<String>,
}

/// `conversation_id`, when the conversation is stored, goes into a closing note on how to get a
/// proof of it that anyone can check.
pub fn conversation_markdown(title: &str, messages: &[ExportMessage], conversation_id: Option<&str>) -> String {
    let mut md = format!("# {}\n\n", title.trim());
    for m in messages {
        let who = if m.role == "user" { "You" } else { "Assistant" };
        md.push_str(&format!("## {who}\n\n"));
        match &m.status {
            ExportStatus::Failed(reason) => {
                md.push_str(&format!("> **Not shown: verification failed.** {reason}\n\n"));
                continue;
            }
            ExportStatus::Verified => md.push_str("> **Verified reply**  \n"),
            ExportStatus::Development => md.push_str("> **Verified** — development enclave, not hardware-protected  \n"),
            ExportStatus::Imported => md.push_str("> **Imported** — from an archive; its receipt was not checked on this device  \n"),
            ExportStatus::Sent => {}
        }
        if let Some(r) = &m.receipt_summary {
            md.push_str(&format!("> Receipt: {r}\n"));
        }
        if m.status != ExportStatus::Sent {
            md.push('\n');
        }
        md.push_str(m.text.trim());
        md.push_str("\n\n");
    }
    if let Some(id) = conversation_id {
        md.push_str(&format!(
            "---\n\n*Proof:* this document only reports the checks. For a proof anyone can check \
             without Sotto's word, run `sotto history proof {id} -o proof.json` (add `--include-text` \
             to include the text) and check it with `sotto proof verify proof.json`.\n"
        ));
    }
    md
}
