//! Step 1 of the private path: verify the enclave before anything of the user's is sent.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sotto_attestation::{verify, Policy};
use sotto_enclave_protocol::{binding_user_data, AttestationBundle};
use sotto_relay_config::{EnclaveKind, Profile};

use crate::ledger::Purpose;
use crate::transport::{read_limited, Transport};
use crate::{Clock, InferenceError};

/// Who answered, as proven by its attestation: shown with every reply.
#[derive(Debug, Clone, Serialize)]
pub struct EnclaveIdentity {
    /// `aws-nitro` or `development` (not hardware-protected).
    pub kind: String,
    pub module_id: String,
    /// The PCRs the document reported (hex), all of which the profile's expectations matched.
    pub pcrs: BTreeMap<u16, String>,
    /// The PCR numbers the profile checked.
    pub checked_pcrs: Vec<u16>,
    pub root_sha256: String,
    pub document_timestamp_ms: u64,
    pub ohttp_key_id: u8,
    pub receipt_key_id: String,
    /// The relay the attestation came through.
    pub relay: String,
    /// What was checked, in words: "attested on this device", or "keys from the registry" when
    /// an OpenGradient TEE's document could not be fetched through the relay.
    #[serde(default)]
    pub trust: String,
    /// What kind of TEE answers, in words (OpenGradient's forward prompts to a provider).
    #[serde(default)]
    pub tee_class: String,
}

/// `trust` of an enclave whose attestation document this device verified. (For an OpenGradient
/// TEE the document binds its code and signing key; its OHTTP key comes from the registry, as
/// OpenGradient's attestation does not cover it: the reply's receipt still proves the TEE.)
pub const ATTESTED_HERE: &str = "attested on this device";
/// `trust` of an OpenGradient TEE whose document chained to a root other than AWS's (the
/// offline stand-in's development root).
pub const ATTESTED_DEVELOPMENT: &str = "attested on this device against a development root — not hardware-protected (code and signing key; its OHTTP key is the registry's)";
/// `trust` of an OpenGradient TEE known only from the registry.
pub const KEYS_FROM_REGISTRY: &str = "keys from the registry (its attestation could not be fetched through the relay, so it was not checked here)";
/// `tee_class` of Sotto's enclaves.
pub const MODEL_IN_ENCLAVE: &str = "model runs inside the enclave";
/// `tee_class` of OpenGradient's LLM TEEs.
pub const PROVIDER_PROXY: &str = "CPU TEE proxy: forwards the prompt to a third-party model provider (OpenAI, Anthropic, Google, xAI…), which sees it; the model does not run in the TEE";

/// A verified enclave: the keys it proved it holds, valid until `valid_until`.
#[derive(Debug, Clone)]
pub struct AttestedEnclave {
    pub key_config: Vec<u8>,
    pub receipt_public_key: Vec<u8>,
    pub identity: EnclaveIdentity,
    pub valid_until: SystemTime,
    /// What the check was made on, kept so that it can be made again later, offline.
    pub evidence: Option<AttestationEvidence>,
}

#[cfg(any(test, fuzzing))]
impl AttestedEnclave {
    /// An enclave taken on trust, for the reply reader's tests and fuzz targets only: these
    /// keys, no attestation behind them.
    pub(crate) fn unattested(key_config: Vec<u8>, receipt_public_key: Vec<u8>) -> Self {
        AttestedEnclave {
            key_config,
            receipt_public_key,
            identity: EnclaveIdentity {
                kind: "development".into(),
                module_id: "unattested".into(),
                pcrs: Default::default(),
                checked_pcrs: vec![],
                root_sha256: String::new(),
                document_timestamp_ms: 0,
                ohttp_key_id: 1,
                receipt_key_id: String::new(),
                relay: String::new(),
                trust: String::new(),
                tee_class: String::new(),
            },
            valid_until: SystemTime::now(),
            evidence: None,
        }
    }
}

