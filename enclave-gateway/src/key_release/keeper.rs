//! The key keeper: holds the replicas' key set and releases it, sealed, to a replica whose
//! attestation checks out (see the module above). A stand-in for a KMS with attestation
//! conditions, listening on this machine only.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::json;

use super::{binding, seal, KeyEntry, KeySet, ReleaseRequest, GRACE, MAX_DOCUMENT_AGE, SETTLE};

/// Nonces a replica may use, each once, for this long.
const NONCE_LIFETIME: Duration = Duration::from_secs(30);
const MAX_NONCES: usize = 10_000;

struct Generations {
    epoch: u64,
    current: KeyEntry,
    next: Option<KeyEntry>,
    previous: Option<(KeyEntry, Instant)>,
}

impl Generations {
    fn key_set(&mut self) -> KeySet {
        if self.previous.as_ref().is_some_and(|(_, since)| since.elapsed() > GRACE) {
            self.previous = None;
            self.epoch += 1;
        }
        let accepted = self.next.iter().cloned().chain(self.previous.iter().map(|(k, _)| k.clone())).collect();
        KeySet { epoch: self.epoch, current: self.current.clone(), accepted }
    }
}

pub struct Keeper {
    keys: Mutex<Generations>,
    nonces: Mutex<HashMap<Vec<u8>, Instant>>,
    /// The measurements every replica must report: those of the first that joined.
    pinned: Mutex<Option<BTreeMap<u16, Vec<u8>>>>,
    /// Where the replicas' development roots are (`*/dev-root.pem` below it).
    roots_dir: PathBuf,
}

fn fresh(key_id: u8) -> KeyEntry {
    KeyEntry { key_id, seed: hex::encode(rand::random::<[u8; 32]>()) }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Keeper {
    pub fn new(roots_dir: PathBuf) -> Self {
        Self {
            keys: Mutex::new(Generations { epoch: 1, current: fresh(rand::random()), next: None, previous: None }),
            nonces: Mutex::new(HashMap::new()),
            pinned: Mutex::new(None),
            roots_dir,
        }
    }

    fn nonce(&self) -> Result<Vec<u8>, String> {
        let mut nonces = lock(&self.nonces);
        nonces.retain(|_, at| at.elapsed() < NONCE_LIFETIME);
        if nonces.len() >= MAX_NONCES {
            return Err("too many key releases are waiting; try again shortly".into());
        }
        let n = rand::random::<[u8; 32]>().to_vec();
        nonces.insert(n.clone(), Instant::now());
        Ok(n)
    }

    /// The development roots of the replicas (each wrote its own into its state folder).
    fn roots(&self) -> Vec<Vec<u8>> {
        let mut roots = Vec::new();
        for entry in std::fs::read_dir(&self.roots_dir).into_iter().flatten().flatten() {
            if let Ok(pem) = std::fs::read_to_string(entry.path().join("dev-root.pem")) {
                roots.extend(sotto_attestation::pem_to_der(&pem).unwrap_or_default());
            }
        }
        roots
    }

    /// Checks a replica's request; the key set sealed to its key when it passes.
    pub fn release(&self, request: &ReleaseRequest) -> Result<super::ReleaseReply, String> {
        let nonce = hex::decode(&request.nonce).map_err(|_| "the nonce is not hex")?;
        if lock(&self.nonces).remove(&nonce).is_none_or(|at| at.elapsed() > NONCE_LIFETIME) {
            return Err("the nonce was not issued here, was used already or expired".into());
        }
        let document = B64.decode(&request.document).map_err(|_| "the document is not base64")?;
        let public_key = B64.decode(&request.public_key).map_err(|_| "the public key is not base64")?;
        let pinned = lock(&self.pinned).clone();
        let policy = sotto_attestation::Policy {
            roots: self.roots(),
            expected_pcrs: pinned.clone().unwrap_or_default(),
            nonce: Some(nonce),
            user_data: Some(binding(&public_key)),
            max_age: Some(MAX_DOCUMENT_AGE),
            at: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default(),
        };
        let verified = sotto_attestation::verify(&document, &policy).map_err(|e| format!("the replica's attestation does not check out: {e}"))?;
        if pinned.is_none() {
            let pcrs: BTreeMap<u16, Vec<u8>> = verified.document.pcrs.into_iter().filter(|(i, _)| *i <= 2).collect();
            tracing::info!("key keeper: measurements pinned from the first replica (PCR0..2)");
            *lock(&self.pinned) = Some(pcrs);
        }
        let keys = lock(&self.keys).key_set();
        seal(&public_key, &keys)
    }

    /// Starts a rotation: next keys accepted everywhere now, current after [`SETTLE`].
    pub fn rotate(self: &Arc<Self>) -> Result<u8, String> {
        let next = {
            let mut keys = lock(&self.keys);
            if keys.next.is_some() {
                return Err("a rotation is already under way".into());
            }
            let next = fresh(keys.current.key_id.wrapping_add(1));
            keys.next = Some(next.clone());
            keys.epoch += 1;
            next
        };
        let keeper = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(SETTLE).await;
            let mut keys = lock(&keeper.keys);
            if let Some(next) = keys.next.take() {
                let old = std::mem::replace(&mut keys.current, next);
                keys.previous = Some((old, Instant::now()));
                keys.epoch += 1;
            }
        });
        Ok(next.key_id)
    }
}

