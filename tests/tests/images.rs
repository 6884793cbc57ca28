//! Image Studio end to end through the real stack (`sotto stack up`: nginx relay, gateway
//! process) and the `sotto image` command: verified PNGs of the sizes asked, reproducible from
//! the seed, kept only in the encrypted gallery; a reply changed or cut anywhere is refused with
//! nothing written; an upstream image service's failures are plain errors that lose nothing.

use std::path::Path;

use serde_json::Value;
use sotto_e2e::{cli_with, Attack, ImageStandin, Proxy, Stack, StackSpec};

const PASS: (&str, &str) = ("SOTTO_PASSPHRASE", "e2e passphrase");

fn sotto(stack: &Stack, args: &[&str]) -> std::process::Output {
    cli_with(stack.home.path(), args, &[PASS])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `sotto image --json …`: exit code, the JSON it printed, stderr.
fn image(stack: &Stack, out: &Path, extra: &[&str], prompt: &str) -> (Option<i32>, Value, String) {
    let p = stack.profile.to_string_lossy().into_owned();
    let o = out.to_string_lossy().into_owned();
    let mut args = vec!["image", "--profile", p.as_str(), "--json", "-o", o.as_str()];
    args.extend_from_slice(extra);
    args.push(prompt);
    let run = sotto(stack, &args);
    (run.status.code(), serde_json::from_slice(&run.stdout).unwrap_or(Value::Null), text(&run.stderr))
}

fn gallery(stack: &Stack) -> Vec<Value> {
    let out = sotto(stack, &["image", "list", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("a JSON list")
}

/// Width and height of a PNG, decoding every pixel (a damaged one fails).
fn decode(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).expect("every pixel decodes");
    (info.width, info.height)
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// Every file under `dir` (the store, its WAL, logs, the stack's files), searched for `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    sotto_e2e::files_under(dir)
        .into_iter()
        .filter(|path| std::fs::read(path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle)))
        .map(|path| path.display().to_string())
        .collect()
}

#[test]
fn images_come_back_verified_reproducible_and_only_in_the_encrypted_gallery() {
    let stack = Stack::start(StackSpec::default());
    let out = tempfile::tempdir().unwrap();
    let marker = "Zanzibar-quokka-7731";
    let prompt = format!("{marker} lighthouse on a cliff above the sea at dusk");
    let (code, made, err) = image(&stack, &out.path().join("a"), &["--size", "512x512", "-n", "2", "--seed", "7"], &prompt);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(made["model"], "sotto-demo-images");
    assert_eq!(made["seed"], 7);
    assert_eq!(made["receipt"]["enclave"]["kind"], "development");
    let images = made["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    for i in images {
        assert_eq!(decode(Path::new(i["file"].as_str().unwrap())), (512, 512));
    }
    assert_ne!(images[0]["sha256"], images[1]["sha256"], "two different pictures");

    // The same prompt and seed make the same pictures; another seed does not.
    let (_, again, _) = image(&stack, &out.path().join("b"), &["--size", "512x512", "-n", "2", "--seed", "7", "--ephemeral"], &prompt);
    assert_eq!(again["images"][0]["sha256"], images[0]["sha256"]);
    assert_eq!(again["images"][1]["sha256"], images[1]["sha256"]);
    assert_eq!(again["id"], Value::Null, "--ephemeral keeps nothing");
    let (_, other, _) = image(&stack, &out.path().join("c"), &["--size", "512x512", "--seed", "8", "--ephemeral"], &prompt);
    assert_ne!(other["images"][0]["sha256"], images[0]["sha256"]);
    let (code, wide, err) = image(&stack, &out.path().join("d"), &["--size", "1792x1024", "--ephemeral"], "a desert at noon");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(decode(Path::new(wide["images"][0]["file"].as_str().unwrap())), (1792, 1024));

    // The gallery survives the process (each command is a fresh one), its check passes again,
    // and its export gives back the same bytes.
    let listed = gallery(&stack);
    assert_eq!(listed.len(), 1);
    let id = made["id"].as_str().unwrap();
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["prompt"], prompt.as_str());
    let shown = sotto(&stack, &["image", "show", &id[..8], "--json"]);
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["check"]["verdict"], "verified", "{shown}");
    let exported = sotto(&stack, &["image", "export", &id[..8], "-o", &out.path().join("e").to_string_lossy()]);
    assert_eq!(exported.status.code(), Some(0), "{}", text(&exported.stderr));
    for (line, i) in text(&exported.stdout).lines().zip(images) {
        let bytes = std::fs::read(line).unwrap();
        assert_eq!(sotto_e2e::hex(&sotto_enclave_protocol::sha256(&bytes)), i["sha256"].as_str().unwrap());
    }

    // The prompt is nowhere under the data folder in the clear: not in the store, its WAL, the
    // thumbnails, the gateway's log or any temporary file.
    let hits = files_containing(stack.home.path(), marker.as_bytes());
    assert!(hits.is_empty(), "the prompt was found in {hits:?}");

    // The ledger says an image request left, sealed.
    let ledger = sotto(&stack, &["ledger", "--json"]);
    assert!(text(&ledger.stdout).contains("\"image\""), "{}", text(&ledger.stdout));

    // Delete is for real and the gallery says so.
    assert_eq!(sotto(&stack, &["image", "delete", &id[..8]]).status.code(), Some(0));
    assert!(gallery(&stack).is_empty());
    let gone = sotto(&stack, &["image", "show", &id[..8]]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(text(&gone.stderr).contains("no image in the gallery matches"), "{}", text(&gone.stderr));

    // `-` reads the prompt from standard input: the same picture as the prompt given inline.
    let (_, inline, _) = image(&stack, &out.path().join("g"), &["--size", "256x256", "--seed", "5", "--ephemeral"], "a lake at night");
    let mut child = std::process::Command::new(sotto_e2e::stack::bin_dir().join("sotto"))
        .args(["image", "--profile", stack.profile.to_str().unwrap(), "--json", "--size", "256x256", "--seed", "5", "--ephemeral", "-o"])
        .arg(out.path().join("h"))
        .arg("-")
        .env("SOTTO_HOME", stack.home.path())
        .env(PASS.0, PASS.1)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"a lake at night\n").unwrap();
    let piped = child.wait_with_output().unwrap();
    assert_eq!(piped.status.code(), Some(0), "{}", text(&piped.stderr));
    let piped: Value = serde_json::from_slice(&piped.stdout).unwrap();
    assert_eq!(piped["images"][0]["sha256"], inline["images"][0]["sha256"]);
    assert_eq!(piped["prompt"], "a lake at night");

    // Input errors are said in words before anything is sent.
    let (code, _, err) = image(&stack, &out.path().join("f"), &["--size", "1000x1000"], "a lake");
    assert_eq!(code, Some(1));
    assert!(err.contains("1000×1000 is not a size"), "{err}");
    let (code, _, err) = image(&stack, &out.path().join("f"), &["--style", "oil"], "a lake");
    assert_eq!(code, Some(1));
    assert!(err.contains("no style `oil`"), "{err}");
    assert_eq!(files_in(&out.path().join("f")), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_changed_or_cut_anywhere_is_refused_and_nothing_is_written() {
    let stack = Stack::start(StackSpec::default());
    let out = tempfile::tempdir().unwrap();
    let run = |relay: String, dir: &str| {
        let p = stack.profile.to_string_lossy().into_owned();
        let o = out.path().join(dir).to_string_lossy().into_owned();
        let args = ["image", "--profile", &p, "--relay", &relay, "--size", "512x512", "--seed", "3", "-o", &o, "a harbour at night"];
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let home = stack.home.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            cli_with(&home, &args, &[PASS])
        })
    };
    let faithful = Proxy::start(&stack.relay_url, Attack::None).await;
    let ok = run(faithful.url.clone(), "ok").await.unwrap();
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let response = faithful.exchanges().last().expect("the sealed exchange").response.clone();
    // What the relay sees: the image data in 16 KiB sealed chunks (the OHTTP layer's largest)
    // that add up to whole 64 KiB pieces, and small padded head and trailer chunks: nothing
    // sizes the image more closely than to 64 KiB.
    let lengths = sotto_e2e::chunk_plaintext_lengths(&response, 16).expect("chunked framing");
    let data: Vec<&usize> = lengths.iter().filter(|l| **l == 16384).collect();
    assert!(!data.is_empty() && data.len() % 4 == 0, "{lengths:?}");
    for len in &lengths {
        assert!(*len == 16384 || *len % 256 == 0 && *len <= 1024, "a sealed chunk of {len} bytes ({lengths:?})");
    }

    // A refusal looks the same to the relay: the same size class, no quicker.
    let p = stack.profile.to_string_lossy().into_owned();
    let refused_dir = out.path().join("refused").to_string_lossy().into_owned();
    let (url, home) = (faithful.url.clone(), stack.home.path().to_path_buf());
    let refused = tokio::task::spawn_blocking(move || {
        cli_with(&home, &["image", "--profile", &p, "--relay", &url, "--size", "512x512", "--style", "oil", "-o", &refused_dir, "a harbour"], &[PASS])
    })
    .await
    .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    let refusal = faithful.exchanges().last().expect("the refused exchange").response.clone();
    assert_eq!(refusal.len(), response.len(), "a refusal and a picture are the same size on the wire");

    let kept = gallery(&stack).len();
    for (i, at) in [40, response.len() / 3, response.len() / 2 + 7, response.len() - 30].into_iter().enumerate() {
        let proxy = Proxy::start(&stack.relay_url, Attack::FlipResponseByte(at)).await;
        let dir = format!("flip{i}");
        let refused = run(proxy.url.clone(), &dir).await.unwrap();
        assert_eq!(refused.status.code(), Some(3), "byte {at}: {}", text(&refused.stderr));
        assert!(text(&refused.stderr).contains("altered on the way"), "byte {at}: {}", text(&refused.stderr));
        assert_eq!(files_in(&out.path().join(&dir)), 0, "nothing written after a flip at {at}");
    }
    let proxy = Proxy::start(&stack.relay_url, Attack::TruncateResponse(100)).await;
    let cut = run(proxy.url.clone(), "cut").await.unwrap();
    assert_eq!(cut.status.code(), Some(3), "{}", text(&cut.stderr));
    assert!(text(&cut.stderr).contains("cut off"), "{}", text(&cut.stderr));
    assert_eq!(files_in(&out.path().join("cut")), 0);
    assert_eq!(gallery(&stack).len(), kept, "nothing refused reached the gallery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_image_services_failures_are_plain_errors_that_lose_nothing() {
    let standin = ImageStandin::start().await;
    let spec = StackSpec {
        images: Some(format!("openai:{}", standin.url)),
        env: vec![("SOTTO_IMAGES_TIMEOUT_S".into(), "3".into())],
        ..StackSpec::default()
    };
    let stack = tokio::task::spawn_blocking(move || Stack::start(spec)).await.unwrap();
    let stack = std::sync::Arc::new(stack);
    let out = tempfile::tempdir().unwrap();
    let call = |dir: String, prompt: &'static str| {
        let stack = stack.clone();
        let dir = out.path().join(dir);
        tokio::task::spawn_blocking(move || image(&stack, &dir, &["--size", "512x512"], prompt))
    };
    let (code, made, err) = call("good".into(), "a plain blue square").await.unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(decode(Path::new(made["images"][0]["file"].as_str().unwrap())), (512, 512));
    let sent = standin.requests.lock().unwrap().last().cloned().unwrap();
    assert_eq!(sent["response_format"], "b64_json");
    assert_eq!(sent["size"], "512x512");
    assert!(sent["seed"].is_u64(), "{sent}");

    let cases: [(&str, &str); 6] = [
        ("a policy test", "refused the prompt under its content policy"),
        ("busy hour", "busy (too many requests); try again"),
        ("crash please", "the image service failed (HTTP 500)"),
        ("slow painting", "did not answer within 3 s"),
        ("garbled bytes", "not valid base64"),
        ("smaller than asked", "256×256, not the 512×512 asked for"),
    ];
    for (i, (prompt, says)) in cases.into_iter().enumerate() {
        let dir = format!("fail{i}");
        let (code, _, err) = call(dir.clone(), prompt).await.unwrap();
        assert_eq!(code, Some(1), "{prompt}: {err}");
        assert!(err.contains(says), "{prompt}: {err}");
        assert!(!err.contains("panick"), "{err}");
        assert_eq!(files_in(&out.path().join(dir)), 0, "{prompt}: nothing written");
    }
    let kept = gallery(&stack);
    assert_eq!(kept.len(), 1, "the good generation is still there, and nothing else");
    assert_eq!(kept[0]["prompt"], "a plain blue square");
}
