//! Reading a user's file (PDF, Word, Excel, OpenDocument, CSV/TSV, JSON, HTML, Markdown, text in
//! any common encoding) for a chat attachment or the agent — always inside the sandbox, never in
//! this process: the file is copied into a folder of its own, granted read-only to a fresh
//! instance under a deadline and a memory cap, and `reader.py` (run there) answers with the text
//! and its structure. A decompression bomb or a pathological file ends as a plain error.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use serde::{Deserialize, Serialize};
use sotto_agent_sandbox::{Limits, RunRequest, Runtime};

/// The program that reads the file, inside the sandbox.
const READER: &str = include_str!("reader.py");

/// Files larger than this are not read.
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// The most text an attachment contributes to a request.
pub const MAX_CHARS: usize = 200_000;

/// How a read is bounded.
#[derive(Debug, Clone)]
pub struct ExtractLimits {
    pub deadline: Duration,
    pub memory_bytes: usize,
    /// Text kept (the rest is cut, and the result says so).
    pub max_chars: usize,
    /// Rows read per sheet.
    pub max_rows: usize,
    /// What an Office file (a ZIP) may unpack to.
    pub max_expanded: u64,
}

impl Default for ExtractLimits {
    fn default() -> Self {
        Self { deadline: Duration::from_secs(60), memory_bytes: 768 << 20, max_chars: MAX_CHARS, max_rows: 5_000, max_expanded: 512 << 20 }
    }
}

/// What was read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Extracted {
    /// pdf, docx, xlsx, xls, ods, odt, csv, tsv, json, html, markdown or text.
    pub kind: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<Vec<Page>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheets: Option<Vec<Sheet>>,
    pub chars: usize,
    /// The text was cut at the limit.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    pub number: usize,
    pub chars: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sheet {
    pub name: String,
    pub rows: usize,
    pub columns: usize,
    /// Rows that went into the text (all of them unless the sheet is longer than the limit).
    pub rows_included: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The file cannot be read, for the reason given (encrypted, no text layer, damaged …).
    #[error("{name}: {reason}")]
    Unreadable { name: String, code: String, reason: String },
    /// A sandbox limit (deadline, memory, output) or the reader's own limit stopped the read.
    #[error("{name}: {reason}")]
    Limit { name: String, reason: String },
    #[error("{name} is {size} MiB; files are read up to {} MiB", MAX_FILE_BYTES >> 20)]
    TooLarge { name: String, size: u64 },
    #[error("cannot read {name}: {source}")]
    Io { name: String, source: std::io::Error },
    #[error("the sandbox could not run the reader: {0}")]
    Sandbox(#[from] sotto_agent_sandbox::SandboxError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Extracted {
        Extracted { kind: "text".into(), text: text.into(), pages: None, sheets: None, chars: text.chars().count(), truncated: false }
    }

    #[test]
    fn typed_part_stops_at_the_first_file() {
        let composed = compose("What is in here?", &[("a.txt".into(), read("secret"))]);
        assert_eq!(typed_part(&composed), "What is in here?");
        assert_eq!(typed_part(&compose("", &[("a.txt".into(), read("secret"))])), "");
        assert_eq!(typed_part("just words"), "just words");
    }

    #[test]
    fn an_attachment_cannot_close_its_own_fence() {
        let part = read("a ``` b ~~~~ c ````` d").as_message_part("x.txt");
        assert!(part.contains("``````\na ``` b"), "{part}");
        assert!(part.ends_with("\n``````"), "{part}");
        assert!(read("plain").as_message_part("x.txt").contains("```\nplain\n```"));
    }

    #[test]
    fn terminal_text_loses_escape_sequences() {
        assert_eq!(terminal_safe("a\u{1b}[2Jb\tc\n"), "a\u{FFFD}[2Jb\tc\n");
    }
}

#[derive(Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    code: String,
    #[serde(default)]
    reason: String,
    #[serde(flatten)]
    rest: serde_json::Value,
}

