//! What is checked while a guest runs, every [`crate::runtime::CHECK_EVERY`] of its time (from
//! wasmtime's epoch callback, on the guest's own thread): its deadline, and how much it has
//! stored — its private `/tmp` in all, and what it added to a writable `/work`. WASI has no
//! quotas of its own, so this is what keeps a run from filling the disk.

use std::path::{Path, PathBuf};
use std::time::Instant;

/// Why a run was stopped for its disk use.
#[derive(Debug, thiserror::Error)]
#[error("the run stored more than its disk limit ({limit} bytes)")]
pub struct DiskQuotaExceeded {
    pub limit: u64,
}

pub struct Watch {
    pub deadline: Instant,
    pub disk_bytes: u64,
    private: PathBuf,
    /// The writable workspace and its size when the call began.
    workspace: Option<(PathBuf, u64)>,
}

impl Watch {
    pub fn new(private: &Path) -> Self {
        Self { deadline: Instant::now(), disk_bytes: u64::MAX, private: private.to_owned(), workspace: None }
    }

    /// Re-armed before each call.
    pub fn arm(&mut self, deadline: Instant, disk_bytes: u64, writable_workspace: Option<&Path>) {
        self.deadline = deadline;
        self.disk_bytes = disk_bytes;
        self.workspace = writable_workspace.map(|w| (w.to_owned(), tree_size(w)));
    }

    /// Bytes stored so far: all of `/tmp`, and what `/work` grew by.
    pub fn stored(&self) -> u64 {
        let added = self.workspace.as_ref().map_or(0, |(w, before)| tree_size(w).saturating_sub(*before));
        tree_size(&self.private).saturating_add(added)
    }

    /// `Err` stops the guest: an interrupt (its deadline) or [`DiskQuotaExceeded`].
    pub fn check(&self) -> wasmtime::Result<()> {
        if Instant::now() >= self.deadline {
            return Err(wasmtime::Trap::Interrupt.into());
        }
        if self.stored() > self.disk_bytes {
            return Err(DiskQuotaExceeded { limit: self.disk_bytes }.into());
        }
        Ok(())
    }
}

/// The apparent size of every file under `dir` (links are not followed; a sparse file counts
/// in full, which errs on the strict side).
pub fn tree_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => tree_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .fold(0u64, u64::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmp_counts_in_full_and_work_by_what_it_grew() {
        let (tmp, work) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::write(work.path().join("before.csv"), vec![0u8; 5000]).unwrap();
        let mut w = Watch::new(tmp.path());
        w.arm(Instant::now() + std::time::Duration::from_secs(60), 10_000, Some(work.path()));
        std::fs::create_dir(tmp.path().join("sub")).unwrap();
        std::fs::write(tmp.path().join("sub/a"), vec![0u8; 4000]).unwrap();
        std::fs::write(work.path().join("out.png"), vec![0u8; 3000]).unwrap();
        assert_eq!(w.stored(), 7000);
        assert!(w.check().is_ok());
        std::fs::write(tmp.path().join("b"), vec![0u8; 4000]).unwrap();
        let e = w.check().unwrap_err();
        assert!(e.downcast_ref::<DiskQuotaExceeded>().is_some(), "{e}");
        w.arm(Instant::now(), u64::MAX, None);
        assert!(matches!(w.check().unwrap_err().downcast_ref::<wasmtime::Trap>(), Some(wasmtime::Trap::Interrupt)));
    }
}
