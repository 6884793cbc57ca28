//! The tools the model is offered (OpenAI function format) and their local execution.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use sotto_agent_sandbox::{Grants, Limits, RunResult, Runtime, Session};

use super::files::{FileToolError, WorkspaceFiles};
use super::{AgentObserver, WritePolicy, WriteRequest};

/// What one tool call produced: the full output (kept locally) and what the model is told.
pub struct ToolOutput {
    pub ok: bool,
    pub output: String,
    pub files: Vec<String>,
}

impl ToolOutput {
    fn ok(output: String, files: Vec<String>) -> Self {
        Self { ok: true, output, files }
    }

    fn error(message: impl std::fmt::Display) -> Self {
        Self { ok: false, output: format!("error: {message}"), files: Vec::new() }
    }
}

/// The tools as the chat request's `tools` array.
pub fn definitions() -> Value {
    let function = |name: &str, description: &str, parameters: Value| {
        json!({"type": "function", "function": {"name": name, "description": description, "parameters": parameters}})
    };
    let path = json!({"type": "string", "description": "A path inside the workspace, e.g. data.csv or /work/data.csv"});
    json!([
        function(
            "run_python",
            "Run Python 3.15 code in a sandbox on the user's device. numpy, pandas, scipy, scikit-learn, statsmodels, matplotlib (Agg) and lxml are available. The workspace is at /work. Variables and imports persist between calls. No network. Print what you need to see.",
            json!({"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]})
        ),
        function(
            "list_files",
            "List the files in the workspace (or in one folder of it), with sizes.",
            json!({"type": "object", "properties": {"path": path}})
        ),
        function(
            "read_file",
            "Read a file from the workspace: a text file as it is (at most 1 MiB); a PDF, Word, Excel or OpenDocument file as its text and tables (read in the sandbox).",
            json!({"type": "object", "properties": {"path": path}, "required": ["path"]})
        ),
        function(
            "write_file",
            "Write a UTF-8 text file into the workspace, replacing it if it exists.",
            json!({"type": "object", "properties": {"path": path, "content": {"type": "string"}}, "required": ["path", "content"]})
        ),
        function(
            "make_pdf",
            "Make a PDF in the workspace from Markdown (headings, lists, tables, code, images by workspace path).",
            json!({"type": "object", "properties": {"markdown": {"type": "string"}, "path": {"type": "string", "description": "The PDF's path inside the workspace, ending in .pdf"}}, "required": ["markdown", "path"]})
        ),
    ])
}

/// Runs tool calls for one agent task: one Python session for the task, the file tools, and
/// the write policy.
pub struct Toolbox {
    runtime: Arc<Runtime>,
    files: WorkspaceFiles,
    limits: Limits,
    policy: WritePolicy,
    session: Option<Session>,
    /// Whether Python may write in the workspace, once decided for this task.
    python_writes: Option<bool>,
}

impl Toolbox {
    pub fn new(runtime: Arc<Runtime>, workspace: PathBuf, limits: Limits, policy: WritePolicy) -> Result<Self, FileToolError> {
        Ok(Self { runtime, files: WorkspaceFiles::open(&workspace)?, limits, policy, session: None, python_writes: None })
    }

    /// Executes one call; never fails: a problem is an error result the model can read.
    pub async fn execute(&mut self, name: &str, arguments: &str, observer: &mut dyn AgentObserver) -> ToolOutput {
        let args: Map<String, Value> = match serde_json::from_str(if arguments.trim().is_empty() { "{}" } else { arguments }) {
            Ok(Value::Object(m)) => m,
            Ok(_) | Err(_) => return ToolOutput::error(format!("the arguments of {name} are not a JSON object: {arguments}")),
        };
        let text = |key: &str| args.get(key).and_then(Value::as_str);
        match (name, text("code"), text("path"), text("content"), text("markdown")) {
            ("run_python", Some(code), ..) => self.run_python(code, observer).await,
            ("list_files", _, path, ..) => self.list(path.unwrap_or("")),
            ("read_file", _, Some(path), ..) => self.read_file(path).await,
            ("write_file", _, Some(path), Some(content), _) => self.write_file(path, content, observer),
            ("make_pdf", _, Some(path), _, Some(markdown)) => self.make_pdf(path, markdown, observer),
            ("run_python" | "read_file" | "write_file" | "make_pdf", ..) => ToolOutput::error(format!("{name} is missing a required argument")),
            _ => ToolOutput::error(format!("there is no tool named {name}; the tools are run_python, list_files, read_file, write_file, make_pdf")),
        }
    }

    /// Drops the task's Python session without its shutdown (after a stop mid-call, when the
    /// instance may be part-way through a turn).
    pub fn abandon(&mut self) {
        self.session = None;
    }

    /// Ends the task's Python session, running Python's shutdown.
    pub async fn close(&mut self) {
        if let Some(s) = self.session.take() {
            s.close().await;
        }
    }

    /// Text as it is; anything else (a PDF, an Office file, a large file) read by the same
    /// sandboxed reader as a chat attachment.
    async fn read_file(&self, path: &str) -> ToolOutput {
        match self.files.read(path) {
            Ok(text) => ToolOutput::ok(text, Vec::new()),
            Err(FileToolError::NotText(_) | FileToolError::TooLarge { .. }) => {
                let file = match self.files.open_regular(path) {
                    Ok(file) => file,
                    Err(e) => return ToolOutput::error(e),
                };
                let limits = crate::extract::ExtractLimits { max_chars: 60_000, ..Default::default() };
                match crate::extract::extract_file(&self.runtime, file, path, None, &limits).await {
                    Ok(e) => ToolOutput::ok(format!("[{}]\n\n{}", e.summary(path), e.text), Vec::new()),
                    Err(e) => ToolOutput::error(e),
                }
            }
            Err(e) => ToolOutput::error(e),
        }
    }

    fn list(&self, path: &str) -> ToolOutput {
        match self.files.list(path) {
            Ok(entries) if entries.is_empty() => ToolOutput::ok("(empty)".into(), Vec::new()),
            Ok(entries) => {
                let lines: Vec<String> = entries
                    .iter()
                    .map(|e| match e.kind {
                        "file" => format!("{}  ({} bytes)", e.path, e.bytes),
                        kind => format!("{}/  ({kind})", e.path),
                    })
                    .collect();
                ToolOutput::ok(lines.join("\n"), Vec::new())
            }
            Err(e) => ToolOutput::error(e),
        }
    }

    fn allowed(&self, request: WriteRequest<'_>, observer: &mut dyn AgentObserver) -> bool {
        match self.policy {
            WritePolicy::Allow => true,
            WritePolicy::Deny => false,
            WritePolicy::Ask => observer.approve_write(&request),
        }
    }

    fn write_file(&mut self, path: &str, content: &str, observer: &mut dyn AgentObserver) -> ToolOutput {
        if !self.allowed(WriteRequest::File { path, bytes: content.len() }, observer) {
            return ToolOutput::error(format!("the user did not allow writing {path}"));
        }
        match self.files.write(path, content) {
            Ok(written) => ToolOutput::ok(format!("wrote {written} ({} bytes)", content.len()), vec![written]),
            Err(e) => ToolOutput::error(e),
        }
    }

    fn make_pdf(&mut self, path: &str, markdown: &str, observer: &mut dyn AgentObserver) -> ToolOutput {
        let rel = match super::files::relative(path) {
            Ok(rel) => rel.display().to_string(),
            Err(e) => return ToolOutput::error(e),
        };
        if !self.allowed(WriteRequest::File { path: &rel, bytes: markdown.len() }, observer) {
            return ToolOutput::error(format!("the user did not allow writing {rel}"));
        }
        match sotto_documents::make_pdf(self.files.root(), markdown, &rel, sotto_documents::Paper::A4) {
            Ok(_) => ToolOutput::ok(format!("wrote {rel}"), vec![rel]),
            Err(e) => ToolOutput::error(e),
        }
    }

    async fn run_python(&mut self, code: &str, observer: &mut dyn AgentObserver) -> ToolOutput {
        let writable = match self.python_writes {
            Some(w) => w,
            None => *self.python_writes.insert(self.allowed(WriteRequest::Python { code }, observer)),
        };
        let mut restarted = false;
        if self.session.as_ref().is_some_and(|s| s.ended().is_some()) {
            self.session = None;
            restarted = true;
        }
        if self.session.is_none() {
            let grants = Grants { workspace: Some(self.files.root().to_owned()), writable, tools: None };
            match self.runtime.open_session(&grants, self.limits).await {
                Ok(s) => self.session = Some(s),
                Err(e) => return ToolOutput::error(e),
            }
        }
        let Some(session) = self.session.as_mut() else { return ToolOutput::error("no Python session") };
        match session.run(code).await {
            Ok(r) => python_output(&r, restarted, writable, session.ended().is_some()),
            Err(e) => ToolOutput::error(e),
        }
    }
}

/// A run's result as text for the model and the user.
fn python_output(r: &RunResult, restarted: bool, writable: bool, ended: bool) -> ToolOutput {
    let mut text = String::new();
    if restarted {
        text.push_str("note: the previous Python session had ended, so this ran in a new one (earlier variables are gone)\n");
    }
    match (&r.trapped, r.exit_code) {
        (Some(limit), _) => {
            let next = if ended { "; the Python session has ended, so its variables are gone" } else { "" };
            text.push_str(&format!("stopped by the sandbox's {limit} limit{next}\n"));
        }
        (None, Some(0)) => {}
        (None, Some(code)) => text.push_str(&format!("exit status {code}\n")),
        (None, None) => {}
    }
    if !r.stdout.is_empty() {
        text.push_str(&r.stdout);
        if !r.stdout.ends_with('\n') {
            text.push('\n');
        }
    }
    if !r.stderr.is_empty() {
        text.push_str("stderr:\n");
        text.push_str(&r.stderr);
    }
    if !r.files_written.is_empty() {
        text.push_str(&format!("files written: {}\n", r.files_written.join(", ")));
    }
    let refused = ["PermissionError", "Read-only file system"].iter().any(|e| r.stderr.contains(e));
    if !writable && refused && r.stderr.contains("/work") {
        text.push_str("note: the workspace is read-only for Python in this task (the user did not allow writes)\n");
    }
    if text.is_empty() {
        text.push_str("(no output)");
    }
    ToolOutput { ok: r.trapped.is_none() && r.exit_code == Some(0), output: text, files: r.files_written.clone() }
}
