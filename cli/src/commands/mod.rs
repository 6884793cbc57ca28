pub mod agent;
pub mod ask;
pub mod attest;
pub mod extract;
pub mod history;
pub mod image;
pub mod ledger;
pub mod memory;
pub mod models;
pub mod og;
pub mod pdf;
pub mod project;
pub mod proof;
pub mod sandbox;
pub mod stack;

use std::path::PathBuf;

use sotto_core::private_inference::{ClientOptions, InferenceError, PrivateClient};
use sotto_core::relay_config::{parse_pcr_hex, Profile};

/// Options every networked command shares.
#[derive(clap::Args, Debug, Clone)]
pub struct ProfileArgs {
    /// Profile file (default: the local stack started by `sotto stack up`).
    #[arg(long)]
    pub profile: Option<PathBuf>,
}

/// The profile plus the overrides of commands that send requests (`ask`, `agent run`).
#[derive(clap::Args, Debug, Clone)]
pub struct ConnectArgs {
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Relay URL to use instead of the profile's (repeatable; tried in order).
    #[arg(long = "relay")]
    pub relays: Vec<String>,
    /// Expected measurement N=HEX, replacing the profile's value for PCR N (repeatable).
    #[arg(long = "expect-pcr")]
    pub pcrs: Vec<String>,
    /// Ask the enclave to send streamed text in bursts every MS milliseconds (at most 1000),
    /// so the relay cannot see the model's token timing; costs up to MS of latency per burst.
    #[arg(long = "coalesce-ms", value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1000))]
    pub coalesce_ms: u64,
}

impl ConnectArgs {
    /// The client; with a store, every request it makes is recorded in that history's ledger.
    pub fn client(&self, store: Option<&sotto_core::store::Store>) -> Result<PrivateClient, InferenceError> {
        let ledger = store.and_then(sotto_core::ledger::StoreLedger::for_store);
        client(&self.profile, &self.relays, &self.pcrs, std::time::Duration::from_millis(self.coalesce_ms), ledger)
    }
}

/// Loads the profile, applies `--relay` and `--expect-pcr` overrides, builds the client.
pub fn client(
    profile: &ProfileArgs,
    relays: &[String],
    pcrs: &[String],
    coalesce: std::time::Duration,
    ledger: Option<std::sync::Arc<dyn sotto_core::private_inference::ledger::LedgerSink>>,
) -> Result<PrivateClient, InferenceError> {
    let base: Profile = sotto_core::profiles::load(profile.profile.as_deref())?;
    let pcrs = pcrs
        .iter()
        .map(|spec| {
            let (n, hex_value) = spec.split_once('=').ok_or_else(|| invalid("--expect-pcr", format!("`{spec}` is not N=HEX")))?;
            let index: u16 = n.trim().parse().map_err(|_| invalid("--expect-pcr", format!("`{n}` is not a PCR number")))?;
            Ok((index, hex_value.to_string()))
        })
        .collect::<Result<Vec<_>, InferenceError>>()?;
    let p = sotto_core::settings::apply_overrides(base, relays, &pcrs)?;
    let mut options = ClientOptions { coalesce, ledger, ..ClientOptions::default() };
    if p.opengradient.is_some() {
        // OpenGradient's relay wants the Chat session's token (refreshed here if it is about
        // to expire); without one it answers 401 and the user is told to log in.
        let relay = p.relays.first().map(|r| r.url.to_string()).unwrap_or_default();
        let token = runtime().block_on(sotto_core::opengradient_login::relay_token(options.ledger.clone())).map_err(|e| match e {
            sotto_core::opengradient_login::LoginError::Expired => InferenceError::LoginNeeded { relay },
            other => InferenceError::Seal(other.to_string()),
        })?;
        options.og_token = std::sync::Arc::new(move || token.clone());
    }
    PrivateClient::new(p, options)
}

fn invalid(field: &str, problem: String) -> InferenceError {
    InferenceError::Profile(sotto_core::relay_config::ProfileError::Invalid {
        path: "command line".into(),
        field: field.into(),
        problem,
    })
}

/// `N=HEX`.
pub fn parse_pcr_arg(spec: &str) -> Result<(u16, Vec<u8>), String> {
    let (n, hex_value) = spec.split_once('=').ok_or_else(|| format!("`{spec}` is not N=HEX"))?;
    let index: u16 = n.trim().parse().map_err(|_| format!("`{n}` is not a PCR number"))?;
    Ok((index, parse_pcr_hex(hex_value)?))
}

/// A small runtime for one command.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime can always be built on this platform")
}
