//! UI tests of the real desktop app (`sotto-desktop`) under Xvfb, driven through tauri-driver,
//! against the real local stack (nginx relay + enclave gateway; the scripted back-end stands in
//! for the model). Each test leaves screenshots in `target/debug/ui-screenshots/`.

use serde_json::{json, Value};
use sotto_e2e::desktop::App;
use sotto_e2e::{tool_calls, Stack, StackSpec};

/// One window at a time: the machine has two cores and each app starts WebKit.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const PASSPHRASE: &str = "ui test passphrase";

fn markdown_reply(marker: &str) -> Value {
    json!([{"chunks": [
        {"text": format!("Here is **{marker}** in a table:\n\n"), "delay_ms": 150},
        {"text": "| region | units |\n| --- | ---: |\n| north | 12 |\n| south | 7 |\n\n", "delay_ms": 150},
        {"text": "```python\nprint(sum([12, 7]))\n```\n\n", "delay_ms": 150},
        {"text": "That is all."},
    ]}])
}

async fn launch(stack: &Stack) -> App {
    let profile = stack.profile.to_str().expect("utf-8 path");
    App::launch(stack.home.path(), &[("SOTTO_PROFILE", profile), ("SOTTO_PASSPHRASE", PASSPHRASE)]).await
}

async fn send(app: &App, prompt: &str) {
    app.type_into(".composer-input", prompt).await;
    app.click("button.send").await;
}

#[tokio::test]
async fn a_prompt_streams_a_verified_reply_with_its_receipt_is_found_by_search_and_survives_a_restart() {
    let _one = ONE_AT_A_TIME.lock().await;
    let marker = "quokkamarker";
    let stack = Stack::start(StackSpec { replies: markdown_reply(marker), ..StackSpec::default() });
    let app = launch(&stack).await;
    app.wait_present("#app:not([aria-busy]) .composer-input", 60).await;

    send(&app, &format!("Tell me about {marker}")).await;
    // While it streams, the reply carries the neutral "checking" badge and text appears.
    app.wait_present(".message.assistant .badge-streaming", 20).await;
    // Once verified, the conversation is re-read from the history (ids for receipts and edits).
    app.wait_present(".message.assistant[data-uid] .badge-development", 30).await;
    let badge = app.text_of(".message.assistant .badge-development", 30).await;
    assert!(badge.contains("development enclave"), "{badge}");
    let reply = app.wait_for_text(".message.assistant .text", "That is all.", 10).await;
    assert!(reply.contains(marker), "{reply}");
    let cells = app.texts(".message.assistant td").await;
    assert_eq!(cells, ["north", "12", "south", "7"]);
    let code = app.text_of(".message.assistant .code-block code .hljs-built_in", 5).await;
    assert_eq!(code, "print");
    app.screenshot("chat-verified-reply").await;

    // The receipt panel: enclave, measurements that match, relay, hashes, the exact request.
    app.click(".message.assistant button.badge").await;
    let panel = app.wait_for_text(".panel-body", "What left this device", 10).await;
    for needle in ["Identity", "PCR0", "matches the profile", "Request hash", "Output hash", "Relay host", &format!("127.0.0.1:{}", stack.relay_port()), "sealed (HPKE)"] {
        assert!(panel.contains(needle), "{needle} missing from the receipt panel:\n{panel}");
    }
    let sent = app.text_of(".sent-request pre", 5).await;
    assert!(sent.contains(&format!("Tell me about {marker}")), "the exact request: {sent}");
    app.screenshot("receipt-panel").await;
    // Still readable at 800×600 (the panel overlays the chat there).
    app.client.set_window_size(800, 600).await.expect("resize");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    app.screenshot("receipt-panel-800x600").await;
    app.click(".panel-head button").await;
    app.screenshot("chat-800x600").await;
    app.client.set_window_size(1280, 800).await.expect("resize");

    // Search the history from the sidebar.
    app.type_into("input.search", marker).await;
    let hit = app.wait_for_text(".conversations li.hit", marker, 10).await;
    assert!(hit.contains("Tell me about"), "{hit}");
    // Only the word searched for is highlighted, also where the reply made it bold.
    let marks = app.texts(".conversations li.hit mark").await;
    assert!(marks.len() >= 2 && marks.iter().all(|m| m == marker), "{marks:?}");
    app.screenshot("search-history").await;
    app.close().await;

    // A new start of the app finds the conversation and its verified reply again.
    let app = launch(&stack).await;
    let title = app.wait_for_text(".conversations li[data-id] .conversation-title", marker, 60).await;
    assert!(title.contains("Tell me about"), "{title}");
    app.click(".conversations li[data-id] .conversation-title").await;
    let reply = app.wait_for_text(".message.assistant .text", "That is all.", 10).await;
    assert!(reply.contains(marker));
    app.wait_present(".message.assistant .badge-development", 5).await;
    app.screenshot("after-restart").await;
    app.close().await;
}

