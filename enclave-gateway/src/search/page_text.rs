//! A fetched page as plain text: html5ever's tokenizer, keeping the text outside scripts,
//! styles and other non-content elements, with a line break at each block. Without a tree
//! builder the tokenizer must be told where raw text starts (a `<` inside a script is not a
//! tag): the sink switches it to the raw-text state the HTML standard gives each element.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts};

/// The most text kept from one page, in bytes.
const MAX_TEXT_BYTES: usize = 200_000;

const SKIPPED: &[&str] = &["script", "style", "noscript", "template", "svg", "head", "nav", "footer"];
const BLOCKS: &[&str] = &["p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article", "blockquote", "pre", "title"];

#[derive(Default)]
struct TextSink {
    text: RefCell<String>,
    /// How deep inside skipped elements the tokenizer is.
    skipping: RefCell<u32>,
    title: RefCell<Option<String>>,
    in_title: RefCell<bool>,
}

/// The state the tokenizer must enter after this start tag (the HTML standard's tree builder
/// does the same).
fn raw_state(tag: &Tag) -> Option<RawKind> {
    if tag.kind != TagKind::StartTag || tag.self_closing {
        return None;
    }
    match &*tag.name {
        "script" => Some(RawKind::ScriptData),
        "style" | "xmp" | "iframe" | "noembed" | "noframes" | "noscript" => Some(RawKind::Rawtext),
        "title" | "textarea" => Some(RawKind::Rcdata),
        _ => None,
    }
}

impl TextSink {
    fn tag(&self, tag: &Tag) {
        let name: &str = &tag.name;
        if name == "title" {
            *self.in_title.borrow_mut() = tag.kind == TagKind::StartTag;
        }
        if SKIPPED.contains(&name) && !tag.self_closing {
            let mut depth = self.skipping.borrow_mut();
            match tag.kind {
                TagKind::StartTag => *depth += 1,
                TagKind::EndTag => *depth = depth.saturating_sub(1),
            }
        }
        if BLOCKS.contains(&name) {
            self.text.borrow_mut().push('\n');
        }
    }
}

impl TokenSink for TextSink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        match token {
            Token::TagToken(tag) => {
                self.tag(&tag);
                if let Some(kind) = raw_state(&tag) {
                    return TokenSinkResult::RawData(kind);
                }
            }
            Token::CharacterTokens(t) if *self.in_title.borrow() => {
                let mut title = self.title.borrow_mut();
                let title = title.get_or_insert_with(String::new);
                if title.len() < 1000 {
                    title.push_str(&t);
                }
            }
            Token::CharacterTokens(t) if *self.skipping.borrow() == 0 => {
                let mut text = self.text.borrow_mut();
                // One long text node must not carry the page past the cap either.
                let room = MAX_TEXT_BYTES.saturating_sub(text.len());
                let mut end = room.min(t.len());
                while !t.is_char_boundary(end) {
                    end -= 1;
                }
                text.push_str(&t[..end]);
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

/// A page's title (if it has one) and its readable text.
pub fn html_to_text(html: &str) -> (Option<String>, String) {
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let tokenizer = Tokenizer::new(TextSink::default(), TokenizerOpts::default());
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let sink = &tokenizer.sink;
    let text = sink.text.borrow();
    let lines: Vec<String> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect();
    let title = sink.title.borrow().as_ref().map(|t| t.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|t| !t.is_empty());
    (title, lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_styles_and_markup_are_dropped() {
        let html = "<html><head><title> The  Page </title><style>p{color:red}</style></head><body>\
            <nav>Home | About</nav><h1>Heading</h1><p>First &amp; <b>bold</b> text.</p>\
            <script>alert('x')</script><p>Second.</p></body></html>";
        let (title, text) = html_to_text(html);
        assert_eq!(title.as_deref(), Some("The Page"));
        assert_eq!(text, "Heading\nFirst & bold text.\nSecond.");
        // Broken markup still gives text, and nothing panics.
        assert_eq!(html_to_text("<p>unclosed <b>tags <script>never closed").1, "unclosed tags");
        assert_eq!(html_to_text("").1, "");
        // A `<` inside a script or style does not open a tag that hides or leaks text.
        let tricky = "<p>before</p><script>if (a<b) { x = '</p><p>scripttext' }</script><style>p<q{}</style><p>after</p>";
        assert_eq!(html_to_text(tricky).1, "before\nafter");
        // A single huge text node is cut at the cap, on a character boundary.
        let huge = format!("<p>{}</p>", "é".repeat(150_000));
        assert!(html_to_text(&huge).1.len() <= MAX_TEXT_BYTES);
    }
}
