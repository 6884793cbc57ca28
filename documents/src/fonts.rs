use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::DocumentError;

/// The styles the layout uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Face {
    Regular,
    Bold,
    Italic,
    BoldItalic,
    Mono,
}

impl Face {
    pub const ALL: [Face; 5] = [Face::Regular, Face::Bold, Face::Italic, Face::BoldItalic, Face::Mono];

    fn file(self) -> &'static str {
        match self {
            Face::Regular => "LiberationSans-Regular.ttf",
            Face::Bold => "LiberationSans-Bold.ttf",
            Face::Italic => "LiberationSans-Italic.ttf",
            Face::BoldItalic => "LiberationSans-BoldItalic.ttf",
            Face::Mono => "LiberationMono-Regular.ttf",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// One loaded font: its bytes (for the PDF) and a width cache (for line breaking).
struct Loaded {
    data: Arc<Vec<u8>>,
    cache: std::sync::Mutex<std::collections::HashMap<String, f32>>,
}

/// The document fonts.
pub struct FontSet {
    faces: Vec<Loaded>,
}

/// `$SOTTO_FONTS` or Debian's folder for fonts-liberation2.
pub fn default_font_dir() -> PathBuf {
    std::env::var_os("SOTTO_FONTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/fonts/truetype/liberation2"))
}

impl FontSet {
    pub fn load_default() -> Result<Self, DocumentError> {
        Self::load(&default_font_dir())
    }

    pub fn load(dir: &Path) -> Result<Self, DocumentError> {
        let faces = Face::ALL.iter().map(|f| load_face(&dir.join(f.file()))).collect::<Result<_, _>>()?;
        Ok(Self { faces })
    }

    pub(crate) fn data(&self, face: Face) -> Arc<Vec<u8>> {
        self.faces[face.index()].data.clone()
    }

    /// Width of `text` in points, shaped the way the PDF writer shapes it (with kerning), so
    /// pieces placed side by side meet exactly.
    pub(crate) fn width(&self, face: Face, size: f32, text: &str) -> f32 {
        let f = &self.faces[face.index()];
        if let Some(w) = f.cache.lock().ok().and_then(|c| c.get(text).copied()) {
            return w * size;
        }
        let Some(shaper) = rustybuzz::Face::from_slice(&f.data, 0) else { return 0.0 };
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(text);
        let shaped = rustybuzz::shape(&shaper, &[], buffer);
        let units: i32 = shaped.glyph_positions().iter().map(|p| p.x_advance).sum();
        let per_point = units as f32 / f32::from(shaper.units_per_em() as u16);
        if let Ok(mut c) = f.cache.lock() {
            c.insert(text.to_string(), per_point);
        }
        per_point * size
    }
}

fn load_face(path: &Path) -> Result<Loaded, DocumentError> {
    let err = |reason: String| DocumentError::Font { path: path.to_owned(), reason };
    let data = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    if rustybuzz::Face::from_slice(&data, 0).is_none() {
        return Err(err("not a TrueType/OpenType font".into()));
    }
    Ok(Loaded { data: Arc::new(data), cache: Default::default() })
}
