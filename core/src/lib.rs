//! Sotto's core. It never depends on Tauri: the desktop shell and the CLI both drive it.
//!
//! - [`stack`]: start and stop the local stack (nginx relay + development enclave gateway).
//! - [`profiles`]: which network profile a command uses.
//! - [`documents`]: Markdown to PDF (re-exported `sotto-documents`).

pub mod profiles;
pub mod stack;

pub use sotto_documents as documents;
pub use sotto_private_inference as private_inference;
pub use sotto_relay_config as relay_config;
