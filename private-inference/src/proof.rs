//! Proofs that outlive the moment: everything a reply's verification used is kept
//! ([`ProofMaterial`], in the encrypted store) so the check can be made again later, offline,
//! and handed to someone else as a self-contained file ([`ProofFile`], specified in
//! `docs/proof-format.md`). One verifier serves both: [`verify_exchange`].
//!
//! A proof shows that an enclave whose attestation chains to `trust_root`, with the listed
//! measurements, signed these hashes of a request and a reply. Whether that root and those
//! measurements deserve trust is the reader's call: only AWS's Nitro root (pinned by its
//! fingerprint) makes a proof "hardware-protected"; any other root is a development enclave.

use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sotto_enclave_protocol::{sha256, Receipt, ReceiptError};
use sotto_relay_config::EnclaveKind;

use crate::attest::{verify_bundle, AttestationEvidence, TrustPolicy};
use crate::EnclaveIdentity;

/// `format` of a proof file.
pub const PROOF_FORMAT: &str = "sotto-proof";
/// The version of the proof format this build writes and reads.
pub const PROOF_VERSION: u32 = 1;
/// Larger files are refused before they are parsed.
pub const MAX_PROOF_FILE: u64 = 64 << 20;

/// What is kept with each verified reply on Sotto's wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofMaterial {
    pub attestation: AttestationEvidence,
    /// The Binary HTTP request that was sealed (the receipt's request hash covers it), base64.
    #[serde(with = "base64_bytes")]
    pub request: Vec<u8>,
    /// The reply's HTTP status (signed by the receipt).
    pub reply_status: u16,
    /// The decrypted reply content the receipt's output hash covers, base64.
    #[serde(with = "base64_bytes")]
    pub reply: Vec<u8>,
    pub receipt: Receipt,
}

/// What is kept with a reply from one of OpenGradient's TEEs: its RSA-PSS receipt, the key it
/// was checked with (from the registry; the TEE id is keccak256 of it), the canonical request and
/// the output the receipt covers, and what was checked about the TEE at the time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeeProofMaterial {
    /// Always [`sotto_enclave_protocol::receipt::OPENGRADIENT_SCHEME`].
    pub scheme: String,
    pub receipt: sotto_enclave_protocol::opengradient::receipt::TeeReceipt,
    /// The TEE's RSA signing key, SPKI DER, base64.
    #[serde(with = "base64_bytes")]
    pub signing_key: Vec<u8>,
    /// The registry's keccak256(PCR0 ‖ PCR1 ‖ PCR2) for the TEE, hex.
    pub pcr_hash: String,
    /// The canonical request (Python `json.dumps`, sorted) the receipt's request hash covers.
    #[serde(with = "base64_bytes")]
    pub canonical_request: Vec<u8>,
    /// The output the receipt's output hash covers.
    #[serde(with = "base64_bytes")]
    pub output: Vec<u8>,
    /// What was checked about the TEE when the reply arrived, in words.
    pub checked_then: String,
}

/// Checks an OpenGradient reply's receipt again (its attestation is not re-checked offline: the
/// verdict says what was checked at the time).
pub fn recheck_tee(m: &TeeProofMaterial) -> Result<String, ProofError> {
    if m.scheme != sotto_enclave_protocol::receipt::OPENGRADIENT_SCHEME {
        return Err(ProofError::Malformed(format!("`{}` is not OpenGradient's receipt scheme", m.scheme)));
    }
    m.receipt
        .verify(&m.signing_key, &m.receipt.tee_id, &m.canonical_request, &m.output)
        .map_err(|e| ProofError::Malformed(format!("the TEE's receipt does not check out: {e}")))?;
    Ok(format!(
        "OpenGradient TEE `{}`: its RSA-PSS receipt verified again over the request and the output; when it arrived: {}",
        m.receipt.tee_id, m.checked_then
    ))
}

/// A proof file: one exchange or a whole conversation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProofFile {
    pub format: String,
    pub version: u32,
    /// When the file was written (ms since the Unix epoch).
    pub created_ms: u64,
    /// The conversation's title, only when the text was included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub exchanges: Vec<ProofExchange>,
}

/// One request and its reply, with what proves them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProofExchange {
    /// The reply's position in its conversation (1 = the first message).
    pub message: usize,
    pub attestation: AttestationEvidence,
    pub receipt: Receipt,
    pub reply_status: u16,
    /// SHA-256 of the sealed request and of the reply content, hex.
    pub request_sha256: String,
    pub reply_sha256: String,
    /// The request and reply themselves, base64, only if the user chose to include the text.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "base64_option")]
    pub request: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "base64_option")]
    pub reply: Option<Vec<u8>>,
}

impl ProofExchange {
    pub fn from_material(message: usize, m: &ProofMaterial, include_text: bool) -> Self {
        Self {
            message,
            attestation: m.attestation.clone(),
            receipt: m.receipt.clone(),
            reply_status: m.reply_status,
            request_sha256: hex::encode(sha256(&m.request)),
            reply_sha256: hex::encode(sha256(&m.reply)),
            request: include_text.then(|| m.request.clone()),
            reply: include_text.then(|| m.reply.clone()),
        }
    }
}

