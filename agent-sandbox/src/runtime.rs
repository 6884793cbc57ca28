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

/// How often the epoch advances.
pub const TICK: Duration = Duration::from_millis(10);
/// How often a running guest's deadline and disk use are checked (in ticks, and as a time).
pub(crate) const CHECK_TICKS: u64 = 10;
pub const CHECK_EVERY: Duration = Duration::from_millis(100);

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
        // The cached native code is used only if it is byte for byte what this code wrote (its
        // SHA-256 is kept beside it); a changed, truncated or unrecorded file is compiled again.
        let (bytes, compiled) = match read_checked(&path) {
            Some(bytes) => (bytes, false),
            None => {
                if path.exists() {
                    tracing::warn!(path = %path.display(), "the cached compiled sandbox does not match its recorded hash; compiling it again");
                }
                (compile_to(&engine, &artifacts.snapshot, &path, &dir, progress)?, true)
            }
        };
        // SAFETY: these bytes are what `precompile_module` produced with this engine's settings
        // (checked against the hash recorded when they were written; the file name carries the
        // engine's compatibility hash), and wasmtime checks the header before use.
        let module = unsafe { Module::deserialize(&engine, &bytes) }.map_err(SandboxError::runtime)?;
        let mut linker: Linker<GuestState> = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, |s: &mut GuestState| &mut s.wasi).map_err(SandboxError::runtime)?;
        crate::guest::define_host_call(&mut linker)?;
        let pre = linker.instantiate_pre(&module).map_err(SandboxError::runtime)?;
        let ticker = Arc::new(Ticker(start_ticker(&engine)?));
        progress(Progress::Ready { compiled, took: started.elapsed() });
        Ok(Runtime { engine, pre, artifacts, ticker })
    }
}

fn compile_to(engine: &Engine, wasm: &Path, out: &Path, dir: &Path, progress: &mut dyn FnMut(Progress)) -> Result<Vec<u8>, SandboxError> {
    std::fs::create_dir_all(dir).map_err(SandboxError::io("create", dir))?;
    let timing = dir.join("last-compile-ms");
    let previous = std::fs::read_to_string(&timing).ok().and_then(|s| s.trim().parse().ok()).map(Duration::from_millis);
    let started = Instant::now();
    progress(Progress::Compiling { started, previous });
    let bytes = std::fs::read(wasm).map_err(SandboxError::io("read", wasm))?;
    let compiled = engine.precompile_module(&bytes).map_err(SandboxError::runtime)?;
    write_atomically(&hash_path(out), hex::encode(Sha256::digest(&compiled)).as_bytes())?;
    write_atomically(out, &compiled)?;
    let _ = std::fs::write(&timing, started.elapsed().as_millis().to_string());
    Ok(compiled)
}

fn hash_path(module: &Path) -> PathBuf {
    module.with_extension("cwasm.sha256")
}

/// The cached module's bytes, if they match the SHA-256 recorded when they were written.
fn read_checked(path: &Path) -> Option<Vec<u8>> {
    let expected = std::fs::read_to_string(hash_path(path)).ok()?;
    let bytes = std::fs::read(path).ok()?;
    (hex::encode(Sha256::digest(&bytes)) == expected.trim()).then_some(bytes)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SandboxError> {
    let part = path.with_extension("part");
    std::fs::write(&part, bytes).map_err(SandboxError::io("write", &part))?;
    std::fs::rename(&part, path).map_err(SandboxError::io("write", path))
}

/// Advances the engine's epoch every [`TICK`] until the runtime is dropped. Without it no
/// deadline would ever fire, so a runtime without one is refused.
fn start_ticker(engine: &Engine) -> Result<Arc<AtomicBool>, SandboxError> {
    let stop = Arc::new(AtomicBool::new(false));
    let (engine, flag) = (engine.clone(), stop.clone());
    spawn_ticker(move || {
        while !flag.load(Ordering::Relaxed) {
            std::thread::sleep(TICK);
            engine.increment_epoch();
        }
    })
    .map_err(|e| SandboxError::runtime(format!("the sandbox's clock thread could not start ({e}), so no deadline could stop a run; nothing will run")))?;
    Ok(stop)
}

fn spawn_ticker(f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    #[cfg(test)]
    if tests::REFUSE_THREADS.load(Ordering::Relaxed) {
        return Err(std::io::Error::new(std::io::ErrorKind::WouldBlock, "no threads left (test)"));
    }
    std::thread::Builder::new().name("sandbox-epoch".into()).spawn(f).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Makes `spawn_ticker` fail, as a process out of threads would.
    pub(super) static REFUSE_THREADS: AtomicBool = AtomicBool::new(false);

    #[test]
    fn without_its_clock_thread_the_sandbox_refuses_to_start() {
        let engine = engine().unwrap();
        REFUSE_THREADS.store(true, Ordering::Relaxed);
        let refused = start_ticker(&engine);
        REFUSE_THREADS.store(false, Ordering::Relaxed);
        let e = refused.err().expect("no ticker, no runtime");
        assert!(e.to_string().contains("no deadline could stop a run"), "{e}");
        let stop = start_ticker(&engine).unwrap();
        stop.store(true, Ordering::Relaxed);
    }

    #[test]
    fn a_cached_module_is_used_only_if_it_matches_its_recorded_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("python-x.cwasm");
        write_atomically(&hash_path(&path), hex::encode(Sha256::digest(b"native code")).as_bytes()).unwrap();
        write_atomically(&path, b"native code").unwrap();
        assert_eq!(read_checked(&path).as_deref(), Some(&b"native code"[..]));
        std::fs::write(&path, b"native codE").unwrap();
        assert_eq!(read_checked(&path), None, "a changed byte");
        std::fs::write(&path, b"native").unwrap();
        assert_eq!(read_checked(&path), None, "a truncated file");
        std::fs::remove_file(hash_path(&path)).unwrap();
        std::fs::write(&path, b"native code").unwrap();
        assert_eq!(read_checked(&path), None, "no recorded hash (a file this code did not write)");
    }
}
