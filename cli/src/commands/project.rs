//! `sotto project`: conversations grouped with shared instructions and files, kept in the
//! encrypted history. A file is read by the sandboxed reader and kept as its text.

use std::path::PathBuf;

use sotto_core::extract::{extract, terminal_safe, ExtractLimits};
use sotto_core::store::Store;

use crate::commands::history::store_for;
use crate::exit;

#[derive(clap::Subcommand)]
pub enum ProjectCommand {
    /// A new project, with instructions every request in it carries and files it may draw on.
    Create {
        name: String,
        #[arg(long, default_value = "")]
        instructions: String,
        /// A file (PDF, Word, Excel, text …), read in the sandbox (repeatable).
        #[arg(long = "file", value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Requests in this project carry none of the memories.
        #[arg(long)]
        no_memory: bool,
    },
    /// The projects, most recently changed first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One project: its instructions, files and conversations.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a project with its files and conversations, for real.
    Delete { name: String },
    /// Give a project another name.
    Rename { name: String, new_name: String },
    /// Change a project's instructions, memory, or files.
    Edit {
        name: String,
        #[arg(long)]
        instructions: Option<String>,
        /// Add a file, read in the sandbox (repeatable).
        #[arg(long = "add-file", value_name = "FILE")]
        add_files: Vec<PathBuf>,
        /// Remove a file by its name (repeatable).
        #[arg(long = "remove-file", value_name = "NAME")]
        remove_files: Vec<String>,
        /// Requests in the project carry memories (on) or not (off).
        #[arg(long, value_parser = ["on", "off"])]
        memory: Option<String>,
    },
    /// Move a conversation into a project, or out of any with --out.
    Move {
        /// The conversation's id, or the start of it.
        conversation: String,
        #[arg(required_unless_present = "out", conflicts_with = "out")]
        project: Option<String>,
        #[arg(long)]
        out: bool,
    },
    /// Search the conversations of one project.
    Search {
        name: String,
        text: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: ProjectCommand) -> i32 {
    let store = match store_for(matches!(command, ProjectCommand::Create { .. }), matches!(command, ProjectCommand::List { .. })) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let result = match command {
        ProjectCommand::Create { name, instructions, files, no_memory } => create(&store, &name, &instructions, &files, !no_memory),
        ProjectCommand::List { json } => list(&store, json),
        ProjectCommand::Show { name, json } => show(&store, &name, json),
        ProjectCommand::Delete { name } => store.delete_project(&name).map(|_| println!("deleted project {name} and its conversations")).map_err(|e| e.to_string()),
        ProjectCommand::Rename { name, new_name } => rename(&store, &name, &new_name),
        ProjectCommand::Edit { name, instructions, add_files, remove_files, memory } => {
            edit(&store, &name, instructions.as_deref(), &add_files, &remove_files, memory.as_deref().map(|m| m == "on"))
        }
        ProjectCommand::Move { conversation, project, out: _ } => move_conversation(&store, &conversation, project.as_deref()),
        ProjectCommand::Search { name, text, json } => search(&store, &name, &text, json),
    };
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {}", terminal_safe(&e));
            exit::SETUP
        }
    }
}

/// Every file read in the sandbox first: a file that cannot be read changes nothing.
fn read_files(files: &[PathBuf]) -> Result<Vec<(String, sotto_core::extract::Extracted)>, String> {
    let mut read = Vec::new();
    if files.is_empty() {
        return Ok(read);
    }
    let runtime = super::sandbox::load(false).map_err(|e| format!("the files cannot be read without the sandbox: {e}"))?;
    for file in files {
        let shown = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| file.display().to_string());
        let e = super::runtime().block_on(extract(&runtime, file, None, &ExtractLimits::default())).map_err(|e| e.to_string())?;
        eprintln!("{}", terminal_safe(&e.summary(&shown)));
        read.push((shown, e));
    }
    Ok(read)
}

fn create(store: &Store, name: &str, instructions: &str, files: &[PathBuf], memory: bool) -> Result<(), String> {
    sotto_core::store::check_project(name, instructions).map_err(|e| e.to_string())?;
    let read = read_files(files)?;
    store.create_project_with(name, instructions, memory).map_err(|e| e.to_string())?;
    for (shown, e) in &read {
        store.add_project_file(name, shown, &e.kind, &e.text).map_err(|e| e.to_string())?;
    }
    println!("created project {} with {} file(s)", name.trim(), read.len());
    Ok(())
}