#[tokio::test]
async fn a_wrong_expected_measurement_in_settings_refuses_the_reply_with_its_reason_and_no_text() {
    let _one = ONE_AT_A_TIME.lock().await;
    let stack = Stack::start(StackSpec::default());
    let app = launch(&stack).await;
    app.wait_present("#app:not([aria-busy]) .composer-input", 60).await;

    app.click("button.nav-button[data-view=settings]").await;
    let pcrs = "#f-expected-measurements";
    app.type_into(pcrs, &format!("0={}", "ab".repeat(48))).await;
    app.click(".settings-view button.primary").await;
    app.wait_for_text(".save-status", "Saved", 10).await;
    app.screenshot("settings-wrong-measurement").await;

    app.click("button.nav-button[data-view=chat]").await;
    send(&app, "Is this enclave the one I expect?").await;
    app.wait_present(".message.assistant[data-uid] .badge-failed", 30).await;
    let shown = app.wait_for_text(".message.assistant .refusal", "PCR0", 5).await;
    assert!(shown.starts_with("Not shown:"), "{shown}");
    let all = app.texts(".messages").await.join("\n");
    assert!(!all.contains("Hello") && !all.contains("private world"), "no reply text may be shown:\n{all}");
    app.click(".message.assistant button.badge").await;
    let panel = app.wait_for_text(".panel-body", "Reason", 10).await;
    assert!(panel.contains("PCR0"), "{panel}");
    app.screenshot("refused-reply").await;
    app.close().await;
}

