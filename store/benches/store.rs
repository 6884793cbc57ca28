//! Store figures: durable insert rate, batched insert rate, search and open time over 100,000
//! messages. `cargo bench -p sotto-store`.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use sotto_store::{KdfParams, MemoryVault, Store, Unlock};

const MESSAGES: usize = 100_000;
const PER_CONVERSATION: usize = 20;

/// Text drawn from a 5,000-word vocabulary with a Zipf-like skew, ~40 words a message.
fn message(rng: &mut rand::rngs::StdRng) -> String {
    (0..40)
        .map(|_| {
            let r: f64 = rng.gen();
            format!("w{}", (r * r * r * 5000.0) as u32)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn fill(store: &Store, n: usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    store
        .batch(|s| {
            for c in 0..n / PER_CONVERSATION {
                let id = s.new_conversation(&format!("conversation {c}"))?;
                for _ in 0..PER_CONVERSATION {
                    s.add_user_message(&id, &message(&mut rng))?;
                }
            }
            Ok(())
        })
        .expect("filling the store");
}

fn benches(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let vault = MemoryVault::default();
    let unlock = Unlock::Keyring(&vault);
    let dir = tmp.path().join("big");
    let store = Store::open_or_create(&dir, &unlock, KdfParams::default()).expect("store");
    let t = Instant::now();
    fill(&store, MESSAGES);
    let took = t.elapsed();
    println!("batched insert: {MESSAGES} messages in {took:.2?} = {:.0} messages/s", MESSAGES as f64 / took.as_secs_f64());
    store.checkpoint().expect("checkpoint");
    let size = std::fs::metadata(Store::db_path(&dir)).map(|m| m.len()).unwrap_or(0);
    println!("database size with {MESSAGES} messages: {:.1} MiB", size as f64 / 1048576.0);

    let mut g = c.benchmark_group("store");
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    let small = Store::open_or_create(&tmp.path().join("small"), &unlock, KdfParams::default()).expect("store");
    let conv = small.new_conversation("t").expect("conversation");
    g.bench_function("insert one durable message (synced commit)", |b| {
        b.iter(|| small.add_user_message(&conv, "a message of a few words, saved before it is sent").expect("insert"))
    });
    g.bench_function("search 100k messages, rare word", |b| b.iter(|| store.search("w4999", 20).expect("search")));
    g.bench_function("search 100k messages, common word", |b| b.iter(|| store.search("w0", 20).expect("search")));
    g.bench_function("search 100k messages, two words + prefix", |b| b.iter(|| store.search("w1 w20", 20).expect("search")));
    g.bench_function("list conversations (5,000)", |b| b.iter(|| store.list_conversations().expect("list")));
    drop(store);
    g.bench_function("open store with 100k messages (key from keyring)", |b| {
        b.iter(|| Store::open(&dir, &unlock).expect("open"))
    });
    g.finish();

    let mut g = c.benchmark_group("unlock");
    g.sample_size(10);
    let pdir = tmp.path().join("passphrase");
    drop(Store::open_or_create(&pdir, &Unlock::Passphrase("bench"), KdfParams::default()).expect("store"));
    g.bench_function("open with passphrase (Argon2id 64 MiB, 3 passes)", |b| {
        b.iter(|| Store::open(&pdir, &Unlock::Passphrase("bench")).expect("open"))
    });
    g.finish();
}

criterion_group!(store, benches);
criterion_main!(store);
