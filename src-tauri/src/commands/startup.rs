//! First run and every start: unlock the history, load the settings, start the local stack when
//! the local profile is chosen and nothing answers, and prepare the sandbox runtime.

use std::time::{Duration, Instant};

use serde::Serialize;
use sotto_core::history::{open_store, PassphrasePrompt};
use sotto_core::sandbox::{Artifacts, Progress, Runtime};
use sotto_core::settings::{AppSettings, ProfileChoice};
use sotto_core::stack::{LocalStack, StackOptions};
use sotto_core::store::{Store, StoreError, Unlock};
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager};

use super::blocking;
use crate::error::{CommandError, CommandResult};
use crate::state::{lock, AppState, SandboxState};

/// Progress the start-up screen and the agent view show.
#[derive(Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StartupEvent {
    Step { text: String },
    Sandbox { state: &'static str, fraction: f64, detail: String },
}

#[derive(Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum HistoryState {
    Open,
    /// A passphrase is needed: for the existing history, or to protect a new one.
    NeedsPassphrase { new: bool },
    Unavailable { reason: String },
}

#[derive(Serialize)]
pub struct StartupReport {
    history: HistoryState,
    settings: AppSettings,
    profile: String,
    /// What happened to the local stack, in words; `None` when it is not this profile's business.
    stack: Option<String>,
    stack_error: Option<String>,
    sandbox: &'static str,
}

#[tauri::command]
pub async fn start_app(app: AppHandle, progress: Channel<StartupEvent>) -> CommandResult<StartupReport> {
    let history = open_history(&app);
    if !matches!(history, HistoryState::Open) {
        return Ok(report(&app, history, None, None));
    }
    let (stack, stack_error) = match ensure_local_stack(&app, &progress).await {
        Ok(s) => (s, None),
        Err(e) => (None, Some(e.to_string())),
    };
    prepare_sandbox(&app, progress);
    Ok(report(&app, history, stack, stack_error))
}

#[tauri::command]
pub async fn unlock_history(app: AppHandle, passphrase: String) -> CommandResult<()> {
    if passphrase.is_empty() {
        return Err(CommandError::Other("type the passphrase".into()));
    }
    let store = blocking(move || {
        let dir = sotto_core::history::store_dir();
        match Store::protection(&dir)? {
            // The first passphrase must be strong enough to protect the history.
            None => sotto_core::history::create_with_passphrase(&dir, &passphrase),
            Some(_) => Store::open(&dir, &Unlock::Passphrase(&passphrase)),
        }
    })
    .await??;
    install_store(&app, store);
    Ok(())
}

fn report(app: &AppHandle, history: HistoryState, stack: Option<String>, stack_error: Option<String>) -> StartupReport {
    let state = app.state::<AppState>();
    let settings = state.settings();
    let profile = settings.profile().map(|p| p.name).unwrap_or_else(|_| match &settings.profile {
        ProfileChoice::Local => "local".into(),
        ProfileChoice::Custom { path } => path.display().to_string(),
        ProfileChoice::OpenGradient => "opengradient".into(),
    });
    let sandbox = match &*lock(&state.sandbox) {
        SandboxState::NotStarted => "not_started",
        SandboxState::Preparing => "preparing",
        SandboxState::Ready(_) => "ready",
        SandboxState::Failed(_) => "failed",
    };
    StartupReport { history, settings, profile, stack, stack_error, sandbox }
}

fn open_history(app: &AppHandle) -> HistoryState {
    let state = app.state::<AppState>();
    if lock(&state.store).is_some() {
        return HistoryState::Open;
    }
    let mut asked = None;
    // Nobody is asked here: the UI shows its own passphrase dialog and calls unlock_history.
    match open_store(true, &mut |p| {
        asked = Some(p);
        None
    }) {
        Ok(store) => {
            install_store(app, store);
            HistoryState::Open
        }
        Err(StoreError::PassphraseNeeded | StoreError::NoKeyAvailable) => {
            HistoryState::NeedsPassphrase { new: asked == Some(PassphrasePrompt::New) }
        }
        Err(e) => HistoryState::Unavailable { reason: e.to_string() },
    }
}

fn install_store(app: &AppHandle, store: Store) {
    let state = app.state::<AppState>();
    let mut settings = AppSettings::load(&store).unwrap_or_else(|e| {
        tracing::warn!("settings could not be read, using the defaults: {e}");
        AppSettings::default()
    });
    // As the CLI's --profile: a profile file given in the environment wins over the stored choice.
    if let Some(path) = std::env::var_os("SOTTO_PROFILE").filter(|p| !p.is_empty()) {
        settings.profile = ProfileChoice::Custom { path: path.into() };
    }
    *lock(&state.settings) = settings;
    *lock(&state.client) = None;
    *lock(&state.store) = Some(store);
}