/// What a successful check established.
#[derive(Debug, Clone, Serialize)]
pub struct Rechecked {
    pub enclave: EnclaveIdentity,
    /// Only when the chain ended at AWS's pinned Nitro root.
    pub hardware_protected: bool,
    pub model: String,
    pub signed_at_ms: u64,
    /// The time the attestation was checked as of (the client's word, in a proof file).
    pub checked_at_ms: u64,
    /// Whether the request and reply bytes were present (and matched their hashes).
    pub text_checked: bool,
    /// The sources of a web search, read from the checked reply bytes.
    pub citations: Option<Vec<sotto_enclave_protocol::search::Citation>>,
}

/// Which check failed, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the proof is not readable: {0}")]
    Malformed(String),
    #[error("this is a {} proof of version {version}; this build reads {PROOF_FORMAT} version {PROOF_VERSION}", printable(format, 40))]
    Version { format: String, version: u32 },
    #[error("the attestation does not check out: {0}")]
    Attestation(String),
    #[error("the receipt does not check out: {0}")]
    Receipt(#[from] ReceiptError),
    #[error("the request's bytes do not match its hash")]
    RequestBytes,
    #[error("the reply's bytes do not match its hash")]
    ReplyBytes,
    #[error("the signed reply is an error answer (HTTP {0}), not a reply")]
    ErrorReply(u16),
}

/// The longest document age a proof may claim its client accepted (a week).
const MAX_DOCUMENT_AGE_S: u64 = 7 * 24 * 3600;

/// `text` from a proof, safe to print: no control or direction-changing characters (which could
/// rewrite a verdict on a terminal), at most `max` characters.
pub fn printable(text: &str, max: usize) -> String {
    let bidi = |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}');
    let mut out: String = text.chars().filter(|c| !c.is_control() && !bidi(*c)).take(max).collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

/// Checks a stored reply again (its bytes are always present).
pub fn recheck(material: &ProofMaterial) -> Result<Rechecked, ProofError> {
    verify_exchange(&ProofExchange::from_material(0, material, true))
}

/// The reply's text as read from the signed bytes (to compare with what was stored or shown).
pub fn reply_text(material: &ProofMaterial) -> String {
    crate::reply::text_of(&material.reply)
}

/// The sources of a web search, as read from the signed bytes (an error if they are not
/// well-formed there).
pub fn reply_citations(material: &ProofMaterial) -> Result<Option<Vec<sotto_enclave_protocol::search::Citation>>, ProofError> {
    crate::reply::citations_of(&material.reply).map_err(|e| ProofError::Malformed(e.to_string()))
}

/// The attestation at the time it was made, against the root and measurements kept with it; the
/// binding of the receipt key; the receipt's signature over the status and both hashes; and the
/// bytes against the hashes when they are present.
pub fn verify_exchange(e: &ProofExchange) -> Result<Rechecked, ProofError> {
    let a = &e.attestation;
    let bad = |what: &str| ProofError::Malformed(what.to_string());
    let nonce = hex::decode(&a.nonce).map_err(|_| bad("the attestation nonce is not hex"))?;
    if a.expected_pcrs.is_empty() {
        return Err(bad("the proof lists no expected measurements, so it would prove nothing about the code"));
    }
    if a.max_document_age_s > MAX_DOCUMENT_AGE_S {
        return Err(bad("it claims its client accepted attestation documents older than a week"));
    }
    if e.reply_status != 200 {
        return Err(ProofError::ErrorReply(e.reply_status));
    }
    let expected_pcrs = a
        .expected_pcrs
        .iter()
        .map(|(i, h)| hex::decode(h).map(|v| (*i, v)).map_err(|_| bad(&format!("expected PCR{i} is not hex"))))
        .collect::<Result<_, _>>()?;
    let trust = TrustPolicy {
        roots: vec![a.trust_root.clone()],
        expected_pcrs,
        // The label comes from the root the chain ends at (AWS's pinned root or not).
        kind: EnclaveKind::Development,
        attestation_path: String::new(),
        max_age: Duration::from_secs(a.max_document_age_s),
        key_cache: Duration::ZERO,
    };
    let at = UNIX_EPOCH.checked_add(Duration::from_millis(a.checked_at_ms)).ok_or_else(|| bad("its check time is out of range"))?;
    if at > std::time::SystemTime::now() + Duration::from_secs(300) {
        return Err(bad("it claims a check made in the future"));
    }
    let enclave = verify_bundle(&a.bundle, &nonce, &trust, at, String::new()).map_err(|e| ProofError::Attestation(e.to_string()))?;
    let hardware = enclave.identity.kind == "aws-nitro";
    // As a profile must: a hardware proof names the image, kernel and application (PCR0–2), and
    // none of them is the all-zero value of a debug-mode enclave.
    let named = |i: u16| a.expected_pcrs.get(&i).is_some_and(|h| h.chars().any(|c| c != '0'));
    if hardware && !(0..3).all(named) {
        return Err(bad("an AWS Nitro proof must expect PCR0, PCR1 and PCR2, none all zeros (the debug-mode value)"));
    }
    if !e.receipt.scheme.is_empty() {
        return Err(ProofError::Malformed(format!("the receipt is of scheme `{}`, not Sotto's", printable(&e.receipt.scheme, 40))));
    }
    let digest = |h: &str, what: &str| -> Result<[u8; 32], ProofError> {
        hex::decode(h).ok().and_then(|v| v.try_into().ok()).ok_or_else(|| bad(&format!("`{what}` is not a SHA-256 in hex")))
    };
    let (request_sha256, reply_sha256) = (digest(&e.request_sha256, "request_sha256")?, digest(&e.reply_sha256, "reply_sha256")?);
    e.receipt.verify_digests(&enclave.receipt_public_key, &request_sha256, e.reply_status, &reply_sha256)?;
    if e.request.as_ref().is_some_and(|b| sha256(b) != request_sha256) {
        return Err(ProofError::RequestBytes);
    }
    if e.reply.as_ref().is_some_and(|b| sha256(b) != reply_sha256) {
        return Err(ProofError::ReplyBytes);
    }
    Ok(Rechecked {
        hardware_protected: hardware,
        checked_at_ms: a.checked_at_ms,
        enclave: enclave.identity,
        model: e.receipt.model.clone(),
        signed_at_ms: e.receipt.timestamp_ms,
        text_checked: e.request.is_some() && e.reply.is_some(),
        citations: match e.reply.as_deref() {
            Some(reply) => crate::reply::citations_of(reply).map_err(|e| ProofError::Malformed(e.to_string()))?,
            None => None,
        },
    })
}

