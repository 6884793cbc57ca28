use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;
use candle_core::quantized::tokenizer::TokenizerFromGguf;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::Tokenizer;

use crate::ModelError;

/// Builds the tokenizer from the GGUF's own vocabulary and merges.
///
/// candle maps unknown `tokenizer.ggml.pre` values to GPT-2's pre-tokenizer, which adds a prefix
/// space; SmolLM's (`pre=smollm`) is Digits + ByteLevel *without* one. Left as is, every token
/// after a special token shifts and the model answers gibberish.
pub(crate) fn from_gguf(metadata: &HashMap<String, Value>) -> Result<Tokenizer, ModelError> {
    let content = candle_core::quantized::gguf_file::Content {
        magic: candle_core::quantized::gguf_file::VersionedMagic::GgufV3,
        metadata: metadata.clone(),
        tensor_infos: HashMap::new(),
        tensor_data_offset: 0,
    };
    let mut tokenizer = Tokenizer::from_gguf(&content).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
    let pre = metadata
        .get("tokenizer.ggml.pre")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .unwrap_or_default();
    if pre == "smollm" {
        let seq = Sequence::new(vec![
            Digits::new(true).into(),
            ByteLevel::new(false, true, true).into(),
        ]);
        tokenizer.with_pre_tokenizer(Some(seq));
    }
    Ok(tokenizer)
}

/// Tokens that end a reply: the GGUF's end-of-sequence token and the chat end markers.
pub(crate) fn stop_tokens(metadata: &HashMap<String, Value>, tokenizer: &Tokenizer) -> Vec<u32> {
    let mut stops = Vec::new();
    if let Some(id) = metadata.get("tokenizer.ggml.eos_token_id").and_then(|v| v.to_u32().ok()) {
        stops.push(id);
    }
    for marker in ["<|im_end|>", "<|endoftext|>", "<|eot_id|>"] {
        if let Some(id) = tokenizer.token_to_id(marker) {
            if !stops.contains(&id) {
                stops.push(id);
            }
        }
    }
    stops
}