/// Starts the relay and the development enclave when the local profile is chosen and its relay
/// does not answer. `SOTTO_LOCAL_BACKEND` picks the enclave's back-end (default: the embedded model).
pub async fn ensure_local_stack(app: &AppHandle, progress: &Channel<StartupEvent>) -> CommandResult<Option<String>> {
    let state = app.state::<AppState>();
    if state.settings().profile != ProfileChoice::Local {
        return Ok(None);
    }
    if lock(&state.stack).is_some() {
        return Ok(Some("started by Sotto".into()));
    }
    let (profile, _) = sotto_core::profiles::local_stack_settings(None).map_err(sotto_core::stack::StackError::from)?;
    let relay = profile.relays.first().map(|r| r.url.clone());
    let answering = relay
        .as_ref()
        .and_then(|u| u.socket_addrs(|| None).ok())
        .and_then(|a| a.first().copied())
        .is_some_and(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_millis(300)).is_ok());
    if answering {
        return Ok(Some("already running".into()));
    }
    let _ = progress.send(StartupEvent::Step { text: "Starting the local relay and the development enclave…".into() });
    let backend = std::env::var("SOTTO_LOCAL_BACKEND").unwrap_or_else(|_| "embedded".into());
    let options = StackOptions { flavor: Default::default(), profile: None, backend, images: "demo".into(), search: "standin".into(), replicas: 1, dir: sotto_core::relay_config::stack_dir() };
    let stack = blocking(move || LocalStack::start(&options)).await??;
    *lock(&state.stack) = Some(stack);
    *lock(&state.client) = None;
    Ok(Some("started by Sotto".into()))
}

/// Loads (the first time: compiles) the Python runtime on a thread of its own, reporting progress.
fn prepare_sandbox(app: &AppHandle, progress: Channel<StartupEvent>) {
    let state = app.state::<AppState>();
    {
        let mut sandbox = lock(&state.sandbox);
        if !matches!(*sandbox, SandboxState::NotStarted | SandboxState::Failed(_)) {
            return;
        }
        *sandbox = SandboxState::Preparing;
    }
    let app = app.clone();
    std::thread::spawn(move || {
        let result = load_runtime(&progress);
        let state = app.state::<AppState>();
        let event = match result {
            Ok(runtime) => {
                *lock(&state.sandbox) = SandboxState::Ready(std::sync::Arc::new(runtime));
                StartupEvent::Sandbox { state: "ready", fraction: 1.0, detail: "The sandbox is ready.".into() }
            }
            Err(e) => {
                *lock(&state.sandbox) = SandboxState::Failed(e.to_string());
                StartupEvent::Sandbox { state: "failed", fraction: 0.0, detail: e.to_string() }
            }
        };
        let _ = progress.send(event);
    });
}

fn load_runtime(progress: &Channel<StartupEvent>) -> Result<Runtime, CommandError> {
    let artifacts = Artifacts::locate(&Artifacts::default_dir())?;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let runtime = Runtime::load(artifacts, &mut |p| match p {
        Progress::Verifying => {
            let _ = progress.send(StartupEvent::Sandbox { state: "verifying", fraction: 0.02, detail: "Checking the Python runtime against its pin…".into() });
        }
        Progress::Compiling { started, previous } => tick_compile(progress.clone(), done.clone(), started, previous),
        Progress::Ready { .. } => done.store(true, std::sync::atomic::Ordering::Relaxed),
    });
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok(runtime?)
}

/// Compiling gives no progress of its own: estimate it from the last compile's duration.
fn tick_compile(progress: Channel<StartupEvent>, done: std::sync::Arc<std::sync::atomic::AtomicBool>, started: Instant, previous: Option<Duration>) {
    let expected = previous.unwrap_or(Duration::from_secs(90)).as_secs_f64().max(1.0);
    std::thread::spawn(move || {
        while !done.load(std::sync::atomic::Ordering::Relaxed) {
            let elapsed = started.elapsed().as_secs_f64();
            let fraction = (0.05 + 0.9 * elapsed / expected).min(0.97);
            let detail = format!("Preparing the Python sandbox (once on this computer): {elapsed:.0} s of about {expected:.0} s");
            let _ = progress.send(StartupEvent::Sandbox { state: "compiling", fraction, detail });
            std::thread::sleep(Duration::from_millis(500));
        }
    });
}
