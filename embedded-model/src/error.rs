use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("the model file {path} cannot be read ({source}); run scripts/setup to fetch it")]
    Missing {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the model file is not a usable GGUF chat model: {0}")]
    Format(String),
    #[error("the model's tokenizer failed: {0}")]
    Tokenizer(String),
    #[error("the model's chat template failed: {0}")]
    Template(String),
    #[error("the conversation is too long for the model ({tokens} tokens, at most {max})")]
    TooLong { tokens: usize, max: usize },
    #[error("the model failed while generating: {0}")]
    Inference(String),
}

impl From<candle_core::Error> for ModelError {
    fn from(e: candle_core::Error) -> Self {
        ModelError::Inference(e.to_string())
    }
}
