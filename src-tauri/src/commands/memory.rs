//! Memory: the facts the user chose to keep, listed, added, edited and deleted in one place,
//! and the switch that keeps them all out of requests.

use serde::Serialize;
use sotto_core::store::Memory;
use tauri::State;

use crate::error::{CommandError, CommandResult};
use crate::state::AppState;

#[derive(Serialize)]
pub struct MemoryView {
    enabled: bool,
    memories: Vec<Memory>,
}

#[tauri::command]
pub async fn list_memories(state: State<'_, AppState>) -> CommandResult<MemoryView> {
    state.on_store(|s| Ok(MemoryView { enabled: s.memory_enabled()?, memories: s.memories()? })).await
}

fn fact(text: &str) -> CommandResult<String> {
    match text.trim() {
        "" => Err(CommandError::Other("type the fact to keep".into())),
        t if t.chars().count() > sotto_core::memory::MAX_FACT_CHARS => {
            Err(CommandError::Other(format!("a memory is at most {} characters; keep facts short", sotto_core::memory::MAX_FACT_CHARS)))
        }
        t => Ok(t.to_string()),
    }
}

#[tauri::command]
pub async fn add_memory(state: State<'_, AppState>, text: String) -> CommandResult<String> {
    let text = fact(&text)?;
    state.on_store(move |s| s.add_memory(&text)).await
}

#[tauri::command]
pub async fn edit_memory(state: State<'_, AppState>, id: String, text: String) -> CommandResult<()> {
    let text = fact(&text)?;
    state.on_store(move |s| s.edit_memory(&id, &text)).await
}

#[tauri::command]
pub async fn delete_memory(state: State<'_, AppState>, id: String) -> CommandResult<()> {
    state.on_store(move |s| s.delete_memory(&id)).await.map(|_| ())
}

#[tauri::command]
pub async fn set_memory_enabled(state: State<'_, AppState>, on: bool) -> CommandResult<()> {
    state.on_store(move |s| s.set_memory_enabled(on)).await
}
