//! Sealing + opening one request and reply, and attestation verification.
//! `cargo bench -p sotto-private-inference`

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion};
use futures::{AsyncReadExt, AsyncWriteExt};
use ohttp::hpke::{Aead, Kdf, Kem};
use ohttp::{KeyConfig, SymmetricSuite};
use sotto_attestation::{pem_to_der, verify, Policy};
use sotto_enclave_protocol::bhttp_stream::{content_chunk, content_end_and_trailer, response_head};
use sotto_private_inference::{open_whole_response_for_bench, seal_request};

fn server() -> (ohttp::Server, Vec<u8>) {
    let config = KeyConfig::new(1, Kem::X25519Sha256, vec![SymmetricSuite::new(Kdf::HkdfSha256, Aead::Aes128Gcm)]).unwrap();
    let encoded = config.encode().unwrap();
    (ohttp::Server::new(config).unwrap(), encoded)
}

/// One round trip in memory: client seals, enclave opens and answers in 8 streamed pieces
/// (about 1 KiB), client opens and authenticates every chunk.
async fn round_trip(server: &ohttp::Server, key_config: &[u8], body: &[u8]) -> usize {
    let sealed = seal_request(key_config, "POST", "/v1/chat/completions", &[], body).await.unwrap();
    let mut request = server.clone().decapsulate_stream(futures::io::Cursor::new(sealed.ciphertext.clone()));
    let mut plaintext = Vec::new();
    request.read_to_end(&mut plaintext).await.unwrap();
    let mut wire = Vec::new();
    {
        let mut w = request.response(futures::io::AllowStdIo::new(&mut wire)).unwrap();
        w.write_all(&response_head(200, &[("content-type", b"text/event-stream")])).await.unwrap();
        for _ in 0..8 {
            w.write_all(&content_chunk(&[b'x'; 128])).await.unwrap();
        }
        w.write_all(&content_end_and_trailer(&[("sotto-receipt", &[b'r'; 300])])).await.unwrap();
        w.close().await.unwrap();
    }
    open_whole_response_for_bench(&sealed, wire).await.unwrap().len()
}

fn vectors() -> std::path::PathBuf {
    std::env::var_os("SOTTO_TEST_VECTORS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/test-vectors"))
        .join("nitro")
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let (server, key_config) = server();
    let body = br#"{"messages":[{"role":"user","content":"Write a haiku about privacy"}],"stream":true}"#;
    c.bench_function("seal + open one request and a streamed reply", |b| {
        b.iter(|| rt.block_on(round_trip(&server, &key_config, body)))
    });

    // A real AWS Nitro document: 5 P-384 certificates and the COSE signature.
    let doc = std::fs::read(vectors().join("doc-17.cbor")).unwrap();
    let root = pem_to_der(&std::fs::read_to_string(vectors().join("aws-nitro-root-g1.pem")).unwrap()).unwrap();
    let policy = Policy { roots: root, at: Duration::from_millis(1_722_455_771_686), ..Default::default() };
    c.bench_function("attestation verify, cold (real Nitro document)", |b| b.iter(|| verify(&doc, &policy).unwrap()));

    // The development enclave's document: root -> leaf.
    let now = SystemTime::now();
    let issuer = sotto_attestation::issuer::DevelopmentIssuer::generate(now).unwrap();
    let dev_doc = issuer
        .issue(
            sotto_attestation::AttestationDocument {
                module_id: "bench".into(),
                digest: "SHA384".into(),
                timestamp_ms: now.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64,
                pcrs: (0..16).map(|i| (i, vec![0u8; 48])).collect(),
                certificate: vec![],
                cabundle: vec![],
                public_key: None,
                user_data: Some(vec![1; 64]),
                nonce: Some(vec![2; 32]),
            },
            now,
        )
        .unwrap();
    let dev_policy = Policy {
        roots: vec![issuer.root_der().to_vec()],
        at: now.duration_since(UNIX_EPOCH).unwrap(),
        ..Default::default()
    };
    c.bench_function("attestation verify, cold (development document)", |b| b.iter(|| verify(&dev_doc, &dev_policy).unwrap()));
}

criterion_group! {
    name = private_path;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(private_path);
