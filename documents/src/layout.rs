//! Lays blocks out on pages: a display list per page, so page numbers ("n of N") can be drawn
//! once the page count is known.

use std::path::PathBuf;

use crate::blocks::{plain, Align, Block, Span, Style};
use crate::fonts::{Face, FontSet};
use crate::{DocumentError, ImageSource, Paper, RenderOptions};

pub type Rgb = (u8, u8, u8);
const TEXT: Rgb = (25, 25, 25);
const MUTED: Rgb = (95, 95, 95);
const LINK: Rgb = (20, 80, 180);
const RULE: Rgb = (190, 190, 190);
const SHADE: Rgb = (242, 242, 242);

pub const MARGIN: f32 = 56.0;
const BODY: f32 = 10.5;
const LEADING: f32 = 1.4;
const CODE_SIZE: f32 = 8.8;
const TABLE_SIZE: f32 = 9.2;
const CELL_PAD: f32 = 4.0;
const INDENT: f32 = 18.0;

pub enum Op {
    Text { x: f32, y: f32, face: Face, size: f32, text: String, color: Rgb },
    Rect { x: f32, y: f32, w: f32, h: f32, fill: Rgb },
    Line { x1: f32, y1: f32, x2: f32, y2: f32, width: f32, color: Rgb },
    Image { x: f32, y: f32, w: f32, h: f32, index: usize },
    Link { x: f32, y: f32, w: f32, h: f32, url: String },
}

#[derive(Default)]
pub struct Page {
    pub ops: Vec<Op>,
}

pub struct OutlineEntry {
    pub level: u8,
    pub title: String,
    pub page: usize,
    pub y: f32,
}

pub struct Laid {
    pub pages: Vec<Page>,
    pub outline: Vec<OutlineEntry>,
}

/// Decoded images, in the order they appear in the document; `None` for one the document's
/// [`ImageSource`] does not allow (it is shown as a note instead).
pub struct Images {
    pub list: Vec<Option<(krilla::image::Image, f32, f32)>>,
}

/// Reads every allowed image (PNG or JPEG) before layout, so a missing one is an error up
/// front, never a half-written PDF.
pub fn load_images(doc: &[Block], options: &RenderOptions) -> Result<Images, DocumentError> {
    let mut srcs = Vec::new();
    collect_images(doc, &mut srcs);
    let mut list = Vec::new();
    let embedded_only = options.images == ImageSource::EmbeddedOnly;
    for src in srcs {
        let (data, path) = if let Some(data) = data_url(&src) {
            // In text a model wrote, a broken image is left out (with a note), not a failed export.
            match data.and_then(|d| decode(d, PathBuf::from("data: image"))) {
                Ok(image) => {
                    list.push(Some(image));
                    continue;
                }
                Err(_) if embedded_only => {
                    list.push(None);
                    continue;
                }
                Err(e) => return Err(e),
            }
        } else {
            match &options.images {
                ImageSource::EmbeddedOnly => {
                    list.push(None);
                    continue;
                }
                ImageSource::Files { base, confine } => {
                    let path = resolve(&src, base, *confine)?;
                    let data = std::fs::read(&path).map_err(|e| DocumentError::Image { path: path.clone(), reason: e.to_string() })?;
                    (data, path)
                }
            }
        };
        list.push(Some(decode(data, path)?));
    }
    Ok(Images { list })
}

/// The most pixels an image may have (a small file can claim an enormous one).
const MAX_PIXELS: u64 = 50_000_000;

fn decode(data: Vec<u8>, path: PathBuf) -> Result<(krilla::image::Image, f32, f32), DocumentError> {
    let err = |reason: String| DocumentError::Image { path: path.clone(), reason };
    let image = if data.starts_with(b"\x89PNG") {
        krilla::image::Image::from_png(data.into(), true)
    } else if data.starts_with(&[0xFF, 0xD8]) {
        krilla::image::Image::from_jpeg(data.into(), true)
    } else {
        Err("only PNG and JPEG images are supported".into())
    }
    .map_err(err)?;
    let (w, h) = image.size();
    if w == 0 || h == 0 {
        return Err(err("the image is empty".into()));
    }
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(err(format!("{w}×{h} pixels is more than {MAX_PIXELS}")));
    }
    Ok((image, w as f32, h as f32))
}

