//! Web search inside the enclave: the request flag and the verified sources of an answer.
//!
//! A chat request with `"web_search": true` asks the enclave to search the web itself, fetch
//! the pages it cites and answer from them. The sources travel *inside* the reply content — a
//! top-level `citations` array in the first streamed chunk, or in the whole JSON completion —
//! so the receipt's output hash covers the titles, addresses and quoted text as well as the
//! answer. Nothing about a search is outside the signature.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The request field that asks for a search (a boolean).
pub const WEB_SEARCH_FIELD: &str = "web_search";
/// Where the sources are in the reply content.
pub const CITATIONS_FIELD: &str = "citations";
/// At most this many sources per answer.
pub const MAX_CITATIONS: usize = 5;
/// The longest quoted passage, in characters.
pub const MAX_QUOTE_CHARS: usize = 400;
/// The longest search query the enclave sends to its provider, in characters.
pub const MAX_QUERY_CHARS: usize = 300;

/// One source an answer used: what the enclave fetched and quoted from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Citation {
    /// Its number in the answer (`[1]`, `[2]`, …).
    pub index: u32,
    pub title: String,
    pub url: String,
    /// The passage of the page the answer was given.
    pub quote: String,
}

/// Whether a request body asks for a web search.
pub fn requested(body: &Value) -> bool {
    body.get(WEB_SEARCH_FIELD).and_then(Value::as_bool).unwrap_or(false)
}

/// The citations carried by one reply object (a streamed chunk or a whole completion).
/// `Ok(None)` when it carries none; an error when they are there but not well-formed.
pub fn citations_in(object: &Value) -> Result<Option<Vec<Citation>>, String> {
    match object.get(CITATIONS_FIELD) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let list: Vec<Citation> =
                serde_json::from_value(v.clone()).map_err(|e| format!("the sources of the answer are not well-formed ({e})"))?;
            if list.len() > MAX_CITATIONS {
                return Err(format!("the answer names {} sources, more than the {MAX_CITATIONS} allowed", list.len()));
            }
            Ok(Some(list))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_flag_and_the_sources_are_read_strictly() {
        assert!(requested(&json!({"web_search": true})));
        assert!(!requested(&json!({"web_search": "yes"})));
        assert!(!requested(&json!({})));
        let one = json!({"citations": [{"index": 1, "title": "T", "url": "https://a.example/", "quote": "q"}]});
        assert_eq!(citations_in(&one).unwrap().unwrap()[0].url, "https://a.example/");
        assert_eq!(citations_in(&json!({"choices": []})), Ok(None));
        assert!(citations_in(&json!({"citations": [{"index": 1}]})).is_err());
        let many: Vec<Value> = (0..6).map(|i| json!({"index": i, "title": "", "url": "", "quote": ""})).collect();
        assert!(citations_in(&json!({"citations": many})).unwrap_err().contains("more than"));
    }
}
