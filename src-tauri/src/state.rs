//! What the app holds between commands.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use sotto_core::private_inference::PrivateClient;
use sotto_core::sandbox::Runtime;
use sotto_core::settings::AppSettings;
use sotto_core::stack::LocalStack;
use sotto_core::store::Store;
use tokio_util::sync::CancellationToken;

use crate::error::{CommandError, CommandResult};

/// The sandbox runtime's preparation, shown as a progress bar in the agent view.
#[derive(Default)]
pub enum SandboxState {
    #[default]
    NotStarted,
    Preparing,
    Ready(Arc<Runtime>),
    Failed(String),
}

/// A running agent task: how to stop it and how to answer its approval questions.
pub struct AgentControl {
    pub stop: CancellationToken,
    pub answers: std::sync::mpsc::Sender<(u64, bool)>,
}

#[derive(Default)]
pub struct AppState {
    pub store: Mutex<Option<Store>>,
    pub settings: Mutex<AppSettings>,
    /// Built from the settings on first use, dropped when they change (it caches attestation).
    pub client: Mutex<Option<Arc<PrivateClient>>>,
    pub stack: Mutex<Option<LocalStack>>,
    pub sandbox: Mutex<SandboxState>,
    pub replies: Mutex<HashMap<String, CancellationToken>>,
    pub agent: Mutex<Option<AgentControl>>,
    /// The last workspace used: result files may be opened from it, nothing else.
    pub workspace: Mutex<Option<PathBuf>>,
}

/// A poisoned lock only means another command panicked; the data is still usable.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl AppState {
    /// A connection of its own to the history, for work that outlives one command's lock.
    pub fn store_connection(&self) -> CommandResult<Store> {
        let guard = lock(&self.store);
        let store = guard.as_ref().ok_or(CommandError::Locked)?;
        Ok(store.reopen()?)
    }

    /// Runs `f` on a connection of its own, off the window's thread (deletes zero pages and
    /// checkpoint; a search builds snippets): the window never waits on the database.
    pub async fn on_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, sotto_core::store::StoreError> + Send + 'static,
    ) -> CommandResult<T> {
        let store = self.store_connection()?;
        Ok(crate::commands::blocking(move || f(&store)).await??)
    }

    pub fn with_store<T>(&self, f: impl FnOnce(&Store) -> Result<T, sotto_core::store::StoreError>) -> CommandResult<T> {
        let guard = lock(&self.store);
        let store = guard.as_ref().ok_or(CommandError::Locked)?;
        Ok(f(store)?)
    }

    /// The prepared sandbox, or why there is none yet.
    pub fn sandbox_runtime(&self) -> CommandResult<Arc<Runtime>> {
        match &*lock(&self.sandbox) {
            SandboxState::Ready(r) => Ok(r.clone()),
            SandboxState::Failed(e) => Err(CommandError::Other(format!("the sandbox could not be prepared: {e}"))),
            _ => Err(CommandError::Other("the sandbox is still being prepared; try again when the bar is full".into())),
        }
    }

    pub fn client(&self) -> CommandResult<Arc<PrivateClient>> {
        let mut cached = lock(&self.client);
        if let Some(c) = cached.as_ref() {
            return Ok(c.clone());
        }
        // The OpenGradient session: from the keyring, else from the open store.
        let session = sotto_core::opengradient_login::Session::load().or_else(|| {
            self.with_store(|s| s.setting(sotto_core::opengradient_login::ACCOUNT))
                .ok()
                .flatten()
                .and_then(|raw| sotto_core::opengradient_login::Session::from_bundle(raw).ok())
        });
        // Every request it makes is recorded in the open history ("what left this device").
        let ledger = self.with_store(|s| Ok(sotto_core::ledger::StoreLedger::for_store(s))).ok().flatten();
        let client = Arc::new(lock(&self.settings).client_with_session(session, ledger)?);
        *cached = Some(client.clone());
        Ok(client)
    }

    /// Drops the cached client (after a login or a settings change).
    pub fn forget_client(&self) {
        *lock(&self.client) = None;
    }

    pub fn settings(&self) -> AppSettings {
        lock(&self.settings).clone()
    }

    pub fn shut_down(&self) {
        if let Some(agent) = lock(&self.agent).take() {
            agent.stop.cancel();
        }
        for stop in lock(&self.replies).values() {
            stop.cancel();
        }
        if let Some(mut stack) = lock(&self.stack).take() {
            stack.stop();
        }
    }
}
