//! A fetched page as plain text: html5ever's tokenizer, keeping the text outside scripts,
//! styles and other non-content elements, with a line break at each block.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts};

/// The most text kept from one page.
const MAX_TEXT_CHARS: usize = 200_000;

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
            Token::TagToken(tag) => self.tag(&tag),
            Token::CharacterTokens(t) if *self.in_title.borrow() => {
                self.title.borrow_mut().get_or_insert_with(String::new).push_str(&t);
            }
            Token::CharacterTokens(t) if *self.skipping.borrow() == 0 => {
                let mut text = self.text.borrow_mut();
                if text.len() < MAX_TEXT_CHARS {
                    text.push_str(&t);
                }
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
    }
}
