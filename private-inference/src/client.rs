//! The private client: attestation cache, sealing, relay fail-over, re-attestation on rotation.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use sotto_enclave_protocol::media::{CHUNKED_REQUEST, PROBLEM_OHTTP_KEY};
use sotto_enclave_protocol::padding;
use sotto_relay_config::Profile;

use crate::attest::{attest, TrustPolicy};
use crate::reply::{self, ReplyContext, ReplyLimits};
use crate::ledger::{LedgerSink, Purpose};
use crate::transport::{read_limited, Transport};
use crate::wire::opengradient::{OpenGradientWire, TokenSource};
use crate::{seal_request, AttestedEnclave, Clock, InferenceError, ReplyStream, SystemClock, VerifiedReply};

/// An error answer is a sentence or two; more is cut off unread.
const MAX_ERROR_BODY: usize = 16 * 1024;

/// How a client reaches the network and tells the time.
pub struct ClientOptions {
    /// Bind outgoing connections to this local address (tests use it to tell client from relay).
    pub local_address: Option<IpAddr>,
    pub clock: Arc<dyn Clock>,
    /// The bearer token for OpenGradient's relay (default: `SOTTO_OG_TOKEN`).
    pub og_token: TokenSource,
    /// Ask the enclave to hold streamed text this long and seal it as one event, so the relay
    /// cannot see the model's token timing (zero: every token as it comes). Sotto's wire only.
    pub coalesce: Duration,
    /// Where every request that leaves is recorded ("what left this device").
    pub ledger: Option<Arc<dyn LedgerSink>>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            local_address: None,
            clock: Arc::new(SystemClock),
            og_token: Arc::new(|| std::env::var("SOTTO_OG_TOKEN").ok().filter(|t| !t.trim().is_empty())),
            coalesce: Duration::ZERO,
            ledger: None,
        }
    }
}

/// What a model makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Chat,
    Image,
}

/// One entry of the enclave's (signed) model list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModelInfo {
    pub id: String,
    pub kind: ModelKind,
    /// What the model is, in words, when the enclave says (e.g. "local demo generator — not a
    /// trained model").
    pub description: Option<String>,
    /// The model reads images (OpenAI `image_url` parts), as the enclave's list says.
    pub accepts_images: bool,
}

impl ModelInfo {
    fn from_entry(entry: &Value) -> Option<Self> {
        let id = entry["id"].as_str()?.to_string();
        let kind = if entry["kind"].as_str() == Some("image") { ModelKind::Image } else { ModelKind::Chat };
        let description = entry["description"].as_str().map(|d| d.chars().take(200).collect());
        let accepts_images = entry["input"].as_array().is_some_and(|i| i.iter().any(|m| m == "image"));
        Some(Self { id, kind, description, accepts_images })
    }
}

pub struct PrivateClient {
    profile: Profile,
    transport: Transport,
    trust: TrustPolicy,
    clock: Arc<dyn Clock>,
    cache: Mutex<Option<Arc<AttestedEnclave>>>,
    /// Set for a profile of OpenGradient's network.
    opengradient: Option<OpenGradientWire>,
    coalesce: Duration,
}

