//! Prints the embedded model's load time and generation speed on this machine.
//! `cargo bench -p sotto-embedded-model`

use std::time::Instant;

use sotto_embedded_model::{default_model_path, ChatTurn, EmbeddedModel, GenerationParams};

fn main() {
    let path = default_model_path();
    let t = Instant::now();
    let model = match EmbeddedModel::load(&path) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("skipped: {e}");
            return;
        }
    };
    println!("embedded model load (with Q4_1 -> Q8_0): {:.2} s", t.elapsed().as_secs_f64());
    let turns = [ChatTurn {
        role: "user".into(),
        content: "Write a short story about a lighthouse keeper.".into(),
    }];
    let params = GenerationParams {
        max_tokens: 128,
        temperature: 0.0,
        ..Default::default()
    };
    for run in 0..3 {
        let mut pieces = 0usize;
        let mut first = None;
        let t = Instant::now();
        model
            .generate(&turns, &params, |_| {
                first.get_or_insert_with(|| t.elapsed());
                pieces += 1;
                true
            })
            .expect("generation");
        let secs = t.elapsed().as_secs_f64();
        println!(
            "run {run}: {pieces} tokens in {secs:.2} s = {:.1} tokens/s (first token after {:.0} ms)",
            pieces as f64 / secs,
            first.unwrap_or_default().as_secs_f64() * 1000.0
        );
    }
}
