//! `sotto`: the command line over Sotto's core.
//!
//! Exit codes: 0 success; 1 set-up problem (no stack, bad profile); 2 usage; 3 a check failed
//! (the reply, the enclave or the stored history could not be verified); 130 stopped with Ctrl-C.

mod commands;
mod exit;
mod output;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "sotto", version, about = "Private AI chat: verified enclaves, sealed requests, signed replies")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start or inspect the local stack (nginx relay + development enclave).
    #[command(subcommand)]
    Stack(commands::stack::StackCommand),
    /// Ask the model through the private path and print the verified reply.
    Ask(commands::ask::AskArgs),
    /// Work with attestation documents.
    #[command(subcommand)]
    Attest(commands::attest::AttestCommand),
    /// Image Studio: make pictures through the private path; the gallery (list, show, export, delete).
    Image(commands::image::ImageArgs),
    /// List the enclave's models through the private path.
    Models(commands::models::ModelsArgs),
    /// The encrypted conversation history: list, show, search, export, import, delete.
    #[command(subcommand)]
    History(commands::history::HistoryCommand),
    /// The local agent's Python sandbox: prepare (compile once) or run code.
    #[command(subcommand)]
    Sandbox(commands::sandbox::SandboxCommand),
    /// The local agent: a task on a workspace folder, tools run on this device.
    #[command(subcommand)]
    Agent(commands::agent::AgentCommand),
    /// Memory: facts kept on this device; the relevant ones go with each request.
    #[command(subcommand)]
    Memory(commands::memory::MemoryCommand),
    /// Projects: conversations grouped with shared instructions and files.
    #[command(subcommand)]
    Project(commands::project::ProjectCommand),
    /// What Sotto would send for an attached file (read inside the sandbox).
    Extract(commands::extract::ExtractArgs),
    /// Turn a Markdown file into a PDF.
    Pdf(commands::pdf::PdfArgs),
    /// OpenGradient's network: log in to OpenGradient Chat for its relay, log out, status.
    #[command(subcommand)]
    Og(commands::og::OgCommand),
    /// What left this device: every network request Sotto made (from the history).
    Ledger(commands::ledger::LedgerArgs),
    /// Check a proof file (from `sotto history proof`) anywhere, offline.
    #[command(subcommand)]
    Proof(commands::proof::ProofCommand),
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("SOTTO_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Stack(c) => commands::stack::run(c),
        Command::Ask(a) => commands::ask::run(a),
        Command::Attest(c) => commands::attest::run(c),
        Command::Models(a) => commands::models::run(a),
        Command::Image(a) => commands::image::run(a),
        Command::History(c) => commands::history::run(c),
        Command::Proof(c) => commands::proof::run(c),
        Command::Ledger(a) => commands::ledger::run(a),
        Command::Sandbox(c) => commands::sandbox::run(c),
        Command::Agent(c) => commands::agent::run(c),
        Command::Pdf(a) => commands::pdf::run(a),
        Command::Extract(a) => commands::extract::run(a),
        Command::Project(c) => commands::project::run(c),
        Command::Memory(c) => commands::memory::run(c),
        Command::Og(c) => commands::og::run(c),
    };
    std::process::exit(code);
}
