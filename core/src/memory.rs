//! Memory, kept and retrieved on the device: for each request, the few stored facts most
//! relevant to the prompt (the store's full-text index, BM25) go with it in the system message,
//! and the user is shown which. Nothing goes when memory is off, in a project that turned it
//! off, or in an ephemeral chat (which has no store).
//!
//! Why the full-text index and not an embedding model: it ships nothing new (no model file, no
//! runtime), keeps the facts inside the one encrypted database with the rest, and answers in
//! about a millisecond over 10,000 facts; what it misses is paraphrase ("canine" for "dog").

use sotto_store::{Memory, Project, Store, StoreError};

/// At most this many facts go with one request.
pub const RECALLED: usize = 5;
/// A fact is sent up to this many characters.
pub const MAX_FACT_CHARS: usize = 500;

/// At most this many facts are proposed by one reply.
pub const MAX_PROPOSALS: usize = 3;

/// Asks the model to propose facts worth keeping, on a line of their own the app recognises.
/// Nothing is kept until the user says so.
pub const PROPOSAL_INSTRUCTION: &str = "If the user's message states a lasting fact about them or their preferences that would help in later conversations, end your reply with one line per fact: [remember: the fact, in the third person]. Otherwise add nothing.";

/// Whether memory is on here (globally, and in the project if there is one).
pub fn enabled(store: &Store, project: Option<&Project>) -> Result<bool, StoreError> {
    Ok(store.memory_enabled()? && !project.is_some_and(|p| !p.memory))
}

/// The facts to send with `prompt`, if memory is on here.
pub fn recall(store: &Store, prompt: &str, project: Option<&Project>) -> Result<Vec<Memory>, StoreError> {
    if !enabled(store, project)? {
        return Ok(Vec::new());
    }
    store.relevant_memories(prompt, RECALLED)
}

/// The marker line's fact, if `line` is one.
fn proposal_in(line: &str) -> Option<&str> {
    let inner = line.trim().strip_prefix('[')?.strip_suffix(']')?;
    let (word, fact) = inner.split_once(':')?;
    let fact = fact.trim();
    (word.trim().eq_ignore_ascii_case("remember") && !fact.is_empty()).then_some(fact)
}

/// The facts a reply proposes to keep (its `[remember: …]` lines), without those already kept.
pub fn proposals(reply: &str, kept: &[Memory]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for fact in reply.lines().filter_map(proposal_in) {
        // The model's words: no control or invisible characters, and short.
        let fact: String = sotto_enclave_protocol::search::clean(fact, usize::MAX).chars().take(MAX_FACT_CHARS).collect();
        if fact.trim().is_empty() {
            continue;
        }
        if !out.contains(&fact) && !kept.iter().any(|m| m.text.eq_ignore_ascii_case(&fact)) {
            out.push(fact);
        }
    }
    out.truncate(MAX_PROPOSALS);
    out
}

/// A reply as it is shown: without its proposal lines (the app shows them as questions).
pub fn without_proposals(reply: &str) -> String {
    let kept: Vec<&str> = reply.lines().filter(|l| proposal_in(l).is_none()).collect();
    kept.join("\n").trim_end().to_string()
}

/// The system message's paragraph for them.
pub fn message_part(memories: &[Memory]) -> Option<String> {
    if memories.is_empty() {
        return None;
    }
    let lines: Vec<String> = memories.iter().map(|m| format!("- {}", m.text.replace('\n', " ").chars().take(MAX_FACT_CHARS).collect::<String>())).collect();
    Some(format!("Things the user asked you to remember that may bear on this message:\n{}", lines.join("\n")))
}

/// One line for the user: which memories go.
pub fn summary(memories: &[Memory]) -> String {
    let quoted: Vec<String> = memories.iter().map(|m| format!("“{}”", m.text.chars().take(60).collect::<String>())).collect();
    format!("{} memor{} sent: {}", memories.len(), if memories.len() == 1 { "y" } else { "ies" }, quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposals_are_read_from_their_own_lines_only() {
        let reply = "Noted, a vegetarian menu then.\n[remember: The user is vegetarian]\n[Remember:  Lives in Lyon ]\nSee [remember: inline] text.";
        assert_eq!(proposals(reply, &[]), vec!["The user is vegetarian", "Lives in Lyon"]);
        let kept = vec![Memory { id: "a".into(), text: "the user is vegetarian".into(), created_ms: 0 }];
        assert_eq!(proposals(reply, &kept), vec!["Lives in Lyon"], "a fact already kept is not proposed again");
        assert_eq!(without_proposals(reply), "Noted, a vegetarian menu then.\nSee [remember: inline] text.");
        assert!(proposals("[remember: ]\n[forget: x]", &[]).is_empty());
        let many: String = (0..6).map(|i| format!("[remember: fact {i}]\n")).collect();
        assert_eq!(proposals(&many, &[]).len(), MAX_PROPOSALS);
    }
}
