//! Markdown (CommonMark + tables) to PDF.
//!
//! [`render`] parses with pulldown-cmark into [`blocks`], lays them out on pages
//! ([`layout`]), and writes the PDF with krilla, which embeds and subsets the fonts and writes
//! ToUnicode maps (so text can be extracted). Fonts: Liberation Sans/Mono (OFL, Debian package
//! `fonts-liberation2`, installed by `scripts/setup`), which cover Latin, Greek and Cyrillic.

mod blocks;
mod error;
mod fonts;
mod layout;
mod write;

use std::path::PathBuf;

pub use error::DocumentError;
pub use fonts::FontSet;

/// Paper sizes, in PDF points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paper {
    A4,
    Letter,
}

impl Paper {
    pub fn size(self) -> (f32, f32) {
        match self {
            Paper::A4 => (595.28, 841.89),
            Paper::Letter => (612.0, 792.0),
        }
    }
}

impl std::str::FromStr for Paper {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "a4" => Ok(Paper::A4),
            "letter" => Ok(Paper::Letter),
            _ => Err(format!("`{s}` is not a paper size: use a4 or letter")),
        }
    }
}

/// How to render.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    pub paper: Paper,
    /// The document title (metadata and outline); default: the first level-1 heading.
    pub title: Option<String>,
    /// Which images may be embedded.
    pub images: ImageSource,
}

/// Where a document's images may come from. A `data:` image (PNG or JPEG, base64) is always
/// allowed: it is part of the text itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ImageSource {
    /// Only `data:` images; a reference to anything else is shown as a note, never read. For
    /// text a model wrote (conversation exports), which must not get a local file embedded
    /// (`![](/home/…/id.jpg)`) in a PDF the user then shares.
    #[default]
    EmbeddedOnly,
    /// Also files, resolved against `base`; with `confine`, only files inside `base` (the
    /// agent's workspace).
    Files { base: PathBuf, confine: bool },
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self { paper: Paper::A4, title: None, images: ImageSource::EmbeddedOnly }
    }
}

/// Renders Markdown to PDF bytes.
pub fn render(markdown: &str, fonts: &FontSet, options: &RenderOptions) -> Result<Vec<u8>, DocumentError> {
    let doc = blocks::parse(markdown);
    let images = layout::load_images(&doc, options)?;
    let pages = layout::paginate(&doc, fonts, &images, options.paper);
    let title = options.title.clone().or_else(|| blocks::first_title(&doc)).unwrap_or_else(|| "Document".into());
    write::pdf(&pages, fonts, &images, options.paper, &title)
}

mod agent_tool;
mod export;

pub use agent_tool::make_pdf;
pub use export::{conversation_markdown, ExportMessage, ExportStatus};

/// Renders a Markdown file to a PDF file (what `sotto pdf` does); images resolve against the
/// Markdown file's folder.
pub fn render_file(input: &std::path::Path, output: &std::path::Path, paper: Paper) -> Result<usize, DocumentError> {
    let markdown = std::fs::read(input).map_err(|e| DocumentError::Input { path: input.to_owned(), reason: e.to_string() })?;
    let markdown = String::from_utf8(markdown)
        .map_err(|_| DocumentError::Input { path: input.to_owned(), reason: "it is not UTF-8 text".into() })?;
    let fonts = FontSet::load_default()?;
    // The user's own file: its images may be anywhere, relative to its folder.
    let base = input.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    let options = RenderOptions { paper, images: ImageSource::Files { base, confine: false }, ..Default::default() };
    let pdf = render(&markdown, &fonts, &options)?;
    std::fs::write(output, &pdf).map_err(|e| DocumentError::Write(format!("{}: {e}", output.display())))?;
    Ok(pdf.len())
}
