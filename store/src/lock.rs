//! Who may use a store's folder at once. Every open connection holds a shared lock on
//! `dir/lock`; a passphrase change, which replaces the database file, holds it alone. So a
//! change never runs while anything (another window, the CLI, a streaming reply) has the history
//! open, and nothing opens it halfway through a change. (OS advisory locks: `flock` on Unix.)

use std::fs::{File, TryLockError};
use std::path::Path;

use crate::StoreError;

pub(crate) struct FolderLock {
    _file: File,
}

impl FolderLock {
    fn file(dir: &Path) -> Result<File, StoreError> {
        let path = dir.join("lock");
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(StoreError::io("open", &path))
    }

    /// For a connection: fails only while a passphrase change has the folder.
    pub fn shared(dir: &Path) -> Result<Self, StoreError> {
        Self::take(dir, File::try_lock_shared, "the history is being re-encrypted after a passphrase change; try again in a moment")
    }

    /// For a passphrase change (or finishing one): fails while any connection is open.
    pub fn exclusive(dir: &Path) -> Result<Self, StoreError> {
        Self::take(dir, File::try_lock, "another connection to the history is open; close it and try again (nothing was changed)")
    }

    fn take(dir: &Path, lock: fn(&File) -> Result<(), TryLockError>, busy: &str) -> Result<Self, StoreError> {
        let file = Self::file(dir)?;
        match lock(&file) {
            Ok(()) => Ok(Self { _file: file }),
            Err(TryLockError::WouldBlock) => Err(StoreError::Busy(busy.into())),
            Err(TryLockError::Error(e)) => Err(StoreError::io("lock", &dir.join("lock"))(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FolderLock;

    #[test]
    fn readers_share_and_a_change_waits_for_all_of_them() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (FolderLock::shared(dir.path()).unwrap(), FolderLock::shared(dir.path()).unwrap());
        assert!(FolderLock::exclusive(dir.path()).is_err());
        drop((a, b));
        let x = FolderLock::exclusive(dir.path()).unwrap();
        assert!(FolderLock::shared(dir.path()).is_err(), "nothing opens during a change");
        drop(x);
        assert!(FolderLock::shared(dir.path()).is_ok());
    }
}
