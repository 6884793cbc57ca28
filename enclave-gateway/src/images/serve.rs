//! `POST /v1/images/generations`: check the request, settle the seed, generate, check every
//! image (a PNG of the size asked for; an upstream's written anew), and send the reply in 64 KiB
//! pieces padded to a size class, starting on a whole-second step — refusals too, so the relay
//! tells neither the pictures' size nor a refusal. The receipt that closes it covers the whole
//! JSON body, so every byte of every image.

use std::time::Duration;

use base64::Engine;
use futures::AsyncWrite;
use tokio::time::Instant;
use serde_json::{json, Value};
use sotto_enclave_protocol::images::{self, ImageRequest};
use sotto_enclave_protocol::sha256;

use super::{ImageError, ImageJob};
use crate::inner::{error_body, Outcome, ReplyWriter};
use crate::server::AppState;

/// Replies start only at whole multiples of this after the request arrived, so the relay cannot
/// time the generation (which depends on the size, the count and the scene) nor tell a quick
/// refusal from a picture.
const REPLY_STEP: Duration = Duration::from_secs(1);
/// Image jobs that may run at once; more are refused (503) rather than queued without bound.
pub(crate) const MAX_JOBS: usize = 2;

pub(crate) async fn generate<W: AsyncWrite + Unpin>(state: &AppState, body: &[u8], w: &mut ReplyWriter<W>) -> std::io::Result<Outcome> {
    let arrived = Instant::now();
    let (status, model, body) = match made(state, body).await {
        Ok((model, reply)) => (200, model, reply),
        Err(e) => {
            // Only the status: the message may quote the prompt or an upstream's words.
            tracing::info!(status = e.status, "image request refused");
            (e.status, String::new(), error_body(&e.message))
        }
    };
    let body = body.to_string().into_bytes();
    let total = w.large_len(body.len()).to_string();
    let steps = arrived.elapsed().as_secs_f64() / REPLY_STEP.as_secs_f64();
    tokio::time::sleep_until(arrived + REPLY_STEP.mul_f64(steps.ceil().max(1.0))).await;
    // Refusals travel in the same size class as pictures.
    w.head_with(status, "application/json", &[(images::CONTENT_BYTES_FIELD, total.as_bytes())]).await?;
    w.content_large(&body).await?;
    Ok(Outcome::Complete { model })
}

/// The checked images as the reply body, and the model that made them.
async fn made(state: &AppState, body: &[u8]) -> Result<(String, Value), ImageError> {
    let job = job_of(state, body)?;
    let backend = state.images.as_ref().ok_or_else(|| ImageError::new(404, "this enclave makes no images"))?;
    let _permit = state
        .image_jobs
        .try_acquire()
        .map_err(|_| ImageError::new(503, "the enclave is busy making other pictures; try again in a moment"))?;
    let made = backend.generate(job.clone()).await?;
    let canonical = backend.canonical_output();
    let reply = tokio::task::spawn_blocking(move || reply_of(&job, made, canonical))
        .await
        .map_err(|_| ImageError::new(500, "the enclave stopped while checking the images"))??;
    Ok(reply)
}

/// The request as a job: checked, its model resolved, its seed settled (a random one when none
/// was given, returned in the reply so the client can make the same picture again).
fn job_of(state: &AppState, body: &[u8]) -> Result<ImageJob, ImageError> {
    let request: ImageRequest =
        serde_json::from_slice(body).map_err(|e| ImageError::new(400, format!("the image request is not valid ({e})")))?;
    if let Some(problem) = request.problem() {
        return Err(ImageError::new(400, problem));
    }
    let backend = state.images.as_ref().ok_or_else(|| ImageError::new(404, "this enclave makes no images"))?;
    let served: Vec<String> = backend.models().into_iter().map(|m| m.id).collect();
    let model = match request.model {
        Some(m) if backend.passthrough_models() || served.contains(&m) => m,
        Some(m) => return Err(ImageError::new(404, format!("image model `{m}` is not served here (available: {})", served.join(", ")))),
        None => served.first().cloned().ok_or_else(|| ImageError::new(404, "no image model is available"))?,
    };
    let (width, height) = images::parse_size(&request.size).map_err(|e| ImageError::new(400, e))?;
    Ok(ImageJob {
        model,
        prompt: request.prompt,
        width,
        height,
        n: request.n,
        seed: request.seed.unwrap_or_else(|| rand::random::<u64>() >> 11),
        style: request.style.filter(|s| !s.trim().is_empty()),
    })
}

/// The reply body, after checking that each image is a PNG of the size asked for.
fn reply_of(job: &ImageJob, made: Vec<Vec<u8>>, canonical: bool) -> Result<(String, Value), ImageError> {
    if made.len() != job.n as usize {
        return Err(ImageError::new(502, format!("{} images came back, not the {} asked for", made.len(), job.n)));
    }
    let mut data = Vec::with_capacity(made.len());
    for png in made {
        // An upstream's PNG is decoded and written anew: its text chunks (some servers put the
        // prompt there) and any padding never reach the client.
        let png = if canonical { png } else { super::canonical_png(&png).map_err(|e| ImageError::new(502, format!("the image service sent an image that is {e}")))? };
        let (width, height) = images::png_dimensions(&png).map_err(|e| ImageError::new(502, format!("the image service sent an image that is {e}")))?;
        if (width, height) != (job.width, job.height) {
            return Err(ImageError::new(
                502,
                format!("the image service sent an image of {width}×{height}, not the {}×{} asked for", job.width, job.height),
            ));
        }
        data.push(json!({
            "b64_json": base64::engine::general_purpose::STANDARD.encode(&png),
            "width": width, "height": height, "sha256": hex::encode(sha256(&png)),
        }));
    }
    Ok((job.model.clone(), json!({"created": crate::now_ms() / 1000, "model": job.model, "seed": job.seed, "data": data})))
}
