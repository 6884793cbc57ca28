//! The request an OpenGradient enclave signs, and the output it signs, built exactly as its
//! gateway and the `opengradient` SDK build them (`tee_verify.build_inner_request`,
//! `response_content_for_hash`).
//!
//! The wire request is what is sealed and sent; the canonical request is the subset the
//! enclave commits to in its receipt (attachment bytes reduced to `{type, filename}`,
//! `tool_choice` dropped). Both are serialised the Python way ([`super::pyjson`]).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::pyjson::{dumps_ordered, dumps_sorted, float_repr, Ordered};

/// Why a chat request cannot be expressed on OpenGradient's wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this request cannot be sent to an OpenGradient enclave: {0}")]
pub struct UnsupportedRequest(pub String);

fn unsupported(m: impl Into<String>) -> UnsupportedRequest {
    UnsupportedRequest(m.into())
}

/// A chat request split into what is sent and what the enclave signs.
#[derive(Debug, Clone)]
pub struct InnerRequest {
    /// The UTF-8 JSON plaintext that is sealed (`json.dumps(wire)`).
    pub wire: Vec<u8>,
    /// The canonical request (its sorted dump is what the request hash covers).
    pub canonical: Value,
    /// Whether the enclave will answer with a chunked stream.
    pub stream: bool,
}

impl InnerRequest {
    /// `json.dumps(canonical, sort_keys=True)`, the bytes the request hash covers.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        dumps_sorted(&self.canonical).into_bytes()
    }
}

/// Python truthiness of a JSON value.
pub fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// Python's `str(x)` for the scalars a message content can hold.
fn python_str(v: &Value) -> Result<String, UnsupportedRequest> {
    Ok(match v {
        Value::Null => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if !n.is_i64() && !n.is_u64() => float_repr(f),
            _ => n.to_string(),
        },
        _ => return Err(unsupported("a message part is neither text nor an object")),
    })
}

/// The gateway's `canonical_user_content`: text verbatim, attachments as `{type, filename}`.
fn canonical_user_content(content: Option<&Value>) -> Result<Value, UnsupportedRequest> {
    let parts = match content {
        Some(Value::String(s)) => return Ok(Value::String(s.clone())),
        Some(Value::Array(parts)) => parts,
        other => return Ok(Value::String(python_str(other.unwrap_or(&Value::Null))?)),
    };
    let mut out = Vec::with_capacity(parts.len());
    for part in parts {
        let Value::Object(p) = part else {
            out.push(json!({"type": "text", "text": python_str(part)?}));
            continue;
        };
        if p.get("type").and_then(Value::as_str) == Some("text") {
            let text = p.get("text").filter(|t| truthy(Some(t))).cloned().unwrap_or_else(|| json!(""));
            out.push(json!({"type": "text", "text": text}));
            continue;
        }
        let mut entry = Map::new();
        entry.insert("type".into(), p.get("type").cloned().unwrap_or(Value::Null));
        let from_file = p.get("file").and_then(Value::as_object).and_then(|f| f.get("filename"));
        let filename = Some(from_file).filter(|f| truthy(*f)).flatten().or_else(|| p.get("filename"));
        if let Some(f) = filename.filter(|f| truthy(Some(f))) {
            entry.insert("filename".into(), f.clone());
        }
        out.push(Value::Object(entry));
    }
    Ok(Value::Array(out))
}

fn get<'a>(m: &'a Map<String, Value>, key: &str) -> Value {
    m.get(key).cloned().unwrap_or(Value::Null)
}

/// One message as the gateway shapes it before hashing, in its insertion order.
fn canonical_message(m: &Map<String, Value>) -> Result<Vec<(String, Value)>, UnsupportedRequest> {
    let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
    let pairs = |items: &[(&str, Value)]| items.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    Ok(match role {
        "system" | "developer" => pairs(&[("role", json!("system")), ("content", get(m, "content"))]),
        "user" => pairs(&[("role", json!("user")), ("content", canonical_user_content(m.get("content"))?)]),
        "assistant" => {
            let content = m.get("content").filter(|c| truthy(Some(c))).cloned().unwrap_or_else(|| json!(""));
            let mut out: Vec<(String, Value)> = pairs(&[("role", json!("assistant")), ("content", content)]);
            if let Some(calls) = m.get("tool_calls").filter(|c| truthy(Some(c))) {
                let calls = calls.as_array().ok_or_else(|| unsupported("`tool_calls` must be a list"))?;
                let shaped: Vec<Value> = calls.iter().map(canonical_tool_call).collect();
                out.push(("tool_calls".into(), Value::Array(shaped)));
            }
            out
        }
        "tool" => pairs(&[("role", json!("tool")), ("content", get(m, "content")), ("tool_call_id", get(m, "tool_call_id"))]),
        "function" => pairs(&[("role", json!("function")), ("content", get(m, "content")), ("name", get(m, "name"))]),
        other => return Err(unsupported(format!("unknown message role {other:?}"))),
    })
}

