//! Image Studio: generate (progress and stop), the gallery (list, thumbnails, one image, its
//! check made again), save as PNG to a folder the user picks, delete, and hand an image to the
//! agent's workspace. The logic is `sotto_core::images`; this only translates.

use std::sync::Arc;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sotto_core::images::{self, ImageSettings, ImageStudioError};
use sotto_core::store::GalleryEntry;
use tauri::ipc::Channel;
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;
use tokio_util::sync::CancellationToken;

use super::blocking;
use crate::error::{CommandError, CommandResult};
use crate::state::{lock, AppState};

impl From<ImageStudioError> for CommandError {
    fn from(e: ImageStudioError) -> Self {
        match e {
            ImageStudioError::Store(s) => CommandError::Store(s),
            ImageStudioError::Inference(i) => CommandError::Inference(i),
            other => CommandError::Other(other.to_string()),
        }
    }
}

fn png_url(png: &[u8]) -> String {
    format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png))
}

#[derive(Deserialize)]
pub struct GenerateRequest {
    /// Chosen by the UI, so that it can stop this generation.
    request_id: String,
    prompt: String,
    settings: ImageSettings,
}

#[derive(Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImageEvent {
    /// Bytes of the reply authenticated so far, and how many the enclave announced.
    Received { bytes: u64, total: Option<u64> },
}

#[derive(Serialize)]
pub struct GenerateResult {
    /// `verified`, `development`, `failed` or `stopped`.
    status: &'static str,
    reason: Option<String>,
    /// The stored generation (`None` when the history is not open or it failed).
    entry: Option<GalleryEntry>,
    /// The images as data URLs (only after the whole reply verified).
    images: Vec<String>,
    receipt: Option<Value>,
}

#[tauri::command]
pub async fn generate_images(state: State<'_, AppState>, request: GenerateRequest, events: Channel<ImageEvent>) -> CommandResult<GenerateResult> {
    let client = state.client()?;
    let store = state.store_connection().ok();
    let stop = CancellationToken::new();
    lock(&state.replies).insert(request.request_id.clone(), stop.clone());
    // At most one event per 256 KiB: the window needs a moving bar, not one event per chunk.
    let last = std::sync::atomic::AtomicU64::new(0);
    let progress: sotto_core::private_inference::Progress = Arc::new(move |bytes, total| {
        let before = last.load(std::sync::atomic::Ordering::Relaxed);
        if bytes >= before + (256 << 10) || Some(bytes) == total {
            last.store(bytes, std::sync::atomic::Ordering::Relaxed);
            let _ = events.send(ImageEvent::Received { bytes, total });
        }
    });
    let stop_for_run = stop.clone();
    let outcome = blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| CommandError::Other(e.to_string()))?;
        let result = runtime.block_on(async {
            tokio::select! {
                r = images::generate(&client, store.as_ref(), &request.prompt, &request.settings, Some(progress)) => Some(r),
                _ = stop_for_run.cancelled() => None,
            }
        });
        let entry = match &result {
            Some(Ok(g)) => g.id.as_ref().and_then(|id| store.as_ref().and_then(|s| s.generation(id).ok())),
            _ => None,
        };
        Ok::<_, CommandError>((result, entry))
    })
    .await
    .and_then(|r| r);
    lock(&state.replies).remove(&request.request_id);
    let (result, entry) = outcome?;
    Ok(match result {
        None => GenerateResult { status: "stopped", reason: Some("stopped: nothing was kept".into()), entry: None, images: vec![], receipt: None },
        Some(Err(e)) => GenerateResult { status: "failed", reason: Some(e.to_string()), entry: None, images: vec![], receipt: None },
        Some(Ok(g)) => GenerateResult {
            status: if g.development { "development" } else { "verified" },
            reason: None,
            entry,
            images: g.images.iter().map(|i| png_url(&i.png)).collect(),
            receipt: Some(g.receipt),
        },
    })
}

#[derive(Serialize)]
pub struct GalleryPage {
    total: usize,
    entries: Vec<GalleryEntry>,
}

