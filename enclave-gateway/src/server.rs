//! The gateway's listeners. Public (reached through the relay): `POST /gateway`,
//! `GET /attestation?nonce=HEX`. Admin (loopback only, never relayed): key rotation and the
//! development observations.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use sotto_enclave_protocol::{binding_user_data, AttestationBundle};

use crate::attester::{Attester, DevelopmentAttester};
use crate::backend::{self, Backend};
use crate::keys::KeyRing;
use crate::observe::{Observation, Observations};
use crate::{measurements, resource, GatewayConfig};

pub struct AppState {
    pub keys: KeyRing,
    /// A replica's key keeper (rotation is the keeper's then).
    pub key_source: Option<crate::KeySource>,
    pub attester: Box<dyn Attester>,
    pub backend: Arc<dyn Backend>,
    /// Image generation, when this enclave offers it.
    pub images: Option<Arc<dyn crate::images::ImageBackend>>,
    /// Image jobs running now (bounded, see `images::serve::MAX_JOBS`).
    pub image_jobs: tokio::sync::Semaphore,
    /// Web search, when this enclave offers it.
    pub search: Option<Arc<dyn crate::search::SearchProvider>>,
    pub observations: Observations,
    models: Vec<String>,
    passthrough_models: bool,
    /// Set with the OpenGradient wire.
    pub opengradient: Option<crate::wire::opengradient::OpenGradientTee>,
}

impl AppState {
    /// The model a request gets: the one it names if served here, else the first served.
    pub(crate) async fn resolve_model(&self, requested: Option<&str>) -> Result<String, String> {
        match requested {
            Some(m) if self.passthrough_models || self.models.iter().any(|s| s == m) => Ok(m.to_string()),
            Some(m) => Err(format!("model `{m}` is not served here (available: {})", self.models.join(", "))),
            None => self.models.first().cloned().ok_or_else(|| "no model is available".to_string()),
        }
    }
}

/// A started gateway.
pub struct RunningGateway {
    pub listen: SocketAddr,
    pub admin: Option<SocketAddr>,
    /// The registry stand-in (OpenGradient wire only).
    pub registry: Option<SocketAddr>,
    pub state: Arc<AppState>,
}

/// Loads the back-end, measures, writes the development root and measurements to the state
/// folder, then starts listening.
pub async fn start(config: GatewayConfig) -> anyhow::Result<RunningGateway> {
    // The admin listener rotates keys and reports who connected; the registry stand-in is a
    // test fixture: neither may be reachable from another machine.
    for addr in [config.admin_listen, config.registry_listen].into_iter().flatten() {
        if !addr.ip().is_loopback() {
            anyhow::bail!("{addr} is not a loopback address: the admin and registry listeners only listen on this machine");
        }
    }
    let spec = config.backend.clone();
    let backend = tokio::task::spawn_blocking(move || backend::build(&spec)).await??;
    let models = backend.models().await.unwrap_or_default();
    let images = crate::images::build(&config.images)?;
    let search = crate::search::build(&config.search)?;
    let binary = std::env::current_exe()?;
    let config_measured = serde_json::json!({
        "gateway": env!("CARGO_PKG_VERSION"),
        "backend": config.backend.describe(),
        "images": config.images.describe(),
        "search": config.search.describe(),
        // Whoever holds the keys could read the traffic: a replica's keeper is measured.
        "keys": config.key_source.as_ref().map_or_else(|| "own".to_string(), |s| format!("released:{} keeper:{}", s.url, s.keeper_key)),
        "wire": format!("{:?}", config.wire).to_lowercase(),
    })
    .to_string();
    let pcrs = measurements::compute(&binary, config_measured.as_bytes(), backend.artifact_measurement())?;
    let attester = DevelopmentAttester::new(pcrs.clone())?;
    // Bind before publishing: a gateway that cannot listen must not replace the root and
    // measurements of one that is running.
    let public = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e} (is another gateway running?)", config.listen))?;
    let admin_listener = match config.admin_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e} (is another gateway running?)"))?,
        ),
        None => None,
    };
    let registry_listener = match (config.wire, config.registry_listen) {
        (crate::Wire::Opengradient, Some(addr)) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e} (is another registry stand-in running?)"))?,
        ),
        _ => None,
    };
    publish(&config.state_dir, attester.root_pem(), &pcrs, &models)?;
    let opengradient = match config.wire {
        crate::Wire::Opengradient => {
            let endpoint = format!("http://{}", public.local_addr()?);
            Some(crate::wire::opengradient::OpenGradientTee::new(endpoint, &pcrs)?)
        }
        crate::Wire::Sotto => None,
    };

    let (keys, epoch) = match &config.key_source {
        Some(source) => {
            let (ring, epoch) = crate::key_release::member::join(&crate::key_release::member::keeper_http(), source, &attester)
                .await
                .map_err(|e| anyhow::anyhow!("this replica got no keys: {e}"))?;
            (ring, Some(epoch))
        }
        None => (KeyRing::new()?, None),
    };
    let state = Arc::new(AppState {
        keys,
        key_source: config.key_source.clone(),
        attester: Box::new(attester),
        passthrough_models: matches!(config.backend, crate::BackendSpec::OpenAi { .. }),
        backend,
        images,
        image_jobs: tokio::sync::Semaphore::new(crate::images::serve::MAX_JOBS),
        search,
        observations: Observations::new(config.admin_listen.is_some()),
        models,
        opengradient,
    });
    if let (Some(source), Some(epoch)) = (&config.key_source, epoch) {
        crate::key_release::member::keep_up(state.clone(), source, epoch)?;
    }
    let listen = public.local_addr()?;
    serve(public, public_router(state.clone()));
    let admin = match admin_listener {
        Some(l) => {
            let a = l.local_addr()?;
            serve(l, admin_router(state.clone()));
            Some(a)
        }
        None => None,
    };
    let registry = match registry_listener {
        Some(l) => {
            let a = l.local_addr()?;
            serve(l, crate::registry_standin::router(state.clone()));
            Some(a)
        }
        None => None,
    };
    Ok(RunningGateway { listen, admin, registry, state })
}

