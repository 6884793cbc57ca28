//! Logging in to OpenGradient Chat for its relay, as its own CLI does: a loopback listener,
//! the Chat app's `/cli-auth` page opened in the browser, and the session bundle the page
//! posts back to the listener (never to any other host). The session is kept in the system
//! keyring or, where there is none, in the encrypted store (unlocked by its passphrase), never
//! in a plain file; its access token is refreshed before it expires.
//! `SOTTO_OG_TOKEN` overrides it for scripts.
//!
//! The token refresh (one HTTPS POST to OpenGradient's auth server, carrying the refresh token
//! and nothing of any conversation) goes through `private_inference::ledger::post_direct`, so it
//! is in the network ledger whenever a history is open to record it.

use std::sync::Arc;

use sotto_private_inference::ledger::{self, LedgerSink};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::Value;
use sotto_store::{OsKeyring, SecretVault};

use crate::history::{open_store, PassphrasePrompt};
use tokio::sync::{mpsc, Mutex};

/// The Chat app that hosts the authorisation page.
pub const DEFAULT_APP_URL: &str = "https://chat.opengradient.ai";
/// The keyring entry (and, without a keyring, the store setting) that holds the session (JSON).
pub const ACCOUNT: &str = "opengradient-session";
/// Refresh this long before the token expires.
const EARLY: u64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("no one authorised this device within {0} s; run `sotto og login` again")]
    TimedOut(u64),
    #[error("the page sent a session Sotto cannot use: {0}")]
    BadBundle(String),
    #[error("the session cannot be kept: {0} (without a system keyring, set SOTTO_OG_TOKEN instead)")]
    Keyring(String),
    #[error("the loopback listener could not start: {0}")]
    Listener(std::io::Error),
    #[error("your OpenGradient Chat session expired or was signed out: log in with `sotto og login`")]
    Expired,
    #[error("the session could not be refreshed: {0}")]
    Refresh(String),
}

/// A Chat session as the authorisation page hands it over (`CliAuthBundle`).
#[derive(Debug, Clone)]
pub struct Session {
    raw: Value,
}

