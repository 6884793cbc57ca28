//! Image back-ends. Each turns an [`ImageJob`] into PNG files; the gateway checks each one
//! (a PNG, of the size asked for), frames the reply, seals it and signs it — the receipt's
//! output hash covers every byte of every image.
//!
//! - [`demo`]: the local demo generator — procedural scenes, not a trained model (offline use).
//! - [`upstream`]: any OpenAI-compatible image API, forwarded from inside the enclave.
//! - `serve`: the inner `POST /v1/images/generations` request.

pub mod demo;
pub(crate) mod serve;
pub mod upstream;

use std::str::FromStr;
use std::sync::Arc;

use futures::future::BoxFuture;

/// What to make: the request after the gateway checked it and settled its seed.
#[derive(Debug, Clone)]
pub struct ImageJob {
    pub model: String,
    pub prompt: String,
    pub width: u32,
    pub height: u32,
    pub n: u32,
    pub seed: u64,
    pub style: Option<String>,
}

/// An image model and what kind of thing it is, for the model list.
#[derive(Debug, Clone)]
pub struct ImageModel {
    pub id: String,
    pub description: String,
}

/// Why no images came: an HTTP status for the client and a sentence for the user.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ImageError {
    pub status: u16,
    pub message: String,
}

impl ImageError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }
}

pub trait ImageBackend: Send + Sync {
    /// The image models served here.
    fn models(&self) -> Vec<ImageModel>;
    /// Whether any model name the client sends is passed on (an upstream knows its own).
    fn passthrough_models(&self) -> bool {
        false
    }
    /// `job.n` PNG files.
    fn generate(&self, job: ImageJob) -> BoxFuture<'_, Result<Vec<Vec<u8>>, ImageError>>;
    /// True when this back-end writes its PNGs itself, with nothing but the pixels; otherwise the
    /// gateway decodes and re-encodes each one.
    fn canonical_output(&self) -> bool {
        false
    }
}

/// The largest image decoded for re-encoding (2048 × 2048 RGBA at 16 bits).
const MAX_DECODE: usize = 32 << 20;

/// A PNG decoded and written anew with only its pixels (no text, time or other chunks).
pub fn canonical_png(png_bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut limits = png::Limits::default();
    limits.bytes = MAX_DECODE;
    let mut decoder = png::Decoder::new_with_limits(std::io::Cursor::new(png_bytes), limits);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|e| format!("not a readable PNG ({e})"))?;
    let size = reader.output_buffer_size().filter(|s| *s <= MAX_DECODE).ok_or("too large to decode")?;
    let mut pixels = vec![0; size];
    let info = reader.next_frame(&mut pixels).map_err(|e| format!("a damaged PNG ({e})"))?;
    pixels.truncate(info.buffer_size());
    let mut out = Vec::with_capacity(png_bytes.len());
    let mut encoder = png::Encoder::new(&mut out, info.width, info.height);
    encoder.set_color(info.color_type);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let written = encoder.write_header().and_then(|mut w| {
        w.write_image_data(&pixels)?;
        w.finish()
    });
    written.map_err(|e| format!("not re-encodable ({e})"))?;
    Ok(out)
}

/// Which image back-end a gateway runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImagesSpec {
    /// No image generation.
    Off,
    /// The local demo generator (the offline default).
    Demo,
    /// An OpenAI-compatible image API.
    OpenAi { base_url: String },
}

impl FromStr for ImagesSpec {
    type Err = String;

    /// `off`, `demo` or `openai:URL`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            None if s == "off" => Ok(Self::Off),
            None if s == "demo" => Ok(Self::Demo),
            Some(("openai", u)) if u.starts_with("http://") || u.starts_with("https://") => {
                Ok(Self::OpenAi { base_url: u.trim_end_matches('/').to_string() })
            }
            _ => Err(format!("`{s}` is not an image back-end: use demo, off or openai:URL (http:// or https://)")),
        }
    }
}

impl ImagesSpec {
    /// A stable description that goes into PCR1 (the configuration measurement).
    pub fn describe(&self) -> String {
        match self {
            Self::Off => "off".into(),
            Self::Demo => "demo".into(),
            Self::OpenAi { base_url } => format!("openai:{base_url}"),
        }
    }
}

/// Builds the back-end a spec names (`None`: this gateway makes no images).
pub fn build(spec: &ImagesSpec) -> anyhow::Result<Option<Arc<dyn ImageBackend>>> {
    Ok(match spec {
        ImagesSpec::Off => None,
        ImagesSpec::Demo => Some(Arc::new(demo::DemoGenerator)),
        ImagesSpec::OpenAi { base_url } => Some(Arc::new(upstream::UpstreamImages::new(base_url)?)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn re_encoding_keeps_the_pixels_and_drops_text_chunks() {
        let mut png_bytes = Vec::new();
        let mut e = png::Encoder::new(&mut png_bytes, 4, 4);
        e.set_color(png::ColorType::Rgb);
        e.add_text_chunk("parameters".into(), "secret prompt words".into()).unwrap();
        let mut w = e.write_header().unwrap();
        w.write_image_data(&[200u8; 48]).unwrap();
        w.finish().unwrap();
        assert!(png_bytes.windows(6).any(|w| w == b"secret"));
        let clean = canonical_png(&png_bytes).unwrap();
        assert!(!clean.windows(6).any(|w| w == b"secret"));
        assert_eq!(sotto_enclave_protocol::images::png_dimensions(&clean), Ok((4, 4)));
        assert!(canonical_png(&png_bytes[..png_bytes.len() - 20]).is_err());
    }

    #[test]
    fn image_specs_parse_with_clear_errors() {
        assert_eq!("demo".parse::<ImagesSpec>(), Ok(ImagesSpec::Demo));
        assert_eq!("off".parse::<ImagesSpec>(), Ok(ImagesSpec::Off));
        assert_eq!(
            "openai:http://127.0.0.1:9/".parse::<ImagesSpec>(),
            Ok(ImagesSpec::OpenAi { base_url: "http://127.0.0.1:9".into() })
        );
        assert!("openai:ftp://x".parse::<ImagesSpec>().unwrap_err().contains("openai:URL"));
        assert!("dalle".parse::<ImagesSpec>().is_err());
    }
}
