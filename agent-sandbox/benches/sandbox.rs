//! Sandbox figures: first-ever preparation (compile into an empty cache), loading the cached
//! runtime, `print('hello')` on a fresh instance, and pandas on a 100,000-row CSV.
//! `cargo bench -p sotto-agent-sandbox`.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use sotto_agent_sandbox::{Artifacts, Limits, RunRequest, Runtime};

const PANDAS: &str = "import pandas as pd\ndf = pd.read_csv('/work/rows.csv')\nprint(df.describe().shape)";

fn benches(c: &mut Criterion) {
    let artifacts = Artifacts::locate(&Artifacts::default_dir()).expect("run scripts/setup first");
    // First-ever preparation: an empty compile cache of its own.
    let cold = tempfile::tempdir().expect("temp dir");
    std::env::set_var("SOTTO_WASI_PYTHON", Artifacts::default_dir());
    let real_cache = std::env::var_os("SOTTO_CACHE");
    std::env::set_var("SOTTO_CACHE", cold.path());
    let t = Instant::now();
    drop(Runtime::load(artifacts.clone(), &mut |_| {}).expect("compile"));
    println!("first-ever preparation (compile + cache): {:.1} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    drop(Runtime::load(artifacts.clone(), &mut |_| {}).expect("load"));
    println!("load of the cached runtime: {:.1} ms", t.elapsed().as_secs_f64() * 1000.0);
    match real_cache {
        Some(v) => std::env::set_var("SOTTO_CACHE", v),
        None => std::env::remove_var("SOTTO_CACHE"),
    }

    let runtime = Runtime::load(artifacts, &mut |_| {}).expect("runtime");
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let ws = tempfile::tempdir().expect("workspace");
    let mut csv = String::from("a,b,c\n");
    for i in 0..100_000u64 {
        csv.push_str(&format!("{},{},{}\n", i, (i * 7919) % 1000, (i as f64).sqrt()));
    }
    std::fs::write(ws.path().join("rows.csv"), csv).expect("csv");

    let mut g = c.benchmark_group("sandbox");
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    let hello = RunRequest { code: "print('hello')".into(), workspace: None, writable: false, limits: Limits::default() };
    g.bench_function("print('hello') on a fresh instance", |b| b.iter(|| tokio.block_on(runtime.run(&hello)).expect("run")));
    let pandas = RunRequest { code: PANDAS.into(), workspace: Some(ws.path().to_owned()), writable: false, limits: Limits::default() };
    g.sample_size(10).measurement_time(Duration::from_secs(30));
    g.bench_function("import pandas + describe() of 100,000 rows (fresh instance)", |b| {
        b.iter(|| {
            let r = tokio.block_on(runtime.run(&pandas)).expect("run");
            assert_eq!(r.exit_code, Some(0), "{}", r.stderr);
        })
    });
    g.finish();
    println!("native comparison: python3 -c \"{}\" with /work replaced by {}", PANDAS.replace('\n', "; "), ws.path().display());
}

criterion_group!(sandbox, benches);
criterion_main!(sandbox);
