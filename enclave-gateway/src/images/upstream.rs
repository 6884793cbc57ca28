//! Any OpenAI-compatible image API (`POST /v1/images/generations`), called from inside the
//! enclave. Locally it is a stand-in for a cloud provider; its failures become plain sentences
//! with a status the client shows (and nothing half-made is sent on).

use std::time::Duration;

use base64::Engine;
use futures::future::BoxFuture;
use serde_json::{json, Value};

use super::{ImageBackend, ImageError, ImageJob, ImageModel};
use crate::upstream_body::{self, BodyError};

/// The most an upstream may send back (four large PNGs as base64, with room to spare).
const MAX_UPSTREAM_BYTES: usize = 96 << 20;
/// How long a generation may take unless `SOTTO_IMAGES_TIMEOUT_S` says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);

pub struct UpstreamImages {
    base_url: String,
    api_key: Option<String>,
    timeout: Duration,
    http: reqwest::Client,
}

impl UpstreamImages {
    pub fn new(base_url: &str) -> anyhow::Result<Self> {
        let timeout = std::env::var("SOTTO_IMAGES_TIMEOUT_S")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .map_or(DEFAULT_TIMEOUT, Duration::from_secs);
        Ok(Self {
            base_url: base_url.trim_end_matches('/').trim_end_matches("/v1").to_string(),
            api_key: std::env::var("SOTTO_UPSTREAM_API_KEY").ok().filter(|k| !k.is_empty()),
            timeout,
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?,
        })
    }

    async fn call(&self, job: &ImageJob) -> Result<Vec<Vec<u8>>, ImageError> {
        let mut body = json!({
            "model": job.model, "prompt": job.prompt, "size": format!("{}x{}", job.width, job.height),
            "n": job.n, "response_format": "b64_json", "seed": job.seed,
        });
        if let Some(style) = &job.style {
            body["style"] = json!(style);
        }
        let mut request = self.http.post(format!("{}/v1/images/generations", self.base_url)).json(&body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let bytes = read_capped(response).await?;
        if !(200..300).contains(&status) {
            return Err(refusal(status, &bytes));
        }
        images_of(&bytes, job.n)
    }
}

fn unreachable(e: reqwest::Error) -> ImageError {
    ImageError::new(502, format!("the image service cannot be reached ({})", e.without_url()))
}

async fn read_capped(response: reqwest::Response) -> Result<Vec<u8>, ImageError> {
    upstream_body::read_capped(response, MAX_UPSTREAM_BYTES).await.map_err(|e| match e {
        BodyError::Broke(e) => ImageError::new(502, format!("the image service's answer broke off ({})", e.without_url())),
        BodyError::TooLarge => ImageError::new(502, format!("the image service sent more than {} MiB", MAX_UPSTREAM_BYTES >> 20)),
    })
}

/// An upstream's refusal, in words a user can act on.
fn refusal(status: u16, body: &[u8]) -> ImageError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let said = parsed
        .as_ref()
        .and_then(|v| v.pointer("/error/message").and_then(Value::as_str))
        .map(|m| m.chars().take(300).collect::<String>())
        .unwrap_or_default();
    let code = parsed.as_ref().and_then(|v| v.pointer("/error/code").and_then(Value::as_str)).unwrap_or_default();
    let detail = if said.is_empty() { String::new() } else { format!(": {said}") };
    match status {
        400 if code == "content_policy_violation" => ImageError::new(400, format!("the image service refused the prompt under its content policy{detail}")),
        400 | 422 => ImageError::new(400, format!("the image service refused the request{detail}")),
        401 | 403 => ImageError::new(502, format!("the enclave's key for the image service was refused (HTTP {status}){detail}")),
        429 => ImageError::new(429, format!("the image service is busy (too many requests); try again in a minute{detail}")),
        _ => ImageError::new(502, format!("the image service failed (HTTP {status}){detail}")),
    }
}

/// The decoded images of an OpenAI-format answer, exactly `n` of them.
fn images_of(body: &[u8], n: u32) -> Result<Vec<Vec<u8>>, ImageError> {
    let bad = |what: &str| ImageError::new(502, format!("the image service's answer is malformed: {what}"));
    let parsed: Value = serde_json::from_slice(body).map_err(|_| bad("it is not JSON"))?;
    let data = parsed.get("data").and_then(Value::as_array).ok_or_else(|| bad("it has no `data` list"))?;
    if data.len() != n as usize {
        return Err(bad(&format!("it holds {} images, not the {n} asked for", data.len())));
    }
    data.iter()
        .map(|item| {
            let b64 = item.get("b64_json").and_then(Value::as_str).ok_or_else(|| bad("an image has no `b64_json`"))?;
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| ImageError::new(502, "the image service sent an image that is not valid base64"))
        })
        .collect()
}

impl ImageBackend for UpstreamImages {
    fn models(&self) -> Vec<ImageModel> {
        vec![ImageModel { id: "upstream-images".into(), description: format!("OpenAI-compatible image API at {}", self.base_url) }]
    }

    fn passthrough_models(&self) -> bool {
        true
    }

    fn generate(&self, job: ImageJob) -> BoxFuture<'_, Result<Vec<Vec<u8>>, ImageError>> {
        Box::pin(async move {
            match tokio::time::timeout(self.timeout, self.call(&job)).await {
                Ok(result) => result,
                Err(_) => Err(ImageError::new(504, format!("the image service did not answer within {} s", self.timeout.as_secs()))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_as_sentences() {
        let policy = br#"{"error":{"message":"Your request was rejected","code":"content_policy_violation"}}"#;
        let e = refusal(400, policy);
        assert_eq!(e.status, 400);
        assert!(e.message.contains("content policy") && e.message.contains("rejected"), "{e}");
        assert_eq!(refusal(429, b"").status, 429);
        let e = refusal(500, b"<html>oops</html>");
        assert_eq!((e.status, e.message.as_str()), (502, "the image service failed (HTTP 500)"));
    }

    #[test]
    fn answers_are_checked_before_anything_is_kept() {
        assert!(images_of(b"not json", 1).unwrap_err().message.contains("not JSON"));
        assert!(images_of(br#"{"data":[]}"#, 1).unwrap_err().message.contains("0 images"));
        assert!(images_of(br#"{"data":[{"b64_json":"@@@"}]}"#, 1).unwrap_err().message.contains("base64"));
        assert_eq!(images_of(br#"{"data":[{"b64_json":"aGk="}]}"#, 1).unwrap(), vec![b"hi".to_vec()]);
    }
}
