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

/// The facts to send with `prompt`, if memory is on here.
pub fn recall(store: &Store, prompt: &str, project: Option<&Project>) -> Result<Vec<Memory>, StoreError> {
    if !store.memory_enabled()? || project.is_some_and(|p| !p.memory) {
        return Ok(Vec::new());
    }
    store.relevant_memories(prompt, RECALLED)
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