impl Session {
    /// Checks a received bundle.
    pub fn from_bundle(raw: Value) -> Result<Self, LoginError> {
        if !raw.is_object() {
            return Err(LoginError::BadBundle("it is not a JSON object".into()));
        }
        if raw.get("access_token").and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(LoginError::BadBundle("it has no access_token".into()));
        }
        Ok(Self { raw })
    }

    /// The session as stored.
    pub fn to_json(&self) -> &Value {
        &self.raw
    }

    pub fn access_token(&self) -> &str {
        self.raw["access_token"].as_str().unwrap_or_default()
    }

    pub fn email(&self) -> Option<&str> {
        self.raw.pointer("/user/email").and_then(Value::as_str)
    }

    /// Unix seconds at which the access token expires, when the bundle says.
    pub fn expires_at(&self) -> Option<u64> {
        match &self.raw["expires_at"] {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// The relay the Chat app is configured with (its `config.chat_api_base_url`).
    pub fn relay_url(&self) -> Option<&str> {
        self.raw.pointer("/config/chat_api_base_url").and_then(Value::as_str)
    }

    fn needs_refresh(&self, now: u64) -> bool {
        self.expires_at().is_some_and(|at| now + EARLY >= at)
    }

    /// Stores the session in the system keyring, else in the encrypted store (`ask` is asked
    /// for its passphrase when the environment gives none).
    pub fn save_with(&self, ask: &mut dyn FnMut(PassphrasePrompt) -> Option<String>) -> Result<(), LoginError> {
        if let Ok(keyring) = OsKeyring::available() {
            if keyring.put(ACCOUNT, self.raw.to_string().as_bytes()).is_ok() {
                return Ok(());
            }
        }
        let store = open_store(true, ask).map_err(|e| LoginError::Keyring(e.to_string()))?;
        store.set_setting(ACCOUNT, &self.raw).map_err(|e| LoginError::Keyring(e.to_string()))
    }

    /// [`Session::save_with`] without anyone to ask (the refresh, the app).
    pub fn save(&self) -> Result<(), LoginError> {
        self.save_with(&mut |_| None)
    }

    /// The stored session, if any (from the keyring, else from a store the environment unlocks).
    pub fn load() -> Option<Self> {
        let from_keyring = OsKeyring::available().ok().and_then(|k| k.get(ACCOUNT).ok().flatten());
        let raw: Value = match from_keyring {
            Some(bytes) => serde_json::from_slice(&bytes).ok()?,
            None => open_store(false, &mut |_| None).ok()?.setting(ACCOUNT).ok()??,
        };
        Self::from_bundle(raw).ok()
    }

    /// Removes the session from the keyring and the store.
    pub fn forget() -> Result<(), LoginError> {
        if let Ok(keyring) = OsKeyring::available() {
            keyring.delete(ACCOUNT).map_err(|e| LoginError::Keyring(e.to_string()))?;
        }
        if let Ok(store) = open_store(false, &mut |_| None) {
            store.set_setting(ACCOUNT, &Value::Null).map_err(|e| LoginError::Keyring(e.to_string()))?;
        }
        Ok(())
    }

    /// Refreshes the access token with the Chat app's auth server (Supabase) if it expires
    /// within a minute, and stores the result.
    pub async fn fresh(mut self, ledger: Option<Arc<dyn LedgerSink>>) -> Result<Self, LoginError> {
        if !self.needs_refresh(now()) {
            return Ok(self);
        }
        let refresh = self.raw["refresh_token"].as_str().filter(|t| !t.is_empty()).ok_or(LoginError::Expired)?.to_string();
        let (Some(base), Some(key)) = (
            self.raw.pointer("/config/supabase_url").and_then(Value::as_str),
            self.raw.pointer("/config/supabase_anon_key").and_then(Value::as_str),
        ) else {
            return Err(LoginError::Expired);
        };
        if !base.starts_with("https://") {
            return Err(LoginError::Refresh(format!("the session names an auth server that is not https ({base})")));
        }
        let url: url::Url = format!("{}/auth/v1/token?grant_type=refresh_token", base.trim_end_matches('/'))
            .parse()
            .map_err(|e| LoginError::Refresh(format!("the session's auth server is not a URL ({e})")))?;
        let request = serde_json::json!({"refresh_token": refresh}).to_string().into_bytes();
        let (status, body) = ledger::post_direct(ledger, &url, &[("apikey", key.to_string())], request, ledger::Purpose::Login, Duration::from_secs(15))
            .await
            .map_err(LoginError::Refresh)?;
        if matches!(status, 400 | 401 | 403) {
            return Err(LoginError::Expired);
        }
        let body: Value = serde_json::from_slice(&body).map_err(|e| LoginError::Refresh(format!("the auth server did not answer JSON ({e})")))?;
        let token = body["access_token"].as_str().filter(|t| !t.is_empty()).ok_or(LoginError::Expired)?;
        self.raw["access_token"] = token.into();
        if let Some(r) = body["refresh_token"].as_str() {
            self.raw["refresh_token"] = r.into();
        }
        self.raw["expires_at"] = match (body["expires_at"].as_u64(), body["expires_in"].as_u64()) {
            (Some(at), _) => at.into(),
            (None, Some(secs)) => (now() + secs).into(),
            _ => Value::Null,
        };
        self.save()?;
        Ok(self)
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// The token for OpenGradient's relay: `SOTTO_OG_TOKEN`, else the stored session (refreshed
/// if it is about to expire), else none (the relay will then answer 401).
pub async fn relay_token(ledger: Option<Arc<dyn LedgerSink>>) -> Result<Option<String>, LoginError> {
    if let Ok(t) = std::env::var("SOTTO_OG_TOKEN") {
        if !t.trim().is_empty() {
            return Ok(Some(t.trim().to_string()));
        }
    }
    match Session::load() {
        Some(s) => Ok(Some(s.fresh(ledger).await?.access_token().to_string())),
        None => Ok(None),
    }
}

/// A loopback listener waiting for the page to post the session back.
pub struct Listener {
    pub auth_url: String,
    server: tokio::task::JoinHandle<()>,
    received: mpsc::Receiver<Result<Session, LoginError>>,
}

impl Listener {
    /// Listens on 127.0.0.1 (an ephemeral port) and builds the page's address.
    pub async fn start(app_url: &str) -> Result<Self, LoginError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(LoginError::Listener)?;
        let port = listener.local_addr().map_err(LoginError::Listener)?.port();
        let redirect = format!("http://127.0.0.1:{port}/");
        let query = url::form_urlencoded::Serializer::new(String::new()).append_pair("redirect_uri", &redirect).append_pair("app_name", "Sotto").finish();
        let auth_url = format!("{}/cli-auth?{query}", app_url.trim_end_matches('/'));
        let (tx, received) = mpsc::channel(1);
        let expect = Arc::new(Expect {
            tx: Mutex::new(Some(tx)),
            host: format!("127.0.0.1:{port}"),
            origin: origin_of(app_url),
        });
        let app = axum::Router::new().route(
            "/",
            any(move |method: Method, headers: axum::http::HeaderMap, body: axum::body::Bytes| receive(method, headers, body, expect.clone())),
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { auth_url, server, received })
    }

    /// Waits for the session (or the time limit).
    pub async fn wait(mut self, limit: Duration) -> Result<Session, LoginError> {
        let got = tokio::time::timeout(limit, self.received.recv()).await;
        self.server.abort();
        match got {
            Ok(Some(result)) => result,
            _ => Err(LoginError::TimedOut(limit.as_secs())),
        }
    }
}

/// `scheme://host[:port]` of the Chat app, the only origin allowed to post the session.
fn origin_of(app_url: &str) -> String {
    match url::Url::parse(app_url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => app_url.trim_end_matches('/').to_string(),
    }
}

/// What the listener accepts: one session, posted as JSON by the app's page to this address.
struct Expect {
    tx: Mutex<Option<mpsc::Sender<Result<Session, LoginError>>>>,
    host: String,
    origin: String,
}

/// CORS for the app's origin only: its POST is preceded by a preflight, which pages of other
/// origins do not pass.
fn cors(mut r: Response, origin: &str) -> Response {
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST, OPTIONS"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Content-Type"));
    r
}

