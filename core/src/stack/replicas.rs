//! The gateway processes behind the relay: one gateway with its own keys, or `n` replicas that
//! a key keeper released shared keys to after checking each one's attestation (see the gateway's
//! `key_release`). Replica `k` keeps its files in `replicas/k/` (log, root, measurements, and
//! `process.json` with its pid and addresses); the stack folder gets what a client trusts: every
//! replica's development root in `dev-root.pem`, and their common measurements.

use std::path::Path;
use std::process::Child;
use std::time::Duration;

use sotto_relay_config::LocalStack as Settings;

use super::gateway::{self, Placement};
use super::keeper::Keeper;
use super::{wait_for_port, Flavor, StackError};

/// The largest replica count a development stack runs.
pub const MAX_REPLICAS: usize = 8;

pub(super) struct GatewaySet {
    pub gateways: Vec<Child>,
    pub key_keeper: Option<Child>,
    /// Where each gateway listens (for the relay's upstream).
    pub listens: Vec<String>,
}

impl GatewaySet {
    pub fn kill(&mut self) {
        for c in self.gateways.iter_mut().chain(self.key_keeper.iter_mut()) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

type Specs<'a> = (&'a str, &'a str, &'a str);

/// One gateway with its own keys, on the profile's ports, its files in the stack folder.
pub(super) fn single(keeper: &Keeper, dir: &Path, settings: &Settings, specs: Specs, flavor: Flavor) -> Result<GatewaySet, StackError> {
    let at = Placement { listen: &settings.gateway_listen, admin: &settings.admin_listen, dir, key_source: None };
    let mut child = gateway::spawn(keeper, &at, settings, specs, flavor)?;
    // The embedded model loads in a few seconds; a cold disk may take longer.
    if let Err(e) = wait_for_port("the enclave gateway", &settings.admin_listen, &mut child, &dir.join("gateway.log"), Duration::from_secs(120)) {
        let _ = child.kill();
        return Err(e);
    }
    Ok(GatewaySet { gateways: vec![child], key_keeper: None, listens: vec![settings.gateway_listen.clone()] })
}

/// The keeper's public key, which it writes once it is listening (waited for a little: the
/// port may answer a moment before the file is there).
fn keeper_public_key(root: &Path) -> std::io::Result<String> {
    let file = root.join("key-keeper.pub");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match std::fs::read_to_string(&file) {
            Ok(k) => return Ok(k.trim().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(e),
        }
    }
}

/// The replicas' folder, readable by this user only: the keeper trusts the roots written in it.
fn private_folder(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn free_port() -> Result<String, StackError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|source| StackError::Spawn { what: "a replica (no free port)", source })?;
    let addr = l.local_addr().map_err(|source| StackError::Spawn { what: "a replica (no free port)", source })?;
    Ok(addr.to_string())
}

/// The key keeper, then `n` replicas one after another (the first one's measurements become the
/// keeper's policy); replica 0 takes the profile's ports.
pub(super) fn start(keeper: &Keeper, dir: &Path, settings: &Settings, specs: Specs, flavor: Flavor, n: usize) -> Result<GatewaySet, StackError> {
    let n = n.min(MAX_REPLICAS);
    let root = dir.join("replicas");
    let _ = std::fs::remove_dir_all(&root);
    private_folder(&root).map_err(|source| StackError::Files { dir: root.clone(), source })?;
    let keeper_addr = free_port()?;
    let mut set = GatewaySet { gateways: Vec::new(), key_keeper: None, listens: Vec::new() };
    let mut key_keeper = gateway::spawn_key_keeper(keeper, &keeper_addr, &root)?;
    if let Err(e) = wait_for_port("the key keeper", &keeper_addr, &mut key_keeper, &root.join("key-keeper.log"), Duration::from_secs(20)) {
        let _ = key_keeper.kill();
        return Err(e);
    }
    set.key_keeper = Some(key_keeper);
    let source = format!("http://{keeper_addr}");
    // Replicas take keys signed by this keeper only (whoever else answered at its address).
    let keeper_key = match keeper_public_key(&root) {
        Ok(k) => k,
        Err(source) => {
            set.kill();
            return Err(StackError::Files { dir: root.clone(), source });
        }
    };
    for k in 0..n {
        let (listen, admin) = if k == 0 { (settings.gateway_listen.clone(), settings.admin_listen.clone()) } else { (free_port()?, free_port()?) };
        let replica_dir = root.join(k.to_string());
        let at = Placement { listen: &listen, admin: &admin, dir: &replica_dir, key_source: Some((&source, &keeper_key)) };
        let started = gateway::spawn(keeper, &at, settings, specs, flavor).and_then(|mut child| {
            match wait_for_port("a gateway replica", &admin, &mut child, &replica_dir.join("gateway.log"), Duration::from_secs(120)) {
                Ok(()) => Ok(child),
                Err(e) => {
                    let _ = child.kill();
                    Err(e)
                }
            }
        });
        let child = match started {
            Ok(c) => c,
            Err(e) => {
                set.kill();
                return Err(e);
            }
        };
        let record = serde_json::json!({"pid": child.id(), "listen": listen, "admin": admin});
        let _ = std::fs::write(replica_dir.join("process.json"), record.to_string());
        set.gateways.push(child);
        set.listens.push(listen);
    }
    if let Err(e) = publish(dir, &root, n) {
        set.kill();
        return Err(e);
    }
    Ok(set)
}

/// What a client of the stack trusts: every replica's root (one PEM file, several
/// certificates) and the measurements they all share.
fn publish(dir: &Path, root: &Path, n: usize) -> Result<(), StackError> {
    let files = |source| StackError::Files { dir: dir.to_owned(), source };
    let mut roots = String::new();
    let mut measurements: Option<String> = None;
    for k in 0..n {
        let replica = root.join(k.to_string());
        roots.push_str(&std::fs::read_to_string(replica.join("dev-root.pem")).map_err(files)?);
        let m = std::fs::read_to_string(replica.join("measurements.json")).map_err(files)?;
        match &measurements {
            Some(first) if *first != m => return Err(StackError::ReplicasDiffer(format!("replica {k}'s measurements are not replica 0's"))),
            Some(_) => {}
            None => measurements = Some(m),
        }
    }
    let write = |name: &str, text: &str| -> Result<(), StackError> {
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).map_err(files)?;
        std::fs::rename(&tmp, dir.join(name)).map_err(files)
    };
    write("dev-root.pem", &roots)?;
    write("measurements.json", measurements.as_deref().unwrap_or_default())?;
    let models = std::fs::read_to_string(root.join("0").join("models.json")).map_err(files)?;
    write("models.json", &models)
}