fn serve(listener: tokio::net::TcpListener, router: Router) {
    use axum::serve::ListenerExt;
    // Sealed chunks are small and must leave at once: without TCP_NODELAY, Nagle's algorithm
    // holds a chunk until the previous one is acknowledged, and delayed ACKs make that ~40 ms.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!("TCP_NODELAY not set: {e}");
        }
    });
    tokio::spawn(async move {
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("listener stopped: {e}");
        }
    });
}

/// Writes `dev-root.pem`, `measurements.json` and `models.json` atomically (a reader never sees half a file).
fn publish(dir: &std::path::Path, root_pem: &str, pcrs: &BTreeMap<u16, Vec<u8>>, models: &[String]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in [
        ("dev-root.pem", root_pem.to_string()),
        ("measurements.json", measurements::published(pcrs).to_json()),
        // The served models, for a stack's profile (OpenGradient's wire has no model list).
        ("models.json", serde_json::json!(models).to_string()),
    ] {
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, dir.join(name))?;
    }
    Ok(())
}

fn public_router(state: Arc<AppState>) -> Router {
    use crate::wire::opengradient as og;
    Router::new()
        .route("/gateway", post(gateway))
        .route("/attestation", get(attestation))
        .route("/v1/ohttp", post(og::ohttp))
        .route("/enclave/attestation", get(og::attestation))
        .layer(DefaultBodyLimit::max(resource::MAX_REQUEST))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

fn admin_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/admin/rotate-keys", post(rotate))
        .route("/admin/observations", get(observations))
        .route("/admin/registry/leave", post(|s| registry_listing(s, false)))
        .route("/admin/registry/join", post(|s| registry_listing(s, true)))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
}

async fn observe(State(state): State<Arc<AppState>>, ConnectInfo(peer): ConnectInfo<SocketAddr>, req: Request, next: Next) -> Response {
    if !state.observations.enabled() {
        return next.run(req).await;
    }
    state.observations.record(Observation {
        peer: peer.to_string(),
        method: req.method().to_string(),
        path: req.uri().to_string(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
    });
    next.run(req).await
}

async fn gateway(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    resource::handle(state, body).await
}

#[derive(Deserialize)]
struct NonceQuery {
    nonce: Option<String>,
}

async fn attestation(State(state): State<Arc<AppState>>, Query(q): Query<NonceQuery>) -> Response {
    let nonce = match q.nonce.as_deref().map(hex::decode) {
        Some(Ok(n)) if !n.is_empty() && n.len() <= 64 => n,
        _ => return (StatusCode::BAD_REQUEST, "nonce must be 1 to 64 bytes of hex").into_response(),
    };
    state.observations.attestation();
    let keys = state.keys.current();
    let receipt_key = keys.receipts.public_key();
    let user_data = binding_user_data(&keys.key_config, &receipt_key);
    match state.attester.attest(&user_data, &nonce) {
        Ok(doc) => {
            let bundle = AttestationBundle::new(state.attester.format(), &doc, &keys.key_config, &receipt_key);
            ([(header::CACHE_CONTROL, "no-store")], Json(bundle)).into_response()
        }
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

/// The registry stand-in stops (or resumes) listing this TEE.
async fn registry_listing(State(state): State<Arc<AppState>>, listed: bool) -> Response {
    match &state.opengradient {
        Some(tee) => {
            tee.listed.store(listed, std::sync::atomic::Ordering::SeqCst);
            Json(serde_json::json!({"listed": listed})).into_response()
        }
        None => (StatusCode::NOT_FOUND, "not an OpenGradient gateway").into_response(),
    }
}

async fn rotate(State(state): State<Arc<AppState>>) -> Response {
    // A replica's keys are the keeper's: it rotates them for every replica.
    if let Some(source) = &state.key_source {
        return match crate::key_release::member::keeper_http().post(format!("{}/rotate", source.url)).send().await {
            Ok(r) => {
                let status = StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
                (status, r.text().await.unwrap_or_default()).into_response()
            }
            Err(e) => (StatusCode::BAD_GATEWAY, format!("the key keeper cannot be reached: {}", e.without_url())).into_response(),
        };
    }
    if let Some(tee) = &state.opengradient {
        if let Err(e) = tee.rotate() {
            return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
        }
    }
    match state.keys.rotate() {
        Ok(k) => Json(serde_json::json!({"key_id": k.key_id})).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn observations(State(state): State<Arc<AppState>>) -> Response {
    Json(state.observations.report()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_admin_and_registry_listeners_refuse_addresses_off_this_machine() {
        for (admin, registry) in [(Some("0.0.0.0:0"), None), (None, Some("192.0.2.1:0"))] {
            let config = GatewayConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                admin_listen: admin.map(|a| a.parse().unwrap()),
                state_dir: std::env::temp_dir(),
                backend: crate::BackendSpec::Scripted { script: "/nonexistent.json".into() },
                images: crate::ImagesSpec::Off,
                search: crate::SearchSpec::Off,
                key_source: None,
                wire: crate::Wire::Opengradient,
                registry_listen: registry.map(|a| a.parse().unwrap()),
            };
            let e = start(config).await.err().expect("refused").to_string();
            assert!(e.contains("not a loopback address"), "{e}");
        }
    }
}
