//! One guest instance's set-up and the accounting around each call into it, shared by one-shot
//! runs and sessions: the grants, the limits armed before a call, and the result after it.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder, WasiView};

use crate::artifacts::STDLIB_ZIP;
use crate::guest::{GuestState, MemoryCap};
use crate::output::CappedOutput;
use crate::runtime::{Runtime, CHECK_EVERY, CHECK_TICKS};
use crate::watch::{DiskQuotaExceeded, Watch};
use crate::tools::{FrameBudget, ToolHost};
use crate::workspace::{self, Snapshot};
use crate::{Limits, RunResult, SandboxError};

/// The guest's `sys.executable`, as the package's own host names it.
pub(crate) const ARGV0: &str = "/usr/local/bin/python.wasm";
/// Tool calls one instance may make.
const MAX_TOOL_CALLS: usize = 1000;

/// What a guest may touch and what bounds it.
#[derive(Clone, Default)]
pub struct Grants {
    /// The user's folder, seen as `/work`.
    pub workspace: Option<PathBuf>,
    /// Whether the guest may change `/work` (read-only unless the user allowed writes).
    pub writable: bool,
    /// Host functions the guest may call through `host.tools`.
    pub tools: Option<Arc<dyn ToolHost>>,
}

pub(crate) struct Guest {
    pub store: Store<GuestState>,
    stdout: CappedOutput,
    stderr: CappedOutput,
    workspace: Option<PathBuf>,
    writable: bool,
    /// The private `/tmp` and home; removed when the guest is dropped.
    _private: tempfile::TempDir,
}

/// How a call into the guest ended.
pub(crate) enum Outcome {
    Returned(i32),
    Exited(i32),
    TimedOut,
    Failed(wasmtime::Error),
}

/// What was armed before a call, to account for it after.
pub(crate) struct Armed {
    started: Instant,
    before: Option<Snapshot>,
    limits: Limits,
}

impl Guest {
    pub fn new(runtime: &Runtime, argv: &[&str], grants: &Grants, limits: &Limits) -> Result<Guest, SandboxError> {
        let private = tempfile::Builder::new().prefix("sotto-sandbox-").tempdir().map_err(SandboxError::io("create", Path::new("a temporary folder")))?;
        let home = private.path().join("home");
        std::fs::create_dir_all(home.join(".config").join("matplotlib")).map_err(SandboxError::io("create", &home))?;
        let workspace = grants.workspace.as_deref().map(workspace::check).transpose()?;
        let (stdout, stderr) = (CappedOutput::new(limits.output_bytes), CappedOutput::new(limits.output_bytes));
        let mut wasi = wasi_context(runtime, argv, private.path(), workspace.as_deref(), grants.writable, &stdout, &stderr)?;
        // Preopens and the three standard streams hold entries too.
        WasiView::ctx(&mut wasi).table.set_max_capacity(limits.open_files + 8);
        let state = GuestState {
            wasi,
            limiter: MemoryCap { max_bytes: limits.memory_bytes, refused: false },
            tools: grants.tools.clone(),
            budget: FrameBudget { used: 0, max: MAX_TOOL_CALLS },
            watch: Watch::new(private.path()),
        };
        let mut store = Store::new(&runtime.engine, state);
        store.limiter(|s| &mut s.limiter);
        // Every CHECK_TICKS of guest time: past its deadline, or over its disk limit, it stops.
        store.epoch_deadline_callback(|mut ctx| ctx.data_mut().watch.check().map(|()| UpdateDeadline::Continue(CHECK_TICKS)));
        Ok(Guest { store, stdout, stderr, workspace, writable: grants.writable, _private: private })
    }

    /// Arms the limits for one call: a fresh deadline and output caps, the memory flag cleared.
    pub fn arm(&mut self, limits: Limits) -> Armed {
        let writable = self.workspace.as_deref().filter(|_| self.writable);
        self.store.data_mut().watch.arm(Instant::now() + limits.deadline, limits.disk_bytes, writable);
        self.store.set_epoch_deadline(CHECK_TICKS);
        self.store.data_mut().limiter.refused = false;
        self.stdout.take(limits.output_bytes);
        self.stderr.take(limits.output_bytes);
        let before = self.workspace.as_deref().filter(|_| self.writable).map(Snapshot::take);
        Armed { started: Instant::now(), before, limits }
    }

