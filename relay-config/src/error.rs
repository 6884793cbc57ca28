use std::path::PathBuf;

/// Why a profile could not be used. Each message names the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read profile {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("profile {path} is not valid TOML or has an unknown field: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("profile {path}: {field}: {problem}")]
    Invalid {
        path: PathBuf,
        field: String,
        problem: String,
    },
    #[error("measurements file {path}: {problem}")]
    Measurements { path: PathBuf, problem: String },
    #[error("trust root {path} cannot be read ({source}); if this is the local profile, start the stack with `sotto stack up`")]
    TrustRoot {
        path: PathBuf,
        source: std::io::Error,
    },
}
