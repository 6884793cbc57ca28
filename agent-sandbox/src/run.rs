//! One run of Python code on a fresh instance, under limits, with only the grants it is given.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::instance::Grants;
use crate::runtime::Runtime;
use crate::SandboxError;

/// Limits on every run (for a session: on every turn; memory and open files for its life).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Limits {
    pub deadline: Duration,
    pub memory_bytes: usize,
    /// Per stream (stdout, stderr).
    pub output_bytes: usize,
    pub open_files: usize,
    /// What the guest may store: everything in its private `/tmp`, plus what a run adds to a
    /// writable `/work`. Checked every [`crate::runtime::CHECK_EVERY`] of guest time, so a run
    /// can overshoot by what it writes in that time.
    pub disk_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { deadline: Duration::from_secs(60), memory_bytes: 1 << 30, output_bytes: 16 << 20, open_files: 256, disk_bytes: 1 << 30 }
    }
}

/// What to run and what it may touch.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Python source, run as a program in a fresh interpreter (like `python -c`).
    pub code: String,
    /// The user's folder, seen as `/work`.
    pub workspace: Option<PathBuf>,
    /// Whether the guest may change `/work` (read-only unless the user allowed writes).
    pub writable: bool,
    pub limits: Limits,
}

/// How a run (or a session's turn) ended.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    /// The program's exit status; `None` when a limit or a trap stopped it.
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// `None` when the program ended by itself; else the limit that stopped it (`deadline`,
    /// `memory`, `output`, `open_files`) or the trap's words.
    pub trapped: Option<String>,
    /// Files created or changed under `/work`, relative to it.
    pub files_written: Vec<String>,
    pub duration_ms: u64,
}

impl Runtime {
    /// Runs `request` on a fresh instance. Errors are set-up problems; whatever the guest does
    /// (including running out of a limit) is a `RunResult`.
    pub async fn run(&self, request: &RunRequest) -> Result<RunResult, SandboxError> {
        let grants = Grants { workspace: request.workspace.clone(), writable: request.writable, tools: None };
        let session = self.open_session(&grants, request.limits).await?;
        Ok(session.run_to_end(&request.code).await)
    }
}
