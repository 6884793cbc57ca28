//! The embedded SmolLM2 model, run on a blocking thread; pieces are forwarded as they decode.

use std::path::Path;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt};
use sotto_embedded_model::{ChatTurn, EmbeddedModel, GenerationParams};
use tokio::sync::mpsc;

use super::{Backend, BackendError, BackendEvent, ChatRequest};

pub struct EmbeddedBackend {
    model: Arc<EmbeddedModel>,
    measurement: [u8; 48],
}

impl EmbeddedBackend {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let model = EmbeddedModel::load(path)?;
        let measurement = sotto_attestation::measure_file(path)?;
        Ok(Self { model: Arc::new(model), measurement })
    }
}

fn params(request: &ChatRequest) -> GenerationParams {
    let mut p = GenerationParams::default();
    if let Some(max) = request.max_tokens() {
        p.max_tokens = max.clamp(1, 1024) as usize;
    }
    if let Some(t) = request.body.get("temperature").and_then(|v| v.as_f64()) {
        p.temperature = t.clamp(0.0, 2.0);
    }
    if let Some(seed) = request.body.get("seed").and_then(|v| v.as_u64()) {
        p.seed = seed;
    }
    p
}

impl Backend for EmbeddedBackend {
    fn models(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> {
        let name = self.model.name().to_string();
        Box::pin(async move { Ok(vec![name]) })
    }

    fn chat(&self, request: ChatRequest) -> BoxStream<'static, BackendEvent> {
        let (tx, rx) = mpsc::channel(64);
        let model = self.model.clone();
        let turns: Vec<ChatTurn> = request
            .turns()
            .into_iter()
            .map(|(role, content)| ChatTurn { role, content })
            .collect();
        let params = params(&request);
        tokio::task::spawn_blocking(move || {
            let result = model.generate(&turns, &params, |piece| {
                tx.blocking_send(BackendEvent::Text(piece.to_string())).is_ok()
            });
            let end = match result {
                Ok(finish) => BackendEvent::Done { finish_reason: finish.reason().into() },
                Err(e) => BackendEvent::Error(e.to_string()),
            };
            let _ = tx.blocking_send(end);
        });
        stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) }).boxed()
    }

    fn artifact_measurement(&self) -> [u8; 48] {
        self.measurement
    }
}