/// What the page gets when it calls `command` through Tauri's IPC: "allowed" or "refused: why".
async fn call_from_page(app: &App, command: &str, args: Value) -> String {
    let script = "return window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1]).then(() => 'allowed', (e) => 'refused: ' + e)";
    let answer = app.client.execute(script, vec![json!(command), args]).await.expect("the page answers");
    answer.as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn the_page_may_call_only_sottos_own_commands_and_load_nothing_from_elsewhere() {
    let _one = ONE_AT_A_TIME.lock().await;
    let stack = Stack::start(StackSpec::default());
    let app = launch(&stack).await;
    app.wait_present("#app:not([aria-busy]) .composer-input", 60).await;

    // Sotto's own commands answer (the control that the calls below are refused by permission).
    assert_eq!(call_from_page(&app, "list_conversations", json!({})).await, "allowed");
    // Plugins the app uses from Rust, Tauri's own window/webview/path commands and plugins it
    // does not have are all refused to the page.
    for (command, args) in [
        ("plugin:path|resolve_directory", json!({"directory": 11})),
        ("plugin:dialog|open", json!({"options": {}})),
        ("plugin:opener|open_url", json!({"url": "https://example.com"})),
        ("plugin:opener|open_path", json!({"path": "/etc/passwd"})),
        ("plugin:window|close", json!({"label": "main"})),
        ("plugin:webview|create_webview_window", json!({"options": {"label": "x", "url": "https://example.com"}})),
        ("plugin:fs|read_text_file", json!({"path": "/etc/passwd"})),
        ("plugin:shell|execute", json!({"program": "sh", "args": ["-c", "true"]})),
    ] {
        let answer = call_from_page(&app, command, args).await;
        eprintln!("{command}: {answer}");
        assert!(answer.starts_with("refused: "), "{command} must be refused to the page, got {answer}");
    }

    // The Content-Security-Policy: no injected script runs, nothing loads from or is sent
    // elsewhere — not even to a server that answers on this machine (the relay).
    let relay = format!("http://127.0.0.1:{}/", stack.relay_port());
    let script = "const [relay, done] = [arguments[0], arguments[arguments.length - 1]];
        const seen = [];
        document.addEventListener('securitypolicyviolation', (e) => seen.push(e.effectiveDirective));
        const s = document.createElement('script'); s.textContent = 'window.__injected = true'; document.body.append(s);
        const img = document.createElement('img'); img.src = relay + 'pixel.png'; document.body.append(img);
        const fetched = fetch(relay).then(() => 'fetched', () => 'blocked');
        const frame = document.createElement('iframe'); frame.src = relay; document.body.append(frame);
        fetched.then((f) => setTimeout(() => done({seen, fetched: f, injected: window.__injected === true}), 500));";
    let report = app.client.execute_async(script, vec![json!(relay)]).await.expect("the page reports");
    eprintln!("content security policy: {report}");
    assert_eq!(report["injected"], false, "an injected inline script ran: {report}");
    assert_eq!(report["fetched"], "blocked", "{report}");
    let seen: Vec<&str> = report["seen"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    for directive in ["script-src-elem", "img-src", "connect-src", "frame-src"] {
        assert!(seen.contains(&directive), "no {directive} violation reported: {seen:?}");
    }
    app.close().await;
}

#[tokio::test]
async fn an_agent_task_on_a_csv_shows_its_steps_its_chart_and_asks_before_writing() {
    let _one = ONE_AT_A_TIME.lock().await;
    let load = "import pandas as pd\ndf = pd.read_csv('/work/sales.csv')\nprint(df.groupby('region')['units'].sum().to_string())";
    let chart = "import matplotlib.pyplot as plt\ndf.groupby('region')['units'].sum().plot(kind='bar', figsize=(4, 3))\nplt.tight_layout()\nplt.savefig('/work/chart.png', dpi=60)\nprint('saved')";
    let replies = json!([
        tool_calls(&[("run_python", json!({"code": load}))]),
        tool_calls(&[("run_python", json!({"code": chart}))]),
        {"chunks": [{"text": "North sold the most units; "}, {"text": "the chart is in chart.png."}]},
    ]);
    let stack = Stack::start(StackSpec { replies, ..StackSpec::default() });
    let workspace = tempfile::tempdir().unwrap();
    std::fs::write(workspace.path().join("sales.csv"), "region,units\nnorth,12\nsouth,7\nnorth,5\neast,3\n").unwrap();
    let app = launch(&stack).await;
    app.wait_present("#app:not([aria-busy]) .composer-input", 60).await;

    app.click("button.nav-button[data-view=agent]").await;
    app.type_into("input.workspace", workspace.path().to_str().unwrap()).await;
    app.type_into("textarea.task", "Total the units per region and chart them").await;
    // The sandbox runtime was compiled by `sotto sandbox prepare`; loading it is quick.
    app.wait_present(".sandbox-progress.hidden", 120).await;
    app.click(".agent-form button.primary").await;

    // The default write policy is "ask": before Python first runs, its write access to the
    // workspace is put to the user, with the step's code already shown.
    let question = app.wait_for_text(".approval", "Python", 60).await;
    assert!(question.contains("create and change files"), "{question}");
    let code = app.text_of(".step[data-step='1'] .code-block code", 5).await;
    assert!(code.contains("read_csv"), "{code}");
    app.screenshot("agent-approval").await;
    app.click(".approval button.primary").await;
    let first = app.wait_for_text(".step[data-step='1'] .step-output", "north", 60).await;
    let words = first.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("north 17") && words.contains("south 7"), "per-region totals: {first}");
    app.wait_present(".step[data-step='2'].ok", 60).await;
    app.wait_present(".step[data-step='2'] img.chart", 20).await;
    let src = app.client.execute("return document.querySelector(\".step[data-step='2'] img.chart\").getAttribute('src')", vec![]).await.expect("the chart's src");
    assert!(src.as_str().unwrap_or_default().starts_with("data:image/png;base64,iVBOR"), "the chart is shown inline");
    let answer = app.wait_for_text(".message.final .text", "chart.png", 30).await;
    assert!(answer.contains("North sold the most units"));
    app.wait_present(".message.final .badge-development", 5).await;
    assert!(workspace.path().join("chart.png").exists(), "the approved write happened");
    app.screenshot("agent-steps-and-chart").await;
    app.close().await;
}

#[tokio::test]
async fn on_first_run_with_the_local_profile_the_app_starts_the_stack_itself_and_stops_it_on_exit() {
    let _one = ONE_AT_A_TIME.lock().await;
    // The shipped local profile's ports; nothing else may be using them for this test.
    for port in [8787, 8788, 8789] {
        assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(), "port {port} is busy: stop any running `sotto stack up` first");
    }
    let home = tempfile::tempdir().unwrap();
    let script = home.path().join("script.json");
    std::fs::write(&script, json!({"model": "scripted", "replies": [{"chunks": [{"text": "Started by the app itself."}]}]}).to_string()).unwrap();
    let backend = format!("scripted:{}", script.display());
    let app = App::launch(home.path(), &[("SOTTO_LOCAL_BACKEND", backend.as_str()), ("SOTTO_PASSPHRASE", PASSPHRASE)]).await;
    app.wait_present("#app:not([aria-busy]) .composer-input", 120).await;
    assert!(std::net::TcpStream::connect(("127.0.0.1", 8787)).is_ok(), "the app started the relay");
    send(&app, "hello from a first run").await;
    app.wait_present(".message.assistant .badge-development", 30).await;
    app.wait_for_text(".message.assistant .text", "Started by the app itself.", 10).await;
    app.screenshot("first-run-chat").await;
    app.close().await;
    // Closing the app stops what it started.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", 8787)).is_ok() || std::net::TcpStream::connect(("127.0.0.1", 8788)).is_ok() {
        assert!(std::time::Instant::now() < deadline, "the relay or the gateway outlived the app");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// A reply from OpenGradient's network (its wire, offline): the receipt panel says what was
/// checked about the TEE and that it forwards the prompt to a third-party provider.
#[tokio::test]
async fn an_opengradient_reply_says_what_was_checked_and_that_the_tee_forwards_the_prompt() {
    let _one = ONE_AT_A_TIME.lock().await;
    let stack = Stack::start(StackSpec { opengradient: true, ..StackSpec::default() });
    let profile = stack.og_profile.clone().expect("the OpenGradient stack's profile");
    let app = App::launch(stack.home.path(), &[("SOTTO_PROFILE", profile.to_str().expect("utf-8 path")), ("SOTTO_PASSPHRASE", PASSPHRASE)]).await;
    app.wait_present("#app:not([aria-busy]) .composer-input", 60).await;
    send(&app, "Say hello").await;
    app.wait_present(".message.assistant[data-uid] button.badge", 30).await;
    app.wait_for_text(".message.assistant .text", "Hello, private world.", 10).await;
    app.click(".message.assistant button.badge").await;
    let panel = app.wait_for_text(".panel-body", "What left this device", 10).await;
    for needle in ["Verified OpenGradient TEE", "third-party model provider", "attested on this device against a development root", "PCR0"] {
        assert!(panel.contains(needle), "{needle} missing from the receipt panel:\n{panel}");
    }
    app.screenshot("opengradient-receipt-panel").await;
    // Settings offers OpenGradient's network beside the local stack and a profile file.
    app.click("button.nav-button[data-view=settings]").await;
    let settings = app.wait_for_text(".settings-view", "Profile", 10).await;
    assert!(settings.contains("OpenGradient TEE (from its registry)"), "{settings}");
    let choices = app.texts(".settings-view select option").await;
    assert!(choices.iter().any(|c| c.contains("OpenGradient network")), "{choices:?}");
    app.screenshot("opengradient-settings").await;
    // Its login is in Settings too (the browser flow itself is tested from the CLI).
    let buttons = app.texts(".settings-view button").await;
    assert!(buttons.iter().any(|b| b == "Log in to OpenGradient"), "{buttons:?}");
    app.client
        .execute("[...document.querySelectorAll('.settings-view h2')].find((e) => e.textContent === 'OpenGradient').scrollIntoView()", vec![])
        .await
        .expect("scroll");
    app.screenshot("opengradient-settings-login").await;
    app.close().await;
}

/// Audit finding 6: a model-written link is never followed inside the window: clicking it
/// offers to copy it, and even a navigation started from the page is cancelled by the window.
#[tokio::test]
async fn links_in_replies_are_not_followed_and_the_window_never_leaves_the_app() {
    let _one = ONE_AT_A_TIME.lock().await;
    // Nothing listens there; the point is only whether the window would go.
    let elsewhere = "http://127.0.0.1:9/phish".to_string();
    let replies = json!([{"chunks": [{"text": format!("Read [the login page]({elsewhere}) now.")}]}]);
    let stack = Stack::start(StackSpec { replies, ..StackSpec::default() });
    let app = launch(&stack).await;
    app.wait_present("#app:not([aria-busy]) .composer-input", 60).await;
    send(&app, "Where do I log in?").await;
    app.wait_present(".message.assistant[data-uid] .text a", 30).await;
    app.click(".message.assistant .text a").await;
    let offer = app.wait_for_text(".toast.link-offer", "Copy link", 10).await;
    assert!(offer.contains(&elsewhere), "{offer}");
    app.screenshot("link-offered-not-followed").await;
    let here = app.client.execute("return location.href", vec![]).await.expect("location");
    assert!(here.as_str().is_some_and(|h| h.starts_with("tauri://localhost")), "{here}");

    // A navigation the page starts itself (as injected markup might) is cancelled by the window,
    // even to a server that answers (the relay).
    let answering = format!("http://127.0.0.1:{}/phish", stack.relay_port());
    app.client.execute("location.href = arguments[0]", vec![json!(answering)]).await.expect("script ran");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let here = app.client.execute("return location.href", vec![]).await.expect("location");
    assert!(here.as_str().is_some_and(|h| h.starts_with("tauri://localhost")), "the window left the app: {here}");
    app.wait_present(".composer-input", 5).await;
    app.close().await;
}

/// Audit finding 7: the first passphrase is typed twice and must be at least 8 characters.
#[tokio::test]
async fn the_first_passphrase_must_be_confirmed_and_long_enough() {
    let _one = ONE_AT_A_TIME.lock().await;
    let stack = Stack::start(StackSpec::default());
    let profile = stack.profile.to_str().expect("utf-8 path");
    let app = App::launch(stack.home.path(), &[("SOTTO_PROFILE", profile)]).await;
    app.wait_present("input[aria-label='Passphrase again']", 60).await;
    app.screenshot("first-passphrase").await;
    let attempt = |first: &'static str, again: &'static str| {
        let app = &app;
        async move {
            app.client.execute("document.querySelector(\"input[aria-label='Passphrase']\").value = ''; document.querySelector(\"input[aria-label='Passphrase again']\").value = ''", vec![]).await.expect("clear");
            app.type_into("input[aria-label='Passphrase']", first).await;
            app.type_into("input[aria-label='Passphrase again']", again).await;
            app.click(".startup-card button.primary").await;
        }
    };
    attempt("short", "short").await;
    app.wait_for_text(".startup-card .refusal", "at least 8", 10).await;
    attempt("a long passphrase", "a long passphrasE").await;
    app.wait_for_text(".startup-card .refusal", "differ", 10).await;
    assert!(!stack.home.path().join("store").join("key.json").exists(), "no history was created with a refused passphrase");
    attempt("a long passphrase", "a long passphrase").await;
    app.wait_present("#app:not([aria-busy]) .composer-input", 60).await;
    app.close().await;
}

/// Issue 16: the receipt panel's "Check again" re-verifies the stored reply offline, and
/// Settings checks every reply again.
#[tokio::test]
async fn check_again_re_verifies_a_stored_reply_and_the_whole_history() {
    let _one = ONE_AT_A_TIME.lock().await;
    let stack = Stack::start(StackSpec { replies: markdown_reply("recheckmarker"), ..StackSpec::default() });
    let app = launch(&stack).await;
    app.wait_present("#app:not([aria-busy]) .composer-input", 60).await;
    send(&app, "Tell me something I can check later").await;
    app.wait_present(".message.assistant[data-uid] .badge-development", 30).await;
    app.click(".message.assistant button.badge").await;
    app.wait_for_text(".panel-body", "What left this device", 10).await;
    app.click(".panel-body button.recheck").await;
    let verdict = app.wait_for_text(".panel-body .recheck-result", "Verified again", 20).await;
    assert!(verdict.contains("development enclave") && verdict.contains("PCR0 ") && verdict.contains("PCR2 "), "{verdict}");
    app.client.execute("document.querySelector('.panel-body .recheck-section').scrollIntoView()", vec![]).await.expect("scroll");
    app.screenshot("receipt-check-again").await;

    app.click("button.nav-button[data-view=settings]").await;
    app.wait_for_text(".settings-view", "History", 10).await;
    app.click(".recheck-all button").await;
    let summary = app.wait_for_text(".recheck-all .save-status", "replies verified again", 20).await;
    assert!(summary.contains("1 of 1"), "{summary}");
    app.client.execute("document.querySelector('.recheck-all').scrollIntoView()", vec![]).await.expect("scroll");
    app.screenshot("settings-check-every-reply").await;

    // What left this device: the attestation and the chat request, to the relay, the chat sealed.
    app.click(".panel button[aria-label^='Close panel']").await;
    app.click("button.nav-button[data-view=network]").await;
    let summary = app.wait_for_text(".network-view [role=status]", "requests", 10).await;
    assert!(summary.contains("1 carried your messages, sealed"), "{summary}");
    let rows = app.texts(".network-table tbody tr").await;
    let relay = format!("127.0.0.1:{}", stack.relay_port());
    assert!(rows.iter().any(|r| r.contains("Chat request") && r.contains("sealed") && r.contains(&relay)), "{rows:?}");
    assert!(rows.iter().any(|r| r.contains("Enclave attestation")), "{rows:?}");
    app.screenshot("network-activity").await;
    app.client.set_window_size(800, 600).await.expect("resize");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    app.screenshot("network-activity-800x600").await;
    app.close().await;
}

/// Image Studio in the real window: a picture made through the private path appears only after
/// it verified, opens with its receipt and passes "Check again", is saved as a PNG, and waits in
/// the gallery (screenshots in light, dark and at 800×600).
#[tokio::test]
async fn image_studio_makes_a_verified_picture_keeps_it_in_the_gallery_and_saves_it() {
    let _one = ONE_AT_A_TIME.lock().await;
    let stack = Stack::start(StackSpec::default());
    let saved = tempfile::tempdir().unwrap();
    let app = launch(&stack).await;
    app.wait_present("#app:not([aria-busy]) .composer-input", 60).await;
    app.click("button.nav-button[data-view=images]").await;
    app.wait_for_text(".images-view .model-note", "not a trained model", 20).await;
    app.type_into(".image-prompt", "snowy mountains above a lake at sunset with a pine forest").await;
    app.client.execute("const s = document.querySelector('.image-options select'); s.value = '512x512'; s.dispatchEvent(new Event('change'))", vec![]).await.expect("size");
    app.type_into(".image-options input[type=number]", "11").await;
    app.click(".image-form button.primary").await;
    app.wait_present(".panel-body img.detail-image[src^='data:image/png']", 60).await;
    let detail = app.text_of(".panel-body", 5).await;
    assert!(detail.contains("local demo generator") && detail.contains("What left this device") && detail.contains("Seed"), "{detail}");
    assert!(app.texts(".panel-body .badge-development").await.len() == 1, "the badge says development enclave");
    app.screenshot("image-detail").await;

    app.click(".panel-body button.recheck").await;
    let verdict = app.wait_for_text(".panel-body .recheck-result", "Verified again", 20).await;
    assert!(verdict.contains("development enclave"), "{verdict}");
    app.type_into(".panel-body input.save-folder", saved.path().to_str().unwrap()).await;
    app.click(".panel-body button.save-png").await;
    app.wait_for_text(".panel-body .save-status", "Saved", 20).await;
    let files: Vec<_> = std::fs::read_dir(saved.path()).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let bytes = std::fs::read(&files[0]).unwrap();
    let info = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().expect("a PNG").info().clone();
    assert_eq!((info.width, info.height), (512, 512));

    app.click(".panel button[aria-label^='Close panel']").await;
    app.wait_present(".gallery .gallery-item img[src^='data:image/png']", 20).await;
    assert_eq!(app.texts(".gallery .gallery-item").await.len(), 1);
    app.screenshot("image-gallery").await;
    app.client.execute("document.documentElement.dataset.theme = 'dark'", vec![]).await.expect("dark theme");
    app.screenshot("image-gallery-dark").await;
    app.click(".gallery .gallery-item").await;
    app.wait_present(".panel-body img.detail-image[src^='data:image/png']", 20).await;
    app.screenshot("image-detail-dark").await;
    app.client.set_window_size(800, 600).await.expect("resize");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    app.screenshot("image-detail-800x600").await;
    app.close().await;
}

/// Attachments in the real window: a PDF and a spreadsheet (made by reportlab and openpyxl) are
/// read in the sandbox, the note and the preview say exactly what will be sent, and the reply to
/// the message that carried them verifies with their text in the exact request.
#[tokio::test]
async fn attached_pdf_and_spreadsheet_are_read_in_the_sandbox_previewed_and_sent_sealed() {
    use base64::Engine;
    let _one = ONE_AT_A_TIME.lock().await;
    let stack = Stack::start(StackSpec::default());
    let files = tempfile::tempdir().unwrap();
    let make = "import openpyxl\nfrom reportlab.pdfgen import canvas\nc = canvas.Canvas('/work/Q3-REPORT.PDF')\nfor i in range(2):\n    c.drawString(72, 720, f'Page {i + 1}: margins widened in Q3'); c.showPage()\nc.save()\nwb = openpyxl.Workbook(); ws = wb.active; ws.title = 'Units'; ws.append(['region', 'units']); ws.append(['north', 12]); ws.append(['south', 7]); wb.save('/work/units.xlsx')";
    let made = sotto_e2e::cli(stack.home.path(), &["sandbox", "run", "--workspace", files.path().to_str().unwrap(), "--writable", "-c", make]);
    assert_eq!(made.status.code(), Some(0), "{}", String::from_utf8_lossy(&made.stderr));
    let app = launch(&stack).await;
    app.wait_present("#app:not([aria-busy]) .composer-input", 60).await;
    // The sandbox must be ready before a file can be read (it is compiled once, at start-up).
    app.click("button.nav-button[data-view=agent]").await;
    app.wait_present(".agent-view .sandbox-progress.hidden", 120).await;
    app.click("button.nav-button[data-view=chat]").await;
    let b64 = |name: &str| base64::engine::general_purpose::STANDARD.encode(std::fs::read(files.path().join(name)).unwrap());
    let attach = "const input = document.querySelector('input[type=file]'); const dt = new DataTransfer();
        for (const [name, data] of arguments[0]) { dt.items.add(new File([Uint8Array.from(atob(data), (c) => c.charCodeAt(0))], name)); }
        input.files = dt.files; input.dispatchEvent(new Event('change'));";
    app.client.execute(attach, vec![json!([["Q3-REPORT.PDF", b64("Q3-REPORT.PDF")], ["units.xlsx", b64("units.xlsx")]])]).await.expect("attach");
    let note = app.wait_for_text(".composer-note", "units.xlsx: XLSX", 60).await;
    assert!(note.contains("Q3-REPORT.PDF: PDF, 2 pages") && note.contains("sealed to the enclave"), "{note}");
    app.screenshot("attachments-note").await;
    app.click(".chip-name").await;
    let preview = app.wait_for_text(".panel-body .attachment-preview", "margins widened", 10).await;
    assert!(preview.contains("Page 2: margins widened in Q3"), "{preview}");
    app.screenshot("attachment-preview").await;
    app.click(".panel button[aria-label^='Close panel']").await;
    send(&app, "Summarise these").await;
    app.wait_present(".message.assistant[data-uid] .badge-development", 30).await;
    app.click(".message.assistant button.badge").await;
    let receipt = app.wait_for_text(".panel-body .sent-request", "margins widened", 10).await;
    assert!(receipt.contains("| north | 12 |") && receipt.contains("request hash above covers all of it"), "{receipt}");
    app.screenshot("attachments-receipt").await;
    app.close().await;
}

/// An image attached in the window goes, sealed, as an image part to a model that reads images;
/// the note says so before sending and the receipt's sealed request holds it.
#[tokio::test]
async fn an_attached_image_goes_to_a_model_that_reads_images() {
    use base64::Engine;
    let _one = ONE_AT_A_TIME.lock().await;
    let stack = Stack::start(StackSpec { accepts_images: true, ..StackSpec::default() });
    let png = sotto_e2e::solid_png(16, 16, [20, 120, 200]);
    let app = launch(&stack).await;
    app.wait_present("#app:not([aria-busy]) .composer-input", 60).await;
    let attach = "const input = document.querySelector('input[type=file]'); const dt = new DataTransfer();
        dt.items.add(new File([Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0))], 'photo.png', { type: 'image/png' }));
        input.files = dt.files; input.dispatchEvent(new Event('change'));";
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    app.wait_for_text(".model-picker", "Default (scripted)", 30).await;
    app.client.execute(attach, vec![json!(b64)]).await.expect("attach");
    let note = app.wait_for_text(".composer-note", "photo.png (image", 30).await;
    assert!(note.contains("the model reads images"), "{note}");
    send(&app, "What colour is this?").await;
    app.wait_present(".message.assistant[data-uid] .badge-development", 30).await;
    app.click(".message.assistant button.badge").await;
    let receipt = app.wait_for_text(".panel-body .sent-request", "image_url", 10).await;
    assert!(receipt.contains(&format!("data:image/png;base64,{b64}")), "{receipt}");
    app.screenshot("image-attachment-receipt").await;
    app.close().await;
}