/// A file's display name (its last component).
fn name_of(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

/// Reads the file at `path` (the user named it) in a fresh sandbox instance. `password` opens
/// an encrypted PDF.
pub async fn extract(runtime: &Runtime, path: &Path, password: Option<&str>, limits: &ExtractLimits) -> Result<Extracted, ExtractError> {
    let name = name_of(path);
    let file = std::fs::File::open(path).map_err(|source| ExtractError::Io { name: name.clone(), source })?;
    extract_file(runtime, file, &name, password, limits).await
}

/// Reads an opened file (the agent opens it inside its workspace without following links),
/// shown as `name`. Only a regular file is read, and at most [`MAX_FILE_BYTES`] of it.
pub async fn extract_file(runtime: &Runtime, file: std::fs::File, name: &str, password: Option<&str>, limits: &ExtractLimits) -> Result<Extracted, ExtractError> {
    let name = name.to_string();
    let io = |source| ExtractError::Io { name: name.clone(), source };
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(ExtractError::Io { name, source: std::io::Error::other("it is not a regular file") });
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(ExtractError::TooLarge { name, size: meta.len() >> 20 });
    }
    // A copy of the file alone, in a private folder (0700) of its own, removed when this returns:
    // the sandbox sees nothing beside it, and never the original.
    let folder = tempfile::Builder::new().prefix("sotto-read-").tempdir().map_err(io)?;
    let input = folder.path().join("input");
    let mut out = std::fs::File::create(&input).map_err(io)?;
    let copied = std::io::copy(&mut std::io::Read::take(file, MAX_FILE_BYTES + 1), &mut out).map_err(io)?;
    if copied > MAX_FILE_BYTES {
        return Err(ExtractError::TooLarge { name, size: copied >> 20 });
    }
    drop(out);
    let args = serde_json::json!({
        "name": name, "password": password, "max_chars": limits.max_chars, "max_rows": limits.max_rows,
        "max_expanded": limits.max_expanded, "max_text_bytes": (limits.max_chars * 4).max(1 << 20),
    });
    let encoded = base64::engine::general_purpose::STANDARD.encode(args.to_string());
    let code = format!("SOTTO_ARGS = __import__('json').loads(__import__('base64').b64decode('{encoded}'))\n{READER}");
    let sandbox_limits = Limits { deadline: limits.deadline, memory_bytes: limits.memory_bytes, output_bytes: limits.max_chars * 8 + (1 << 20), disk_bytes: 64 << 20, ..Limits::default() };
    let run = runtime.run(&RunRequest { code, workspace: Some(folder.path().to_path_buf()), writable: false, limits: sandbox_limits }).await?;
    if let Some(limit) = run.trapped {
        let reason = match limit.as_str() {
            "deadline" => format!("reading it took longer than {} s, so it was stopped (nothing was sent)", limits.deadline.as_secs()),
            "memory" => format!("reading it needed more than {} MiB of memory, so it was stopped (nothing was sent)", limits.memory_bytes >> 20),
            "output" => "reading it produced more text than the sandbox passes back; it was stopped".to_string(),
            other => format!("the sandbox stopped the reader ({other}); nothing was sent"),
        };
        return Err(ExtractError::Limit { name, reason });
    }
    let answer: Answer = serde_json::from_str(run.stdout.trim()).map_err(|_| ExtractError::Unreadable {
        name: name.clone(),
        code: "unreadable".into(),
        reason: format!("the reader failed: {}", run.stderr.lines().last().unwrap_or("no reason given")),
    })?;
    if !answer.ok {
        return Err(match answer.code.as_str() {
            "limit" | "too_large" => ExtractError::Limit { name, reason: answer.reason },
            _ => ExtractError::Unreadable { name, code: answer.code, reason: answer.reason },
        });
    }
    serde_json::from_value(answer.rest).map_err(|e| ExtractError::Unreadable { name, code: "unreadable".into(), reason: format!("the reader's answer is not understood ({e})") })
}

/// Text made safe for a terminal: control characters (escape sequences that could rewrite the
/// screen) and invisible format characters (bidirectional overrides, zero-width characters that
/// make shown text differ from its bytes) become U+FFFD; line breaks and tabs stay.
pub fn terminal_safe(text: &str) -> String {
    use sotto_enclave_protocol::search::is_format;
    text.chars().map(|c| if (c.is_control() && c != '\n' && c != '\t') || is_format(c) { '\u{FFFD}' } else { c }).collect()
}

impl Extracted {
    /// One line on what will be sent: kind, pages or sheets, size, whether it was cut.
    pub fn summary(&self, name: &str) -> String {
        let shape = match (&self.pages, &self.sheets) {
            (Some(p), _) => format!("{} page{}", p.len(), if p.len() == 1 { "" } else { "s" }),
            (_, Some(s)) if s.len() > 1 || self.kind.starts_with("xl") || self.kind == "ods" => {
                format!("{} sheet{} ({} rows)", s.len(), if s.len() == 1 { "" } else { "s" }, s.iter().map(|s| s.rows).sum::<usize>())
            }
            (_, Some(s)) => format!("{} rows", s.iter().map(|s| s.rows).sum::<usize>()),
            _ => String::new(),
        };
        let cut = if self.truncated { format!(", cut at {} characters", self.chars) } else { String::new() };
        let shape = if shape.is_empty() { String::new() } else { format!(", {shape}") };
        format!("{name}: {}{shape}, {} characters of text{cut}", self.kind.to_uppercase(), self.chars)
    }

    /// The attachment as it goes into a message (the same form the app uses).
    pub fn as_message_part(&self, name: &str) -> String {
        // A fence longer than any run of backticks in the text, so the file cannot close it.
        let longest = self.text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
        let fence = "`".repeat(longest.max(2) + 1);
        let cut = if self.truncated { "\n\n(The file's text was cut here: it is longer than Sotto sends.)" } else { "" };
        format!("Attached file `{name}` ({}):\n\n{fence}\n{}\n{fence}{cut}", self.kind, self.text)
    }
}

/// What the user typed in a message `compose` made: the text before the first attached file
/// (what a web search may look for — never a file's text).
pub fn typed_part(message: &str) -> &str {
    const MARK: &str = "Attached file `";
    let end = if message.starts_with(MARK) { 0 } else { message.find(&format!("\n\n{MARK}")).unwrap_or(message.len()) };
    message[..end].trim()
}

/// The message as sent: the typed text, then each attachment.
pub fn compose(prompt: &str, attachments: &[(String, Extracted)]) -> String {
    let mut parts = vec![prompt.trim().to_string()];
    parts.extend(attachments.iter().map(|(name, e)| e.as_message_part(name)));
    parts.retain(|p| !p.is_empty());
    parts.join("\n\n")
}
