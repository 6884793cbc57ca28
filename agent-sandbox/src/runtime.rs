//! The compiled interpreter: compiled once with Cranelift, cached on disk, loaded by mmap after.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::{Config, Engine, InstancePre, Linker, Module};

use crate::artifacts::Artifacts;
use crate::guest::GuestState;
use crate::SandboxError;

/// How often the epoch advances; deadlines are counted in these ticks.
pub const TICK: Duration = Duration::from_millis(10);

/// What `Runtime::load` is doing, for a progress display.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// Checking the artifact against its pin.
    Verifying,
    /// Compiling with Cranelift (tens of seconds the first time); `previous` is how long the last
    /// compile on this machine took, when known.
    Compiling { started: Instant, previous: Option<Duration> },
    /// Ready; `compiled` says whether this load compiled or used the cache.
    Ready { compiled: bool, took: Duration },
}

/// A loaded runtime: one per process is enough; every run gets a fresh instance of it.
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) pre: InstancePre<GuestState>,
    pub(crate) artifacts: Artifacts,
    pub(crate) ticker: Arc<Ticker>,
}

/// The thread that advances the engine's epoch; it stops when the last holder drops it.
pub(crate) struct Ticker(Arc<AtomicBool>);

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn engine() -> Result<Engine, SandboxError> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.wasm_gc(true);
    config.wasm_exceptions(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    Engine::new(&config).map_err(SandboxError::runtime)
}

/// The cache file's name: wasmtime's version, the engine's settings and CPU features, the artifact.
fn cache_key(engine: &Engine, artifact_sha256: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let mut d = Sha256::new();
    d.update(b"wasmtime 48.0.8\0");
    d.update(h.finish().to_le_bytes());
    d.update(artifact_sha256.as_bytes());
    hex::encode(&d.finalize()[..12])
}

pub fn cache_dir() -> PathBuf {
    sotto_relay_config::sotto_cache().join("sandbox").join("compiled")
}

impl Runtime {
    /// Loads the runtime from the compile cache, compiling (and caching) it first when needed.
    pub fn load(artifacts: Artifacts, progress: &mut dyn FnMut(Progress)) -> Result<Runtime, SandboxError> {
        let started = Instant::now();
        let engine = engine()?;
        progress(Progress::Verifying);
        let digest = artifacts.verify_snapshot()?;
        let dir = cache_dir();
        let path = dir.join(format!("python-{}.cwasm", cache_key(&engine, &digest)));
        let compiled = !path.is_file();
        if compiled {
            compile_to(&engine, &artifacts.snapshot, &path, &dir, progress)?;
        }
        // SAFETY: the file is one this code wrote with this engine's settings (its name carries
        // the engine's compatibility hash); wasmtime also checks its header before use.
        let module = unsafe { Module::deserialize_file(&engine, &path) }.map_err(SandboxError::runtime)?;
        let mut linker: Linker<GuestState> = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, |s: &mut GuestState| &mut s.wasi).map_err(SandboxError::runtime)?;
        crate::guest::define_host_call(&mut linker)?;
        let pre = linker.instantiate_pre(&module).map_err(SandboxError::runtime)?;
        let ticker = Arc::new(Ticker(start_ticker(&engine)));
        progress(Progress::Ready { compiled, took: started.elapsed() });
        Ok(Runtime { engine, pre, artifacts, ticker })
    }
}

fn compile_to(engine: &Engine, wasm: &Path, out: &Path, dir: &Path, progress: &mut dyn FnMut(Progress)) -> Result<(), SandboxError> {
    std::fs::create_dir_all(dir).map_err(SandboxError::io("create", dir))?;
    let timing = dir.join("last-compile-ms");
    let previous = std::fs::read_to_string(&timing).ok().and_then(|s| s.trim().parse().ok()).map(Duration::from_millis);
    let started = Instant::now();
    progress(Progress::Compiling { started, previous });
    let bytes = std::fs::read(wasm).map_err(SandboxError::io("read", wasm))?;
    let compiled = engine.precompile_module(&bytes).map_err(SandboxError::runtime)?;
    let part = out.with_extension("part");
    std::fs::write(&part, compiled).map_err(SandboxError::io("write", &part))?;
    std::fs::rename(&part, out).map_err(SandboxError::io("write", out))?;
    let _ = std::fs::write(&timing, started.elapsed().as_millis().to_string());
    Ok(())
}

/// Advances the engine's epoch every [`TICK`] until the runtime is dropped.
fn start_ticker(engine: &Engine) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let (engine, flag) = (engine.clone(), stop.clone());
    std::thread::Builder::new()
        .name("sandbox-epoch".into())
        .spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(TICK);
                engine.increment_epoch();
            }
        })
        .map(|_| ())
        .unwrap_or_else(|e| tracing::error!("no epoch ticker, so no deadlines: {e}"));
    stop
}