/// Everything a verification of an attestation used, so anyone can repeat it: the gateway's
/// bundle as received, the nonce sent, the root the chain ended at, the expectations in force
/// and the time of the check. (Serialized as in the proof format, `docs/proof-format.md`.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct AttestationEvidence {
    /// The attestation bundle exactly as the relay delivered it (JSON), base64.
    #[serde(with = "crate::proof::base64_bytes")]
    pub bundle: Vec<u8>,
    /// The nonce this device sent, hex.
    pub nonce: String,
    /// The DER certificate the chain ended at, base64.
    #[serde(with = "crate::proof::base64_bytes")]
    pub trust_root: Vec<u8>,
    /// The measurements the profile required then, PCR index → hex.
    pub expected_pcrs: BTreeMap<u16, String>,
    /// The largest document age the profile accepted, in seconds.
    pub max_document_age_s: u64,
    /// When this device made the check (ms since the Unix epoch); a re-check is made as of then.
    pub checked_at_ms: u64,
}

/// The checks a profile asks for, minus the per-request nonce and binding.
pub(crate) struct TrustPolicy {
    pub roots: Vec<Vec<u8>>,
    pub expected_pcrs: BTreeMap<u16, Vec<u8>>,
    pub kind: EnclaveKind,
    pub attestation_path: String,
    pub max_age: std::time::Duration,
    pub key_cache: std::time::Duration,
}

impl TrustPolicy {
    /// For a profile whose enclaves are attested another way (OpenGradient's wire).
    pub(crate) fn unused() -> Self {
        Self {
            roots: Vec::new(),
            expected_pcrs: BTreeMap::new(),
            kind: EnclaveKind::AwsNitro,
            attestation_path: String::new(),
            max_age: std::time::Duration::from_secs(120),
            key_cache: std::time::Duration::from_secs(0),
        }
    }

    pub(crate) fn from_profile(profile: &Profile) -> Result<Self, InferenceError> {
        let mut roots = Vec::new();
        for pem in profile.trust_roots_pem()? {
            roots.extend(sotto_attestation::pem_to_der(&pem)?);
        }
        Ok(Self {
            roots,
            expected_pcrs: profile.enclave.expected_pcrs.0.clone(),
            kind: profile.enclave.kind,
            attestation_path: profile.enclave.attestation_path.clone(),
            max_age: profile.enclave.max_document_age,
            key_cache: profile.enclave.key_cache,
        })
    }
}

/// Fetches a bundle with a fresh nonce and verifies it.
pub(crate) async fn attest(transport: &Transport, trust: &TrustPolicy, clock: &dyn Clock) -> Result<AttestedEnclave, InferenceError> {
    let nonce: [u8; 32] = rand::random();
    let answer = transport
        .get(&format!("{}?nonce={}", trust.attestation_path, hex::encode(nonce)), Purpose::Attestation)
        .await?;
    let (status, relay) = (answer.status, answer.relay.clone());
    let body = read_limited(answer, MAX_BUNDLE, transport.stall()).await.map_err(|e| match e {
        InferenceError::Malformed(why) => InferenceError::Bundle(why),
        other => other,
    })?;
    if !status.is_success() {
        return Err(InferenceError::RelayRefused {
            relay: relay.clone(),
            status: status.as_u16(),
            detail: String::from_utf8_lossy(&body).chars().take(200).collect(),
        });
    }
    verify_bundle(&body, &nonce, trust, clock.now(), relay)
}

/// A real bundle is about 7 KiB; anything far larger is refused before it fills memory.
const MAX_BUNDLE: usize = 256 * 1024;

