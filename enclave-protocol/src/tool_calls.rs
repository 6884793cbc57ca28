//! Tool calls streamed in pieces (OpenAI's chat format): each delta names its call by `index`;
//! the id, type and name come whole (OpenAI sends them once, llama.cpp's server repeats them in
//! every piece), the arguments as string fragments to join. The gateway and the client both
//! assemble calls this way.

use serde_json::{json, Value};

/// Merges one delta into the call assembled so far (an object; anything else is left alone).
pub fn merge_delta(call: &mut Value, delta: &Value) {
    let Value::Object(call) = call else { return };
    // An id or type is a non-empty string; a later piece repeating `""` keeps the first.
    for key in ["id", "type"] {
        if let Some(v) = delta.get(key).and_then(Value::as_str).filter(|v| !v.is_empty()) {
            call.insert(key.into(), Value::String(v.to_string()));
        }
    }
    let function = call.entry("function").or_insert_with(|| json!({"name": "", "arguments": ""}));
    if !function.is_object() {
        *function = json!({"name": "", "arguments": ""});
    }
    // A name is whole in the piece that carries it: taken, never appended.
    if let Some(name) = delta.pointer("/function/name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
        function["name"] = Value::String(name.to_string());
    }
    if let Some(piece) = delta.pointer("/function/arguments").and_then(Value::as_str) {
        // Appended in place: a long argument string arrives in many pieces.
        match &mut function["arguments"] {
            Value::String(so_far) => so_far.push_str(piece),
            other => *other = Value::String(piece.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assemble(deltas: &[Value]) -> Value {
        let mut call = json!({});
        for d in deltas {
            merge_delta(&mut call, d);
        }
        call
    }

    #[test]
    fn openai_sends_the_name_once() {
        let call = assemble(&[
            json!({"index": 0, "id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}),
            json!({"index": 0, "function": {"arguments": "{\"city\":"}}),
            json!({"index": 0, "function": {"arguments": "\"Paris\"}"}}),
        ]);
        assert_eq!(call, json!({"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}));
    }

    /// Measured with llama-cpp-python 0.3.36's server (scripts/real-engine): the id and name
    /// come again in every piece; joining names gave `get_weatherget_weather…`.
    #[test]
    fn llama_cpp_repeats_the_name_in_every_piece() {
        let piece = |args: &str| json!({"index": 0, "id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": args}});
        let call = assemble(&[piece("{\""), piece("city"), piece("\": \"Paris\"}")]);
        assert_eq!(call["function"]["name"], "get_weather");
        assert_eq!(call["function"]["arguments"], "{\"city\": \"Paris\"}");
    }

    #[test]
    fn odd_pieces_do_not_panic() {
        let mut not_object = json!([1]);
        merge_delta(&mut not_object, &json!({"function": {"name": "x"}}));
        let mut bad_function = json!({"function": 3});
        merge_delta(&mut bad_function, &json!({"function": {"arguments": "a"}}));
        assert_eq!(bad_function["function"]["arguments"], "a");
        let call = assemble(&[json!({"function": {"name": 5, "arguments": null}}), json!(null)]);
        assert_eq!(call["function"]["name"], "");
        let call = assemble(&[json!({"id": "c1", "type": "function"}), json!({"id": "", "type": 7})]);
        assert_eq!((call["id"].as_str(), call["type"].as_str()), (Some("c1"), Some("function")));
    }
}
