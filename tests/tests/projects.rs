//! Projects end to end: a project's instructions and file text (read in the sandbox) are in the
//! exact request of a conversation in the project — and not in one outside it — and deleting
//! the project removes it with its conversations.

use serde_json::Value;
use sotto_e2e::{cli_with, Stack, StackSpec};

const PASS: (&str, &str) = ("SOTTO_PASSPHRASE", "e2e passphrase");

fn sotto(stack: &Stack, args: &[&str]) -> std::process::Output {
    cli_with(stack.home.path(), args, &[PASS])
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ask(stack: &Stack, extra: &[&str], prompt: &str) -> (Option<i32>, Value, String) {
    let p = stack.profile.to_string_lossy().into_owned();
    let mut args = vec!["ask", "--profile", p.as_str(), "--json"];
    args.extend_from_slice(extra);
    args.push(prompt);
    let out = sotto(stack, &args);
    (out.status.code(), serde_json::from_slice(&out.stdout).unwrap_or(Value::Null), text(&out.stderr))
}

#[test]
fn a_projects_instructions_and_files_go_only_with_its_own_requests() {
    let stack = Stack::start(StackSpec::default());
    let folder = tempfile::tempdir().unwrap();
    let notes = folder.path().join("notes.md");
    std::fs::write(&notes, "# Pruning\n\nRoses are pruned in late winter (filemarker-roses).\n").unwrap();
    let created = sotto(&stack, &["project", "create", "Garden", "--instructions", "Answer like a gardener (instrmarker-7)", "--file", notes.to_str().unwrap()]);
    assert_eq!(created.status.code(), Some(0), "{}", text(&created.stderr));
    let dup = sotto(&stack, &["project", "create", "Garden"]);
    assert_eq!(dup.status.code(), Some(1));
    assert!(text(&dup.stderr).contains("exists already"), "{}", text(&dup.stderr));

    let (code, inside, err) = ask(&stack, &["--project", "Garden"], "When are roses pruned?");
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("project Garden: its instructions") && err.contains("notes.md (part 1 of 1)"), "{err}");
    let request = &inside["request"].to_string();
    assert!(request.contains("instrmarker-7") && request.contains("filemarker-roses"), "{request}");
    let sent: Value = serde_json::from_str(request).unwrap();
    assert_eq!(sent["messages"][0]["role"], "system", "the project goes first, as a system message");

    // Continuing the conversation keeps the project; a conversation outside it carries nothing of it.
    let id = inside["conversation_id"].as_str().unwrap();
    let (_, again, _) = ask(&stack, &["--continue", id], "And climbing roses?");
    assert!(again["request"].to_string().contains("instrmarker-7"));
    let (_, outside, _) = ask(&stack, &[], "When are roses pruned?");
    let request = &outside["request"].to_string();
    assert!(!request.contains("instrmarker-7") && !request.contains("filemarker-roses"), "{request}");

    let listed = sotto(&stack, &["project", "list", "--json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["name"], "Garden");
    assert_eq!(listed[0]["conversations"], 1);
    assert_eq!(listed[0]["files"][0]["name"], "notes.md");

    let (code, _, err) = ask(&stack, &["--project", "Orchard"], "hi");
    assert_eq!(code, Some(1));
    assert!(err.contains("no project named `Orchard`"), "{err}");

    assert_eq!(sotto(&stack, &["project", "delete", "Garden"]).status.code(), Some(0));
    let listed = sotto(&stack, &["project", "list", "--json"]);
    assert_eq!(text(&listed.stdout).trim(), "[]");
    let history = sotto(&stack, &["history", "list", "--json"]);
    let history: Value = serde_json::from_slice(&history.stdout).unwrap();
    assert!(!history.as_array().unwrap().iter().any(|c| c["id"] == id), "the project's conversation went with it");
    assert_eq!(history.as_array().unwrap().len(), 1, "the other conversation stays");
}

/// Memory: a kept fact goes with a request it bears on and not with one it does not; not when
/// memory is off, not in an ephemeral chat, not in a project that turned it off; deleted, it
/// goes nowhere again.
#[test]
fn a_kept_memory_goes_only_with_requests_it_bears_on() {
    let stack = Stack::start(StackSpec::default());
    let added = sotto(&stack, &["memory", "add", "My dog is called Biscuit (memmarker-9)"]);
    assert_eq!(added.status.code(), Some(0), "{}", text(&added.stderr));
    sotto(&stack, &["memory", "add", "I live in Lisbon"]);
    let listed: Value = serde_json::from_slice(&sotto(&stack, &["memory", "list", "--json"]).stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);

    let (code, about_dog, err) = ask(&stack, &[], "What is my dog called?");
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("1 memory sent") && err.contains("Biscuit"), "{err}");
    let request = &about_dog["request"].to_string();
    assert!(request.contains("memmarker-9") && !request.contains("Lisbon"), "{request}");
    let (_, unrelated, _) = ask(&stack, &[], "Explain how TCP congestion control works");
    assert!(!unrelated["request"].to_string().contains("memmarker-9"));
    let (_, ephemeral, _) = ask(&stack, &["--ephemeral"], "What is my dog called?");
    assert!(!ephemeral["request"].to_string().contains("memmarker-9"), "no memory in an ephemeral chat");

    assert_eq!(sotto(&stack, &["memory", "off"]).status.code(), Some(0));
    let (_, off, _) = ask(&stack, &[], "What is my dog called?");
    assert!(!off["request"].to_string().contains("memmarker-9"), "memory off sends none");
    assert_eq!(sotto(&stack, &["memory", "on"]).status.code(), Some(0));

    let created = sotto(&stack, &["project", "create", "Private", "--no-memory"]);
    assert_eq!(created.status.code(), Some(0), "{}", text(&created.stderr));
    let (_, in_project, _) = ask(&stack, &["--project", "Private"], "What is my dog called?");
    assert!(!in_project["request"].to_string().contains("memmarker-9"), "a project can keep memory out");

    let id = listed.as_array().unwrap().iter().find(|m| m["text"].as_str().unwrap().contains("Biscuit")).unwrap()["id"].as_str().unwrap().to_string();
    assert_eq!(sotto(&stack, &["memory", "delete", &id[..8]]).status.code(), Some(0));
    let (_, after, _) = ask(&stack, &[], "What is my dog called?");
    assert!(!after["request"].to_string().contains("memmarker-9"), "a deleted memory goes nowhere");
}
