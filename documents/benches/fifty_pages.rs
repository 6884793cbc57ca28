//! A 50-page document with 20 tables and 10 images: render time and output size.
//! `cargo bench -p sotto-documents`

use std::time::Instant;

use sotto_documents::{render, FontSet, ImageSource, RenderOptions};

fn write_png(path: &std::path::Path, w: u32, h: u32) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().unwrap();
    let data: Vec<u8> = (0..h).flat_map(|y| (0..w).flat_map(move |x| [(x % 256) as u8, ((x + y) % 256) as u8, (y % 256) as u8])).collect();
    writer.write_image_data(&data).unwrap();
}

fn document() -> String {
    let para = "Private analysis stays on the device: the sandbox reads the spreadsheet, computes the statistics and draws the charts, and only what the agent chooses to send leaves the machine. Ελληνικά και Кириллица too. ";
    let mut md = String::from("# Benchmark report\n\n");
    for section in 0..20 {
        md.push_str(&format!("## Section {section}\n\n"));
        for _ in 0..11 {
            md.push_str(&para.repeat(3));
            md.push_str("\n\n");
        }
        md.push_str("| Region | Q1 | Q2 | Q3 | Q4 |\n|---|---:|---:|---:|---:|\n");
        for r in 0..12 {
            md.push_str(&format!("| Region {r} | {} | {} | {} | {} |\n", r * 11, r * 13, r * 17, r * 19));
        }
        md.push('\n');
        if section % 2 == 0 {
            md.push_str(&format!("![Chart {section}](chart{}.png)\n\n", section / 2));
        }
        md.push_str("```\nfor row in rows:\n    total += row.value\n```\n\n");
    }
    md
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..10 {
        write_png(&dir.path().join(format!("chart{i}.png")), 640, 360);
    }
    let fonts = FontSet::load_default().expect("fonts (run scripts/setup)");
    let options = RenderOptions { images: ImageSource::Files { base: dir.path().to_owned(), confine: false }, ..Default::default() };
    let md = document();
    let mut pages = 0;
    for run in 0..3 {
        let t = Instant::now();
        let pdf = render(&md, &fonts, &options).unwrap();
        let secs = t.elapsed().as_secs_f64();
        let out = dir.path().join("bench.pdf");
        std::fs::write(&out, &pdf).unwrap();
        if pages == 0 {
            let info = std::process::Command::new("pdfinfo").arg(&out).output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
            pages = info.lines().find(|l| l.starts_with("Pages:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()).unwrap_or(0);
        }
        println!("run {run}: {pages} pages, 20 tables, 10 images rendered in {:.0} ms, {:.0} KiB", secs * 1000.0, pdf.len() as f64 / 1024.0);
    }
}
