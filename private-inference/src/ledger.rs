//! What left this device: every HTTP request the client makes passes through [`Ticket`] (made
//! only by the transport and the registry reader, the two places that send), which records
//! one [`LedgerEntry`] — destination, purpose, bytes each way, the conversation it belongs to —
//! when its answer has been read or dropped. The sink (the encrypted store) is the caller's.

use std::future::Future;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// One request, as the network saw it (sizes are HTTP body bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub at_ms: u64,
    /// `host:port` it went to.
    pub host: String,
    pub purpose: String,
    pub method: String,
    pub path: String,
    /// The answer's HTTP status; 0 when none came.
    pub status: u16,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub conversation_id: Option<String>,
    /// Whether it carried anything of the user's (always sealed to an attested key).
    pub user_content: bool,
    /// Whether it carried an account credential in the clear to its destination (OpenGradient's
    /// bearer token to its relay, a refresh token to its auth server).
    #[serde(default)]
    pub credential: bool,
}

/// Where entries go.
pub trait LedgerSink: Send + Sync {
    fn record(&self, entry: LedgerEntry);
}

/// Why a request is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The enclave's attestation (nothing of the user's).
    Attestation,
    /// A chat request (the user's messages, sealed).
    Chat,
    /// The model list (sealed, nothing of the user's).
    Models,
    /// OpenGradient's TEE registry (`eth_call`).
    Registry,
    /// An image request (the prompt, sealed).
    Image,
    /// A login's token refresh (OpenGradient's auth server; a credential, no conversation).
    Login,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Attestation => "attestation",
            Purpose::Chat => "chat",
            Purpose::Models => "models",
            Purpose::Registry => "registry",
            Purpose::Login => "login",
            Purpose::Image => "image",
        }
    }

    fn user_content(self) -> bool {
        matches!(self, Purpose::Chat | Purpose::Image)
    }
}

/// A JSON POST to a server other than the relays (OpenGradient's auth server, for a token
/// refresh): no redirects, no user agent, no proxy, recorded in the ledger like every other
/// request, its answer read with a size and time cap. Returns the status and the body.
pub async fn post_direct(
    sink: Option<Arc<dyn LedgerSink>>,
    url: &reqwest::Url,
    headers: &[(&str, String)],
    body: Vec<u8>,
    purpose: Purpose,
    timeout: std::time::Duration,
) -> Result<(u16, Vec<u8>), String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("")
        .no_proxy()
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let ticket = Ticket::new(sink, url, "POST", purpose, body.len());
    let mut request = http.post(url.clone()).header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let answer = crate::transport::Answer::new(url.to_string(), response, ticket);
    let status = answer.status.as_u16();
    let body = crate::transport::read_limited(answer, 256 * 1024, timeout).await.map_err(|e| e.to_string())?;
    Ok((status, body))
}

tokio::task_local! {
    static CONVERSATION: Option<String>;
}

/// Runs `f` with its requests recorded as belonging to `conversation_id`.
pub async fn in_conversation<F: Future>(conversation_id: Option<String>, f: F) -> F::Output {
    CONVERSATION.scope(conversation_id, f).await
}

/// One request's entry, recorded when the ticket is dropped (after its answer was read).
pub(crate) struct Ticket {
    entry: LedgerEntry,
    sink: Option<Arc<dyn LedgerSink>>,
}

impl Ticket {
    pub(crate) fn new(sink: Option<Arc<dyn LedgerSink>>, url: &reqwest::Url, method: &str, purpose: Purpose, bytes_sent: usize) -> Self {
        let host = match (url.host_str(), url.port_or_known_default()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => String::new(),
        };
        let at_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        let entry = LedgerEntry {
            at_ms,
            host,
            purpose: purpose.as_str().into(),
            method: method.into(),
            path: url.path().into(),
            status: 0,
            bytes_sent: bytes_sent as u64,
            bytes_received: 0,
            conversation_id: CONVERSATION.try_with(Clone::clone).ok().flatten(),
            user_content: purpose.user_content(),
            credential: purpose == Purpose::Login,
        };
        Self { entry, sink }
    }

    /// The request carries an account credential (an `Authorization` header).
    pub(crate) fn with_credential(mut self, credential: bool) -> Self {
        self.entry.credential |= credential;
        self
    }

    pub(crate) fn answered(&mut self, status: u16) {
        self.entry.status = status;
    }

    /// Nothing was sent after all (no connection could be made): no entry.
    pub(crate) fn discard(mut self) {
        self.sink = None;
    }

    pub(crate) fn received(&mut self, n: usize) {
        self.entry.bytes_received += n as u64;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(sink) = &self.sink {
            sink.record(self.entry.clone());
        }
    }
}
