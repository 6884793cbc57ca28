//! The encrypted history end to end: `sotto ask` through the real local stack stores the
//! exchange, nothing of it reaches the disk in plaintext (also when the process is killed
//! mid-stream), and `sotto history …` finds, shows, exports and imports it.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use sotto_e2e::{cli_with, spawn_cli, Stack, StackSpec};

const PASS: (&str, &str) = ("SOTTO_PASSPHRASE", "e2e passphrase");

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn sotto(stack: &Stack, args: &[&str]) -> std::process::Output {
    cli_with(stack.home.path(), args, &[PASS])
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", text(&out.stdout), text(&out.stderr)))
}

/// Every file under `dir`, recursively (the stack's files, the store, its WAL, anything).
fn assert_not_on_disk(dir: &Path, marker: &str) {
    let mut seen = 0;
    for path in sotto_e2e::files_under(dir) {
        if let Ok(bytes) = std::fs::read(&path) {
            seen += 1;
            assert!(!bytes.windows(marker.len()).any(|w| w == marker.as_bytes()), "{marker} in plaintext in {}", path.display());
        }
    }
    assert!(seen > 3, "only {seen} files scanned");
}

#[test]
fn ask_stores_the_exchange_encrypted_and_history_finds_it() {
    let stack = Stack::start(StackSpec::default());
    let p = stack.profile.to_str().unwrap();
    let marker = "quokka-7f3e-canary";
    let out = sotto(&stack, &["ask", "--profile", p, "--json", &format!("Tell me about the {marker}")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let id = json_of(&out)["conversation_id"].as_str().expect("a stored conversation").to_string();

    assert_not_on_disk(stack.home.path(), marker);

    let out = sotto(&stack, &["history", "search", "--json", marker]);
    let hits = json_of(&out);
    assert_eq!(hits.as_array().unwrap().len(), 1, "{hits}");
    assert_eq!(hits[0]["conversation_id"], id.as_str());

    let out = sotto(&stack, &["history", "show", "--json", &id[..8]]);
    let c = json_of(&out);
    assert_eq!(c["messages"][0]["content"], format!("Tell me about the {marker}"));
    assert_eq!(c["messages"][1]["content"], "Hello, private world.");
    assert_eq!(c["messages"][1]["status"], "development");
    assert_eq!(c["messages"][1]["receipt"]["relay"].as_str().map(|r| !r.is_empty()), Some(true));
    assert!(c["messages"][1]["receipt"]["output_hash"].is_string());

    // A follow-up sends the verified turns and lands in the same conversation.
    let out = sotto(&stack, &["ask", "--profile", p, "--json", "--continue", &id[..8], "And then?"]);
    assert_eq!(json_of(&out)["conversation_id"], id.as_str());
    let listed = json_of(&sotto(&stack, &["history", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["messages"], 4);

    // A wrong passphrase opens nothing and says so.
    let out = cli_with(stack.home.path(), &["history", "list"], &[("SOTTO_PASSPHRASE", "wrong")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("wrong passphrase"), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
}

#[test]
fn killed_mid_stream_the_reply_is_kept_as_unfinished_and_nothing_is_in_plaintext() {
    let replies = json!([{"chunks": [{"text": "The first part"}, {"text": " and the rest", "delay_ms": 60000}]}]);
    let stack = Stack::start(StackSpec { replies, ..StackSpec::default() });
    let p = stack.profile.to_str().unwrap().to_string();
    let marker = "wombat-91c2-canary";
    let prompt = format!("Explain the {marker}");
    let mut child = spawn_cli(stack.home.path(), &["ask", "--profile", &p, &prompt], &[PASS]);

    // Wait until the first piece has been saved, then kill the process without warning.
    let mut saved = Value::Null;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(200));
        let list = json_of(&sotto(&stack, &["history", "list", "--json"]));
        if let Some(id) = list[0]["id"].as_str() {
            let c = json_of(&sotto(&stack, &["history", "show", "--json", id]));
            if c["messages"][1]["content"] == "The first part" {
                saved = c;
                break;
            }
        }
    }
    assert_eq!(saved["messages"][1]["status"], "streaming", "{saved}");
    assert_eq!(child.try_wait().unwrap(), None, "the ask should still be waiting for the rest");
    child.kill().unwrap();
    child.wait().unwrap();

    assert_not_on_disk(stack.home.path(), marker);

    let id = saved["id"].as_str().unwrap();
    let c = json_of(&sotto(&stack, &["history", "show", "--json", id]));
    assert_eq!(c["messages"][0]["content"], prompt, "the sent message is durable");
    assert_eq!(c["messages"][1]["status"], "unfinished");
    assert_eq!(c["messages"][1]["content"], "The first part");
    let hits = json_of(&sotto(&stack, &["history", "search", "--json", marker]));
    assert_eq!(hits.as_array().unwrap().len(), 1);
    let shown = text(&sotto(&stack, &["history", "show", id]).stdout);
    assert!(shown.contains("unfinished: Sotto closed before this reply finished"), "{shown}");
}

#[test]
fn ctrl_c_mid_stream_stops_the_ask_with_130_and_keeps_the_text_marked_stopped() {
    let replies = json!([{"chunks": [{"text": "Half a thought"}, {"text": " never sent", "delay_ms": 60000}]}]);
    let stack = Stack::start(StackSpec { replies, ..StackSpec::default() });
    let p = stack.profile.to_str().unwrap().to_string();
    let child = spawn_cli(stack.home.path(), &["ask", "--profile", &p, "Think about it"], &[PASS]);
    let mut id = None;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(200));
        let list = json_of(&sotto(&stack, &["history", "list", "--json"]));
        if let Some(found) = list[0]["id"].as_str() {
            if json_of(&sotto(&stack, &["history", "show", "--json", found]))["messages"][1]["content"] == "Half a thought" {
                id = Some(found.to_string());
                break;
            }
        }
    }
    let id = id.expect("the first piece was saved");
    let _ = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "a script gets no unverified text: {}", text(&out.stdout));
    let c = json_of(&sotto(&stack, &["history", "show", "--json", &id]));
    assert_eq!(c["messages"][1]["status"], "unfinished", "{c}");
    assert_eq!(c["messages"][1]["content"], "Half a thought");
    assert!(c["messages"][1]["status_detail"].as_str().unwrap_or_default().contains("stopped before the end"), "{c}");
}

#[test]
fn without_a_keyring_or_passphrase_ask_still_answers_and_says_nothing_was_stored() {
    let stack = Stack::start(StackSpec::default());
    let p = stack.profile.to_str().unwrap();
    let out = cli_with(stack.home.path(), &["ask", "--profile", p, "Say hello"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "Hello, private world.");
    assert!(text(&out.stderr).contains("not stored"), "{}", text(&out.stderr));
    assert!(!stack.home.path().join("store/history.db").exists());

    // --ephemeral stores nothing even where it could.
    let out = sotto(&stack, &["ask", "--profile", p, "--ephemeral", "Say hello"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!text(&out.stderr).contains("not stored"));
    assert!(!stack.home.path().join("store").exists());
    let out = sotto(&stack, &["history", "list"]);
    assert!(text(&out.stderr).contains("no history yet"), "{}", text(&out.stderr));
}

#[test]
fn a_refused_enclave_is_stored_as_failed_with_its_reason_and_no_text() {
    let stack = Stack::start(StackSpec::default());
    let p = stack.profile.to_str().unwrap();
    let wrong = format!("0={}", "ab".repeat(48));
    let out = sotto(&stack, &["ask", "--profile", p, "--expect-pcr", &wrong, "--json", "Hello?"]);
    assert_eq!(out.status.code(), Some(3));
    let id = json_of(&out)["conversation_id"].as_str().unwrap().to_string();
    let c = json_of(&sotto(&stack, &["history", "show", "--json", &id]));
    assert_eq!(c["messages"][1]["status"], "failed");
    assert_eq!(c["messages"][1]["content"], "");
    assert!(c["messages"][1]["status_detail"].as_str().unwrap().contains("PCR0"), "{c}");
}

#[test]
fn the_history_moves_between_machines_as_one_encrypted_archive() {
    let stack = Stack::start(StackSpec::default());
    let p = stack.profile.to_str().unwrap();
    let marker = "numbat-22aa-canary";
    assert_eq!(sotto(&stack, &["ask", "--profile", p, &format!("About the {marker}")]).status.code(), Some(0));
    let other = tempfile::tempdir().unwrap();
    let archive = other.path().join("history.sotto-archive");
    let a = archive.to_str().unwrap();
    let archive_pass = ("SOTTO_ARCHIVE_PASSPHRASE", "carry me");
    let out = cli_with(stack.home.path(), &["history", "export", a], &[PASS, archive_pass]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("1 conversations, 2 messages"), "{}", text(&out.stderr));
    let bytes = std::fs::read(&archive).unwrap();
    assert!(!bytes.windows(marker.len()).any(|w| w == marker.as_bytes()));

    // Another machine: its own home and passphrase.
    let home2 = tempfile::tempdir().unwrap();
    let pass2 = ("SOTTO_PASSPHRASE", "second machine");
    let out = cli_with(home2.path(), &["history", "import", a], &[pass2, ("SOTTO_ARCHIVE_PASSPHRASE", "wrong")]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("not a Sotto archive, or the passphrase is wrong"));
    let out = cli_with(home2.path(), &["history", "import", a], &[pass2, archive_pass]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let hits = json_of(&cli_with(home2.path(), &["history", "search", "--json", marker], &[pass2]));
    assert_eq!(hits.as_array().unwrap().len(), 1);

    // Deleting it there leaves it nowhere there.
    let id = hits[0]["conversation_id"].as_str().unwrap().to_string();
    assert_eq!(cli_with(home2.path(), &["history", "delete", &id], &[pass2]).status.code(), Some(0));
    let hits = json_of(&cli_with(home2.path(), &["history", "search", "--json", marker], &[pass2]));
    assert!(hits.as_array().unwrap().is_empty());
}

#[test]
fn a_tampered_store_is_reported_not_shown() {
    let stack = Stack::start(StackSpec::default());
    let p = stack.profile.to_str().unwrap();
    for i in 0..3 {
        assert_eq!(sotto(&stack, &["ask", "--profile", p, &format!("question {i} {}", "filler ".repeat(300))]).status.code(), Some(0));
    }
    let db = stack.home.path().join("store/history.db");
    let mut bytes = std::fs::read(&db).unwrap();
    // One bit in the middle of every page after the first (which holds the schema).
    for page in 1..bytes.len() / 4096 {
        bytes[page * 4096 + 2000] ^= 0x01;
    }
    std::fs::write(&db, bytes).unwrap();
    for args in [&["history", "list"][..], &["history", "search", "filler"][..]] {
        let out = sotto(&stack, args);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("changed outside Sotto or is damaged"), "{}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "something was shown: {}", text(&out.stdout));
    }
}