/// Projects, web search and memory in the window: a project with instructions and a file read
/// in the sandbox; a new chat in it with web search on shows sources covered by the receipt and
/// says what went with the message; a proposed memory is kept only on "Keep", then edited and
/// deleted in the Memory view; web search turned off mid-conversation sends no search.
#[tokio::test]
async fn projects_web_search_and_memory_work_in_the_window() {
    use base64::Engine;
    let _one = ONE_AT_A_TIME.lock().await;
    let replies = json!([{"chunks": [{"text": "Roses are pruned in late winter [1].\n[remember: The user grows roses]"}]}]);
    let stack = Stack::start(StackSpec { replies, ..StackSpec::default() });
    let app = launch(&stack).await;
    app.wait_present("#app:not([aria-busy]) .composer-input", 60).await;
    app.client.execute("window.confirm = () => true; return true", vec![]).await.expect("no dialogs");
    app.click("button.nav-button[data-view=agent]").await;
    app.wait_present(".agent-view .sandbox-progress.hidden", 120).await;

    // A project with instructions and a file.
    app.click("button.nav-button[data-view=projects]").await;
    app.wait_present(".projects-view .empty-projects", 10).await;
    app.type_into(".project-name-input", "Garden").await;
    app.type_into(".project-instructions-input", "Answer like a gardener (deskinstr-3)").await;
    app.click("button.create-project").await;
    app.wait_present(".project-settings .project-title-input", 10).await;
    let file = base64::engine::general_purpose::STANDARD.encode("Roses are pruned in late winter (deskfile-5).\n");
    let attach = "const input = document.querySelector('.projects-view input[type=file]'); const dt = new DataTransfer();
        dt.items.add(new File([atob(arguments[0])], 'pruning.txt')); input.files = dt.files; input.dispatchEvent(new Event('change'));";
    app.client.execute(attach, vec![json!(file)]).await.expect("add a file");
    app.wait_present(".project-files li[data-file='pruning.txt']", 60).await;
    app.screenshot("project-page").await;

    // A new chat in it, with web search on.
    app.click("button.new-chat-in-project").await;
    let pill = app.text_of(".project-pill", 5).await;
    assert_eq!(pill, "Project: Garden");
    app.click("button.web-search-toggle").await;
    assert!(app.text_of(".composer-note", 5).await.contains("Web search is on"));
    send(&app, "When are roses pruned, and who first climbed Mount Everest?").await;
    app.wait_present(".message.assistant[data-uid] .badge-development", 30).await;
    let source = app.text_of(".message.assistant .sources .source-title", 10).await;
    assert!(source.contains("search stand-in"), "{source}");
    let reply = app.text_of(".message.assistant .text", 5).await;
    assert!(!reply.contains("[remember:"), "the proposal line is not shown as text: {reply}");
    let note = app.text_of(".message.assistant .context-note", 5).await;
    assert!(note.contains("project Garden") && note.contains("web search"), "{note}");
    assert_eq!(app.texts(".memory-proposal").await.len(), 0, "a turn that searched is not asked to propose memories");
    app.screenshot("chat-project-web-search").await;

    app.click(".message.assistant button.badge").await;
    let panel = app.wait_for_text(".panel-body", "covered by the receipt", 10).await;
    assert!(panel.contains("Sources"), "{panel}");
    let sent = app.text_of(".sent-request pre", 5).await;
    assert!(sent.contains("deskinstr-3") && sent.contains("deskfile-5") && sent.contains("\"web_search\": true"), "{sent}");
    assert!(!sent.contains("[remember:"), "a searching turn carries no invitation to propose memories: {sent}");
    app.screenshot("receipt-sources").await;
    app.click(".panel-head button").await;
    assert_eq!(stack.observations().await["searches"], 1);

    // Web search off mid-conversation: the next message searches nothing, and its reply may
    // propose a memory, kept only on "Keep".
    app.click("button.web-search-toggle").await;
    send(&app, "I grow roses on my balcony. When do I feed them?").await;
    app.wait_present(".message.assistant:nth-of-type(4)[data-uid] .badge-development", 30).await;
    assert_eq!(app.texts(".message.assistant:nth-of-type(4) .sources").await.len(), 0, "no sources without a search");
    assert_eq!(stack.observations().await["searches"], 1, "turned off mid-conversation: no search");
    let proposal = app.text_of(".memory-proposal", 5).await;
    assert!(proposal.contains("The user grows roses"), "{proposal}");
    app.screenshot("chat-memory-proposal").await;
    let listed = sotto_e2e::cli_with(stack.home.path(), &["memory", "list", "--json"], &[("SOTTO_PASSPHRASE", PASSPHRASE)]);
    assert_eq!(String::from_utf8_lossy(&listed.stdout).trim(), "[]", "nothing is kept before Keep");
    app.click(".memory-proposal button.keep").await;
    app.wait_present(".memory-kept", 10).await;
    app.client.set_window_size(800, 600).await.expect("resize");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    app.screenshot("chat-project-800x600").await;
    app.client.set_window_size(1280, 800).await.expect("resize");

    // The kept fact is listed, edited and deleted in the Memory view.
    app.click("button.nav-button[data-view=memory]").await;
    let kept = app.wait_for_text(".memory-list li .memory-text", "The user grows roses", 10).await;
    assert_eq!(kept, "The user grows roses");
    app.screenshot("memory-view").await;
    app.click(".memory-list li button[aria-label^='Edit']").await;
    // The new words, then Enter (typing through WebDriver would first clear, which blurs and saves).
    let retype = "const i = document.querySelector('.memory-list input.rename'); i.value = arguments[0];
        i.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' })); return true";
    app.client.execute(retype, vec![json!("The user grows old roses")]).await.expect("edit the memory");
    app.wait_for_text(".memory-list li .memory-text", "old roses", 10).await;
    app.click(".memory-list li button[aria-label^='Delete']").await;
    app.wait_present(".memory-list li.empty", 10).await;

    // Reopened, the conversation remembers its switch (off now), whatever the button showed before.
    app.click("button.new-chat").await;
    app.click("button.web-search-toggle").await;
    app.wait_present(".web-search-toggle[aria-pressed=true]", 5).await;
    app.click(".conversations li[data-id] .conversation-title").await;
    app.wait_present(".web-search-toggle[aria-pressed=false]", 10).await;

    // The project page lists the conversation; deleting the project takes it along.
    app.click("button.nav-button[data-view=projects]").await;
    app.wait_for_text(".project-conversations", "When are roses pruned", 10).await;
    app.click("button.delete-project").await;
    app.wait_present(".projects-view .empty-projects", 10).await;
    let history = sotto_e2e::cli_with(stack.home.path(), &["history", "list", "--json"], &[("SOTTO_PASSPHRASE", PASSPHRASE)]);
    assert_eq!(String::from_utf8_lossy(&history.stdout).trim(), "[]", "the project's conversation went with it");
    app.close().await;
}
