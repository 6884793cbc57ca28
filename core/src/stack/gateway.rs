use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use sotto_relay_config::LocalStack as Settings;

use super::keeper::Keeper;
use super::{Flavor, StackError};

/// The `sotto-gateway` executable: `$SOTTO_GATEWAY_BIN`, else beside the running program.
pub fn gateway_binary() -> Result<PathBuf, StackError> {
    if let Some(p) = std::env::var_os("SOTTO_GATEWAY_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|source| StackError::Spawn { what: "the enclave gateway", source })?;
    let mut dirs = vec![];
    if let Some(dir) = exe.parent() {
        dirs.push(dir.to_path_buf());
        // Test binaries live in target/<profile>/deps.
        if let Some(up) = dir.parent() {
            dirs.push(up.to_path_buf());
        }
    }
    dirs.into_iter()
        .map(|d| d.join("sotto-gateway"))
        .find(|p| p.is_file())
        .ok_or(StackError::Missing {
            what: "the enclave gateway (sotto-gateway)",
            hint: "build it with `cargo build --workspace` or set SOTTO_GATEWAY_BIN".into(),
        })
}

/// Where one gateway process listens and keeps its files.
pub(super) struct Placement<'a> {
    pub listen: &'a str,
    pub admin: &'a str,
    pub dir: &'a Path,
    /// A replica's key keeper: its address and public key (hex).
    pub key_source: Option<(&'a str, &'a str)>,
}

pub(super) fn spawn(keeper: &Keeper, at: &Placement, settings: &Settings, (backend, images, search): (&str, &str, &str), flavor: Flavor) -> Result<Child, StackError> {
    let dir = at.dir;
    std::fs::create_dir_all(dir).map_err(|source| StackError::Files { dir: dir.to_owned(), source })?;
    let log_path = dir.join("gateway.log");
    let log = std::fs::File::create(&log_path).map_err(|source| StackError::Files { dir: dir.to_owned(), source })?;
    let err = log.try_clone().map_err(|source| StackError::Files { dir: dir.to_owned(), source })?;
    let mut command = Command::new(gateway_binary()?);
    command
        .args(["--listen", at.listen, "--admin-listen", at.admin])
        .arg("--state-dir")
        .arg(dir)
        .args(["--backend", backend, "--images", images, "--search", search]);
    if let Some((source, keeper_key)) = at.key_source {
        command.args(["--key-source", source, "--keeper-key", keeper_key]);
    }
    if flavor == Flavor::OpenGradient {
        command.args(["--wire", "opengradient", "--registry-listen", &settings.registry_listen]);
    }
    command
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err);
    keeper
        .spawn(command)
        .map_err(|source| StackError::Spawn { what: "the enclave gateway", source })
}

/// The key keeper for replicas, listening on `listen`; it trusts the roots below `dir`.
pub(super) fn spawn_key_keeper(keeper: &Keeper, listen: &str, dir: &Path) -> Result<Child, StackError> {
    let files = |source| StackError::Files { dir: dir.to_owned(), source };
    std::fs::create_dir_all(dir).map_err(files)?;
    let log = std::fs::File::create(dir.join("key-keeper.log")).map_err(files)?;
    let err = log.try_clone().map_err(files)?;
    let mut command = Command::new(gateway_binary()?);
    command.args(["--key-keeper", "--listen", listen]).arg("--state-dir").arg(dir).stdin(Stdio::null()).stdout(log).stderr(err);
    keeper.spawn(command).map_err(|source| StackError::Spawn { what: "the key keeper", source })
}
