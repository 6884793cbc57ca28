//! Web search's figure: the latency the gateway adds to a reply when it searches (with the
//! search stand-in: the local corpus, so this is the gateway's own work — query, ranking,
//! quoting, the fixed-size sources event — not a provider's network time), through the real
//! relay and gateway processes; the same prompt asked without and with `web_search`.
//!
//! `cargo build --workspace --bins && cargo bench --workspace --bench web_search --profile dev`

use std::time::Instant;

use serde_json::json;
use sotto_core::stack::{LocalStack, StackOptions};
use sotto_e2e::{median, ms};
use sotto_private_inference::{ClientOptions, PrivateClient};

const RUNS: usize = 15;

#[tokio::main]
async fn main() {
    let home = tempfile::tempdir().unwrap();
    let (profile, dir) = sotto_e2e::bench_profile(home.path());
    let script = home.path().join("script.json");
    std::fs::write(&script, r#"{"replies": [{"chunks": [{"text": "Hillary and Tenzing, 1953 [1]."}]}]}"#).unwrap();
    let backend = format!("scripted:{}", script.display());
    let options = StackOptions { flavor: Default::default(), profile: Some(profile.clone()), backend, images: "off".into(), search: "standin".into(), replicas: 1, dir };
    let _stack = match LocalStack::start(&options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skipped: {e}");
            return;
        }
    };
    let client = PrivateClient::new(sotto_relay_config::Profile::load(&profile).unwrap(), ClientOptions::default()).unwrap();
    client.attested().await.unwrap();
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
