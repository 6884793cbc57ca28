//! The commands the web UI may call (each one is listed in `build.rs` and granted in
//! `capabilities/default.json`).

pub mod agent;
pub mod attachments;
pub mod chat;
pub mod history;
pub mod images;
pub mod memory;
pub mod projects;
pub mod settings;
pub mod startup;

/// Runs blocking core work (starting processes, compiling, SQLite) off the IPC thread.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> crate::error::CommandResult<T> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| crate::error::CommandError::Other(format!("an internal task failed: {e}")))
}
