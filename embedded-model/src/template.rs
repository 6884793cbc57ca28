use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;
use serde::Serialize;

use crate::ModelError;

/// One message of a chat, as the template sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ChatTurn {
    pub role: String,
    pub content: String,
}

/// The GGUF's own chat template (Jinja), rendered with minijinja.
pub(crate) struct ChatTemplate {
    env: minijinja::Environment<'static>,
}

impl ChatTemplate {
    pub(crate) fn from_gguf(metadata: &HashMap<String, Value>) -> Result<Self, ModelError> {
        let source = metadata
            .get("tokenizer.chat_template")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .ok_or_else(|| ModelError::Format("the GGUF has no chat template".into()))?;
        let mut env = minijinja::Environment::new();
        env.add_template_owned("chat", source)
            .map_err(|e| ModelError::Template(e.to_string()))?;
        Ok(Self { env })
    }

    pub(crate) fn render(&self, turns: &[ChatTurn]) -> Result<String, ModelError> {
        let template = self.env.get_template("chat").map_err(|e| ModelError::Template(e.to_string()))?;
        template
            .render(minijinja::context! { messages => turns, add_generation_prompt => true })
            .map_err(|e| ModelError::Template(e.to_string()))
    }
}
