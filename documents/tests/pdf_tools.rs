//! Rendered PDFs checked with Debian's real tools: qpdf, pdffonts, pdftotext, pdftoppm,
//! pdfinfo, pdfimages (installed by scripts/setup).

use std::path::{Path, PathBuf};
use std::process::Command;

use sotto_documents::{
    conversation_markdown, make_pdf, render, DocumentError, ExportMessage, ExportStatus, FontSet, ImageSource, Paper, RenderOptions,
};

fn tool(name: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(name).args(args).output().unwrap_or_else(|e| panic!("{name} is missing ({e}); run scripts/setup"));
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

/// A gradient PNG of the given size, written with the `png` crate.
fn write_png(path: &Path, w: u32, h: u32) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().unwrap();
    let data: Vec<u8> = (0..h).flat_map(|y| (0..w).flat_map(move |x| [(x % 256) as u8, (y % 256) as u8, 128])).collect();
    writer.write_image_data(&data).unwrap();
}

const SAMPLE: &str = "# Quarterly report: café sales

Prices in **euros** at the *Café Ünïcode*. Greek: Καλημέρα κόσμε. Cyrillic: Привет, мир. See [the site](https://example.org) and `code`.

## Summary

- Revenue grew
  - nested point
1. first
2. second

> A quoted remark.

| Product | Units |
|---|---:|
| Espresso | 1204 |
| Cappuccino | 980 |

![chart](chart.png)

```
let answer = 42;
```
";

fn render_sample(dir: &Path, md: &str) -> PathBuf {
    write_png(&dir.join("chart.png"), 400, 200);
    let fonts = FontSet::load_default().unwrap();
    let options = RenderOptions { images: ImageSource::Files { base: dir.to_owned(), confine: false }, ..Default::default() };
    let pdf = render(md, &fonts, &options).unwrap();
    let out = dir.join("out.pdf");
    std::fs::write(&out, pdf).unwrap();
    out
}

#[test]
fn the_sample_passes_qpdf_and_embeds_subset_fonts_with_unicode_maps() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = render_sample(dir.path(), SAMPLE);
    let p = pdf.to_str().unwrap();
    let (ok, out) = tool("qpdf", &["--check", p]);
    assert!(ok, "{out}");
    let (ok, fonts) = tool("pdffonts", &[p]);
    assert!(ok);
    let rows: Vec<&str> = fonts.lines().skip(2).filter(|l| !l.trim().is_empty()).collect();
    assert!(rows.len() >= 4, "{fonts}");
    for row in rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        let n = cols.len();
        assert_eq!(&cols[n - 5..n - 2], &["yes", "yes", "yes"], "embedded, subset, ToUnicode: {row}");
    }
}

#[test]
fn text_comes_back_in_reading_order_with_accents_greek_and_cyrillic() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = render_sample(dir.path(), SAMPLE);
    let (ok, text) = tool("pdftotext", &[pdf.to_str().unwrap(), "-"]);
    assert!(ok);
    let order = ["Quarterly report: café sales", "Café Ünïcode", "Καλημέρα κόσμε", "Привет, мир", "Summary", "nested point",
        "A quoted remark", "Product", "Cappuccino", "980", "let answer = 42;"];
    let mut last = 0;
    for word in order {
        let at = text[last..].find(word).unwrap_or_else(|| panic!("`{word}` missing or out of order in:\n{text}"));
        last += at;
    }
    let (_, info) = tool("pdfinfo", &[pdf.to_str().unwrap()]);
    assert!(info.contains("Title:           Quarterly report: café sales"), "{info}");
    assert!(info.contains("Pages:           1"), "{info}");
}