fn canonical_tool_call(tc: &Value) -> Value {
    let f = tc.get("function");
    let field = |v: Option<&Value>, key: &str, default: &str| v.and_then(|o| o.get(key)).cloned().unwrap_or_else(|| json!(default));
    json!({
        "id": field(Some(tc), "id", ""),
        "type": field(Some(tc), "type", "function"),
        "function": {"name": field(f, "name", ""), "arguments": field(f, "arguments", "")},
    })
}

/// Builds the wire and canonical requests from an OpenAI chat-completions body. `stream`
/// forces the inner `stream` flag (the enclave then answers chunked).
pub fn build_inner_request(body: &Value, stream: bool) -> Result<InnerRequest, UnsupportedRequest> {
    let body = body.as_object().ok_or_else(|| unsupported("the request body must be a JSON object"))?;
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| unsupported("the request names no model"))?;
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| unsupported("the request has no messages"))?;
    let mut canonical_msgs = Vec::with_capacity(messages.len());
    for m in messages {
        let m = m.as_object().ok_or_else(|| unsupported("each message must be a JSON object"))?;
        canonical_msgs.push((canonical_message(m)?, m));
    }
    let temperature = match body.get("temperature") {
        None | Some(Value::Null) => 0.0,
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::Bool(b)) => f64::from(u8::from(*b)),
        Some(Value::String(s)) => s.trim().parse().map_err(|_| unsupported("`temperature` is not a number"))?,
        Some(_) => return Err(unsupported("`temperature` is not a number")),
    };
    let temperature = serde_json::Number::from_f64(temperature).ok_or_else(|| unsupported("`temperature` is not finite"))?;

    // Fields in the SDK's insertion order; each is (key, canonical value).
    let mut fields: Vec<(String, Value)> = vec![("temperature".into(), Value::Number(temperature))];
    if body.get("max_tokens").is_some_and(|v| !v.is_null()) {
        fields.push(("max_tokens".into(), get(body, "max_tokens")));
    }
    for key in ["stop", "tools", "response_format"] {
        if truthy(body.get(key)) {
            if key == "tools" && !body[key].is_array() {
                return Err(unsupported("`tools` must be a list"));
            }
            fields.push((key.into(), get(body, key)));
        }
    }
    if truthy(body.get("web_search")) {
        fields.push(("web_search".into(), json!(true)));
    }

    let object = |pairs: &[(String, Value)]| Value::Object(pairs.iter().cloned().collect());
    let mut canonical = Map::new();
    canonical.insert("model".into(), json!(model));
    canonical.insert("messages".into(), Value::Array(canonical_msgs.iter().map(|(c, _)| object(c)).collect()));
    canonical.extend(fields.iter().cloned());

    // The wire keeps full user content (attachments' bytes go to the model, unsigned).
    let wire_msgs = canonical_msgs
        .iter()
        .map(|(c, orig)| {
            Ordered::Object(
                c.iter()
                    .map(|(k, v)| {
                        let v = if k == "content" && orig.get("role").and_then(Value::as_str) == Some("user") {
                            get(orig, "content")
                        } else {
                            v.clone()
                        };
                        (k.clone(), Ordered::Json(v))
                    })
                    .collect(),
            )
        })
        .collect();
    let mut wire = vec![("model".to_string(), Ordered::Json(json!(model))), ("messages".into(), Ordered::Array(wire_msgs))];
    wire.extend(fields.into_iter().map(|(k, v)| (k, Ordered::Json(v))));
    // Sent but not signed: the gateway honours it without committing to it.
    if body.get("tool_choice").is_some_and(|v| !v.is_null()) {
        wire.push(("tool_choice".into(), Ordered::Json(get(body, "tool_choice"))));
    }
    if stream {
        wire.push(("stream".into(), Ordered::Json(json!(true))));
    }
    Ok(InnerRequest {
        wire: dumps_ordered(&Ordered::Object(wire)).into_bytes(),
        canonical: Value::Object(canonical),
        stream,
    })
}

/// The enclave side: reads a decrypted wire request back into its canonical form (the same
/// function, so both sides sign and check the same bytes).
pub fn canonical_from_wire(wire: &[u8]) -> Result<InnerRequest, UnsupportedRequest> {
    let body: Value = serde_json::from_slice(wire).map_err(|e| unsupported(format!("the request is not JSON ({e})")))?;
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let mut inner = build_inner_request(&body, stream)?;
    inner.wire = wire.to_vec();
    Ok(inner)
}

/// The text of a message's content (a string, or the joined text of its parts).
pub fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|p| match p {
                Value::Object(o) => o.get("text").and_then(Value::as_str).unwrap_or_default().to_string(),
                other => python_str(other).unwrap_or_default(),
            })
            .collect(),
        _ => String::new(),
    }
}

/// What the enclave signs as output for a whole (non-streamed) reply body: the tool calls as
/// `json.dumps(tool_calls, sort_keys=True)` when it finished with tool calls, else the text.
pub fn whole_output(body: &Value) -> String {
    let choice = body.pointer("/choices/0").filter(|c| c.is_object());
    let Some(message) = choice.and_then(|c| c.get("message")).filter(|m| m.is_object()) else {
        return String::new();
    };
    let finish = choice.and_then(|c| c.get("finish_reason")).and_then(Value::as_str);
    match message.get("tool_calls") {
        Some(calls @ Value::Array(_)) if finish == Some("tool_calls") => dumps_sorted(calls),
        _ => content_text(message.get("content")),
    }
}

