//! Saving PNGs into a folder the user chose: never over an existing file, never half-written
//! under the final name.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::ImageStudioError;

/// Writes `png` as `dir/STEM.png` (or `STEM (2).png` … when taken); returns the path. The bytes
/// go to a temporary file in `dir` first and are moved to a free name only when complete.
pub fn save_png(dir: &Path, stem: &str, png: &[u8]) -> Result<PathBuf, ImageStudioError> {
    let fail = |path: &Path, source| ImageStudioError::Write { path: path.to_owned(), source };
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    let mut tmp = tempfile::Builder::new().prefix(".sotto-image-").suffix(".part").tempfile_in(dir).map_err(|e| fail(dir, e))?;
    tmp.write_all(png).and_then(|_| tmp.as_file().sync_all()).map_err(|e| fail(dir, e))?;
    for n in 1..1000 {
        let name = if n == 1 { format!("{stem}.png") } else { format!("{stem} ({n}).png") };
        let path = dir.join(name);
        match tmp.persist_noclobber(&path) {
            Ok(_) => return Ok(path),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => tmp = e.file,
            Err(e) => return Err(fail(&path, e.error)),
        }
    }
    Err(fail(dir, std::io::Error::other("too many files of that name")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saving_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let a = save_png(dir.path(), "x", b"one").unwrap();
        let b = save_png(dir.path(), "x", b"two").unwrap();
        assert_ne!(a, b);
        assert_eq!(std::fs::read(&a).unwrap(), b"one");
        assert!(b.ends_with("x (2).png"));
    }
}
