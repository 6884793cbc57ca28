//! HTTP to the relays, in the profile's order: a relay that cannot be reached is skipped for
//! the next. A relay that answers (even with an error) is not retried elsewhere, so one request
//! is never delivered twice. Every request that leaves is recorded in the ledger (see
//! `ledger`); an answer's body can only be read through [`Answer`], which counts it.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sotto_relay_config::{Profile, Relay};

use crate::ledger::{LedgerSink, Purpose, Ticket};
use crate::InferenceError;

pub(crate) struct Transport {
    http: reqwest::Client,
    relays: Vec<Relay>,
    first_byte: Duration,
    stall: Duration,
    ledger: Option<Arc<dyn LedgerSink>>,
}

/// An answer from a relay (or the registry); its body is read through it, so the ledger
/// counts every byte that came back.
pub(crate) struct Answer {
    pub relay: String,
    pub status: reqwest::StatusCode,
    response: reqwest::Response,
    ticket: Ticket,
}

impl Answer {
    pub(crate) fn new(relay: String, response: reqwest::Response, mut ticket: Ticket) -> Self {
        let status = response.status();
        ticket.answered(status.as_u16());
        Self { relay, status, response, ticket }
    }

    /// The body as it arrives; the entry is recorded once the stream is dropped.
    pub(crate) fn bytes_stream(self) -> impl Stream<Item = reqwest::Result<Bytes>> + Send + 'static {
        let mut ticket = self.ticket;
        self.response.bytes_stream().map(move |chunk| {
            if let Ok(bytes) = &chunk {
                ticket.received(bytes.len());
            }
            chunk
        })
    }
}

/// The request a [`Transport`] sends.
pub(crate) struct Outgoing<'a> {
    pub method: reqwest::Method,
    pub path: &'a str,
    pub content_type: Option<&'static str>,
    pub headers: &'a [(&'static str, String)],
    pub body: Vec<u8>,
    pub purpose: Purpose,
}

impl Transport {
    pub(crate) fn new(profile: &Profile, local_address: Option<IpAddr>, ledger: Option<Arc<dyn LedgerSink>>) -> Result<Self, InferenceError> {
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
        Ok(Self { http, relays: profile.relays.clone(), first_byte: profile.timeouts.first_byte, stall: profile.timeouts.stall, ledger })
    }

    /// How long a small answer (an attestation, an error) may take to arrive whole.
    pub(crate) fn stall(&self) -> Duration {
        self.stall
    }

    pub(crate) async fn get(&self, path_and_query: &str, purpose: Purpose) -> Result<Answer, InferenceError> {
        self.get_with(path_and_query, &[], purpose).await
    }

    pub(crate) async fn get_with(&self, path_and_query: &str, headers: &[(&'static str, String)], purpose: Purpose) -> Result<Answer, InferenceError> {
        self.send(Outgoing { method: reqwest::Method::GET, path: path_and_query, content_type: None, headers, body: Vec::new(), purpose }).await
    }

    /// A POST with extra headers (OpenGradient's relay wants `Accept`, `X-TEE-ID`, a token).
    pub(crate) async fn post_with(
        &self,
        path: &str,
        content_type: &'static str,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
        purpose: Purpose,
    ) -> Result<Answer, InferenceError> {
        self.send(Outgoing { method: reqwest::Method::POST, path, content_type: Some(content_type), headers, body, purpose }).await
    }

    pub(crate) async fn post(&self, path: &str, content_type: &'static str, body: Vec<u8>, purpose: Purpose) -> Result<Answer, InferenceError> {
        self.post_with(path, content_type, &[], body, purpose).await
    }

    async fn send(&self, out: Outgoing<'_>) -> Result<Answer, InferenceError> {
        let mut tried = Vec::new();
        for relay in &self.relays {
            let url = join(&relay.url, out.path)?;
            let mut request = self.http.request(out.method.clone(), url.clone()).body(out.body.clone());
            if let Some(ct) = out.content_type {
                request = request.header(reqwest::header::CONTENT_TYPE, ct);
            }
            for (name, value) in out.headers {
                request = request.header(*name, value);
            }
            let credential = out.headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("authorization"));
            let ticket = Ticket::new(self.ledger.clone(), &url, out.method.as_str(), out.purpose, out.body.len()).with_credential(credential);
            match tokio::time::timeout(self.first_byte, request.send()).await {
                Err(_) => return Err(InferenceError::NoAnswer { secs: self.first_byte.as_secs() }),
                Ok(Ok(response)) => return Ok(Answer::new(relay.url.to_string(), response, ticket)),
                Ok(Err(e)) if e.is_connect() => {
                    // Nothing left this device: no connection was made.
                    ticket.discard();
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

fn join(base: &reqwest::Url, path: &str) -> Result<reqwest::Url, InferenceError> {
    let text = format!("{}{}", base.as_str().trim_end_matches('/'), path);
    text.parse().map_err(|e| InferenceError::Seal(format!("{text} is not a URL ({e})")))
}

/// Reads a small answer whole (an attestation, an error body, a registry reply): more than
/// `limit` bytes, or longer than `time`, is refused before it can fill memory or hang the app.
pub(crate) async fn read_limited(answer: Answer, limit: usize, time: Duration) -> Result<Vec<u8>, InferenceError> {
    let read = async {
        let mut body = Vec::new();
        let mut stream = std::pin::pin!(answer.bytes_stream());
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| InferenceError::Malformed(format!("the answer could not be read: {e}")))?;
            if body.len() + chunk.len() > limit {
                return Err(InferenceError::Malformed(format!("the answer is larger than {} KiB", limit.div_ceil(1024))));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    crate::reply::within(time, read, |e| e).await
}
