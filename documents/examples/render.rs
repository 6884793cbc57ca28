//! `cargo run -p sotto-documents --example render -- IN.md OUT.pdf`
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let md = std::fs::read_to_string(&args[1]).unwrap();
    let fonts = sotto_documents::FontSet::load_default().unwrap();
    let opts = sotto_documents::RenderOptions {
        images: sotto_documents::ImageSource::Files { base: std::path::Path::new(&args[1]).parent().unwrap().to_path_buf(), confine: false },
        ..Default::default()
    };
    std::fs::write(&args[2], sotto_documents::render(&md, &fonts, &opts).unwrap()).unwrap();
}