/// A streamed reply put together as the SDK does: text from `delta.content`, tool calls
/// folded by index (id/name set, argument fragments appended).
#[derive(Debug, Default, Clone)]
pub struct StreamedOutput {
    pub text: String,
    pub calls: BTreeMap<i64, Value>,
}

impl StreamedOutput {
    /// Folds one SSE event (parsed JSON); returns the text it added.
    pub fn absorb(&mut self, event: &Value) -> String {
        let Some(delta) = event.pointer("/choices/0/delta").and_then(Value::as_object) else {
            return String::new();
        };
        if let Some(frags) = delta.get("tool_calls").and_then(Value::as_array) {
            for frag in frags.iter().filter_map(Value::as_object) {
                let index = frag.get("index").and_then(Value::as_i64).unwrap_or(0);
                let slot = self
                    .calls
                    .entry(index)
                    .or_insert_with(|| json!({"id": "", "type": "function", "function": {"name": "", "arguments": ""}}));
                for key in ["id", "type"] {
                    if truthy(frag.get(key)) {
                        slot[key] = frag[key].clone();
                    }
                }
                let f = frag.get("function");
                if let Some(name) = f.and_then(|f| f.get("name")).filter(|n| truthy(Some(n))) {
                    slot["function"]["name"] = name.clone();
                }
                if let Some(args) = f.and_then(|f| f.get("arguments")).and_then(Value::as_str).filter(|a| !a.is_empty()) {
                    let so_far = slot["function"]["arguments"].as_str().unwrap_or_default().to_string();
                    slot["function"]["arguments"] = Value::String(so_far + args);
                }
            }
        }
        let text = content_text(delta.get("content"));
        self.text.push_str(&text);
        text
    }

    /// The tool calls in index order, if any.
    pub fn tool_calls(&self) -> Option<Value> {
        (!self.calls.is_empty()).then(|| Value::Array(self.calls.values().cloned().collect()))
    }

    /// What the enclave signed, given the final frame's finish reason.
    pub fn signed_output(&self, finish_reason: Option<&str>) -> String {
        match self.tool_calls() {
            Some(calls) if finish_reason == Some("tool_calls") => dumps_sorted(&calls),
            _ => self.text.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_request_keeps_only_signed_fields() {
        let body = json!({
            "model": "gpt-4.1", "temperature": 1, "max_tokens": 50, "top_p": 0.5, "tool_choice": "auto",
            "messages": [
                {"role": "developer", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hé"}, {"type": "file", "file": {"filename": "a.pdf", "file_data": "AAAA"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "content": "42", "tool_call_id": "c1"}
            ]
        });
        let inner = build_inner_request(&body, true).unwrap();
        let canonical = String::from_utf8(inner.canonical_bytes()).unwrap();
        assert_eq!(
            canonical,
            r#"{"max_tokens": 50, "messages": [{"content": "be brief", "role": "system"}, {"content": [{"text": "h\u00e9", "type": "text"}, {"filename": "a.pdf", "type": "file"}], "role": "user"}, {"content": "", "role": "assistant", "tool_calls": [{"function": {"arguments": "{}", "name": "f"}, "id": "c1", "type": "function"}]}, {"content": "42", "role": "tool", "tool_call_id": "c1"}], "model": "gpt-4.1", "temperature": 1.0}"#
        );
        let wire = String::from_utf8(inner.wire).unwrap();
        assert!(wire.starts_with(r#"{"model": "gpt-4.1", "messages": [{"role": "system""#), "{wire}");
        assert!(wire.contains(r#""file_data": "AAAA""#) && wire.ends_with(r#""tool_choice": "auto", "stream": true}"#), "{wire}");
        assert!(!wire.contains("top_p"));
    }

    #[test]
    fn requests_that_cannot_be_signed_are_refused() {
        assert!(build_inner_request(&json!({"messages": [{"role": "user", "content": "x"}]}), false).is_err());
        assert!(build_inner_request(&json!({"model": "m", "messages": []}), false).is_err());
        assert!(build_inner_request(&json!({"model": "m", "messages": [{"role": "robot", "content": "x"}]}), false).is_err());
        assert!(build_inner_request(&json!({"model": "m", "messages": [{"role": "user"}], "tools": {"a": 1}}), false).is_err());
    }

    #[test]
    fn streamed_tool_calls_are_signed_as_sorted_json() {
        let mut out = StreamedOutput::default();
        out.absorb(&json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "run", "arguments": "{\"a\""}}]}}]}));
        out.absorb(&json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}}]}));
        assert_eq!(
            out.signed_output(Some("tool_calls")),
            r#"[{"function": {"arguments": "{\"a\": 1}", "name": "run"}, "id": "c", "type": "function"}]"#
        );
        assert_eq!(out.signed_output(Some("stop")), "");
    }
}
