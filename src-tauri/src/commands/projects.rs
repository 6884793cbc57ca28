//! Projects: conversations grouped with shared instructions and files (kept as the text the
//! sandboxed reader gave), created, edited, searched and deleted from the window.

use serde::Serialize;
use sotto_core::store::{ConversationSummary, Project, SearchHit};
use tauri::State;

use crate::error::CommandResult;
use crate::state::AppState;

/// The store's own checks, asked first: an update that would be refused half-way changes nothing.
fn check(name: &str, instructions: &str) -> CommandResult<()> {
    Ok(sotto_core::store::check_project(name, instructions)?)
}

#[tauri::command]
pub async fn list_projects(state: State<'_, AppState>) -> CommandResult<Vec<Project>> {
    state.on_store(|s| s.projects()).await
}

#[derive(Serialize)]
pub struct ProjectView {
    #[serde(flatten)]
    project: Project,
    conversation_list: Vec<ConversationSummary>,
}

#[tauri::command]
pub async fn open_project(state: State<'_, AppState>, name: String) -> CommandResult<ProjectView> {
    state.on_store(move |s| Ok(ProjectView { project: s.project(&name)?, conversation_list: s.project_conversations(&name)? })).await
}

#[tauri::command]
pub async fn create_project(state: State<'_, AppState>, name: String, instructions: String, memory: bool) -> CommandResult<()> {
    check(&name, &instructions)?;
    state.on_store(move |s| s.create_project_with(&name, &instructions, memory)).await.map(|_| ())
}

/// Changes what is given; `new_name` renames.
/// Changes what is given; `new_name` renames. A name already taken changes nothing.
#[tauri::command]
pub async fn update_project(state: State<'_, AppState>, name: String, new_name: Option<String>, instructions: Option<String>, memory: Option<bool>) -> CommandResult<()> {
    check(new_name.as_deref().unwrap_or(&name), instructions.as_deref().unwrap_or_default())?;
    state
        .on_store(move |s| {
            if let Some(n) = new_name.as_deref().filter(|n| n.trim() != name.trim()) {
                if s.resolve_project(n).is_ok() {
                    return Err(sotto_core::store::StoreError::ProjectExists(n.trim().into()));
                }
            }
            if let Some(i) = &instructions {
                s.set_project_instructions(&name, i)?;
            }
            if let Some(on) = memory {
                s.set_project_memory(&name, on)?;
            }
            match &new_name {
                Some(n) if n.trim() != name.trim() => s.rename_project(&name, n),
                _ => Ok(()),
            }
        })
        .await
}

/// Deletes the project with its conversations, for real; returns the ids of those conversations
/// (the window forgets them).
#[tauri::command]
pub async fn delete_project(state: State<'_, AppState>, name: String) -> CommandResult<Vec<String>> {
    state
        .on_store(move |s| {
            let gone: Vec<String> = s.project_conversations(&name)?.into_iter().map(|c| c.id).collect();
            s.delete_project(&name)?;
            Ok(gone)
        })
        .await
}

/// A file the window sent, read in the sandbox; the project keeps its text. Returns the summary.
#[tauri::command]
pub async fn add_project_file(state: State<'_, AppState>, project: String, name: String, data: String) -> CommandResult<String> {
    let name = super::attachments::clean_name(&name);
    // The project must exist before anything is read.
    let p = project.clone();
    state.on_store(move |s| s.resolve_project(&p)).await?;
    let read = super::attachments::read_bytes(&state, &name, &data, None).await?;
    let summary = read.summary(&name);
    state.on_store(move |s| s.add_project_file(&project, &name, &read.kind, &read.text)).await?;
    Ok(summary)
}

#[tauri::command]
pub async fn remove_project_file(state: State<'_, AppState>, project: String, file_uid: String) -> CommandResult<()> {
    state.on_store(move |s| s.remove_project_file(&project, &file_uid)).await
}

/// Into a project (by name), or out of any with `None`.
#[tauri::command]
pub async fn move_conversation(state: State<'_, AppState>, conversation_id: String, project: Option<String>) -> CommandResult<()> {
    state
        .on_store(move |s| {
            let target = project.as_deref().map(|p| s.resolve_project(p)).transpose()?;
            s.set_conversation_project(&conversation_id, target.as_deref())
        })
        .await
}

#[tauri::command]
pub async fn search_project(state: State<'_, AppState>, name: String, text: String) -> CommandResult<Vec<SearchHit>> {
    state.on_store(move |s| s.search_project(&name, &text, 50)).await
}
