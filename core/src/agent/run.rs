//! The agent loop.

use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Value};
use sotto_private_inference::{InferenceError, PrivateClient, ReplyEvent, VerifiedReply};
use tokio_util::sync::CancellationToken;

use super::{AgentObserver, AgentRecorder, Toolbox};

/// A tool's output is cut to this many characters for the model; the whole is kept locally.
pub const MAX_OUTPUT_FOR_MODEL: usize = 8_000;

const SYSTEM_PROMPT: &str = "You are Sotto's local agent. You work on the user's files in a workspace folder, which Python sees at /work. \
Tools: run_python (Python 3.15 with pandas, numpy, scipy, scikit-learn, statsmodels, matplotlib; variables persist between calls), \
list_files, read_file, write_file and make_pdf (Markdown to PDF). Everything runs on the user's device; only what you write in your messages leaves it. \
Check numbers by computing them. When you are done, reply with a short summary of what you found and the files you made.";

pub struct AgentConfig {
    /// The model to ask (the enclave's first when `None`).
    pub model: Option<String>,
    /// Tool calls allowed in one task.
    pub max_steps: usize,
    pub max_tokens: Option<u32>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self { model: None, max_steps: 20, max_tokens: None }
    }
}

/// One tool call and what came of it.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub n: usize,
    pub tool: String,
    pub input: Value,
    /// Everything the tool produced (kept locally).
    pub output: String,
    /// What the model was told: `output`, cut to [`MAX_OUTPUT_FOR_MODEL`] characters.
    #[serde(skip)]
    pub for_model: String,
    pub ok: bool,
    pub files: Vec<String>,
    pub duration_ms: u64,
    /// The size of the request that carried this step's result to the model; `None` when the
    /// run ended before it was sent.
    pub sent_bytes: Option<usize>,
    #[serde(skip)]
    pub call_id: String,
}

/// How a run ended.
#[derive(Debug)]
pub enum AgentEnd {
    /// The model's final reply, verified.
    Answer(Box<VerifiedReply>),
    StepLimit(usize),
    Stopped,
    /// A request failed or a reply did not verify: nothing of that reply is used.
    Failed(InferenceError),
}

pub struct AgentRun {
    pub steps: Vec<Step>,
    pub end: AgentEnd,
    /// Every request body, exactly as sealed and sent, in order.
    pub requests: Vec<Vec<u8>>,
}

/// Runs `task` until the model answers without tool calls, or the run stops.
pub async fn run_agent(
    client: &PrivateClient,
    toolbox: &mut Toolbox,
    config: &AgentConfig,
    task: &str,
    observer: &mut dyn AgentObserver,
    mut recorder: Option<&mut AgentRecorder<'_>>,
    stop: &CancellationToken,
) -> AgentRun {
    let mut messages = vec![json!({"role": "system", "content": SYSTEM_PROMPT}), json!({"role": "user", "content": task})];
    let mut run = AgentRun { steps: Vec::new(), end: AgentEnd::Stopped, requests: Vec::new() };
    let mut unsent = 0; // steps from here on have not reached the model yet
    run.end = loop {
        let body = request_body(config, &messages);
        observer.request_sent(&body);
        for step in &mut run.steps[unsent..] {
            step.sent_bytes = Some(body.len());
        }
        record(&mut recorder, observer, &run.steps[unsent..], Some(&body), run.requests.is_empty().then_some(task));
        unsent = run.steps.len();
        run.requests.push(body);
        let body = run.requests.last().map(Vec::as_slice).unwrap_or_default();
        // Its requests belong to the run's conversation in the network ledger.
        let conversation = recorder.as_deref().and_then(AgentRecorder::conversation_id).map(String::from);
        let reply = tokio::select! {
            reply = sotto_private_inference::ledger::in_conversation(conversation, receive(client, body, observer)) => reply,
            _ = stop.cancelled() => break AgentEnd::Stopped,
        };
        let reply = match reply {
            Ok(reply) => reply,
            Err(e) => break AgentEnd::Failed(e),
        };
        observer.model_verified(&reply);
        let calls = reply.tool_calls.as_ref().and_then(Value::as_array).cloned().unwrap_or_default();
        if calls.is_empty() {
            break AgentEnd::Answer(Box::new(reply));
        }
        messages.push(json!({"role": "assistant", "content": (!reply.text.is_empty()).then_some(&reply.text), "tool_calls": calls}));
        if let Some(end) = run_calls(&calls, toolbox, config, observer, stop, &mut run.steps, &mut messages).await {
            break end;
        }
    };
    record(&mut recorder, observer, &run.steps[unsent..], None, None);
    match run.end {
        AgentEnd::Stopped => toolbox.abandon(),
        _ => toolbox.close().await,
    }
    run
}

