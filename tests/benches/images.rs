//! Image Studio's figures: time from "Generate" to a verified 1024×1024 image on the local demo
//! generator, through the real relay and gateway processes (attestation cached, as in the app);
//! the client's verification cost per MiB of image (receipt, hashes, base64, a full PNG decode
//! and the thumbnail); and the gallery's open time with 300 images (the first page and the
//! thumbnails a screen shows).
//!
//! `cargo build --workspace --bins && cargo bench -p sotto-e2e --bench images --profile dev`

use std::time::{Duration, Instant};

use sotto_core::images::{self, ImageSettings};
use sotto_core::store::{ImageOutput, KdfParams, NewGeneration, Store, Unlock};
use sotto_private_inference::images::check_images;

const RUNS: usize = 7;

use sotto_e2e::{median, ms};

#[tokio::main]
async fn main() {
    let home = tempfile::tempdir().unwrap();
    let script = r#"{"replies": [{"chunks": [{"text": "unused"}]}]}"#;
    let Some((_stack, client)) = sotto_e2e::bench_scripted_stack(home.path(), script, "demo", "off").await else {
        return;
    };
    let settings = ImageSettings { size: "1024x1024".into(), n: 1, seed: Some(1), style: None, model: None };

    // Click to verified: request, generation in the enclave, sealed reply, every check, thumbnail.
    images::generate(&client, None, "warm up", &settings, None).await.unwrap();
    let mut click = Vec::new();
    let mut bytes = 0;
    for i in 0..RUNS {
        let prompt = format!("snowy mountains above a lake at sunset, run {i}");
        let t = Instant::now();
        let g = images::generate(&client, None, &prompt, &settings, None).await.unwrap();
        click.push(t.elapsed());
        bytes = g.images[0].png.len();
    }
    println!("click to a verified 1024×1024 image (local demo generator, through relay + gateway): median {:.0} ms over {RUNS} (PNG {} KiB)", ms(median(click)), bytes / 1024);

    // The client's own checks on a verified reply, per MiB of image.
    let request = images::request_for("a city at night by the sea", &ImageSettings { n: 4, ..settings.clone() });
    let verified = client.images(&request, None).await.unwrap();
    let mib = verified.reply.body.len() as f64 / (1 << 20) as f64;
    let receipt_key = client.attested().await.unwrap().receipt_public_key.clone();
    let (mut receipt, mut check, mut thumbs) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let t = Instant::now();
        let r = &verified.reply;
        r.receipt.verify(&receipt_key, &r.proof.as_ref().unwrap().request, 200, &r.body).unwrap();
        receipt.push(t.elapsed());
        let t = Instant::now();
        let checked = check_images(&request, verified.reply.clone()).unwrap();
        check.push(t.elapsed());
        let t = Instant::now();
        for img in &checked.images {
            images::thumbnail::thumbnail(&img.png).unwrap();
        }
        thumbs.push(t.elapsed());
    }
    let per = |d: Duration| ms(d) / mib;
    println!(
        "client checks per MiB of image reply ({mib:.1} MiB, 4 images): receipt hash + signature {:.1} ms, base64 + SHA-256 + PNG headers {:.1} ms, full PNG decode + thumbnail {:.1} ms",
        per(median(receipt)), per(median(check)), per(median(thumbs))
    );

    // The gallery with 300 images: the first page of entries and a screenful of thumbnails.
    let store_dir = home.path().join("store");
    let store = Store::open_or_create(&store_dir, &Unlock::Passphrase("bench passphrase"), KdfParams::insecure_for_tests()).unwrap();
    let g = images::generate(&client, None, "a lighthouse", &ImageSettings { size: "512x512".into(), ..settings.clone() }, None).await.unwrap();
    for i in 0..300 {
        store
            .add_generation(&NewGeneration {
                prompt: format!("picture {i}"),
                settings: serde_json::json!(settings),
                model: g.model.clone(),
                receipt: g.receipt.clone(),
                material: None,
                reply: g.images[0].png.clone(),
                outputs: vec![(ImageOutput { index: 0, width: 512, height: 512, sha256: "00".repeat(32) }, g.thumbnails[0].clone())],
            })
            .unwrap();
    }
    let mut open = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let page = store.gallery(120, 0).unwrap();
        for e in page.iter().take(24) {
            store.thumbnail(&e.id, 0).unwrap();
        }
        open.push(t.elapsed());
    }
    println!(
        "gallery with 300 images (history already unlocked): list the first 120 and load a screenful of 24 thumbnails ({} KiB each): median {:.0} ms",
        g.thumbnails[0].len() / 1024,
        ms(median(open))
    );
}