    /// Runs `call` under the armed deadline; the timeout also stops a guest waiting inside a host
    /// call, where the epoch is not checked.
    pub async fn bounded<F>(armed: &Armed, call: F) -> Outcome
    where
        F: Future<Output = wasmtime::Result<i32>>,
    {
        match tokio::time::timeout(armed.limits.deadline + CHECK_EVERY * 2, call).await {
            Err(_elapsed) => Outcome::TimedOut,
            Ok(Ok(code)) => Outcome::Returned(code),
            Ok(Err(e)) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                // `sys.exit(n)` in a one-shot run, `os._exit(n)` anywhere: WASI's proc_exit.
                Some(exit) => Outcome::Exited(exit.0),
                None => Outcome::Failed(e),
            },
        }
    }

    /// The result of the armed call: its exit code, output, which limit stopped it, what it wrote.
    pub fn account(&mut self, armed: Armed, outcome: &Outcome) -> RunResult {
        let refused = self.store.data().limiter.refused;
        let (exit_code, trapped) = match outcome {
            Outcome::Returned(code) | Outcome::Exited(code) => (Some(*code), None),
            Outcome::TimedOut => (None, Some("deadline".to_string())),
            Outcome::Failed(e) => (None, Some(classify(e, refused))),
        };
        // Python reports a refused allocation as MemoryError and goes on: say which limit it was.
        let trapped = trapped.or_else(|| (refused && exit_code != Some(0)).then(|| "memory".to_string()));
        let (out, out_cut) = self.stdout.take(armed.limits.output_bytes);
        let (err, err_cut) = self.stderr.take(armed.limits.output_bytes);
        let trapped = trapped.or_else(|| (out_cut || err_cut).then(|| "output".to_string()));
        let files_written = match (armed.before, self.workspace.as_deref()) {
            (Some(before), Some(w)) => before.changed(&Snapshot::take(w)),
            _ => Vec::new(),
        };
        RunResult {
            exit_code,
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
            trapped,
            files_written,
            duration_ms: armed.started.elapsed().as_millis() as u64,
        }
    }
}

fn wasi_context(
    runtime: &Runtime,
    argv: &[&str],
    private: &Path,
    workspace: Option<&Path>,
    writable: bool,
    stdout: &CappedOutput,
    stderr: &CappedOutput,
) -> Result<wasmtime_wasi::p1::WasiP1Ctx, SandboxError> {
    let mut b = WasiCtxBuilder::new();
    b.args(argv)
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
    let a = &runtime.artifacts;
    let (ro, rw) = (FsPerms::ReadOnly, FsPerms::ReadWrite);
    let mut grant = |host: &Path, guest: &str, perms: FsPerms| {
        b.preopened_dir(host, guest, perms)
            .map(|_| ())
            .map_err(|e| SandboxError::Workspace { path: host.to_owned(), problem: e.to_string() })
    };
    grant(&a.lib_dir, "/usr/local/lib", ro)?;
    grant(&a.mpl_data, &format!("/usr/local/lib/{STDLIB_ZIP}/matplotlib/mpl-data"), ro)?;
    if a.shelf.is_dir() {
        grant(&a.shelf, crate::artifacts::SHELF_GUEST, ro)?;
    }
    grant(private, "/tmp", rw)?;
    if let Some(w) = workspace {
        grant(w, "/work", if writable { rw } else { ro })?;
    }
    Ok(b.build_p1())
}

/// The limit (or trap) behind a failed call.
fn classify(e: &wasmtime::Error, memory_refused: bool) -> String {
    let text = format!("{e:#}");
    if matches!(e.downcast_ref::<wasmtime::Trap>(), Some(wasmtime::Trap::Interrupt)) {
        "deadline".into()
    } else if e.downcast_ref::<DiskQuotaExceeded>().is_some() {
        "disk".into()
    } else if text.contains("resource table has no free keys") {
        "open_files".into()
    } else if memory_refused {
        "memory".into()
    } else {
        text.lines().next().unwrap_or("trap").to_string()
    }
}
