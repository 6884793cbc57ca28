//! Later turns of one warm session doing pandas work, for profiling (`perf record`).
//! `cargo run --release -p sotto-agent-sandbox --example turns -- DIR_WITH_rows.csv 10`

use sotto_agent_sandbox::{Artifacts, Grants, Limits, Runtime};

const PANDAS: &str = "import pandas as pd\ndf = pd.read_csv('/work/rows.csv')\nd = df.describe()";

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("a folder holding rows.csv");
    let n: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let artifacts = Artifacts::locate(&Artifacts::default_dir()).expect("run scripts/setup first");
    let runtime = Runtime::load(artifacts, &mut |_| {}).expect("runtime");
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    tokio.block_on(async {
        let grants = Grants { workspace: Some(dir.into()), ..Grants::default() };
        let mut s = runtime.open_session(&grants, Limits::default()).await.expect("session");
        s.run(PANDAS).await.expect("first turn");
        let started = std::time::Instant::now();
        for _ in 0..n {
            let r = s.run(PANDAS).await.expect("turn");
            assert_eq!((r.exit_code, r.stderr.as_str()), (Some(0), ""));
        }
        println!("{:.1} ms per turn", started.elapsed().as_secs_f64() * 1000.0 / f64::from(n));
    });
}
