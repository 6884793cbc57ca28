//! The agent's file tools' view of the workspace: every path is resolved inside the one folder
//! the user granted (cap-std), links are never followed out of it, and the final component of a
//! path is never followed at all, since guest code can plant a link in the workspace.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt};
use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions};

/// The most a `read_file` returns.
pub const MAX_READ_BYTES: u64 = 1 << 20;
/// The most a `write_file` writes.
pub const MAX_WRITE_BYTES: usize = 16 << 20;
/// The most entries `list_files` returns.
const MAX_ENTRIES: usize = 500;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileToolError {
    #[error("{0} is outside the workspace; use a path inside it such as data.csv or /work/data.csv")]
    Outside(String),
    #[error("{0} is a link; the agent does not follow links")]
    Link(String),
    #[error("{path}: {problem}")]
    Io { path: String, problem: String },
    #[error("{path} is {size} bytes; read_file returns at most {MAX_READ_BYTES} (use run_python for large files)")]
    TooLarge { path: String, size: u64 },
    #[error("{0} is not text (UTF-8); use run_python to read it")]
    NotText(String),
}

/// One entry of a listing.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    pub path: String,
    pub kind: &'static str,
    pub bytes: u64,
}

pub struct WorkspaceFiles {
    dir: Dir,
    root: PathBuf,
}

