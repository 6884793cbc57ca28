//! `sotto memory`: facts kept (encrypted, on this device) for the assistant to know; the
//! relevant ones go with each request, and `ask` says which.

use sotto_core::extract::terminal_safe;
use sotto_core::store::StoreError;

use crate::commands::history::{code_for, store_for};
use crate::exit;

#[derive(clap::Subcommand)]
pub enum MemoryCommand {
    /// Keep a fact (e.g. "My dog is called Biscuit").
    Add { text: String },
    /// Every kept fact, newest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change a fact's words (its id, or the start of it).
    Edit { id: String, text: String },
    /// Delete a fact for real (its id, or the start of it).
    Delete { id: String },
    /// Send no memories with requests (they stay kept).
    Off,
    /// Send the relevant memories with requests again.
    On,
}

pub fn run(command: MemoryCommand) -> i32 {
    let store = match store_for(matches!(command, MemoryCommand::Add { .. }), matches!(command, MemoryCommand::List { .. })) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let result = match command {
        MemoryCommand::Add { text } if text.trim().is_empty() => Err(StoreError::Unsupported("type the fact to keep".into())),
        MemoryCommand::Add { text } => store.add_memory(&text).map(|id| println!("kept as {}", id.chars().take(8).collect::<String>())),
        MemoryCommand::List { json } => store.memories().map(|all| {
            if json {
                println!("{}", serde_json::to_string(&all).unwrap_or_else(|_| "[]".into()));
            } else {
                if all.is_empty() {
                    eprintln!("no memories yet: sotto memory add TEXT");
                }
                for m in &all {
                    println!("{}  {}", m.id.chars().take(8).collect::<String>(), terminal_safe(&m.text));
                }
                if !store.memory_enabled().unwrap_or(true) {
                    eprintln!("memory is off: none of these is sent (sotto memory on)");
                }
            }
        }),
        MemoryCommand::Edit { text, .. } if text.trim().is_empty() => Err(StoreError::Unsupported("type the fact's new words (or delete it)".into())),
        MemoryCommand::Edit { id, text } => store.edit_memory(&id, &text).map(|()| println!("changed {}", id.chars().take(8).collect::<String>())),
        MemoryCommand::Delete { id } => store.delete_memory(&id).map(|id| {
            println!("deleted {}", id.chars().take(8).collect::<String>());
            eprintln!("note: replies that already carried it keep it in their stored receipts (the exact request sent); delete those conversations to remove it there too");
        }),
        MemoryCommand::Off => store.set_memory_enabled(false).map(|()| println!("memory is off: no memories are sent with requests")),
        MemoryCommand::On => store.set_memory_enabled(true).map(|()| println!("memory is on: the relevant memories go with each request")),
    };
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {e}");
            code_for(&e)
        }
    }
}
