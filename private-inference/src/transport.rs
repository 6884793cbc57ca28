//! HTTP to the relays, in the profile's order: a relay that cannot be reached is skipped for
//! the next. A relay that answers (even with an error) is not retried elsewhere, so one request
//! is never delivered twice.

use std::net::IpAddr;
use std::time::Duration;

use sotto_relay_config::{Profile, Relay};

use crate::InferenceError;

pub(crate) struct Transport {
    http: reqwest::Client,
    relays: Vec<Relay>,
    first_byte: Duration,
    stall: Duration,
}

pub(crate) struct Answer {
    pub relay: String,
    pub response: reqwest::Response,
}

impl Transport {
    pub(crate) fn new(profile: &Profile, local_address: Option<IpAddr>) -> Result<Self, InferenceError> {
        let http = reqwest::Client::builder()
            .connect_timeout(profile.timeouts.connect)
            .local_address(local_address)
            // Nothing that could tie requests together or to the user.
            .user_agent("")
            // A redirect would re-send the sealed request to wherever the relay (or anyone on
            // an http:// path) names, e.g. straight to the gateway, which would then see the
            // user's address: never follow one.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| InferenceError::Seal(e.to_string()))?;
        Ok(Self { http, relays: profile.relays.clone(), first_byte: profile.timeouts.first_byte, stall: profile.timeouts.stall })
    }

    /// How long a small answer (an attestation, an error) may take to arrive whole.
    pub(crate) fn stall(&self) -> Duration {
        self.stall
    }

    pub(crate) async fn get(&self, path_and_query: &str) -> Result<Answer, InferenceError> {
        self.get_with(path_and_query, &[]).await
    }

    pub(crate) async fn get_with(&self, path_and_query: &str, headers: &[(&'static str, String)]) -> Result<Answer, InferenceError> {
        self.send(|client, base| with_headers(client.get(join(base, path_and_query)), headers)).await
    }

    /// A POST with extra headers (OpenGradient's relay wants `Accept`, `X-TEE-ID`, a token).
    pub(crate) async fn post_with(&self, path: &str, content_type: &'static str, headers: &[(&'static str, String)], body: Vec<u8>) -> Result<Answer, InferenceError> {
        self.send(|client, base| {
            let request = client
                .post(join(base, path))
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body.clone());
            with_headers(request, headers)
        })
        .await
    }

    pub(crate) async fn post(&self, path: &str, content_type: &'static str, body: Vec<u8>) -> Result<Answer, InferenceError> {
        self.send(|client, base| {
            client
                .post(join(base, path))
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body.clone())
        })
        .await
    }

    async fn send(
        &self,
        build: impl Fn(&reqwest::Client, &reqwest::Url) -> reqwest::RequestBuilder,
    ) -> Result<Answer, InferenceError> {
        let mut tried = Vec::new();
        for relay in &self.relays {
            let request = build(&self.http, &relay.url);
            match tokio::time::timeout(self.first_byte, request.send()).await {
                Err(_) => {
                    return Err(InferenceError::NoAnswer { secs: self.first_byte.as_secs() })
                }
                Ok(Ok(response)) => {
                    return Ok(Answer { relay: relay.url.to_string(), response });
                }
                Ok(Err(e)) if e.is_connect() => {
                    tracing::info!(relay = %relay.url, "relay unreachable, trying the next one");
                    tried.push(relay.url.to_string());
                }
                Ok(Err(e)) => {
                    return Err(InferenceError::RelayRefused {
                        relay: relay.url.to_string(),
                        status: 0,
                        detail: e.to_string(),
                    })
                }
            }
        }
        Err(InferenceError::RelayUnreachable { tried: tried.join(", ") })
    }
}

fn with_headers(mut request: reqwest::RequestBuilder, headers: &[(&'static str, String)]) -> reqwest::RequestBuilder {
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request
}

fn join(base: &reqwest::Url, path: &str) -> String {
    format!("{}{}", base.as_str().trim_end_matches('/'), path)
}

/// Reads a small answer whole (an attestation, an error body, a registry reply): more than
/// `limit` bytes, or longer than `time`, is refused before it can fill memory or hang the app.
pub(crate) async fn read_limited(mut response: reqwest::Response, limit: usize, time: Duration) -> Result<Vec<u8>, InferenceError> {
    let read = async {
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| InferenceError::Malformed(format!("the answer could not be read: {e}")))?
        {
            if body.len() + chunk.len() > limit {
                return Err(InferenceError::Malformed(format!("the answer is larger than {} KiB", limit.div_ceil(1024))));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    crate::reply::within(time, read, |e| e).await
}