impl WorkspaceFiles {
    pub fn open(root: &Path) -> Result<Self, FileToolError> {
        let dir = Dir::open_ambient_dir(root, ambient_authority()).map_err(|e| io(&root.display().to_string(), e))?;
        Ok(Self { dir, root: root.to_owned() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Files and folders under `path` (the whole workspace for "" or "/work"), depth first.
    pub fn list(&self, path: &str) -> Result<Vec<Entry>, FileToolError> {
        let start = relative(path)?;
        let mut out = Vec::new();
        let mut pending = vec![start];
        while let Some(folder) = pending.pop() {
            let shown = folder.display().to_string();
            let entries = if folder.as_os_str().is_empty() { self.dir.entries() } else { self.dir.read_dir(&folder) };
            let mut entries: Vec<_> = entries.map_err(|e| io(&shown, e))?.flatten().collect();
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let rel = folder.join(entry.file_name());
                let meta = entry.metadata().map_err(|e| io(&rel.display().to_string(), e))?;
                let kind = if meta.is_symlink() { "link" } else if meta.is_dir() { "folder" } else { "file" };
                if kind == "folder" {
                    pending.push(rel.clone());
                }
                out.push(Entry { path: rel.display().to_string(), kind, bytes: if kind == "file" { meta.len() } else { 0 } });
                if out.len() >= MAX_ENTRIES {
                    return Ok(out);
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    pub fn read(&self, path: &str) -> Result<String, FileToolError> {
        let bytes = self.read_bytes(path, MAX_READ_BYTES)?;
        String::from_utf8(bytes).map_err(|_| FileToolError::NotText(relative(path).map(|r| r.display().to_string()).unwrap_or_default()))
    }

    /// A file's bytes, at most `max` of them (the app shows the agent's charts this way).
    pub fn read_bytes(&self, path: &str, max: u64) -> Result<Vec<u8>, FileToolError> {
        let rel = relative(path)?;
        let shown = rel.display().to_string();
        let mut file = self.dir.open_with(&rel, OpenOptions::new().read(true).follow(FollowSymlinks::No)).map_err(|e| self.refusal(&rel, e))?;
        let size = file.metadata().map_err(|e| io(&shown, e))?.len();
        if size > max {
            return Err(FileToolError::TooLarge { path: shown, size });
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| io(&shown, e))?;
        Ok(bytes)
    }

    /// The host path of an existing regular file in the workspace (not a link), and whether the
    /// system's viewer may be given it (see [`OpenWith`]).
    pub fn existing_file(&self, path: &str) -> Result<(PathBuf, OpenWith), FileToolError> {
        let rel = relative(path)?;
        let mut file = self.dir.open_with(&rel, OpenOptions::new().read(true).follow(FollowSymlinks::No)).map_err(|e| self.refusal(&rel, e))?;
        match file.metadata() {
            Ok(m) if m.is_file() => {
                let mut content = Vec::new();
                let _ = (&mut file).take(INSPECTED_BYTES).read_to_end(&mut content);
                Ok((self.root.join(&rel), OpenWith::for_file(&rel, &content)))
            }
            _ => Err(FileToolError::Io { path: rel.display().to_string(), problem: "not a file".into() }),
        }
    }

    /// A regular file inside the workspace, opened without following links (for the sandboxed
    /// reader: the handle, not a path that could be swapped for a link in between).
    pub fn open_regular(&self, path: &str) -> Result<std::fs::File, FileToolError> {
        let rel = relative(path)?;
        let file = self.dir.open_with(&rel, OpenOptions::new().read(true).follow(FollowSymlinks::No)).map_err(|e| self.refusal(&rel, e))?;
        match file.metadata() {
            Ok(m) if m.is_file() => Ok(file.into_std()),
            _ => Err(FileToolError::Io { path: rel.display().to_string(), problem: "not a file".into() }),
        }
    }

    /// Writes `content` to `path`, creating folders on the way; an existing link is refused.
    pub fn write(&self, path: &str, content: &str) -> Result<String, FileToolError> {
        let rel = relative(path)?;
        let shown = rel.display().to_string();
        if rel.as_os_str().is_empty() {
            return Err(FileToolError::Outside(path.to_string()));
        }
        if content.len() > MAX_WRITE_BYTES {
            return Err(FileToolError::Io { path: shown, problem: format!("more than {MAX_WRITE_BYTES} bytes") });
        }
        if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            self.dir.create_dir_all(parent).map_err(|e| self.refusal(parent, e))?;
        }
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true).follow(FollowSymlinks::No);
        let mut file = self.dir.open_with(&rel, &options).map_err(|e| self.refusal(&rel, e))?;
        file.write_all(content.as_bytes()).and_then(|_| file.sync_all()).map_err(|e| io(&shown, e))?;
        Ok(shown)
    }

    /// A link met where none may be followed gets its own message; anything else as it is.
    fn refusal(&self, rel: &Path, e: std::io::Error) -> FileToolError {
        let shown = rel.display().to_string();
        match self.dir.symlink_metadata(rel) {
            Ok(m) if m.is_symlink() => FileToolError::Link(shown),
            _ if e.kind() == std::io::ErrorKind::PermissionDenied && e.to_string().contains("outside") => FileToolError::Outside(shown),
            _ => io(&shown, e),
        }
    }
}

fn io(path: &str, e: std::io::Error) -> FileToolError {
    let problem = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or folder in the workspace".to_string(),
        _ if e.to_string().contains("outside of the filesystem sandbox") => return FileToolError::Outside(path.to_string()),
        _ => e.to_string(),
    };
    FileToolError::Io { path: path.to_string(), problem }
}

/// A path the model gave, relative to the workspace. `/work/x` (how Python sees it) and `x` are
/// the same file; `..`, other absolute paths and drive prefixes are refused before any lookup.
/// How a file the agent made may be shown. The system's viewer gets only inert documents:
/// anything that may run code or fetch from the network when opened (HTML, SVG, scripts,
/// launchers, office files with macros) is shown in its folder instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenWith {
    Viewer,
    ShowInFolder,
}

/// How much of a file is looked at before it is handed to a viewer.
const INSPECTED_BYTES: u64 = 32 << 20;

impl OpenWith {
    /// By extension *and* content: an image whose bytes are that image, plain text with no
    /// markup, or a PDF with no scripts, launch or open actions, or embedded files. CSV and
    /// Markdown are not inert (spreadsheets evaluate formulas that fetch, Markdown viewers load
    /// remote images), nor is anything else.
    pub fn for_file(path: &Path, content: &[u8]) -> Self {
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
        let starts = |magic: &[u8]| content.starts_with(magic);
        let head = &content[..content.len().min(4096)];
        let inert = match ext.as_str() {
            "png" => starts(b"\x89PNG\r\n\x1a\n"),
            "jpg" | "jpeg" => starts(&[0xFF, 0xD8, 0xFF]),
            "gif" => starts(b"GIF87a") || starts(b"GIF89a"),
            "webp" => starts(b"RIFF") && content.get(8..12) == Some(b"WEBP"),
            "txt" | "log" | "json" => !head.contains(&b'<'),
            "pdf" => starts(b"%PDF-") && !["/JavaScript", "/JS", "/Launch", "/OpenAction", "/AA", "/EmbeddedFile", "/RichMedia"].iter().any(|k| contains(content, k.as_bytes())),
            _ => false,
        };
        if inert {
            OpenWith::Viewer
        } else {
            OpenWith::ShowInFolder
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub fn relative(path: &str) -> Result<PathBuf, FileToolError> {
    let trimmed = path.trim();
    let inside = match trimmed.strip_prefix("/work") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest.trim_start_matches('/'),
        _ => trimmed,
    };
    let mut rel = PathBuf::new();
    for c in Path::new(inside).components() {
        match c {
            Component::Normal(part) => rel.push(part),
            Component::CurDir => {}
            _ => return Err(FileToolError::Outside(path.to_string())),
        }
    }
    Ok(rel)
}

#[cfg(test)]
mod open_with_tests {
    use super::OpenWith;
    use std::path::Path;

    #[test]
    fn only_inert_documents_go_to_the_viewer() {
        assert_eq!(OpenWith::for_file(Path::new("report.PDF"), b"%PDF-1.7\n1 0 obj << /Type /Catalog >>"), OpenWith::Viewer);
        assert_eq!(OpenWith::for_file(Path::new("chart.png"), b"\x89PNG\r\n\x1a\nIHDR"), OpenWith::Viewer);
        assert_eq!(OpenWith::for_file(Path::new("notes.txt"), b"plain words"), OpenWith::Viewer);
        for (name, head) in [
            ("data.csv", &b"=HYPERLINK(\"https://x\")"[..]),
            ("readme.md", b"![](https://tracker.example/p.png)"),
            ("fake.png", b"<svg xmlns="),
            ("report.pdf", b"%PDF-1.7 << /OpenAction << /S /JavaScript /JS (app.launchURL()) >> >>"),
            ("page.txt", b"<body onload=fetch('https://x')>"),
            ("page.html", &b"<p>hi</p>"[..]),
            ("logo.svg", b"<svg xmlns="),
            ("run.sh", b"#!/bin/sh"),
            ("app.desktop", b"[Desktop Entry]"),
            ("sheet.xlsm", b"PK"),
            ("noext", b"hello"),
            ("notes.txt", b"<!DOCTYPE html><script>fetch('https://x')</script>"),
        ] {
            assert_eq!(OpenWith::for_file(Path::new(name), head), OpenWith::ShowInFolder, "{name}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> (tempfile::TempDir, WorkspaceFiles) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a.txt"), "alpha").unwrap();
        let files = WorkspaceFiles::open(dir.path()).unwrap();
        (dir, files)
    }

    #[test]
    fn files_handed_to_the_app_stay_inside_the_workspace() {
        let (dir, files) = workspace();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.png"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.png"), dir.path().join("link.png")).unwrap();
        std::os::unix::fs::symlink("sub/a.txt", dir.path().join("inlink.txt")).unwrap();
        assert_eq!(files.existing_file("/work/sub/a.txt").unwrap(), (dir.path().join("sub/a.txt"), OpenWith::Viewer));
        for bad in ["../x", "/etc/passwd", "link.png", "inlink.txt", "sub"] {
            assert!(files.existing_file(bad).is_err(), "{bad} must be refused");
        }
        assert!(files.read_bytes("link.png", 1 << 20).is_err(), "a link is not followed");
        assert!(files.read_bytes("sub/a.txt", 2).is_err(), "over the size limit");
        assert_eq!(files.read_bytes("sub/a.txt", 5).unwrap(), b"alpha");
    }

    #[test]
    fn paths_inside_are_served_and_escapes_refused() {
        let (dir, files) = workspace();
        assert_eq!(files.read("sub/a.txt").unwrap(), "alpha");
        assert_eq!(files.read("/work/sub/a.txt").unwrap(), "alpha");
        assert_eq!(files.read("./sub/../sub/a.txt"), Err(FileToolError::Outside("./sub/../sub/a.txt".into())));
        for bad in ["../x", "/etc/passwd", "/work/../etc/passwd", "/workshop/x"] {
            assert!(matches!(files.read(bad), Err(FileToolError::Outside(_))), "{bad}");
            assert!(matches!(files.write(bad, "x"), Err(FileToolError::Outside(_))), "{bad}");
        }
        assert_eq!(files.write("out/b.md", "# b").unwrap(), "out/b.md");
        assert_eq!(std::fs::read_to_string(dir.path().join("out/b.md")).unwrap(), "# b");
        let listed: Vec<String> = files.list("").unwrap().into_iter().map(|e| format!("{}:{}", e.kind, e.path)).collect();
        assert_eq!(listed, ["folder:out", "file:out/b.md", "folder:sub", "file:sub/a.txt"]);
    }

    #[test]
    fn links_are_never_followed_out() {
        let (dir, files) = workspace();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s3cret").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("leak")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("door")).unwrap();
        assert!(files.read("leak").is_err());
        assert!(files.read("door/secret").is_err());
        assert!(files.write("leak", "overwrite").is_err());
        assert!(files.write("door/new", "x").is_err());
        assert_eq!(std::fs::read_to_string(outside.path().join("secret")).unwrap(), "s3cret");
        assert!(!outside.path().join("new").exists());
        // Even a link that stays inside is not followed: guest code may have planted it.
        std::os::unix::fs::symlink("sub/a.txt", dir.path().join("alias")).unwrap();
        assert_eq!(files.read("alias"), Err(FileToolError::Link("alias".into())));
        assert_eq!(files.write("alias", "changed"), Err(FileToolError::Link("alias".into())));
        assert_eq!(std::fs::read_to_string(dir.path().join("sub/a.txt")).unwrap(), "alpha");
        let listed = files.list("").unwrap();
        assert!(listed.iter().any(|e| e.path == "door" && e.kind == "link"), "{listed:?}");
        assert!(!listed.iter().any(|e| e.path.starts_with("door/")));
    }

    #[test]
    fn large_and_binary_files_are_refused_with_a_reason() {
        let (dir, files) = workspace();
        std::fs::write(dir.path().join("bin"), [0xff, 0xfe, 0x00]).unwrap();
        assert_eq!(files.read("bin"), Err(FileToolError::NotText("bin".into())));
        std::fs::write(dir.path().join("big"), vec![b'a'; MAX_READ_BYTES as usize + 1]).unwrap();
        assert!(matches!(files.read("big"), Err(FileToolError::TooLarge { .. })));
        assert!(matches!(files.read("missing.txt"), Err(FileToolError::Io { .. })));
    }
}
