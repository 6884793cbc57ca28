//! Context figures: finding the relevant memories among 10,000 kept facts, and assembling a
//! project's share of a request from 20 files (instructions plus the relevant parts).
//!
//! `cargo bench --workspace --bench context --profile dev`

use std::time::{Duration, Instant};

use sotto_store::{KdfParams, Store, Unlock};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_create(dir.path(), &Unlock::Passphrase("bench passphrase"), KdfParams::insecure_for_tests()).unwrap();
    let topics = ["garden", "roses", "dog", "bicycle", "piano", "lisbon", "coffee", "python", "taxes", "marathon"];
    store
        .batch(|s| {
            for i in 0..10_000 {
                let t = topics[i % topics.len()];
                s.add_memory(&format!("Fact {i}: my {t} routine on day {} involves item{}", i % 365, i * 7 % 1000))?;
            }
            Ok(())
        })
        .unwrap();
    let prompts = ["How should I train for my marathon?", "What was the name of my dog?", "Any tips for growing roses in Lisbon?"];
    let mut times = Vec::new();
    for _ in 0..20 {
        for p in prompts {
            let t = Instant::now();
            let found = sotto_core::memory::recall(&store, p, None).unwrap();
            times.push(t.elapsed());
            assert!(!found.is_empty());
        }
    }
    println!("memory retrieval over 10,000 memories: median {:.2} ms (top {} by BM25)", median(times).as_secs_f64() * 1e3, sotto_core::memory::RECALLED);

    store.create_project("Bench", "Answer briefly and cite the file you used.").unwrap();
    for f in 0..20 {
        let text: String = (0..120).map(|l| format!("File {f} line {l}: {} notes about {}.\n", topics[(f + l) % 10], topics[l % 10])).collect();
        store.add_project_file("Bench", &format!("file{f}.md"), "markdown", &text).unwrap();
    }
    let mut times = Vec::new();
    let mut parts = 0;
    for _ in 0..20 {
        let t = Instant::now();
        let project = store.project("Bench").unwrap();
        let c = sotto_core::projects::context(&project, "What are my notes about coffee and piano?");
        times.push(t.elapsed());
        parts = c.parts.len();
    }
    println!("project context for 20 files (≈6,500 characters each): median {:.2} ms, {parts} parts chosen", median(times).as_secs_f64() * 1e3);
}
