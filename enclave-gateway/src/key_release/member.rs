//! A replica's side of key release: join (get the key set before serving) and keep up (ask
//! again every poll, so rotations arrive). Keys are taken only when signed by the keeper this
//! replica was started with, and only for a newer epoch than it holds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::VerifyingKey;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::{binding, key_pair, open, parse_keeper_key, seed_bytes, KeySet, ReleaseReply, ReleaseRequest, GRACE, POLL};
use crate::attester::Attester;
use crate::keys::{EnclaveKeys, KeyRing};

/// How long a starting replica waits for the keeper.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a release failed: the keeper could not be reached (worth waiting for), or it refused.
#[derive(Debug)]
pub enum ReleaseError {
    Unreachable(String),
    Refused(String),
}

impl std::fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable(m) | Self::Refused(m) => f.write_str(m),
        }
    }
}

/// How long one exchange with the keeper may take: a keeper that accepts and never answers
/// counts as unreachable (so the grace period can run out), not as a wait without end.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);

/// The HTTP client for the keeper, with its timeouts.
pub fn keeper_http() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(EXCHANGE_TIMEOUT)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// The keeper a replica talks to: its address and the key its releases must be signed with.
pub struct KeeperLink {
    pub url: String,
    pub key: VerifyingKey,
}

impl KeeperLink {
    pub fn new(source: &crate::KeySource) -> anyhow::Result<Self> {
        Ok(Self { url: source.url.trim_end_matches('/').to_string(), key: parse_keeper_key(&source.keeper_key).map_err(anyhow::Error::msg)? })
    }
}

/// One release: a nonce, an attestation over a fresh key and the nonce, the key set opened.
pub async fn fetch(http: &reqwest::Client, keeper: &KeeperLink, attester: &dyn Attester) -> Result<KeySet, ReleaseError> {
    let source = &keeper.url;
    let reached = |e: reqwest::Error| ReleaseError::Unreachable(format!("the key keeper at {source} cannot be reached ({})", e.without_url()));
    let answer: serde_json::Value = http.get(format!("{source}/key-release/nonce")).send().await.map_err(reached)?.json().await.map_err(reached)?;
    let refused = |m: String| ReleaseError::Refused(m);
    let nonce_hex = answer["nonce"].as_str().ok_or_else(|| refused("the key keeper gave no nonce".into()))?.to_string();
    let nonce = hex::decode(&nonce_hex).map_err(|_| refused("the key keeper's nonce is not hex".into()))?;
    let (sk, pk) = key_pair();
    let document = attester.attest(&binding(&pk), &nonce).map_err(|e| refused(format!("cannot attest for the key keeper: {e}")))?;
    let request = ReleaseRequest { nonce: nonce_hex, document: B64.encode(document), public_key: B64.encode(&pk) };
    let response = http.post(format!("{source}/key-release")).json(&request).send().await.map_err(reached)?;
    if !response.status().is_success() {
        let status = response.status().as_u16();
        return Err(refused(format!("the key keeper refused the keys (HTTP {status}): {}", response.text().await.unwrap_or_default())));
    }
    let reply: ReleaseReply = response.json().await.map_err(reached)?;
    open(&keeper.key, &nonce, &sk, &pk, &reply).map_err(refused)
}

/// The keys a key set stands for.
fn keys_of(set: &KeySet) -> Result<(Arc<EnclaveKeys>, Vec<Arc<EnclaveKeys>>), String> {
    let derive = |e: &super::KeyEntry| -> Result<Arc<EnclaveKeys>, String> {
        Ok(Arc::new(EnclaveKeys::derive(e.key_id, &seed_bytes(e)?).map_err(|e| e.to_string())?))
    };
    Ok((derive(&set.current)?, set.accepted.iter().map(derive).collect::<Result<_, _>>()?))
}

/// The first key set, waited for while the keeper starts (a refusal ends it at once).
pub async fn join(http: &reqwest::Client, source: &crate::KeySource, attester: &dyn Attester) -> anyhow::Result<(KeyRing, u64)> {
    let keeper = KeeperLink::new(source)?;
    let deadline = tokio::time::Instant::now() + JOIN_TIMEOUT;
    loop {
        match fetch(http, &keeper, attester).await {
            Ok(set) => {
                let (current, accepted) = keys_of(&set).map_err(anyhow::Error::msg)?;
                return Ok((KeyRing::with(current, accepted), set.epoch));
            }
            Err(ReleaseError::Refused(e)) => anyhow::bail!("{e}"),
            Err(e) if tokio::time::Instant::now() >= deadline => anyhow::bail!("{e}"),
            Err(ReleaseError::Unreachable(_)) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Whether a released set replaces the one held: only a newer epoch does (an older one is stale,
/// or replayed by whoever answers at the keeper's address).
fn replaces(offered: &KeySet, held_epoch: u64) -> bool {
    offered.epoch > held_epoch
}

/// Keeps the replica's keys in step with the keeper. A failed poll keeps the keys it has; after
/// [`GRACE`] without an answer only the current keys stay (others it might have been told to
/// drop); an older epoch than held is never installed (a replayed or stale key set).
pub fn keep_up(state: Arc<crate::server::AppState>, source: &crate::KeySource, mut epoch: u64) -> anyhow::Result<()> {
    let keeper = KeeperLink::new(source)?;
    tokio::spawn(async move {
        let http = keeper_http();
        let mut last_heard = Instant::now();
        let mut failing = false;
        loop {
            tokio::time::sleep(POLL).await;
            match fetch(&http, &keeper, state.attester.as_ref()).await {
                Ok(set) => {
                    last_heard = Instant::now();
                    if failing {
                        tracing::info!("the key keeper answers again");
                        failing = false;
                    }
                    if replaces(&set, epoch) {
                        match keys_of(&set) {
                            Ok((current, accepted)) => {
                                state.keys.install(current, accepted);
                                epoch = set.epoch;
                            }
                            Err(e) => tracing::warn!("released keys not usable: {e}"),
                        }
                    }
                }
                Err(e) => {
                    // Said once per outage, not every poll.
                    if !failing {
                        tracing::warn!("keeping the current keys: {e}");
                        failing = true;
                    }
                    if last_heard.elapsed() > GRACE && state.keys.drop_accepted() {
                        tracing::warn!("no word from the key keeper for {} s: only the current keys are kept", GRACE.as_secs());
                    }
                }
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key_release::KeyEntry;

    #[test]
    fn only_a_newer_epoch_replaces_the_keys_held() {
        let set = |epoch| KeySet { epoch, current: KeyEntry { key_id: 1, seed: "00".repeat(32) }, accepted: vec![] };
        assert!(replaces(&set(3), 2));
        assert!(!replaces(&set(2), 2), "the same epoch: nothing to do");
        assert!(!replaces(&set(1), 2), "an older one: stale or replayed");
    }
}
