//! The app's settings: which profile, what to expect of the enclave, which relays, the sandbox's
//! limits, the theme. They live in the encrypted store (setting `app`), so expected measurements
//! cannot be changed on disk behind the user's back.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sotto_private_inference::{ClientOptions, InferenceError, PrivateClient};
use sotto_relay_config::{parse_pcr_hex, Profile, ProfileError, Relay};
use sotto_store::{Store, StoreError};

use crate::sandbox::Limits;

/// The store setting that holds [`AppSettings`].
pub const APP_SETTING: &str = "app";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

/// Which network profile requests use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ProfileChoice {
    /// The shipped local profile: the relay and development enclave on this machine.
    #[default]
    Local,
    /// A profile file (another relay, a hardware enclave, OpenGradient's stand-in network).
    Custom { path: PathBuf },
    /// OpenGradient's network with the shipped profile (its registry and relay).
    OpenGradient,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SandboxSettings {
    pub deadline_s: u64,
    pub memory_mb: u64,
    pub output_mb: u64,
    pub max_steps: usize,
    /// What a run may store in its `/tmp` and add to the workspace.
    pub disk_mb: u64,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        let limits = Limits::default();
        Self {
            deadline_s: 120,
            memory_mb: (limits.memory_bytes >> 20) as u64,
            output_mb: (limits.output_bytes >> 20) as u64,
            max_steps: 20,
            disk_mb: limits.disk_bytes >> 20,
        }
    }
}

