//! Sotto's encrypted local store. See the README for the design and why.
//!
//! - [`Store`]: open, create, re-key ([`Store::change_passphrase`]).
//! - conversations and messages, with streaming drafts that survive a crash as "unfinished";
//! - [`Store::search`]: full-text search;
//! - [`Store::export_archive`] / [`Store::import_archive`];
//! - attachments, images, agent steps, settings;
//! - Image Studio's gallery ([`Store::add_generation`], [`Store::gallery`]): generations with
//!   their verified reply, receipt and thumbnails.

mod archive;
mod conversations;
mod error;
mod gallery;
mod memory;
mod projects;
mod kdf;
mod key_file;
mod ledger;
mod lock;
mod records;
mod schema;
mod search;
mod store;
mod vault;

pub use archive::ArchiveCounts;
pub use conversations::{title_from, Conversation, ConversationSummary, Message, MessageStatus, ReplyDraft, ReplyOutcome, DRAFT_SAVE_INTERVAL};
pub use error::StoreError;
pub use kdf::KdfParams;
pub use gallery::{GalleryEntry, ImageOutput, NewGeneration};
pub use memory::Memory;
pub use projects::{check_project, Project, ProjectFile, MAX_PROJECT_INSTRUCTIONS};
pub use key_file::{KeyFile, Protection, Unlock};
pub use ledger::NetworkRecord;
pub use records::{AgentStepRecord, Attachment, ImageRecord};
pub use search::{fts_query, SearchHit, MATCH_END, MATCH_START};
pub use store::Store;

/// The shortest passphrase Sotto accepts for a new history.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// Why `passphrase` is too weak to protect a history, or `None` if it will do.
pub fn passphrase_problem(passphrase: &str) -> Option<String> {
    if passphrase.trim().chars().count() < MIN_PASSPHRASE_CHARS {
        return Some(format!("choose a passphrase of at least {MIN_PASSPHRASE_CHARS} characters (spaces at either end do not count)"));
    }
    None
}
pub use vault::{MemoryVault, OsKeyring, SecretVault, KEYRING_SERVICE};
