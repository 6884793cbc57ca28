//! The local agent: the model (reached only through the private path) is offered tools, each
//! tool call runs here on the device, and its result goes back in the next request.
//!
//! - [`run_agent`]: the loop; it stops on a final answer, the step limit, a user stop, or a
//!   reply that fails verification;
//! - [`Toolbox`]: `run_python` (one sandbox session per task), `list_files`, `read_file`,
//!   `write_file`, `make_pdf`, with the [`WritePolicy`];
//! - [`files`]: the file tools' confinement to the workspace;
//! - [`AgentRecorder`]: every step into the encrypted store, with the exact bytes sent.

pub mod files;
mod record;
mod run;
mod tools;

pub use record::AgentRecorder;
pub use run::{run_agent, AgentConfig, AgentEnd, AgentRun, Step, MAX_OUTPUT_FOR_MODEL};
pub use tools::{definitions as tool_definitions, ToolOutput, Toolbox};

use serde_json::Value;

/// The store setting that holds the write policy.
pub const WRITE_POLICY_SETTING: &str = "agent.writes";

/// Whether the agent may change files in the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePolicy {
    /// Writes go ahead.
    Allow,
    /// Each file write, and Python's write access for the task, is put to the user first.
    Ask,
    /// Nothing is written; Python sees the workspace read-only.
    Deny,
}

impl WritePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            WritePolicy::Allow => "allow",
            WritePolicy::Ask => "ask",
            WritePolicy::Deny => "deny",
        }
    }
}

impl std::str::FromStr for WritePolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "allow" => Ok(WritePolicy::Allow),
            "ask" => Ok(WritePolicy::Ask),
            "deny" => Ok(WritePolicy::Deny),
            other => Err(format!("{other:?} is not a write policy (allow, ask or deny)")),
        }
    }
}

/// A write the user is asked to approve.
#[derive(Debug)]
pub enum WriteRequest<'a> {
    /// `write_file` or `make_pdf` wants to write this file.
    File { path: &'a str, bytes: usize },
    /// The task's first `run_python` asks whether Python may write in the workspace (for the
    /// rest of the task); `code` is what it is about to run.
    Python { code: &'a str },
}

/// What a front end (the CLI, the desktop app) sees of a run as it happens.
pub trait AgentObserver {
    /// Authenticated model text, provisional until the reply verifies.
    fn model_text(&mut self, _piece: &str) {}
    /// A model reply verified (with or without tool calls).
    fn model_verified(&mut self, _reply: &sotto_private_inference::VerifiedReply) {}
    fn step_started(&mut self, _n: usize, _tool: &str, _input: &Value) {}
    fn step_finished(&mut self, _step: &Step) {}
    /// A request left the device; `bytes` is exactly what was sealed.
    fn request_sent(&mut self, _bytes: &[u8]) {}
    fn approve_write(&mut self, _request: &WriteRequest<'_>) -> bool {
        false
    }
    /// Something went wrong that does not stop the run (e.g. a step could not be stored).
    fn warning(&mut self, _message: &str) {}
}
