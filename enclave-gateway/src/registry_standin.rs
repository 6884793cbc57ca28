//! A stand-in for OpenGradient's on-chain TEE registry — **not a blockchain**: a JSON-RPC
//! endpoint that answers `eth_call` of `getActiveTEEs(uint8)` with this gateway's record, ABI
//! encoded as the real contract returns it, so the client's discovery runs unchanged offline.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use sotto_enclave_protocol::opengradient::registry::{encode_active_tees, GET_ACTIVE_TEES_SELECTOR};

use crate::server::AppState;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new().route("/", post(rpc)).with_state(state)
}

fn error(id: Value, code: i64, message: &str) -> Json<Value> {
    Json(json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}))
}

async fn rpc(State(state): State<Arc<AppState>>, Json(call): Json<Value>) -> Json<Value> {
    let id = call.get("id").cloned().unwrap_or(Value::Null);
    match call.get("method").and_then(Value::as_str) {
        Some("eth_chainId") => return Json(json!({"jsonrpc": "2.0", "id": id, "result": "0x1"})),
        Some("eth_call") => {}
        _ => return error(id, -32601, "only eth_call of getActiveTEEs is served by this stand-in"),
    }
    let data = call.pointer("/params/0/data").or_else(|| call.pointer("/params/0/input")).and_then(Value::as_str).unwrap_or_default();
    let Ok(data) = hex::decode(data.trim_start_matches("0x")) else { return error(id, -32602, "data is not hex") };
    if data.len() != 36 || data[..4] != GET_ACTIVE_TEES_SELECTOR {
        return error(id, -32000, "execution reverted: unknown function");
    }
    let tee_type = data[35];
    let tees: Vec<_> = state
        .opengradient
        .iter()
        .filter(|t| t.listed.load(std::sync::atomic::Ordering::SeqCst))
        .map(|t| t.record())
        .filter(|r| r.tee_type == tee_type)
        .collect();
    Json(json!({"jsonrpc": "2.0", "id": id, "result": format!("0x{}", hex::encode(encode_active_tees(&tees)))}))
}
