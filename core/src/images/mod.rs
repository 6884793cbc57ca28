//! Image Studio's logic, shared by the CLI and the app: generate through the private path
//! (every image checked against the receipt before anything is kept), keep the generation in
//! the encrypted gallery with its receipt and thumbnails, and save PNGs where the user says.
//!
//! - `thumbnail`: full decode (a damaged PNG is refused) and the gallery's small copy.
//! - `files`: writing PNGs into a folder without overwriting anything.

mod files;
pub mod thumbnail;

use std::path::{Path, PathBuf};

use base64::Engine;
use serde::Serialize;
use serde_json::{json, Value};
use sotto_enclave_protocol::images::{ImageReply, ImageRequest};
use sotto_private_inference::images::{VerifiedImage, VerifiedImages};
use sotto_private_inference::{InferenceError, PrivateClient, Progress};
use sotto_store::{GalleryEntry, ImageOutput, NewGeneration, Store, StoreError};

pub use files::save_png;

/// What the user chose in the prompt box.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ImageSettings {
    pub size: String,
    pub n: u32,
    /// `None`: a fresh random seed (kept, so the same picture can be made again).
    pub seed: Option<u64>,
    pub style: Option<String>,
    pub model: Option<String>,
}

impl Default for ImageSettings {
    fn default() -> Self {
        Self { size: "1024x1024".into(), n: 1, seed: None, style: None, model: None }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImageStudioError {
    #[error("{0}")]
    Inference(#[from] InferenceError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Input(String),
    #[error("image {index} of the reply is {problem}; nothing of the reply was kept")]
    Damaged { index: usize, problem: String },
    #[error("the stored image does not match the hash its receipt covers ({0}); it was not written")]
    StoredMismatch(String),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

impl ImageStudioError {
    /// A check on the enclave or the reply failed (as opposed to input or set-up).
    pub fn is_check_failure(&self) -> bool {
        match self {
            Self::Inference(e) => !matches!(
                e,
                InferenceError::Profile(_)
                    | InferenceError::RelayUnreachable { .. }
                    | InferenceError::Request(_)
                    | InferenceError::Unsupported(_)
                    | InferenceError::EnclaveStatus { .. }
            ),
            Self::Damaged { .. } | Self::StoredMismatch(_) => true,
            _ => false,
        }
    }
}

/// A checked generation: its images, what made them, the receipt, and where it was kept.
#[derive(Debug, Clone)]
pub struct Generation {
    /// The gallery id (`None` when not kept).
    pub id: Option<String>,
    pub prompt: String,
    pub settings: ImageSettings,
    pub images: Vec<VerifiedImage>,
    pub thumbnails: Vec<Vec<u8>>,
    pub model: String,
    pub seed: u64,
    pub receipt: Value,
    pub development: bool,
}

/// The request for `prompt` with `settings` (a fresh seed when none was chosen).
pub fn request_for(prompt: &str, settings: &ImageSettings) -> ImageRequest {
    ImageRequest {
        model: settings.model.clone().filter(|m| !m.trim().is_empty()),
        prompt: prompt.to_string(),
        size: settings.size.clone(),
        n: settings.n,
        seed: Some(settings.seed.unwrap_or_else(|| rand::random::<u64>() >> 11)),
        style: settings.style.clone().filter(|s| !s.trim().is_empty()),
        response_format: "b64_json".into(),
    }
}

/// Generates, checks every image in full, and keeps the generation in `store` (when given).
/// Nothing is kept or returned unless the whole reply verified.
pub async fn generate(
    client: &PrivateClient,
    store: Option<&Store>,
    prompt: &str,
    settings: &ImageSettings,
    progress: Option<Progress>,
) -> Result<Generation, ImageStudioError> {
    let request = request_for(prompt, settings);
    if let Some(problem) = request.problem() {
        return Err(ImageStudioError::Input(problem));
    }
    // The client checked that the enclave used this seed.
    let verified = client.images(&request, progress).await?;
    let seed = request.seed.unwrap_or_default();
    let thumbnails = thumbnails_of(&verified)?;
    let settings = ImageSettings { seed: Some(seed), ..settings.clone() };
    let receipt = crate::proof::receipt_json(&verified.reply);
    let development = crate::proof::is_development(&verified.reply);
    let id = match store {
        Some(store) => Some(keep(store, prompt, &settings, &verified, &thumbnails, &receipt)?),
        None => None,
    };
    Ok(Generation { id, prompt: prompt.into(), settings, model: verified.model.clone(), images: verified.images, thumbnails, seed, receipt, development })
}

fn thumbnails_of(verified: &VerifiedImages) -> Result<Vec<Vec<u8>>, ImageStudioError> {
    verified
        .images
        .iter()
        .enumerate()
        .map(|(i, img)| thumbnail::thumbnail(&img.png).map_err(|problem| ImageStudioError::Damaged { index: i + 1, problem }))
        .collect()
}

fn keep(store: &Store, prompt: &str, settings: &ImageSettings, v: &VerifiedImages, thumbs: &[Vec<u8>], receipt: &Value) -> Result<String, StoreError> {
    // The reply's bytes are kept once, in `reply`; the proof material points at them.
    let material = v.reply.proof.as_ref().and_then(|m| {
        let without_reply = sotto_private_inference::proof::ProofMaterial {
            attestation: m.attestation.clone(),
            request: m.request.clone(),
            reply_status: m.reply_status,
            reply: Vec::new(),
            receipt: m.receipt.clone(),
        };
        serde_json::to_string(&without_reply).ok()
    });
    let outputs = v
        .images
        .iter()
        .zip(thumbs)
        .enumerate()
        .map(|(i, (img, thumb))| {
            (ImageOutput { index: i as u32, width: img.width, height: img.height, sha256: hex::encode(img.sha256) }, thumb.clone())
        })
        .collect();
    store.add_generation(&NewGeneration {
        prompt: prompt.to_string(),
        settings: json!(settings),
        model: v.model.clone(),
        receipt: receipt.clone(),
        material,
        reply: v.reply.body.clone(),
        outputs,
    })
}

/// The PNG of one stored image, read from the verified reply kept with it and checked against
/// the hash recorded when it arrived.
pub fn stored_png(store: &Store, entry: &GalleryEntry, index: u32) -> Result<Vec<u8>, ImageStudioError> {
    let output = entry
        .outputs
        .iter()
        .find(|o| o.index == index)
        .ok_or_else(|| ImageStudioError::Input(format!("generation {} has no image {}", short(&entry.id), index + 1)))?;
    let (reply, _) = store.generation_reply(&entry.id)?;
    let parsed: ImageReply = serde_json::from_slice(&reply).map_err(|e| ImageStudioError::StoredMismatch(format!("the kept reply is unreadable: {e}")))?;
    let item = parsed.data.get(index as usize).ok_or_else(|| ImageStudioError::StoredMismatch("the kept reply lacks the image".into()))?;
    let png = base64::engine::general_purpose::STANDARD
        .decode(item.b64_json.as_bytes())
        .map_err(|_| ImageStudioError::StoredMismatch("the kept image is not base64".into()))?;
    if hex::encode(sotto_enclave_protocol::sha256(&png)) != output.sha256 {
        return Err(ImageStudioError::StoredMismatch(format!("sha256 {}", output.sha256)));
    }
    Ok(png)
}

/// Checks a stored generation again, offline: the attestation as of its time, the receipt's
/// signature, and that the kept reply is the one the receipt covers. Returns the verdict in words.
pub fn recheck(store: &Store, id: &str) -> Result<Result<String, String>, StoreError> {
    let (reply, material) = store.generation_reply(id)?;
    let Some(material) = material else {
        return Ok(Err("no proof was kept with it".into()));
    };
    let mut m: sotto_private_inference::proof::ProofMaterial = match serde_json::from_str(&material) {
        Ok(m) => m,
        Err(e) => return Ok(Err(format!("its stored proof is not readable ({e})"))),
    };
    m.reply = reply;
    Ok(sotto_private_inference::proof::recheck(&m).map(|r| crate::recheck::describe(&r)).map_err(|e| e.to_string()))
}

/// Writes the images of a stored generation (all, or one) into `dir`; returns the files.
pub fn export(store: &Store, id_or_prefix: &str, index: Option<u32>, dir: &Path) -> Result<Vec<PathBuf>, ImageStudioError> {
    let entry = store.generation(id_or_prefix)?;
    let indices: Vec<u32> = match index {
        Some(i) => vec![i],
        None => entry.outputs.iter().map(|o| o.index).collect(),
    };
    let mut written = Vec::new();
    for i in indices {
        let png = stored_png(store, &entry, i)?;
        written.push(save_png(dir, &format!("sotto-{}-{}", short(&entry.id), i + 1), &png)?);
    }
    Ok(written)
}

/// Writes freshly made images into `dir` (named by seed, never overwriting).
pub fn save_generation(dir: &Path, g: &Generation) -> Result<Vec<PathBuf>, ImageStudioError> {
    let stem = match &g.id {
        Some(id) => format!("sotto-{}", short(id)),
        None => format!("sotto-seed{}", g.seed),
    };
    g.images.iter().enumerate().map(|(i, img)| save_png(dir, &format!("{stem}-{}", i + 1), &img.png)).collect()
}

fn short(id: &str) -> String {
    id.chars().take(8).collect()
}
