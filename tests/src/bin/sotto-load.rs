//! `sotto-load`: a bounded load generator for the private path, on loopback only. It starts the
//! local stack (nginx relay + gateway, scripted back-end) in this process, then for each level of
//! concurrency runs K clients — each attesting once, as an app does — that stream replies through
//! the relay until the level's requests are done, and prints requests/s, time to the first
//! authenticated token and to the verified reply (p50/p99), errors by kind, this process's CPU per
//! request and the gateway's and relay's peak memory. Then the same requests straight to the
//! gateway, for the relay's added latency.
//!
//!   sotto-load [--clients 1,8,32,128] [--requests N] [--chunks N] [--replicas N]
//!              [--kill-replica-after-ms MS]
//!
//! With `--kill-replica-after-ms`, one replica (not the first) is killed that long into the first
//! level: replies it was streaming must end as errors (never verified), the rest must verify.
//!
//! Needs the built `sotto-gateway` (cargo build --workspace --bins) and nginx, as the tests do.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sotto_core::stack::{LocalStack, StackOptions};
use sotto_private_inference::{ClientOptions, InferenceError, PrivateClient, ReplyEvent};

struct Args {
    clients: Vec<usize>,
    requests: usize,
    chunks: usize,
    replicas: usize,
    kill_after: Option<Duration>,
    chunk_delay_ms: u64,
}

fn args() -> Result<Args, String> {
    let mut a = Args { clients: vec![1, 8, 32, 128], requests: 1000, chunks: 16, replicas: 1, kill_after: None, chunk_delay_ms: 0 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<usize>().map_err(|_| format!("{flag}: `{v}` is not a number"));
        match flag.as_str() {
            "--clients" => a.clients = value.split(',').map(number).collect::<Result<_, _>>()?,
            "--requests" => a.requests = number(&value)?.clamp(1, 100_000),
            "--chunks" => a.chunks = number(&value)?.clamp(1, 1000),
            "--replicas" => a.replicas = number(&value)?.clamp(1, 8),
            "--kill-replica-after-ms" => a.kill_after = Some(Duration::from_millis(number(&value)? as u64)),
            "--chunk-delay-ms" => a.chunk_delay_ms = number(&value)?.min(1000) as u64,
            _ => return Err(format!("unknown option {flag} (use --clients, --requests, --chunks, --replicas, --kill-replica-after-ms, --chunk-delay-ms)")),
        }
    }
    if a.kill_after.is_some() && a.replicas < 2 {
        return Err("--kill-replica-after-ms needs --replicas 2 or more (the first replica is never killed)".into());
    }
    if a.clients.iter().any(|k| *k == 0 || *k > 1024) {
        return Err("--clients: each level must be 1 to 1024".into());
    }
    Ok(a)
}

/// What one request measured.
struct Sample {
    first_token: Duration,
    verified: Duration,
}

/// The error's kind, for counting (its variant name, without the details).
fn kind(e: &InferenceError) -> String {
    let debug = format!("{e:?}");
    debug.split(['(', ' ', '{']).next().unwrap_or("Other").to_string()
}

async fn one(client: &PrivateClient) -> Result<Sample, InferenceError> {
    let body = json!({"messages": [{"role": "user", "content": "Say something."}], "stream": true});
    let t = Instant::now();
    let mut stream = client.chat(&body).await?;
    let mut first = None;
    while let Some(event) = stream.next().await {
        match event? {
            ReplyEvent::Text(_) => {
                first.get_or_insert(t.elapsed());
            }
            ReplyEvent::Verified(_) => {
                return Ok(Sample { first_token: first.unwrap_or(t.elapsed()), verified: t.elapsed() });
            }
        }
    }
    Err(InferenceError::Truncated)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// User plus system CPU time of this process.
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the struct it is given and reads nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// A process's peak resident memory (VmHWM), in KiB.
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A process and its children (nginx's workers).
fn family_peak_kib(pid: u32) -> u64 {
    let mut total = peak_kib(pid);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        // The parent id is the second field after the command name (which is in parentheses).
        let parent = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)).and_then(|p| p.parse::<u32>().ok());
        if parent == Some(pid) {
            total += peak_kib(child);
        }
    }
    total
}

struct Level {
    samples: Vec<Sample>,
    errors: BTreeMap<String, usize>,
    wall: Duration,
    cpu: Duration,
}

