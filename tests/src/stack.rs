use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

/// Where cargo put the workspace's binaries (tests run from target/<profile>/deps).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("deps folder");
    deps.parent().expect("profile folder").to_path_buf()
}

/// Three distinct free ports: all are held while they are chosen, so none repeats.
pub fn free_ports() -> (u16, u16, u16) {
    let bind = || std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let held = [bind(), bind(), bind()];
    let port = |i: usize| held[i].local_addr().expect("bound address").port();
    (port(0), port(1), port(2))
}

/// What to start.
pub struct StackSpec {
    /// Scripted back-end replies (the `replies` array of a script).
    pub replies: Value,
    /// The profile's stall timeout.
    pub stall_s: u64,
    /// Another back-end instead of the script (e.g. `openai:URL`).
    pub backend: Option<String>,
    /// `--flavor opengradient`: OpenGradient's wire, relay paths and a registry stand-in.
    pub opengradient: bool,
    /// `--images`: `demo` unless set (`off`, `openai:URL`).
    pub images: Option<String>,
    /// `--search`: `standin` unless set (`off`, `brave:URL`).
    pub search: Option<String>,
    /// `--replicas N`: gateway replicas behind the relay.
    pub replicas: Option<usize>,
    /// Environment for the stack's processes (e.g. `SOTTO_IMAGES_TIMEOUT_S`).
    pub env: Vec<(String, String)>,
    /// The scripted model says it reads images.
    pub accepts_images: bool,
}

impl Default for StackSpec {
    fn default() -> Self {
        Self {
            replies: serde_json::json!([{"chunks": [{"text": "Hello"}, {"text": ", private"}, {"text": " world."}]}]),
            stall_s: 30,
            backend: None,
            opengradient: false,
            images: None,
            search: None,
            replicas: None,
            env: Vec::new(),
            accepts_images: false,
        }
    }
}

/// A running local stack under its own `$SOTTO_HOME`.
pub struct Stack {
    pub home: tempfile::TempDir,
    pub relay_url: String,
    pub admin_url: String,
    pub profile: PathBuf,
    /// With the OpenGradient flavour: the profile `stack up` printed, and its registry.
    pub og_profile: Option<PathBuf>,
    pub registry_url: Option<String>,
    child: Option<Child>,
    registry_port: u16,
    gateway_port: u16,
    admin_port: u16,
    relay_port: u16,
    stall_s: u64,
}

