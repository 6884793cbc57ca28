//! Markdown to a tree of blocks (what the layout needs, nothing more).

use pulldown_cmark::{Alignment, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    pub bold: bool,
    pub italic: bool,
    pub code: bool,
}

/// A run of text in one style.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub text: String,
    pub style: Style,
    pub link: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Heading { level: u8, spans: Vec<Span> },
    Paragraph(Vec<Span>),
    List { start: Option<u64>, items: Vec<Vec<Block>> },
    Quote(Vec<Block>),
    Code(String),
    Table { header: Vec<Vec<Span>>, rows: Vec<Vec<Vec<Span>>>, align: Vec<Align> },
    Image { src: String, alt: String },
    Rule,
}

/// Column alignment, from the table's delimiter row (`:--`, `:-:`, `--:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

pub fn plain(spans: &[Span]) -> String {
    spans.iter().map(|s| s.text.as_str()).collect()
}

/// The first level-1 heading, as a title.
pub fn first_title(blocks: &[Block]) -> Option<String> {
    blocks.iter().find_map(|b| match b {
        Block::Heading { level: 1, spans } => Some(plain(spans)),
        _ => None,
    })
}

enum Frame {
    Root(Vec<Block>),
    Quote(Vec<Block>),
    List { start: Option<u64>, items: Vec<Vec<Block>> },
    Item(Vec<Block>),
}

impl Frame {
    fn blocks(&mut self) -> Option<&mut Vec<Block>> {
        match self {
            Frame::Root(b) | Frame::Quote(b) | Frame::Item(b) => Some(b),
            Frame::List { .. } => None,
        }
    }
}

#[derive(Default)]
struct TableState {
    align: Vec<Align>,
    header: Vec<Vec<Span>>,
    rows: Vec<Vec<Vec<Span>>>,
    in_head: bool,
    row: Vec<Vec<Span>>,
}

struct Builder {
    frames: Vec<Frame>,
    inline: Option<Vec<Span>>,
    heading: Option<u8>,
    style: Style,
    link: Option<String>,
    code: Option<String>,
    table: Option<TableState>,
    image: Option<(String, String)>,
}

impl Builder {
    fn push_block(&mut self, block: Block) {
        for frame in self.frames.iter_mut().rev() {
            if let Some(b) = frame.blocks() {
                b.push(block);
                return;
            }
        }
    }

    fn text(&mut self, text: &str, style: Style) {
        if let Some((_, alt)) = self.image.as_mut() {
            alt.push_str(text);
            return;
        }
        let span = Span { text: text.to_string(), style, link: self.link.clone() };
        if let Some(table) = self.table.as_mut() {
            if let Some(cell) = table.row.last_mut() {
                cell.push(span);
            }
            return;
        }
        self.inline.get_or_insert_with(Vec::new).push(span);
    }

    /// Ends a paragraph (explicit, or implicit in a tight list item).
    fn flush_inline(&mut self) {
        if let Some(spans) = self.inline.take() {
            if !spans.is_empty() {
                match self.heading.take() {
                    Some(level) => self.push_block(Block::Heading { level, spans }),
                    None => self.push_block(Block::Paragraph(spans)),
                }
            }
        }
    }

    fn start(&mut self, tag: Tag) {
        match tag {
            Tag::Paragraph => self.flush_inline(),
            Tag::Heading { level, .. } => {
                self.flush_inline();
                self.heading = Some(heading_level(level));
            }
            Tag::BlockQuote(_) => {
                self.flush_inline();
                self.frames.push(Frame::Quote(Vec::new()));
            }
            Tag::CodeBlock(_) => {
                self.flush_inline();
                self.code = Some(String::new());
            }
            Tag::List(start) => {
                self.flush_inline();
                self.frames.push(Frame::List { start, items: Vec::new() });
            }
            Tag::Item => {
                self.flush_inline();
                self.frames.push(Frame::Item(Vec::new()));
            }
            Tag::Table(aligns) => {
                self.flush_inline();
                let align = aligns
                    .iter()
                    .map(|a| match a {
                        Alignment::Right => Align::Right,
                        Alignment::Center => Align::Center,
                        _ => Align::Left,
                    })
                    .collect();
                self.table = Some(TableState { align, ..Default::default() });
            }
            Tag::TableHead => {
                if let Some(t) = self.table.as_mut() {
                    t.in_head = true;
                }
            }
            Tag::TableRow => {}
            Tag::TableCell => {
                if let Some(t) = self.table.as_mut() {
                    t.row.push(Vec::new());
                }
            }
            Tag::Emphasis => self.style.italic = true,
            Tag::Strong => self.style.bold = true,
            Tag::Link { dest_url, .. } => self.link = Some(dest_url.to_string()),
            Tag::Image { dest_url, .. } => self.image = Some((dest_url.to_string(), String::new())),
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::Heading(_) => self.flush_inline(),
            TagEnd::BlockQuote(_) => {
                self.flush_inline();
                if let Some(Frame::Quote(blocks)) = self.frames.pop() {
                    self.push_block(Block::Quote(blocks));
                }
            }
            TagEnd::CodeBlock => {
                if let Some(code) = self.code.take() {
                    self.push_block(Block::Code(code.trim_end_matches('\n').to_string()));
                }
            }
            TagEnd::Item => {
                self.flush_inline();
                if let Some(Frame::Item(blocks)) = self.frames.pop() {
                    if let Some(Frame::List { items, .. }) = self.frames.last_mut() {
                        items.push(blocks);
                    }
                }
            }
            TagEnd::List(_) => {
                self.flush_inline();
                if let Some(Frame::List { start, items }) = self.frames.pop() {
                    self.push_block(Block::List { start, items });
                }
            }
            TagEnd::TableHead => {
                if let Some(t) = self.table.as_mut() {
                    t.header = std::mem::take(&mut t.row);
                    t.in_head = false;
                }
            }
            TagEnd::TableRow => {
                if let Some(t) = self.table.as_mut() {
                    let row = std::mem::take(&mut t.row);
                    t.rows.push(row);
                }
            }
            TagEnd::Table => {
                if let Some(t) = self.table.take() {
                    self.push_block(Block::Table { header: t.header, rows: t.rows, align: t.align });
                }
            }
            TagEnd::Emphasis => self.style.italic = false,
            TagEnd::Strong => self.style.bold = false,
            TagEnd::Link => self.link = None,
            TagEnd::Image => {
                if let Some((src, alt)) = self.image.take() {
                    // An image is a block of its own: end the text before it.
                    self.flush_inline();
                    self.push_block(Block::Image { src, alt });
                }
            }
            _ => {}
        }
    }
}