/// Verifies a bundle's document and that it binds the keys the bundle offers.
pub(crate) fn verify_bundle(
    body: &[u8],
    nonce: &[u8],
    trust: &TrustPolicy,
    now: SystemTime,
    relay: String,
) -> Result<AttestedEnclave, InferenceError> {
    let bundle = AttestationBundle::from_json(body).map_err(|e| InferenceError::Bundle(e.to_string()))?;
    let parts = bundle.decode().map_err(|e| InferenceError::Bundle(e.to_string()))?;
    let at = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let policy = Policy {
        roots: trust.roots.clone(),
        expected_pcrs: trust.expected_pcrs.clone(),
        nonce: Some(nonce.to_vec()),
        user_data: Some(binding_user_data(&parts.ohttp_key_config, &parts.receipt_public_key)),
        max_age: Some(trust.max_age),
        at,
    };
    let verified = verify(&parts.document, &policy)?;
    let trust_root = trust
        .roots
        .iter()
        .find(|r| sotto_attestation::certificate_sha256(r) == verified.root_sha256)
        .cloned()
        .unwrap_or_default();
    let evidence = AttestationEvidence {
        bundle: body.to_vec(),
        nonce: hex::encode(nonce),
        trust_root,
        expected_pcrs: trust.expected_pcrs.iter().map(|(i, v)| (*i, hex::encode(v))).collect(),
        max_document_age_s: trust.max_age.as_secs(),
        checked_at_ms: at.as_millis() as u64,
    };
    let key_id = *parts
        .ohttp_key_config
        .first()
        .ok_or_else(|| InferenceError::Bundle("the OHTTP key configuration is empty".into()))?;
    let doc = verified.document;
    // The label comes from the root the chain actually ended at, never from the profile's word:
    // only AWS's root (pinned by fingerprint) makes a reply "hardware-protected".
    let aws = verified.root_sha256.eq_ignore_ascii_case(sotto_relay_config::AWS_NITRO_ROOT_G1_SHA256);
    if trust.kind == EnclaveKind::AwsNitro && !aws {
        return Err(InferenceError::Bundle(format!(
            "the profile expects AWS Nitro hardware, but the document chains to another root ({})",
            verified.root_sha256
        )));
    }
    let identity = EnclaveIdentity {
        kind: if aws { "aws-nitro".into() } else { "development".into() },
        module_id: doc.module_id,
        pcrs: doc.pcrs.iter().map(|(i, v)| (*i, hex::encode(v))).collect(),
        checked_pcrs: trust.expected_pcrs.keys().copied().collect(),
        root_sha256: verified.root_sha256,
        document_timestamp_ms: doc.timestamp_ms,
        ohttp_key_id: key_id,
        receipt_key_id: sotto_enclave_protocol::receipt::key_id(&parts.receipt_public_key),
        relay,
        trust: ATTESTED_HERE.into(),
        tee_class: MODEL_IN_ENCLAVE.into(),
    };
    Ok(AttestedEnclave {
        key_config: parts.ohttp_key_config,
        receipt_public_key: parts.receipt_public_key,
        identity,
        valid_until: now + trust.key_cache,
        evidence: Some(evidence),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_attestation::issuer::DevelopmentIssuer;
    use sotto_attestation::AttestationDocument;

    /// A bundle from a development issuer, verified under `kind`.
    fn verify_as(kind: EnclaveKind) -> Result<AttestedEnclave, InferenceError> {
        let now = SystemTime::now();
        let issuer = DevelopmentIssuer::generate(now).unwrap();
        let (key_config, receipt_key) = (vec![1u8, 0, 32], vec![2u8; 32]);
        let nonce = [9u8; 32];
        let pcrs: BTreeMap<u16, Vec<u8>> = (0..3).map(|i| (i, vec![i as u8 + 1; 48])).collect();
        let doc = AttestationDocument {
            module_id: "m".into(),
            digest: "SHA384".into(),
            timestamp_ms: now.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64,
            pcrs: pcrs.clone(),
            certificate: Vec::new(),
            cabundle: Vec::new(),
            public_key: None,
            user_data: Some(binding_user_data(&key_config, &receipt_key)),
            nonce: Some(nonce.to_vec()),
        };
        let cose = issuer.issue(doc, now).unwrap();
        let bundle = serde_json::to_vec(&AttestationBundle::new("development", &cose, &key_config, &receipt_key)).unwrap();
        let trust = TrustPolicy {
            roots: vec![issuer.root_der().to_vec()],
            expected_pcrs: pcrs,
            kind,
            attestation_path: "/attestation".into(),
            max_age: std::time::Duration::from_secs(60),
            key_cache: std::time::Duration::from_secs(60),
        };
        verify_bundle(&bundle, &nonce, &trust, now, "relay".into())
    }

    #[test]
    fn the_label_comes_from_the_root_not_from_the_profiles_word() {
        assert_eq!(verify_as(EnclaveKind::Development).unwrap().identity.kind, "development");
        // A profile claiming AWS Nitro with a root that is not AWS's is refused, not relabelled.
        let e = verify_as(EnclaveKind::AwsNitro).unwrap_err();
        assert!(e.to_string().contains("another root"), "{e}");
    }
}