impl Stack {
    /// Starts `sotto stack up` on free ports. The ports are free when chosen but released before
    /// the stack binds them, so a test starting beside it may take one first: then the start is
    /// tried again on other ports.
    pub fn start(spec: StackSpec) -> Self {
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start(&spec) {
                Ok(stack) => return stack,
                Err(log) if log.contains("already in use") => last = log,
                Err(log) => panic!("sotto stack up failed: {log}"),
            }
        }
        panic!("sotto stack up found its ports taken three times: {last}")
    }

    fn try_start(spec: &StackSpec) -> Result<Self, String> {
        let home = tempfile::tempdir().expect("temp dir");
        let script = home.path().join("script.json");
        std::fs::write(&script, serde_json::json!({"model": "scripted", "replies": spec.replies, "accepts_images": spec.accepts_images}).to_string()).unwrap();
        // The fourth port is held while the other three are chosen, so none repeats.
        let registry = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let (relay_port, gateway_port, admin_port) = free_ports();
        let registry_port = registry.local_addr().expect("bound address").port();
        drop(registry);
        let mut stack = Self {
            og_profile: None,
            registry_url: None,
            registry_port,
            relay_url: format!("http://127.0.0.1:{relay_port}"),
            admin_url: format!("http://127.0.0.1:{admin_port}"),
            profile: home.path().join("profile.toml"),
            home,
            child: None,
            gateway_port,
            admin_port,
            relay_port,
            stall_s: spec.stall_s,
        };
        stack.write_profile(&stack.profile.clone(), &[stack.relay_url.clone()], None);
        let log = stack.home.path().join("stack-up.log");
        let mut child = Command::new(bin_dir().join("sotto"))
            .args(["stack", "up", "--profile"])
            .arg(&stack.profile)
            .arg("--backend")
            .arg(spec.backend.clone().unwrap_or_else(|| format!("scripted:{}", script.display())))
            .args(["--images", spec.images.as_deref().unwrap_or("demo")])
            .args(["--search", spec.search.as_deref().unwrap_or("standin")])
            .args(["--replicas", &spec.replicas.unwrap_or(1).to_string()])
            .args(["--flavor", if spec.opengradient { "opengradient" } else { "sotto" }])
            .env("SOTTO_HOME", stack.home.path())
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("sotto stack up");
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if !line.starts_with("relay: ") {
            let _ = child.wait();
            return Err(format!("printed {line:?}; log: {}", std::fs::read_to_string(&log).unwrap_or_default()));
        }
        if spec.opengradient {
            for _ in 0..2 {
                let mut more = String::new();
                reader.read_line(&mut more).unwrap();
                if let Some(url) = more.trim().strip_prefix("registry: ") {
                    stack.registry_url = Some(url.to_string());
                }
                if let Some(file) = more.trim().strip_prefix("profile: ") {
                    stack.og_profile = Some(PathBuf::from(file));
                }
            }
        }
        stack.child = Some(child);
        Ok(stack)
    }

    /// Kills `sotto stack up` with SIGKILL (no chance to stop anything itself).
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The gateway's and the admin port.
    pub fn gateway_ports(&self) -> (u16, u16) {
        (self.gateway_port, self.admin_port)
    }

    /// Writes a profile for this stack with the given relays and, optionally, another root.
    pub fn write_profile(&self, path: &Path, relays: &[String], trust_root: Option<&Path>) {
        let stack_dir = self.home.path().join("stack");
        let root = trust_root.map(Path::to_path_buf).unwrap_or_else(|| stack_dir.join("dev-root.pem"));
        let relays: String = relays.iter().map(|r| format!("[[relays]]\nurl = \"{r}\"\n")).collect();
        let text = format!(
            "name = \"test\"\n{relays}\n[enclave]\nkind = \"development\"\ntrust_roots = [\"{}\"]\nmeasurements_file = \"{}\"\nmax_document_age_s = 120\n\n[timeouts]\nconnect_s = 2\nfirst_byte_s = 20\nstall_s = {}\n\n[local_stack]\ngateway_listen = \"127.0.0.1:{}\"\nadmin_listen = \"127.0.0.1:{}\"\nregistry_listen = \"127.0.0.1:{}\"\n",
            root.display(),
            stack_dir.join("measurements.json").display(),
            self.stall_s,
            self.gateway_port,
            self.admin_port,
            self.registry_port,
        );
        std::fs::write(path, text).unwrap();
    }

    pub fn relay_port(&self) -> u16 {
        self.relay_port
    }

    /// Loads a profile file as the client would.
    pub fn load_profile(&self, path: &Path) -> sotto_relay_config::Profile {
        sotto_relay_config::Profile::load(path).expect("profile")
    }

    /// What the gateway has received so far.
    pub async fn observations(&self) -> Value {
        reqwest::get(format!("{}/admin/observations", self.admin_url)).await.unwrap().json().await.unwrap()
    }

    pub async fn chat_requests(&self) -> u64 {
        self.observations().await["chat_requests"].as_u64().unwrap()
    }

    /// The registry stand-in's record of the TEE, read as any client reads it (`eth_call`).
    pub async fn registered_tee(&self) -> sotto_enclave_protocol::opengradient::registry::RegisteredTee {
        use sotto_enclave_protocol::opengradient::registry::{decode_active_tees, get_active_tees_calldata};
        let data = format!("0x{}", hex(&get_active_tees_calldata(0)));
        let call = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "eth_call",
            "params": [{"to": "0x00000000000000000000000000000000005107d1", "data": data}, "latest"]});
        let url = self.registry_url.clone().expect("an OpenGradient stack");
        let answer: Value = reqwest::Client::new().post(url).json(&call).send().await.unwrap().json().await.unwrap();
        let result = answer["result"].as_str().unwrap().trim_start_matches("0x").to_string();
        let bytes: Vec<u8> = (0..result.len()).step_by(2).map(|i| u8::from_str_radix(&result[i..i + 2], 16).unwrap()).collect();
        decode_active_tees(&bytes).unwrap().remove(0)
    }

    /// Makes the registry stand-in stop listing the TEE.
    pub async fn leave_registry(&self) {
        let r = reqwest::Client::new().post(format!("{}/admin/registry/leave", self.admin_url)).send().await.unwrap();
        assert!(r.status().is_success());
    }

    pub async fn rotate_keys(&self) {
        let r = reqwest::Client::new().post(format!("{}/admin/rotate-keys", self.admin_url)).send().await.unwrap();
        assert!(r.status().is_success());
    }

    /// Runs the CLI against this stack.
    pub fn sotto(&self, args: &[&str]) -> Output {
        cli(self.home.path(), args)
    }
}

/// Runs `sotto ARGS` with `$SOTTO_HOME` set, no terminal, a timeout of a minute.
pub fn cli(home: &Path, args: &[&str]) -> Output {
    cli_with(home, args, &[])
}