fn heading_level(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Parses CommonMark with tables. Never fails: any text is some Markdown.
pub fn parse(markdown: &str) -> Vec<Block> {
    let mut b = Builder {
        frames: vec![Frame::Root(Vec::new())],
        inline: None,
        heading: None,
        style: Style::default(),
        link: None,
        code: None,
        table: None,
        image: None,
    };
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    for event in Parser::new_ext(markdown, options) {
        match event {
            Event::Start(tag) => b.start(tag),
            Event::End(tag) => b.end(tag),
            Event::Text(t) => match b.code.as_mut() {
                Some(code) => code.push_str(&t),
                None => b.text(&t, b.style),
            },
            Event::Code(t) => b.text(&t, Style { code: true, ..b.style }),
            Event::SoftBreak => b.text(" ", b.style),
            Event::HardBreak => b.text("\n", b.style),
            Event::Html(t) | Event::InlineHtml(t) => b.text(&t, b.style),
            Event::Rule => {
                b.flush_inline();
                b.push_block(Block::Rule);
            }
            // Liberation has no ballot-box glyphs; brackets read the same.
            Event::TaskListMarker(done) => b.text(if done { "[x] " } else { "[ ] " }, b.style),
            _ => {}
        }
    }
    b.flush_inline();
    // Close anything a broken document left open.
    while b.frames.len() > 1 {
        b.end(match b.frames.last() {
            Some(Frame::Quote(_)) => TagEnd::BlockQuote(None),
            Some(Frame::Item(_)) => TagEnd::Item,
            _ => TagEnd::List(false),
        });
    }
    match b.frames.pop() {
        Some(Frame::Root(blocks)) => blocks,
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_nest_as_written() {
        let doc = parse("# T\n\nSome *it* **b** `c`\n\n- a\n  - b\n\n1. x\n\n> q\n\n```\ncode\n```\n\n| h |\n|---|\n| v |\n\n![alt](p.png)\n\n---\n");
        assert!(matches!(&doc[0], Block::Heading { level: 1, .. }));
        let Block::Paragraph(spans) = &doc[1] else { panic!("{doc:?}") };
        assert!(spans.iter().any(|s| s.style.italic && s.text == "it"));
        assert!(spans.iter().any(|s| s.style.bold && s.text == "b"));
        assert!(spans.iter().any(|s| s.style.code && s.text == "c"));
        let Block::List { items, start: None } = &doc[2] else { panic!("{doc:?}") };
        assert!(items[0].iter().any(|b| matches!(b, Block::List { .. })), "nested list");
        assert!(matches!(&doc[3], Block::List { start: Some(1), .. }));
        assert!(matches!(&doc[4], Block::Quote(_)));
        assert_eq!(doc[5], Block::Code("code".into()));
        assert!(matches!(&doc[6], Block::Table { header, rows, .. } if header.len() == 1 && rows.len() == 1));
        assert_eq!(doc[7], Block::Image { src: "p.png".into(), alt: "alt".into() });
        assert_eq!(doc[8], Block::Rule);
    }

    #[test]
    fn broken_markdown_still_parses() {
        for text in ["", "> > > ", "- - - -\n* [", "| a |\n|-", "```\nunclosed", "\u{0}\u{FFFF}"] {
            let _ = parse(text);
        }
    }
}