impl PrivateClient {
    /// Reads the profile's trust roots; fails if they are missing.
    pub fn new(profile: Profile, options: ClientOptions) -> Result<Self, InferenceError> {
        let opengradient = match &profile.opengradient {
            Some(spec) => Some(OpenGradientWire::new(&profile, spec.clone(), options.og_token.clone(), options.ledger.clone())?),
            None => None,
        };
        let trust = match opengradient {
            Some(_) => TrustPolicy::unused(),
            None => TrustPolicy::from_profile(&profile)?,
        };
        Ok(Self {
            transport: Transport::new(&profile, options.local_address, options.ledger.clone())?,
            trust,
            opengradient,
            clock: options.clock,
            cache: Mutex::new(None),
            coalesce: options.coalesce,
            profile,
        })
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The verified enclave: from the cache while it is valid, else attested afresh.
    pub async fn attested(&self) -> Result<Arc<AttestedEnclave>, InferenceError> {
        let now = self.clock.now();
        if let Some(cached) = self.cache.lock().ok().and_then(|c| c.clone()) {
            if cached.valid_until > now {
                return Ok(cached);
            }
        }
        let fresh = Arc::new(attest(&self.transport, &self.trust, self.clock.as_ref()).await?);
        if let Ok(mut c) = self.cache.lock() {
            *c = Some(fresh.clone());
        }
        Ok(fresh)
    }

    /// Drops the cached attestation (the next request re-attests).
    pub fn forget_attestation(&self) {
        if let Ok(mut c) = self.cache.lock() {
            *c = None;
        }
    }

    /// Sends an OpenAI-format chat request; text arrives as it authenticates.
    pub async fn chat(&self, request: &Value) -> Result<ReplyStream, InferenceError> {
        let body = serde_json::to_vec(request).map_err(|e| InferenceError::Seal(e.to_string()))?;
        self.chat_bytes(&body).await
    }

    /// Sends exactly these bytes as the chat request body (the agent records what it sends).
    pub async fn chat_bytes(&self, body: &[u8]) -> Result<ReplyStream, InferenceError> {
        if let Some(og) = &self.opengradient {
            return og.chat(&self.transport, self.clock.as_ref(), body).await;
        }
        // Sources are accepted only in a reply to a request that asked for a search.
        let sources = sotto_enclave_protocol::search::requested_in(body);
        self.send("POST", "/v1/chat/completions", body, ReplyLimits { sources, ..ReplyLimits::default() }).await
    }

    /// Reads OpenGradient's registry now (not from the cache) and returns how many usable TEEs
    /// it lists; `None` for a profile of another network.
    pub async fn discover(&self) -> Option<Result<usize, InferenceError>> {
        let og = self.opengradient.as_ref()?;
        Some(og.discover().await)
    }

    /// Whether this client speaks OpenGradient's network.
    pub fn is_opengradient(&self) -> bool {
        self.opengradient.is_some()
    }

    /// Lists the enclave's models through the private path (with the reply that carried the
    /// list); OpenGradient's network has no such request, so its known list comes unsigned.
    pub async fn models(&self) -> Result<(Vec<String>, Option<VerifiedReply>), InferenceError> {
        let (catalog, reply) = self.catalog().await?;
        let chat = catalog.into_iter().filter(|m| m.kind == ModelKind::Chat).map(|m| m.id).collect();
        Ok((chat, reply))
    }

    /// Every model the enclave serves, chat and image, with what kind each is.
    pub async fn catalog(&self) -> Result<(Vec<ModelInfo>, Option<VerifiedReply>), InferenceError> {
        if let Some(og) = &self.opengradient {
            let chat = og.models().into_iter().map(|id| ModelInfo { id, kind: ModelKind::Chat, description: None, accepts_images: false }).collect();
            return Ok((chat, None));
        }
        let reply = self.send("GET", "/v1/models", &[], ReplyLimits::default()).await?.verified().await?;
        let json: Value = serde_json::from_slice(&reply.body)
            .map_err(|e| InferenceError::Malformed(format!("the model list is not JSON ({e})")))?;
        let models = json["data"].as_array().map(|d| d.iter().filter_map(ModelInfo::from_entry).collect()).unwrap_or_default();
        Ok((models, Some(reply)))
    }

    pub(crate) async fn send(&self, method: &str, path: &str, body: &[u8], limits: ReplyLimits) -> Result<ReplyStream, InferenceError> {
        let mut headers = Vec::new();
        if method == "POST" && !self.coalesce.is_zero() {
            headers.push((padding::COALESCE_FIELD, self.coalesce.as_millis().to_string()));
        }
        let mut refused_key: Option<Vec<u8>> = None;
        loop {
            let enclave = self.attested().await?;
            if refused_key.as_deref() == Some(enclave.key_config.as_slice()) {
                // Only the relay says the key changed; the enclave attests the same one. Sending
                // again would hand the relay a second sealed copy of the request.
                return Err(InferenceError::Seal(
                    "the relay says the enclave's key changed, but the enclave still attests the same key; the request was not sent again".into(),
                ));
            }
            let sealed = seal_request(&enclave.key_config, method, path, &headers, body).await?;
            let purpose = match path {
                "/v1/models" => Purpose::Models,
                sotto_enclave_protocol::images::PATH => Purpose::Image,
                _ => Purpose::Chat,
            };
            let answer = self
                .transport
                .post(&self.profile.enclave.gateway_path, CHUNKED_REQUEST, sealed.ciphertext.clone(), purpose)
                .await?;
            let (status, relay) = (answer.status, answer.relay.clone());
            if status.is_success() {
                let ctx = ReplyContext { sealed, enclave, relay, stall: self.profile.timeouts.stall, limits: limits.clone() };
                return Ok(reply::spawn(ctx, answer));
            }
            let detail = read_limited(answer, MAX_ERROR_BODY, self.profile.timeouts.stall)
                .await
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            // One retry, and only to a key the enclave really rotated to.
            if refused_key.is_none() && status.as_u16() == 422 && detail.contains(PROBLEM_OHTTP_KEY) {
                tracing::info!("the enclave rotated its key; attesting again");
                refused_key = Some(enclave.key_config.clone());
                self.forget_attestation();
                continue;
            }
            return Err(InferenceError::RelayRefused { relay, status: status.as_u16(), detail: detail.chars().take(200).collect() });
        }
    }
}
