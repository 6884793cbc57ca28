//! Sotto's core. It never depends on Tauri: the desktop shell and the CLI both drive it.
//!
//! - [`stack`]: start and stop the local stack (nginx relay + development enclave gateway).
//! - [`profiles`]: which network profile a command uses.
//! - [`extract`]: reading a user's file (PDF, Office, text …) inside the sandbox, for attachments
//!   and the agent.
//! - [`history`]: the encrypted store's location and unlocking, and recording exchanges.
//! - [`chat`]: one chat exchange (store, send, stream, record the outcome).
//! - [`settings`]: the app's settings (profile, expected measurements, relays, limits, theme).
//! - [`images`]: Image Studio: generate through the private path, check every image, keep the
//!   gallery in the store, save PNGs.
//! - [`memory`]: the stored facts relevant to a request, found on the device.
//! - [`projects`]: what a request in a project carries (instructions, relevant file parts).
//! - [`proof`]: a verified reply's receipt as data and as a sentence.
//! - [`agent`]: the local agent loop and its tools (Python in the sandbox, workspace files, PDF).
//! - [`documents`]: Markdown to PDF (re-exported `sotto-documents`).

pub mod agent;
pub mod chat;
pub mod extract;
pub mod history;
pub mod images;
pub mod ledger;
pub mod memory;
pub mod opengradient_login;
pub mod profiles;
pub mod projects;
pub mod proof;
pub mod recheck;
pub mod settings;
pub mod stack;

pub use sotto_documents as documents;
pub use sotto_private_inference as private_inference;
pub use sotto_relay_config as relay_config;
pub use sotto_store as store;
pub use sotto_agent_sandbox as sandbox;

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
