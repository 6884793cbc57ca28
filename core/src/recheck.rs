//! Checking stored replies again, offline, and writing proof files others can check: one
//! verifier (`private_inference::proof`) over what the store kept with each reply.

use serde::Serialize;
use std::time::{Duration, UNIX_EPOCH};

use sotto_private_inference::proof::{self, printable, ProofExchange, ProofFile, ProofMaterial, Rechecked, TeeProofMaterial, PROOF_FORMAT, PROOF_VERSION};
use sotto_store::{Conversation, Message, MessageStatus, Store, StoreError};

/// One reply's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct ReplyCheck {
    pub conversation_id: String,
    pub conversation_title: String,
    pub message_uid: String,
    /// Its position in the conversation (1 = the first message).
    pub message: usize,
    /// `verified`, `failed` or `not_checkable`.
    pub verdict: &'static str,
    /// What was established, or which check failed, in words.
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rechecked: Option<Rechecked>,
}

impl ReplyCheck {
    pub fn passed(&self) -> bool {
        self.verdict == "verified"
    }
}

/// Checks every reply of the given conversations (all of them when `ids` is empty) again.
pub fn recheck_history(store: &Store, ids: &[String]) -> Result<Vec<ReplyCheck>, StoreError> {
    let ids = if ids.is_empty() { store.list_conversations()?.into_iter().map(|c| c.id).collect() } else { ids.to_vec() };
    let mut out = Vec::new();
    for id in ids {
        let c = store.conversation(&id)?;
        for (i, m) in c.messages.iter().enumerate().filter(|(_, m)| m.role == "assistant") {
            out.push(recheck_message(store, &c, i + 1, m)?);
        }
    }
    Ok(out)
}

/// Checks one stored reply again (the app's "Check again").
pub fn recheck_uid(store: &Store, conversation_id: &str, message_uid: &str) -> Result<ReplyCheck, StoreError> {
    let c = store.conversation(conversation_id)?;
    let (i, m) = c
        .messages
        .iter()
        .enumerate()
        .find(|(_, m)| m.uid == message_uid)
        .ok_or_else(|| StoreError::NoMessage(message_uid.to_string()))?;
    recheck_message(store, &c, i + 1, m)
}

fn recheck_message(store: &Store, c: &Conversation, position: usize, m: &Message) -> Result<ReplyCheck, StoreError> {
    let verdict = |verdict: &'static str, detail: String, rechecked: Option<Rechecked>| ReplyCheck {
        conversation_id: c.summary.id.clone(),
        conversation_title: c.summary.title.clone(),
        message_uid: m.uid.clone(),
        message: position,
        verdict,
        detail,
        rechecked,
    };
    if m.imported {
        return Ok(verdict("not_checkable", "imported from an archive: its proof was not kept here".into(), None));
    }
    match m.status {
        MessageStatus::Failed => return Ok(verdict("failed", format!("its check failed when it arrived: {}", m.status_detail.as_deref().unwrap_or("no reason kept")), None)),
        MessageStatus::Unfinished | MessageStatus::Streaming => {
            return Ok(verdict("failed", "it never finished, so it was never verified as a whole".into(), None))
        }
        _ => {}
    }
    let Some(value) = store.proof(&m.uid)? else {
        return Ok(verdict("not_checkable", "no proof was kept with it (a reply from before Sotto kept them)".into(), None));
    };
    // OpenGradient's replies keep their RSA-PSS receipt and what it covers — never sources,
    // which its signature does not cover.
    if value.get("scheme").and_then(|s| s.as_str()) == Some(sotto_enclave_protocol::receipt::OPENGRADIENT_SCHEME) {
        if m.receipt.as_ref().is_some_and(|r| r.get("citations").is_some()) {
            return Ok(verdict("failed", "the stored reply carries sources, which OpenGradient's receipt never covers".into(), None));
        }
        return Ok(match serde_json::from_value::<TeeProofMaterial>(value) {
            Err(e) => verdict("failed", format!("its stored proof is not readable ({e})"), None),
            Ok(t) => match proof::recheck_tee(&t) {
                Ok(detail) => verdict("verified", detail, None),
                Err(e) => verdict("failed", e.to_string(), None),
            },
        });
    }
    let material: ProofMaterial = match serde_json::from_value(value) {
        Ok(m) => m,
        Err(e) => return Ok(verdict("failed", format!("its stored proof is not readable ({e})"), None)),
    };
    Ok(match proof::recheck(&material) {
        Err(e) => verdict("failed", e.to_string(), None),
        Ok(_) if proof::reply_text(&material) != m.content => {
            verdict("failed", "the stored text differs from the reply the enclave signed".into(), None)
        }
        Ok(_) if !same_citations(&material, m.receipt.as_ref()) => {
            verdict("failed", "the stored sources differ from those the enclave signed".into(), None)
        }
        Ok(r) => verdict("verified", describe(&r), Some(r)),
    })
}