/// `sotto ARGS` started with extra environment, without waiting. The system keyring is always
/// off: tests must never write to the keyring of the machine they run on.
pub fn spawn_cli(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(bin_dir().join("sotto"));
    cmd.args(args).env("SOTTO_HOME", home).env("SOTTO_KEYRING", "off").env_remove("SOTTO_PASSPHRASE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("sotto")
}

/// [`cli`] with extra environment.
pub fn cli_with(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut child = spawn_cli(home, args, env);
    for _ in 0..600 {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    child.wait_with_output().expect("sotto output")
}

/// `sotto ask --profile (the stack's) --json EXTRA… PROMPT` with extra environment: the exit
/// code, the JSON printed and the standard error. A reply that succeeded must show the sealed
/// request as an object and, in `request_base64`, the exact bytes of that request (a check that
/// something is not in the request means nothing unless the request is there).
pub fn ask_json(stack: &Stack, extra: &[&str], prompt: &str, env: &[(&str, &str)]) -> (Option<i32>, Value, String) {
    use base64::Engine;
    let p = stack.profile.to_string_lossy().into_owned();
    let mut args = vec!["ask", "--profile", p.as_str(), "--json"];
    args.extend_from_slice(extra);
    args.push(prompt);
    let out = cli_with(stack.home.path(), &args, env);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    if out.status.code() == Some(0) {
        assert!(json["request"].is_object(), "ask --json prints the sealed request as an object: {json}");
        let exact = base64::engine::general_purpose::STANDARD.decode(json["request_base64"].as_str().unwrap_or_default()).expect("request_base64 is base64");
        assert_eq!(serde_json::from_slice::<Value>(&exact).ok(), Some(json["request"].clone()), "the exact bytes are that request");
    }
    (out.status.code(), json, String::from_utf8_lossy(&out.stderr).into_owned())
}

impl Drop for Stack {
    fn drop(&mut self) {
        let Some(child) = self.child.as_mut() else { return };
        // SIGTERM lets `stack up` stop nginx and the gateway.
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        for _ in 0..100 {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
    }
}

/// A scripted reply asking for these tool calls, `(name, arguments)`.
pub fn tool_calls(list: &[(&str, Value)]) -> Value {
    let calls: Vec<Value> = list
        .iter()
        .enumerate()
        .map(|(i, (name, args))| serde_json::json!({"index": i, "id": format!("call_{name}_{i}"), "type": "function", "function": {"name": name, "arguments": args.to_string()}}))
        .collect();
    serde_json::json!({"tool_calls": calls, "finish_reason": "tool_calls"})
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// For benchmarks that start `LocalStack` in-process: a profile on free ports under `home`,
/// trusting the development root the stack will write into the returned folder.
pub fn bench_profile(home: &Path) -> (PathBuf, PathBuf) {
    let dir = home.join("stack");
    let profile = home.join("bench.toml");
    let (relay, gateway, admin) = free_ports();
    std::fs::write(&profile, format!(
        "name = \"bench\"\n[[relays]]\nurl = \"http://127.0.0.1:{relay}\"\n[enclave]\nkind = \"development\"\ntrust_roots = [\"{d}/dev-root.pem\"]\nmeasurements_file = \"{d}/measurements.json\"\n[local_stack]\ngateway_listen = \"127.0.0.1:{gateway}\"\nadmin_listen = \"127.0.0.1:{admin}\"\n",
        d = dir.display())).expect("the bench profile");
    (profile, dir)
}

/// For benchmarks: a `LocalStack` in-process on a scripted back-end (`script`, its JSON) with
/// the given image and search back-ends, and a client that has already attested it. `None`
/// (and why, on stderr) when the stack cannot start here.
pub async fn bench_scripted_stack(home: &Path, script: &str, images: &str, search: &str) -> Option<(sotto_core::stack::LocalStack, sotto_private_inference::PrivateClient)> {
    let (profile, dir) = bench_profile(home);
    let script_path = home.join("script.json");
    std::fs::write(&script_path, script).expect("the bench script");
    let options = sotto_core::stack::StackOptions {
        flavor: Default::default(),
        profile: Some(profile.clone()),
        backend: format!("scripted:{}", script_path.display()),
        images: images.into(),
        search: search.into(),
        replicas: 1,
        dir,
    };
    let stack = match sotto_core::stack::LocalStack::start(&options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skipped: {e}");
            return None;
        }
    };
    let profile = sotto_relay_config::Profile::load(&profile).expect("the bench profile loads");
    let client = sotto_private_inference::PrivateClient::new(profile, Default::default()).expect("a client");
    client.attested().await.expect("the bench stack attests");
    Some((stack, client))
}

/// Every file under `dir`, recursively (a stack's files, a store, its WAL, anything).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A duration in milliseconds, for printing.
pub fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The middle of some durations.
pub fn median(mut v: Vec<std::time::Duration>) -> std::time::Duration {
    v.sort();
    v[v.len() / 2]
}