/// Runs one reply's tool calls in order; `Some` when the run must end here.
async fn run_calls(
    calls: &[Value],
    toolbox: &mut Toolbox,
    config: &AgentConfig,
    observer: &mut dyn AgentObserver,
    stop: &CancellationToken,
    steps: &mut Vec<Step>,
    messages: &mut Vec<Value>,
) -> Option<AgentEnd> {
    for call in calls {
        if steps.len() >= config.max_steps {
            return Some(AgentEnd::StepLimit(config.max_steps));
        }
        let n = steps.len() + 1;
        let tool = call.pointer("/function/name").and_then(Value::as_str).unwrap_or_default().to_string();
        let arguments = call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or_default();
        let input = serde_json::from_str(arguments).unwrap_or_else(|_| Value::String(arguments.to_string()));
        let call_id = call.get("id").and_then(Value::as_str).map_or_else(|| format!("call_{n}"), String::from);
        observer.step_started(n, &tool, &input);
        let started = Instant::now();
        let out = tokio::select! {
            out = toolbox.execute(&tool, arguments, observer) => out,
            _ = stop.cancelled() => return Some(AgentEnd::Stopped),
        };
        let for_model = for_model(&out.output);
        messages.push(json!({"role": "tool", "tool_call_id": call_id, "content": for_model}));
        let step = Step {
            n,
            tool,
            input,
            output: out.output,
            for_model,
            ok: out.ok,
            files: out.files,
            duration_ms: started.elapsed().as_millis() as u64,
            sent_bytes: None,
            call_id,
        };
        observer.step_finished(&step);
        steps.push(step);
    }
    None
}

fn request_body(config: &AgentConfig, messages: &[Value]) -> Vec<u8> {
    let mut request = json!({"messages": messages, "tools": super::tool_definitions(), "stream": true});
    if let Some(m) = &config.model {
        request["model"] = json!(m);
    }
    if let Some(n) = config.max_tokens {
        request["max_tokens"] = json!(n);
    }
    serde_json::to_vec(&request).unwrap_or_default()
}

async fn receive(client: &PrivateClient, body: &[u8], observer: &mut dyn AgentObserver) -> Result<VerifiedReply, InferenceError> {
    let mut stream = client.chat_bytes(body).await?;
    while let Some(event) = stream.next().await {
        match event? {
            ReplyEvent::Text(t) => observer.model_text(&t),
            ReplyEvent::Verified(reply) => return Ok(*reply),
        }
    }
    Err(InferenceError::Truncated)
}

/// The first part and the end of a long output, with how much was left out in between.
fn for_model(output: &str) -> String {
    let total = output.chars().count();
    if total <= MAX_OUTPUT_FOR_MODEL {
        return output.to_string();
    }
    let head: String = output.chars().take(MAX_OUTPUT_FOR_MODEL * 3 / 4).collect();
    let tail_len = MAX_OUTPUT_FOR_MODEL / 5;
    let tail: String = output.chars().skip(total - tail_len).collect();
    format!("{head}\n[… {} characters left out; the whole output is kept on the user's device …]\n{tail}", total - head.chars().count() - tail_len)
}

/// Stores `steps` with the request that carried them (`None`: never sent), and the task with the
/// first request.
fn record(recorder: &mut Option<&mut AgentRecorder<'_>>, observer: &mut dyn AgentObserver, steps: &[Step], sent: Option<&[u8]>, task: Option<&str>) {
    let Some(r) = recorder.as_deref_mut() else { return };
    let mut result = task.map_or(Ok(()), |t| r.task(t, sent));
    for step in steps {
        result = result.and(r.step(step, sent));
    }
    if let Err(e) = result {
        observer.warning(&format!("an agent step could not be stored: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_outputs_are_cut_for_the_model_with_a_note() {
        let short = "x".repeat(100);
        assert_eq!(for_model(&short), short);
        let long: String = (0..20_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        let cut = for_model(&long);
        assert!(cut.chars().count() < MAX_OUTPUT_FOR_MODEL + 200);
        assert!(cut.starts_with(&long[..1000]));
        assert!(cut.ends_with(&long[long.len() - 1000..]));
        assert!(cut.contains("characters left out"));
    }
}
