use std::path::PathBuf;

/// Why the store could not do what was asked, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("wrong passphrase for Sotto's history")]
    WrongPassphrase,
    #[error("{0}")]
    WeakPassphrase(String),
    #[error("{0}")]
    Busy(String),
    #[error("Sotto's history is locked with a passphrase; set SOTTO_PASSPHRASE or enter it when asked")]
    PassphraseNeeded,
    #[error("no system keyring is available ({0})")]
    KeyringUnavailable(String),
    #[error("nothing can protect a new history here: there is no system keyring and no passphrase (set SOTTO_PASSPHRASE, or run in a terminal to choose one)")]
    NoKeyAvailable,
    #[error("the key to Sotto's history is missing from the system keyring ({0}); without it the history cannot be opened")]
    KeyringKeyMissing(String),
    #[error("{path} was changed outside Sotto or is damaged, so it is not shown: {detail}")]
    Tampered { path: PathBuf, detail: String },
    #[error("the key file {path} is not usable: {problem}")]
    KeyFile { path: PathBuf, problem: String },
    #[error("there is no history yet at {0}")]
    NoStore(PathBuf),
    #[error("no conversation matches `{0}`")]
    NoConversation(String),
    #[error("that message is no longer in the conversation ({0})")]
    NoMessage(String),
    #[error("`{0}` matches more than one conversation; give more of its id")]
    AmbiguousConversation(String),
    #[error("no memory matches `{0}`")]
    NoMemory(String),
    #[error("there is no project named `{0}`")]
    NoProject(String),
    #[error("that file is no longer in the project")]
    NoProjectFile(String),
    #[error("a project named `{0}` exists already")]
    ProjectExists(String),
    #[error("no image in the gallery matches `{0}`")]
    NoImage(String),
    #[error("`{0}` matches more than one image; give more of its id")]
    AmbiguousImage(String),
    #[error("type some words to search for")]
    EmptySearch,
    #[error("{0} is not a Sotto archive, or the passphrase is wrong")]
    ArchiveUnreadable(PathBuf),
    #[error("{0} already exists; choose another name (nothing was overwritten)")]
    AlreadyExists(PathBuf),
    #[error("this history was written by a newer Sotto (schema {found}; this build knows up to {known})")]
    TooNew { found: usize, known: usize },
    #[error("{0}")]
    Unsupported(String),
    #[error("could not {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the disk holding your history ({path}) is full: this was not saved, and nothing saved before is lost; free some space and try again")]
    DiskFull { path: PathBuf },
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
}

impl StoreError {
    pub(crate) fn io<'a>(action: &'static str, path: &'a std::path::Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
        move |source| StoreError::Io { action, path: path.to_owned(), source }
    }

    /// SQLCipher reports a failed page authentication (HMAC) or a wrong key as "not a database" or
    /// "malformed"; both mean the bytes on disk are not what Sotto wrote with this key.
    pub(crate) fn from_sqlite(path: &std::path::Path, e: rusqlite::Error) -> StoreError {
        use rusqlite::ffi::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => StoreError::Tampered {
                path: path.to_owned(),
                detail: "a page failed its integrity check".into(),
            },
            Some(ErrorCode::DiskFull) => StoreError::DiskFull { path: path.to_owned() },
            _ => StoreError::Database(e),
        }
    }
}
