//! What a command answers when it fails: one sentence the UI shows as it is.

use serde::{Serialize, Serializer};

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("the history is locked: enter its passphrase first")]
    Locked,
    #[error("{0}")]
    Store(#[from] sotto_core::store::StoreError),
    #[error("{0}")]
    Inference(#[from] sotto_core::private_inference::InferenceError),
    #[error("{0}")]
    Settings(#[from] sotto_core::settings::SettingsError),
    #[error("{0}")]
    Stack(#[from] sotto_core::stack::StackError),
    #[error("{0}")]
    Sandbox(#[from] sotto_core::sandbox::SandboxError),
    #[error("{0}")]
    Other(String),
}

impl Serialize for CommandError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

pub type CommandResult<T> = Result<T, CommandError>;
