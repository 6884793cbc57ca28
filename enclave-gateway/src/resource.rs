//! The OHTTP gateway resource (RFC 9458 with chunked responses): decrypts the request, serves
//! it, and seals each piece of the reply into its own chunk as soon as it exists.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::{AsyncReadExt, StreamExt};
use sotto_enclave_protocol::sha256;
use sotto_enclave_protocol::media::{CHUNKED_RESPONSE, ERROR_TRAILER, PROBLEM_JSON, PROBLEM_OHTTP_KEY, RECEIPT_TRAILER};
use tokio_util::compat::TokioAsyncWriteCompatExt;
use tokio_util::io::ReaderStream;
use tokio_util::sync::CancellationToken;

use crate::client_link::ClientLink;
use crate::inner::{serve, Outcome, ReplyWriter};
use crate::server::AppState;

/// Largest encapsulated request accepted.
pub const MAX_REQUEST: usize = 8 * 1024 * 1024;

fn plain(status: StatusCode, message: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain")], message.to_string()).into_response()
}

/// `POST /gateway`.
pub async fn handle(state: Arc<AppState>, body: Bytes) -> Response {
    let keys = match body.first() {
        None => return plain(StatusCode::BAD_REQUEST, "empty request"),
        Some(id) => match state.keys.for_request(*id) {
            Some(keys) => keys,
            None => return key_problem(),
        },
    };
    let mut request = keys
        .ohttp
        .clone()
        .decapsulate_stream(futures::io::Cursor::new(body.to_vec()));
    let mut plaintext = Vec::new();
    if request.read_to_end(&mut plaintext).await.is_err() {
        // Most likely sealed to an earlier key that had the same one-byte id (say, before a
        // restart): the client re-attests once and seals to the current key.
        return key_problem();
    }
    let Ok(inner) = bhttp::Message::read_bhttp(&mut std::io::Cursor::new(&plaintext)) else {
        return plain(StatusCode::BAD_REQUEST, "the decrypted request is not Binary HTTP");
    };
    let (to_client, from_gateway) = tokio::io::duplex(64 * 1024);
    let (link, departure) = ClientLink::new(to_client.compat_write());
    let Ok(sealed) = request.response(link) else {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot seal the response");
    };
    // When the connection goes (the client or relay hung up), the body is dropped and with it
    // this guard: the reply stops at once, generation included, not at its next write.
    let hung_up = CancellationToken::new();
    let guard = hung_up.clone().drop_guard();
    tokio::spawn(async move {
        let _counted = state.observations.reply_started();
        let reply = async {
            let mut writer = ReplyWriter::new(sealed, departure);
            let outcome = serve(&state, &inner, &mut writer).await;
            let _ = close(&keys, &plaintext, writer, outcome).await;
        };
        tokio::select! {
            () = hung_up.cancelled() => tracing::debug!("the connection closed; the reply was stopped"),
            () = reply => {}
        }
    });
    let body = ReaderStream::new(from_gateway).map(move |piece| {
        let _held = &guard;
        piece
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, CHUNKED_RESPONSE)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot build the response"))
}

/// RFC 9458 §5.3: the request was not sealed to a key this enclave holds; re-attest.
fn key_problem() -> Response {
    let problem = serde_json::json!({"type": PROBLEM_OHTTP_KEY, "title": "key identifier unknown"});
    (StatusCode::UNPROCESSABLE_ENTITY, [(header::CONTENT_TYPE, PROBLEM_JSON)], problem.to_string()).into_response()
}

/// Ends the reply: a receipt for a complete one, the error for a failed one, nothing (the
/// connection simply ends without the final chunk) for an aborted one.
async fn close<W: futures::AsyncWrite + Unpin>(
    keys: &crate::keys::EnclaveKeys,
    request: &[u8],
    writer: ReplyWriter<W>,
    outcome: std::io::Result<Outcome>,
) -> std::io::Result<()> {
    match outcome? {
        Outcome::Complete { model } => {
            match keys.receipts.sign(&model, writer.status, sha256(request), writer.output_hash(), writer.pieces, crate::now_ms()) {
                Ok(receipt) => writer.finish(&[(RECEIPT_TRAILER, receipt.to_json().as_bytes())]).await,
                Err(e) => writer.finish(&[(ERROR_TRAILER, format!("the enclave could not sign its reply: {e}").as_bytes())]).await,
            }
        }
        Outcome::Failed { message } => {
            tracing::warn!(%message, "back-end failed mid-reply");
            writer.finish(&[(ERROR_TRAILER, message.as_bytes())]).await
        }
        Outcome::Aborted => {
            drop(writer);
            Ok(())
        }
    }
}
