//! The real desktop app, driven through WebDriver: each [`App`] runs its own Xvfb display and
//! its own tauri-driver (which starts WebKitWebDriver, which starts `sotto-desktop`).
//!
//! The W3C WebDriver commands are sent with reqwest, one connection per command and a timeout
//! on each, so that a command WebKitWebDriver never answers fails the test with a message
//! instead of hanging it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::stack::bin_dir;

/// Where the UI tests leave their screenshots: `target/<profile>/ui-screenshots`.
pub fn screenshot_dir() -> PathBuf {
    bin_dir().join("ui-screenshots")
}

/// The app under test: `$SOTTO_DESKTOP_BIN` (the bench measures a release build this way), else
/// the build beside the tests.
pub fn desktop_binary() -> PathBuf {
    std::env::var_os("SOTTO_DESKTOP_BIN").map(PathBuf::from).unwrap_or_else(|| bin_dir().join("sotto-desktop"))
}

/// tauri-driver: `$TAURI_DRIVER`, else the copy `scripts/setup` installs in the cache, else PATH.
fn tauri_driver() -> PathBuf {
    if let Some(p) = std::env::var_os("TAURI_DRIVER") {
        return p.into();
    }
    let cached = sotto_relay_config::sotto_cache().join("tools/bin/tauri-driver");
    if cached.exists() {
        cached
    } else {
        "tauri-driver".into()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// One WebDriver session.
pub struct Session {
    http: reqwest::Client,
    base: String,
}

impl Session {
    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request.send().await.map_err(|e| format!("{path}: {e}"))?;
        let status = response.status();
        let v: Value = response.json().await.map_err(|e| format!("{path}: not JSON ({e})"))?;
        if status.is_success() {
            Ok(v["value"].clone())
        } else {
            Err(format!("{path}: {status} {}", v["value"]))
        }
    }

    /// Runs `script` in the page with `args`; returns its value.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, String> {
        self.command(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": args}))).await
    }

    /// Runs `script` in the page; it ends by calling its last argument with the result.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Result<Value, String> {
        self.command(reqwest::Method::POST, "/execute/async", Some(json!({"script": script, "args": args}))).await
    }

    async fn element(&self, css: &str) -> Result<String, String> {
        let v = self.command(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await?;
        v.as_object().and_then(|o| o.values().next()).and_then(|id| id.as_str()).map(String::from).ok_or_else(|| format!("no element id for {css}: {v}"))
    }

    pub async fn set_window_size(&self, width: u32, height: u32) -> Result<(), String> {
        self.command(reqwest::Method::POST, "/window/rect", Some(json!({"width": width, "height": height}))).await.map(|_| ())
    }
}

pub struct App {
    pub client: Session,
    driver: Child,
    xvfb: Child,
    log: PathBuf,
}

impl App {
    /// Starts the app with `$SOTTO_HOME` = `home`, the keyring off, and `env`.
    pub async fn launch(home: &Path, env: &[(&str, &str)]) -> App {
        let mut xvfb = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (apt package xvfb; scripts/setup installs it)");
        let mut number = String::new();
        BufReader::new(xvfb.stdout.take().expect("Xvfb stdout")).read_line(&mut number).expect("Xvfb's display number");
        let display = format!(":{}", number.trim());

        let (port, native) = (free_port(), free_port());
        let log = home.join(format!("desktop-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("driver log");
        let mut cmd = Command::new(tauri_driver());
        cmd.args(["--port", &port.to_string(), "--native-port", &native.to_string()])
            .env("DISPLAY", &display)
            .env("SOTTO_HOME", home)
            .env("SOTTO_KEYRING", "off")
            .env("GDK_BACKEND", "x11")
            .env_remove("WAYLAND_DISPLAY")
            .stdout(log_file.try_clone().expect("log"))
            .stderr(log_file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let driver = cmd.spawn().expect("tauri-driver (scripts/setup installs it under ~/.cache/sotto/tools)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tauri-driver did not listen on {port}; see {}", log.display());
            std::thread::sleep(Duration::from_millis(100));
        }
        // A fresh connection for every command (see the module's note), none waiting forever.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(90))
            .build()
            .expect("an HTTP client");
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "wry", "tauri:options": {"application": desktop_binary()}}}});
        let created: Value = http
            .post(format!("http://127.0.0.1:{port}/session"))
            .json(&caps)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("no WebDriver session with the app: {e}; see {}", log.display()))
            .json()
            .await
            .expect("a WebDriver answer");
        let id = created["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session id in {created}")).to_string();
        let client = Session { http, base: format!("http://127.0.0.1:{port}/session/{id}") };
        App { client, driver, xvfb, log }
    }

    /// Waits up to `secs` until something matches `css` (checked in the page).
    pub async fn wait_present(&self, css: &str, secs: u64) {
        eprintln!("[ui] waiting for {css}");
        let deadline = Instant::now() + Duration::from_secs(secs);
        let script = "return document.querySelector(arguments[0]) !== null";
        while !matches!(self.client.execute(script, vec![json!(css)]).await, Ok(Value::Bool(true))) {
            if Instant::now() >= deadline {
                self.fail(format!("`{css}` did not appear within {secs} s")).await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The WebDriver id of the first element matching `css`, waiting up to `secs` for it.
    pub async fn wait_for(&self, css: &str, secs: u64) -> String {
        self.wait_present(css, secs).await;
        self.client.element(css).await.unwrap_or_else(|e| panic!("`{css}`: {e}"))
    }

    /// Waits until the text of the first match of `css` contains `needle`; returns the text.
    pub async fn wait_for_text(&self, css: &str, needle: &str, secs: u64) -> String {
        eprintln!("[ui] waiting for {needle:?} in {css}");
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut last = String::new();
        while Instant::now() < deadline {
            let texts = self.texts(css).await;
            if let Some(first) = texts.iter().find(|t| t.contains(needle)) {
                return first.clone();
            }
            last = texts.join(" | ");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        self.fail(format!("`{css}` never contained {needle:?} within {secs} s; last text: {last:?}")).await
    }

    pub async fn click(&self, css: &str) {
        eprintln!("[ui] click {css}");
        let id = self.wait_for(css, 20).await;
        self.client.command(reqwest::Method::POST, &format!("/element/{id}/click"), Some(json!({}))).await.unwrap_or_else(|e| panic!("clicking `{css}`: {e}"));
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        eprintln!("[ui] type into {css}");
        let id = self.wait_for(css, 20).await;
        let _ = self.client.command(reqwest::Method::POST, &format!("/element/{id}/clear"), Some(json!({}))).await;
        self.client
            .command(reqwest::Method::POST, &format!("/element/{id}/value"), Some(json!({"text": text})))
            .await
            .unwrap_or_else(|e| panic!("typing into `{css}`: {e}"));
    }

    /// The text of everything matching `css`, read in the page.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let script = "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.textContent)";
        match self.client.execute(script, vec![json!(css)]).await {
            Ok(Value::Array(items)) => items.into_iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect(),
            _ => Vec::new(),
        }
    }

    /// The text of the first match of `css`, waiting for it to appear.
    pub async fn text_of(&self, css: &str, secs: u64) -> String {
        self.wait_present(css, secs).await;
        self.texts(css).await.into_iter().next().unwrap_or_default()
    }

    /// Saves a PNG of the window to [`screenshot_dir`]`/NAME.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        self.keep_painting().await;
        let shot = self.client.command(reqwest::Method::GET, "/screenshot", None).await.expect("a screenshot");
        let png = base64::engine::general_purpose::STANDARD.decode(shot.as_str().unwrap_or_default()).expect("base64 PNG");
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("screenshot written");
        eprintln!("screenshot: {}", path.display());
        path
    }

    /// Makes the page paint every 100 ms for the next 3 s with an invisible change. Without
    /// compositing (`WEBKIT_DISABLE_COMPOSITING_MODE=1`, or no GPU acceleration) WebKitWebDriver
    /// 2.50 answers a screenshot request only after the page's next paint, so on a still page
    /// it would never answer.
    async fn keep_painting(&self) {
        let script = "let n = 0; const b = document.body;
            const t = setInterval(() => { b.style.outline = n % 2 ? '1px solid transparent' : '1px solid rgba(0, 0, 0, 0)'; if (++n > 30) { clearInterval(t); b.style.outline = ''; } }, 100);";
        let _ = self.client.execute(script, vec![]).await;
    }

    /// Fails the test with `why`, the app's log and a screenshot of the window as it was.
    async fn fail(&self, why: String) -> ! {
        self.keep_painting().await;
        let shot = match tokio::time::timeout(Duration::from_secs(10), self.client.command(reqwest::Method::GET, "/screenshot", None)).await {
            Ok(Ok(Value::String(png))) => {
                let path = screenshot_dir().join("last-failure.png");
                let saved = base64::engine::general_purpose::STANDARD.decode(png).ok().and_then(|b| std::fs::create_dir_all(screenshot_dir()).and_then(|_| std::fs::write(&path, b)).ok());
                saved.map(|_| path.display().to_string()).unwrap_or_else(|| "not saved".into())
            }
            _ => "none".into(),
        };
        panic!("{why}\nscreenshot: {shot}\napp log:\n{}", self.log_tail())
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(15).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// tauri-driver's process id: the app and its WebKit processes descend from it.
    pub fn driver_pid(&self) -> u32 {
        self.driver.id()
    }

    /// Ends the session (WebKitWebDriver then ends the app; the local stack the app started ends
    /// with it), then tauri-driver and the display.
    pub async fn close(mut self) {
        let _ = self.client.command(reqwest::Method::DELETE, "", None).await;
        self.stop_processes();
    }

    /// SIGTERM to tauri-driver (SIGKILL would leave WebKitWebDriver and the app running).
    fn stop_processes(&mut self) {
        if !matches!(self.driver.try_wait(), Ok(None)) {
            return;
        }
        let _ = Command::new("kill").args(["-TERM", &self.driver.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.driver.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = self.xvfb.kill();
        let _ = self.xvfb.wait();
    }
}

/// A test that fails mid-way leaves no app, driver or display behind.
impl Drop for App {
    fn drop(&mut self) {
        self.stop_processes();
    }
}
