//! The reference enclave server.
//!
//! - [`resource`]: the OHTTP gateway resource: decapsulates chunked OHTTP, serves the inner
//!   Binary HTTP request, seals each piece of the reply as it is produced, closes with a receipt.
//! - [`attester`]: attestation documents (development CA here; AWS NSM behind feature `nsm`).
//! - [`keys`]: the OHTTP key and receipt key, fresh at every start, rotatable.
//! - [`measurements`]: PCRs of this binary, its configuration and its model.
//! - [`backend`]: embedded model, OpenAI-compatible upstream, scripted test stand-in.
//! - [`images`]: image generation: the local demo generator (not a trained model) or an
//!   OpenAI-compatible image API.
//! - [`wire`]: OpenGradient's wire (`--wire opengradient`); [`registry_standin`]: its registry,
//!   stood in for offline.
//! - [`server`]: the HTTP listeners (public: through the relay; admin: loopback only).

pub mod attester;
pub mod backend;
mod client_link;
pub mod config;
pub mod images;
pub mod key_release;
pub mod search;
mod inner;
pub mod keys;
pub mod measurements;
pub mod observe;
pub mod registry_standin;
pub mod resource;
pub mod server;
mod upstream_body;
pub mod wire;

pub use config::{BackendSpec, GatewayConfig, KeySource, Wire};
pub use images::ImagesSpec;
pub use search::SearchSpec;
pub use server::{start, RunningGateway};

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}
