//! The local agent view: run a task on a workspace folder, showing each step as it happens;
//! stop it; answer its write approvals; show its charts and open its files.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sotto_core::agent::files::{OpenWith, WorkspaceFiles};
use sotto_core::agent::{run_agent, AgentConfig, AgentEnd, AgentObserver, AgentRecorder, Step, Toolbox, WritePolicy, WriteRequest, WRITE_POLICY_SETTING};
use sotto_core::private_inference::VerifiedReply;
use sotto_core::proof::receipt_json;
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, State};
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_opener::OpenerExt;
use tokio_util::sync::CancellationToken;

use super::blocking;
use crate::error::{CommandError, CommandResult};
use crate::state::{lock, AgentControl, AppState};

/// Charts larger than this are not shown inline (they can still be opened).
const MAX_INLINE_IMAGE: u64 = 8 << 20;

#[derive(Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AgentEvent {
    ModelText { piece: String },
    ModelVerified { development: bool },
    StepStarted { n: usize, tool: String, input: Value },
    StepFinished { step: Step },
    RequestSent { bytes: usize },
    /// Asks the user; the answer comes back through `answer_approval`.
    Approve { id: u64, question: String },
    Warning { message: String },
}

#[derive(Deserialize)]
pub struct AgentTask {
    workspace: PathBuf,
    task: String,
    model: Option<String>,
}

#[derive(Serialize)]
pub struct AgentResult {
    /// answered, step_limit, stopped or failed.
    status: &'static str,
    reply: String,
    reason: Option<String>,
    development: bool,
    receipt: Option<Value>,
    conversation_id: Option<String>,
    steps: usize,
}

#[tauri::command]
pub async fn run_agent_task(app: AppHandle, task: AgentTask, events: Channel<AgentEvent>) -> CommandResult<AgentResult> {
    let state = app.state::<AppState>();
    let workspace = std::fs::canonicalize(&task.workspace)
        .ok()
        .filter(|p| p.is_dir())
        .ok_or_else(|| CommandError::Other(format!("{} is not a folder that can be used", task.workspace.display())))?;
    let runtime = state.sandbox_runtime()?;
    if lock(&state.agent).is_some() {
        return Err(CommandError::Other("a task is already running; stop it first".into()));
    }
    let client = state.client()?;
    let store = state.store_connection().ok();
    let settings = state.settings();
    let policy = write_policy(&state);
    let mut toolbox = Toolbox::new(runtime, workspace.clone(), settings.sandbox.limits(), policy).map_err(|e| CommandError::Other(e.to_string()))?;
    let stop = CancellationToken::new();
    let (answers, answer_rx) = mpsc::channel();
    *lock(&state.agent) = Some(AgentControl { stop: stop.clone(), answers });
    *lock(&state.workspace) = Some(workspace);
    let config = AgentConfig { model: task.model.filter(|m| !m.is_empty()), max_steps: settings.sandbox.max_steps, max_tokens: None };

    // Approvals block the loop until answered, so the run has a thread and a runtime of its own.
    let result = blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| CommandError::Other(e.to_string()))?;
        let mut recorder = store.as_ref().map(AgentRecorder::new);
        let mut observer = Forwarder { events, answers: answer_rx, stop: stop.clone(), next_id: 0 };
        let run = runtime.block_on(run_agent(&client, &mut toolbox, &config, &task.task, &mut observer, recorder.as_mut(), &stop));
        Ok::<_, CommandError>(summarise(run.end, run.steps.len(), recorder.as_ref().and_then(|r| r.conversation_id()).map(String::from)))
    })
    .await;
    *lock(&state.agent) = None;
    result?
}

fn summarise(end: AgentEnd, steps: usize, conversation_id: Option<String>) -> AgentResult {
    let base = AgentResult { status: "failed", reply: String::new(), reason: None, development: false, receipt: None, conversation_id, steps };
    match end {
        AgentEnd::Answer(reply) => answered(base, &reply),
        AgentEnd::StepLimit(n) => AgentResult { status: "step_limit", reason: Some(format!("stopped after {n} steps (the limit in settings)")), ..base },
        AgentEnd::Stopped => AgentResult { status: "stopped", reason: Some("stopped by you".into()), ..base },
        AgentEnd::Failed(e) => AgentResult { reason: Some(e.to_string()), ..base },
    }
}

fn answered(base: AgentResult, reply: &VerifiedReply) -> AgentResult {
    AgentResult {
        status: "answered",
        reply: reply.text.clone(),
        development: sotto_core::proof::is_development(reply),
        receipt: Some(receipt_json(reply)),
        ..base
    }
}

/// Passes what the loop reports to the UI, and waits for the user's answer to approvals.
struct Forwarder {
    events: Channel<AgentEvent>,
    answers: mpsc::Receiver<(u64, bool)>,
    stop: CancellationToken,
    next_id: u64,
}

impl Forwarder {
    fn send(&self, event: AgentEvent) {
        let _ = self.events.send(event);
    }
}

