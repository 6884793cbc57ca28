use candle_core::{Device, Tensor};
use candle_transformers::generation::LogitsProcessor;

use crate::{ChatTurn, EmbeddedModel, ModelError};

/// The model's context as we use it: prompt and reply together.
const MAX_CONTEXT: usize = 2048;
/// How many recent tokens the repeat penalty looks at.
const REPEAT_WINDOW: usize = 64;

#[derive(Debug, Clone)]
pub struct GenerationParams {
    pub max_tokens: usize,
    /// 0 means greedy (deterministic).
    pub temperature: f64,
    pub top_p: Option<f64>,
    pub seed: u64,
    pub repeat_penalty: f32,
}

impl Default for GenerationParams {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            temperature: 0.2,
            top_p: Some(0.9),
            seed: 299_792_458,
            repeat_penalty: 1.1,
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The model ended its reply.
    Stop,
    /// `max_tokens` was reached.
    Length,
    /// The caller asked to stop.
    Cancelled,
}

impl Finish {
    /// The OpenAI `finish_reason`.
    pub fn reason(self) -> &'static str {
        match self {
            Finish::Stop | Finish::Cancelled => "stop",
            Finish::Length => "length",
        }
    }
}

impl EmbeddedModel {
    /// Generates a reply, calling `on_text` with each decoded piece; `on_text` returns false to
    /// stop early (the client went away).
    pub fn generate(
        &self,
        turns: &[ChatTurn],
        params: &GenerationParams,
        mut on_text: impl FnMut(&str) -> bool,
    ) -> Result<Finish, ModelError> {
        let prompt = self.render(turns)?;
        let prompt_ids = self.tokenize(&prompt)?;
        if prompt_ids.len() + 1 >= MAX_CONTEXT {
            return Err(ModelError::TooLong {
                tokens: prompt_ids.len(),
                max: MAX_CONTEXT,
            });
        }
        let budget = params.max_tokens.min(MAX_CONTEXT - prompt_ids.len());
        let temperature = (params.temperature > 0.0).then_some(params.temperature);
        let mut sampler = LogitsProcessor::new(params.seed, temperature, params.top_p);
        let mut decoder = self.tokenizer.decode_stream(true);
        let mut weights = self
            .weights
            .lock()
            .map_err(|_| ModelError::Inference("the model is unavailable after an earlier failure".into()))?;

        let mut all = prompt_ids.clone();
        let mut input = prompt_ids;
        for _ in 0..budget {
            let pos = all.len() - input.len();
            let x = Tensor::new(input.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
            let logits = weights.forward(&x, pos)?.squeeze(0)?;
            let start = all.len().saturating_sub(REPEAT_WINDOW);
            let logits = if params.repeat_penalty == 1.0 {
                logits
            } else {
                candle_transformers::utils::apply_repeat_penalty(&logits, params.repeat_penalty, &all[start..])?
            };
            let next = sampler.sample(&logits)?;
            if self.stop_tokens.contains(&next) {
                return Ok(Finish::Stop);
            }
            all.push(next);
            input = vec![next];
            let piece = decoder
                .step(next)
                .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
            if let Some(text) = piece {
                if !on_text(&text) {
                    return Ok(Finish::Cancelled);
                }
            }
        }
        Ok(Finish::Length)
    }
}