#[test]
fn every_page_renders_and_the_image_has_the_text_width() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = render_sample(dir.path(), SAMPLE);
    let prefix = dir.path().join("page");
    let (ok, out) = tool("pdftoppm", &["-r", "30", "-png", pdf.to_str().unwrap(), prefix.to_str().unwrap()]);
    assert!(ok, "{out}");
    let pngs = std::fs::read_dir(dir.path()).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("page")).count();
    assert_eq!(pngs, 1);
    // 400 px drawn across the A4 text width (595.28 - 2 × 56 pt) is 59.6 pixels per inch.
    let (ok, list) = tool("pdfimages", &["-list", pdf.to_str().unwrap()]);
    assert!(ok);
    let row = list.lines().nth(2).unwrap_or_else(|| panic!("no image: {list}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!((cols[3], cols[4]), ("400", "200"), "{row}");
    let ppi: f32 = cols[12].parse().unwrap();
    assert!((ppi - 59.6).abs() < 1.0, "x-ppi {ppi}: {row}");
}

#[test]
fn a_long_table_repeats_its_header_on_every_page_and_headings_make_an_outline() {
    let dir = tempfile::tempdir().unwrap();
    let mut md = String::from("# Big table\n\n## Section A\n\n| Item | Value |\n|---|---|\n");
    for i in 0..150 {
        md.push_str(&format!("| row {i} | value {i} |\n"));
    }
    md.push_str("\n## Section B\n\nEnd.\n");
    let pdf = render_sample(dir.path(), &md);
    let p = pdf.to_str().unwrap();
    let (_, info) = tool("pdfinfo", &[p]);
    let pages: usize = info.lines().find(|l| l.starts_with("Pages:")).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(pages >= 3, "{info}");
    for page in 1..=pages {
        let n = page.to_string();
        let (_, text) = tool("pdftotext", &["-f", &n, "-l", &n, p, "-"]);
        if text.contains("row ") {
            assert!(text.contains("Item") && text.contains("Value"), "page {page} lacks the header:\n{text}");
        }
        assert!(text.contains(&format!("{page} of {pages}")), "page number on page {page}");
    }
    let (ok, json) = tool("qpdf", &["--json", "--json-key=outlines", p]);
    assert!(ok, "{json}");
    for title in ["Big table", "Section A", "Section B"] {
        assert!(json.contains(title), "outline lacks {title}: {json}");
    }
}

#[test]
fn letter_paper_is_letter_sized() {
    let dir = tempfile::tempdir().unwrap();
    let fonts = FontSet::load_default().unwrap();
    let options = RenderOptions { paper: Paper::Letter, ..Default::default() };
    let out = dir.path().join("l.pdf");
    std::fs::write(&out, render("Hello", &fonts, &options).unwrap()).unwrap();
    let (_, info) = tool("pdfinfo", &[out.to_str().unwrap()]);
    assert!(info.contains("612 x 792 pts (letter)"), "{info}");
}

#[test]
fn broken_markdown_renders_and_a_missing_image_is_a_clear_error() {
    let fonts = FontSet::load_default().unwrap();
    let options = RenderOptions::default();
    for md in ["", "> > > \n- - -\n* [", "| a |\n|-", "```\nunclosed", "\u{0}\u{FFFF}\u{1F600}", &"word ".repeat(20_000), &"x".repeat(5000)] {
        let pdf = render(md, &fonts, &options).unwrap();
        assert!(pdf.starts_with(b"%PDF"));
    }
    let dir = tempfile::tempdir().unwrap();
    let files = RenderOptions { images: ImageSource::Files { base: dir.path().to_owned(), confine: false }, ..Default::default() };
    let err = render("![gone](nowhere.png)", &fonts, &files).unwrap_err();
    assert!(matches!(err, DocumentError::Image { .. }), "{err}");
    assert!(err.to_string().contains("nowhere.png"), "{err}");
    std::fs::write(dir.path().join("fake.png"), b"not an image").unwrap();
    let options = RenderOptions { images: ImageSource::Files { base: dir.path().to_owned(), confine: false }, ..Default::default() };
    let err = render("![x](fake.png)", &fonts, &options).unwrap_err();
    assert!(err.to_string().contains("PNG and JPEG"), "{err}");
}

#[test]
fn make_pdf_stays_inside_the_workspace() {
    let outside = tempfile::tempdir().unwrap();
    write_png(&outside.path().join("secret.png"), 10, 10);
    let ws = tempfile::tempdir().unwrap();
    write_png(&ws.path().join("chart.png"), 40, 20);
    let made = make_pdf(ws.path(), "# Report\n\n![c](chart.png)", "report.pdf", Paper::A4).unwrap();
    assert!(made.starts_with(ws.path()) && made.is_file());

    for bad in ["../escape.pdf", "/tmp/abs.pdf", "report.txt"] {
        assert!(matches!(make_pdf(ws.path(), "x", bad, Paper::A4), Err(DocumentError::OutputOutside(_))), "{bad}");
    }
    let escape = format!("![s]({}/secret.png)", outside.path().display());
    assert!(matches!(make_pdf(ws.path(), &escape, "a.pdf", Paper::A4), Err(DocumentError::ImageOutside(_))));
    assert!(matches!(make_pdf(ws.path(), "![s](../x.png)", "a.pdf", Paper::A4), Err(DocumentError::Image { .. } | DocumentError::ImageOutside(_))));
    std::os::unix::fs::symlink(outside.path().join("secret.png"), ws.path().join("link.png")).unwrap();
    assert!(matches!(make_pdf(ws.path(), "![s](link.png)", "a.pdf", Paper::A4), Err(DocumentError::ImageOutside(_))));
}

#[test]
fn an_exported_conversation_shows_each_replys_proof() {
    let messages = vec![
        ExportMessage { role: "user".into(), text: "Hello?".into(), status: ExportStatus::Sent, receipt_summary: None },
        ExportMessage { role: "assistant".into(), text: "Hi there.".into(), status: ExportStatus::Development, receipt_summary: Some("output hash 18767444".into()) },
        ExportMessage { role: "assistant".into(), text: "tampered text".into(), status: ExportStatus::Failed("the reply was altered".into()), receipt_summary: None },
    ];
    let md = conversation_markdown("Chat", &messages, None);
    assert!(md.contains("development enclave") && md.contains("output hash 18767444"));
    assert!(!md.contains("tampered text"), "a failed reply's text is never exported");
    let dir = tempfile::tempdir().unwrap();
    let pdf = render_sample(dir.path(), &md);
    let (_, text) = tool("pdftotext", &[pdf.to_str().unwrap(), "-"]);
    assert!(text.contains("Verified") && text.contains("verification failed"), "{text}");
}

/// Audit finding 5: a reply that names a local file (`![](/home/…/id.jpg)`) does not get it
/// embedded in an exported PDF; an image the text carries itself (`data:`) is embedded.
#[test]
fn an_export_embeds_only_images_the_text_carries_never_a_file_it_names() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("id-card.png");
    write_png(&secret, 64, 32);
    let inline = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&secret).unwrap());
    let reply = format!("Here you go:\n\n![your id]({})\n\n![chart](data:image/png;base64,{inline})\n", secret.display());
    let messages = vec![ExportMessage { role: "assistant".into(), text: reply, status: ExportStatus::Development, receipt_summary: None }];
    let md = conversation_markdown("Chat", &messages, None);
    let pdf = render(&md, &FontSet::load_default().unwrap(), &RenderOptions::default()).unwrap();
    let out = dir.path().join("export.pdf");
    std::fs::write(&out, pdf).unwrap();
    let (ok, list) = tool("pdfimages", &["-list", out.to_str().unwrap()]);
    assert!(ok, "{list}");
    assert_eq!(list.lines().skip(2).count(), 1, "only the data: image is embedded:\n{list}");
    let (_, text) = tool("pdftotext", &[out.to_str().unwrap(), "-"]);
    assert!(text.contains("image not included"), "the refused image is named, not silently dropped: {text}");

    // The file itself still renders where files are allowed (the user's own Markdown).
    let options = RenderOptions { images: ImageSource::Files { base: dir.path().to_owned(), confine: false }, ..Default::default() };
    let pdf = render(&md, &FontSet::load_default().unwrap(), &options).unwrap();
    std::fs::write(&out, pdf).unwrap();
    let (_, list) = tool("pdfimages", &["-list", out.to_str().unwrap()]);
    assert_eq!(list.lines().skip(2).count(), 2, "{list}");
    // A malformed data: image in a model's text is left out with a note, not a failed export;
    // where files are allowed (the user's own Markdown) it is a clear error.
    let md = "![x](data:image/png;base64,@@@)";
    let pdf = render(md, &FontSet::load_default().unwrap(), &RenderOptions::default()).unwrap();
    std::fs::write(&out, pdf).unwrap();
    assert!(tool("pdftotext", &[out.to_str().unwrap(), "-"]).1.contains("image not included"));
    let bad = render(md, &FontSet::load_default().unwrap(), &options);
    assert!(bad.unwrap_err().to_string().contains("base64"));
}