/// Starts the keeper on a loopback address; returns the address it listens on.
pub async fn start(listen: SocketAddr, roots_dir: PathBuf) -> anyhow::Result<SocketAddr> {
    if !listen.ip().is_loopback() {
        anyhow::bail!("{listen} is not a loopback address: the development key keeper listens on this machine only");
    }
    let keeper = Arc::new(Keeper::new(roots_dir));
    let app = Router::new()
        .route("/key-release/nonce", get(nonce))
        .route("/key-release", post(release))
        .route("/rotate", post(rotate))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(keeper);
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("the key keeper stopped: {e}");
        }
    });
    Ok(addr)
}

async fn nonce(State(k): State<Arc<Keeper>>) -> Response {
    match k.nonce() {
        Ok(n) => Json(json!({"nonce": hex::encode(n)})).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    }
}

async fn release(State(k): State<Arc<Keeper>>, Json(request): Json<ReleaseRequest>) -> Response {
    match k.release(&request) {
        Ok(reply) => Json(reply).into_response(),
        Err(e) => {
            tracing::warn!("key keeper: release refused: {e}");
            (StatusCode::FORBIDDEN, e).into_response()
        }
    }
}

async fn rotate(State(k): State<Arc<Keeper>>) -> Response {
    match k.rotate() {
        Ok(id) => Json(json!({"key_id": id, "settles_in_ms": SETTLE.as_millis() as u64})).into_response(),
        Err(e) => (StatusCode::CONFLICT, e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attester::{Attester, DevelopmentAttester};
    use crate::key_release::{key_pair, open};

    fn pcrs(v: u8) -> BTreeMap<u16, Vec<u8>> {
        (0..3).map(|i| (i, vec![v; 48])).collect()
    }

    /// A replica's request from `attester` (its root written where the keeper looks).
    fn request(keeper: &Keeper, attester: &DevelopmentAttester, public_key: &[u8], bound_key: &[u8]) -> ReleaseRequest {
        let nonce = keeper.nonce().unwrap();
        let document = attester.attest(&binding(bound_key), &nonce).unwrap();
        ReleaseRequest { nonce: hex::encode(nonce), document: B64.encode(document), public_key: B64.encode(public_key) }
    }

    fn place(dir: &std::path::Path, name: &str, attester: &DevelopmentAttester) {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::fs::write(dir.join(name).join("dev-root.pem"), attester.root_pem()).unwrap();
    }

    #[test]
    fn keys_go_only_to_an_attested_replica_that_measures_like_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let keeper = Keeper::new(dir.path().to_path_buf());
        let first = DevelopmentAttester::new(pcrs(1)).unwrap();
        place(dir.path(), "0", &first);
        let (sk, pk) = key_pair();
        let ok = request(&keeper, &first, &pk, &pk);
        let set = open(&sk, &keeper.release(&ok).unwrap()).unwrap();

        // The same nonce again: refused.
        assert!(keeper.release(&ok).unwrap_err().contains("nonce"));
        // A document bound to another key: refused (a relay cannot swap in its own key).
        let (_, other) = key_pair();
        let swapped = request(&keeper, &first, &other, &pk);
        assert!(keeper.release(&swapped).unwrap_err().contains("does not check out"));
        // Another replica that measures alike gets the same keys.
        let second = DevelopmentAttester::new(pcrs(1)).unwrap();
        place(dir.path(), "1", &second);
        let (sk2, pk2) = key_pair();
        assert_eq!(open(&sk2, &keeper.release(&request(&keeper, &second, &pk2, &pk2)).unwrap()).unwrap(), set);
        // Different measurements (another build or configuration): refused.
        let odd = DevelopmentAttester::new(pcrs(2)).unwrap();
        place(dir.path(), "2", &odd);
        let e = keeper.release(&request(&keeper, &odd, &pk2, &pk2)).unwrap_err();
        assert!(e.contains("PCR"), "{e}");
        // A root the keeper was not given: refused.
        let stranger = DevelopmentAttester::new(pcrs(1)).unwrap();
        assert!(keeper.release(&request(&keeper, &stranger, &pk2, &pk2)).unwrap_err().contains("does not check out"));
    }

    #[tokio::test]
    async fn a_rotation_is_accepted_everywhere_before_it_is_current() {
        let keeper = Arc::new(Keeper::new(std::env::temp_dir()));
        let before = lock(&keeper.keys).key_set();
        let next = keeper.rotate().unwrap();
        assert!(keeper.rotate().is_err(), "one rotation at a time");
        let settling = lock(&keeper.keys).key_set();
        assert_eq!(settling.current, before.current, "not advertised yet");
        assert!(settling.accepted.iter().any(|k| k.key_id == next), "but accepted");
        tokio::time::sleep(SETTLE + Duration::from_millis(200)).await;
        let after = lock(&keeper.keys).key_set();
        assert_eq!(after.current.key_id, next);
        assert!(after.accepted.contains(&before.current), "the old keys stay accepted for the grace period");
    }
}
