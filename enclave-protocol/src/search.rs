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
/// What to search for, as the user typed it (without the text of attached files, which must
/// not go to a search provider). Without it the enclave searches for the last user message.
pub const WEB_SEARCH_QUERY_FIELD: &str = "web_search_query";
/// Where the sources are in the reply content.
pub const CITATIONS_FIELD: &str = "citations";
/// At most this many sources per answer.
pub const MAX_CITATIONS: usize = 5;
/// The longest quoted passage, in characters.
pub const MAX_QUOTE_CHARS: usize = 400;
/// The longest search query the enclave sends to its provider, in characters.
pub const MAX_QUERY_CHARS: usize = 300;
/// The most bytes of a source's title, address and quote (cut at a character boundary).
pub const MAX_TITLE_BYTES: usize = 300;
pub const MAX_URL_BYTES: usize = 600;
pub const MAX_QUOTE_BYTES: usize = 1200;
/// The sources always take exactly this many bytes of reply content (the first streamed event,
/// or the whole body's share), so the relay learns nothing from their size.
pub const CITATIONS_BYTES: usize = 16 * 1024;

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

/// Text fit to show: no control or format characters (no terminal escapes, no bidirectional
/// overrides or zero-width characters that make a shown address differ from its bytes), at
/// most `max` bytes.
pub fn clean(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars().filter(|c| !c.is_control() && !is_format(*c)) {
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

/// Unicode's format characters (category Cf) that matter for spoofing: bidirectional controls,
/// zero-width characters, the soft hyphen and the byte-order mark.
pub fn is_format(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// Whether a request body asks for a web search.
pub fn requested(body: &Value) -> bool {
    body.get(WEB_SEARCH_FIELD).and_then(Value::as_bool).unwrap_or(false)
}

/// [`requested`] on a serialized request, reading only that field (the rest, attached images
/// included, is skipped, not built into a tree).
pub fn requested_in(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Flag {
        #[serde(rename = "web_search", default)]
        web_search: Option<Value>,
    }
    serde_json::from_slice::<Flag>(body).is_ok_and(|f| f.web_search == Some(Value::Bool(true)))
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
            for (i, c) in list.iter().enumerate() {
                check_citation(i, c)?;
            }
            Ok(Some(list))
        }
    }
}

/// A source as an enclave sends it: numbered from 1 in order, an http(s) address, clean text
/// within the limits (anything else is refused, not repaired).
fn check_citation(i: usize, c: &Citation) -> Result<(), String> {
    let bad = |why: &str| Err(format!("source {} of the answer {why}", i + 1));
    if c.index as usize != i + 1 {
        return bad("is numbered out of order");
    }
    if !(c.url.starts_with("https://") || c.url.starts_with("http://")) {
        return bad("has an address that is not http(s)");
    }
    for (text, max) in [(&c.title, MAX_TITLE_BYTES), (&c.url, MAX_URL_BYTES), (&c.quote, MAX_QUOTE_BYTES)] {
        if clean(text, max) != *text {
            return bad("carries control characters or is too long");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_flag_reads_the_same_from_bytes() {
        for body in [json!({"web_search": true}), json!({"web_search": false}), json!({"web_search": "true"}), json!({"messages": [], "web_search": 1}), json!({})] {
            assert_eq!(requested_in(body.to_string().as_bytes()), requested(&body), "{body}");
        }
        assert!(requested_in(br#"{"messages": [{"content": [{"image_url": {"url": "data:..."}}]}], "web_search": true}"#));
        assert!(!requested_in(b"not json"));
    }

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
        let one = |index: u32, url: &str, title: &str| json!({"citations": [{"index": index, "title": title, "url": url, "quote": "q"}]});
        assert!(citations_in(&one(2, "https://a.example/", "T")).unwrap_err().contains("out of order"));
        assert!(citations_in(&one(1, "javascript:alert(1)", "T")).unwrap_err().contains("not http(s)"));
        assert!(citations_in(&one(1, "https://a.example/", "a\u{1b}[2Jb")).unwrap_err().contains("control"));
        assert!(citations_in(&one(1, "https://a.example/", "gro\u{202E}lpaypal")).unwrap_err().contains("control"));
        assert!(citations_in(&one(1, &format!("https://a.example/{}", "x".repeat(700)), "T")).is_err());
    }

    #[test]
    fn cleaning_drops_escapes_and_spoofing_and_cuts_at_a_character() {
        assert_eq!(clean("a\u{1b}[31mb\u{202E}c\u{200B}d", 100), "a[31mbcd");
        assert_eq!(clean("ééé", 5), "éé");
    }
}
