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

pub(super) fn spawn(keeper: &Keeper, dir: &Path, settings: &Settings, (backend, images, search): (&str, &str, &str), flavor: Flavor) -> Result<Child, StackError> {
    let log_path = dir.join("gateway.log");
    let log = std::fs::File::create(&log_path).map_err(|source| StackError::Files { dir: dir.to_owned(), source })?;
    let err = log.try_clone().map_err(|source| StackError::Files { dir: dir.to_owned(), source })?;
    let mut command = Command::new(gateway_binary()?);
    command
        .args(["--listen", &settings.gateway_listen, "--admin-listen", &settings.admin_listen])
        .arg("--state-dir")
        .arg(dir)
        .args(["--backend", backend, "--images", images, "--search", search]);
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
