//! The key keeper: holds the replicas' key set and releases it, sealed, to a replica whose
//! attestation checks out (see the module above). A stand-in for a KMS with attestation
//! conditions, listening on this machine only.

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};
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
use ed25519_dalek::SigningKey;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::{binding, seal, KeyEntry, KeySet, ReleaseRequest, GRACE, MAX_DOCUMENT_AGE, SETTLE};

/// Nonces a replica may use, each once, for this long.
const NONCE_LIFETIME: Duration = Duration::from_secs(30);
/// The measurements a replica must report for the keeper to pin them (code, kernel, config).
const REQUIRED_PCRS: [u16; 3] = [0, 1, 2];
/// A nonce: issue time (ms, 8 bytes), 16 random bytes, the keeper's MAC over both (16 bytes).
const NONCE_LEN: usize = 40;

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
    /// Nonces already used (only verified releases add one), until they would expire anyway.
    used: Mutex<HashMap<Vec<u8>, Instant>>,
    nonce_key: [u8; 32],
    /// Signs every release: replicas take keys only from the keeper they were started with.
    signer: SigningKey,
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
            used: Mutex::new(HashMap::new()),
            nonce_key: rand::random(),
            signer: SigningKey::from_bytes(&rand::random()),
            pinned: Mutex::new(None),
            roots_dir,
        }
    }

    /// The key replicas must be started with (`--keeper-key`), hex.
    pub fn public_key_hex(&self) -> String {
        super::keeper_public_hex(&self.signer)
    }

    fn nonce_mac(&self, issued_and_random: &[u8]) -> [u8; 16] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.nonce_key).expect("HMAC takes a key of any length");
        mac.update(issued_and_random);
        let tag = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&tag[..16]);
        out
    }

    /// A fresh nonce; the keeper keeps nothing until one comes back with a verified document.
    pub fn nonce(&self) -> Vec<u8> {
        let mut n = crate::now_ms().to_be_bytes().to_vec();
        n.extend_from_slice(&rand::random::<[u8; 16]>());
        let mac = self.nonce_mac(&n);
        n.extend_from_slice(&mac);
        n
    }

    /// Whether this keeper issued the nonce within its lifetime.
    fn nonce_is_current(&self, nonce: &[u8]) -> bool {
        if nonce.len() != NONCE_LEN {
            return false;
        }
        let (body, tag) = nonce.split_at(24);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.nonce_key).expect("HMAC takes a key of any length");
        mac.update(body);
        let issued = u64::from_be_bytes(body[..8].try_into().unwrap_or_default());
        mac.verify_truncated_left(tag).is_ok() && crate::now_ms().saturating_sub(issued) <= NONCE_LIFETIME.as_millis() as u64 && issued <= crate::now_ms() + 1000
    }

    /// Marks a nonce used; false if it was already.
    fn use_nonce(&self, nonce: &[u8]) -> bool {
        let mut used = lock(&self.used);
        used.retain(|_, at| at.elapsed() < NONCE_LIFETIME + Duration::from_secs(2));
        used.insert(nonce.to_vec(), Instant::now()).is_none()
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
        if !self.nonce_is_current(&nonce) {
            return Err("the nonce was not issued here or expired".into());
        }
        let document = B64.decode(&request.document).map_err(|_| "the document is not base64")?;
        let public_key = B64.decode(&request.public_key).map_err(|_| "the public key is not base64")?;
        // The document is verified outside the lock (it is slow, and replicas poll); the pin
        // is set under it, so two replicas joining at once cannot both be "the first", whose
        // measurements become the policy: the second is held to the first's.
        let pinned_then = lock(&self.pinned).clone();
        let policy = sotto_attestation::Policy {
            roots: self.roots(),
            expected_pcrs: pinned_then.clone().unwrap_or_default(),
            nonce: Some(nonce.clone()),
            user_data: Some(binding(&public_key)),
            max_age: Some(MAX_DOCUMENT_AGE),
            at: SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default(),
        };
        let verified = sotto_attestation::verify(&document, &policy).map_err(|e| format!("the replica's attestation does not check out: {e}"))?;
        if pinned_then.is_none() {
            let pcrs: BTreeMap<u16, Vec<u8>> = verified.document.pcrs.into_iter().filter(|(i, _)| REQUIRED_PCRS.contains(i)).collect();
            if let Some(missing) = REQUIRED_PCRS.iter().find(|i| !pcrs.contains_key(i)) {
                return Err(format!("the replica's attestation has no PCR{missing}, so there is nothing to hold later replicas to"));
            }
            let mut pinned = lock(&self.pinned);
            match &*pinned {
                None => {
                    tracing::info!("key keeper: measurements pinned from the first replica (PCR0..2)");
                    *pinned = Some(pcrs);
                }
                Some(first) if *first != pcrs => return Err("the replica's measurements differ from the first replica's".into()),
                Some(_) => {}
            }
        }
        if !self.use_nonce(&nonce) {
            return Err("the nonce was used already".into());
        }
        let keys = lock(&self.keys).key_set();
        seal(&self.signer, &nonce, &public_key, &keys)
    }

    /// Starts a rotation: next keys accepted everywhere now, current after [`SETTLE`].
    pub fn rotate(self: &Arc<Self>) -> Result<u8, String> {
        let next = {
            let mut keys = lock(&self.keys);
            if keys.next.is_some() {
                return Err("a rotation is already under way".into());
            }
            // The previous keys must have had their grace period: a client that attested them
            // a minute ago must still be served.
            if let Some((_, since)) = &keys.previous {
                let left = GRACE.saturating_sub(since.elapsed());
                if !left.is_zero() {
                    return Err(format!("the previous keys are still accepted for {} s; rotate again after that", left.as_secs() + 1));
                }
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
pub async fn start(listen: SocketAddr, roots_dir: PathBuf) -> anyhow::Result<(SocketAddr, String)> {
    if !listen.ip().is_loopback() {
        anyhow::bail!("{listen} is not a loopback address: the development key keeper listens on this machine only");
    }
    let keeper = Arc::new(Keeper::new(roots_dir));
    let public_key = keeper.public_key_hex();
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
    Ok((addr, public_key))
}

async fn nonce(State(k): State<Arc<Keeper>>) -> Response {
    Json(json!({"nonce": hex::encode(k.nonce())})).into_response()
}

async fn release(State(k): State<Arc<Keeper>>, Json(request): Json<ReleaseRequest>) -> Response {
    // Verifying a document is CPU work: off the async workers.
    let released = tokio::task::spawn_blocking(move || k.release(&request)).await.unwrap_or_else(|_| Err("the key keeper failed while checking".into()));
    match released {
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
    use crate::key_release::{key_pair, open, parse_keeper_key, PrivateKey};

    fn pcrs(v: u8) -> BTreeMap<u16, Vec<u8>> {
        (0..3).map(|i| (i, vec![v; 48])).collect()
    }

    /// A replica's request from `attester` (its root written where the keeper looks).
    fn request(keeper: &Keeper, attester: &DevelopmentAttester, public_key: &[u8], bound_key: &[u8]) -> ReleaseRequest {
        let nonce = keeper.nonce();
        let document = attester.attest(&binding(bound_key), &nonce).unwrap();
        ReleaseRequest { nonce: hex::encode(nonce), document: B64.encode(document), public_key: B64.encode(public_key) }
    }

    fn opened(keeper: &Keeper, request: &ReleaseRequest, sk: &PrivateKey) -> KeySet {
        let reply = keeper.release(request).unwrap();
        let expected = parse_keeper_key(&keeper.public_key_hex()).unwrap();
        let public_key = B64.decode(&request.public_key).unwrap();
        open(&expected, &hex::decode(&request.nonce).unwrap(), sk, &public_key, &reply).unwrap()
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
        let set = opened(&keeper, &ok, &sk);

        // The same nonce again: refused.
        assert!(keeper.release(&ok).unwrap_err().contains("nonce"));
        // A document bound to another key: refused (a relay cannot swap in its own key).
        let (_, other) = key_pair();
        let swapped = request(&keeper, &first, &other, &pk);
        assert!(keeper.release(&swapped).unwrap_err().contains("does not check out"));
        // A document over the bare key hash, without the key-release label (made for another
        // purpose, as a client's is): refused.
        let nonce = keeper.nonce();
        let unlabelled = first.attest(&sotto_enclave_protocol::sha256(&pk), &nonce).unwrap();
        let r = ReleaseRequest { nonce: hex::encode(nonce), document: B64.encode(unlabelled), public_key: B64.encode(&pk) };
        assert!(keeper.release(&r).unwrap_err().contains("does not check out"));
        // Another replica that measures alike gets the same keys.
        let second = DevelopmentAttester::new(pcrs(1)).unwrap();
        place(dir.path(), "1", &second);
        let (sk2, pk2) = key_pair();
        assert_eq!(opened(&keeper, &request(&keeper, &second, &pk2, &pk2), &sk2), set);
        // Different measurements (another build or configuration): refused.
        let odd = DevelopmentAttester::new(pcrs(2)).unwrap();
        place(dir.path(), "2", &odd);
        let e = keeper.release(&request(&keeper, &odd, &pk2, &pk2)).unwrap_err();
        assert!(e.contains("PCR"), "{e}");
        // A root the keeper was not given: refused.
        let stranger = DevelopmentAttester::new(pcrs(1)).unwrap();
        assert!(keeper.release(&request(&keeper, &stranger, &pk2, &pk2)).unwrap_err().contains("does not check out"));
    }

    #[test]
    fn nonces_are_the_keepers_own_fresh_and_single_use() {
        let dir = tempfile::tempdir().unwrap();
        let keeper = Keeper::new(dir.path().to_path_buf());
        let attester = DevelopmentAttester::new(pcrs(1)).unwrap();
        place(dir.path(), "0", &attester);
        let (_, pk) = key_pair();
        let refused = |nonce: Vec<u8>| {
            let document = attester.attest(&binding(&pk), &nonce).unwrap();
            let r = ReleaseRequest { nonce: hex::encode(nonce), document: B64.encode(document), public_key: B64.encode(&pk) };
            keeper.release(&r).unwrap_err()
        };
        // Made up, of the right length: refused.
        assert!(refused(vec![7; NONCE_LEN]).contains("not issued here"));
        // Another keeper's: refused.
        assert!(refused(Keeper::new(dir.path().to_path_buf()).nonce()).contains("not issued here"));
        // Issued here, but its time changed (an old one made young): the MAC no longer matches.
        let mut n = keeper.nonce();
        n[7] ^= 1;
        assert!(refused(n).contains("not issued here"));
        // Asking for nonces costs the keeper nothing: none is kept until a release verifies.
        for _ in 0..20_000 {
            keeper.nonce();
        }
        assert!(lock(&keeper.used).is_empty());
    }

    #[test]
    fn the_first_replica_must_report_every_pinned_measurement() {
        let dir = tempfile::tempdir().unwrap();
        let keeper = Keeper::new(dir.path().to_path_buf());
        let partial = DevelopmentAttester::new((0..2).map(|i| (i, vec![1; 48])).collect()).unwrap();
        place(dir.path(), "0", &partial);
        let (_, pk) = key_pair();
        let e = keeper.release(&request(&keeper, &partial, &pk, &pk)).unwrap_err();
        assert!(e.contains("no PCR2"), "{e}");
        assert!(lock(&keeper.pinned).is_none(), "nothing was pinned");
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
        // A second rotation now would drop keys a client attested a few seconds ago.
        let e = keeper.rotate().unwrap_err();
        assert!(e.contains("still accepted"), "{e}");
    }
}
