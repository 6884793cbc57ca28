//! What is checked while a guest runs, every [`crate::runtime::CHECK_EVERY`] of its time (from
//! wasmtime's epoch callback, on the guest's own thread): its deadline, and how much it has
//! stored — its private `/tmp` in all, and what it added to a writable `/work`. WASI has no
//! quotas of its own, so this is what keeps a run from filling the disk.

use std::path::{Path, PathBuf};
use std::time::Instant;

/// Why a run was stopped for its disk use.
#[derive(Debug, thiserror::Error)]
#[error("the run stored more than its disk limit ({limit} bytes), or more files than can be counted")]
pub struct DiskQuotaExceeded {
    pub limit: u64,
}

pub struct Watch {
    pub deadline: Instant,
    pub disk_bytes: u64,
    private: PathBuf,
    /// The writable workspace and its size when the call began.
    workspace: Option<(PathBuf, u64)>,
    /// The disk is measured at most this often (a walk costs the guest's own time).
    next_measure: Instant,
}

/// Walking more entries than this is itself refused: a guest could otherwise make every check
/// slow with a million empty files.
const MAX_ENTRIES: usize = 200_000;
const MEASURE_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

impl Watch {
    pub fn new(private: &Path) -> Self {
        Self { deadline: Instant::now(), disk_bytes: u64::MAX, private: private.to_owned(), workspace: None, next_measure: Instant::now() }
    }

    /// Re-armed before each call.
    pub fn arm(&mut self, deadline: Instant, disk_bytes: u64, writable_workspace: Option<&Path>) {
        self.deadline = deadline;
        self.disk_bytes = disk_bytes;
        self.workspace = writable_workspace.map(|w| (w.to_owned(), tree_size(w).unwrap_or(u64::MAX)));
        self.next_measure = Instant::now();
    }

    /// Bytes stored so far: all of `/tmp`, and what `/work` grew by; `None` when there are too
    /// many files to count (which fails the check).
    pub fn stored(&self) -> Option<u64> {
        let added = match &self.workspace {
            Some((w, before)) => tree_size(w)?.saturating_sub(*before),
            None => 0,
        };
        Some(tree_size(&self.private)?.saturating_add(added))
    }

    /// `Err` stops the guest: an interrupt (its deadline) or [`DiskQuotaExceeded`].
    pub fn check(&mut self) -> wasmtime::Result<()> {
        let now = Instant::now();
        if now >= self.deadline {
            return Err(wasmtime::Trap::Interrupt.into());
        }
        if now >= self.next_measure {
            self.next_measure = now + MEASURE_EVERY;
            if self.stored().is_none_or(|used| used > self.disk_bytes) {
                return Err(DiskQuotaExceeded { limit: self.disk_bytes }.into());
            }
        }
        Ok(())
    }
}

/// The apparent size of every file under `dir` (links are not followed; a sparse file counts
/// in full, which errs on the strict side); `None` past [`MAX_ENTRIES`].
pub fn tree_size(dir: &Path) -> Option<u64> {
    let mut budget = MAX_ENTRIES;
    walk(dir, &mut budget)
}

fn walk(dir: &Path, budget: &mut usize) -> Option<u64> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Some(0) };
    let mut total = 0u64;
    for e in entries.flatten() {
        *budget = budget.checked_sub(1)?;
        total = total.saturating_add(match e.metadata() {
            Ok(m) if m.is_dir() => walk(&e.path(), budget)?,
            Ok(m) => m.len(),
            Err(_) => 0,
        });
    }
    Some(total)
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
        assert_eq!(w.stored(), Some(7000));
        assert!(w.check().is_ok());
        std::fs::write(tmp.path().join("b"), vec![0u8; 4000]).unwrap();
        w.next_measure = Instant::now();
        let e = w.check().unwrap_err();
        assert!(e.downcast_ref::<DiskQuotaExceeded>().is_some(), "{e}");
        w.arm(Instant::now(), u64::MAX, None);
        assert!(matches!(w.check().unwrap_err().downcast_ref::<wasmtime::Trap>(), Some(wasmtime::Trap::Interrupt)));
    }
}
