//! The local stack: the development enclave gateway and an nginx OHTTP relay in front of it,
//! as real processes. `sotto stack up` and the desktop app's first run use this.

mod gateway;
mod keeper;
mod relay;
mod replicas;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use keeper::Keeper;

pub use gateway::gateway_binary;
pub use relay::{nginx_binary, render_relay_config};

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("{0}")]
    Profile(#[from] sotto_relay_config::ProfileError),
    #[error("{what} is not installed ({hint})")]
    Missing { what: &'static str, hint: String },
    #[error("cannot start {what}: {source}")]
    Spawn { what: &'static str, source: std::io::Error },
    #[error("{what} exited during start-up: {log}")]
    Exited { what: &'static str, log: String },
    #[error("{what} did not answer on {addr} within {secs} s")]
    Timeout { what: &'static str, addr: String, secs: u64 },
    #[error("cannot write the stack's files in {dir}: {source}")]
    Files { dir: PathBuf, source: std::io::Error },
    #[error("the profile's relay URL {0} has no host and port to listen on")]
    RelayAddress(String),
    #[error("{addr} is already in use: is a stack already running? (stop it, or use a profile with other ports)")]
    PortInUse { addr: String },
    #[error("the replicas do not measure alike ({0}); they must run the same build and configuration")]
    ReplicasDiffer(String),
}

/// Which network the stack imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavor {
    /// Sotto's development enclave behind its relay.
    #[default]
    Sotto,
    /// OpenGradient's network offline: the gateway in its wire format, its relay's paths, and a
    /// stand-in for its on-chain registry.
    OpenGradient,
}

/// What to start.
pub struct StackOptions {
    pub flavor: Flavor,
    pub profile: Option<PathBuf>,
    /// `embedded`, `scripted:FILE` or `openai:URL`.
    pub backend: String,
    /// Image generation: `demo`, `off` or `openai:URL`.
    pub images: String,
    /// Web search: `standin` (a local corpus, not the web), `off` or `brave:URL`.
    pub search: String,
    /// How many gateway processes serve behind the relay (1: one gateway with its own keys;
    /// more: replicas released shared keys by a key keeper).
    pub replicas: usize,
    /// Folder for the root, measurements, relay configuration and logs.
    pub dir: PathBuf,
}

/// A running stack; dropping it stops both processes, and they end with this process however it
/// ends (see `keeper`).
pub struct LocalStack {
    pub relay_url: String,
    pub gateway_addr: String,
    pub admin_addr: String,
    pub dir: PathBuf,
    /// The registry stand-in's JSON-RPC URL (OpenGradient flavour).
    pub registry_url: Option<String>,
    /// A profile for this stack, written at start (OpenGradient flavour).
    pub profile_file: Option<PathBuf>,
    gateways: Vec<Child>,
    /// With replicas: the key keeper.
    key_keeper: Option<Child>,
    relay: Child,
    /// Dropped after `stop` (fields drop after `Drop::drop`).
    _keeper: Keeper,
}

impl LocalStack {
    /// The process ids of the gateways (replicas) and of the relay's master process (load
    /// figures read their memory; fault tests stop one).
    pub fn process_ids(&self) -> (Vec<u32>, u32) {
        (self.gateways.iter().map(Child::id).collect(), self.relay.id())
    }

    /// Starts the gateway, waits until it answers, then the relay, and waits for that too.
    pub fn start(options: &StackOptions) -> Result<Self, StackError> {
        let (profile, settings) = crate::profiles::local_stack_settings(options.profile.as_deref())?;
        // A validated profile has at least one relay.
        let relay_url = profile.relays.first().map(|r| r.url.to_string()).unwrap_or_default();
        let relay_listen = host_port(&relay_url)?;
        let mut ports = vec![&relay_listen, &settings.gateway_listen, &settings.admin_listen];
        if options.flavor == Flavor::OpenGradient {
            ports.push(&settings.registry_listen);
        }
        for addr in ports {
            ensure_free(addr)?;
        }
        std::fs::create_dir_all(&options.dir).map_err(|source| StackError::Files { dir: options.dir.clone(), source })?;

        let keeper = Keeper::new().map_err(|source| StackError::Spawn { what: "the stack's keeper thread", source })?;
        let specs = (options.backend.as_str(), options.images.as_str(), options.search.as_str());
        let mut set = if options.replicas > 1 {
            replicas::start(&keeper, &options.dir, &settings, specs, options.flavor, options.replicas)?
        } else {
            replicas::single(&keeper, &options.dir, &settings, specs, options.flavor)?
        };
        let relay_dir = options.dir.join("relay");
        let mut relay = match relay::spawn(&keeper, &relay_dir, &relay_listen, &set.listens.join(","), options.flavor) {
            Ok(r) => r,
            Err(e) => {
                set.kill();
                return Err(e);
            }
        };
        if let Err(e) = wait_for_port("the nginx relay", &relay_listen, &mut relay, &relay_dir.join("error.log"), Duration::from_secs(20)) {
            set.kill();
            let _ = relay.kill();
            return Err(e);
        }
        let relay_url = relay_url.trim_end_matches('/').to_string();
        let (registry_url, profile_file) = match options.flavor {
            Flavor::Sotto => (None, None),
            Flavor::OpenGradient => {
                let registry = format!("http://{}", settings.registry_listen);
                match write_opengradient_profile(&options.dir, &relay_url, &registry) {
                    Ok(file) => (Some(registry), Some(file)),
                    Err(source) => {
                        set.kill();
                        relay::stop(&mut relay);
                        return Err(StackError::Files { dir: options.dir.clone(), source });
                    }
                }
            }
        };
        Ok(Self {
            registry_url,
            profile_file,
            relay_url,
            gateway_addr: settings.gateway_listen,
            admin_addr: settings.admin_listen,
            dir: options.dir.clone(),
            gateways: set.gateways,
            key_keeper: set.key_keeper,
            relay,
            _keeper: keeper,
        })
    }

    /// Stops both processes (nginx gracefully, so it removes its pid file).
    pub fn stop(&mut self) {
        relay::stop(&mut self.relay);
        for g in self.gateways.iter_mut().chain(self.key_keeper.iter_mut()) {
            let _ = g.kill();
            let _ = g.wait();
        }
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The profile of the offline OpenGradient network, in the schema of `relay-config/opengradient.toml`.
fn write_opengradient_profile(dir: &Path, relay: &str, registry: &str) -> std::io::Result<PathBuf> {
    let file = dir.join("opengradient-local.toml");
    // The model the gateway serves, as it published it.
    let served: Vec<String> = std::fs::read(dir.join("models.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let model = served.first().map(|m| format!("model = {}\n", serde_json::Value::String(m.clone()))).unwrap_or_default();
    let text = format!(
        "# OpenGradient's network offline (`sotto stack up --flavor opengradient`): Sotto's gateway in\n\
         # OpenGradient's wire format, nginx as its relay, and a STAND-IN for the on-chain registry.\n\
         name = \"opengradient-local\"\n\
         description = \"OpenGradient wire, offline stand-in network (development root, not hardware-protected)\"\n\n\
         [[relays]]\nurl = \"{relay}\"\n\n\
         [opengradient]\nrpc_url = \"{registry}\"\n\
         registry_address = \"0x00000000000000000000000000000000005107d1\"\n\
         tee_type = 0\n\
         attestation_roots = [\"{}\"]\n{model}",
        dir.join("dev-root.pem").display()
    );
    let tmp = dir.join(".opengradient-local.toml.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &file)?;
    Ok(file)
}

/// Something already answering on a port would be mistaken for the new process.
fn ensure_free(addr: &str) -> Result<(), StackError> {
    match std::net::TcpListener::bind(addr) {
        Ok(_) => Ok(()),
        Err(_) => Err(StackError::PortInUse { addr: addr.to_string() }),
    }
}

fn host_port(url: &str) -> Result<String, StackError> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let hp = rest.split('/').next().unwrap_or_default();
    if hp.contains(':') {
        Ok(hp.to_string())
    } else {
        Err(StackError::RelayAddress(url.to_string()))
    }
}

pub(super) fn wait_for_port(what: &'static str, addr: &str, child: &mut Child, log: &Path, limit: Duration) -> Result<(), StackError> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(_)) = child.try_wait() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).rev().take(3).collect();
            let tail = tail.into_iter().rev().map(|l| l.trim_start_matches("error: ")).collect::<Vec<_>>().join(" | ");
            return Err(StackError::Exited { what, log: tail });
        }
        if std::net::TcpStream::connect(addr).is_ok() {
            // Something answers; make sure it is ours and it stayed up (a process that failed
            // to bind exits within moments, while another one answers on its port).
            std::thread::sleep(Duration::from_millis(150));
            if let Ok(None) = child.try_wait() {
                return Ok(());
            }
            continue;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(StackError::Timeout { what, addr: addr.to_string(), secs: limit.as_secs() })
}