async fn receive(method: Method, headers: axum::http::HeaderMap, body: axum::body::Bytes, expect: Arc<Expect>) -> Response {
    let origin = expect.origin.as_str();
    // A name that resolves here (DNS rebinding) is not this listener's address.
    if headers.get(header::HOST).and_then(|h| h.to_str().ok()) != Some(expect.host.as_str()) {
        return StatusCode::MISDIRECTED_REQUEST.into_response();
    }
    if method == Method::OPTIONS {
        return cors(StatusCode::NO_CONTENT.into_response(), origin);
    }
    if method != Method::POST {
        return cors(StatusCode::METHOD_NOT_ALLOWED.into_response(), origin);
    }
    // JSON only: a cross-site form or text/plain post skips the preflight.
    let json = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return cors(StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response(), origin);
    }
    let Some(sender) = expect.tx.lock().await.take() else {
        // One session per login: a second post is refused, not silently dropped.
        return cors(StatusCode::CONFLICT.into_response(), origin);
    };
    let parsed = serde_json::from_slice::<Value>(&body)
        .map_err(|e| LoginError::BadBundle(format!("not JSON ({e})")))
        .and_then(Session::from_bundle);
    let ok = parsed.is_ok();
    let _ = sender.send(parsed).await;
    let status = if ok { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    cors((status, [(header::CONTENT_TYPE, "application/json")], format!("{{\"ok\": {ok}}}")).into_response(), origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_page_posts_the_session_back_to_the_loopback_listener() {
        let listener = Listener::start("https://chat.example/").await.unwrap();
        assert!(listener.auth_url.starts_with("https://chat.example/cli-auth?redirect_uri=http%3A%2F%2F127.0.0.1%3A"), "{}", listener.auth_url);
        let redirect = listener.auth_url.split("redirect_uri=").nth(1).unwrap().split('&').next().unwrap();
        let redirect = url::form_urlencoded::parse(format!("r={redirect}").as_bytes()).next().unwrap().1.to_string();
        let http = reqwest::Client::new();
        let pre = http.request(reqwest::Method::OPTIONS, &redirect).send().await.unwrap();
        assert_eq!(pre.status(), 204);
        assert_eq!(pre.headers()["access-control-allow-origin"], "https://chat.example");
        // A simple cross-site post (no preflight) is refused.
        let plain = http.post(&redirect).header("content-type", "text/plain").body("{\"access_token\": \"evil\"}").send().await.unwrap();
        assert_eq!(plain.status(), 415);
        let bundle = serde_json::json!({"type": "opengradient-cli-auth", "access_token": "tok", "refresh_token": "r", "expires_at": 4_000_000_000u64,
            "user": {"email": "a@b.c"}, "config": {"chat_api_base_url": "https://relay.example"}});
        let post = http.post(&redirect).json(&bundle).send().await.unwrap();
        assert_eq!(post.status(), 200);
        let second = http.post(&redirect).json(&bundle).send().await.unwrap();
        assert_eq!(second.status(), 409, "a second session is refused");
        let session = listener.wait(Duration::from_secs(5)).await.unwrap();
        assert_eq!(session.access_token(), "tok");
        assert_eq!(session.email(), Some("a@b.c"));
        assert_eq!(session.relay_url(), Some("https://relay.example"));
        assert!(!session.needs_refresh(now()));
    }

    #[tokio::test]
    async fn a_bundle_without_a_token_is_refused_and_nobody_answering_times_out() {
        let listener = Listener::start("https://chat.example").await.unwrap();
        let redirect = url::form_urlencoded::parse(listener.auth_url.split('?').nth(1).unwrap().as_bytes())
            .find(|(k, _)| k == "redirect_uri")
            .unwrap()
            .1
            .to_string();
        let post = reqwest::Client::new().post(&redirect).json(&serde_json::json!({"user": {}})).send().await.unwrap();
        assert_eq!(post.status(), 400);
        assert!(matches!(listener.wait(Duration::from_secs(5)).await, Err(LoginError::BadBundle(_))));
        let idle = Listener::start("https://chat.example").await.unwrap();
        assert!(matches!(idle.wait(Duration::from_millis(200)).await, Err(LoginError::TimedOut(_))));
    }

    #[test]
    fn a_token_about_to_expire_needs_refreshing() {
        let s = Session::from_bundle(serde_json::json!({"access_token": "t", "expires_at": 1000})).unwrap();
        assert!(s.needs_refresh(950) && !s.needs_refresh(900));
        assert!(Session::from_bundle(serde_json::json!({"access_token": ""})).is_err());
    }
}
