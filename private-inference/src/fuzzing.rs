//! Entry points for the fuzz targets in `fuzz/`, compiled only with `--cfg fuzzing`: the reply
//! reader exactly as a client runs it, fed bytes no enclave made. Nothing here may panic,
//! whatever the bytes; errors are the expected outcome.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::reply::{read_opened, ReplyContext, ReplyLimits};
use crate::AttestedEnclave;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime"))
}

/// A fixed OHTTP key configuration (generated once per process).
fn server() -> &'static (ohttp::Server, Vec<u8>) {
    static SERVER: OnceLock<(ohttp::Server, Vec<u8>)> = OnceLock::new();
    SERVER.get_or_init(|| {
        use ohttp::hpke::{Aead, Kdf, Kem};
        let config = ohttp::KeyConfig::new(1, Kem::X25519Sha256, vec![ohttp::SymmetricSuite::new(Kdf::HkdfSha256, Aead::Aes128Gcm)]).expect("a key");
        let encoded = config.encode().expect("encodable");
        (ohttp::Server::new(config).expect("a server"), encoded)
    })
}

async fn context(sources: bool) -> ReplyContext {
    let (_, key_config) = server();
    let body = if sources { br#"{"web_search":true}"#.as_slice() } else { b"{}" };
    let sealed = crate::seal_request(key_config, "POST", "/v1/chat/completions", &[], body).await.expect("sealed");
    ReplyContext {
        sealed,
        enclave: Arc::new(AttestedEnclave::unattested(key_config.clone(), vec![7; 32])),
        relay: "fuzz".into(),
        // Short: a reader that waits for bytes that never come ends here, not after seconds.
        stall: Duration::from_millis(5),
        limits: ReplyLimits { sources, max_bytes: 1 << 20, ..ReplyLimits::default() },
    }
}

fn drain(mut rx: mpsc::Receiver<Result<crate::ReplyEvent, crate::InferenceError>>) {
    while rx.try_recv().is_ok() {}
}

/// The first byte says whether the request asked for a web search (odd: yes); the rest is the
/// input proper.
fn split(data: &[u8]) -> (bool, Vec<u8>) {
    match data.split_first() {
        Some((flag, rest)) => (flag & 1 == 1, rest.to_vec()),
        None => (false, Vec::new()),
    }
}

thread_local! {
    // Sealing a request costs an HPKE key agreement; one context per flag serves every input.
    static CONTEXTS: [ReplyContext; 2] = runtime().block_on(async { [context(false).await, context(true).await] });
}

/// The whole response body as a relay would deliver it: chunked OHTTP, then everything after.
pub fn chunked_reply(data: &[u8]) {
    let (sources, data) = split(data);
    CONTEXTS.with(|contexts| {
        runtime().block_on(async move {
            let (tx, rx) = mpsc::channel(1024);
            let _ = crate::reply::read(&contexts[usize::from(sources)], futures::io::Cursor::new(data), &tx).await;
            drop(tx);
            drain(rx);
        })
    });
}

/// The decrypted Binary HTTP response: head, streamed events (text, tool calls, sources) or a
/// whole JSON body, trailer, receipt.
pub fn reply_message(data: &[u8]) {
    let (sources, data) = split(data);
    CONTEXTS.with(|contexts| {
        runtime().block_on(async move {
            let (tx, rx) = mpsc::channel(1024);
            let _ = read_opened(&contexts[usize::from(sources)], Box::pin(futures::io::Cursor::new(data)), &tx).await;
            drop(tx);
            drain(rx);
        })
    });
}