impl SandboxSettings {
    pub fn limits(&self) -> Limits {
        Limits {
            deadline: Duration::from_secs(self.deadline_s.clamp(1, 3600)),
            memory_bytes: (self.memory_mb.clamp(16, 16 * 1024) as usize) << 20,
            output_bytes: (self.output_mb.clamp(1, 1024) as usize) << 20,
            disk_bytes: self.disk_mb.clamp(16, 64 * 1024) << 20,
            ..Limits::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AppSettings {
    pub profile: ProfileChoice,
    /// Expected measurements that replace the profile's, PCR index → hex.
    pub expected_pcrs: BTreeMap<u16, String>,
    /// Relay URLs to use instead of the profile's, tried in order (empty: the profile's).
    pub relays: Vec<String>,
    pub sandbox: SandboxSettings,
    pub theme: Theme,
    /// The model picked last (empty: the enclave's first).
    pub model: Option<String>,
    /// Token coalescing: the enclave holds streamed text this many milliseconds and sends it
    /// as one burst, hiding the model's token timing from the relay (0: off; at most 1000).
    pub coalesce_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AppSettings {
    /// The stored settings, or the defaults when none were saved.
    pub fn load(store: &Store) -> Result<Self, StoreError> {
        Ok(store.setting(APP_SETTING)?.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default())
    }

    /// Checks the settings and saves them; nothing is saved when a value is wrong.
    pub fn save(&self, store: &Store) -> Result<(), SettingsError> {
        self.validate()?;
        let value = serde_json::to_value(self).map_err(|e| SettingsError::Invalid { field: "settings".into(), problem: e.to_string() })?;
        Ok(store.set_setting(APP_SETTING, &value)?)
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        for (index, hex) in &self.expected_pcrs {
            parse_pcr_hex(hex).map_err(|problem| SettingsError::Invalid { field: format!("expected PCR{index}"), problem })?;
        }
        for url in &self.relays {
            parse_relay(url).map_err(|problem| SettingsError::Invalid { field: "relay".into(), problem })?;
        }
        if self.coalesce_ms > sotto_enclave_protocol::padding::MAX_COALESCE_MS {
            return Err(SettingsError::Invalid { field: "token coalescing".into(), problem: "at most 1000 ms".into() });
        }
        if let ProfileChoice::Custom { path } = &self.profile {
            Profile::load(path).map_err(|e| SettingsError::Invalid { field: "profile".into(), problem: e.to_string() })?;
        }
        Ok(())
    }

    /// The profile these settings select, with their relay and measurement overrides applied.
    pub fn profile(&self) -> Result<Profile, ProfileError> {
        let base = match &self.profile {
            ProfileChoice::Local => crate::profiles::local()?,
            ProfileChoice::Custom { path } => Profile::load(path)?,
            ProfileChoice::OpenGradient => Profile::parse(
                sotto_relay_config::OPENGRADIENT_PROFILE_TOML,
                &sotto_relay_config::sotto_home().join("opengradient.toml"),
            )?,
        };
        let pcrs: Vec<(u16, String)> = self.expected_pcrs.iter().map(|(i, h)| (*i, h.clone())).collect();
        apply_overrides(base, &self.relays, &pcrs)
    }

    pub fn client(&self) -> Result<PrivateClient, InferenceError> {
        self.client_with_session(crate::opengradient_login::Session::load(), None)
    }

    /// The client, with the OpenGradient session the caller found (the app reads it from its
    /// open store). The token is used as it is, not refreshed (the CLI refreshes it; an expired
    /// one makes the relay answer 401 and the user is told to log in).
    /// `ledger`: where every request is recorded (the app's store).
    pub fn client_with_session(
        &self,
        session: Option<crate::opengradient_login::Session>,
        ledger: Option<std::sync::Arc<dyn sotto_private_inference::ledger::LedgerSink>>,
    ) -> Result<PrivateClient, InferenceError> {
        let profile = self.profile()?;
        let mut options = ClientOptions { coalesce: Duration::from_millis(self.coalesce_ms), ledger, ..ClientOptions::default() };
        if profile.opengradient.is_some() {
            let token = std::env::var("SOTTO_OG_TOKEN")
                .ok()
                .filter(|t| !t.trim().is_empty())
                .or_else(|| session.map(|s| s.access_token().to_string()));
            options.og_token = std::sync::Arc::new(move || token.clone());
        }
        PrivateClient::new(profile, options)
    }
}

/// Replaces a profile's relays (when any are given) and expected PCR values.
pub fn apply_overrides(mut profile: Profile, relays: &[String], pcrs: &[(u16, String)]) -> Result<Profile, ProfileError> {
    let invalid = |field: &str, problem: String| ProfileError::Invalid { path: "settings".into(), field: field.into(), problem };
    if !relays.is_empty() {
        profile.relays = relays
            .iter()
            .map(|r| Ok(Relay { name: r.clone(), url: parse_relay(r).map_err(|p| invalid("relay", p))? }))
            .collect::<Result<_, ProfileError>>()?;
    }
    for (index, hex) in pcrs {
        let value = parse_pcr_hex(hex).map_err(|p| invalid(&format!("PCR{index}"), p))?;
        profile.override_pcr(*index, value);
    }
    Ok(profile)
}

fn parse_relay(url: &str) -> Result<url::Url, String> {
    let parsed: url::Url = url.parse().map_err(|e| format!("`{url}` is not a URL ({e})"))?;
    sotto_relay_config::check_relay_url(&parsed).map_err(|why| format!("`{url}` {why}"))?;
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_measurement_or_relay_is_refused_with_its_field() {
        let s = AppSettings { expected_pcrs: [(0, "zz".to_string())].into(), ..Default::default() };
        assert!(s.validate().unwrap_err().to_string().starts_with("expected PCR0"));
        let s = AppSettings { relays: vec!["not a url".into()], ..Default::default() };
        assert!(s.validate().unwrap_err().to_string().starts_with("relay"));
        assert!(AppSettings::default().validate().is_ok());
    }

    #[test]
    fn limits_are_clamped_to_sane_values() {
        let s = SandboxSettings { deadline_s: 0, memory_mb: 1 << 40, output_mb: 0, max_steps: 1, disk_mb: 0 };
        let l = s.limits();
        assert_eq!(l.deadline, Duration::from_secs(1));
        assert_eq!(l.memory_bytes, 16 * 1024 << 20);
        assert_eq!(l.output_bytes, 1 << 20);
        assert_eq!(l.disk_bytes, 16 << 20);
    }
}
