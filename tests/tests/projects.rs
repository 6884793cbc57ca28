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
    let request = inside["request"].as_str().unwrap();
    assert!(request.contains("instrmarker-7") && request.contains("filemarker-roses"), "{request}");
    let sent: Value = serde_json::from_str(request).unwrap();
    assert_eq!(sent["messages"][0]["role"], "system", "the project goes first, as a system message");

    // Continuing the conversation keeps the project; a conversation outside it carries nothing of it.
    let id = inside["conversation_id"].as_str().unwrap();
    let (_, again, _) = ask(&stack, &["--continue", id], "And climbing roses?");
    assert!(again["request"].as_str().unwrap().contains("instrmarker-7"));
    let (_, outside, _) = ask(&stack, &[], "When are roses pruned?");
    let request = outside["request"].as_str().unwrap();
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
