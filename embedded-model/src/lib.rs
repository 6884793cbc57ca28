//! The embedded model: a real small chat model (SmolLM2-135M-Instruct, GGUF) run in-process
//! with candle, so the local stack answers with no network at all.
//!
//! [`EmbeddedModel::load`] reads the GGUF, builds its tokenizer and chat template from the
//! file's own metadata, and re-quantises Q4_1 weights to Q8_0 (candle has SIMD kernels for
//! Q8_0 only, which doubles the speed). [`EmbeddedModel::generate`] streams text pieces.

mod error;
mod generate;
mod template;
mod tokenizer;
mod weights;

use std::path::{Path, PathBuf};

pub use error::ModelError;
pub use generate::{Finish, GenerationParams};
pub use template::ChatTurn;

/// File name of the pinned model (see `scripts/pins.txt`).
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// The name the model is served under.
pub const DEFAULT_MODEL_NAME: &str = "smollm2-135m-instruct";

/// Where `scripts/setup` puts the model: `$SOTTO_MODEL` if set, else
/// `$SOTTO_CACHE/models/…` (default `~/.cache/sotto/models/…`).
pub fn default_model_path() -> PathBuf {
    if let Some(p) = std::env::var_os("SOTTO_MODEL") {
        return PathBuf::from(p);
    }
    sotto_relay_config::sotto_cache().join("models").join(DEFAULT_MODEL_FILE)
}

/// A loaded model, ready to generate. One generation runs at a time.
pub struct EmbeddedModel {
    name: String,
    weights: std::sync::Mutex<candle_transformers::models::quantized_llama::ModelWeights>,
    tokenizer: tokenizers::Tokenizer,
    template: template::ChatTemplate,
    stop_tokens: Vec<u32>,
}

impl EmbeddedModel {
    /// Loads a GGUF chat model.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let loaded = weights::load(path)?;
        let tokenizer = tokenizer::from_gguf(&loaded.metadata)?;
        let template = template::ChatTemplate::from_gguf(&loaded.metadata)?;
        let stop_tokens = tokenizer::stop_tokens(&loaded.metadata, &tokenizer);
        Ok(Self {
            name: DEFAULT_MODEL_NAME.to_string(),
            weights: std::sync::Mutex::new(loaded.model),
            tokenizer,
            template,
            stop_tokens,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Token ids for `text` as the model sees it (used by tests of the tokenizer fix).
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        self.tokenizer
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| ModelError::Tokenizer(e.to_string()))
    }

    /// Renders the chat with the model's own template.
    pub fn render(&self, turns: &[ChatTurn]) -> Result<String, ModelError> {
        self.template.render(turns)
    }
}