/// The bytes of a `data:image/png;base64,…` (or JPEG) URL; `None` when `src` is not one.
fn data_url(src: &str) -> Option<Result<Vec<u8>, DocumentError>> {
    use base64::Engine;
    let rest = src.strip_prefix("data:")?;
    if rest.len() > 16 << 20 {
        return Some(Err(DocumentError::Image { path: PathBuf::from("data: image"), reason: "more than 16 MiB of data".into() }));
    }
    let bad = |reason: &str| DocumentError::Image { path: PathBuf::from("data: image"), reason: reason.into() };
    let Some((meta, payload)) = rest.split_once(',') else { return Some(Err(bad("a data: URL without data"))) };
    if !matches!(meta.to_ascii_lowercase().as_str(), "image/png;base64" | "image/jpeg;base64" | "image/jpg;base64") {
        return Some(Err(bad("only base64 PNG and JPEG data: images are supported")));
    }
    let payload: String = payload.chars().filter(|c| !c.is_whitespace()).collect();
    Some(base64::engine::general_purpose::STANDARD.decode(payload).map_err(|_| bad("the data: image is not valid base64")))
}

fn resolve(src: &str, base: &std::path::Path, confine: bool) -> Result<PathBuf, DocumentError> {
    let path = base.join(src);
    if confine {
        let root = base.canonicalize().map_err(|e| DocumentError::Image { path: base.to_owned(), reason: e.to_string() })?;
        let real = path.canonicalize().map_err(|e| DocumentError::Image { path: path.clone(), reason: e.to_string() })?;
        if !real.starts_with(&root) {
            return Err(DocumentError::ImageOutside(PathBuf::from(src)));
        }
        return Ok(real);
    }
    Ok(path)
}

fn collect_images(blocks: &[Block], out: &mut Vec<String>) {
    for b in blocks {
        match b {
            Block::Image { src, .. } => out.push(src.clone()),
            Block::Quote(inner) => collect_images(inner, out),
            Block::List { items, .. } => items.iter().for_each(|i| collect_images(i, out)),
            _ => {}
        }
    }
}

fn face_for(style: Style) -> Face {
    match (style.code, style.bold, style.italic) {
        (true, _, _) => Face::Mono,
        (_, true, true) => Face::BoldItalic,
        (_, true, false) => Face::Bold,
        (_, false, true) => Face::Italic,
        _ => Face::Regular,
    }
}

/// A measured piece of a line.
struct Piece {
    text: String,
    face: Face,
    size: f32,
    width: f32,
    link: Option<String>,
}

struct Layout<'a> {
    fonts: &'a FontSet,
    images: &'a Images,
    next_image: usize,
    height: f32,
    pages: Vec<Page>,
    outline: Vec<OutlineEntry>,
    y: f32,
    /// x positions of the bars of enclosing block quotes.
    quote_bars: Vec<f32>,
    color: Rgb,
}

pub fn paginate(doc: &[Block], fonts: &FontSet, images: &Images, paper: Paper) -> Laid {
    let (width, height) = paper.size();
    let mut l = Layout {
        fonts,
        images,
        next_image: 0,
        height,
        pages: vec![Page::default()],
        outline: Vec::new(),
        y: MARGIN,
        quote_bars: Vec::new(),
        color: TEXT,
    };
    let text_width = width - 2.0 * MARGIN;
    l.blocks(doc, MARGIN, text_width);
    Laid { pages: l.pages, outline: l.outline }
}