#[tauri::command]
pub fn list_gallery(state: State<'_, AppState>, limit: usize, offset: usize) -> CommandResult<GalleryPage> {
    state.with_store(|s| Ok(GalleryPage { total: s.gallery_len()?, entries: s.gallery(limit.min(1000), offset)? }))
}

#[tauri::command]
pub fn gallery_thumbnail(state: State<'_, AppState>, id: String, index: u32) -> CommandResult<String> {
    Ok(png_url(&state.with_store(|s| s.thumbnail(&id, index))?))
}

/// One stored image (read from the verified reply kept with it, off the window's thread).
#[tauri::command]
pub async fn gallery_image(state: State<'_, AppState>, id: String, index: u32) -> CommandResult<String> {
    let store = state.store_connection()?;
    blocking(move || {
        let entry = store.generation(&id)?;
        Ok(png_url(&images::stored_png(&store, &entry, index)?))
    })
    .await?
}

#[derive(Serialize)]
pub struct Check {
    verdict: &'static str,
    detail: String,
}

#[tauri::command]
pub async fn recheck_generation(state: State<'_, AppState>, id: String) -> CommandResult<Check> {
    let store = state.store_connection()?;
    let verdict = blocking(move || images::recheck(&store, &id)).await??;
    Ok(match verdict {
        Ok(detail) => Check { verdict: "verified", detail },
        Err(detail) => Check { verdict: "failed", detail },
    })
}

/// Writes the generation's PNGs (all, or one) into `folder`, or into a folder the user picks
/// when none is given; `None` if the choice was cancelled. Never overwrites a file.
#[tauri::command]
pub async fn save_generation(app: AppHandle, state: State<'_, AppState>, id: String, index: Option<u32>, folder: Option<String>) -> CommandResult<Option<Vec<String>>> {
    let dir = match folder.filter(|f| !f.trim().is_empty()) {
        Some(f) => typed_folder(f.trim())?,
        None => {
            let picked = blocking(move || app.dialog().file().set_title("Choose where to save the images").blocking_pick_folder()).await?;
            match picked.and_then(|p| p.into_path().ok()) {
                Some(dir) => dir,
                None => return Ok(None),
            }
        }
    };
    let store = state.store_connection()?;
    let written = blocking(move || images::export(&store, &id, index, &dir)).await??;
    Ok(Some(written.iter().map(|p| p.display().to_string()).collect()))
}

/// A folder typed by the user: it must exist already, and it may not be inside Sotto's own
/// data folder (nothing of the history is ever written there in the clear).
fn typed_folder(typed: &str) -> CommandResult<std::path::PathBuf> {
    let path = std::path::Path::new(typed);
    if !path.is_absolute() {
        return Err(CommandError::Other(format!("`{typed}` is not a full path to a folder")));
    }
    let dir = path
        .canonicalize()
        .ok()
        .filter(|d| d.is_dir())
        .ok_or_else(|| CommandError::Other(format!("there is no folder `{typed}`; choose an existing one")))?;
    let home = sotto_core::relay_config::sotto_home();
    if home.canonicalize().is_ok_and(|h| dir.starts_with(h)) {
        return Err(CommandError::Other("that folder is inside Sotto's own data folder; choose another".into()));
    }
    Ok(dir)
}

#[tauri::command]
pub async fn delete_generation(state: State<'_, AppState>, id: String) -> CommandResult<()> {
    let store = state.store_connection()?;
    blocking(move || store.delete_generation(&id).map(|_| ())).await??;
    Ok(())
}

/// Writes one image into the agent's workspace (the last one used); returns the file's name.
#[tauri::command]
pub async fn image_to_workspace(state: State<'_, AppState>, id: String, index: u32) -> CommandResult<String> {
    let workspace = lock(&state.workspace)
        .clone()
        .ok_or_else(|| CommandError::Other("choose a workspace in the Local agent view first".into()))?;
    let store = state.store_connection()?;
    blocking(move || {
        let entry = store.generation(&id)?;
        let png = images::stored_png(&store, &entry, index)?;
        let short: String = entry.id.chars().take(8).collect();
        let path = images::save_png(&workspace, &format!("image-{short}-{}", index + 1), &png)?;
        Ok(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
    })
    .await?
}
