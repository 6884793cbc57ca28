use std::path::PathBuf;

/// Why the sandbox could not run code at all (a run that fails inside Python is a `RunResult`).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the Python runtime is not installed at {0} (run scripts/setup)")]
    NotInstalled(PathBuf),
    #[error("{path} is not the pinned artifact (SHA-256 {found}, expected {expected}); run scripts/setup again")]
    ArtifactMismatch { path: PathBuf, found: String, expected: String },
    #[error("could not {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the workspace {path} cannot be used: {problem}")]
    Workspace { path: PathBuf, problem: String },
    #[error("this Python session has ended ({0}); start a new one")]
    SessionEnded(String),
    #[error("the Python runtime could not be compiled or loaded: {0}")]
    Runtime(String),
}

impl SandboxError {
    pub(crate) fn io<'a>(action: &'static str, path: &'a std::path::Path) -> impl FnOnce(std::io::Error) -> SandboxError + 'a {
        move |source| SandboxError::Io { action, path: path.to_owned(), source }
    }

    pub(crate) fn runtime(e: impl std::fmt::Display) -> SandboxError {
        SandboxError::Runtime(format!("{e:#}"))
    }
}
