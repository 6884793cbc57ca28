//! One run of Python code on a fresh instance, under limits, with only the grants it is given.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use wasmtime::Store;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder, WasiView};

use crate::artifacts::STDLIB_ZIP;
use crate::guest::{GuestState, MemoryCap};
use crate::runtime::{Runtime, TICK};
use crate::workspace::Snapshot;
use crate::SandboxError;

/// The guest's `sys.executable`, as the package's own host names it.
const ARGV0: &str = "/usr/local/bin/python.wasm";

/// Limits on every run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Limits {
    pub deadline: Duration,
    pub memory_bytes: usize,
    /// Per stream (stdout, stderr).
    pub output_bytes: usize,
    pub open_files: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { deadline: Duration::from_secs(60), memory_bytes: 1 << 30, output_bytes: 16 << 20, open_files: 256 }
    }
}

/// What to run and what it may touch.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Python source, run like `python -c`.
    pub code: String,
    /// The user's folder, seen as `/work`.
    pub workspace: Option<PathBuf>,
    /// Whether the guest may change `/work` (read-only unless the user allowed writes).
    pub writable: bool,
    pub limits: Limits,
}

/// How a run ended.
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
        let started = Instant::now();
        let private = tempfile::Builder::new().prefix("sotto-sandbox-").tempdir().map_err(SandboxError::io("create", Path::new("temporary folder")))?;
        let home = private.path().join("home");
        std::fs::create_dir_all(home.join(".config").join("matplotlib")).map_err(SandboxError::io("create", &home))?;
        let workspace = request.workspace.as_deref().map(check_workspace).transpose()?;
        let before = workspace.as_deref().filter(|_| request.writable).map(Snapshot::take);

        let limits = request.limits;
        let stdout = MemoryOutputPipe::new(limits.output_bytes);
        let stderr = MemoryOutputPipe::new(limits.output_bytes);
        let mut wasi = self.wasi_context(request, private.path(), workspace.as_deref(), &stdout, &stderr)?;
        // Preopens and the three standard streams hold entries too.
        WasiView::ctx(&mut wasi).table.set_max_capacity(limits.open_files + 8);
        let mut store = Store::new(&self.engine, GuestState { wasi, limiter: MemoryCap { max_bytes: limits.memory_bytes, refused: false } });
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline((limits.deadline.as_millis() / TICK.as_millis()).max(1) as u64);
        store.epoch_deadline_trap();

        // The timeout also stops a guest waiting inside a host call, where the epoch is not checked.
        let outcome = tokio::time::timeout(limits.deadline + TICK * 5, self.instantiate_and_run(&mut store)).await;
        let (exit_code, trapped) = match outcome {
            Err(_elapsed) => (None, Some("deadline".to_string())),
            Ok(Ok(code)) => (Some(code), None),
            Ok(Err(e)) => classify(&e, store.data().limiter.refused),
        };
        // Python reports a refused allocation as MemoryError and exits 1: say which limit it was.
        let trapped = trapped.or_else(|| (store.data().limiter.refused && exit_code != Some(0)).then(|| "memory".to_string()));
        // A full pipe takes what fits and then refuses writes (Python sees an OSError).
        let (out, err) = (stdout.contents(), stderr.contents());
        let cut = out.len() >= limits.output_bytes || err.len() >= limits.output_bytes;
        let trapped = trapped.or_else(|| cut.then(|| "output".to_string()));
        drop(store);
        let files_written = match (before, workspace.as_deref()) {
            (Some(b), Some(w)) => b.changed(&Snapshot::take(w)),
            _ => Vec::new(),
        };
        Ok(RunResult {
            exit_code,
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
            trapped,
            files_written,
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }

    fn wasi_context(
        &self,
        request: &RunRequest,
        private: &Path,
        workspace: Option<&Path>,
        stdout: &MemoryOutputPipe,
        stderr: &MemoryOutputPipe,
    ) -> Result<wasmtime_wasi::p1::WasiP1Ctx, SandboxError> {
        let mut b = WasiCtxBuilder::new();
        b.args(&[ARGV0, "-c", &request.code])
            .env("HOME", "/tmp/home")
            .env("TMPDIR", "/tmp")
            .env("PYTHONTZPATH", "")
            .env("MPLBACKEND", "Agg")
            .env("MPLCONFIGDIR", "/tmp/home/.config/matplotlib")
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        let a = &self.artifacts;
        let (ro, rw) = (FsPerms::ReadOnly, FsPerms::ReadWrite);
        let mut grant = |host: &Path, guest: &str, perms: FsPerms| {
            b.preopened_dir(host, guest, perms).map(|_| ()).map_err(|e| SandboxError::Workspace { path: host.to_owned(), problem: e.to_string() })
        };
        grant(&a.lib_dir, "/usr/local/lib", ro)?;
        grant(&a.mpl_data, &format!("/usr/local/lib/{STDLIB_ZIP}/matplotlib/mpl-data"), ro)?;
        grant(private, "/tmp", rw)?;
        if let Some(w) = workspace {
            grant(w, "/work", if request.writable { rw } else { ro })?;
        }
        Ok(b.build_p1())
    }

    async fn instantiate_and_run(&self, store: &mut Store<GuestState>) -> wasmtime::Result<i32> {
        let instance = self.pre.instantiate_async(&mut *store).await?;
        if let Ok(init) = instance.get_typed_func::<(), ()>(&mut *store, "_initialize") {
            init.call_async(&mut *store, ()).await?;
        }
        let run = instance.get_typed_func::<(), i32>(&mut *store, "run")?;
        match run.call_async(&mut *store, ()).await {
            Ok(code) => Ok(code),
            // `sys.exit(n)` ends the program through WASI's proc_exit.
            Err(e) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                Some(exit) => Ok(exit.0),
                None => Err(e),
            },
        }
    }
}

/// The limit (or trap) behind a failed run.
fn classify(e: &wasmtime::Error, memory_refused: bool) -> (Option<i32>, Option<String>) {
    let text = format!("{e:#}");
    let reason = if matches!(e.downcast_ref::<wasmtime::Trap>(), Some(wasmtime::Trap::Interrupt)) {
        "deadline".to_string()
    } else if text.contains("beyond capacity of MemoryOutputPipe") {
        "output".to_string()
    } else if text.contains("resource table has no free keys") {
        "open_files".to_string()
    } else if memory_refused {
        "memory".to_string()
    } else {
        text.lines().next().unwrap_or("trap").to_string()
    };
    (None, Some(reason))
}

fn check_workspace(path: &Path) -> Result<PathBuf, SandboxError> {
    let meta = std::fs::metadata(path).map_err(|e| SandboxError::Workspace { path: path.to_owned(), problem: e.to_string() })?;
    if !meta.is_dir() {
        return Err(SandboxError::Workspace { path: path.to_owned(), problem: "not a folder".into() });
    }
    std::fs::canonicalize(path).map_err(|e| SandboxError::Workspace { path: path.to_owned(), problem: e.to_string() })
}