fn list(store: &Store, json: bool) -> Result<(), String> {
    let projects = store.projects().map_err(|e| e.to_string())?;
    if json {
        println!("{}", serde_json::to_string(&projects).unwrap_or_else(|_| "[]".into()));
        return Ok(());
    }
    if projects.is_empty() {
        eprintln!("no projects yet: sotto project create NAME");
    }
    for p in &projects {
        println!("{}  {} file(s), {} conversation(s)", terminal_safe(&p.name), p.files.len(), p.conversations);
    }
    Ok(())
}

fn show(store: &Store, name: &str, json: bool) -> Result<(), String> {
    let p = store.project(name).map_err(|e| e.to_string())?;
    if json {
        println!("{}", serde_json::to_string(&p).unwrap_or_default());
        return Ok(());
    }
    println!("project:      {}", terminal_safe(&p.name));
    println!("instructions: {}", if p.instructions.is_empty() { "(none)".into() } else { terminal_safe(&p.instructions) });
    for f in &p.files {
        println!("file:         {} ({}, {} characters)", terminal_safe(&f.name), f.kind, f.chars);
    }
    println!("conversations: {}", p.conversations);
    println!("memory:       {}", if p.memory { "sent when relevant" } else { "off in this project" });
    Ok(())
}

fn rename(store: &Store, name: &str, new_name: &str) -> Result<(), String> {
    if new_name.trim().is_empty() {
        return Err("give the project a name".into());
    }
    store.rename_project(name, new_name).map_err(|e| e.to_string())?;
    println!("renamed project {} to {}", terminal_safe(name.trim()), terminal_safe(new_name.trim()));
    Ok(())
}

fn edit(store: &Store, name: &str, instructions: Option<&str>, add: &[PathBuf], remove: &[String], memory: Option<bool>) -> Result<(), String> {
    let project = store.project(name).map_err(|e| e.to_string())?;
    if let Some(i) = instructions {
        sotto_core::store::check_project(&project.name, i).map_err(|e| e.to_string())?;
    }
    // Every file of each name goes (names may repeat), each once.
    let mut uids: Vec<String> = Vec::new();
    for file in remove {
        let matching: Vec<&sotto_core::store::ProjectFile> = project.files.iter().filter(|f| &f.name == file).collect();
        if matching.is_empty() {
            return Err(format!("the project has no file named {}", terminal_safe(file)));
        }
        uids.extend(matching.iter().map(|f| f.uid.clone()).filter(|u| !uids.contains(u)).collect::<Vec<_>>());
    }
    let read = read_files(add)?;
    if let Some(i) = instructions {
        store.set_project_instructions(name, i).map_err(|e| e.to_string())?;
    }
    if let Some(on) = memory {
        store.set_project_memory(name, on).map_err(|e| e.to_string())?;
    }
    for uid in &uids {
        store.remove_project_file(name, uid).map_err(|e| e.to_string())?;
    }
    for (shown, e) in &read {
        store.add_project_file(name, shown, &e.kind, &e.text).map_err(|e| e.to_string())?;
    }
    println!("updated project {}", terminal_safe(&project.name));
    Ok(())
}

fn move_conversation(store: &Store, conversation: &str, project: Option<&str>) -> Result<(), String> {
    let target = project.map(|p| store.resolve_project(p)).transpose().map_err(|e| e.to_string())?;
    store.set_conversation_project(conversation, target.as_deref()).map_err(|e| e.to_string())?;
    match project {
        Some(p) => println!("moved the conversation into project {}", terminal_safe(p.trim())),
        None => println!("moved the conversation out of its project"),
    }
    Ok(())
}

fn search(store: &Store, name: &str, text: &str, json: bool) -> Result<(), String> {
    let hits = store.search_project(name, text, 50).map_err(|e| e.to_string())?;
    if json {
        println!("{}", serde_json::to_string(&hits).unwrap_or_else(|_| "[]".into()));
        return Ok(());
    }
    if hits.is_empty() {
        eprintln!("nothing found in project {}", terminal_safe(name));
    }
    for h in &hits {
        let snippet = h.snippet.replace([sotto_core::store::MATCH_START, sotto_core::store::MATCH_END], "");
        println!("{}  {}: {}", &h.conversation_id[..8.min(h.conversation_id.len())], terminal_safe(&h.conversation_title), terminal_safe(&snippet));
    }
    Ok(())
}
