//! Discovery of OpenGradient's TEEs: `getActiveTEEs(tee_type)` read from the registry contract
//! over JSON-RPC `eth_call`, kept for the profile's refresh interval, filtered by the profile's
//! pins. A TEE that left the registry or changed its keys is dropped at the next refresh.
//!
//! The RPC endpoint learns that this address reads the registry (public data), nothing of
//! what is asked: requests themselves only ever go through the relay.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sotto_enclave_protocol::opengradient::ohttp::{AEAD_CHACHA20_POLY1305, KDF_HKDF_SHA256, KEM_X25519};
use sotto_enclave_protocol::opengradient::receipt::same_tee_id;
use sotto_enclave_protocol::opengradient::registry::{decode_active_tees, get_active_tees_calldata, RegisteredTee};
use sotto_relay_config::OpenGradientSpec;

use crate::InferenceError;

/// The largest registry answer read (a listing of a few TEEs is a few KiB).
const MAX_ANSWER: usize = 4 << 20;

pub(crate) struct Registry {
    spec: OpenGradientSpec,
    http: reqwest::Client,
    ledger: Option<std::sync::Arc<dyn crate::ledger::LedgerSink>>,
    cache: Mutex<Option<(Instant, Vec<RegisteredTee>)>>,
}

fn registry_err(m: impl Into<String>) -> InferenceError {
    InferenceError::Registry(m.into())
}

impl Registry {
    pub(crate) fn new(spec: OpenGradientSpec, timeout: Duration, ledger: Option<std::sync::Arc<dyn crate::ledger::LedgerSink>>) -> Result<Self, InferenceError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent("")
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| registry_err(e.to_string()))?;
        Ok(Self { spec, http, ledger, cache: Mutex::new(None) })
    }

    /// The usable TEEs: from the cache while it is fresh, else read again.
    pub(crate) async fn tees(&self, force: bool) -> Result<Vec<RegisteredTee>, InferenceError> {
        if !force {
            if let Some((at, tees)) = self.cache.lock().ok().and_then(|c| c.clone()) {
                if at.elapsed() < self.spec.refresh {
                    return Ok(tees);
                }
            }
        }
        let listed = self.read().await?;
        let usable = self.usable(listed)?;
        if let Ok(mut c) = self.cache.lock() {
            *c = Some((Instant::now(), usable.clone()));
        }
        Ok(usable)
    }

    /// One `eth_call` of `getActiveTEEs(tee_type)`.
    pub(crate) async fn read(&self) -> Result<Vec<RegisteredTee>, InferenceError> {
        let call = json!({
            "jsonrpc": "2.0", "id": 1, "method": "eth_call",
            "params": [{
                "to": format!("0x{}", hex::encode(self.spec.registry_address)),
                "data": format!("0x{}", hex::encode(get_active_tees_calldata(self.spec.tee_type))),
            }, "latest"],
        });
        let url = self.spec.rpc_url.clone();
        let body = call.to_string().into_bytes();
        let ticket = crate::ledger::Ticket::new(self.ledger.clone(), &url, "POST", crate::ledger::Purpose::Registry, body.len());
        let response = self
            .http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| registry_err(format!("the chain's RPC endpoint {url} could not be reached ({e})")))?;
        let answer = crate::transport::Answer::new(url.to_string(), response, ticket);
        let status = answer.status;
        // The client's own timeout bounds the read; the cap keeps the answer small.
        let body = crate::transport::read_limited(answer, MAX_ANSWER, Duration::from_secs(3600))
            .await
            .map_err(|_| registry_err(format!("the answer of {url} could not be read")))?;
        if !status.is_success() {
            return Err(registry_err(format!("{url} answered HTTP {}", status.as_u16())));
        }
        let answer: Value = serde_json::from_slice(&body).map_err(|_| registry_err(format!("{url} did not answer JSON-RPC")))?;
        if let Some(message) = answer.pointer("/error/message").and_then(Value::as_str) {
            return Err(registry_err(format!("the registry call failed: {}", message.chars().take(200).collect::<String>())));
        }
        let result = answer
            .get("result")
            .and_then(Value::as_str)
            .ok_or_else(|| registry_err("the RPC answer has no result"))?;
        let data = hex::decode(result.trim_start_matches("0x")).map_err(|_| registry_err("the RPC result is not hex"))?;
        decode_active_tees(&data).map_err(|e| registry_err(e.to_string()))
    }

    /// Keeps the TEEs this client can use and the profile allows; says why when none is left.
    fn usable(&self, listed: Vec<RegisteredTee>) -> Result<Vec<RegisteredTee>, InferenceError> {
        if listed.is_empty() {
            return Err(registry_err(format!("the registry lists no active TEE of type {}", self.spec.tee_type)));
        }
        let mut reasons = Vec::new();
        let keep: Vec<RegisteredTee> = listed
            .into_iter()
            .filter(|t| match self.refusal(t) {
                None => true,
                Some(why) => {
                    reasons.push(format!("{}: {why}", short_id(&t.tee_id)));
                    false
                }
            })
            .collect();
        if keep.is_empty() {
            return Err(registry_err(format!("no listed TEE can be used ({})", reasons.join("; "))));
        }
        Ok(keep)
    }

    fn refusal(&self, t: &RegisteredTee) -> Option<String> {
        if let Some(pin) = &self.spec.tee_id {
            if !same_tee_id(pin, &t.tee_id) {
                return Some("not the TEE the profile pins".into());
            }
        }
        if let Some(pin) = self.spec.pcr_hash {
            if pin != t.pcr_hash {
                return Some(format!("its code measurement (pcrHash 0x{}) is not the one the profile pins (0x{})", hex::encode(t.pcr_hash), hex::encode(pin)));
            }
        }
        if !t.enabled {
            return Some("disabled".into());
        }
        match &t.ohttp {
            None => Some("it publishes no OHTTP key".into()),
            Some(k) if (k.kem_id, k.kdf_id, k.aead_id) != (KEM_X25519, KDF_HKDF_SHA256, AEAD_CHACHA20_POLY1305) => {
                Some(format!("its HPKE suite {:#06x}/{:#06x}/{:#06x} is not spoken here", k.kem_id, k.kdf_id, k.aead_id))
            }
            Some(k) if k.public_key.len() != 32 => Some("its OHTTP key is not 32 bytes".into()),
            Some(_) => None,
        }
    }
}

pub(crate) fn short_id(tee_id: &str) -> String {
    tee_id.chars().take(12).collect::<String>() + "…"
}