/// K clients, each attesting once, sharing `requests` between them.
async fn level(profile: &sotto_relay_config::Profile, k: usize, requests: usize) -> Level {
    let remaining = Arc::new(std::sync::atomic::AtomicUsize::new(requests));
    let cpu = cpu_time();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..k {
        let (profile, remaining) = (profile.clone(), remaining.clone());
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut errors: BTreeMap<String, usize> = BTreeMap::new();
            let client = match PrivateClient::new(profile, ClientOptions::default()) {
                Ok(c) => c,
                Err(e) => {
                    *errors.entry(kind(&e)).or_default() += 1;
                    return (samples, errors);
                }
            };
            while remaining.fetch_update(std::sync::atomic::Ordering::SeqCst, std::sync::atomic::Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
                match one(&client).await {
                    Ok(s) => samples.push(s),
                    Err(e) => *errors.entry(kind(&e)).or_default() += 1,
                }
            }
            (samples, errors)
        }));
    }
    let mut out = Level { samples: Vec::new(), errors: BTreeMap::new(), wall: Duration::ZERO, cpu: Duration::ZERO };
    for t in tasks {
        if let Ok((samples, errors)) = t.await {
            out.samples.extend(samples);
            for (k, n) in errors {
                *out.errors.entry(k).or_default() += n;
            }
        }
    }
    out.wall = start.elapsed();
    out.cpu = cpu_time().saturating_sub(cpu);
    out
}

fn report(label: &str, k: usize, l: &Level) {
    let mut ttft: Vec<Duration> = l.samples.iter().map(|s| s.first_token).collect();
    let mut verified: Vec<Duration> = l.samples.iter().map(|s| s.verified).collect();
    ttft.sort();
    verified.sort();
    let done = l.samples.len();
    let errors: Vec<String> = l.errors.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    println!(
        "{label} {k:>4} clients: {done} verified in {:.1} s = {:.0} req/s; first token p50 {:.1} ms p99 {:.1} ms; verified p50 {:.1} ms p99 {:.1} ms; client CPU {:.2} ms/request; errors: {}",
        l.wall.as_secs_f64(),
        done as f64 / l.wall.as_secs_f64(),
        percentile(&ttft, 0.5),
        percentile(&ttft, 0.99),
        percentile(&verified, 0.5),
        percentile(&verified, 0.99),
        l.cpu.as_secs_f64() * 1000.0 / (done.max(1)) as f64,
        if errors.is_empty() { "none".into() } else { errors.join(", ") }
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let home = tempfile::tempdir().expect("a temporary folder");
    let (profile_path, dir) = sotto_e2e::bench_profile(home.path());
    let chunks: Vec<_> = (0..args.chunks).map(|i| json!({"text": format!("word{i} "), "delay_ms": args.chunk_delay_ms})).collect();
    let script = home.path().join("script.json");
    std::fs::write(&script, json!({"replies": [{"chunks": chunks}]}).to_string()).expect("the script");
    let options = StackOptions {
        flavor: Default::default(),
        profile: Some(profile_path.clone()),
        backend: format!("scripted:{}", script.display()),
        images: "off".into(),
        search: "off".into(),
        replicas: args.replicas,
        dir,
    };
    let stack = match LocalStack::start(&options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: the stack did not start: {e}");
            std::process::exit(1);
        }
    };
    let profile = sotto_relay_config::Profile::load(&profile_path).expect("the profile");
    let mut direct = profile.clone();
    for relay in &mut direct.relays {
        relay.url = format!("http://{}", stack.gateway_addr).parse().expect("the gateway's address");
    }
    let (gateway_pids, relay_pid) = stack.process_ids();
    println!(
        "{} chunks per reply ({} ms apart), {} requests per level, loopback; stack: nginx relay + {} sotto-gateway replica(s) (scripted back-end)",
        args.chunks, args.chunk_delay_ms, args.requests, gateway_pids.len()
    );
    if let (Some(after), Some(victim)) = (args.kill_after, gateway_pids.get(1).copied()) {
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            // SAFETY: a plain kill(2) of a child process this stack started.
            unsafe { libc::kill(victim as libc::pid_t, libc::SIGKILL) };
            println!("  killed replica 1 (pid {victim}) {} ms into the first level", after.as_millis());
        });
    }
    for &k in &args.clients {
        let through = level(&profile, k, args.requests).await;
        report("through the relay   ", k, &through);
        let straight = level(&direct, k, args.requests).await;
        report("straight to gateway ", k, &straight);
        let median = |l: &Level| {
            let mut v: Vec<Duration> = l.samples.iter().map(|s| s.first_token).collect();
            v.sort();
            percentile(&v, 0.5)
        };
        println!("  relay's added latency (first token p50, through ÷ straight): {:.3}", median(&through) / median(&straight));
    }
    let gateways: Vec<String> = gateway_pids.iter().map(|p| format!("{} MiB", peak_kib(*p) / 1024)).collect();
    println!("peak memory: gateway(s) {}, relay (master + workers) {} MiB", gateways.join(", "), family_peak_kib(relay_pid) / 1024);
}
