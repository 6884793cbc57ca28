//! Images through the private path: the request is sealed like a chat request, the reply is
//! read in 64 KiB authenticated chunks (with progress), its receipt is verified by the same
//! code as a chat reply's, and then every image is checked — decoded from the verified bytes,
//! its SHA-256 equal to the one the enclave put beside it, a PNG of the size asked for — before
//! a single byte is handed on. Any failure refuses the whole reply.

use base64::Engine;
use sotto_enclave_protocol::images::{self, ImageReply, ImageRequest};
use sotto_enclave_protocol::sha256;

use crate::reply::{Progress, ReplyLimits};
use crate::{InferenceError, PrivateClient, VerifiedReply};

/// One image, checked.
#[derive(Debug, Clone)]
pub struct VerifiedImage {
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// SHA-256 of `png` (inside the bytes the receipt's output hash covers).
    pub sha256: [u8; 32],
}

/// The images of one verified reply, with the reply (receipt, enclave, proof material).
#[derive(Debug, Clone)]
pub struct VerifiedImages {
    pub images: Vec<VerifiedImage>,
    pub model: String,
    /// The seed the enclave used (the one asked for, or the one it chose).
    pub seed: Option<u64>,
    pub reply: VerifiedReply,
}

impl PrivateClient {
    /// Generates images; `progress` hears (bytes received, bytes announced) as the reply arrives.
    pub async fn images(&self, request: &ImageRequest, progress: Option<Progress>) -> Result<VerifiedImages, InferenceError> {
        if self.is_opengradient() {
            return Err(InferenceError::Unsupported(
                "OpenGradient's network is not used for images: its receipts sign an empty output for images, so the pixels could not be checked".into(),
            ));
        }
        if let Some(problem) = request.problem() {
            return Err(InferenceError::Request(problem));
        }
        let body = serde_json::to_vec(request).map_err(|e| InferenceError::Seal(e.to_string()))?;
        let limits = ReplyLimits { max_bytes: images::MAX_REPLY_BYTES, chat: false, sources: false, progress };
        let reply = self.send("POST", images::PATH, &body, limits).await?.verified().await?;
        check_images(request, reply)
    }
}

/// Checks every image of a verified reply against what was asked and what the enclave hashed.
pub fn check_images(request: &ImageRequest, mut reply: VerifiedReply) -> Result<VerifiedImages, InferenceError> {
    let bad = |what: String| InferenceError::Malformed(format!("the image reply {what}; nothing of it was kept"));
    let parsed: ImageReply = serde_json::from_slice(&reply.body).map_err(|e| bad(format!("is not readable ({e})")))?;
    let (width, height) = images::parse_size(&request.size).map_err(InferenceError::Request)?;
    if parsed.data.len() != request.n as usize {
        return Err(bad(format!("holds {} images, not the {} asked for", parsed.data.len(), request.n)));
    }
    if request.seed.is_some() && parsed.seed != request.seed {
        return Err(bad(format!("says it used seed {:?}, not the {:?} asked for", parsed.seed, request.seed)));
    }
    // No PNG of these pixels is larger than the pixels themselves (plus a little framing).
    let most = width as usize * height as usize * 4 + (64 << 10);
    let mut out = Vec::with_capacity(parsed.data.len());
    for (i, item) in parsed.data.into_iter().enumerate() {
        let n = i + 1;
        let png = base64::engine::general_purpose::STANDARD
            .decode(item.b64_json.as_bytes())
            .map_err(|_| bad(format!("has image {n} in invalid base64")))?;
        if png.len() > most {
            return Err(bad(format!("has image {n} of {} bytes, more than any picture of its size needs", png.len())));
        }
        let digest = sha256(&png);
        if hex::encode(digest) != item.sha256.to_ascii_lowercase() {
            return Err(bad(format!("has image {n} whose bytes do not match the hash beside it")));
        }
        let actual = images::png_dimensions(&png).map_err(|e| bad(format!("has image {n} that is {e}")))?;
        if actual != (width, height) || (item.width, item.height) != (width, height) {
            return Err(bad(format!("has image {n} of {}×{}, not the {width}×{height} asked for", actual.0, actual.1)));
        }
        out.push(VerifiedImage { png, width, height, sha256: digest });
    }
    reply.model = parsed.model.clone();
    // The text of an image reply is nothing a person reads; the pixels are above.
    reply.text = String::new();
    Ok(VerifiedImages { images: out, model: parsed.model, seed: parsed.seed, reply })
}
