//! What a run changed in the workspace. Host code never follows links inside the workspace: the
//! guest can create a symlink there that points anywhere.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

/// Every entry under a folder: relative path → (size, modified).
pub struct Snapshot(BTreeMap<String, (u64, Option<SystemTime>)>);

impl Snapshot {
    pub fn take(root: &Path) -> Snapshot {
        let mut entries = BTreeMap::new();
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            let Ok(list) = std::fs::read_dir(&dir) else { continue };
            for entry in list.flatten() {
                let path = entry.path();
                // `symlink_metadata`: a link is recorded as itself, never followed.
                let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
                if meta.is_dir() {
                    pending.push(path);
                    continue;
                }
                if let Ok(rel) = path.strip_prefix(root) {
                    entries.insert(rel.to_string_lossy().into_owned(), (meta.len(), meta.modified().ok()));
                }
            }
        }
        Snapshot(entries)
    }

    /// Paths that are new or different in `after`.
    pub fn changed(&self, after: &Snapshot) -> Vec<String> {
        after.0.iter().filter(|(path, now)| self.0.get(*path) != Some(now)).map(|(path, _)| path.clone()).collect()
    }
}

/// The workspace as an absolute, link-free path, or why it cannot be used.
pub fn check(path: &Path) -> Result<std::path::PathBuf, crate::SandboxError> {
    let problem = |problem: String| crate::SandboxError::Workspace { path: path.to_owned(), problem };
    let meta = std::fs::metadata(path).map_err(|e| problem(e.to_string()))?;
    if !meta.is_dir() {
        return Err(problem("not a folder".into()));
    }
    let real = std::fs::canonicalize(path).map_err(|e| problem(e.to_string()))?;
    // Sotto's own folders (the history, the compiled sandbox, the model) are never a workspace,
    // nor is a folder that contains them: a guest could replace what Sotto later runs or reads.
    for own in [sotto_relay_config::sotto_home(), sotto_relay_config::sotto_cache()] {
        let own = std::fs::canonicalize(&own).unwrap_or(own);
        if real.starts_with(&own) || own.starts_with(&real) {
            return Err(problem(format!("it holds (or is inside) Sotto's own data at {}; choose a folder of your own", own.display())));
        }
    }
    Ok(real)
}