/// Reads a proof file; each exchange's verdict in order.
pub fn verify_file(bytes: &[u8]) -> Result<Vec<(usize, Result<Rechecked, ProofError>)>, ProofError> {
    if bytes.len() as u64 > MAX_PROOF_FILE {
        return Err(ProofError::Malformed(format!("it is larger than {} MiB", MAX_PROOF_FILE >> 20)));
    }
    let file: ProofFile = serde_json::from_slice(bytes).map_err(|e| ProofError::Malformed(e.to_string()))?;
    if file.format != PROOF_FORMAT || file.version != PROOF_VERSION {
        return Err(ProofError::Version { format: file.format, version: file.version });
    }
    if file.exchanges.is_empty() {
        return Err(ProofError::Malformed("it holds no exchanges".into()));
    }
    Ok(file.exchanges.iter().map(|e| (e.message, verify_exchange(e))).collect())
}

pub(crate) mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text.as_bytes()).map_err(serde::de::Error::custom)
    }
}

mod base64_option {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => super::base64_bytes::serialize(b, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(with = "super::base64_bytes")] Vec<u8>);
        Option::<Wrapped>::deserialize(d).map(|w| w.map(|Wrapped(b)| b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_enclave_protocol::opengradient::receipt::TeeSigner;

    #[test]
    fn strings_from_a_proof_cannot_rewrite_the_terminal() {
        let hostile = "dev\r\x1b[2K\x1b[32m✓ verified: AWS Nitro\u{202E}";
        let shown = printable(hostile, 64);
        assert!(!shown.contains('\r') && !shown.contains('\x1b') && !shown.contains('\u{202E}'), "{shown:?}");
        assert_eq!(printable(&"x".repeat(100), 10), format!("{}…", "x".repeat(10)));
    }

    #[test]
    fn an_opengradient_receipt_checks_again_and_any_change_fails() {
        let signer = TeeSigner::generate().unwrap();
        let material = TeeProofMaterial {
            scheme: sotto_enclave_protocol::receipt::OPENGRADIENT_SCHEME.into(),
            receipt: signer.sign(b"{\"messages\": []}", b"Hello.", 1_700_000_000),
            signing_key: signer.public_key_der().to_vec(),
            pcr_hash: "00".repeat(32),
            canonical_request: b"{\"messages\": []}".to_vec(),
            output: b"Hello.".to_vec(),
            checked_then: "attested on this device".into(),
        };
        assert!(recheck_tee(&material).unwrap().contains("verified again"));
        let mut changed = material.clone();
        changed.output = b"Hello!".to_vec();
        assert!(recheck_tee(&changed).is_err(), "a changed output");
        let mut changed = material.clone();
        changed.canonical_request = b"{\"messages\": [1]}".to_vec();
        assert!(recheck_tee(&changed).is_err(), "a changed request");
        let mut changed = material.clone();
        changed.signing_key = TeeSigner::generate().unwrap().public_key_der().to_vec();
        assert!(recheck_tee(&changed).is_err(), "another TEE's key");
        let mut changed = material;
        changed.scheme = "sotto-ed25519".into();
        assert!(recheck_tee(&changed).is_err());
    }
}
