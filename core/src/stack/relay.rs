use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use sotto_relay_config::NGINX_RELAY_TEMPLATE;

use sotto_enclave_protocol::opengradient::{RELAY_ATTESTATION_PATH, RELAY_CHAT_PATH};

use super::keeper::Keeper;
use super::{Flavor, StackError};

/// Debian's nginx, or one on the PATH.
pub fn nginx_binary() -> Result<PathBuf, StackError> {
    if let Some(p) = std::env::var_os("SOTTO_NGINX_BIN") {
        return Ok(PathBuf::from(p));
    }
    let mut candidates = vec![PathBuf::from("/usr/sbin/nginx")];
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("nginx")));
    }
    candidates.into_iter().find(|p| p.is_file()).ok_or(StackError::Missing {
        what: "nginx (the OHTTP relay)",
        hint: "run scripts/setup, or apt-get install nginx-light".into(),
    })
}

/// Fills in the relay template (kept in `relay-config/nginx/relay.conf.template`).
pub fn render_relay_config(prefix: &Path, listen: &str, gateway: &str) -> String {
    render_for(Flavor::Sotto, prefix, listen, gateway)
}

/// The relay for a flavour: Sotto's paths, or OpenGradient's relay paths mapped to its
/// gateway's.
/// `gateway` may list several replicas, separated by commas: nginx balances across them (round
/// robin) and moves on to the next when one cannot be reached.
pub fn render_for(flavor: Flavor, prefix: &Path, listen: &str, gateway: &str) -> String {
    let servers = gateway.split(',').map(str::trim).filter(|g| !g.is_empty()).collect::<Vec<_>>().join(";\n        server ");
    let (public, upstream, public_att, upstream_att) = match flavor {
        Flavor::Sotto => ("/gateway", "/gateway", "/attestation", "/attestation"),
        Flavor::OpenGradient => (RELAY_CHAT_PATH, "/v1/ohttp", RELAY_ATTESTATION_PATH, "/enclave/attestation"),
    };
    NGINX_RELAY_TEMPLATE
        .replace("@PREFIX@", &prefix.to_string_lossy())
        .replace("@LISTEN@", listen)
        .replace("@GATEWAY@", &servers)
        .replace("@UPSTREAM_GATEWAY_PATH@", upstream)
        .replace("@UPSTREAM_ATTESTATION_PATH@", upstream_att)
        .replace("@GATEWAY_PATH@", public)
        .replace("@ATTESTATION_PATH@", public_att)
        .replace("@BIND@", "127.0.0.1")
}

pub(super) fn spawn(keeper: &Keeper, prefix: &Path, listen: &str, gateway: &str, flavor: Flavor) -> Result<Child, StackError> {
    let files = |source| StackError::Files { dir: prefix.to_owned(), source };
    std::fs::create_dir_all(prefix).map_err(files)?;
    let conf = prefix.join("relay.conf");
    std::fs::write(&conf, render_for(flavor, prefix, listen, gateway)).map_err(files)?;
    let nginx = nginx_binary()?;
    let mut command = Command::new(nginx);
    command
        .arg("-p")
        .arg(prefix)
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(prefix.join("error.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    keeper
        .spawn(command)
        .map_err(|source| StackError::Spawn { what: "the nginx relay", source })
}

/// nginx finishes in-flight requests and exits on SIGQUIT.
pub(super) fn stop(child: &mut Child) {
    let _ = Command::new("kill").args(["-QUIT", &child.id().to_string()]).status();
    for _ in 0..50 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
