//! `cargo bench -p sotto-e2e --bench desktop`: the desktop app's start-up time and idle memory.
//!
//! Prints: cold start (WebDriver session requested → the message box usable), the time to open a
//! 200-message conversation, and the PSS of `sotto-desktop` plus its WebKit processes after the
//! window has been idle for 10 s with that conversation open.
//!
//! The app measured is the debug build beside the bench, or `$SOTTO_DESKTOP_BIN` (e.g.
//! `target/release/sotto-desktop` after `cargo build --release -p sotto-desktop`).

use std::time::{Duration, Instant};

use serde_json::json;
use sotto_e2e::desktop::{desktop_binary, App};
use sotto_e2e::{cli_with, Stack, StackSpec};

const EXCHANGES: usize = 100;

fn reply_text(i: usize) -> String {
    format!(
        "Answer {i}. Here is a short explanation with **bold** words, a list and code:\n\n- first point about privacy\n- second point about relays\n\n```python\ndef total(xs):\n    return sum(xs) + {i}\n```\n\nAnd a closing sentence that makes this reply about as long as a typical one."
    )
}

/// The parent of `pid`, from /proc/PID/stat (its 4th field, after the parenthesised name).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

fn descends_from(mut pid: u32, ancestor: u32) -> bool {
    while let Some(parent) = parent_of(pid) {
        if parent == ancestor {
            return true;
        }
        if parent <= 1 {
            return false;
        }
        pid = parent;
    }
    false
}

/// PSS in KiB of every process under `root` whose name is one of `names`.
fn pss_kib(root: u32, names: &[&str]) -> Vec<(String, u32, u64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_string();
        if !names.iter().any(|n| comm.starts_with(n)) || !descends_from(pid, root) {
            continue;
        }
        let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        let pss = rollup
            .lines()
            .find(|l| l.starts_with("Pss:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        out.push((comm, pid, pss));
    }
    out
}

#[tokio::main]
async fn main() {
    let replies: Vec<_> = (0..EXCHANGES).map(|i| json!({"chunks": [{"text": reply_text(i)}]})).collect();
    let stack = Stack::start(StackSpec { replies: json!(replies), ..StackSpec::default() });
    let home = stack.home.path();
    let profile = stack.profile.to_str().unwrap().to_string();
    let env = [("SOTTO_PASSPHRASE", "bench passphrase")];
    let seeded = Instant::now();
    let mut conversation = String::new();
    for i in 0..EXCHANGES {
        let prompt = format!("Question number {i}: explain something about private inference, please.");
        let mut args = vec!["ask", "--profile", &profile, "--json"];
        if i > 0 {
            args.extend(["--continue", conversation.as_str()]);
        }
        args.push(&prompt);
        let out = cli_with(home, &args, &env);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        conversation = v["conversation_id"].as_str().unwrap().to_string();
    }
    eprintln!("seeded {} messages in {:.1} s", EXCHANGES * 2, seeded.elapsed().as_secs_f64());

    let started = Instant::now();
    let app = App::launch(home, &[("SOTTO_PROFILE", profile.as_str()), ("SOTTO_PASSPHRASE", "bench passphrase")]).await;
    app.wait_present("#app:not([aria-busy]) .composer-input", 120).await;
    let cold_start = started.elapsed();
    app.wait_present(".conversations li[data-id]", 30).await;
    let opening = Instant::now();
    app.click(".conversations li[data-id] .conversation-title").await;
    app.wait_for_text(".message.assistant:last-of-type .text", &format!("Answer {}", EXCHANGES - 1), 60).await;
    let open_time = opening.elapsed();
    let shown = app.texts(".message").await.len();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let procs = pss_kib(app.driver_pid(), &["sotto-desktop", "WebKitWebProces", "WebKitNetworkPr", "WebKitWebDriver"]);
    let app_total: u64 = procs.iter().filter(|(n, ..)| !n.starts_with("WebKitWebDriver")).map(|(_, _, p)| p).sum();
    app.screenshot("bench-200-messages").await;
    app.close().await;

    let binary = desktop_binary();
    let size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
    println!("app: {} ({:.1} MiB)", binary.display(), size as f64 / (1024.0 * 1024.0));
    println!("cold start to a usable window: {:.2} s (WebDriver session requested → message box present)", cold_start.as_secs_f64());
    println!("open a {shown}-message conversation: {:.0} ms", open_time.as_secs_f64() * 1000.0);
    for (name, pid, pss) in &procs {
        println!("  {name} (pid {pid}): PSS {:.1} MiB", *pss as f64 / 1024.0);
    }
    println!("idle PSS of the app and its WebKit processes (not the test's WebKitWebDriver): {:.1} MiB (target < 300 MB)", app_total as f64 / 1024.0);
}