impl AgentObserver for Forwarder {
    fn model_text(&mut self, piece: &str) {
        self.send(AgentEvent::ModelText { piece: piece.into() });
    }
    fn model_verified(&mut self, reply: &VerifiedReply) {
        self.send(AgentEvent::ModelVerified { development: sotto_core::proof::is_development(reply) });
    }
    fn step_started(&mut self, n: usize, tool: &str, input: &Value) {
        self.send(AgentEvent::StepStarted { n, tool: tool.into(), input: input.clone() });
    }
    fn step_finished(&mut self, step: &Step) {
        self.send(AgentEvent::StepFinished { step: step.clone() });
    }
    fn request_sent(&mut self, bytes: &[u8]) {
        self.send(AgentEvent::RequestSent { bytes: bytes.len() });
    }
    fn warning(&mut self, message: &str) {
        self.send(AgentEvent::Warning { message: message.into() });
    }
    fn approve_write(&mut self, request: &WriteRequest<'_>) -> bool {
        self.next_id += 1;
        let id = self.next_id;
        let question = match request {
            WriteRequest::File { path, bytes } => format!("Write {path} ({bytes} bytes) in the workspace?"),
            WriteRequest::Python { .. } => "Let Python create and change files in the workspace for this task?".to_string(),
        };
        self.send(AgentEvent::Approve { id, question });
        loop {
            match self.answers.recv_timeout(Duration::from_millis(200)) {
                Ok((answered, yes)) if answered == id => return yes,
                Ok(_) => continue,
                Err(mpsc::RecvTimeoutError::Timeout) if !self.stop.is_cancelled() => continue,
                Err(_) => return false,
            }
        }
    }
}

#[tauri::command]
pub fn stop_agent(state: State<'_, AppState>) {
    if let Some(agent) = lock(&state.agent).as_ref() {
        agent.stop.cancel();
    }
}

#[tauri::command]
pub fn answer_approval(state: State<'_, AppState>, id: u64, approve: bool) -> CommandResult<()> {
    let agent = lock(&state.agent);
    let agent = agent.as_ref().ok_or_else(|| CommandError::Other("no task is running".into()))?;
    agent.answers.send((id, approve)).map_err(|_| CommandError::Other("the task has already ended".into()))
}

/// The system's folder picker (the web view gets the chosen path, never file access).
#[tauri::command]
pub async fn pick_workspace(app: AppHandle) -> CommandResult<Option<String>> {
    let picked = blocking(move || app.dialog().file().set_title("Choose the agent's workspace folder").blocking_pick_folder()).await?;
    Ok(picked.and_then(|p| p.into_path().ok()).map(|p| p.display().to_string()))
}

fn workspace_files(state: &AppState) -> CommandResult<WorkspaceFiles> {
    let root = lock(&state.workspace).clone().ok_or_else(|| CommandError::Other("no workspace has been used yet".into()))?;
    WorkspaceFiles::open(&root).map_err(|e| CommandError::Other(e.to_string()))
}

/// Opens a file the agent made: an inert document with the system's viewer, anything else
/// (HTML, SVG, scripts …, which could run or fetch when opened) shown in its folder. Only files
/// inside the workspace. Returns what was done: "opened" or "shown in its folder".
#[tauri::command]
pub fn open_result_file(app: AppHandle, state: State<'_, AppState>, path: String) -> CommandResult<&'static str> {
    let (file, how) = workspace_files(&state)?.existing_file(&path).map_err(|e| CommandError::Other(e.to_string()))?;
    match how {
        OpenWith::Viewer => app
            .opener()
            .open_path(file.display().to_string(), None::<&str>)
            .map(|()| "opened")
            .map_err(|e| CommandError::Other(format!("no program could open {path}: {e}"))),
        OpenWith::ShowInFolder => app
            .opener()
            .reveal_item_in_dir(&file)
            .map(|()| "shown in its folder")
            .map_err(|e| CommandError::Other(format!("{path} could not be shown in its folder: {e}"))),
    }
}

/// An image from the workspace as a `data:` URL, for showing a chart inline.
#[tauri::command]
pub fn read_workspace_image(state: State<'_, AppState>, path: String) -> CommandResult<String> {
    let media_type = match path.rsplit('.').next().map(|e| e.to_ascii_lowercase()).as_deref() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        _ => return Err(CommandError::Other(format!("{path} is not an image this view shows"))),
    };
    let bytes = workspace_files(&state)?.read_bytes(&path, MAX_INLINE_IMAGE).map_err(|e| CommandError::Other(e.to_string()))?;
    Ok(format!("data:{media_type};base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
}

/// Used by settings to show the current write policy.
pub fn write_policy(state: &AppState) -> WritePolicy {
    state
        .with_store(|s| s.setting(WRITE_POLICY_SETTING))
        .ok()
        .flatten()
        .and_then(|v| v.as_str().and_then(|p| p.parse().ok()))
        .unwrap_or(WritePolicy::Ask)
}

pub fn set_write_policy(state: &AppState, policy: WritePolicy) -> CommandResult<()> {
    state.with_store(|s| s.set_setting(WRITE_POLICY_SETTING, &json!(policy.as_str())))
}
