//! Proof figures: `history verify` over 1,000 stored replies (the whole offline re-check:
//! attestation chain and claims, key binding, receipt signature, hashes, stored text), and the
//! size of a proof file for a typical reply, hashes only and with the text.
//!
//! `cargo bench --workspace --bench recheck --profile dev`

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use sotto_attestation::issuer::DevelopmentIssuer;
use sotto_attestation::AttestationDocument;
use sotto_core::private_inference::proof::ProofMaterial;
use sotto_core::private_inference::AttestationEvidence;
use sotto_enclave_protocol::receipt::ReceiptSigner;
use sotto_enclave_protocol::{binding_user_data, sha256, AttestationBundle};
use sotto_store::{KdfParams, ReplyOutcome, Store, Unlock};

const REPLIES: usize = 1000;

fn main() {
    let now = SystemTime::now();
    let now_ms = now.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let issuer = DevelopmentIssuer::generate(now).unwrap();
    let signer = ReceiptSigner::generate();
    let key_config = vec![1u8, 0, 32, 0, 4, 0, 1, 0, 1];
    let nonce = [7u8; 32];
    let pcrs: BTreeMap<u16, Vec<u8>> = (0..3).map(|i| (i, vec![i as u8 + 1; 48])).collect();
    let doc = AttestationDocument {
        module_id: "bench-enclave".into(),
        digest: "SHA384".into(),
        timestamp_ms: now_ms,
        pcrs: pcrs.clone(),
        certificate: Vec::new(),
        cabundle: Vec::new(),
        public_key: None,
        user_data: Some(binding_user_data(&key_config, &signer.public_key())),
        nonce: Some(nonce.to_vec()),
    };
    let cose = issuer.issue(doc, now).unwrap();
    let bundle = serde_json::to_vec(&AttestationBundle::new("development", &cose, &key_config, &signer.public_key())).unwrap();
    let evidence = AttestationEvidence {
        bundle,
        nonce: hex::encode(nonce),
        trust_root: issuer.root_der().to_vec(),
        expected_pcrs: pcrs.iter().map(|(i, v)| (*i, hex::encode(v))).collect(),
        max_document_age_s: 120,
        checked_at_ms: now_ms,
    };

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_create(dir.path(), &Unlock::Passphrase("bench passphrase"), KdfParams::insecure_for_tests()).unwrap();
    let mut typical = None;
    store
        .batch(|s| {
            for i in 0..REPLIES {
                let id = s.new_conversation(&format!("Question {i}"))?;
                let prompt = format!("What is the answer to question {i}? Please explain in a paragraph.");
                s.add_user_message(&id, &prompt)?;
                let text = format!("The answer to question {i} is explained here in a paragraph of ordinary length. ").repeat(6);
                let request = format!(r#"{{"messages":[{{"role":"user","content":"{prompt}"}}],"stream":true}}"#).into_bytes();
                let reply = serde_json::to_vec(&serde_json::json!({"choices": [{"message": {"role": "assistant", "content": text}}]})).unwrap();
                let receipt = signer.sign("bench-model", 200, sha256(&request), sha256(&reply), 1, now_ms).unwrap();
                let material = ProofMaterial { attestation: evidence.clone(), request, reply_status: 200, reply, receipt };
                let draft = s.begin_reply(&id, Some("bench-model"))?;
                s.finish_reply(
                    draft,
                    ReplyOutcome::Verified {
                        text,
                        model: "bench-model".into(),
                        receipt: serde_json::json!({}),
                        development: true,
                        proof: Some(serde_json::to_value(&material).unwrap()),
                    },
                )?;
                typical.get_or_insert(id);
            }
            Ok(())
        })
        .unwrap();

    let t = Instant::now();
    let checks = sotto_core::recheck::recheck_history(&store, &[]).unwrap();
    let took = t.elapsed();
    assert_eq!(checks.len(), REPLIES);
    assert!(checks.iter().all(|c| c.passed()), "{:?}", checks.iter().find(|c| !c.passed()));
    println!(
        "history verify, {REPLIES} stored replies, offline: {:.0} ms in all, {:.2} ms per reply",
        took.as_secs_f64() * 1000.0,
        took.as_secs_f64() * 1000.0 / REPLIES as f64
    );
    let id = typical.unwrap();
    for include_text in [false, true] {
        let file = sotto_core::recheck::proof_file(&store, &id, None, include_text).unwrap();
        let size = serde_json::to_string_pretty(&file).unwrap().len();
        println!("proof file for one typical reply ({}): {size} bytes", if include_text { "with its text" } else { "hashes only" });
    }
}
