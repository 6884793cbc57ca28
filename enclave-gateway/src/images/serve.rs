//! `POST /v1/images/generations`: check the request, settle the seed, generate, check every
//! image (a PNG of the size asked for), and send the reply in 64 KiB sealed chunks. The
//! receipt that closes it covers the whole JSON body, so every byte of every image.

use base64::Engine;
use futures::AsyncWrite;
use serde_json::{json, Value};
use sotto_enclave_protocol::images::{self, ImageRequest};
use sotto_enclave_protocol::sha256;

use super::{ImageError, ImageJob};
use crate::inner::{error_body, json_reply, Outcome, ReplyWriter};
use crate::server::AppState;

pub(crate) async fn generate<W: AsyncWrite + Unpin>(state: &AppState, body: &[u8], w: &mut ReplyWriter<W>) -> std::io::Result<Outcome> {
    let job = match job_of(state, body) {
        Ok(job) => job,
        Err(e) => return refuse(w, e).await,
    };
    state.observations.chat_request();
    let Some(backend) = state.images.as_ref() else {
        return refuse(w, ImageError::new(404, "this enclave makes no images")).await;
    };
    let made = match backend.generate(job.clone()).await {
        Ok(made) => made,
        Err(e) => return refuse(w, e).await,
    };
    let reply = match reply_of(&job, made) {
        Ok(reply) => reply,
        Err(e) => return refuse(w, e).await,
    };
    let body = reply.to_string().into_bytes();
    let total = w.large_len(body.len()).to_string();
    w.head_with(200, "application/json", &[(images::CONTENT_BYTES_FIELD, total.as_bytes())]).await?;
    w.content_large(&body).await?;
    Ok(Outcome::Complete { model: job.model })
}

async fn refuse<W: AsyncWrite + Unpin>(w: &mut ReplyWriter<W>, e: ImageError) -> std::io::Result<Outcome> {
    tracing::info!(status = e.status, message = %e.message, "image request refused");
    json_reply(w, e.status, &error_body(&e.message)).await
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
fn reply_of(job: &ImageJob, made: Vec<Vec<u8>>) -> Result<Value, ImageError> {
    if made.len() != job.n as usize {
        return Err(ImageError::new(502, format!("{} images came back, not the {} asked for", made.len(), job.n)));
    }
    let mut data = Vec::with_capacity(made.len());
    for png in made {
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
    Ok(json!({"created": crate::now_ms() / 1000, "model": job.model, "seed": job.seed, "data": data}))
}
