use std::path::{Path, PathBuf};

/// Where Sotto keeps its state: `$SOTTO_HOME` when set (tests and scripts), else the OS data
/// folder (`~/.local/share/sotto` on Linux).
pub fn sotto_home() -> PathBuf {
    match std::env::var_os("SOTTO_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => dirs::data_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("sotto"),
    }
}

/// Where downloaded artifacts and build outputs are cached (`scripts/setup` fills it):
/// `$SOTTO_CACHE` when set, else `~/.cache/sotto`.
pub fn sotto_cache() -> PathBuf {
    match std::env::var_os("SOTTO_CACHE") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => dirs::cache_dir().unwrap_or_else(|| PathBuf::from(".")).join("sotto"),
    }
}

/// Where `sotto stack up` writes the development root, measurements and relay state.
pub fn stack_dir() -> PathBuf {
    sotto_home().join("stack")
}

/// Expands `${SOTTO_HOME}` and makes a relative path relative to `base` (the profile's folder).
pub fn expand_home(raw: &str, base: &Path) -> PathBuf {
    let home = sotto_home();
    let expanded = raw.replace("${SOTTO_HOME}", &home.to_string_lossy());
    let path = PathBuf::from(expanded);
    if path.is_absolute() {
        path
    } else {
        base.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_resolve_against_the_profile_folder() {
        let p = expand_home("roots/dev.pem", Path::new("/etc/sotto"));
        assert_eq!(p, PathBuf::from("/etc/sotto/roots/dev.pem"));
        let abs = expand_home("/x/y.pem", Path::new("/etc/sotto"));
        assert_eq!(abs, PathBuf::from("/x/y.pem"));
    }
}
