//! Sotto's history: where the store lives, how it is unlocked, and how an exchange is recorded
//! while it streams.

use std::path::PathBuf;

use serde_json::Value;
use sotto_documents::{ExportMessage, ExportStatus};
use sotto_private_inference::VerifiedReply;
use sotto_store::{
    title_from, KdfParams, Message, MessageStatus, OsKeyring, Protection, ReplyDraft, ReplyOutcome, Store, StoreError, Unlock,
};

use crate::proof::{receipt_json, receipt_summary};

/// `$SOTTO_HOME/store`.
pub fn store_dir() -> PathBuf {
    sotto_relay_config::sotto_home().join("store")
}

/// What a front-end is asked for when the environment does not unlock the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassphrasePrompt {
    /// The store exists and is locked with a passphrase.
    Existing,
    /// There is no store yet and no keyring: a new passphrase protects it.
    New,
}

/// Opens the history store, creating it when `create` is set and there is none.
///
/// The key comes from, in order: the OS keyring (for a store made with it), `SOTTO_PASSPHRASE`,
/// then `ask` (a terminal prompt, a dialog; `None` when nobody can answer). A new store uses
/// `SOTTO_PASSPHRASE` when set, else the keyring when there is one, else asks for a passphrase.
pub fn open_store(create: bool, ask: &mut dyn FnMut(PassphrasePrompt) -> Option<String>) -> Result<Store, StoreError> {
    let dir = store_dir();
    let env_pass = std::env::var("SOTTO_PASSPHRASE").ok().filter(|p| !p.is_empty());
    match Store::protection(&dir)? {
        Some(Protection::Keyring { .. }) => Store::open(&dir, &Unlock::Keyring(&OsKeyring::available()?)),
        Some(Protection::Passphrase { .. }) => {
            let pass = env_pass.or_else(|| ask(PassphrasePrompt::Existing)).ok_or(StoreError::PassphraseNeeded)?;
            Store::open(&dir, &Unlock::Passphrase(&pass))
        }
        None if !create => Err(StoreError::NoStore(dir)),
        None => {
            if let Some(pass) = env_pass {
                return create_with_passphrase(&dir, &pass);
            }
            if let Ok(keyring) = OsKeyring::available() {
                match Store::open_or_create(&dir, &Unlock::Keyring(&keyring), KdfParams::default()) {
                    Ok(store) => return Ok(store),
                    Err(e) => tracing::info!("keyring not usable, asking for a passphrase instead: {e}"),
                }
            }
            let pass = ask(PassphrasePrompt::New).ok_or(StoreError::NoKeyAvailable)?;
            create_with_passphrase(&dir, &pass)
        }
    }
}

/// A new store under `passphrase`, if it is strong enough to protect one.
pub fn create_with_passphrase(dir: &std::path::Path, passphrase: &str) -> Result<Store, StoreError> {
    if let Some(problem) = sotto_store::passphrase_problem(passphrase) {
        return Err(StoreError::WeakPassphrase(problem));
    }
    Store::open_or_create(dir, &Unlock::Passphrase(passphrase), KdfParams::default())
}

/// Records one exchange as it happens: the prompt before it is sent, the reply as it streams,
/// then how it ended.
pub struct Recorder<'s> {
    store: &'s Store,
    conversation_id: String,
    draft: Option<ReplyDraft>,
}

impl<'s> Recorder<'s> {
    /// Stores `prompt` (durably) in a new conversation, or at the end of `continue_id`'s.
    /// Returns the recorder and the messages to send: the verified turns so far plus the prompt.
    pub fn start(store: &'s Store, continue_id: Option<&str>, prompt: &str) -> Result<(Self, Vec<Value>), StoreError> {
        let (conversation_id, mut turns) = match continue_id {
            Some(id) => store.chat_context(id)?,
            None => (store.new_conversation(&title_from(prompt))?, Vec::new()),
        };
        store.add_user_message(&conversation_id, prompt)?;
        turns.push(serde_json::json!({"role": "user", "content": prompt}));
        let draft = Some(store.begin_reply(&conversation_id, None)?);
        Ok((Recorder { store, conversation_id, draft }, turns))
    }

    pub fn conversation_id(&self) -> &str {
        &self.conversation_id
    }

    pub fn text(&mut self, piece: &str) -> Result<(), StoreError> {
        match self.draft.as_mut() {
            Some(d) => self.store.extend_reply(d, piece),
            None => Ok(()),
        }
    }

    fn finish(&mut self, outcome: ReplyOutcome) -> Result<(), StoreError> {
        match self.draft.take() {
            Some(d) => self.store.finish_reply(d, outcome),
            None => Ok(()),
        }
    }

    pub fn verified(&mut self, reply: &VerifiedReply) -> Result<(), StoreError> {
        self.verified_receipt(reply, receipt_json(reply))
    }

    /// As [`Recorder::verified`], keeping with the receipt the exact request body that was sent
    /// (the app's "what left this device").
    pub fn verified_with_request(&mut self, reply: &VerifiedReply, sent: &[u8]) -> Result<(), StoreError> {
        let mut receipt = receipt_json(reply);
        receipt["sent_request"] = serde_json::json!(String::from_utf8_lossy(sent));
        self.verified_receipt(reply, receipt)
    }

    fn verified_receipt(&mut self, reply: &VerifiedReply, receipt: Value) -> Result<(), StoreError> {
        self.finish(ReplyOutcome::Verified {
            text: reply.text.clone(),
            model: reply.model.clone(),
            receipt,
            development: crate::proof::is_development(reply),
            proof: match (&reply.proof, &reply.tee_proof) {
                (Some(p), _) => serde_json::to_value(p).ok(),
                (None, Some(t)) => serde_json::to_value(t).ok(),
                (None, None) => None,
            },
        })
    }

    /// Verification or delivery failed: the reason is kept, the text is not.
    pub fn failed(&mut self, reason: &str) -> Result<(), StoreError> {
        self.finish(ReplyOutcome::Failed { reason: reason.into() })
    }

    /// Stopped before the end: the text so far is kept, marked unfinished.
    pub fn stopped(&mut self, reason: &str) -> Result<(), StoreError> {
        self.finish(ReplyOutcome::Unfinished { reason: reason.into() })
    }
}

/// A stored conversation's messages, ready for Markdown/PDF export.
pub fn export_messages(messages: &[Message]) -> Vec<ExportMessage> {
    messages
        .iter()
        .map(|m| ExportMessage {
            role: m.role.clone(),
            text: m.content.clone(),
            status: match m.status {
                _ if m.imported => ExportStatus::Imported,
                MessageStatus::Sent => ExportStatus::Sent,
                MessageStatus::Verified => ExportStatus::Verified,
                MessageStatus::Development => ExportStatus::Development,
                MessageStatus::Failed => ExportStatus::Failed(m.status_detail.clone().unwrap_or_else(|| "verification failed".into())),
                MessageStatus::Unfinished | MessageStatus::Streaming => {
                    ExportStatus::Failed(m.status_detail.clone().unwrap_or_else(|| "the reply did not finish".into()))
                }
            },
            // An imported receipt was never checked here: its claims are not repeated.
            receipt_summary: m.receipt.as_ref().filter(|_| !m.imported).map(receipt_summary),
        })
        .collect()
}
