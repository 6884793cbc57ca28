use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("the font {path} cannot be read ({reason}); run scripts/setup (Debian package fonts-liberation2)")]
    Font { path: PathBuf, reason: String },
    #[error("the image {path} cannot be read: {reason}")]
    Image { path: PathBuf, reason: String },
    #[error("the image {0} lies outside the workspace")]
    ImageOutside(PathBuf),
    #[error("cannot read {path}: {reason}")]
    Input { path: PathBuf, reason: String },
    #[error("the output {0} must be a .pdf file inside the workspace")]
    OutputOutside(PathBuf),
    #[error("the PDF could not be written: {0}")]
    Write(String),
}
