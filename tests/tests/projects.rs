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
    sotto_e2e::ask_json(stack, extra, prompt, &[PASS])
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

/// A project is renamed, edited (instructions, files), searched within, and conversations move
/// in and out of it; what a request carries follows each change.
#[test]
fn a_project_is_renamed_edited_searched_and_conversations_move_in_and_out() {
    let stack = Stack::start(StackSpec::default());
    let folder = tempfile::tempdir().unwrap();
    let first = folder.path().join("first.txt");
    let second = folder.path().join("second.txt");
    std::fs::write(&first, "Tomatoes need staking (filemarker-first).\n").unwrap();
    std::fs::write(&second, "Tomatoes like full sun (filemarker-second).\n").unwrap();
    assert_eq!(sotto(&stack, &["project", "create", "Veg", "--instructions", "old-instructions", "--file", first.to_str().unwrap()]).status.code(), Some(0));
    let renamed = sotto(&stack, &["project", "rename", "Veg", "Kitchen garden"]);
    assert_eq!(renamed.status.code(), Some(0), "{}", text(&renamed.stderr));
    assert_eq!(sotto(&stack, &["project", "show", "Veg"]).status.code(), Some(1), "the old name is gone");
    sotto(&stack, &["project", "create", "Other"]);
    let clash = sotto(&stack, &["project", "rename", "Other", "Kitchen garden"]);
    assert!(text(&clash.stderr).contains("exists already"), "{}", text(&clash.stderr));

    let edited = sotto(&stack, &["project", "edit", "Kitchen garden", "--instructions", "new-instructions", "--add-file", second.to_str().unwrap(), "--remove-file", "first.txt"]);
    assert_eq!(edited.status.code(), Some(0), "{}", text(&edited.stderr));
    let missing = sotto(&stack, &["project", "edit", "Kitchen garden", "--remove-file", "nope.txt"]);
    assert!(text(&missing.stderr).contains("no file named nope.txt"), "{}", text(&missing.stderr));
    let (code, inside, err) = ask(&stack, &["--project", "Kitchen garden"], "How do I grow tomatoes?");
    assert_eq!(code, Some(0), "{err}");
    let request = inside["request"].to_string();
    assert!(request.contains("new-instructions") && request.contains("filemarker-second"), "{request}");
    assert!(!request.contains("old-instructions") && !request.contains("filemarker-first"), "{request}");

    // Search within the project finds its conversation and not one outside it.
    let (_, outside, _) = ask(&stack, &[], "How do I grow tomatoes outdoors?");
    let found: Value = serde_json::from_slice(&sotto(&stack, &["project", "search", "Kitchen garden", "tomatoes", "--json"]).stdout).unwrap();
    let ids: Vec<&str> = found.as_array().unwrap().iter().map(|h| h["conversation_id"].as_str().unwrap()).collect();
    assert!(ids.contains(&inside["conversation_id"].as_str().unwrap()), "{found}");
    assert!(!ids.contains(&outside["conversation_id"].as_str().unwrap()), "{found}");

    // Moving the outside conversation in: its next request carries the project; moving it out stops that.
    let out_id = outside["conversation_id"].as_str().unwrap();
    assert_eq!(sotto(&stack, &["project", "move", out_id, "Kitchen garden"]).status.code(), Some(0));
    let (_, moved, _) = ask(&stack, &["--continue", out_id], "And in pots?");
    assert!(moved["request"].to_string().contains("new-instructions"));
    assert_eq!(sotto(&stack, &["project", "move", out_id, "--out"]).status.code(), Some(0));
    let (_, moved_out, _) = ask(&stack, &["--continue", out_id], "And on a balcony?");
    assert!(!moved_out["request"].to_string().contains("new-instructions"));
}

/// The model may propose a fact to keep; nothing is kept until the user adds it, and the
/// invitation goes only where memory is on.
#[test]
fn a_proposed_memory_is_offered_not_kept() {
    let stack = Stack::start(StackSpec {
        replies: serde_json::json!([{"chunks": [{"text": "A vegetarian menu, then.\n[remember: The user is vegetarian]"}]}]),
        ..Default::default()
    });
    let (code, answer, err) = ask(&stack, &[], "I am vegetarian; plan a dinner.");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(answer["proposed_memories"], serde_json::json!(["The user is vegetarian"]));
    assert!(err.contains("suggests remembering") && err.contains("sotto memory add"), "{err}");
    assert!(answer["request"].to_string().contains("[remember:"), "the invitation is in the request: {}", answer["request"]);
    let listed: Value = serde_json::from_slice(&sotto(&stack, &["memory", "list", "--json"]).stdout).unwrap();
    assert_eq!(listed, serde_json::json!([]), "nothing is kept unasked");

    // Piped, the reply is printed without the proposal line.
    let p = stack.profile.to_string_lossy().into_owned();
    let plain = sotto(&stack, &["ask", "--profile", &p, "Plan another dinner"]);
    assert_eq!(text(&plain.stdout).trim(), "A vegetarian menu, then.");

    // Kept, it is not proposed again; with memory off nothing is proposed and no invitation goes.
    assert_eq!(sotto(&stack, &["memory", "add", "The user is vegetarian"]).status.code(), Some(0));
    let (_, again, _) = ask(&stack, &[], "I am vegetarian; plan a lunch.");
    assert_eq!(again["proposed_memories"], serde_json::json!([]));
    sotto(&stack, &["memory", "off"]);
    let (_, off, _) = ask(&stack, &[], "I am vegetarian; plan a breakfast.");
    assert!(!off["request"].to_string().contains("[remember:"));
    assert_eq!(off["proposed_memories"], serde_json::json!([]));
    let edited = sotto(&stack, &["memory", "edit", listed_id(&stack).as_str(), "The user is vegan"]);
    assert_eq!(edited.status.code(), Some(0), "{}", text(&edited.stderr));
    assert!(text(&sotto(&stack, &["memory", "list"]).stdout).contains("The user is vegan"));
}

fn listed_id(stack: &Stack) -> String {
    let listed: Value = serde_json::from_slice(&sotto(stack, &["memory", "list", "--json"]).stdout).unwrap();
    listed[0]["id"].as_str().unwrap()[..8].to_string()
}
