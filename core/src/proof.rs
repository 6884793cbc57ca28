//! A verified reply's proof as data (`--json`, the store, the app's receipt panel) and as one
//! sentence a person can read (exports).

use serde_json::{json, Value};
use sotto_private_inference::{EnclaveIdentity, VerifiedReply};

/// The proof that goes with a reply: enclave identity, the measurements checked, the signed
/// receipt, the relay used and how many bytes left the device.
pub fn receipt_json(reply: &VerifiedReply) -> Value {
    let r = &reply.receipt;
    let mut receipt = json!({
        "enclave": enclave_json(&reply.enclave),
        "measurements": reply.enclave.checked_pcrs.iter()
            .map(|i| (format!("PCR{i}"), json!(reply.enclave.pcrs.get(i).cloned().unwrap_or_default())))
            .collect::<serde_json::Map<_, _>>(),
        "version": r.version,
        "status": r.status,
        "request_hash": r.request_hash,
        "output_hash": r.output_hash,
        "timestamp_ms": r.timestamp_ms,
        "chunks": r.chunks,
        "key_id": r.key_id,
        "signature": r.signature,
        "scheme": if r.scheme.is_empty() { "sotto-ed25519" } else { r.scheme.as_str() },
        "model": r.model,
        "relay": reply.relay,
        "request_bytes": reply.request_bytes,
    });
    // The sources of a web search, as the receipt covers them (a re-check compares them).
    if let Some(citations) = &reply.citations {
        receipt["citations"] = json!(citations);
    }
    if reply.unsigned_citations > 0 {
        receipt["unsigned_citations"] = json!(reply.unsigned_citations);
    }
    receipt
}

/// A reply from an enclave that is not hardware-protected as far as this device checked: a
/// development enclave, or an OpenGradient TEE attested against a development root.
pub fn is_development(reply: &VerifiedReply) -> bool {
    reply.enclave.kind == "development" || reply.enclave.trust == sotto_private_inference::ATTESTED_DEVELOPMENT
}

fn enclave_json(e: &EnclaveIdentity) -> Value {
    json!({
        "kind": e.kind,
        "hardware_protected": e.kind != "development" && (e.kind != "opengradient-tee" || e.trust == sotto_private_inference::ATTESTED_HERE),
        "module_id": e.module_id,
        "root_sha256": e.root_sha256,
        "attested_at_ms": e.document_timestamp_ms,
        "ohttp_key_id": e.ohttp_key_id,
        "receipt_key_id": e.receipt_key_id,
        "checked": e.trust,
        "tee_class": e.tee_class,
    })
}

fn short(v: &Value) -> String {
    v.as_str().unwrap_or("").chars().take(16).collect()
}

/// One sentence about a receipt (as produced by [`receipt_json`]).
pub fn receipt_summary(receipt: &Value) -> String {
    let e = &receipt["enclave"];
    let kind = e["kind"].as_str().unwrap_or("unknown");
    let kind = match kind {
        "development" => "development, not hardware-protected".to_string(),
        "opengradient-tee" => format!(
            "OpenGradient TEE, {}; {}",
            e["checked"].as_str().unwrap_or("keys from the registry"),
            e["tee_class"].as_str().unwrap_or("")
        ),
        other => other.to_string(),
    };
    let pcrs = receipt["measurements"]
        .as_object()
        .map(|m| m.keys().map(|k| k.trim_start_matches("PCR").to_string()).collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_millis(receipt["timestamp_ms"].as_u64().unwrap_or(0));
    format!(
        "enclave `{}` ({kind}), PCRs {pcrs} match the profile, model `{}`, request hash `{}…`, output hash `{}…`, signed {} by key `{}`, via {}",
        e["module_id"].as_str().unwrap_or(""),
        receipt["model"].as_str().unwrap_or(""),
        short(&receipt["request_hash"]),
        short(&receipt["output_hash"]),
        humantime::format_rfc3339_seconds(when),
        receipt["key_id"].as_str().unwrap_or(""),
        receipt["relay"].as_str().unwrap_or("(relay not recorded)"),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_summary_names_the_enclave_measurements_hashes_and_relay() {
        let r = serde_json::json!({
            "enclave": {"kind": "development", "module_id": "dev-1"},
            "measurements": {"PCR0": "aa", "PCR1": "bb"},
            "request_hash": "0123456789abcdef0123", "output_hash": "fedcba9876543210fe",
            "timestamp_ms": 0, "key_id": "k1", "model": "m", "relay": "local",
        });
        let s = super::receipt_summary(&r);
        for part in ["`dev-1`", "not hardware-protected", "PCRs 0, 1", "`0123456789abcdef…`", "`fedcba9876543210…`", "1970-01-01T00:00:00Z", "`k1`", "via local"] {
            assert!(s.contains(part), "{part} missing from {s}");
        }
    }
}
