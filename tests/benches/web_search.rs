//! Web search's figure: the latency the gateway adds to a reply when it searches (with the
//! search stand-in: the local corpus, so this is the gateway's own work — query, ranking,
//! quoting, the fixed-size sources event — not a provider's network time), through the real
//! relay and gateway processes; the same prompt asked without and with `web_search`.
//!
//! `cargo build --workspace --bins && cargo bench --workspace --bench web_search --profile dev`

use std::time::Instant;

use serde_json::json;
use sotto_e2e::{median, ms};

const RUNS: usize = 15;

#[tokio::main]
async fn main() {
    let home = tempfile::tempdir().unwrap();
    let script = r#"{"replies": [{"chunks": [{"text": "Hillary and Tenzing, 1953 [1]."}]}]}"#;
    let Some((_stack, client)) = sotto_e2e::bench_scripted_stack(home.path(), script, "off", "standin").await else {
        return;
    };
    let prompt = "Who first climbed Mount Everest?";
    let ask = |search: bool| {
        let mut body = json!({"messages": [{"role": "user", "content": prompt}], "stream": true});
        if search {
            body["web_search"] = json!(true);
            body["web_search_query"] = json!(prompt);
        }
        body
    };
    let (mut plain, mut searched) = (Vec::new(), Vec::new());
    for i in 0..=RUNS {
        for (search, times) in [(false, &mut plain), (true, &mut searched)] {
            let t = Instant::now();
            let reply = client.chat(&ask(search)).await.unwrap().verified().await.unwrap();
            assert_eq!(reply.citations.is_some(), search);
            if i > 0 {
                times.push(t.elapsed());
            }
        }
    }
    let (p, s) = (median(plain), median(searched));
    println!(
        "verified reply through relay + gateway, median over {RUNS}: without search {:.1} ms, with search (stand-in provider) {:.1} ms: the gateway adds {:.1} ms",
        ms(p),
        ms(s),
        ms(s.saturating_sub(p))
    );
}
