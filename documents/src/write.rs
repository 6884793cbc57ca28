//! The display list to PDF, with krilla (which embeds and subsets fonts and writes ToUnicode).

use krilla::action::{Action, LinkAction};
use krilla::annotation::{Annotation, LinkAnnotation, Target};
use krilla::color::rgb;
use krilla::destination::XyzDestination;
use krilla::geom::{PathBuilder, Point, Rect, Size};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::outline::{Outline, OutlineNode};
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use krilla::Document;

use crate::fonts::{Face, FontSet};
use crate::layout::{Images, Laid, Op, OutlineEntry, Rgb, MARGIN};
use crate::{DocumentError, Paper};

fn color(c: Rgb) -> rgb::Color {
    rgb::Color::new(c.0, c.1, c.2)
}

fn fill(c: Rgb) -> Fill {
    Fill { paint: color(c).into(), opacity: NormalizedF32::ONE, rule: Default::default() }
}

pub fn pdf(laid: &Laid, fonts: &FontSet, images: &Images, paper: Paper, title: &str) -> Result<Vec<u8>, DocumentError> {
    let font_objects: Vec<Font> = Face::ALL
        .iter()
        .map(|f| Font::new(fonts.data(*f).as_ref().clone().into(), 0).ok_or_else(|| DocumentError::Write("a font cannot be used".into())))
        .collect::<Result<_, _>>()?;
    let (w, h) = paper.size();
    let settings = PageSettings::from_wh(w, h).ok_or_else(|| DocumentError::Write("bad page size".into()))?;
    let mut document = Document::new();
    let total = laid.pages.len();
    for (n, page) in laid.pages.iter().enumerate() {
        let mut p = document.start_page_with(settings.clone());
        let mut links = Vec::new();
        {
            let mut surface = p.surface();
            for op in &page.ops {
                match op {
                    Op::Link { x, y, w, h, url } => links.push((*x, *y, *w, *h, url.clone())),
                    other => draw(&mut surface, other, &font_objects, images),
                }
            }
            let footer = format!("{} of {total}", n + 1);
            let fw = fonts.width(Face::Regular, 8.5, &footer);
            surface.set_fill(Some(fill((120, 120, 120))));
            surface.draw_text(Point::from_xy((w - fw) / 2.0, h - MARGIN / 2.0), font_objects[Face::Regular.index()].clone(), 8.5, &footer, false, TextDirection::Auto);
            surface.finish();
        }
        for (x, y, lw, lh, url) in links {
            if let Some(rect) = Rect::from_xywh(x, y, lw, lh) {
                let target = Target::Action(Action::Link(LinkAction::new(url)));
                p.add_annotation(Annotation::new_link(LinkAnnotation::new(rect, target), None));
            }
        }
        p.finish();
    }
    document.set_outline(outline(&laid.outline));
    document.set_metadata(Metadata::new().title(title.to_string()).creator("Sotto".to_string()).producer("Sotto (krilla)".to_string()));
    document.finish().map_err(|e| DocumentError::Write(format!("{e:?}")))
}

fn draw(surface: &mut Surface<'_>, op: &Op, fonts: &[Font], images: &Images) {
    match op {
        Op::Text { x, y, face, size, text, color: c } => {
            surface.set_fill(Some(fill(*c)));
            surface.draw_text(Point::from_xy(*x, *y), fonts[face.index()].clone(), *size, text, false, TextDirection::Auto);
        }
        Op::Rect { x, y, w, h, fill: c } => {
            let mut pb = PathBuilder::new();
            if let Some(r) = Rect::from_xywh(*x, *y, *w, *h) {
                pb.push_rect(r);
            }
            if let Some(path) = pb.finish() {
                surface.set_fill(Some(fill(*c)));
                surface.set_stroke(None);
                surface.draw_path(&path);
            }
        }
        Op::Line { x1, y1, x2, y2, width, color: c } => {
            let mut pb = PathBuilder::new();
            pb.move_to(*x1, *y1);
            pb.line_to(*x2, *y2);
            if let Some(path) = pb.finish() {
                surface.set_fill(None);
                surface.set_stroke(Some(Stroke { paint: color(*c).into(), width: *width, ..Default::default() }));
                surface.draw_path(&path);
                surface.set_stroke(None);
            }
        }
        Op::Image { x, y, w, h, index } => {
            if let (Some(Some((image, _, _))), Some(size)) = (images.list.get(*index), Size::from_wh(*w, *h)) {
                surface.push_transform(&krilla::geom::Transform::from_translate(*x, *y));
                surface.draw_image(image.clone(), size);
                surface.pop();
            }
        }
        Op::Link { .. } => {}
    }
}

/// Nests outline entries by heading level.
fn outline(entries: &[OutlineEntry]) -> Outline {
    fn node(e: &OutlineEntry) -> OutlineNode {
        OutlineNode::new(e.title.clone(), XyzDestination::new(e.page, Point::from_xy(0.0, e.y)))
    }
    fn children(entries: &[OutlineEntry], level: u8) -> (Vec<OutlineNode>, usize) {
        let mut out = Vec::new();
        let mut i = 0;
        while i < entries.len() && entries[i].level >= level {
            let mut n = node(&entries[i]);
            let (kids, used) = children(&entries[i + 1..], entries[i].level + 1);
            for k in kids {
                n.push_child(k);
            }
            out.push(n);
            i += 1 + used;
        }
        (out, i)
    }
    let mut o = Outline::new();
    let top = entries.iter().map(|e| e.level).min().unwrap_or(1);
    let (nodes, _) = children(entries, top);
    for n in nodes {
        o.push_child(n);
    }
    o
}
