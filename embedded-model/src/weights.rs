use std::collections::HashMap;
use std::io::Cursor;
use std::path::Path;

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::Device;
use candle_transformers::models::quantized_llama::ModelWeights;

use crate::ModelError;

pub(crate) struct Loaded {
    pub model: ModelWeights,
    pub metadata: HashMap<String, gguf_file::Value>,
}

fn format_err(e: impl std::fmt::Display) -> ModelError {
    ModelError::Format(e.to_string())
}

/// Reads the GGUF and re-quantises Q4_1 tensors to Q8_0 before building the model: candle
/// multiplies Q8_0 with SIMD but Q4_1 without, so this roughly doubles tokens per second for
/// the price of ~60 MB of memory and a second at load.
pub(crate) fn load(path: &Path) -> Result<Loaded, ModelError> {
    let bytes = std::fs::read(path).map_err(|source| ModelError::Missing {
        path: path.to_owned(),
        source,
    })?;
    let mut reader = Cursor::new(bytes);
    let content = gguf_file::Content::read(&mut reader).map_err(format_err)?;
    let device = Device::Cpu;

    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors = Vec::with_capacity(names.len());
    for name in names {
        let t = content.tensor(&mut reader, name, &device).map_err(format_err)?;
        let t = if t.dtype() == GgmlDType::Q4_1 && t.shape().dims().last().is_some_and(|d| d % 32 == 0) {
            QTensor::quantize(&t.dequantize(&device)?, GgmlDType::Q8_0)?
        } else {
            t
        };
        tensors.push((name.clone(), t));
    }

    let metadata: Vec<(&str, &gguf_file::Value)> =
        content.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut requantised = Cursor::new(Vec::new());
    gguf_file::write(&mut requantised, &metadata, &tensor_refs).map_err(format_err)?;
    requantised.set_position(0);
    let content2 = gguf_file::Content::read(&mut requantised).map_err(format_err)?;
    let model = ModelWeights::from_gguf(content2, &mut requantised, &device).map_err(format_err)?;
    Ok(Loaded {
        model,
        metadata: content.metadata,
    })
}