/// The sources kept with a reply are exactly those in the bytes its receipt covers (none kept
/// when it named none), and those bytes name them well-formed.
fn same_citations(material: &ProofMaterial, receipt: Option<&serde_json::Value>) -> bool {
    let Ok(signed) = proof::reply_citations(material) else { return false };
    match receipt.and_then(|r| r.get("citations")) {
        None => signed.is_none(),
        Some(v) => serde_json::from_value::<Vec<sotto_enclave_protocol::search::Citation>>(v.clone()).is_ok_and(|s| Some(s) == signed),
    }
}

/// One line about a successful check (every string from the proof made printable).
pub fn describe(r: &Rechecked) -> String {
    let module = printable(&r.enclave.module_id, 64);
    let enclave = if r.hardware_protected {
        format!("AWS Nitro enclave `{module}`")
    } else {
        format!("development enclave `{module}` (not hardware-protected; root {}…)", r.enclave.root_sha256.chars().take(16).collect::<String>())
    };
    let pcrs: Vec<String> = r
        .enclave
        .checked_pcrs
        .iter()
        .map(|i| format!("PCR{i} {}…", r.enclave.pcrs.get(i).map(|h| h.chars().take(16).collect::<String>()).unwrap_or_default()))
        .collect();
    let text = if r.text_checked { "request and reply bytes match their hashes" } else { "hashes only (the text is not in the proof)" };
    let at = humantime::format_rfc3339_seconds(UNIX_EPOCH.checked_add(Duration::from_millis(r.checked_at_ms)).unwrap_or(UNIX_EPOCH));
    format!(
        "{enclave}, {} as expected (attested as of {at}), receipt signed by its attested key for model `{}`; {text}",
        pcrs.join(", "),
        printable(&r.model, 64)
    )
}

#[derive(Debug, thiserror::Error)]
pub enum ProofExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Nothing(String),
}

/// A proof file of one reply (`message`, 1-based) or of every reply of a conversation that
/// kept one. The conversation's text goes in only with `include_text`.
pub fn proof_file(store: &Store, conversation_id: &str, message: Option<usize>, include_text: bool) -> Result<ProofFile, ProofExportError> {
    let c = store.conversation(conversation_id)?;
    let mut exchanges = Vec::new();
    for (i, m) in c.messages.iter().enumerate() {
        let position = i + 1;
        if m.role != "assistant" || message.is_some_and(|n| n != position) {
            continue;
        }
        let material = store.proof(&m.uid)?.and_then(|v| serde_json::from_value::<ProofMaterial>(v).ok());
        match material {
            Some(material) => exchanges.push(ProofExchange::from_material(position, &material, include_text)),
            None if message.is_some() => {
                return Err(ProofExportError::Nothing(format!("message {position} kept no proof a proof file can carry (it failed, did not finish, was imported, or came from OpenGradient's network, whose receipts `history verify` checks but proof files do not carry yet)")))
            }
            None => {}
        }
    }
    if exchanges.is_empty() {
        let what = match message {
            Some(n) => format!("message {n} of this conversation is not a reply"),
            None => "no reply in this conversation kept a proof".to_string(),
        };
        return Err(ProofExportError::Nothing(what));
    }
    Ok(ProofFile {
        format: PROOF_FORMAT.into(),
        version: PROOF_VERSION,
        created_ms: crate::now_ms(),
        title: include_text.then(|| c.summary.title.clone()),
        exchanges,
    })
}
