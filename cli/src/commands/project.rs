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
    };
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {}", terminal_safe(&e));
            exit::SETUP
        }
    }
}

fn create(store: &Store, name: &str, instructions: &str, files: &[PathBuf], memory: bool) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("give the project a name".into());
    }
    if instructions.chars().count() > 8_000 {
        return Err("the instructions are longer than 8,000 characters; keep them short and put material in files".into());
    }
    // Every file is read first: a file that cannot be read creates nothing.
    let mut read = Vec::new();
    if !files.is_empty() {
        let runtime = super::sandbox::load(false).map_err(|e| format!("the files cannot be read without the sandbox: {e}"))?;
        for file in files {
            let shown = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| file.display().to_string());
            let e = super::runtime().block_on(extract(&runtime, file, None, &ExtractLimits::default())).map_err(|e| e.to_string())?;
            eprintln!("{}", terminal_safe(&e.summary(&shown)));
            read.push((shown, e));
        }
    }
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
