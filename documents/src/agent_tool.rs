//! `make_pdf` for the local agent: Markdown and images from the workspace, PDF into it.

use std::path::{Component, Path, PathBuf};

use crate::{render, DocumentError, FontSet, Paper, RenderOptions};

/// Writes `output` (a relative `.pdf` path inside `workspace`) from `markdown`; image paths in
/// the Markdown are relative to the workspace and may not leave it (links are not followed out).
pub fn make_pdf(workspace: &Path, markdown: &str, output: &str, paper: Paper) -> Result<PathBuf, DocumentError> {
    let rel = Path::new(output);
    let escapes = rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_)));
    if escapes || rel.extension().and_then(|e| e.to_str()) != Some("pdf") {
        return Err(DocumentError::OutputOutside(rel.to_owned()));
    }
    let fonts = FontSet::load_default()?;
    let options = RenderOptions {
        paper,
        title: None,
        images: crate::ImageSource::Files { base: workspace.to_owned(), confine: true },
    };
    let pdf = render(markdown, &fonts, &options)?;
    let target = workspace.join(rel);
    if let Some(parent) = target.parent() {
        let real_parent = parent.canonicalize().map_err(|e| DocumentError::Write(e.to_string()))?;
        let real_root = workspace.canonicalize().map_err(|e| DocumentError::Write(e.to_string()))?;
        if !real_parent.starts_with(&real_root) {
            return Err(DocumentError::OutputOutside(rel.to_owned()));
        }
    }
    if target.is_symlink() {
        return Err(DocumentError::OutputOutside(rel.to_owned()));
    }
    std::fs::write(&target, pdf).map_err(|e| DocumentError::Write(e.to_string()))?;
    Ok(target)
}
