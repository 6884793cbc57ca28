//! Image generation on Sotto's wire: `POST /v1/images/generations`, OpenAI-compatible, with
//! what Sotto adds so the receipt covers the pixels and the client can check each one.
//!
//! Request (JSON): `{model?, prompt, size: "WxH", n, seed?, style?, response_format: "b64_json"}`.
//! Reply (JSON): `{created, model, seed, data: [{b64_json, width, height, sha256}]}` — `sha256`
//! is of the decoded PNG, so a client can name each image by the hash the receipt covers.
//! The reply's head carries [`CONTENT_BYTES_FIELD`] (inside the seal) so a client can show
//! how much of a large reply has arrived.

use serde::{Deserialize, Serialize};

/// The inner request path.
pub const PATH: &str = "/v1/images/generations";
/// Inner response header: the content's length in bytes (padding included), for progress.
pub const CONTENT_BYTES_FIELD: &str = "sotto-content-bytes";
/// The sizes an enclave serves (OpenAI's image sizes).
pub const SIZES: &[(u32, u32)] = &[(256, 256), (512, 512), (1024, 1024), (1536, 1024), (1024, 1536), (1792, 1024), (1024, 1792)];
/// At most this many images per request.
pub const MAX_IMAGES: u32 = 4;
/// The longest prompt accepted, in characters.
pub const MAX_PROMPT_CHARS: usize = 4000;
/// The largest image reply a client accepts.
pub const MAX_REPLY_BYTES: usize = 96 << 20;
/// The largest seed: every seed survives a trip through JavaScript's numbers (the app's UI).
pub const MAX_SEED: u64 = (1 << 53) - 1;
/// The styles the local demo generator knows (an upstream may know others).
pub const DEMO_STYLES: &[&str] = &["natural", "vivid", "pastel", "mono"];

/// A request for images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub prompt: String,
    pub size: String,
    #[serde(default = "one")]
    pub n: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    #[serde(default = "b64_json")]
    pub response_format: String,
}

fn one() -> u32 {
    1
}

fn b64_json() -> String {
    "b64_json".into()
}

/// One generated image as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageData {
    pub b64_json: String,
    pub width: u32,
    pub height: u32,
    /// SHA-256 of the decoded PNG, hex.
    pub sha256: String,
}

/// The reply to an image request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageReply {
    pub created: u64,
    pub model: String,
    pub seed: Option<u64>,
    pub data: Vec<ImageData>,
}

/// `"WxH"` → `(w, h)` when it is one of [`SIZES`]; otherwise why not, in words.
pub fn parse_size(size: &str) -> Result<(u32, u32), String> {
    let allowed = || SIZES.iter().map(|(w, h)| format!("{w}x{h}")).collect::<Vec<_>>().join(", ");
    let parsed = size
        .trim()
        .split_once(['x', 'X', '×'])
        .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)));
    match parsed {
        Some(wh) if SIZES.contains(&wh) => Ok(wh),
        Some((w, h)) => Err(format!("{w}×{h} is not a size images are made in; choose one of {}", allowed())),
        None => Err(format!("`{size}` is not a size like 1024x1024; choose one of {}", allowed())),
    }
}

impl ImageRequest {
    /// Why this request cannot be served, in words; `None` if it can.
    pub fn problem(&self) -> Option<String> {
        if self.prompt.trim().is_empty() {
            return Some("the prompt is empty: describe the picture you want".into());
        }
        let chars = self.prompt.chars().count();
        if chars > MAX_PROMPT_CHARS {
            return Some(format!("the prompt is {chars} characters long; at most {MAX_PROMPT_CHARS} are accepted"));
        }
        if let Err(e) = parse_size(&self.size) {
            return Some(e);
        }
        if self.n == 0 || self.n > MAX_IMAGES {
            return Some(format!("{} images were asked for; choose 1 to {MAX_IMAGES}", self.n));
        }
        if self.seed.is_some_and(|s| s > MAX_SEED) {
            return Some(format!("the seed must be a whole number from 0 to {MAX_SEED}"));
        }
        if self.style.as_ref().is_some_and(|s| s.chars().count() > 40) {
            return Some("the style is longer than 40 characters".into());
        }
        if self.model.as_ref().is_some_and(|m| m.chars().count() > 100) {
            return Some("the model name is longer than 100 characters".into());
        }
        if self.response_format != "b64_json" {
            return Some(format!("response_format `{}` is not offered: images come back as b64_json, inside the seal", self.response_format));
        }
        None
    }
}

/// The width and height a PNG says it has (its header only); why not, when it is no PNG.
pub fn png_dimensions(bytes: &[u8]) -> Result<(u32, u32), String> {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let reader = decoder.read_info().map_err(|e| format!("not a readable PNG ({e})"))?;
    let info = reader.info();
    Ok((info.width, info.height))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(size: &str, n: u32) -> ImageRequest {
        ImageRequest { model: None, prompt: "a lake".into(), size: size.into(), n, seed: None, style: None, response_format: "b64_json".into() }
    }

    #[test]
    fn sizes_parse_and_unsupported_ones_are_named() {
        assert_eq!(parse_size("1024x1024"), Ok((1024, 1024)));
        assert_eq!(parse_size("1792X1024"), Ok((1792, 1024)));
        let e = parse_size("1000x1000").unwrap_err();
        assert!(e.contains("1000×1000") && e.contains("512x512"), "{e}");
        assert!(parse_size("big").unwrap_err().contains("not a size like"));
    }

    #[test]
    fn requests_are_checked_in_words() {
        assert_eq!(request("512x512", 2).problem(), None);
        assert!(request("512x512", 0).problem().unwrap().contains("choose 1 to 4"));
        assert!(request("512x512", 9).problem().unwrap().contains("choose 1 to 4"));
        assert!(request("513x512", 1).problem().is_some());
        let mut r = request("512x512", 1);
        r.response_format = "url".into();
        assert!(r.problem().unwrap().contains("b64_json"));
        r = request("512x512", 1);
        r.seed = Some(MAX_SEED + 1);
        assert!(r.problem().unwrap().contains("seed"));
        r = request("512x512", 1);
        r.prompt = " ".into();
        assert!(r.problem().unwrap().contains("empty"));
        let parsed: ImageRequest = serde_json::from_str(r#"{"prompt":"x","size":"256x256"}"#).unwrap();
        assert_eq!((parsed.n, parsed.response_format.as_str()), (1, "b64_json"));
    }
}
