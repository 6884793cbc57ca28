//! Chat attachments: the file's bytes, read by the same sandboxed reader as `sotto extract`
//! (never parsed in this process); the UI shows what will be sent before it is.

use base64::Engine;
use serde::Serialize;
use sotto_core::extract::{extract_file, Extracted, ExtractLimits, MAX_FILE_BYTES};
use tauri::State;

use crate::error::{CommandError, CommandResult};
use crate::state::AppState;

#[derive(Serialize)]
pub struct AttachmentView {
    #[serde(flatten)]
    read: Extracted,
    /// One line: kind, pages or sheets, characters, whether it was cut.
    summary: String,
    /// Exactly what goes into the message for it.
    part: String,
}

/// A file's name as the reader and the message show it (no folders, no control characters).
pub(crate) fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base.chars().filter(|c| !c.is_control()).take(120).collect();
    // The name is only shown (the bytes never go to a file of this name).
    if clean.trim().is_empty() || clean == "." || clean == ".." { "attachment".into() } else { clean }
}

#[tauri::command]
pub async fn read_attachment(state: State<'_, AppState>, name: String, data: String, password: Option<String>) -> CommandResult<AttachmentView> {
    let name = clean_name(&name);
    let read = read_bytes(&state, &name, &data, password.as_deref()).await?;
    Ok(AttachmentView { summary: read.summary(&name), part: read.as_message_part(&name), read })
}

/// A file the window sent (base64), read in the sandbox; `name` is already clean.
pub(crate) async fn read_bytes(state: &AppState, name: &str, data: &str, password: Option<&str>) -> CommandResult<Extracted> {
    if data.len() as u64 > (MAX_FILE_BYTES / 3 + 1) * 4 {
        return Err(CommandError::Other(format!("{name} is larger than {} MiB, the most Sotto reads", MAX_FILE_BYTES >> 20)));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.as_bytes())
        .map_err(|_| CommandError::Other(format!("{name} did not reach Sotto whole; attach it again")))?;
    let runtime = state.sandbox_runtime()?;
    // The bytes in an unnamed temporary file (0600, removed when this returns); the reader
    // copies them into its own private folder.
    let hold = |e: std::io::Error| CommandError::Other(format!("cannot hold {name} for reading: {e}"));
    let mut file = tempfile::tempfile().map_err(hold)?;
    std::io::Write::write_all(&mut file, &bytes).map_err(hold)?;
    std::io::Seek::rewind(&mut file).map_err(hold)?;
    drop(bytes);
    extract_file(&runtime, file, name, password.filter(|p| !p.is_empty()), &ExtractLimits::default())
        .await
        .map_err(|e| CommandError::Other(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::clean_name;

    #[test]
    fn names_lose_folders_and_control_characters() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\me\\REPORT.PDF"), "REPORT.PDF");
        assert_eq!(clean_name("a\u{0}b\nc.txt"), "abc.txt");
        assert_eq!(clean_name(".."), "attachment");
    }
}
