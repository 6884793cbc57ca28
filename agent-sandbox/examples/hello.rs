//! Runs `print('hello')` on fresh instances in a loop, for profiling (`perf record`).
//! `cargo run --release -p sotto-agent-sandbox --example hello -- 200`

use sotto_agent_sandbox::{Artifacts, Limits, RunRequest, Runtime};

fn main() {
    let n: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let artifacts = Artifacts::locate(&Artifacts::default_dir()).expect("run scripts/setup first");
    let runtime = Runtime::load(artifacts, &mut |_| {}).expect("runtime");
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let hello = RunRequest { code: "print('hello')".into(), workspace: None, writable: false, limits: Limits::default() };
    let started = std::time::Instant::now();
    for _ in 0..n {
        let r = tokio.block_on(runtime.run(&hello)).expect("run");
        assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("hello\n", ""));
    }
    println!("{:.2} ms per run", started.elapsed().as_secs_f64() * 1000.0 / f64::from(n));
}