impl Layout<'_> {
    fn bottom(&self) -> f32 {
        self.height - MARGIN - 14.0 // room for the page number
    }

    fn at_top(&self) -> bool {
        self.y <= MARGIN + 0.1
    }

    fn new_page(&mut self) {
        self.pages.push(Page::default());
        self.y = MARGIN;
    }

    /// Starts a new page unless `h` more points fit on this one.
    fn ensure(&mut self, h: f32) {
        if self.y + h > self.bottom() && !self.at_top() {
            self.new_page();
        }
    }

    fn op(&mut self, op: Op) {
        if let Some(p) = self.pages.last_mut() {
            p.ops.push(op);
        }
    }

    fn space(&mut self, h: f32) {
        if !self.at_top() {
            self.y += h;
        }
    }

    fn blocks(&mut self, blocks: &[Block], x: f32, w: f32) {
        for b in blocks {
            self.block(b, x, w);
        }
    }

    fn block(&mut self, block: &Block, x: f32, w: f32) {
        match block {
            Block::Heading { level, spans } => self.heading(*level, spans, x, w),
            Block::Paragraph(spans) => {
                self.paragraph(spans, x, w, BODY, Face::Regular);
                self.y += 6.0;
            }
            Block::List { start, items } => self.list(*start, items, x, w),
            Block::Quote(inner) => {
                self.quote_bars.push(x + 2.0);
                let saved = std::mem::replace(&mut self.color, MUTED);
                self.blocks(inner, x + 14.0, w - 14.0);
                self.color = saved;
                self.quote_bars.pop();
            }
            Block::Code(code) => self.code(code, x, w),
            Block::Table { header, rows, align } => self.table(header, rows, align, x, w),
            Block::Image { src, alt } => self.image(src, alt, x, w),
            Block::Rule => {
                self.ensure(14.0);
                self.y += 6.0;
                let y = self.y;
                self.op(Op::Line { x1: x, y1: y, x2: x + w, y2: y, width: 0.8, color: RULE });
                self.y += 8.0;
            }
        }
    }

    fn heading(&mut self, level: u8, spans: &[Span], x: f32, w: f32) {
        let size = [20.0, 16.0, 13.5, 12.0, 11.0, 10.5][usize::from(level.clamp(1, 6)) - 1];
        self.space(size * 0.8);
        // Keep a heading with at least two lines of what follows.
        self.ensure(size * LEADING + 2.0 * BODY * LEADING);
        self.outline.push(OutlineEntry { level, title: plain(spans), page: self.pages.len() - 1, y: self.y });
        let bold: Vec<Span> = spans.iter().map(|s| Span { style: Style { bold: true, ..s.style }, ..s.clone() }).collect();
        self.paragraph(&bold, x, w, size, Face::Bold);
        self.y += size * 0.35;
    }

    fn list(&mut self, start: Option<u64>, items: &[Vec<Block>], x: f32, w: f32) {
        for (i, item) in items.iter().enumerate() {
            let marker = match start {
                Some(n) => format!("{}.", n + i as u64),
                None => "•".to_string(),
            };
            self.ensure(BODY * LEADING);
            let baseline = self.y + BODY;
            let mw = self.fonts.width(Face::Regular, BODY, &marker);
            let color = self.color;
            self.op(Op::Text { x: x + INDENT - 5.0 - mw, y: baseline, face: Face::Regular, size: BODY, text: marker, color });
            let before = self.pages.len();
            self.blocks(item, x + INDENT, w - INDENT);
            // A tight item's paragraph ends with extra space; lists are set closer.
            if self.pages.len() == before {
                self.y -= 3.0;
            }
        }
        self.y += 4.0;
    }

    /// Wraps spans into lines no wider than `w`.
    fn wrap(&self, spans: &[Span], w: f32, size: f32, base: Face) -> Vec<Vec<Piece>> {
        let mut lines: Vec<Vec<Piece>> = vec![Vec::new()];
        let mut line_w = 0.0;
        for span in spans {
            let face = if span.style == Style::default() { base } else { face_for(span.style) };
            let sz = if span.style.code { size * 0.92 } else { size };
            for (i, hard) in span.text.split('\n').enumerate() {
                if i > 0 {
                    lines.push(Vec::new());
                    line_w = 0.0;
                }
                for word in hard.split_inclusive(' ') {
                    let ww = self.fonts.width(face, sz, word);
                    let trimmed = self.fonts.width(face, sz, word.trim_end());
                    if line_w + trimmed > w && line_w > 0.0 {
                        lines.push(Vec::new());
                        line_w = 0.0;
                    }
                    if trimmed > w {
                        // A word longer than the line: break it by characters.
                        for ch in word.chars() {
                            let cw = self.fonts.width(face, sz, ch.encode_utf8(&mut [0; 4]));
                            if line_w + cw > w && line_w > 0.0 {
                                lines.push(Vec::new());
                                line_w = 0.0;
                            }
                            push_piece(lines.last_mut(), ch.to_string(), face, sz, cw, &span.link);
                            line_w += cw;
                        }
                        continue;
                    }
                    push_piece(lines.last_mut(), word.to_string(), face, sz, ww, &span.link);
                    line_w += ww;
                }
            }
        }
        lines
    }

    fn paragraph(&mut self, spans: &[Span], x: f32, w: f32, size: f32, base: Face) {
        let lh = size * LEADING;
        for line in self.wrap(spans, w, size, base) {
            self.ensure(lh);
            let baseline = self.y + size;
            self.bars(self.y, lh);
            let mut cx = x;
            for p in line {
                let text = p.text.trim_end_matches(' ').to_string();
                let tw = self.fonts.width(p.face, p.size, &text);
                let color = if p.link.is_some() { LINK } else { self.color };
                if let Some(url) = &p.link {
                    self.op(Op::Link { x: cx, y: self.y, w: tw.max(1.0), h: lh, url: url.clone() });
                }
                if !text.is_empty() {
                    self.op(Op::Text { x: cx, y: baseline, face: p.face, size: p.size, text, color });
                }
                cx += p.width;
            }
            self.y += lh;
        }
    }

    /// Draws the bars of enclosing quotes beside one line.
    fn bars(&mut self, top: f32, h: f32) {
        for bx in self.quote_bars.clone() {
            self.op(Op::Line { x1: bx, y1: top, x2: bx, y2: top + h, width: 2.0, color: RULE });
        }
    }

    fn code(&mut self, code: &str, x: f32, w: f32) {
        let lh = CODE_SIZE * 1.35;
        let pad = 6.0;
        let char_w = self.fonts.width(Face::Mono, CODE_SIZE, "0").max(0.1);
        let per_line = (((w - 2.0 * pad) / char_w).floor() as usize).max(8);
        self.ensure(lh + 2.0 * pad);
        self.y += 2.0;
        let mut first = true;
        for raw in code.split('\n') {
            let chars: Vec<char> = raw.replace('\t', "    ").chars().collect();
            let pieces: Vec<String> = if chars.is_empty() {
                vec![String::new()]
            } else {
                chars.chunks(per_line).map(|c| c.iter().collect()).collect()
            };
            for piece in pieces {
                let top_pad = if first { pad } else { 0.0 };
                self.ensure(lh + top_pad);
                let top = self.y;
                self.op(Op::Rect { x, y: top, w, h: lh + top_pad, fill: SHADE });
                self.bars(top, lh + top_pad);
                let baseline = top + top_pad + CODE_SIZE;
                if !piece.is_empty() {
                    self.op(Op::Text { x: x + pad, y: baseline, face: Face::Mono, size: CODE_SIZE, text: piece, color: TEXT });
                }
                self.y += lh + top_pad;
                first = false;
            }
        }
        self.op(Op::Rect { x, y: self.y, w, h: pad, fill: SHADE });
        self.y += pad + 8.0;
    }

    fn column_widths(&self, header: &[Vec<Span>], rows: &[Vec<Vec<Span>>], w: f32) -> Vec<f32> {
        let n = header.len().max(rows.iter().map(Vec::len).max().unwrap_or(0)).max(1);
        let mut natural = vec![20.0f32; n];
        for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
            for (i, cell) in row.iter().enumerate().take(n) {
                let cw = self.fonts.width(Face::Bold, TABLE_SIZE, &plain(cell)) + 2.0 * CELL_PAD;
                natural[i] = natural[i].max(cw.min(w));
            }
        }
        let total: f32 = natural.iter().sum();
        if total <= w {
            let extra = (w - total) / n as f32;
            return natural.iter().map(|c| c + extra).collect();
        }
        // Too wide: share the width in proportion, but give every column a fair minimum.
        let min = w / n as f32 * 0.5;
        let flex: f32 = natural.iter().map(|c| (c - min).max(0.0)).sum();
        let rest = w - min * n as f32;
        natural.iter().map(|c| min + (c - min).max(0.0) / flex.max(1.0) * rest).collect()
    }

    fn table(&mut self, header: &[Vec<Span>], rows: &[Vec<Vec<Span>>], align: &[Align], x: f32, w: f32) {
        let widths = self.column_widths(header, rows, w);
        self.y += 2.0;
        let header_h = self.row_height(header, &widths);
        self.ensure(header_h + self.row_height(rows.first().map(Vec::as_slice).unwrap_or(&[]), &widths));
        self.row(header, &widths, align, x, true);
        for row in rows {
            let h = self.row_height(row, &widths);
            if self.y + h > self.bottom() {
                self.new_page();
                // The header repeats on every page the table continues on.
                self.row(header, &widths, align, x, true);
            }
            self.row(row, &widths, align, x, false);
        }
        self.y += 10.0;
    }

    fn row_height(&self, row: &[Vec<Span>], widths: &[f32]) -> f32 {
        let lines = row
            .iter()
            .zip(widths)
            .map(|(cell, cw)| self.wrap(cell, cw - 2.0 * CELL_PAD, TABLE_SIZE, Face::Regular).len())
            .max()
            .unwrap_or(1)
            .max(1);
        lines as f32 * TABLE_SIZE * 1.3 + 2.0 * CELL_PAD
    }

    fn row(&mut self, row: &[Vec<Span>], widths: &[f32], align: &[Align], x: f32, header: bool) {
        let h = self.row_height(row, widths);
        let top = self.y;
        let total: f32 = widths.iter().sum();
        if header {
            self.op(Op::Rect { x, y: top, w: total, h, fill: SHADE });
        }
        let mut cx = x;
        for (i, cw) in widths.iter().enumerate() {
            let cell: Vec<Span> = row
                .get(i)
                .map(|c| c.iter().map(|s| Span { style: Style { bold: header || s.style.bold, ..s.style }, ..s.clone() }).collect())
                .unwrap_or_default();
            self.y = top + CELL_PAD;
            let base = if header { Face::Bold } else { Face::Regular };
            let inner = cw - 2.0 * CELL_PAD;
            for line in self.wrap(&cell, inner, TABLE_SIZE, base) {
                let baseline = self.y + TABLE_SIZE;
                let used: f32 = line.iter().map(|p| p.width).sum::<f32>()
                    - line.last().map(|p| p.width - self.fonts.width(p.face, p.size, p.text.trim_end_matches(' '))).unwrap_or(0.0);
                let mut px = cx + CELL_PAD
                    + match align.get(i) {
                        Some(Align::Right) => (inner - used).max(0.0),
                        Some(Align::Center) => ((inner - used) / 2.0).max(0.0),
                        _ => 0.0,
                    };
                for p in line {
                    let text = p.text.trim_end_matches(' ').to_string();
                    if !text.is_empty() {
                        self.op(Op::Text { x: px, y: baseline, face: p.face, size: p.size, text, color: TEXT });
                    }
                    px += p.width;
                }
                self.y += TABLE_SIZE * 1.3;
            }
            cx += cw;
        }
        let bottom = top + h;
        self.op(Op::Line { x1: x, y1: bottom, x2: x + total, y2: bottom, width: if header { 0.9 } else { 0.4 }, color: RULE });
        if header {
            self.op(Op::Line { x1: x, y1: top, x2: x + total, y2: top, width: 0.9, color: RULE });
        }
        self.y = bottom;
    }

    fn image(&mut self, src: &str, alt: &str, x: f32, w: f32) {
        let index = self.next_image;
        self.next_image += 1;
        let Some(Some((_, iw, ih))) = self.images.list.get(index) else {
            // Not embedded (see `ImageSource`): say so, and what it named.
            let named = if alt.is_empty() { src.to_string() } else { format!("{alt}: {src}") };
            let note = Span { text: format!("[image not included: {named}]"), style: Style { italic: true, ..Style::default() }, link: None };
            let saved = std::mem::replace(&mut self.color, MUTED);
            self.paragraph(&[note], x, w, BODY, Face::Regular);
            self.color = saved;
            self.y += 6.0;
            return;
        };
        // Scaled to the text width, and down further if taller than a page's text area.
        let mut dw = w;
        let mut dh = ih * w / iw;
        let max_h = self.bottom() - MARGIN;
        if dh > max_h {
            dw *= max_h / dh;
            dh = max_h;
        }
        self.ensure(dh + 6.0);
        self.y += 3.0;
        let y = self.y;
        self.op(Op::Image { x, y, w: dw, h: dh, index });
        self.y += dh + 9.0;
    }
}

fn push_piece(line: Option<&mut Vec<Piece>>, text: String, face: Face, size: f32, width: f32, link: &Option<String>) {
    let Some(line) = line else { return };
    match line.last_mut() {
        Some(last) if last.face == face && last.size == size && &last.link == link => {
            last.text.push_str(&text);
            last.width += width;
        }
        _ => line.push(Piece { text, face, size, width, link: link.clone() }),
    }
}

